//! Helpers shared by the fuzz targets: scratch directories, CRC restamping
//! (so mutated input gets past the CRC check and reaches deeper code), and
//! the invariant checks on what a `Log` serves.

use std::path::Path;

use fjord_store::batch::{compute_crc, BatchHeader, MAGIC};
use fjord_store::{Log, LogConfig, Record, RecordBatchBuilder, StoreError};

const CRC_AT: usize = 17;

/// A scratch directory on tmpfs when there is one: the store fsyncs its
/// checkpoints, which would dominate every run on a real disk.
pub fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let builder = tempfile::Builder::new().prefix("fjord-fuzz-").to_owned();
    if shm.is_dir() {
        if let Ok(dir) = builder.tempdir_in(shm) {
            return dir;
        }
    }
    builder.tempdir().expect("temporary directory")
}

/// Rewrites the CRC of every whole batch header found walking `bytes` from
/// the start, so the fuzzer's mutations are judged on their structure.
pub fn restamp_crcs(bytes: &mut [u8]) {
    let mut pos = 0;
    while let Some(h) = BatchHeader::parse(&bytes[pos..]) {
        if h.size > bytes.len() - pos {
            break;
        }
        let crc = compute_crc(&bytes[pos..pos + h.size]);
        bytes[pos + CRC_AT..pos + CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
        pos += h.size;
    }
}

/// A small config: rolls and index entries happen within a few batches.
pub fn small_config() -> LogConfig {
    LogConfig { segment_bytes: 4096, segment_index_bytes: 96, index_interval_bytes: 64, ..LogConfig::default() }
}

/// Walks `bytes` as whole batches: each must parse, fit, be magic 2 with a
/// valid CRC, and start after the previous batch ended. Returns (base, last) per batch.
pub fn whole_valid_batches(bytes: &[u8]) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let h = BatchHeader::parse(&bytes[pos..]).unwrap_or_else(|| panic!("no batch header at byte {pos} of a read"));
        assert!(pos + h.size <= bytes.len(), "batch at byte {pos} runs past the read ({} > {})", pos + h.size, bytes.len());
        assert_eq!(h.magic, MAGIC, "served a batch with magic {}", h.magic);
        assert_eq!(compute_crc(&bytes[pos..pos + h.size]), h.crc, "served a batch with a bad CRC at byte {pos}");
        assert!(h.last_offset_delta >= 0, "served a batch with lastOffsetDelta {}", h.last_offset_delta);
        if let Some(&(_, prev_last)) = out.last() {
            assert!(h.base_offset > prev_last, "batch offsets go back: {} after {}", h.base_offset, prev_last);
        }
        out.push((h.base_offset, h.last_offset()));
        pos += h.size;
    }
    out
}

/// Reads the whole log from its start by following `next_offset` and checks
/// every slice; returns every batch served, as (base, last).
pub fn read_everything(log: &Log, max_bytes: usize) -> Vec<(i64, i64)> {
    let start = log.log_start_offset().unwrap();
    let end = log.log_end_offset().unwrap();
    assert!(start <= end, "log start {start} is past the log end {end}");
    let mut served: Vec<(i64, i64)> = Vec::new();
    let mut offset = start;
    while let Some(slice) = log.read(offset, max_bytes).unwrap() {
        let batches = whole_valid_batches(slice.bytes());
        assert!(!batches.is_empty(), "a read at {offset} returned no batch");
        assert!(batches[0].1 >= offset, "a read at {offset} starts with batch {:?} that ends before it", batches[0]);
        if let Some(&(_, prev_last)) = served.last() {
            assert!(batches[0].0 > prev_last, "a read at {offset} went back to batch {:?}", batches[0]);
        }
        let last = batches.last().unwrap().1;
        assert_eq!(slice.next_offset, last + 1, "next_offset after a read at {offset}");
        assert!(last < end, "served offset {last} at or past the log end {end}");
        served.extend(batches);
        offset = slice.next_offset;
    }
    // Segments may leave gaps (an empty active segment above the data, say):
    // reading stops where the last data ends.
    let data_end = log.segments().unwrap().iter().filter(|s| s.size > 0).map(|s| s.next_offset).max().unwrap_or(start).max(start);
    assert_eq!(offset, data_end, "reading stopped at {offset}, the data ends at {data_end} (log end {end})");
    if let Some(past_end) = end.checked_add(1) {
        assert_out_of_range(log.read(past_end, max_bytes).map(|s| s.is_some()));
    }
    if start > 0 {
        assert_out_of_range(log.read(start - 1, max_bytes).map(|s| s.is_some()));
    }
    served
}

fn assert_out_of_range(result: Result<bool, StoreError>) {
    assert!(matches!(result, Err(StoreError::OffsetOutOfRange { .. })), "expected OffsetOutOfRange, got {result:?}");
}

/// Appends one small batch and checks it lands at the log end and reads
/// back; at the very end of the offset space it must be refused instead.
/// Returns whether it was appended.
pub fn append_and_read_back(log: &Log, tag: u8, now: i64) -> bool {
    let end = log.log_end_offset().unwrap();
    let mut b = RecordBatchBuilder::new();
    b.push(&Record { key: Some(&[tag]), value: Some(b"after recovery"), headers: vec![], timestamp: now });
    if end == i64::MAX {
        let refused = log.append(&b.build(), now);
        assert!(matches!(refused, Err(StoreError::InvalidRecord { .. })), "append past the largest offset: {refused:?}");
        assert_eq!(log.log_end_offset().unwrap(), end);
        return false;
    }
    let info = log.append(&b.build(), now).expect("append after recovery");
    assert_eq!(info.base_offset, end, "append after recovery starts at the log end");
    assert_eq!(log.log_end_offset().unwrap(), end + 1);
    let slice = log.read(end, 1 << 20).unwrap().expect("the appended batch reads back");
    let batches = whole_valid_batches(slice.bytes());
    assert_eq!(batches[0], (end, end));
    true
}
