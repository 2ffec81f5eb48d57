//! The library entry point: one [`Session`] collects modules (from one
//! thread or from many) and the symbols to preserve, loads what it can in
//! the background, then runs LTO.

use crate::config::{Config, ModuleOrder};
pub use crate::config::{LtoKind, ModuleLto, ModuleRole};
use crate::error::{Error, Phase, Result};
use crate::fat;
use crate::input::{BitcodeInput, InputBytes, InputOptions, Inputs, LinkItem, ModuleOrigin};
use crate::jobs::JobSlots;
use crate::llvm::{ModuleBuffer, ThinBuffer};
use crate::output::{Output, OutputObject};
use crate::report::{Report, RunKind, Step};
use crate::thin::{
    self, module_hash_hex, Cache, IndexOptions, Lookup, Prefetched, ProgressHook, ThinData,
    ThinModule,
};
use crate::worker::{self, Pool};
use inkwell::module::Module;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// How a run's ThinLTO backends run.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Backends {
    /// In this process, in parallel under [`Config::jobs`].
    InProcess,
    /// Distributed ThinLTO: the thin link writes each module's slice of the
    /// index (and imports file) where the options say, and copies of
    /// modules that have no bitcode file of their own; the backends then
    /// run anywhere, as jobs ([`distributed::distributor_json`](crate::distributed::distributor_json))
    /// with `clang -fthinlto-index=` or `lto-engine backend`. They are
    /// listed in [`Output::jobs`]. Modules given [`ModuleLto::No`] are
    /// still compiled in process, and what they use stays visible. Fat LTO
    /// has no backends to distribute and is refused.
    IndexFiles(IndexOptions),
}

/// One input for [`Session::add`]: an in-memory module, bitcode bytes or a
/// file, and how it takes part.
///
/// ```
/// # use lto_engine::{Input, ModuleLto, ModuleRole};
/// # let context = inkwell::context::Context::create();
/// # let module = context.create_module("cgu.0");
/// let _ = Input::module(&module).name("crate.cgu-0").lto(ModuleLto::No);
/// let _ = Input::module(&module).role(ModuleRole::Metadata);
/// let _ = Input::path("libdep.rlib");
/// ```
#[derive(Debug)]
#[must_use]
pub struct Input<'a> {
    source: Source<'a>,
    name: Option<String>,
    lto: LtoChoice,
    options: Option<InputOptions>,
}

enum Source<'a> {
    Module(&'a (dyn InMemory + 'a)),
    Bitcode(InputBytes, ModuleOrigin),
    Path(PathBuf),
}

impl std::fmt::Debug for Source<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Module(module) => write!(f, "Module({:?})", module.own_name()),
            Source::Bitcode(bytes, _) => write!(f, "Bitcode({} bytes)", bytes.as_slice().len()),
            Source::Path(path) => write!(f, "Path({})", path.display()),
        }
    }
}

/// An in-memory module of any context lifetime (inkwell's `Module<'ctx>`
/// is invariant in it, so an [`Input`] holds it behind this trait).
trait InMemory {
    /// The module's identifier.
    fn own_name(&self) -> String;
    /// The module as bitcode, with a ThinLTO summary when `thin`.
    fn serialize(&self, thin: bool) -> std::result::Result<InputBytes, String>;
    /// The IR verifier's complaints, if any.
    fn verify(&self) -> std::result::Result<(), String>;
    /// Whether it has a data layout.
    fn has_data_layout(&self) -> bool;
}

impl InMemory for Module<'_> {
    fn own_name(&self) -> String {
        self.get_name().to_string_lossy().into_owned()
    }

    fn verify(&self) -> std::result::Result<(), String> {
        crate::llvm::verify_unchanged(self)
    }

    fn has_data_layout(&self) -> bool {
        crate::llvm::has_data_layout(self)
    }

    fn serialize(&self, thin: bool) -> std::result::Result<InputBytes, String> {
        if thin {
            ThinBuffer::new(self).map(InputBytes::thin)
        } else {
            ModuleBuffer::new(self).map(InputBytes::module)
        }
    }
}

/// A module's LTO as given: a kind, or a role the session's kind turns
/// into one.
#[derive(Debug, Clone, Copy)]
enum LtoChoice {
    Kind(ModuleLto),
    Role(ModuleRole),
}

impl<'a> Input<'a> {
    fn new(source: Source<'a>) -> Self {
        Input {
            source,
            name: None,
            lto: LtoChoice::Kind(ModuleLto::Session),
            options: None,
        }
    }

    /// An in-memory module, serialized when it is added (with a ThinLTO
    /// summary when it goes to thin LTO), so its context may be dropped
    /// right after. It is named by its own module identifier unless
    /// [`name`](Self::name) gives another.
    ///
    /// Serializing for thin LTO changes the caller's module in two ways
    /// the summary writer needs, as clang's `-flto=thin` does: unnamed
    /// globals get names (`anon.<hash>.<n>`) and aliases are canonicalized.
    /// Fat LTO and modules compiled alone leave it as it is.
    pub fn module(module: &'a Module<'_>) -> Self {
        Input::new(Source::Module(module))
    }

    /// Bitcode held in memory, under a unique `name`.
    pub fn bitcode(name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Self {
        Input::shared_bitcode(name, InputBytes::owned(bytes.into()), ModuleOrigin::Memory)
    }

    /// Bitcode that is a view of bytes the crate already holds (an archive
    /// member in a memory map): nothing is copied.
    pub(crate) fn shared_bitcode(
        name: impl Into<String>,
        bytes: InputBytes,
        origin: ModuleOrigin,
    ) -> Self {
        let mut input = Input::new(Source::Bitcode(bytes, origin));
        input.name = Some(name.into());
        input
    }

    /// A file: bitcode, an object (native, or with embedded bitcode) or an
    /// archive (`.a`, `.rlib`), told apart by content. Its modules are
    /// named by its path (archive members `lib.a(member.o)`); native parts
    /// go to the final link.
    pub fn path(path: impl Into<PathBuf>) -> Self {
        Input::new(Source::Path(path.into()))
    }

    /// The module's name in the session (unique), for an in-memory module
    /// or bitcode. A file's modules are named by its path: naming one is a
    /// [`Error::Usage`] when it is added.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The LTO the input's modules take part in (default:
    /// [`ModuleLto::Session`]).
    pub fn lto(mut self, lto: ModuleLto) -> Self {
        self.lto = LtoChoice::Kind(lto);
        self
    }

    /// The input's modules are of `role`: they take the kind rustc gives
    /// such a module in the session's kind ([`ModuleLto::for_role`]).
    pub fn role(mut self, role: ModuleRole) -> Self {
        self.lto = LtoChoice::Role(role);
        self
    }

    /// A file's own handling of embedded bitcode (default:
    /// [`Config::input_options`]).
    pub fn options(mut self, options: InputOptions) -> Self {
        self.options = Some(options);
        self
    }
}

/// What [`Session::add`] took from an input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Added {
    /// Bitcode modules, by name, in the order found: each goes to LTO or is
    /// compiled alone, as its [`ModuleLto`] says.
    pub modules: Vec<String>,
    /// Native files passed to the final link as they are: objects, shared
    /// libraries, archives without bitcode.
    pub native_files: Vec<PathBuf>,
    /// Native members of archives that also hold bitcode
    /// (`lib.a(member.o)`): the final link gets a copy of the archive with
    /// only these.
    pub native_members: Vec<String>,
}

/// Called as ThinLTO backends finish: (modules done, total, module name).
type Progress = Arc<dyn Fn(usize, usize, &str) + Send + Sync>;

/// An LTO session: add inputs, name what must stay visible, run.
///
/// A `Session` is a handle: `Clone + Send + Sync`, every method takes
/// `&self`, so a compiler's codegen threads can each hold one and add
/// their modules as they finish them. The LTO kind is fixed when the
/// session is made, so an in-memory module is serialized once, on the
/// adding thread, with a ThinLTO summary when it goes to thin LTO. Thin
/// modules are then taken into the thin link's form (a summary computed
/// for bitcode that has none, the cache entry of an unchanged module read)
/// on the session's worker threads while inputs are still being added.
/// [`run`](Self::run) waits for that work and runs LTO once; the session is
/// then finished and refuses further inputs.
///
/// Module order (which copy of a weak symbol or comdat prevails, which
/// module fat LTO links into, the order of constructors) follows
/// [`Config::module_order`]: by default module name order, whatever order
/// threads add them in, so batch and multi-threaded use give the same
/// objects; [`ModuleOrder::Added`] keeps the order of `add` calls, as a
/// linker's command line. Native parts go to the final link in the order
/// they were added.
#[derive(Clone)]
pub struct Session {
    shared: Arc<Shared>,
    /// Counts the handles (background tasks hold `shared` only).
    handles: Arc<()>,
}

impl Drop for Session {
    /// The last handle waits for the background work, so that the session
    /// (its worker processes, its private directory) is gone when the
    /// handle is, not later on a loading thread, perhaps after the process
    /// has exited.
    fn drop(&mut self) {
        if Arc::strong_count(&self.handles) > 1 {
            return;
        }
        drop(self.wait_for_loads());
        // A task lets go of the session just after it reports: give it
        // that moment (bounded) so the drop below is the last.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while Arc::strong_count(&self.shared) > 1 && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
    }
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("kind", &self.shared.kind)
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

struct Shared {
    config: Config,
    kind: LtoKind,
    state: Mutex<State>,
    /// Signalled when a background task ends.
    idle: Condvar,
    /// Runs the per-module work that needs no other module, as modules
    /// arrive, each item in one of `slots`.
    workers: rayon::ThreadPool,
    /// All the session's parallel work, under `Config::jobs`.
    slots: JobSlots,
    /// The ThinLTO cache, opened up front so that entries of unchanged
    /// modules are read early.
    cache: Option<Cache>,
    /// Worker processes, with [`Isolation::Workers`](crate::Isolation::Workers).
    pool: Option<Arc<Pool>>,
    /// With workers and a cache: the cache's `validated` directory, made
    /// once (see [`Shared::load`]).
    validated: Option<PathBuf>,
    /// When the session was made: the report's serial time before the
    /// first backend counts from here.
    created: Instant,
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
    /// Background failures, by module name.
    failures: Vec<(String, Error)>,
    /// Background tasks not yet ended.
    pending: usize,
    finished: bool,
    progress: Option<Progress>,
    /// The preserved names are a linker's (`lto-engine ld`): what native
    /// inputs reference, the entry point and dynamic exports, decided as
    /// lld decides; the warnings about a caller's names do not apply.
    linker_preserves: bool,
}

impl Session {
    /// A session that runs `kind` (modules may take another part with
    /// [`Input::lto`]). Fails when the configuration cannot be used (the
    /// target cannot be built, the cache directory or policy is unusable).
    pub fn new(config: Config, kind: LtoKind) -> Result<Self> {
        check_config(&config)?;
        let cache = config.cache.as_ref().map(Cache::open).transpose()?;
        let pool = Pool::for_config(&config)?;
        // Best effort: without it, every run asks a worker again.
        let validated = match (&pool, &cache) {
            (Some(_), Some(cache)) => {
                let dir = cache.dir().join("validated");
                std::fs::create_dir_all(&dir).ok().map(|()| dir)
            }
            _ => None,
        };
        let slots = JobSlots::new(config.jobs.resolve());
        let threads = config.jobs.count();
        let workers = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("lto-engine-load-{i}"))
            .build()
            .map_err(|e| Error::Config(format!("cannot start {threads} loading threads: {e}")))?;
        Ok(Session {
            shared: Arc::new(Shared {
                config,
                kind,
                state: Mutex::new(State::default()),
                idle: Condvar::new(),
                workers,
                slots,
                cache,
                pool,
                validated,
                created: Instant::now(),
            }),
            handles: Arc::new(()),
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

    /// Adds an input; see [`Input`]. Returns what it held.
    pub fn add(&self, input: Input<'_>) -> Result<Added> {
        let lto = match input.lto {
            LtoChoice::Kind(lto) => lto,
            LtoChoice::Role(role) => ModuleLto::for_role(self.shared.kind, role),
        };
        match input.source {
            Source::Module(module) => {
                let name = input.name.unwrap_or_else(|| module.own_name());
                self.check_open(&name)?;
                if !module.has_data_layout() {
                    return Err(crate::input::no_data_layout(&name));
                }
                if self.shared.config.verify_inputs {
                    // Here, on the caller's thread and with the value names
                    // still there, the error arrives where the mistake was
                    // made: a call into another context's module, say,
                    // would otherwise surface at `run` as unreadable bitcode.
                    module
                        .verify()
                        .map_err(|text| crate::stages::invalid_ir(&name, &text))?;
                }
                let bytes = module
                    .serialize(is_thin(lto, self.shared.kind))
                    .map_err(|reason| Error::invalid(&name, Phase::Write, reason))?;
                self.add_bytes(name, bytes, lto)
            }
            Source::Bitcode(bytes, origin) => {
                let name = input.name.unwrap_or_default();
                self.check_open(&name)?;
                let mut found = Inputs::default();
                found.add_bitcode_from(&name, bytes, origin)?;
                self.merge(&name, found, lto)
            }
            Source::Path(path) => {
                let display = path.display().to_string();
                if input.name.is_some() {
                    return Err(Error::Usage(format!(
                        "{display}: a file's modules are named by its path; Input::name is for \
                         in-memory modules and bitcode"
                    )));
                }
                self.check_open(&display)?;
                let options = input.options.unwrap_or(self.shared.config.input_options);
                let mut found = match &self.shared.pool {
                    // Reading embedded bitcode's attributes is a worker's job.
                    Some(pool) => {
                        let pool = Arc::clone(pool);
                        Inputs::checked_by(Arc::new(move |name: &str, bytes: &[u8]| {
                            worker::no_builtins(&pool, name, bytes)
                        }))
                    }
                    None => Inputs::default(),
                };
                found.add_path(&path, options)?;
                self.merge(&display, found, lto)
            }
        }
    }

    /// Adds an in-memory module under its own name, taking part in the
    /// session's LTO: `add(Input::module(module))`. In a thin session this
    /// names the module's unnamed globals (see [`Input::module`]).
    pub fn add_module(&self, module: &Module<'_>) -> Result<Added> {
        self.add(Input::module(module))
    }

    /// Adds a file, with the session's handling of embedded bitcode:
    /// `add(Input::path(path))`.
    pub fn add_path(&self, path: impl Into<PathBuf>) -> Result<Added> {
        self.add(Input::path(path))
    }

    /// Names symbols that must stay visible (exported) after LTO. Naming
    /// them after the session has run is an [`Error::Usage`], as adding an
    /// input is: the run could not have kept them.
    pub fn preserve<I, S>(&self, symbols: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut state = self.lock();
        if state.finished {
            return Err(Error::Usage(
                "preserve after the session has run: name the symbols to keep before Session::run"
                    .to_string(),
            ));
        }
        state.exports.extend(symbols.into_iter().map(Into::into));
        Ok(())
    }

    /// How many thin modules have been loaded for the thin link so far
    /// (summary read, or computed when missing): work done while inputs are
    /// still being added.
    pub fn loaded(&self) -> usize {
        self.lock().prepared.len()
    }

    /// Calls `hook` as each ThinLTO backend finishes: (modules done, total,
    /// module name), for a progress bar.
    pub fn on_progress(&self, hook: impl Fn(usize, usize, &str) + Send + Sync + 'static) {
        self.lock().progress = Some(Arc::new(hook));
    }

    /// Runs LTO with the backends in process: `run_with(Backends::InProcess)`.
    pub fn run(&self) -> Result<Output> {
        self.run_with(Backends::InProcess)
    }

    /// Waits for the background work, then runs LTO over everything added:
    /// modules given [`ModuleLto::No`] are compiled alone first (what they
    /// use stays visible), then the session's LTO, with its backends as
    /// `backends` says. A module that failed in the background fails the
    /// run, naming it. A session runs once: from any handle, a second run
    /// or an input added after it is an [`Error::Usage`].
    pub fn run_with(&self, backends: Backends) -> Result<Output> {
        if self.lock().finished {
            return Err(Error::Usage("this session has already run".to_string()));
        }
        let mut guard = self.wait_for_loads();
        if guard.finished {
            // Another handle ran it meanwhile.
            return Err(Error::Usage("this session has already run".to_string()));
        }
        // The run takes the state; what stays behind refuses inputs.
        let mut state = std::mem::take(&mut *guard);
        guard.finished = true;
        drop(guard);
        state.failures.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some((_, error)) = state.failures.into_iter().next() {
            return Err(error);
        }
        if state.inputs.modules.is_empty() && state.inputs.link_items.is_empty() {
            // Nothing could be written that a link would use: an empty
            // object, or nothing at all, would hide the caller's mistake.
            return Err(Error::Usage(
                "nothing to link: no input was added to the session".to_string(),
            ));
        }
        if self.shared.config.module_order == ModuleOrder::Name {
            state.inputs.modules.sort_by(|a, b| a.name.cmp(&b.name));
        }
        let mut output = run_modules(
            RunInputs {
                config: &self.shared.config,
                inputs: &state.inputs,
                exports: &state.exports,
                module_lto: &state.module_lto,
                progress: state.progress.as_ref(),
                prepared: state.prepared,
                prefetched: state.prefetched,
                shared: &self.shared,
            },
            self.shared.kind,
            &backends,
        )?;
        output.report.max_concurrent_jobs = self.shared.slots.peak();
        if !state.linker_preserves {
            let warnings =
                crate::warnings::about_preserved(&state.exports, &output, &self.shared.config);
            output.diagnostics.extend(warnings);
        }
        Ok(output)
    }

    /// Marks the preserved names as a linker's (see
    /// `State::linker_preserves`).
    pub(crate) fn preserved_by_linker(&self) {
        self.lock().linker_preserves = true;
    }

    /// The state, once no background load is pending.
    fn wait_for_loads(&self) -> MutexGuard<'_, State> {
        let mut guard = self.lock();
        while guard.pending > 0 {
            guard = self
                .shared
                .idle
                .wait(guard)
                .unwrap_or_else(|e| e.into_inner());
        }
        guard
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

    /// Records one module given as bytes.
    fn add_bytes(&self, name: String, bytes: InputBytes, lto: ModuleLto) -> Result<Added> {
        let mut found = Inputs::default();
        found.add_bitcode(&name, bytes)?;
        self.merge(&name, found, lto)
    }

    /// Records what one input held, then starts the background work of its
    /// thin modules. The check that the session is open, the record and
    /// the count of pending work are one step under the lock, so a run sees
    /// either all or none of it.
    fn merge(&self, input: &str, found: Inputs, lto: ModuleLto) -> Result<Added> {
        let added = describe(&found);
        let modules = found.modules.clone();
        let to_load: Vec<BitcodeInput> = {
            let mut state = self.lock();
            if state.finished {
                return Err(finished_error(input));
            }
            state.inputs.merge(found)?;
            if lto != ModuleLto::Session {
                for module in &modules {
                    state.module_lto.insert(module.name.clone(), lto);
                }
            }
            modules
                .into_iter()
                .filter(|module| self.take_for_loading(&mut state, module, lto))
                .collect()
        };
        for module in to_load {
            self.spawn_load(module);
        }
        Ok(added)
    }

    /// Whether `input` (of `lto`) goes to thin LTO and so is loaded in the
    /// background; if so, counts it as pending in `state`.
    fn take_for_loading(&self, state: &mut State, input: &BitcodeInput, lto: ModuleLto) -> bool {
        if !is_thin(lto, self.shared.kind) {
            return false;
        }
        // Thin-local LTO leaves archive members native: nothing to load.
        if lto.resolve(self.shared.kind) == ModuleLto::ThinLocal && input.archive.is_some() {
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
            // Under a jobserver, only with a token free now: the caller's
            // own thread holds the implicit one. Otherwise the run loads it.
            let Some(slot) = shared.slots.try_background() else {
                let mut state = shared.state.lock().unwrap_or_else(|e| e.into_inner());
                state.pending -= 1;
                shared.idle.notify_all();
                return;
            };
            let result = shared.load(&input);
            let early = result
                .as_ref()
                .ok()
                .and_then(|module| shared.read_unchanged(module));
            drop(slot);
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

/// What an input held, for [`Added`].
fn describe(found: &Inputs) -> Added {
    let mut added = Added {
        modules: found.modules.iter().map(|m| m.name.clone()).collect(),
        ..Added::default()
    };
    for item in &found.link_items {
        match item {
            LinkItem::LtoOutput => {}
            LinkItem::Native(path) => added.native_files.push(path.clone()),
            LinkItem::NativeMembers { archive, members } => {
                for (member, _) in members {
                    added
                        .native_members
                        .push(format!("{}({member})", archive.display()));
                }
            }
        }
    }
    added
}

/// The error of an input added after the run.
fn finished_error(name: &str) -> Error {
    Error::Usage(format!("{name}: added after the session ran"))
}

impl Shared {
    /// Takes a thin module into the thin link's form: in process, or with
    /// workers in a worker first, unless a worker already read these very
    /// bytes without crashing in an earlier run with the same cache (a
    /// marker named by their SHA-1 in the cache directory), so that a warm
    /// run does not pay twice.
    fn load(&self, input: &BitcodeInput) -> Result<ThinModule> {
        let Some(pool) = &self.pool else {
            return thin::prepare(input, &self.config);
        };
        let marker = self.validated_marker(input.bytes.as_slice());
        if marker.as_ref().is_some_and(|m| m.exists()) {
            return thin::prepare(input, &self.config);
        }
        let module = worker::prepare(pool, input)?;
        if let Some(marker) = marker {
            // Best effort: without it, the next run asks a worker again.
            let _ = crate::fs::write_atomically(&marker, b"");
        }
        Ok(module)
    }

    /// Where the marker of bytes read safely by a worker goes: in the
    /// cache's `validated` directory, named by their BLAKE3 (several times
    /// faster than SHA-1 over every input of a relink) and this engine's
    /// version (another LLVM may read them differently).
    fn validated_marker(&self, bytes: &[u8]) -> Option<PathBuf> {
        let dir = self.validated.as_ref()?;
        let hash: String = crate::llvm::blake3(bytes)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Some(dir.join(format!("{hash}-{}", env!("CARGO_PKG_VERSION"))))
    }

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
        // Not marked used: the run takes it only if the key still holds.
        match cache.peek(&previous.key) {
            Lookup::Hit(object) => Some((previous.key, object)),
            Lookup::Missing | Lookup::Corrupt(_) => None,
        }
    }
}

/// Whether a module of `lto` goes to thin LTO in a session of `kind`.
fn is_thin(lto: ModuleLto, kind: LtoKind) -> bool {
    matches!(lto.resolve(kind), ModuleLto::Thin | ModuleLto::ThinLocal)
}

/// Checks a configuration before any input is read: the target can be
/// built, the remark pattern is a valid regex, there is a backend.
fn check_config(config: &Config) -> Result<()> {
    if config.jobs == crate::config::Jobs::Fixed(0) {
        return Err(Error::Config(
            "jobs: Jobs::Fixed needs at least one".to_string(),
        ));
    }
    // LLVM's own options first: they may change what everything after does.
    crate::llvm::parse_llvm_options(&config.llvm_options).map_err(Error::Config)?;
    if let Some(triple) = &config.target_triple {
        crate::codegen::target_machine(config, triple, None)?;
    }
    if config.remarks.is_some() {
        crate::codegen::module_context(config, true)?;
    }
    Ok(())
}

/// Everything a run reads, taken from a session's state.
struct RunInputs<'a> {
    config: &'a Config,
    inputs: &'a Inputs,
    exports: &'a BTreeSet<String>,
    module_lto: &'a HashMap<String, ModuleLto>,
    progress: Option<&'a Progress>,
    /// Thin modules already loaded (with summaries) by name; the others are
    /// loaded in the run.
    prepared: HashMap<String, ThinModule>,
    /// Cache entries read early.
    prefetched: Prefetched,
    /// The session's shared part: its workers and loader.
    shared: &'a Shared,
}

/// Runs a session, in its phases: modules that opted out of LTO are
/// compiled alone first (what they use stays visible); for thin-local LTO,
/// upstream archives stay native; then the LTO of the others' kind (fat,
/// thin with backends in process, or thin index files); last, the output
/// is assembled from both.
fn run_modules(mut run: RunInputs<'_>, kind: LtoKind, backends: &Backends) -> Result<Output> {
    let (lto_kind, groups) = group_by_lto(&run, kind)?;
    if let (Backends::IndexFiles(_), Some(ModuleLto::Fat)) = (backends, lto_kind) {
        return Err(Error::Usage(
            "distributed backends are thin LTO's: a fat LTO run has one module to compile; \
             run it in process"
                .to_string(),
        ));
    }
    let mut used_stems = HashSet::new();
    let alone = compile_alone(&run, &groups.no, &mut used_stems)?;

    let mut preserved = run.exports.clone();
    preserved.extend(run.inputs.native_references.iter().cloned());
    for module in alone.iter().filter_map(|m| m.compiled.as_ref()) {
        preserved.extend(module.undefined.iter().cloned());
    }
    let mut native_inputs = run.inputs.link_items.clone();
    let thin_modules = if lto_kind == Some(ModuleLto::ThinLocal) {
        leave_upstream_native(&groups.lto, &mut preserved, &mut native_inputs)?
    } else {
        groups.lto.clone()
    };
    let thin_kind = match lto_kind {
        Some(ModuleLto::ThinLocal) => RunKind::ThinLocal,
        _ => RunKind::Thin,
    };
    let lto = match (lto_kind, backends) {
        (None, _) => LtoResult::default(),
        (Some(ModuleLto::Fat), _) => run_fat(&run, &groups.lto, &preserved, &mut used_stems)?,
        (Some(_), Backends::InProcess) => {
            run_thin_in_process(&mut run, &thin_modules, &preserved, thin_kind)?
        }
        (Some(_), Backends::IndexFiles(options)) => {
            write_index_files(&mut run, &thin_modules, &preserved, thin_kind, options)?
        }
    };
    Ok(assemble(
        run.config,
        lto,
        lto_kind,
        alone,
        &preserved,
        native_inputs,
    ))
}

/// What the LTO phase of a run produced.
#[derive(Default)]
struct LtoResult {
    objects: Vec<OutputObject>,
    report: Report,
    diagnostics: Vec<crate::llvm::Diagnostic>,
    /// Distributed backend jobs (index files only).
    jobs: Vec<crate::thin::DistributedModule>,
}

/// A module compiled without LTO, with the file stem of its object.
struct Alone<'a> {
    module: &'a BitcodeInput,
    stem: String,
    /// `None` only when another module failed first.
    compiled: Option<crate::nolto::Compiled>,
}

/// Compiles the modules without LTO, in parallel under the session's jobs
/// (each checked in a worker first, with workers).
fn compile_alone<'a>(
    run: &RunInputs<'_>,
    modules: &[&'a BitcodeInput],
    used_stems: &mut HashSet<String>,
) -> Result<Vec<Alone<'a>>> {
    let stems: Vec<String> = modules
        .iter()
        .map(|m| crate::thin::file_stem(&m.name, used_stems))
        .collect();
    let order: Vec<usize> = (0..modules.len()).collect();
    let pool = run.shared.pool.as_deref();
    let (compiled, _) =
        run.shared
            .slots
            .run_each(&order, modules.len(), "lto-engine-no-lto", |i| {
                if let Some(pool) = pool {
                    worker::check(pool, modules[i])?;
                }
                crate::nolto::compile(run.config, modules[i], &stems[i])
            })?;
    Ok(modules
        .iter()
        .zip(stems)
        .zip(compiled)
        .map(|((module, stem), compiled)| Alone {
            module,
            stem,
            compiled,
        })
        .collect())
}

/// Thin-local LTO: archive members are upstream code, left native (their
/// archives go to the final link whole), with what their native code
/// references kept visible. The modules that do take part.
fn leave_upstream_native<'a>(
    modules: &[&'a BitcodeInput],
    preserved: &mut BTreeSet<String>,
    native_inputs: &mut [LinkItem],
) -> Result<Vec<&'a BitcodeInput>> {
    let mut upstream = BTreeSet::new();
    let mut local = Vec::new();
    for module in modules {
        let Some(source) = &module.archive else {
            local.push(*module);
            continue;
        };
        let Some(references) = &source.native_references else {
            return Err(Error::invalid(
                &module.name,
                Phase::Classify,
                "thin-local LTO leaves archives native, but this member holds only \
                 bitcode; use thin LTO",
            ));
        };
        preserved.extend(references.iter().cloned());
        upstream.insert(source.path.clone());
    }
    for item in native_inputs.iter_mut() {
        if let LinkItem::NativeMembers { archive, .. } = item {
            if upstream.contains(archive) {
                *item = LinkItem::Native(archive.clone());
            }
        }
    }
    Ok(local)
}

/// Fat LTO over `modules` (each checked in a worker first, with workers):
/// one object per code generation partition, the first under the name one
/// object had.
fn run_fat(
    run: &RunInputs<'_>,
    modules: &[&BitcodeInput],
    preserved: &BTreeSet<String>,
    used_stems: &mut HashSet<String>,
) -> Result<LtoResult> {
    let (config, slots) = (run.config, &run.shared.slots);
    if let Some(pool) = run.shared.pool.as_deref() {
        // Each input parsed and verified in a worker before this process
        // parses it to link.
        let order: Vec<usize> = (0..modules.len()).collect();
        slots.run_each(&order, modules.len(), "lto-engine-check", |i| {
            worker::check(pool, modules[i])
        })?;
    }
    let modules: Vec<BitcodeInput> = modules.iter().map(|m| (*m).clone()).collect();
    let fat = fat::run(config, &modules, preserved, slots)?;
    let name = fat.report.base_module.clone().unwrap_or_default();
    let stem = crate::thin::file_stem(&name, used_stems);
    let extension = config.emit.extension();
    let objects = fat
        .objects
        .into_iter()
        .enumerate()
        .map(|(i, bytes)| OutputObject {
            name: name.clone(),
            file_name: if i == 0 {
                format!("{stem}.lto.{extension}")
            } else {
                format!("{stem}.lto.{i}.{extension}")
            },
            imports: Vec::new(),
            bytes,
            cache_key: None,
            reused_from_cache: false,
            lto: ModuleLto::Fat,
        })
        .collect::<Vec<_>>();
    let mut report = fat.report;
    if !config.explain.is_empty() {
        let start = Instant::now();
        report.explanations = crate::explain::explain_fat(
            &modules,
            preserved,
            config,
            &report,
            &objects,
            fat.inlining,
        )?;
        report.phases.push((Step::Explain, start.elapsed()));
    }
    Ok(LtoResult {
        objects,
        report,
        diagnostics: fat.diagnostics,
        jobs: Vec::new(),
    })
}

/// Thin LTO with the backends in this process, or in workers.
fn run_thin_in_process(
    run: &mut RunInputs<'_>,
    modules: &[&BitcodeInput],
    preserved: &BTreeSet<String>,
    kind: RunKind,
) -> Result<LtoResult> {
    let (config, shared) = (run.config, run.shared);
    let prepared = &mut run.prepared;
    let prefetched = std::mem::take(&mut run.prefetched);
    let progress = run.progress.map(|p| p.as_ref() as ProgressHook<'_>);
    let before_run = shared.created.elapsed();
    let setup = |executor| thin::ThinRunSetup {
        preserved,
        kind,
        progress,
        prefetched,
        executor,
        slots: &shared.slots,
    };
    let mut thin = match shared.pool.as_deref() {
        None => thin::run(config, || load_thin(modules, prepared, shared), setup(None))?,
        Some(pool) => {
            let copies = ModuleCopies::default();
            let load = || {
                let mut loaded = load_thin(modules, prepared, shared)?;
                assign_worker_paths(pool, &mut loaded)?;
                Ok(loaded)
            };
            let remarks = config.opt_remarks.as_ref();
            let keep_inlining = thin::keeps_inlining(config);
            let execute = |data: &ThinData, i: usize| {
                let remarks_file = remarks.map(|r| r.thin_file(i));
                let outputs = worker::BackendOutputs {
                    remarks_file: remarks_file.as_deref(),
                    keep_inlining,
                };
                contained_backend(pool, data, i, &copies, outputs)
            };
            thin::run(config, load, setup(Some(&execute)))?
        }
    };
    thin.report.thin.serial_before_backends += before_run;
    if let Some(inputs) = &thin.explain {
        let start = Instant::now();
        thin.report.explanations = crate::explain::explain_thin(inputs, &thin.objects, config)?;
        thin.report.phases.push((Step::Explain, start.elapsed()));
    }
    Ok(LtoResult {
        objects: thin.objects,
        report: thin.report,
        diagnostics: thin.diagnostics,
        jobs: Vec::new(),
    })
}

/// Distributed thin LTO: the thin link, then each module's index file (and
/// imports file) for a backend elsewhere.
fn write_index_files(
    run: &mut RunInputs<'_>,
    modules: &[&BitcodeInput],
    preserved: &BTreeSet<String>,
    kind: RunKind,
    options: &crate::thin::IndexOptions,
) -> Result<LtoResult> {
    let slots = &run.shared.slots;
    let mut report = Report {
        kind,
        ..Report::default()
    };
    let loaded = load_thin(modules, &mut run.prepared, run.shared)?;
    let start = Instant::now();
    let data = ThinData::build_for_index(loaded, preserved, run.config, options, slots)?;
    report.preserved = data.preserved().iter().cloned().collect();
    report.internalized = data.internalized();
    let thin_link = start.elapsed();
    report.phases.push((Step::ThinLink, thin_link));
    report.thin.thin_link = thin_link;
    let jobs = report.time(Step::IndexFiles, || data.write_index_files(options, slots))?;
    Ok(LtoResult {
        report,
        jobs,
        ..LtoResult::default()
    })
}

/// The run's output: the LTO objects (or jobs), then the objects of the
/// modules compiled alone, and the final link's items.
fn assemble(
    config: &Config,
    lto: LtoResult,
    lto_kind: Option<ModuleLto>,
    alone: Vec<Alone<'_>>,
    preserved: &BTreeSet<String>,
    native_inputs: Vec<LinkItem>,
) -> Output {
    let LtoResult {
        mut objects,
        mut report,
        mut diagnostics,
        jobs,
    } = lto;
    match lto_kind {
        Some(lto) => objects.iter_mut().for_each(|object| object.lto = lto),
        None => {
            report.kind = RunKind::NoLto;
            report.preserved = preserved.iter().cloned().collect();
        }
    }
    for Alone {
        module,
        stem,
        compiled,
    } in alone
    {
        let Some(compiled) = compiled else { continue };
        report.no_lto.push(crate::report::NoLtoModuleReport {
            name: module.name.clone(),
            steps: compiled.steps,
        });
        report.output_bytes += compiled.bytes.len();
        diagnostics.extend(compiled.diagnostics);
        objects.push(OutputObject {
            name: module.name.clone(),
            // `<stem>.o` (or `.s` / `.bc`), beside LTO's `<stem>.lto.o`.
            file_name: format!("{stem}.{}", config.emit.extension()),
            imports: Vec::new(),
            bytes: compiled.bytes,
            cache_key: None,
            reused_from_cache: false,
            lto: ModuleLto::No,
        });
    }
    Output {
        objects,
        jobs,
        native_inputs,
        report,
        diagnostics,
    }
}

/// The modules of a run, by the LTO they take part in.
struct Groups<'a> {
    no: Vec<&'a BitcodeInput>,
    lto: Vec<&'a BitcodeInput>,
}

/// Sorts the modules into those compiled alone and those of the one LTO
/// kind the run performs (`None` when every module opted out). Fat with
/// thin, or thin with thin-local, is an error naming one module of each.
fn group_by_lto<'a>(run: &RunInputs<'a>, kind: LtoKind) -> Result<(Option<ModuleLto>, Groups<'a>)> {
    let mut groups = Groups {
        no: Vec::new(),
        lto: Vec::new(),
    };
    let mut chosen: Option<(ModuleLto, &str)> = None;
    for module in &run.inputs.modules {
        let lto = run
            .module_lto
            .get(&module.name)
            .copied()
            .unwrap_or_default()
            .resolve(kind);
        if lto == ModuleLto::No {
            groups.no.push(module);
            continue;
        }
        match chosen {
            None => chosen = Some((lto, &module.name)),
            Some((first, first_name)) if first != lto => {
                let describe = |lto: ModuleLto| match lto {
                    ModuleLto::Fat => "fat LTO",
                    ModuleLto::Thin => "thin LTO",
                    _ => "thin-local LTO",
                };
                let reason = if first == ModuleLto::Fat || lto == ModuleLto::Fat {
                    "fat LTO links every module into one, so no module of the same session \
                     can be thin-linked; give them one kind, or run two sessions"
                } else {
                    "thin LTO takes archive members in, thin-local LTO leaves them native; \
                     give them one kind"
                };
                return Err(Error::LtoKindMix {
                    first: format!("{first_name} asks for {}", describe(first)),
                    second: format!("{} asks for {}", module.name, describe(lto)),
                    reason: reason.to_string(),
                });
            }
            Some(_) => {}
        }
        groups.lto.push(module);
    }
    // A fat session with every module opted out still emits its (empty)
    // object, as one with only native inputs does: `-o` always gets one.
    let lto = match chosen {
        Some((lto, _)) => Some(lto),
        None if kind == LtoKind::Fat => Some(ModuleLto::Fat),
        None => None,
    };
    Ok((lto, groups))
}

/// Loads thin modules: those prepared in the background are taken as they
/// are, the others prepared now; then file stems in module order.
fn load_thin(
    modules: &[&BitcodeInput],
    prepared: &mut HashMap<String, ThinModule>,
    shared: &Shared,
) -> Result<Vec<ThinModule>> {
    // What the background did not load, loaded now in parallel.
    let missing: Vec<&BitcodeInput> = modules
        .iter()
        .filter(|input| !prepared.contains_key(&input.name))
        .copied()
        .collect();
    let fresh = shared.slots.map(missing.len(), "lto-engine-load", |k| {
        shared.load(missing[k])
    })?;
    for (input, module) in missing.iter().zip(fresh) {
        prepared.insert(input.name.clone(), module);
    }
    let mut loaded = modules
        .iter()
        .map(|input| {
            prepared.remove(&input.name).ok_or_else(|| {
                Error::invalid(&input.name, Phase::ThinLink, "not loaded for the thin link")
            })
        })
        .collect::<Result<Vec<_>>>()?;
    thin::assign_file_stems(&mut loaded);
    Ok(loaded)
}

/// Copies of modules without a file of their own, written for workers'
/// backends when first needed (a warm run that compiles nothing writes
/// none), by module identifier.
#[derive(Default)]
struct ModuleCopies(Mutex<HashSet<String>>);

impl ModuleCopies {
    /// Makes sure the module identified by `id` is on disk at `id`.
    fn ensure(&self, data: &ThinData, id: &str) -> Result<()> {
        let Some(module) = data.modules().iter().find(|m| m.id == id) else {
            return Ok(());
        };
        if module.file.is_some() {
            return Ok(());
        }
        // Held while writing: a backend that needs the same copy waits for
        // the whole file.
        let mut written = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if written.contains(id) {
            return Ok(());
        }
        crate::fs::write_atomically(Path::new(id), module.bytes.as_slice())?;
        written.insert(id.to_string());
        Ok(())
    }
}

/// Module `i`'s backend in a worker: its index slice written for it, the
/// module and the modules it imports from on disk.
fn contained_backend(
    pool: &Pool,
    data: &ThinData,
    i: usize,
    copies: &ModuleCopies,
    outputs: worker::BackendOutputs<'_>,
) -> Result<thin::BackendOutput> {
    let module = &data.modules()[i];
    let slice = data
        .index()
        .module_index_file(&module.id)
        .map_err(|reason| Error::llvm(module.name.clone(), Phase::ThinLink, reason))?;
    copies.ensure(data, &module.id)?;
    for source in &slice.sources {
        copies.ensure(data, source)?;
    }
    let index = worker::write_file(pool, ".thinlto.bc", &slice.index)?;
    // The index's hashes may name modules (stable promotion names): the
    // worker checks the files against their content hashes instead.
    let mut content_hashes = std::collections::BTreeMap::new();
    for id in std::iter::once(&module.id).chain(&slice.sources) {
        let hash = data
            .index()
            .content_hash(id)
            .map_err(|reason| Error::llvm(module.name.clone(), Phase::ThinLink, reason))?;
        content_hashes.insert(id.clone(), hash);
    }
    let output = worker::backend(
        pool,
        &module.name,
        &module.file_stem,
        Path::new(&module.id),
        &index,
        &content_hashes,
        outputs,
    );
    let _ = std::fs::remove_file(&index);
    output
}

/// Gives each module the path a worker's backend opens it by, which is
/// also its identifier in the index: `<pool>/m<rank>.bc`, where the rank is
/// the module's place in name order. LLVM orders some work by module
/// identifier (the modules a backend imports from, and so the `.N`
/// suffixes of clashing names), so identifiers ordered as the names are
/// give the objects an in-process run gives. A module with a file of its
/// own gets a symbolic link to it; the others are copied when a backend
/// first needs them ([`ModuleCopies`]).
fn assign_worker_paths(pool: &Pool, modules: &mut [ThinModule]) -> Result<()> {
    let mut by_name: Vec<usize> = (0..modules.len()).collect();
    by_name.sort_by(|&a, &b| modules[a].name.cmp(&modules[b].name));
    for (rank, &i) in by_name.iter().enumerate() {
        let path = pool.dir().join(format!("m{rank:08}.bc"));
        let module = &mut modules[i];
        if let Some(file) = &module.file {
            let target =
                std::path::absolute(file).map_err(|e| Error::io(file.display(), Phase::Read, e))?;
            #[cfg(unix)]
            std::os::unix::fs::symlink(&target, &path)
                .map_err(|e| Error::io(path.display(), Phase::Write, e))?;
            #[cfg(not(unix))]
            std::fs::copy(&target, &path)
                .map(drop)
                .map_err(|e| Error::io(path.display(), Phase::Write, e))?;
        }
        module.id = path.display().to_string();
    }
    Ok(())
}
