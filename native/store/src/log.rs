//! A `Log` is one partition directory: an ordered set of segments, the log
//! start offset, recovery on open, and the process-wide rule that a directory
//! has one writer.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::thread::JoinHandle;

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::batch::{self, BatchHeader};
use crate::checkpoint::{self, CLEAN_SHUTDOWN, LOG_START_OFFSET, RECOVERY_POINT};
use crate::error::{IoContext, Result, StoreError};
use crate::gather::{self, Pieces};
use crate::lock::DirLock;
use crate::log_file::ReadMap;
use crate::read_check::{check_stored_batch, Corruption};
use crate::segment::{file_name, Segment, SegmentSizes};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}

/// The per-log settings, named and defaulted as Kafka's topic configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    pub segment_bytes: u64,
    pub segment_ms: i64,
    pub segment_index_bytes: u64,
    pub index_interval_bytes: u64,
    pub max_message_bytes: u64,
    pub timestamp_type: TimestampType,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1 << 30,
            segment_ms: 604_800_000,
            segment_index_bytes: 10 << 20,
            index_interval_bytes: 4096,
            max_message_bytes: 1_048_588,
            timestamp_type: TimestampType::CreateTime,
        }
    }
}

impl LogConfig {
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(StoreError::InvalidConfig(m));
        if self.segment_bytes < batch::HEADER_SIZE as u64 || self.segment_bytes > i32::MAX as u64 {
            return bad(format!("segment.bytes must be in [61, {}], got {}", i32::MAX, self.segment_bytes));
        }
        if self.segment_ms < 1 {
            return bad(format!("segment.ms must be at least 1, got {}", self.segment_ms));
        }
        if self.segment_index_bytes < 24 || self.segment_index_bytes > i32::MAX as u64 {
            return bad(format!("segment.index.bytes must be in [24, {}], got {}", i32::MAX, self.segment_index_bytes));
        }
        if self.index_interval_bytes > i32::MAX as u64 {
            return bad(format!("index.interval.bytes must be at most {}, got {}", i32::MAX, self.index_interval_bytes));
        }
        if self.max_message_bytes > i32::MAX as u64 {
            return bad(format!("max.message.bytes must be at most {}, got {}", i32::MAX, self.max_message_bytes));
        }
        Ok(())
    }

    fn sizes(&self) -> SegmentSizes {
        SegmentSizes {
            capacity: self.segment_bytes as usize,
            index_bytes: self.segment_index_bytes as usize,
            index_interval: self.index_interval_bytes as usize,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    /// Byte position of the first appended batch in its segment file.
    pub position: u64,
    /// The time stamped on the batches under LogAppendTime, else -1.
    pub log_append_time: i64,
}

/// Whole batches read from one segment, viewed in its read-only mapping.
/// Holding it keeps the mapping alive even if the segment is deleted.
pub struct ReadSlice {
    pub map: Arc<ReadMap>,
    pub start: usize,
    pub len: usize,
    pub segment_base: i64,
    /// One past the last offset in the slice: where the next read starts.
    pub next_offset: i64,
}

impl ReadSlice {
    pub fn bytes(&self) -> &[u8] {
        self.map.slice(self.start, self.len)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentInfo {
    pub base_offset: i64,
    pub next_offset: i64,
    pub size: u64,
    /// Largest batch timestamp in the segment, -1 when it is empty.
    pub max_timestamp: i64,
}

/// What opening the log had to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub clean_shutdown: bool,
    pub segments_recovered: u32,
    pub bytes_truncated: u64,
    /// Of `bytes_truncated`, those that held a torn or corrupt batch rather
    /// than zeros (preallocated or zeroed space): 0 when only zeros were cut.
    pub torn_bytes_truncated: u64,
    pub segments_deleted: u32,
    /// One line per cut or deletion, for the operator's log.
    pub notes: Vec<String>,
}

struct State {
    segments: BTreeMap<i64, Segment>,
    config: LogConfig,
    log_start: i64,
    closed: bool,
}

impl State {
    fn active(&self) -> &Segment {
        self.segments.values().next_back().expect("a log always has an active segment")
    }
    fn active_mut(&mut self) -> &mut Segment {
        self.segments.values_mut().next_back().expect("a log always has an active segment")
    }
    fn log_end(&self) -> i64 {
        self.active().next_offset
    }
}

struct Shared {
    dir: PathBuf,
    state: RwLock<State>,
    /// Offsets below this are known durable; persisted when it enters a new segment.
    recovery_point: Mutex<(i64, i64)>,
    handles: AtomicUsize,
    generation: AtomicU64,
    report: RecoveryReport,
    syncs: Mutex<Vec<JoinHandle<()>>>,
    /// One flush at a time: a flush that finds nothing dirty must not return
    /// while another is still syncing what it cleared.
    flushing: Mutex<()>,
    lock: Mutex<Option<DirLock>>,
}

static OPEN_LOGS: LazyLock<Mutex<HashMap<PathBuf, Weak<Shared>>>> = LazyLock::new(Default::default);

/// A handle on an open partition log. Opening a directory that this process
/// already has open returns another handle on the same log; the log closes
/// when its last handle does.
pub struct Log {
    shared: Arc<Shared>,
    closed: AtomicBool,
    /// This handle's open read the directory (and ran any recovery); other
    /// handles share a log already open in this process.
    opened_directory: bool,
}

impl Log {
    pub fn open(dir: impl AsRef<Path>, config: LogConfig) -> Result<Log> {
        Self::open_at(dir.as_ref(), config, now_ms())
    }

    /// `open` with the wall clock given, for tests and fake clocks.
    pub fn open_at(dir: &Path, config: LogConfig, now: i64) -> Result<Log> {
        config.validate()?;
        std::fs::create_dir_all(dir).ctx("create directory", dir)?;
        let dir = dir.canonicalize().ctx("resolve", dir)?;
        let mut open = OPEN_LOGS.lock().unwrap();
        if let Some(shared) = open.get(&dir).and_then(Weak::upgrade) {
            if !shared.state.read().closed {
                shared.handles.fetch_add(1, Ordering::SeqCst);
                return Ok(Log { shared, closed: AtomicBool::new(false), opened_directory: false });
            }
        }
        let lock = DirLock::acquire(&dir)?;
        let (state, report, recovery_point) = load(&dir, config, now)?;
        let seg_of_rp = floor_base(&state.segments, recovery_point);
        let shared = Arc::new(Shared {
            dir: dir.clone(),
            state: RwLock::new(state),
            recovery_point: Mutex::new((recovery_point, seg_of_rp)),
            handles: AtomicUsize::new(1),
            generation: AtomicU64::new(1),
            report,
            syncs: Mutex::new(Vec::new()),
            flushing: Mutex::new(()),
            lock: Mutex::new(Some(lock)),
        });
        open.retain(|_, w| w.strong_count() > 0);
        open.insert(dir, Arc::downgrade(&shared));
        Ok(Log { shared, closed: AtomicBool::new(false), opened_directory: true })
    }

    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.shared.report
    }

    /// True when this handle's open read the directory, so its recovery
    /// report is news; false for a handle on a log already open in this process.
    pub fn opened_directory(&self) -> bool {
        self.opened_directory
    }

    fn read_state(&self) -> Result<RwLockReadGuard<'_, State>> {
        let st = self.shared.state.read();
        if st.closed || self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed(self.shared.dir.clone()));
        }
        Ok(st)
    }

    fn write_state(&self) -> Result<RwLockWriteGuard<'_, State>> {
        let st = self.shared.state.write();
        if st.closed || self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed(self.shared.dir.clone()));
        }
        Ok(st)
    }

    pub fn config(&self) -> Result<LogConfig> {
        Ok(self.read_state()?.config)
    }

    /// Changes settings of the open log; sizes apply from the next segment.
    pub fn set_config(&self, config: LogConfig) -> Result<()> {
        config.validate()?;
        self.write_state()?.config = config;
        Ok(())
    }

    pub fn log_start_offset(&self) -> Result<i64> {
        Ok(self.read_state()?.log_start)
    }

    pub fn log_end_offset(&self) -> Result<i64> {
        Ok(self.read_state()?.log_end())
    }

    /// Bytes of valid data in all segments.
    pub fn size(&self) -> Result<u64> {
        Ok(self.read_state()?.segments.values().map(|s| s.size as u64).sum())
    }

    /// Bumped whenever segments are deleted or replaced, so a binding caching
    /// one external buffer per mapping knows when to drop stale ones.
    pub fn generation(&self) -> u64 {
        self.shared.generation.load(Ordering::Acquire)
    }

    /// Ids of the read mappings the log itself still holds.
    pub fn live_map_ids(&self) -> Result<Vec<u64>> {
        let st = self.read_state()?;
        Ok(st.segments.values().filter_map(|s| s.log.existing_read_map().map(|m| m.id())).collect())
    }

    pub fn segments(&self) -> Result<Vec<SegmentInfo>> {
        let st = self.read_state()?;
        Ok(st
            .segments
            .values()
            .map(|s| SegmentInfo { base_offset: s.base, next_offset: s.next_offset, size: s.size as u64, max_timestamp: s.max_timestamp })
            .collect())
    }

    /// Validates and appends one or more concatenated batches, assigning
    /// offsets. On any error nothing is written.
    pub fn append(&self, batches: &[u8], now: i64) -> Result<AppendInfo> {
        let mut st = self.write_state()?;
        let config = st.config;
        let incoming = batch::validate_append(batches, config.max_message_bytes)?;
        if batches.len() as u64 > config.segment_bytes {
            return Err(StoreError::RecordListTooLarge { size: batches.len() as u64, limit: config.segment_bytes });
        }
        let records: i64 = incoming.iter().map(|b| b.header.last_offset_delta as i64 + 1).sum();
        let end = st.log_end();
        if end.checked_add(records).is_none() {
            let reason = format!("{records} records at log end offset {end} would pass the largest offset {}", i64::MAX);
            return Err(StoreError::InvalidRecord { position: 0, reason });
        }
        let max_ts = incoming.iter().map(|b| b.header.max_timestamp).max().unwrap_or(-1);
        self.maybe_roll(&mut st, batches.len(), records, max_ts, now)?;
        let log_append_time = (config.timestamp_type == TimestampType::LogAppendTime).then_some(now);
        let (base_offset, last_offset, position) = st.active_mut().append(batches, &incoming, log_append_time)?;
        Ok(AppendInfo { base_offset, last_offset, position: position as u64, log_append_time: log_append_time.unwrap_or(-1) })
    }

    /// Appends batches given in pieces (see `gather`): validated as `append`
    /// validates, except that the store computes and stamps each CRC instead
    /// of checking the caller's. On any error nothing is written.
    pub fn append_gathered(&self, pieces: &Pieces<'_>, now: i64) -> Result<AppendInfo> {
        let mut st = self.write_state()?;
        let config = st.config;
        let log_append_time = (config.timestamp_type == TimestampType::LogAppendTime).then_some(now);
        let mut gathered = gather::prepare(pieces, config.max_message_bytes, log_append_time)?;
        if gathered.len as u64 > config.segment_bytes {
            return Err(StoreError::RecordListTooLarge { size: gathered.len as u64, limit: config.segment_bytes });
        }
        let records: i64 = gathered.batches.iter().map(|b| b.parsed.last_offset_delta as i64 + 1).sum();
        let max_ts = gathered.batches.iter().map(|b| b.parsed.max_timestamp).max().unwrap_or(-1);
        self.maybe_roll(&mut st, gathered.len, records, max_ts, now)?;
        let (base_offset, last_offset, position) = st.active_mut().append_gathered(&mut gathered)?;
        Ok(AppendInfo { base_offset, last_offset, position: position as u64, log_append_time: log_append_time.unwrap_or(-1) })
    }

    fn maybe_roll(&self, st: &mut State, bytes: usize, records: i64, max_ts: i64, now: i64) -> Result<()> {
        let config = st.config;
        let seg = st.active();
        let limit = seg.log.capacity.min(config.segment_bytes as usize);
        let roll = if seg.size == 0 {
            bytes > seg.log.capacity
        } else {
            let waited = match seg.rolling_timestamp {
                Some(first) if first >= 0 && max_ts >= 0 => max_ts - first,
                _ => now - seg.created_ms,
            };
            seg.size + bytes > limit
                || waited > config.segment_ms
                || seg.is_full()
                || seg.next_offset + records - 1 - seg.base > i32::MAX as i64
        };
        if roll {
            self.roll(st, now)?;
        }
        Ok(())
    }

    /// Starts a new active segment at the log end; the old one is sealed
    /// (final time index entry, files trimmed) and synced in the background.
    fn roll(&self, st: &mut State, now: i64) -> Result<()> {
        let sizes = st.config.sizes();
        let base = st.log_end();
        if st.active().size == 0 {
            // An empty segment too small for the append: make it bigger. On
            // failure it stays as it was, still the active segment.
            st.active_mut().log.grow(sizes.capacity)?;
            self.shared.generation.fetch_add(1, Ordering::AcqRel);
            return Ok(());
        }
        let fresh = Segment::create(&self.shared.dir, base, sizes, now)?;
        if let Err(e) = st.active_mut().seal() {
            let _ = remove_segment(&self.shared.dir, fresh);
            return Err(e);
        }
        let files = st.active().files();
        let sync = std::thread::spawn(move || {
            for f in files {
                let _ = f.sync_data();
            }
        });
        let mut syncs = self.shared.syncs.lock().unwrap();
        syncs.retain(|h| !h.is_finished());
        syncs.push(sync);
        st.segments.insert(base, fresh);
        Ok(())
    }

    /// Whole batches starting with the one that holds `offset`, up to
    /// `max_bytes` but always at least one batch. `None` at the log end.
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<Option<ReadSlice>> {
        let st = self.read_state()?;
        let end = st.log_end();
        if offset < st.log_start || offset > end {
            return Err(StoreError::OffsetOutOfRange { offset, start: st.log_start, end });
        }
        let from = floor_base(&st.segments, offset);
        for seg in st.segments.range(from..).map(|(_, s)| s) {
            if seg.size == 0 {
                continue;
            }
            let map = seg.read_map()?;
            let start = if seg.base <= offset { seg.find_position(&map, offset) } else { 0 };
            if start >= seg.size {
                continue;
            }
            let bytes = map.slice(0, seg.size);
            let Some(first) = Segment::header_at(&map, start, seg.size) else {
                let reason = check_stored_batch(&bytes[start..], None, seg.base, seg.next_offset).expect_err("no header");
                return Err(corrupt_batch(seg, Corruption { position: start, offset, reason }));
            };
            let mut len = first.size;
            let mut next_offset = first.next_offset();
            while let Some(h) = Segment::header_at(&map, start + len, seg.size) {
                if len + h.size > max_bytes {
                    break;
                }
                len += h.size;
                next_offset = h.next_offset();
            }
            // Nothing corrupt is handed out: the batches are CRC-checked once per process.
            let checked = seg.read_check.check(bytes, seg.size, seg.base, seg.next_offset, start, start + len);
            if let Some(bad) = checked.corruption {
                if checked.good_end == start {
                    return Err(corrupt_batch(seg, bad));
                }
                len = checked.good_end - start;
                next_offset = bad.offset;
            }
            return Ok(Some(ReadSlice { map, start, len, segment_base: seg.base, next_offset }));
        }
        Ok(None)
    }

    /// The first offset whose record timestamp is >= `timestamp`, or `None`
    /// when every record is older.
    pub fn offset_for_timestamp(&self, timestamp: i64) -> Result<Option<i64>> {
        let st = self.read_state()?;
        for seg in st.segments.values() {
            if seg.size == 0 || seg.max_timestamp < timestamp || seg.next_offset <= st.log_start {
                continue;
            }
            if let Some(offset) = seg.offset_for_timestamp(&*seg.read_map()?, timestamp, st.log_start) {
                return Ok(Some(offset));
            }
        }
        Ok(None)
    }

    /// Removes every whole segment below `offset` (never the active one) and
    /// moves the log start offset up to `offset`. Returns segments deleted.
    pub fn delete_segments_before(&self, offset: i64) -> Result<usize> {
        let mut st = self.write_state()?;
        let end = st.log_end();
        if offset > end {
            return Err(StoreError::OffsetOutOfRange { offset, start: st.log_start, end });
        }
        let bases: Vec<i64> = st.segments.keys().copied().collect();
        let doomed: Vec<i64> = bases.windows(2).filter(|w| w[1] <= offset).map(|w| w[0]).collect();
        let new_start = st.log_start.max(offset);
        self.remove_below(&mut st, &doomed, new_start)?;
        Ok(doomed.len())
    }

    /// Removes the oldest segment if it is not the active one.
    pub fn delete_oldest_segment(&self) -> Result<bool> {
        let mut st = self.write_state()?;
        let mut bases = st.segments.keys().copied();
        let (Some(oldest), Some(next)) = (bases.next(), bases.next()) else { return Ok(false) };
        let new_start = st.log_start.max(next);
        self.remove_below(&mut st, &[oldest], new_start)?;
        Ok(true)
    }

    fn remove_below(&self, st: &mut State, doomed: &[i64], new_start: i64) -> Result<()> {
        if new_start != st.log_start {
            // Durable first: a crash before the unlinks leaves files the next open drops.
            checkpoint::write_offset(&self.shared.dir, LOG_START_OFFSET, new_start)?;
            st.log_start = new_start;
        }
        for base in doomed {
            if let Some(seg) = st.segments.remove(base) {
                remove_segment(&self.shared.dir, seg)?;
            }
        }
        if !doomed.is_empty() {
            self.shared.generation.fetch_add(1, Ordering::AcqRel);
        }
        Ok(())
    }

    /// Drops every batch holding an offset >= `offset`; the log then ends at
    /// the base of the first batch cut (a batch is never split). Returns the
    /// new log end offset. Readers holding bytes past the cut keep them.
    pub fn truncate_to(&self, offset: i64) -> Result<i64> {
        let mut st = self.write_state()?;
        let end = st.log_end();
        if offset < st.log_start {
            return Err(StoreError::OffsetOutOfRange { offset, start: st.log_start, end });
        }
        if offset >= end {
            return Ok(end);
        }
        let dir = self.shared.dir.clone();
        let base = floor_base(&st.segments, offset);
        let later: Vec<i64> = st.segments.range(base + 1..).map(|(b, _)| *b).collect();
        for b in later.into_iter().rev() {
            remove_segment(&dir, st.segments.remove(&b).expect("listed"))?;
        }
        let seg = st.segments.remove(&base).expect("floor segment");
        let map = seg.read_map()?;
        let cut = seg.find_position(&map, offset);
        drop(map);
        let log_path = dir.join(file_name(base, "log"));
        if seg.log.is_shared() {
            // Someone still reads this file: write the kept prefix to a new
            // file and rename it over, so their mapping keeps the old inode.
            let swap = dir.join(format!("{}.swap", file_name(base, "log")));
            let kept = seg.log.read_map()?;
            std::fs::write(&swap, kept.slice(0, cut)).ctx("write", &swap)?;
            std::fs::File::open(&swap).and_then(|f| f.sync_all()).ctx("fsync", &swap)?;
            std::fs::rename(&swap, &log_path).ctx("rename", &log_path)?;
            checkpoint::sync_dir(&dir)?;
            drop(seg);
        } else {
            drop(seg);
            std::fs::OpenOptions::new().write(true).open(&log_path).and_then(|f| f.set_len(cut as u64)).ctx("truncate", &log_path)?;
        }
        let sizes = st.config.sizes();
        let (mut seg, _) = Segment::open(&dir, base, sizes, true, now_ms())?;
        seg.recover(&dir, sizes, base)?;
        let new_end = seg.next_offset;
        st.segments.insert(base, seg);
        if new_end < st.log_start {
            // The cut batch straddled the log start: the start comes down with the end.
            checkpoint::write_offset(&dir, LOG_START_OFFSET, new_end)?;
            st.log_start = new_end;
        }
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
        drop(st);
        let mut rp = self.shared.recovery_point.lock().unwrap();
        if rp.0 > new_end {
            checkpoint::write_offset(&dir, RECOVERY_POINT, new_end)?;
            *rp = (new_end, base);
        }
        Ok(new_end)
    }

    /// fsyncs every changed segment's log and index files. Appends go on
    /// meanwhile; the lock is held only to collect the files.
    pub fn flush(&self) -> Result<()> {
        let _one_at_a_time = self.shared.flushing.lock().unwrap();
        let (files, end, end_base) = {
            let st = self.read_state()?;
            // The active segment's indexes are not synced: a crash always
            // recovers the active segment, rebuilding them from the log.
            let active_base = st.active().base;
            let mut files = Vec::new();
            for seg in st.segments.values() {
                if seg.dirty.swap(false, Ordering::AcqRel) {
                    let all = seg.files();
                    let group = if seg.base == active_base { vec![all[0].clone()] } else { all.to_vec() };
                    files.push((seg.dirty.clone(), group));
                }
            }
            (files, st.log_end(), st.active().base)
        };
        for (dirty, group) in &files {
            for f in group {
                if let Err(e) = f.sync_data() {
                    dirty.store(true, Ordering::Release);
                    return Err(StoreError::io("fsync", &self.shared.dir, e));
                }
            }
        }
        let mut rp = self.shared.recovery_point.lock().unwrap();
        if end > rp.0 {
            if end_base != rp.1 {
                checkpoint::write_offset(&self.shared.dir, RECOVERY_POINT, end)?;
            }
            *rp = (end, end_base);
        }
        Ok(())
    }

    /// Closes this handle; the last handle closes the log: flush, trim the
    /// active segment, write checkpoints and the clean-shutdown marker, unlock.
    pub fn close(&self) -> Result<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        if self.shared.handles.fetch_sub(1, Ordering::AcqRel) != 1 {
            return Ok(());
        }
        self.shared.close()
    }
}

impl Log {
    /// Drops the log as a killed process would: no flush, no trimming, no
    /// clean-shutdown marker; the lock is released. For crash tests.
    #[doc(hidden)]
    pub fn simulate_crash(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut st = self.shared.state.write();
        st.closed = true;
        st.segments.clear();
        self.shared.lock.lock().unwrap().take();
        OPEN_LOGS.lock().unwrap().remove(&self.shared.dir);
    }
}

impl Shared {
    fn close(&self) -> Result<()> {
        let mut st = self.state.write();
        if st.closed {
            return Ok(());
        }
        st.closed = true;
        let result = (|| {
            st.active_mut().seal()?;
            for seg in st.segments.values() {
                if seg.dirty.swap(false, Ordering::AcqRel) {
                    for f in seg.files() {
                        f.sync_data().ctx("fsync", &self.dir)?;
                    }
                }
            }
            for h in self.syncs.lock().unwrap().drain(..) {
                let _ = h.join();
            }
            checkpoint::write_offset(&self.dir, LOG_START_OFFSET, st.log_start)?;
            checkpoint::write_offset(&self.dir, RECOVERY_POINT, st.log_end())?;
            std::fs::write(self.dir.join(CLEAN_SHUTDOWN), b"").ctx("write", &self.dir.join(CLEAN_SHUTDOWN))?;
            checkpoint::sync_dir(&self.dir)
        })();
        st.segments.clear();
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.lock.lock().unwrap().take();
        result
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log").field("dir", &self.shared.dir).finish()
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

fn corrupt_batch(seg: &Segment, bad: Corruption) -> StoreError {
    StoreError::CorruptStoredBatch { file: seg.log.path.clone(), position: bad.position as u64, offset: bad.offset, reason: bad.reason }
}

fn floor_base(segments: &BTreeMap<i64, Segment>, offset: i64) -> i64 {
    segments.range(..=offset).next_back().or_else(|| segments.iter().next()).map_or(0, |(b, _)| *b)
}

/// The one place segment files are deleted. Unlinking leaves any mapping a
/// reader holds intact (the inode lives until it is unmapped).
fn remove_segment(dir: &Path, seg: Segment) -> Result<()> {
    let base = seg.base;
    drop(seg);
    for suffix in ["log", "index", "timeindex"] {
        let path = dir.join(file_name(base, suffix));
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(StoreError::io("remove", &path, e)),
            _ => {}
        }
    }
    Ok(())
}

/// Reads the directory: drops temporaries and orphans, loads segments, and
/// recovers those written after the recovery point unless the log was shut
/// down cleanly.
fn load(dir: &Path, config: LogConfig, now: i64) -> Result<(State, RecoveryReport, i64)> {
    let clean_marker = dir.join(CLEAN_SHUTDOWN);
    let clean = clean_marker.exists();
    let mut report = RecoveryReport { clean_shutdown: clean, ..Default::default() };
    let mut bases = Vec::new();
    let mut index_files = Vec::new();
    for entry in std::fs::read_dir(dir).ctx("list", dir)? {
        let entry = entry.ctx("list", dir)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        let Some((stem, suffix)) = name.split_once('.') else { continue };
        // Twenty digits, as the store names segments: no sign, so never a negative base.
        let base = (stem.len() == 20 && stem.bytes().all(|c| c.is_ascii_digit())).then(|| stem.parse::<i64>().ok()).flatten();
        match (base, suffix) {
            (Some(b), "log") => bases.push(b),
            (Some(b), "index" | "timeindex") => index_files.push((b, path)),
            (Some(_), s) if s.ends_with(".swap") || s.ends_with(".cleaned") || s.ends_with(".deleted") => {
                std::fs::remove_file(&path).ctx("remove", &path)?;
                report.notes.push(format!("removed leftover temporary file {name}"));
            }
            _ => {}
        }
    }
    bases.sort_unstable();
    for (b, path) in index_files {
        if bases.binary_search(&b).is_err() {
            std::fs::remove_file(&path).ctx("remove", &path)?;
        }
    }
    let mut log_start = checkpoint::read_offset(dir, LOG_START_OFFSET).unwrap_or(0).max(0);
    let recovery_point = checkpoint::read_offset(dir, RECOVERY_POINT).unwrap_or(0);

    // Segments wholly below the log start were being deleted when we stopped.
    while bases.len() > 1 && bases[1] <= log_start {
        let seg = bases.remove(0);
        for suffix in ["log", "index", "timeindex"] {
            let _ = std::fs::remove_file(dir.join(file_name(seg, suffix)));
        }
        report.segments_deleted += 1;
        report.notes.push(format!("deleted segment {seg} below the log start offset {log_start}"));
    }
    if let Some(&first) = bases.first() {
        log_start = log_start.max(first);
    }

    let sizes = config.sizes();
    let mut segments = BTreeMap::new();
    let recover_from = if clean { i64::MAX } else { *bases.iter().rev().find(|&&b| b <= recovery_point).unwrap_or(&i64::MIN) };
    let mut prev_end = log_start.min(bases.first().copied().unwrap_or(log_start));
    // The floor the previous segment was recovered against.
    let mut prev_floor = prev_end;
    let mut i = 0;
    while i < bases.len() {
        let base = bases[i];
        if base < prev_end {
            // This segment starts below where the previous one ends: the files
            // overlap, so from here on nothing is reliable (as after a cut) and
            // the previous segment becomes the active one.
            drop_segments_from(dir, &mut bases, i, "it overlaps the segment before it", &mut report);
            let prev_base = bases[i - 1];
            drop(segments.remove(&prev_base));
            let mut prev = Segment::open(dir, prev_base, sizes, true, now)?.0;
            prev.recover(dir, sizes, prev_floor)?;
            report.segments_recovered += 1;
            segments.insert(prev_base, prev);
            break;
        }
        let last = i + 1 == bases.len();
        let (mut seg, needs_rebuild) = Segment::open(dir, base, sizes, last, now)?;
        if needs_rebuild || base >= recover_from {
            let outcome = seg.recover(dir, sizes, prev_end)?;
            report.segments_recovered += 1;
            if needs_rebuild && base < recover_from {
                report.notes.push(format!("segment {}: indexes missing or inconsistent, rebuilt from the log", file_name(base, "log")));
            }
            if outcome.truncated_bytes > 0 {
                report.bytes_truncated += outcome.truncated_bytes as u64;
                report.torn_bytes_truncated += outcome.torn_bytes as u64;
                let what = if outcome.torn_bytes > 0 {
                    format!("{} of them a torn or corrupt batch", outcome.torn_bytes)
                } else {
                    "all zeros".to_string()
                };
                report.notes.push(format!(
                    "segment {}: cut {} bytes after the last valid batch at byte {} ({} valid batches), {what}",
                    file_name(base, "log"),
                    outcome.truncated_bytes,
                    outcome.valid_bytes,
                    outcome.batches
                ));
            }
            if outcome.truncated_bytes > 0 && !last {
                // Everything after a corrupt point is unreliable: later segments go
                // and this one becomes the active segment.
                drop_segments_from(dir, &mut bases, i + 1, "it comes after the cut", &mut report);
                drop(seg);
                seg = Segment::open(dir, base, sizes, true, now)?.0;
                seg.recover(dir, sizes, prev_end)?;
            } else if !last {
                seg.seal()?;
            }
        } else if last {
            seg.log.preallocate()?;
        }
        prev_floor = prev_end;
        prev_end = seg.next_offset;
        segments.insert(base, seg);
        i += 1;
    }
    let end = segments.values().next_back().map_or(log_start, |s| s.next_offset);
    if end < log_start {
        // The log start was made durable but data up to it was lost (a tail
        // cut by recovery): nothing left is readable, so start empty there.
        for (base, seg) in std::mem::take(&mut segments) {
            remove_segment(dir, seg)?;
            report.segments_deleted += 1;
            report
                .notes
                .push(format!("deleted segment {}: the log ends at {end}, below the log start offset {log_start}", file_name(base, "log")));
        }
    }
    if segments.is_empty() {
        segments.insert(log_start, Segment::create(dir, log_start, sizes, now)?);
    }
    let state = State { segments, config, log_start, closed: false };
    let end = state.log_end();
    let recovery_point = if clean { end } else { recovery_point.min(end) };
    // From here on a crash must be noticed: the marker goes, durably.
    if clean {
        std::fs::remove_file(&clean_marker).ctx("remove", &clean_marker)?;
    }
    checkpoint::write_offset(dir, RECOVERY_POINT, recovery_point)?;
    Ok((state, report, recovery_point))
}

/// Deletes the files of the segments `bases[from..]` while loading, and forgets them.
fn drop_segments_from(dir: &Path, bases: &mut Vec<i64>, from: usize, why: &str, report: &mut RecoveryReport) {
    for &later in &bases[from..] {
        for suffix in ["log", "index", "timeindex"] {
            let _ = std::fs::remove_file(dir.join(file_name(later, suffix)));
        }
        report.segments_deleted += 1;
        report.notes.push(format!("deleted segment {}: {why}", file_name(later, "log")));
    }
    bases.truncate(from);
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn f<T: Send + Sync>() {}
    f::<Log>();
    f::<ReadSlice>();
    let _ = BatchHeader::parse;
}
