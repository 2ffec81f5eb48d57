//! Inputs: what goes to LTO (bitcode modules) and what passes through to the
//! final link (native objects and archive members), in the user's order.
//!
//! Policy, as a linker user expects: bitcode files and bitcode archive members
//! always go to LTO. An object with native code and embedded bitcode is native
//! unless [`InputOptions`] asks for its bitcode (`.llvmbc` with
//! `embedded_bitcode`, `.llvm.lto` with `fat_lto_objects`); then its native
//! code is dropped. Every symbol a native input references is preserved.

pub(crate) mod archive;
pub mod classify;

pub use crate::llvm::InputBytes;
use classify::{EmbeddedKind, Kind};

use crate::error::{Error, Phase, Result};
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

/// How to treat the objects of one input that carry embedded bitcode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InputOptions {
    /// Use `.llvmbc` sections (rustc `-C embed-bitcode=yes`, clang
    /// `-fembed-bitcode`) instead of the native code, as rustc's own LTO reads
    /// rlibs.
    pub embedded_bitcode: bool,
    /// Use `.llvm.lto` sections (clang `-ffat-lto-objects`), as lld's
    /// `--fat-lto-objects`.
    pub fat_lto_objects: bool,
}

impl InputOptions {
    fn wants(&self, kind: EmbeddedKind) -> bool {
        match kind {
            EmbeddedKind::LlvmBc => self.embedded_bitcode,
            EmbeddedKind::FatLto => self.fat_lto_objects,
        }
    }
}

/// Where a bitcode module came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleOrigin {
    /// Handed over in memory.
    Memory,
    /// A bitcode file.
    File,
    /// A bitcode member of an archive.
    ArchiveMember,
    /// The embedded bitcode section of an object (file or archive member).
    Embedded(EmbeddedKind),
}

impl std::fmt::Display for ModuleOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ModuleOrigin::Memory => "memory",
            ModuleOrigin::File => "file",
            ModuleOrigin::ArchiveMember => "archive member",
            ModuleOrigin::Embedded(EmbeddedKind::LlvmBc) => "embedded .llvmbc",
            ModuleOrigin::Embedded(EmbeddedKind::FatLto) => "embedded .llvm.lto",
        })
    }
}

/// One bitcode buffer that goes to LTO.
#[derive(Debug, Clone)]
pub struct BitcodeInput {
    /// Unique name: the path, `archive.rlib(member.o)`, or the caller's name.
    pub name: String,
    /// The bitcode.
    pub bytes: InputBytes,
    /// Where it came from.
    pub origin: ModuleOrigin,
    /// The archive it is a member of, if any (an upstream library, which
    /// thin-local LTO leaves native).
    pub archive: Option<ArchiveSource>,
}

/// The archive a module came from, and what its native code would need.
#[derive(Debug, Clone)]
pub struct ArchiveSource {
    /// The archive's path.
    pub path: PathBuf,
    /// For a member with native code and embedded bitcode: the symbols its
    /// native code references. `None` for a bitcode-only member, which has
    /// no native code to fall back on.
    pub native_references: Option<Vec<String>>,
}

/// An item of the final link, in the user's order.
#[derive(Debug, Clone)]
pub enum LinkItem {
    /// The LTO output goes here (where the first bitcode input was).
    LtoOutput,
    /// A native object, shared library or all-native archive, as given.
    Native(PathBuf),
    /// An archive some of whose members went to LTO: the final link needs a
    /// copy holding only the native members listed here.
    NativeMembers {
        /// The original archive.
        archive: PathBuf,
        /// Member names and bytes, in archive order.
        members: Vec<(String, InputBytes)>,
    },
}

/// Tells whether embedded bitcode comes from a `no_builtins` crate; reads
/// bitcode, so with crash containment it runs in a worker.
pub(crate) type NoBuiltinsCheck = std::sync::Arc<dyn Fn(&str, &[u8]) -> Result<bool> + Send + Sync>;

/// Every input of a session, classified.
#[derive(Default)]
pub struct Inputs {
    /// Bitcode that goes to LTO, in the order it was added.
    pub modules: Vec<BitcodeInput>,
    /// The final link's items, in the user's order.
    pub link_items: Vec<LinkItem>,
    /// Symbols native inputs reference (preserved automatically).
    pub native_references: BTreeSet<String>,
    names: HashSet<String>,
    /// Where the `no_builtins` check runs (in process when `None`).
    no_builtins: Option<NoBuiltinsCheck>,
}

impl std::fmt::Debug for Inputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inputs")
            .field("modules", &self.modules)
            .field("link_items", &self.link_items)
            .field("native_references", &self.native_references)
            .finish_non_exhaustive()
    }
}

impl Inputs {
    /// Inputs whose embedded bitcode is checked by `check` (a worker).
    pub(crate) fn checked_by(check: NoBuiltinsCheck) -> Inputs {
        Inputs {
            no_builtins: Some(check),
            ..Inputs::default()
        }
    }

    /// Whether embedded bitcode comes from a `no_builtins` crate.
    fn is_no_builtins(&self, name: &str, section: &InputBytes) -> Result<bool> {
        match &self.no_builtins {
            Some(check) => check(name, section.as_slice()),
            None => is_no_builtins(name, section),
        }
    }

    /// Adds bitcode the caller holds in memory.
    pub fn add_bitcode(&mut self, name: &str, bytes: InputBytes) -> Result<()> {
        self.add_bitcode_from(name, bytes, ModuleOrigin::Memory)
    }

    /// Adds bitcode read elsewhere (the linker mode's files and archive
    /// members), keeping where it came from.
    pub(crate) fn add_bitcode_from(
        &mut self,
        name: &str,
        bytes: InputBytes,
        origin: ModuleOrigin,
    ) -> Result<()> {
        if classify::sniff(bytes.as_slice()) != Kind::Bitcode {
            return Err(Error::invalid(
                name,
                Phase::Classify,
                "not LLVM bitcode (no bitcode magic)",
            ));
        }
        self.push_module(name.to_string(), bytes, origin, None)
    }

    /// Adds a file: bitcode, object or archive, classified by content.
    pub fn add_path(&mut self, path: &Path, options: InputOptions) -> Result<()> {
        let display = path.display().to_string();
        let bytes = read_file(path, Phase::Read)?;
        if bytes.as_slice().is_empty() {
            return Err(Error::invalid(
                &display,
                Phase::Classify,
                unknown_reason(&[]),
            ));
        }
        match classify::sniff(bytes.as_slice()) {
            Kind::Bitcode => {
                self.push_module(display, bytes, ModuleOrigin::File, None)?;
            }
            Kind::Archive => self.add_archive(path, &display, &bytes, options)?,
            Kind::ThinArchive => {
                return Err(Error::invalid(
                    &display,
                    Phase::Classify,
                    "thin archives are not supported; pass the member files instead",
                ))
            }
            Kind::Object => self.add_object(path, &display, &bytes, options)?,
            Kind::Unknown => {
                return Err(Error::invalid(
                    &display,
                    Phase::Classify,
                    unknown_reason(bytes.as_slice()),
                ))
            }
        }
        Ok(())
    }

    fn add_object(
        &mut self,
        path: &Path,
        display: &str,
        bytes: &InputBytes,
        options: InputOptions,
    ) -> Result<()> {
        match self.object_bitcode(display, bytes, options)? {
            Some(module) => {
                self.push_module(display.to_string(), module.0, module.1, None)?;
            }
            None => self.link_items.push(LinkItem::Native(path.to_path_buf())),
        }
        Ok(())
    }

    /// For an object: its embedded bitcode when the options ask for it (and
    /// it may be LTO'd), otherwise `None` after recording its references.
    fn object_bitcode(
        &mut self,
        name: &str,
        bytes: &InputBytes,
        options: InputOptions,
    ) -> Result<Option<(InputBytes, ModuleOrigin)>> {
        let info = classify::inspect_object(bytes.as_slice())
            .map_err(|reason| Error::invalid(name, Phase::Classify, reason))?;
        if let Some((section, origin)) = wanted_section(&info, bytes, options) {
            if !self.is_no_builtins(name, &section)? {
                return Ok(Some((section, origin)));
            }
        }
        self.native_references.extend(info.undefined);
        Ok(None)
    }

    fn add_archive(
        &mut self,
        path: &Path,
        display: &str,
        bytes: &InputBytes,
        options: InputOptions,
    ) -> Result<()> {
        let (members, no_builtins_crates) = self.read_members(display, bytes, options)?;
        // Second pass: decide. rustc keeps a `no_builtins` crate out of LTO
        // as a whole, including codegen units that carry no such function.
        let mut native = Vec::new();
        let mut any_lto = false;
        for (member_name, module_name, member_bytes, content) in members {
            match content {
                MemberContent::Bitcode => {
                    let source = ArchiveSource {
                        path: path.to_path_buf(),
                        native_references: None,
                    };
                    self.push_module(
                        module_name,
                        member_bytes,
                        ModuleOrigin::ArchiveMember,
                        Some(source),
                    )?;
                    any_lto = true;
                }
                MemberContent::Object {
                    embedded: Some((section, origin)),
                    undefined,
                    ..
                } if !no_builtins_crates.contains(rust_crate_of(&member_name)) => {
                    let source = ArchiveSource {
                        path: path.to_path_buf(),
                        native_references: Some(undefined),
                    };
                    self.push_module(module_name, section, origin, Some(source))?;
                    any_lto = true;
                }
                // Not worth a copy: rustc's lib.rmeta, say, in every rlib.
                MemberContent::Object {
                    links_nothing: true,
                    ..
                } => {}
                MemberContent::Object { undefined, .. } => {
                    self.native_references.extend(undefined);
                    native.push((member_name, member_bytes));
                }
            }
        }
        if any_lto {
            self.link_items.push(LinkItem::NativeMembers {
                archive: path.to_path_buf(),
                members: native,
            });
        } else {
            self.link_items.push(LinkItem::Native(path.to_path_buf()));
        }
        Ok(())
    }

    /// First pass over an archive: every member with what it offers, and
    /// the Rust crates that hold a `no_builtins` codegen unit.
    fn read_members(
        &self,
        display: &str,
        bytes: &InputBytes,
        options: InputOptions,
    ) -> Result<(Vec<ArchiveMember>, HashSet<String>)> {
        let mut members = Vec::new();
        let mut no_builtins_crates = HashSet::new();
        for member in archive::members(display, bytes)? {
            let module_name = member.display;
            let content = match classify::sniff(member.bytes.as_slice()) {
                Kind::Bitcode => MemberContent::Bitcode,
                Kind::Object => {
                    let info = classify::inspect_object(member.bytes.as_slice())
                        .map_err(|reason| Error::invalid(&module_name, Phase::Classify, reason))?;
                    let embedded = wanted_section(&info, &member.bytes, options);
                    if let Some((section, _)) = &embedded {
                        if self.is_no_builtins(&module_name, section)? {
                            no_builtins_crates.insert(rust_crate_of(&member.name).to_string());
                        }
                    }
                    MemberContent::Object {
                        embedded,
                        undefined: info.undefined,
                        links_nothing: info.links_nothing,
                    }
                }
                Kind::Archive | Kind::ThinArchive => {
                    return Err(Error::invalid(
                        module_name,
                        Phase::Classify,
                        "nested archives are not supported",
                    ))
                }
                Kind::Unknown => {
                    return Err(Error::invalid(
                        module_name,
                        Phase::Classify,
                        unknown_reason(member.bytes.as_slice()),
                    ))
                }
            };
            members.push((member.name, module_name, member.bytes, content));
        }
        Ok((members, no_builtins_crates))
    }

    /// Appends `other` (inputs read apart, say on another thread): its
    /// modules after these, its link items in their order. A module name
    /// already present is an error and nothing is appended.
    pub fn merge(&mut self, other: Inputs) -> Result<()> {
        if let Some(module) = other.modules.iter().find(|m| self.names.contains(&m.name)) {
            return Err(Error::DuplicateInput {
                input: module.name.clone(),
            });
        }
        self.names.extend(other.names);
        self.modules.extend(other.modules);
        self.native_references.extend(other.native_references);
        for item in other.link_items {
            match item {
                LinkItem::LtoOutput => self.note_lto_position(),
                item => self.link_items.push(item),
            }
        }
        Ok(())
    }

    fn push_module(
        &mut self,
        name: String,
        bytes: InputBytes,
        origin: ModuleOrigin,
        archive: Option<ArchiveSource>,
    ) -> Result<()> {
        if !self.names.insert(name.clone()) {
            return Err(Error::DuplicateInput { input: name });
        }
        self.modules.push(BitcodeInput {
            name,
            bytes,
            origin,
            archive,
        });
        self.note_lto_position();
        Ok(())
    }

    /// The LTO output takes the place of the first bitcode input (an
    /// archive's native members follow it).
    fn note_lto_position(&mut self) {
        if !self
            .link_items
            .iter()
            .any(|item| matches!(item, LinkItem::LtoOutput))
        {
            self.link_items.push(LinkItem::LtoOutput);
        }
    }
}

/// An archive member: its name in the archive, its module name, its bytes
/// and what it offers.
type ArchiveMember = (String, String, InputBytes, MemberContent);

/// What an archive member offers, read in the first pass over an archive.
enum MemberContent {
    Bitcode,
    Object {
        embedded: Option<(InputBytes, ModuleOrigin)>,
        undefined: Vec<String>,
        links_nothing: bool,
    },
}

/// The embedded bitcode section `options` asks for, if the object has one.
fn wanted_section(
    info: &classify::ObjectInfo,
    bytes: &InputBytes,
    options: InputOptions,
) -> Option<(InputBytes, ModuleOrigin)> {
    info.embedded
        .iter()
        .find(|(kind, _)| options.wants(*kind))
        .map(|(kind, range)| (bytes.slice(range.clone()), ModuleOrigin::Embedded(*kind)))
}

/// rustc never LTOs `no_builtins` crates (compiler_builtins): the optimizer
/// would turn their `memcpy` into a call to itself.
fn is_no_builtins(name: &str, section: &InputBytes) -> Result<bool> {
    crate::llvm::bitcode_is_no_builtins(section.as_slice())
        .map_err(|reason| Error::invalid(name, Phase::Parse, reason))
}

/// The crate part of a rustc object name, `compiler_builtins-<hash>` in
/// `compiler_builtins-<hash>.compiler_builtins.<hash>-cgu.000.rcgu.o`; other
/// names are their own group.
fn rust_crate_of(member: &str) -> &str {
    if member.ends_with(".rcgu.o") {
        member.split('.').next().unwrap_or(member)
    } else {
        member
    }
}

/// The file at `path`, memory-mapped (an empty file is an empty buffer,
/// which no map can hold); a failure is an error of `phase`.
pub(crate) fn read_file(path: &Path, phase: Phase) -> Result<InputBytes> {
    let display = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| Error::io(&display, phase, e))?;
    let len = file
        .metadata()
        .map_err(|e| Error::io(&display, phase, e))?
        .len();
    if len == 0 {
        return Ok(InputBytes::owned(Vec::new()));
    }
    let map = crate::llvm::map_file_readonly(&file).map_err(|e| Error::io(&display, phase, e))?;
    Ok(InputBytes::mapped(map))
}

fn unknown_reason(data: &[u8]) -> String {
    if data.is_empty() {
        "empty file: not bitcode, an object file or an archive".to_string()
    } else {
        "not LLVM bitcode, an object file or an archive".to_string()
    }
}

/// A parse failure, said plainly when the bitcode comes from another LLVM.
/// Checks that the modules `(name, triple)` are for one architecture, the
/// first one's, as a linker refuses an object of another machine. A module
/// without a triple takes the link's. Not called when the configuration
/// names the target (it overrides every module's).
pub(crate) fn check_one_target<'a>(
    modules: impl IntoIterator<Item = (&'a str, String)>,
    phase: Phase,
) -> Result<()> {
    let mut first: Option<(&str, String, String)> = None;
    for (name, triple) in modules {
        if triple.is_empty() {
            continue;
        }
        let arch = crate::llvm::triple_arch(&triple)
            .map_err(|reason| Error::invalid(name, phase, reason))?;
        match &first {
            None => first = Some((name, triple, arch)),
            Some((first_name, first_triple, first_arch)) if *first_arch != arch => {
                return Err(Error::invalid(
                    name,
                    phase,
                    format!(
                        "target {triple} is incompatible with the link's {first_triple} (of \
                         {first_name}); build every module for one target, or name it in \
                         Config::target_triple (--target) to override"
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// A module without a data layout, which LLVM's LTO refuses as lld does
/// (`input module has no datalayout`): its symbol table cannot be built,
/// and code generation would lay out with the target's rules IR that was
/// built without knowing them.
pub(crate) fn no_data_layout(name: &str) -> Error {
    Error::invalid(
        name,
        Phase::Parse,
        "input module has no datalayout (lld refuses it too): set the target \
         machine's data layout on the module before handing it over",
    )
}

pub(crate) fn parse_error(name: &str, data: &[u8], reason: String) -> Error {
    let reason = match crate::llvm::bitcode_producer(data) {
        Some(producer)
            if producer_major(&producer).is_some_and(|v| v > crate::llvm::LLVM_MAJOR) =>
        {
            format!(
                "bitcode from a newer LLVM (producer {producer}); this engine reads LLVM {} bitcode: {reason}",
                crate::llvm::LLVM_MAJOR
            )
        }
        _ => format!("invalid bitcode: {reason}"),
    };
    Error::invalid(name, Phase::Parse, reason)
}

/// `LLVM22.1.8` -> 22.
fn producer_major(producer: &str) -> Option<u32> {
    let digits: String = producer
        .strip_prefix("LLVM")?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_producer_versions() {
        assert_eq!(producer_major("LLVM22.1.8"), Some(22));
        assert_eq!(producer_major("LLVM99.0.0"), Some(99));
        assert_eq!(producer_major("APPLE_1_1500"), None);
    }
}
