//! The regular LTO pipeline (`lto<level>`) as LLVM's `PassBuilder` builds
//! it: its top-level passes by name, and a run of all of them or of one side
//! of a cut between two of them.

use super::{status, PipelineLevel, ShimBytes};
use crate::ffi;
use inkwell::module::Module;
use inkwell::targets::TargetMachine;
use std::ffi::CStr;
use std::os::raw::{c_int, c_uint};

/// Which passes of the pipeline a run covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipelinePart {
    /// Every pass.
    Whole,
    /// The top-level passes before this index (and, within the passes from
    /// it on, those LLVM marks required, which are idempotent).
    BeforeCut(usize),
    /// The top-level passes from this index on (and the required ones
    /// before it).
    FromCut(usize),
}

/// The top-level passes of `lto<level>` for `machine`, each as opt's
/// `-passes` text prints it (`globaldce<vfe-linkage-unit-visibility>`,
/// `function<eager-inv>(licm,gvn<>,...)`). Indexes into this list are the
/// cuts [`run_lto_pipeline`] takes.
pub fn lto_pipeline_passes(
    machine: &TargetMachine,
    level: PipelineLevel,
    vectorize: bool,
) -> Result<Vec<String>, String> {
    let mut out = std::ptr::null_mut();
    let mut err = std::ptr::null_mut();
    // SAFETY: the machine is alive for the call and only read; the shim
    // checks the level code and returns a buffer we own or an error.
    let code = unsafe {
        ffi::ltoe_lto_pipeline_text(
            machine.as_mut_ptr(),
            level.code(),
            c_int::from(vectorize),
            &mut out,
            &mut err,
        )
    };
    status(code, err)?;
    let text = String::from_utf8_lossy(ShimBytes::from_raw(out).as_bytes()).into_owned();
    Ok(split_top_level(&text))
}

/// Splits opt's pipeline text at the commas outside any `(...)` or `<...>`.
fn split_top_level(text: &str) -> Vec<String> {
    let mut passes = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in text.trim().chars() {
        match c {
            '(' | '<' => depth += 1,
            ')' | '>' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                passes.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.is_empty() {
        passes.push(current);
    }
    passes
}

/// Runs `lto<level>` (`ffi::LTOE_OPT_*`) on `module`, or the part of it
/// `part` names: the optional passes on the other side of the cut are
/// skipped through LLVM's pass instrumentation (as opt-bisect skips them),
/// so every pass that runs is the object `PassBuilder` made, with its
/// parameters.
pub fn run_lto_pipeline(
    module: &Module<'_>,
    machine: &TargetMachine,
    level: PipelineLevel,
    vectorize: bool,
    part: PipelinePart,
) -> Result<(), String> {
    let (part_code, cut) = match part {
        PipelinePart::Whole => (ffi::LTOE_PIPELINE_WHOLE, 0),
        PipelinePart::BeforeCut(cut) => (ffi::LTOE_PIPELINE_BEFORE_CUT, cut),
        PipelinePart::FromCut(cut) => (ffi::LTOE_PIPELINE_FROM_CUT, cut),
    };
    let cut = c_uint::try_from(cut).map_err(|_| format!("pipeline cut {cut} is out of range"))?;
    let mut err = std::ptr::null_mut();
    // SAFETY: the module and machine are alive and the module is ours for
    // the call; the shim checks the level and part codes.
    let code = unsafe {
        ffi::ltoe_lto_optimize(
            module.as_mut_ptr(),
            machine.as_mut_ptr(),
            level.code(),
            c_int::from(vectorize),
            part_code,
            cut,
            &mut err,
        )
    };
    status(code, err)
}

/// Why the late passes of `lto<level>` must see all of `module` (control
/// flow integrity, virtual function elimination, allocation tokens), or
/// `None` when they may run on its partitions.
pub fn whole_module_late_passes(module: &Module<'_>) -> Option<String> {
    // SAFETY: the module is alive and only read for the call.
    let reason = unsafe { ffi::ltoe_whole_module_late_passes(module.as_mut_ptr()) };
    if reason.is_null() {
        return None;
    }
    // SAFETY: non-null results are the shim's static NUL-terminated strings.
    Some(
        unsafe { CStr::from_ptr(reason) }
            .to_string_lossy()
            .into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::split_top_level;

    #[test]
    fn pipeline_text_splits_at_top_level_commas_only() {
        assert_eq!(
            split_top_level("a,function<eager-inv>(b<x;y>,loop(c,d)),e<f>\n"),
            ["a", "function<eager-inv>(b<x;y>,loop(c,d))", "e<f>"]
        );
        assert!(split_top_level("").is_empty());
    }
}
