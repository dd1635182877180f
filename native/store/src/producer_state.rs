//! Idempotent producers' state in one partition log, as Kafka's
//! `ProducerStateManager`: per producer id its epoch and the metadata of its
//! last five batches (sequence range, offsets, timestamp). An append is
//! checked against it before anything is written: a batch already stored is a
//! duplicate (acknowledged with the stored batch's offsets, not written again),
//! a gap in the sequence is OUT_OF_ORDER_SEQUENCE_NUMBER, an older epoch is
//! INVALID_PRODUCER_EPOCH. A producer id the log does not know is accepted at
//! any sequence, as Kafka accepts it since KIP-360 (its state may have been
//! removed with old segments), so UNKNOWN_PRODUCER_ID is never returned.
//! Transactional batches and transaction markers are recorded, not checked:
//! Fjord has no transaction coordinator, so they reach a log only as batches a
//! Kafka broker wrote (Kafka checks those only in its broker's own appends).
//!
//! At clean close the state goes to `<log end offset>.snapshot` in Kafka's
//! producer snapshot format (version 1), so a Kafka broker adopting the
//! directory reads it, and the checkpoint `fjord-producer-snapshot` names the
//! snapshot Fjord wrote. At open the state is that snapshot (without one, the
//! latest snapshot at or below the log end, e.g. a Kafka broker's) plus the
//! batch headers after it. With no snapshot at all, a log shut down cleanly
//! starts with no producers, as Kafka's loader does for a log written before
//! it kept producer state (no scan of the whole log); after a crash, the
//! headers of the whole log are read. Fjord deletes only a snapshot its
//! checkpoint names.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};

use crate::batch::{increment_sequence, BatchHeader, CONTROL, TRANSACTIONAL};
use crate::checkpoint;
use crate::error::{IoContext, Result, StoreError};
use crate::segment::{file_name, parse_file_name, Segment};

/// Kafka keeps the metadata of this many batches per producer for duplicates.
pub const BATCHES_KEPT: usize = 5;
/// The checkpoint naming the snapshot Fjord wrote last.
pub(crate) const FJORD_SNAPSHOT: &str = "fjord-producer-snapshot";
const SNAPSHOT_VERSION: i16 = 1;
const SNAPSHOT_HEAD: usize = 10;
const SNAPSHOT_ENTRY: usize = 46;
const NO_EPOCH: i16 = -1;
const NO_SEQUENCE: i32 = -1;

/// One stored batch of a producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerBatch {
    pub first_sequence: i32,
    pub last_sequence: i32,
    pub first_offset: i64,
    pub last_offset: i64,
    pub timestamp: i64,
}

/// What the log knows of one producer id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducerEntry {
    pub epoch: i16,
    /// Oldest first, at most `BATCHES_KEPT`.
    pub batches: VecDeque<ProducerBatch>,
}

impl ProducerEntry {
    fn last_sequence(&self) -> i32 {
        self.batches.back().map_or(NO_SEQUENCE, |b| b.last_sequence)
    }
}

/// What an append's batches are, by the producer state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendCheck {
    /// New batches: write them.
    Append,
    /// A batch the log already holds, at these offsets: write nothing.
    Duplicate { first_offset: i64, last_offset: i64, timestamp: i64 },
}

#[derive(Debug, Default)]
pub struct ProducerState {
    producers: HashMap<i64, ProducerEntry>,
    /// The largest producer id the log has seen, -1 for none.
    max_producer_id: i64,
}

impl ProducerState {
    pub fn new() -> ProducerState {
        ProducerState { producers: HashMap::new(), max_producer_id: -1 }
    }

    pub fn entry(&self, producer_id: i64) -> Option<&ProducerEntry> {
        self.producers.get(&producer_id)
    }

    pub fn max_producer_id(&self) -> i64 {
        self.max_producer_id
    }

    pub fn len(&self) -> usize {
        self.producers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.producers.is_empty()
    }

    /// Checks a client's append (Kafka's validation for appends from a
    /// producer) without changing the state. Batches without a producer id,
    /// transactional batches and markers pass. The first batch found already stored makes the whole append a
    /// duplicate, as in Kafka.
    pub fn check<'a>(&self, headers: impl Iterator<Item = &'a BatchHeader>) -> Result<AppendCheck> {
        // Each producer's epoch and last sequence as the append's earlier batches leave them.
        let mut pending: HashMap<i64, (i16, i32)> = HashMap::new();
        for h in headers {
            if h.producer_id < 0 || h.attributes & (TRANSACTIONAL | CONTROL) != 0 {
                continue;
            }
            let stored = self.producers.get(&h.producer_id);
            if let Some(e) = stored.filter(|e| e.epoch == h.producer_epoch && !pending.contains_key(&h.producer_id)) {
                let last = h.last_sequence();
                if let Some(b) = e.batches.iter().find(|b| b.first_sequence == h.base_sequence && b.last_sequence == last) {
                    return Ok(AppendCheck::Duplicate { first_offset: b.first_offset, last_offset: b.last_offset, timestamp: b.timestamp });
                }
            }
            if h.base_sequence < 0 {
                let reason = format!("batch from producer {} carries no sequence number", h.producer_id);
                return Err(StoreError::InvalidRecord { position: 0, reason });
            }
            let current = pending.get(&h.producer_id).copied().or_else(|| stored.map(|e| (e.epoch, e.last_sequence())));
            match current {
                Some((epoch, _)) if h.producer_epoch < epoch => {
                    return Err(StoreError::InvalidProducerEpoch { producer_id: h.producer_id, epoch: h.producer_epoch, current: epoch });
                }
                // A new epoch starts its sequences at 0.
                Some((epoch, _)) if h.producer_epoch != epoch && h.base_sequence != 0 && epoch != NO_EPOCH => {
                    return Err(out_of_order(h, "0 (the first of a new epoch)".into()));
                }
                Some((epoch, _)) if h.producer_epoch != epoch => {}
                Some((_, NO_SEQUENCE)) if h.base_sequence != 0 => return Err(out_of_order(h, "0".into())),
                Some((_, last)) if last != NO_SEQUENCE && h.base_sequence != increment_sequence(last, 1) => {
                    return Err(out_of_order(h, format!("{}", increment_sequence(last, 1))));
                }
                _ => {}
            }
            pending.insert(h.producer_id, (h.producer_epoch, h.last_sequence()));
        }
        Ok(AppendCheck::Append)
    }

    /// Records a batch stored at `base_offset` (its header's base offset is
    /// ignored) with `timestamp`, as the log holds it.
    pub fn update(&mut self, h: &BatchHeader, base_offset: i64, timestamp: i64) {
        if h.producer_id < 0 {
            return;
        }
        self.max_producer_id = self.max_producer_id.max(h.producer_id);
        let e = self.producers.entry(h.producer_id).or_insert_with(|| ProducerEntry { epoch: NO_EPOCH, batches: VecDeque::new() });
        if e.epoch != h.producer_epoch {
            e.epoch = h.producer_epoch;
            e.batches.clear();
        }
        // A transaction marker moves the epoch only.
        if h.is_control() || h.base_sequence < 0 {
            return;
        }
        if e.batches.len() == BATCHES_KEPT {
            e.batches.pop_front();
        }
        let last_offset = base_offset + h.last_offset_delta as i64;
        e.batches.push_back(ProducerBatch {
            first_sequence: h.base_sequence,
            last_sequence: h.last_sequence(),
            first_offset: base_offset,
            last_offset,
            timestamp,
        });
    }

    /// Replays the headers of every batch at or after `from` in `segments`.
    pub(crate) fn replay(&mut self, segments: &BTreeMap<i64, Segment>, from: i64) -> Result<()> {
        for seg in segments.values() {
            if seg.next_offset <= from || seg.size == 0 {
                continue;
            }
            let map = seg.read_map()?;
            let mut pos = if seg.base < from { seg.find_position(&map, from) } else { 0 };
            while let Some(h) = Segment::header_at(&map, pos, seg.size) {
                if h.last_offset() >= from {
                    self.update(&h, h.base_offset, h.max_timestamp);
                }
                pos += h.size;
            }
        }
        Ok(())
    }

    /// The state of a log just loaded (see the module's comment); `clean`:
    /// the log was shut down cleanly.
    pub(crate) fn load(dir: &Path, segments: &BTreeMap<i64, Segment>, log_start: i64, log_end: i64, clean: bool) -> Result<ProducerState> {
        forget_snapshot_above(dir, log_end)?;
        let trusted = match checkpoint::read_offset(dir, FJORD_SNAPSHOT) {
            Some(offset) => Some(offset),
            None => list_snapshots(dir)?.into_iter().filter(|&o| o <= log_end).max(),
        };
        let mut state = ProducerState::new();
        if trusted.is_none() && clean {
            return Ok(state);
        }
        let mut from = log_start;
        if let Some(offset) = trusted {
            // A snapshot that fails its CRC or does not parse is not used: replay the whole log.
            if let Some(loaded) = read_snapshot(&snapshot_path(dir, offset)) {
                state = loaded;
                from = offset.max(log_start);
            }
        }
        state.replay(segments, from)?;
        Ok(state)
    }

    /// The state after the log was cut back to `log_end`.
    pub(crate) fn reload(dir: &Path, segments: &BTreeMap<i64, Segment>, log_start: i64, log_end: i64) -> Result<ProducerState> {
        Self::load(dir, segments, log_start, log_end, false)
    }

    /// Writes the state as `<offset>.snapshot` (unless a snapshot Fjord did not
    /// write is there), names it in Fjord's checkpoint, then deletes the
    /// snapshot Fjord wrote before. Called at clean close with the log end.
    pub(crate) fn write_snapshot(&self, dir: &Path, offset: i64) -> Result<()> {
        let previous = checkpoint::read_offset(dir, FJORD_SNAPSHOT);
        if previous == Some(offset) && snapshot_path(dir, offset).exists() {
            return Ok(());
        }
        let path = snapshot_path(dir, offset);
        if path.exists() {
            // Kafka's own snapshot of this very offset: it describes the same log. Leave it.
            return Ok(());
        }
        let tmp = dir.join(format!("{}.tmp", file_name(offset, "snapshot")));
        std::fs::write(&tmp, self.encode()).ctx("write", &tmp)?;
        std::fs::File::open(&tmp).and_then(|f| f.sync_all()).ctx("fsync", &tmp)?;
        std::fs::rename(&tmp, &path).ctx("rename", &path)?;
        checkpoint::write_offset(dir, FJORD_SNAPSHOT, offset)?;
        if let Some(old) = previous.filter(|&o| o != offset) {
            let old = snapshot_path(dir, old);
            match std::fs::remove_file(&old) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(StoreError::io("remove", &old, e)),
                _ => {}
            }
        }
        Ok(())
    }

    /// Kafka's producer snapshot, version 1: version i16, CRC-32C (u32) of the
    /// rest, then an i32 count of entries of producer id i64, epoch i16, last
    /// sequence i32, last offset i64, offset delta i32, timestamp i64,
    /// coordinator epoch i32 and current transaction's first offset i64.
    fn encode(&self) -> Vec<u8> {
        let mut ids: Vec<i64> = self.producers.keys().copied().collect();
        ids.sort_unstable();
        let mut out = Vec::with_capacity(SNAPSHOT_HEAD + ids.len() * SNAPSHOT_ENTRY);
        out.extend_from_slice(&SNAPSHOT_VERSION.to_be_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&(ids.len() as i32).to_be_bytes());
        for id in ids {
            let e = &self.producers[&id];
            let last = e.batches.back();
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&e.epoch.to_be_bytes());
            out.extend_from_slice(&last.map_or(NO_SEQUENCE, |b| b.last_sequence).to_be_bytes());
            out.extend_from_slice(&last.map_or(-1i64, |b| b.last_offset).to_be_bytes());
            out.extend_from_slice(&last.map_or(0i32, |b| (b.last_offset - b.first_offset) as i32).to_be_bytes());
            out.extend_from_slice(&last.map_or(-1i64, |b| b.timestamp).to_be_bytes());
            out.extend_from_slice(&(-1i32).to_be_bytes());
            out.extend_from_slice(&(-1i64).to_be_bytes());
        }
        let crc = crc32c::crc32c(&out[6..]);
        out[2..6].copy_from_slice(&crc.to_be_bytes());
        out
    }
}

/// Reads a Kafka producer snapshot; `None` when it is missing, damaged or of
/// another version. Each producer keeps its last batch only, as in Kafka.
pub(crate) fn read_snapshot(path: &Path) -> Option<ProducerState> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() < SNAPSHOT_HEAD || i16::from_be_bytes([bytes[0], bytes[1]]) != SNAPSHOT_VERSION {
        return None;
    }
    if crc32c::crc32c(&bytes[6..]) != u32::from_be_bytes(bytes[2..6].try_into().ok()?) {
        return None;
    }
    let count = i32::from_be_bytes(bytes[6..10].try_into().ok()?);
    if count < 0 || bytes.len() != SNAPSHOT_HEAD + count as usize * SNAPSHOT_ENTRY {
        return None;
    }
    let mut state = ProducerState::new();
    for e in bytes[SNAPSHOT_HEAD..].chunks_exact(SNAPSHOT_ENTRY) {
        let id = i64::from_be_bytes(e[0..8].try_into().ok()?);
        let epoch = i16::from_be_bytes(e[8..10].try_into().ok()?);
        let last_sequence = i32::from_be_bytes(e[10..14].try_into().ok()?);
        let last_offset = i64::from_be_bytes(e[14..22].try_into().ok()?);
        let offset_delta = i32::from_be_bytes(e[22..26].try_into().ok()?);
        let timestamp = i64::from_be_bytes(e[26..34].try_into().ok()?);
        let mut batches = VecDeque::new();
        if last_sequence >= 0 && last_offset >= 0 {
            let first_sequence =
                if last_sequence >= offset_delta { last_sequence - offset_delta } else { i32::MAX - (offset_delta - last_sequence) + 1 };
            batches.push_back(ProducerBatch {
                first_sequence,
                last_sequence,
                first_offset: last_offset - offset_delta as i64,
                last_offset,
                timestamp,
            });
        }
        state.max_producer_id = state.max_producer_id.max(id);
        state.producers.insert(id, ProducerEntry { epoch, batches });
    }
    Some(state)
}

/// Deletes Fjord's snapshot if it lies above `log_end` (the log lost or cut
/// the batches it describes), and its checkpoint with it.
fn forget_snapshot_above(dir: &Path, log_end: i64) -> Result<()> {
    let Some(offset) = checkpoint::read_offset(dir, FJORD_SNAPSHOT).filter(|&o| o > log_end) else { return Ok(()) };
    let checkpoint_path = dir.join(FJORD_SNAPSHOT);
    std::fs::remove_file(&checkpoint_path).ctx("remove", &checkpoint_path)?;
    checkpoint::sync_dir(dir)?;
    let path = snapshot_path(dir, offset);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::io("remove", &path, e)),
        _ => Ok(()),
    }
}

fn snapshot_path(dir: &Path, offset: i64) -> PathBuf {
    dir.join(file_name(offset, "snapshot"))
}

/// The offsets of the `<offset>.snapshot` files in `dir`.
fn list_snapshots(dir: &Path) -> Result<Vec<i64>> {
    let mut offsets = Vec::new();
    for entry in std::fs::read_dir(dir).ctx("list", dir)? {
        let entry = entry.ctx("list", dir)?;
        if let Some((offset, "snapshot")) = parse_file_name(&entry.file_name().to_string_lossy()) {
            offsets.push(offset);
        }
    }
    Ok(offsets)
}

fn out_of_order(h: &BatchHeader, expected: String) -> StoreError {
    StoreError::OutOfOrderSequence { producer_id: h.producer_id, epoch: h.producer_epoch, found: h.base_sequence, expected }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{Record, RecordBatchBuilder};

    fn header(id: i64, epoch: i16, seq: i32, records: usize) -> BatchHeader {
        let mut b = RecordBatchBuilder::new().producer(id, epoch, seq);
        for _ in 0..records {
            b.push(&Record { value: Some(b"v"), timestamp: 5, ..Default::default() });
        }
        BatchHeader::parse(&b.build()).unwrap()
    }

    #[test]
    fn duplicates_gaps_and_fenced_epochs_as_kafka_judges_them() {
        let mut s = ProducerState::new();
        let first = header(7, 0, 0, 3);
        assert_eq!(s.check([first].iter()).unwrap(), AppendCheck::Append);
        s.update(&first, 10, 5);
        assert_eq!(s.check([first].iter()).unwrap(), AppendCheck::Duplicate { first_offset: 10, last_offset: 12, timestamp: 5 });
        let gap = header(7, 0, 4, 1);
        assert_eq!(s.check([gap].iter()).unwrap_err().code(), "ERR_OUT_OF_ORDER_SEQUENCE_NUMBER");
        let next = header(7, 0, 3, 1);
        assert_eq!(s.check([next].iter()).unwrap(), AppendCheck::Append);
        s.update(&next, 13, 5);
        let bumped = header(7, 1, 0, 1);
        assert_eq!(s.check([bumped].iter()).unwrap(), AppendCheck::Append);
        s.update(&bumped, 14, 5);
        assert_eq!(s.check([header(7, 0, 4, 1)].iter()).unwrap_err().code(), "ERR_INVALID_PRODUCER_EPOCH");
        assert_eq!(s.check([header(7, 2, 5, 1)].iter()).unwrap_err().code(), "ERR_OUT_OF_ORDER_SEQUENCE_NUMBER");
        // Unknown to the log: any sequence, as Kafka since KIP-360.
        assert_eq!(s.check([header(8, 0, 42, 1)].iter()).unwrap(), AppendCheck::Append);
        // Two batches of one append follow each other.
        assert_eq!(s.check([header(7, 1, 1, 2), header(7, 1, 3, 1)].iter()).unwrap(), AppendCheck::Append);
        assert!(s.check([header(7, 1, 1, 2), header(7, 1, 4, 1)].iter()).is_err());
    }

    #[test]
    fn keeps_the_last_five_batches() {
        let mut s = ProducerState::new();
        for i in 0..7 {
            s.update(&header(1, 0, i, 1), i as i64, 0);
        }
        let seqs: Vec<i32> = s.entry(1).unwrap().batches.iter().map(|b| b.first_sequence).collect();
        assert_eq!(seqs, vec![2, 3, 4, 5, 6]);
        assert_eq!(s.check([header(1, 0, 2, 1)].iter()).unwrap(), AppendCheck::Duplicate { first_offset: 2, last_offset: 2, timestamp: 0 });
        assert_eq!(s.check([header(1, 0, 1, 1)].iter()).unwrap_err().code(), "ERR_OUT_OF_ORDER_SEQUENCE_NUMBER");
    }

    #[test]
    fn sequences_wrap_past_i32_max() {
        let h = header(1, 0, i32::MAX - 1, 4);
        assert_eq!(h.last_sequence(), 1);
        let mut s = ProducerState::new();
        s.update(&h, 0, 0);
        assert_eq!(s.check([header(1, 0, 2, 1)].iter()).unwrap(), AppendCheck::Append);
    }

    #[test]
    fn snapshot_round_trips_in_kafkas_format() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = ProducerState::new();
        s.update(&header(1, 0, 55, 5), 55, 1_700_000_000_000);
        s.update(&header(3, 2, 0, 1), 60, 9);
        s.write_snapshot(dir.path(), 61).unwrap();
        let bytes = std::fs::read(dir.path().join("00000000000000000061.snapshot")).unwrap();
        assert_eq!(bytes.len(), 10 + 2 * 46);
        assert_eq!(&bytes[6..10], &2i32.to_be_bytes());
        let back = read_snapshot(&dir.path().join("00000000000000000061.snapshot")).unwrap();
        assert_eq!(
            back.entry(1).unwrap().batches[0],
            ProducerBatch { first_sequence: 55, last_sequence: 59, first_offset: 55, last_offset: 59, timestamp: 1_700_000_000_000 }
        );
        assert_eq!(back.entry(3).unwrap().epoch, 2);
        assert_eq!(back.max_producer_id(), 3);
        // The next snapshot replaces Fjord's own, never another.
        std::fs::write(dir.path().join("00000000000000000030.snapshot"), b"kafka's").unwrap();
        s.write_snapshot(dir.path(), 70).unwrap();
        assert!(!dir.path().join("00000000000000000061.snapshot").exists());
        assert!(dir.path().join("00000000000000000030.snapshot").exists());
        assert_eq!(checkpoint::read_offset(dir.path(), FJORD_SNAPSHOT), Some(70));
    }
}
