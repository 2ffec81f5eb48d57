//! Incremental ThinLTO: a directory of optimized objects keyed like LLVM's
//! (`computeLTOCacheKey` after the thin link), so that a module whose key is
//! present is neither parsed nor compiled again.
//!
//! Entries are `llvmcache-<key>`: the object followed by a trailer (magic,
//! length, xxHash3 checksum), written to a temporary file and renamed into
//! place, so a killed run never leaves an entry a later run trusts, and a
//! truncated or damaged entry is rebuilt. Beside the entries, one small
//! record per module name (`lto-engine-records/`) remembers the digests of
//! what went into its last key, so a miss can say why it missed. Pruning is
//! LLVM's `pruneCache` with lld's policy syntax.

use crate::codegen;
use crate::config::{CacheConfig, Config};
use crate::error::{Error, Phase, Result};
use crate::llvm::{self, InputBytes, KeyParts, KeySettings};
use crate::report::MissReason;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// Ends every entry: magic, then the object's length and checksum (LE).
const TRAILER_MAGIC: &[u8; 8] = b"LTOECE02";
const TRAILER_LEN: usize = 24;
/// Bumped whenever what this crate does to a module changes without a change
/// of its version (it is part of every key).
const CACHE_FORMAT: u32 = 3;
const RECORDS_DIR: &str = "lto-engine-records";
/// Beside the records: one empty file per LLVM key seen, to count what
/// LLVM's rule (lld's cache) would have compiled.
const LLVM_RULE_DIR: &str = "llvm-rule";

/// A fingerprint of the sources that decide what a backend produces (the
/// shim's steps, the pipelines, the backend's order, the key itself), so a
/// development build whose code changed never reuses the objects of another
/// build with the same version number. Any edit of these files, even a
/// comment, starts a fresh set of keys: the safe direction.
const ENGINE_FINGERPRINT: u64 = fingerprint(&[
    include_bytes!("../../llvm-wrapper/thin.cpp"),
    include_bytes!("../../llvm-wrapper/thin_index.h"),
    include_bytes!("../../llvm-wrapper/bitcode.cpp"),
    include_bytes!("../../llvm-wrapper/target.cpp"),
    include_bytes!("../../llvm-wrapper/cache.cpp"),
    include_bytes!("../codegen.rs"),
    include_bytes!("backend.rs"),
    include_bytes!("index.rs"),
    include_bytes!("finer.rs"),
]);

/// FNV-1a over the parts, at compile time.
const fn fingerprint(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut part = 0;
    while part < parts.len() {
        let bytes = parts[part];
        let mut i = 0;
        while i < bytes.len() {
            hash ^= bytes[i] as u64;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
            i += 1;
        }
        part += 1;
    }
    hash
}

/// A module's key and the digests of what went into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleKey {
    /// The cache key (hex).
    pub key: String,
    /// The key with every import source by its module hash: an entry
    /// stored before a source was first probed is under it.
    pub hash_only_key: String,
    /// The key with each source whose import the probes showed unchanged
    /// since its content of the last run standing by that content's hash:
    /// an entry stored before the source's first probe is under it. Empty
    /// when there is no such source.
    pub substituted_key: String,
    /// Digest of the code generation settings.
    pub settings: String,
    /// The module's own hash.
    pub module_hash: String,
    /// Digest of its exports and symbol resolutions.
    pub resolution: String,
    /// Digest per module imported from (by name).
    pub imports: BTreeMap<String, String>,
    /// LLVM's key for the module (lld's rule: each import source by its
    /// whole hash), to count what that rule would have recompiled.
    pub llvm_rule_key: String,
    /// Per import source (by name): the import digest and what it was
    /// measured from, so an unchanged source is not probed again.
    pub probes: BTreeMap<String, ImportProbe>,
}

/// An import digest (hex) and its memo: the digest of what it depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProbe {
    /// What the probe's result depends on (hex).
    pub memo: String,
    /// What importing brought (hex, 32 bytes), when it was probed; without
    /// it the source stands by its module hash.
    pub digest: Option<String>,
    /// The memo without the source's content: the thin link's view of the
    /// source and the values imported (hex; empty in older records).
    pub view: String,
    /// The source's content hash (hex; empty in older records): which
    /// version of it a later run may probe again.
    pub content: String,
}

impl ModuleKey {
    /// Builds the key from the index's parts; `name_of` names a module by
    /// its ordinal.
    pub(crate) fn new(
        parts: KeyParts,
        settings: &str,
        name_of: impl Fn(u32) -> Option<String>,
    ) -> ModuleKey {
        let imports = parts
            .imports
            .into_iter()
            .filter_map(|(ordinal, digest)| Some((name_of(ordinal)?, digest)))
            .collect();
        ModuleKey {
            key: parts.key,
            hash_only_key: parts.hash_only_key,
            substituted_key: parts.substituted_key,
            settings: settings.to_string(),
            module_hash: parts.module_hash,
            resolution: parts.resolution,
            imports,
            llvm_rule_key: parts.llvm_rule_key,
            probes: BTreeMap::new(),
        }
    }

    fn to_json(&self, module: &str) -> serde_json::Value {
        json!({
            "module": module,
            "key": self.key,
            "settings": self.settings,
            "module_hash": self.module_hash,
            "resolution": self.resolution,
            "imports": self.imports,
            "llvm_rule_key": self.llvm_rule_key,
            "probes": self.probes.iter().map(|(name, probe)| {
                (name.clone(), json!([probe.memo, probe.digest, probe.view, probe.content]))
            }).collect::<serde_json::Map<_, _>>(),
        })
    }

    fn from_json(value: &serde_json::Value) -> Option<ModuleKey> {
        let text = |field: &str| value.get(field)?.as_str().map(str::to_string);
        let imports = value
            .get("imports")?
            .as_object()?
            .iter()
            .map(|(name, digest)| Some((name.clone(), digest.as_str()?.to_string())))
            .collect::<Option<BTreeMap<_, _>>>()?;
        // Records of earlier versions have neither: no probe is reused and
        // LLVM's rule counts the module as recompiled.
        let probes = value
            .get("probes")
            .and_then(|p| p.as_object())
            .map(|probes| {
                probes
                    .iter()
                    .filter_map(|(name, pair)| {
                        let memo = pair.get(0)?.as_str()?.to_string();
                        let digest = pair.get(1)?.as_str().map(str::to_string);
                        let text = |i: usize| {
                            pair.get(i)
                                .and_then(|v| v.as_str())
                                .unwrap_or_default()
                                .to_string()
                        };
                        Some((
                            name.clone(),
                            ImportProbe {
                                memo,
                                digest,
                                view: text(2),
                                content: text(3),
                            },
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(ModuleKey {
            key: text("key")?,
            // Only looked up in the run that computed them.
            hash_only_key: String::new(),
            substituted_key: String::new(),
            settings: text("settings")?,
            module_hash: text("module_hash")?,
            resolution: text("resolution")?,
            imports,
            llvm_rule_key: text("llvm_rule_key").unwrap_or_default(),
            probes,
        })
    }

    /// Whether `self`, a key of the last run, is the record `key` would
    /// write (keys, LLVM's rule and probes alike).
    pub(crate) fn same_record(&self, key: &ModuleKey) -> bool {
        self.key == key.key && self.llvm_rule_key == key.llvm_rule_key && self.probes == key.probes
    }

    /// The import sources whose probe inputs changed since `previous` (or
    /// that are new), by name: those whose change LLVM's rule sees.
    pub(crate) fn changed_sources(&self, previous: &ModuleKey) -> Vec<String> {
        self.probes
            .iter()
            .filter(|(name, probe)| {
                previous.probes.get(*name).map(|p| &p.memo) != Some(&probe.memo)
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Why a module with this key must be compiled, given what the lookup
    /// found and the module's key in its last run (if any).
    pub(crate) fn miss_reason(&self, previous: Option<&ModuleKey>, lookup: Lookup) -> MissReason {
        match (lookup, previous) {
            (Lookup::Corrupt(why), _) => MissReason::EntryCorrupt(why),
            (_, Some(previous)) => self.explain(previous),
            (_, None) => MissReason::NewModule,
        }
    }

    /// Why this key differs from `previous`, the key of the module's last run.
    fn explain(&self, previous: &ModuleKey) -> MissReason {
        if previous.key == self.key {
            return MissReason::EntryMissing;
        }
        if previous.settings != self.settings {
            return MissReason::SettingsChanged;
        }
        if previous.module_hash != self.module_hash {
            return MissReason::ContentChanged;
        }
        let mut changed: Vec<String> = self
            .imports
            .iter()
            .filter(|(name, digest)| previous.imports.get(*name) != Some(*digest))
            .map(|(name, _)| name.clone())
            .collect();
        changed.extend(
            previous
                .imports
                .keys()
                .filter(|name| !self.imports.contains_key(*name))
                .cloned(),
        );
        if !changed.is_empty() {
            changed.sort();
            return MissReason::ImportsChanged(changed);
        }
        MissReason::ResolutionChanged
    }
}

/// The settings that go into every key: `lto::Config`'s share (hashed by
/// LLVM) and the rest (hashed as `extra`).
pub(crate) struct KeyConfig {
    /// For `computeLTOCacheKey`.
    pub settings: KeySettings,
    /// What `lto::Config` does not hold.
    pub extra: String,
    /// Digest of both, for miss reasons.
    pub digest: String,
}

impl KeyConfig {
    pub(crate) fn new(config: &Config) -> KeyConfig {
        let level = config.opt_level.codegen_level();
        let settings = KeySettings {
            cpu: config.target_cpu.clone().unwrap_or_default(),
            features: config.target_features.clone(),
            triple: config.target_triple.clone().unwrap_or_default(),
            pipeline: config.opt_level.pipeline("thinlto"),
            opt_level: level,
            codegen_opt_level: config.codegen_level(),
            reloc_model: codegen::reloc_model(config.reloc_model),
            code_model: codegen::code_model(config.code_model),
            file_type: codegen::file_kind(config.emit),
            function_sections: config.function_sections,
            data_sections: config.data_sections,
        };
        // Everything else that changes what a backend produces: this crate's
        // version, source fingerprint and cache format, what is emitted, the
        // vectorizer settings (derived from the level, spelled out so that a
        // change of that rule changes keys), and whole-program visibility
        // (the backend resolves public type tests by it, even where no call
        // was devirtualized), and whether inputs are verified (the check
        // strips broken debug info), and LLVM's own options (`-mllvm`).
        let vectorize = config.opt_level.vectorizes();
        let extra = format!(
            "lto-engine {} ({ENGINE_FINGERPRINT:016x}) cache-format {CACHE_FORMAT} llvm {}; emit {:?}; loop-vectorize {vectorize} slp-vectorize {vectorize}; value-names {}; whole-program-visibility {}; verify-inputs {}; llvm-options {:?}",
            env!("CARGO_PKG_VERSION"),
            llvm::LLVM_MAJOR,
            config.emit,
            config.save_temps.is_some(),
            config.whole_program_visibility,
            config.verify_inputs,
            config.llvm_options,
        );
        let digest = format!(
            "{:016x}",
            llvm::checksum(format!("{settings:?}\n{extra}").as_bytes())
        );
        KeyConfig {
            settings,
            extra,
            digest,
        }
    }
}

/// A module hash as [`llvm::bitcode_module_hash`] gives it (five big-endian
/// words) in the hex form keys and records use.
pub(crate) fn module_hash_hex(hash: [u8; 20]) -> String {
    hex(&hash)
}

/// Lower-case hex of `bytes`: how keys, digests and hashes are written in
/// entry names, records and worker requests.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The `N` bytes [`hex`] wrote as `text`; `None` for anything else.
pub(crate) fn from_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let mut bytes = [0u8; N];
    for (i, byte) in bytes.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(bytes)
}

/// What a lookup found.
pub(crate) enum Lookup {
    /// A valid entry: the object.
    Hit(Vec<u8>),
    /// No entry under the key.
    Missing,
    /// An entry that cannot be trusted, and why.
    Corrupt(String),
}

/// An open cache directory.
pub(crate) struct Cache {
    dir: PathBuf,
    policy: String,
    /// Records unused for this long go when pruning scans (`prune_after`).
    expiration: Duration,
}

impl Cache {
    /// Checks the policy and creates the directory (and its records
    /// directory) when missing.
    pub(crate) fn open(config: &CacheConfig) -> Result<Cache> {
        if config.dir.to_str().is_none() {
            return Err(Error::Config(format!(
                "cache directory {}: not a UTF-8 path",
                config.dir.display()
            )));
        }
        let expiration = llvm::parse_cache_policy(&config.policy).map_err(|reason| {
            Error::Config(format!("cache policy {:?}: {reason}", config.policy))
        })?;
        let records = config.dir.join(RECORDS_DIR);
        create_private_dir(&config.dir)?;
        check_ownership(&config.dir)?;
        create_private_dir(&records)?;
        check_ownership(&records)?;
        Ok(Cache {
            dir: config.dir.clone(),
            policy: config.policy.clone(),
            expiration,
        })
    }

    /// The directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn entry_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("llvmcache-{key}"))
    }

    /// Reads and checks the entry of `key`. A hit marks the entry used (its
    /// access time), which is what pruning goes by.
    pub(crate) fn lookup(&self, key: &str) -> Lookup {
        let found = self.peek(key);
        if let Lookup::Hit(_) = found {
            self.touch(key);
        }
        found
    }

    /// As [`lookup`](Self::lookup), but a hit is not marked as used: for
    /// entries read ahead that the run may not take (an entry's age decides
    /// pruning, so only a use refreshes it).
    pub(crate) fn peek(&self, key: &str) -> Lookup {
        let path = self.entry_path(key);
        let mut file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Lookup::Missing,
            Err(e) => return Lookup::Corrupt(format!("cannot open: {e}")),
        };
        // Reading may move the access time (relatime updates it when it is
        // older than the modification time): put it back, so that only a
        // use counts for pruning.
        let accessed = file.metadata().and_then(|m| m.accessed()).ok();
        let mut bytes = Vec::new();
        let read = file.read_to_end(&mut bytes);
        if let Some(accessed) = accessed {
            let _ = file.set_times(std::fs::FileTimes::new().set_accessed(accessed));
        }
        if let Err(e) = read {
            return Lookup::Corrupt(format!("cannot read: {e}"));
        }
        match check_entry(key, bytes) {
            Ok(object) => Lookup::Hit(object),
            Err(why) => Lookup::Corrupt(why),
        }
    }

    /// Marks the entry of `key` as used now (its access time), as LLVM's
    /// cache does on a hit. Best effort: a read-only cache still serves
    /// hits.
    /// [`Cache::lookup`], the object a view of the entry's memory map: for
    /// many large entries only passed on (no copy into memory first). Safe
    /// to keep: entries are never written in place, only replaced by rename
    /// or removed, which leave a map its file.
    pub(crate) fn lookup_mapped(
        &self,
        key: &str,
    ) -> std::result::Result<Option<InputBytes>, String> {
        let path = self.entry_path(key);
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("cannot open: {e}")),
        };
        let len = file
            .metadata()
            .map_err(|e| format!("cannot read: {e}"))?
            .len();
        if len < TRAILER_LEN as u64 {
            return Err(format!("{len} bytes, shorter than its trailer"));
        }
        let map = llvm::map_file_readonly(&file).map_err(|e| format!("cannot map: {e}"))?;
        let entry = InputBytes::mapped(map);
        let object_len = verify_entry(key, entry.as_slice())?;
        self.touch(key);
        Ok(Some(entry.slice(0..object_len)))
    }

    /// Puts the object of `key`'s entry at `path` (a file only the engine
    /// reads, removed when its link is done): a hard link to the entry when
    /// the cache is on the same file system, checked where it was linked
    /// (so what is read there is what was checked; the entry's trailer
    /// stays after the object, which object readers ignore), else a copy
    /// of the checked entry. Nothing is left at `path` on failure.
    pub(crate) fn place_entry(&self, key: &str, path: &Path) -> std::result::Result<(), String> {
        let _ = std::fs::remove_file(path);
        match std::fs::hard_link(self.entry_path(key), path) {
            Ok(()) => {
                let checked = std::fs::File::open(path)
                    .map_err(|e| format!("cannot open: {e}"))
                    .and_then(|file| {
                        let map = llvm::map_file_readonly(&file)
                            .map_err(|e| format!("cannot map: {e}"))?;
                        verify_entry(key, InputBytes::mapped(map).as_slice()).map(drop)
                    });
                if checked.is_err() {
                    let _ = std::fs::remove_file(path);
                } else {
                    self.touch(key);
                }
                checked
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err("no entry".to_string()),
            Err(_) => {
                let object = self
                    .lookup_mapped(key)?
                    .ok_or_else(|| "no entry".to_string())?;
                crate::fs::write_scratch(path, object.as_slice()).map_err(|e| e.to_string())
            }
        }
    }

    /// Copies the object of `key`'s entry, checked, into `to` (a new,
    /// empty file): in the kernel where it can (`copy_file_range`), from
    /// the very file that was checked (entries are never written in
    /// place). `Ok(false)` when there is no entry.
    pub(crate) fn copy_entry(
        &self,
        key: &str,
        to: &mut std::fs::File,
    ) -> std::result::Result<bool, String> {
        let mut entry = match std::fs::File::open(self.entry_path(key)) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(format!("cannot open: {e}")),
        };
        let map = llvm::map_file_readonly(&entry).map_err(|e| format!("cannot map: {e}"))?;
        let object_len = verify_entry(key, &map)? as u64;
        drop(map);
        let copied = std::io::copy(&mut (&mut entry).take(object_len), to)
            .map_err(|e| format!("cannot copy: {e}"))?;
        if copied != object_len {
            return Err(format!("copied {copied} of {object_len} bytes"));
        }
        self.touch(key);
        Ok(true)
    }

    /// Removes the entry of `key`, if any. Best effort.
    pub(crate) fn remove(&self, key: &str) {
        let _ = std::fs::remove_file(self.entry_path(key));
    }

    pub(crate) fn touch(&self, key: &str) {
        if let Ok(file) = std::fs::File::open(self.entry_path(key)) {
            let _ = file.set_times(std::fs::FileTimes::new().set_accessed(SystemTime::now()));
        }
    }

    /// Stores `object` under `key`: written to a new temporary file beside
    /// the entries, then renamed over the entry, so readers (in this process
    /// or another) only ever see a whole entry.
    pub(crate) fn store(&self, key: &str, object: &[u8]) -> std::io::Result<()> {
        let (temp, mut file) = self.new_temp_file()?;
        let result = (|| {
            file.write_all(object)?;
            file.write_all(&trailer(key, object))?;
            drop(file);
            std::fs::rename(&temp, self.entry_path(key))
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result
    }

    /// A temporary file created exclusively (`O_EXCL`): two writers never
    /// share one, even from two hosts or containers whose process ids
    /// coincide. `llvmcache-` prefixed so that pruning collects the
    /// leftovers of a killed run.
    fn new_temp_file(&self) -> std::io::Result<(PathBuf, std::fs::File)> {
        static NEXT_TEMP: AtomicU64 = AtomicU64::new(0);
        loop {
            let nanos = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let temp = self.dir.join(format!(
                "llvmcache-tmp-{}-{}-{nanos:08x}",
                std::process::id(),
                NEXT_TEMP.fetch_add(1, Ordering::Relaxed)
            ));
            match std::fs::File::options()
                .write(true)
                .create_new(true)
                .open(&temp)
            {
                Ok(file) => return Ok((temp, file)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Stores the inliner's decisions in the backend that made the object
    /// of `key`, beside it (`inline-<key>`): `explain` reads them on a hit
    /// instead of compiling again.
    pub(crate) fn store_inlining(
        &self,
        key: &str,
        decisions: &[llvm::InlineDecision],
    ) -> std::io::Result<()> {
        let json =
            serde_json::to_vec(&InliningEntry::new(decisions)).map_err(std::io::Error::other)?;
        self.store(&inlining_key(key), &json)
    }

    /// The inliner's decisions stored beside the object of `key`, when they
    /// are there and whole.
    pub(crate) fn inlining(&self, key: &str) -> Option<Vec<llvm::InlineDecision>> {
        match self.lookup(&inlining_key(key)) {
            Lookup::Hit(bytes) => serde_json::from_slice::<InliningEntry>(&bytes)
                .ok()?
                .decisions(),
            Lookup::Missing | Lookup::Corrupt(_) => None,
        }
    }

    /// Keeps `bytes`, the bitcode of a module version whose content hash
    /// is `content` (hex), so that a later run can probe what importing
    /// from this version brought once the module has changed (see
    /// `finer`). Stored as an entry (checked, pruned like the others);
    /// one already kept is only marked as used.
    pub(crate) fn keep_version(&self, content: &str, bytes: &[u8]) -> std::io::Result<()> {
        let key = version_key(content);
        if self.entry_path(&key).exists() {
            self.touch(&key);
            return Ok(());
        }
        self.store(&key, bytes)
    }

    /// The module version kept under `content`, when it is whole.
    pub(crate) fn kept_version(&self, content: &str) -> Option<Vec<u8>> {
        match self.lookup(&version_key(content)) {
            Lookup::Hit(bytes) => Some(bytes),
            Lookup::Missing | Lookup::Corrupt(_) => None,
        }
    }

    fn record_path(&self, module: &str) -> PathBuf {
        let digest = llvm::checksum(module.as_bytes());
        self.dir
            .join(RECORDS_DIR)
            .join(format!("{digest:016x}.json"))
    }

    /// The key the module of this name had in its last run with this cache.
    pub(crate) fn previous_key(&self, module: &str) -> Option<ModuleKey> {
        let text = std::fs::read(self.record_path(module)).ok()?;
        let value: serde_json::Value = serde_json::from_slice(&text).ok()?;
        // Two names with the same digest: not this module's record.
        if value.get("module")?.as_str()? != module {
            return None;
        }
        ModuleKey::from_json(&value)
    }

    fn llvm_rule_marker(&self, llvm_rule_key: &str) -> PathBuf {
        self.dir
            .join(RECORDS_DIR)
            .join(LLVM_RULE_DIR)
            .join(llvm_rule_key)
    }

    /// Whether a run with this cache saw `llvm_rule_key` (LLVM's key of a
    /// module) before: whether lld's cache, had it been used for the same
    /// runs, would hold an entry under it.
    pub(crate) fn llvm_rule_seen(&self, llvm_rule_key: &str) -> bool {
        !llvm_rule_key.is_empty() && self.llvm_rule_marker(llvm_rule_key).exists()
    }

    /// Notes that a run saw `llvm_rule_key` (an empty file).
    pub(crate) fn note_llvm_rule(&self, llvm_rule_key: &str) -> std::io::Result<()> {
        let marker = self.llvm_rule_marker(llvm_rule_key);
        if let Some(dir) = marker.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::File::create(marker).map(drop)
    }

    /// Remembers `key` as the module's last key (atomically).
    pub(crate) fn remember(&self, module: &str, key: &ModuleKey) -> Result<()> {
        let text = key.to_json(module).to_string();
        crate::fs::write_atomically(&self.record_path(module), text.as_bytes())
    }

    /// Prunes by the policy (when its interval has passed); records of
    /// modules not seen for the policy's expiration go too. Returns whether
    /// a scan was made.
    pub(crate) fn prune(&self) -> Result<bool> {
        let scanned = llvm::prune_cache(&self.dir, &self.policy)
            .map_err(|reason| Error::invalid(self.dir.display(), Phase::Cache, reason))?;
        if scanned && !self.expiration.is_zero() {
            self.prune_records(self.expiration);
        }
        Ok(scanned)
    }

    fn prune_records(&self, expiration: Duration) {
        Self::prune_files(&self.dir.join(RECORDS_DIR), expiration);
        Self::prune_files(&self.dir.join(RECORDS_DIR).join(LLVM_RULE_DIR), expiration);
    }

    fn prune_files(dir: &Path, expiration: Duration) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let now = SystemTime::now();
        for entry in entries.flatten() {
            let used = entry
                .metadata()
                .and_then(|m| m.accessed().or_else(|_| m.modified()));
            if let Ok(used) = used {
                let is_file = entry.file_type().is_ok_and(|t| t.is_file());
                if is_file && now.duration_since(used).unwrap_or_default() > expiration {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }
}

/// The inliner's decisions as the cache keeps them: each text once (a
/// module's decisions name the same functions many times; on the Rust
/// crate graph this is a quarter of the size of the decisions written out).
#[derive(serde::Serialize, serde::Deserialize)]
struct InliningEntry {
    texts: Vec<String>,
    /// Per decision: inlined (0 or 1), then the indices in `texts` of the
    /// remark's name, caller, callee, cost, threshold and reason.
    decisions: Vec<[u32; 7]>,
}

impl InliningEntry {
    fn new(decisions: &[llvm::InlineDecision]) -> Self {
        let mut texts: Vec<String> = Vec::new();
        let mut index: HashMap<&str, u32> = HashMap::new();
        let mut rows = Vec::with_capacity(decisions.len());
        for d in decisions {
            let mut row = [u32::from(d.inlined), 0, 0, 0, 0, 0, 0];
            let fields = [
                &d.remark,
                &d.caller,
                &d.callee,
                &d.cost,
                &d.threshold,
                &d.reason,
            ];
            for (slot, text) in row[1..].iter_mut().zip(fields) {
                *slot = *index.entry(text.as_str()).or_insert_with(|| {
                    texts.push(text.clone());
                    (texts.len() - 1) as u32
                });
            }
            rows.push(row);
        }
        InliningEntry {
            texts,
            decisions: rows,
        }
    }

    /// The decisions, `None` when an index is out of range.
    fn decisions(&self) -> Option<Vec<llvm::InlineDecision>> {
        let text = |i: u32| self.texts.get(i as usize).cloned();
        self.decisions
            .iter()
            .map(|d| {
                Some(llvm::InlineDecision {
                    inlined: d[0] != 0,
                    remark: text(d[1])?,
                    caller: text(d[2])?,
                    callee: text(d[3])?,
                    cost: text(d[4])?,
                    threshold: text(d[5])?,
                    reason: text(d[6])?,
                })
            })
            .collect()
    }
}

/// The entry name of the inliner's decisions beside the object of `key`.
fn inlining_key(key: &str) -> String {
    format!("inline-{key}")
}

/// The entry name of a kept module version: never a key (those are hex).
fn version_key(content: &str) -> String {
    format!("source-{content}")
}

/// The checksum of an entry covers its key too, so an object that ended up
/// under another key's name is never taken for that key's.
fn entry_checksum(key: &str, object: &[u8]) -> u64 {
    let mut both = [0u8; 16];
    both[..8].copy_from_slice(&llvm::checksum(key.as_bytes()).to_le_bytes());
    both[8..].copy_from_slice(&llvm::checksum(object).to_le_bytes());
    llvm::checksum(&both)
}

fn trailer(key: &str, object: &[u8]) -> [u8; TRAILER_LEN] {
    let mut trailer = [0u8; TRAILER_LEN];
    trailer[..8].copy_from_slice(TRAILER_MAGIC);
    trailer[8..16].copy_from_slice(&(object.len() as u64).to_le_bytes());
    trailer[16..].copy_from_slice(&entry_checksum(key, object).to_le_bytes());
    trailer
}

/// The object of a whole, undamaged entry of `key`.
fn check_entry(key: &str, mut bytes: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
    let object_len = verify_entry(key, &bytes)?;
    bytes.truncate(object_len);
    Ok(bytes)
}

/// Checks an entry's trailer and checksum; the length of its object.
fn verify_entry(key: &str, bytes: &[u8]) -> std::result::Result<usize, String> {
    if bytes.len() < TRAILER_LEN {
        return Err(format!("{} bytes, shorter than its trailer", bytes.len()));
    }
    let object_len = bytes.len() - TRAILER_LEN;
    let stored = &bytes[object_len..];
    if &stored[..8] != TRAILER_MAGIC {
        return Err("no entry trailer (truncated or not written by lto-engine)".to_string());
    }
    let mut word = [0u8; 8];
    word.copy_from_slice(&stored[8..16]);
    let length = u64::from_le_bytes(word);
    word.copy_from_slice(&stored[16..]);
    let checksum = u64::from_le_bytes(word);
    if length != object_len as u64 {
        return Err(format!(
            "holds {object_len} bytes, its trailer says {length}"
        ));
    }
    if entry_checksum(key, &bytes[..object_len]) != checksum {
        return Err("checksum mismatch".to_string());
    }
    Ok(object_len)
}

/// Creates `dir` (and its parents) when missing, without write permission
/// for group and others: whoever can write to a cache can plant objects in
/// every link that uses it.
fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o755);
    builder
        .create(dir)
        .map_err(|e| Error::io(dir.display(), Phase::Cache, e))
}

/// Refuses a cache directory another user owns or every user may write to
/// (`chmod 777`, `/tmp` itself): its entries would go into the link
/// unchecked. (LLVM's cache does not check; the engine's objects end up in
/// programs.)
fn check_ownership(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let metadata =
            std::fs::metadata(dir).map_err(|e| Error::io(dir.display(), Phase::Cache, e))?;
        let refuse = |why: String| {
            Err(Error::Config(format!(
                "cache directory {}: {why}; a cache others can write to lets them put their \
                 objects in this link (use a directory of your own)",
                dir.display()
            )))
        };
        if metadata.mode() & 0o002 != 0 {
            return refuse(format!(
                "writable by every user (mode {:o})",
                metadata.mode() & 0o7777
            ));
        }
        if let Some(user) = effective_uid() {
            if metadata.uid() != user {
                return refuse(format!(
                    "owned by user {}, not by this process's user {user}",
                    metadata.uid()
                ));
            }
        }
    }
    Ok(())
}

/// This process's effective user id, from `/proc/self/status` (Linux; the
/// owner check is skipped where it cannot be read).
#[cfg(unix)]
fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("Uid:"))?;
    // Uid: real effective saved filesystem
    line.split_whitespace().nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_damage_is_detected() {
        let object = b"\x7fELF pretend object".to_vec();
        let mut entry = object.clone();
        entry.extend_from_slice(&trailer("K1", &object));
        assert_eq!(check_entry("K1", entry.clone()).unwrap(), object);
        // Whole, but under another key's name: not that key's object.
        assert_eq!(
            check_entry("K2", entry.clone()).unwrap_err(),
            "checksum mismatch"
        );

        let truncated = entry[..entry.len() - 5].to_vec();
        assert!(check_entry("K1", truncated).is_err());
        let mut flipped = entry.clone();
        flipped[3] ^= 1;
        assert_eq!(check_entry("K1", flipped).unwrap_err(), "checksum mismatch");
        let mut cut_object = object[..4].to_vec();
        cut_object.extend_from_slice(&entry[object.len()..]);
        assert!(check_entry("K1", cut_object)
            .unwrap_err()
            .contains("trailer says"));
        assert!(check_entry("K1", Vec::new()).is_err());
    }

    #[test]
    fn miss_reasons_name_what_changed() {
        let base = ModuleKey {
            key: "k1".into(),
            hash_only_key: String::new(),
            substituted_key: String::new(),
            settings: "s".into(),
            module_hash: "h".into(),
            resolution: "r".into(),
            imports: BTreeMap::from([("a.o".to_string(), "1".to_string())]),
            llvm_rule_key: "l1".into(),
            probes: BTreeMap::from([
                (
                    "a.o".to_string(),
                    ImportProbe {
                        memo: "m".into(),
                        digest: Some("d".into()),
                        view: "v".into(),
                        content: "c".into(),
                    },
                ),
                (
                    "b.o".to_string(),
                    ImportProbe {
                        memo: "n".into(),
                        digest: None,
                        view: "w".into(),
                        content: "e".into(),
                    },
                ),
            ]),
        };
        let changed = |edit: &dyn Fn(&mut ModuleKey)| {
            let mut key = base.clone();
            key.key = "k2".into();
            edit(&mut key);
            key.explain(&base)
        };
        assert_eq!(base.explain(&base), MissReason::EntryMissing);
        assert_eq!(
            changed(&|k| k.settings = "t".into()),
            MissReason::SettingsChanged
        );
        assert_eq!(
            changed(&|k| k.module_hash = "g".into()),
            MissReason::ContentChanged
        );
        assert_eq!(
            changed(&|k| {
                k.imports.insert("a.o".into(), "2".into());
            }),
            MissReason::ImportsChanged(vec!["a.o".into()])
        );
        assert_eq!(
            changed(&|k| k.imports.clear()),
            MissReason::ImportsChanged(vec!["a.o".into()])
        );
        assert_eq!(changed(&|_| {}), MissReason::ResolutionChanged);
        let json = base.to_json("m.o");
        assert_eq!(ModuleKey::from_json(&json).unwrap(), base);
        // A record of an earlier version (no LLVM key, no probes) still
        // reads, with neither.
        let mut old = json.clone();
        old.as_object_mut().unwrap().remove("probes");
        old.as_object_mut().unwrap().remove("llvm_rule_key");
        let read = ModuleKey::from_json(&old).unwrap();
        assert!(read.probes.is_empty() && read.llvm_rule_key.is_empty());
        // A probe of an earlier version (memo and digest only) reads with
        // no view and no content: no earlier version is probed for it.
        let mut two = json.clone();
        two["probes"]["a.o"] = serde_json::json!(["m", "d"]);
        let read = ModuleKey::from_json(&two).unwrap();
        assert_eq!(read.probes["a.o"].view, "");
        assert_eq!(read.probes["a.o"].content, "");
        // What changed for the finer key's report: a probe's memo.
        let mut edited = base.clone();
        edited.probes.get_mut("b.o").unwrap().memo = "o".into();
        assert_eq!(edited.changed_sources(&base), ["b.o"]);
        assert!(base.same_record(&base.clone()));
        assert!(!edited.same_record(&base));
    }
}
