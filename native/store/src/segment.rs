//! One segment: its `.log` file and the two sparse indexes over it.

use std::io::IoSlice;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use memmap2::MmapOptions;

use crate::batch::{self, BatchHeader, IncomingBatch, HEADER_SIZE};
use crate::error::{IoContext, Result, StoreError};
use crate::gather::Gathered;
use crate::index::{OffsetIndex, TimeIndex, OFFSET_ENTRY_BYTES, TIME_ENTRY_BYTES};
use crate::log_file::{LogFile, ReadMap};
use crate::read_check::ReadCheck;

pub(crate) fn file_name(base: i64, suffix: &str) -> String {
    format!("{base:020}.{suffix}")
}

/// The base offset and suffix (all after the first dot) of a file named as
/// `file_name` names segment files: twenty digits, no sign, so never a
/// negative base. `None` for any other file of the directory.
pub(crate) fn parse_file_name(name: &str) -> Option<(i64, &str)> {
    let (stem, suffix) = name.split_once('.')?;
    let digits = stem.len() == 20 && stem.bytes().all(|c| c.is_ascii_digit());
    Some((stem.parse().ok().filter(|_| digits)?, suffix))
}

/// The files of one segment, in the order they are removed.
const SUFFIXES: [&str; 3] = ["log", "index", "timeindex"];

/// The one way a segment's files are deleted. The `.log` goes first, so an
/// interrupted removal leaves at most orphan indexes, which the loader drops.
/// A file already gone counts as removed; any other failure stops the removal
/// and is returned naming the file, never ignored: a segment that should be
/// gone but is not would be read again by the next open (after a recovery
/// cut, past a gap). Callers deleting below a durable checkpoint write it
/// first. Unlinking leaves any mapping a reader holds intact (the inode lives
/// until it is unmapped).
pub(crate) fn remove_files(dir: &Path, base: i64) -> Result<()> {
    for suffix in SUFFIXES {
        let path = dir.join(file_name(base, suffix));
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(StoreError::io("remove", &path, e)),
            _ => {}
        }
    }
    Ok(())
}

/// Sizes a segment's files are created with.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SegmentSizes {
    pub capacity: usize,
    pub index_bytes: usize,
    pub index_interval: usize,
}

/// What a recovery scan of one segment found.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ScanOutcome {
    pub valid_bytes: usize,
    pub truncated_bytes: usize,
    /// Of the truncated bytes, those up to the last one that is not zero: a
    /// torn or corrupt batch rather than zeroed or preallocated space.
    pub torn_bytes: usize,
    pub batches: usize,
}

pub(crate) struct Segment {
    pub base: i64,
    pub log: LogFile,
    pub offset_index: OffsetIndex,
    pub time_index: TimeIndex,
    /// Valid bytes in the log file; everything below is whole batches.
    pub size: usize,
    /// One past the last offset held (the log end offset when active).
    pub next_offset: i64,
    pub max_timestamp: i64,
    offset_of_max_timestamp: i64,
    /// Max timestamp of the first batch: when `segment.ms` starts counting.
    pub rolling_timestamp: Option<i64>,
    pub created_ms: i64,
    bytes_since_last_index: usize,
    index_interval: usize,
    /// Set on every change; cleared by the flush that syncs the files.
    pub dirty: Arc<AtomicBool>,
    /// Which bytes reads still have to CRC-check (see `read_check`).
    pub read_check: ReadCheck,
}

impl Segment {
    fn paths(dir: &Path, base: i64) -> (PathBuf, PathBuf, PathBuf) {
        (dir.join(file_name(base, "log")), dir.join(file_name(base, "index")), dir.join(file_name(base, "timeindex")))
    }

    /// A new empty active segment (any stale files of that name are replaced).
    pub fn create(dir: &Path, base: i64, sizes: SegmentSizes, now: i64) -> Result<Segment> {
        remove_files(dir, base)?;
        let (log_path, offset_path, time_path) = Self::paths(dir, base);
        let made = (|| {
            let log = LogFile::open_active(&log_path, sizes.capacity, true)?;
            log.preallocate()?;
            let offset_index = OffsetIndex::open(&offset_path, sizes.index_bytes, true, true)?;
            let time_index = TimeIndex::open(&time_path, sizes.index_bytes, true, true)?;
            Ok((log, offset_index, time_index))
        })();
        match made {
            Ok((log, offset_index, time_index)) => Ok(Self::assemble(base, log, offset_index, time_index, sizes.index_interval, now)),
            Err(e) => {
                // No half-made segment may stay behind: appends that still fit
                // go on in the current segment, past this one's base offset.
                // The error that stopped the creation is the one to report.
                let _ = remove_files(dir, base);
                Err(e)
            }
        }
    }

    fn assemble(base: i64, log: LogFile, offset_index: OffsetIndex, time_index: TimeIndex, index_interval: usize, now: i64) -> Segment {
        Segment {
            base,
            log,
            offset_index,
            time_index,
            size: 0,
            next_offset: base,
            max_timestamp: -1,
            offset_of_max_timestamp: base,
            rolling_timestamp: None,
            created_ms: now,
            bytes_since_last_index: 0,
            index_interval,
            dirty: Arc::new(AtomicBool::new(true)),
            read_check: ReadCheck::unchecked(0),
        }
    }

    /// Opens an existing segment. A sealed one trusts its indexes when they
    /// pass the sanity check; an active one, or one that fails it, is
    /// rebuilt by `recover`. Returns the segment and whether it needs recovery.
    /// An active segment is preallocated by `recover` or by the caller once it
    /// knows no recovery is due (a hole must not hide where the data ended).
    pub fn open(dir: &Path, base: i64, sizes: SegmentSizes, active: bool, now: i64) -> Result<(Segment, bool)> {
        let (log_path, offset_path, time_path) = Self::paths(dir, base);
        let log = if active { LogFile::open_active(&log_path, sizes.capacity, false)? } else { LogFile::open_sealed(&log_path)? };
        let size = log.file_len()?;
        let index_ok = |p: &Path, entry: u64| std::fs::metadata(p).is_ok_and(|m| m.len() % entry == 0);
        let indexes_sane = index_ok(&offset_path, OFFSET_ENTRY_BYTES as u64) && index_ok(&time_path, TIME_ENTRY_BYTES as u64);
        let offset_index = OffsetIndex::open(&offset_path, sizes.index_bytes, active, !indexes_sane)?;
        let time_index = TimeIndex::open(&time_path, sizes.index_bytes, active, !indexes_sane)?;
        let mut seg = Self::assemble(base, log, offset_index, time_index, sizes.index_interval, now);
        seg.size = size;
        seg.read_check = ReadCheck::unchecked(size);
        seg.dirty.store(false, Ordering::Relaxed);
        let mut needs_recovery = !indexes_sane || !seg.offset_index.is_consistent(size);
        if !needs_recovery {
            let last_rel = seg.offset_index.last().map_or(0, |e| e.0 as i64);
            needs_recovery = !seg.time_index.is_consistent(last_rel.max(0) + i32::MAX as i64);
        }
        if let Some((ts, rel)) = seg.time_index.last() {
            seg.max_timestamp = ts;
            seg.offset_of_max_timestamp = base.saturating_add(rel as i64);
        }
        if !needs_recovery && size > 0 {
            // Find the end offset (and check the tail is whole) by scanning from
            // the last indexed batch; the first header gives the rolling timestamp.
            let from = seg.offset_index.last().map_or(0, |e| e.1 as usize);
            match seg.scan_tail(from)? {
                Some((next, first_ts, max)) => {
                    seg.next_offset = next;
                    seg.rolling_timestamp = Some(first_ts);
                    if let Some((ts, off)) = max {
                        if ts > seg.max_timestamp {
                            seg.max_timestamp = ts;
                            seg.offset_of_max_timestamp = off;
                        }
                    }
                }
                None => needs_recovery = true,
            }
        }
        Ok((seg, needs_recovery))
    }

    /// Walks batch headers from `from` to the end. `None` if the walk does
    /// not land exactly on the end of the file.
    #[allow(clippy::type_complexity)]
    fn scan_tail(&self, from: usize) -> Result<Option<(i64, i64, Option<(i64, i64)>)>> {
        let file = &self.log.file;
        // SAFETY: read-only view dropped before this returns; the file is not shrunk meanwhile.
        let map = unsafe { MmapOptions::new().len(self.size).map(&**file) }.ctx("mmap", &self.log.path)?;
        let first_ts = match BatchHeader::parse(&map) {
            Some(h) => h.max_timestamp,
            None => return Ok(None),
        };
        let mut pos = from;
        let mut next = self.base;
        let mut max: Option<(i64, i64)> = None;
        while pos < self.size {
            match BatchHeader::parse(&map[pos..]) {
                Some(h) if pos + h.size <= self.size && h.base_offset >= self.base && h.fits_offset_space() => {
                    next = h.next_offset();
                    if max.is_none_or(|(ts, _)| h.max_timestamp > ts) {
                        max = Some((h.max_timestamp, h.last_offset()));
                    }
                    pos += h.size;
                }
                _ => return Ok(None),
            }
        }
        Ok((pos == self.size).then_some((next, first_ts, max)))
    }

    /// Re-reads every batch: checks length, CRC and increasing offsets,
    /// rebuilds both indexes at the normal cadence and cuts the file at the
    /// first invalid batch (a torn or corrupt tail, or preallocated zeros).
    pub fn recover(&mut self, dir: &Path, sizes: SegmentSizes, min_offset: i64) -> Result<ScanOutcome> {
        let file_len = self.log.file_len()?;
        let (_, offset_path, time_path) = Self::paths(dir, self.base);
        self.offset_index = OffsetIndex::open(&offset_path, sizes.index_bytes, true, true)?;
        self.time_index = TimeIndex::open(&time_path, sizes.index_bytes, true, true)?;
        self.size = 0;
        self.next_offset = self.base;
        self.max_timestamp = -1;
        self.offset_of_max_timestamp = self.base;
        self.rolling_timestamp = None;
        self.bytes_since_last_index = 0;
        let mut valid = 0usize;
        let mut batches = 0usize;
        let mut torn_bytes = 0usize;
        // Bytes up to the next hole were written and are lost; a hole is only
        // preallocated space (ours, or a file system's) and is not counted.
        let mut data_end = valid;
        if file_len > 0 {
            // SAFETY: dropped before the file is cut below.
            let map = unsafe { MmapOptions::new().len(file_len).map(&*self.log.file) }.ctx("mmap", &self.log.path)?;
            let mut expect = self.base.max(min_offset);
            while valid < file_len {
                let Some(h) = BatchHeader::parse(&map[valid..]) else { break };
                let ok = valid + h.size <= file_len
                    && h.magic == batch::MAGIC
                    && h.base_offset >= expect
                    && h.fits_offset_space()
                    && h.last_offset() - self.base <= i32::MAX as i64
                    && batch::crc_is_valid(&map[valid..valid + h.size], &h);
                if !ok {
                    break;
                }
                self.index_batch(&h, valid)?;
                expect = h.next_offset();
                valid += h.size;
                batches += 1;
            }
            data_end = if file_len > valid { self.log.data_end(valid)?.clamp(valid, file_len) } else { valid };
            torn_bytes = map[valid..data_end].iter().rposition(|&b| b != 0).map_or(0, |last| last + 1);
        }
        self.size = valid;
        if file_len != valid {
            // No reader can hold this file yet: recovery runs before the log is handed out.
            self.log.file.set_len(valid as u64).ctx("truncate", &self.log.path)?;
        }
        self.log.preallocate()?;
        self.read_check = ReadCheck::checked_up_to(valid, self.next_offset - self.base);
        self.dirty.store(true, Ordering::Relaxed);
        Ok(ScanOutcome { valid_bytes: valid, truncated_bytes: data_end - valid, torn_bytes, batches })
    }

    /// Records a batch that now sits at `position` in the index state.
    fn index_batch(&mut self, h: &BatchHeader, position: usize) -> Result<()> {
        if self.rolling_timestamp.is_none() {
            self.rolling_timestamp = Some(h.max_timestamp);
        }
        if h.max_timestamp > self.max_timestamp {
            self.max_timestamp = h.max_timestamp;
            self.offset_of_max_timestamp = h.last_offset();
        }
        // A full offset index takes no more entries (the index is sparse, lookups
        // scan a little further): one append of many batches, or a segment
        // recovered under a smaller segment.index.bytes, can fill it mid-append.
        if self.bytes_since_last_index > self.index_interval && !self.offset_index.is_full() {
            self.offset_index.push((h.last_offset() - self.base) as i32, position as u32)?;
            self.time_index.maybe_push(self.max_timestamp, (self.offset_of_max_timestamp - self.base) as i32, false)?;
            self.bytes_since_last_index = 0;
        }
        self.bytes_since_last_index += h.size;
        self.next_offset = h.next_offset();
        Ok(())
    }

    /// Appends already-validated batches, assigning offsets from `next_offset`:
    /// each batch goes out as its patched 61-byte header and its untouched
    /// records, in one vectored write. Returns the offsets and the position.
    pub fn append(&mut self, input: &[u8], batches: &[IncomingBatch], log_append_time: Option<i64>) -> Result<(i64, i64, usize)> {
        let position = self.size;
        let first_offset = self.next_offset;
        let mut offset = first_offset;
        let mut headers: Vec<[u8; HEADER_SIZE]> = Vec::with_capacity(batches.len());
        for b in batches {
            let mut header: [u8; HEADER_SIZE] = input[b.position..b.position + HEADER_SIZE].try_into().expect("validated");
            header[..8].copy_from_slice(&offset.to_be_bytes());
            if let Some(now) = log_append_time {
                batch::stamp_log_append_time(&mut header, &input[b.position + HEADER_SIZE..b.position + b.header.size], now);
            }
            headers.push(header);
            offset += b.header.last_offset_delta as i64 + 1;
        }
        let mut slices = Vec::with_capacity(2 * batches.len());
        for (b, header) in batches.iter().zip(&headers) {
            slices.push(IoSlice::new(header));
            slices.push(IoSlice::new(&input[b.position + HEADER_SIZE..b.position + b.header.size]));
        }
        self.log.write_at(position, &mut slices)?;
        for (b, header) in batches.iter().zip(&headers) {
            let h = BatchHeader::parse(header).expect("validated");
            self.index_batch(&h, position + b.position)?;
        }
        self.size += input.len();
        self.dirty.store(true, Ordering::Release);
        Ok((first_offset, offset - 1, position))
    }

    /// Appends a validated gather append (see `gather`), assigning offsets
    /// from `next_offset`: each batch goes out as its stamped header and its
    /// record slices, in one vectored write. Returns the offsets and the position.
    pub fn append_gathered(&mut self, gathered: &mut Gathered<'_>) -> Result<(i64, i64, usize)> {
        let position = self.size;
        let first_offset = self.next_offset;
        let mut offset = first_offset;
        for b in gathered.batches.iter_mut() {
            b.header[..8].copy_from_slice(&offset.to_be_bytes());
            b.parsed.base_offset = offset;
            offset += b.parsed.last_offset_delta as i64 + 1;
        }
        let mut slices = Vec::with_capacity(gathered.batches.len() + gathered.bodies.len());
        for b in &gathered.batches {
            slices.push(IoSlice::new(&b.header));
            slices.extend(gathered.bodies[b.bodies.clone()].iter().map(|s| IoSlice::new(s)));
        }
        self.log.write_at(position, &mut slices)?;
        for b in &gathered.batches {
            self.index_batch(&b.parsed, position + b.position)?;
        }
        self.size += gathered.len;
        self.dirty.store(true, Ordering::Release);
        Ok((first_offset, offset - 1, position))
    }

    pub fn is_full(&self) -> bool {
        self.offset_index.is_full() || self.time_index.is_full()
    }

    /// Turns the active segment into a sealed one: the final time index
    /// entry, indexes and log trimmed to their contents.
    pub fn seal(&mut self) -> Result<()> {
        if self.max_timestamp >= 0 {
            self.time_index.maybe_push(self.max_timestamp, (self.offset_of_max_timestamp - self.base) as i32, true)?;
        }
        self.offset_index.trim()?;
        self.time_index.trim()?;
        self.log.seal(self.size)?;
        self.dirty.store(true, Ordering::Release);
        Ok(())
    }

    /// Closes the segment and removes its files (see `remove_files`).
    pub fn delete(self, dir: &Path) -> Result<()> {
        let base = self.base;
        drop(self);
        remove_files(dir, base)
    }

    /// Files to fsync, each with its path (for the error): log and both indexes.
    pub fn files_to_sync(&self, dir: &Path) -> Vec<(PathBuf, Arc<std::fs::File>)> {
        let (log_path, offset_path, time_path) = Self::paths(dir, self.base);
        vec![
            (log_path, self.log.file.clone()),
            (offset_path, self.offset_index.file().clone()),
            (time_path, self.time_index.file().clone()),
        ]
    }

    pub fn read_map(&self) -> Result<Arc<ReadMap>> {
        self.log.read_map()
    }

    /// Header of the batch at `position`, read through the read mapping.
    pub fn header_at(map: &ReadMap, position: usize, size: usize) -> Option<BatchHeader> {
        if position + HEADER_SIZE > size {
            return None;
        }
        BatchHeader::parse(map.slice(position, HEADER_SIZE))
    }

    /// Position of the first batch whose last offset is >= `offset`, or `size`.
    pub fn find_position(&self, map: &ReadMap, offset: i64) -> usize {
        let mut pos = self.offset_index.lookup(offset - self.base) as usize;
        while let Some(h) = Self::header_at(map, pos, self.size) {
            if h.last_offset() >= offset {
                return pos;
            }
            pos += h.size;
        }
        self.size
    }

    /// First offset at or after `min_offset` whose record timestamp is >= `timestamp`.
    pub fn offset_for_timestamp(&self, map: &ReadMap, timestamp: i64, min_offset: i64) -> Option<i64> {
        let start_offset = self.time_index.lookup(timestamp).map_or(self.base, |rel| self.base.saturating_add(rel as i64));
        let mut pos = self.offset_index.lookup(start_offset.max(min_offset) - self.base) as usize;
        while let Some(h) = Self::header_at(map, pos, self.size) {
            if h.max_timestamp >= timestamp && h.last_offset() >= min_offset {
                let bytes = map.slice(pos, h.size);
                let found = match batch::record_timestamps(bytes, &h) {
                    Some(ts) => (0..ts.len())
                        .map(|i| (h.base_offset + i as i64, ts[i]))
                        .find(|&(off, t)| off >= min_offset && t >= timestamp)
                        .map(|(off, _)| off),
                    None => Some(h.base_offset.max(min_offset)),
                };
                if found.is_some() {
                    return found;
                }
            }
            pos += h.size;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_twenty_digits_then_a_suffix() {
        assert_eq!(file_name(42, "log"), "00000000000000000042.log");
        assert_eq!(parse_file_name("00000000000000000042.log"), Some((42, "log")));
        assert_eq!(parse_file_name("00000000000000000042.log.swap"), Some((42, "log.swap")));
        assert_eq!(parse_file_name("09223372036854775807.timeindex"), Some((i64::MAX, "timeindex")));
        for other in [
            "-0000000000000000042.log",
            "+0000000000000000042.log",
            "0000000000000000042.log",
            "99999999999999999999.log",
            "00000000000000000042",
            "recovery-point-offset-checkpoint",
        ] {
            assert_eq!(parse_file_name(other), None, "{other}");
        }
    }
}
