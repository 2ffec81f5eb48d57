//! Code generation settings: the target machine built from [`Config`], the
//! LTO pass pipelines, and emission of objects, assembly or bitcode.

use crate::config::{CodeModel, Config, EmitKind, OptLevel, RelocModel};
use crate::error::{Error, Phase, Result};
use crate::llvm;
use inkwell::module::Module;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{FileType, TargetMachine};

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

/// Streams `context`'s optimization remarks to `file` (with the passes,
/// format and hotness of [`Config::opt_remarks`]) until the returned value
/// is dropped, which must come before the context's end.
pub(crate) fn remarks_to<'ctx>(
    config: &Config,
    context: &'ctx inkwell::context::Context,
    file: Option<&std::path::Path>,
    module: &str,
) -> Result<Option<llvm::RemarksFile<'ctx>>> {
    let (Some(remarks), Some(file)) = (&config.opt_remarks, file) else {
        return Ok(None);
    };
    llvm::RemarksFile::start(
        context,
        file,
        remarks.passes.as_deref(),
        &remarks.format,
        remarks.with_hotness,
        match remarks.hotness_threshold {
            crate::config::HotnessThreshold::Count(count) => Some(count),
            crate::config::HotnessThreshold::Auto => None,
        },
    )
    .map(Some)
    .map_err(|reason| {
        Error::invalid(
            module,
            Phase::Codegen,
            format!("cannot write remarks to {}: {reason}", file.display()),
        )
    })
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
/// the options lld's LTO uses (see [`llvm::create_target_machine`]). With
/// `module`, a default code model means the module's own (`-mcmodel`).
pub fn target_machine(
    config: &Config,
    triple: &str,
    module: Option<&Module<'_>>,
) -> Result<TargetMachine> {
    let cpu = config
        .target_cpu
        .clone()
        .unwrap_or_else(|| default_cpu(triple).to_string());
    let reloc_model = reloc_model(config.reloc_model);
    let code_model = code_model(config.code_model);
    let settings = llvm::MachineSettings {
        triple,
        cpu: &cpu,
        features: &config.target_features,
        reloc_model,
        code_model,
        codegen_level: config.codegen_level(),
        function_sections: config.function_sections,
        data_sections: config.data_sections,
        asm_verbose: config.emit == EmitKind::Assembly,
    };
    llvm::create_target_machine(&settings, module).map_err(|reason| {
        // A triple no one configured came from a module: name it, it is
        // the input to look at.
        let from = match (module, &config.target_triple) {
            (Some(module), None) => format!(
                ", the target of module {}",
                module.get_name().to_string_lossy()
            ),
            _ => String::new(),
        };
        Error::Config(format!(
            "cannot create a target machine for {triple}{from} (cpu {cpu:?}, features {:?}): \
             {reason}",
            config.target_features
        ))
    })
}

/// Points `module` at the machine's triple and data layout (for `--target`).
pub fn retarget(module: &Module<'_>, machine: &TargetMachine) {
    module.set_triple(&machine.get_triple());
    module.set_data_layout(&machine.get_target_data().get_data_layout());
}

/// The target machine's relocation model for `model`.
pub fn reloc_model(model: RelocModel) -> llvm::Reloc {
    match model {
        RelocModel::Pic => llvm::Reloc::Pic,
        RelocModel::Static => llvm::Reloc::Static,
        RelocModel::DynamicNoPic => llvm::Reloc::DynamicNoPic,
    }
}

/// The target machine's code model for `model`.
pub fn code_model(model: CodeModel) -> llvm::CodeModelKind {
    match model {
        CodeModel::Default => llvm::CodeModelKind::Default,
        CodeModel::Small => llvm::CodeModelKind::Small,
        CodeModel::Kernel => llvm::CodeModelKind::Kernel,
        CodeModel::Medium => llvm::CodeModelKind::Medium,
        CodeModel::Large => llvm::CodeModelKind::Large,
    }
}

/// What code generation writes for `emit` (nothing for bitcode).
pub fn file_kind(emit: EmitKind) -> llvm::FileKind {
    match emit {
        EmitKind::Object => llvm::FileKind::Object,
        EmitKind::Assembly => llvm::FileKind::Assembly,
        EmitKind::Bitcode => llvm::FileKind::None,
    }
}

/// The pipeline level for `level`.
pub fn pipeline_level(level: OptLevel) -> llvm::PipelineLevel {
    match level {
        OptLevel::O0 => llvm::PipelineLevel::O0,
        OptLevel::O1 => llvm::PipelineLevel::O1,
        OptLevel::O2 => llvm::PipelineLevel::O2,
        OptLevel::O3 => llvm::PipelineLevel::O3,
        OptLevel::Os => llvm::PipelineLevel::Os,
        OptLevel::Oz => llvm::PipelineLevel::Oz,
    }
}

/// The top-level passes of `lto<On>` at the configured level, as
/// [`optimize_lto`] runs them (indexes into it are its cuts).
pub fn lto_pipeline(machine: &TargetMachine, config: &Config, name: &str) -> Result<Vec<String>> {
    llvm::lto_pipeline_passes(
        machine,
        pipeline_level(config.opt_level),
        config.opt_level.vectorizes(),
    )
    .map_err(|reason| Error::llvm(name.to_string(), Phase::Optimize, reason))
}

/// Runs `lto<On>` at the configured level on `module`, all of it or the
/// part `part` names.
pub fn optimize_lto(
    module: &Module<'_>,
    machine: &TargetMachine,
    config: &Config,
    name: &str,
    part: llvm::PipelinePart,
) -> Result<()> {
    llvm::run_lto_pipeline(
        module,
        machine,
        pipeline_level(config.opt_level),
        config.opt_level.vectorizes(),
        part,
    )
    .map_err(|reason| Error::llvm(name.to_string(), Phase::Optimize, reason))
}

/// Runs the named pipeline (`lto`, `default`) at the configured level.
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
    module.run_passes(&passes, machine, options).map_err(|e| {
        Error::llvm(
            name.to_string(),
            Phase::Optimize,
            e.to_string_lossy().into_owned(),
        )
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
            let buffer = llvm::ModuleBuffer::new(module)
                .map_err(|reason| Error::llvm(name.to_string(), Phase::Codegen, reason))?;
            return Ok(buffer.as_bytes().to_vec());
        }
    };
    machine
        .write_to_memory_buffer(module, file_type)
        .map(|buffer| buffer.as_slice().to_vec())
        .map_err(|e| {
            Error::llvm(
                name.to_string(),
                Phase::Codegen,
                e.to_string_lossy().into_owned(),
            )
        })
}
