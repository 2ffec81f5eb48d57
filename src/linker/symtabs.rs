//! Bitcode symbol tables kept between links, in the ThinLTO cache
//! directory (`--thinlto-cache-dir`), by the content of the bitcode.
//!
//! LLVM's irsymtab in a bitcode file is read as it is only when the file's
//! producer is this very LLVM; rustc's LLVM (`22.1.2-rust-...`) or another
//! clang's is not, so every link rebuilds every module's table from its IR
//! (lld too): about two thirds of a millisecond a module, most of the
//! symbol resolution of a relink. The table depends on nothing but the
//! bytes and the LLVM that builds it, so it is kept under
//! `llvmcache-symtab-<BLAKE3 of the bytes>-<format>-<LLVM version>`: named
//! so that the cache's pruning (LLVM's, the `llvmcache-` files) ages and
//! sizes them with the objects. An entry ends with its length and
//! checksum; one that fails them is rebuilt, never trusted.

use crate::llvm::{self, IrSymbol};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bumped when the records' layout or what goes into them changes.
const FORMAT: u32 = 1;
const TRAILER_MAGIC: &[u8; 8] = b"LTOESYM1";
const TRAILER_LEN: usize = 24;

/// Symbol tables of bitcode inputs, kept in a cache directory when the
/// link has one.
pub(super) struct SymbolTables {
    dir: Option<PathBuf>,
    llvm_version: String,
    cached: AtomicUsize,
    built: AtomicUsize,
}

impl SymbolTables {
    /// Tables kept in `dir` (made when missing; when it cannot be made,
    /// nothing is kept, as a link without a cache).
    pub(super) fn new(dir: Option<&Path>) -> Self {
        let dir = dir
            .filter(|dir| std::fs::create_dir_all(dir).is_ok())
            .map(Path::to_path_buf);
        SymbolTables {
            dir,
            llvm_version: llvm::llvm_version(),
            cached: AtomicUsize::new(0),
            built: AtomicUsize::new(0),
        }
    }

    /// The symbols of every module of the bitcode `data`.
    pub(super) fn symbols(&self, data: &[u8]) -> Result<Vec<IrSymbol>, String> {
        let Some(path) = self.entry_path(data) else {
            self.built.fetch_add(1, Ordering::Relaxed);
            return llvm::bitcode_symbols(data);
        };
        if let Some(symbols) = std::fs::read(&path)
            .ok()
            .and_then(|entry| unseal(&entry).map(<[u8]>::to_vec))
            .and_then(|records| llvm::parse_symbol_records(&records).ok())
        {
            self.cached.fetch_add(1, Ordering::Relaxed);
            return Ok(symbols);
        }
        let records = llvm::bitcode_symbol_records(data)?;
        let symbols = llvm::parse_symbol_records(&records)?;
        self.built.fetch_add(1, Ordering::Relaxed);
        // Best effort: a table that cannot be kept is built again next time.
        let _ = store(&path, &seal(&records));
        Ok(symbols)
    }

    /// How many tables came from the cache, and how many were built.
    pub(super) fn counts(&self) -> (usize, usize) {
        (
            self.cached.load(Ordering::Relaxed),
            self.built.load(Ordering::Relaxed),
        )
    }

    fn entry_path(&self, data: &[u8]) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let hash: String = llvm::blake3(data)
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        Some(dir.join(format!(
            "llvmcache-symtab-{hash}-{FORMAT}-{}",
            self.llvm_version
        )))
    }
}

/// `records`, then magic, length and checksum (little-endian).
fn seal(records: &[u8]) -> Vec<u8> {
    let mut entry = Vec::with_capacity(records.len() + TRAILER_LEN);
    entry.extend_from_slice(records);
    entry.extend_from_slice(TRAILER_MAGIC);
    entry.extend_from_slice(&(records.len() as u64).to_le_bytes());
    entry.extend_from_slice(&llvm::checksum(records).to_le_bytes());
    entry
}

/// The records of an entry whose trailer holds; `None` for anything else
/// (truncated, damaged, another format).
fn unseal(entry: &[u8]) -> Option<&[u8]> {
    let body_len = entry.len().checked_sub(TRAILER_LEN)?;
    let (records, trailer) = entry.split_at(body_len);
    let (magic, rest) = trailer.split_at(8);
    let (len, checksum) = rest.split_at(8);
    let len = u64::from_le_bytes(len.try_into().ok()?);
    let checksum = u64::from_le_bytes(checksum.try_into().ok()?);
    (magic == TRAILER_MAGIC && len == records.len() as u64 && checksum == llvm::checksum(records))
        .then_some(records)
}

/// Writes an entry under a temporary name and renames it into place: a
/// reader never sees part of one.
fn store(path: &Path, entry: &[u8]) -> std::io::Result<()> {
    // Not an `llvmcache-` name: pruning never sees a file being written.
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = path.with_file_name(format!(".{file_name}.tmp.{}", std::process::id()));
    std::fs::write(&temp, entry)?;
    std::fs::rename(&temp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_trusted_only_whole() {
        let records = b"\x01abc\0".to_vec();
        let entry = seal(&records);
        assert_eq!(unseal(&entry), Some(&records[..]));
        // Control: a flipped byte, a cut entry, a short one: none trusted.
        let mut flipped = entry.clone();
        flipped[1] ^= 1;
        assert_eq!(unseal(&flipped), None);
        assert_eq!(unseal(&entry[..entry.len() - 1]), None);
        assert_eq!(unseal(&entry[1..]), None);
        assert_eq!(unseal(b"short"), None);
    }
}
