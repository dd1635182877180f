//! Write errors in the append path, made real with the file size limit
//! (RLIMIT_FSIZE): a write that would cross it stops short there and the next
//! one fails with EFBIG, and extending a file past it fails with EFBIG. The
//! limit is process-wide, so these tests live in their own test binary and
//! take turns through one lock.

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Mutex;

use fjord_store::{Log, LogConfig};

mod common;
use common::{each_logged_batch, sized_batch, NOW};

static LIMIT: Mutex<()> = Mutex::new(());

/// Holds the file size limit at `bytes` (soft limit only, so it can always be
/// lifted again) until dropped; writes then fail with EFBIG instead of raising SIGXFSZ.
struct FileSizeLimit;

impl FileSizeLimit {
    fn set(bytes: u64) -> FileSizeLimit {
        set_soft_file_size_limit(bytes);
        FileSizeLimit
    }
}

impl Drop for FileSizeLimit {
    fn drop(&mut self) {
        set_soft_file_size_limit(libc::RLIM_INFINITY);
    }
}

fn set_soft_file_size_limit(bytes: libc::rlim_t) {
    // SAFETY: plain system calls on this process's own signal disposition and limits.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut limit), 0);
        limit.rlim_cur = bytes.min(limit.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
}

/// Every batch of the log as (base offset, last offset, last byte of its one value).
fn read_all(log: &Log) -> Vec<(i64, i64, u8)> {
    let mut out = Vec::new();
    // A record ends with its value and a one-byte header count.
    each_logged_batch(log, log.log_start_offset().unwrap(), |h, bytes| out.push((h.base_offset, h.last_offset(), bytes[h.size - 2])));
    out
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.retain(|n| n.ends_with(".log") || n.ends_with(".index") || n.ends_with(".timeindex"));
    names.sort();
    names
}

fn expect_file_too_large(result: fjord_store::Result<fjord_store::AppendInfo>, doing: &str, file: &Path) {
    match result {
        Err(e) => {
            assert_eq!(e.code(), "ERR_FILE_TOO_LARGE", "{e}");
            assert_eq!(e.to_string(), format!("file too large (EFBIG) {doing} {}", file.display()));
        }
        Ok(info) => panic!("expected EFBIG, the append went to offset {}", info.base_offset),
    }
}

/// Reopens after a crash (no clean shutdown) with the limit lifted.
fn crash_and_reopen(log: Log, dir: &Path, config: LogConfig) -> Log {
    log.simulate_crash();
    let log = Log::open_at(dir, config, NOW).unwrap();
    assert!(!log.recovery_report().clean_shutdown);
    log
}

#[test]
fn a_write_cut_short_by_efbig_is_undone_and_the_log_goes_on_once_it_may_grow() {
    let _turn = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let dir = &dir.path().canonicalize().unwrap();
    let config = LogConfig { segment_bytes: 64 * 1024, segment_index_bytes: 4096, index_interval_bytes: 256, ..LogConfig::default() };
    let log = Log::open_at(dir, config, NOW).unwrap();
    for i in 0..10 {
        log.append(&sized_batch(700, i, NOW), NOW).unwrap();
    }
    let before = read_all(&log);
    let size = log.size().unwrap();
    let active = dir.join("00000000000000000000.log");
    {
        // The limit falls inside the next batch: pwritev writes up to it, then fails.
        let _limit = FileSizeLimit::set(size + 300);
        expect_file_too_large(log.append(&sized_batch(700, 0xaa, NOW), NOW), "appending to", &active);
        // Two batches in one append, the first wholly below the limit: neither is kept.
        let mut two = sized_batch(100, 0xbb, NOW);
        two.extend(sized_batch(700, 0xcc, NOW));
        expect_file_too_large(log.append(&two, NOW), "appending to", &active);

        assert_eq!(log.log_end_offset().unwrap(), 10);
        assert_eq!(log.size().unwrap(), size);
        assert_eq!(read_all(&log), before);
        // The written part is gone from the file, which keeps its (sparse) length.
        let mut tail = vec![0xffu8; 1000];
        fs::File::open(&active).unwrap().read_exact_at(&mut tail, size).unwrap();
        assert!(tail.iter().all(|&b| b == 0), "bytes after the data are zeros");
        assert_eq!(fs::metadata(&active).unwrap().len(), 64 * 1024);
        // What still fits below the limit is appended.
        assert_eq!(log.append(&sized_batch(100, 0xdd, NOW), NOW).unwrap().base_offset, 10);
    }
    assert_eq!(log.append(&sized_batch(700, 0xee, NOW), NOW).unwrap().base_offset, 11);
    let expected: Vec<_> = before.iter().copied().chain([(10, 10, 0xdd), (11, 11, 0xee)]).collect();
    assert_eq!(read_all(&log), expected);
    let log = crash_and_reopen(log, dir, config);
    assert_eq!(read_all(&log), expected);
    assert_eq!(log.append(&sized_batch(10, 0xff, NOW), NOW).unwrap().base_offset, 12);
}

#[test]
fn a_failed_write_leaves_the_file_as_a_reopen_finds_it() {
    let _turn = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let dir = &dir.path().canonicalize().unwrap();
    let config = LogConfig { segment_bytes: 64 * 1024, segment_index_bytes: 4096, index_interval_bytes: 256, ..LogConfig::default() };
    let log = Log::open_at(dir, config, NOW).unwrap();
    for i in 0..5 {
        log.append(&sized_batch(700, i, NOW), NOW).unwrap();
    }
    let before = read_all(&log);
    let size = log.size().unwrap();
    {
        let _limit = FileSizeLimit::set(size + 500);
        let mut two = sized_batch(100, 0xbb, NOW);
        two.extend(sized_batch(700, 0xcc, NOW));
        expect_file_too_large(log.append(&two, NOW), "appending to", &dir.join("00000000000000000000.log"));
    }
    // Killed right after the failure: recovery finds the same end, not the first batch of the failed append.
    let log = crash_and_reopen(log, dir, config);
    assert_eq!(log.log_end_offset().unwrap(), 5);
    assert_eq!(log.size().unwrap(), size);
    assert_eq!(read_all(&log), before);
    assert_eq!(log.append(&sized_batch(10, 0xff, NOW), NOW).unwrap().base_offset, 5);
}

#[test]
fn a_roll_that_cannot_extend_the_new_log_file_leaves_the_active_segment_in_use() {
    let _turn = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let dir = &dir.path().canonicalize().unwrap();
    let config = LogConfig { segment_bytes: 8192, segment_index_bytes: 1024, index_interval_bytes: 256, ..LogConfig::default() };
    let log = Log::open_at(dir, config, NOW).unwrap();
    for i in 0..4 {
        log.append(&sized_batch(700, i, NOW), NOW).unwrap();
    }
    let size = log.size().unwrap();
    assert!(size > 3000 && size < 4096);
    let before_files = files(dir);
    {
        // New segments are made 8192 bytes long (sparse): over the limit.
        let _limit = FileSizeLimit::set(4096);
        expect_file_too_large(log.append(&sized_batch(6000, 0xaa, NOW), NOW), "extending", &dir.join("00000000000000000004.log"));
        assert_eq!(files(dir), before_files, "no half-made segment is left behind");
        assert_eq!(log.segments().unwrap().len(), 1);
        // Appends that fit the active segment (and the limit) go on there, past the failed roll's base offset.
        assert_eq!(log.append(&sized_batch(100, 0xbb, NOW), NOW).unwrap().base_offset, 4);
        assert_eq!(log.append(&sized_batch(100, 0xcc, NOW), NOW).unwrap().base_offset, 5);
    }
    let rolled = log.append(&sized_batch(6000, 0xdd, NOW), NOW).unwrap();
    assert_eq!(rolled.base_offset, 6);
    assert_eq!(log.segments().unwrap().iter().map(|s| (s.base_offset, s.next_offset)).collect::<Vec<_>>(), vec![(0, 6), (6, 7)]);
    let expected = vec![(0, 0, 0), (1, 1, 1), (2, 2, 2), (3, 3, 3), (4, 4, 0xbb), (5, 5, 0xcc), (6, 6, 0xdd)];
    assert_eq!(read_all(&log), expected);
    let log = crash_and_reopen(log, dir, config);
    assert_eq!(read_all(&log), expected);
    assert_eq!(log.log_end_offset().unwrap(), 7);
}

#[test]
fn a_roll_that_cannot_preallocate_an_index_leaves_the_active_segment_in_use() {
    let _turn = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let dir = &dir.path().canonicalize().unwrap();
    // Index files are preallocated (their length set, sparse) to 8192 bytes, the log file to 4096.
    let config = LogConfig { segment_bytes: 4096, segment_index_bytes: 8192, index_interval_bytes: 256, ..LogConfig::default() };
    let log = Log::open_at(dir, config, NOW).unwrap();
    for i in 0..5 {
        log.append(&sized_batch(700, i, NOW), NOW).unwrap();
    }
    let before = read_all(&log);
    let before_files = files(dir);
    {
        let _limit = FileSizeLimit::set(6000);
        expect_file_too_large(log.append(&sized_batch(700, 0xaa, NOW), NOW), "extending", &dir.join("00000000000000000005.index"));
        assert_eq!(files(dir), before_files, "no half-made segment is left behind");
        assert_eq!(read_all(&log), before);
        assert_eq!(log.log_end_offset().unwrap(), 5);
    }
    assert_eq!(log.append(&sized_batch(700, 0xbb, NOW), NOW).unwrap().base_offset, 5);
    assert_eq!(log.segments().unwrap().len(), 2);
    let expected: Vec<_> = before.iter().copied().chain([(5, 5, 0xbb)]).collect();
    assert_eq!(read_all(&log), expected);
    log.close().unwrap();
    let log = Log::open_at(dir, config, NOW).unwrap();
    assert_eq!(read_all(&log), expected);
    // The sealed segment's index was written and trimmed normally.
    assert_eq!(fs::metadata(dir.join("00000000000000000000.index")).unwrap().len() % 8, 0);
    assert!(fs::metadata(dir.join("00000000000000000000.index")).unwrap().len() > 0);
}

#[test]
fn an_empty_segment_that_cannot_grow_for_a_large_append_stays_usable() {
    let _turn = LIMIT.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let dir = &dir.path().canonicalize().unwrap();
    let small = LogConfig { segment_bytes: 4096, segment_index_bytes: 1024, index_interval_bytes: 256, ..LogConfig::default() };
    let log = Log::open_at(dir, small, NOW).unwrap();
    let large = LogConfig { segment_bytes: 16384, ..small };
    log.set_config(large).unwrap();
    let active = dir.join("00000000000000000000.log");
    {
        // The empty 4096-byte active segment must grow to 16384 bytes for this batch.
        let _limit = FileSizeLimit::set(8192);
        expect_file_too_large(log.append(&sized_batch(6000, 0xaa, NOW), NOW), "extending", &active);
        assert_eq!(log.segments().unwrap().len(), 1);
        assert_eq!(log.log_end_offset().unwrap(), 0);
        assert_eq!(read_all(&log), vec![]);
    }
    assert_eq!(log.append(&sized_batch(6000, 0xbb, NOW), NOW).unwrap().base_offset, 0);
    assert_eq!(log.append(&sized_batch(100, 0xcc, NOW), NOW).unwrap().base_offset, 1);
    assert_eq!(read_all(&log), vec![(0, 0, 0xbb), (1, 1, 0xcc)]);
    let log = crash_and_reopen(log, dir, large);
    assert_eq!(read_all(&log), vec![(0, 0, 0xbb), (1, 1, 0xcc)]);
}
