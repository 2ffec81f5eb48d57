//! Bitcode symbol tables kept between links, in the ThinLTO cache
//! directory (`--thinlto-cache-dir`), by the content of the bitcode.
//!
//! LLVM's irsymtab in a bitcode file is read as it is only when the file's
//! producer is this very LLVM; rustc's LLVM (`22.1.2-rust-...`) or another
//! clang's is not, so every link rebuilds every module's table from its IR
//! (lld too): about two thirds of a millisecond a module, most of the
//! symbol resolution of a relink. The table depends on nothing but the
//! bytes and the LLVM that builds it, so it is kept as a cache entry under
//! the key `symtab-<BLAKE3 of the bytes>-<format>-<LLVM version>`: an
//! `llvmcache-` file, written, checked and pruned as the objects are
//! ([`Cache`]); one that fails its check is rebuilt, never trusted.

use crate::config::CacheConfig;
use crate::llvm::{self, IrSymbol};
use crate::thin::{Cache, Lookup};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bumped when the records' layout or what goes into them changes.
const FORMAT: u32 = 1;

/// Symbol tables of bitcode inputs, kept in the link's cache when it has
/// one.
pub(super) struct SymbolTables {
    cache: Option<Cache>,
    llvm_version: String,
    cached: AtomicUsize,
    built: AtomicUsize,
}

impl SymbolTables {
    /// Tables kept in the cache `config` names; when it cannot be opened,
    /// nothing is kept (the LTO run reports the cache's problem).
    pub(super) fn new(config: Option<&CacheConfig>) -> Self {
        SymbolTables {
            cache: config.and_then(|config| Cache::open(config).ok()),
            llvm_version: llvm::llvm_version(),
            cached: AtomicUsize::new(0),
            built: AtomicUsize::new(0),
        }
    }

    /// The symbols of every module of the bitcode `data`, and with a cache
    /// the BLAKE3 of `data` (its identity, which the memo of the thin run
    /// uses too).
    pub(super) fn symbols(&self, data: &[u8]) -> Result<(Vec<IrSymbol>, Option<[u8; 32]>), String> {
        let Some(cache) = &self.cache else {
            self.built.fetch_add(1, Ordering::Relaxed);
            return Ok((llvm::bitcode_symbols(data)?, None));
        };
        let hash = llvm::blake3(data);
        let hex: String = hash.iter().map(|byte| format!("{byte:02x}")).collect();
        let key = format!("symtab-{hex}-{FORMAT}-{}", self.llvm_version);
        if let Lookup::Hit(records) = cache.lookup(&key) {
            if let Ok(symbols) = llvm::parse_symbol_records(&records) {
                self.cached.fetch_add(1, Ordering::Relaxed);
                return Ok((symbols, Some(hash)));
            }
        }
        let records = llvm::bitcode_symbol_records(data)?;
        let symbols = llvm::parse_symbol_records(&records)?;
        self.built.fetch_add(1, Ordering::Relaxed);
        // Best effort: a table that cannot be kept is built again next time.
        let _ = cache.store(&key, &records);
        Ok((symbols, Some(hash)))
    }

    /// How many tables came from the cache, and how many were built.
    pub(super) fn counts(&self) -> (usize, usize) {
        (
            self.cached.load(Ordering::Relaxed),
            self.built.load(Ordering::Relaxed),
        )
    }
}
