//! Entries the linker mode keeps in the cache directory (symbol tables,
//! memos of thin runs): a body, then a trailer of magic, length and
//! checksum, written under a temporary name and renamed into place, so a
//! reader never trusts part of one, nor one another format wrote.

use crate::llvm;
use std::path::Path;

const TRAILER_LEN: usize = 24;

/// `body`, then `magic`, its length and its checksum (little-endian).
pub(super) fn seal(magic: &[u8; 8], body: &[u8]) -> Vec<u8> {
    let mut entry = Vec::with_capacity(body.len() + TRAILER_LEN);
    entry.extend_from_slice(body);
    entry.extend_from_slice(magic);
    entry.extend_from_slice(&(body.len() as u64).to_le_bytes());
    entry.extend_from_slice(&llvm::checksum(body).to_le_bytes());
    entry
}

/// The body of an entry whose trailer holds for `magic`; `None` for
/// anything else (truncated, damaged, another format).
pub(super) fn unseal<'e>(magic: &[u8; 8], entry: &'e [u8]) -> Option<&'e [u8]> {
    let body_len = entry.len().checked_sub(TRAILER_LEN)?;
    let (body, trailer) = entry.split_at(body_len);
    let (found, rest) = trailer.split_at(8);
    let (len, checksum) = rest.split_at(8);
    let len = u64::from_le_bytes(len.try_into().ok()?);
    let checksum = u64::from_le_bytes(checksum.try_into().ok()?);
    (found == magic && len == body.len() as u64 && checksum == llvm::checksum(body)).then_some(body)
}

/// Writes `entry` to `path` through a temporary file renamed into place.
/// The temporary name does not start with `llvmcache-`, so the cache's
/// pruning never sees a file being written.
pub(super) fn store(path: &Path, entry: &[u8]) -> std::io::Result<()> {
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = path.with_file_name(format!(".{file_name}.tmp.{}", std::process::id()));
    std::fs::write(&temp, entry)?;
    std::fs::rename(&temp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_trusted_only_whole_and_of_its_format() {
        let body = b"\x01abc\0".to_vec();
        let entry = seal(b"LTOETST1", &body);
        assert_eq!(unseal(b"LTOETST1", &entry), Some(&body[..]));
        // Control: a flipped byte, a cut entry, a short one, another
        // format's magic: none trusted.
        let mut flipped = entry.clone();
        flipped[1] ^= 1;
        assert_eq!(unseal(b"LTOETST1", &flipped), None);
        assert_eq!(unseal(b"LTOETST1", &entry[..entry.len() - 1]), None);
        assert_eq!(unseal(b"LTOETST1", &entry[1..]), None);
        assert_eq!(unseal(b"LTOETST1", b"short"), None);
        assert_eq!(unseal(b"LTOETST2", &entry), None);
    }
}
