//! Sparse `.index` (offset → position) and `.timeindex` (timestamp → offset)
//! files: memory-mapped, preallocated while their segment is active, trimmed
//! to their entries when it rolls or the log closes.
//!
//! Preallocation is Kafka's: the file's length is set, no block is reserved
//! (a sparse file), so an idle partition costs no index blocks. Blocks are
//! reserved a page at a time ahead of the entries written through the
//! mapping, because a store into a hole the file system cannot fill (a full
//! disk) is a SIGBUS, not an error: an entry whose page the disk has no room
//! for is left out (the index is sparse, a lookup scans a little further);
//! any other failure to reserve it is an I/O error and takes the log offline.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::{MmapOptions, MmapRaw};

use crate::error::{IoContext, Result, StoreError};

/// The fixed-size-entry file both indexes are built on.
struct IndexFile<const ENTRY: usize> {
    path: PathBuf,
    file: Arc<File>,
    map: Option<MmapRaw>,
    entries: usize,
    max_entries: usize,
    /// Bytes from the start of the file known to have blocks behind them.
    reserved: usize,
}

/// Blocks are reserved this many bytes at a time ahead of the entries.
const RESERVE_CHUNK: usize = 4096;

impl<const ENTRY: usize> IndexFile<ENTRY> {
    /// Opens for appending: existing entries are those the file length holds
    /// (a cleanly closed index is trimmed), unless `reset`.
    fn open(path: &Path, capacity_bytes: usize, writable: bool, reset: bool) -> Result<Self> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).ctx("open", path)?;
        let mut len = file.metadata().ctx("stat", path)?.len() as usize;
        if reset && len > 0 {
            // A rebuild may write fewer entries than the file held (recovery
            // indexes at its own cadence): no stale entry may follow the new ones.
            file.set_len(0).ctx("truncate", path)?;
            len = 0;
        }
        let entries = if reset { 0 } else { len / ENTRY };
        let max_entries = if writable { (capacity_bytes / ENTRY).max(entries) } else { entries };
        let mut index =
            IndexFile { path: path.to_path_buf(), file: Arc::new(file), map: None, entries, max_entries, reserved: entries * ENTRY };
        let want = max_entries * ENTRY;
        if want != len {
            index.resize(want)?;
        }
        index.remap()?;
        Ok(index)
    }

    /// Sets the file's length: growing leaves a hole (no blocks), shrinking trims.
    fn resize(&mut self, len: usize) -> Result<()> {
        self.map = None;
        self.reserved = self.reserved.min(len);
        let growing = len as u64 > self.file.metadata().ctx("stat", &self.path)?.len();
        self.file.set_len(len as u64).ctx(if growing { "extend" } else { "truncate" }, &self.path)
    }

    /// Reserves blocks up to at least `end` (a page at a time, within the
    /// file); false when the file system has no room for them (a full disk,
    /// a quota). Any other failure is an I/O error: the log goes offline.
    fn reserve(&mut self, end: usize) -> Result<bool> {
        if end <= self.reserved {
            return Ok(true);
        }
        let to = end.div_ceil(RESERVE_CHUNK).saturating_mul(RESERVE_CHUNK).min(self.max_entries * ENTRY).max(end);
        let (from, len) = (self.reserved, to - self.reserved);
        let outcome: std::io::Result<()> =
            match rustix::fs::fallocate(&*self.file, rustix::fs::FallocateFlags::KEEP_SIZE, from as u64, len as u64) {
                Ok(()) => Ok(()),
                // No fallocate here: zeros written through the file take the blocks.
                Err(rustix::io::Errno::OPNOTSUPP) => {
                    use std::os::unix::fs::FileExt;
                    self.file.write_all_at(&vec![0u8; len], from as u64)
                }
                Err(e) => Err(e.into()),
            };
        match outcome {
            Ok(()) => {
                self.reserved = to;
                Ok(true)
            }
            Err(e) => {
                let error = StoreError::io("fallocate", &self.path, e);
                if error.is_lack_of_room() {
                    Ok(false)
                } else {
                    Err(error)
                }
            }
        }
    }

    fn remap(&mut self) -> Result<()> {
        let len = self.max_entries * ENTRY;
        self.map = if len == 0 { None } else { Some(MmapOptions::new().len(len).map_raw(&*self.file).ctx("mmap", &self.path)?) };
        Ok(())
    }

    fn entry(&self, i: usize) -> &[u8; ENTRY] {
        assert!(i < self.entries);
        let map = self.map.as_ref().expect("index with entries is mapped");
        // SAFETY: i < entries <= max_entries, all within the mapping.
        unsafe { &*(map.as_ptr().add(i * ENTRY) as *const [u8; ENTRY]) }
    }

    /// Writes the next entry; false when its page could not be reserved (it is left out).
    fn push(&mut self, bytes: [u8; ENTRY]) -> Result<bool> {
        assert!(self.entries < self.max_entries, "index {} is full", self.path.display());
        if !self.reserve((self.entries + 1) * ENTRY)? {
            return Ok(false);
        }
        let map = self.map.as_ref().expect("writable index is mapped");
        // SAFETY: the slot is inside the mapping, and blocks are reserved behind it.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), map.as_mut_ptr().add(self.entries * ENTRY), ENTRY) };
        self.entries += 1;
        Ok(true)
    }

    /// Index of the last entry whose key is <= `target`, by binary search.
    fn floor_by<K: Ord>(&self, target: K, key: impl Fn(&[u8; ENTRY]) -> K) -> Option<usize> {
        let (mut lo, mut hi) = (0usize, self.entries);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if key(self.entry(mid)) <= target {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo.checked_sub(1)
    }

    /// Shrinks the file to its entries; the index becomes read-only.
    fn trim(&mut self) -> Result<()> {
        self.max_entries = self.entries;
        self.resize(self.entries * ENTRY)?;
        self.remap()
    }
}

fn i32_at(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// Bytes of an offset index entry: (offset − base) and position, i32 big-endian each.
pub(crate) const OFFSET_ENTRY_BYTES: usize = 8;
/// Bytes of a time index entry: timestamp as i64 and (offset − base) as i32, big-endian.
pub(crate) const TIME_ENTRY_BYTES: usize = 12;

/// An offset index entry as stored: (offset − base, position), neither checked.
pub(crate) fn decode_offset_entry(e: &[u8; OFFSET_ENTRY_BYTES]) -> (i32, i32) {
    (i32_at(e, 0), i32_at(e, 4))
}

fn encode_offset_entry(relative_offset: i32, position: i32) -> [u8; OFFSET_ENTRY_BYTES] {
    let mut e = [0u8; OFFSET_ENTRY_BYTES];
    e[..4].copy_from_slice(&relative_offset.to_be_bytes());
    e[4..].copy_from_slice(&position.to_be_bytes());
    e
}

/// A time index entry as stored: (timestamp, offset − base), neither checked.
pub(crate) fn decode_time_entry(e: &[u8; TIME_ENTRY_BYTES]) -> (i64, i32) {
    (i64::from_be_bytes(e[..8].try_into().unwrap()), i32_at(e, 8))
}

fn encode_time_entry(timestamp: i64, relative_offset: i32) -> [u8; TIME_ENTRY_BYTES] {
    let mut e = [0u8; TIME_ENTRY_BYTES];
    e[..8].copy_from_slice(&timestamp.to_be_bytes());
    e[8..].copy_from_slice(&relative_offset.to_be_bytes());
    e
}

/// Offset index: (offset − base) as i32 → file position as i32.
pub struct OffsetIndex(IndexFile<OFFSET_ENTRY_BYTES>);

impl OffsetIndex {
    pub fn open(path: &Path, capacity_bytes: usize, writable: bool, reset: bool) -> Result<Self> {
        Ok(OffsetIndex(IndexFile::open(path, capacity_bytes, writable, reset)?))
    }

    pub fn len(&self) -> usize {
        self.0.entries
    }

    pub fn is_full(&self) -> bool {
        self.0.entries >= self.0.max_entries
    }

    pub fn file(&self) -> &Arc<File> {
        &self.0.file
    }

    pub fn entry(&self, i: usize) -> (i32, u32) {
        let (relative_offset, position) = decode_offset_entry(self.0.entry(i));
        (relative_offset, position as u32)
    }

    pub fn last(&self) -> Option<(i32, u32)> {
        self.len().checked_sub(1).map(|i| self.entry(i))
    }

    /// Appends an entry; one whose page the disk cannot hold is left out (see the module doc).
    pub fn push(&mut self, relative_offset: i32, position: u32) -> Result<()> {
        self.0.push(encode_offset_entry(relative_offset, position as i32)).map(drop)
    }

    /// Position to start scanning for `relative_offset`: the largest entry at
    /// or below it, else the segment's start.
    pub fn lookup(&self, relative_offset: i64) -> u32 {
        self.0.floor_by(relative_offset, |e| decode_offset_entry(e).0 as i64).map_or(0, |i| self.entry(i).1)
    }

    pub fn trim(&mut self) -> Result<()> {
        self.0.trim()
    }

    /// Checks the cheap invariants of Kafka's sanity check: relative offsets
    /// and positions strictly increase and point inside the log.
    pub fn is_consistent(&self, log_size: usize) -> bool {
        let mut prev: Option<(i32, u32)> = None;
        for i in 0..self.len() {
            let (off, pos) = self.entry(i);
            if off < 0 || pos as usize >= log_size.max(1) || prev.is_some_and(|(po, pp)| off <= po || pos <= pp) {
                return false;
            }
            prev = Some((off, pos));
        }
        true
    }
}

/// Time index: max timestamp so far as i64 → (offset − base) as i32.
pub struct TimeIndex(IndexFile<TIME_ENTRY_BYTES>);

impl TimeIndex {
    pub fn open(path: &Path, capacity_bytes: usize, writable: bool, reset: bool) -> Result<Self> {
        Ok(TimeIndex(IndexFile::open(path, capacity_bytes, writable, reset)?))
    }

    pub fn len(&self) -> usize {
        self.0.entries
    }

    /// Full one entry early: the last slot is kept for the entry written on roll.
    pub fn is_full(&self) -> bool {
        self.0.entries + 1 >= self.0.max_entries
    }

    pub fn file(&self) -> &Arc<File> {
        &self.0.file
    }

    pub fn entry(&self, i: usize) -> (i64, i32) {
        decode_time_entry(self.0.entry(i))
    }

    pub fn last(&self) -> Option<(i64, i32)> {
        self.len().checked_sub(1).map(|i| self.entry(i))
    }

    /// Appends when `timestamp` is newer than the last entry (timestamps in the
    /// index never decrease). `final_entry` may use the reserved last slot.
    pub fn maybe_push(&mut self, timestamp: i64, relative_offset: i32, final_entry: bool) -> Result<()> {
        if self.last().is_some_and(|(ts, _)| ts >= timestamp) {
            return Ok(());
        }
        if self.0.entries >= self.0.max_entries || (!final_entry && self.is_full()) {
            return Ok(());
        }
        // Left out when the disk cannot hold its page (see the module doc).
        self.0.push(encode_time_entry(timestamp, relative_offset)).map(drop)
    }

    /// Relative offset of the largest entry whose timestamp is <= `timestamp`.
    pub fn lookup(&self, timestamp: i64) -> Option<i32> {
        self.0.floor_by(timestamp, |e| decode_time_entry(e).0).map(|i| self.entry(i).1)
    }

    pub fn trim(&mut self) -> Result<()> {
        self.0.trim()
    }

    pub fn is_consistent(&self, max_relative_offset: i64) -> bool {
        let mut prev: Option<(i64, i32)> = None;
        for i in 0..self.len() {
            let (ts, off) = self.entry(i);
            if off < 0 || off as i64 > max_relative_offset || prev.is_some_and(|(pt, po)| ts < pt || off < po) {
                return false;
            }
            prev = Some((ts, off));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_big_endian_and_decode_what_was_encoded() {
        let offset_entry = encode_offset_entry(5, 256);
        assert_eq!(offset_entry, [0, 0, 0, 5, 0, 0, 1, 0]);
        assert_eq!(decode_offset_entry(&offset_entry), (5, 256));
        assert_eq!(decode_offset_entry(&[0xff; 8]), (-1, -1));
        let time_entry = encode_time_entry(1_700_000_000_000, 7);
        assert_eq!(time_entry, [0, 0, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00, 0, 0, 0, 7]);
        assert_eq!(decode_time_entry(&time_entry), (1_700_000_000_000, 7));
    }
}
