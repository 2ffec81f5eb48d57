//! What a session is asked to do: optimization level, target, emission,
//! input policy, save-temps.

use crate::input::InputOptions;
use crate::report::StageName;
use inkwell::module::Module;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

/// Optimization level of the LTO pipeline (`lto<On>` / `thinlto<On>`) and of
/// code generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptLevel {
    /// No optimization.
    O0,
    /// Light optimization.
    O1,
    /// The default.
    #[default]
    O2,
    /// Aggressive optimization.
    O3,
    /// Optimize for size.
    Os,
    /// Optimize for size, aggressively.
    Oz,
}

crate::names::named_enum!(
    /// The level as `-O` takes it: `0`..`3`, `s`, `z`.
    pub(crate) OptLevel {
        O0 => "0",
        O1 => "1",
        O2 => "2",
        O3 => "3",
        Os => "s",
        Oz => "z",
    }
);

impl OptLevel {
    /// The level as the new pass manager and clang spell it (`O2`, `Os`, ...).
    pub(crate) fn pipeline_suffix(self) -> String {
        format!("O{}", self.as_str())
    }

    /// The named pipeline at this level: `lto<O2>`, `thinlto<Os>`.
    pub(crate) fn pipeline(self, kind: &str) -> String {
        format!("{kind}<{}>", self.pipeline_suffix())
    }

    /// Code generation level 0..=3: the size levels generate code at the
    /// default level, as clang does.
    pub(crate) fn codegen_level(self) -> u8 {
        match self {
            OptLevel::O0 => 0,
            OptLevel::O1 => 1,
            OptLevel::O2 | OptLevel::Os | OptLevel::Oz => 2,
            OptLevel::O3 => 3,
        }
    }

    /// Whether the loop and SLP vectorizers run: from -O2 up, as LLVM's LTO
    /// backends set them (the C API's defaults leave SLP off and loop
    /// vectorization on at every level).
    pub(crate) fn vectorizes(self) -> bool {
        matches!(self, OptLevel::O2 | OptLevel::O3)
    }
}

impl FromStr for OptLevel {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        OptLevel::from_name(text.strip_prefix('O').unwrap_or(text))
            .ok_or_else(|| format!("unknown optimization level {text:?} (0-3, s, z)"))
    }
}

/// Relocation model of the emitted code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RelocModel {
    /// Position-independent: links into PIE executables and shared objects.
    #[default]
    Pic,
    /// Absolute addresses.
    Static,
    /// Mach-O's dynamic-no-pic.
    DynamicNoPic,
}

crate::names::named_enum!(
    /// The model's name: `pic`, `static`, `dynamic-no-pic`.
    pub(crate) RelocModel {
        Pic => "pic",
        Static => "static",
        DynamicNoPic => "dynamic-no-pic",
    }
);

/// Code model of the emitted code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CodeModel {
    /// The target's default.
    #[default]
    Default,
    /// Small.
    Small,
    /// Kernel.
    Kernel,
    /// Medium.
    Medium,
    /// Large.
    Large,
}

crate::names::named_enum!(
    /// The model's name, as `-mcmodel=` takes it: `small`, `kernel`,
    /// `medium`, `large` (and `default`, the target's).
    pub(crate) CodeModel {
        Default => "default",
        Small => "small",
        Kernel => "kernel",
        Medium => "medium",
        Large => "large",
    }
);

impl FromStr for CodeModel {
    type Err = String;
    /// A name as `-mcmodel=` takes it (or `default`).
    fn from_str(text: &str) -> Result<Self, String> {
        CodeModel::from_name(text).ok_or_else(|| {
            format!(
                "unknown code model {text:?} ({})",
                CodeModel::NAMES.join(", ")
            )
        })
    }
}

/// What the LTO output is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EmitKind {
    /// A relocatable object file.
    #[default]
    Object,
    /// Assembly text.
    Assembly,
    /// Optimized bitcode.
    Bitcode,
}

impl EmitKind {
    /// The file extension of what is emitted: `o`, `s`, `bc`.
    pub fn extension(self) -> &'static str {
        match self {
            EmitKind::Object => "o",
            EmitKind::Assembly => "s",
            EmitKind::Bitcode => "bc",
        }
    }
}

crate::names::named_enum!(
    /// The kind's name, as `--emit` takes it: `obj`, `asm`, `bc`.
    pub(crate) EmitKind {
        Object => "obj",
        Assembly => "asm",
        Bitcode => "bc",
    }
);

impl FromStr for EmitKind {
    type Err = String;
    /// A name, or one of the longer spellings rustc and clang users type
    /// (`object`, `assembly`, `bitcode`, `llvm-bc`).
    fn from_str(text: &str) -> Result<Self, String> {
        let name = match text {
            "object" => "obj",
            "assembly" => "asm",
            "bitcode" | "llvm-bc" => "bc",
            other => other,
        };
        EmitKind::from_name(name).ok_or_else(|| {
            format!(
                "unknown emit kind {text:?} ({})",
                EmitKind::NAMES.join(", ")
            )
        })
    }
}

/// How many ThinLTO backends (and modules compiled without LTO) run at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Jobs {
    /// One per available core. The library never reads the environment's
    /// jobserver (a compiler that links this crate may own it): a host
    /// passes its client with [`Jobs::Jobserver`] and [`Jobserver::new`].
    #[default]
    Auto,
    /// Exactly this many (at least one).
    Fixed(usize),
    /// As many as this jobserver grants: the implicit token every process
    /// holds, plus one token per further backend, released when it ends.
    Jobserver(Jobserver),
}

impl Jobs {
    /// What this means in this process: a fixed thread count, or tokens from
    /// a jobserver.
    pub(crate) fn resolve(&self) -> Parallelism {
        match self {
            Jobs::Fixed(n) => Parallelism::Threads((*n).max(1)),
            Jobs::Jobserver(client) => Parallelism::Tokens(client.clone()),
            Jobs::Auto => Parallelism::Threads(available_cores()),
        }
    }

    /// The number of threads for work that is not limited by a jobserver
    /// (cache keys): the fixed count, else the core count.
    pub(crate) fn count(&self) -> usize {
        match self {
            Jobs::Fixed(n) => (*n).max(1),
            Jobs::Auto | Jobs::Jobserver(_) => available_cores(),
        }
    }
}

fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Resolved backend parallelism.
#[derive(Debug, Clone)]
pub(crate) enum Parallelism {
    /// This many backends at once.
    Threads(usize),
    /// One backend on the implicit token, more for each token acquired.
    Tokens(Jobserver),
}

/// The order a session takes its modules in: which copy of a weak symbol
/// or comdat prevails, which module fat LTO links the others into, the
/// order of constructors. Native inputs always go to the final link in the
/// order they were added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ModuleOrder {
    /// By module name (bytewise), whatever order threads add them in:
    /// runs are reproducible (rustc sorts its modules the same way).
    #[default]
    Name,
    /// In the order they were added, as a linker takes its command line.
    /// Reproducible only when one thread adds them.
    Added,
}

/// Which LTO a session runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LtoKind {
    /// Link every module into one and optimize it as a whole.
    Fat,
    /// ThinLTO over every module: a combined summary index, then one
    /// backend per module in parallel, importing across modules.
    Thin,
    /// ThinLTO across the modules given directly (files and in-memory
    /// modules) only; archives (upstream crates, libraries) are left native,
    /// as rustc's thin-local LTO does. An archive member that has only
    /// bitcode cannot be left native and is an error.
    ThinLocal,
}

impl LtoKind {
    /// The per-module kind a module takes in a session of this kind.
    pub(crate) fn module_lto(self) -> ModuleLto {
        match self {
            LtoKind::Fat => ModuleLto::Fat,
            LtoKind::Thin => ModuleLto::Thin,
            LtoKind::ThinLocal => ModuleLto::ThinLocal,
        }
    }
}

/// The LTO one module takes part in, as rustc decides per codegen unit
/// (`compute_per_cgu_lto_type`). Modules of one session may mix `No` with
/// one of the others; fat and thin, or thin and thin-local, cannot mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ModuleLto {
    /// The kind the session runs (given to [`Session::new`](crate::Session::new)).
    #[default]
    Session,
    /// No LTO: the module is optimized with the regular `default<On>`
    /// pipeline and emitted alone, and what it uses from LTO modules stays
    /// visible. Its object is in the output beside the LTO objects.
    No,
    /// Thin LTO with the other thin modules.
    Thin,
    /// Thin-local LTO: thin LTO across the modules not from archives;
    /// archive members are left native.
    ThinLocal,
    /// Linked into the one fat LTO module.
    Fat,
}

/// What a module is, for [`ModuleLto::for_role`] and [`Input::role`](crate::Input::role):
/// rustc's `ModuleKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ModuleRole {
    /// A codegen unit of ordinary code.
    #[default]
    Regular,
    /// Crate metadata: never LTO'd.
    Metadata,
    /// The allocator shim: left out of thin-local LTO (rustc keeps it out
    /// to avoid linker trouble with its weak symbols).
    Allocator,
}

impl ModuleLto {
    /// rustc's rule: the kind a module of `role` takes in a session of
    /// `session` kind.
    pub fn for_role(session: LtoKind, role: ModuleRole) -> ModuleLto {
        match (role, session) {
            (ModuleRole::Metadata, _) => ModuleLto::No,
            (ModuleRole::Allocator, LtoKind::ThinLocal) => ModuleLto::No,
            (_, kind) => kind.module_lto(),
        }
    }

    /// The kind in a session running `kind` (never `Session`).
    pub(crate) fn resolve(self, kind: LtoKind) -> ModuleLto {
        match self {
            ModuleLto::Session => kind.module_lto(),
            other => other,
        }
    }
}

/// Where input bitcode is parsed and compiled.
///
/// LLVM's bitcode reader is not hardened against malformed input, some
/// LLVM failures end the process (`report_fatal_error`), and a pass may
/// loop forever. In process, such an input takes the host down with it;
/// in worker processes, it becomes an [`Error::Crashed`](crate::Error::Crashed)
/// or [`Error::TimedOut`](crate::Error::TimedOut) naming the module, and
/// the host goes on.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum Isolation {
    /// Everything in this process (the library's default): fastest, and
    /// right for bitcode the host itself just produced. It does not protect
    /// against corrupt bitcode files (a crash in the reader is a crash of
    /// the host), LLVM fatal errors (the process exits) or hangs.
    #[default]
    InProcess,
    /// Parsing, verifying and compiling run in worker processes, kept
    /// alive across modules (the CLI's default). The host reads only
    /// ThinLTO summaries a worker has already read without crashing.
    Workers(Workers),
}

/// The worker processes of [`Isolation::Workers`]: a program that calls
/// [`serve_worker`](crate::serve_worker) (the `lto-engine` executable's
/// `worker` subcommand does), how long one module may take, where
/// reproducers of crashes go.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Workers {
    /// The worker program.
    pub program: PathBuf,
    /// Its arguments (`["worker"]` for the `lto-engine` executable).
    pub args: Vec<String>,
    /// How long one module's step in a worker may take before the worker
    /// is killed and the run fails with [`Error::TimedOut`](crate::Error::TimedOut)
    /// (`None`: no limit).
    pub module_timeout: Option<std::time::Duration>,
    /// Where the inputs of a crash are saved (default: the system's
    /// temporary directory).
    pub reproducer_dir: Option<PathBuf>,
}

impl Workers {
    /// Workers running `program` with no arguments and no time limit.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        Workers {
            program: program.into(),
            args: Vec::new(),
            module_timeout: None,
            reproducer_dir: None,
        }
    }

    /// The `lto-engine` executable at `path`, as workers (`lto-engine
    /// worker`).
    pub fn lto_engine(path: impl Into<PathBuf>) -> Self {
        Workers::new(path).arg("worker")
    }

    /// Adds an argument.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Sets [`Workers::module_timeout`].
    #[must_use]
    pub fn module_timeout(mut self, limit: std::time::Duration) -> Self {
        self.module_timeout = Some(limit);
        self
    }

    /// Sets [`Workers::reproducer_dir`].
    #[must_use]
    pub fn reproducer_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.reproducer_dir = Some(dir.into());
        self
    }
}

/// A GNU make jobserver client (the `jobserver` crate's), shared with the
/// build tool: each backend beyond the first holds one of its tokens.
#[derive(Debug, Clone)]
pub struct Jobserver(std::sync::Arc<jobserver::Client>);

impl Jobserver {
    /// Uses `client`, created by the caller (`jobserver::Client::new`) or
    /// inherited.
    pub fn new(client: jobserver::Client) -> Self {
        Jobserver(std::sync::Arc::new(client))
    }

    /// The client, to acquire tokens.
    pub fn client(&self) -> &jobserver::Client {
        &self.0
    }
}

impl PartialEq for Jobserver {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Jobserver {}

/// Where ThinLTO keeps optimized objects between runs, and when it prunes
/// them (lld's `--thinlto-cache-dir` and `--thinlto-cache-policy`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// The cache directory, created when missing. Entries are
    /// `llvmcache-<key>` files; it may be shared by concurrent runs.
    pub dir: PathBuf,
    /// Pruning policy in lld's syntax
    /// (`prune_interval=20m:prune_after=1w:cache_size=75%:cache_size_bytes=..:cache_size_files=..`);
    /// empty means lld's defaults.
    pub policy: String,
}

impl CacheConfig {
    /// A cache in `dir` with lld's default pruning policy.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        CacheConfig {
            dir: dir.into(),
            policy: String::new(),
        }
    }
}

/// A module as a stage left it, handed to a [`StageHook`].
pub struct Stage<'a, 'ctx> {
    /// The module's name (fat LTO: the first module, which the others are linked into).
    pub module_name: &'a str,
    /// The stage just finished ([`StageName::ThinLtoAfterImport`],
    /// [`StageName::LtoInput`], ...).
    pub stage: StageName,
    /// The module itself, in the backend's own context. Hooks may inspect
    /// it; changing it changes what the next stage sees, and the change must
    /// leave it valid IR (with [`Config::verify`]
    /// the engine checks).
    pub module: &'a Module<'ctx>,
}

/// The signature of a stage callback: an `Err` stops the run with
/// [`Error::Hook`].
type StageFn = dyn Fn(&Stage<'_, '_>) -> std::result::Result<(), String> + Send + Sync;

/// A callback run after each stage, on the thread that runs the module (for
/// ThinLTO, backends run in parallel: the hook must be `Sync`).
#[derive(Clone)]
pub struct StageHook(Arc<StageFn>);

impl StageHook {
    /// Wraps `hook`.
    pub fn new(
        hook: impl Fn(&Stage<'_, '_>) -> std::result::Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        StageHook(Arc::new(hook))
    }

    /// Runs the hook on `stage`.
    pub(crate) fn call(&self, stage: &Stage<'_, '_>) -> std::result::Result<(), String> {
        (self.0)(stage)
    }
}

impl std::fmt::Debug for StageHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StageHook(..)")
    }
}

/// Optimization remarks written to files, lld's way: fat LTO (and each
/// module compiled without LTO) writes `filename`; ThinLTO's backend of the
/// module at position `i` (counted from 0, in module order) writes
/// `<filename>.thin.<i + 1>.<format>`, as lld numbers its ThinLTO tasks
/// after the one regular LTO task, and a thin run also leaves `filename`
/// itself, empty, as lld does. A module taken from the cache is not
/// compiled and writes no remarks (lld's cache does the same). The
/// distributed backend (`backend_from_index`) writes `filename` as is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct OptRemarks {
    /// lld's `--opt-remarks-filename`.
    pub filename: PathBuf,
    /// lld's `--opt-remarks-passes`: only passes matching this LLVM regex.
    pub passes: Option<String>,
    /// lld's `--opt-remarks-format`: `yaml`, `bitstream`, or empty (YAML;
    /// the thin files' names then end in a dot, as lld's do).
    pub format: String,
    /// lld's `--opt-remarks-with-hotness` (profile counts on each remark).
    pub with_hotness: bool,
    /// lld's `--opt-remarks-hotness-threshold`: remarks whose profile
    /// count is below it are left out.
    pub hotness_threshold: HotnessThreshold,
}

/// lld's `--opt-remarks-hotness-threshold`: a profile count, or `auto`
/// (the threshold of the profile summary's hot counts). A remark without
/// a count counts as 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum HotnessThreshold {
    /// This many (lld's default: 0, every remark).
    Count(u64),
    /// From the profile summary.
    Auto,
}

impl Default for HotnessThreshold {
    fn default() -> Self {
        HotnessThreshold::Count(0)
    }
}

impl std::str::FromStr for HotnessThreshold {
    type Err = String;

    /// `auto` or a count, as lld reads the option.
    fn from_str(text: &str) -> Result<Self, String> {
        if text == "auto" {
            return Ok(HotnessThreshold::Auto);
        }
        text.parse::<u64>()
            .map(HotnessThreshold::Count)
            .map_err(|_| format!("expected a count or `auto`, not {text:?}"))
    }
}

impl OptRemarks {
    /// Remarks of every pass to `filename`, in YAML.
    pub fn new(filename: impl Into<PathBuf>) -> Self {
        OptRemarks {
            filename: filename.into(),
            passes: None,
            format: String::new(),
            with_hotness: false,
            hotness_threshold: HotnessThreshold::default(),
        }
    }

    /// The file of ThinLTO's backend of the module at position `index`.
    pub fn thin_file(&self, index: usize) -> PathBuf {
        let mut name = self.filename.clone().into_os_string();
        name.push(format!(".thin.{}.{}", index + 1, self.format));
        PathBuf::from(name)
    }
}

/// Settings of an LTO session. Made with [`Config::builder`] (or
/// [`Config::default`] and field assignments); fields will be added, so it
/// cannot be built with a struct literal outside this crate.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// Pipeline and codegen optimization level.
    pub opt_level: OptLevel,
    /// Code generation level apart from [`Config::opt_level`] (lld's
    /// `--lto-CGO<n>`): `None` follows `opt_level`; `Os` and `Oz` generate
    /// code at level 2, as `O2`.
    pub codegen_opt_level: Option<OptLevel>,
    /// Target triple; `None` takes the modules' own.
    pub target_triple: Option<String>,
    /// Target CPU; `None` is the triple's generic CPU (`x86-64` on x86_64).
    pub target_cpu: Option<String>,
    /// Target features, LLVM syntax (`+avx2,-sse4a`).
    pub target_features: String,
    /// Relocation model (PIC by default, so PIE links work).
    pub reloc_model: RelocModel,
    /// Code model.
    pub code_model: CodeModel,
    /// One section per function (so the linker can garbage-collect).
    pub function_sections: bool,
    /// One section per data object.
    pub data_sections: bool,
    /// What to emit.
    pub emit: EmitKind,
    /// Default handling of embedded bitcode for inputs added by path.
    pub input_options: InputOptions,
    /// Where to write the module after each stage, if anywhere.
    pub save_temps: Option<PathBuf>,
    /// Parallelism of the ThinLTO backends and of fat LTO's code
    /// generation partitions.
    pub jobs: Jobs,
    /// Fat LTO: how many partitions the optimized module is split into for
    /// code generation, each compiled on its own thread into its own
    /// object (default: [`FatPartitions::Auto`]). Emitting bitcode always
    /// makes one.
    pub fat_partitions: FatPartitions,
    /// Fat LTO with more than one partition: whether the late function
    /// passes of `lto<On>` run on the whole module before the split or on
    /// each partition on its own thread (default:
    /// [`FatLatePasses::OnPartitions`]).
    pub fat_late_passes: FatLatePasses,
    /// The order modules are taken in (default: by name).
    pub module_order: ModuleOrder,
    /// Where input bitcode is parsed and compiled (default: in process).
    pub isolation: Isolation,
    /// The ThinLTO cache, if any: a module whose key is in it is not
    /// compiled again (fat LTO does not use it).
    pub cache: Option<CacheConfig>,
    /// Run the IR verifier on every module after every stage; a module that
    /// fails is an error naming the stage (LLVM's LTO `-verify-each`).
    pub verify: bool,
    /// lld's `--lto-whole-program-visibility`: assume no code outside the
    /// LTO unit derives from the classes of its vtables, so whole-program
    /// devirtualization may turn their virtual calls into direct ones
    /// (symbols that stay preserved keep public visibility).
    pub whole_program_visibility: bool,
    /// Run the IR verifier on every input module after parsing, before any
    /// pass (default: on). LLVM's passes assume valid IR and may crash on
    /// anything else; a module that fails is an [`Error::InvalidInput`](crate::Error::InvalidInput)
    /// in [`Phase::Verify`](crate::Phase::Verify) quoting the verifier.
    /// Turn it off only for inputs from a trusted compiler, to save its
    /// cost (see the README for figures).
    pub verify_inputs: bool,
    /// Called with each module after each stage (see [`StageName`] for the stages).
    pub stage_hook: Option<StageHook>,
    /// Record the optimization remarks of the passes whose name matches
    /// this LLVM regex (as `-pass-remarks=`: `inline`, `loop-vectorize|slp`,
    /// `.*`); they come back in [`Output::diagnostics`](crate::Output::diagnostics).
    pub remarks: Option<String>,
    /// Write the optimization remarks to files, as lld's
    /// `--opt-remarks-filename` does (see [`OptRemarks`]).
    pub opt_remarks: Option<OptRemarks>,
    /// LLVM's own command-line options (lld's `-mllvm`), as
    /// `cl::ParseCommandLineOptions` reads them: `-import-instr-limit=0`.
    /// They are process-wide in LLVM: a session parses them once per
    /// process (worker processes parse them too), and a process whose
    /// options were already set differently refuses the session. An option
    /// LLVM does not know is [`Error::Config`](crate::Error::Config). They
    /// are part of ThinLTO cache keys.
    pub llvm_options: Vec<String>,
    /// Symbols to explain (mangled, or demangled Rust or C++ names): what
    /// the run decided about each and why, in
    /// [`Report::explanations`](crate::Report::explanations), for thin
    /// and fat runs (a run that writes index files for distributed
    /// backends explains nothing: its decisions are a thin run's). Each
    /// thin backend then keeps the inliner's decisions.
    pub explain: Vec<String>,
}

/// Fat LTO's code generation partitions ([`Config::fat_partitions`]): the
/// optimized module is split into this many parts, each compiled on its own
/// thread into its own object (lld's `--lto-partitions`). The objects
/// depend on this setting and the module only, never on [`Config::jobs`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum FatPartitions {
    /// One partition per [`FatPartitions::AUTO_INSTRUCTIONS`] instructions
    /// of the module when it is split (optimized, or up to the late passes
    /// with [`FatLatePasses::OnPartitions`]), at most [`FatPartitions::AUTO_MAX`]: a
    /// small program stays one object (splitting would cost more than it
    /// saves), a large one is compiled on up to four cores. A fixed rule,
    /// not the machine's core count, so that every machine writes the same
    /// objects; the README ("Fat LTO code generation partitions") gives the
    /// measurements behind the numbers.
    #[default]
    Auto,
    /// Exactly this many (at least one). `Fixed(1)` is lld's default.
    Fixed(usize),
}

impl FatPartitions {
    /// [`FatPartitions::Auto`]'s most partitions.
    pub const AUTO_MAX: usize = 4;
    /// [`FatPartitions::Auto`]'s instructions per partition.
    pub const AUTO_INSTRUCTIONS: u64 = 25_000;

    /// The partition count for a module of `instructions` at the split.
    pub fn count(self, instructions: u64) -> usize {
        match self {
            FatPartitions::Fixed(n) => n.max(1),
            FatPartitions::Auto => {
                let wanted = instructions / Self::AUTO_INSTRUCTIONS;
                usize::try_from(wanted).map_or(Self::AUTO_MAX, |n| n.clamp(1, Self::AUTO_MAX))
            }
        }
    }
}

/// Where fat LTO runs the late passes of `lto<On>` when the module is split
/// into code generation partitions ([`Config::fat_late_passes`]).
///
/// The late passes are the tail of the pipeline after its last pass that
/// needs the whole program (inlining, global optimization, attribute
/// inference, whole-program devirtualization): per-function loop and
/// memory optimizations (LICM, GVN, dead store elimination), unrolling, the
/// vectorizers, and the final clean-ups: about half of the optimization
/// time on the README's Rust benchmark. On a partition they see the functions of the other
/// partitions as declarations (with the attributes the whole-program
/// passes inferred) and the constants of the other partitions without
/// their initializers, so the code can differ slightly from one serial
/// run; the README gives the measured effect on size and speed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum FatLatePasses {
    /// On each partition, in parallel, after the split. Falls back to
    /// [`FatLatePasses::Serial`] (and says why in the report) when the
    /// module has type tests (control flow integrity, whole-program
    /// devirtualization), virtual function elimination or allocation
    /// tokens, whose lowering needs the whole program, and when a stage
    /// hook, `save_temps` or `verify` looks at the optimized module.
    #[default]
    OnPartitions,
    /// On the whole module before the split, as LLVM's LTO and lld do.
    Serial,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            opt_level: OptLevel::O2,
            codegen_opt_level: None,
            target_triple: None,
            target_cpu: None,
            target_features: String::new(),
            reloc_model: RelocModel::Pic,
            code_model: CodeModel::Default,
            function_sections: true,
            data_sections: true,
            whole_program_visibility: false,
            emit: EmitKind::Object,
            input_options: InputOptions::default(),
            save_temps: None,
            jobs: Jobs::Auto,
            fat_partitions: FatPartitions::Auto,
            fat_late_passes: FatLatePasses::OnPartitions,
            module_order: ModuleOrder::Name,
            isolation: Isolation::InProcess,
            cache: None,
            verify: false,
            verify_inputs: true,
            stage_hook: None,
            remarks: None,
            opt_remarks: None,
            llvm_options: Vec::new(),
            explain: Vec::new(),
        }
    }
}

impl Config {
    /// A builder starting from the defaults.
    ///
    /// ```
    /// use lto_engine::{Config, Jobs, OptLevel};
    /// let config = Config::builder().opt_level(OptLevel::O3).jobs(Jobs::Fixed(2)).build()?;
    /// assert_eq!(config.opt_level, OptLevel::O3);
    /// # Ok::<(), lto_engine::Error>(())
    /// ```
    pub fn builder() -> ConfigBuilder {
        ConfigBuilder {
            config: Config::default(),
        }
    }

    /// The code generation level 0..=3: [`Config::codegen_opt_level`], or
    /// the one [`Config::opt_level`] implies.
    pub(crate) fn codegen_level(&self) -> u8 {
        self.codegen_opt_level
            .unwrap_or(self.opt_level)
            .codegen_level()
    }
}

/// Builds a [`Config`]; every setter takes the value of the field it names.
#[derive(Debug, Clone)]
#[must_use]
pub struct ConfigBuilder {
    config: Config,
}

macro_rules! setters {
    ($($(#[$doc:meta])* $field:ident: $type:ty),* $(,)?) => {
        impl ConfigBuilder {
            $(
                $(#[$doc])*
                pub fn $field(mut self, value: $type) -> Self {
                    self.config.$field = value;
                    self
                }
            )*
        }
    };
}

setters! {
    /// [`Config::opt_level`].
    opt_level: OptLevel,
    /// [`Config::reloc_model`].
    reloc_model: RelocModel,
    /// [`Config::code_model`].
    code_model: CodeModel,
    /// [`Config::function_sections`].
    function_sections: bool,
    /// [`Config::data_sections`].
    data_sections: bool,
    /// [`Config::emit`].
    emit: EmitKind,
    /// [`Config::input_options`].
    input_options: InputOptions,
    /// [`Config::jobs`].
    jobs: Jobs,
    /// [`Config::fat_partitions`].
    fat_partitions: FatPartitions,
    /// [`Config::fat_late_passes`].
    fat_late_passes: FatLatePasses,
    /// [`Config::module_order`].
    module_order: ModuleOrder,
    /// [`Config::isolation`].
    isolation: Isolation,
    /// [`Config::verify`].
    verify: bool,
    /// [`Config::verify_inputs`].
    verify_inputs: bool,
    /// [`Config::whole_program_visibility`].
    whole_program_visibility: bool,
}

impl ConfigBuilder {
    /// [`Config::target_triple`].
    pub fn target_triple(mut self, triple: impl Into<String>) -> Self {
        self.config.target_triple = Some(triple.into());
        self
    }

    /// [`Config::target_cpu`].
    pub fn target_cpu(mut self, cpu: impl Into<String>) -> Self {
        self.config.target_cpu = Some(cpu.into());
        self
    }

    /// [`Config::target_features`].
    pub fn target_features(mut self, features: impl Into<String>) -> Self {
        self.config.target_features = features.into();
        self
    }

    /// [`Config::save_temps`].
    pub fn save_temps(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.save_temps = Some(dir.into());
        self
    }

    /// [`Config::cache`].
    pub fn cache(mut self, cache: CacheConfig) -> Self {
        self.config.cache = Some(cache);
        self
    }

    /// [`Config::stage_hook`].
    pub fn stage_hook(mut self, hook: StageHook) -> Self {
        self.config.stage_hook = Some(hook);
        self
    }

    /// [`Config::codegen_opt_level`].
    pub fn codegen_opt_level(mut self, level: OptLevel) -> Self {
        self.config.codegen_opt_level = Some(level);
        self
    }

    /// [`Config::llvm_options`]: appends one option.
    pub fn llvm_option(mut self, option: impl Into<String>) -> Self {
        self.config.llvm_options.push(option.into());
        self
    }

    /// [`Config::remarks`].
    pub fn remarks(mut self, pattern: impl Into<String>) -> Self {
        self.config.remarks = Some(pattern.into());
        self
    }

    /// [`Config::opt_remarks`].
    pub fn opt_remarks(mut self, remarks: OptRemarks) -> Self {
        self.config.opt_remarks = Some(remarks);
        self
    }

    /// Adds a symbol to [`Config::explain`].
    pub fn explain(mut self, symbol: impl Into<String>) -> Self {
        self.config.explain.push(symbol.into());
        self
    }

    /// The configuration; fails on settings that can never work (no
    /// backend at all). What needs LLVM (the target, the remark pattern)
    /// is checked when a session is made.
    pub fn build(self) -> crate::error::Result<Config> {
        if self.config.fat_partitions == FatPartitions::Fixed(0) {
            return Err(crate::error::Error::Config(
                "fat_partitions: FatPartitions::Fixed needs at least one".to_string(),
            ));
        }
        if self.config.jobs == Jobs::Fixed(0) {
            return Err(crate::error::Error::Config(
                "jobs: Jobs::Fixed needs at least one".to_string(),
            ));
        }
        Ok(self.config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_names_are_rustcs() {
        let names = [
            (StageName::ThinLtoInput, "thin-lto-input"),
            (StageName::ThinLtoAfterRename, "thin-lto-after-rename"),
            (StageName::ThinLtoAfterResolve, "thin-lto-after-resolve"),
            (
                StageName::ThinLtoAfterInternalize,
                "thin-lto-after-internalize",
            ),
            (StageName::ThinLtoAfterImport, "thin-lto-after-import"),
            (StageName::ThinLtoAfterPm, "thin-lto-after-pm"),
            (StageName::LtoInput, "lto.input"),
            (StageName::LtoAfterRestriction, "lto.after-restriction"),
            (StageName::LtoAfterOpt, "lto.after-opt"),
            (StageName::NoOpt, "no-opt"),
            (StageName::Opt, "opt"),
        ];
        for (stage, name) in names {
            assert_eq!(stage.as_str(), name);
            assert_eq!(stage.to_string(), name);
        }
    }
}
