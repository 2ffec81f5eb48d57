//! Cheap, shareable views of input bytes: a slice of a memory-mapped file or
//! a buffer the caller handed over.

use crate::llvm::ModuleBuffer;
use memmap2::Mmap;
use std::ops::Range;
use std::sync::Arc;

/// Bytes of one input or archive member; cloning shares them.
#[derive(Clone)]
pub struct InputBytes(Repr);

#[derive(Clone)]
enum Repr {
    Mapped { map: Arc<Mmap>, range: Range<usize> },
    Owned(Arc<[u8]>),
    Module(Arc<ModuleBuffer>),
}

impl InputBytes {
    /// All of a mapped file.
    pub(crate) fn mapped(map: Arc<Mmap>) -> Self {
        let range = 0..map.len();
        InputBytes(Repr::Mapped { map, range })
    }

    /// A sub-slice of these bytes (an archive member, an object section).
    /// `range` is relative to `self` and must lie within it.
    pub(crate) fn slice(&self, range: Range<usize>) -> Self {
        match &self.0 {
            Repr::Mapped { map, range: outer } => InputBytes(Repr::Mapped {
                map: map.clone(),
                range: outer.start + range.start..outer.start + range.end,
            }),
            Repr::Owned(bytes) => InputBytes(Repr::Owned(bytes[range].into())),
            Repr::Module(buffer) => InputBytes(Repr::Owned(buffer.as_bytes()[range].into())),
        }
    }

    /// Bytes handed over by the caller.
    pub(crate) fn owned(bytes: Vec<u8>) -> Self {
        InputBytes(Repr::Owned(bytes.into()))
    }

    /// A module the caller serialized with [`ModuleBuffer`].
    pub(crate) fn module(buffer: ModuleBuffer) -> Self {
        InputBytes(Repr::Module(Arc::new(buffer)))
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Mapped { map, range } => &map[range.clone()],
            Repr::Owned(bytes) => bytes,
            Repr::Module(buffer) => buffer.as_bytes(),
        }
    }
}

impl std::fmt::Debug for InputBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "InputBytes({} bytes)", self.as_slice().len())
    }
}
