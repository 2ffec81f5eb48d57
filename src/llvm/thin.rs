//! Safe owner of the shim's combined ThinLTO index ([`ThinIndex`]) and the
//! per-module backend steps that read it.

use super::InputBytes;
use super::{c_string, status, ShimBytes};
use crate::ffi;
use inkwell::module::Module;
use inkwell::targets::TargetMachine;
use std::os::raw::{c_char, c_int};

/// How a definition is linked, as far as choosing the prevailing copy goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkageClass {
    /// External, non-weak: at most one may exist.
    Strong,
    /// weak, linkonce, common: any copy may prevail.
    Weak,
    /// A copy that is only there for inlining; never prevails.
    AvailableExternally,
    /// internal or private: not subject to resolution.
    Local,
    /// Appending (`llvm.global_ctors`, `llvm.used`, ...): every module's
    /// copy is kept and concatenated; not subject to resolution.
    Appending,
}

/// One definition summarized in the index.
#[derive(Debug, Clone)]
pub struct Definition {
    /// Its GUID.
    pub guid: u64,
    /// Ordinal of the module defining it (order of [`ThinIndex::add`]).
    pub module: u32,
    /// Its linkage class.
    pub linkage: LinkageClass,
    /// Its IR name.
    pub name: String,
    /// Still live after dead-symbol analysis (every definition is before it).
    pub live: bool,
}

/// One value a module imports.
#[derive(Debug, Clone)]
pub struct Import {
    /// Ordinal of the module it comes from.
    pub source: u32,
    /// Its GUID.
    pub guid: u64,
    /// A definition (a function body) rather than a declaration.
    pub definition: bool,
    /// Its IR name.
    pub name: String,
}

/// Counts of one module's summaries after the thin link.
#[derive(Debug, Clone, Copy, Default)]
pub struct ModuleStats {
    /// Definitions it holds.
    pub definitions: usize,
    /// Of those, the ones still live.
    pub live: usize,
    /// Values other modules import from it.
    pub exports: usize,
    /// Instructions of its functions, as summarized (before LTO).
    pub instructions: u64,
}

/// The combined summary index and the thin link's decisions. It keeps the
/// bytes of every module it was built from alive (the index points into them,
/// and the importer loads from them).
pub struct ThinIndex {
    raw: *mut ffi::LtoeThinIndex,
    buffers: Vec<InputBytes>,
}

// SAFETY: the index is only mutated through `&mut self` during the thin link;
// afterwards every shim call through `&self` only reads it (the shim
// pre-inserts every per-module map entry so that lookups never insert), which
// LLVM's own in-process ThinLTO backend also does from many threads.
unsafe impl Send for ThinIndex {}
// SAFETY: as above, shared access is read-only.
unsafe impl Sync for ThinIndex {}

impl Default for ThinIndex {
    fn default() -> Self {
        Self::new()
    }
}

impl ThinIndex {
    /// The shim's handle, for the other `llvm` modules that read the index.
    pub(super) fn raw(&self) -> *const ffi::LtoeThinIndex {
        self.raw
    }

    /// An empty index.
    pub fn new() -> Self {
        // SAFETY: plain allocation; freed in Drop.
        let raw = unsafe { ffi::ltoe_thin_index_new() };
        ThinIndex {
            raw,
            buffers: Vec::new(),
        }
    }

    /// Adds the summary of module `which` of `bytes` under `module_id`.
    pub fn add(&mut self, bytes: &InputBytes, which: usize, module_id: &str) -> Result<(), String> {
        let id = c_string(module_id)?;
        let data = bytes.as_slice();
        let mut err = std::ptr::null_mut();
        // SAFETY: `data` stays alive as long as the index: a clone of its owner
        // is kept in `self.buffers`, dropped after the index is freed.
        let code = unsafe {
            ffi::ltoe_thin_index_add(
                self.raw,
                data.as_ptr().cast(),
                data.len(),
                which,
                id.as_ptr(),
                &mut err,
            )
        };
        status(code, err)?;
        self.buffers.push(bytes.clone());
        Ok(())
    }

    /// Every definition in the index.
    pub fn definitions(&self) -> Result<Vec<Definition>, String> {
        let mut out = std::ptr::null_mut();
        let mut err = std::ptr::null_mut();
        // SAFETY: reads the index; returns a buffer we own.
        let code = unsafe { ffi::ltoe_thin_index_definitions(self.raw, &mut out, &mut err) };
        status(code, err)?;
        let bytes = ShimBytes::from_raw(out);
        let mut reader = Records(bytes.as_bytes());
        let mut definitions = Vec::new();
        while !reader.is_empty() {
            let guid = reader.u64()?;
            let module = reader.u32()?;
            let linkage = match reader.u8()? {
                0 => LinkageClass::Strong,
                1 => LinkageClass::Weak,
                2 => LinkageClass::AvailableExternally,
                3 => LinkageClass::Local,
                4 => LinkageClass::Appending,
                code => return Err(format!("unknown linkage class {code} from the shim")),
            };
            let live = reader.u8()? != 0;
            let name = reader.string()?;
            definitions.push(Definition {
                guid,
                module,
                linkage,
                name,
                live,
            });
        }
        Ok(definitions)
    }

    /// Records the prevailing copy of each GUID: `(guid, module ordinal)`.
    pub fn set_prevailing(&mut self, prevailing: &[(u64, u32)]) -> Result<(), String> {
        let guids: Vec<u64> = prevailing.iter().map(|p| p.0).collect();
        let ordinals: Vec<u32> = prevailing.iter().map(|p| p.1).collect();
        let mut err = std::ptr::null_mut();
        // SAFETY: both arrays hold `len` elements for the call.
        let code = unsafe {
            ffi::ltoe_thin_index_set_prevailing(
                self.raw,
                guids.as_ptr(),
                ordinals.as_ptr(),
                guids.len(),
                &mut err,
            )
        };
        status(code, err)
    }

    /// Dead-symbol analysis from the preserved GUIDs.
    pub fn compute_dead(&mut self, preserved: &[u64], import_enabled: bool) {
        // SAFETY: the array holds `len` GUIDs for the call.
        unsafe {
            ffi::ltoe_thin_index_compute_dead(
                self.raw,
                preserved.as_ptr(),
                preserved.len(),
                c_int::from(import_enabled),
            )
        }
    }

    /// Index-based whole-program devirtualization, as LLVM's thin link runs
    /// it after liveness and before imports: with
    /// `whole_program_visibility`, classes whose vtables are not among
    /// `dynamic_exports` may be devirtualized. Does nothing for summaries
    /// without type metadata.
    pub fn devirtualize(&mut self, whole_program_visibility: bool, dynamic_exports: &[u64]) {
        // SAFETY: exclusive access to a live index; the GUIDs live until the
        // call returns.
        unsafe {
            ffi::ltoe_thin_index_devirtualize(
                self.raw,
                c_int::from(whole_program_visibility),
                dynamic_exports.as_ptr(),
                dynamic_exports.len(),
            )
        }
    }

    /// Per-module definitions, and the import/export lists if enabled.
    pub fn compute_imports(&mut self, import_enabled: bool) {
        // SAFETY: exclusive access to a live index.
        unsafe { ffi::ltoe_thin_index_compute_imports(self.raw, c_int::from(import_enabled)) }
    }

    /// GUIDs a linker resolves across modules: defined in more than one
    /// module, or used by a module that does not define them (from the
    /// summaries' calls and references), sorted.
    pub fn cross_module_guids(&self) -> Result<Vec<u64>, String> {
        let mut out = std::ptr::null_mut();
        let mut err = std::ptr::null_mut();
        // SAFETY: reads the index; returns a buffer we own.
        let code = unsafe { ffi::ltoe_thin_index_cross_module_guids(self.raw, &mut out, &mut err) };
        status(code, err)?;
        let bytes = ShimBytes::from_raw(out);
        let mut reader = Records(bytes.as_bytes());
        let mut guids = Vec::new();
        while !reader.is_empty() {
            guids.push(reader.u64()?);
        }
        Ok(guids)
    }

    /// Internalization and promotion decisions; `cross_module` are the
    /// GUIDs some module refers to or defines besides their defining module.
    pub fn internalize_and_promote(&mut self, cross_module: &[u64]) {
        // SAFETY: exclusive access to a live index; the array holds `len` GUIDs.
        unsafe {
            ffi::ltoe_thin_index_internalize_and_promote(
                self.raw,
                cross_module.as_ptr(),
                cross_module.len(),
            )
        }
    }

    /// Linkage resolution of weak and linkonce copies.
    pub fn resolve_prevailing(&mut self, elf_visibility: bool) {
        // SAFETY: exclusive access to a live index.
        unsafe { ffi::ltoe_thin_index_resolve_prevailing(self.raw, c_int::from(elf_visibility)) }
    }

    /// From now on, name the promoted locals of each module `(id, seed)` by
    /// a hash of `seed` (a name of the module, unique within the link and
    /// the same from one link to the next) instead of its content
    /// (`<name>.llvm.<hash>`), so an edit of a module does not rename them;
    /// cache keys keep each module's content hash. Call after every module
    /// is added, before the thin link's steps.
    pub fn stable_promotion_names(&mut self, modules: &[(&str, &str)]) -> Result<(), String> {
        let ids = modules
            .iter()
            .map(|(id, _)| c_string(id))
            .collect::<Result<Vec<_>, _>>()?;
        let seeds = modules
            .iter()
            .map(|(_, seed)| c_string(seed))
            .collect::<Result<Vec<_>, _>>()?;
        let id_ptrs: Vec<*const c_char> = ids.iter().map(|s| s.as_ptr()).collect();
        let seed_ptrs: Vec<*const c_char> = seeds.iter().map(|s| s.as_ptr()).collect();
        let mut err = std::ptr::null_mut();
        // SAFETY: exclusive access to a live index; both pointer arrays have
        // `modules.len()` entries, each a NUL-terminated string that lives
        // through the call.
        let code = unsafe {
            ffi::ltoe_thin_index_stable_promotion_names(
                self.raw,
                id_ptrs.as_ptr(),
                seed_ptrs.as_ptr(),
                modules.len(),
                &mut err,
            )
        };
        status(code, err)
    }

    /// A module's content hash (its bitcode's module hash, in the form of
    /// [`bitcode_module_hash`]), whatever the index's module table holds
    /// for it; zero for an unknown identifier.
    pub fn content_hash(&self, module_id: &str) -> Result<[u8; 20], String> {
        let id = c_string(module_id)?;
        let mut out = [0u8; 20];
        // SAFETY: the index is only read; `out` has room for the 20 bytes
        // the shim writes.
        unsafe { ffi::ltoe_thin_index_content_hash(self.raw, id.as_ptr(), out.as_mut_ptr()) };
        Ok(big_endian_words(out))
    }

    /// Function attribute propagation over the combined call graph.
    pub fn propagate_attributes(&mut self) {
        // SAFETY: exclusive access to a live index.
        unsafe { ffi::ltoe_thin_index_propagate_attributes(self.raw) }
    }

    /// What `module_id` imports.
    pub fn imports(&self, module_id: &str) -> Result<Vec<Import>, String> {
        let id = c_string(module_id)?;
        let mut out = std::ptr::null_mut();
        let mut err = std::ptr::null_mut();
        // SAFETY: reads the index; returns a buffer we own.
        let code = unsafe {
            ffi::ltoe_thin_index_module_imports(self.raw, id.as_ptr(), &mut out, &mut err)
        };
        status(code, err)?;
        let bytes = ShimBytes::from_raw(out);
        let mut reader = Records(bytes.as_bytes());
        let mut imports = Vec::new();
        while !reader.is_empty() {
            let source = reader.u32()?;
            let guid = reader.u64()?;
            let definition = reader.u8()? != 0;
            let name = reader.string()?;
            imports.push(Import {
                source,
                guid,
                definition,
                name,
            });
        }
        Ok(imports)
    }

    /// The name the rename step gives `name`, a local of `module_id`, when
    /// it promotes it (`<name>.llvm.<module hash>`).
    pub fn promoted_name(&self, module_id: &str, name: &str) -> Result<String, String> {
        let id = c_string(module_id)?;
        let name = c_string(name)?;
        let mut out = std::ptr::null_mut();
        let mut err = std::ptr::null_mut();
        // SAFETY: reads the index; both strings are NUL-terminated and live
        // through the call; returns a buffer we own.
        let code = unsafe {
            ffi::ltoe_thin_index_promoted_name(
                self.raw,
                id.as_ptr(),
                name.as_ptr(),
                &mut out,
                &mut err,
            )
        };
        status(code, err)?;
        let bytes = ShimBytes::from_raw(out);
        String::from_utf8(bytes.as_bytes().to_vec())
            .map_err(|_| "the promoted name is not UTF-8".to_string())
    }

    /// Counts of `module_id`'s definitions after the thin link.
    pub fn stats(&self, module_id: &str) -> Result<ModuleStats, String> {
        let id = c_string(module_id)?;
        let mut stats = ModuleStats::default();
        let mut err = std::ptr::null_mut();
        // SAFETY: reads the index; the out-pointers are valid.
        let code = unsafe {
            ffi::ltoe_thin_index_module_stats(
                self.raw,
                id.as_ptr(),
                &mut stats.definitions,
                &mut stats.live,
                &mut stats.exports,
                &mut stats.instructions,
                &mut err,
            )
        };
        status(code, err).map(|()| stats)
    }

    /// Promotes and renames the locals other modules import or reference.
    pub fn rename(&self, module: &Module<'_>, machine: &TargetMachine) -> Result<(), String> {
        let mut err = std::ptr::null_mut();
        // SAFETY: the module and machine are alive; the index is only read.
        let code = unsafe {
            ffi::ltoe_thin_backend_rename(
                self.raw,
                module.as_mut_ptr(),
                machine.as_mut_ptr(),
                &mut err,
            )
        };
        status(code, err)
    }

    /// Drops dead definitions and applies the resolved linkages.
    pub fn resolve(&self, module: &Module<'_>) -> Result<(), String> {
        let mut err = std::ptr::null_mut();
        // SAFETY: the module is alive; the index is only read.
        let code =
            unsafe { ffi::ltoe_thin_backend_resolve(self.raw, module.as_mut_ptr(), &mut err) };
        status(code, err)
    }

    /// Internalizes what the thin link decided to internalize.
    pub fn internalize(&self, module: &Module<'_>) -> Result<(), String> {
        let mut err = std::ptr::null_mut();
        // SAFETY: the module is alive; the index is only read.
        let code =
            unsafe { ffi::ltoe_thin_backend_internalize(self.raw, module.as_mut_ptr(), &mut err) };
        status(code, err)
    }

    /// Runs `thinlto<level>` (`ffi::LTOE_OPT_*`) on a backend's module with
    /// this index as the import summary, as LLVM's LTO backend does, so the
    /// thin link's devirtualization and type-test decisions apply.
    pub fn optimize(
        &self,
        module: &Module<'_>,
        machine: &TargetMachine,
        level: super::PipelineLevel,
        vectorize: bool,
    ) -> Result<(), String> {
        let mut err = std::ptr::null_mut();
        // SAFETY: the module and machine are alive and the module is ours
        // for the call; the index is only read; the shim checks the level.
        let code = unsafe {
            ffi::ltoe_thin_backend_optimize(
                self.raw,
                module.as_mut_ptr(),
                machine.as_mut_ptr(),
                level.code(),
                c_int::from(vectorize),
                &mut err,
            )
        };
        status(code, err)
    }

    /// Imports the module's import list, loading sources lazily into the
    /// module's context from the index's buffers.
    pub fn import(&self, module: &Module<'_>, machine: &TargetMachine) -> Result<(), String> {
        let mut err = std::ptr::null_mut();
        // SAFETY: the module and machine are alive; the index is only read and
        // the source buffers it loads from live as long as `self`.
        let code = unsafe {
            ffi::ltoe_thin_backend_import(
                self.raw,
                module.as_mut_ptr(),
                machine.as_mut_ptr(),
                &mut err,
            )
        };
        status(code, err)
    }
}

/// A module's slice of the combined index, for a backend that runs
/// elsewhere.
#[derive(Debug, Clone)]
pub struct ModuleIndexFile {
    /// The `<module>.thinlto.bc` bytes, as `writeIndexToFile` writes them.
    pub index: Vec<u8>,
    /// The modules it imports from, as `<module>.imports` lists them.
    pub sources: Vec<String>,
}

/// One module named by an index read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedModule {
    /// Its path, as the thin link recorded it.
    pub path: String,
    /// Its module hash (20 bytes; zero when its writer recorded none).
    pub hash: [u8; 20],
}

impl ThinIndex {
    /// Module `module_id`'s slice of the index (its own summaries with the
    /// thin link's decisions, plus those of what it imports) and the modules
    /// it imports from. Only after the thin link.
    pub fn module_index_file(&self, module_id: &str) -> Result<ModuleIndexFile, String> {
        let id = c_string(module_id)?;
        let mut index = std::ptr::null_mut();
        let mut sources = std::ptr::null_mut();
        let mut err = std::ptr::null_mut();
        // SAFETY: reads the index; returns two buffers we own.
        let code = unsafe {
            ffi::ltoe_thin_index_write_module_index(
                self.raw,
                id.as_ptr(),
                &mut index,
                &mut sources,
                &mut err,
            )
        };
        status(code, err)?;
        let index = ShimBytes::from_raw(index);
        let sources = ShimBytes::from_raw(sources);
        let mut reader = Records(sources.as_bytes());
        let mut paths = Vec::new();
        while !reader.is_empty() {
            paths.push(reader.string()?);
        }
        Ok(ModuleIndexFile {
            index: index.as_bytes().to_vec(),
            sources: paths,
        })
    }

    /// An index read from a `.thinlto.bc` file (a distributed backend's
    /// input). Its modules get ordinals in path order.
    pub fn from_index_file(bytes: &[u8]) -> Result<ThinIndex, String> {
        let index = ThinIndex::new();
        let mut err = std::ptr::null_mut();
        // SAFETY: `bytes` is valid for the call; the reader copies what it
        // keeps (module paths, summaries) into the index.
        let code = unsafe {
            ffi::ltoe_thin_index_load_combined(
                index.raw,
                bytes.as_ptr().cast(),
                bytes.len(),
                &mut err,
            )
        };
        status(code, err).map(|()| index)
    }

    /// The modules the index names, in ordinal order.
    pub fn module_paths(&self) -> Result<Vec<IndexedModule>, String> {
        let mut out = std::ptr::null_mut();
        let mut err = std::ptr::null_mut();
        // SAFETY: reads the index; returns a buffer we own.
        let code = unsafe { ffi::ltoe_thin_index_module_paths(self.raw, &mut out, &mut err) };
        status(code, err)?;
        let bytes = ShimBytes::from_raw(out);
        let mut reader = Records(bytes.as_bytes());
        let mut modules = Vec::new();
        while !reader.is_empty() {
            let path = reader.string()?;
            let mut hash = [0u8; 20];
            for word in hash.chunks_mut(4) {
                word.copy_from_slice(&reader.u32()?.to_be_bytes());
            }
            modules.push(IndexedModule { path, hash });
        }
        Ok(modules)
    }

    /// For a distributed backend: derives `module`'s import list from an
    /// index read with [`ThinIndex::from_index_file`] and returns the paths
    /// of the modules to import from, which must then be
    /// [attached](ThinIndex::attach_source).
    pub fn init_backend_imports(&mut self, module: &Module<'_>) -> Result<Vec<String>, String> {
        let mut out = std::ptr::null_mut();
        let mut err = std::ptr::null_mut();
        // SAFETY: exclusive access to the index; the module is alive.
        let code = unsafe {
            ffi::ltoe_thin_index_init_backend_imports(
                self.raw,
                module.as_mut_ptr(),
                &mut out,
                &mut err,
            )
        };
        status(code, err)?;
        let bytes = ShimBytes::from_raw(out);
        let mut reader = Records(bytes.as_bytes());
        let mut sources = Vec::new();
        while !reader.is_empty() {
            sources.push(reader.string()?);
        }
        Ok(sources)
    }

    /// Makes `bytes` the import source `module_id`.
    pub fn attach_source(&mut self, bytes: &InputBytes, module_id: &str) -> Result<(), String> {
        let id = c_string(module_id)?;
        let data = bytes.as_slice();
        let mut err = std::ptr::null_mut();
        // SAFETY: `data` stays alive as long as the index: a clone of its owner
        // is kept in `self.buffers`, dropped after the index is freed.
        let code = unsafe {
            ffi::ltoe_thin_index_attach_module(
                self.raw,
                data.as_ptr().cast(),
                data.len(),
                id.as_ptr(),
                &mut err,
            )
        };
        status(code, err)?;
        self.buffers.push(bytes.clone());
        Ok(())
    }
}

/// The module hash a thin link records for `data`: its ThinLTO module's hash,
/// or the SHA-1 of the bytes when it has none (as [`ThinIndex::add`] fills
/// in).
pub fn bitcode_module_hash(data: &[u8]) -> Result<[u8; 20], String> {
    let mut hash = [0u8; 20];
    let mut err = std::ptr::null_mut();
    // SAFETY: `data` is valid for the call; `hash` has room for 20 bytes.
    let code = unsafe {
        ffi::ltoe_bitcode_module_hash(
            data.as_ptr().cast(),
            data.len(),
            hash.as_mut_ptr(),
            &mut err,
        )
    };
    status(code, err)?;
    Ok(big_endian_words(hash))
}

/// A module hash as the shim writes it (five native-endian words) in the
/// big-endian form `module_paths` gives and hashes are compared in.
fn big_endian_words(raw: [u8; 20]) -> [u8; 20] {
    let mut out = [0u8; 20];
    for (word, chunk) in raw.chunks(4).zip(out.chunks_mut(4)) {
        let value = u32::from_ne_bytes([word[0], word[1], word[2], word[3]]);
        chunk.copy_from_slice(&value.to_be_bytes());
    }
    out
}

impl Drop for ThinIndex {
    fn drop(&mut self) {
        // SAFETY: owned, freed exactly once, before `buffers` (dropped after
        // this body) releases the bytes the index points into.
        unsafe { ffi::ltoe_thin_index_free(self.raw) }
    }
}

/// What a bitcode module's header says about LTO.
#[derive(Debug, Clone, Copy)]
pub struct LtoInfo {
    /// It carries a module summary.
    pub has_summary: bool,
    /// The summary was written for ThinLTO.
    pub is_thin: bool,
    /// Its unit was marked for splitting (`-fsplit-lto-unit`).
    pub split_lto_unit: bool,
}

/// The LTO facts of module `which` of a bitcode buffer, from its header
/// (nothing is parsed).
pub fn bitcode_lto_info(data: &[u8], which: usize) -> Result<LtoInfo, String> {
    let mut has_summary: c_int = 0;
    let mut is_thin: c_int = 0;
    let mut split_lto_unit: c_int = 0;
    let mut err = std::ptr::null_mut();
    // SAFETY: `data` is valid for `len` bytes during the call.
    let code = unsafe {
        ffi::ltoe_bitcode_lto_info(
            data.as_ptr().cast(),
            data.len(),
            which,
            &mut has_summary,
            &mut is_thin,
            &mut split_lto_unit,
            &mut err,
        )
    };
    status(code, err).map(|()| LtoInfo {
        has_summary: has_summary != 0,
        is_thin: is_thin != 0,
        split_lto_unit: split_lto_unit != 0,
    })
}

/// The GUID LLVM gives a global symbol name.
pub fn guid_for_symbol(name: &str) -> Result<u64, String> {
    let name = c_string(name)?;
    // SAFETY: a NUL-terminated string, only read.
    Ok(unsafe { ffi::ltoe_guid_for_symbol(name.as_ptr()) })
}

/// Reads the shim's little records.
pub(super) struct Records<'a>(pub(super) &'a [u8]);

impl<'a> Records<'a> {
    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("truncated record from the shim".to_string());
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    pub(super) fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    pub(super) fn u32(&mut self) -> Result<u32, String> {
        let bytes = self.take(4)?;
        Ok(u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    pub(super) fn u64(&mut self) -> Result<u64, String> {
        let mut word = [0u8; 8];
        word.copy_from_slice(self.take(8)?);
        Ok(u64::from_ne_bytes(word))
    }

    pub(super) fn string(&mut self) -> Result<String, String> {
        let len = self.u32()? as usize;
        Ok(String::from_utf8_lossy(self.take(len)?).into_owned())
    }
}
