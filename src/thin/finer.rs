//! The finer cache key's import digests: a module stands in its importers'
//! keys by what their imports from it bring, not by its whole hash (LLVM's
//! and lld's rule), so an edit recompiles the edited module and only the
//! modules whose imports it touched.
//!
//! What an import brings is measured, not modelled: LLVM's own importer
//! imports the same values into an empty module, whose bitcode is hashed
//! ([`ThinIndex::import_digest`]). That depends on the source's bitcode, the
//! list of values, and the thin link's view of the source (linkages,
//! liveness, dso_local, read-only variables, promotions, type identifier
//! resolutions: [`ThinIndex::source_state`], which covers the source's
//! module hash too). The digest is therefore remembered in the importer's
//! record under a memo of exactly those inputs, and probed again only when
//! the memo differs: an unchanged source costs a hash of index state, not a
//! parse.
//!
//! Probing every import of every module costs up to 5% of a cold link (the
//! importer's work done twice: Lua's 33 modules, 4.7%), so a source is
//! probed only when its digest can pay: when its memo changed since the
//! importer's record (an edit). Before that it stands by its whole module
//! hash, as in LLVM's key, and the cache keeps a copy of its bitcode
//! (`Cache::keep_version`). At its first change, that earlier version is
//! probed too, under this run's view of the source: when both versions'
//! imports are the same and the thin link's view of the source (the memo
//! without its content) is the record's, the importer's entry stored under
//! the earlier content hash still holds (`ModuleKey::substituted_key`).
//! From then on the digests are in the records. An entry stored before a
//! source's first probe is also found through `ModuleKey::hash_only_key` (a
//! revert to the state of a cold link).

use super::cache::{from_hex, hex, module_hash_hex, Cache, ImportProbe, ModuleKey};
use super::index::ThinData;
use crate::error::{Error, Phase, Result};
use crate::llvm::SourceState;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

/// Each import source's state, view and content hash, computed once per run
/// on first use, and the earlier versions read from the cache.
pub(crate) struct SourceStates {
    states: Vec<OnceLock<std::result::Result<(SourceState, String), String>>>,
    /// Kept versions by content hash (hex), read once per run.
    earlier: Mutex<HashMap<String, Option<Arc<Vec<u8>>>>>,
}

impl SourceStates {
    pub(crate) fn new(modules: usize) -> SourceStates {
        SourceStates {
            states: (0..modules).map(|_| OnceLock::new()).collect(),
            earlier: Mutex::new(HashMap::new()),
        }
    }

    /// The source's state and view, and its content hash (hex).
    fn get(&self, data: &ThinData, source: u32) -> Result<(SourceState, String)> {
        let module = data.modules().get(source as usize).ok_or_else(|| {
            Error::Config(format!("import source {source} is not a module of the run"))
        })?;
        let slot = self.states.get(source as usize).ok_or_else(|| {
            Error::Config(format!("import source {source} is not a module of the run"))
        })?;
        slot.get_or_init(|| {
            let state = data.index().source_state(&module.id)?;
            let content = data.index().content_hash(&module.id)?;
            Ok((state, module_hash_hex(content)))
        })
        .clone()
        .map_err(|reason| Error::llvm(module.name.clone(), Phase::Cache, reason))
    }

    /// The version of a module the cache kept under `content`, if any.
    fn earlier_version(&self, cache: &Cache, content: &str) -> Option<Arc<Vec<u8>>> {
        // One reader at a time: the first reads, the others wait for it
        // rather than read the same file again.
        let mut earlier = self.earlier.lock().unwrap_or_else(|e| e.into_inner());
        earlier
            .entry(content.to_string())
            .or_insert_with(|| cache.kept_version(content).map(Arc::new))
            .clone()
    }
}

/// What [`import_digests`] gives: the digests by source ordinal, and the
/// probes to record by source name.
pub(crate) struct ImportDigests {
    /// By source ordinal; a source without one stands by its module hash.
    pub digests: Vec<(u32, [u8; 32])>,
    /// Sources (by ordinal) whose import this run's probes showed the same
    /// as from their content of the last run (hex), which they stand by in
    /// the substituted key.
    pub substitutes: Vec<(u32, String)>,
    /// Sources (by ordinal) left without a digest: the cache keeps their
    /// current version for their first change.
    pub unprobed: Vec<u32>,
    /// By source name, for the module's record.
    pub probes: BTreeMap<String, ImportProbe>,
}

/// The import digests of module `i` for its finer key (by source ordinal;
/// a source without one stands by its module hash), and the probes to
/// remember for the next run (by source name). A digest is reused from
/// `previous` (the module's record) when its memo is this run's.
pub(crate) fn import_digests(
    data: &ThinData,
    i: usize,
    states: &SourceStates,
    previous: Option<&ModuleKey>,
    cache: &Cache,
) -> Result<ImportDigests> {
    let mut by_source: BTreeMap<u32, BTreeSet<(u64, bool)>> = BTreeMap::new();
    for import in data.import_list(i) {
        by_source
            .entry(import.source)
            .or_default()
            .insert((import.guid, import.definition));
    }
    // A module whose own content changed is compiled whatever its imports
    // bring (unless an old entry is found under its new content), so its
    // changed sources are not probed for it: they stand by their content
    // hash, and their current versions are kept for a later change. When
    // several modules change together (one edit, every CGU whose debug
    // info names the edited file), this spares the probes among them.
    let importer_changed = match (previous, data.modules().get(i)) {
        (Some(previous), Some(module)) => data
            .index()
            .content_hash(&module.id)
            .is_ok_and(|hash| previous.module_hash != module_hash_hex(hash)),
        _ => false,
    };
    let mut found = ImportDigests {
        digests: Vec::with_capacity(by_source.len()),
        substitutes: Vec::new(),
        unprobed: Vec::new(),
        probes: BTreeMap::new(),
    };
    for (source, values) in by_source {
        let Some(module) = data.modules().get(source as usize) else {
            continue;
        };
        let values: Vec<(u64, bool)> = values.into_iter().collect();
        let (state, content) = states.get(data, source)?;
        let memo = probe_memo(b"ltoe-import-probe-1", &state.state, &values);
        let view = probe_memo(b"ltoe-import-view-1", &state.view, &values);
        let recorded = previous.and_then(|p| p.probes.get(&module.name));
        // Probed when its inputs changed since the record; the same inputs
        // as last time give the same digest, or none.
        let probe_now = !importer_changed && recorded.is_some_and(|probe| probe.memo != memo);
        let digest = if probe_now {
            // A probe that fails (the backend's import would report why)
            // leaves the source standing by its module hash: always sound.
            data.index().import_digest(&module.id, None, &values).ok()
        } else {
            recorded
                .filter(|probe| probe.memo == memo)
                .and_then(|probe| from_hex::<32>(probe.digest.as_deref()?))
        };
        match (digest, recorded) {
            (Some(digest), Some(recorded)) if probe_now => {
                if earlier_import_is_the_same(
                    data, source, states, cache, recorded, &view, &content, &values, digest,
                ) {
                    found.substitutes.push((source, recorded.content.clone()));
                }
                found.digests.push((source, digest));
            }
            (Some(digest), _) => found.digests.push((source, digest)),
            (None, _) => found.unprobed.push(source),
        }
        found.probes.insert(
            module.name.clone(),
            ImportProbe {
                memo,
                digest: digest.map(|d| hex(&d)),
                view,
                content,
            },
        );
    }
    Ok(found)
}

/// Whether importing `values` from the version of `source` the record was
/// measured against (kept in the cache) brings what this version's import
/// brings (`digest`), under this run's view of the source. Only for a
/// source the record has no digest of (its entry is under its content
/// hash), whose view is the record's (so the thin link treats both
/// versions alike) and whose content changed.
#[allow(clippy::too_many_arguments)]
fn earlier_import_is_the_same(
    data: &ThinData,
    source: u32,
    states: &SourceStates,
    cache: &Cache,
    recorded: &ImportProbe,
    view: &str,
    content: &str,
    values: &[(u64, bool)],
    digest: [u8; 32],
) -> bool {
    if recorded.digest.is_some()
        || recorded.view != view
        || recorded.content.is_empty()
        || recorded.content == content
    {
        return false;
    }
    let Some(module) = data.modules().get(source as usize) else {
        return false;
    };
    let Some(earlier) = states.earlier_version(cache, &recorded.content) else {
        return false;
    };
    data.index()
        .import_digest(&module.id, Some(&earlier), values)
        .is_ok_and(|earlier_digest| earlier_digest == digest)
}

/// What a probe's result depends on besides the engine itself (whose
/// version and source fingerprint are in every key): the source's state and
/// the values imported.
/// `tag` tells a memo from a view.
fn probe_memo(tag: &[u8], state: &[u8; 32], values: &[(u64, bool)]) -> String {
    let mut bytes = Vec::with_capacity(32 + 9 * values.len() + 32);
    bytes.extend_from_slice(tag);
    bytes.extend_from_slice(state);
    for (guid, definition) in values {
        bytes.extend_from_slice(&guid.to_le_bytes());
        bytes.push(u8::from(*definition));
    }
    hex(&crate::llvm::blake3(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_round_trip_through_hex_and_bad_text_is_refused() {
        let digest: [u8; 32] = std::array::from_fn(|i| (i * 7) as u8);
        assert_eq!(from_hex::<32>(&hex(&digest)), Some(digest));
        assert_eq!(from_hex::<32>("00"), None);
        assert_eq!(from_hex::<32>(&"zz".repeat(32)), None);
    }

    #[test]
    fn the_memo_changes_with_the_state_and_with_each_value() {
        let state = [1u8; 32];
        let values = [(7u64, true), (9u64, false)];
        let memo = probe_memo(b"m", &state, &values);
        assert_eq!(memo, probe_memo(b"m", &state, &values));
        assert_ne!(memo, probe_memo(b"v", &state, &values));
        assert_ne!(memo, probe_memo(b"m", &[2u8; 32], &values));
        assert_ne!(memo, probe_memo(b"m", &state, &[(7, true), (9, true)]));
        assert_ne!(memo, probe_memo(b"m", &state, &[(7, true)]));
    }
}
