//! The shim's enumerations as Rust types: above `llvm/` nothing names an
//! `LTOE_*` code, and each type turns into its code in one place.

use crate::ffi;
use std::os::raw::c_int;

/// How a target machine relocates (`LTOE_RELOC_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Reloc {
    /// Position-independent code.
    #[default]
    Pic,
    /// Absolute addresses.
    Static,
    /// Dynamic, but not position-independent.
    DynamicNoPic,
}

/// A target machine's code model (`LTOE_CODE_MODEL_*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CodeModelKind {
    /// The module's own, else the target's default.
    #[default]
    Default,
    /// Small.
    Small,
    /// Kernel.
    Kernel,
    /// Medium.
    Medium,
    /// Large.
    Large,
}

/// What code generation writes (`LTOE_FILE_*`); nothing when the output is
/// bitcode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FileKind {
    /// An object file.
    #[default]
    Object,
    /// Assembly text.
    Assembly,
    /// No code generation.
    None,
}

/// The optimization level of a pipeline (`LTOE_OPT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipelineLevel {
    /// `O0`.
    O0,
    /// `O1`.
    O1,
    /// `O2`.
    O2,
    /// `O3`.
    O3,
    /// `Os`.
    Os,
    /// `Oz`.
    Oz,
}

impl Reloc {
    pub(crate) fn code(self) -> c_int {
        match self {
            Reloc::Pic => ffi::LTOE_RELOC_PIC,
            Reloc::Static => ffi::LTOE_RELOC_STATIC,
            Reloc::DynamicNoPic => ffi::LTOE_RELOC_DYNAMIC_NO_PIC,
        }
    }
}

impl CodeModelKind {
    pub(crate) fn code(self) -> c_int {
        match self {
            CodeModelKind::Default => ffi::LTOE_CODE_MODEL_DEFAULT,
            CodeModelKind::Small => ffi::LTOE_CODE_MODEL_SMALL,
            CodeModelKind::Kernel => ffi::LTOE_CODE_MODEL_KERNEL,
            CodeModelKind::Medium => ffi::LTOE_CODE_MODEL_MEDIUM,
            CodeModelKind::Large => ffi::LTOE_CODE_MODEL_LARGE,
        }
    }
}

impl FileKind {
    pub(crate) fn code(self) -> c_int {
        match self {
            FileKind::Object => ffi::LTOE_FILE_OBJECT,
            FileKind::Assembly => ffi::LTOE_FILE_ASSEMBLY,
            FileKind::None => ffi::LTOE_FILE_NONE,
        }
    }
}

impl PipelineLevel {
    pub(crate) fn code(self) -> c_int {
        match self {
            PipelineLevel::O0 => ffi::LTOE_OPT_O0,
            PipelineLevel::O1 => ffi::LTOE_OPT_O1,
            PipelineLevel::O2 => ffi::LTOE_OPT_O2,
            PipelineLevel::O3 => ffi::LTOE_OPT_O3,
            PipelineLevel::Os => ffi::LTOE_OPT_OS,
            PipelineLevel::Oz => ffi::LTOE_OPT_OZ,
        }
    }
}
