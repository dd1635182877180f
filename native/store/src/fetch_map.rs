//! A private copy-on-write mapping of the bytes one read returned: what a
//! zero-copy reader outside the store (a JavaScript ArrayBuffer) holds, and
//! may write into.
//!
//! Why not hand out the store's own mapping (`ReadMap`): it is read-only, so
//! a write into it kills the process (SIGSEGV), and it spans the segment's
//! whole capacity, so a runtime that copies a buffer (a structured clone)
//! copies up to 1 GiB for a 7-byte value. A private mapping of just the
//! pages a read covers is still zero-copy to read (its pages are the page
//! cache's own until written), costs its own length to clone, and a write
//! into it copies the written page for this mapping alone: the file, the
//! store's mapping and every other fetch keep the original bytes.
//!
//! Not `MAP_POPULATE`: on a private writable mapping it prefaults every page
//! for writing, which copies them all.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use memmap2::{MmapMut, MmapOptions};

use crate::log::ReadSlice;
use crate::log_file::ReadMap;

static LIVE_FETCH_MAPS: AtomicUsize = AtomicUsize::new(0);

/// Fetch mappings alive in this process.
pub fn live_fetch_maps() -> usize {
    LIVE_FETCH_MAPS.load(Ordering::SeqCst)
}

/// The bytes of one read, privately mapped (`MAP_PRIVATE`, read and write).
pub struct FetchMap {
    map: MmapMut,
    /// Keeps the segment's file open and tells the store a reader holds it,
    /// so it is never shortened under this mapping (see `ReadMap`).
    _source: Arc<ReadMap>,
}

impl FetchMap {
    /// Maps the bytes of `slice` (whole pages around them; `as_mut_ptr` is
    /// the slice's first byte). Fails as `mmap` fails, e.g. past the
    /// process's mapping count limit (`vm.max_map_count`); a caller can then
    /// copy `slice.bytes()` instead.
    pub fn new(slice: &ReadSlice) -> std::io::Result<FetchMap> {
        // SAFETY: the bytes below a segment's valid size never change and the
        // file is never shortened under a mapping of it (see `ReadMap`); the
        // source map held here keeps it so for as long as this lives.
        let map = unsafe { MmapOptions::new().offset(slice.start as u64).len(slice.len).no_reserve_swap().map_copy(slice.map.file()) }?;
        LIVE_FETCH_MAPS.fetch_add(1, Ordering::SeqCst);
        Ok(FetchMap { map, _source: slice.map.clone() })
    }

    /// The first byte of the read; writes through it stay in this mapping.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.map.as_mut_ptr()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl Drop for FetchMap {
    fn drop(&mut self) {
        LIVE_FETCH_MAPS.fetch_sub(1, Ordering::SeqCst);
    }
}
