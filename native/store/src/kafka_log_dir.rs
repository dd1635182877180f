//! What a Kafka broker's log directory says about one of its partitions when
//! Fjord opens that partition for the first time (adoption): whether the
//! broker shut down cleanly (`.kafka_cleanshutdown` at the log directory's
//! root), and the partition's entries in the root checkpoints
//! `log-start-offset-checkpoint` and `recovery-point-offset-checkpoint`
//! (text: a version line `0`, a count, then `topic partition offset` lines).
//! Read only: Kafka's files are never written here.

use std::path::Path;

use crate::checkpoint;

/// The file Kafka writes in every partition directory; its presence marks a directory a broker made.
pub(crate) const PARTITION_METADATA: &str = "partition.metadata";
const CLEAN_SHUTDOWN: &str = ".kafka_cleanshutdown";
const LOG_START_OFFSETS: &str = "log-start-offset-checkpoint";
const RECOVERY_POINTS: &str = "recovery-point-offset-checkpoint";

/// A Kafka partition's state as its broker's log directory records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KafkaPartitionState {
    pub clean_shutdown: bool,
    pub log_start: Option<i64>,
    pub recovery_point: Option<i64>,
}

/// The state of the Kafka partition in `dir` when Fjord never opened it (none of
/// Fjord's checkpoints, nor its clean-shutdown marker): what opening it adopts.
pub(crate) fn unopened_partition_state(dir: &Path) -> Option<KafkaPartitionState> {
    if [checkpoint::CLEAN_SHUTDOWN, checkpoint::RECOVERY_POINT, checkpoint::LOG_START_OFFSET].iter().any(|f| dir.join(f).exists()) {
        return None;
    }
    partition_state(dir)
}

/// The state of the Kafka partition in `dir` (`<logdir>/<topic>-<partition>`), or
/// `None` when `dir` was not made by a Kafka broker (no `partition.metadata`).
pub(crate) fn partition_state(dir: &Path) -> Option<KafkaPartitionState> {
    if !dir.join(PARTITION_METADATA).is_file() {
        return None;
    }
    let root = dir.parent()?;
    let name = dir.file_name()?.to_str()?;
    let (topic, partition) = name.rsplit_once('-')?;
    let partition: i32 = partition.parse().ok()?;
    Some(KafkaPartitionState {
        clean_shutdown: root.join(CLEAN_SHUTDOWN).is_file(),
        log_start: checkpoint_entry(&root.join(LOG_START_OFFSETS), topic, partition),
        recovery_point: checkpoint_entry(&root.join(RECOVERY_POINTS), topic, partition),
    })
}

/// The offset a Kafka offset checkpoint file holds for `topic`/`partition`;
/// `None` when the file is missing, unreadable, malformed, or has no entry for it.
fn checkpoint_entry(path: &Path, topic: &str, partition: i32) -> Option<i64> {
    let text = std::fs::read_to_string(path).ok()?;
    parse_checkpoint(&text)?.into_iter().find(|(t, p, _)| t == topic && *p == partition).map(|(_, _, offset)| offset)
}

/// Parses Kafka's `OffsetCheckpointFile` text; `None` unless it is well formed.
fn parse_checkpoint(text: &str) -> Option<Vec<(String, i32, i64)>> {
    let mut lines = text.lines();
    if lines.next()?.trim() != "0" {
        return None;
    }
    let count: usize = lines.next()?.trim().parse().ok()?;
    let mut entries = Vec::with_capacity(count.min(1 << 16));
    for _ in 0..count {
        let mut fields = lines.next()?.split(' ');
        let topic = fields.next()?.to_string();
        let partition = fields.next()?.parse().ok()?;
        let offset = fields.next()?.parse().ok()?;
        if fields.next().is_some() {
            return None;
        }
        entries.push((topic, partition, offset));
    }
    Some(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kafka_checkpoint_text() {
        let text = "0\n3\nk-txn 2 52\n__consumer_offsets 13 0\nk-a-b 10 7\n";
        assert_eq!(
            parse_checkpoint(text),
            Some(vec![("k-txn".into(), 2, 52), ("__consumer_offsets".into(), 13, 0), ("k-a-b".into(), 10, 7)])
        );
        assert_eq!(parse_checkpoint("0\n0\n"), Some(vec![]));
        assert_eq!(parse_checkpoint("1\n0\n"), None);
        assert_eq!(parse_checkpoint("0\n2\nk 0 1\n"), None);
        assert_eq!(parse_checkpoint("0\n1\nk 0 x\n"), None);
    }

    #[test]
    fn reads_a_partition_state_from_the_log_dir_root() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("k-a-b-10");
        std::fs::create_dir(&dir).unwrap();
        assert_eq!(partition_state(&dir), None, "no partition.metadata: not a Kafka partition");
        std::fs::write(dir.join(PARTITION_METADATA), "version: 0\ntopic_id: AAAAAAAAAAAAAAAAAAAAAQ").unwrap();
        assert_eq!(partition_state(&dir), Some(KafkaPartitionState { clean_shutdown: false, log_start: None, recovery_point: None }));
        std::fs::write(root.path().join(CLEAN_SHUTDOWN), "{\"version\":0,\"brokerEpoch\":14}").unwrap();
        std::fs::write(root.path().join(LOG_START_OFFSETS), "0\n2\nk-a-b 1 9\nk-a-b 10 7\n").unwrap();
        std::fs::write(root.path().join(RECOVERY_POINTS), "0\n1\nk-a-b 10 12\n").unwrap();
        assert_eq!(partition_state(&dir), Some(KafkaPartitionState { clean_shutdown: true, log_start: Some(7), recovery_point: Some(12) }));
    }
}
