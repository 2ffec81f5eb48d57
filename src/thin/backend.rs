//! The per-module ThinLTO backend: in its own `LLVMContext`, parse, rename
//! (promote), resolve weak linkages, internalize, import, run `thinlto<On>`,
//! emit. Backends run in parallel on a rayon pool, largest modules first.

use super::index::ThinData;
use crate::codegen;
use crate::config::Config;
use crate::error::{Error, Phase, Result};
use crate::fat::fail_on_error_diagnostics;
use crate::input::parse_error;
use crate::llvm;
use inkwell::context::Context;
use inkwell::module::Module;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What one backend produced.
#[derive(Debug, Clone)]
pub struct BackendOutput {
    /// The emitted object (or assembly / bitcode).
    pub bytes: Vec<u8>,
    /// Wall time of each step, in order.
    pub steps: Vec<(String, Duration)>,
}

/// Called after each module's backend finishes: (modules done, total, name).
pub type ProgressHook<'a> = &'a (dyn Fn(usize, usize, &str) + Sync);

/// Called with each module's output as soon as its backend finishes, on the
/// worker thread (the cache stores entries from here).
pub type DoneHook<'a> = &'a (dyn Fn(usize, &BackendOutput) + Sync);

/// Runs the backends of the modules in `todo` on `jobs` threads. Returns one
/// slot per module of `data`, filled for those in `todo`. On failure, modules
/// not yet started are skipped and the error of the first failing module (in
/// module order) is returned.
pub fn run_all(
    data: &ThinData,
    config: &Config,
    jobs: usize,
    todo: &[usize],
    progress: Option<ProgressHook<'_>>,
    on_done: DoneHook<'_>,
) -> Result<Vec<Option<BackendOutput>>> {
    let total = data.modules().len();
    // Largest first, so that the longest backend does not start last.
    let mut order: Vec<usize> = todo.iter().copied().filter(|&i| i < total).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(data.modules()[i].bytes.as_slice().len()));

    let results: Mutex<Vec<Option<Result<BackendOutput>>>> =
        Mutex::new((0..total).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let workers = jobs.clamp(1, order.len().max(1));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .thread_name(|i| format!("lto-engine-thin-{i}"))
        .build()
        .map_err(|e| Error::Config(format!("cannot start {workers} backend threads: {e}")))?;
    pool.scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|_| loop {
                if failed.load(Ordering::Relaxed) {
                    break;
                }
                let slot = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = order.get(slot) else { break };
                let result = run_module(data, i, config);
                match &result {
                    Ok(output) => on_done(i, output),
                    Err(_) => failed.store(true, Ordering::Relaxed),
                }
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                if let Some(hook) = progress {
                    hook(finished, order.len(), &data.modules()[i].name);
                }
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut outputs = Vec::with_capacity(total);
    let mut first_error = None;
    for result in results {
        match result {
            Some(Ok(output)) => outputs.push(Some(output)),
            Some(Err(error)) => {
                first_error.get_or_insert(error);
            }
            None => outputs.push(None),
        }
    }
    match first_error {
        Some(error) => Err(error),
        None => Ok(outputs),
    }
}

/// One module's backend, start to finish.
pub fn run_module(data: &ThinData, i: usize, config: &Config) -> Result<BackendOutput> {
    let module_info = &data.modules()[i];
    let name = module_info.name.as_str();
    let mut steps = Steps::default();
    let context = backend_context(config);
    let bytes = module_info.bytes.as_slice();
    let module = steps.time("parse", || {
        llvm::parse_bitcode(&context, bytes, &module_info.id, 0)
            .map_err(|reason| parse_error(name, bytes, llvm::with_error_text(&context, reason)))
    })?;
    let machine = machine_for(&module, config)?;
    let bytes = run_steps(
        data.index(),
        &context,
        &module,
        &machine,
        config,
        StepNames {
            module: name,
            stem: &module_info.file_stem,
        },
        &mut steps,
    )?;
    Ok(BackendOutput {
        bytes,
        steps: steps.0,
    })
}

/// A context for one backend: diagnostics captured, value names dropped
/// unless someone will read the saved stages.
pub(super) fn backend_context(config: &Config) -> Context {
    let context = Context::create();
    llvm::install_diagnostics(&context);
    if config.save_temps.is_none() {
        llvm::discard_value_names(&context);
    }
    context
}

/// The target machine for a module, which is retargeted when the
/// configuration names a triple.
pub(super) fn machine_for(
    module: &Module<'_>,
    config: &Config,
) -> Result<inkwell::targets::TargetMachine> {
    let triple = codegen::triple_for(config, module);
    let machine = codegen::target_machine(config, &triple)?;
    if config.target_triple.is_some() {
        codegen::retarget(module, &machine);
    }
    Ok(machine)
}

/// How a backend names its module: in errors, and in save-temps files.
pub(super) struct StepNames<'a> {
    /// The module's name in errors.
    pub module: &'a str,
    /// The stem of its save-temps files (`<stem>.<stage>.bc`).
    pub stem: &'a str,
}

/// The backend steps on a parsed module, after its import sources are known
/// to `index`: rename, resolve, internalize, import, optimize, emit.
pub(super) fn run_steps(
    index: &llvm::ThinIndex,
    context: &Context,
    module: &Module<'_>,
    machine: &inkwell::targets::TargetMachine,
    config: &Config,
    names: StepNames<'_>,
    steps: &mut Steps,
) -> Result<Vec<u8>> {
    let name = names.module;
    let temps = SaveTemps {
        config,
        stem: names.stem,
    };
    temps.save(module, "thin-lto-input")?;
    let step_error = |phase: Phase| {
        move |reason: String| Error::Llvm {
            input: name.to_string(),
            phase,
            reason,
        }
    };
    steps
        .time("rename", || index.rename(module, machine))
        .map_err(step_error(Phase::Rename))?;
    fail_on_error_diagnostics(context, name, Phase::Rename)?;
    temps.save(module, "thin-lto-after-rename")?;

    steps
        .time("resolve", || index.resolve(module))
        .map_err(step_error(Phase::Resolve))?;
    temps.save(module, "thin-lto-after-resolve")?;

    steps
        .time("internalize", || index.internalize(module))
        .map_err(step_error(Phase::Internalize))?;
    temps.save(module, "thin-lto-after-internalize")?;

    steps
        .time("import", || index.import(module, machine))
        .map_err(|reason| step_error(Phase::Import)(llvm::with_error_text(context, reason)))?;
    fail_on_error_diagnostics(context, name, Phase::Import)?;
    temps.save(module, "thin-lto-after-import")?;

    steps.time("optimize", || {
        codegen::optimize(module, machine, "thinlto", config, name)
    })?;
    fail_on_error_diagnostics(context, name, Phase::Optimize)?;
    temps.save(module, "thin-lto-after-pm")?;

    let bytes = steps.time("codegen", || {
        codegen::emit(module, machine, config.emit, name)
    })?;
    fail_on_error_diagnostics(context, name, Phase::Codegen)?;
    // Warnings and remarks are not errors; drop them with the context.
    let _ = llvm::take_diagnostics(context);
    Ok(bytes)
}

/// Wall time of each backend step.
#[derive(Default)]
pub(super) struct Steps(pub(super) Vec<(String, Duration)>);

impl Steps {
    pub(super) fn time<T>(&mut self, name: &str, work: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let value = work();
        self.0.push((name.to_string(), start.elapsed()));
        value
    }
}

/// Writes the module after each step when `--save-temps` asks for it, with
/// the stage names rustc uses: `<stem>.<stage>.bc`.
struct SaveTemps<'a> {
    config: &'a Config,
    stem: &'a str,
}

impl SaveTemps<'_> {
    fn save(&self, module: &Module<'_>, stage: &str) -> Result<()> {
        match &self.config.save_temps {
            Some(dir) => {
                crate::output::write_module(&dir.join(format!("{}.{stage}.bc", self.stem)), module)
            }
            None => Ok(()),
        }
    }
}
