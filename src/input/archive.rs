//! `ar` archives read over shared bytes: every member a view of the
//! archive's memory map (nothing copied), and the archive's own symbol
//! table for a reader that resolves lazily (the linker mode).

use super::InputBytes;
use crate::error::{Error, Phase, Result};
use object::read::archive::ArchiveFile;
use std::collections::{HashMap, HashSet};

/// One member of an archive.
pub(crate) struct Member {
    /// Its name in the archive (`foo.o`).
    pub(crate) name: String,
    /// Its unique name in a link: `lib.a(foo.o)`, or
    /// `lib.a(foo.o at OFFSET)` for a name the archive repeats, as lld
    /// tells such members apart.
    pub(crate) display: String,
    /// Its bytes, a view of the archive's.
    pub(crate) bytes: InputBytes,
    /// Where its data starts in the archive (what the symbol table's
    /// entries lead to).
    data_offset: u64,
}

/// Every member of the archive `display` holds in `bytes`, in archive
/// order.
pub(crate) fn members(display: &str, bytes: &InputBytes) -> Result<Vec<Member>> {
    let data = bytes.as_slice();
    let archive = ArchiveFile::parse(data)
        .map_err(|e| Error::invalid(display, Phase::Classify, format!("bad archive: {e}")))?;
    let mut members = Vec::new();
    let mut seen = HashSet::new();
    for member in archive.members() {
        let member = member.map_err(|e| {
            Error::invalid(display, Phase::Classify, format!("bad archive member: {e}"))
        })?;
        let name = String::from_utf8_lossy(member.name()).into_owned();
        let (offset, size) = member.file_range();
        let range = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(size).ok())
            .and_then(|(start, len)| Some(start..start.checked_add(len)?))
            .filter(|r| r.end <= data.len())
            .ok_or_else(|| {
                Error::invalid(
                    format!("{display}({name})"),
                    Phase::Classify,
                    "member lies outside the archive",
                )
            })?;
        let mut unique = format!("{display}({name})");
        if !seen.insert(unique.clone()) {
            unique = format!("{display}({name} at {offset})");
        }
        members.push(Member {
            name,
            display: unique,
            bytes: bytes.slice(range),
            data_offset: offset,
        });
    }
    Ok(members)
}

/// The archive's symbol table as defined name -> index in `members` (the
/// first member the table names for it); `None` when the archive has no
/// table. llvm-ar and rustc list bitcode members' symbols there too.
pub(crate) fn symbol_table(
    display: &str,
    bytes: &InputBytes,
    members: &[Member],
) -> Result<Option<HashMap<String, usize>>> {
    let data = bytes.as_slice();
    let invalid = |e: object::Error| {
        Error::invalid(
            display,
            Phase::Classify,
            format!("bad archive symbol table: {e}"),
        )
    };
    let archive = ArchiveFile::parse(data).map_err(invalid)?;
    let Some(symbols) = archive.symbols().map_err(invalid)? else {
        return Ok(None);
    };
    let by_offset: HashMap<u64, usize> = members
        .iter()
        .enumerate()
        .map(|(m, member)| (member.data_offset, m))
        .collect();
    let mut table = HashMap::new();
    for symbol in symbols {
        let symbol = symbol.map_err(invalid)?;
        let member = archive.member(symbol.offset()).map_err(invalid)?;
        if let Some(&m) = by_offset.get(&member.file_range().0) {
            table
                .entry(String::from_utf8_lossy(symbol.name()).into_owned())
                .or_insert(m);
        }
    }
    Ok(Some(table))
}
