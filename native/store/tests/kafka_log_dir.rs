//! Opening a partition directory a Kafka broker wrote (it has Kafka's
//! `partition.metadata`, and none of Fjord's checkpoints yet): the broker's
//! clean shutdown and log start offset are taken from the log directory's root
//! (`.kafka_cleanshutdown`, `log-start-offset-checkpoint`), as Kafka's own
//! loader takes them; Kafka's files are never written.

use std::fs;
use std::path::Path;

use fjord_store::{verify_log_dir, Log};

mod common;
use common::{batch, small_config, NOW};

/// A log directory whose partition `k-a-0` holds 90 one-record batches (several segments) written by the
/// store, then stripped of Fjord's own files and given Kafka's, as a broker leaves them.
fn kafka_like_log_dir(root: &Path, log_start: i64, clean: bool) -> std::path::PathBuf {
    let dir = root.join("k-a-0");
    let log = Log::open_at(&dir, small_config(), NOW).unwrap();
    for i in 0..90 {
        log.append(&batch("v", 1, NOW + i), NOW).unwrap();
    }
    assert!(log.segments().unwrap().len() >= 3);
    log.close().unwrap();
    drop(log);
    for fjord_file in ["log-start-offset", "recovery-point-offset", ".clean-shutdown", ".lock"] {
        let _ = fs::remove_file(dir.join(fjord_file));
    }
    fs::write(dir.join("partition.metadata"), "version: 0\ntopic_id: F2bkcd0US9SeuBXTPMZdCw").unwrap();
    fs::write(root.join("log-start-offset-checkpoint"), format!("0\n2\nk-b 0 3\nk-a 0 {log_start}\n")).unwrap();
    fs::write(root.join("recovery-point-offset-checkpoint"), "0\n1\nk-a 0 90\n").unwrap();
    if clean {
        fs::write(root.join(".kafka_cleanshutdown"), "{\"version\":0,\"brokerEpoch\":14}").unwrap();
    }
    dir
}

#[test]
fn takes_the_log_start_offset_from_kafkas_root_checkpoint() {
    let root = tempfile::tempdir().unwrap();
    let dir = kafka_like_log_dir(root.path(), 12, true);
    let log = Log::open_at(&dir, small_config(), NOW).unwrap();
    assert_eq!(log.log_start_offset().unwrap(), 12);
    assert_eq!(log.log_end_offset().unwrap(), 90);
    assert!(log.read(11, 100).is_err(), "offsets below Kafka's log start are not readable");
    assert_eq!(log.read(12, 1).unwrap().unwrap().next_offset, 13);
}

#[test]
fn trusts_a_kafka_clean_shutdown_and_writes_no_kafka_file() {
    let root = tempfile::tempdir().unwrap();
    let dir = kafka_like_log_dir(root.path(), 0, true);
    let root_files = ["log-start-offset-checkpoint", "recovery-point-offset-checkpoint", ".kafka_cleanshutdown"];
    let before: Vec<Vec<u8>> = root_files.iter().map(|f| fs::read(root.path().join(f)).unwrap()).collect();
    assert!(verify_log_dir(&dir).unwrap().clean_shutdown, "verify counts the broker's clean shutdown, as open does");
    let log = Log::open_at(&dir, small_config(), NOW).unwrap();
    assert!(log.recovery_report().clean_shutdown);
    assert_eq!(log.recovery_report().segments_recovered, 0);
    log.close().unwrap();
    let after: Vec<Vec<u8>> = root_files.iter().map(|f| fs::read(root.path().join(f)).unwrap()).collect();
    assert_eq!(before, after);
}

#[test]
fn recovers_from_kafkas_recovery_point_without_a_clean_shutdown() {
    let root = tempfile::tempdir().unwrap();
    let dir = kafka_like_log_dir(root.path(), 0, false);
    assert!(!verify_log_dir(&dir).unwrap().clean_shutdown);
    let log = Log::open_at(&dir, small_config(), NOW).unwrap();
    assert!(!log.recovery_report().clean_shutdown);
    // Only the segment holding Kafka's recovery point (90, the log end: the active segment) is recovered.
    assert_eq!(log.recovery_report().segments_recovered, 1);
    assert_eq!(log.log_end_offset().unwrap(), 90);
}
