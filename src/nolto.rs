//! Modules that take no part in LTO ([`ModuleLto::No`](crate::ModuleLto)):
//! each is optimized with the regular `default<On>` pipeline and emitted on
//! its own, as rustc compiles a codegen unit whose LTO type is `No`
//! (metadata and allocator shims, opted-out modules).

use crate::codegen;
use crate::config::Config;
use crate::error::{Error, Phase, Result};
use crate::input::{parse_error, BitcodeInput};
use crate::llvm::fail_on_error_diagnostics;
use crate::llvm::{self, Diagnostic};
use crate::report::Step;
use crate::stages::{StageName, Stages};
use inkwell::module::Module;
use std::time::{Duration, Instant};

/// One module compiled alone.
pub(crate) struct Compiled {
    /// The emitted object (or assembly / bitcode).
    pub bytes: Vec<u8>,
    /// The symbols it uses but does not define: LTO must keep them visible.
    pub undefined: Vec<String>,
    /// Wall time of each step.
    pub steps: Vec<(Step, Duration)>,
    /// LLVM's warnings and remarks.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses, optimizes and emits `input` alone. `stem` names its save-temps
/// files (`<stem>.no-opt.bc`, `<stem>.opt.bc`).
pub(crate) fn compile(config: &Config, input: &BitcodeInput, stem: &str) -> Result<Compiled> {
    let name = input.name.as_str();
    let data = input.bytes.as_slice();
    let mut steps = Vec::new();
    let mut timed = |step: Step, start: Instant| steps.push((step, start.elapsed()));
    let count =
        llvm::bitcode_module_count(data).map_err(|reason| parse_error(name, data, reason))?;
    if count != 1 {
        return Err(Error::invalid(
            name,
            Phase::Parse,
            format!("bitcode holds {count} modules; a module compiled without LTO must hold one"),
        ));
    }
    let discard_names = config.save_temps.is_none() && config.stage_hook.is_none();
    let context = codegen::module_context(config, discard_names)?;
    let start = Instant::now();
    let module = llvm::parse_bitcode(&context, data, name, 0)
        .map_err(|reason| parse_error(name, data, llvm::with_error_text(&context, reason)))?;
    if !llvm::has_data_layout(&module) {
        return Err(crate::input::no_data_layout(name));
    }
    timed(Step::Parse, start);
    let triple = codegen::triple_for(config, &module);
    let machine = codegen::target_machine(config, &triple, Some(&module))?;
    if config.target_triple.is_some() {
        codegen::retarget(&module, &machine);
    }
    let start = Instant::now();
    crate::stages::check_input(config, name, &module, Some(&machine))?;
    timed(Step::Verify, start);
    let stages = Stages::new(config, name, Some(stem));
    stages.reached(&module, StageName::NoOpt, Phase::Parse)?;
    let undefined = undefined_symbols(&module);

    let start = Instant::now();
    codegen::optimize(&module, &machine, "default", config, name)?;
    fail_on_error_diagnostics(&context, name, Phase::Optimize)?;
    timed(Step::Optimize, start);
    stages.reached(&module, StageName::Opt, Phase::Optimize)?;

    let start = Instant::now();
    let bytes = codegen::emit(&module, &machine, config.emit, name)?;
    fail_on_error_diagnostics(&context, name, Phase::Codegen)?;
    timed(Step::Codegen, start);
    Ok(Compiled {
        bytes,
        undefined,
        steps,
        diagnostics: llvm::take_diagnostics(&context, name),
    })
}

/// Functions and variables `module` declares but does not define (LLVM
/// intrinsics aside): what it needs from the rest of the link.
fn undefined_symbols(module: &Module<'_>) -> Vec<String> {
    let mut names = Vec::new();
    for function in module.get_functions() {
        let name = function.get_name().to_string_lossy();
        if function.count_basic_blocks() == 0 && !name.starts_with("llvm.") {
            names.push(name.into_owned());
        }
    }
    for global in module.get_globals() {
        if global.is_declaration() {
            names.push(global.get_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    names.dedup();
    names
}
