//! Recovery at open, as Kafka's `LogLoader`: reads a partition directory,
//! drops Fjord's own temporaries and orphan indexes, reads the clean-shutdown marker and
//! the checkpoints, recovers the segments written after the recovery point
//! (cutting a torn tail, rebuilding indexes), drops segments that come after
//! a cut or below the log start offset, and reports what it had to do.

use std::collections::BTreeMap;
use std::path::Path;

use crate::checkpoint::{self, CLEAN_SHUTDOWN, LOG_START_OFFSET, RECOVERY_POINT};
use crate::config::LogConfig;
use crate::error::{IoContext, Result};
use crate::kafka_log_dir;
use crate::segment::{self, file_name, parse_file_name, Segment};

/// Suffix (after the base offset) of the file a truncation writes the kept
/// prefix of a segment to before renaming it over the `.log`. Fjord's own
/// name: Kafka's `.swap`, `.cleaned` and `.deleted` files are Kafka's (its
/// cleaner and its deletions), and Fjord never removes a file it did not write.
pub(crate) const TRUNCATE_SWAP_SUFFIX: &str = "log.fjord-swap";

/// What opening the log had to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    pub clean_shutdown: bool,
    pub segments_recovered: u32,
    pub bytes_truncated: u64,
    /// Of `bytes_truncated`, those that held a torn or corrupt batch rather
    /// than zeros (preallocated or zeroed space): 0 when only zeros were cut.
    pub torn_bytes_truncated: u64,
    pub segments_deleted: u32,
    /// One line per cut or deletion, for the operator's log.
    pub notes: Vec<String>,
}

/// A directory read and recovered: the segments by base offset (never empty,
/// the last one active), the log start offset and the recovery point, both
/// made durable.
pub(crate) struct LoadedLog {
    pub segments: BTreeMap<i64, Segment>,
    pub log_start: i64,
    pub recovery_point: i64,
    pub report: RecoveryReport,
}

/// Reads the directory: drops temporaries and orphans, loads segments, and
/// recovers those written after the recovery point unless the log was shut
/// down cleanly.
pub(crate) fn load(dir: &Path, config: LogConfig, now: i64) -> Result<LoadedLog> {
    let clean_marker = dir.join(CLEAN_SHUTDOWN);
    let fjord_clean = clean_marker.exists();
    // A partition directory a Kafka broker made, opened by Fjord for the first
    // time (none of Fjord's checkpoints yet): trust the broker's clean shutdown
    // and its log start, as Kafka's own LogLoader would, so that a cleanly
    // stopped broker's segments are taken as they are (no index rebuilt).
    let kafka = kafka_log_dir::unopened_partition_state(dir);
    let clean = fjord_clean || kafka.is_some_and(|k| k.clean_shutdown);
    let mut report = RecoveryReport { clean_shutdown: clean, ..Default::default() };
    let mut bases = Vec::new();
    let mut index_files = Vec::new();
    for entry in std::fs::read_dir(dir).ctx("list", dir)? {
        let entry = entry.ctx("list", dir)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        match parse_file_name(&name) {
            Some((b, "log")) => bases.push(b),
            Some((b, "index" | "timeindex")) => index_files.push((b, path)),
            Some((_, TRUNCATE_SWAP_SUFFIX)) => {
                std::fs::remove_file(&path).ctx("remove", &path)?;
                report.notes.push(format!("removed leftover temporary file {name}"));
            }
            // Kafka's temporaries (a cleaning, a deletion, a swap Kafka did not
            // finish), its snapshots, transaction indexes, checkpoints and
            // metadata: not Fjord's, left as they are.
            _ => {}
        }
    }
    bases.sort_unstable();
    for (b, path) in index_files {
        if bases.binary_search(&b).is_err() {
            std::fs::remove_file(&path).ctx("remove", &path)?;
        }
    }
    let mut log_start = checkpoint::read_offset(dir, LOG_START_OFFSET).or(kafka.and_then(|k| k.log_start)).unwrap_or(0).max(0);
    let recovery_point = checkpoint::read_offset(dir, RECOVERY_POINT).or(kafka.and_then(|k| k.recovery_point)).unwrap_or(0);

    // Segments wholly below the log start were being deleted when we stopped.
    while bases.len() > 1 && bases[1] <= log_start {
        let seg = bases.remove(0);
        segment::remove_files(dir, seg)?;
        report.segments_deleted += 1;
        report.notes.push(format!("deleted segment {seg} below the log start offset {log_start}"));
    }
    if let Some(&first) = bases.first() {
        log_start = log_start.max(first);
    }

    let sizes = config.sizes();
    let mut segments = BTreeMap::new();
    let recover_from = if clean { i64::MAX } else { *bases.iter().rev().find(|&&b| b <= recovery_point).unwrap_or(&i64::MIN) };
    let mut prev_end = log_start.min(bases.first().copied().unwrap_or(log_start));
    // The floor the previous segment was recovered against.
    let mut prev_floor = prev_end;
    let mut i = 0;
    while i < bases.len() {
        let base = bases[i];
        if base < prev_end {
            // This segment starts below where the previous one ends: the files
            // overlap, so from here on nothing is reliable (as after a cut) and
            // the previous segment becomes the active one.
            drop_segments_from(dir, &mut bases, i, "it overlaps the segment before it", &mut report)?;
            let prev_base = bases[i - 1];
            drop(segments.remove(&prev_base));
            let mut prev = Segment::open(dir, prev_base, sizes, true, now)?.0;
            prev.recover(dir, sizes, prev_floor)?;
            report.segments_recovered += 1;
            segments.insert(prev_base, prev);
            break;
        }
        let last = i + 1 == bases.len();
        let (mut seg, needs_rebuild) = Segment::open(dir, base, sizes, last, now)?;
        if needs_rebuild || base >= recover_from {
            let outcome = seg.recover(dir, sizes, prev_end)?;
            report.segments_recovered += 1;
            if needs_rebuild && base < recover_from {
                report.notes.push(format!("segment {}: indexes missing or inconsistent, rebuilt from the log", file_name(base, "log")));
            }
            if outcome.truncated_bytes > 0 {
                report.bytes_truncated += outcome.truncated_bytes as u64;
                report.torn_bytes_truncated += outcome.torn_bytes as u64;
                let what = if outcome.torn_bytes > 0 {
                    format!("{} of them a torn or corrupt batch", outcome.torn_bytes)
                } else {
                    "all zeros".to_string()
                };
                report.notes.push(format!(
                    "segment {}: cut {} bytes after the last valid batch at byte {} ({} valid batches), {what}",
                    file_name(base, "log"),
                    outcome.truncated_bytes,
                    outcome.valid_bytes,
                    outcome.batches
                ));
            }
            if outcome.truncated_bytes > 0 && !last {
                // Everything after a corrupt point is unreliable: later segments go
                // and this one becomes the active segment.
                drop_segments_from(dir, &mut bases, i + 1, "it comes after the cut", &mut report)?;
                drop(seg);
                seg = Segment::open(dir, base, sizes, true, now)?.0;
                seg.recover(dir, sizes, prev_end)?;
            } else if !last {
                seg.seal()?;
            }
        } else if last {
            seg.log.preallocate()?;
        }
        prev_floor = prev_end;
        prev_end = seg.next_offset;
        segments.insert(base, seg);
        i += 1;
    }
    let end = segments.values().next_back().map_or(log_start, |s| s.next_offset);
    if end < log_start {
        // The log start was made durable but data up to it was lost (a tail
        // cut by recovery): nothing left is readable, so start empty there.
        for (base, seg) in std::mem::take(&mut segments) {
            seg.delete(dir)?;
            report.segments_deleted += 1;
            report
                .notes
                .push(format!("deleted segment {}: the log ends at {end}, below the log start offset {log_start}", file_name(base, "log")));
        }
    }
    if segments.is_empty() {
        segments.insert(log_start, Segment::create(dir, log_start, sizes, now)?);
    }
    let end = segments.values().next_back().map_or(log_start, |s| s.next_offset);
    let recovery_point = if clean { end } else { recovery_point.min(end) };
    // From here on a crash must be noticed: the marker goes, durably.
    if fjord_clean {
        std::fs::remove_file(&clean_marker).ctx("remove", &clean_marker)?;
    }
    checkpoint::write_offset(dir, RECOVERY_POINT, recovery_point)?;
    Ok(LoadedLog { segments, log_start, recovery_point, report })
}

/// Deletes the segments `bases[from..]` while loading, and forgets them.
fn drop_segments_from(dir: &Path, bases: &mut Vec<i64>, from: usize, why: &str, report: &mut RecoveryReport) -> Result<()> {
    for &later in &bases[from..] {
        segment::remove_files(dir, later)?;
        report.segments_deleted += 1;
        report.notes.push(format!("deleted segment {}: {why}", file_name(later, "log")));
    }
    bases.truncate(from);
    Ok(())
}
