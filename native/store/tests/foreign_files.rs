//! Files in a partition directory that Fjord did not write (a Kafka broker's
//! snapshots, transaction indexes, checkpoints, metadata and temporaries):
//! open, append, truncation and close leave them byte for byte, and verify
//! reports any file it cannot account for. And the disk an idle partition
//! costs: its indexes are preallocated as Kafka does (length set, no blocks).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use fjord_store::{verify_log_dir, Log, LogConfig, ProblemKind};

mod common;
use common::{batch, small_config, NOW};

/// What a Kafka 4.x broker keeps in a partition directory besides its
/// segments, with contents of our own (only the names matter to the loader).
const KAFKA_FILES: [&str; 11] = [
    "00000000000000000000.snapshot",
    "00000000000000000000.txnindex",
    "leader-epoch-checkpoint",
    "partition.metadata",
    "00000000000000000005.log.deleted",
    "00000000000000000005.index.deleted",
    "00000000000000000005.timeindex.deleted",
    "00000000000000000007.log.cleaned",
    "00000000000000000009.log.swap",
    "00000000000000000009.index.swap",
    "00000000000000000009.txnindex.swap",
];

fn with_kafka_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fs::create_dir_all(dir).unwrap();
    KAFKA_FILES
        .iter()
        .map(|name| {
            let bytes = format!("written by a Kafka broker: {name}\n").into_bytes();
            fs::write(dir.join(name), &bytes).unwrap();
            (name.to_string(), bytes)
        })
        .collect()
}

fn read_back(dir: &Path, files: &[(String, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    files.iter().map(|(name, _)| (name.clone(), fs::read(dir.join(name)).unwrap_or_default())).collect()
}

#[test]
fn open_append_truncate_and_close_leave_kafka_files_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let files = with_kafka_files(dir.path());
    let log = Log::open_at(dir.path(), small_config(), NOW).unwrap();
    for i in 0..40 {
        log.append(&batch("v", 2, NOW + i), NOW).unwrap();
    }
    assert!(log.segments().unwrap().len() > 1);
    log.truncate_to(30).unwrap();
    log.close().unwrap();
    // A crash (no clean-shutdown marker) makes the next open recover: still nothing of Kafka's goes.
    fs::remove_file(dir.path().join(".clean-shutdown")).unwrap();
    let log = Log::open_at(dir.path(), small_config(), NOW).unwrap();
    assert!(log.recovery_report().notes.iter().all(|n| !n.contains("removed")), "{:?}", log.recovery_report().notes);
    log.close().unwrap();
    assert_eq!(read_back(dir.path(), &files), files);
}

#[test]
fn a_truncation_temporary_of_fjord_is_removed_at_open_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let files = with_kafka_files(dir.path());
    let log = Log::open_at(dir.path(), small_config(), NOW).unwrap();
    log.append(&batch("v", 2, NOW), NOW).unwrap();
    log.close().unwrap();
    // What a crash between writing the kept prefix and renaming it over the segment leaves.
    fs::write(dir.path().join("00000000000000000000.log.fjord-swap"), b"kept prefix").unwrap();
    let log = Log::open_at(dir.path(), small_config(), NOW).unwrap();
    assert_eq!(log.recovery_report().notes, vec!["removed leftover temporary file 00000000000000000000.log.fjord-swap".to_string()]);
    log.close().unwrap();
    assert!(!dir.path().join("00000000000000000000.log.fjord-swap").exists());
    assert_eq!(read_back(dir.path(), &files), files);
}

#[test]
fn verify_accounts_for_kafka_files_and_reports_every_other_file() {
    let dir = tempfile::tempdir().unwrap();
    with_kafka_files(dir.path());
    let log = Log::open_at(dir.path(), small_config(), NOW).unwrap();
    log.append(&batch("v", 2, NOW), NOW).unwrap();
    log.close().unwrap();
    assert_eq!(verify_log_dir(dir.path()).unwrap().problems, vec![]);

    // A segment file with a signed name (parsed as 42 by a lenient parser), a short one, a stray file, a directory.
    for name in ["+0000000000000000042.log", "42.log", "notes.txt", "00000000000000000000.log.bak"] {
        fs::write(dir.path().join(name), b"x").unwrap();
    }
    fs::create_dir(dir.path().join("subdir")).unwrap();
    let check = verify_log_dir(dir.path()).unwrap();
    let reported: Vec<(ProblemKind, String, String)> = check.problems.into_iter().map(|p| (p.kind, p.file, p.message)).collect();
    let file = |name: &str| {
        (
            ProblemKind::UnknownFile,
            name.to_string(),
            "a file that is not part of a Fjord or Kafka partition log: not read, left as it is".to_string(),
        )
    };
    assert_eq!(
        reported,
        vec![
            file("+0000000000000000042.log"),
            file("00000000000000000000.log.bak"),
            file("42.log"),
            file("notes.txt"),
            (
                ProblemKind::UnknownFile,
                "subdir".to_string(),
                "a directory that is not part of a Fjord or Kafka partition log: not read, left as it is".to_string()
            ),
        ]
    );
    assert_eq!((check.segments, check.batches), (1, 1));
}

/// Bytes of disk a file takes (its allocated blocks), not its length.
fn disk_bytes(path: &Path) -> u64 {
    fs::metadata(path).unwrap().blocks() * 512
}

#[test]
fn an_idle_partition_reserves_no_index_blocks_and_close_trims_the_indexes() {
    let dir = tempfile::tempdir().unwrap();
    // Kafka's defaults: 1 GiB segments, 10 MiB indexes.
    let config = LogConfig::default();
    let log = Log::open_at(dir.path(), config, NOW).unwrap();
    let index = dir.path().join("00000000000000000000.index");
    let time_index = dir.path().join("00000000000000000000.timeindex");
    // Preallocated as Kafka does: the length set (10 MiB, whole entries), no blocks behind it.
    assert_eq!(fs::metadata(&index).unwrap().len(), 10 * 1024 * 1024);
    assert_eq!(fs::metadata(&time_index).unwrap().len(), 10 * 1024 * 1024 / 12 * 12);
    assert_eq!((disk_bytes(&index), disk_bytes(&time_index)), (0, 0));
    // Entries take blocks a page at a time as they are written.
    for i in 0..200 {
        log.append(&common::sized_batch(5000, b'x', NOW + i), NOW).unwrap();
    }
    assert!(disk_bytes(&index) > 0 && disk_bytes(&index) <= 8192, "{}", disk_bytes(&index));
    log.close().unwrap();
    // Closed: trimmed to the entries, as Kafka trims at close and roll.
    let entries = fs::metadata(&index).unwrap().len();
    assert_eq!(entries % 8, 0);
    assert!(entries > 0 && entries < 4096, "{entries}");
    assert_eq!(fs::metadata(&time_index).unwrap().len() % 12, 0);
    let log = Log::open_at(dir.path(), config, NOW).unwrap();
    assert_eq!(verify_log_dir(dir.path()).map(|c| c.problems.len()).ok(), None, "a writer holds it");
    log.close().unwrap();
    assert_eq!(verify_log_dir(dir.path()).unwrap().problems, vec![]);
}
