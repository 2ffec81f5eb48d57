//! Distributed ThinLTO. The thin link runs here and writes, per module, its
//! slice of the combined index (`<module>.thinlto.bc`) and optionally its
//! imports list, placed by lld's rules (`--thinlto-prefix-replace`); the
//! backends run anywhere, as `clang -fthinlto-index=` or `lto-engine
//! backend` jobs, described in the JSON lld 22 hands to a
//! `--thinlto-distributor`. [`backend_from_index`](crate::distributed::backend_from_index)(crate::distributed::backend_from_index) is the single-module
//! backend.
//!
//! Module paths recorded in the index are the files a backend opens: a
//! bitcode input file as given (after `--object-suffix-replace`), or, for a
//! module with no file of its own (an archive member, embedded bitcode, an
//! in-memory module, bitcode that needed a summary), a copy the thin link
//! writes into the index directory.

use super::backend::{backend_context, machine_for, run_steps, StepNames, Steps};
use super::index::{ThinData, ThinModule};
use crate::config::{Config, EmitKind, OptLevel, RelocModel};
use crate::error::{Error, Phase, Result};
use crate::fs::write_if_changed;
use crate::input::{classify, parse_error, InputBytes, ModuleOrigin};
use crate::jobs::JobSlots;
use crate::llvm::{self, IndexedModule, ThinIndex};
pub use crate::output::DistributedModule;
use crate::report::Step;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

/// lld's `--thinlto-prefix-replace=old;new[;native]`: a module at
/// `old<rest>` gets its index and imports files at `new<rest>.thinlto.bc`
/// and `new<rest>.imports`, and its backend object at `native<rest>`
/// (`new<rest>` without a native prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixReplace {
    /// The prefix module paths start with.
    pub old: String,
    /// Where index and imports files go instead.
    pub new: String,
    /// Where backend objects go, if not under `new`.
    pub native: Option<String>,
}

impl FromStr for PrefixReplace {
    type Err = String;
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let parts: Vec<&str> = text.split(';').collect();
        match parts.as_slice() {
            [old, new] => Ok(PrefixReplace {
                old: old.to_string(),
                new: new.to_string(),
                native: None,
            }),
            [old, new, native] => Ok(PrefixReplace {
                old: old.to_string(),
                new: new.to_string(),
                native: Some(native.to_string()),
            }),
            _ => Err(format!(
                "--prefix-replace takes 'old;new' or 'old;new;native', not {text:?}"
            )),
        }
    }
}

/// lld's `--thinlto-object-suffix-replace=old;new`: the thin link reads
/// minimized bitcode (`clang -fthin-link-bitcode=X.thinlink.bc`) while the
/// index records the full bitcode the backends compile (`X.o`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuffixReplace {
    /// The suffix of the files the thin link reads.
    pub old: String,
    /// The suffix of the files the backends open.
    pub new: String,
}

impl FromStr for SuffixReplace {
    type Err = String;
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        match text.split_once(';') {
            Some((old, new)) if !new.contains(';') => Ok(SuffixReplace {
                old: old.to_string(),
                new: new.to_string(),
            }),
            _ => Err(format!(
                "--object-suffix-replace takes 'old;new', not {text:?}"
            )),
        }
    }
}

/// Where a distributed thin link puts its files.
#[derive(Debug, Clone)]
pub struct IndexOptions {
    /// The engine's own files: `link.rsp`, copies of modules that have no
    /// file of their own, native-member copies of mixed archives and, without
    /// a prefix replacement, the index, imports and object files
    /// (`<module>.thinlto.bc`, `<module>.imports`, `<module>.lto.o`).
    pub index_dir: PathBuf,
    /// lld's prefix replacement for index, imports and object paths.
    pub prefix_replace: Option<PrefixReplace>,
    /// lld's object suffix replacement for the module paths the index
    /// records.
    pub object_suffix_replace: Option<SuffixReplace>,
    /// Also write `<module>.imports` (lld's `--thinlto-emit-imports-files`).
    pub emit_imports: bool,
}

impl IndexOptions {
    /// Files in `index_dir`, no path rewriting, no imports files.
    pub fn new(index_dir: impl Into<PathBuf>) -> Self {
        IndexOptions {
            index_dir: index_dir.into(),
            prefix_replace: None,
            object_suffix_replace: None,
            emit_imports: false,
        }
    }
}

/// What runs a distributed backend job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStyle {
    /// `clang -c -x ir M -fthinlto-index=I -o O`, as lld 22 writes jobs.
    Clang,
    /// `lto-engine backend M --index=I -o O`.
    Engine,
}

/// The program a distributor runs for each job, and its command-line style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCompiler {
    /// The executable (lld's `--thinlto-remote-compiler`).
    pub path: PathBuf,
    /// How its jobs are spelled.
    pub style: JobStyle,
}

impl RemoteCompiler {
    /// `path`, with the style its file name suggests: clang for `clang*`,
    /// the engine's own otherwise.
    pub fn guess(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let clang = path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with("clang"));
        RemoteCompiler {
            path,
            style: if clang {
                JobStyle::Clang
            } else {
                JobStyle::Engine
            },
        }
    }
}

impl ThinData {
    /// The thin link of a distributed build over loaded modules: as
    /// [`ThinData::link`], but each module is indexed under the path its
    /// backend will open. Modules without a bitcode file of their own are
    /// first written into `options.index_dir` (left alone when already
    /// identical).
    pub(crate) fn build_for_index(
        mut modules: Vec<ThinModule>,
        preserved: &BTreeSet<String>,
        config: &Config,
        options: &IndexOptions,
        slots: &JobSlots,
    ) -> Result<ThinData> {
        create_dir(&options.index_dir)?;
        let paths: Vec<(String, bool)> = modules
            .iter()
            .map(|module| backend_module_path(module, options))
            .collect();
        // Copies of the modules without a file of their own, in parallel
        // (as the index files).
        slots.map(modules.len(), "lto-engine-copy", |i| {
            let (id, written) = &paths[i];
            if *written {
                write_if_changed(Path::new(id), modules[i].bytes.as_slice())?;
            }
            Ok(())
        })?;
        for (module, (id, _)) in modules.iter_mut().zip(paths) {
            // Files are named after the module the backend compiles (`X.o`),
            // not the minimized file the thin link read, as lld names them.
            if let Some(replace) = &options.object_suffix_replace {
                if let Some(stem) = module.file_stem.strip_suffix(replace.old.as_str()) {
                    if id != module.name {
                        module.file_stem = format!("{stem}{}", replace.new);
                    }
                }
            }
            module.id = id;
        }
        let mut seen = HashSet::new();
        for module in &modules {
            if !seen.insert(module.id.as_str()) {
                return Err(Error::invalid(
                    &module.name,
                    Phase::Distribute,
                    format!(
                        "two modules would be compiled from the same file {}",
                        module.id
                    ),
                ));
            }
        }
        ThinData::link(modules, preserved, config, false)
    }

    /// Writes every module's `<module>.thinlto.bc` (its slice of the index,
    /// as `writeIndexToFile` writes it for a distributed backend) and, with
    /// `options.emit_imports`, its `<module>.imports`, where `options` says
    /// (see [`IndexOptions`]). Files already holding the same bytes are left
    /// in place. Returns each module's job files, in module order.
    pub(crate) fn write_index_files(
        &self,
        options: &IndexOptions,
        slots: &JobSlots,
    ) -> Result<Vec<DistributedModule>> {
        let mut planned = Vec::with_capacity(self.modules().len());
        let mut objects = HashSet::new();
        for module in self.modules() {
            let paths = job_paths(module, options);
            if paths.native_object.as_os_str() == module.id.as_str() {
                return Err(Error::invalid(
                    &module.name,
                    Phase::Distribute,
                    format!(
                        "its backend object would overwrite its bitcode {}; give a \
                         --prefix-replace whose old prefix covers it",
                        module.id
                    ),
                ));
            }
            if !objects.insert(paths.native_object.clone()) {
                return Err(Error::invalid(
                    &module.name,
                    Phase::Distribute,
                    format!(
                        "another module's backend object is also {}",
                        paths.native_object.display()
                    ),
                ));
            }
            planned.push((module, paths));
        }
        // Writing is mostly waiting for the disk (each file is synced before
        // its rename): in parallel, those waits overlap. Slicing only reads
        // the index.
        slots.map(planned.len(), "lto-engine-index", |i| {
            let (module, paths) = &planned[i];
            self.write_module_files(module, paths.clone(), options)
        })
    }

    fn write_module_files(
        &self,
        module: &ThinModule,
        paths: JobPaths,
        options: &IndexOptions,
    ) -> Result<DistributedModule> {
        let file = self
            .index()
            .module_index_file(&module.id)
            .map_err(|reason| Error::llvm(module.name.clone(), Phase::Distribute, reason))?;
        write_creating_dirs(&paths.index_file, &file.index)?;
        let imports_file = if options.emit_imports {
            let mut text = String::new();
            for source in &file.sources {
                text.push_str(source);
                text.push('\n');
            }
            write_creating_dirs(&paths.imports_file, text.as_bytes())?;
            Some(paths.imports_file)
        } else {
            None
        };
        if let Some(parent) = paths.native_object.parent() {
            create_dir(parent)?;
        }
        Ok(DistributedModule {
            name: module.name.clone(),
            module_path: module.id.clone(),
            module_written: backend_module_path(module, options).1,
            index_file: paths.index_file,
            imports_file,
            native_object: paths.native_object,
            imports: file.sources,
        })
    }
}

/// The path a module's backend opens, and whether the thin link must write
/// it: bitcode files are used where they are; everything else is copied to
/// `<index dir>/<stem>.bc`.
fn backend_module_path(module: &ThinModule, options: &IndexOptions) -> (String, bool) {
    if module.origin == ModuleOrigin::File {
        if let Some(replace) = &options.object_suffix_replace {
            if let Some(stem) = module.name.strip_suffix(replace.old.as_str()) {
                // The minimized thin-link file stands for the full bitcode.
                return (format!("{stem}{}", replace.new), false);
            }
        }
        if !module.summary_added {
            return (module.name.clone(), false);
        }
    }
    let path = options.index_dir.join(format!("{}.bc", module.file_stem));
    (path.display().to_string(), true)
}

/// A module's index, imports and object paths.
#[derive(Clone)]
struct JobPaths {
    index_file: PathBuf,
    imports_file: PathBuf,
    native_object: PathBuf,
}

/// lld's placement under a prefix replacement (`new<rest>.thinlto.bc`,
/// `native<rest>`); a module outside the old prefix keeps its index files
/// beside it, as lld does. Without a replacement everything goes to the
/// index directory. An object that lld would write over the module itself
/// goes to the index directory instead.
fn job_paths(module: &ThinModule, options: &IndexOptions) -> JobPaths {
    let in_dir = |suffix: &str| {
        options
            .index_dir
            .join(format!("{}{suffix}", module.file_stem))
    };
    let Some(replace) = &options.prefix_replace else {
        return JobPaths {
            index_file: in_dir(".thinlto.bc"),
            imports_file: in_dir(".imports"),
            native_object: in_dir(".lto.o"),
        };
    };
    let (base, object) = match module.id.strip_prefix(replace.old.as_str()) {
        Some(rest) => (
            format!("{}{rest}", replace.new),
            format!("{}{rest}", replace.native.as_ref().unwrap_or(&replace.new)),
        ),
        None => (module.id.clone(), module.id.clone()),
    };
    let native_object = if object == module.id {
        in_dir(".lto.o")
    } else {
        PathBuf::from(object)
    };
    JobPaths {
        index_file: PathBuf::from(format!("{base}.thinlto.bc")),
        imports_file: PathBuf::from(format!("{base}.imports")),
        native_object,
    }
}

fn create_dir(dir: &Path) -> Result<()> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), Phase::Write, e))
}

fn write_creating_dirs(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        create_dir(parent)?;
    }
    write_if_changed(path, bytes).map(|_| ())
}

/// The job list lld 22 hands to a `--thinlto-distributor`: common arguments
/// (the compiler first), then per job its arguments, inputs (the module,
/// its index, the modules it imports from) and outputs (the object).
/// Concatenating common and job arguments gives a command that `compiler`
/// runs anywhere the listed inputs are.
pub fn distributor_json(
    modules: &[DistributedModule],
    compiler: &RemoteCompiler,
    config: &Config,
    linker_output: &str,
) -> Value {
    let mut common = vec![compiler.path.display().to_string()];
    match compiler.style {
        JobStyle::Clang => {
            common.extend(["-c", "-x", "ir"].map(String::from));
            if let Some(triple) = &config.target_triple {
                common.push(format!("--target={triple}"));
            }
            common.push(format!("-{}", config.opt_level.pipeline_suffix()));
            common.push(
                match config.reloc_model {
                    RelocModel::Pic => "-fPIC",
                    RelocModel::Static | RelocModel::DynamicNoPic => "-fno-pic",
                }
                .to_string(),
            );
            if config.function_sections {
                common.push("-ffunction-sections".to_string());
            }
            if config.data_sections {
                common.push("-fdata-sections".to_string());
            }
            if let Some(cpu) = &config.target_cpu {
                common.extend(["-Xclang", "-target-cpu", "-Xclang", cpu].map(String::from));
            }
            for feature in config.target_features.split(',').filter(|f| !f.is_empty()) {
                common.extend(["-Xclang", "-target-feature", "-Xclang", feature].map(String::from));
            }
            match config.emit {
                EmitKind::Object => {}
                EmitKind::Assembly => common.push("-S".to_string()),
                EmitKind::Bitcode => common.push("-emit-llvm".to_string()),
            }
            common.push("-Wno-unused-command-line-argument".to_string());
        }
        JobStyle::Engine => {
            common.push("backend".to_string());
            common.push(format!("-O{}", OptLevel::as_str(config.opt_level)));
            if let Some(triple) = &config.target_triple {
                common.push(format!("--target={triple}"));
            }
            if let Some(cpu) = &config.target_cpu {
                common.push(format!("--target-cpu={cpu}"));
            }
            if !config.target_features.is_empty() {
                common.push(format!("--target-features={}", config.target_features));
            }
            match config.emit {
                EmitKind::Object => {}
                EmitKind::Assembly => common.push("--emit=asm".to_string()),
                EmitKind::Bitcode => common.push("--emit=bc".to_string()),
            }
        }
    }
    let jobs: Vec<Value> = modules
        .iter()
        .map(|module| {
            let index = module.index_file.display().to_string();
            let object = module.native_object.display().to_string();
            let index_arg = match compiler.style {
                JobStyle::Clang => format!("-fthinlto-index={index}"),
                JobStyle::Engine => format!("--index={index}"),
            };
            let mut inputs = vec![module.module_path.clone(), index];
            inputs.extend(module.imports.iter().cloned());
            json!({
                "args": [module.module_path, index_arg, "-o", object],
                "inputs": inputs,
                "outputs": [object],
            })
        })
        .collect();
    json!({
        "common": {
            "linker_output": linker_output,
            "args": common,
            "inputs": [],
        },
        "jobs": jobs,
    })
}

/// Runs `distributor` (program, then its arguments) on the job file
/// `json_path`, as lld does: `distributor [args...] jobs.json`. Outputs left
/// by an earlier run are removed first, so that a job that writes nothing is
/// caught. Fails when the distributor fails or an object is missing.
pub fn run_distributor(
    distributor: &[String],
    json_path: &Path,
    modules: &[DistributedModule],
) -> Result<()> {
    let Some((program, args)) = distributor.split_first() else {
        return Err(Error::Config(
            "the distributor command is empty".to_string(),
        ));
    };
    let command_text = distributor.join(" ");
    for module in modules {
        crate::fs::remove_if_present(&module.native_object)?;
    }
    let status = std::process::Command::new(program)
        .args(args)
        .arg(json_path)
        .status()
        .map_err(|e| Error::External {
            command: command_text.clone(),
            reason: format!("cannot run the distributor: {e}"),
        })?;
    if !status.success() {
        let how = match status.code() {
            Some(code) => format!("exit status {code}"),
            None => "killed by a signal".to_string(),
        };
        return Err(Error::External {
            command: command_text,
            reason: format!("the distributor failed ({how}) on {}", json_path.display()),
        });
    }
    let missing: Vec<&DistributedModule> = modules
        .iter()
        .filter(|m| std::fs::metadata(&m.native_object).map_or(true, |meta| meta.len() == 0))
        .collect();
    if let Some(first) = missing.first() {
        let more = match missing.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        return Err(Error::External {
            command: command_text,
            reason: format!(
                "the distributor succeeded but the job for {} left no object {}{more}",
                first.name,
                first.native_object.display()
            ),
        });
    }
    Ok(())
}

/// What [`backend_from_index`](crate::distributed::backend_from_index) produced.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct IndexedBackendOutput {
    /// The object (or assembly / bitcode).
    pub bytes: Vec<u8>,
    /// The module's path in the index.
    pub module_id: String,
    /// The modules it imported from, as the index names them.
    pub imported_from: Vec<String>,
    /// The index was empty (lld writes such files for lazy bitcode it left
    /// out of the link): the object is empty, as clang makes it.
    pub skipped: bool,
    /// Wall time of each step.
    pub steps: Vec<(Step, Duration)>,
    /// The warnings and remarks LLVM reported on the way.
    pub diagnostics: Vec<llvm::Diagnostic>,
    /// The inliner's decisions, when asked for (a worker's backend for a
    /// host that explains or caches).
    pub(crate) inlining: Option<Vec<llvm::InlineDecision>>,
}

/// How a worker names the module it compiles from a copy: its name in the
/// host (errors, diagnostics) and its file stem (save-temps files).
pub(crate) struct HostNames<'a> {
    /// The module's name.
    pub name: &'a str,
    /// Its file stem.
    pub stem: &'a str,
    /// The content hashes of the module and its import sources, by path,
    /// when the index's hashes name modules instead (stable promotion
    /// names): checked in place of the index's.
    pub content_hashes: &'a BTreeMap<String, [u8; 20]>,
}

/// [`backend_from_index`](crate::distributed::backend_from_index)(crate::distributed::backend_from_index), naming the module as `names` says when given
/// (else by its path).
pub(crate) fn backend_for(
    config: &Config,
    module: &Path,
    index_file: &Path,
    names: Option<HostNames<'_>>,
    remarks_file: Option<&Path>,
    keep_inlining: bool,
) -> Result<IndexedBackendOutput> {
    let module_name = names
        .as_ref()
        .map_or_else(|| module.display().to_string(), |n| n.name.to_string());
    let mut steps = Steps::default();
    let index_bytes = steps.time(Step::ReadIndex, || {
        crate::input::read_file(index_file, Phase::Read)
    })?;
    let bytes = read_bitcode(module, Phase::Read)?;
    let context = backend_context(config)?;
    super::backend::keep_inlining(&context, keep_inlining, &module_name)?;
    let _remarks = crate::codegen::remarks_to(config, &context, remarks_file, &module_name)?;
    if index_bytes.as_slice().is_empty() {
        return skipped_backend(config, &context, &bytes, module_name, steps);
    }
    let index_name = index_file.display().to_string();
    let mut index = ThinIndex::from_index_file(index_bytes.as_slice()).map_err(|reason| {
        Error::invalid(
            &index_name,
            Phase::Parse,
            format!("not a ThinLTO index file: {reason}"),
        )
    })?;
    let indexed = index
        .module_paths()
        .map_err(|reason| Error::invalid(&index_name, Phase::Parse, reason))?;
    // What each file must hash to: the index's hash, or what the host
    // says when the index's hashes name modules.
    let expected = |path: &str, recorded: [u8; 20]| {
        names
            .as_ref()
            .and_then(|n| n.content_hashes.get(path).copied())
            .unwrap_or(recorded)
    };
    let own_hash = hash_of(&module_name, &bytes)?;
    let entry = own_entry(
        &indexed,
        &module_name,
        &module.display().to_string(),
        own_hash,
        &index_name,
    )?;
    let module_id = entry.path.clone();
    check_hash(
        &module_name,
        expected(&module_id, entry.hash),
        own_hash,
        &index_name,
    )?;

    let parsed = steps.time(Step::Parse, || {
        llvm::parse_bitcode(&context, bytes.as_slice(), &module_id, 0).map_err(|reason| {
            parse_error(
                &module_name,
                bytes.as_slice(),
                llvm::with_error_text(&context, reason),
            )
        })
    })?;
    let machine = machine_for(&parsed, config)?;
    steps.time(Step::Verify, || {
        crate::stages::check_input(config, &module_name, &parsed, Some(&machine))
    })?;
    let sources = index
        .init_backend_imports(&parsed)
        .map_err(|reason| Error::llvm(module_name.clone(), Phase::Import, reason))?;
    steps.time(Step::ReadImports, || {
        for source in &sources {
            let source_bytes = read_bitcode(Path::new(source), Phase::Import)?;
            let recorded = indexed
                .iter()
                .find(|m| &m.path == source)
                .map_or([0; 20], |m| m.hash);
            check_hash(
                source,
                expected(source, recorded),
                hash_of(source, &source_bytes)?,
                &index_name,
            )?;
            index
                .attach_source(&source_bytes, source)
                .map_err(|reason| parse_error(source, source_bytes.as_slice(), reason))?;
        }
        Ok::<(), Error>(())
    })?;
    let stem = match &names {
        Some(names) => names.stem.to_string(),
        None => module.file_name().map_or_else(
            || "module".to_string(),
            |n| n.to_string_lossy().into_owned(),
        ),
    };
    let bytes = run_steps(
        &index,
        &context,
        &parsed,
        &machine,
        config,
        StepNames {
            module: &module_name,
            stem: &stem,
        },
        &mut steps,
    )?;
    Ok(IndexedBackendOutput {
        bytes,
        module_id,
        imported_from: sources,
        skipped: false,
        steps: steps.0,
        diagnostics: llvm::take_diagnostics(&context, &module_name),
        inlining: super::backend::kept_inlining(&context, keep_inlining, &module_name)?,
    })
}

/// A backend whose index file is empty (the thin link found nothing live in
/// the module): an empty object for the module's target, as lld writes.
fn skipped_backend(
    config: &Config,
    context: &inkwell::context::Context,
    bytes: &InputBytes,
    module_name: String,
    steps: Steps,
) -> Result<IndexedBackendOutput> {
    let parsed = llvm::parse_bitcode(context, bytes.as_slice(), &module_name, 0)
        .map_err(|reason| parse_error(&module_name, bytes.as_slice(), reason))?;
    let machine = machine_for(&parsed, config)?;
    let empty = context.create_module("empty");
    crate::codegen::retarget(&empty, &machine);
    let bytes = crate::codegen::emit(&empty, &machine, config.emit, &module_name)?;
    Ok(IndexedBackendOutput {
        bytes,
        diagnostics: llvm::take_diagnostics(context, &module_name),
        module_id: module_name,
        imported_from: Vec::new(),
        skipped: true,
        steps: steps.0,
        inlining: None,
    })
}

/// The module hash recorded in bitcode `bytes`, errors naming `name`.
fn hash_of(name: &str, bytes: &InputBytes) -> Result<[u8; 20]> {
    llvm::bitcode_module_hash(bytes.as_slice())
        .map_err(|reason| parse_error(name, bytes.as_slice(), reason))
}

/// This module's entry in its index file: by path, else the one module
/// whose hash is this module's (the file was moved or copied).
fn own_entry<'a>(
    indexed: &'a [IndexedModule],
    module_name: &str,
    module_path: &str,
    own_hash: [u8; 20],
    index_name: &str,
) -> Result<&'a IndexedModule> {
    indexed
        .iter()
        .find(|m| m.path == module_name || m.path == module_path)
        .or_else(|| {
            let mut same_hash = indexed.iter().filter(|m| m.hash == own_hash);
            match (same_hash.next(), same_hash.next()) {
                (Some(only), None) => Some(only),
                _ => None,
            }
        })
        .ok_or_else(|| {
            let names: Vec<&str> = indexed.iter().map(|m| m.path.as_str()).collect();
            Error::invalid(
                module_name,
                Phase::Distribute,
                format!(
                    "{index_name} is not this module's index (it names {})",
                    names.join(", ")
                ),
            )
        })
}

fn read_bitcode(path: &Path, phase: Phase) -> Result<InputBytes> {
    let bytes = crate::input::read_file(path, phase)?;
    if classify::sniff(bytes.as_slice()) != classify::Kind::Bitcode {
        return Err(Error::invalid(
            path.display(),
            phase,
            "not LLVM bitcode (a distributed backend compiles the bitcode files the index names)",
        ));
    }
    Ok(bytes)
}

/// A module the index recorded with a hash must still have it.
fn check_hash(name: &str, recorded: [u8; 20], actual: [u8; 20], index: &str) -> Result<()> {
    if recorded != [0; 20] && recorded != actual {
        return Err(Error::invalid(
            name,
            Phase::Distribute,
            format!(
                "changed since the thin link that wrote {index} (its module hash differs); \
                 run the thin link again"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_and_suffix_replacements_parse_as_lld_spells_them() {
        let full: PrefixReplace = "thin/;index/;obj/".parse().unwrap();
        assert_eq!(full.old, "thin/");
        assert_eq!(full.new, "index/");
        assert_eq!(full.native.as_deref(), Some("obj/"));
        let short: PrefixReplace = "a;b".parse().unwrap();
        assert_eq!(short.native, None);
        assert!("a".parse::<PrefixReplace>().is_err());
        assert!("a;b;c;d".parse::<PrefixReplace>().is_err());
        let suffix: SuffixReplace = ".thinlink.bc;.o".parse().unwrap();
        assert_eq!(
            (suffix.old.as_str(), suffix.new.as_str()),
            (".thinlink.bc", ".o")
        );
        assert!("x".parse::<SuffixReplace>().is_err());
    }

    fn module(name: &str, origin: ModuleOrigin, stem: &str) -> ThinModule {
        ThinModule {
            name: name.to_string(),
            id: name.to_string(),
            bytes: InputBytes::owned(Vec::new()),
            origin,
            input_bytes: 0,
            summary_added: false,
            file_stem: stem.to_string(),
            file: None,
        }
    }

    #[test]
    fn paths_follow_lld_under_a_prefix_replacement() {
        let mut options = IndexOptions::new("d");
        options.prefix_replace = Some("thin/;index/;obj/".parse().unwrap());
        let inside = module("thin/sub/a.o", ModuleOrigin::File, "a.o");
        let paths = job_paths(&inside, &options);
        assert_eq!(paths.index_file, Path::new("index/sub/a.o.thinlto.bc"));
        assert_eq!(paths.imports_file, Path::new("index/sub/a.o.imports"));
        assert_eq!(paths.native_object, Path::new("obj/sub/a.o"));
        // Outside the old prefix: index files beside the module, as lld; the
        // object (lld would write it over the module) in the index dir.
        let outside = module("other/b.o", ModuleOrigin::File, "b.o");
        let paths = job_paths(&outside, &options);
        assert_eq!(paths.index_file, Path::new("other/b.o.thinlto.bc"));
        assert_eq!(paths.native_object, Path::new("d/b.o.lto.o"));
        // Without a native prefix, objects go under the new one.
        options.prefix_replace = Some("thin/;index/".parse().unwrap());
        assert_eq!(
            job_paths(&inside, &options).native_object,
            Path::new("index/sub/a.o")
        );
        // Without a replacement, all in the index dir.
        options.prefix_replace = None;
        let paths = job_paths(&inside, &options);
        assert_eq!(paths.index_file, Path::new("d/a.o.thinlto.bc"));
        assert_eq!(paths.native_object, Path::new("d/a.o.lto.o"));
    }

    #[test]
    fn modules_without_a_file_of_their_own_are_copied() {
        let mut options = IndexOptions::new("d");
        let file = module("thin/a.o", ModuleOrigin::File, "a.o");
        assert_eq!(
            backend_module_path(&file, &options),
            ("thin/a.o".to_string(), false)
        );
        let member = module("lib.a(m.o)", ModuleOrigin::ArchiveMember, "lib.a.m.o");
        assert_eq!(
            backend_module_path(&member, &options),
            ("d/lib.a.m.o.bc".to_string(), true)
        );
        let mut plain = module("p.bc", ModuleOrigin::File, "p.bc");
        plain.summary_added = true;
        assert_eq!(
            backend_module_path(&plain, &options),
            ("d/p.bc.bc".to_string(), true)
        );
        options.object_suffix_replace = Some(".thinlink.bc;.o".parse().unwrap());
        let minimized = module("t/x.thinlink.bc", ModuleOrigin::File, "x.thinlink.bc");
        assert_eq!(
            backend_module_path(&minimized, &options),
            ("t/x.o".to_string(), false)
        );
    }
}
