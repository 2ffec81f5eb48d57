//! Fat LTO code generation partitions: the optimized module split with
//! LLVM's `SplitModule`, each partition as bitcode to be parsed into a
//! context of its own, and the repairs applied to a parsed partition.

use super::buffers::ShimBytes;
use super::thin::Records;
use super::{c_string, status};
use crate::ffi;
use inkwell::module::Module;
use std::ffi::CString;
use std::os::raw::{c_char, c_int};

/// The linkage a definition had before the split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalLinkage {
    /// `internal`.
    Internal,
    /// `private`.
    Private,
}

/// A definition that was local before the split: `SplitModule` made it a
/// hidden global so that other partitions can refer to it.
#[derive(Debug, Clone)]
pub struct SplitLocal {
    /// Its name in the partitions (unnamed ones were given one).
    pub name: String,
    /// Its linkage before the split.
    pub linkage: LocalLinkage,
    /// Module-level asm (kept in partition 0) defines or names it.
    pub named_by_module_asm: bool,
    /// The partition holding its definition.
    pub defined_in: usize,
    /// Partitions that use it through a declaration, sorted.
    pub used_in: Vec<usize>,
}

/// A `linkonce` definition (preserved, so not local) that `SplitModule` put
/// in another partition than some of its users: a pass on its own
/// partition that drops unused `linkonce` definitions would drop it.
#[derive(Debug, Clone)]
pub struct SharedDefinition {
    /// Its name.
    pub name: String,
    /// The partition holding its definition.
    pub defined_in: usize,
}

/// A module split into partitions.
pub struct SplitModule {
    /// Each partition as plain bitcode, in partition order.
    pub parts: Vec<ShimBytes>,
    /// Every definition that was local before the split, sorted by name.
    pub locals: Vec<SplitLocal>,
    /// The `linkonce` definitions used across partitions, sorted by name.
    pub shared: Vec<SharedDefinition>,
}

/// Splits `module` into `count` partitions. The module is consumed: the
/// split leaves its locals external, so it must not be compiled afterwards.
pub fn split_module(module: Module<'_>, count: usize) -> Result<SplitModule, String> {
    let count_c = std::os::raw::c_uint::try_from(count)
        .map_err(|_| format!("{count} partitions are too many"))?;
    if count == 0 {
        return Err("partition count must be at least 1".to_string());
    }
    let mut parts = vec![std::ptr::null_mut(); count];
    let mut locals = std::ptr::null_mut();
    let mut shared = std::ptr::null_mut();
    let mut err = std::ptr::null_mut();
    // SAFETY: the module is alive and exclusively ours (taken by value, so
    // nothing else can compile it afterwards); `parts` has room for the
    // `count` buffers the shim writes on success, each then owned by us.
    let code = unsafe {
        ffi::ltoe_split_module(
            module.as_mut_ptr(),
            count_c,
            parts.as_mut_ptr(),
            &mut locals,
            &mut shared,
            &mut err,
        )
    };
    // Owned before the status check, so that nothing leaks on an error
    // (the shim fills `parts` only on success; null ones are empty).
    let parts: Vec<ShimBytes> = parts.into_iter().map(ShimBytes::from_raw).collect();
    let locals = ShimBytes::from_raw(locals);
    let shared = ShimBytes::from_raw(shared);
    status(code, err)?;
    drop(module);
    let mut reader = Records(locals.as_bytes());
    let mut out = Vec::new();
    while !reader.is_empty() {
        let name = reader.string()?;
        let linkage = match reader.u8()? {
            0 => LocalLinkage::Internal,
            1 => LocalLinkage::Private,
            other => return Err(format!("unknown local linkage {other} from the shim")),
        };
        let named_by_module_asm = reader.u8()? != 0;
        let defined_in = reader.u32()? as usize;
        if defined_in >= count {
            return Err(format!("{name}: defined in no partition"));
        }
        let users = reader.u32()? as usize;
        let used_in = (0..users)
            .map(|_| reader.u32().map(|p| p as usize))
            .collect::<Result<Vec<_>, _>>()?;
        out.push(SplitLocal {
            name,
            linkage,
            named_by_module_asm,
            defined_in,
            used_in,
        });
    }
    let mut reader = Records(shared.as_bytes());
    let mut shared_out = Vec::new();
    while !reader.is_empty() {
        let name = reader.string()?;
        let defined_in = reader.u32()? as usize;
        if defined_in >= count {
            return Err(format!("{name}: defined in no partition"));
        }
        shared_out.push(SharedDefinition { name, defined_in });
    }
    Ok(SplitModule {
        parts,
        locals: out,
        shared: shared_out,
    })
}

/// Keeps the definitions `names` of `module` through every pass (they join
/// `llvm.compiler.used`, which changes nothing in the object).
pub fn keep_definitions(module: &Module<'_>, names: &[&str]) -> Result<(), String> {
    if names.is_empty() {
        return Ok(());
    }
    let owned: Vec<CString> = names
        .iter()
        .map(|name| c_string(name))
        .collect::<Result<_, _>>()?;
    let pointers: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
    let mut err = std::ptr::null_mut();
    // SAFETY: the module is alive and not shared with another thread (a
    // partition is parsed into its own context); the name pointers stay
    // valid (owned) until the call returns and `pointers.len()` is their
    // count.
    let code = unsafe {
        ffi::ltoe_keep_definitions(
            module.as_mut_ptr(),
            pointers.as_ptr(),
            pointers.len(),
            &mut err,
        )
    };
    status(code, err)
}

/// Gives the definition `name` its local `linkage` back (and default
/// visibility).
pub fn localize_definition(
    module: &Module<'_>,
    name: &str,
    linkage: LocalLinkage,
) -> Result<(), String> {
    let name_c = c_string(name)?;
    let code: c_int = match linkage {
        LocalLinkage::Internal => 0,
        LocalLinkage::Private => 1,
    };
    let mut err = std::ptr::null_mut();
    // SAFETY: the module is alive for the call and not shared with another
    // thread (a partition is parsed into its own context); the name is a
    // valid C string for the call.
    let result = unsafe {
        ffi::ltoe_localize_definition(module.as_mut_ptr(), name_c.as_ptr(), code, &mut err)
    };
    status(result, err)
}

/// Renames the global value `name` of `module` to `new_name`.
pub fn rename_global(module: &Module<'_>, name: &str, new_name: &str) -> Result<(), String> {
    let (name_c, new_c) = (c_string(name)?, c_string(new_name)?);
    let mut err = std::ptr::null_mut();
    // SAFETY: as for `localize_definition`: a live module of this thread and
    // two C strings valid for the call.
    let result = unsafe {
        ffi::ltoe_rename_global(
            module.as_mut_ptr(),
            name_c.as_ptr(),
            new_c.as_ptr(),
            &mut err,
        )
    };
    status(result, err)
}

/// Gives the heap pages freed so far back to the operating system (with
/// glibc; nothing elsewhere): called once the merged module and its context
/// are gone, before the partitions' threads allocate in arenas of their own.
pub fn release_free_memory() {
    // SAFETY: malloc_trim only walks the allocator's own free lists; it
    // takes no pointer and is safe to call at any time from any thread.
    unsafe { ffi::ltoe_release_free_memory() }
}
