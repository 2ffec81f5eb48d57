//! Code generation settings: the target machine built from [`Config`], the
//! LTO pass pipelines, and emission of objects, assembly or bitcode.

use crate::config::{CodeModel, Config, EmitKind, RelocModel};
use crate::error::{Error, Phase, Result};
use crate::llvm;
use inkwell::module::Module;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{FileType, Target, TargetMachine, TargetTriple};
use inkwell::OptimizationLevel;

/// A context for working on one module: its diagnostics are recorded (with
/// the configured remarks), and with `discard_names` the names of local
/// values are dropped as it parses (less memory; nobody reads them).
pub fn module_context(config: &Config, discard_names: bool) -> Result<inkwell::context::Context> {
    let context = inkwell::context::Context::create();
    llvm::install_diagnostics_with_remarks(&context, config.remarks.as_deref())
        .map_err(Error::Config)?;
    if discard_names {
        llvm::discard_value_names(&context);
    }
    Ok(context)
}

/// The triple to generate code for: `--target` or the module's own.
pub fn triple_for(config: &Config, module: &Module<'_>) -> String {
    if let Some(triple) = &config.target_triple {
        return triple.clone();
    }
    let own = module.get_triple();
    let own = own.as_str().to_string_lossy().into_owned();
    if own.is_empty() {
        TargetMachine::get_default_triple()
            .as_str()
            .to_string_lossy()
            .into_owned()
    } else {
        own
    }
}

/// The CPU when none is asked for: what clang and rustc default to.
fn default_cpu(triple: &str) -> &'static str {
    if triple.starts_with("x86_64") {
        "x86-64"
    } else {
        "generic"
    }
}

/// Builds the target machine for `triple` from the configuration, with
/// function and data sections as configured.
pub fn target_machine(config: &Config, triple: &str) -> Result<TargetMachine> {
    llvm::init_targets();
    let target_triple = TargetTriple::create(triple);
    let target = Target::from_triple(&target_triple).map_err(|e| {
        Error::Config(format!(
            "target {triple:?} is not available in this build: {}",
            e.to_string_lossy()
        ))
    })?;
    let cpu = config
        .target_cpu
        .clone()
        .unwrap_or_else(|| default_cpu(triple).to_string());
    let level = match config.opt_level.codegen_level() {
        0 => OptimizationLevel::None,
        1 => OptimizationLevel::Less,
        2 => OptimizationLevel::Default,
        _ => OptimizationLevel::Aggressive,
    };
    let reloc = match config.reloc_model {
        RelocModel::Pic => inkwell::targets::RelocMode::PIC,
        RelocModel::Static => inkwell::targets::RelocMode::Static,
        RelocModel::DynamicNoPic => inkwell::targets::RelocMode::DynamicNoPic,
    };
    let code_model = match config.code_model {
        CodeModel::Default => inkwell::targets::CodeModel::Default,
        CodeModel::Small => inkwell::targets::CodeModel::Small,
        CodeModel::Kernel => inkwell::targets::CodeModel::Kernel,
        CodeModel::Medium => inkwell::targets::CodeModel::Medium,
        CodeModel::Large => inkwell::targets::CodeModel::Large,
    };
    let machine = target
        .create_target_machine(
            &target_triple,
            &cpu,
            &config.target_features,
            level,
            reloc,
            code_model,
        )
        .ok_or_else(|| {
            Error::Config(format!(
                "cannot create a target machine for {triple} (cpu {cpu:?}, features {:?})",
                config.target_features
            ))
        })?;
    llvm::set_sections(&machine, config.function_sections, config.data_sections);
    Ok(machine)
}

/// Points `module` at the machine's triple and data layout (for `--target`).
pub fn retarget(module: &Module<'_>, machine: &TargetMachine) {
    module.set_triple(&machine.get_triple());
    module.set_data_layout(&machine.get_target_data().get_data_layout());
}

/// Runs the named pipeline (`lto` or `thinlto`) at the configured level.
pub fn optimize(
    module: &Module<'_>,
    machine: &TargetMachine,
    pipeline: &str,
    config: &Config,
    name: &str,
) -> Result<()> {
    let passes = config.opt_level.pipeline(pipeline);
    let options = PassBuilderOptions::create();
    let vectorize = config.opt_level.vectorizes();
    options.set_loop_vectorization(vectorize);
    options.set_loop_slp_vectorization(vectorize);
    module
        .run_passes(&passes, machine, options)
        .map_err(|e| Error::Llvm {
            input: name.to_string(),
            phase: Phase::Optimize,
            reason: e.to_string_lossy().into_owned(),
        })
}

/// Emits `module` as the configured kind.
pub fn emit(
    module: &Module<'_>,
    machine: &TargetMachine,
    kind: EmitKind,
    name: &str,
) -> Result<Vec<u8>> {
    let file_type = match kind {
        EmitKind::Object => FileType::Object,
        EmitKind::Assembly => FileType::Assembly,
        EmitKind::Bitcode => {
            let buffer = llvm::ModuleBuffer::new(module).map_err(|reason| Error::Llvm {
                input: name.to_string(),
                phase: Phase::Codegen,
                reason,
            })?;
            return Ok(buffer.as_bytes().to_vec());
        }
    };
    machine
        .write_to_memory_buffer(module, file_type)
        .map(|buffer| buffer.as_slice().to_vec())
        .map_err(|e| Error::Llvm {
            input: name.to_string(),
            phase: Phase::Codegen,
            reason: e.to_string_lossy().into_owned(),
        })
}
