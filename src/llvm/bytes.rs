//! Cheap, shareable views of input bytes: a slice of a memory-mapped file,
//! of a buffer the caller handed over, or of a serialized module. They live
//! here, beside the LLVM owners, because the thin index keeps them alive for
//! as long as it reads from them.

use super::{ModuleBuffer, ThinBuffer};
use memmap2::Mmap;
use std::ops::Range;
use std::sync::Arc;

/// Whatever owns the bytes; kept alive as long as any view of it.
type Owner = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// Bytes of one input or archive member; cloning and slicing share them.
#[derive(Clone)]
pub struct InputBytes {
    owner: Owner,
    range: Range<usize>,
}

impl InputBytes {
    fn whole(owner: Owner) -> Self {
        let len = (*owner).as_ref().len();
        InputBytes {
            owner,
            range: 0..len,
        }
    }

    /// All of a mapped file.
    pub(crate) fn mapped(map: Mmap) -> Self {
        Self::whole(Arc::new(map))
    }

    /// Bytes handed over by the caller.
    pub(crate) fn owned(bytes: Vec<u8>) -> Self {
        Self::whole(Arc::new(bytes))
    }

    /// A module the caller serialized with [`ModuleBuffer`].
    pub(crate) fn module(buffer: ModuleBuffer) -> Self {
        Self::whole(Arc::new(buffer))
    }

    /// A module serialized with its ThinLTO summary.
    pub(crate) fn thin(buffer: ThinBuffer) -> Self {
        Self::whole(Arc::new(buffer))
    }

    /// A sub-slice of these bytes (an archive member, an object section),
    /// sharing the owner. `range` is relative to `self` and must lie within it.
    pub(crate) fn slice(&self, range: Range<usize>) -> Self {
        InputBytes {
            owner: self.owner.clone(),
            range: self.range.start + range.start..self.range.start + range.end,
        }
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &(*self.owner).as_ref()[self.range.clone()]
    }
}

impl std::fmt::Debug for InputBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InputBytes({} bytes)", self.range.len())
    }
}
