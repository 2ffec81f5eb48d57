//! What happens between pipeline stages: `--save-temps` dumps, the IR
//! verifier ([`Config::verify`]) and the caller's [`StageHook`](crate::StageHook).
//!
//! Stage names ([`StageName`]) are rustc's: ThinLTO `thin-lto-input`,
//! `thin-lto-after-rename`, `-after-resolve`, `-after-internalize`,
//! `-after-import`, `-after-pm`; fat LTO `lto.input`,
//! `lto.after-restriction`, `lto.after-opt`; a module compiled without LTO
//! `no-opt` and `opt`.

use crate::config::Config;
use crate::config::Stage;
use crate::error::{Error, Phase, Result};
pub(crate) use crate::report::StageName;
use inkwell::module::Module;

/// The checks of an input module right after parsing, before any pass:
/// the IR verifier (unless [`Config::verify_inputs`] is off), and function
/// attributes naming processors or features the target does not know
/// turned into warnings (LLVM would print them to stderr).
pub(crate) fn check_input(
    config: &Config,
    name: &str,
    module: &Module<'_>,
    machine: Option<&inkwell::targets::TargetMachine>,
) -> Result<()> {
    if config.verify_inputs {
        crate::llvm::verify_input(module).map_err(|text| invalid_ir(name, &text))?;
    }
    if let Some(machine) = machine {
        crate::llvm::drop_unknown_subtarget_names(module, machine);
    }
    Ok(())
}

/// The error for input `name` that the IR verifier refused with `text`.
pub(crate) fn invalid_ir(name: &str, text: &str) -> Error {
    // The verifier lists every problem; the first few say enough.
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut reason = format!("invalid IR: {}", lines[..lines.len().min(4)].join(" | "));
    if lines.len() > 4 {
        reason.push_str(&format!(" | ... ({} more lines)", lines.len() - 4));
    }
    Error::invalid(name, Phase::Verify, reason)
}

/// The stage checks of one module's pipeline.
pub(crate) struct Stages<'a> {
    config: &'a Config,
    module_name: &'a str,
    /// Save-temps files are `<prefix>.<stage>.bc` (or `<stage>.bc` without).
    prefix: Option<&'a str>,
}

impl<'a> Stages<'a> {
    /// The checks for `module_name`, whose save-temps files start with
    /// `prefix`.
    pub(crate) fn new(config: &'a Config, module_name: &'a str, prefix: Option<&'a str>) -> Self {
        Stages {
            config,
            module_name,
            prefix,
        }
    }

    /// Whether any check runs: without, stages cost nothing.
    pub(crate) fn active(&self) -> bool {
        self.config.save_temps.is_some() || self.config.verify || self.config.stage_hook.is_some()
    }

    /// `module` has finished `stage` (of `phase`): dump it, show it to the
    /// hook, verify it, in that order. The dump is what the stage made (on
    /// disk to look at even when it fails verification); the verifier sees
    /// what the next stage will get, changes by the hook included (LLVM's
    /// passes may crash on invalid IR).
    pub(crate) fn reached(
        &self,
        module: &Module<'_>,
        stage: StageName,
        phase: Phase,
    ) -> Result<()> {
        if !self.active() {
            return Ok(());
        }
        if let Some(dir) = &self.config.save_temps {
            let file = match self.prefix {
                Some(prefix) => format!("{prefix}.{stage}.bc"),
                None => format!("{stage}.bc"),
            };
            crate::fs::write_module(&dir.join(file), module)?;
        }
        if let Some(hook) = &self.config.stage_hook {
            let view = Stage {
                module_name: self.module_name,
                stage,
                module,
            };
            hook.call(&view).map_err(|reason| Error::Hook {
                input: self.module_name.to_string(),
                stage,
                reason,
            })?;
        }
        if self.config.verify {
            module.verify().map_err(|e| {
                Error::llvm(
                    self.module_name.to_string(),
                    phase,
                    format!(
                        "module fails verification after {stage}: {}",
                        e.to_string_lossy().trim()
                    ),
                )
            })?;
        }
        Ok(())
    }
}
