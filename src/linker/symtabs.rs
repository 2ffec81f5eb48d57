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

use super::sealed;
use crate::llvm::{self, IrSymbol};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bumped when the records' layout or what goes into them changes.
const FORMAT: u32 = 1;
const MAGIC: &[u8; 8] = b"LTOESYM1";

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
            .and_then(|entry| sealed::unseal(MAGIC, &entry).map(<[u8]>::to_vec))
            .and_then(|records| llvm::parse_symbol_records(&records).ok())
        {
            self.cached.fetch_add(1, Ordering::Relaxed);
            return Ok(symbols);
        }
        let records = llvm::bitcode_symbol_records(data)?;
        let symbols = llvm::parse_symbol_records(&records)?;
        self.built.fetch_add(1, Ordering::Relaxed);
        // Best effort: a table that cannot be kept is built again next time.
        let _ = sealed::store(&path, &sealed::seal(MAGIC, &records));
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
