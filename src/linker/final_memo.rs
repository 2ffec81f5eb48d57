//! The final link, remembered (`llvmcache-ldlink-*` in the cache
//! directory): when the real linker would be given exactly what an earlier
//! link gave it, and every file it read then is still what it was, its
//! output is already known, so it is written from the cache and the real
//! linker does not run. On an all-hit relink of a Rust binary this link is
//! most of what is left (ripgrep: 120 of 250 ms).
//!
//! The key is what the command line makes of the files: this engine, the
//! real linker (its resolved path, size, modification time and inode), the
//! working directory, and the command line with the engine's work
//! directory written as `<work>`, each file the engine made there named by
//! its identity (an object by its cache key, an archive copy by its
//! BLAKE3). What the files on that line (and those the linker found by
//! searching) hold is checked on recall, from a manifest stored under the
//! key:
//!
//! - every file the linker read, as its `--dependency-file` lists them, by
//!   size and BLAKE3;
//! - every place it would have looked for one of those names first and
//!   found nothing (each `-L` directory, the working directory, the
//!   directory of each linker script, for each name read and its
//!   `.so`/`.a` twin): it must still find nothing, or a new library there
//!   would have been taken.
//!
//! Only a link that succeeded and printed nothing is remembered (a
//! recalled link prints nothing either). A link is never remembered whose
//! command line asks for another output or a side effect (a map, a
//! dependency file, a reproduce tarball, traces, `--build-id=uuid`,
//! shuffled sections), under `--chroot` or `--sysroot`, with `LLD_REPRODUCE`
//! set, when a path with `..` means another file than its lexically
//! cleaned form (the dependency file prints paths cleaned), when a linker
//! script it read searches further (`SEARCH_DIR`) or climbs (`..`), or when
//! it read a thin archive (whose members it reads by other names).

use super::args::LinkLine;
use crate::input::classify;
use crate::llvm;
use crate::thin::{hex, Cache, Lookup};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Component, Path, PathBuf};

/// Bumped when what a manifest holds, or how the key is made, changes.
const FORMAT: u32 = 1;

/// How many remembered links of one output path are kept: the state
/// before an edit and a few after it (a revert still recalls), not one a
/// whole program for each edit.
const KEPT_PER_OUTPUT: usize = 4;

/// The name of the dependency file the engine asks the real linker for, in
/// its work directory.
const DEPENDENCY_FILE: &str = "final-link.d";

/// Options whose link has an output besides the one file, or a result that
/// is not a function of the inputs: never remembered. Matched on the
/// option's name with its dashes and any `=value` taken off.
const NOT_REMEMBERED: &[&str] = &[
    "M",
    "Map",
    "print-map",
    "dependency-file",
    "reproduce",
    "why-extract",
    "why-live",
    "trace",
    "t",
    "trace-symbol",
    "y",
    "print-archive-stats",
    "cref",
    "print-gc-sections",
    "print-icf-sections",
    "print-symbol-order",
    "print-memory-usage",
    "verbose",
    "v",
    "version",
    "help",
    "time-trace",
    "time-trace-file",
    "shuffle-sections",
    "chroot",
    "sysroot",
    "r",
    "relocatable",
];

/// What a remembered link read and where it found nothing.
#[derive(Serialize, Deserialize)]
struct Manifest {
    /// `(path as the dependency file names it, size, BLAKE3 hex)`.
    read: Vec<(PathBuf, u64, String)>,
    /// Places the linker looked (or would look) before where it found a
    /// name: nothing may appear there.
    absent: Vec<PathBuf>,
    /// The output's permission bits as the linker created it.
    mode: u32,
}

/// The final link's command line as the engine runs it: the tokens, the
/// work directory, and the identity of each file the engine made there.
pub(super) struct FinalLink<'a> {
    pub(super) line: &'a LinkLine,
    pub(super) command: &'a [String],
    pub(super) work: &'a Path,
    /// `(path, identity)` of every file in `work` the command names.
    pub(super) made: &'a [(PathBuf, String)],
    pub(super) linker: &'a Path,
    pub(super) output: &'a Path,
}

/// Whether a recall happened, and if not, why.
pub(super) enum Recall {
    /// The output was written from the cache.
    Hit,
    /// Nothing under the key, or what it read changed: the link runs.
    Miss(&'static str),
}

impl FinalLink<'_> {
    /// The memo's key, or why this link is never remembered.
    pub(super) fn key(&self) -> Result<String, String> {
        if std::env::var_os("LLD_REPRODUCE").is_some() {
            return Err("LLD_REPRODUCE is set".to_string());
        }
        if self.line.chroot.is_some() || self.line.sysroot.is_some() {
            return Err("--chroot or --sysroot".to_string());
        }
        for token in self.command {
            if let Some(option) = not_remembered(token) {
                return Err(format!("{option} on the command line"));
            }
            for path in paths_in(token) {
                if !cleaned_path_agrees(Path::new(path)) {
                    return Err(format!(
                        "{path}: its `..` leads elsewhere than its cleaned form"
                    ));
                }
            }
        }
        let engine = super::memo::engine_identity().ok_or("the engine cannot read itself")?;
        let linker = linker_identity(self.linker).ok_or("the real linker is not found")?;
        let cwd = std::env::current_dir().map_err(|e| format!("no working directory: {e}"))?;
        let work = self.work.display().to_string();
        let mut text = format!(
            "format {FORMAT}\nengine {engine}\nlinker {linker}\ncwd {}\n",
            cwd.display()
        );
        for token in self.command {
            text.push_str(&format!("arg {:?}\n", token.replace(&work, "<work>")));
        }
        for (path, identity) in self.made {
            let path = path.display().to_string().replace(&work, "<work>");
            text.push_str(&format!("made {path:?} {identity}\n"));
        }
        Ok(hex(&llvm::blake3(text.as_bytes())))
    }

    /// The command with the dependency file the memo needs asked for.
    pub(super) fn command_with_dependencies(&self) -> Vec<String> {
        let mut command = self.command.to_vec();
        command.push(format!(
            "--dependency-file={}",
            self.work.join(DEPENDENCY_FILE).display()
        ));
        command
    }

    /// Writes the output remembered under `key` when everything it read is
    /// as it was.
    pub(super) fn recall(&self, cache: &Cache, key: &str) -> crate::error::Result<Recall> {
        let Lookup::Hit(json) = cache.lookup(&format!("ldlink-{key}")) else {
            return Ok(Recall::Miss("not remembered"));
        };
        let Ok(manifest) = serde_json::from_slice::<Manifest>(&json) else {
            return Ok(Recall::Miss("its manifest is unreadable"));
        };
        if manifest.absent.iter().any(|path| path.exists()) {
            return Ok(Recall::Miss("a file appeared where the linker searches"));
        }
        let unchanged = manifest.read.par_iter().all(|(path, size, blake3)| {
            identity_of(path).is_some_and(|(s, b)| s == *size && b == *blake3)
        });
        if !unchanged {
            return Ok(Recall::Miss("a file the linker read changed"));
        }
        let entry = format!("ldlink-out-{key}");
        let mut found = Ok(false);
        let written = crate::fs::replace_output(self.output, manifest.mode, |file| {
            found = cache.copy_entry(&entry, file);
            match &found {
                Ok(true) => Ok(()),
                // Nothing is renamed over the output.
                _ => Err(std::io::ErrorKind::NotFound.into()),
            }
        });
        match found {
            Ok(true) => written.map(|()| Recall::Hit),
            _ => Ok(Recall::Miss("its output entry is missing or damaged")),
        }
    }

    /// Remembers a link that ran with [`command_with_dependencies`] and
    /// succeeded without a word. Best effort, and nothing is remembered
    /// when anything it read cannot be accounted for.
    pub(super) fn remember(&self, cache: &Cache, key: &str) -> Result<(), String> {
        let deps = std::fs::read(self.work.join(DEPENDENCY_FILE))
            .map_err(|e| format!("no dependency file: {e}"))?;
        let deps = parse_dependency_file(&String::from_utf8_lossy(&deps))?;
        let work = clean(self.work);
        let read: Vec<PathBuf> = deps
            .into_iter()
            .map(PathBuf::from)
            .filter(|path| !clean(path).starts_with(&work))
            .collect();
        let mut script_dirs = Vec::new();
        let mut identities = Vec::with_capacity(read.len());
        for path in &read {
            let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let map =
                llvm::map_file_readonly(&file).map_err(|e| format!("{}: {e}", path.display()))?;
            match classify::sniff(&map) {
                classify::Kind::ThinArchive => {
                    return Err(format!("{}: a thin archive", path.display()))
                }
                classify::Kind::Unknown => {
                    // A linker script: what it names, the dependency file
                    // lists too; how it searches must be what is checked.
                    let text = String::from_utf8_lossy(&map);
                    if text.contains("SEARCH_DIR") || text.contains("..") {
                        return Err(format!(
                            "{}: a linker script that searches further",
                            path.display()
                        ));
                    }
                    script_dirs.push(path.parent().unwrap_or(Path::new("")).to_path_buf());
                }
                _ => {}
            }
            identities.push((path.clone(), map.len() as u64, hex(&llvm::blake3(&map))));
        }
        let mut dirs: Vec<PathBuf> = script_dirs;
        dirs.push(PathBuf::new());
        dirs.extend(self.line.search.iter().cloned());
        let mut names: Vec<String> = Vec::new();
        for path in &read {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            names.push(name.to_string());
            if let Some(stem) = name.strip_suffix(".so") {
                names.push(format!("{stem}.a"));
            } else if let Some(stem) = name.strip_suffix(".a") {
                names.push(format!("{stem}.so"));
            }
        }
        names.sort();
        names.dedup();
        let mut absent = Vec::new();
        for dir in &dirs {
            for name in &names {
                let candidate = dir.join(name);
                if !candidate.exists() {
                    absent.push(candidate);
                }
            }
        }
        let output = std::fs::File::open(self.output).map_err(|e| format!("the output: {e}"))?;
        let mode = output_mode(&output);
        let output = llvm::map_file_readonly(&output).map_err(|e| format!("the output: {e}"))?;
        let manifest = Manifest {
            read: identities,
            absent,
            mode,
        };
        let json = serde_json::to_vec(&manifest).map_err(|e| e.to_string())?;
        // The output first: a manifest is only ever found with its output.
        cache
            .store(&format!("ldlink-out-{key}"), &output)
            .and_then(|()| cache.store(&format!("ldlink-{key}"), &json))
            .map_err(|e| format!("cannot store: {e}"))?;
        self.forget_older(cache, key);
        Ok(())
    }

    /// Keeps the [`KEPT_PER_OUTPUT`] outputs of this output path stored
    /// last and removes older ones: each is a whole program (ripgrep's is
    /// 27 MB), and an edit loop would otherwise keep one per edit. The
    /// list is an entry of its own; best effort (two links of one output
    /// at once may keep one more or one fewer, never a wrong one).
    fn forget_older(&self, cache: &Cache, key: &str) {
        let Ok(cwd) = std::env::current_dir() else {
            return;
        };
        let output = cwd.join(self.output);
        let list = format!(
            "ldlink-recent-{}",
            hex(&llvm::blake3(output.as_os_str().as_encoded_bytes()))
        );
        let mut keys: Vec<String> = match cache.peek(&list) {
            Lookup::Hit(json) => serde_json::from_slice(&json).unwrap_or_default(),
            _ => Vec::new(),
        };
        keys.retain(|kept| kept != key);
        keys.insert(0, key.to_string());
        let older = keys.split_off(keys.len().min(KEPT_PER_OUTPUT));
        if let Ok(json) = serde_json::to_vec(&keys) {
            let _ = cache.store(&list, &json);
        }
        for old in older {
            cache.remove(&format!("ldlink-{old}"));
            cache.remove(&format!("ldlink-out-{old}"));
        }
    }
}

/// The option `token` is when it is one that is never remembered.
fn not_remembered(token: &str) -> Option<&str> {
    let name = token
        .strip_prefix("--")
        .or_else(|| token.strip_prefix('-'))?;
    let name = name.split_once('=').map_or(name, |(name, _)| name);
    if NOT_REMEMBERED.contains(&name) {
        return Some(token);
    }
    // `-Map=F` and `--Map F` aside, `-Mfile`-like joined forms do not exist
    // for these; `--build-id=uuid` is random by design.
    (name == "build-id" && token.ends_with("=uuid")).then_some(token)
}

/// The paths a token may carry: itself when it is not an option, what
/// follows an option's `=`, what follows `-L`.
fn paths_in(token: &str) -> impl Iterator<Item = &str> {
    let itself = (!token.starts_with('-')).then_some(token);
    let after_equals = token
        .split_once('=')
        .filter(|_| token.starts_with('-'))
        .map(|(_, value)| value);
    let after_l = token.strip_prefix("-L");
    [itself, after_equals, after_l]
        .into_iter()
        .flatten()
        .filter(|path| path.contains(".."))
}

/// Whether `path` (with `..` in it) and its lexically cleaned form (as
/// the dependency file prints paths) are the same file or both nothing.
fn cleaned_path_agrees(path: &Path) -> bool {
    let cleaned = clean(path);
    match (std::fs::canonicalize(path), std::fs::canonicalize(&cleaned)) {
        (Ok(a), Ok(b)) => a == b,
        (Err(_), Err(_)) => true,
        _ => false,
    }
}

/// `path` with `.` dropped and `..` taking off the component before it,
/// as LLVM's `remove_dots(path, /*remove_dot_dot=*/true)`.
fn clean(path: &Path) -> PathBuf {
    let mut parts: Vec<Component> = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => match parts.last() {
                Some(Component::Normal(_)) => {
                    parts.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => parts.push(component),
            },
            _ => parts.push(component),
        }
    }
    if parts.is_empty() {
        return PathBuf::from(".");
    }
    parts.iter().collect()
}

/// Size and BLAKE3 (hex) of the file at `path`.
fn identity_of(path: &Path) -> Option<(u64, String)> {
    let file = std::fs::File::open(path).ok()?;
    let map = llvm::map_file_readonly(&file).ok()?;
    Some((map.len() as u64, hex(&llvm::blake3(&map))))
}

/// The real linker as found on `PATH` (or as given, with a `/`), resolved:
/// its path, size, modification time and inode. An upgraded linker is a
/// new file.
fn linker_identity(linker: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let found = if linker.components().count() > 1 {
        linker.to_path_buf()
    } else {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|dir| dir.join(linker))
            .find(|candidate| candidate.is_file())?
    };
    let resolved = std::fs::canonicalize(found).ok()?;
    let meta = std::fs::metadata(&resolved).ok()?;
    Some(format!(
        "{} {} {} {} {}",
        resolved.display(),
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ino()
    ))
}

fn output_mode(file: &std::fs::File) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    file.metadata()
        .map_or(0o755, |meta| meta.permissions().mode() & 0o7777)
}

/// The prerequisites of a make-style dependency file as `ld.lld` writes it
/// (`OUT: \` then one path a line; a space as `\ `, `#` as `\#`, `$` as
/// `$$`; then an empty rule per path, which is skipped).
fn parse_dependency_file(text: &str) -> Result<Vec<String>, String> {
    let first_rule = text.split("\n\n").next().unwrap_or_default();
    // The target ends at the first unescaped `:` followed by a space or
    // the line's end.
    let mut words = Vec::new();
    let mut word = String::new();
    let mut chars = first_rule.chars().peekable();
    let mut seen_target = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek() {
                Some('\n') => {
                    chars.next();
                    if !word.is_empty() {
                        words.push(std::mem::take(&mut word));
                    }
                }
                Some(&next @ (' ' | '#' | '\\')) => {
                    chars.next();
                    word.push(next);
                }
                _ => word.push('\\'),
            },
            '$' if chars.peek() == Some(&'$') => {
                chars.next();
                word.push('$');
            }
            ':' if !seen_target && matches!(chars.peek(), Some(' ' | '\\' | '\n') | None) => {
                seen_target = true;
                word.clear();
            }
            ' ' | '\n' => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            _ => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    if !seen_target {
        return Err("a dependency file without a target".to_string());
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dependency_file_is_read_as_lld_writes_it() {
        let text = "out: \\\n /lib/crt1.o \\\n a\\ b$$c/m.o \\\n x\\#y.a\n\n/lib/crt1.o:\n\na\\ b$$c/m.o:\n";
        assert_eq!(
            parse_dependency_file(text).unwrap(),
            ["/lib/crt1.o", "a b$c/m.o", "x#y.a"]
        );
        assert!(parse_dependency_file("no target here").is_err());
    }

    #[test]
    fn paths_are_cleaned_as_llvm_cleans_them() {
        assert_eq!(
            clean(Path::new("/usr/lib/gcc/x/12/../../../../lib64/crt1.o")),
            Path::new("/usr/lib64/crt1.o")
        );
        assert_eq!(clean(Path::new("./a/./b/../c")), Path::new("a/c"));
        assert_eq!(clean(Path::new("/../a")), Path::new("/a"));
        assert_eq!(clean(Path::new("../a")), Path::new("../a"));
        assert_eq!(clean(Path::new("a/..")), Path::new("."));
    }

    #[test]
    fn options_with_side_outputs_are_never_remembered() {
        for token in [
            "-Map=out.map",
            "--Map",
            "-M",
            "--dependency-file=d",
            "--reproduce=r.tar",
            "--build-id=uuid",
            "--why-extract=-",
            "-t",
            "--shuffle-sections=.text=0",
        ] {
            assert!(not_remembered(token).is_some(), "{token}");
        }
        for token in [
            "--build-id",
            "--build-id=sha1",
            "-o",
            "-lc",
            "--gc-sections",
            "-pie",
        ] {
            assert!(not_remembered(token).is_none(), "{token}");
        }
    }
}
