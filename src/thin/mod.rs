//! ThinLTO: the thin link ([`ThinData`], `index.rs`), the per-module
//! backends (`backend.rs`), run in parallel, the incremental cache
//! (`cache.rs`), and distributed ThinLTO (`distributed.rs`): index files,
//! distributor jobs and the single-module backend.

mod backend;
mod cache;
mod distributed;
mod index;

pub use crate::llvm::ModuleStats;
pub use backend::{BackendOutput, DoneHook, ProgressHook};
pub(crate) use cache::{module_hash_hex, Cache, Lookup};
pub use cache::{CacheStatus, MissReason, ModuleKey};
pub use distributed::{
    backend_from_index, distributor_json, run_distributor, DistributedModule, IndexOptions,
    IndexedBackendOutput, JobStyle, PrefixReplace, RemoteCompiler, SuffixReplace,
};
pub(crate) use index::{assign_file_stems, file_stem, prepare};
pub use index::{ImportSource, ThinData, ThinModule};

use crate::config::Config;
use crate::error::{Error, Phase, Result};
use crate::llvm::Diagnostic;
use crate::output::OutputObject;
use crate::report::{CacheRunReport, ModuleReport, Report, ThinModuleReport, ThinRunReport};
use cache::KeyConfig;
use rayon::prelude::*;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a thin run produced: one object per module, in module order, the
/// report, and LLVM's warnings and remarks.
pub(crate) type ThinRun = (Vec<OutputObject>, Report, Vec<Diagnostic>);

/// Cache entries read before the thin link, by module name: the key they
/// were stored under (the module's key in its last run) and the object. A
/// streaming session reads them for modules whose content is unchanged
/// while other modules are still being submitted.
pub(crate) type Prefetched = HashMap<String, (String, Vec<u8>)>;

/// Runs thin LTO over the modules `load` gives (loaded with summaries, see
/// [`ThinData::load`]): the thin link, the cache keys, then every backend
/// whose object is not in the cache, under `config.jobs`. An entry in
/// `prefetched` whose key is the module's key now is a hit without a read.
pub(crate) fn run(
    config: &Config,
    load: impl FnOnce() -> Result<Vec<ThinModule>>,
    preserved: &BTreeSet<String>,
    kind: &str,
    progress: Option<ProgressHook<'_>>,
    mut prefetched: Prefetched,
) -> Result<ThinRun> {
    let mut report = Report {
        kind: kind.to_string(),
        preserved: preserved.iter().cloned().collect(),
        ..Report::default()
    };
    let cpu_before = crate::report::process_cpu_time();
    // A bad policy or an unusable cache directory fails before any work.
    let cache = config.cache.as_ref().map(Cache::open).transpose()?;
    let data = Arc::new(report.time("thin link", || ThinData::link(load()?, preserved, config))?);
    let thin_link = report.phases.last().map(|p| p.1).unwrap_or_default();
    let total = data.modules().len();

    let key_config = KeyConfig::new(config);
    // Keys only read the index: computed in parallel (SHA-1 over every
    // module's summaries adds up on large graphs).
    let keys = report.time("cache keys", || {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(config.jobs.count())
            .build()
            .map_err(|e| Error::Config(format!("cannot start threads for cache keys: {e}")))?;
        pool.install(|| {
            (0..total)
                .into_par_iter()
                .map(|i| data.cache_key(i, &key_config))
                .collect::<Result<Vec<_>>>()
        })
    })?;
    let mut statuses = vec![CacheStatus::Disabled; total];
    let mut cached: Vec<Option<(Vec<u8>, Duration)>> = (0..total).map(|_| None).collect();
    // Hits whose entry was read before the thin link.
    let mut early = vec![false; total];
    // Modules whose record (last key, for miss reasons) is not this key. A
    // --save-temps run uses and stores no entry, so it records nothing.
    let mut to_record = Vec::new();
    if let Some(cache) = &cache {
        report.time("cache lookup", || {
            for (i, key) in keys.iter().enumerate() {
                if config.save_temps.is_some() {
                    statuses[i] = CacheStatus::Miss(MissReason::SaveTemps);
                    continue;
                }
                let previous = cache.previous_key(&data.modules()[i].name);
                if previous.as_ref().map(|p| &p.key) != Some(&key.key) {
                    to_record.push(i);
                }
                let start = Instant::now();
                let name = &data.modules()[i].name;
                if let Some((_, bytes)) = prefetched.remove(name).filter(|(k, _)| *k == key.key) {
                    statuses[i] = CacheStatus::Hit;
                    cached[i] = Some((bytes, start.elapsed()));
                    early[i] = true;
                    continue;
                }
                match cache.lookup(&key.key) {
                    Lookup::Hit(bytes) => {
                        statuses[i] = CacheStatus::Hit;
                        cached[i] = Some((bytes, start.elapsed()));
                    }
                    other => {
                        statuses[i] = CacheStatus::Miss(key.miss_reason(previous.as_ref(), other));
                    }
                }
            }
        });
    }

    let todo: Vec<usize> = (0..total).filter(|&i| cached[i].is_none()).collect();
    let warnings = Mutex::new(Vec::new());
    let store = |i: usize, output: &BackendOutput| {
        let Some(cache) = cache.as_ref().filter(|_| config.save_temps.is_none()) else {
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
    let parallelism = config.jobs.resolve();
    let start = Instant::now();
    let (mut outputs, parallel_run) =
        backend::run_all(&data, config, &parallelism, &todo, progress, &store)?;
    let backend_wall = start.elapsed();
    report.phases.push(("backends".to_string(), backend_wall));
    let mut warnings = warnings.into_inner().unwrap_or_else(|e| e.into_inner());

    let cache_report = match &cache {
        Some(cache) => Some(report.time("cache update", || {
            finish_cache(cache, &data, &keys, &to_record, &statuses, &mut warnings)
        })?),
        None => None,
    };

    let mut objects = Vec::with_capacity(total);
    let mut thin_modules = Vec::with_capacity(total);
    let mut diagnostics = Vec::new();
    for (i, module) in data.modules().iter().enumerate() {
        let (bytes, steps, reused) = match (cached[i].take(), outputs[i].take()) {
            (Some((bytes, read)), _) => {
                let step = if early[i] {
                    "cache read (early)"
                } else {
                    "cache read"
                };
                (bytes, vec![(step.to_string(), read)], true)
            }
            (None, Some(output)) => {
                diagnostics.extend(output.diagnostics);
                (output.bytes, output.steps, false)
            }
            (None, None) => {
                return Err(Error::Llvm {
                    input: module.name.clone(),
                    phase: Phase::Codegen,
                    reason: "its backend produced no output".to_string(),
                })
            }
        };
        // `i` indexes data.modules(), so both are there.
        let stats = data.stats(i).unwrap_or_default();
        let imports = data.imports(i).unwrap_or_default();
        // Sorted by module name, as ThinData::imports groups them.
        let import_modules: Vec<String> = imports.iter().map(|s| s.module.clone()).collect();
        let file_name = object_file_name(module, config);
        report.modules.push(ModuleReport {
            name: module.name.clone(),
            origin: module.origin.to_string(),
            bitcode_bytes: module.input_bytes,
            instructions: 0,
        });
        thin_modules.push(ThinModuleReport {
            name: module.name.clone(),
            object: file_name.clone(),
            object_bytes: bytes.len(),
            summary_added: module.summary_added,
            definitions: stats.definitions,
            live_definitions: stats.live,
            exports: stats.exports,
            imports,
            steps,
            cache_key: keys[i].key.clone(),
            cache: statuses[i].clone(),
        });
        report.output_bytes += bytes.len();
        objects.push(OutputObject {
            name: module.name.clone(),
            file_name,
            imports: import_modules,
            bytes,
            cache_key: Some(keys[i].key.clone()),
            reused_from_cache: reused,
            // The session sets ThinLocal for thin-local runs.
            lto: crate::ModuleLto::Thin,
        });
    }
    report.thin = Some(ThinRunReport {
        jobs: parallel_run.workers,
        jobserver: matches!(parallelism, crate::config::Parallelism::Tokens(_)),
        max_concurrent_backends: parallel_run.max_concurrent,
        thin_link,
        backend_wall,
        cpu: crate::report::process_cpu_time()
            .zip(cpu_before)
            .map(|(after, before)| after.saturating_sub(before)),
        peak_rss_bytes: crate::report::peak_rss_bytes(),
        modules: thin_modules,
        cache: cache_report.map(|mut c| {
            c.warnings = warnings;
            c
        }),
    });
    Ok((objects, report, diagnostics))
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
