//! What an LTO run did: modules, the preserved and internalized symbols, time
//! per phase. Rendered as JSON (`--report`) and as a short human summary.

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

mod explanation;
pub use explanation::{
    ImportDecision, ImportOutcome, ImportRejection, InlineSite, KeptReason, LinkOutcome, Linkage,
    LiveRoot, OutOfLineCopy, PrevailingCopy, PrevailingReason, SymbolCopy, SymbolExplanation,
    SymbolKind, Visibility,
};

/// A timed step of a run ([`Report::phases`]) or of one module's pipeline
/// ([`ThinModuleReport::steps`], [`NoLtoModuleReport::steps`]). The JSON
/// report and the summary print [`Step::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Step {
    /// Parsing bitcode: every module (a fat run's phase) or one module (a
    /// backend's or a module compiled alone).
    Parse,
    /// Fat LTO: linking the modules into the first one.
    Link,
    /// Fat LTO: the restriction pass (internalization).
    Restrict,
    /// Running the optimization pipeline (`lto<On>`, `thinlto<On>` or
    /// `default<On>`).
    Optimize,
    /// Emitting the object (or assembly, or bitcode).
    Codegen,
    /// Thin LTO: the thin link (combined index, liveness, imports, linkage
    /// decisions).
    ThinLink,
    /// Thin LTO: computing every module's cache key.
    CacheKeys,
    /// Thin LTO: looking every module's key up in the cache.
    CacheLookup,
    /// Thin LTO: all backends, from the first start to the last finish.
    Backends,
    /// Checking an input module with the IR verifier, before any pass.
    Verify,
    /// Distributed ThinLTO: writing each module's index file (and imports
    /// file) for its backend job.
    IndexFiles,
    /// Thin LTO: recording the new keys and pruning the cache.
    CacheUpdate,
    /// Fat LTO: splitting the optimized module into code generation
    /// partitions (each written as bitcode for its thread).
    Split,
    /// A ThinLTO backend: renaming and promoting locals.
    Rename,
    /// A ThinLTO backend: dropping dead definitions, resolving weak linkages.
    Resolve,
    /// A ThinLTO backend: internalizing.
    Internalize,
    /// A ThinLTO backend: importing from other modules.
    Import,
    /// A cache hit: reading the module's object from the cache.
    CacheRead,
    /// A cache hit whose entry a streaming session read before the thin
    /// link.
    CacheReadEarly,
    /// Distributed ThinLTO backend: reading the module's index file.
    ReadIndex,
    /// Distributed ThinLTO backend: reading the modules imported from.
    ReadImports,
    /// Explaining the symbols the configuration names.
    Explain,
}

crate::names::named_enum!(
    /// The name in reports: `parse`, `thin link`, `cache read (early)`,
    /// `read index`, ...
    pub Step {
        Parse => "parse",
        Link => "link",
        Restrict => "restrict",
        Optimize => "optimize",
        Codegen => "codegen",
        ThinLink => "thin link",
        CacheKeys => "cache keys",
        CacheLookup => "cache lookup",
        Backends => "backends",
        Verify => "verify",
        IndexFiles => "index files",
        CacheUpdate => "cache update",
        Split => "split",
        Rename => "rename",
        Resolve => "resolve",
        Internalize => "internalize",
        Import => "import",
        CacheRead => "cache read",
        CacheReadEarly => "cache read (early)",
        ReadIndex => "read index",
        ReadImports => "read imports",
        Explain => "explain",
    }
);

/// Functions one module imports from another.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportSource {
    /// The module imported from.
    #[serde(rename = "from")]
    pub module: String,
    /// Names of the function (and variable) definitions imported, sorted.
    pub definitions: Vec<String>,
    /// How many values are imported as declarations only.
    pub declarations: usize,
}

/// Why a module was compiled although a cache was configured.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MissReason {
    /// No earlier run of a module of this name used this cache.
    NewModule,
    /// The module's own bitcode changed.
    ContentChanged,
    /// A module it imports from changed, or what it imports did; the
    /// modules concerned.
    ImportsChanged(Vec<String>),
    /// The code generation settings changed (`-O`, CPU, features, ...).
    SettingsChanged,
    /// What it exports, or how its symbols resolve, changed (another
    /// module's edit can do this).
    ResolutionChanged,
    /// Its inputs are those of a cached run, but the entry is gone (pruned,
    /// or removed by hand).
    EntryMissing,
    /// The entry failed its length or checksum check, or could not be read.
    EntryCorrupt(String),
    /// `--save-temps` asks for every stage, so the cache is not used.
    SaveTemps,
}

impl fmt::Display for MissReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MissReason::NewModule => f.write_str("new module"),
            MissReason::ContentChanged => f.write_str("module changed"),
            MissReason::ImportsChanged(modules) => {
                write!(f, "imports changed (from {})", modules.join(", "))
            }
            MissReason::SettingsChanged => f.write_str("settings changed"),
            MissReason::ResolutionChanged => f.write_str("exports or symbol resolution changed"),
            MissReason::EntryMissing => f.write_str("entry missing (pruned)"),
            MissReason::EntryCorrupt(why) => write!(f, "entry corrupt ({why}); rebuilt"),
            MissReason::SaveTemps => f.write_str("cache bypassed for --save-temps"),
        }
    }
}

/// A module's standing with respect to the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheStatus {
    /// No cache is configured.
    Disabled,
    /// The object came from the cache: nothing was parsed or compiled.
    Hit,
    /// A hit that LLVM's rule (lld's key, which takes every import source
    /// by its whole hash) would have compiled: these import sources changed,
    /// but not what the module imports from them.
    HitByFinerKey(Vec<String>),
    /// The module was compiled (and its object stored), for this reason.
    Miss(MissReason),
}

impl CacheStatus {
    /// The object came from the cache (by either key).
    pub fn is_hit(&self) -> bool {
        matches!(self, CacheStatus::Hit | CacheStatus::HitByFinerKey(_))
    }
}

/// `{"status": "hit"}`, `{"status": "miss", "reason": "module changed"}`,
/// `{"status": "hit", "reason": "finer key: ..."}`.
impl Serialize for CacheStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let reason = match self {
            CacheStatus::Miss(reason) => Some(reason.to_string()),
            CacheStatus::HitByFinerKey(sources) => Some(finer_key_reason(sources)),
            _ => None,
        };
        let mut map = serializer.serialize_map(Some(1 + usize::from(reason.is_some())))?;
        map.serialize_entry(
            "status",
            match self {
                CacheStatus::Disabled => "disabled",
                CacheStatus::Hit | CacheStatus::HitByFinerKey(_) => "hit",
                CacheStatus::Miss(_) => "miss",
            },
        )?;
        if let Some(reason) = reason {
            map.serialize_entry("reason", &reason)?;
        }
        map.end()
    }
}

impl fmt::Display for CacheStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheStatus::Disabled => f.write_str("disabled"),
            CacheStatus::Hit => f.write_str("hit"),
            CacheStatus::HitByFinerKey(sources) => write!(f, "hit ({})", finer_key_reason(sources)),
            CacheStatus::Miss(reason) => write!(f, "miss: {reason}"),
        }
    }
}

/// Why a hit is one only by the finer key.
fn finer_key_reason(sources: &[String]) -> String {
    if sources.is_empty() {
        "finer key: LLVM's rule would recompile it".to_string()
    } else {
        format!(
            "finer key: {} changed, not what it imports from there",
            sources.join(", ")
        )
    }
}

/// One module that went through LTO.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleReport {
    /// Its unique name.
    pub name: String,
    /// Where it came from (`file`, `archive member`, `embedded .llvmbc`, ...).
    pub origin: String,
    /// Size of its bitcode.
    pub bitcode_bytes: usize,
    /// Instructions before LTO: after parsing (fat LTO, where they are the
    /// module's cost), as its ThinLTO summary counts them (thin LTO).
    pub instructions: u64,
}

/// A local definition the thin link made visible to other modules (one
/// imports something that refers to it), and the name it has in the
/// module's object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PromotedSymbol {
    /// Its name in the input.
    pub name: String,
    /// Its name after promotion: `<name>.llvm.<module hash>`.
    pub promoted_name: String,
}

/// One module's ThinLTO backend.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ThinModuleReport {
    /// The module's name.
    pub name: String,
    /// File name of its object in the output directory.
    pub object: String,
    /// Size of the object.
    pub object_bytes: usize,
    /// The module had no summary and got one on load.
    pub summary_added: bool,
    /// Definitions in the module.
    pub definitions: usize,
    /// Definitions still live after dead-symbol analysis (0: the module's
    /// object is empty of code).
    pub live_definitions: usize,
    /// Values other modules import from it.
    pub exports: usize,
    /// Its definitions that were global in the input and that the thin link
    /// made internal (nothing outside the module needs them), in name
    /// order. Dead ones are in [`ThinModuleReport::dropped`] instead.
    pub internalized: Vec<String>,
    /// Its local definitions that the thin link made global, because other
    /// modules import code that refers to them, in name order.
    pub promoted: Vec<PromotedSymbol>,
    /// Its definitions that no preserved symbol reaches: the backend drops
    /// them (they become declarations), in name order.
    pub dropped: Vec<String>,
    /// What it imports, by source module.
    pub imports: Vec<ImportSource>,
    /// Wall time of each backend step (parse, rename, resolve, internalize,
    /// import, optimize, codegen); a cache hit has only
    /// [`Step::CacheRead`] (or [`Step::CacheReadEarly`]).
    #[serde(serialize_with = "step_times")]
    pub steps: Vec<(Step, Duration)>,
    /// The module's cache key.
    pub cache_key: String,
    /// Hit, miss (and why), or no cache.
    pub cache: CacheStatus,
}

impl ThinModuleReport {
    /// Number of function (and variable) definitions imported.
    pub fn imported_definitions(&self) -> usize {
        self.imports.iter().map(|i| i.definitions.len()).sum()
    }
}

/// A module compiled without LTO.
#[derive(Debug, Clone, Default, Serialize)]
pub struct NoLtoModuleReport {
    /// Its name.
    pub name: String,
    /// Wall time of each step (parse, optimize, codegen).
    #[serde(serialize_with = "step_times")]
    pub steps: Vec<(Step, Duration)>,
}

/// What a ThinLTO run did as a whole; empty (the default) in the report of
/// a fat or no-LTO run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ThinRunReport {
    /// Backend threads started.
    pub jobs: usize,
    /// The backends took tokens from a jobserver (beyond the first).
    pub jobserver: bool,
    /// The most backends that ran at the same moment.
    pub max_concurrent_backends: usize,
    /// Time of the thin link.
    #[serde(rename = "thin_link_seconds", serialize_with = "seconds")]
    pub thin_link: Duration,
    /// Wall time of all backends.
    #[serde(rename = "backend_wall_seconds", serialize_with = "seconds")]
    pub backend_wall: Duration,
    /// CPU time (user + system) of the process during the run, where the
    /// platform tells it.
    #[serde(rename = "cpu_seconds", serialize_with = "optional_seconds")]
    pub cpu: Option<Duration>,
    /// Peak resident memory of the process, where the platform tells it.
    pub peak_rss_bytes: Option<u64>,
    /// Wall time from the session's creation to the first backend's start
    /// (the whole run when no backend ran): input reading and loading not
    /// overlapped with other work, the thin link, cache keys and lookup.
    #[serde(rename = "serial_before_backends_seconds", serialize_with = "seconds")]
    pub serial_before_backends: Duration,
    /// Backend thread time spent on no module during the backends' wall
    /// time: the cores left idle at the tail, while the last modules finish.
    #[serde(rename = "idle_core_seconds", serialize_with = "seconds")]
    pub idle_core_time: Duration,
    /// Every module, in input order.
    #[serde(serialize_with = "thin_modules")]
    pub modules: Vec<ThinModuleReport>,
    /// The cache, when one is configured.
    pub cache: Option<CacheRunReport>,
}

/// What fat LTO's code generation did; empty (the default) in the report
/// of a thin or no-LTO run.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct FatRunReport {
    /// Code generation partitions, in partition order (one when the module
    /// was not split).
    pub partitions: Vec<PartitionReport>,
    /// Threads the partitions were compiled on.
    pub jobs: usize,
    /// Definitions that were local in their input and are referenced
    /// from another partition: they became hidden globals renamed with a
    /// `.llvm.<hash>` suffix, so they cannot clash with another object's
    /// symbols.
    pub promoted_locals: usize,
    /// Definitions that were global in their input, internalized by the
    /// restriction pass, and referenced from another partition: hidden
    /// globals under their own names (as lld's partitions keep them), so
    /// that code outside the unit naming them still finds them.
    pub shared_internalized: usize,
    /// Definitions that were local before the split and are used in their
    /// own partition only: they are local again in its object.
    pub relocalized: usize,
    /// The late passes of `lto<On>` ran on each partition
    /// ([`FatLatePasses::OnPartitions`](crate::FatLatePasses::OnPartitions)).
    /// JSON: `"late_passes": "partitions"` or `"serial"`.
    #[serde(rename = "late_passes", serialize_with = "late_passes")]
    pub late_passes_on_partitions: bool,
    /// Why the late passes ran on the whole module although the module was
    /// split and they were asked to run on partitions.
    pub late_passes_serial_because: Option<String>,
    /// The input module that defined each internalized name, for the
    /// strong definitions (a weak one may have had several).
    pub internalized_from: BTreeMap<String, String>,
}

/// One fat LTO code generation partition.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct PartitionReport {
    /// Its size in IR instructions at the split, a global variable counting
    /// one (0 when the module was not split).
    pub instructions: u64,
    /// The size of its object.
    pub object_bytes: usize,
    /// Wall time of the late passes of `lto<On>` on it (zero when they ran
    /// on the whole module).
    #[serde(rename = "optimize_seconds", serialize_with = "seconds")]
    pub optimize: Duration,
    /// Wall time of its code generation (with parsing its bitcode).
    #[serde(rename = "codegen_seconds", serialize_with = "seconds")]
    pub codegen: Duration,
    /// With a cache: whether its object came from the cache, and why not.
    pub cache: Option<PartitionCache>,
}

impl PartitionCache {
    pub(crate) fn hit(key: String) -> Self {
        PartitionCache {
            status: "hit",
            why: None,
            key,
        }
    }

    pub(crate) fn miss(key: String, why: String) -> Self {
        PartitionCache {
            status: "miss",
            why: Some(why),
            key,
        }
    }
}

/// What the cache did for one fat partition.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct PartitionCache {
    /// `"hit"` or `"miss"`.
    pub status: &'static str,
    /// For a miss: why (`"no earlier run of this partitioning"`, `"its code
    /// changed"`, `"the settings changed"`, `"its entry is missing or
    /// damaged"`).
    pub why: Option<String>,
    /// The cache key: the BLAKE3 of its bitcode as code generation gets it
    /// and of every setting that changes code.
    pub key: String,
}

/// What the ThinLTO cache did in a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CacheRunReport {
    /// The cache directory.
    pub dir: String,
    /// Modules whose object came from the cache.
    pub hits: usize,
    /// Modules compiled.
    pub misses: usize,
    /// Hits that LLVM's rule would have compiled (counted in `hits`).
    pub hits_by_finer_key: usize,
    /// Modules LLVM's rule (lld's cache key) would have compiled: those
    /// compiled, and those hit only by the finer key.
    pub llvm_rule_misses: usize,
    /// Whether pruning scanned the directory (its interval had passed, or
    /// this was the cache's first run).
    pub pruned: bool,
    /// What could not be stored (the run still succeeded).
    pub warnings: Vec<String>,
}

/// A pipeline stage after which the module is dumped (`--save-temps`),
/// shown to the [`StageHook`](crate::StageHook) and verified ([`Config::verify`](crate::Config::verify)). The names
/// ([`StageName::as_str`]) are rustc's, and name the save-temps files
/// (`<prefix>.<stage>.bc`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StageName {
    /// ThinLTO backend: the module as parsed (`thin-lto-input`).
    ThinLtoInput,
    /// ThinLTO backend: after renaming and promoting locals
    /// (`thin-lto-after-rename`).
    ThinLtoAfterRename,
    /// ThinLTO backend: after dead definitions are dropped and weak linkages
    /// resolved (`thin-lto-after-resolve`).
    ThinLtoAfterResolve,
    /// ThinLTO backend: after internalization
    /// (`thin-lto-after-internalize`).
    ThinLtoAfterInternalize,
    /// ThinLTO backend: after importing from other modules
    /// (`thin-lto-after-import`).
    ThinLtoAfterImport,
    /// ThinLTO backend: after the `thinlto<On>` pipeline
    /// (`thin-lto-after-pm`).
    ThinLtoAfterPm,
    /// Fat LTO: the linked module (`lto.input`).
    LtoInput,
    /// Fat LTO: after the restriction pass (`lto.after-restriction`).
    LtoAfterRestriction,
    /// Fat LTO: after the `lto<On>` pipeline (`lto.after-opt`).
    LtoAfterOpt,
    /// A module compiled without LTO, as parsed (`no-opt`).
    NoOpt,
    /// A module compiled without LTO, after the `default<On>` pipeline
    /// (`opt`).
    Opt,
}

crate::names::named_enum!(
    /// rustc's name of the stage: `thin-lto-after-import`, `lto.input`,
    /// `no-opt`, ...
    pub StageName {
        ThinLtoInput => "thin-lto-input",
        ThinLtoAfterRename => "thin-lto-after-rename",
        ThinLtoAfterResolve => "thin-lto-after-resolve",
        ThinLtoAfterInternalize => "thin-lto-after-internalize",
        ThinLtoAfterImport => "thin-lto-after-import",
        ThinLtoAfterPm => "thin-lto-after-pm",
        LtoInput => "lto.input",
        LtoAfterRestriction => "lto.after-restriction",
        LtoAfterOpt => "lto.after-opt",
        NoOpt => "no-opt",
        Opt => "opt",
    }
);

/// What kind of LTO a run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RunKind {
    /// Fat LTO: one merged module, one object per code generation partition.
    #[default]
    Fat,
    /// Thin LTO across every bitcode module.
    Thin,
    /// rustc's thin-local LTO: across the modules not from archives.
    ThinLocal,
    /// Every module compiled on its own (all `ModuleLto::No`).
    NoLto,
}

crate::names::named_enum!(
    /// The name in reports: `fat`, `thin`, `thin-local`, `no-lto`.
    pub RunKind {
        Fat => "fat",
        Thin => "thin",
        ThinLocal => "thin-local",
        NoLto => "no-lto",
    }
);

/// The report of one run. Its JSON form ([`Report::to_json`]) has the
/// run's details under `"thin"` or `"fat"` (the other is `null`), times in
/// seconds, and `"total_seconds"`.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// What kind of run it was.
    pub kind: RunKind,
    /// Every module, in link order.
    pub modules: Vec<ModuleReport>,
    /// The module the others were linked into (fat LTO).
    pub base_module: Option<String>,
    /// Symbols kept visible: exports plus what native inputs reference.
    pub preserved: Vec<String>,
    /// Definitions made internal, in name order: by the restriction pass
    /// (fat LTO), or by the thin link, all modules together (each module's
    /// own are in [`ThinModuleReport::internalized`]).
    pub internalized: Vec<String>,
    /// Size of the emitted output.
    pub output_bytes: usize,
    /// The most pieces of work the session had running at once, across
    /// every parallel path (loading thin modules, cache keys, backends,
    /// index files, fat partitions, modules compiled alone): at most the
    /// thread count, or the jobserver's tokens plus the implicit one.
    pub max_concurrent_jobs: usize,
    /// Wall time of each phase, in order.
    #[serde(serialize_with = "phase_times")]
    pub phases: Vec<(Step, Duration)>,
    /// ThinLTO details: filled in thin and thin-local runs, empty
    /// ([`ThinRunReport::default`]) in fat and no-LTO runs; [`Report::kind`]
    /// tells which.
    #[serde(skip)]
    pub thin: ThinRunReport,
    /// Modules that took no part in LTO, compiled alone.
    pub no_lto: Vec<NoLtoModuleReport>,
    /// What the run decided about each symbol
    /// [`Config::explain`](crate::Config::explain) names, and why.
    pub explanations: Vec<SymbolExplanation>,
    /// Fat LTO details: the code generation partitions; empty
    /// ([`FatRunReport::default`]) in thin and no-LTO runs.
    #[serde(skip)]
    pub fat: FatRunReport,
}

impl Report {
    /// Times `work` as phase `step`.
    pub(crate) fn time<T>(&mut self, step: Step, work: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let value = work();
        self.phases.push((step, start.elapsed()));
        value
    }

    /// The wall time of `step` (zero when the run had no such step).
    pub fn phase_time(&self, step: Step) -> Duration {
        self.phases
            .iter()
            .filter(|(phase, _)| *phase == step)
            .map(|(_, time)| *time)
            .sum()
    }

    /// Whether this was a thin or thin-local run, whose [`Report::thin`] is
    /// filled.
    pub(crate) fn is_thin(&self) -> bool {
        matches!(self.kind, RunKind::Thin | RunKind::ThinLocal)
    }

    /// Total wall time of all phases.
    pub fn total_time(&self) -> Duration {
        self.phases.iter().map(|(_, d)| *d).sum()
    }

    /// The report as JSON: its serde form, with the details of its kind of
    /// run and the total time.
    pub fn to_json(&self) -> serde_json::Value {
        fn value(data: &impl Serialize) -> serde_json::Value {
            // Plain data with string keys: nothing here can fail to write.
            serde_json::to_value(data)
                .unwrap_or_else(|e| serde_json::Value::String(format!("unwritable: {e}")))
        }
        let mut json = value(self);
        json["total_seconds"] = self.total_time().as_secs_f64().into();
        json["thin"] = if self.is_thin() {
            value(&self.thin)
        } else {
            serde_json::Value::Null
        };
        json["fat"] = if self.kind == RunKind::Fat {
            value(&self.fat)
        } else {
            serde_json::Value::Null
        };
        json
    }

    /// A few lines for a terminal.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "{} LTO: {} modules, {} symbols preserved, {} internalized, output {} bytes, {:.2}s\n",
            self.kind,
            self.modules.len(),
            self.preserved.len(),
            self.internalized.len(),
            self.output_bytes,
            self.total_time().as_secs_f64()
        );
        let phases: Vec<String> = self
            .phases
            .iter()
            .map(|(step, d)| format!("{step} {}", short_duration(*d)))
            .collect();
        out.push_str(&format!("  phases: {}\n", phases.join(", ")));
        if let Some(base) = &self.base_module {
            out.push_str(&format!("  base module: {base}\n"));
        }
        if self.is_thin() {
            out.push_str(&thin_summary(&self.thin));
        }
        if self.kind == RunKind::Fat && !self.fat.partitions.is_empty() {
            let times: Vec<String> = self
                .fat
                .partitions
                .iter()
                .map(|p| short_duration(p.codegen))
                .collect();
            out.push_str(&format!(
                "  codegen: {} partitions on {} threads ({})\n",
                self.fat.partitions.len(),
                self.fat.jobs,
                times.join(", ")
            ));
            let cached: Vec<&PartitionCache> = self
                .fat
                .partitions
                .iter()
                .filter_map(|p| p.cache.as_ref())
                .collect();
            if !cached.is_empty() {
                let hits = cached.iter().filter(|c| c.status == "hit").count();
                out.push_str(&format!(
                    "  cache: {hits} partitions reused, {} compiled\n",
                    cached.len() - hits
                ));
            }
            if self.fat.late_passes_on_partitions {
                let times: Vec<String> = self
                    .fat
                    .partitions
                    .iter()
                    .map(|p| short_duration(p.optimize))
                    .collect();
                out.push_str(&format!(
                    "  late passes on the partitions ({})\n",
                    times.join(", ")
                ));
            } else if let Some(reason) = &self.fat.late_passes_serial_because {
                out.push_str(&format!("  late passes on the whole module: {reason}\n"));
            }
        }
        out
    }
}

/// A duration for a terminal: seconds to the millisecond, and below ten
/// milliseconds in milliseconds, so that a short phase that ran does not
/// read as `0.000s`.
fn short_duration(duration: Duration) -> String {
    if duration >= Duration::from_millis(10) {
        format!("{:.3}s", duration.as_secs_f64())
    } else {
        format!("{:.2}ms", duration.as_secs_f64() * 1000.0)
    }
}

// The JSON forms of report fields.

fn seconds<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

fn optional_seconds<S: Serializer>(
    duration: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => seconds(duration, serializer),
        None => serializer.serialize_none(),
    }
}

/// A list of `{"<key>": step, "seconds": s}`.
fn timed_steps<S: Serializer>(
    key: &'static str,
    steps: &[(Step, Duration)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut list = serializer.serialize_seq(Some(steps.len()))?;
    for (step, time) in steps {
        let mut entry = serde_json::Map::new();
        entry.insert(key.to_string(), step.as_str().into());
        entry.insert("seconds".to_string(), time.as_secs_f64().into());
        list.serialize_element(&entry)?;
    }
    list.end()
}

fn step_times<S: Serializer>(steps: &[(Step, Duration)], serializer: S) -> Result<S::Ok, S::Error> {
    timed_steps("step", steps, serializer)
}

fn phase_times<S: Serializer>(
    phases: &[(Step, Duration)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    timed_steps("phase", phases, serializer)
}

fn late_passes<S: Serializer>(on_partitions: &bool, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(if *on_partitions {
        "partitions"
    } else {
        "serial"
    })
}

/// Each module with its `imported_definitions` total.
fn thin_modules<S: Serializer>(
    modules: &[ThinModuleReport],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut list = serializer.serialize_seq(Some(modules.len()))?;
    for module in modules {
        let mut value = serde_json::to_value(module).map_err(serde::ser::Error::custom)?;
        value["imported_definitions"] = module.imported_definitions().into();
        list.serialize_element(&value)?;
    }
    list.end()
}

fn thin_summary(thin: &ThinRunReport) -> String {
    let mut out = format!(
        "  thin link {:.3}s, backends {:.3}s on {} threads{}",
        thin.thin_link.as_secs_f64(),
        thin.backend_wall.as_secs_f64(),
        thin.jobs,
        if thin.jobserver {
            " (jobserver tokens)"
        } else {
            ""
        }
    );
    if let Some(cpu) = thin.cpu {
        out.push_str(&format!(", cpu {:.2}s", cpu.as_secs_f64()));
    }
    if let Some(rss) = thin.peak_rss_bytes {
        out.push_str(&format!(
            ", peak RSS {:.1} MiB",
            rss as f64 / (1024.0 * 1024.0)
        ));
    }
    out.push('\n');
    out.push_str(&format!(
        "  serial before the first backend {:.3}s, idle backend threads {:.3}s\n",
        thin.serial_before_backends.as_secs_f64(),
        thin.idle_core_time.as_secs_f64()
    ));
    let imported: usize = thin.modules.iter().map(|m| m.imported_definitions()).sum();
    let importing = thin
        .modules
        .iter()
        .filter(|m| !m.imports.is_empty())
        .count();
    out.push_str(&format!(
        "  {imported} definitions imported into {importing} of {} modules\n",
        thin.modules.len()
    ));
    if let Some(cache) = &thin.cache {
        out.push_str(&cache_summary(cache, &thin.modules));
    }
    let summarized = thin.modules.iter().filter(|m| m.summary_added).count();
    if summarized > 0 {
        out.push_str(&format!(
            "  {summarized} modules had no summary; one was computed on load\n"
        ));
    }
    let empty = thin
        .modules
        .iter()
        .filter(|m| m.definitions > 0 && m.live_definitions == 0)
        .count();
    if empty > 0 {
        out.push_str(&format!(
            "  {empty} modules have no live definition (their objects hold no code)\n"
        ));
    }
    out
}

/// `cache: 36 hits, 2 misses in DIR` and one line per miss reason.
fn cache_summary(cache: &CacheRunReport, modules: &[ThinModuleReport]) -> String {
    let finer = if cache.hits_by_finer_key > 0 {
        format!(
            " ({} by the finer key; LLVM's rule would compile {})",
            cache.hits_by_finer_key, cache.llvm_rule_misses
        )
    } else {
        String::new()
    };
    let mut out = format!(
        "  cache: {} hits, {} misses in {}{}{finer}\n",
        cache.hits,
        cache.misses,
        cache.dir,
        if cache.pruned { " (pruned)" } else { "" }
    );
    // Misses grouped by reason, a few names each.
    let mut by_reason: std::collections::BTreeMap<String, Vec<&str>> = Default::default();
    for module in modules {
        if let CacheStatus::Miss(reason) = &module.cache {
            by_reason
                .entry(reason.to_string())
                .or_default()
                .push(&module.name);
        }
    }
    for (reason, names) in by_reason {
        let shown: Vec<&str> = names.iter().take(3).copied().collect();
        let more = names.len().saturating_sub(shown.len());
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        out.push_str(&format!("    {reason}: {}{more}\n", shown.join(", ")));
    }
    for warning in &cache.warnings {
        out.push_str(&format!("    warning: {warning}\n"));
    }
    out
}

/// CPU time (user + system) of this process so far, from `/proc/self/stat`
/// (Linux; clock ticks are USER_HZ, fixed at 100 by the Linux ABI).
pub(crate) fn process_cpu_time() -> Option<Duration> {
    cpu_time_from_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

/// utime + stime of a `/proc/<pid>/stat` line; `None` for anything else.
fn cpu_time_from_stat(stat: &str) -> Option<Duration> {
    // Fields after the command name, which is in parentheses and may hold
    // spaces (and parentheses): the last ')' ends it.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line (1-based),
    // i.e. 11 and 12 after the state field at index 0 here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis(
        utime.checked_add(stime)?.checked_mul(10)?,
    ))
}

/// Peak resident memory of this process so far (`VmHWM`, Linux).
pub(crate) fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_print_the_names_reports_always_printed() {
        let names = [
            (Step::Parse, "parse"),
            (Step::Link, "link"),
            (Step::Restrict, "restrict"),
            (Step::Optimize, "optimize"),
            (Step::Codegen, "codegen"),
            (Step::ThinLink, "thin link"),
            (Step::CacheKeys, "cache keys"),
            (Step::CacheLookup, "cache lookup"),
            (Step::Backends, "backends"),
            (Step::IndexFiles, "index files"),
            (Step::Verify, "verify"),
            (Step::CacheUpdate, "cache update"),
            (Step::Rename, "rename"),
            (Step::Resolve, "resolve"),
            (Step::Internalize, "internalize"),
            (Step::Import, "import"),
            (Step::CacheRead, "cache read"),
            (Step::CacheReadEarly, "cache read (early)"),
            (Step::ReadIndex, "read index"),
            (Step::ReadImports, "read imports"),
        ];
        for (step, name) in names {
            assert_eq!(step.as_str(), name);
            assert_eq!(step.to_string(), name);
        }
    }

    #[test]
    fn thin_details_are_printed_for_thin_runs_only() {
        let second = Duration::from_secs(1);
        let mut report = Report {
            phases: vec![(Step::ThinLink, second), (Step::Backends, second)],
            no_lto: vec![NoLtoModuleReport {
                name: "meta".to_string(),
                steps: vec![(Step::Parse, second)],
            }],
            ..Report::default()
        };
        report.thin.jobs = 2;
        report.thin.thin_link = second;
        report.thin.backend_wall = second;
        report.thin.modules.push(ThinModuleReport {
            name: "cgu.0".to_string(),
            object: "cgu.0.lto.o".to_string(),
            object_bytes: 0,
            summary_added: false,
            definitions: 0,
            live_definitions: 0,
            exports: 0,
            internalized: Vec::new(),
            promoted: Vec::new(),
            dropped: Vec::new(),
            imports: Vec::new(),
            steps: vec![(Step::CacheReadEarly, second)],
            cache_key: String::new(),
            cache: CacheStatus::Hit,
        });
        let json = report.to_json();
        assert_eq!(json["phases"][0]["phase"], "thin link");
        assert_eq!(json["phases"][1]["phase"], "backends");
        assert_eq!(json["no_lto"][0]["steps"][0]["step"], "parse");
        for (kind, thin) in [
            (RunKind::Fat, false),
            (RunKind::NoLto, false),
            (RunKind::Thin, true),
            (RunKind::ThinLocal, true),
        ] {
            report.kind = kind;
            let json = report.to_json();
            let summary = report.summary();
            assert!(summary.contains("phases: thin link 1.000s, backends 1.000s"));
            if thin {
                assert_eq!(
                    json["thin"]["modules"][0]["steps"][0]["step"],
                    "cache read (early)"
                );
                assert!(
                    summary.contains("  thin link 1.000s, backends 1.000s on 2 threads"),
                    "{summary}"
                );
            } else {
                assert!(json["thin"].is_null(), "{kind}");
                assert!(!summary.contains("threads"), "{summary}");
            }
            assert!(summary.contains(", 0 internalized"), "{summary}");
        }
    }

    /// A report with every field set, of `kind`.
    fn full_report(kind: RunKind) -> Report {
        let ms = Duration::from_millis;
        let mut report = Report {
            kind,
            modules: vec![ModuleReport {
                name: "a.bc".to_string(),
                origin: "file".to_string(),
                bitcode_bytes: 1200,
                instructions: 34,
            }],
            base_module: Some("a.bc".to_string()),
            preserved: vec!["main".to_string()],
            internalized: vec!["helper".to_string()],
            output_bytes: 4096,
            max_concurrent_jobs: 2,
            phases: vec![(Step::ThinLink, ms(250)), (Step::Backends, ms(1500))],
            no_lto: vec![NoLtoModuleReport {
                name: "meta".to_string(),
                steps: vec![(Step::Parse, ms(5))],
            }],
            ..Report::default()
        };
        report.thin = ThinRunReport {
            jobs: 2,
            jobserver: true,
            max_concurrent_backends: 2,
            thin_link: ms(250),
            backend_wall: ms(1500),
            cpu: Some(ms(2750)),
            peak_rss_bytes: Some(1 << 20),
            serial_before_backends: ms(300),
            idle_core_time: ms(125),
            modules: [
                CacheStatus::Hit,
                CacheStatus::Disabled,
                CacheStatus::HitByFinerKey(vec!["b.bc".to_string()]),
            ]
            .into_iter()
            .chain(
                [
                    MissReason::NewModule,
                    MissReason::ImportsChanged(vec!["b.bc".to_string()]),
                    MissReason::EntryCorrupt("bad length".to_string()),
                ]
                .map(CacheStatus::Miss),
            )
            .map(|cache| ThinModuleReport {
                name: "a.bc".to_string(),
                object: "a.bc.lto.o".to_string(),
                object_bytes: 800,
                summary_added: true,
                definitions: 5,
                live_definitions: 4,
                exports: 1,
                internalized: vec!["helper".to_string()],
                promoted: vec![PromotedSymbol {
                    name: "local".to_string(),
                    promoted_name: "local.llvm.1234".to_string(),
                }],
                dropped: vec!["dead".to_string()],
                imports: vec![ImportSource {
                    module: "b.bc".to_string(),
                    definitions: vec!["f".to_string(), "g".to_string()],
                    declarations: 3,
                }],
                steps: vec![(Step::Optimize, ms(750)), (Step::Codegen, ms(500))],
                cache_key: "0123abcd".to_string(),
                cache,
            })
            .collect(),
            cache: Some(CacheRunReport {
                dir: "cache".to_string(),
                hits: 2,
                misses: 3,
                hits_by_finer_key: 1,
                llvm_rule_misses: 4,
                pruned: true,
                warnings: vec!["full".to_string()],
            }),
        };
        report.fat = FatRunReport {
            partitions: vec![PartitionReport {
                instructions: 60,
                object_bytes: 700,
                cache: Some(PartitionCache::miss(
                    "0123abcd".to_string(),
                    "its code changed".to_string(),
                )),
                optimize: ms(125),
                codegen: ms(250),
            }],
            jobs: 2,
            promoted_locals: 1,
            shared_internalized: 2,
            relocalized: 3,
            late_passes_on_partitions: kind == RunKind::Fat,
            late_passes_serial_because: Some("because".to_string()),
            internalized_from: [("helper".to_string(), "b.bc".to_string())].into(),
        };
        report.explanations = vec![SymbolExplanation {
            query: "target".to_string(),
            symbol: "target".to_string(),
            demangled: None,
            copies: vec![SymbolCopy {
                module: "b.bc".to_string(),
                defined: true,
                kind: Some(SymbolKind::Function),
                linkage: Some(Linkage::External),
                visibility: Visibility::Default,
                comdat: None,
                instructions: Some(121),
                native: false,
            }],
            prevailing: Some(PrevailingCopy {
                module: "b.bc".to_string(),
                reason: PrevailingReason::OnlyDefinition,
            }),
            outcome: LinkOutcome::Kept,
            kept_because: vec![KeptReason::UsedByAnotherModule],
            final_name: None,
            live: Some(true),
            live_chain: vec!["main".to_string(), "target".to_string()],
            live_root: Some(LiveRoot::Preserved),
            imports: vec![ImportDecision {
                module: "a.bc".to_string(),
                outcome: ImportOutcome::Rejected {
                    reason: ImportRejection::TooLarge,
                    threshold: 100,
                    size: Some(121),
                },
            }],
            inlining: vec![InlineSite {
                module: "a.bc".to_string(),
                caller: "main".to_string(),
                inlined: false,
                remark: "NoDefinition".to_string(),
                cost: None,
                threshold: None,
                reason: None,
            }],
            inlining_complete: true,
            out_of_line: vec![OutOfLineCopy {
                module: "b.bc".to_string(),
                symbol: "target".to_string(),
                size: 363,
                local: false,
            }],
            partition: None,
            fat_lto: kind == RunKind::Fat,
            similar: Vec::new(),
        }];
        report
    }

    /// The JSON report's shape is what users' scripts read: it stays the
    /// one in `tests/data/report/` (written by the hand-made JSON this
    /// replaced), for every kind of run.
    #[test]
    fn the_json_report_keeps_its_shape() {
        for kind in [
            RunKind::Fat,
            RunKind::Thin,
            RunKind::ThinLocal,
            RunKind::NoLto,
        ] {
            let path = format!(
                "{}/tests/data/report/{}.json",
                env!("CARGO_MANIFEST_DIR"),
                kind.as_str()
            );
            let json = full_report(kind).to_json();
            if std::env::var_os("LTO_ENGINE_BLESS").is_some() {
                std::fs::write(&path, serde_json::to_string_pretty(&json).unwrap()).unwrap();
            }
            let expected: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!(json, expected, "{path}");
        }
        // Control: a field changed is seen.
        let mut other = full_report(RunKind::Fat);
        other.fat.late_passes_on_partitions = false;
        let path = format!("{}/tests/data/report/fat.json", env!("CARGO_MANIFEST_DIR"));
        let expected: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_ne!(other.to_json(), expected);
    }

    /// A phase of under a millisecond that ran reads as such, not as
    /// `0.000s`; long ones stay in seconds.
    #[test]
    fn short_phases_print_in_milliseconds() {
        assert_eq!(short_duration(Duration::from_micros(380)), "0.38ms");
        assert_eq!(short_duration(Duration::ZERO), "0.00ms");
        assert_eq!(short_duration(Duration::from_millis(9)), "9.00ms");
        assert_eq!(short_duration(Duration::from_millis(10)), "0.010s");
        assert_eq!(short_duration(Duration::from_secs(1)), "1.000s");
    }

    #[test]
    fn cpu_time_is_read_from_stat_lines_and_odd_lines_give_none() {
        let line = "4242 (my (odd) cmd) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0";
        assert_eq!(cpu_time_from_stat(line), Some(Duration::from_millis(3000)));
        for odd in [
            "",
            ")",
            "1 (x)",
            "1 (x) S",
            "1 (x) S 1 2 3 4 5 6 7 8 9 10 a b",
            "1 (é)",
        ] {
            assert_eq!(cpu_time_from_stat(odd), None, "{odd:?}");
        }
        let huge = format!("1 (x) S 1 2 3 4 5 6 7 8 9 10 {} 1", u64::MAX);
        assert_eq!(cpu_time_from_stat(&huge), None);
        assert!(process_cpu_time().is_some(), "this process on Linux");
    }
}
