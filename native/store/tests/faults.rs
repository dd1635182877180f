//! Fail-stop under injected I/O errors and panics. Each test runs in a child
//! run of this test binary with `test/fault-shim.c` preloaded (built here with
//! `cc`), which fails the fsync or write calls a control file names, as a
//! failing disk does. The first write or fsync error takes the log offline:
//! every later call fails with ERR_LOG_OFFLINE naming that first cause, even
//! once the disk reports success again, until a reopen recovers from the files.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use fjord_store::{Log, LogConfig, StoreError};

mod common;
use common::{read_from_start, sized_batch, NOW};

const SCENARIO: &str = "FJORD_FAULT_SCENARIO";

/// The shim, compiled once per test process into a temporary directory.
fn shim() -> &'static Path {
    static SHIM: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &SHIM
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("fault-shim.so");
            let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test/fault-shim.c");
            let status = Command::new("cc").args(["-shared", "-fPIC", "-O1", "-o"]).arg(&out).arg(&source).arg("-ldl").status().unwrap();
            assert!(status.success(), "cc {}", source.display());
            (dir, out)
        })
        .1
}

/// The control file of the shim in a child run.
struct Faults {
    control: PathBuf,
}

impl Faults {
    /// Replaces the rules (see test/fault-shim.c for their form).
    fn arm(&self, rules: &str) {
        fs::write(&self.control, rules).unwrap();
    }

    fn disarm(&self) {
        fs::write(&self.control, "").unwrap();
    }

    /// Each injected failure as `<call> <errno> <path>`.
    fn hits(&self) -> Vec<String> {
        let hits = self.control.with_extension("hits");
        fs::read_to_string(hits).map(|t| t.lines().map(str::to_string).collect()).unwrap_or_default()
    }
}

/// Runs `scenario` in a child run of this binary with the shim preloaded
/// (and `env` set), and fails unless the child ran it and passed.
fn in_child(name: &str, env: &[(&str, &str)], scenario: fn(&Faults)) {
    if std::env::var(SCENARIO).as_deref() == Ok(name) {
        let control = PathBuf::from(std::env::var("FJORD_FAULTS").unwrap());
        return scenario(&Faults { control });
    }
    let dir = tempfile::tempdir().unwrap();
    let control = dir.path().join("faults");
    fs::write(&control, "").unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("LD_PRELOAD", shim())
        .env("FJORD_FAULTS", &control)
        .env(SCENARIO, name)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "child run of {name} failed:\n{text}");
    assert!(text.contains("1 passed"), "child run of {name} ran no test:\n{text}");
}

fn config() -> LogConfig {
    LogConfig { segment_bytes: 4096, segment_index_bytes: 1024, index_interval_bytes: 256, ..LogConfig::default() }
}

fn fresh_dir(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().canonicalize().unwrap().join(name);
    fs::create_dir(&dir).unwrap();
    (tmp, dir)
}

/// Asserts `e` is the offline error naming `op`, `errno` and `file` as its cause.
fn assert_offline(e: &StoreError, dir: &Path, cause: &str) {
    assert_eq!(e.code(), "ERR_LOG_OFFLINE", "{e}");
    assert_eq!(
        e.to_string(),
        format!("partition log {} is offline after {cause}; close and reopen it to recover from its files", dir.display())
    );
}

/// Every call on an offline log fails with the same error; close succeeds and
/// leaves no clean-shutdown marker, so the next open recovers.
fn assert_stays_offline(log: Log, dir: &Path, cause: &str) {
    assert!(log.is_offline());
    assert_offline(&log.flush().unwrap_err(), dir, cause);
    assert_offline(&log.append(&sized_batch(10, 0xee, NOW), NOW).unwrap_err(), dir, cause);
    assert_offline(&log.read(0, 1 << 20).err().unwrap(), dir, cause);
    assert_offline(&log.truncate_to(0).unwrap_err(), dir, cause);
    assert_offline(&log.log_end_offset().unwrap_err(), dir, cause);
    log.close().unwrap();
    assert!(!dir.join(".clean-shutdown").exists());
}

fn seg_file(dir: &Path, base: i64, suffix: &str) -> PathBuf {
    dir.join(format!("{base:020}.{suffix}"))
}

#[test]
fn an_fsync_error_on_the_active_segment_takes_the_log_offline_until_reopen() {
    in_child("an_fsync_error_on_the_active_segment_takes_the_log_offline_until_reopen", &[], |faults| {
        let (_tmp, dir) = fresh_dir("t-0");
        let log = Log::open_at(&dir, config(), NOW).unwrap();
        for i in 0..3 {
            log.append(&sized_batch(100, i, NOW), NOW).unwrap();
        }
        log.flush().unwrap();
        log.append(&sized_batch(100, 3, NOW), NOW).unwrap();
        let file = seg_file(&dir, 0, "log");
        // The disk fails the next sync once, then reports success again.
        faults.arm(&format!("fdatasync,fsync {} EIO 0 1", file.display()));
        let cause = format!("input/output error (EIO) syncing {}", file.display());
        let e = log.flush().unwrap_err();
        assert_offline(&e, &dir, &cause);
        assert_eq!((e.errno(), e.errno_name().as_deref()), (Some(5), Some("EIO")));
        assert_eq!(faults.hits(), vec![format!("fdatasync EIO {}", file.display())]);
        assert_stays_offline(log, &dir, &cause);
        assert_eq!(faults.hits().len(), 1, "the later flush did not reach the disk");
        faults.disarm();
        let log = Log::open_at(&dir, config(), NOW).unwrap();
        assert!(!log.recovery_report().clean_shutdown);
        assert_eq!(read_from_start(&log), vec![(0, 0), (1, 1), (2, 2), (3, 3)]);
        assert_eq!(log.append(&sized_batch(100, 4, NOW), NOW).unwrap().base_offset, 4);
        log.flush().unwrap();
    });
}

#[test]
fn an_fsync_error_in_a_rolled_segments_background_sync_takes_the_log_offline() {
    in_child("an_fsync_error_in_a_rolled_segments_background_sync_takes_the_log_offline", &[], |faults| {
        let (_tmp, dir) = fresh_dir("t-0");
        let log = Log::open_at(&dir, config(), NOW).unwrap();
        for i in 0..5 {
            log.append(&sized_batch(700, i, NOW), NOW).unwrap();
        }
        let sealed = seg_file(&dir, 0, "log");
        faults.arm(&format!("fdatasync,fsync {} EIO 0 1", sealed.display()));
        // This append rolls: the sealed segment is synced in the background, and fails.
        assert_eq!(log.append(&sized_batch(700, 5, NOW), NOW).unwrap().base_offset, 5);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while faults.hits().is_empty() {
            assert!(std::time::Instant::now() < deadline, "the background sync never ran");
            std::thread::yield_now();
        }
        // The flush's own fsync of that file now succeeds (the error was
        // reported once, to the background sync): the flush still fails.
        let cause = format!("input/output error (EIO) syncing {}", sealed.display());
        assert_offline(&log.flush().unwrap_err(), &dir, &cause);
        assert_eq!(faults.hits(), vec![format!("fdatasync EIO {}", sealed.display())]);
        assert_stays_offline(log, &dir, &cause);
        faults.disarm();
        let log = Log::open_at(&dir, config(), NOW).unwrap();
        assert_eq!(read_from_start(&log), (0..6).map(|i| (i, i)).collect::<Vec<_>>());
    });
}

#[test]
fn an_fsync_error_on_a_sealed_segments_index_files_takes_the_log_offline() {
    in_child("an_fsync_error_on_a_sealed_segments_index_files_takes_the_log_offline", &[], |faults| {
        for suffix in ["index", "timeindex"] {
            let (_tmp, dir) = fresh_dir("t-0");
            let log = Log::open_at(&dir, config(), NOW).unwrap();
            let index = seg_file(&dir, 0, suffix);
            faults.arm(&format!("fdatasync,fsync {} EIO 0 1", index.display()));
            for i in 0..6 {
                log.append(&sized_batch(700, i, NOW), NOW).unwrap();
            }
            let cause = format!("input/output error (EIO) syncing {}", index.display());
            assert_offline(&log.flush().unwrap_err(), &dir, &cause);
            assert_eq!(faults.hits(), vec![format!("fdatasync EIO {}", index.display())]);
            assert_stays_offline(log, &dir, &cause);
            faults.disarm();
            fs::remove_file(faults.control.with_extension("hits")).unwrap();
            let log = Log::open_at(&dir, config(), NOW).unwrap();
            assert_eq!(read_from_start(&log), (0..6).map(|i| (i, i)).collect::<Vec<_>>(), "{suffix}");
        }
    });
}

#[test]
fn an_eio_on_a_write_takes_the_log_offline_and_keeps_nothing_of_the_append() {
    in_child("an_eio_on_a_write_takes_the_log_offline_and_keeps_nothing_of_the_append", &[], |faults| {
        let (_tmp, dir) = fresh_dir("t-0");
        let log = Log::open_at(&dir, config(), NOW).unwrap();
        for i in 0..3 {
            log.append(&sized_batch(100, i, NOW), NOW).unwrap();
        }
        log.flush().unwrap();
        let file = seg_file(&dir, 0, "log");
        faults.arm(&format!("pwritev {} EIO 0 1", file.display()));
        let cause = format!("input/output error (EIO) appending to {}", file.display());
        assert_offline(&log.append(&sized_batch(100, 3, NOW), NOW).unwrap_err(), &dir, &cause);
        assert_eq!(faults.hits(), vec![format!("pwritev EIO {}", file.display())]);
        assert_stays_offline(log, &dir, &cause);
        faults.disarm();
        let log = Log::open_at(&dir, config(), NOW).unwrap();
        assert_eq!(read_from_start(&log), vec![(0, 0), (1, 1), (2, 2)]);
        assert_eq!(log.append(&sized_batch(100, 3, NOW), NOW).unwrap().base_offset, 3);
    });
}

#[test]
fn an_enospc_on_a_write_is_refused_undone_and_the_log_stays_online() {
    in_child("an_enospc_on_a_write_is_refused_undone_and_the_log_stays_online", &[], |faults| {
        let (_tmp, dir) = fresh_dir("t-0");
        let log = Log::open_at(&dir, config(), NOW).unwrap();
        log.append(&sized_batch(100, 0, NOW), NOW).unwrap();
        let file = seg_file(&dir, 0, "log");
        faults.arm(&format!("pwritev {} ENOSPC 0 1", file.display()));
        let e = log.append(&sized_batch(100, 1, NOW), NOW).unwrap_err();
        assert_eq!(e.code(), "ERR_DISK_FULL");
        assert_eq!(e.to_string(), format!("no space left on device (ENOSPC) appending to {}", file.display()));
        assert!(!log.is_offline());
        assert_eq!(log.append(&sized_batch(100, 2, NOW), NOW).unwrap().base_offset, 1);
        log.flush().unwrap();
        assert_eq!(read_from_start(&log), vec![(0, 0), (1, 1)]);
    });
}

#[test]
fn an_index_page_that_cannot_be_reserved_is_left_out_for_lack_of_room_and_takes_the_log_offline_on_eio() {
    in_child("an_index_page_that_cannot_be_reserved_is_left_out_for_lack_of_room_and_takes_the_log_offline_on_eio", &[], |faults| {
        let (_tmp, dir) = fresh_dir("t-0");
        let log = Log::open_at(&dir, config(), NOW).unwrap();
        // Batches 0-4 fill the first segment; 5 rolls into a new one, whose
        // index is preallocated sparse (no block reserved yet).
        for i in 0..6 {
            log.append(&sized_batch(700, i, NOW), NOW).unwrap();
        }
        let index = seg_file(&dir, 5, "index");
        // Lack of room for the page of batch 6's index entry: the entry is
        // left out (the index is sparse), the append stands.
        faults.arm(&format!("fallocate {} ENOSPC 0 1", index.display()));
        assert_eq!(log.append(&sized_batch(700, 6, NOW), NOW).unwrap().base_offset, 6);
        assert!(!log.is_offline());
        // Any other error reserving it: offline.
        faults.arm(&format!("fallocate {} EIO 0 1", index.display()));
        let cause = format!("input/output error (EIO) preallocating {}", index.display());
        assert_offline(&log.append(&sized_batch(700, 7, NOW), NOW).unwrap_err(), &dir, &cause);
        assert_stays_offline(log, &dir, &cause);
        faults.disarm();
        // Batch 7 was written before its index entry failed: recovery finds it.
        let log = Log::open_at(&dir, config(), NOW).unwrap();
        assert_eq!(read_from_start(&log), (0..8).map(|i| (i, i)).collect::<Vec<_>>());
        assert_eq!(log.append(&sized_batch(700, 8, NOW), NOW).unwrap().base_offset, 8);
    });
}

/// A log of three segments (offsets 0-4, 5-9, 10-11), its batches 700 bytes each.
fn three_segments(dir: &Path) -> Log {
    let log = Log::open_at(dir, config(), NOW).unwrap();
    for i in 0..12 {
        log.append(&sized_batch(700, i, NOW), NOW).unwrap();
    }
    assert_eq!(log.segments().unwrap().iter().map(|s| s.base_offset).collect::<Vec<_>>(), vec![0, 5, 10]);
    log
}

fn files_of(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.retain(|n| n.contains(".log") || n.contains("index"));
    names.sort();
    names
}

#[test]
fn a_truncation_that_cannot_write_its_copy_leaves_the_log_unchanged_and_online() {
    in_child("a_truncation_that_cannot_write_its_copy_leaves_the_log_unchanged_and_online", &[], |faults| {
        let (_tmp, dir) = fresh_dir("t-0");
        let log = three_segments(&dir);
        let before = read_from_start(&log);
        let files = files_of(&dir);
        let swap = dir.join("00000000000000000005.log.fjord-swap");
        for (rule, error) in [
            (format!("write {} ENOSPC 0 0", swap.display()), format!("no space left on device (ENOSPC) writing {}", swap.display())),
            (format!("fsync {} EIO 0 0", swap.display()), format!("input/output error (EIO) syncing {}", swap.display())),
        ] {
            faults.arm(&rule);
            let e = log.truncate_to(7).unwrap_err();
            assert_eq!(e.to_string(), error);
            assert!(!log.is_offline());
            assert_eq!(read_from_start(&log), before);
            assert_eq!(log.log_end_offset().unwrap(), 12);
            assert_eq!(files_of(&dir), files, "no copy is left behind");
        }
        faults.disarm();
        assert_eq!(log.truncate_to(7).unwrap(), 7);
        assert_eq!(read_from_start(&log), (0..7).map(|i| (i, i)).collect::<Vec<_>>());
        assert_eq!(log.append(&sized_batch(700, 0xaa, NOW), NOW).unwrap().base_offset, 7);
        log.close().unwrap();
        let log = Log::open_at(&dir, config(), NOW).unwrap();
        assert_eq!(read_from_start(&log), (0..8).map(|i| (i, i)).collect::<Vec<_>>());
    });
}

#[test]
fn a_truncation_that_fails_once_the_files_changed_takes_the_log_offline_without_a_panic() {
    in_child("a_truncation_that_fails_once_the_files_changed_takes_the_log_offline_without_a_panic", &[], |faults| {
        let (_tmp, dir) = fresh_dir("t-0");
        let log = three_segments(&dir);
        // The directory's fsync after the copy is renamed over the segment fails.
        faults.arm(&format!("fsync {} EIO 0 1", dir.display()));
        let cause = format!("input/output error (EIO) syncing {}", dir.display());
        assert_offline(&log.truncate_to(7).unwrap_err(), &dir, &cause);
        assert_stays_offline(log, &dir, &cause);
        faults.disarm();
        // The rename happened and later segments are gone: the reopened log ends at the cut.
        let log = Log::open_at(&dir, config(), NOW).unwrap();
        assert_eq!(read_from_start(&log), (0..7).map(|i| (i, i)).collect::<Vec<_>>());
        assert_eq!(log.append(&sized_batch(700, 0xaa, NOW), NOW).unwrap().base_offset, 7);
    });
}

#[test]
fn a_panic_in_an_append_takes_only_that_log_offline() {
    in_child("a_panic_in_an_append_takes_only_that_log_offline", &[("FJORD_TEST_PANIC", "doomed-0")], |_| {
        let (_tmp, root) = fresh_dir("data");
        let doomed = root.join("doomed-0");
        let other = root.join("other-0");
        let a = Log::open_at(&doomed, config(), NOW).unwrap();
        let b = Log::open_at(&other, config(), NOW).unwrap();
        b.append(&sized_batch(100, 0, NOW), NOW).unwrap();
        let e = a.append(&sized_batch(100, 0, NOW), NOW).unwrap_err();
        let cause = format!("a panic in append: forced by FJORD_TEST_PANIC=doomed-0 appending to {}", doomed.display());
        assert_offline(&e, &doomed, &cause);
        match &e {
            StoreError::Offline { cause, .. } => assert_eq!((cause.op.as_str(), cause.errno), ("panic", None)),
            other => panic!("expected Offline, got {other:?}"),
        }
        assert_stays_offline(a, &doomed, &cause);
        // The other log, and the process, go on.
        assert_eq!(b.append(&sized_batch(100, 1, NOW), NOW).unwrap().base_offset, 1);
        b.flush().unwrap();
        assert_eq!(read_from_start(&b), vec![(0, 0), (1, 1)]);
        let a = Log::open_at(&doomed, config(), NOW).unwrap();
        assert_eq!(read_from_start(&a), vec![]);
    });
}
