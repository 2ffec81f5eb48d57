//! Fat LTO: the modules are linked in input order into the first one with
//! one `Linker`, everything not preserved is internalized (the restriction
//! pass), `lto<On>` runs, one output is emitted.
//!
//! Why the first module and not the costliest, as rustc does: rustc picks the
//! costliest so that it need not serialize and reparse it into a new context;
//! here every module is parsed from bitcode into one context anyway, so the
//! only saving would be one IR move. And the link order is a linker's
//! semantics: the destination keeps its comdats and weak definitions, and
//! its `llvm.global_ctors` entries come first. Linking into a module other
//! than the first gives a C++ program another prevailing copy of each
//! template static data member, and its dynamic initializer then runs at the
//! wrong place, where lld and the native build run it in input order.

use crate::codegen;
use crate::config::Config;
use crate::error::{Error, Phase, Result};
use crate::input::{parse_error, BitcodeInput};
use crate::llvm::{self, Diagnostic};
use crate::report::{ModuleReport, Report, RunKind, Step};
use crate::stages::{StageName, Stages};
use inkwell::context::Context;
use inkwell::module::Module;
use std::collections::BTreeSet;

/// What a fat run produced: the emitted bytes, the report, and LLVM's
/// warnings and remarks.
pub(crate) type FatRun = (Vec<u8>, Report, Vec<Diagnostic>);

/// Runs fat LTO over `modules`, keeping `preserved` visible.
pub(crate) fn run(
    config: &Config,
    modules: &[BitcodeInput],
    preserved: &BTreeSet<String>,
) -> Result<FatRun> {
    let mut report = Report {
        kind: RunKind::Fat,
        preserved: preserved.iter().cloned().collect(),
        ..Report::default()
    };
    // Declared first so that it is dropped after every module parsed into it.
    let context = codegen::module_context(config, false)?;

    // Input order, as a linker: the first weak copy of a symbol prevails,
    // and constructors of equal priority run in this order.
    let ordered: Vec<&BitcodeInput> = modules.iter().collect();
    let mut parsed = report.time(Step::Parse, || parse_all(&context, &ordered))?;
    // Each input through the verifier before linking: the linker and every
    // pass after it assume valid IR.
    report.time(Step::Verify, || {
        parsed.iter().try_for_each(|module| {
            crate::stages::check_input(config, &module.name, &module.module, None)
        })
    })?;
    if parsed.is_empty() {
        // All inputs are native: `-o` still gets a valid (empty) object so
        // build rules that expect it hold; link.rsp lists only the natives.
        return emit_empty(config, &context, report);
    }

    report.modules = parsed
        .iter()
        .map(|module| ModuleReport {
            name: module.name.clone(),
            origin: module.input.origin.to_string(),
            bitcode_bytes: module.input.bytes.as_slice().len(),
            instructions: module.cost,
        })
        .collect();
    let base = parsed.remove(0);
    let (base_name, base) = (base.name, base.module);
    report.base_module = Some(base_name.clone());

    let stages = Stages::new(config, &base_name, None);
    // Diagnostics of the parse are the base's; of each link, the linked
    // module's (a conflicting module flag names the module brought in).
    let mut diagnostics = llvm::take_diagnostics(&context, &base_name);
    diagnostics.extend(report.time(Step::Link, || link_all(&context, &base, parsed))?);
    base.verify().map_err(|e| Error::Llvm {
        input: base_name.clone(),
        phase: Phase::Link,
        reason: format!(
            "linked module fails verification: {}",
            e.to_string_lossy().trim()
        ),
    })?;
    stages.reached(&base, StageName::LtoInput, Phase::Link)?;

    let names: Vec<&str> = preserved.iter().map(String::as_str).collect();
    // Before the restriction pass, as LLVM's LTO: what is preserved is what
    // code outside the unit can see.
    llvm::update_vcall_visibility(&base, config.whole_program_visibility, &names).map_err(
        |reason| Error::Llvm {
            input: base_name.clone(),
            phase: Phase::Restrict,
            reason,
        },
    )?;
    report.internalized = report
        .time(Step::Restrict, || llvm::internalize(&base, &names))
        .map_err(|reason| Error::Llvm {
            input: base_name.clone(),
            phase: Phase::Restrict,
            reason,
        })?;
    report.internalized.sort();
    stages.reached(&base, StageName::LtoAfterRestriction, Phase::Restrict)?;

    let triple = codegen::triple_for(config, &base);
    let machine = codegen::target_machine(config, &triple, Some(&base))?;
    if config.target_triple.is_some() {
        codegen::retarget(&base, &machine);
    }
    llvm::drop_unknown_subtarget_names(&base, &machine);
    report.time(Step::Optimize, || {
        codegen::optimize(&base, &machine, "lto", config, &base_name)
    })?;
    llvm::fail_on_error_diagnostics(&context, &base_name, Phase::Optimize)?;
    stages.reached(&base, StageName::LtoAfterOpt, Phase::Optimize)?;

    let bytes = report.time(Step::Codegen, || {
        codegen::emit(&base, &machine, config.emit, &base_name)
    })?;
    llvm::fail_on_error_diagnostics(&context, &base_name, Phase::Codegen)?;
    report.output_bytes = bytes.len();
    diagnostics.extend(llvm::take_diagnostics(&context, &base_name));
    Ok((bytes, report, diagnostics))
}

/// A module parsed for the link, with its cost and the input it came from.
struct ParsedModule<'ctx, 'i> {
    name: String,
    module: Module<'ctx>,
    cost: u64,
    input: &'i BitcodeInput,
}

/// The output of a run with no bitcode: an empty object for the host or
/// `--target` triple.
fn emit_empty(config: &Config, context: &Context, mut report: Report) -> Result<FatRun> {
    let module = context.create_module("lto.empty");
    let triple = codegen::triple_for(config, &module);
    let machine = codegen::target_machine(config, &triple, None)?;
    codegen::retarget(&module, &machine);
    let bytes = report.time(Step::Codegen, || {
        codegen::emit(&module, &machine, config.emit, "lto.empty")
    })?;
    report.output_bytes = bytes.len();
    Ok((bytes, report, Vec::new()))
}

type Parsed<'ctx, 'i> = Vec<ParsedModule<'ctx, 'i>>;

/// Parses every module of every input (a file may hold several), in order.
fn parse_all<'ctx, 'i>(
    context: &'ctx Context,
    ordered: &[&'i BitcodeInput],
) -> Result<Parsed<'ctx, 'i>> {
    let mut parsed = Vec::with_capacity(ordered.len());
    for input in ordered {
        let data = input.bytes.as_slice();
        let count = llvm::bitcode_module_count(data)
            .map_err(|reason| parse_error(&input.name, data, reason))?;
        if count == 0 {
            return Err(Error::invalid(
                &input.name,
                Phase::Parse,
                "bitcode holds no module",
            ));
        }
        for index in 0..count {
            let name = if index == 0 {
                input.name.clone()
            } else {
                format!("{}#{index}", input.name)
            };
            let module = llvm::parse_bitcode(context, data, &name, index).map_err(|reason| {
                parse_error(&input.name, data, llvm::with_error_text(context, reason))
            })?;
            let cost = llvm::instruction_count(&module);
            parsed.push(ParsedModule {
                name,
                module,
                cost,
                input,
            });
        }
    }
    Ok(parsed)
}

/// Links every parsed module into `base`, in input order; returns the
/// warnings of each link, naming the module linked in.
fn link_all<'ctx>(
    context: &'ctx Context,
    base: &Module<'ctx>,
    parsed: Parsed<'ctx, '_>,
) -> Result<Vec<Diagnostic>> {
    let mut linker = llvm::FatLinker::new(base);
    let mut diagnostics = Vec::new();
    for ParsedModule { name, module, .. } in parsed {
        linker.link(context, module).map_err(|reason| Error::Link {
            input: name.clone(),
            reason,
        })?;
        diagnostics.extend(llvm::take_diagnostics(context, &name));
    }
    Ok(diagnostics)
}
