//! Damaged segment files: what open recovers, what a read refuses to hand
//! out, and what `verify_log_dir` reports, byte for byte.

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::Path;

use fjord_store::{verify_log_dir, Log, LogConfig, ProblemKind, StoreError};

mod common;
use common::{batch, batches_of, small_config, NOW};

/// The base offset of each batch in a read.
fn first_offsets(bytes: &[u8]) -> Vec<i64> {
    batches_of(bytes).into_iter().map(|(base, _)| base).collect()
}

/// A closed log of 3 segments holding 60 batches of 2 records (82 bytes each); returns the
/// positions of the batches of the first segment and the segment bases.
fn closed_log(dir: &Path) -> (Vec<u64>, Vec<i64>) {
    let log = Log::open_at(dir, small_config(), NOW).unwrap();
    let mut positions = Vec::new();
    for i in 0..60 {
        let info = log.append(&batch("v", 2, NOW + i), NOW).unwrap();
        if log.segments().unwrap().len() == 1 {
            positions.push(info.position);
        }
    }
    let bases: Vec<i64> = log.segments().unwrap().iter().map(|s| s.base_offset).collect();
    assert_eq!(bases.len(), 3);
    log.close().unwrap();
    (positions, bases)
}

fn flip(path: &Path, at: u64) {
    let file = fs::OpenOptions::new().read(true).write(true).open(path).unwrap();
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, at).unwrap();
    file.write_all_at(&[byte[0] ^ 0x20], at).unwrap();
}

#[test]
fn a_corrupt_byte_mid_sealed_segment_is_refused_on_read_and_the_rest_stays_readable() {
    let dir = tempfile::tempdir().unwrap();
    let (positions, _) = closed_log(dir.path());
    let first = dir.path().join("00000000000000000000.log");
    // Batch 5 holds offsets 10 and 11; flip a byte of its records.
    flip(&first, positions[5] + 70);
    let log = Log::open_at(dir.path(), small_config(), NOW).unwrap();
    assert_eq!(log.recovery_report().segments_recovered, 0, "a cleanly closed segment is not scanned at open");
    let before = log.read(0, 1 << 20).unwrap().unwrap();
    assert_eq!(first_offsets(before.bytes()), vec![0, 2, 4, 6, 8]);
    assert_eq!(before.next_offset, 10);
    for at in [10, 11] {
        match log.read(at, 1 << 20) {
            Err(StoreError::CorruptStoredBatch { file, position, offset, reason }) => {
                assert_eq!(file, first.canonicalize().unwrap());
                assert_eq!(position, positions[5]);
                assert_eq!(offset, 10);
                assert!(reason.starts_with("CRC-32C is 0x"), "{reason}");
            }
            other => panic!("expected CorruptStoredBatch, got {:?}", other.map(|s| s.map(|s| s.next_offset))),
        }
    }
    let err = log.read(10, 100).err().unwrap();
    assert_eq!(err.code(), "ERR_CORRUPT_RECORD");
    assert!(err.to_string().starts_with(&format!(
        "corrupt record batch at offset 10 in {} at byte {}: CRC-32C is 0x",
        first.canonicalize().unwrap().display(),
        positions[5]
    )));
    let after = log.read(12, 1 << 20).unwrap().unwrap();
    assert_eq!(first_offsets(after.bytes())[0], 12);
    let mut offset = after.next_offset;
    while let Some(slice) = log.read(offset, 1 << 20).unwrap() {
        offset = slice.next_offset;
    }
    assert_eq!(offset, 120);
}

#[test]
fn flipped_bytes_in_the_last_batch_after_a_crash_are_cut_by_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_at(dir.path(), LogConfig::default(), NOW).unwrap();
    let mut last = 0;
    for i in 0..10 {
        last = log.append(&batch("c", 2, NOW + i), NOW).unwrap().position;
    }
    log.flush().unwrap();
    log.simulate_crash();
    let path = dir.path().join("00000000000000000000.log");
    flip(&path, last + 70);
    let check = verify_log_dir(dir.path()).unwrap();
    assert_eq!(check.problems.len(), 1, "{:?}", check.problems);
    let p = &check.problems[0];
    assert_eq!((p.kind, p.file.as_str(), p.position, p.offset), (ProblemKind::CorruptBatch, "00000000000000000000.log", last, Some(18)));
    let log = Log::open_at(dir.path(), LogConfig::default(), NOW).unwrap();
    let report = log.recovery_report();
    // 83 bytes cut as a batch; its last byte (the last record's header count) is 0.
    assert_eq!(report.torn_bytes_truncated, 82);
    assert!(report.notes[0].ends_with(", 82 of them a torn or corrupt batch"), "{}", report.notes[0]);
    assert_eq!(log.log_end_offset().unwrap(), 18);
}

#[test]
fn verify_reports_a_clean_log_as_clean_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bases) = closed_log(dir.path());
    let listing = |d: &Path| {
        let mut v: Vec<(String, Vec<u8>)> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), fs::read(&p).unwrap()))
            .collect();
        v.sort();
        v
    };
    let before = listing(dir.path());
    let check = verify_log_dir(dir.path()).unwrap();
    assert_eq!(check.problems, vec![]);
    assert!(check.clean_shutdown);
    assert_eq!((check.segments, check.batches, check.first_offset, check.end_offset), (3, 60, 0, 120));
    assert_eq!(listing(dir.path()), before);
    assert_eq!(bases[0], 0);
}

#[test]
fn verify_refuses_a_directory_a_writer_has_open() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_at(dir.path(), small_config(), NOW).unwrap();
    match verify_log_dir(dir.path()) {
        Err(StoreError::Locked { holder, .. }) => assert!(holder.starts_with(&format!("pid {}", std::process::id())), "{holder}"),
        other => panic!("expected Locked, got {other:?}"),
    }
    log.close().unwrap();
    assert_eq!(verify_log_dir(dir.path()).unwrap().problems, vec![]);
}

#[test]
fn verify_names_each_kind_of_damage() {
    // A corrupt byte mid sealed segment.
    let dir = tempfile::tempdir().unwrap();
    let (positions, _) = closed_log(dir.path());
    flip(&dir.path().join("00000000000000000000.log"), positions[5] + 70);
    let check = verify_log_dir(dir.path()).unwrap();
    assert_eq!(check.problems.len(), 1, "{:?}", check.problems);
    let p = &check.problems[0];
    assert_eq!(
        (p.kind, p.file.as_str(), p.position, p.offset),
        (ProblemKind::CorruptBatch, "00000000000000000000.log", positions[5], Some(10))
    );
    assert!(p.message.starts_with("CRC-32C is 0x"));
    assert_eq!(check.end_offset, 120, "the walk goes on past a batch whose framing holds");

    // A tail cut mid-batch in the last segment.
    let dir = tempfile::tempdir().unwrap();
    let (_, bases) = closed_log(dir.path());
    let last = dir.path().join(format!("{:020}.log", bases[2]));
    let len = fs::metadata(&last).unwrap().len();
    let log = Log::open_at(dir.path(), small_config(), NOW).unwrap();
    let last_batch = log.read(118, 1 << 20).unwrap().unwrap();
    let (cut_at, size) = (last_batch.start as u64, last_batch.len as u64);
    drop(last_batch);
    log.close().unwrap();
    fs::OpenOptions::new().write(true).open(&last).unwrap().set_len(len - 10).unwrap();
    let check = verify_log_dir(dir.path()).unwrap();
    let p = &check.problems[0];
    assert_eq!((p.kind, p.position, p.offset), (ProblemKind::TornBatch, cut_at, Some(118)));
    assert_eq!(
        p.message,
        format!(
            "{} bytes after the last whole batch: a batch whose header says {size} bytes but only {} remain (open cuts them)",
            size - 10,
            size - 10
        )
    );
    // The sealed time index's last entry named the cut batch: that is reported too.
    assert_eq!(check.problems.len(), 2, "{:?}", check.problems);
    let p = &check.problems[1];
    assert_eq!((p.kind, p.file.clone(), p.offset), (ProblemKind::BadIndexEntry, format!("{:020}.timeindex", bases[2]), Some(119)));
    assert_eq!(p.message, format!("entry (timestamp {}, offset 119) names an offset past the last batch", NOW + 60));

    // Zeros written past the data of a crashed active segment.
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_at(dir.path(), LogConfig::default(), NOW).unwrap();
    for i in 0..5 {
        log.append(&batch("z", 2, NOW + i), NOW).unwrap();
    }
    let data = log.segments().unwrap()[0].size;
    log.flush().unwrap();
    log.simulate_crash();
    let active = dir.path().join("00000000000000000000.log");
    assert_eq!(verify_log_dir(dir.path()).unwrap().problems, vec![], "a crash leaves holes and block slack only");
    fs::OpenOptions::new().write(true).open(&active).unwrap().write_all_at(&[0u8; 10000], data).unwrap();
    let check = verify_log_dir(dir.path()).unwrap();
    assert_eq!(check.problems.len(), 1, "{:?}", check.problems);
    let p = &check.problems[0];
    assert_eq!((p.kind, p.position, p.offset), (ProblemKind::ZeroTail, data, Some(10)));
    assert_eq!(
        p.message,
        format!(
            "{} bytes of zeros after the last batch, written rather than a hole (open cuts them)",
            (data + 10000).div_ceil(4096) * 4096 - data
        )
    );
    assert!(!check.clean_shutdown);

    // A missing offset index and a time index cut mid-entry.
    let dir = tempfile::tempdir().unwrap();
    let (_, bases) = closed_log(dir.path());
    fs::remove_file(dir.path().join(format!("{:020}.index", bases[1]))).unwrap();
    let time = dir.path().join(format!("{:020}.timeindex", bases[0]));
    let time_len = fs::metadata(&time).unwrap().len();
    fs::OpenOptions::new().write(true).open(&time).unwrap().set_len(time_len - 5).unwrap();
    let check = verify_log_dir(dir.path()).unwrap();
    let found: Vec<(ProblemKind, String, u64)> = check.problems.iter().map(|p| (p.kind, p.file.clone(), p.position)).collect();
    assert_eq!(
        found,
        vec![
            (ProblemKind::ShortIndex, "00000000000000000000.timeindex".to_string(), time_len - 12),
            (ProblemKind::MissingIndex, format!("{:020}.index", bases[1]), 0),
        ]
    );
}

#[test]
fn verify_checks_index_entries_against_the_batches() {
    let dir = tempfile::tempdir().unwrap();
    let (positions, _) = closed_log(dir.path());
    let index = dir.path().join("00000000000000000000.index");
    let entries = fs::read(&index).unwrap();
    assert!(entries.len() >= 16, "the first segment has at least two index entries");
    // Point the first entry 4 bytes into its batch.
    let pos = i32::from_be_bytes(entries[4..8].try_into().unwrap());
    assert!(positions.contains(&(pos as u64)));
    fs::OpenOptions::new().write(true).open(&index).unwrap().write_all_at(&(pos + 4).to_be_bytes(), 4).unwrap();
    let check = verify_log_dir(dir.path()).unwrap();
    assert_eq!(check.problems.len(), 1, "{:?}", check.problems);
    let p = &check.problems[0];
    let rel = i32::from_be_bytes(entries[..4].try_into().unwrap()) as i64;
    assert_eq!((p.kind, p.file.as_str(), p.position, p.offset), (ProblemKind::BadIndexEntry, "00000000000000000000.index", 0, Some(rel)));
    assert_eq!(p.message, format!("entry (offset {rel}, position {}) does not point at a batch boundary", pos + 4));

    // A time index whose timestamps go back.
    let dir = tempfile::tempdir().unwrap();
    closed_log(dir.path());
    let time = dir.path().join("00000000000000000000.timeindex");
    let entries = fs::read(&time).unwrap();
    assert!(entries.len() >= 24);
    fs::OpenOptions::new().write(true).open(&time).unwrap().write_all_at(&0i64.to_be_bytes(), 12).unwrap();
    let check = verify_log_dir(dir.path()).unwrap();
    let p = &check.problems[0];
    assert_eq!((p.kind, p.file.as_str(), p.position), (ProblemKind::BadIndexEntry, "00000000000000000000.timeindex", 12));
    assert!(p.message.contains("does not follow the previous entry"), "{}", p.message);
}
