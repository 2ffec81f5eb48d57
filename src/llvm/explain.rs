//! What `explain` reads from LLVM: the combined index as a graph, a bitcode
//! file's symbols with their comdats, and the inliner's decisions a context
//! kept. Only reading: the decisions are recomputed above `llvm/`.

use super::buffers::ShimBytes;
use super::thin::{Records, ThinIndex};
use super::{status, InputBytes};
use crate::ffi;
use crate::report::{Linkage, SymbolKind, Visibility};
use inkwell::context::Context;

/// A call edge's profile hotness (`LTOE_HOTNESS_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hotness {
    /// No profile.
    Unknown,
    /// Cold.
    Cold,
    /// Neither cold nor hot.
    None,
    /// Hot.
    Hot,
    /// Critical.
    Critical,
}

/// One summary of the combined index.
#[derive(Debug, Clone)]
pub struct GraphSummary {
    /// The ordinal of its module.
    pub module: u32,
    /// Function, variable or alias.
    pub kind: SymbolKind,
    /// Its linkage now (after whatever the thin link did so far).
    pub linkage: Linkage,
    /// Its visibility.
    pub visibility: Visibility,
    /// Live in the whole program.
    pub live: bool,
    /// LLVM may not import it (it uses locals that cannot be promoted).
    pub not_eligible_to_import: bool,
    /// A `noinline` function.
    pub no_inline: bool,
    /// An `alwaysinline` function.
    pub always_inline: bool,
    /// LLVM's `isInterposableLinkage`.
    pub interposable: bool,
    /// LLVM's `isLocalLinkage`.
    pub local: bool,
    /// A function's size in instructions (0 otherwise).
    pub instructions: u32,
    /// An alias's aliasee (its GUID).
    pub aliasee: Option<u64>,
    /// A function's calls, in the summary's order.
    pub calls: Vec<(u64, Hotness)>,
    /// Its references (address taken, variables read).
    pub refs: Vec<u64>,
}

/// One GUID of the combined index: its name and every module's summary.
#[derive(Debug, Clone)]
pub struct GraphEntry {
    /// The GUID.
    pub guid: u64,
    /// Its name (empty when the index has none).
    pub name: String,
    /// Its summaries, one per module that defines it.
    pub summaries: Vec<GraphSummary>,
}

/// The combined index as a graph, after the thin link's imports.
#[derive(Debug, Clone, Default)]
pub struct IndexGraph {
    /// Per module (by ordinal), its definitions' GUIDs in the order LLVM's
    /// importer walks them.
    pub defined_order: Vec<Vec<u64>>,
    /// Every GUID of the index.
    pub entries: Vec<GraphEntry>,
}

fn linkage(code: u8) -> Result<Linkage, String> {
    let code = i32::from(code);
    Ok(match code {
        ffi::LTOE_GV_EXTERNAL => Linkage::External,
        ffi::LTOE_GV_AVAILABLE_EXTERNALLY => Linkage::AvailableExternally,
        ffi::LTOE_GV_LINKONCE_ANY => Linkage::LinkonceAny,
        ffi::LTOE_GV_LINKONCE_ODR => Linkage::LinkonceOdr,
        ffi::LTOE_GV_WEAK_ANY => Linkage::WeakAny,
        ffi::LTOE_GV_WEAK_ODR => Linkage::WeakOdr,
        ffi::LTOE_GV_APPENDING => Linkage::Appending,
        ffi::LTOE_GV_INTERNAL => Linkage::Internal,
        ffi::LTOE_GV_PRIVATE => Linkage::Private,
        ffi::LTOE_GV_EXTERN_WEAK => Linkage::ExternWeak,
        ffi::LTOE_GV_COMMON => Linkage::Common,
        _ => return Err(format!("unknown linkage {code} from the shim")),
    })
}

fn visibility(code: u8) -> Result<Visibility, String> {
    let code = i32::from(code);
    Ok(match code {
        ffi::LTOE_VISIBILITY_DEFAULT => Visibility::Default,
        ffi::LTOE_VISIBILITY_HIDDEN => Visibility::Hidden,
        ffi::LTOE_VISIBILITY_PROTECTED => Visibility::Protected,
        _ => return Err(format!("unknown visibility {code} from the shim")),
    })
}

fn kind(code: u8) -> Result<SymbolKind, String> {
    let code = i32::from(code);
    Ok(match code {
        ffi::LTOE_SUMMARY_FUNCTION => SymbolKind::Function,
        ffi::LTOE_SUMMARY_VARIABLE => SymbolKind::Variable,
        ffi::LTOE_SUMMARY_ALIAS => SymbolKind::Alias,
        _ => return Err(format!("unknown summary kind {code} from the shim")),
    })
}

fn hotness(code: u8) -> Result<Hotness, String> {
    let code = i32::from(code);
    Ok(match code {
        ffi::LTOE_HOTNESS_UNKNOWN => Hotness::Unknown,
        ffi::LTOE_HOTNESS_COLD => Hotness::Cold,
        ffi::LTOE_HOTNESS_NONE => Hotness::None,
        ffi::LTOE_HOTNESS_HOT => Hotness::Hot,
        ffi::LTOE_HOTNESS_CRITICAL => Hotness::Critical,
        _ => return Err(format!("unknown hotness {code} from the shim")),
    })
}

// The shim's flag bits (explain.cpp).
const LIVE: u8 = 1;
const NOT_ELIGIBLE: u8 = 2;
const NO_INLINE: u8 = 4;
const ALWAYS_INLINE: u8 = 8;
const INTERPOSABLE: u8 = 32;
const LOCAL: u8 = 64;

impl ThinIndex {
    /// The index as a graph; valid once imports are computed.
    pub fn graph(&self) -> Result<IndexGraph, String> {
        let mut out = std::ptr::null_mut();
        let mut err = std::ptr::null_mut();
        // SAFETY: reads the index (`&self`: nothing mutates it meanwhile);
        // returns a buffer we own or an error string.
        let code = unsafe { ffi::ltoe_thin_index_graph(self.raw(), &mut out, &mut err) };
        status(code, err)?;
        let bytes = ShimBytes::from_raw(out);
        let mut reader = Records(bytes.as_bytes());
        let modules = reader.u32()?;
        let mut graph = IndexGraph::default();
        for _ in 0..modules {
            let count = reader.u32()?;
            let guids = (0..count)
                .map(|_| reader.u64())
                .collect::<Result<Vec<_>, _>>()?;
            graph.defined_order.push(guids);
        }
        while !reader.is_empty() {
            let guid = reader.u64()?;
            let name = reader.string()?;
            let count = reader.u32()?;
            let mut summaries = Vec::with_capacity(count as usize);
            for _ in 0..count {
                let module = reader.u32()?;
                let kind = kind(reader.u8()?)?;
                let linkage = linkage(reader.u8()?)?;
                let visibility = visibility(reader.u8()?)?;
                let flags = reader.u8()?;
                let instructions = reader.u32()?;
                let aliasee = Some(reader.u64()?).filter(|&guid| guid != 0);
                let calls = (0..reader.u32()?)
                    .map(|_| Ok((reader.u64()?, hotness(reader.u8()?)?)))
                    .collect::<Result<Vec<_>, String>>()?;
                let refs = (0..reader.u32()?)
                    .map(|_| reader.u64())
                    .collect::<Result<Vec<_>, _>>()?;
                summaries.push(GraphSummary {
                    module,
                    kind,
                    linkage,
                    visibility,
                    live: flags & LIVE != 0,
                    not_eligible_to_import: flags & NOT_ELIGIBLE != 0,
                    no_inline: flags & NO_INLINE != 0,
                    always_inline: flags & ALWAYS_INLINE != 0,
                    interposable: flags & INTERPOSABLE != 0,
                    local: flags & LOCAL != 0,
                    instructions,
                    aliasee,
                    calls,
                    refs,
                });
            }
            graph.entries.push(GraphEntry {
                guid,
                name,
                summaries,
            });
        }
        Ok(graph)
    }
}

/// One symbol of a bitcode file, with what `explain` shows of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolDetail {
    /// Its name.
    pub name: String,
    /// Referenced, not defined.
    pub undefined: bool,
    /// Weak or linkonce.
    pub weak: bool,
    /// In `llvm.used` or `llvm.compiler.used`.
    pub used: bool,
    /// Its visibility.
    pub visibility: Visibility,
    /// Its comdat, if any.
    pub comdat: Option<String>,
}

/// Every symbol of every module of a bitcode file.
pub fn bitcode_symbol_details(bytes: &InputBytes) -> Result<Vec<SymbolDetail>, String> {
    let data = bytes.as_slice();
    let mut out = std::ptr::null_mut();
    let mut err = std::ptr::null_mut();
    // SAFETY: `data` is valid for reads of its length during the call; the
    // shim returns a buffer we own or an error string.
    let code = unsafe {
        ffi::ltoe_bitcode_symbol_details(data.as_ptr().cast(), data.len(), &mut out, &mut err)
    };
    status(code, err)?;
    let bytes = ShimBytes::from_raw(out);
    let mut reader = Records(bytes.as_bytes());
    let mut symbols = Vec::new();
    while !reader.is_empty() {
        let flags = reader.u8()?;
        let visibility = visibility(reader.u8()?)?;
        let comdat = Some(reader.string()?).filter(|c| !c.is_empty());
        let name = reader.string()?;
        symbols.push(SymbolDetail {
            name,
            // The flags of `ltoe_bitcode_symbols` (symbols.cpp).
            undefined: flags & 1 != 0,
            weak: flags & 2 != 0,
            used: flags & 16 != 0,
            visibility,
            comdat,
        });
    }
    Ok(symbols)
}

/// One inliner decision a context kept (see [`record_inlining`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct InlineDecision {
    /// Inlined (a passed remark), else a missed one.
    pub inlined: bool,
    /// The remark's name (`Inlined`, `TooCostly`, `NoDefinition`, ...).
    pub remark: String,
    /// The calling function.
    pub caller: String,
    /// The called function.
    pub callee: String,
    /// The remark's `Cost` argument ("" when none).
    pub cost: String,
    /// The remark's `Threshold` argument ("" when none).
    pub threshold: String,
    /// The remark's `Reason` argument ("" when none).
    pub reason: String,
}

/// Makes `context` keep the inliner's decisions (from its remarks),
/// without recording the remarks themselves unless
/// [`Config::remarks`](crate::Config::remarks) asks for them.
pub fn record_inlining(context: &Context) -> Result<(), String> {
    // SAFETY: the context is alive for the call; the shim only sets a flag
    // on its own handler, recognized by tag.
    let code = unsafe { ffi::ltoe_context_record_inlining(context.raw()) };
    if code != 0 {
        return Err("the context does not carry the engine's diagnostic handler".to_string());
    }
    Ok(())
}

/// The inliner's decisions `context` kept since the last call.
pub fn take_inlining(context: &Context) -> Result<Vec<InlineDecision>, String> {
    let mut out = std::ptr::null_mut();
    // SAFETY: the context is alive for the call; the shim returns a buffer
    // we own.
    unsafe { ffi::ltoe_context_take_inlining(context.raw(), &mut out) };
    let bytes = ShimBytes::from_raw(out);
    let mut reader = Records(bytes.as_bytes());
    let mut decisions = Vec::new();
    while !reader.is_empty() {
        decisions.push(InlineDecision {
            inlined: reader.u8()? != 0,
            remark: reader.string()?,
            caller: reader.string()?,
            callee: reader.string()?,
            cost: reader.string()?,
            threshold: reader.string()?,
            reason: reader.string()?,
        });
    }
    Ok(decisions)
}

/// `name` demangled (C++, Rust, D, MSVC), `None` when it is not mangled.
pub fn demangle(name: &str) -> Option<String> {
    let text = std::ffi::CString::new(name).ok()?;
    let mut out = std::ptr::null_mut();
    // SAFETY: a NUL-terminated string, only read; the shim returns a buffer
    // we own.
    unsafe { ffi::ltoe_demangle(text.as_ptr(), &mut out) };
    let bytes = ShimBytes::from_raw(out);
    let demangled = String::from_utf8_lossy(bytes.as_bytes()).into_owned();
    (!demangled.is_empty()).then_some(demangled)
}
