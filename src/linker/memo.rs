//! The thin run of a link, remembered whole (`llvmcache-ldmemo-*` in the
//! cache directory): when a relink hands the thin run exactly what an
//! earlier link handed it, the run's result is already known, so nothing
//! is loaded, no thin link runs and no cache key is computed; the objects
//! come from the cache entries that run used.
//!
//! The memo's key is everything the run is a function of: this engine (the
//! executable's bytes and LLVM's version), the configuration (its whole
//! `Debug` form, but for the cache's directory), the kind of run, every module's name and content (BLAKE3)
//! in order, and the preserved names in order. The preserved names are
//! computed again on every link from the native inputs as they are now, so
//! a native object that comes to reference a new symbol changes the key. A
//! memo is a cache entry of its own (key `ldmemo-<key>`, written, checked
//! and pruned as the objects are); one that fails its check, cannot be
//! parsed, or names a cache entry that is gone or damaged is not used: the
//! run happens.

use crate::config::{Config, LtoKind};
use crate::llvm;
use crate::thin::{hex, Cache, Lookup};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Bumped when what a memo holds, or how its key is made, changes.
const FORMAT: u32 = 3;

/// What a thin run gave: its objects by cache key and its diagnostics as
/// printed. Its JSON report is an entry of its own (`ldmemo-report-<key>`),
/// read only when the link asks for a report: for hundreds of modules it is
/// megabytes, whose parse would be a good part of a recalled link.
#[derive(Serialize, Deserialize)]
pub(super) struct Remembered {
    /// `(file name, cache key)` of each object, in output order.
    pub(super) objects: Vec<(String, String)>,
    /// Its diagnostics, one line each.
    pub(super) diagnostics: Vec<String>,
}

/// A run's memo key, or `None` when the run cannot be remembered (the
/// engine's executable cannot be read).
pub(super) fn key<'m>(
    config: &Config,
    kind: LtoKind,
    modules: impl IntoIterator<Item = (&'m str, [u8; 32])>,
    preserve: &[String],
) -> Option<String> {
    let engine = engine_identity()?;
    // Where the cache is does not change what the run gives (the memo is
    // in that cache): a cache moved or copied keeps its memos.
    let mut config = config.clone();
    if let Some(cache) = config.cache.as_mut() {
        cache.dir = PathBuf::new();
    }
    let mut text = format!(
        "format {FORMAT}\nengine {engine}\nllvm {}\nkind {kind:?}\nconfig {config:?}\n",
        llvm::llvm_version()
    );
    for (name, content_hash) in modules {
        text.push_str(&format!("module {name:?} {}\n", hex(&content_hash)));
    }
    for name in preserve {
        text.push_str(&format!("preserve {name:?}\n"));
    }
    Some(hex(&llvm::blake3(text.as_bytes())))
}

/// BLAKE3 of the running executable: a rebuilt engine (or host) never
/// reads another build's memos, whatever its version number says.
pub(super) fn engine_identity() -> Option<&'static str> {
    static IDENTITY: OnceLock<Option<String>> = OnceLock::new();
    IDENTITY
        .get_or_init(|| {
            let exe = std::env::current_exe().ok()?;
            let bytes = std::fs::read(exe).ok()?;
            Some(hex(&llvm::blake3(&bytes)))
        })
        .as_deref()
}

/// A recalled run: the memo, its objects' paths, and its report when one
/// was asked for.
pub(super) struct Recalled {
    pub(super) remembered: Remembered,
    pub(super) paths: Vec<PathBuf>,
    pub(super) report: Option<serde_json::Value>,
}

/// The memo of `key`, each of its objects placed in `dir` under its file
/// name (see `Cache::place_entry`), with its report when `with_report`,
/// when the memo, its report and every entry it names are whole.
pub(super) fn recall_into(
    cache: &Cache,
    key: &str,
    dir: &Path,
    with_report: bool,
) -> crate::error::Result<Option<Recalled>> {
    let Lookup::Hit(entry) = cache.lookup(&format!("ldmemo-{key}")) else {
        return Ok(None);
    };
    let Ok(remembered) = serde_json::from_slice::<Remembered>(&entry) else {
        return Ok(None);
    };
    let report = if with_report {
        let Lookup::Hit(text) = cache.lookup(&format!("ldmemo-report-{key}")) else {
            return Ok(None);
        };
        let Ok(report) = serde_json::from_slice(&text) else {
            return Ok(None);
        };
        Some(report)
    } else {
        None
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| crate::error::Error::io(dir.display(), crate::error::Phase::Write, e))?;
    let mut paths = Vec::with_capacity(remembered.objects.len());
    for (file_name, cache_key) in &remembered.objects {
        let path = dir.join(file_name);
        if cache.place_entry(cache_key, &path).is_err() {
            // The run happens; what was placed is removed, not written into.
            for placed in &paths {
                let _ = std::fs::remove_file(placed);
            }
            return Ok(None);
        }
        paths.push(path);
    }
    Ok(Some(Recalled {
        remembered,
        paths,
        report,
    }))
}

/// Remembers a run under `key`. Best effort: a memo that cannot be written
/// only means the next relink runs.
/// The report first: a memo is only used with its report there.
pub(super) fn remember(
    cache: &Cache,
    key: &str,
    remembered: &Remembered,
    report: &serde_json::Value,
) {
    let (Ok(json), Ok(report)) = (serde_json::to_vec(remembered), serde_json::to_vec(report))
    else {
        return;
    };
    if cache
        .store(&format!("ldmemo-report-{key}"), &report)
        .is_ok()
    {
        let _ = cache.store(&format!("ldmemo-{key}"), &json);
    }
}

/// The report of a remembered run, as this link's: its kind, modules and
/// decisions are the run's; what this link did is say so (`"memo"`), read
/// every object from the cache (hits) and spend `seconds` on it.
pub(super) fn recalled_report(
    mut report: serde_json::Value,
    seconds: f64,
    cache: &Cache,
) -> serde_json::Value {
    report["memo"] = serde_json::json!({ "hit": true });
    report["phases"] = serde_json::json!([{ "phase": "memo", "seconds": seconds }]);
    report["total_seconds"] = seconds.into();
    if let Some(modules) = report["thin"]["modules"].as_array_mut() {
        let count = modules.len();
        for module in modules.iter_mut() {
            module["cache"] = serde_json::json!({ "status": "hit" });
            module["steps"] = serde_json::json!([]);
        }
        if report["thin"]["cache"].is_object() {
            report["thin"]["cache"]["dir"] = cache.dir().display().to_string().into();
            report["thin"]["cache"]["hits"] = count.into();
            report["thin"]["cache"]["misses"] = 0.into();
        }
    }
    report
}

/// Whether a run of `config` and `kind` may be remembered: a thin run with
/// a cache, whose objects all come from cache entries, and without
/// save-temps (which asks for every stage of every module) or remarks
/// files (which a recalled run would not write).
pub(super) fn applies(config: &Config, kind: LtoKind) -> bool {
    kind == LtoKind::Thin
        && config.cache.is_some()
        && config.save_temps.is_none()
        && config.opt_remarks.is_none()
        && config.explain.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_changes_with_every_part() {
        let config = Config::default();
        let preserve = vec!["main".to_string()];
        let base = key(&config, LtoKind::Thin, [("a", [1; 32])], &preserve).unwrap();
        assert_eq!(
            base,
            key(&config, LtoKind::Thin, [("a", [1; 32])], &preserve).unwrap()
        );
        let other_config = Config {
            opt_level: crate::config::OptLevel::O3,
            ..Config::default()
        };
        for other in [
            key(&config, LtoKind::Thin, [("a", [2; 32])], &preserve),
            key(&config, LtoKind::Thin, [("b", [1; 32])], &preserve),
            key(&config, LtoKind::Fat, [("a", [1; 32])], &preserve),
            key(&other_config, LtoKind::Thin, [("a", [1; 32])], &preserve),
            key(&config, LtoKind::Thin, [("a", [1; 32])], &[]),
            key(
                &config,
                LtoKind::Thin,
                [("a", [1; 32]), ("b", [2; 32])],
                &preserve,
            ),
        ] {
            assert_ne!(other.unwrap(), base);
        }
        // Where the cache is is not a part (its policy is).
        let in_cache = |dir: &str, policy: &str| Config {
            cache: Some(crate::config::CacheConfig {
                dir: dir.into(),
                policy: policy.into(),
            }),
            ..Config::default()
        };
        let here = key(
            &in_cache("a", ""),
            LtoKind::Thin,
            [("a", [1; 32])],
            &preserve,
        );
        let moved = key(
            &in_cache("b", ""),
            LtoKind::Thin,
            [("a", [1; 32])],
            &preserve,
        );
        let other_policy = key(
            &in_cache("a", "prune_after=1h"),
            LtoKind::Thin,
            [("a", [1; 32])],
            &preserve,
        );
        assert_eq!(here, moved);
        assert_ne!(here, other_policy);
    }
}
