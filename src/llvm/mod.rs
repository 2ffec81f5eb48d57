//! Safe owners of the shim's handles and the LLVM steps the rest of the crate
//! calls. All `unsafe` code of the crate lives here (and in `ffi.rs`).
//!
//! Functions here return `Result<_, String>` with LLVM's own message; the
//! callers attach the input and the phase when they turn it into an
//! [`crate::Error`].

use crate::ffi;
use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::targets::{InitializationConfig, Target, TargetMachine};
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};
use std::sync::Once;

mod buffers;
mod bytes;
mod cache;
mod codes;
mod explain;
mod partition;
mod pipeline;
mod thin;
pub(crate) use buffers::ShimBytes;
pub use buffers::{ModuleBuffer, ThinBuffer};
pub use bytes::InputBytes;
pub use cache::{checksum, parse_cache_policy, prune_cache, KeyParts, KeySettings, SourceState};
pub use codes::{CodeModelKind, FileKind, PipelineLevel, Reloc};
pub use explain::{
    bitcode_symbol_details, demangle, record_inlining, take_inlining, GraphEntry, GraphSummary,
    Hotness, IndexGraph, InlineDecision, SymbolDetail,
};
pub use partition::{
    free_in_background, keep_definitions, load_partition, localize_definition, rename_global,
    split_module, tag_origin, LocalLinkage, SplitModule,
};
pub use pipeline::{lto_pipeline_passes, run_lto_pipeline, whole_module_late_passes, PipelinePart};
pub use thin::{
    bitcode_lto_info, bitcode_module_hash, guid_for_symbol, Definition, Import, IndexedModule,
    LinkageClass, ModuleStats, ThinIndex,
};

/// The LLVM major version this crate reads and writes bitcode for.
pub const LLVM_MAJOR: u32 = 22;

/// Registers the targets this crate was built with (x86, AArch64), once.
/// Registering is additive: targets the host registered stay.
pub fn init_targets() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let config = InitializationConfig::default();
        Target::initialize_x86(&config);
        Target::initialize_aarch64(&config);
    });
}

/// Installs the engine's handler of LLVM's fatal errors for the whole
/// process, once: see [`crate::install_fatal_error_handler`].
pub fn install_fatal_error_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: installs a plain function as LLVM's process-wide handler;
        // it only formats the reason and writes it to stderr. Once is
        // enough (the Once above), and LLVM asserts if installed twice.
        unsafe { ffi::ltoe_install_fatal_error_handler() };
    });
}

/// How serious an LLVM diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Severity {
    /// The operation failed.
    Error,
    /// Something is suspicious but the result is usable.
    Warning,
    /// An optimization remark.
    Remark,
    /// Extra context for a previous diagnostic.
    Note,
}

crate::names::named_enum!(
    /// The severity as diagnostics print it: `error`, `warning`, `remark`,
    /// `note`.
    pub(crate) Severity {
        Error => "error",
        Warning => "warning",
        Remark => "remark",
        Note => "note",
    }
);

/// One diagnostic LLVM reported while working on a module: a warning (a
/// conflicting module flag, an inline-asm `.warning`), a remark asked for
/// with [`Config::remarks`](crate::Config::remarks), or a note; or one of
/// the session's warnings about the preserved names (`main` defined but not
/// preserved, a preserved name no input defines: `module` is then
/// `preserved symbols`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Diagnostic {
    /// Its severity.
    pub severity: Severity,
    /// LLVM's text (for a remark, without its location).
    pub message: String,
    /// The module being worked on: a ThinLTO module, a module compiled
    /// without LTO, or fat LTO's base module.
    pub module: String,
    /// For an optimization remark: the pass that made it (`inline`).
    pub pass: Option<String>,
    /// For an optimization remark: the function it concerns.
    pub function: Option<String>,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}: ", self.severity, self.module)?;
        if let Some(pass) = &self.pass {
            write!(f, "[{pass}] ")?;
        }
        if let Some(function) = &self.function {
            write!(f, "in {function}: ")?;
        }
        f.write_str(self.message.trim_end())
    }
}

/// Makes `context` record its diagnostics instead of printing them (and
/// exiting on an error). Call once, right after creating the context.
pub fn install_diagnostics(context: &Context) {
    // Without a pattern the call cannot fail.
    let _ = install_diagnostics_with_remarks(context, None);
}

/// As [`install_diagnostics`], also recording the optimization remarks of
/// passes whose name matches `remarks` (an LLVM regex, as
/// `-pass-remarks=`). Fails on a bad pattern.
pub fn install_diagnostics_with_remarks(
    context: &Context,
    remarks: Option<&str>,
) -> Result<(), String> {
    let pattern = remarks
        .map(|p| CString::new(p).map_err(|_| format!("remark pattern {p:?} holds a NUL byte")))
        .transpose()?;
    let mut err = std::ptr::null_mut();
    // SAFETY: the context is alive for the call; the shim only replaces its
    // handler; the pattern outlives the call (the shim copies it).
    let failed = unsafe {
        ffi::ltoe_context_install_diagnostics(
            context.raw(),
            pattern.as_ref().map_or(std::ptr::null(), |p| p.as_ptr()),
            &mut err,
        )
    };
    if failed != 0 {
        return Err(take_string(err));
    }
    Ok(())
}

/// A file receiving a context's optimization remarks (lld's
/// `--opt-remarks-filename`): opened by [`RemarksFile::start`], finalized
/// and kept when dropped. It must be dropped before its context (declare it
/// after the context).
pub struct RemarksFile<'ctx> {
    file: *mut std::ffi::c_void,
    _context: std::marker::PhantomData<&'ctx Context>,
}

impl<'ctx> RemarksFile<'ctx> {
    /// Streams `context`'s remarks (of passes matching `passes`, all when
    /// `None`) to `path` in `format` (`yaml`, `bitstream`, or empty for
    /// YAML), with profile hotness when `with_hotness`, without those
    /// whose profile count is below `hotness_threshold` (`None`: the
    /// profile summary's threshold).
    pub fn start(
        context: &'ctx Context,
        path: &std::path::Path,
        passes: Option<&str>,
        format: &str,
        with_hotness: bool,
        hotness_threshold: Option<u64>,
    ) -> Result<RemarksFile<'ctx>, String> {
        let text = |what: &str, value: &str| {
            CString::new(value).map_err(|_| format!("{what} {value:?} holds a NUL byte"))
        };
        let path_text = text("remarks file", &path.display().to_string())?;
        let passes = text("remarks passes", passes.unwrap_or(""))?;
        let format = text("remarks format", format)?;
        let mut file = std::ptr::null_mut();
        let mut err = std::ptr::null_mut();
        // SAFETY: the context is alive for the call (and, by the borrow in
        // the returned value, until the file is finished); the strings
        // outlive the call (LLVM copies what it keeps).
        let failed = unsafe {
            ffi::ltoe_remarks_start(
                context.raw(),
                path_text.as_ptr(),
                passes.as_ptr(),
                format.as_ptr(),
                c_int::from(with_hotness),
                c_int::from(hotness_threshold.is_none()),
                hotness_threshold.unwrap_or(0),
                &mut file,
                &mut err,
            )
        };
        if failed != 0 || file.is_null() {
            return Err(take_string(err));
        }
        Ok(RemarksFile {
            file,
            _context: std::marker::PhantomData,
        })
    }
}

impl Drop for RemarksFile<'_> {
    fn drop(&mut self) {
        // SAFETY: `file` came from ltoe_remarks_start (checked non-null
        // there) and is finished once, here; the borrow of the context
        // keeps the context alive until now.
        unsafe { ffi::ltoe_remarks_finish(self.file) }
    }
}

/// Emits lld's `lto`/`deadfunction` remark on the function `name` of
/// `module` (one the liveness of the modules' summaries finds dead); false
/// when the module defines no function of that name.
pub fn emit_dead_function_remark(module: &Module<'_>, name: &str) -> bool {
    let Ok(name) = CString::new(name) else {
        return false;
    };
    // SAFETY: the module is alive for the call; the name outlives it.
    unsafe { ffi::ltoe_emit_dead_function_remark(module.as_mut_ptr(), name.as_ptr()) != 0 }
}

/// Makes `context` drop the names of local values (instructions, basic
/// blocks, arguments) as it parses, as LLVM's LTO backends do: less memory
/// and time, same code.
pub fn discard_value_names(context: &Context) {
    // SAFETY: the context is alive for the call; this only sets a flag.
    unsafe { llvm_sys::core::LLVMContextSetDiscardValueNames(context.raw(), 1) }
}

/// Pops the recorded errors (`errors_only`) or the other diagnostics of
/// `context`, naming `module` in them. The context must have been set up
/// with [`install_diagnostics`].
fn pop_diagnostics(context: &Context, errors_only: bool, module: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    loop {
        let mut severity: c_int = 0;
        let mut message: *mut c_char = std::ptr::null_mut();
        let mut pass: *mut c_char = std::ptr::null_mut();
        let mut function: *mut c_char = std::ptr::null_mut();
        // SAFETY: the context is alive; out-pointers are valid locals.
        let got = unsafe {
            ffi::ltoe_context_pop_diagnostic(
                context.raw(),
                c_int::from(errors_only),
                &mut severity,
                &mut message,
                &mut pass,
                &mut function,
            )
        };
        if got == 0 {
            return out;
        }
        let mut message = take_string(message);
        let severity = match severity {
            0 => Severity::Error,
            1 => Severity::Warning,
            2 => Severity::Remark,
            3 => Severity::Note,
            // A shim that does not match this crate: never taken lightly.
            code => {
                message = format!("(unknown diagnostic severity {code} from the shim) {message}");
                Severity::Error
            }
        };
        let optional = |ptr: *mut c_char| (!ptr.is_null()).then(|| take_string(ptr));
        out.push(Diagnostic {
            severity,
            message,
            module: module.to_string(),
            pass: optional(pass),
            function: optional(function),
        });
    }
}

/// Drains the warnings, remarks and notes `context` recorded since the last
/// call, naming `module` in them. Errors stay for [`take_error_text`].
pub fn take_diagnostics(context: &Context, module: &str) -> Vec<Diagnostic> {
    pop_diagnostics(context, false, module)
}

/// Joins the error diagnostics of `context` into one line (for error texts).
pub fn take_error_text(context: &Context) -> String {
    let errors: Vec<String> = pop_diagnostics(context, true, "")
        .into_iter()
        .map(|d| d.message)
        .collect();
    errors.join("; ")
}

/// `reason`, followed by the error diagnostics `context` recorded while the
/// failing step ran (LLVM often says more there than in the returned error).
pub fn with_error_text(context: &Context, reason: String) -> String {
    let extra = take_error_text(context);
    if extra.is_empty() {
        reason
    } else {
        format!("{reason}; {extra}")
    }
}

/// Fails when LLVM reported an error diagnostic during `phase`.
pub(crate) fn fail_on_error_diagnostics(
    context: &Context,
    name: &str,
    phase: crate::error::Phase,
) -> crate::error::Result<()> {
    let text = take_error_text(context);
    if text.is_empty() {
        Ok(())
    } else {
        Err(crate::error::Error::llvm(name.to_string(), phase, text))
    }
}

/// Takes ownership of a malloc'd string from the shim (null gives "").
fn take_string(ptr: *mut c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: the shim returns a NUL-terminated string allocated with malloc,
    // which we own and free exactly once here.
    unsafe {
        let text = CStr::from_ptr(ptr).to_string_lossy().into_owned();
        ffi::ltoe_string_free(ptr);
        text
    }
}

/// Turns the shim's status and error string into a `Result`.
fn status(code: c_int, err: *mut c_char) -> Result<(), String> {
    if code == 0 {
        return Ok(());
    }
    Err(failure_text(take_string(err), "unknown LLVM failure"))
}

/// LLVM's message, or `fallback` when it gave none.
fn failure_text(text: String, fallback: &str) -> String {
    if text.is_empty() {
        fallback.to_string()
    } else {
        text
    }
}

fn c_string(text: &str) -> Result<CString, String> {
    CString::new(text).map_err(|_| format!("name {text:?} contains a NUL byte"))
}

/// How many modules a bitcode buffer holds (wrapper header allowed).
pub fn bitcode_module_count(data: &[u8]) -> Result<usize, String> {
    let mut count = 0usize;
    let mut err = std::ptr::null_mut();
    // SAFETY: `data` is valid for `len` bytes during the call.
    let code = unsafe {
        ffi::ltoe_bitcode_module_count(data.as_ptr().cast(), data.len(), &mut count, &mut err)
    };
    status(code, err).map(|()| count)
}

/// The producer recorded in the bitcode's identification block, e.g.
/// `LLVM22.1.8`, or `None` when there is none or it cannot be read.
pub fn bitcode_producer(data: &[u8]) -> Option<String> {
    let mut producer = std::ptr::null_mut();
    let mut err = std::ptr::null_mut();
    // SAFETY: `data` is valid for `len` bytes during the call.
    let code = unsafe {
        ffi::ltoe_bitcode_producer(data.as_ptr().cast(), data.len(), &mut producer, &mut err)
    };
    match status(code, err) {
        Ok(()) => Some(take_string(producer)).filter(|p| !p.is_empty()),
        Err(_) => None,
    }
}

/// Whether the bitcode was compiled as `no_builtins` (its functions carry the
/// `no-builtins` attribute, as rustc's `compiler_builtins` does).
pub fn bitcode_is_no_builtins(data: &[u8]) -> Result<bool, String> {
    let mut flag: c_int = 0;
    let mut err = std::ptr::null_mut();
    // SAFETY: `data` is valid for `len` bytes during the call.
    let code = unsafe {
        ffi::ltoe_bitcode_is_no_builtins(data.as_ptr().cast(), data.len(), &mut flag, &mut err)
    };
    status(code, err).map(|()| flag != 0)
}

/// Whether module `which` of a bitcode buffer has a data layout (LLVM's
/// LTO refuses a module without one: its symbol table cannot be built).
/// Cheap when the bitcode has a symbol table; else reads the module's
/// header records, not its bodies.
pub fn bitcode_has_data_layout(data: &[u8], which: usize) -> Result<bool, String> {
    let mut flag: c_int = 0;
    let mut err = std::ptr::null_mut();
    // SAFETY: `data` is valid for `len` bytes during the call.
    let code = unsafe {
        ffi::ltoe_bitcode_has_datalayout(
            data.as_ptr().cast(),
            data.len(),
            which,
            &mut flag,
            &mut err,
        )
    };
    status(code, err).map(|()| flag != 0)
}

/// Whether an in-memory module has a data layout.
pub fn has_data_layout(module: &Module<'_>) -> bool {
    !module.get_data_layout().as_str().to_bytes().is_empty()
}

/// Parses module `index` of a bitcode buffer into `context`, naming it
/// `name`. The context must record diagnostics ([`install_diagnostics`]).
pub fn parse_bitcode<'ctx>(
    context: &'ctx Context,
    data: &[u8],
    name: &str,
    index: usize,
) -> Result<Module<'ctx>, String> {
    let c_name = c_string(name)?;
    let mut module = std::ptr::null_mut();
    let mut err = std::ptr::null_mut();
    // SAFETY: the context outlives the returned module (lifetime 'ctx); `data`
    // is only read during the call (the module is fully materialized).
    let code = unsafe {
        ffi::ltoe_parse_bitcode(
            context.raw(),
            data.as_ptr().cast(),
            data.len(),
            c_name.as_ptr(),
            index,
            &mut module,
            &mut err,
        )
    };
    status(code, err)?;
    // SAFETY: the shim handed us a fresh module we now own, created in `context`.
    Ok(unsafe { Module::new(module) })
}

/// Runs the IR verifier on an input module before any pass sees it (passes
/// may crash on invalid IR). Broken IR is an `Err` with the verifier's
/// text; broken debug info alone becomes a warning diagnostic and the debug
/// info is stripped, as LLVM's LTO does.
pub fn verify_input(module: &Module<'_>) -> Result<(), String> {
    let mut err = std::ptr::null_mut();
    // SAFETY: the module is alive and exclusively ours for the call (the
    // shim may strip its debug info); `err` receives a string we free.
    let code = unsafe { ffi::ltoe_verify_input(module.as_mut_ptr(), &mut err) };
    status(code, err)
}

/// The IR verifier's complaints about a module the caller still owns (an
/// in-memory input): unlike [`verify_input`], nothing is changed, broken
/// debug info included (the pipeline strips that later, with a warning).
pub fn verify_unchanged(module: &Module<'_>) -> Result<(), String> {
    let mut err = std::ptr::null_mut();
    // SAFETY: the module is alive for the call and only read; `err`
    // receives a string we free.
    let code = unsafe { ffi::ltoe_verify_unchanged(module.as_mut_ptr(), &mut err) };
    status(code, err)
}

/// Drops function attributes naming a processor or feature `machine`'s
/// target does not know, with a warning diagnostic each, so LLVM does not
/// print about them to stderr when it makes the function's subtarget.
pub fn drop_unknown_subtarget_names(module: &Module<'_>, machine: &TargetMachine) {
    // SAFETY: the module and the machine are alive for the call; the shim
    // only edits the module's function attributes.
    unsafe { ffi::ltoe_drop_unknown_subtarget_names(module.as_mut_ptr(), machine.as_mut_ptr()) };
}

/// Sets LLVM's own command-line options (`-mllvm`, as
/// `cl::ParseCommandLineOptions` reads them). They are process-wide: the
/// first call with options parses them; a later call with the same list is
/// a no-op, one with another list an error (LLVM's options cannot be
/// unset). An option LLVM does not know is an error with LLVM's message on
/// one line, not LLVM's exit. Options that print and exit (`-help`,
/// `-version`, `-print-options`) are refused.
pub fn parse_llvm_options(options: &[String]) -> Result<(), String> {
    // The options parsed; the C strings given to LLVM, kept for the
    // process's life (also after a failed parse) so that any pointer LLVM
    // keeps into them stays valid.
    type Parsed = (Option<Vec<String>>, Vec<CString>);
    static PARSED: std::sync::Mutex<Parsed> = std::sync::Mutex::new((None, Vec::new()));
    if options.is_empty() {
        return Ok(());
    }
    let mut parsed = PARSED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(earlier) = parsed.0.as_ref() {
        return if earlier.as_slice() == options {
            Ok(())
        } else {
            Err(format!(
                "LLVM options {options:?}: this process already set {earlier:?}, and LLVM's \
                 options are process-wide"
            ))
        };
    }
    for option in options {
        let name = option.trim_start_matches('-');
        let name = name.split('=').next().unwrap_or(name);
        if !option.starts_with('-')
            || name.starts_with("help")
            || matches!(name, "version" | "print-options" | "print-all-options")
        {
            return Err(format!(
                "LLVM option {option:?}: not an option the engine passes to LLVM"
            ));
        }
        if option.contains('\0') {
            return Err(format!("LLVM option {option:?}: contains a NUL byte"));
        }
    }
    init_targets();
    let strings: Vec<CString> = options
        .iter()
        .map(|o| CString::new(o.as_str()).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let pointers: Vec<*const c_char> = strings.iter().map(|s| s.as_ptr()).collect();
    let mut err = std::ptr::null_mut();
    // SAFETY: `pointers` holds `pointers.len()` NUL-terminated strings owned
    // by `strings`, whose buffers are moved into PARSED right after the call
    // and never dropped (a CString's buffer does not move with it), so they
    // outlive the call and anything LLVM keeps. `err` receives a string we
    // free. The lock held above serializes callers (LLVM's parser is not
    // thread-safe).
    let code = unsafe { ffi::ltoe_parse_llvm_options(pointers.as_ptr(), pointers.len(), &mut err) };
    parsed.1.extend(strings);
    status(code, err).map_err(|text| {
        let text = text
            .lines()
            .map(|l| {
                let l = l.trim();
                let l = l.strip_prefix("lto-engine: ").unwrap_or(l);
                l.split("  Try: ").next().unwrap_or(l)
            })
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        format!("LLVM options {options:?}: {text}")
    })?;
    parsed.0 = Some(options.to_vec());
    Ok(())
}

/// The SHA-1 of `data` (LLVM's implementation).
pub fn sha1(data: &[u8]) -> [u8; 20] {
    let mut out = [0u8; 20];
    // SAFETY: `data` is valid for reads of its length during the call and
    // `out` has room for the 20 bytes the shim writes.
    unsafe { ffi::ltoe_sha1(data.as_ptr().cast(), data.len(), out.as_mut_ptr()) };
    out
}

/// BLAKE3 (256 bits) of `data`, LLVM's: a content identity fast enough for
/// every input of a link.
pub fn blake3(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // SAFETY: `data` is valid for reads of its length during the call and
    // `out` has room for the 32 bytes the shim writes.
    unsafe { ffi::ltoe_blake3(data.as_ptr().cast(), data.len(), out.as_mut_ptr()) };
    out
}

/// One symbol of a bitcode file, as a linker sees it (LLVM's irsymtab).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrSymbol {
    /// The symbol's name.
    pub name: String,
    /// Referenced, not defined.
    pub undefined: bool,
    /// A weak (or linkonce) definition or reference.
    pub weak: bool,
    /// A common symbol.
    pub common: bool,
    /// Hidden or protected visibility (not exported from a shared object).
    pub hidden: bool,
}

/// The symbols of every module of a bitcode file.
pub fn bitcode_symbols(data: &[u8]) -> Result<Vec<IrSymbol>, String> {
    parse_symbol_records(&bitcode_symbol_records(data)?)
}

/// The symbols of every module of a bitcode file, as the shim writes them
/// (what [`parse_symbol_records`] reads): bytes a cache can keep.
pub fn bitcode_symbol_records(data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = std::ptr::null_mut();
    let mut err = std::ptr::null_mut();
    // SAFETY: `data` is valid for reads of its length during the call; the
    // shim returns a buffer we own (freed by ShimBytes) or an error string.
    let code =
        unsafe { ffi::ltoe_bitcode_symbols(data.as_ptr().cast(), data.len(), &mut out, &mut err) };
    status(code, err)?;
    Ok(ShimBytes::from_raw(out).as_bytes().to_vec())
}

/// The symbols in records [`bitcode_symbol_records`] wrote: per symbol a
/// flags byte (1 undefined, 2 weak, 4 common, 8 hidden), then its name.
pub fn parse_symbol_records(records: &[u8]) -> Result<Vec<IrSymbol>, String> {
    let mut reader = thin::Records(records);
    let mut symbols = Vec::new();
    while !reader.is_empty() {
        let flags = reader.u8()?;
        let name = reader.string()?;
        symbols.push(IrSymbol {
            name,
            undefined: flags & 1 != 0,
            weak: flags & 2 != 0,
            common: flags & 4 != 0,
            hidden: flags & 8 != 0,
        });
    }
    Ok(symbols)
}

/// The version of the LLVM library this process runs (`22.1.8`).
pub fn llvm_version() -> String {
    let (mut major, mut minor, mut patch) = (0, 0, 0);
    // SAFETY: the call writes three unsigned integers through valid pointers.
    unsafe { llvm_sys::core::LLVMGetVersion(&mut major, &mut minor, &mut patch) };
    format!("{major}.{minor}.{patch}")
}

/// The architecture of `triple` as LLVM parses it (`x86_64` for both
/// `x86_64-pc-linux-gnu` and `amd64-unknown-linux-gnu`); `unknown` for an
/// empty triple.
pub fn triple_arch(triple: &str) -> Result<String, String> {
    let triple_c = c_string(triple)?;
    let mut out = std::ptr::null_mut();
    // SAFETY: the triple is a valid C string for the call; the shim returns
    // a buffer we own (freed by ShimBytes).
    unsafe { ffi::ltoe_triple_arch(triple_c.as_ptr(), &mut out) };
    Ok(String::from_utf8_lossy(ShimBytes::from_raw(out).as_bytes()).into_owned())
}

/// The target triple of a bitcode file's first module.
pub fn bitcode_triple(data: &[u8]) -> Result<String, String> {
    let mut out = std::ptr::null_mut();
    let mut err = std::ptr::null_mut();
    // SAFETY: `data` is valid for reads of its length during the call; the
    // shim returns a buffer we own (freed by ShimBytes) or an error string.
    let code =
        unsafe { ffi::ltoe_bitcode_triple(data.as_ptr().cast(), data.len(), &mut out, &mut err) };
    status(code, err)?;
    Ok(String::from_utf8_lossy(ShimBytes::from_raw(out).as_bytes()).into_owned())
}

/// The runtime library functions code generation for `triple` may call
/// (LLVM's `LTO::getRuntimeLibcallSymbols`): `memcpy`, `fmod`,
/// `__udivti3`, `__stack_chk_guard`, ... A linker must expect references
/// to them in LTO's output that no bitcode symbol table shows, and LLVM's
/// IR symbol table marks a definition of one as used (never internalized).
pub fn runtime_libcall_symbols(triple: &str) -> Result<Vec<String>, String> {
    let triple_c = c_string(triple)?;
    let mut out = std::ptr::null_mut();
    // SAFETY: the triple is a valid C string for the call; the shim returns
    // a buffer we own (freed by ShimBytes).
    unsafe { ffi::ltoe_runtime_libcall_symbols(triple_c.as_ptr(), &mut out) };
    let bytes = ShimBytes::from_raw(out);
    Ok(bytes
        .as_bytes()
        .split(|&b| b == 0)
        .filter(|name| !name.is_empty())
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect())
}

/// Whether the module was compiled for control-flow integrity
/// (`-fsanitize=cfi`): it needs jump tables built over the whole program.
pub fn uses_cfi(module: &Module<'_>) -> bool {
    // SAFETY: the module is alive for the call and only read.
    unsafe { ffi::ltoe_module_uses_cfi(module.as_mut_ptr()) != 0 }
}

/// The number of instructions in a module: the cost that picks the base of a
/// fat LTO link.
pub fn instruction_count(module: &Module<'_>) -> u64 {
    // SAFETY: the module is alive for the call and only read.
    unsafe { ffi::ltoe_module_instruction_count(module.as_mut_ptr()) }
}

/// One `llvm::Linker` over a destination module, kept for every input of a
/// fat LTO run (re-creating it per input is quadratic).
pub struct FatLinker<'m, 'ctx> {
    raw: *mut ffi::LtoeLinker,
    /// The destination's context: every module linked in must share it.
    context: llvm_sys::prelude::LLVMContextRef,
    _dest: std::marker::PhantomData<&'m Module<'ctx>>,
}

impl<'m, 'ctx> FatLinker<'m, 'ctx> {
    /// A linker that links into `dest`.
    pub fn new(dest: &'m Module<'ctx>) -> Self {
        // SAFETY: `dest` outlives the linker ('m); the linker only mutates it
        // through the linkInModule calls below, while we hold the borrow.
        let raw = unsafe { ffi::ltoe_linker_new(dest.as_mut_ptr()) };
        FatLinker {
            raw,
            context: dest.get_context().raw(),
            _dest: std::marker::PhantomData,
        }
    }

    /// Links `src` in, consuming it. On failure, returns the reason LLVM
    /// reported to `context` (which must record diagnostics).
    pub fn link(&mut self, context: &'ctx Context, src: Module<'ctx>) -> Result<(), String> {
        // Lifetimes do not tell contexts apart (two contexts of one scope
        // unify), and LLVM's linker does not check: it would build a module
        // whose functions belong to another context.
        if src.get_context().raw() != self.context || context.raw() != self.context {
            return Err(format!(
                "module '{}' belongs to another LLVM context than the one it is linked into",
                src.get_name().to_string_lossy()
            ));
        }
        let raw_src = src.as_mut_ptr();
        // The shim takes ownership of the module; inkwell must not dispose it.
        std::mem::forget(src);
        // SAFETY: `raw_src` is a module of the same context that nobody else owns now.
        let code = unsafe { ffi::ltoe_linker_link(self.raw, raw_src) };
        if code == 0 {
            return Ok(());
        }
        Err(failure_text(
            take_error_text(context),
            "LLVM's linker failed without a message",
        ))
    }
}

impl Drop for FatLinker<'_, '_> {
    fn drop(&mut self) {
        // SAFETY: created by ltoe_linker_new and freed exactly once.
        unsafe { ffi::ltoe_linker_free(self.raw) }
    }
}

/// The restriction pass: internalizes every definition whose name is not in
/// `preserved` (nor in `llvm.used`). Returns the names it internalized.
pub fn internalize(module: &Module<'_>, preserved: &[&str]) -> Result<Vec<String>, String> {
    let owned: Vec<CString> = preserved
        .iter()
        .map(|name| c_string(name))
        .collect::<Result<_, _>>()?;
    let pointers: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
    let mut names = std::ptr::null_mut();
    let mut err = std::ptr::null_mut();
    // SAFETY: the module is alive and exclusively ours for the call; the name
    // pointers stay valid (owned) until it returns.
    let code = unsafe {
        ffi::ltoe_internalize(
            module.as_mut_ptr(),
            pointers.as_ptr(),
            pointers.len(),
            &mut names,
            &mut err,
        )
    };
    status(code, err)?;
    let buffer = buffers::ShimBytes::from_raw(names);
    Ok(buffer
        .as_bytes()
        .split(|b| *b == 0)
        .filter(|name| !name.is_empty())
        .map(|name| String::from_utf8_lossy(name).into_owned())
        .collect())
}

/// Gives the `linkonce` definitions among `names` weak linkage
/// (`linkonce_odr` becomes `weak_odr`); returns how many changed.
pub fn weaken_linkonce(module: &Module<'_>, names: &[&str]) -> Result<usize, String> {
    let owned: Vec<CString> = names
        .iter()
        .map(|name| c_string(name))
        .collect::<Result<_, _>>()?;
    let pointers: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
    // SAFETY: the module is alive and exclusively ours for the call; the name
    // pointers stay valid (owned) until it returns and `pointers.len()` is
    // their count.
    Ok(
        unsafe {
            ffi::ltoe_weaken_linkonce(module.as_mut_ptr(), pointers.as_ptr(), pointers.len())
        },
    )
}

/// What the configuration decides about a target machine; the shim sets
/// every other option as lld's LTO does.
pub struct MachineSettings<'a> {
    /// The target triple.
    pub triple: &'a str,
    /// The CPU (`x86-64`).
    pub cpu: &'a str,
    /// Subtarget features (`+avx2,-sse4.1`).
    pub features: &'a str,
    /// The relocation model.
    pub reloc_model: Reloc,
    /// The code model; the default takes the module's own.
    pub code_model: CodeModelKind,
    /// Code generation level, 0..=3.
    pub codegen_level: u8,
    /// A section per function.
    pub function_sections: bool,
    /// A section per data object.
    pub data_sections: bool,
    /// Comments in emitted assembly.
    pub asm_verbose: bool,
}

/// Creates the target machine code generation uses: lld's LTO options
/// (constructors in `.init_array`, an address-significance table,
/// relaxable GOT relocations) plus `settings`. With `module`, its own code
/// model applies when the settings leave it at the default, as in LLVM's
/// LTO backend.
pub fn create_target_machine(
    settings: &MachineSettings<'_>,
    module: Option<&Module<'_>>,
) -> Result<TargetMachine, String> {
    init_targets();
    let triple = c_string(settings.triple)?;
    let cpu = c_string(settings.cpu)?;
    let features = c_string(settings.features)?;
    let raw_settings = ffi::LtoeTargetSettings {
        reloc_model: settings.reloc_model.code(),
        code_model: settings.code_model.code(),
        codegen_level: c_int::from(settings.codegen_level),
        function_sections: c_int::from(settings.function_sections),
        data_sections: c_int::from(settings.data_sections),
        asm_verbose: c_int::from(settings.asm_verbose),
    };
    let mut machine = std::ptr::null_mut();
    let mut err = std::ptr::null_mut();
    // SAFETY: the strings and settings live until the call returns; the
    // module, when given, is alive and only read; the shim checks every enum
    // code and returns either an error or a fresh machine we own.
    let code = unsafe {
        ffi::ltoe_create_target_machine(
            triple.as_ptr(),
            cpu.as_ptr(),
            features.as_ptr(),
            &raw_settings,
            module.map_or(std::ptr::null_mut(), |m| m.as_mut_ptr()),
            &mut machine,
            &mut err,
        )
    };
    status(code, err)?;
    if machine.is_null() {
        return Err("the shim returned no target machine".to_string());
    }
    // SAFETY: a machine created by `Target::createTargetMachine`, which
    // inkwell frees with LLVMDisposeTargetMachine (a plain delete).
    Ok(unsafe { TargetMachine::new(machine) })
}

/// Prepares a linked module for whole-program devirtualization in the
/// `lto<On>` pipeline, as LLVM's regular LTO does: with
/// `whole_program_visibility`, the vtables of classes not `visible` outside
/// the LTO unit may be devirtualized; public type tests are resolved.
pub fn update_vcall_visibility(
    module: &Module<'_>,
    whole_program_visibility: bool,
    visible: &[&str],
) -> Result<(), String> {
    let owned: Vec<CString> = visible
        .iter()
        .map(|name| c_string(name))
        .collect::<Result<_, _>>()?;
    let pointers: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
    // SAFETY: the module is alive and exclusively ours for the call; the name
    // pointers stay valid (owned) until it returns.
    unsafe {
        ffi::ltoe_update_vcall_visibility(
            module.as_mut_ptr(),
            c_int::from(whole_program_visibility),
            pointers.as_ptr(),
            pointers.len(),
        )
    };
    Ok(())
}

/// The index file lld writes for a lazy (`--start-lib`) bitcode file the
/// link did not take: an empty combined index flagged so that distributed
/// backends skip the module.
pub fn skip_index_bytes() -> Vec<u8> {
    let mut out = std::ptr::null_mut();
    // SAFETY: the shim only writes `out`, a buffer we then own.
    unsafe { ffi::ltoe_write_skip_index(&mut out) };
    ShimBytes::from_raw(out).as_bytes().to_vec()
}

/// A GNU archive (with a symbol table) of `members`, built deterministically
/// in memory.
pub fn archive_bytes(members: &[(String, &[u8])]) -> Result<Vec<u8>, String> {
    let names: Vec<CString> = members
        .iter()
        .map(|(name, _)| c_string(name))
        .collect::<Result<_, _>>()?;
    let name_ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
    let data_ptrs: Vec<*const u8> = members.iter().map(|(_, d)| d.as_ptr()).collect();
    let lens: Vec<usize> = members.iter().map(|(_, d)| d.len()).collect();
    let mut out = std::ptr::null_mut();
    let mut err = std::ptr::null_mut();
    // SAFETY: every pointer array has `members.len()` valid entries that live
    // until the call returns; the shim returns a buffer we own.
    let code = unsafe {
        ffi::ltoe_archive_bytes(
            name_ptrs.as_ptr(),
            data_ptrs.as_ptr(),
            lens.as_ptr(),
            members.len(),
            &mut out,
            &mut err,
        )
    };
    status(code, err)?;
    Ok(ShimBytes::from_raw(out).as_bytes().to_vec())
}

/// Memory-maps an input file read-only.
pub fn map_file_readonly(file: &std::fs::File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: inputs are treated as immutable for the run, as a linker treats
    // them; a file truncated under us is the same hazard lld accepts.
    unsafe { memmap2::Mmap::map(file) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A context with LLVM's own handler (or anyone else's) has nothing to
    /// drain: no abort, no read of a foreign handler as ours.
    #[test]
    fn diagnostics_of_a_context_without_our_handler_are_empty() {
        let context = Context::create();
        assert!(take_diagnostics(&context, "x").is_empty());
        assert_eq!(take_error_text(&context), "");
        assert_eq!(with_error_text(&context, "why".into()), "why");
    }

    /// A module of another context is refused before LLVM's linker sees it.
    #[test]
    fn linking_a_module_of_another_context_is_an_error() {
        let first = Context::create();
        let second = Context::create();
        install_diagnostics(&first);
        let dest = first.create_module("dest");
        let stranger = second.create_module("stranger");
        let mut linker = FatLinker::new(&dest);
        let error = linker.link(&first, stranger).unwrap_err();
        assert!(error.contains("another LLVM context"), "{error}");
        // A module of the right context still links.
        linker.link(&first, first.create_module("friend")).unwrap();
        assert!(dest.verify().is_ok());
    }
}
