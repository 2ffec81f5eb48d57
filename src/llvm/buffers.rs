//! Serialized modules: [`ModuleBuffer`] (plain bitcode) and [`ThinBuffer`]
//! (bitcode with a ThinLTO summary), both written by LLVM's bitcode writer.

use crate::ffi;
use inkwell::module::Module;

/// Bytes owned by the shim, freed on drop.
pub(crate) struct ShimBytes {
    raw: *mut ffi::LtoeBuffer,
}

// SAFETY: the buffer is a heap std::string that is never mutated after the
// shim hands it over; reading it from several threads is fine.
unsafe impl Send for ShimBytes {}
// SAFETY: as above, shared access is read-only.
unsafe impl Sync for ShimBytes {}

impl ShimBytes {
    /// Takes ownership of a buffer the shim returned (null is an empty buffer).
    pub(crate) fn from_raw(raw: *mut ffi::LtoeBuffer) -> Self {
        ShimBytes { raw }
    }

    /// The bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        if self.raw.is_null() {
            return &[];
        }
        // SAFETY: the buffer is alive while `self` is, and its data pointer and
        // length describe an initialized byte range.
        unsafe {
            let data = ffi::ltoe_buffer_data(self.raw);
            let len = ffi::ltoe_buffer_len(self.raw);
            if len == 0 {
                &[]
            } else {
                std::slice::from_raw_parts(data, len)
            }
        }
    }
}

impl Drop for ShimBytes {
    fn drop(&mut self) {
        if !self.raw.is_null() {
            // SAFETY: owned, freed exactly once.
            unsafe { ffi::ltoe_buffer_free(self.raw) }
        }
    }
}

fn write(module: &Module<'_>, thin: bool) -> Result<ShimBytes, String> {
    let mut out = std::ptr::null_mut();
    let mut err = std::ptr::null_mut();
    // SAFETY: the module is alive for the call; the shim writes a new buffer
    // that we own.
    let code = unsafe {
        ffi::ltoe_write_bitcode(module.as_mut_ptr(), i32::from(thin), &mut out, &mut err)
    };
    super::status(code, err)?;
    Ok(ShimBytes::from_raw(out))
}

/// A module serialized as plain bitcode (with a module hash), for fat LTO.
/// `Send + Sync`; the bytes are freed on drop.
pub struct ModuleBuffer(ShimBytes);

impl ModuleBuffer {
    /// Serializes `module` with LLVM's bitcode writer.
    pub fn new(module: &Module<'_>) -> Result<Self, String> {
        write(module, false).map(ModuleBuffer)
    }

    /// The bitcode.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl AsRef<[u8]> for ModuleBuffer {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// A module serialized with its ThinLTO module summary and hash, as
/// `-flto=thin` writes it. Names anonymous globals and canonicalizes aliases
/// in `module` first (the summary writer needs both), and turns a `"ThinLTO"`
/// module flag of 0 (`clang -flto=full`) into 1 so that the summary is one
/// ThinLTO imports from. `Send + Sync`.
pub struct ThinBuffer(ShimBytes);

impl ThinBuffer {
    /// Serializes `module` through `ThinLTOBitcodeWriterPass`.
    pub fn new(module: &Module<'_>) -> Result<Self, String> {
        write(module, true).map(ThinBuffer)
    }

    /// The bitcode.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl AsRef<[u8]> for ThinBuffer {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}
