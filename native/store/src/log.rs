//! A `Log` is one partition directory: an ordered set of segments and the
//! log start offset. Here: appends and rolls, reads, retention and truncation,
//! flush and close. Recovery at open is the loader's (`loader.rs`), the
//! settings are `config.rs`'s, and sharing one open log between the handles
//! of a process is `open_logs.rs`'s.

use std::collections::BTreeMap;
use std::io::Write;
use std::ops::{Deref, DerefMut};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::{Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::batch::{self, BatchHeader};
use crate::checkpoint::{self, CLEAN_SHUTDOWN, LOG_START_OFFSET, RECOVERY_POINT};
use crate::config::{LogConfig, TimestampType};
use crate::error::{IoContext, Result, StoreError};
use crate::gather::{self, Pieces};
use crate::loader::{self, LoadedLog, RecoveryReport};
use crate::lock::DirLock;
use crate::log_file::ReadMap;
use crate::offline::{self, OfflineCause, OfflineState};
use crate::open_logs;
use crate::producer_state::{AppendCheck, ProducerState};
use crate::read_check::{check_stored_batch, Corruption};
use crate::segment::{file_name, Segment};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendInfo {
    pub base_offset: i64,
    pub last_offset: i64,
    /// Byte position of the first appended batch in its segment file.
    pub position: u64,
    /// The time stamped on the batches under LogAppendTime, else -1.
    pub log_append_time: i64,
    /// The append repeated batches an idempotent producer already stored:
    /// nothing was written, the offsets are the stored batch's (`position` 0).
    pub duplicate: bool,
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

struct State {
    segments: BTreeMap<i64, Segment>,
    config: LogConfig,
    log_start: i64,
    closed: bool,
    producers: ProducerState,
}

impl State {
    // A log always has an active segment (truncation builds its replacement
    // before it swaps it in); an empty map is an error, never a panic.
    fn active(&self) -> Result<&Segment> {
        self.segments.values().next_back().ok_or_else(no_active_segment)
    }
    fn active_mut(&mut self) -> Result<&mut Segment> {
        self.segments.values_mut().next_back().ok_or_else(no_active_segment)
    }
    fn log_end(&self) -> Result<i64> {
        Ok(self.active()?.next_offset)
    }
}

fn no_active_segment() -> StoreError {
    StoreError::io("find the active segment of", Path::new("the log"), std::io::Error::other("the log has no segment"))
}

/// The state locked for a change. A panic while it is held takes the log
/// offline before the lock is let go, so no other call sees a half-made change.
struct WriteState<'a> {
    st: RwLockWriteGuard<'a, State>,
    offline: &'a OfflineState,
}

impl Deref for WriteState<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        &self.st
    }
}

impl DerefMut for WriteState<'_> {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.st
    }
}

impl Drop for WriteState<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.offline.mark();
        }
    }
}

/// The log itself, which every handle on it shares.
pub(crate) struct Shared {
    dir: PathBuf,
    state: RwLock<State>,
    /// Offsets below this are known durable; persisted when it enters a new segment.
    recovery_point: Mutex<(i64, i64)>,
    /// Set by the first write or fsync error (or panic); see `offline`.
    offline: Arc<OfflineState>,
    handles: AtomicUsize,
    generation: AtomicU64,
    report: RecoveryReport,
    syncs: Mutex<Vec<JoinHandle<()>>>,
    /// One flush at a time: a flush that finds nothing dirty must not return
    /// while another is still syncing what it cleared.
    flushing: Mutex<()>,
    lock: Mutex<Option<DirLock>>,
}

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
        let open = || open_logs::share_or_open(&dir, || Shared::open(&dir, config, now));
        let (shared, opened_directory) = std::panic::catch_unwind(AssertUnwindSafe(open)).unwrap_or_else(|payload| {
            Err(StoreError::Offline {
                dir: dir.clone(),
                cause: Arc::new(OfflineCause::panic("open", &dir, &offline::panic_message(&*payload))),
            })
        })?;
        Ok(Log { shared, closed: AtomicBool::new(false), opened_directory })
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
        self.shared.offline.check(&self.shared.dir)?;
        Ok(st)
    }

    fn write_state(&self) -> Result<WriteState<'_>> {
        let st = self.shared.state.write();
        if st.closed || self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Closed(self.shared.dir.clone()));
        }
        self.shared.offline.check(&self.shared.dir)?;
        Ok(WriteState { st, offline: &self.shared.offline })
    }

    /// Runs one call of the log's API: a panic inside takes the log offline
    /// and comes back as `StoreError::Offline` naming it.
    fn guarded<T>(&self, op: &str, call: impl FnOnce() -> Result<T>) -> Result<T> {
        std::panic::catch_unwind(AssertUnwindSafe(call))
            .unwrap_or_else(|payload| Err(self.shared.offline.fail_after_panic(&self.shared.dir, op, &*payload)))
    }

    /// Takes the log offline because of `error`, and returns what to report.
    fn fail(&self, error: StoreError) -> StoreError {
        self.shared.offline.fail(&self.shared.dir, error)
    }

    /// `fail`, except for a refusal for lack of room, which left nothing changed.
    fn unless_lack_of_room(&self, error: StoreError) -> StoreError {
        if error.is_lack_of_room() {
            error
        } else {
            self.fail(error)
        }
    }

    /// Takes the log offline after a panic a caller caught around a call on
    /// it (the binding's own code), and returns the error to report.
    pub fn fail_after_panic(&self, op: &str, payload: &(dyn std::any::Any + Send)) -> StoreError {
        self.shared.offline.fail_after_panic(&self.shared.dir, op, payload)
    }

    /// True once an error (or a panic) took the log offline; every call then
    /// fails with `StoreError::Offline` until the log is closed and reopened.
    pub fn is_offline(&self) -> bool {
        self.shared.offline.is_offline()
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
        self.read_state()?.log_end()
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
        self.guarded("append", || self.append_unguarded(batches, now))
    }

    fn append_unguarded(&self, batches: &[u8], now: i64) -> Result<AppendInfo> {
        let mut st = self.write_state()?;
        offline::forced_panic_for_test(&self.shared.dir);
        let config = st.config;
        let incoming = batch::validate_append(batches, config.max_message_bytes)?;
        if let AppendCheck::Duplicate { first_offset, last_offset, timestamp } = st.producers.check(incoming.iter().map(|b| &b.header))? {
            return Ok(duplicate(first_offset, last_offset, timestamp, config));
        }
        if batches.len() as u64 > config.segment_bytes {
            return Err(StoreError::RecordListTooLarge { size: batches.len() as u64, limit: config.segment_bytes });
        }
        let records: i64 = incoming.iter().map(|b| b.header.last_offset_delta as i64 + 1).sum();
        let end = st.log_end()?;
        if end.checked_add(records).is_none() {
            let reason = format!("{records} records at log end offset {end} would pass the largest offset {}", i64::MAX);
            return Err(StoreError::InvalidRecord { position: 0, reason });
        }
        let max_ts = incoming.iter().map(|b| b.header.max_timestamp).max().unwrap_or(-1);
        self.maybe_roll(&mut st, batches.len(), records, max_ts, now)?;
        let log_append_time = (config.timestamp_type == TimestampType::LogAppendTime).then_some(now);
        let (base_offset, last_offset, position) =
            st.active_mut()?.append(batches, &incoming, log_append_time).map_err(|e| self.append_failed(e))?;
        record_producers(&mut st.producers, incoming.iter().map(|b| &b.header), base_offset, log_append_time);
        Ok(stored(base_offset, last_offset, position, log_append_time))
    }

    /// Appends batches given in pieces (see `gather`): validated as `append`
    /// validates, except that the store computes and stamps each CRC instead
    /// of checking the caller's. On any error nothing is written.
    pub fn append_gathered(&self, pieces: &Pieces<'_>, now: i64) -> Result<AppendInfo> {
        self.guarded("append", || self.append_gathered_unguarded(pieces, now))
    }

    fn append_gathered_unguarded(&self, pieces: &Pieces<'_>, now: i64) -> Result<AppendInfo> {
        let mut st = self.write_state()?;
        offline::forced_panic_for_test(&self.shared.dir);
        let config = st.config;
        let log_append_time = (config.timestamp_type == TimestampType::LogAppendTime).then_some(now);
        let mut gathered = gather::prepare(pieces, config.max_message_bytes, log_append_time)?;
        if let AppendCheck::Duplicate { first_offset, last_offset, timestamp } =
            st.producers.check(gathered.batches.iter().map(|b| &b.parsed))?
        {
            return Ok(duplicate(first_offset, last_offset, timestamp, config));
        }
        if gathered.len as u64 > config.segment_bytes {
            return Err(StoreError::RecordListTooLarge { size: gathered.len as u64, limit: config.segment_bytes });
        }
        let records: i64 = gathered.batches.iter().map(|b| b.parsed.last_offset_delta as i64 + 1).sum();
        let max_ts = gathered.batches.iter().map(|b| b.parsed.max_timestamp).max().unwrap_or(-1);
        self.maybe_roll(&mut st, gathered.len, records, max_ts, now)?;
        let (base_offset, last_offset, position) = st.active_mut()?.append_gathered(&mut gathered).map_err(|e| self.append_failed(e))?;
        record_producers(&mut st.producers, gathered.batches.iter().map(|b| &b.parsed), base_offset, log_append_time);
        Ok(stored(base_offset, last_offset, position, log_append_time))
    }

    /// A write the disk refused for lack of room and that was undone leaves
    /// the log as it was: the append fails and the log stays online. Any
    /// other write error (EIO, or a write that could not be undone) leaves
    /// the file in a state nobody knows: the log goes offline.
    fn append_failed(&self, error: StoreError) -> StoreError {
        if error.is_refused_append() {
            error
        } else {
            self.fail(error)
        }
    }

    fn maybe_roll(&self, st: &mut State, bytes: usize, records: i64, max_ts: i64, now: i64) -> Result<()> {
        let config = st.config;
        let seg = st.active()?;
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
        let base = st.log_end()?;
        if st.active()?.size == 0 {
            // An empty segment too small for the append: make it bigger. On
            // failure it stays as it was, still the active segment.
            st.active_mut()?.log.grow(sizes.capacity).map_err(|e| self.unless_lack_of_room(e))?;
            self.shared.generation.fetch_add(1, Ordering::AcqRel);
            return Ok(());
        }
        // A segment that cannot be made for lack of room is removed again and
        // the active one goes on; any other error creating it is offline.
        let fresh = Segment::create(&self.shared.dir, base, sizes, now).map_err(|e| self.unless_lack_of_room(e))?;
        if let Err(e) = st.active_mut()?.seal() {
            // Sealing stopped halfway (indexes trimmed, the log not): offline.
            let _ = fresh.delete(&self.shared.dir);
            return Err(self.fail(e));
        }
        let files = st.active()?.files_to_sync(&self.shared.dir);
        let (offline, dir) = (self.shared.offline.clone(), self.shared.dir.clone());
        // The sealed files are synced off the append path; an error takes the
        // log offline, and a flush waits for these syncs before it reports.
        let spawned = std::thread::Builder::new().name("fjord-roll-sync".into()).spawn(move || {
            if let Err(e) = sync_files(&files) {
                offline.fail(&dir, e);
            }
        });
        match spawned {
            Ok(sync) => {
                let mut syncs = self.shared.syncs.lock();
                syncs.retain(|h| !h.is_finished());
                syncs.push(sync);
            }
            // No thread to spare: sync here.
            Err(_) => sync_files(&st.active()?.files_to_sync(&self.shared.dir)).map_err(|e| self.fail(e))?,
        }
        st.segments.insert(base, fresh);
        Ok(())
    }

    /// Waits for the background syncs of rolled segments started so far.
    fn join_background_syncs(&self) {
        let pending: Vec<_> = self.shared.syncs.lock().drain(..).collect();
        join_syncs(pending, &self.shared.offline, &self.shared.dir);
    }

    /// Whole batches starting with the one that holds `offset`, up to
    /// `max_bytes` but always at least one batch. `None` at the log end.
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<Option<ReadSlice>> {
        self.guarded("read", || self.read_unguarded(offset, max_bytes))
    }

    fn read_unguarded(&self, offset: i64, max_bytes: usize) -> Result<Option<ReadSlice>> {
        let st = self.read_state()?;
        let end = st.log_end()?;
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
                let reason = check_stored_batch(&bytes[start..], None, seg.base, seg.next_offset)
                    .err()
                    .unwrap_or_else(|| "no whole batch header at this position".into());
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
        self.guarded("offset for timestamp", || self.offset_for_timestamp_unguarded(timestamp))
    }

    fn offset_for_timestamp_unguarded(&self, timestamp: i64) -> Result<Option<i64>> {
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
        self.guarded("delete segments", || self.delete_segments_before_unguarded(offset))
    }

    fn delete_segments_before_unguarded(&self, offset: i64) -> Result<usize> {
        let mut st = self.write_state()?;
        let end = st.log_end()?;
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
        self.guarded("delete segments", || self.delete_oldest_segment_unguarded())
    }

    fn delete_oldest_segment_unguarded(&self) -> Result<bool> {
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
                seg.delete(&self.shared.dir)?;
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
    ///
    /// Create before delete, as Kafka's `truncateFullyAndStartAt`: the kept
    /// prefix of the floor segment is written to a new file and renamed over
    /// the old one (a mapping a reader holds keeps the old inode), and the
    /// segment is swapped in the map only once its replacement is open. A
    /// failure before the log's own files change (ENOSPC writing the copy)
    /// leaves the log as it was; one after takes it offline.
    pub fn truncate_to(&self, offset: i64) -> Result<i64> {
        self.guarded("truncate", || self.truncate_to_unguarded(offset))
    }

    fn truncate_to_unguarded(&self, offset: i64) -> Result<i64> {
        let mut st = self.write_state()?;
        let end = st.log_end()?;
        if offset < st.log_start {
            return Err(StoreError::OffsetOutOfRange { offset, start: st.log_start, end });
        }
        if offset >= end {
            return Ok(end);
        }
        let dir = self.shared.dir.clone();
        let base = floor_base(&st.segments, offset);
        let floor = st.segments.get(&base).ok_or_else(no_active_segment)?;
        let map = floor.read_map()?;
        let cut = floor.find_position(&map, offset);
        let log_path = dir.join(file_name(base, "log"));
        let swap = dir.join(file_name(base, crate::loader::TRUNCATE_SWAP_SUFFIX));
        if let Err(e) = write_synced(&swap, map.slice(0, cut)) {
            // The copy is not part of the log: remove it, the log is unchanged.
            let _ = std::fs::remove_file(&swap);
            return Err(e);
        }
        drop(map);
        // From here on the log's own files change.
        let sizes = st.config.sizes();
        let replaced = (|| {
            // Later segments go first: a crash before the rename then leaves a
            // log that ends at the old floor's end, never one with a gap.
            let later: Vec<i64> = st.segments.range(base + 1..).map(|(b, _)| *b).collect();
            for b in later.into_iter().rev() {
                if let Some(seg) = st.segments.remove(&b) {
                    seg.delete(&dir)?;
                }
            }
            std::fs::rename(&swap, &log_path).ctx("rename", &log_path)?;
            checkpoint::sync_dir(&dir)?;
            let (mut seg, _) = Segment::open(&dir, base, sizes, true, now_ms())?;
            seg.recover(&dir, sizes, base)?;
            Ok(seg)
        })();
        let seg = replaced.map_err(|e| self.fail(e))?;
        let new_end = seg.next_offset;
        st.segments.insert(base, seg);
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
        st.producers = ProducerState::reload(&dir, &st.segments, st.log_start, new_end).map_err(|e| self.fail(e))?;
        if new_end < st.log_start {
            // The cut batch straddled the log start: the start comes down with the end.
            checkpoint::write_offset(&dir, LOG_START_OFFSET, new_end).map_err(|e| self.fail(e))?;
            st.log_start = new_end;
        }
        drop(st);
        let mut rp = self.shared.recovery_point.lock();
        if rp.0 > new_end {
            checkpoint::write_offset(&dir, RECOVERY_POINT, new_end).map_err(|e| self.fail(e))?;
            *rp = (new_end, base);
        }
        Ok(new_end)
    }

    /// fsyncs every changed segment's log and index files. Appends go on
    /// meanwhile; the lock is held only to collect the files. A failed fsync
    /// takes the log offline: the pages it lost may read back as written, and
    /// a second fsync of the file would report success.
    pub fn flush(&self) -> Result<()> {
        self.guarded("flush", || self.flush_unguarded())
    }

    fn flush_unguarded(&self) -> Result<()> {
        let _one_at_a_time = self.shared.flushing.lock();
        let (files, end, end_base) = {
            let st = self.read_state()?;
            // The active segment's indexes are not synced: a crash always
            // recovers the active segment, rebuilding them from the log.
            let active_base = st.active()?.base;
            let mut files = Vec::new();
            for seg in st.segments.values() {
                if seg.dirty.swap(false, Ordering::AcqRel) {
                    let mut group = seg.files_to_sync(&self.shared.dir);
                    if seg.base == active_base {
                        group.truncate(1);
                    }
                    files.extend(group);
                }
            }
            (files, st.log_end()?, st.active()?.base)
        };
        sync_files(&files).map_err(|e| self.fail(e))?;
        // A rolled segment's background sync may have taken the error this
        // flush's fsync of the same file no longer sees.
        self.join_background_syncs();
        self.shared.offline.check(&self.shared.dir)?;
        let mut rp = self.shared.recovery_point.lock();
        if end > rp.0 {
            if end_base != rp.1 {
                checkpoint::write_offset(&self.shared.dir, RECOVERY_POINT, end).map_err(|e| self.fail(e))?;
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
        self.guarded("close", || self.shared.close())
    }
}

impl Log {
    /// The largest producer id in the log's batches, -1 for none: producer id
    /// allocation starts above it.
    pub fn max_producer_id(&self) -> Result<i64> {
        Ok(self.read_state()?.producers.max_producer_id())
    }

    /// What the log holds of a producer: its epoch and last batches.
    pub fn producer(&self, producer_id: i64) -> Result<Option<crate::producer_state::ProducerEntry>> {
        Ok(self.read_state()?.producers.entry(producer_id).cloned())
    }

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
        self.shared.lock.lock().take();
        open_logs::forget(&self.shared.dir);
    }
}

impl Shared {
    /// Takes the directory's lock and loads it (see `loader`).
    fn open(dir: &Path, config: LogConfig, now: i64) -> Result<Shared> {
        let lock = DirLock::acquire(dir)?;
        let LoadedLog { segments, log_start, recovery_point, report } = loader::load(dir, config, now)?;
        let seg_of_rp = floor_base(&segments, recovery_point);
        let end = segments.values().next_back().map_or(log_start, |s| s.next_offset);
        let producers = ProducerState::load(dir, &segments, log_start, end, report.clean_shutdown)?;
        Ok(Shared {
            dir: dir.to_path_buf(),
            state: RwLock::new(State { segments, config, log_start, closed: false, producers }),
            recovery_point: Mutex::new((recovery_point, seg_of_rp)),
            offline: Arc::new(OfflineState::default()),
            handles: AtomicUsize::new(1),
            generation: AtomicU64::new(1),
            report,
            syncs: Mutex::new(Vec::new()),
            flushing: Mutex::new(()),
            lock: Mutex::new(Some(lock)),
        })
    }

    /// Counts one more handle, unless the log is already closed.
    pub(crate) fn add_handle(&self) -> bool {
        if self.state.read().closed {
            return false;
        }
        self.handles.fetch_add(1, Ordering::SeqCst);
        true
    }

    /// Closes the log. An offline log writes nothing (no checkpoint, no
    /// clean-shutdown marker: the next open recovers from the files) and
    /// closes without error; a close whose own fsync fails reports it.
    fn close(&self) -> Result<()> {
        let mut st = self.state.write();
        if st.closed {
            return Ok(());
        }
        st.closed = true;
        let result = if self.offline.is_offline() {
            Ok(())
        } else {
            (|| {
                st.active_mut()?.seal()?;
                let mut files = Vec::new();
                for seg in st.segments.values() {
                    if seg.dirty.swap(false, Ordering::AcqRel) {
                        files.extend(seg.files_to_sync(&self.dir));
                    }
                }
                sync_files(&files)?;
                let pending: Vec<_> = self.syncs.lock().drain(..).collect();
                join_syncs(pending, &self.offline, &self.dir);
                self.offline.check(&self.dir)?;
                checkpoint::write_offset(&self.dir, LOG_START_OFFSET, st.log_start)?;
                checkpoint::write_offset(&self.dir, RECOVERY_POINT, st.log_end()?)?;
                st.producers.write_snapshot(&self.dir, st.log_end()?)?;
                std::fs::write(self.dir.join(CLEAN_SHUTDOWN), b"").ctx("write", &self.dir.join(CLEAN_SHUTDOWN))?;
                checkpoint::sync_dir(&self.dir)
            })()
            .map_err(|e| self.offline.fail(&self.dir, e))
        };
        let pending: Vec<_> = self.syncs.lock().drain(..).collect();
        join_syncs(pending, &self.offline, &self.dir);
        st.segments.clear();
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.lock.lock().take();
        result
    }
}

/// fsyncs files in order; the first failure names its file.
fn sync_files(files: &[(PathBuf, Arc<std::fs::File>)]) -> Result<()> {
    for (path, file) in files {
        file.sync_data().ctx("fsync", path)?;
    }
    Ok(())
}

/// Joins background syncs; one whose thread panicked takes the log offline.
fn join_syncs(pending: Vec<JoinHandle<()>>, offline: &OfflineState, dir: &Path) {
    for handle in pending {
        if let Err(payload) = handle.join() {
            offline.fail_after_panic(dir, "a background sync", &*payload);
        }
    }
}

/// Writes `bytes` to a new file at `path` and fsyncs it through the same descriptor.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = std::fs::File::create(path).ctx("create", path)?;
    file.write_all(bytes).ctx("write", path)?;
    file.sync_all().ctx("fsync", path)
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

/// What an append that wrote its batches at `position` reports.
fn stored(base_offset: i64, last_offset: i64, position: usize, log_append_time: Option<i64>) -> AppendInfo {
    AppendInfo { base_offset, last_offset, position: position as u64, log_append_time: log_append_time.unwrap_or(-1), duplicate: false }
}

/// The answer to an append the producer state found already stored.
fn duplicate(first_offset: i64, last_offset: i64, timestamp: i64, config: LogConfig) -> AppendInfo {
    let log_append_time = if config.timestamp_type == TimestampType::LogAppendTime { timestamp } else { -1 };
    AppendInfo { base_offset: first_offset, last_offset, position: 0, log_append_time, duplicate: true }
}

/// Records appended batches, stored from `base_offset` on, in the producer state.
fn record_producers<'a>(
    producers: &mut ProducerState,
    headers: impl Iterator<Item = &'a BatchHeader>,
    base_offset: i64,
    log_append_time: Option<i64>,
) {
    let mut offset = base_offset;
    for h in headers {
        producers.update(h, offset, log_append_time.unwrap_or(h.max_timestamp));
        offset += h.last_offset_delta as i64 + 1;
    }
}

fn corrupt_batch(seg: &Segment, bad: Corruption) -> StoreError {
    StoreError::CorruptStoredBatch { file: seg.log.path.clone(), position: bad.position as u64, offset: bad.offset, reason: bad.reason }
}

fn floor_base(segments: &BTreeMap<i64, Segment>, offset: i64) -> i64 {
    segments.range(..=offset).next_back().or_else(|| segments.iter().next()).map_or(0, |(b, _)| *b)
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn f<T: Send + Sync>() {}
    f::<Log>();
    f::<ReadSlice>();
    let _ = BatchHeader::parse;
}
