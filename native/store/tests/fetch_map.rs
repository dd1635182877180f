//! Private mappings of reads (`FetchMap`): what a reader outside the store
//! holds. Writing into one changes nothing anyone else sees, and no change
//! the store makes to its files (roll, retention, truncation, close) takes
//! a byte from under one (a failed append's undo included). The file size
//! limit one test sets is process-wide: the tests take turns.

mod common;

use std::sync::Mutex;

use common::*;
use fjord_store::{live_fetch_maps, FetchMap, Log, LogConfig};

/// The tests of this file count live mappings, and one sets the file size limit: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// A value as large as a batch may be (`max.message.bytes` less a header).
const LARGE: usize = (1 << 20) - 1000;

/// The bytes a fetch mapping holds.
fn bytes_of(map: &mut FetchMap) -> Vec<u8> {
    // SAFETY: the mapping is `len` bytes and lives through the copy.
    unsafe { std::slice::from_raw_parts(map.as_mut_ptr(), map.len()) }.to_vec()
}

/// Writes `fill` over every byte of the mapping.
fn scribble(map: &mut FetchMap, fill: u8) {
    // SAFETY: as above; the mapping is private and writable.
    unsafe { std::ptr::write_bytes(map.as_mut_ptr(), fill, map.len()) };
}

/// A log of 40 batches of one 10,000-byte value each (filled with the batch
/// number), 1 MiB segments.
fn log_of_sized_batches(dir: &std::path::Path) -> Log {
    let log = Log::open_at(dir, LogConfig { segment_bytes: 1 << 20, ..LogConfig::default() }, NOW).unwrap();
    for i in 0..40u8 {
        log.append(&sized_batch(10_000, i, NOW), NOW).unwrap();
    }
    log
}

#[test]
fn writes_into_a_fetch_mapping_stay_in_it() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let log = log_of_sized_batches(dir.path());
    let slice = log.read(3, 100_000).unwrap().unwrap();
    let original = slice.bytes().to_vec();
    let mut written = FetchMap::new(&slice).unwrap();
    let mut other = FetchMap::new(&slice).unwrap();
    assert_eq!(written.len(), slice.len);
    assert_eq!(bytes_of(&mut written), original);

    scribble(&mut written, 0xab);
    assert_eq!(bytes_of(&mut written), vec![0xab; slice.len]);
    assert_eq!(bytes_of(&mut other), original, "another fetch of the same bytes");
    assert_eq!(slice.bytes(), original, "the store's own mapping");
    assert_eq!(log.read(3, 100_000).unwrap().unwrap().bytes(), original, "a later read");
    let file = std::fs::read(dir.path().join("00000000000000000000.log")).unwrap();
    assert_eq!(&file[slice.start..slice.start + slice.len], original, "the file");
}

#[test]
fn a_fetch_mapping_outlives_roll_retention_truncation_and_close() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let log = log_of_sized_batches(dir.path());
    let before = live_fetch_maps();
    // The active segment, its last page partly past the data: the roll trims the file to its data.
    let tail = log.read(30, 1 << 20).unwrap().unwrap();
    let tail_bytes = tail.bytes().to_vec();
    let mut tail_map = FetchMap::new(&tail).unwrap();
    drop(tail);
    log.append(&sized_batch(LARGE, 0xee, NOW), NOW).unwrap();
    assert_eq!(log.segments().unwrap().len(), 2, "rolled");
    assert_eq!(bytes_of(&mut tail_map), tail_bytes);

    // Truncated to well inside the mapped range: pages past the cut must stay readable.
    let slice = log.read(0, 1 << 20).unwrap().unwrap();
    let kept = slice.bytes().to_vec();
    let mut held = FetchMap::new(&slice).unwrap();
    drop(slice);
    assert_eq!(log.truncate_to(2).unwrap(), 2);
    assert_eq!(bytes_of(&mut held), kept);
    assert_eq!(bytes_of(&mut tail_map), tail_bytes);
    scribble(&mut held, 1);
    assert_eq!(bytes_of(&mut held), vec![1; kept.len()]);

    // Retention deletes the segment.
    log.append(&sized_batch(LARGE, 0xdd, NOW), NOW).unwrap();
    assert!(log.delete_segments_before(log.log_end_offset().unwrap()).unwrap() > 0);
    assert!(!dir.path().join("00000000000000000000.log").exists());
    assert_eq!(bytes_of(&mut tail_map), tail_bytes);
    log.close().unwrap();
    assert_eq!(bytes_of(&mut tail_map), tail_bytes);
    assert_eq!(live_fetch_maps(), before + 2);
    drop((held, tail_map));
    assert_eq!(live_fetch_maps(), before);
}

#[test]
fn a_failed_append_undone_in_the_page_a_fetch_mapping_ends_in_leaves_its_bytes() {
    let _one = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let config = LogConfig { segment_bytes: 64 * 1024, segment_index_bytes: 4096, index_interval_bytes: 256, ..LogConfig::default() };
    let log = Log::open_at(dir.path(), config, NOW).unwrap();
    for i in 0..10 {
        log.append(&sized_batch(700, i, NOW), NOW).unwrap();
    }
    let size = log.size().unwrap();
    assert_ne!(size % 4096, 0, "the data ends inside a page");
    let slice = log.read(0, 1 << 20).unwrap().unwrap();
    let original = slice.bytes().to_vec();
    let mut held = FetchMap::new(&slice).unwrap();
    drop(slice);
    // The file size limit falls inside the next batch: its written part is
    // punched out again, in the page the mapping ends in.
    set_soft_file_size_limit(size + 300);
    let failed = log.append(&sized_batch(700, 0xaa, NOW), NOW);
    set_soft_file_size_limit(libc::RLIM_INFINITY);
    assert_eq!(failed.unwrap_err().code(), "ERR_FILE_TOO_LARGE");
    assert_eq!(bytes_of(&mut held), original);
    assert_eq!(log.read(0, 1 << 20).unwrap().unwrap().bytes(), original);
}

/// The process's file size limit (soft only, so it can be lifted again); a
/// write past it fails with EFBIG instead of raising SIGXFSZ.
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
