//! Results of a run and the files a final link needs: the LTO object,
//! `link.rsp`, and copies of mixed archives holding only native members.

use crate::error::{Error, Phase, Result};
pub use crate::fs::{write_atomically, write_if_changed};
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
    /// The file name it gets in an output directory (thin LTO:
    /// `<module>.lto.o`; fat LTO writes to the path it is given).
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
    pub lto: crate::ModuleLto,
}

/// What a run produced.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Output {
    /// The emitted objects (one for fat LTO).
    pub objects: Vec<OutputObject>,
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

/// The files [`Output::write_fat`] wrote.
#[derive(Debug, Clone)]
pub struct WrittenFiles {
    /// The LTO object.
    pub object: PathBuf,
    /// The objects of modules compiled without LTO, beside it.
    pub compiled_alone: Vec<PathBuf>,
    /// The response file that completes the link (`ld.lld @link.rsp`).
    pub link_rsp: PathBuf,
    /// Copies of mixed archives with only their native members.
    pub archives: Vec<PathBuf>,
}

/// The files [`Output::write_thin`] wrote.
#[derive(Debug, Clone)]
pub struct WrittenThinFiles {
    /// One object per module, in module order.
    pub objects: Vec<PathBuf>,
    /// How many of them already held exactly these bytes and were left in
    /// place (only their modification time was refreshed).
    pub unchanged: usize,
    /// `<module>.imports` files, when asked for.
    pub imports: Vec<PathBuf>,
    /// The response file that completes the link.
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

    /// Writes the single LTO output to `path` (its directory created when
    /// missing), and beside it the objects of
    /// modules compiled without LTO, `link.rsp` and the native-member
    /// copies of mixed archives. Each file is written to a temporary name
    /// and renamed, so nothing is left half-written.
    pub fn write_fat(&self, path: &Path) -> Result<WrittenFiles> {
        let (fat, alone): (Vec<&OutputObject>, Vec<&OutputObject>) = self
            .objects
            .iter()
            .partition(|o| o.lto != crate::ModuleLto::No);
        let bytes = fat.first().map_or(&[][..], |o| &o.bytes[..]);
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        // As write_thin: the output's directory is created when missing
        // (when something else is in its place, writing the output says so).
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(path.display(), Phase::Write, e))?;
        }
        write_atomically(path, bytes)?;
        let mut objects = vec![path.to_path_buf()];
        for object in alone {
            let other = dir.join(&object.file_name);
            write_if_changed(&other, &object.bytes)?;
            objects.push(other);
        }
        let (link_rsp, archives) = self.write_link_rsp(dir, &objects)?;
        Ok(WrittenFiles {
            object: path.to_path_buf(),
            compiled_alone: objects.split_off(1),
            link_rsp,
            archives,
        })
    }

    /// Writes every ThinLTO object into `dir` (created if missing) under its
    /// [`OutputObject::file_name`], `link.rsp`, the native-member copies of
    /// mixed archives and, with `emit_imports`, one `<module>.imports` file
    /// per module listing the modules it imports from (as lld's
    /// `--thinlto-emit-imports-files`).
    pub fn write_thin(&self, dir: &Path, emit_imports: bool) -> Result<WrittenThinFiles> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), Phase::Write, e))?;
        let mut objects = Vec::with_capacity(self.objects.len());
        let mut imports = Vec::new();
        let mut unchanged = 0;
        for object in &self.objects {
            let path = dir.join(&object.file_name);
            if !write_if_changed(&path, &object.bytes)? {
                unchanged += 1;
            }
            objects.push(path);
            if emit_imports {
                let stem = object
                    .file_name
                    .rsplit_once(".lto.")
                    .map_or(object.file_name.as_str(), |(stem, _)| stem);
                let path = dir.join(format!("{stem}.imports"));
                let mut text = String::new();
                for source in &object.imports {
                    text.push_str(source);
                    text.push('\n');
                }
                write_if_changed(&path, text.as_bytes())?;
                imports.push(path);
            }
        }
        let (link_rsp, archives) = self.write_link_rsp(dir, &objects)?;
        Ok(WrittenThinFiles {
            objects,
            unchanged,
            imports,
            link_rsp,
            archives,
        })
    }

    /// Writes `dir/link.rsp`: the link items in order, `lto_objects` where
    /// the LTO output goes, copies of mixed archives' native members.
    fn write_link_rsp(
        &self,
        dir: &Path,
        lto_objects: &[PathBuf],
    ) -> Result<(PathBuf, Vec<PathBuf>)> {
        write_link_rsp(dir, &self.native_inputs, lto_objects)
    }
}

/// Writes `dir/link.rsp`: `items` in order, `lto_objects` where the LTO
/// output goes, and beside it copies of mixed archives holding only their
/// native members. Returns the response file and the copies.
pub(crate) fn write_link_rsp(
    dir: &Path,
    items: &[LinkItem],
    lto_objects: &[PathBuf],
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
                let bytes = llvm::archive_bytes(&borrowed).map_err(|reason| Error::Llvm {
                    input: copy.display().to_string(),
                    phase: Phase::Write,
                    reason,
                })?;
                write_if_changed(&copy, &bytes)?;
                lines.push(quote(&copy));
                archives.push(copy);
            }
        }
    }
    let link_rsp = dir.join("link.rsp");
    let mut text = lines.join("\n");
    text.push('\n');
    write_if_changed(&link_rsp, text.as_bytes())?;
    Ok((link_rsp, archives))
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
