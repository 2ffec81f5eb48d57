//! Fat LTO code generation partitions: the optimized module planned into
//! partitions and written once as bitcode, each partition loaded from it
//! into a context of its own, and the repairs applied to a loaded
//! partition.

use super::buffers::ShimBytes;
use super::thin::Records;
use super::{c_string, status};
use crate::ffi;
use inkwell::context::Context;
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

/// A module planned into partitions and written once as bitcode, from
/// which each partition loads what it holds ([`load_partition`]).
pub struct SplitModule {
    /// The whole planned module as plain bitcode.
    pub bitcode: ShimBytes,
    /// What each partition holds, in partition order.
    pub members: Vec<PartitionMembers>,
    /// Every definition that was local before the split, sorted by name.
    pub locals: Vec<SplitLocal>,
    /// The `linkonce` definitions used across partitions, sorted by name.
    pub shared: Vec<SharedDefinition>,
}

/// The definitions one partition holds.
pub struct PartitionMembers {
    /// Their size in IR instructions (a global variable counts one).
    pub size: u64,
    /// Their names, as C strings for the loader.
    pub names: Vec<CString>,
}

/// Tags every definition of `module` with `origin`, the input it comes
/// from, before it is linked (see [`split_module`]'s `by_origin`).
pub fn tag_origin(module: &Module<'_>, origin: &str) -> Result<(), String> {
    let origin = c_string(origin)?;
    // SAFETY: the module is alive and used by this thread only for the
    // call; the origin is a C string valid for the call (the shim copies it
    // into the module's context).
    unsafe { ffi::ltoe_tag_origin(module.as_mut_ptr(), origin.as_ptr()) };
    Ok(())
}

/// Plans `module` into `count` partitions and writes it once as bitcode.
/// Every definition goes to the partition of the MD5 of its name (its
/// comdat's, its aliasee's; definitions that must stay together by their
/// least name), so where a function goes depends on its name alone: an
/// edit elsewhere moves nothing. The module is consumed: the plan leaves
/// its locals external, so it must not be compiled afterwards.
///
/// With `by_origin`, a definition tagged by [`tag_origin`] is placed by the
/// input it came from instead (`<origin>#<bucket>`, a bucket per 25,000
/// instructions of that input), so that an edit of one source stays in few
/// partitions; the tags are dropped.
pub fn split_module(
    module: Module<'_>,
    count: usize,
    by_origin: bool,
) -> Result<SplitModule, String> {
    let count_c = std::os::raw::c_uint::try_from(count)
        .map_err(|_| format!("{count} partitions are too many"))?;
    if count == 0 {
        return Err("partition count must be at least 1".to_string());
    }
    let mut bitcode = std::ptr::null_mut();
    let mut members = std::ptr::null_mut();
    let mut locals = std::ptr::null_mut();
    let mut shared = std::ptr::null_mut();
    let mut err = std::ptr::null_mut();
    // SAFETY: the module is alive and exclusively ours (taken by value, so
    // nothing else can compile it afterwards); the shim writes one owned
    // buffer to each out-pointer on success.
    let code = unsafe {
        ffi::ltoe_split_plan(
            module.as_mut_ptr(),
            count_c,
            c_int::from(by_origin),
            &mut bitcode,
            &mut members,
            &mut locals,
            &mut shared,
            &mut err,
        )
    };
    // Owned before the status check, so that nothing leaks on an error
    // (null ones are empty).
    let bitcode = ShimBytes::from_raw(bitcode);
    let members = ShimBytes::from_raw(members);
    let locals = ShimBytes::from_raw(locals);
    let shared = ShimBytes::from_raw(shared);
    status(code, err)?;
    // Not freed here: its context frees it with everything else it holds
    // when the fat run lets it go, in one teardown instead of two walks.
    std::mem::forget(module);
    let mut reader = Records(members.as_bytes());
    let mut partitions = Vec::with_capacity(count);
    for _ in 0..count {
        let size = reader.u64()?;
        let held = reader.u32()? as usize;
        let names = (0..held)
            .map(|_| reader.string().and_then(|name| c_string(&name)))
            .collect::<Result<Vec<_>, _>>()?;
        partitions.push(PartitionMembers { size, names });
    }
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
        bitcode,
        members: partitions,
        locals: out,
        shared: shared_out,
    })
}

/// Loads partition `index` of `split` into `context`: the definitions it
/// holds, every other one a declaration (its body is never read), and
/// module-level asm in partition 0 only. With `prune_units`, only the
/// debug info compile units its code and globals reach stay listed, so
/// that an edit of one file does not change every partition (the caller
/// verifies: a unit reached some other way makes the debug info invalid).
pub fn load_partition<'ctx>(
    context: &'ctx Context,
    split: &SplitModule,
    index: usize,
    name: &str,
    prune_units: bool,
) -> Result<Module<'ctx>, String> {
    let members = split
        .members
        .get(index)
        .ok_or_else(|| format!("no partition {index}"))?;
    let own: Vec<*const c_char> = members.names.iter().map(|n| n.as_ptr()).collect();
    let name_c = c_string(name)?;
    let data = split.bitcode.as_bytes();
    let mut module = std::ptr::null_mut();
    let mut err = std::ptr::null_mut();
    // SAFETY: the context outlives the returned module (lifetime 'ctx) and
    // is this thread's own; `data`, the name and the member names are valid
    // for the call, and the shim materializes the whole module before it
    // returns, so nothing reads `data` afterwards.
    let code = unsafe {
        ffi::ltoe_load_partition(
            context.raw(),
            data.as_ptr().cast(),
            data.len(),
            name_c.as_ptr(),
            own.as_ptr(),
            own.len(),
            c_int::from(index == 0),
            c_int::from(prune_units),
            &mut module,
            &mut err,
        )
    };
    status(code, err)?;
    // SAFETY: the shim handed us a fresh module we now own, created in
    // `context`.
    Ok(unsafe { Module::new(module) })
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

/// A context nothing uses any more, on its way to another thread (held
/// only to be dropped there).
struct ContextToFree(#[allow(dead_code)] Context);

// SAFETY: a context may be used from any one thread at a time. This one
// was given by value, so no module, type or value of it is borrowed any
// more (inkwell ties them all to the context's lifetime); modules it still
// owns (a split module, forgotten by `split_module`) are freed with it and
// never reached from elsewhere; its diagnostic handler is the shim's own.
unsafe impl Send for ContextToFree {}

/// Frees `context` and everything it owns on a thread of its own, then
/// gives the freed pages back to the operating system
/// ([`release_free_memory`]): a merged fat module's context takes a good
/// part of a second to free, which the partitions need not wait for. Join
/// the handle to know it is done; `None` when no thread could be started
/// and it was freed here.
pub fn free_in_background(context: Context) -> Option<std::thread::JoinHandle<()>> {
    let context = ContextToFree(context);
    let spawned = std::thread::Builder::new()
        .name("lto-engine-free".to_string())
        .spawn(move || {
            drop(context);
            release_free_memory();
        });
    match spawned {
        Ok(handle) => Some(handle),
        Err(_) => {
            // The closure, and the context with it, was dropped already.
            release_free_memory();
            None
        }
    }
}

/// Gives the heap pages freed so far back to the operating system (with
/// glibc; nothing elsewhere): called once the merged module and its context
/// are gone, before the partitions' threads allocate in arenas of their own.
pub fn release_free_memory() {
    // SAFETY: malloc_trim only walks the allocator's own free lists; it
    // takes no pointer and is safe to call at any time from any thread.
    unsafe { ffi::ltoe_release_free_memory() }
}
