//! What the engine decided about one symbol, and why: the values behind
//! `lto-engine explain` ([`Config::explain`](crate::Config::explain)), as
//! [`Report::explanations`](crate::Report::explanations).

use serde::{Deserialize, Serialize};

/// A definition's linkage, as LLVM names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Linkage {
    /// Defined here, visible to the link.
    External,
    /// A copy for optimization only; another module defines it.
    AvailableExternally,
    /// Dropped when unused; any copy may be chosen.
    LinkonceAny,
    /// Dropped when unused; all copies are the same.
    LinkonceOdr,
    /// Kept; another definition may replace it.
    WeakAny,
    /// Kept; all copies are the same.
    WeakOdr,
    /// Concatenated across modules (`llvm.global_ctors`).
    Appending,
    /// Local to its module.
    Internal,
    /// Local to its module, not in the symbol table.
    Private,
    /// A weak reference.
    ExternWeak,
    /// A tentative definition (C `int x;`).
    Common,
}

crate::names::named_enum!(
    /// LLVM's name of the linkage: `external`, `linkonce_odr`, ...
    pub Linkage {
        External => "external",
        AvailableExternally => "available_externally",
        LinkonceAny => "linkonce",
        LinkonceOdr => "linkonce_odr",
        WeakAny => "weak",
        WeakOdr => "weak_odr",
        Appending => "appending",
        Internal => "internal",
        Private => "private",
        ExternWeak => "extern_weak",
        Common => "common",
    }
);

impl Linkage {
    /// Internal or private: the module's own.
    pub fn is_local(self) -> bool {
        matches!(self, Linkage::Internal | Linkage::Private)
    }

    /// A copy the linker may replace (weak, linkonce, common): LLVM neither
    /// imports nor inlines it.
    pub fn is_interposable(self) -> bool {
        matches!(
            self,
            Linkage::LinkonceAny | Linkage::WeakAny | Linkage::ExternWeak | Linkage::Common
        )
    }
}

/// A symbol's ELF visibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Visibility {
    /// Visible outside the output.
    Default,
    /// Not visible outside the output.
    Hidden,
    /// Visible, but not preemptible.
    Protected,
}

crate::names::named_enum!(
    /// The name: `default`, `hidden`, `protected`.
    pub Visibility {
        Default => "default",
        Hidden => "hidden",
        Protected => "protected",
    }
);

/// What a summary describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SymbolKind {
    /// A function.
    Function,
    /// A global variable.
    Variable,
    /// An alias of another symbol.
    Alias,
}

crate::names::named_enum!(
    /// The name: `function`, `variable`, `alias`.
    pub SymbolKind {
        Function => "function",
        Variable => "variable",
        Alias => "alias",
    }
);

/// One module's copy of the symbol: a definition, or a declaration (a
/// reference the module expects another to define).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SymbolCopy {
    /// The module (input) holding it.
    pub module: String,
    /// A definition (else a declaration).
    pub defined: bool,
    /// What it is, for a definition.
    pub kind: Option<SymbolKind>,
    /// Its linkage in the input, for a definition.
    pub linkage: Option<Linkage>,
    /// Its visibility in the input.
    pub visibility: Visibility,
    /// The comdat it belongs to, if any.
    pub comdat: Option<String>,
    /// Its size in IR instructions (a function's summary), if known.
    pub instructions: Option<u32>,
    /// A definition in native code (an object or archive member the link
    /// takes), not in bitcode: the linker mode's.
    pub native: bool,
}

/// Why a copy prevails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PrevailingReason {
    /// No other module defines it.
    OnlyDefinition,
    /// The only strong definition among weak ones.
    StrongOverWeak,
    /// The first of copies of the same strength, in link order.
    FirstInLinkOrder,
    /// A local: each module keeps its own.
    Local,
    /// Native code defines it strongly, and the bitcode copies are weak.
    NativeDefinition,
}

crate::names::named_enum!(
    /// The name in reports: `only definition`, `strong over weak`, ...
    pub PrevailingReason {
        OnlyDefinition => "only definition",
        StrongOverWeak => "strong over weak",
        FirstInLinkOrder => "first in link order",
        Local => "local to its module",
        NativeDefinition => "native definition",
    }
);

/// The copy the link keeps (the others are dropped or become
/// `available_externally`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PrevailingCopy {
    /// The module whose copy prevails.
    pub module: String,
    /// Why that one.
    pub reason: PrevailingReason,
}

/// What became of a definition's visibility.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkOutcome {
    /// Still visible outside its module.
    Kept,
    /// Made local to its module.
    Internalized,
    /// A local made global (renamed) because another module imports code that uses it.
    Promoted,
    /// Local in the input, local in the output.
    Local,
    /// Dead: removed.
    Dropped,
    /// No module defines it (only declarations).
    NotDefined,
}

crate::names::named_enum!(
    /// The name in reports: `kept visible`, `internalized`, ...
    pub LinkOutcome {
        Kept => "kept visible",
        Internalized => "internalized",
        Promoted => "promoted",
        Local => "local",
        Dropped => "dropped",
        NotDefined => "not defined",
    }
);

/// Why a definition stayed visible.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeptReason {
    /// The caller preserved it (an export, or a reference from native code).
    Preserved,
    /// A runtime library function code generation may call.
    RuntimeLibraryFunction,
    /// In `llvm.used` or `llvm.compiler.used`.
    CompilerUsed,
    /// Another module uses it without importing it.
    UsedByAnotherModule,
    /// Another module imported code that refers to it.
    ImportedElsewhere,
    /// Native code the link takes refers to it (the linker mode's).
    ReferencedFromNativeCode,
}

crate::names::named_enum!(
    /// The name in reports: `preserved by the caller`, ...
    pub KeptReason {
        Preserved => "preserved",
        RuntimeLibraryFunction => "runtime library function",
        CompilerUsed => "llvm.used",
        UsedByAnotherModule => "used by another module",
        ImportedElsewhere => "imported elsewhere",
        ReferencedFromNativeCode => "referenced from native code",
    }
);

/// Why a symbol is a root of liveness.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LiveRoot {
    /// The caller preserved it.
    Preserved,
    /// A runtime library function code generation may call.
    RuntimeLibraryFunction,
    /// In `llvm.used` or `llvm.compiler.used`.
    CompilerUsed,
    /// LLVM keeps it for a reason of its own.
    Other,
}

crate::names::named_enum!(
    /// The name in reports: `preserved`, `runtime library function`, ...
    pub LiveRoot {
        Preserved => "preserved",
        RuntimeLibraryFunction => "runtime library function",
        CompilerUsed => "llvm.used",
        Other => "kept by LLVM's liveness",
    }
);

/// LLVM's reason for not importing a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ImportRejection {
    /// More instructions than the threshold.
    TooLarge,
    /// Marked `noinline`.
    NoInline,
    /// Weak, linkonce or common: another copy may replace it.
    InterposableLinkage,
    /// Uses locals that cannot be promoted.
    NotEligible,
    /// Dead in the whole program.
    NotLive,
    /// A local of another module that shares its name.
    LocalLinkageNotInModule,
    /// A variable where a function was expected.
    GlobalVar,
}

crate::names::named_enum!(
    /// LLVM's reason (`-print-import-failures`): `TooLarge`, `NoInline`, ...
    pub ImportRejection {
        TooLarge => "TooLarge",
        NoInline => "NoInline",
        InterposableLinkage => "InterposableLinkage",
        NotEligible => "NotEligible",
        NotLive => "NotLive",
        LocalLinkageNotInModule => "LocalLinkageNotInModule",
        GlobalVar => "GlobalVar",
    }
);

impl ImportRejection {
    /// What the reason means, in words.
    pub fn meaning(self) -> &'static str {
        match self {
            ImportRejection::TooLarge => "too large for the import threshold",
            ImportRejection::NoInline => "noinline: importing it could not help",
            ImportRejection::InterposableLinkage => {
                "interposable linkage (weak, linkonce, common): another copy may replace it"
            }
            ImportRejection::NotEligible => {
                "not eligible: it uses locals that cannot be promoted (llvm.used, inline asm)"
            }
            ImportRejection::NotLive => "dead in the whole program",
            ImportRejection::LocalLinkageNotInModule => {
                "a local of another module that shares its name"
            }
            ImportRejection::GlobalVar => "a variable where a function was expected",
        }
    }
}

/// What one module that refers to the symbol did about importing it (thin
/// LTO).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ImportDecision {
    /// The module that refers to the symbol.
    pub module: String,
    /// What happened.
    pub outcome: ImportOutcome,
}

/// Whether a module imported the symbol, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ImportOutcome {
    /// Imported, from that module.
    Imported {
        /// The module the definition came from.
        from: String,
    },
    /// LLVM's importer looked at it and said no.
    Rejected {
        /// LLVM's reason.
        reason: ImportRejection,
        /// The highest threshold it was considered at (instructions).
        threshold: u32,
        /// Its size (instructions), for a function.
        size: Option<u32>,
    },
    /// The module has its own copy (a `linkonce_odr` or `weak` definition).
    DefinedHere,
    /// The module only takes its address (or reads it, a variable); LLVM
    /// imports functions for calls.
    NotCalled,
    /// The module's code that calls it is dead, or is only reached through
    /// imports that were rejected.
    NoLiveCaller,
    /// Imports are off (`-O0`, as lld).
    ImportsDisabled,
    /// No module of the link defines it (native code or a library does).
    NoDefinitionInLink,
    /// The engine's replay of LLVM's import walk does not match LLVM's
    /// import list here, or does not follow the link's `-mllvm` import
    /// options (`-import-cutoff`, ...), so it gives no reason.
    Unexplained,
}

/// One inliner decision about a call of the symbol (from the inliner's
/// remarks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InlineSite {
    /// The module (thin backend, or fat LTO's merged module).
    pub module: String,
    /// The function holding the call.
    pub caller: String,
    /// Inlined there (else the remark says why not).
    pub inlined: bool,
    /// The remark's name: `Inlined`, `TooCostly`, `NoDefinition`, `NeverInline`, ...
    pub remark: String,
    /// The inline cost, when the remark gives one.
    pub cost: Option<String>,
    /// The threshold it was compared with, when the remark gives one.
    pub threshold: Option<String>,
    /// The reason the remark gives, if any.
    pub reason: Option<String>,
}

/// A definition of the symbol in an emitted object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OutOfLineCopy {
    /// The module whose object holds it (fat LTO: `partition <n>`).
    pub module: String,
    /// Its name there (promoted names end in `.llvm.<hash>`).
    pub symbol: String,
    /// Its size in bytes.
    pub size: u64,
    /// A local symbol of that object.
    pub local: bool,
}

/// Everything the engine decided about one symbol, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SymbolExplanation {
    /// The name asked about, as given.
    pub query: String,
    /// The symbol's name in the IR (mangled).
    pub symbol: String,
    /// Its demangled name, when it is mangled.
    pub demangled: Option<String>,
    /// Every definition and declaration, in module order.
    pub copies: Vec<SymbolCopy>,
    /// The copy that prevails, and why.
    pub prevailing: Option<PrevailingCopy>,
    /// What became of the prevailing definition: kept visible,
    /// internalized, promoted, dropped.
    pub outcome: LinkOutcome,
    /// Why it stayed visible (when it did).
    pub kept_because: Vec<KeptReason>,
    /// Its name in the output, when promotion renamed it.
    pub final_name: Option<String>,
    /// Live in the whole program (`None`: not known, e.g. no definition).
    pub live: Option<bool>,
    /// One chain of references from a root to the symbol (root first).
    pub live_chain: Vec<String>,
    /// Why the chain's first symbol is a root.
    pub live_root: Option<LiveRoot>,
    /// Thin LTO: every module that refers to it, and what it did about
    /// importing it.
    pub imports: Vec<ImportDecision>,
    /// The inliner's decisions on its calls.
    pub inlining: Vec<InlineSite>,
    /// Whether the inliner's decisions were recorded for every module
    /// (objects from a cache written by an older engine have none).
    pub inlining_complete: bool,
    /// Its definitions in the emitted objects.
    pub out_of_line: Vec<OutOfLineCopy>,
    /// Fat LTO: the code generation partition that holds it.
    pub partition: Option<usize>,
    /// Explained from a fat LTO run (one merged module: no imports, and the
    /// restriction pass internalizes everything not preserved).
    pub fat_lto: bool,
    /// When nothing in the link has this name: names whose last path
    /// components are the same (`regex::Regex::new` is defined as
    /// `regex::regex::string::Regex::new`), at most five.
    pub similar: Vec<String>,
}

impl KeptReason {
    /// What the reason means, in words.
    pub fn meaning(self) -> &'static str {
        match self {
            KeptReason::Preserved => {
                "preserved by the caller (exported, or referenced from native code)"
            }
            KeptReason::RuntimeLibraryFunction => {
                "a runtime library function code generation may call"
            }
            KeptReason::CompilerUsed => "in llvm.used (__attribute__((used)), #[used])",
            KeptReason::UsedByAnotherModule => "used by another module that does not import it",
            KeptReason::ImportedElsewhere => "another module imported code that refers to it",
            KeptReason::ReferencedFromNativeCode => {
                "native code the link takes refers to it (an object, archive member or \
                 shared library)"
            }
        }
    }
}

impl PrevailingReason {
    /// What the reason means, in words.
    pub fn meaning(self) -> &'static str {
        match self {
            PrevailingReason::OnlyDefinition => "the only definition",
            PrevailingReason::StrongOverWeak => "the only strong definition among weak ones",
            PrevailingReason::FirstInLinkOrder => "the first of equal copies in link order",
            PrevailingReason::Local => "a local: each module keeps its own",
            PrevailingReason::NativeDefinition => {
                "a native object's strong definition: the final link takes it over the weak \
                 bitcode copy, which LTO kept (lld drops that copy before LTO, and calls it \
                 NotLive)"
            }
        }
    }
}

impl SymbolExplanation {
    /// Says that native code refers to the symbol (the linker mode knows
    /// it): what made the caller preserve it.
    pub(crate) fn add_native_reference(&mut self) {
        if let Some(preserved) = self
            .kept_because
            .iter_mut()
            .find(|r| **r == KeptReason::Preserved)
        {
            *preserved = KeptReason::ReferencedFromNativeCode;
        }
    }

    /// Adds native code's definition of the symbol in `input` (the linker
    /// mode knows it; LTO does not): a strong one over weak bitcode copies
    /// is what the final link takes.
    pub(crate) fn add_native_definition(&mut self, input: &str, weak: bool) {
        self.copies.push(SymbolCopy {
            module: input.to_string(),
            defined: true,
            kind: None,
            linkage: None,
            visibility: Visibility::Default,
            comdat: None,
            instructions: None,
            native: true,
        });
        let bitcode_strong = self
            .copies
            .iter()
            .any(|c| c.defined && !c.native && c.linkage == Some(Linkage::External));
        if !weak && !bitcode_strong {
            self.prevailing = Some(PrevailingCopy {
                module: input.to_string(),
                reason: PrevailingReason::NativeDefinition,
            });
        }
    }
}

impl std::fmt::Display for SymbolExplanation {
    /// The explanation as `lto-engine explain` prints it: one fact per line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.symbol)?;
        if let Some(demangled) = &self.demangled {
            write!(f, " ({demangled})")?;
        }
        if self.query != self.symbol && Some(&self.query) != self.demangled.as_ref() {
            write!(f, " [asked as {}]", self.query)?;
        }
        writeln!(f)?;
        if self.copies.is_empty() {
            writeln!(f, "  no module of the link defines or refers to it")?;
            if !self.similar.is_empty() {
                writeln!(f, "  similar names: {}", self.similar.join(", "))?;
            }
            return Ok(());
        }
        writeln!(f, "  definitions and declarations:")?;
        for copy in &self.copies {
            write!(f, "    {}: ", copy.module)?;
            if copy.native {
                writeln!(f, "definition in native code")?;
                continue;
            }
            if copy.defined {
                write!(f, "definition")?;
                if let Some(kind) = copy.kind {
                    write!(f, ", {kind}")?;
                }
                if let Some(linkage) = copy.linkage {
                    write!(f, ", {linkage}")?;
                }
            } else {
                write!(f, "declaration")?;
            }
            write!(f, ", {} visibility", copy.visibility)?;
            if let Some(comdat) = &copy.comdat {
                write!(f, ", comdat {comdat}")?;
            }
            if let Some(instructions) = copy.instructions {
                write!(f, ", {instructions} instructions")?;
            }
            writeln!(f)?;
        }
        if let Some(prevailing) = &self.prevailing {
            writeln!(
                f,
                "  prevails: {} ({})",
                prevailing.module,
                prevailing.reason.meaning()
            )?;
        }
        match self.outcome {
            LinkOutcome::Kept | LinkOutcome::Promoted => {
                let reasons: Vec<&str> = self.kept_because.iter().map(|r| r.meaning()).collect();
                let why = if reasons.is_empty() {
                    "LLVM kept it".to_string()
                } else {
                    reasons.join("; ")
                };
                match &self.final_name {
                    Some(name) => writeln!(f, "  promoted as {name}: {why}")?,
                    None => writeln!(f, "  kept visible: {why}")?,
                }
            }
            LinkOutcome::Internalized if self.fat_lto => writeln!(
                f,
                "  internalized: not preserved (fat LTO's restriction pass internalizes the rest)"
            )?,
            LinkOutcome::Internalized => writeln!(
                f,
                "  internalized: not preserved, and no other module refers to it"
            )?,
            LinkOutcome::Local => writeln!(f, "  local to its module")?,
            LinkOutcome::Dropped => writeln!(f, "  dropped: nothing live refers to it")?,
            LinkOutcome::NotDefined => writeln!(f, "  not defined by any module of the link")?,
        }
        match self.live {
            Some(true) if !self.live_chain.is_empty() => {
                write!(f, "  live: {}", self.live_chain.join(" -> "))?;
                if let Some(root) = self.live_root {
                    write!(f, " (root: {root})")?;
                }
                writeln!(f)?;
            }
            Some(true) => writeln!(f, "  live (kept by LLVM's liveness)")?,
            Some(false) => writeln!(f, "  dead: no chain of references from a root reaches it")?,
            None => {}
        }
        if !self.imports.is_empty() {
            writeln!(f, "  imports:")?;
        }
        for decision in &self.imports {
            write!(f, "    {}: ", decision.module)?;
            match &decision.outcome {
                ImportOutcome::Imported { from } => writeln!(f, "imported from {from}")?,
                ImportOutcome::Rejected {
                    reason,
                    threshold,
                    size,
                } => {
                    write!(f, "not imported: {reason} ({})", reason.meaning())?;
                    match size {
                        Some(size) => writeln!(f, ", size {size}, threshold {threshold}")?,
                        None => writeln!(f, ", threshold {threshold}")?,
                    }
                }
                ImportOutcome::DefinedHere => writeln!(f, "has its own copy")?,
                ImportOutcome::NotCalled => writeln!(
                    f,
                    "not imported: it only takes its address or reads it (LLVM imports functions for calls)"
                )?,
                ImportOutcome::NoLiveCaller => writeln!(
                    f,
                    "not imported: no live call reaches it from this module"
                )?,
                ImportOutcome::ImportsDisabled => writeln!(f, "not imported: imports are off at -O0")?,
                ImportOutcome::NoDefinitionInLink => writeln!(
                    f,
                    "not imported: no module of the link defines it"
                )?,
                ImportOutcome::Unexplained => writeln!(
                    f,
                    "not imported: no reason given (the engine's replay of LLVM's import walk disagrees here, or does not follow this link's -mllvm import options)"
                )?,
            }
        }
        if !self.inlining.is_empty() {
            writeln!(f, "  inlining:")?;
        }
        for site in &self.inlining {
            let verb = if site.inlined {
                "inlined into"
            } else {
                "not inlined into"
            };
            write!(f, "    {}: {verb} {}", site.module, site.caller)?;
            if !site.inlined {
                write!(f, ": {}", site.remark)?;
            }
            match (&site.cost, &site.threshold) {
                (Some(cost), Some(threshold)) => {
                    write!(f, " (cost {cost}, threshold {threshold})")?
                }
                (Some(cost), None) => write!(f, " (cost {cost})")?,
                _ => {}
            }
            if let Some(reason) = &site.reason {
                write!(f, " ({reason})")?;
            }
            writeln!(f)?;
        }
        if !self.inlining_complete {
            writeln!(
                f,
                "  inlining: not recorded for every module (cache entries from a run that kept no inliner decisions)"
            )?;
        }
        if self.out_of_line.is_empty() {
            if self.live == Some(true) {
                writeln!(f, "  no out-of-line copy remains in the objects")?;
            }
        } else {
            writeln!(f, "  out-of-line copies:")?;
            for copy in &self.out_of_line {
                let local = if copy.local { ", local" } else { "" };
                writeln!(
                    f,
                    "    {}: {} ({} bytes{local})",
                    copy.module, copy.symbol, copy.size
                )?;
            }
        }
        if let Some(partition) = self.partition {
            writeln!(f, "  fat LTO partition: {partition}")?;
        }
        Ok(())
    }
}
