//! The library entry point: a [`Session`] collects modules and symbols to
//! preserve, then runs LTO.

use crate::config::Config;
use crate::error::{Error, Phase, Result};
use crate::fat;
use crate::input::{InputBytes, InputOptions, Inputs, LinkItem};
use crate::llvm::ModuleBuffer;
use crate::output::{Output, OutputObject};
use crate::thin::{self, DistributedModule, IndexOptions, ProgressHook, ThinData};
use inkwell::module::Module;
use std::collections::BTreeSet;
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
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("config", &self.config)
            .field("inputs", &self.inputs)
            .field("exports", &self.exports)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session with `config`. Fails when the configured target cannot be
    /// built.
    pub fn new(config: Config) -> Result<Self> {
        if let Some(triple) = &config.target_triple {
            crate::codegen::target_machine(&config, triple)?;
        }
        Ok(Session {
            config,
            inputs: Inputs::default(),
            exports: BTreeSet::new(),
            progress: None,
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

    /// Runs LTO of `kind` over the inputs.
    pub fn run(&self, kind: LtoKind) -> Result<Output> {
        match kind {
            LtoKind::Fat => {
                let preserved = self.preserved_symbols();
                let (bytes, report) = fat::run(&self.config, &self.inputs.modules, &preserved)?;
                Ok(Output {
                    objects: vec![OutputObject {
                        name: report.base_module.clone().unwrap_or_default(),
                        file_name: String::new(),
                        imports: Vec::new(),
                        bytes,
                        cache_key: None,
                        reused_from_cache: false,
                    }],
                    native_inputs: self.inputs.link_items.clone(),
                    report,
                })
            }
            LtoKind::Thin => {
                let preserved = self.preserved_symbols();
                let progress = self.progress.as_deref().map(|p| p as ProgressHook<'_>);
                let (objects, report) = thin::run(
                    &self.config,
                    &self.inputs.modules,
                    &preserved,
                    "thin",
                    progress,
                )?;
                Ok(Output {
                    objects,
                    native_inputs: self.inputs.link_items.clone(),
                    report,
                })
            }
            LtoKind::ThinLocal => self.run_thin_local(),
        }
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

    /// Thin LTO over the modules not from archives; archives go to the link
    /// as they are, their native code in place of their embedded bitcode.
    fn run_thin_local(&self) -> Result<Output> {
        let mut preserved = self.preserved_symbols();
        let mut local = Vec::new();
        let mut upstream = BTreeSet::new();
        for module in &self.inputs.modules {
            let Some(source) = &module.archive else {
                local.push(module.clone());
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
        let native_inputs = self
            .inputs
            .link_items
            .iter()
            .map(|item| match item {
                LinkItem::NativeMembers { archive, .. } if upstream.contains(archive) => {
                    LinkItem::Native(archive.clone())
                }
                other => other.clone(),
            })
            .collect();
        let progress = self.progress.as_deref().map(|p| p as ProgressHook<'_>);
        let (objects, report) =
            thin::run(&self.config, &local, &preserved, "thin-local", progress)?;
        Ok(Output {
            objects,
            native_inputs,
            report,
        })
    }
}
