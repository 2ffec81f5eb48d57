//! Writing files the user owns: never half-way (a temporary file beside the
//! target, then a rename), and not at all when the bytes are already there.

use crate::error::{Error, Phase, Result};
use crate::llvm;
use std::io::Write;
use std::path::Path;

/// Writes `module` as plain bitcode to `path` (save-temps), atomically.
/// The directory is made when missing: a save-temps directory is named by
/// the user (or beside the linker's output) and need not exist yet.
pub(crate) fn write_module(path: &Path, module: &inkwell::module::Module<'_>) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir.display(), Phase::Write, e))?;
    }
    let buffer = llvm::ModuleBuffer::new(module)
        .map_err(|reason| Error::llvm(path.display().to_string(), Phase::Write, reason))?;
    write_atomically(path, buffer.as_bytes())
}

/// Writes `bytes` to `path` (as [`write_atomically`]) unless the file holds
/// exactly these bytes already; then only its modification time is set to
/// now, so build tools still see a fresh output. A cached ThinLTO rerun thus
/// rewrites only the objects that changed. Returns whether it wrote.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<bool> {
    if let Ok(mut file) = std::fs::File::open(path) {
        let same_length = file
            .metadata()
            .is_ok_and(|m| m.is_file() && m.len() == bytes.len() as u64);
        let mut existing = Vec::new();
        if same_length
            && std::io::Read::read_to_end(&mut file, &mut existing).is_ok()
            && existing == bytes
            && file.set_modified(std::time::SystemTime::now()).is_ok()
        {
            return Ok(false);
        }
    }
    write_atomically(path, bytes)?;
    Ok(true)
}

/// Writes `bytes` to `path` plainly: for a file in a directory of the
/// engine's own that only it reads and removes when done (`lto-engine
/// ld`'s work directory), where a temporary name and a flush to the disk
/// buy nothing and cost a sync per file.
///
/// A file already at `path` is removed first, never written through: it
/// may be a hard link to a cache entry (see `Cache::place_entry`).
pub(crate) fn write_scratch(path: &Path, bytes: &[u8]) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::io(path.display(), Phase::Write, e))
        }
        _ => {}
    }
    std::fs::write(path, bytes).map_err(|e| Error::io(path.display(), Phase::Write, e))
}

/// Removes `path` if it is there (a missing file is not an error).
pub(crate) fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path.display(), Phase::Write, e)),
    }
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over
/// `path`: readers never see a half-written file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_via_temp(path, |file| {
        file.write_all(bytes)?;
        file.sync_all()
    })
}

/// Lets `write` fill a temporary file beside `path`, gives it permission
/// bits `mode`, and renames it to `path`, as a linker writes its output:
/// readers never see half a file, and a hard link to the old file keeps
/// the old file. The old file is removed first, as `ld.lld` does (on ext4
/// a rename that replaces a file flushes the new one to the disk first),
/// and nothing is flushed, as a linker's output is not.
pub(crate) fn replace_output(
    path: &Path,
    mode: u32,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    write_via_temp(path, |file| {
        write(file)?;
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    })
}

/// Creates a temporary file beside `path`, lets `write` fill it, and
/// renames it over `path`; on any failure the temporary file is removed
/// and `path` is untouched.
fn write_via_temp(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<()> {
    let display = path.display().to_string();
    let file_name = path.file_name().ok_or_else(|| {
        Error::io(
            &display,
            Phase::Write,
            std::io::ErrorKind::InvalidInput.into(),
        )
    })?;
    let temp = path.with_file_name(format!(
        ".{}.tmp.{}",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        write(&mut file)?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    if let Err(error) = result {
        let _ = std::fs::remove_file(&temp);
        return Err(Error::io(display, Phase::Write, error));
    }
    Ok(())
}
