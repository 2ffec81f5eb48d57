//! The library entry point: a [`Session`] collects modules and symbols to
//! preserve, then runs LTO.

use crate::config::Config;
use crate::error::{Error, Phase, Result};
use crate::fat;
use crate::input::BitcodeInput;
use crate::input::{InputBytes, InputOptions, Inputs, LinkItem};
use crate::llvm::ModuleBuffer;
use crate::output::{Output, OutputObject};
use crate::report::{Report, RunKind};
use crate::thin::{self, DistributedModule, IndexOptions, ProgressHook, ThinData, ThinModule};
use inkwell::module::Module;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which LTO to run.
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
    fn module_lto(self) -> ModuleLto {
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
pub enum ModuleLto {
    /// The kind the session runs ([`Session::run`]'s, or the stream's).
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

/// What a module is, for [`ModuleLto::for_role`]: rustc's `ModuleKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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

    /// The kind in a session running `kind`.
    fn resolve(self, kind: LtoKind) -> ModuleLto {
        match self {
            ModuleLto::Session => kind.module_lto(),
            other => other,
        }
    }
}

/// What [`Session::write_index_files`] wrote: the files of every backend job
/// and what the final link needs.
#[derive(Debug, Clone)]
pub struct IndexFiles {
    /// Per module, in module order: the bitcode to compile, its index and
    /// imports files, where its object goes, what it imports from.
    pub modules: Vec<DistributedModule>,
    /// `link.rsp` in the index directory: the final link's items in order,
    /// with the backends' objects where the LTO output goes (the objects
    /// exist once the jobs have run).
    pub link_rsp: PathBuf,
    /// Copies of mixed archives with only their native members.
    pub archives: Vec<PathBuf>,
    /// Time of the thin link.
    pub thin_link: Duration,
}

/// Called as ThinLTO backends finish: (modules done, total, module name).
pub type Progress = Arc<dyn Fn(usize, usize, &str) + Send + Sync>;

/// An LTO session: add inputs, name what must stay visible, run.
pub struct Session {
    config: Config,
    inputs: Inputs,
    exports: BTreeSet<String>,
    progress: Option<Progress>,
    module_lto: HashMap<String, ModuleLto>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("config", &self.config)
            .field("inputs", &self.inputs)
            .field("exports", &self.exports)
            .field("module_lto", &self.module_lto)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session with `config`. Fails when the configured target cannot be
    /// built.
    pub fn new(config: Config) -> Result<Self> {
        check_config(&config)?;
        Ok(Session {
            config,
            inputs: Inputs::default(),
            exports: BTreeSet::new(),
            progress: None,
            module_lto: HashMap::new(),
        })
    }

    /// The session's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Adds an in-memory module, serialized now with LLVM's bitcode writer
    /// (its context may be dropped right after).
    pub fn add_module(&mut self, name: &str, module: &Module<'_>) -> Result<()> {
        let buffer = ModuleBuffer::new(module)
            .map_err(|reason| Error::invalid(name, Phase::Write, reason))?;
        self.inputs.add_bitcode(name, InputBytes::module(buffer))
    }

    /// Adds an in-memory module that takes part in `lto` (see
    /// [`ModuleLto::for_role`] for rustc's choice).
    pub fn add_module_with(
        &mut self,
        name: &str,
        module: &Module<'_>,
        lto: ModuleLto,
    ) -> Result<()> {
        self.add_module(name, module)?;
        self.set_module_lto(name, lto)
    }

    /// Sets the LTO module `name` (as added, or an archive member's
    /// `lib.a(member.o)`) takes part in. Unknown names are an error.
    pub fn set_module_lto(&mut self, name: &str, lto: ModuleLto) -> Result<()> {
        if !self.inputs.modules.iter().any(|m| m.name == name) {
            return Err(Error::Config(format!(
                "set_module_lto: no module named {name:?} was added"
            )));
        }
        self.module_lto.insert(name.to_string(), lto);
        Ok(())
    }

    /// Adds bitcode held in memory under a unique `name`.
    pub fn add_bitcode(&mut self, name: &str, bytes: impl Into<Vec<u8>>) -> Result<()> {
        self.inputs
            .add_bitcode(name, InputBytes::owned(bytes.into()))
    }

    /// Adds a file (bitcode, object, archive), with the session's default
    /// handling of embedded bitcode.
    pub fn add_path(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let options = self.config.input_options;
        self.add_path_with(path, options)
    }

    /// Adds a file with its own handling of embedded bitcode.
    pub fn add_path_with(&mut self, path: impl AsRef<Path>, options: InputOptions) -> Result<()> {
        self.inputs.add_path(path.as_ref(), options)
    }

    /// Names symbols that must stay visible (exported) after LTO.
    pub fn preserve<I, S>(&mut self, symbols: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.exports.extend(symbols.into_iter().map(Into::into));
    }

    /// Everything that stays visible: the exports plus every symbol native
    /// inputs reference.
    pub fn preserved_symbols(&self) -> BTreeSet<String> {
        let mut all = self.exports.clone();
        all.extend(self.inputs.native_references.iter().cloned());
        all
    }

    /// Calls `hook` as each ThinLTO backend finishes (for a progress bar).
    pub fn on_progress(&mut self, hook: impl Fn(usize, usize, &str) + Send + Sync + 'static) {
        self.progress = Some(Arc::new(hook));
    }

    /// The inputs added so far, classified.
    pub fn inputs(&self) -> &Inputs {
        &self.inputs
    }

    /// Runs LTO of `kind` over the inputs. Modules given another
    /// [`ModuleLto`] take part in that instead.
    pub fn run(&self, kind: LtoKind) -> Result<Output> {
        run_modules(
            RunInputs {
                config: &self.config,
                inputs: &self.inputs,
                exports: &self.exports,
                module_lto: &self.module_lto,
                progress: self.progress.as_ref(),
                prepared: HashMap::new(),
                prefetched: HashMap::new(),
            },
            kind,
        )
    }

    /// The thin link of distributed ThinLTO: instead of running backends,
    /// writes each module's slice of the index (and imports file) where
    /// `options` says, copies of modules that have no bitcode file of their
    /// own, and `link.rsp` for the final link. The jobs (see
    /// [`thin::distributor_json`]) then run anywhere, with `clang
    /// -fthinlto-index=` or `lto-engine backend`.
    pub fn write_index_files(&self, options: &IndexOptions) -> Result<IndexFiles> {
        let preserved = self.preserved_symbols();
        let start = Instant::now();
        let data =
            ThinData::build_for_index(&self.inputs.modules, &preserved, &self.config, options)?;
        let thin_link = start.elapsed();
        let modules = data.write_index_files(options)?;
        let objects: Vec<PathBuf> = modules.iter().map(|m| m.native_object.clone()).collect();
        let (link_rsp, archives) =
            crate::output::write_link_rsp(&options.index_dir, &self.inputs.link_items, &objects)?;
        Ok(IndexFiles {
            modules,
            link_rsp,
            archives,
            thin_link,
        })
    }
}

/// Checks a configuration before any input is read: the target can be
/// built, the remark pattern is a valid regex.
pub(crate) fn check_config(config: &Config) -> Result<()> {
    if let Some(triple) = &config.target_triple {
        crate::codegen::target_machine(config, triple, None)?;
    }
    if config.remarks.is_some() {
        crate::codegen::module_context(config, true)?;
    }
    Ok(())
}

/// Everything a run reads, from a [`Session`] or a streaming session.
pub(crate) struct RunInputs<'a> {
    pub config: &'a Config,
    pub inputs: &'a Inputs,
    pub exports: &'a BTreeSet<String>,
    pub module_lto: &'a HashMap<String, ModuleLto>,
    pub progress: Option<&'a Progress>,
    /// Thin modules already loaded (with summaries) by name, from a
    /// streaming session's early work; the others are loaded in the run.
    pub prepared: HashMap<String, ThinModule>,
    /// Cache entries a streaming session read early.
    pub prefetched: thin::Prefetched,
}

/// Runs a session: modules that opted out of LTO are compiled alone first
/// (what they use stays visible), then the LTO of the others' kind.
pub(crate) fn run_modules(mut run: RunInputs<'_>, kind: LtoKind) -> Result<Output> {
    let (lto_kind, groups) = group_by_lto(&run, kind)?;
    let config = run.config;

    // Modules without LTO, in parallel under the session's jobs.
    let alone = &groups.no;
    let mut used_stems = std::collections::HashSet::new();
    let stems: Vec<String> = alone
        .iter()
        .map(|m| crate::thin::file_stem(&m.name, &mut used_stems))
        .collect();
    let order: Vec<usize> = (0..alone.len()).collect();
    let (compiled, _) = crate::jobs::run_each(
        &order,
        alone.len(),
        &config.jobs.resolve(),
        "lto-engine-no-lto",
        |i| crate::nolto::compile(config, alone[i], &stems[i]),
    )?;

    let mut preserved = run.exports.clone();
    preserved.extend(run.inputs.native_references.iter().cloned());
    for module in compiled.iter().flatten() {
        preserved.extend(module.undefined.iter().cloned());
    }

    let progress = run.progress.map(|p| p.as_ref() as ProgressHook<'_>);
    let mut native_inputs = run.inputs.link_items.clone();
    let (mut objects, mut report, mut diagnostics) = match lto_kind {
        None => (Vec::new(), Report::default(), Vec::new()),
        Some(ModuleLto::Fat) => {
            let modules: Vec<BitcodeInput> = groups.lto.iter().map(|m| (*m).clone()).collect();
            let (bytes, report, diagnostics) = fat::run(config, &modules, &preserved)?;
            let object = OutputObject {
                name: report.base_module.clone().unwrap_or_default(),
                file_name: String::new(),
                imports: Vec::new(),
                bytes,
                cache_key: None,
                reused_from_cache: false,
                lto: ModuleLto::Fat,
            };
            (vec![object], report, diagnostics)
        }
        Some(ModuleLto::ThinLocal) => {
            let mut local = Vec::new();
            let mut upstream = BTreeSet::new();
            for module in &groups.lto {
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
            native_inputs = native_inputs
                .into_iter()
                .map(|item| match item {
                    LinkItem::NativeMembers { archive, .. } if upstream.contains(&archive) => {
                        LinkItem::Native(archive)
                    }
                    other => other,
                })
                .collect();
            let prepared = &mut run.prepared;
            thin::run(
                config,
                || load_thin(&local, prepared),
                &preserved,
                RunKind::ThinLocal,
                progress,
                std::mem::take(&mut run.prefetched),
            )?
        }
        Some(_) => {
            let prepared = &mut run.prepared;
            thin::run(
                config,
                || load_thin(&groups.lto, prepared),
                &preserved,
                RunKind::Thin,
                progress,
                std::mem::take(&mut run.prefetched),
            )?
        }
    };
    if let Some(lto) = lto_kind {
        for object in &mut objects {
            object.lto = lto;
        }
    }
    if lto_kind.is_none() {
        report.kind = RunKind::NoLto;
        report.preserved = preserved.iter().cloned().collect();
    }
    for ((module, stem), compiled) in alone.iter().zip(&stems).zip(compiled) {
        let Some(compiled) = compiled else { continue };
        report.no_lto.push(crate::report::NoLtoModuleReport {
            name: module.name.clone(),
            steps: compiled.steps,
        });
        report.output_bytes += compiled.bytes.len();
        diagnostics.extend(compiled.diagnostics);
        objects.push(OutputObject {
            name: module.name.clone(),
            // `<stem>.o` (or `.s` / `.bc`), beside thin's `<stem>.lto.o`.
            file_name: format!("{stem}.{}", config.emit.extension()),
            imports: Vec::new(),
            bytes: compiled.bytes,
            cache_key: None,
            reused_from_cache: false,
            lto: ModuleLto::No,
        });
    }
    Ok(Output {
        objects,
        native_inputs,
        report,
        diagnostics,
    })
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

/// Loads thin modules: those a streaming session prepared are taken as
/// they are, the others prepared now; then file stems in module order.
fn load_thin(
    modules: &[&BitcodeInput],
    prepared: &mut HashMap<String, ThinModule>,
) -> Result<Vec<ThinModule>> {
    let mut loaded = modules
        .iter()
        .map(|input| match prepared.remove(&input.name) {
            Some(module) => Ok(module),
            None => crate::thin::prepare(input),
        })
        .collect::<Result<Vec<_>>>()?;
    crate::thin::assign_file_stems(&mut loaded);
    Ok(loaded)
}
