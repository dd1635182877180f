//! Inputs the fuzz targets (native/store/fuzz) and the model test
//! (test/log-model.test.ts) found, each reduced to the files or steps that
//! broke the store, and what the store must do with them instead.

use std::fs;
use std::path::Path;

use fjord_store::batch::compute_crc;
use fjord_store::{Log, LogConfig, Record, RecordBatchBuilder, StoreError};

mod common;
use common::{read_from_start, NOW};

const CRC_AT: usize = 17;
const RECORDS_COUNT_AT: usize = 57;

fn batch_at(base_offset: i64, records: usize) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new();
    for i in 0..records {
        b.push(&Record { key: None, value: Some(b"v"), headers: vec![], timestamp: NOW + i as i64 });
    }
    let mut bytes = b.build();
    bytes[..8].copy_from_slice(&base_offset.to_be_bytes());
    bytes
}

fn segment_file(dir: &Path, base: i64) -> std::path::PathBuf {
    dir.join(format!("{base:020}.log"))
}

fn checkpoint(dir: &Path, name: &str, offset: i64) {
    fs::write(dir.join(name), format!("0\n{offset}\n")).unwrap();
}

#[test]
fn ignores_a_segment_file_named_with_a_negative_base() {
    // segment_recovery: an empty "-0000000000000000001.log" became the active
    // segment, and the log ended at -1, below its start 0.
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("-0000000000000000001.log"), b"").unwrap();
    let log = Log::open_at(dir.path(), LogConfig::default(), NOW).unwrap();
    assert_eq!((log.log_start_offset().unwrap(), log.log_end_offset().unwrap()), (0, 0));
    assert_eq!(log.append(&batch_at(0, 1), NOW).unwrap().base_offset, 0);
}

#[test]
fn starts_empty_at_the_log_start_when_recovery_leaves_the_log_ending_below_it() {
    // segment_recovery: a log-start-offset checkpoint above everything the
    // segments hold (data lost after the start was made durable).
    let dir = tempfile::tempdir().unwrap();
    fs::write(segment_file(dir.path(), 0), batch_at(0, 3)).unwrap();
    checkpoint(dir.path(), "log-start-offset", 10);
    let log = Log::open_at(dir.path(), LogConfig::default(), NOW).unwrap();
    assert_eq!((log.log_start_offset().unwrap(), log.log_end_offset().unwrap()), (10, 10));
    assert_eq!(log.segments().unwrap().iter().map(|s| s.base_offset).collect::<Vec<_>>(), vec![10]);
    assert!(!segment_file(dir.path(), 0).exists());
    assert_eq!(log.recovery_report().segments_deleted, 1);
    assert_eq!(log.append(&batch_at(0, 1), NOW).unwrap().base_offset, 10);
}

#[test]
fn cuts_a_batch_whose_offsets_run_past_the_largest_offset_and_refuses_appends_there() {
    // segment_recovery: segment 9223372036854775807 holding a one-record
    // batch at that base; its next offset overflowed.
    let dir = tempfile::tempdir().unwrap();
    let bytes = batch_at(i64::MAX, 1);
    fs::write(segment_file(dir.path(), i64::MAX), &bytes).unwrap();
    let log = Log::open_at(dir.path(), LogConfig::default(), NOW).unwrap();
    assert_eq!(log.log_end_offset().unwrap(), i64::MAX);
    assert_eq!(log.size().unwrap(), 0);
    assert_eq!(log.recovery_report().bytes_truncated, bytes.len() as u64);
    match log.append(&batch_at(0, 1), NOW) {
        Err(StoreError::InvalidRecord { position: 0, reason }) => {
            assert_eq!(reason, "1 records at log end offset 9223372036854775807 would pass the largest offset 9223372036854775807")
        }
        other => panic!("expected InvalidRecord, got {other:?}"),
    }
    assert_eq!(log.log_end_offset().unwrap(), i64::MAX);
}

#[test]
fn drops_a_segment_that_starts_below_where_the_one_before_it_ends() {
    // segment_recovery: segment 100 holds offsets 147..=149, past the base of
    // the next segment, 104; that segment's data was cut and the log end went
    // back to 104, below offsets it served.
    let dir = tempfile::tempdir().unwrap();
    fs::write(segment_file(dir.path(), 100), batch_at(147, 3)).unwrap();
    fs::write(segment_file(dir.path(), 104), batch_at(151, 1)).unwrap();
    let log = Log::open_at(dir.path(), LogConfig::default(), NOW).unwrap();
    assert_eq!((log.log_start_offset().unwrap(), log.log_end_offset().unwrap()), (100, 150));
    assert_eq!(read_from_start(&log), vec![(147, 149)]);
    assert!(!segment_file(dir.path(), 104).exists());
    assert_eq!(log.recovery_report().notes, vec!["deleted segment 00000000000000000104.log: it overlaps the segment before it"]);
    assert_eq!(log.append(&batch_at(0, 1), NOW).unwrap().base_offset, 150);
    assert_eq!(read_from_start(&log), vec![(147, 149), (150, 150)]);
}

#[test]
fn answers_offset_for_timestamp_on_a_batch_claiming_two_billion_records() {
    // segment_recovery: a CRC-valid batch whose records count is i32::MAX
    // made offset_for_timestamp allocate 16 GiB for its timestamps.
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = batch_at(0, 1);
    bytes[RECORDS_COUNT_AT..RECORDS_COUNT_AT + 4].copy_from_slice(&i32::MAX.to_be_bytes());
    let crc = compute_crc(&bytes);
    bytes[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    fs::write(segment_file(dir.path(), 0), &bytes).unwrap();
    let log = Log::open_at(dir.path(), LogConfig::default(), NOW).unwrap();
    assert_eq!(log.log_end_offset().unwrap(), 1);
    assert_eq!(log.offset_for_timestamp(NOW).unwrap(), Some(0));
}

#[test]
fn opens_a_segment_near_the_largest_offset_with_a_garbage_time_index() {
    // segment_recovery: time index entries of 0x01 bytes on segment
    // 9223372036854775686; base + relative offset overflowed.
    let dir = tempfile::tempdir().unwrap();
    let base = i64::MAX - 121;
    fs::write(segment_file(dir.path(), base), batch_at(base, 2)).unwrap();
    fs::write(dir.path().join(format!("{base:020}.index")), b"").unwrap();
    fs::write(dir.path().join(format!("{base:020}.timeindex")), [1u8; 48]).unwrap();
    let log = Log::open_at(dir.path(), LogConfig::default(), NOW).unwrap();
    assert_eq!(log.log_end_offset().unwrap(), base + 2);
    assert_eq!(read_from_start(&log), vec![(base, base + 1)]);
}

#[test]
fn takes_a_many_batch_append_that_fills_the_offset_index_midway() {
    // log-model.test.ts: segment.index.bytes 49 (six offset entries) with
    // index.interval.bytes 3: one append of eight batches indexed them all
    // and overran the index.
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { segment_bytes: 2225, segment_index_bytes: 49, index_interval_bytes: 3, ..LogConfig::default() };
    let log = Log::open_at(dir.path(), config, NOW).unwrap();
    let input: Vec<u8> = (0..8).flat_map(|_| batch_at(0, 1)).collect();
    let info = log.append(&input, NOW).unwrap();
    assert_eq!((info.base_offset, info.last_offset), (0, 7));
    assert_eq!(read_from_start(&log), (0..8).map(|o| (o, o)).collect::<Vec<_>>());
    log.close().unwrap();
    drop(log);
    // Recovery rebuilds the indexes under an even smaller size.
    fs::remove_file(dir.path().join(".clean-shutdown")).unwrap();
    let smaller = LogConfig { segment_index_bytes: 24, ..config };
    let log = Log::open_at(dir.path(), smaller, NOW).unwrap();
    assert_eq!(log.recovery_report().segments_recovered, 1);
    assert_eq!(read_from_start(&log), (0..8).map(|o| (o, o)).collect::<Vec<_>>());
}

#[test]
fn truncating_a_batch_that_straddles_the_log_start_moves_the_start_down() {
    // log-model.test.ts: batches [0, 1] and [2, 4], start moved to 1, then
    // truncate to 1: the log ended at 0 with its start still at 1.
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_at(dir.path(), LogConfig::default(), NOW).unwrap();
    log.append(&batch_at(0, 2), NOW).unwrap();
    log.append(&batch_at(0, 3), NOW).unwrap();
    assert_eq!(log.delete_segments_before(1).unwrap(), 0);
    assert_eq!(log.log_start_offset().unwrap(), 1);
    assert_eq!(log.truncate_to(1).unwrap(), 0);
    assert_eq!((log.log_start_offset().unwrap(), log.log_end_offset().unwrap()), (0, 0));
    assert_eq!(log.append(&batch_at(0, 1), NOW).unwrap().base_offset, 0);
    log.close().unwrap();
    drop(log);
    let log = Log::open_at(dir.path(), LogConfig::default(), NOW).unwrap();
    assert_eq!((log.log_start_offset().unwrap(), log.log_end_offset().unwrap()), (0, 1));
}
