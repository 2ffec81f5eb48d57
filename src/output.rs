//! Results of a run and the files a final link needs: the LTO object,
//! `link.rsp`, and copies of mixed archives holding only native members.

use crate::config::ModuleLto;
use crate::error::{Error, Phase, Result};
pub use crate::fs::write_atomically;
use crate::fs::write_if_changed;
use crate::input::LinkItem;
use crate::llvm;
use crate::report::Report;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// One emitted object (or assembly / bitcode, as configured).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OutputObject {
    /// Name of the module it was made from (fat LTO: the first module, which the others are linked into).
    pub name: String,
    /// The file name it gets in an output directory: `<module>.lto.o` for
    /// an LTO object (fat LTO: the first module's), `<module>.o` for a
    /// module compiled alone.
    pub file_name: String,
    /// Thin LTO: the modules it imported from, sorted (what lld writes to
    /// `<module>.imports`).
    pub imports: Vec<String>,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Thin LTO: the module's cache key (computed whether or not a cache is
    /// configured), for compilers that keep their own work products.
    pub cache_key: Option<String>,
    /// The bytes came from the ThinLTO cache; the module was not compiled.
    pub reused_from_cache: bool,
    /// The LTO it came from: `Fat`, `Thin`, `ThinLocal`, or `No` for a
    /// module compiled alone.
    pub lto: ModuleLto,
}

/// One module of a distributed thin link and the files of its backend job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DistributedModule {
    /// The input's name.
    pub name: String,
    /// The bitcode a backend compiles; the module's path in every index.
    pub module_path: String,
    /// The thin link wrote `module_path` (the module had no file of its own).
    pub module_written: bool,
    /// Its slice of the index.
    pub index_file: PathBuf,
    /// Its imports file, when asked for.
    pub imports_file: Option<PathBuf>,
    /// Where its backend writes the object.
    pub native_object: PathBuf,
    /// The module paths it imports from (the imports file's lines).
    pub imports: Vec<String>,
}

/// What a run produced.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Output {
    /// The emitted objects: the LTO objects (fat LTO: one per code
    /// generation partition, in partition order; thin LTO: one per module;
    /// none when the backends are distributed), then those of modules
    /// compiled without LTO.
    pub objects: Vec<OutputObject>,
    /// With [`Backends::IndexFiles`](crate::Backends::IndexFiles): one
    /// backend job per thin module, whose objects the final link takes
    /// where the LTO output goes (run them before linking).
    pub jobs: Vec<DistributedModule>,
    /// The final link's items in the user's order: where the LTO output goes,
    /// native inputs as given, native members of mixed archives.
    pub native_inputs: Vec<LinkItem>,
    /// What the run did.
    pub report: Report,
    /// LLVM's warnings, and the remarks asked for with
    /// [`Config::remarks`](crate::Config::remarks), per module (none from
    /// modules whose object came from the cache).
    pub diagnostics: Vec<llvm::Diagnostic>,
}

/// Where [`Output::write`] puts a run's files.
///
/// ```
/// # use lto_engine::WriteTo;
/// let _ = WriteTo::dir("target/lto"); // every object under its file name
/// let _ = WriteTo::dir("target/lto").with_imports_files();
/// let _ = WriteTo::object("target/lto/app.o"); // a run with one LTO object
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct WriteTo {
    dir: PathBuf,
    object: Option<PathBuf>,
    imports_files: bool,
    scratch: bool,
    /// The linker that joins fat LTO's partitions into the one object
    /// asked for (`-r`).
    joiner: PathBuf,
}

/// The default [`WriteTo::joined_by`]: the ld.lld of the LLVM the engine is
/// built with.
const DEFAULT_JOINER: &str = "ld.lld-22";

impl WriteTo {
    /// Every object into `dir` (created when missing) under its
    /// [`OutputObject::file_name`], with `link.rsp` and the native-member
    /// copies of mixed archives.
    pub fn dir(dir: impl Into<PathBuf>) -> Self {
        WriteTo {
            dir: dir.into(),
            object: None,
            imports_files: false,
            scratch: false,
            joiner: PathBuf::from(DEFAULT_JOINER),
        }
    }

    /// Into `dir`, a new directory of the engine's own that only it reads
    /// and that goes when the link is done (`lto-engine ld`'s work
    /// directory): plain writes, with no temporary name, no flush to the
    /// disk and no comparison with what was there (nothing was).
    pub(crate) fn scratch_dir(dir: impl Into<PathBuf>) -> Self {
        WriteTo {
            scratch: true,
            ..WriteTo::dir(dir)
        }
    }

    /// The run's LTO object at `path` (fat LTO's `-o`), the other files
    /// beside it. Fat LTO with several code generation partitions
    /// ([`Config::fat_partitions`](crate::Config::fat_partitions)) still
    /// writes one object there: the partitions joined by a relocatable link
    /// (`ld.lld-22 -r`, see [`WriteTo::joined_by`]), so that `path` is the
    /// whole result, as `clang -c` would give it. A thin run with more than
    /// one LTO object or with distributed jobs is refused with
    /// [`Error::Usage`] rather than writing part of it.
    pub fn object(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        WriteTo {
            dir,
            object: Some(path),
            imports_files: false,
            scratch: false,
            joiner: PathBuf::from(DEFAULT_JOINER),
        }
    }

    /// Also one `<module>.imports` file per LTO object listing the modules
    /// it imports from, as lld's `--thinlto-emit-imports-files`.
    pub fn with_imports_files(mut self) -> Self {
        self.imports_files = true;
        self
    }

    /// The linker that joins several fat LTO partitions into the one object
    /// of [`WriteTo::object`] (`LINKER -r -o OBJECT PARTS...`; default
    /// `ld.lld-22`, found on `PATH`).
    pub fn joined_by(mut self, linker: impl Into<PathBuf>) -> Self {
        self.joiner = linker.into();
        self
    }
}

/// The files [`Output::write`] wrote.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Written {
    /// Every object, in output order (the LTO objects first, then those of
    /// modules compiled alone).
    pub objects: Vec<PathBuf>,
    /// How many of them already held exactly these bytes and were left in
    /// place (only their modification time was refreshed).
    pub unchanged: usize,
    /// `<module>.imports` files, when asked for.
    pub imports_files: Vec<PathBuf>,
    /// The response file that completes the link (`ld.lld @link.rsp`).
    pub link_rsp: PathBuf,
    /// Copies of mixed archives with only their native members.
    pub archives: Vec<PathBuf>,
}

impl Output {
    /// Module name -> cache key, for every thin LTO object (empty for fat
    /// LTO). The keys are computed from the modules' contents and the thin
    /// link's decisions, never from file paths.
    pub fn cache_keys(&self) -> std::collections::BTreeMap<String, String> {
        self.objects
            .iter()
            .filter_map(|o| Some((o.name.clone(), o.cache_key.clone()?)))
            .collect()
    }

    /// Writes the run's files where `to` says: the objects, `link.rsp`
    /// (listing the objects, and the distributed jobs' objects, where the
    /// LTO output goes) and the native-member copies of mixed archives.
    /// Each file is written to a temporary name and renamed, and a file
    /// already holding the same bytes is left in place, so nothing is left
    /// half-written and unchanged objects keep their identity.
    pub fn write(&self, to: &WriteTo) -> Result<Written> {
        let lto_objects = self
            .objects
            .iter()
            .filter(|o| o.lto != ModuleLto::No)
            .count();
        // Fat LTO's code generation partitions are one output: the first at
        // the path asked for, the others beside it.
        let all_fat = self
            .objects
            .iter()
            .filter(|o| o.lto != ModuleLto::No)
            .all(|o| o.lto == ModuleLto::Fat);
        if let Some(path) = &to.object {
            if lto_objects == 0 && self.jobs.is_empty() {
                // A thin run of native inputs only: there is no LTO object
                // to put at `path`, and writing nothing there would look
                // like success to a build rule that expects the file.
                return Err(Error::Usage(format!(
                    "{}: this run has no LTO object (no bitcode went to LTO); write it to a \
                     directory",
                    path.display()
                )));
            }
            if (lto_objects > 1 && !all_fat) || !self.jobs.is_empty() {
                return Err(Error::Usage(format!(
                    "{}: this run has {} LTO objects{}; write it to a directory",
                    path.display(),
                    lto_objects,
                    if self.jobs.is_empty() {
                        ""
                    } else {
                        " and distributed jobs"
                    }
                )));
            }
        }
        // The error names what the caller asked for: the object, or the
        // directory.
        let target = to.object.as_ref().unwrap_or(&to.dir);
        std::fs::create_dir_all(&to.dir)
            .map_err(|e| Error::io(target.display(), Phase::Write, e))?;
        let mut imports_files = Vec::new();
        let mut unchanged = 0;
        let mut object_paths = Vec::with_capacity(self.objects.len());
        // Several fat partitions for one object: joined, written once.
        let joined = match &to.object {
            Some(path) if lto_objects > 1 => Some(self.join_partitions(to, path)?),
            _ => None,
        };
        let mut lto_written = false;
        for object in &self.objects {
            let (path, bytes) = match &to.object {
                Some(_) if object.lto != ModuleLto::No && lto_written => continue,
                Some(path) if object.lto != ModuleLto::No => {
                    lto_written = true;
                    (path.clone(), joined.as_deref().unwrap_or(&object.bytes))
                }
                _ => (to.dir.join(&object.file_name), object.bytes.as_slice()),
            };
            if !put(to.scratch, &path, bytes)? {
                unchanged += 1;
            }
            if to.imports_files && object.lto != ModuleLto::No {
                let stem = object
                    .file_name
                    .rsplit_once(".lto.")
                    .map_or(object.file_name.as_str(), |(stem, _)| stem);
                let imports = to.dir.join(format!("{stem}.imports"));
                let mut text = String::new();
                for source in &object.imports {
                    text.push_str(source);
                    text.push('\n');
                }
                put(to.scratch, &imports, text.as_bytes())?;
                imports_files.push(imports);
            }
            object_paths.push(path);
        }
        // The distributed jobs' objects go where the LTO output goes, before
        // those of modules compiled alone, as in-process objects do.
        let first_alone = self
            .objects
            .iter()
            .position(|o| o.lto == ModuleLto::No)
            .unwrap_or(self.objects.len())
            .min(object_paths.len());
        // Joined partitions are one path.
        let first_alone = if joined.is_some() { 1 } else { first_alone };
        let linked: Vec<PathBuf> = object_paths[..first_alone]
            .iter()
            .cloned()
            .chain(self.jobs.iter().map(|job| job.native_object.clone()))
            .chain(object_paths[first_alone..].iter().cloned())
            .collect();
        let (link_rsp, archives) =
            write_link_rsp(&to.dir, &self.native_inputs, &linked, to.scratch)?;
        Ok(Written {
            objects: object_paths,
            unchanged,
            imports_files,
            link_rsp,
            archives,
        })
    }
}

impl Output {
    /// Fat LTO's partitions joined into one relocatable object for `path`
    /// (`joiner -r`), in a private directory beside it that goes afterwards.
    /// Only ELF objects can be joined: other emit kinds need a directory.
    fn join_partitions(&self, to: &WriteTo, path: &Path) -> Result<Vec<u8>> {
        let parts: Vec<&OutputObject> = self
            .objects
            .iter()
            .filter(|o| o.lto != ModuleLto::No)
            .collect();
        if parts.iter().any(|o| !o.bytes.starts_with(b"\x7fELF")) {
            return Err(Error::Usage(format!(
                "{}: {} partitions that are not ELF objects cannot be joined into one file; \
                 write them to a directory",
                path.display(),
                parts.len()
            )));
        }
        let io = |e: std::io::Error| Error::io(path.display(), Phase::Write, e);
        let work = tempfile_dir(&to.dir).map_err(io)?;
        let result = (|| {
            let mut inputs = Vec::with_capacity(parts.len());
            for (i, part) in parts.iter().enumerate() {
                let file = work.join(format!("part{i}.o"));
                crate::fs::write_scratch(&file, &part.bytes)?;
                inputs.push(file);
            }
            let joined = work.join("joined.o");
            let output = std::process::Command::new(&to.joiner)
                .arg("-r")
                .arg("-o")
                .arg(&joined)
                .args(&inputs)
                .output()
                .map_err(|e| {
                    Error::Usage(format!(
                        "{}: joining {} partitions needs {} (-r): {e}; write them to a directory \
                         instead",
                        path.display(),
                        parts.len(),
                        to.joiner.display()
                    ))
                })?;
            if !output.status.success() {
                let stderr = String::from_utf8_lossy(&output.stderr);
                return Err(Error::Usage(format!(
                    "{}: {} -r could not join the partitions: {}",
                    path.display(),
                    to.joiner.display(),
                    stderr.lines().next().unwrap_or("no message")
                )));
            }
            std::fs::read(&joined).map_err(io)
        })();
        let _ = std::fs::remove_dir_all(&work);
        result
    }
}

/// A new private directory in `dir` for the join's files.
fn tempfile_dir(dir: &Path) -> std::io::Result<PathBuf> {
    for attempt in 0..100u32 {
        let path = dir.join(format!(".lto-engine-join-{}-{attempt}", std::process::id()));
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::new(
        std::io::ErrorKind::AlreadyExists,
        "no free name for the join's directory",
    ))
}

/// Writes `dir/link.rsp`: `items` in order, `lto_objects` where the LTO
/// output goes, and beside it copies of mixed archives holding only their
/// native members. Returns the response file and the copies.
fn write_link_rsp(
    dir: &Path,
    items: &[LinkItem],
    lto_objects: &[PathBuf],
    scratch: bool,
) -> Result<(PathBuf, Vec<PathBuf>)> {
    let mut lines = Vec::new();
    let mut archives = Vec::new();
    let mut used_names = HashSet::new();
    for item in items {
        match item {
            LinkItem::LtoOutput => lines.extend(lto_objects.iter().map(|p| quote(p))),
            LinkItem::Native(native) => lines.push(quote(native)),
            LinkItem::NativeMembers { archive, members } => {
                if members.is_empty() {
                    continue;
                }
                let copy = dir.join(native_copy_name(archive, &mut used_names));
                let borrowed: Vec<(String, &[u8])> = members
                    .iter()
                    .map(|(name, bytes)| (name.clone(), bytes.as_slice()))
                    .collect();
                let bytes = llvm::archive_bytes(&borrowed).map_err(|reason| {
                    Error::llvm(copy.display().to_string(), Phase::Write, reason)
                })?;
                put(scratch, &copy, &bytes)?;
                lines.push(quote(&copy));
                archives.push(copy);
            }
        }
    }
    let link_rsp = dir.join("link.rsp");
    let mut text = lines.join("\n");
    text.push('\n');
    put(scratch, &link_rsp, text.as_bytes())?;
    Ok((link_rsp, archives))
}

/// Writes a file of the output: in a scratch directory plainly, elsewhere
/// with [`write_if_changed`]. Whether it wrote.
fn put(scratch: bool, path: &Path, bytes: &[u8]) -> Result<bool> {
    if scratch {
        crate::fs::write_scratch(path, bytes)?;
        return Ok(true);
    }
    write_if_changed(path, bytes)
}

/// `libfoo.rlib` -> `libfoo.native.a`, made unique within one output dir.
fn native_copy_name(archive: &Path, used: &mut HashSet<String>) -> String {
    let stem = archive
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "archive".to_string());
    let mut name = format!("{stem}.native.a");
    let mut counter = 1;
    while !used.insert(name.clone()) {
        counter += 1;
        name = format!("{stem}.{counter}.native.a");
    }
    name
}

/// Quotes a path for a GNU-style response file when it needs it.
fn quote(path: &Path) -> String {
    let text = path.display().to_string();
    if text
        .chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '\'' || c == '\\')
    {
        let escaped = text.replace('\\', "\\\\").replace('"', "\\\"");
        format!("\"{escaped}\"")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(quote(Path::new("a/b.o")), "a/b.o");
        assert_eq!(quote(Path::new("a b.o")), "\"a b.o\"");
        assert_eq!(quote(Path::new("a\"b")), "\"a\\\"b\"");
    }

    #[test]
    fn native_copies_get_unique_names() {
        let mut used = HashSet::new();
        assert_eq!(
            native_copy_name(Path::new("x/libfoo.rlib"), &mut used),
            "libfoo.native.a"
        );
        assert_eq!(
            native_copy_name(Path::new("y/libfoo.a"), &mut used),
            "libfoo.2.native.a"
        );
    }
}
