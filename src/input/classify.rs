//! Content sniffing: bitcode (raw or with the wrapper header), archives,
//! object files with or without embedded bitcode. Never by extension.

use object::{Object, ObjectSection, ObjectSymbol};

/// `BC\xC0\xDE`: raw bitcode.
const BITCODE_MAGIC: [u8; 4] = [0x42, 0x43, 0xC0, 0xDE];
/// `\xDE\xC0\x17\x0B`: the bitcode wrapper header (little-endian 0x0B17C0DE).
const WRAPPER_MAGIC: [u8; 4] = [0xDE, 0xC0, 0x17, 0x0B];

/// What a blob of bytes is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// LLVM bitcode, raw or wrapped.
    Bitcode,
    /// A regular `ar` archive (`.a`, `.rlib`).
    Archive,
    /// A GNU thin archive (members live in other files).
    ThinArchive,
    /// An object file or shared library the `object` crate understands.
    Object,
    /// Nothing this engine knows.
    Unknown,
}

/// Classifies `data` by its first bytes.
pub fn sniff(data: &[u8]) -> Kind {
    if data.starts_with(&BITCODE_MAGIC) || data.starts_with(&WRAPPER_MAGIC) {
        return Kind::Bitcode;
    }
    if data.starts_with(b"!<arch>\n") {
        return Kind::Archive;
    }
    if data.starts_with(b"!<thin>\n") {
        return Kind::ThinArchive;
    }
    match object::FileKind::parse(data) {
        Ok(
            object::FileKind::Elf32
            | object::FileKind::Elf64
            | object::FileKind::MachO32
            | object::FileKind::MachO64
            | object::FileKind::Coff
            | object::FileKind::CoffBig
            | object::FileKind::Pe32
            | object::FileKind::Pe64
            | object::FileKind::Xcoff32
            | object::FileKind::Xcoff64,
        ) => Kind::Object,
        _ => Kind::Unknown,
    }
}

/// Which embedded bitcode section an object carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbeddedKind {
    /// `.llvmbc` (`-fembed-bitcode`, rustc `-C embed-bitcode=yes`) or
    /// Mach-O `__LLVM,__bitcode`.
    LlvmBc,
    /// `.llvm.lto` (clang `-ffat-lto-objects`).
    FatLto,
}

/// What the engine needs to know about a native object.
#[derive(Debug, Default)]
pub struct ObjectInfo {
    /// Embedded bitcode sections with their byte ranges in the object.
    pub embedded: Vec<(EmbeddedKind, std::ops::Range<usize>)>,
    /// Global symbols the object references but does not define.
    pub undefined: Vec<String>,
    /// An ELF object with no allocated section and no global definition
    /// (rustc's `lib.rmeta`): a linker never pulls it from an archive, and
    /// it would add nothing to the image if it did.
    pub links_nothing: bool,
}

/// Reads sections and symbols of an object file.
pub fn inspect_object(data: &[u8]) -> Result<ObjectInfo, String> {
    let file = object::File::parse(data).map_err(|e| format!("not a valid object file: {e}"))?;
    let mut info = ObjectInfo::default();
    for section in file.sections() {
        let name = section.name().unwrap_or("");
        let kind = match name {
            ".llvmbc" | "__bitcode" => EmbeddedKind::LlvmBc,
            ".llvm.lto" => EmbeddedKind::FatLto,
            _ => continue,
        };
        let Some((offset, size)) = section.file_range() else {
            continue;
        };
        let start = usize::try_from(offset).map_err(|_| "section offset overflows")?;
        let len = usize::try_from(size).map_err(|_| "section size overflows")?;
        let end = start
            .checked_add(len)
            .filter(|end| *end <= data.len())
            .ok_or_else(|| format!("section {name} lies outside the file"))?;
        // `-fembed-bitcode=marker` leaves an empty or placeholder section.
        if sniff(&data[start..end]) == Kind::Bitcode {
            info.embedded.push((kind, start..end));
        }
    }
    let allocates = file.sections().any(|section| match section.flags() {
        object::SectionFlags::Elf { sh_flags } => sh_flags & u64::from(object::elf::SHF_ALLOC) != 0,
        _ => true,
    });
    let defines = file
        .symbols()
        .any(|s| !s.is_undefined() && (s.is_global() || s.is_weak()));
    info.links_nothing = file.format() == object::BinaryFormat::Elf && !allocates && !defines;
    for symbol in file.symbols() {
        if symbol.is_undefined() && (symbol.is_global() || symbol.is_weak()) {
            if let Ok(name) = symbol.name() {
                if !name.is_empty() {
                    info.undefined.push(name.to_string());
                }
            }
        }
    }
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content() {
        assert_eq!(sniff(b"BC\xC0\xDE\x35\x14"), Kind::Bitcode);
        assert_eq!(sniff(b"\xDE\xC0\x17\x0B\0\0\0\0"), Kind::Bitcode);
        assert_eq!(sniff(b"!<arch>\nrest"), Kind::Archive);
        assert_eq!(sniff(b"!<thin>\nrest"), Kind::ThinArchive);
        assert_eq!(sniff(b"random bytes here"), Kind::Unknown);
        assert_eq!(sniff(b""), Kind::Unknown);
    }
}
