use std::fs;
use std::path::Path;

use fjord_store::{BatchHeader, Log, LogConfig, StoreError, TimestampType};

mod common;
use common::{batch, batches_of, read_all, sized_batch, small_config, NOW};

fn files_with(dir: &Path, suffix: &str) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).filter(|n| n.ends_with(suffix)).collect();
    names.sort();
    names
}

#[test]
fn appends_assign_offsets_and_read_back_across_rolls() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_at(dir.path(), small_config(), NOW).unwrap();
    let mut expected = Vec::new();
    for i in 0..200 {
        let info = log.append(&batch("v", 3, NOW + i), NOW).unwrap();
        assert_eq!(info.base_offset, i * 3);
        assert_eq!(info.last_offset, i * 3 + 2);
        assert_eq!(info.log_append_time, -1);
        expected.push((i * 3, i * 3 + 2));
    }
    assert_eq!(log.log_end_offset().unwrap(), 600);
    let segments = log.segments().unwrap();
    assert!(segments.len() > 5, "expected several rolls, got {}", segments.len());
    assert!(segments.iter().all(|s| s.size <= 2048));
    assert_eq!(read_all(&log, 0), expected);
    // Reading at an offset inside a batch starts with that batch.
    let slice = log.read(301, 1).unwrap().unwrap();
    assert_eq!(batches_of(slice.bytes()), vec![(300, 302)]);
    assert_eq!(slice.next_offset, 303);
    assert_eq!(files_with(dir.path(), ".log").len(), segments.len());
    assert_eq!(files_with(dir.path(), ".log")[0], "00000000000000000000.log");
}

#[test]
fn reads_return_at_least_one_batch_and_whole_batches_only() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_at(dir.path(), LogConfig::default(), NOW).unwrap();
    let big = sized_batch(10_000, 7, NOW);
    log.append(&big, NOW).unwrap();
    log.append(&batch("a", 1, NOW), NOW).unwrap();
    let slice = log.read(0, 10).unwrap().unwrap();
    assert_eq!(slice.len, big.len());
    assert_eq!(slice.next_offset, 1);
    let both = log.read(0, big.len() + 200).unwrap().unwrap();
    assert_eq!(batches_of(both.bytes()), vec![(0, 0), (1, 1)]);
    assert!(log.read(2, 100).unwrap().is_none(), "reading at the log end gives nothing");
    assert!(matches!(log.read(3, 100), Err(StoreError::OffsetOutOfRange { offset: 3, start: 0, end: 2 })));
    assert!(matches!(log.read(-1, 100), Err(StoreError::OffsetOutOfRange { .. })));
}

#[test]
fn index_lookups_find_every_batch_at_every_entry_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { index_interval_bytes: 100, ..LogConfig::default() };
    let log = Log::open_at(dir.path(), config, NOW).unwrap();
    let mut bounds = Vec::new();
    for i in 0..300 {
        let n = 1 + (i % 4) as usize;
        let info = log.append(&batch("x", n, NOW), NOW).unwrap();
        bounds.push((info.base_offset, info.last_offset));
    }
    log.close().unwrap();
    let index = fs::read(dir.path().join("00000000000000000000.index")).unwrap();
    assert!(index.len() >= 8 * 100, "expected a dense index, got {} entries", index.len() / 8);
    let log = Log::open_at(dir.path(), config, NOW).unwrap();
    for &(base, last) in &bounds {
        for offset in base..=last {
            let slice = log.read(offset, 1).unwrap().unwrap();
            assert_eq!(batches_of(slice.bytes()), vec![(base, last)], "reading offset {offset}");
        }
    }
}

#[test]
fn index_entries_follow_kafkas_cadence_and_point_at_batch_boundaries() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { index_interval_bytes: 4096, ..LogConfig::default() };
    let log = Log::open_at(dir.path(), config, NOW).unwrap();
    let one = sized_batch(1000, 1, NOW); // 1000 + header overhead
    let size = one.len();
    for _ in 0..20 {
        log.append(&one, NOW).unwrap();
    }
    log.close().unwrap();
    let index = fs::read(dir.path().join("00000000000000000000.index")).unwrap();
    let entries: Vec<(i32, i32)> =
        index.chunks(8).map(|c| (i32::from_be_bytes(c[..4].try_into().unwrap()), i32::from_be_bytes(c[4..].try_into().unwrap()))).collect();
    // An entry once more than 4096 bytes went by since the last: 4 batches of 1070 bytes
    // (4280 > 4096) precede batch 4, then every 4th.
    assert_eq!(size, 1070);
    assert_eq!(entries, vec![(4, 4 * 1070), (8, 8 * 1070), (12, 12 * 1070), (16, 16 * 1070)]);
    let timeindex = fs::read(dir.path().join("00000000000000000000.timeindex")).unwrap();
    assert_eq!(timeindex.len(), 12, "one time entry (timestamps never grow) plus none for the final");
    assert_eq!(i64::from_be_bytes(timeindex[..8].try_into().unwrap()), NOW);
}

#[test]
fn offset_for_timestamp_finds_the_first_record_at_or_after() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_at(dir.path(), small_config(), NOW).unwrap();
    for i in 0..100 {
        log.append(&batch("t", 5, NOW + i * 10), NOW).unwrap(); // records at +0..+4 of each 10
    }
    assert_eq!(log.offset_for_timestamp(0).unwrap(), Some(0));
    assert_eq!(log.offset_for_timestamp(NOW).unwrap(), Some(0));
    assert_eq!(log.offset_for_timestamp(NOW + 3).unwrap(), Some(3));
    assert_eq!(log.offset_for_timestamp(NOW + 5).unwrap(), Some(5)); // next batch starts at +10
    assert_eq!(log.offset_for_timestamp(NOW + 512).unwrap(), Some(257));
    assert_eq!(log.offset_for_timestamp(NOW + 994).unwrap(), Some(499));
    assert_eq!(log.offset_for_timestamp(NOW + 995).unwrap(), None);
    let segs = log.segments().unwrap();
    assert!(segs.len() > 3);
    assert!(segs.windows(2).all(|w| w[0].max_timestamp < w[1].max_timestamp));
}

#[test]
fn log_append_time_stamps_batches_and_keeps_crc_valid() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { timestamp_type: TimestampType::LogAppendTime, ..LogConfig::default() };
    let log = Log::open_at(dir.path(), config, NOW).unwrap();
    let info = log.append(&batch("l", 2, 5), NOW + 42).unwrap();
    assert_eq!(info.log_append_time, NOW + 42);
    let slice = log.read(0, 1000).unwrap().unwrap();
    let h = BatchHeader::parse(slice.bytes()).unwrap();
    assert!(h.is_log_append_time());
    assert_eq!(h.max_timestamp, NOW + 42);
    assert_eq!(fjord_store::batch::compute_crc(slice.bytes()), h.crc);
}

#[test]
fn rejects_oversized_and_invalid_batches_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { max_message_bytes: 500, ..LogConfig::default() };
    let log = Log::open_at(dir.path(), config, NOW).unwrap();
    log.append(&batch("ok", 1, NOW), NOW).unwrap();
    let big = sized_batch(600, 0, NOW);
    match log.append(&big, NOW) {
        Err(e @ StoreError::RecordTooLarge { .. }) => {
            assert_eq!(e.to_string(), format!("record batch is {} bytes, larger than max.message.bytes (500 bytes)", big.len()));
            assert_eq!(e.code(), "ERR_RECORD_TOO_LARGE");
        }
        other => panic!("expected RecordTooLarge, got {other:?}"),
    }
    // A good batch followed by a bad one: neither is written.
    let mut mixed = batch("good", 1, NOW);
    let mut corrupt = batch("bad", 1, NOW);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    mixed.extend(&corrupt);
    assert!(matches!(log.append(&mixed, NOW), Err(StoreError::CorruptRecord { .. })));
    assert!(matches!(
        log.append(b"garbage that is not a batch at all, not even close......................", NOW),
        Err(StoreError::InvalidRecord { .. })
    ));
    assert_eq!(log.log_end_offset().unwrap(), 1);
    assert_eq!(read_all(&log, 0), vec![(0, 0)]);
    let small = LogConfig { segment_bytes: 100, ..LogConfig::default() };
    log.set_config(small).unwrap();
    let mut two = batch("a", 1, NOW);
    two.extend(batch("b", 1, NOW));
    assert!(matches!(log.append(&two, NOW), Err(StoreError::RecordListTooLarge { limit: 100, .. })));
}

#[test]
fn rolls_when_segment_ms_passes_in_message_time() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { segment_ms: 1000, ..LogConfig::default() };
    let log = Log::open_at(dir.path(), config, NOW).unwrap();
    log.append(&batch("a", 1, NOW), NOW).unwrap();
    log.append(&batch("b", 1, NOW + 1000), NOW + 1000).unwrap();
    assert_eq!(log.segments().unwrap().len(), 1);
    log.append(&batch("c", 1, NOW + 1001), NOW + 1001).unwrap();
    let segs = log.segments().unwrap();
    assert_eq!(segs.iter().map(|s| s.base_offset).collect::<Vec<_>>(), vec![0, 2]);
    assert_eq!(segs[0].max_timestamp, NOW + 1000);
}

#[test]
fn rolls_when_the_index_fills() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { segment_index_bytes: 24, index_interval_bytes: 0, ..LogConfig::default() };
    let log = Log::open_at(dir.path(), config, NOW).unwrap();
    for i in 0..10 {
        log.append(&batch("i", 1, NOW + i), NOW).unwrap();
    }
    // 3 offset-index slots, 2 time-index slots (one kept for the roll): a roll every 2 entries.
    assert!(log.segments().unwrap().len() >= 3);
    assert_eq!(read_all(&log, 0).len(), 10);
}

#[test]
fn truncate_drops_everything_at_and_after_the_offset() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_at(dir.path(), small_config(), NOW).unwrap();
    for i in 0..100 {
        log.append(&batch("t", 2, NOW + i), NOW).unwrap();
    }
    assert!(log.segments().unwrap().len() > 2);
    assert_eq!(log.truncate_to(201).unwrap(), 200, "the batch holding 201 goes whole");
    assert_eq!(log.truncate_to(61).unwrap(), 60);
    assert_eq!(log.log_end_offset().unwrap(), 60);
    assert_eq!(read_all(&log, 0), (0..30).map(|i| (i * 2, i * 2 + 1)).collect::<Vec<_>>());
    let info = log.append(&batch("after", 1, NOW), NOW).unwrap();
    assert_eq!(info.base_offset, 60);
    log.close().unwrap();
    let log = Log::open_at(dir.path(), small_config(), NOW).unwrap();
    assert!(log.recovery_report().clean_shutdown);
    assert_eq!(log.log_end_offset().unwrap(), 61);
    assert_eq!(read_all(&log, 0).len(), 31);
    assert_eq!(log.truncate_to(1000).unwrap(), 61, "truncating past the end changes nothing");
}

#[test]
fn truncate_keeps_bytes_a_reader_holds() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_at(dir.path(), LogConfig::default(), NOW).unwrap();
    for i in 0..10 {
        log.append(&batch("keep", 1, NOW + i), NOW).unwrap();
    }
    let held = log.read(0, 1 << 20).unwrap().unwrap();
    let copy = held.bytes().to_vec();
    log.truncate_to(3).unwrap();
    log.append(&sized_batch(5000, 0xee, NOW), NOW).unwrap();
    assert_eq!(held.bytes(), &copy[..], "the held view still reads its bytes");
    assert_eq!(read_all(&log, 0), vec![(0, 0), (1, 1), (2, 2), (3, 3)]);
}

#[test]
fn truncate_replaces_the_file_so_a_mapping_the_store_does_not_know_of_keeps_its_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { segment_bytes: 64 * 1024, ..LogConfig::default() };
    let log = Log::open_at(dir.path(), config, NOW).unwrap();
    for i in 0..10 {
        log.append(&batch("keep", 1, NOW + i), NOW).unwrap();
    }
    let size = log.size().unwrap() as usize;
    // A reader's own mapping of the file (as a per-fetch mapping is): the store holds no count of it.
    let path = dir.path().join("00000000000000000000.log");
    let file = std::fs::File::open(&path).unwrap();
    // SAFETY: read-only view of a file the store only ever replaces (this test checks that).
    let map = unsafe { memmap2::Mmap::map(&file) }.unwrap();
    let copy = map[..size].to_vec();
    log.truncate_to(3).unwrap();
    log.append(&sized_batch(5000, 0xee, NOW), NOW).unwrap();
    log.flush().unwrap();
    assert_eq!(&map[..size], &copy[..], "the mapping still reads the bytes it had");
    use std::os::unix::fs::MetadataExt;
    assert_ne!(file.metadata().unwrap().ino(), std::fs::metadata(&path).unwrap().ino(), "the cut file is a new file");
    assert_eq!(read_all(&log, 0), vec![(0, 0), (1, 1), (2, 2), (3, 3)]);
}

#[test]
fn delete_segments_before_moves_the_log_start_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_at(dir.path(), small_config(), NOW).unwrap();
    for i in 0..100 {
        log.append(&batch("d", 2, NOW + i), NOW).unwrap();
    }
    let segs = log.segments().unwrap();
    let keep_from = segs[2].base_offset;
    let held = log.read(0, 1 << 20).unwrap().unwrap();
    let copy = held.bytes().to_vec();
    assert_eq!(log.delete_segments_before(keep_from + 1).unwrap(), 2);
    assert_eq!(log.log_start_offset().unwrap(), keep_from + 1);
    assert_eq!(held.bytes(), &copy[..], "a reader of a deleted segment keeps its bytes");
    assert!(matches!(log.read(keep_from, 100), Err(StoreError::OffsetOutOfRange { .. })));
    assert_eq!(log.segments().unwrap()[0].base_offset, keep_from);
    assert!(!dir.path().join("00000000000000000000.log").exists());
    assert!(log.delete_oldest_segment().unwrap());
    let start = log.log_start_offset().unwrap();
    assert_eq!(start, segs[3].base_offset);
    // The active segment is never deleted.
    let sealed = log.segments().unwrap().len() - 1;
    assert_eq!(log.delete_segments_before(200).unwrap(), sealed);
    assert_eq!(log.segments().unwrap().len(), 1);
    assert_eq!(log.log_start_offset().unwrap(), 200);
    assert!(matches!(log.delete_segments_before(201), Err(StoreError::OffsetOutOfRange { .. })));
    log.close().unwrap();
    drop(held);
    let log = Log::open_at(dir.path(), small_config(), NOW).unwrap();
    assert_eq!(log.log_start_offset().unwrap(), 200);
    assert_eq!(log.log_end_offset().unwrap(), 200);
    assert!(log.read(200, 10).unwrap().is_none());
}

#[test]
fn restarts_cleanly_and_keeps_appending() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_at(dir.path(), small_config(), NOW).unwrap();
    for i in 0..50 {
        log.append(&batch("r", 3, NOW + i), NOW).unwrap();
    }
    let before = log.segments().unwrap();
    log.close().unwrap();
    assert!(matches!(log.read(0, 10), Err(StoreError::Closed(_))));
    let log = Log::open_at(dir.path(), small_config(), NOW).unwrap();
    let report = log.recovery_report().clone();
    assert!(report.clean_shutdown);
    assert_eq!(report.segments_recovered, 0);
    assert_eq!(log.segments().unwrap(), before);
    assert_eq!(log.append(&batch("r", 1, NOW), NOW).unwrap().base_offset, 150);
    assert_eq!(read_all(&log, 0).len(), 51);
    // Indexes of a cleanly closed segment are trimmed to their entries.
    let active = format!("{:020}.index", before.last().unwrap().base_offset);
    log.close().unwrap();
    assert_eq!(fs::metadata(dir.path().join(active)).unwrap().len() % 8, 0);
}

/// Simulates a crash: the files as a killed process leaves them (no clean
/// marker, active segment preallocated past its data).
fn crash(log: Log, _dir: &Path) {
    log.flush().unwrap();
    log.simulate_crash();
}

#[test]
fn recovers_from_a_crash_with_preallocated_zeros_after_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_at(dir.path(), LogConfig::default(), NOW).unwrap();
    for i in 0..20 {
        log.append(&batch("z", 2, NOW + i), NOW).unwrap();
    }
    let active = dir.path().join("00000000000000000000.log");
    let data = log.segments().unwrap()[0].size;
    crash(log, dir.path());
    // The active file is kept sparse to its capacity; zeros written past the
    // data (as some file systems' preallocation leaves) count as cut bytes.
    let len = fs::metadata(&active).unwrap().len();
    assert_eq!(len, 1 << 30, "active segment preallocated (sparse) to segment.bytes");
    use std::os::unix::fs::FileExt;
    fs::OpenOptions::new().write(true).open(&active).unwrap().write_all_at(&[0u8; 65536], data).unwrap();
    let log = Log::open_at(dir.path(), LogConfig::default(), NOW).unwrap();
    let report = log.recovery_report().clone();
    assert!(!report.clean_shutdown);
    assert_eq!(report.segments_recovered, 1);
    // Written bytes count up to the hole after them, whole file system blocks.
    assert_eq!(report.bytes_truncated, (data + 65536).div_ceil(4096) * 4096 - data);
    assert_eq!(log.log_end_offset().unwrap(), 40);
    assert_eq!(read_all(&log, 0).len(), 20);
    assert_eq!(log.append(&batch("z", 1, NOW), NOW).unwrap().base_offset, 40);
}

#[test]
fn recovers_from_a_torn_tail_and_flipped_bytes() {
    for damage in ["torn", "flipped"] {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open_at(dir.path(), LogConfig::default(), NOW).unwrap();
        let mut last_pos = 0;
        for i in 0..10 {
            last_pos = log.append(&batch("c", 2, NOW + i), NOW).unwrap().position;
        }
        log.close().unwrap();
        let path = dir.path().join("00000000000000000000.log");
        let mut bytes = fs::read(&path).unwrap();
        match damage {
            "torn" => bytes.truncate(bytes.len() - 5),
            _ => {
                let at = last_pos as usize + 70;
                bytes[at] ^= 0x40;
            }
        }
        fs::write(&path, &bytes).unwrap();
        fs::remove_file(dir.path().join(".clean-shutdown")).unwrap();
        let log = Log::open_at(dir.path(), LogConfig::default(), NOW).unwrap();
        assert_eq!(log.log_end_offset().unwrap(), 18, "{damage}: the last batch is cut");
        assert_eq!(log.recovery_report().bytes_truncated, bytes.len() as u64 - last_pos, "{damage}");
        assert_eq!(read_all(&log, 0).len(), 9);
        assert_eq!(log.segments().unwrap()[0].size, last_pos);
        log.close().unwrap();
        assert_eq!(fs::metadata(&path).unwrap().len(), last_pos, "a closed segment ends at its last batch");
    }
}

#[test]
fn recovery_deletes_segments_after_a_corrupt_one() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open_at(dir.path(), small_config(), NOW).unwrap();
    for i in 0..60 {
        log.append(&batch("s", 2, NOW + i), NOW).unwrap();
    }
    let segs = log.segments().unwrap();
    assert!(segs.len() >= 3);
    log.flush().unwrap();
    crash(log, dir.path());
    // The recovery point sits in the last segment; corrupt the second and remove
    // its index so that open must rebuild it and find the damage.
    let second = segs[1].base_offset;
    let path = dir.path().join(format!("{second:020}.log"));
    let mut bytes = fs::read(&path).unwrap();
    bytes[100] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    fs::remove_file(dir.path().join(format!("{second:020}.index"))).unwrap();
    let log = Log::open_at(dir.path(), small_config(), NOW).unwrap();
    let report = log.recovery_report().clone();
    assert_eq!(report.segments_deleted as usize, segs.len() - 2);
    assert_eq!(log.segments().unwrap().len(), 2);
    let end = log.log_end_offset().unwrap();
    assert!(end > second && end < segs[2].base_offset);
    assert_eq!(log.append(&batch("s", 1, NOW), NOW).unwrap().base_offset, end);
}

#[test]
fn rebuilds_a_missing_or_broken_index_on_clean_open() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { index_interval_bytes: 100, ..small_config() };
    let log = Log::open_at(dir.path(), config, NOW).unwrap();
    for i in 0..60 {
        log.append(&batch("b", 2, NOW + i), NOW).unwrap();
    }
    log.close().unwrap();
    let index = dir.path().join("00000000000000000000.index");
    let original = fs::read(&index).unwrap();
    fs::remove_file(&index).unwrap();
    let time = dir.path().join("00000000000000000000.timeindex");
    fs::write(&time, [1, 2, 3]).unwrap();
    let log = Log::open_at(dir.path(), config, NOW).unwrap();
    assert!(log.recovery_report().segments_recovered >= 1);
    assert_eq!(read_all(&log, 0).len(), 60);
    log.close().unwrap();
    assert_eq!(fs::read(&index).unwrap(), original, "the rebuilt index equals the one written live");
    assert_eq!(fs::metadata(&time).unwrap().len() % 12, 0);
}

#[test]
fn a_second_open_in_the_same_process_shares_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let a = Log::open_at(dir.path(), LogConfig::default(), NOW).unwrap();
    let b = Log::open_at(dir.path(), LogConfig::default(), NOW).unwrap();
    a.append(&batch("x", 1, NOW), NOW).unwrap();
    assert_eq!(b.log_end_offset().unwrap(), 1);
    b.append(&batch("y", 1, NOW), NOW).unwrap();
    a.close().unwrap();
    assert!(matches!(a.log_end_offset(), Err(StoreError::Closed(_))));
    assert_eq!(b.log_end_offset().unwrap(), 2, "the other handle stays open");
    b.close().unwrap();
    assert!(dir.path().join(".clean-shutdown").exists());
}

#[test]
fn a_locked_directory_names_its_holder() {
    let dir = tempfile::tempdir().unwrap();
    let _log = Log::open_at(dir.path(), LogConfig::default(), NOW).unwrap();
    // flock conflicts between two open file descriptions, as with another process.
    let other = fs::OpenOptions::new().read(true).write(true).open(dir.path().join(".lock")).unwrap();
    let held = rustix_flock_would_block(&other);
    assert!(held);
    let text = fs::read_to_string(dir.path().join(".lock")).unwrap();
    assert_eq!(text.split_whitespace().take(2).collect::<Vec<_>>(), vec!["pid", &std::process::id().to_string()]);
}

fn rustix_flock_would_block(file: &fs::File) -> bool {
    use std::os::fd::AsRawFd;
    extern "C" {
        fn flock(fd: i32, op: i32) -> i32;
    }
    // LOCK_EX | LOCK_NB
    unsafe { flock(file.as_raw_fd(), 2 | 4) != 0 }
}

#[test]
fn rejects_invalid_config() {
    let dir = tempfile::tempdir().unwrap();
    let bad = LogConfig { segment_bytes: 10, ..LogConfig::default() };
    match Log::open_at(dir.path(), bad, NOW) {
        Err(e @ StoreError::InvalidConfig(_)) => {
            assert_eq!(e.to_string(), "invalid log config: segment.bytes must be in [61, 2147483647], got 10")
        }
        other => panic!("expected InvalidConfig, got {other:?}"),
    }
}

/// `input` with each batch's CRC zeroed, as a gather append may hand it over.
fn without_crcs(input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    let mut pos = 0;
    while pos < out.len() {
        let h = BatchHeader::parse(&out[pos..]).unwrap();
        out[pos + 17..pos + 21].fill(0);
        pos += h.size;
    }
    out
}

#[test]
fn gather_appends_write_the_same_files_as_contiguous_appends_across_rolls() {
    let (plain_dir, gather_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let plain = Log::open_at(plain_dir.path(), small_config(), NOW).unwrap();
    let gather = Log::open_at(gather_dir.path(), small_config(), NOW).unwrap();
    for round in 0..12usize {
        let mut input = batch(&format!("r{round}"), 1 + round % 4, NOW + round as i64);
        input.extend(sized_batch(100 + round * 10, round as u8, NOW + round as i64));
        let unstamped = without_crcs(&input);
        // Pieces cut at arbitrary places, one of them empty.
        let (a, b) = (round * 7 % input.len(), (round * 31 + 50) % input.len());
        let (a, b) = (a.min(b), a.max(b));
        let pieces = fjord_store::Pieces::new(vec![&unstamped[..a], &[], &unstamped[a..b], &unstamped[b..]]);
        let expected = plain.append(&input, NOW).unwrap();
        let got = gather.append_gathered(&pieces, NOW).unwrap();
        assert_eq!((got.base_offset, got.last_offset, got.position), (expected.base_offset, expected.last_offset, expected.position));
    }
    assert!(plain.segments().unwrap().len() > 1, "the appends roll segments");
    drop((plain, gather));
    let names = files_with(plain_dir.path(), "log");
    assert_eq!(names, files_with(gather_dir.path(), "log"));
    for name in names {
        assert_eq!(fs::read(plain_dir.path().join(&name)).unwrap(), fs::read(gather_dir.path().join(&name)).unwrap(), "{name}");
    }
}

#[test]
fn gather_appends_splice_values_and_refuse_bad_pieces_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { max_message_bytes: 2000, ..LogConfig::default() };
    let log = Log::open_at(dir.path(), config, NOW).unwrap();
    let value = vec![7u8; 1000];
    let whole = sized_batch(1000, 7, NOW);
    let at = whole.windows(1000).position(|w| w == &value[..]).unwrap();
    let mut framing = whole[..at].to_vec();
    framing.extend_from_slice(&whole[at + 1000..]);
    let framing = without_crcs(&framing);

    let short = vec![7u8; 999];
    let refused = [
        fjord_store::Pieces::spliced(&framing, &[&short[..]], &[at as u32]).unwrap(),
        fjord_store::Pieces::new(vec![&framing[..at], &value[..]]),
    ];
    for pieces in &refused {
        assert!(matches!(log.append_gathered(pieces, NOW), Err(StoreError::InvalidRecord { .. })));
    }
    assert!(matches!(
        fjord_store::Pieces::spliced(&framing, &[&value[..]], &[framing.len() as u32 + 1]),
        Err(StoreError::InvalidRecord { .. })
    ));
    let too_big = vec![7u8; 2000];
    let big = fjord_store::Pieces::new(vec![&framing[..at], &too_big[..], &framing[at..]]);
    assert!(matches!(log.append_gathered(&big, NOW), Err(StoreError::InvalidRecord { .. })));
    assert_eq!(log.log_end_offset().unwrap(), 0);
    assert_eq!(log.size().unwrap(), 0);

    let pieces = fjord_store::Pieces::spliced(&framing, &[&value[..]], &[at as u32]).unwrap();
    assert_eq!(log.append_gathered(&pieces, NOW).unwrap().base_offset, 0);
    assert_eq!(log.read(0, 10_000).unwrap().unwrap().bytes(), &whole[..]);
}
