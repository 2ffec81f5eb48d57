//! A streaming LTO session for a compiler's codegen threads: modules are
//! submitted as they are generated, work that depends on one module only
//! starts at once, and [`StreamingSession::finish`] runs LTO when the last
//! one is in (the shape of rustc's codegen coordinator).

use crate::config::Config;
use crate::error::{Error, Phase, Result};
use crate::input::{BitcodeInput, InputBytes, InputOptions, Inputs};
use crate::llvm::{ModuleBuffer, ThinBuffer};
use crate::output::Output;
use crate::session::{
    check_config, run_modules, LtoKind, ModuleLto, ModuleRole, Progress, RunInputs,
};
use crate::thin::{module_hash_hex, Cache, Lookup, Prefetched, ThinModule};
use inkwell::module::Module;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// A handle on a streaming session: `Clone + Send + Sync`, so each codegen
/// thread can hold one and submit its modules while the others are still
/// generating theirs.
///
/// On submission an in-memory module is serialized on the caller's thread
/// (its context can be dropped right after), with a ThinLTO summary when it
/// goes to thin LTO; inputs given by path are read and classified. Thin
/// modules are then taken into the thin link's form on a background thread
/// (a summary is computed for bitcode that has none), while submissions
/// continue. [`finish`](Self::finish) waits for that work and runs LTO.
///
/// Modules are taken in name order whatever order they arrive in, so the
/// outputs equal those of a [`Session`](crate::Session) given the same
/// modules in name order.
#[derive(Clone)]
pub struct StreamingSession {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for StreamingSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingSession")
            .field("kind", &self.shared.kind)
            .finish_non_exhaustive()
    }
}

struct Shared {
    config: Config,
    kind: LtoKind,
    state: Mutex<State>,
    /// Signalled when a background task ends.
    idle: Condvar,
    /// Runs the per-module work that needs no other module.
    workers: rayon::ThreadPool,
    /// The ThinLTO cache, opened up front so that entries of unchanged
    /// modules are read early.
    cache: Option<Cache>,
}

#[derive(Default)]
struct State {
    inputs: Inputs,
    exports: BTreeSet<String>,
    module_lto: HashMap<String, ModuleLto>,
    /// Thin modules loaded in the background, by name.
    prepared: HashMap<String, ThinModule>,
    /// Cache entries of modules whose content is what it was in their last
    /// run, read in the background: used when the key is still the same.
    prefetched: Prefetched,
    /// The first background failure, by module name.
    failures: Vec<(String, Error)>,
    /// Background tasks not yet ended.
    pending: usize,
    finished: bool,
    progress: Option<Progress>,
}

impl StreamingSession {
    /// A session that will run `kind` (modules may opt out with
    /// [`ModuleLto::No`]). Fails when the configuration cannot be used.
    pub fn new(config: Config, kind: LtoKind) -> Result<Self> {
        check_config(&config)?;
        // A bad policy or an unusable cache directory fails here, before
        // any submission.
        let cache = config.cache.as_ref().map(Cache::open).transpose()?;
        let threads = config.jobs.count();
        let workers = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("lto-engine-stream-{i}"))
            .build()
            .map_err(|e| Error::Config(format!("cannot start {threads} stream threads: {e}")))?;
        Ok(StreamingSession {
            shared: Arc::new(Shared {
                config,
                kind,
                state: Mutex::new(State::default()),
                idle: Condvar::new(),
                workers,
                cache,
            }),
        })
    }

    /// The session's configuration.
    pub fn config(&self) -> &Config {
        &self.shared.config
    }

    /// The LTO kind the session runs.
    pub fn kind(&self) -> LtoKind {
        self.shared.kind
    }

    /// Submits an in-memory module under a unique `name`, serialized now on
    /// this thread.
    pub fn submit(&self, name: &str, module: &Module<'_>) -> Result<()> {
        self.submit_with(name, module, ModuleLto::Session)
    }

    /// Submits an in-memory module that takes part in `lto`.
    pub fn submit_with(&self, name: &str, module: &Module<'_>, lto: ModuleLto) -> Result<()> {
        self.check_open(name)?;
        let thin = is_thin(lto, self.shared.kind);
        let bytes = if thin {
            ThinBuffer::new(module).map(InputBytes::thin)
        } else {
            ModuleBuffer::new(module).map(InputBytes::module)
        }
        .map_err(|reason| Error::invalid(name, Phase::Write, reason))?;
        self.add(name, bytes, lto)
    }

    /// Submits an in-memory module of `role`: it takes the kind rustc gives
    /// such a module in a session of this kind ([`ModuleLto::for_role`]).
    pub fn submit_role(&self, name: &str, module: &Module<'_>, role: ModuleRole) -> Result<()> {
        self.submit_with(name, module, ModuleLto::for_role(self.shared.kind, role))
    }

    /// Submits bitcode held in memory under a unique `name`.
    pub fn submit_bitcode(&self, name: &str, bytes: impl Into<Vec<u8>>) -> Result<()> {
        self.submit_bitcode_with(name, bytes, ModuleLto::Session)
    }

    /// Submits bitcode held in memory that takes part in `lto`.
    pub fn submit_bitcode_with(
        &self,
        name: &str,
        bytes: impl Into<Vec<u8>>,
        lto: ModuleLto,
    ) -> Result<()> {
        self.check_open(name)?;
        self.add(name, InputBytes::owned(bytes.into()), lto)
    }

    /// Submits a file (bitcode, object, archive), classified on this thread
    /// with the session's handling of embedded bitcode. Native parts go to
    /// the final link in submission order.
    pub fn submit_path(&self, path: impl AsRef<Path>) -> Result<()> {
        let options = self.shared.config.input_options;
        self.submit_path_with(path, options)
    }

    /// Submits a file with its own handling of embedded bitcode.
    pub fn submit_path_with(&self, path: impl AsRef<Path>, options: InputOptions) -> Result<()> {
        let path = path.as_ref();
        self.check_open(&path.display().to_string())?;
        let mut added = Inputs::default();
        added.add_path(path, options)?;
        let modules = added.modules.clone();
        let to_load: Vec<BitcodeInput> = {
            let mut state = self.lock();
            if state.finished {
                return Err(finished_error(&path.display().to_string()));
            }
            state.inputs.merge(added)?;
            modules
                .into_iter()
                .filter(|input| self.take_for_loading(&mut state, input, ModuleLto::Session))
                .collect()
        };
        for input in to_load {
            self.spawn_load(input);
        }
        Ok(())
    }

    /// Names symbols that must stay visible after LTO.
    pub fn preserve<I, S>(&self, symbols: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut state = self.lock();
        state.exports.extend(symbols.into_iter().map(Into::into));
    }

    /// How many submitted modules have been loaded for the thin link so
    /// far (summary read, or computed when missing): work done while
    /// submissions continue.
    pub fn loaded(&self) -> usize {
        self.lock().prepared.len()
    }

    /// Calls `hook` as each ThinLTO backend finishes (for a progress bar).
    pub fn on_progress(&self, hook: impl Fn(usize, usize, &str) + Send + Sync + 'static) {
        self.lock().progress = Some(Arc::new(hook));
    }

    /// Waits for the background work, then runs LTO over everything
    /// submitted. Submissions after this (from any handle) are an error.
    /// A module that failed in the background fails the run, naming it.
    pub fn finish(&self) -> Result<Output> {
        let mut guard = self.lock();
        if guard.finished {
            return Err(Error::Config(
                "finish: this streaming session has already run".to_string(),
            ));
        }
        while guard.pending > 0 {
            guard = self
                .shared
                .idle
                .wait(guard)
                .unwrap_or_else(|e| e.into_inner());
        }
        // The run takes the state; what stays behind refuses submissions.
        let mut state = std::mem::take(&mut *guard);
        guard.finished = true;
        drop(guard);
        state.failures.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some((_, error)) = state.failures.into_iter().next() {
            return Err(error);
        }
        // Arrival order is up to the compiler's threads; name order is not.
        state.inputs.modules.sort_by(|a, b| a.name.cmp(&b.name));
        run_modules(
            RunInputs {
                config: &self.shared.config,
                inputs: &state.inputs,
                exports: &state.exports,
                module_lto: &state.module_lto,
                progress: state.progress.as_ref(),
                prepared: state.prepared,
                prefetched: state.prefetched,
            },
            self.shared.kind,
        )
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check_open(&self, name: &str) -> Result<()> {
        if self.lock().finished {
            return Err(finished_error(name));
        }
        Ok(())
    }

    /// Records a module, then starts its background work. The check that
    /// the session is open, the record and the count of pending work are
    /// one step under the lock, so `finish` sees either all or none of it.
    fn add(&self, name: &str, bytes: InputBytes, lto: ModuleLto) -> Result<()> {
        let to_load = {
            let mut state = self.lock();
            if state.finished {
                return Err(finished_error(name));
            }
            state.inputs.add_bitcode(name, bytes)?;
            if lto != ModuleLto::Session {
                state.module_lto.insert(name.to_string(), lto);
            }
            let input = state.inputs.modules.last().cloned();
            input.filter(|input| self.take_for_loading(&mut state, input, lto))
        };
        if let Some(input) = to_load {
            self.spawn_load(input);
        }
        Ok(())
    }

    /// Whether `input` (of `lto`) goes to thin LTO and so is loaded in the
    /// background; if so, counts it as pending in `state`.
    fn take_for_loading(&self, state: &mut State, input: &BitcodeInput, lto: ModuleLto) -> bool {
        if !is_thin(lto, self.shared.kind) {
            return false;
        }
        // Thin-local LTO leaves archive members native: nothing to load.
        let thin_local = lto == ModuleLto::ThinLocal
            || (lto == ModuleLto::Session && self.shared.kind == LtoKind::ThinLocal);
        if thin_local && input.archive.is_some() {
            return false;
        }
        state.pending += 1;
        true
    }

    /// Loads `input` into the thin link's form on a worker thread
    /// (computing a summary when it has none), with its early cache read.
    fn spawn_load(&self, input: BitcodeInput) {
        let shared = Arc::clone(&self.shared);
        self.shared.workers.spawn(move || {
            let result = crate::thin::prepare(&input);
            let early = result
                .as_ref()
                .ok()
                .and_then(|module| shared.read_unchanged(module));
            let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
            match result {
                Ok(module) => {
                    if let Some(entry) = early {
                        state.prefetched.insert(input.name.clone(), entry);
                    }
                    state.prepared.insert(input.name.clone(), module);
                }
                Err(error) => state.failures.push((input.name.clone(), error)),
            }
            state.pending -= 1;
            shared.idle.notify_all();
        });
    }
}

/// The error of a submission after `finish`.
fn finished_error(name: &str) -> Error {
    Error::Config(format!(
        "{name}: submitted after the streaming session finished"
    ))
}

impl Shared {
    /// For a module whose content hashes as in its last run with the cache:
    /// that run's entry (key and object). Its key may still change (imports,
    /// exports, settings); the run uses the entry only if it does not.
    fn read_unchanged(&self, module: &ThinModule) -> Option<(String, Vec<u8>)> {
        let cache = self.cache.as_ref()?;
        if self.config.save_temps.is_some() {
            return None;
        }
        let previous = cache.previous_key(&module.name)?;
        let hash = crate::llvm::bitcode_module_hash(module.bytes.as_slice()).ok()?;
        if module_hash_hex(hash) != previous.module_hash {
            return None;
        }
        match cache.lookup(&previous.key) {
            Lookup::Hit(object) => Some((previous.key, object)),
            Lookup::Missing | Lookup::Corrupt(_) => None,
        }
    }
}

/// Whether a module of `lto` goes to thin LTO in a session of `kind`.
fn is_thin(lto: ModuleLto, kind: LtoKind) -> bool {
    match lto {
        ModuleLto::Session => matches!(kind, LtoKind::Thin | LtoKind::ThinLocal),
        ModuleLto::Thin | ModuleLto::ThinLocal => true,
        ModuleLto::No | ModuleLto::Fat => false,
    }
}
