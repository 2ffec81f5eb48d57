//! The LLVM side of incremental ThinLTO: per-module cache keys computed by
//! LLVM's `computeLTOCacheKey`, lld's pruning policies and `pruneCache`, and
//! the checksum that guards cache entries.

use super::thin::{Records, ThinIndex};
use super::{c_string, status, CodeModelKind, FileKind, Reloc, ShimBytes};
use crate::ffi;
use std::os::raw::c_int;
use std::path::Path;
use std::time::Duration;

/// Code generation settings as `lto::Config` holds them; they go into every
/// key through `computeLTOCacheKey` itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySettings {
    /// Target CPU, empty for the triple's default.
    pub cpu: String,
    /// Target features, comma-separated, LLVM syntax.
    pub features: String,
    /// The triple forced on every module, empty when each keeps its own.
    pub triple: String,
    /// The optimization pipeline (`thinlto<O2>`).
    pub pipeline: String,
    /// Optimization level 0..=3 (size levels show in the pipeline).
    pub opt_level: u8,
    /// Code generation optimization level 0..=3.
    pub codegen_opt_level: u8,
    /// The relocation model.
    pub reloc_model: Reloc,
    /// The code model.
    pub code_model: CodeModelKind,
    /// What code generation writes.
    pub file_type: FileKind,
    /// One section per function.
    pub function_sections: bool,
    /// One section per data object.
    pub data_sections: bool,
}

/// A module's cache key and the digests of what went into it, so that a
/// changed key can be explained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyParts {
    /// The key (40 hex digits, SHA-1 like LLVM's): the finer key, where each
    /// import source given a digest stands by what its import brings.
    pub key: String,
    /// The same key with every import source by its module hash (`key`
    /// itself when no digest was given): what an entry stored before a
    /// source's first probe is under.
    pub hash_only_key: String,
    /// The key with each substituted source (see [`ThinIndex::cache_key`])
    /// by its earlier content hash instead of its digest; empty when none
    /// was given.
    pub substituted_key: String,
    /// LLVM's rule (lld's key): every import source by its whole module
    /// hash. Only compared with an earlier run's, to count what that rule
    /// would have recompiled.
    pub llvm_rule_key: String,
    /// The module's own hash from the index (hex).
    pub module_hash: String,
    /// Digest of its exports, resolved linkages, and the linkage, liveness,
    /// visibility and function flags of its definitions.
    pub resolution: String,
    /// Per module imported from (by ordinal): digest of what stands for it
    /// (its import digest, or its module hash) and of the values imported.
    pub imports: Vec<(u32, String)>,
}

impl ThinIndex {
    /// The cache key of `module_id` after the thin link, with `extra` (what
    /// `lto::Config` does not hold) mixed in. Each import source in
    /// `import_digests` (by ordinal, from [`ThinIndex::import_digest`])
    /// stands in the key by that digest; any other by its module hash. Each
    /// source in `substitutes` (by ordinal, an earlier content hash as 40
    /// hex digits) stands by that hash in [`KeyParts::substituted_key`].
    pub fn cache_key(
        &self,
        module_id: &str,
        settings: &KeySettings,
        extra: &str,
        import_digests: &[(u32, [u8; 32])],
        substitutes: &[(u32, String)],
    ) -> Result<KeyParts, String> {
        let id = c_string(module_id)?;
        let cpu = c_string(&settings.cpu)?;
        let features = c_string(&settings.features)?;
        let triple = c_string(&settings.triple)?;
        let pipeline = c_string(&settings.pipeline)?;
        let raw_settings = ffi::LtoeCacheSettings {
            cpu: cpu.as_ptr(),
            features: features.as_ptr(),
            triple: triple.as_ptr(),
            pipeline: pipeline.as_ptr(),
            opt_level: c_int::from(settings.opt_level),
            codegen_opt_level: c_int::from(settings.codegen_opt_level),
            reloc_model: settings.reloc_model.code(),
            code_model: settings.code_model.code(),
            file_type: settings.file_type.code(),
            function_sections: c_int::from(settings.function_sections),
            data_sections: c_int::from(settings.data_sections),
        };
        let sources: Vec<u32> = import_digests.iter().map(|(source, _)| *source).collect();
        let digests: Vec<u8> = import_digests.iter().flat_map(|(_, d)| *d).collect();
        if let Some((_, bad)) = substitutes
            .iter()
            .find(|(_, hash)| hash.len() != 40 || !hash.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(format!(
                "substitute module hash {bad:?} is not 40 hex digits"
            ));
        }
        let substitute_sources: Vec<u32> = substitutes.iter().map(|(source, _)| *source).collect();
        let substitute_hashes: String = substitutes.iter().map(|(_, hash)| hash.as_str()).collect();
        let mut out = std::ptr::null_mut();
        let mut err = std::ptr::null_mut();
        // SAFETY: every string outlives the call; `sources` has one entry and
        // `digests` 32 bytes per given digest, `substitute_sources` one entry
        // and `substitute_hashes` 40 bytes per substitute (checked above), all
        // alive through the call; the index is only read; the shim returns a
        // buffer we own.
        let code = unsafe {
            ffi::ltoe_thin_index_cache_key(
                self.raw(),
                id.as_ptr(),
                &raw_settings,
                extra.as_ptr().cast(),
                extra.len(),
                sources.as_ptr(),
                digests.as_ptr(),
                sources.len(),
                substitute_sources.as_ptr(),
                substitute_hashes.as_ptr().cast(),
                substitute_sources.len(),
                &mut out,
                &mut err,
            )
        };
        status(code, err)?;
        let bytes = ShimBytes::from_raw(out);
        let mut reader = Records(bytes.as_bytes());
        let key = reader.string()?;
        let hash_only_key = reader.string()?;
        let substituted_key = reader.string()?;
        let llvm_rule_key = reader.string()?;
        let module_hash = reader.string()?;
        let resolution = reader.string()?;
        let mut imports = Vec::new();
        while !reader.is_empty() {
            let source = reader.u32()?;
            imports.push((source, reader.string()?));
        }
        Ok(KeyParts {
            key,
            hash_only_key,
            substituted_key,
            llvm_rule_key,
            module_hash,
            resolution,
            imports,
        })
    }
}

impl ThinIndex {
    /// Digest of the thin link's state that shapes what any import from
    /// `module_id` brings (its module hash, and the index's flags of every
    /// value it defines or references): with the list of what is imported,
    /// what [`ThinIndex::import_digest`] depends on. Also gives the same
    /// without the module hash: the thin link's view of the module,
    /// whatever its content.
    pub fn source_state(&self, module_id: &str) -> Result<SourceState, String> {
        let id = c_string(module_id)?;
        let mut state = [0u8; 32];
        let mut view = [0u8; 32];
        let mut err = std::ptr::null_mut();
        // SAFETY: the index is only read; `state` and `view` have room for
        // the 32 bytes the shim writes to each.
        let code = unsafe {
            ffi::ltoe_thin_index_source_state(
                self.raw(),
                id.as_ptr(),
                state.as_mut_ptr(),
                view.as_mut_ptr(),
                &mut err,
            )
        };
        status(code, err)?;
        Ok(SourceState { state, view })
    }

    /// Digest of what importing `values` (GUID, as a definition) from
    /// `module_id` brings: LLVM's importer imports them into an empty module,
    /// whose bitcode is hashed. Parses the source module (lazily): the one
    /// the index was built from, or with `version` the first module of
    /// those bytes (an earlier version of it) under this index's view.
    pub fn import_digest(
        &self,
        module_id: &str,
        version: Option<&[u8]>,
        values: &[(u64, bool)],
    ) -> Result<[u8; 32], String> {
        let id = c_string(module_id)?;
        let (version_ptr, version_len) =
            version.map_or((std::ptr::null(), 0), |bytes| (bytes.as_ptr(), bytes.len()));
        let guids: Vec<u64> = values.iter().map(|(guid, _)| *guid).collect();
        let definitions: Vec<u8> = values.iter().map(|(_, d)| u8::from(*d)).collect();
        let mut out = [0u8; 32];
        let mut err = std::ptr::null_mut();
        // SAFETY: the index and the bitcode it was built from are only read;
        // `version` (null or `version_len` bytes) is only read during the
        // call (the modules it gives live in the call's own context);
        // `guids` and `definitions` have `values.len()` entries each and live
        // through the call; `out` has room for the 32 bytes the shim writes.
        let code = unsafe {
            ffi::ltoe_thin_index_import_digest(
                self.raw(),
                id.as_ptr(),
                version_ptr.cast(),
                version_len,
                guids.as_ptr(),
                definitions.as_ptr(),
                values.len(),
                out.as_mut_ptr(),
                &mut err,
            )
        };
        status(code, err)?;
        Ok(out)
    }
}

/// What [`ThinIndex::source_state`] gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceState {
    /// The thin link's state of the module, its module hash included.
    pub state: [u8; 32],
    /// The same without the module hash.
    pub view: [u8; 32],
}

/// Checks a pruning policy in lld's `--thinlto-cache-policy` syntax
/// (`prune_interval=30m:prune_after=24h:cache_size=50%:cache_size_bytes=1g:cache_size_files=1000`;
/// the empty policy is lld's default) and returns its expiration
/// (`prune_after`; zero disables it).
pub fn parse_cache_policy(policy: &str) -> Result<Duration, String> {
    let text = c_string(policy)?;
    let mut expiration: u64 = 0;
    let mut err = std::ptr::null_mut();
    // SAFETY: a NUL-terminated string and a valid out-pointer.
    let code = unsafe { ffi::ltoe_cache_policy_parse(text.as_ptr(), &mut expiration, &mut err) };
    status(code, err)?;
    Ok(Duration::from_secs(expiration))
}

/// Prunes `dir`'s `llvmcache-*` files by `policy` (LLVM's `pruneCache`).
/// Returns whether a scan was made: the policy's interval had passed since
/// the last scan, or there was no `llvmcache.timestamp` yet.
pub fn prune_cache(dir: &Path, policy: &str) -> Result<bool, String> {
    let dir_text = dir
        .to_str()
        .ok_or_else(|| format!("{}: not a UTF-8 path", dir.display()))?;
    let dir_c = c_string(dir_text)?;
    let policy_c = c_string(policy)?;
    let mut pruned: c_int = 0;
    let mut err = std::ptr::null_mut();
    // SAFETY: NUL-terminated strings and a valid out-pointer.
    let code =
        unsafe { ffi::ltoe_cache_prune(dir_c.as_ptr(), policy_c.as_ptr(), &mut pruned, &mut err) };
    status(code, err).map(|()| pruned != 0)
}

/// xxHash3 (64 bits) of `bytes`: the checksum of a cache entry.
pub fn checksum(bytes: &[u8]) -> u64 {
    // SAFETY: `bytes` is valid for its length during the call.
    unsafe { ffi::ltoe_xxh3_64(bytes.as_ptr(), bytes.len()) }
}
