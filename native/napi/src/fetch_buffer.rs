//! The ArrayBuffer a read hands to JavaScript: one per read, holding exactly
//! the bytes read, so a structured clone of a value taken from it copies at
//! most that read, and a write into a value changes that buffer alone.
//!
//! A read of `MAP_FROM` bytes or more is a private copy-on-write mapping of
//! them (`FetchMap`, no copy); a smaller one is copied onto the JavaScript
//! heap, which measured cheaper than a mapping's `mmap`, `munmap` and page
//! faults up to about that size (docs/store.md#values-are-the-readers-own).
//! A read is copied too when `LIVE_MAPS_LIMIT` fetch mappings are alive or
//! `mmap` fails: the mappings of dead buffers are only released when their
//! finalizers run (after a garbage collection, on a later turn of the event
//! loop), so a synchronous loop of reads could otherwise use up the
//! process's mapping count (`vm.max_map_count`, 65530 by default), which V8
//! itself needs to grow its heap.

use fjord_store::{FetchMap, ReadSlice};
use napi::bindgen_prelude::*;

/// Reads at least this long are mapped rather than copied: measured (CPU per
/// read of 1 KiB records), a copy cost about what a mapping does at 64 KiB,
/// twice as much at 128 KiB and up to three times at 1 MiB.
const MAP_FROM: usize = 64 << 10;
/// Fetch mappings alive in the process past which reads are copied.
pub(crate) const LIVE_MAPS_LIMIT: usize = 4096;
/// What a fetch mapping counts for in V8's external memory, which starts a
/// full garbage collection past 64 MiB of growth. V8 counts every
/// ArrayBuffer's length there, but a mapping's pages are the page cache's
/// until written: at its length, a full collection ran every ~64 reads of
/// 1 MiB (42 in 3000 reads, against 3 at this fixed cost), and each read cost
/// 5 times the CPU. At 64 KiB a collection still comes every ~1000 mappings,
/// so dead ones are unmapped long before `LIVE_MAPS_LIMIT`.
const COUNTED_BYTES: i64 = 64 << 10;

pub(crate) fn fetch_buffer<'env>(env: &'env Env, slice: &ReadSlice) -> Result<ArrayBuffer<'env>> {
    if slice.len >= MAP_FROM && fjord_store::live_fetch_maps() < LIVE_MAPS_LIMIT {
        if let Ok(mut map) = FetchMap::new(slice) {
            let (ptr, len) = (map.as_mut_ptr(), map.len());
            // V8 adds `len` for the buffer (and takes it off when it collects it).
            let adjust = COUNTED_BYTES - len as i64;
            // SAFETY: the mapping stays valid while `map` (moved into the
            // finalizer hint) lives; V8 drops it when the buffer is collected.
            let buffer = unsafe {
                ArrayBuffer::from_external(env, ptr, len, map, move |env, map| {
                    drop(map);
                    let _ = env.adjust_external_memory(-adjust);
                })
            }?;
            // Fails only while the environment is torn down, when nothing is collected any more.
            let _ = env.adjust_external_memory(adjust);
            return Ok(buffer);
        }
    }
    ArrayBuffer::copy_from(env, slice.bytes())
}
