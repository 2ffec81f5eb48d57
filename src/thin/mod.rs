//! ThinLTO: the thin link ([`ThinData`], `index.rs`), the per-module
//! backends (`backend.rs`), run in parallel, the incremental cache
//! (`cache.rs`), and distributed ThinLTO (`distributed.rs`): index files,
//! distributor jobs and the single-module backend.

mod backend;
mod cache;
mod distributed;
mod index;

pub(crate) use backend::{BackendOutput, Executor, ProgressHook};
pub(crate) use cache::{module_hash_hex, Cache, Lookup, ModuleKey};
pub(crate) use distributed::{backend_for, HostNames};
pub use distributed::{
    distributor_json, run_distributor, DistributedModule, IndexOptions, IndexedBackendOutput,
    JobStyle, PrefixReplace, RemoteCompiler, SuffixReplace,
};
pub(crate) use index::{assign_file_stems, file_stem, prepare};
pub(crate) use index::{ThinData, ThinModule};

use crate::config::Config;
use crate::error::{Error, Phase, Result};
use crate::jobs::JobSlots;
use crate::llvm::Diagnostic;
use crate::output::OutputObject;
use crate::report::{
    CacheRunReport, CacheStatus, MissReason, ModuleReport, Report, RunKind, Step, ThinModuleReport,
    ThinRunReport,
};
use cache::KeyConfig;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a thin run produced: one object per module, in module order, the
/// report, and LLVM's warnings and remarks.
pub(crate) struct ThinRun {
    /// One object per module, in module order.
    pub objects: Vec<OutputObject>,
    /// What the run did.
    pub report: Report,
    /// LLVM's warnings and remarks.
    pub diagnostics: Vec<Diagnostic>,
}

/// Cache entries read before the thin link, by module name: the key they
/// were stored under (the module's key in its last run) and the object. A
/// streaming session reads them for modules whose content is unchanged
/// while other modules are still being submitted.
pub(crate) type Prefetched = HashMap<String, (String, Vec<u8>)>;

/// What a thin run works with besides its configuration and its modules.
pub(crate) struct ThinRunSetup<'a> {
    /// The names that stay visible.
    pub preserved: &'a BTreeSet<String>,
    /// Thin, or rustc's thin-local.
    pub kind: RunKind,
    /// Called as each backend finishes.
    pub progress: Option<ProgressHook<'a>>,
    /// Cache entries read early, by module name.
    pub prefetched: Prefetched,
    /// Where the backends run (worker processes); in this process when
    /// `None`.
    pub executor: Option<Executor<'a>>,
    /// The session's parallel work.
    pub slots: &'a JobSlots,
}

/// Runs thin LTO over the modules `load` gives (loaded with summaries, see
/// [`prepare`]), in the phases LLVM's `LTO::runThinLTO` and lld's
/// cache name: the thin link, the cache keys, the cache lookup, the
/// backends (each object stored as it is done), the cache update, then the
/// results and the report. An entry in `prefetched` whose key is the
/// module's key now is a hit without a read.
pub(crate) fn run(
    config: &Config,
    load: impl FnOnce() -> Result<Vec<ThinModule>>,
    run: ThinRunSetup<'_>,
) -> Result<ThinRun> {
    let ThinRunSetup {
        preserved,
        kind,
        progress,
        mut prefetched,
        executor,
        slots,
    } = run;
    let mut report = Report {
        kind,
        ..Report::default()
    };
    let started = Instant::now();
    let cpu_before = crate::report::process_cpu_time();
    // A bad policy or an unusable cache directory fails before any work.
    let cache = config.cache.as_ref().map(Cache::open).transpose()?;
    let data = Arc::new(report.time(Step::ThinLink, || {
        ThinData::link(load()?, preserved, config)
    })?);
    report.preserved = data.preserved().iter().cloned().collect();
    report.internalized = data.internalized();
    let thin_link = report.phases.last().map(|p| p.1).unwrap_or_default();
    let keys = report.time(Step::CacheKeys, || cache_keys(&data, config, slots))?;
    let mut lookup = CacheLookup::empty(keys.len());
    if let Some(cache) = &cache {
        lookup = report.time(Step::CacheLookup, || {
            look_up(cache, &data, &keys, config, &mut prefetched)
        });
    }
    let backends = run_backends(
        &data,
        config,
        &keys,
        &lookup,
        cache.as_ref(),
        BackendPlace {
            progress,
            executor,
            slots,
        },
    )?;
    report.phases.push((Step::Backends, backends.wall));
    let mut warnings = backends.warnings;
    let cache_report = match &cache {
        Some(cache) => Some(report.time(Step::CacheUpdate, || {
            finish_cache(
                cache,
                &data,
                &keys,
                &lookup.to_record,
                &lookup.statuses,
                &mut warnings,
            )
        })?),
        None => None,
    };
    let results = collect_results(&data, config, &keys, lookup, backends.outputs, &mut report)?;
    report.thin = ThinRunReport {
        jobs: backends.run.workers,
        jobserver: matches!(config.jobs, crate::config::Jobs::Jobserver(_)),
        max_concurrent_backends: backends.run.max_concurrent,
        thin_link,
        backend_wall: backends.wall,
        cpu: crate::report::process_cpu_time()
            .zip(cpu_before)
            .map(|(after, before)| after.saturating_sub(before)),
        peak_rss_bytes: crate::report::peak_rss_bytes(),
        // The caller adds what happened before this run (a session's
        // loading while inputs were added).
        serial_before_backends: backends
            .run
            .first_start
            .map_or_else(|| started.elapsed(), |first| first.duration_since(started)),
        idle_core_time: backends.run.idle(backends.wall),
        modules: results.modules,
        cache: cache_report.map(|mut c| {
            c.warnings = warnings;
            c
        }),
    };
    Ok(ThinRun {
        objects: results.objects,
        report,
        diagnostics: results.diagnostics,
    })
}

/// Every module's cache key. Keys only read the index, so they are computed
/// in parallel (SHA-1 over every module's summaries adds up on large
/// graphs).
fn cache_keys(data: &ThinData, config: &Config, slots: &JobSlots) -> Result<Vec<ModuleKey>> {
    let key_config = KeyConfig::new(config);
    slots.map(data.modules().len(), "lto-engine-keys", |i| {
        data.cache_key(i, &key_config)
    })
}

/// What the cache lookup found, per module.
struct CacheLookup {
    statuses: Vec<CacheStatus>,
    /// The object and the time its read took, for hits.
    cached: Vec<Option<(Vec<u8>, Duration)>>,
    /// Hits whose entry was read before the thin link.
    early: Vec<bool>,
    /// Modules whose record (last key, for miss reasons) is not this key.
    to_record: Vec<usize>,
}

impl CacheLookup {
    /// No cache: every module is compiled.
    fn empty(total: usize) -> Self {
        CacheLookup {
            statuses: vec![CacheStatus::Disabled; total],
            cached: (0..total).map(|_| None).collect(),
            early: vec![false; total],
            to_record: Vec::new(),
        }
    }
}

/// Looks every module's key up. A --save-temps run uses and stores no
/// entry, so it records nothing.
fn look_up(
    cache: &Cache,
    data: &ThinData,
    keys: &[ModuleKey],
    config: &Config,
    prefetched: &mut Prefetched,
) -> CacheLookup {
    let mut lookup = CacheLookup::empty(keys.len());
    for (i, key) in keys.iter().enumerate() {
        if config.save_temps.is_some() {
            lookup.statuses[i] = CacheStatus::Miss(MissReason::SaveTemps);
            continue;
        }
        let name = &data.modules()[i].name;
        let previous = cache.previous_key(name);
        if previous.as_ref().map(|p| &p.key) != Some(&key.key) {
            lookup.to_record.push(i);
        }
        let start = Instant::now();
        if let Some((_, bytes)) = prefetched.remove(name).filter(|(k, _)| *k == key.key) {
            // Read ahead without marking it used: it is used now.
            cache.touch(&key.key);
            lookup.statuses[i] = CacheStatus::Hit;
            lookup.cached[i] = Some((bytes, start.elapsed()));
            lookup.early[i] = true;
            continue;
        }
        match cache.lookup(&key.key) {
            Lookup::Hit(bytes) => {
                lookup.statuses[i] = CacheStatus::Hit;
                lookup.cached[i] = Some((bytes, start.elapsed()));
            }
            other => {
                lookup.statuses[i] = CacheStatus::Miss(key.miss_reason(previous.as_ref(), other));
            }
        }
    }
    lookup
}

/// What the backends produced.
struct Backends {
    /// One slot per module, filled for those compiled.
    outputs: Vec<Option<BackendOutput>>,
    run: crate::jobs::ParallelRun,
    wall: Duration,
    /// Cache entries that could not be stored.
    warnings: Vec<String>,
}

/// Where the backends run, and who hears of each as it finishes.
#[derive(Clone, Copy)]
struct BackendPlace<'a> {
    progress: Option<ProgressHook<'a>>,
    executor: Option<Executor<'a>>,
    slots: &'a JobSlots,
}

/// Compiles every module the cache did not have, storing each object in the
/// cache as its backend finishes.
fn run_backends(
    data: &Arc<ThinData>,
    config: &Config,
    keys: &[ModuleKey],
    lookup: &CacheLookup,
    cache: Option<&Cache>,
    place: BackendPlace<'_>,
) -> Result<Backends> {
    let todo: Vec<usize> = (0..keys.len())
        .filter(|&i| lookup.cached[i].is_none())
        .collect();
    let warnings = Mutex::new(Vec::new());
    let store = |i: usize, output: &BackendOutput| {
        let Some(cache) = cache.filter(|_| config.save_temps.is_none()) else {
            return;
        };
        if let Err(e) = cache.store(&keys[i].key, &output.bytes) {
            let message = format!(
                "{}: cannot store its cache entry: {e}",
                data.modules()[i].name
            );
            warnings
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(message);
        }
    };
    let start = Instant::now();
    let (outputs, run) = backend::run_all(
        data,
        config,
        place.slots,
        &todo,
        place.progress,
        &store,
        place.executor,
    )?;
    Ok(Backends {
        outputs,
        run,
        wall: start.elapsed(),
        warnings: warnings.into_inner().unwrap_or_else(|e| e.into_inner()),
    })
}

/// The objects in module order and their reports.
struct Results {
    objects: Vec<OutputObject>,
    modules: Vec<ThinModuleReport>,
    diagnostics: Vec<Diagnostic>,
}

/// Puts each module's object (from the cache or its backend) in module
/// order, with what the thin link decided about it.
fn collect_results(
    data: &ThinData,
    config: &Config,
    keys: &[ModuleKey],
    mut lookup: CacheLookup,
    mut outputs: Vec<Option<BackendOutput>>,
    report: &mut Report,
) -> Result<Results> {
    let total = data.modules().len();
    let mut results = Results {
        objects: Vec::with_capacity(total),
        modules: Vec::with_capacity(total),
        diagnostics: Vec::new(),
    };
    for (i, module) in data.modules().iter().enumerate() {
        let (bytes, steps, reused) = match (lookup.cached[i].take(), outputs[i].take()) {
            (Some((bytes, read)), _) => {
                let step = if lookup.early[i] {
                    Step::CacheReadEarly
                } else {
                    Step::CacheRead
                };
                (bytes, vec![(step, read)], true)
            }
            (None, Some(output)) => {
                results.diagnostics.extend(output.diagnostics);
                (output.bytes, output.steps, false)
            }
            (None, None) => {
                return Err(Error::llvm(
                    module.name.clone(),
                    Phase::Codegen,
                    "its backend produced no output".to_string(),
                ))
            }
        };
        // `i` indexes data.modules(), so both are there.
        let stats = data.stats(i).unwrap_or_default();
        let decided = data.decisions(i).cloned().unwrap_or_default();
        let imports = data.imports(i).unwrap_or_default();
        // Sorted by module name, as ThinData::imports groups them.
        let import_modules: Vec<String> = imports.iter().map(|s| s.module.clone()).collect();
        let file_name = object_file_name(module, config);
        report.modules.push(ModuleReport {
            name: module.name.clone(),
            origin: module.origin.to_string(),
            bitcode_bytes: module.input_bytes,
            instructions: stats.instructions,
        });
        results.modules.push(ThinModuleReport {
            name: module.name.clone(),
            object: file_name.clone(),
            object_bytes: bytes.len(),
            summary_added: module.summary_added,
            definitions: stats.definitions,
            live_definitions: stats.live,
            exports: stats.exports,
            internalized: decided.internalized,
            promoted: decided.promoted,
            dropped: decided.dropped,
            imports,
            steps,
            cache_key: keys[i].key.clone(),
            cache: lookup.statuses[i].clone(),
        });
        report.output_bytes += bytes.len();
        results.objects.push(OutputObject {
            name: module.name.clone(),
            file_name,
            imports: import_modules,
            bytes,
            cache_key: Some(keys[i].key.clone()),
            reused_from_cache: reused,
            // The session sets ThinLocal for thin-local runs.
            lto: crate::config::ModuleLto::Thin,
        });
    }
    Ok(results)
}

/// After the backends: records the new keys of `to_record` (for the next
/// run's miss reasons) and prunes by the policy.
fn finish_cache(
    cache: &Cache,
    data: &ThinData,
    keys: &[ModuleKey],
    to_record: &[usize],
    statuses: &[CacheStatus],
    warnings: &mut Vec<String>,
) -> Result<CacheRunReport> {
    for &i in to_record {
        let name = &data.modules()[i].name;
        if let Err(e) = cache.remember(name, &keys[i]) {
            warnings.push(format!("{name}: cannot record its key: {e}"));
        }
    }
    let pruned = cache.prune()?;
    let hits = statuses.iter().filter(|s| **s == CacheStatus::Hit).count();
    Ok(CacheRunReport {
        dir: cache.dir().display().to_string(),
        hits,
        misses: statuses.len() - hits,
        pruned,
        warnings: Vec::new(),
    })
}

/// `<stem>.lto.o` (or `.s` / `.bc` for the other emit kinds).
fn object_file_name(module: &ThinModule, config: &Config) -> String {
    format!("{}.lto.{}", module.file_stem, config.emit.extension())
}
