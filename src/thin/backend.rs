//! The per-module ThinLTO backend: in its own `LLVMContext`, parse, rename
//! (promote), resolve weak linkages, internalize, import, run `thinlto<On>`,
//! emit. Backends run in parallel in the session's job slots (`jobs.rs`),
//! largest modules first.

use super::index::ThinData;
use crate::codegen;
use crate::config::Config;
use crate::error::{Error, Phase, Result};
use crate::input::parse_error;
use crate::jobs::JobSlots;
use crate::jobs::ParallelRun;
use crate::llvm;
use crate::llvm::fail_on_error_diagnostics;
use crate::report::Step;
use crate::stages::{StageName, Stages};
use inkwell::context::Context;
use inkwell::module::Module;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// What one backend produced.
#[derive(Debug, Clone)]
pub struct BackendOutput {
    /// The emitted object (or assembly / bitcode).
    pub bytes: Vec<u8>,
    /// Wall time of each step, in order.
    pub steps: Vec<(Step, Duration)>,
    /// The warnings and remarks LLVM reported on the way.
    pub diagnostics: Vec<llvm::Diagnostic>,
    /// The inliner's decisions, when the backend kept them
    /// ([`keeps_inlining`]).
    pub inlining: Option<Vec<llvm::InlineDecision>>,
}

/// Whether backends keep the inliner's decisions: for `explain`, and
/// with a cache, which stores them beside each object so that a later
/// `explain` answers from a warm cache without compiling.
pub(crate) fn keeps_inlining(config: &Config) -> bool {
    !config.explain.is_empty() || config.cache.is_some()
}

/// Makes `context` keep the inliner's decisions when `keep`.
pub(super) fn keep_inlining(context: &Context, keep: bool, name: &str) -> Result<()> {
    if keep {
        llvm::record_inlining(context)
            .map_err(|reason| Error::llvm(name.to_string(), Phase::Optimize, reason))?;
    }
    Ok(())
}

/// The decisions `context` kept, when it kept them.
pub(super) fn kept_inlining(
    context: &Context,
    keep: bool,
    name: &str,
) -> Result<Option<Vec<llvm::InlineDecision>>> {
    if !keep {
        return Ok(None);
    }
    llvm::take_inlining(context)
        .map(Some)
        .map_err(|reason| Error::llvm(name.to_string(), Phase::Optimize, reason))
}

/// Called after each module's backend finishes: (modules done, total, name).
pub type ProgressHook<'a> = &'a (dyn Fn(usize, usize, &str) + Sync);

/// Called with each module's output as soon as its backend finishes, on the
/// worker thread (the cache stores entries from here).
pub type DoneHook<'a> = &'a (dyn Fn(usize, &BackendOutput) + Sync);

/// A module's backend run elsewhere than in this process (a worker
/// process): given the thin link's result and the module's position.
pub(crate) type Executor<'a> = &'a (dyn Fn(&ThinData, usize) -> Result<BackendOutput> + Sync);

/// Runs the backends of the modules in `todo` in `slots`, in this
/// process or with `executor`. Returns
/// one slot per module of `data`, filled for those in `todo`, and how the
/// run went. On failure, modules not yet started are skipped and the error
/// of the first failing module (in module order) is returned.
pub(crate) fn run_all(
    data: &ThinData,
    config: &Config,
    slots: &JobSlots,
    todo: &[usize],
    progress: Option<ProgressHook<'_>>,
    on_done: DoneHook<'_>,
    executor: Option<Executor<'_>>,
) -> Result<(Vec<Option<BackendOutput>>, ParallelRun)> {
    let total = data.modules().len();
    // Largest first, so that the longest backend does not start last.
    let mut order: Vec<usize> = todo.iter().copied().filter(|&i| i < total).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(data.modules()[i].bytes.as_slice().len()));
    let done = AtomicUsize::new(0);
    slots.run_each(&order, total, "lto-engine-thin", |i| {
        let result = match executor {
            Some(execute) => execute(data, i),
            None => run_module(data, i, config),
        };
        if let Ok(output) = &result {
            on_done(i, output);
        }
        let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(hook) = progress {
            hook(finished, order.len(), &data.modules()[i].name);
        }
        result
    })
}

/// One module's backend, start to finish.
pub fn run_module(data: &ThinData, i: usize, config: &Config) -> Result<BackendOutput> {
    let module_info = &data.modules()[i];
    let name = module_info.name.as_str();
    let mut steps = Steps::default();
    let context = backend_context(config)?;
    let keep = keeps_inlining(config);
    keep_inlining(&context, keep, name)?;
    let remarks_file = config.opt_remarks.as_ref().map(|r| r.thin_file(i));
    let _remarks = codegen::remarks_to(config, &context, remarks_file.as_deref(), name)?;
    let bytes = module_info.bytes.as_slice();
    let module = steps.time(Step::Parse, || {
        llvm::parse_bitcode(&context, bytes, &module_info.id, 0)
            .map_err(|reason| parse_error(name, bytes, llvm::with_error_text(&context, reason)))
    })?;
    let machine = machine_for(&module, config)?;
    steps.time(Step::Verify, || {
        crate::stages::check_input(config, name, &module, Some(&machine))
    })?;
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
        diagnostics: llvm::take_diagnostics(&context, name),
        inlining: kept_inlining(&context, keep, name)?,
    })
}

/// A context for one backend: diagnostics captured, value names dropped
/// unless someone will read the saved stages.
pub(super) fn backend_context(config: &Config) -> Result<Context> {
    crate::codegen::module_context(
        config,
        config.save_temps.is_none() && config.stage_hook.is_none(),
    )
}

/// The target machine for a module, which is retargeted when the
/// configuration names a triple.
pub(super) fn machine_for(
    module: &Module<'_>,
    config: &Config,
) -> Result<inkwell::targets::TargetMachine> {
    let triple = codegen::triple_for(config, module);
    let machine = codegen::target_machine(config, &triple, Some(module))?;
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
    let stages = Stages::new(config, name, Some(names.stem));
    stages.reached(module, StageName::ThinLtoInput, Phase::Parse)?;
    let step_error =
        |phase: Phase| move |reason: String| Error::llvm(name.to_string(), phase, reason);
    steps
        .time(Step::Rename, || index.rename(module, machine))
        .map_err(step_error(Phase::Rename))?;
    fail_on_error_diagnostics(context, name, Phase::Rename)?;
    stages.reached(module, StageName::ThinLtoAfterRename, Phase::Rename)?;

    steps
        .time(Step::Resolve, || index.resolve(module))
        .map_err(step_error(Phase::Resolve))?;
    stages.reached(module, StageName::ThinLtoAfterResolve, Phase::Resolve)?;

    steps
        .time(Step::Internalize, || index.internalize(module))
        .map_err(step_error(Phase::Internalize))?;
    stages.reached(
        module,
        StageName::ThinLtoAfterInternalize,
        Phase::Internalize,
    )?;

    steps
        .time(Step::Import, || index.import(module, machine))
        .map_err(|reason| step_error(Phase::Import)(llvm::with_error_text(context, reason)))?;
    fail_on_error_diagnostics(context, name, Phase::Import)?;
    stages.reached(module, StageName::ThinLtoAfterImport, Phase::Import)?;

    steps
        .time(Step::Optimize, || {
            index.optimize(
                module,
                machine,
                codegen::pipeline_level(config.opt_level),
                config.opt_level.vectorizes(),
            )
        })
        .map_err(step_error(Phase::Optimize))?;
    fail_on_error_diagnostics(context, name, Phase::Optimize)?;
    stages.reached(module, StageName::ThinLtoAfterPm, Phase::Optimize)?;

    let bytes = steps.time(Step::Codegen, || {
        codegen::emit(module, machine, config.emit, name)
    })?;
    fail_on_error_diagnostics(context, name, Phase::Codegen)?;
    Ok(bytes)
}

/// Wall time of each backend step.
#[derive(Default)]
pub(super) struct Steps(pub(super) Vec<(Step, Duration)>);

impl Steps {
    pub(super) fn time<T>(&mut self, step: Step, work: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let value = work();
        self.0.push((step, start.elapsed()));
        value
    }
}
