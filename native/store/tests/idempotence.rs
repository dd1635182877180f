//! Idempotent producers through the store's append path: a batch appended
//! again is acknowledged with its first offsets and stored once, before and
//! after a reopen or a crash; sequence gaps and fenced epochs are refused;
//! the producer state goes to and comes from Kafka's `.snapshot` files.

use std::fs;
use std::path::Path;

use fjord_store::{Log, LogConfig, Record, RecordBatchBuilder};

mod common;
use common::{small_config, NOW};

fn idempotent_batch(id: i64, epoch: i16, sequence: i32, n: usize) -> Vec<u8> {
    let mut b = RecordBatchBuilder::new().producer(id, epoch, sequence);
    for i in 0..n {
        b.push(&Record { value: Some(format!("s{}", sequence as usize + i).as_bytes()), timestamp: NOW, ..Default::default() });
    }
    b.build()
}

/// (base offset, producer id, epoch, base sequence) of every batch in the log.
fn stored_batches(log: &Log) -> Vec<(i64, i64, i16, i32)> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset().unwrap();
    while let Some(slice) = log.read(offset, 1 << 20).unwrap() {
        common::each_batch(slice.bytes(), |h, _| out.push((h.base_offset, h.producer_id, h.producer_epoch, h.base_sequence)));
        offset = slice.next_offset;
    }
    out
}

#[test]
fn a_batch_appended_twice_is_stored_once_and_acknowledged_with_its_first_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_at(dir.path(), LogConfig::default(), NOW).unwrap();
    let first = log.append(&idempotent_batch(5, 0, 0, 3), NOW).unwrap();
    let again = log.append(&idempotent_batch(5, 0, 0, 3), NOW).unwrap();
    assert_eq!((first.base_offset, first.last_offset, first.duplicate), (0, 2, false));
    assert_eq!((again.base_offset, again.last_offset, again.duplicate), (0, 2, true));
    assert_eq!(log.log_end_offset().unwrap(), 3);
    let next = log.append(&idempotent_batch(5, 0, 3, 2), NOW).unwrap();
    assert_eq!((next.base_offset, next.last_offset), (3, 4));
    assert_eq!(stored_batches(&log), vec![(0, 5, 0, 0), (3, 5, 0, 3)]);
}

#[test]
fn gaps_and_fenced_epochs_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_at(dir.path(), LogConfig::default(), NOW).unwrap();
    log.append(&idempotent_batch(5, 1, 0, 2), NOW).unwrap();
    let gap = log.append(&idempotent_batch(5, 1, 3, 1), NOW).unwrap_err();
    assert_eq!(gap.code(), "ERR_OUT_OF_ORDER_SEQUENCE_NUMBER");
    assert_eq!(gap.to_string(), "out of order sequence number for producer 5 (epoch 1): found 3, expected 2");
    let fenced = log.append(&idempotent_batch(5, 0, 2, 1), NOW).unwrap_err();
    assert_eq!(fenced.code(), "ERR_INVALID_PRODUCER_EPOCH");
    assert_eq!(log.log_end_offset().unwrap(), 2);
}

fn state_survives(reopen: impl FnOnce(Log, &Path) -> Log) {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_at(dir.path(), small_config(), NOW).unwrap();
    // Several segments, three producers, the first with more than five batches.
    for seq in 0..8 {
        log.append(&idempotent_batch(11, 0, seq * 2, 2), NOW).unwrap();
    }
    log.append(&idempotent_batch(12, 3, 0, 1), NOW).unwrap();
    log.append(&idempotent_batch(1 << 40, 0, 0, 1), NOW).unwrap();
    log.flush().unwrap();
    let end = log.log_end_offset().unwrap();
    let log = reopen(log, dir.path());
    assert_eq!(log.log_end_offset().unwrap(), end);
    assert_eq!(log.max_producer_id().unwrap(), 1 << 40);
    let retried = log.append(&idempotent_batch(11, 0, 14, 2), NOW).unwrap();
    assert_eq!((retried.base_offset, retried.last_offset, retried.duplicate), (14, 15, true));
    assert_eq!(log.append(&idempotent_batch(12, 3, 2, 1), NOW).unwrap_err().code(), "ERR_OUT_OF_ORDER_SEQUENCE_NUMBER");
    assert_eq!(log.append(&idempotent_batch(12, 2, 1, 1), NOW).unwrap_err().code(), "ERR_INVALID_PRODUCER_EPOCH");
    assert_eq!(log.append(&idempotent_batch(11, 0, 16, 1), NOW).unwrap().base_offset, end);
}

#[test]
fn producer_state_survives_a_clean_close() {
    state_survives(|log, dir| {
        log.close().unwrap();
        drop(log);
        let names: Vec<String> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert!(names.contains(&"00000000000000000018.snapshot".to_string()), "{names:?}");
        Log::open_at(dir, small_config(), NOW).unwrap()
    });
}

#[test]
fn producer_state_survives_a_crash() {
    state_survives(|log, dir| {
        log.simulate_crash();
        drop(log);
        Log::open_at(dir, small_config(), NOW).unwrap()
    });
}

#[test]
fn a_snapshot_above_a_truncated_end_is_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_at(dir.path(), LogConfig::default(), NOW).unwrap();
    for seq in 0..4 {
        log.append(&idempotent_batch(9, 0, seq, 1), NOW).unwrap();
    }
    log.close().unwrap();
    drop(log);
    let log = Log::open_at(dir.path(), LogConfig::default(), NOW).unwrap();
    assert_eq!(log.truncate_to(2).unwrap(), 2);
    // Sequences 2 and 3 are gone: 2 is next again, and the retried 1 is still a duplicate.
    assert!(log.append(&idempotent_batch(9, 0, 1, 1), NOW).unwrap().duplicate);
    assert_eq!(log.append(&idempotent_batch(9, 0, 3, 1), NOW).unwrap_err().code(), "ERR_OUT_OF_ORDER_SEQUENCE_NUMBER");
    log.append(&idempotent_batch(9, 0, 2, 1), NOW).unwrap();
    log.close().unwrap();
    drop(log);
    assert!(!dir.path().join("00000000000000000004.snapshot").exists());
    assert!(dir.path().join("00000000000000000003.snapshot").exists());
}

#[test]
fn reads_a_kafka_brokers_snapshot_when_adopting_its_directory() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test/fixtures/kafka-4.4-logdir/logdir");
    let root = tempfile::tempdir().unwrap();
    for entry in fs::read_dir(&fixture).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            fs::copy(entry.path(), root.path().join(entry.file_name())).unwrap();
        }
    }
    let dir = root.path().join("k-gzip-0");
    fs::create_dir(&dir).unwrap();
    for entry in fs::read_dir(fixture.join("k-gzip-0")).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let log = Log::open_at(&dir, LogConfig::default(), NOW).unwrap();
    assert_eq!(log.log_end_offset().unwrap(), 60);
    // Kafka's 60.snapshot: producer 1, epoch 0, last batch sequences 55..59 at offsets 55..59.
    let entry = log.producer(1).unwrap().unwrap();
    assert_eq!(entry.epoch, 0);
    let last = entry.batches.back().unwrap();
    assert_eq!((last.first_sequence, last.last_sequence, last.first_offset, last.last_offset), (55, 59, 55, 59));
    log.close().unwrap();
    drop(log);
    // Kafka's snapshots are all still there, untouched.
    for offset in [15, 30, 45, 60] {
        let name = format!("{offset:020}.snapshot");
        assert_eq!(fs::read(dir.join(&name)).unwrap(), fs::read(fixture.join("k-gzip-0").join(&name)).unwrap());
    }
}

#[test]
fn without_any_snapshot_a_clean_log_starts_with_no_producers_and_a_crashed_one_reads_every_header() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_at(dir.path(), small_config(), NOW).unwrap();
    for seq in 0..6 {
        log.append(&idempotent_batch(4, 0, seq, 1), NOW).unwrap();
    }
    log.close().unwrap();
    drop(log);
    // As a log written before Fjord kept producer state: no snapshot, no checkpoint naming one.
    fs::remove_file(dir.path().join("00000000000000000006.snapshot")).unwrap();
    fs::remove_file(dir.path().join("fjord-producer-snapshot")).unwrap();
    let log = Log::open_at(dir.path(), small_config(), NOW).unwrap();
    assert_eq!(log.producer(4).unwrap(), None, "a clean log is not scanned, as Kafka's loader skips it");
    log.simulate_crash();
    drop(log);
    let log = Log::open_at(dir.path(), small_config(), NOW).unwrap();
    assert!(!log.recovery_report().clean_shutdown);
    let entry = log.producer(4).unwrap().unwrap();
    let sequences: Vec<i32> = entry.batches.iter().map(|b| b.first_sequence).collect();
    assert_eq!(sequences, vec![1, 2, 3, 4, 5]);
}
