//! ThinLTO: the thin link ([`ThinData`], `index.rs`), the per-module
//! backends (`backend.rs`), run in parallel, the incremental cache
//! (`cache.rs`), and distributed ThinLTO (`distributed.rs`): index files,
//! distributor jobs and the single-module backend.

mod backend;
mod cache;
mod distributed;
mod finer;
mod index;

pub(crate) use backend::{keeps_inlining, BackendOutput, Executor, ProgressHook};
pub(crate) use cache::{from_hex, hex, module_hash_hex, Cache, KeyConfig, Lookup, ModuleKey};
pub(crate) use distributed::{backend_for, HostNames};
pub use distributed::{
    distributor_json, run_distributor, DistributedModule, IndexOptions, IndexedBackendOutput,
    JobStyle, PrefixReplace, RemoteCompiler, SuffixReplace,
};
pub(crate) use index::{assign_file_stems, file_stem, prepare};
pub(crate) use index::{LinkFacts, ThinData, ThinModule};

use crate::config::Config;
use crate::error::{Error, Phase, Result};
use crate::jobs::JobSlots;
use crate::llvm::Diagnostic;
use crate::output::OutputObject;
use crate::report::{
    CacheRunReport, CacheStatus, MissReason, ModuleReport, Report, RunKind, Step, ThinModuleReport,
    ThinRunReport,
};
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
    /// What `explain` reads, when the configuration asks for explanations.
    pub explain: Option<ThinExplainInputs>,
}

/// What a thin run leaves for `explain`: the thin link, and each module's
/// inliner decisions (from its backend, or the cache beside its object;
/// `None` when neither has them).
pub(crate) struct ThinExplainInputs {
    /// The thin link.
    pub data: Arc<ThinData>,
    /// Per module, in module order.
    pub inlining: Vec<Option<Vec<crate::llvm::InlineDecision>>>,
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
    // lld's regular LTO task leaves its remarks file, empty without
    // full-LTO modules; a fat run of the same link may have written it.
    if let Some(remarks) = &config.opt_remarks {
        if !remarks.filename.exists() {
            crate::fs::write_atomically(&remarks.filename, b"")?;
        }
    }
    // With a cache, promoted locals keep their names across edits: what an
    // importer imports then changes only when what it imports does (see
    // `finer`). Workers' backends are told the content hashes to check.
    let stable_names = cache.is_some() && config.save_temps.is_none();
    let data = Arc::new(report.time(Step::ThinLink, || {
        ThinData::link(load()?, preserved, config, stable_names)
    })?);
    report.preserved = data.preserved().iter().cloned().collect();
    report.internalized = data.internalized();
    let thin_link = report.phases.last().map(|p| p.1).unwrap_or_default();
    // A --save-temps run uses and stores no entry, so it reads no record.
    let used_cache = cache.as_ref().filter(|_| config.save_temps.is_none());
    let (keys, unprobed) = report.time(Step::CacheKeys, || {
        cache_keys(&data, config, slots, used_cache)
    })?;
    let mut lookup = match &cache {
        Some(cache) => report.time(Step::CacheLookup, || {
            look_up(cache, &data, keys, config, &mut prefetched)
        }),
        None => CacheLookup::empty(keys),
    };
    let keys = std::mem::take(&mut lookup.keys);
    let backends = std::thread::scope(|scope| {
        // Written while the backends run: nothing waits for them.
        if let Some(cache) = used_cache.filter(|_| !unprobed.is_empty()) {
            let data = &data;
            let unprobed = &unprobed;
            scope.spawn(move || keep_versions(cache, data, unprobed));
        }
        run_backends(
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
        )
    })?;
    report.phases.push((Step::Backends, backends.wall));
    let mut warnings = backends.warnings;
    let cache_report = match &cache {
        Some(cache) => Some(report.time(Step::CacheUpdate, || {
            finish_cache(cache, &data, &keys, &lookup, &mut warnings)
        })?),
        None => None,
    };
    let explaining = !config.explain.is_empty();
    let mut results = collect_results(&data, config, &keys, lookup, backends.outputs, &mut report)?;
    let explain = explaining.then(|| ThinExplainInputs {
        data: Arc::clone(&data),
        // A compiled module's from its backend, a hit's from the cache.
        inlining: std::mem::take(&mut results.inlining)
            .into_iter()
            .enumerate()
            .map(|(i, kept)| {
                kept.or_else(|| {
                    let cache = cache.as_ref()?;
                    results.objects[i].reused_from_cache.then_some(())?;
                    cache.inlining(&keys[i].key)
                })
            })
            .collect(),
    });
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
        explain,
    })
}

/// A module's key, and its key in the last run (its record) when there is one.
type KeyAndRecord = (ModuleKey, Option<ModuleKey>);

/// Every module's cache key, with its key in the last run (its record) when
/// a cache is used. Keys only read the index, so they are computed in
/// parallel (SHA-1 over every module's summaries adds up on large graphs).
/// With a cache, each key is the finer one: an import source stands by the
/// digest of what the module imports from it (see `finer`), probed when the
/// record has no digest for the same inputs.
/// Also gives the import sources (by ordinal) some module stands by the
/// content hash of: the cache keeps their versions (see `finer`).
fn cache_keys(
    data: &ThinData,
    config: &Config,
    slots: &JobSlots,
    cache: Option<&Cache>,
) -> Result<(Vec<KeyAndRecord>, BTreeSet<u32>)> {
    let key_config = KeyConfig::new(config);
    let states = finer::SourceStates::new(data.modules().len());
    let keys = slots.map(data.modules().len(), "lto-engine-keys", |i| {
        let Some(cache) = cache else {
            let key = data.cache_key(i, &key_config, &[], &[], Default::default())?;
            return Ok((key, None, Vec::new()));
        };
        let previous = cache.previous_key(&data.modules()[i].name);
        let found = finer::import_digests(data, i, &states, previous.as_ref(), cache)?;
        let key = data.cache_key(
            i,
            &key_config,
            &found.digests,
            &found.substitutes,
            found.probes,
        )?;
        Ok((key, previous, found.unprobed))
    })?;
    let mut unprobed = BTreeSet::new();
    let keys = keys
        .into_iter()
        .map(|(key, previous, sources)| {
            unprobed.extend(sources);
            (key, previous)
        })
        .collect();
    Ok((keys, unprobed))
}

/// Keeps the bitcode of each source in `sources` in the cache (see
/// `finer`): best effort, as a failure only costs the finer key its first
/// change of that source.
fn keep_versions(cache: &Cache, data: &ThinData, sources: &BTreeSet<u32>) {
    for &source in sources {
        let Some(module) = data.modules().get(source as usize) else {
            continue;
        };
        if let Ok(content) = data.index().content_hash(&module.id) {
            let _ = cache.keep_version(&module_hash_hex(content), module.bytes.as_slice());
        }
    }
}

/// What the cache lookup found, per module.
struct CacheLookup {
    /// Every module's key (taken by the caller after the lookup).
    keys: Vec<ModuleKey>,
    statuses: Vec<CacheStatus>,
    /// The object and the time its read took, for hits.
    cached: Vec<Option<(Vec<u8>, Duration)>>,
    /// Hits whose entry was read before the thin link.
    early: Vec<bool>,
    /// Modules whose record (last key, for miss reasons) is not this key.
    to_record: Vec<usize>,
    /// Modules LLVM's rule (lld's key) would have compiled.
    llvm_rule_misses: Vec<usize>,
}

impl CacheLookup {
    /// No cache: every module is compiled.
    fn empty(keys: Vec<(ModuleKey, Option<ModuleKey>)>) -> Self {
        let total = keys.len();
        CacheLookup {
            keys: keys.into_iter().map(|(key, _)| key).collect(),
            statuses: vec![CacheStatus::Disabled; total],
            cached: (0..total).map(|_| None).collect(),
            early: vec![false; total],
            to_record: Vec::new(),
            llvm_rule_misses: Vec::new(),
        }
    }
}

/// Looks every module's key up. A --save-temps run uses and stores no
/// entry, so it records nothing.
fn look_up(
    cache: &Cache,
    data: &ThinData,
    keys: Vec<(ModuleKey, Option<ModuleKey>)>,
    config: &Config,
    prefetched: &mut Prefetched,
) -> CacheLookup {
    let mut lookup = CacheLookup::empty(Vec::new());
    for (i, (mut key, previous)) in keys.into_iter().enumerate() {
        lookup.cached.push(None);
        lookup.early.push(false);
        let status = look_up_one(
            cache,
            data,
            i,
            &mut key,
            previous.as_ref(),
            config,
            prefetched,
            &mut lookup,
        );
        lookup.statuses.push(status);
        if config.save_temps.is_none() && previous.as_ref().is_none_or(|p| !p.same_record(&key)) {
            lookup.to_record.push(i);
        }
        // LLVM's rule hits when a run with this cache saw its key before.
        if config.save_temps.is_none() && !cache.llvm_rule_seen(&key.llvm_rule_key) {
            lookup.llvm_rule_misses.push(i);
            if lookup.statuses[i] == CacheStatus::Hit {
                let sources = previous
                    .as_ref()
                    .map(|p| key.changed_sources(p))
                    .unwrap_or_default();
                lookup.statuses[i] = CacheStatus::HitByFinerKey(sources);
            }
        }
        lookup.keys.push(key);
    }
    lookup
}

/// One module's lookup: the object when it is a hit (into `lookup`).
#[allow(clippy::too_many_arguments)]
fn look_up_one(
    cache: &Cache,
    data: &ThinData,
    i: usize,
    key: &mut ModuleKey,
    previous: Option<&ModuleKey>,
    config: &Config,
    prefetched: &mut Prefetched,
    lookup: &mut CacheLookup,
) -> CacheStatus {
    if config.save_temps.is_some() {
        return CacheStatus::Miss(MissReason::SaveTemps);
    }
    let name = &data.modules()[i].name;
    let start = Instant::now();
    if let Some((_, bytes)) = prefetched.remove(name).filter(|(k, _)| *k == key.key) {
        // Read ahead without marking it used: it is used now.
        cache.touch(&key.key);
        lookup.cached[i] = Some((bytes, start.elapsed()));
        lookup.early[i] = true;
        return CacheStatus::Hit;
    }
    let mut found = cache.lookup(&key.key);
    if matches!(found, Lookup::Missing)
        && !key.hash_only_key.is_empty()
        && key.hash_only_key != key.key
    {
        // Stored before a source's first probe: under the key that takes
        // every source by its module hash (LLVM's rule, so always sound).
        if let hit @ Lookup::Hit(_) = cache.lookup(&key.hash_only_key) {
            found = hit;
            // The object's key is the one its entry is under (a memo of the
            // run names its objects by it).
            key.key = key.hash_only_key.clone();
        }
    }
    if matches!(found, Lookup::Missing) && !key.substituted_key.is_empty() {
        // Stored before a changed source's first probe, whose import the
        // probes showed unchanged: the entry holds. Kept under the finer
        // key too, which the next run looks up (its record has the digest).
        if let Lookup::Hit(bytes) = cache.lookup(&key.substituted_key) {
            let _ = cache.store(&key.key, &bytes);
            found = Lookup::Hit(bytes);
        }
    }
    match found {
        Lookup::Hit(bytes) => {
            lookup.cached[i] = Some((bytes, start.elapsed()));
            CacheStatus::Hit
        }
        other => CacheStatus::Miss(key.miss_reason(previous, other)),
    }
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
        if let Some(inlining) = &output.inlining {
            // Best effort: without it, explain reports the module's inlining
            // as unknown.
            let _ = cache.store_inlining(&keys[i].key, inlining);
        }
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
    /// Each compiled module's inliner decisions, when kept.
    inlining: Vec<Option<Vec<crate::llvm::InlineDecision>>>,
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
        inlining: Vec::with_capacity(total),
    };
    for (i, module) in data.modules().iter().enumerate() {
        let mut inlining = None;
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
                inlining = output.inlining;
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
        results.inlining.push(inlining);
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
    lookup: &CacheLookup,
    warnings: &mut Vec<String>,
) -> Result<CacheRunReport> {
    let statuses = &lookup.statuses;
    for &i in &lookup.llvm_rule_misses {
        if let Err(e) = cache.note_llvm_rule(&keys[i].llvm_rule_key) {
            let name = &data.modules()[i].name;
            warnings.push(format!("{name}: cannot note its LLVM key: {e}"));
        }
    }
    for &i in &lookup.to_record {
        let name = &data.modules()[i].name;
        if let Err(e) = cache.remember(name, &keys[i]) {
            warnings.push(format!("{name}: cannot record its key: {e}"));
        }
    }
    let pruned = cache.prune()?;
    let hits = statuses.iter().filter(|s| s.is_hit()).count();
    let hits_by_finer_key = statuses
        .iter()
        .filter(|s| matches!(s, CacheStatus::HitByFinerKey(_)))
        .count();
    Ok(CacheRunReport {
        dir: cache.dir().display().to_string(),
        hits,
        misses: statuses.len() - hits,
        hits_by_finer_key,
        llvm_rule_misses: lookup.llvm_rule_misses.len(),
        pruned,
        warnings: Vec::new(),
    })
}

/// `<stem>.lto.o` (or `.s` / `.bc` for the other emit kinds).
fn object_file_name(module: &ThinModule, config: &Config) -> String {
    format!("{}.lto.{}", module.file_stem, config.emit.extension())
}
