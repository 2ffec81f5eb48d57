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
//! hash, as in LLVM's key: its first change recompiles its importers (and
//! records the digests that spare them from then on), and an entry stored
//! under that key is found again through `ModuleKey::hash_only_key` (a
//! revert to the state of a cold link).

use super::cache::{from_hex, hex, ImportProbe, ModuleKey};
use super::index::ThinData;
use crate::error::{Error, Phase, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// Each import source's state digest, computed once per run on first use.
pub(crate) struct SourceStates {
    states: Vec<OnceLock<std::result::Result<[u8; 32], String>>>,
}

impl SourceStates {
    pub(crate) fn new(modules: usize) -> SourceStates {
        SourceStates {
            states: (0..modules).map(|_| OnceLock::new()).collect(),
        }
    }

    fn get(&self, data: &ThinData, source: u32) -> Result<[u8; 32]> {
        let module = data.modules().get(source as usize).ok_or_else(|| {
            Error::Config(format!("import source {source} is not a module of the run"))
        })?;
        let slot = self.states.get(source as usize).ok_or_else(|| {
            Error::Config(format!("import source {source} is not a module of the run"))
        })?;
        slot.get_or_init(|| data.index().source_state(&module.id))
            .clone()
            .map_err(|reason| Error::llvm(module.name.clone(), Phase::Cache, reason))
    }
}

/// What [`import_digests`] gives: the digests by source ordinal, and the
/// probes to record by source name.
pub(crate) struct ImportDigests {
    /// By source ordinal; a source without one stands by its module hash.
    pub digests: Vec<(u32, [u8; 32])>,
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
) -> Result<ImportDigests> {
    let mut by_source: BTreeMap<u32, BTreeSet<(u64, bool)>> = BTreeMap::new();
    for import in data.import_list(i) {
        by_source
            .entry(import.source)
            .or_default()
            .insert((import.guid, import.definition));
    }
    let mut digests = Vec::with_capacity(by_source.len());
    let mut probes = BTreeMap::new();
    for (source, values) in by_source {
        let Some(module) = data.modules().get(source as usize) else {
            continue;
        };
        let values: Vec<(u64, bool)> = values.into_iter().collect();
        let memo = probe_memo(&states.get(data, source)?, &values);
        let recorded = previous.and_then(|p| p.probes.get(&module.name));
        // Probed when its inputs changed since the record; the same inputs
        // as last time give the same digest, or none.
        let probe_now = recorded.is_some_and(|probe| probe.memo != memo);
        let digest = if probe_now {
            // A probe that fails (the backend's import would report why)
            // leaves the source standing by its module hash: always sound.
            data.index().import_digest(&module.id, &values).ok()
        } else {
            recorded.and_then(|probe| from_hex::<32>(probe.digest.as_deref()?))
        };
        if let Some(digest) = digest {
            digests.push((source, digest));
        }
        probes.insert(
            module.name.clone(),
            ImportProbe {
                memo,
                digest: digest.map(|d| hex(&d)),
            },
        );
    }
    Ok(ImportDigests { digests, probes })
}

/// What a probe's result depends on besides the engine itself (whose
/// version and source fingerprint are in every key): the source's state and
/// the values imported.
fn probe_memo(state: &[u8; 32], values: &[(u64, bool)]) -> String {
    let mut bytes = Vec::with_capacity(32 + 9 * values.len() + 16);
    bytes.extend_from_slice(b"ltoe-import-probe-1");
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
        let memo = probe_memo(&state, &values);
        assert_eq!(memo, probe_memo(&state, &values));
        assert_ne!(memo, probe_memo(&[2u8; 32], &values));
        assert_ne!(memo, probe_memo(&state, &[(7, true), (9, true)]));
        assert_ne!(memo, probe_memo(&state, &[(7, true)]));
    }
}
