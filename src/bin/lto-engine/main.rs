//! The `lto-engine` command: a thin layer over the library.

mod demo;
mod rsp;

use clap::{Args, Parser, Subcommand};
use lto_engine::distributed::{
    IndexOptions, JobStyle, PrefixReplace, RemoteCompiler, SuffixReplace,
};
use lto_engine::{
    Backends, CacheConfig, Config, EmitKind, Error, FatLatePasses, FatPartitions, InputOptions,
    Isolation, Jobs, Jobserver, LtoKind, ModuleOrder, OptLevel, Phase, RelocModel, Session,
    Workers, WriteTo,
};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "lto-engine",
    version,
    about = "Link-time optimization of LLVM 22 bitcode"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fat LTO: link every module into one, internalize what is not
    /// preserved, optimize, emit one object (plus link.rsp beside it).
    Fat(Box<FatArgs>),
    /// Thin LTO: a combined summary index, then one backend per module in
    /// parallel; one object per module plus link.rsp in OUTDIR.
    Thin(Box<ThinArgs>),
    /// Distributed ThinLTO's thin link: per module, its slice of the index
    /// (<module>.thinlto.bc) and imports file, placed as lld places them;
    /// link.rsp for the final link; optionally the backend jobs as lld 22's
    /// distributor JSON, and a distributor run on them.
    Index(Box<IndexArgs>),
    /// One distributed ThinLTO backend: compile a bitcode module with its
    /// index slice, importing from the files the index names.
    Backend(Box<BackendArgs>),
    /// Run a `thin`, `fat` or `ld` command line and print what it decided
    /// about SYMBOL, and why: `lto-engine explain SYMBOL thin -o out a.o
    /// b.o` (the same as that command with `--explain SYMBOL`).
    Explain(ExplainArgs),
    /// Compile the bundled C and Rust examples, run fat and thin LTO, link,
    /// run the programs and show what LTO did.
    Demo,
    /// A worker process of the other commands (they start it themselves):
    /// parses, verifies and compiles inputs so that a crash in LLVM ends
    /// the worker, not the run.
    #[command(hide = true)]
    Worker,
}

#[derive(Args)]
struct ExplainArgs {
    /// Print the explanation as JSON (an array) instead of text.
    #[arg(long)]
    json: bool,
    /// The symbol: its mangled name, or its demangled Rust or C++ name.
    symbol: String,
    /// The command to run: `thin ...`, `fat ...` or `ld ...`, with its
    /// arguments.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true,
        value_name = "COMMAND"
    )]
    command: Vec<String>,
}

/// Code generation options, shared by the LTO commands and `backend`.
#[derive(Args)]
struct CodegenArgs {
    /// Optimization level: 0, 1, 2, 3, s, z.
    #[arg(short = 'O', default_value = "2", value_name = "LEVEL")]
    opt_level: OptLevel,
    /// Code generation level apart from -O (lld's --lto-CGO): 0-3.
    #[arg(long = "codegen-opt-level", value_name = "LEVEL", value_parser = ["0", "1", "2", "3"])]
    codegen_opt_level: Option<String>,
    /// An LLVM option, as lld's -mllvm (repeatable): --mllvm=-import-instr-limit=5.
    #[arg(long = "mllvm", value_name = "OPTION", allow_hyphen_values = true)]
    mllvm: Vec<String>,
    /// Target triple (default: the modules' own).
    #[arg(long)]
    target: Option<String>,
    /// Target CPU (default: the triple's generic CPU).
    #[arg(long = "target-cpu")]
    target_cpu: Option<String>,
    /// Target features, LLVM syntax (+avx2,-sse4a).
    #[arg(long = "target-features", default_value = "")]
    target_features: String,
    /// Write the module after each stage into DIR.
    #[arg(long = "save-temps", value_name = "DIR")]
    save_temps: Option<PathBuf>,
    /// Run the IR verifier after every stage (a failure is an error).
    #[arg(long = "verify-each")]
    verify_each: bool,
    /// Skip the IR verifier on the input modules (it runs by default after
    /// parsing, before any pass): for inputs from a trusted compiler.
    #[arg(long = "no-verify-inputs")]
    no_verify_inputs: bool,
    /// Print the optimization remarks of passes matching REGEX (as LLVM's
    /// -pass-remarks=: inline, 'loop-vectorize|slp-vectorizer', .*).
    #[arg(long = "remarks", alias = "pass-remarks", value_name = "REGEX")]
    remarks: Option<String>,
    /// Write the optimization remarks to FILE, as lld's option: fat LTO
    /// writes FILE, the ThinLTO backend of the N-th module (from 1)
    /// FILE.thin.N.FORMAT, a distributed backend FILE.
    #[arg(long = "opt-remarks-filename", value_name = "FILE")]
    opt_remarks_filename: Option<PathBuf>,
    /// Only the remarks of passes matching REGEX (lld's option).
    #[arg(
        long = "opt-remarks-passes",
        value_name = "REGEX",
        requires = "opt_remarks_filename"
    )]
    opt_remarks_passes: Option<String>,
    /// The remarks files' format: yaml or bitstream (lld's option; default
    /// YAML, with the thin files' names ending in a dot as lld's do).
    #[arg(
        long = "opt-remarks-format",
        value_name = "FORMAT",
        requires = "opt_remarks_filename"
    )]
    opt_remarks_format: Option<String>,
    /// Put profile hotness on each remark (lld's option).
    #[arg(long = "opt-remarks-with-hotness", requires = "opt_remarks_filename")]
    opt_remarks_with_hotness: bool,
    /// Leave out remarks whose profile count is below N, or below the
    /// profile summary's threshold with `auto` (lld's option; default 0).
    #[arg(
        long = "opt-remarks-hotness-threshold",
        value_name = "N|auto",
        requires = "opt_remarks_filename"
    )]
    opt_remarks_hotness_threshold: Option<lto_engine::HotnessThreshold>,
}

impl CodegenArgs {
    /// The configuration these options give, emitting `emit`; creates the
    /// save-temps directory.
    fn config(&self, emit: EmitKind) -> Result<Config, Error> {
        if let Some(dir) = &self.save_temps {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), Phase::Write, e))?;
        }
        let mut config = Config::builder()
            .opt_level(self.opt_level)
            .target_features(self.target_features.clone())
            .emit(emit)
            .verify(self.verify_each)
            .verify_inputs(!self.no_verify_inputs)
            .build()?;
        config.target_triple = self.target.clone();
        config.target_cpu = self.target_cpu.clone();
        config.save_temps = self.save_temps.clone();
        config.remarks = self.remarks.clone();
        if let Some(file) = &self.opt_remarks_filename {
            let mut remarks = lto_engine::OptRemarks::new(file);
            remarks.passes = self.opt_remarks_passes.clone();
            remarks.format = self.opt_remarks_format.clone().unwrap_or_default();
            remarks.with_hotness = self.opt_remarks_with_hotness;
            if let Some(threshold) = self.opt_remarks_hotness_threshold {
                remarks.hotness_threshold = threshold;
            }
            // This run's file, not an earlier one's (a thin run writes it
            // empty when it is absent).
            match std::fs::remove_file(file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(file.display(), Phase::Write, e)),
            }
            config.opt_remarks = Some(remarks);
        }
        if let Some(level) = &self.codegen_opt_level {
            config.codegen_opt_level = Some(level.parse().map_err(Error::Usage)?);
        }
        config.llvm_options = self.mllvm.clone();
        Ok(config)
    }
}

/// Options shared by every LTO command.
#[derive(Args)]
struct CommonArgs {
    /// Inputs: bitcode, objects, archives (.a, .rlib), or @file.rsp.
    #[arg(required = true)]
    inputs: Vec<String>,
    /// A symbol that must stay visible (repeatable).
    #[arg(long = "export", value_name = "SYM")]
    exports: Vec<String>,
    /// A file of symbols to keep visible, one per line (# starts a comment).
    #[arg(long = "export-file", value_name = "FILE")]
    export_files: Vec<PathBuf>,
    #[command(flatten)]
    codegen: CodegenArgs,
    /// Use the .llvmbc bitcode of objects that carry it (rustc -C
    /// embed-bitcode=yes) instead of their native code.
    #[arg(long = "embedded-bitcode")]
    embedded_bitcode: bool,
    /// Use the .llvm.lto bitcode of clang -ffat-lto-objects objects.
    #[arg(long = "fat-lto-objects")]
    fat_lto_objects: bool,
    /// Write the report as JSON to FILE.
    #[arg(long = "report", value_name = "FILE")]
    report: Option<PathBuf>,
    /// Assume no code outside the LTO unit derives from its classes, so
    /// virtual calls may be devirtualized (lld's option).
    #[arg(long = "lto-whole-program-visibility")]
    whole_program_visibility: bool,
    /// Parse and compile the inputs in this process instead of in worker
    /// processes: faster to start, but malformed bitcode that crashes LLVM
    /// takes the whole run down without saying which input it was.
    #[arg(long = "in-process")]
    in_process: bool,
    /// Kill a worker that spends longer than SECS on one module, and fail
    /// naming the module (0: no limit).
    #[arg(long = "module-timeout", value_name = "SECS", default_value_t = 1800)]
    module_timeout: u64,
    /// After the run, print what it decided about SYM and why (a mangled
    /// or demangled name; repeatable): definitions, the prevailing copy,
    /// internalization, liveness, imports, inlining, the objects.
    #[arg(long = "explain", value_name = "SYM")]
    explain: Vec<String>,
    /// Print the explanations as JSON (an array) instead of text.
    #[arg(long = "explain-json", requires = "explain")]
    explain_json: bool,
}

#[derive(Args)]
struct FatArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// The output object, link.rsp beside it. With several partitions they
    /// are joined into it by a relocatable link (ld.lld-22 -r, or
    /// $LTO_ENGINE_REAL_LD); `-o DIR/` writes one file per partition.
    #[arg(short = 'o', value_name = "OUT.o")]
    output: PathBuf,
    /// What to emit: obj, asm, bc.
    #[arg(long, default_value = "obj")]
    emit: EmitKind,
    /// Code generation partitions (lld's --lto-partitions): the optimized
    /// module is split into N objects compiled in parallel. `auto`: one per
    /// 25,000 instructions of the module when it is split, at most 4. The
    /// objects depend on this and the inputs only, never on --jobs.
    #[arg(long = "lto-partitions", value_name = "N|auto", default_value = "auto", value_parser = parse_partitions)]
    partitions: FatPartitions,
    /// With several partitions, where the late passes of the pipeline
    /// (LICM, GVN, unrolling, vectorizers) run: on each partition in
    /// parallel, or on the whole module before the split (as lld).
    #[arg(
        long = "lto-late-passes",
        value_name = "WHERE",
        default_value = "partitions"
    )]
    late_passes: LatePassesArg,
    /// Threads compiling the partitions (default: every available core).
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    #[command(flatten)]
    cache: CacheArgs,
}

#[derive(Args)]
struct ThinArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// The output directory: one object per module, link.rsp.
    #[arg(short = 'o', value_name = "OUTDIR")]
    output: PathBuf,
    /// Backend threads (default: every available core).
    #[arg(long, short = 'j', value_name = "N")]
    jobs: Option<usize>,
    /// What to emit: obj, asm, bc.
    #[arg(long, default_value = "obj")]
    emit: EmitKind,
    /// Also write <module>.imports, the modules each one imports from (as
    /// lld's --thinlto-emit-imports-files).
    #[arg(long = "emit-imports")]
    emit_imports: bool,
    /// Thin-local LTO: across the given files only; archives stay native
    /// (rustc's thin-local mode).
    #[arg(long)]
    local: bool,
    #[command(flatten)]
    cache: CacheArgs,
}

/// The cache options of `thin` and `fat`.
#[derive(Args)]
struct CacheArgs {
    /// Keep optimized objects in DIR and reuse those whose cache key is
    /// unchanged (as lld's --thinlto-cache-dir; fat: each code generation
    /// partition's object, keyed by its bitcode and settings).
    #[arg(long = "cache-dir", alias = "thinlto-cache-dir", value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// Cache pruning policy, lld's syntax:
    /// prune_interval=20m:prune_after=1w:cache_size=75%:cache_size_bytes=..:cache_size_files=..
    #[arg(
        long = "cache-policy",
        alias = "thinlto-cache-policy",
        value_name = "POLICY",
        requires = "cache_dir"
    )]
    cache_policy: Option<String>,
}

impl CacheArgs {
    fn config(&self) -> Option<CacheConfig> {
        self.cache_dir.as_ref().map(|dir| CacheConfig {
            dir: dir.clone(),
            policy: self.cache_policy.clone().unwrap_or_default(),
        })
    }
}

#[derive(Args)]
struct IndexArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// The engine's own files: link.rsp, copies of modules without a bitcode
    /// file of their own and, without --prefix-replace, the index, imports
    /// and object files.
    #[arg(long = "index-dir", value_name = "DIR")]
    index_dir: PathBuf,
    /// Thin-local LTO: index files for the given files' modules only;
    /// archives stay native (rustc's thin-local mode).
    #[arg(long)]
    local: bool,
    /// lld's 'old;new[;native]': a module at old<rest> gets
    /// new<rest>.thinlto.bc (and .imports) and its object at native<rest>
    /// (new<rest> without native).
    #[arg(
        long = "prefix-replace",
        alias = "thinlto-prefix-replace",
        value_name = "OLD;NEW[;NATIVE]"
    )]
    prefix_replace: Option<PrefixReplace>,
    /// lld's 'old;new': the inputs are minimized thin-link bitcode
    /// (-fthin-link-bitcode), the index records the full files.
    #[arg(
        long = "object-suffix-replace",
        alias = "thinlto-object-suffix-replace",
        value_name = "OLD;NEW"
    )]
    object_suffix_replace: Option<SuffixReplace>,
    /// Also write <module>.imports (lld's --thinlto-emit-imports-files).
    #[arg(long = "emit-imports", alias = "thinlto-emit-imports-files")]
    emit_imports: bool,
    /// What the backend jobs emit: obj, asm, bc.
    #[arg(long, default_value = "obj")]
    emit: EmitKind,
    /// Write the backend jobs as lld 22's distributor JSON to FILE.
    #[arg(long = "distributor-json", value_name = "FILE")]
    distributor_json: Option<PathBuf>,
    /// Run CMD [--distributor-arg...] JOBS.json, as lld's
    /// --thinlto-distributor, and check that every object was produced.
    #[arg(
        long = "distributor",
        alias = "thinlto-distributor",
        value_name = "CMD"
    )]
    distributor: Option<String>,
    /// An argument for the distributor (repeatable).
    #[arg(
        long = "distributor-arg",
        alias = "thinlto-distributor-arg",
        value_name = "ARG",
        allow_hyphen_values = true
    )]
    distributor_args: Vec<String>,
    /// The compiler the jobs run (default: this lto-engine).
    #[arg(
        long = "remote-compiler",
        alias = "thinlto-remote-compiler",
        value_name = "PATH"
    )]
    remote_compiler: Option<PathBuf>,
    /// How jobs are spelled: clang (-fthinlto-index=) or engine (lto-engine
    /// backend); default: clang when the compiler's name starts with clang.
    #[arg(long = "remote-compiler-style", value_name = "STYLE")]
    remote_compiler_style: Option<JobStyleArg>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LatePassesArg {
    Partitions,
    Serial,
}

impl From<LatePassesArg> for FatLatePasses {
    fn from(arg: LatePassesArg) -> Self {
        match arg {
            LatePassesArg::Partitions => FatLatePasses::OnPartitions,
            LatePassesArg::Serial => FatLatePasses::Serial,
        }
    }
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum JobStyleArg {
    Clang,
    Engine,
}

#[derive(Args)]
struct BackendArgs {
    /// The bitcode module to compile.
    module: PathBuf,
    /// Its slice of the index (<module>.thinlto.bc).
    #[arg(long, value_name = "M.thinlto.bc")]
    index: PathBuf,
    /// The output object.
    #[arg(short = 'o', value_name = "OUT.o")]
    output: PathBuf,
    #[command(flatten)]
    codegen: CodegenArgs,
    /// What to emit: obj, asm, bc.
    #[arg(long, default_value = "obj")]
    emit: EmitKind,
}

fn main() -> ExitCode {
    // The process is the engine's: LLVM's fatal errors end it with one line.
    lto_engine::install_fatal_error_handler();
    // The linker mode: `lto-engine ld ARGS...`, or this executable under a
    // name ending in `ld.lld` (what `clang --ld-path=` and `-fuse-ld=lld`
    // run). Its arguments are ld.lld's, not this command line's.
    let args: Vec<String> = std::env::args().collect();
    let invoked_as_lld = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .is_some_and(|n| n.to_string_lossy().ends_with("ld.lld"));
    if invoked_as_lld {
        return linker_mode(args[1..].to_vec());
    }
    if args.get(1).map(String::as_str) == Some("ld") {
        return linker_mode(args[2..].to_vec());
    }
    // lld's DTLTO jobs give a clang remote compiler `-c --target=T -O2 ...
    // M.o -fthinlto-index=I -o OUT`: `lto-engine backend` takes that too.
    if args.iter().any(|a| a.starts_with("-fthinlto-index=")) {
        match args.get(1).map(String::as_str) {
            Some("backend") => return report_result(clang_style_backend(&args[2..])),
            // Named as the remote compiler itself: `lto-engine -c ...`.
            Some("-c") => return report_result(clang_style_backend(&args[1..])),
            _ => {}
        }
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Fat(args) => run_fat(*args),
        Command::Thin(args) => run_thin(*args),
        Command::Index(args) => run_index(*args),
        Command::Backend(args) => run_backend(*args),
        Command::Explain(args) => return run_explain(args),
        Command::Demo => demo::run_demo(),
        Command::Worker => lto_engine::serve_worker(),
    };
    report_result(result)
}

/// `--lto-partitions`: a count of at least one, or `auto`.
fn parse_partitions(text: &str) -> Result<FatPartitions, String> {
    if text == "auto" {
        return Ok(FatPartitions::Auto);
    }
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(FatPartitions::Fixed(n)),
        _ => Err(format!(
            "expected a count of at least 1 or `auto`, not {text:?}"
        )),
    }
}

fn session_for(
    common: &CommonArgs,
    emit: EmitKind,
    jobs: Jobs,
    cache: Option<CacheConfig>,
    kind: LtoKind,
    (fat_partitions, fat_late_passes): (FatPartitions, FatLatePasses),
) -> Result<Session, Error> {
    let mut config = common.codegen.config(emit)?;
    config.fat_partitions = fat_partitions;
    config.fat_late_passes = fat_late_passes;
    config.input_options = InputOptions {
        embedded_bitcode: common.embedded_bitcode,
        fat_lto_objects: common.fat_lto_objects,
    };
    config.jobs = jobs;
    config.cache = cache;
    config.whole_program_visibility = common.whole_program_visibility;
    config.explain = common.explain.clone();
    // A linker's rule: the command line's order decides which copy of a
    // symbol prevails and which module fat LTO links into.
    config.module_order = ModuleOrder::Added;
    if !common.in_process {
        config.isolation = Isolation::Workers(workers(common.module_timeout)?);
    }
    let session = Session::new(config, kind)?;
    for input in rsp::expand(common.inputs.clone())? {
        session.add_path(&input)?;
    }
    session.preserve(common.exports.iter().cloned())?;
    for file in &common.export_files {
        let text =
            std::fs::read_to_string(file).map_err(|e| Error::io(file.display(), Phase::Read, e))?;
        session.preserve(
            text.lines()
                .map(|line| line.split('#').next().unwrap_or("").trim())
                .filter(|line| !line.is_empty())
                .map(str::to_string),
        )?;
    }
    Ok(session)
}

/// `lto-engine explain SYMBOL COMMAND...`: the command with `--explain
/// SYMBOL` (and `--explain-json`); for `ld`, the linker mode explaining it.
fn run_explain(args: ExplainArgs) -> ExitCode {
    let not_a_command = |command: &str| {
        report_result(Err(Error::Usage(format!(
            "explain: {command:?} is not a command explain runs (thin, fat or ld)"
        ))))
    };
    let Some((command, rest)) = args.command.split_first() else {
        return not_a_command("");
    };
    match command.as_str() {
        "thin" | "fat" => {
            let mut argv = vec!["lto-engine".to_string(), command.clone()];
            argv.extend(rest.iter().cloned());
            argv.extend(["--explain".to_string(), args.symbol]);
            if args.json {
                argv.push("--explain-json".to_string());
            }
            let cli = Cli::parse_from(argv);
            match cli.command {
                Command::Fat(args) => report_result(run_fat(*args)),
                Command::Thin(args) => report_result(run_thin(*args)),
                _ => not_a_command(command),
            }
        }
        "ld" => {
            let mut options = lto_engine::LinkerOptions::default();
            options.explain = vec![args.symbol];
            options.explain_json = args.json;
            linker_mode_with(rest.to_vec(), options)
        }
        other => not_a_command(other),
    }
}

/// `lto-engine ld`: links as ld.lld with LTO by the engine. `--real-linker
/// PATH` (first) or `LTO_ENGINE_REAL_LD` names the linker that finishes the
/// link (default `ld.lld-22`).
fn linker_mode(args: Vec<String>) -> ExitCode {
    linker_mode_with(args, lto_engine::LinkerOptions::default())
}

/// [`linker_mode`] with `options` to start from.
fn linker_mode_with(mut args: Vec<String>, mut options: lto_engine::LinkerOptions) -> ExitCode {
    if let Some(path) = std::env::var_os("LTO_ENGINE_REAL_LD") {
        options.real_linker = PathBuf::from(path);
    }
    if let Some(position) = args.iter().position(|a| a == "--real-linker") {
        if position + 1 < args.len() {
            options.real_linker = PathBuf::from(args.remove(position + 1));
        }
        args.remove(position);
    } else if let Some(position) = args.iter().position(|a| a.starts_with("--real-linker=")) {
        let value = args.remove(position);
        options.real_linker = PathBuf::from(&value["--real-linker=".len()..]);
    }
    let result = rsp::expand(args).and_then(|args| {
        options.workers = Some(workers(1800)?);
        lto_engine::run_linker(&args, &options)
    });
    match result {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(error) => report_result(Err(error)),
    }
}

/// One line for an error (whatever LLVM said), and the exit status.
fn report_result(result: Result<(), Error>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let text = error.to_string().replace('\n', " ");
            eprintln!("lto-engine: error: {text}");
            ExitCode::FAILURE
        }
    }
}

/// A distributed ThinLTO backend job in clang's spelling, as lld 22's
/// `--thinlto-distributor` gives it to a `--thinlto-remote-compiler`.
/// Options that do not change the object (warnings, `-c`, `-x ir`,
/// `-faddrsig`, which the engine always does) are accepted; any other is an
/// error naming it, rather than an object built otherwise than asked.
fn clang_style_backend(args: &[String]) -> Result<(), Error> {
    let mut config = Config::default();
    let (mut module, mut index, mut output) = (None, None, None);
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        let mut next = || {
            i += 1;
            args.get(i)
                .cloned()
                .ok_or_else(|| Error::Usage(format!("backend: {arg} needs a value")))
        };
        if let Some(path) = arg.strip_prefix("-fthinlto-index=") {
            index = Some(PathBuf::from(path));
        } else if let Some(triple) = arg.strip_prefix("--target=") {
            config.target_triple = Some(triple.to_string());
        } else if let Some(cpu) = arg
            .strip_prefix("-mcpu=")
            .or_else(|| arg.strip_prefix("-march="))
        {
            config.target_cpu = Some(cpu.to_string());
        } else if let Some(level) = arg.strip_prefix("-O") {
            config.opt_level = level.parse().map_err(Error::Usage)?;
        } else if let Some(model) = arg.strip_prefix("-mcmodel=") {
            config.code_model = model
                .parse()
                .map_err(|e| Error::Usage(format!("backend: -mcmodel={model}: {e}")))?;
        } else {
            match arg {
                "-o" => output = Some(PathBuf::from(next()?)),
                "-target" => config.target_triple = Some(next()?),
                "-x" => {
                    let language = next()?;
                    if language != "ir" {
                        return Err(Error::Usage(format!("backend: -x {language}: only -x ir")));
                    }
                }
                "-c" | "-faddrsig" => {}
                "-ffunction-sections" => config.function_sections = true,
                "-fno-function-sections" => config.function_sections = false,
                "-fdata-sections" => config.data_sections = true,
                "-fno-data-sections" => config.data_sections = false,
                "-fpic" | "-fPIC" | "-fpie" | "-fPIE" => config.reloc_model = RelocModel::Pic,
                "-fno-pic" | "-fno-pie" => config.reloc_model = RelocModel::Static,
                _ if arg.starts_with("-W") => {}
                _ if arg.starts_with('-') => {
                    return Err(Error::Usage(format!(
                        "backend: {arg}: a compiler option the engine's backend does not take"
                    )))
                }
                _ => module = Some(PathBuf::from(arg)),
            }
        }
        i += 1;
    }
    let (Some(module), Some(index), Some(output)) = (module, index, output) else {
        return Err(Error::Usage(
            "backend: needs a module, -fthinlto-index=FILE and -o FILE".to_string(),
        ));
    };
    let object = lto_engine::distributed::backend_from_index(&config, &module, &index)?;
    print_diagnostics(&object.diagnostics);
    lto_engine::write_atomically(&output, &object.bytes)
}

/// This executable's `worker` subcommand, as the workers of a run.
fn workers(module_timeout: u64) -> Result<Workers, Error> {
    let program = std::env::current_exe().map_err(|e| Error::io("lto-engine", Phase::Read, e))?;
    let workers = Workers::lto_engine(program);
    Ok(match module_timeout {
        0 => workers,
        secs => workers.module_timeout(std::time::Duration::from_secs(secs)),
    })
}

/// The build tool's jobserver when `CARGO_MAKEFLAGS` / `MAKEFLAGS` offer one
/// (a `make -jN` recipe, a cargo build script), else one job per core.
/// Read at most once per process: the client owns the descriptors.
fn default_jobs() -> Jobs {
    static FROM_ENV: std::sync::OnceLock<Option<Jobserver>> = std::sync::OnceLock::new();
    let inherited = FROM_ENV.get_or_init(|| {
        // SAFETY: this is the lto-engine executable: no other code in the
        // process opens a jobserver client or uses the inherited descriptors
        // (the library never reads the environment), and the OnceLock makes
        // this the only client of them. `check_pipe` has the crate verify
        // they are a pipe or a fifo before using them.
        let client = unsafe { jobserver::Client::from_env_ext(true) }.client.ok();
        client.map(Jobserver::new)
    });
    match inherited {
        Some(client) => Jobs::Jobserver(client.clone()),
        None => Jobs::Auto,
    }
}

fn run_fat(args: FatArgs) -> Result<(), Error> {
    let jobs = match args.jobs {
        Some(0) => return Err(Error::Config("--jobs must be at least 1".to_string())),
        Some(n) => Jobs::Fixed(n),
        None => default_jobs(),
    };
    let session = session_for(
        &args.common,
        args.emit,
        jobs,
        args.cache.config(),
        LtoKind::Fat,
        (args.partitions, args.late_passes.into()),
    )?;
    let output = session.run()?;
    print_diagnostics(&output.diagnostics);
    // `-o DIR/` (or an existing directory): one file per partition.
    // Otherwise the one object asked for, the partitions joined by the real
    // linker (`-r`), so that it is the whole result.
    let to_dir = args.output.as_os_str().to_string_lossy().ends_with('/') || args.output.is_dir();
    let to = if to_dir {
        WriteTo::dir(&args.output)
    } else {
        let joiner = std::env::var_os("LTO_ENGINE_REAL_LD").map(PathBuf::from);
        match joiner {
            Some(linker) => WriteTo::object(&args.output).joined_by(linker),
            None => WriteTo::object(&args.output),
        }
    };
    let files = output.write(&to)?;
    write_report(&args.common, &output.report)?;
    print_explanations(&args.common, &output.report)?;
    eprint!("{}", output.report.summary());
    let wrote = match (to_dir, files.objects.len()) {
        (true, n) => format!("{n} objects into {}", args.output.display()),
        (false, _) => args.output.display().to_string(),
    };
    eprintln!("  wrote {wrote} and {}", files.link_rsp.display());
    Ok(())
}

fn run_thin(args: ThinArgs) -> Result<(), Error> {
    let jobs = match args.jobs {
        Some(0) => return Err(Error::Config("--jobs must be at least 1".to_string())),
        Some(n) => Jobs::Fixed(n),
        None => default_jobs(),
    };
    let cache = args.cache.config();
    let kind = if args.local {
        LtoKind::ThinLocal
    } else {
        LtoKind::Thin
    };
    let session = session_for(
        &args.common,
        args.emit,
        jobs,
        cache,
        kind,
        (FatPartitions::Auto, FatLatePasses::default()),
    )?;
    let bar = progress_bar();
    if let Some(bar) = &bar {
        let bar = bar.clone();
        session.on_progress(move |done, total, name| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            bar.set_message(name.to_string());
        });
    }
    let result = session.run();
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let output = result?;
    print_diagnostics(&output.diagnostics);
    let mut to = WriteTo::dir(&args.output);
    if args.emit_imports {
        to = to.with_imports_files();
    }
    let files = output.write(&to)?;
    write_report(&args.common, &output.report)?;
    print_explanations(&args.common, &output.report)?;
    eprint!("{}", output.report.summary());
    let unchanged = if files.unchanged > 0 {
        format!(" ({} already up to date)", files.unchanged)
    } else {
        String::new()
    };
    eprintln!(
        "  wrote {} objects{unchanged} and {}",
        files.objects.len(),
        files.link_rsp.display()
    );
    Ok(())
}

fn run_index(args: IndexArgs) -> Result<(), Error> {
    if args.common.codegen.save_temps.is_some() {
        return Err(Error::Config(
            "--save-temps belongs to the backends (lto-engine backend --save-temps), not to the \
             index"
                .to_string(),
        ));
    }
    if args.distributor.is_none() && !args.distributor_args.is_empty() {
        return Err(Error::Config(
            "--distributor-arg needs --distributor".to_string(),
        ));
    }
    if !args.common.explain.is_empty() {
        return Err(Error::Config(
            "--explain belongs to runs that compile (thin, fat, ld); the index's decisions are \
             the same as a thin run's on the same inputs"
                .to_string(),
        ));
    }
    if args.common.codegen.opt_remarks_filename.is_some() {
        return Err(Error::Config(
            "--opt-remarks-filename belongs to the backends (lto-engine backend \
             --opt-remarks-filename), not to the index"
                .to_string(),
        ));
    }
    let kind = if args.local {
        LtoKind::ThinLocal
    } else {
        LtoKind::Thin
    };
    let session = session_for(
        &args.common,
        args.emit,
        default_jobs(),
        None,
        kind,
        (FatPartitions::Auto, FatLatePasses::default()),
    )?;
    let mut options = IndexOptions::new(&args.index_dir);
    options.prefix_replace = args.prefix_replace.clone();
    options.object_suffix_replace = args.object_suffix_replace.clone();
    options.emit_imports = args.emit_imports;
    let output = session.run_with(Backends::IndexFiles(options))?;
    print_diagnostics(&output.diagnostics);
    let files = output.write(&WriteTo::dir(&args.index_dir))?;
    let jobs = &output.jobs;
    let imports: usize = jobs.iter().map(|m| m.imports.len()).sum();
    let thin_link = output.report.phase_time(lto_engine::report::Step::ThinLink);
    eprintln!(
        "lto-engine: thin link of {} modules in {:.3} s: {} index files ({} import edges), {}",
        jobs.len(),
        thin_link.as_secs_f64(),
        jobs.len(),
        imports,
        files.link_rsp.display()
    );
    if !files.objects.is_empty() {
        eprintln!(
            "  {} modules compiled alone (no LTO) beside the jobs",
            files.objects.len()
        );
    }
    let json_path = match (&args.distributor_json, &args.distributor) {
        (Some(path), _) => Some(path.clone()),
        (None, Some(_)) => Some(args.index_dir.join("jobs.json")),
        (None, None) => None,
    };
    if let Some(json_path) = &json_path {
        let compiler = remote_compiler(&args)?;
        let json = lto_engine::distributed::distributor_json(
            jobs,
            &compiler,
            session.config(),
            &files.link_rsp.display().to_string(),
        );
        let text = serde_json::to_string_pretty(&json)
            .map_err(|e| Error::io(json_path.display(), Phase::Write, e.into()))?;
        lto_engine::write_atomically(json_path, text.as_bytes())?;
        eprintln!(
            "  jobs for {}: {}",
            compiler.path.display(),
            json_path.display()
        );
    }
    if let (Some(distributor), Some(json_path)) = (&args.distributor, &json_path) {
        let mut command = vec![distributor.clone()];
        command.extend(args.distributor_args.iter().cloned());
        lto_engine::distributed::run_distributor(&command, json_path, jobs)?;
        eprintln!(
            "  {distributor} ran {} jobs; link with @{}",
            jobs.len(),
            files.link_rsp.display()
        );
    }
    if let Some(path) = &args.common.report {
        write_index_report(path, jobs, thin_link, &files.link_rsp)?;
    }
    Ok(())
}

/// The compiler the distributor's jobs run: `--remote-compiler` (its
/// style guessed from its name unless `--remote-compiler-style` says),
/// else this executable.
fn remote_compiler(args: &IndexArgs) -> Result<RemoteCompiler, Error> {
    let compiler = match &args.remote_compiler {
        Some(path) => RemoteCompiler::guess(path),
        None => RemoteCompiler {
            path: std::env::current_exe().map_err(|e| Error::io("lto-engine", Phase::Read, e))?,
            style: JobStyle::Engine,
        },
    };
    Ok(match args.remote_compiler_style {
        Some(JobStyleArg::Clang) => RemoteCompiler {
            style: JobStyle::Clang,
            ..compiler
        },
        Some(JobStyleArg::Engine) => RemoteCompiler {
            style: JobStyle::Engine,
            ..compiler
        },
        None => compiler,
    })
}

/// `--report` of an index run: the thin link's time and each module's job.
fn write_index_report(
    path: &Path,
    jobs: &[lto_engine::distributed::DistributedModule],
    thin_link: std::time::Duration,
    link_rsp: &Path,
) -> Result<(), Error> {
    let modules: Vec<serde_json::Value> = jobs
        .iter()
        .map(|m| {
            serde_json::json!({
                "name": m.name,
                "module": m.module_path,
                "module_written": m.module_written,
                "index": m.index_file.display().to_string(),
                "imports_file": m.imports_file.as_ref().map(|p| p.display().to_string()),
                "object": m.native_object.display().to_string(),
                "imports": m.imports,
            })
        })
        .collect();
    let report = serde_json::json!({
        "kind": "index",
        "thin_link_seconds": thin_link.as_secs_f64(),
        "link_rsp": link_rsp.display().to_string(),
        "modules": modules,
    });
    let text = serde_json::to_string_pretty(&report)
        .map_err(|e| Error::io(path.display(), Phase::Write, e.into()))?;
    lto_engine::write_atomically(path, text.as_bytes())
}

fn run_backend(args: BackendArgs) -> Result<(), Error> {
    let config = args.codegen.config(args.emit)?;
    let output = lto_engine::distributed::backend_from_index(&config, &args.module, &args.index)?;
    print_diagnostics(&output.diagnostics);
    lto_engine::write_atomically(&args.output, &output.bytes)
}

/// LLVM's warnings and the remarks asked for, one line each on stderr, as a
/// compiler driver prints them.
fn print_diagnostics(diagnostics: &[lto_engine::Diagnostic]) {
    for diagnostic in diagnostics {
        eprintln!("lto-engine: {}", diagnostic.to_string().replace('\n', " "));
    }
}

/// A progress bar on stderr when it is a terminal; nothing otherwise.
fn progress_bar() -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    let style = indicatif::ProgressStyle::with_template(
        "{spinner} thin LTO [{bar:30}] {pos}/{len} {wide_msg}",
    )
    .map(|s| s.progress_chars("=> "))
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

/// The explanations `--explain` asked for, on stdout: text, or a JSON
/// array with `--explain-json`.
fn print_explanations(common: &CommonArgs, report: &lto_engine::Report) -> Result<(), Error> {
    if common.explain.is_empty() {
        return Ok(());
    }
    if common.explain_json {
        let text = serde_json::to_string_pretty(&report.explanations)
            .map_err(|e| Error::io("stdout", Phase::Write, e.into()))?;
        println!("{text}");
    } else {
        for explanation in &report.explanations {
            print!("{explanation}");
        }
    }
    Ok(())
}

fn write_report(common: &CommonArgs, report: &lto_engine::Report) -> Result<(), Error> {
    if let Some(path) = &common.report {
        let text = serde_json::to_string_pretty(&report.to_json())
            .map_err(|e| Error::io(path.display(), Phase::Write, e.into()))?;
        lto_engine::write_atomically(path, text.as_bytes())?;
    }
    Ok(())
}
