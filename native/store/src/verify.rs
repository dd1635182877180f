//! `verify`: reads every byte of a partition directory and reports what is
//! wrong, changing nothing. It checks each batch (framing, magic, CRC-32C,
//! offsets contiguous from the segment's base offset and across segments)
//! and each `.index` / `.timeindex` entry (monotonic, pointing at a batch
//! boundary, consistent with the batches).
//!
//! It takes the directory's lock shared and read-only: a writer open on the
//! directory (which holds it exclusively) makes it fail with `Locked`, as
//! reading files that are being appended to would report a torn tail that is
//! only an append in flight; and while it runs no writer can open the
//! directory and change the files under it.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::{Mmap, MmapOptions};

use crate::batch::{self, BatchHeader, MAGIC};
use crate::checkpoint::{CLEAN_SHUTDOWN, CREATING_MARKER, DELETING_MARKER, LOG_START_OFFSET, RECOVERY_POINT};
use crate::error::{IoContext, Result};
use crate::index::{decode_offset_entry, decode_time_entry, OFFSET_ENTRY_BYTES, TIME_ENTRY_BYTES};
use crate::kafka_log_dir;
use crate::loader::TRUNCATE_SWAP_SUFFIX;
use crate::lock::ReadOnlyDirLock;
use crate::producer_state::FJORD_SNAPSHOT;
use crate::segment::{file_name, parse_file_name};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// Bytes after the last whole batch that are not zeros: a batch cut short.
    TornBatch,
    /// Written zeros after the last batch (zeroed or preallocated space).
    ZeroTail,
    /// A whole batch that fails its CRC-32C, or has a bad magic or header.
    CorruptBatch,
    /// A batch or segment whose offsets do not follow the previous ones.
    OffsetMismatch,
    /// A segment without its `.index` or `.timeindex`.
    MissingIndex,
    /// An index file whose length is not a whole number of entries.
    ShortIndex,
    /// An `.index` or `.timeindex` entry out of order or not matching the log.
    BadIndexEntry,
    /// An index file without its `.log`.
    OrphanIndex,
    /// A file or directory that is neither Fjord's nor one Kafka keeps in a
    /// partition directory (a segment file with a signed or short name, a
    /// stray file): never read, never removed, so reported.
    UnknownFile,
}

impl ProblemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemKind::TornBatch => "torn-batch",
            ProblemKind::ZeroTail => "zero-tail",
            ProblemKind::CorruptBatch => "corrupt-batch",
            ProblemKind::OffsetMismatch => "offset-mismatch",
            ProblemKind::MissingIndex => "missing-index",
            ProblemKind::ShortIndex => "short-index",
            ProblemKind::BadIndexEntry => "bad-index-entry",
            ProblemKind::OrphanIndex => "orphan-index",
            ProblemKind::UnknownFile => "unknown-file",
        }
    }
}

/// One thing wrong, located by file name (in the partition directory) and
/// byte position in it, with the offset concerned when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    pub file: String,
    pub position: u64,
    pub offset: Option<i64>,
    pub message: String,
}

/// What `verify_log_dir` found in one partition directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogCheck {
    pub dir: PathBuf,
    /// The directory was closed cleanly (open will not need to recover it).
    pub clean_shutdown: bool,
    pub segments: u32,
    pub batches: u64,
    /// Base offset of the first segment and one past the last offset found.
    pub first_offset: i64,
    pub end_offset: i64,
    pub problems: Vec<Problem>,
}

/// Checks one partition directory without changing anything in it.
pub fn verify_log_dir(dir: &Path) -> Result<LogCheck> {
    let _lock = ReadOnlyDirLock::acquire(dir)?;
    let mut bases = Vec::new();
    let mut index_bases = Vec::new();
    let mut unknown = Vec::new();
    for entry in std::fs::read_dir(dir).ctx("list", dir)? {
        let entry = entry.ctx("list", dir)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().ctx("stat", &entry.path())?.is_file();
        match parse_file_name(&name) {
            Some((base, "log")) if is_file => bases.push(base),
            Some((base, "index" | "timeindex")) if is_file => index_bases.push((base, name)),
            Some((_, suffix)) if is_file && is_kafka_segment_file(suffix) => {}
            None if is_file && is_known_file(&name) => {}
            _ => unknown.push((name, is_file)),
        }
    }
    unknown.sort();
    bases.sort_unstable();
    index_bases.sort();
    let mut check = LogCheck {
        dir: dir.to_path_buf(),
        // A Kafka broker's partition Fjord never opened: the broker's clean shutdown counts, as at open.
        clean_shutdown: dir.join(CLEAN_SHUTDOWN).exists() || kafka_log_dir::unopened_partition_state(dir).is_some_and(|k| k.clean_shutdown),
        segments: bases.len() as u32,
        batches: 0,
        first_offset: bases.first().copied().unwrap_or(0),
        end_offset: bases.first().copied().unwrap_or(0),
        problems: Vec::new(),
    };
    for (name, is_file) in unknown {
        let what = if is_file { "file" } else { "directory" };
        check.problems.push(Problem {
            kind: ProblemKind::UnknownFile,
            message: format!("a {what} that is not part of a Fjord or Kafka partition log: not read, left as it is"),
            file: name,
            position: 0,
            offset: None,
        });
    }
    for (base, name) in index_bases {
        if bases.binary_search(&base).is_err() {
            check.problems.push(Problem {
                kind: ProblemKind::OrphanIndex,
                file: name,
                position: 0,
                offset: Some(base),
                message: format!("index file without its segment {}", file_name(base, "log")),
            });
        }
    }
    let mut previous_end: Option<i64> = None;
    for &base in &bases {
        let segment = SegmentCheck::run(dir, base, previous_end, &mut check.problems)?;
        check.batches += segment.batches;
        check.end_offset = segment.end_offset;
        previous_end = Some(segment.end_offset);
    }
    Ok(check)
}

/// The files of a partition directory that are not segment files: Fjord's
/// (the lock, the checkpoints and their temporaries, the clean-shutdown
/// marker, the markers of a partition being created or deleted, the name of
/// the producer snapshot Fjord wrote) and those a Kafka broker
/// keeps there (checkpoints and metadata).
fn is_known_file(name: &str) -> bool {
    const KNOWN: [&str; 12] = [
        ".lock",
        FJORD_SNAPSHOT,
        "fjord-producer-snapshot.tmp",
        CLEAN_SHUTDOWN,
        LOG_START_OFFSET,
        RECOVERY_POINT,
        CREATING_MARKER,
        DELETING_MARKER,
        "leader-epoch-checkpoint",
        "partition.metadata",
        "leader-epoch-checkpoint.tmp",
        "partition.metadata.tmp",
    ];
    KNOWN.contains(&name)
        || name.strip_suffix(".tmp").is_some_and(|checkpoint| checkpoint == LOG_START_OFFSET || checkpoint == RECOVERY_POINT)
}

/// Suffixes (after a segment's base offset) of the other files a Kafka
/// broker keeps beside its segments: producer snapshots, transaction
/// indexes, and its temporaries (a cleaning, a deletion, a swap); and
/// Fjord's own truncation temporary, which the next open removes.
fn is_kafka_segment_file(suffix: &str) -> bool {
    let temporary = ["deleted", "cleaned", "swap"].iter().find_map(|t| suffix.strip_suffix(*t).and_then(|stem| stem.strip_suffix('.')));
    match temporary {
        Some(stem) => matches!(stem, "log" | "index" | "timeindex" | "snapshot" | "txnindex"),
        None => matches!(suffix, "snapshot" | "txnindex") || suffix == TRUNCATE_SWAP_SUFFIX,
    }
}

struct SegmentCheck {
    batches: u64,
    end_offset: i64,
}

/// Index entries as read from the file, with their byte position in it.
struct Entries<T> {
    file: String,
    list: Vec<(u64, T)>,
}

impl SegmentCheck {
    fn run(dir: &Path, base: i64, previous_end: Option<i64>, problems: &mut Vec<Problem>) -> Result<SegmentCheck> {
        let log_name = file_name(base, "log");
        let path = dir.join(&log_name);
        let file = File::open(&path).ctx("open", &path)?;
        let len = file.metadata().ctx("stat", &path)?.len() as usize;
        // SAFETY: read-only view; the shared lock keeps writers of this directory out while it lives.
        let map: Option<Mmap> = if len == 0 { None } else { Some(unsafe { MmapOptions::new().len(len).map(&file) }.ctx("mmap", &path)?) };
        let bytes: &[u8] = map.as_deref().unwrap_or(&[]);
        let problem = |kind, file: &str, position: usize, offset: Option<i64>, message: String| Problem {
            kind,
            file: file.to_string(),
            position: position as u64,
            offset,
            message,
        };
        if let Some(previous) = previous_end.filter(|&p| p != base) {
            problems.push(problem(
                ProblemKind::OffsetMismatch,
                &log_name,
                0,
                Some(base),
                format!("the segment starts at offset {base} but the previous one ends before offset {previous}"),
            ));
        }
        let offset_entries = read_offset_index(dir, base, problems)?;
        let time_entries = read_time_index(dir, base, problems)?;
        // Index entries sorted the way the batch walk meets them.
        let mut by_position: Vec<&(u64, (i32, u32))> = offset_entries.list.iter().collect();
        by_position.sort_by_key(|(_, (_, pos))| *pos);
        let mut by_offset: Vec<&(u64, (i64, i32))> = time_entries.list.iter().collect();
        by_offset.sort_by_key(|(_, (_, rel))| *rel);
        let (mut next_position_entry, mut next_time_entry) = (0usize, 0usize);

        let mut pos = 0usize;
        let mut expect = base;
        let mut batches = 0u64;
        let mut max_timestamp = -1i64;
        while pos < len {
            let rest = &bytes[pos..];
            let Some(h) = BatchHeader::parse(rest).filter(|h| h.size <= rest.len()) else {
                if let Some(p) = tail_problem(&file, bytes, pos, expect, &log_name) {
                    problems.push(p);
                }
                break;
            };
            if h.magic != MAGIC {
                problems.push(problem(
                    ProblemKind::CorruptBatch,
                    &log_name,
                    pos,
                    Some(expect),
                    format!("magic is {}, not 2: the {} bytes from here cannot be framed", h.magic, len - pos),
                ));
                break;
            }
            let computed = batch::compute_crc(&rest[..h.size]);
            if computed != h.crc {
                problems.push(problem(
                    ProblemKind::CorruptBatch,
                    &log_name,
                    pos,
                    Some(expect),
                    format!("CRC-32C is {computed:#010x}, the batch says {:#010x}", h.crc),
                ));
            } else if h.last_offset_delta < 0 || h.records_count < 1 {
                problems.push(problem(
                    ProblemKind::CorruptBatch,
                    &log_name,
                    pos,
                    Some(expect),
                    format!("the header says {} records and lastOffsetDelta {}", h.records_count, h.last_offset_delta),
                ));
            }
            if h.base_offset != expect {
                problems.push(problem(
                    ProblemKind::OffsetMismatch,
                    &log_name,
                    pos,
                    Some(expect),
                    format!("the batch's base offset is {}, expected {expect}", h.base_offset),
                ));
            }
            max_timestamp = max_timestamp.max(h.max_timestamp);
            // Offset index entries up to here must point at this batch, and name an offset it or a later batch holds.
            while let Some(&&(at, (rel, entry_pos))) = by_position.get(next_position_entry).filter(|e| e.1 .1 as usize <= pos) {
                let offset = base + rel as i64;
                if entry_pos as usize != pos {
                    problems.push(problem(
                        ProblemKind::BadIndexEntry,
                        &offset_entries.file,
                        at as usize,
                        Some(offset),
                        format!("entry (offset {offset}, position {entry_pos}) does not point at a batch boundary"),
                    ));
                } else if offset < h.base_offset {
                    problems.push(problem(
                        ProblemKind::BadIndexEntry,
                        &offset_entries.file,
                        at as usize,
                        Some(offset),
                        format!(
                            "entry (offset {offset}, position {entry_pos}) points at the batch of offsets {}..={}",
                            h.base_offset,
                            h.last_offset()
                        ),
                    ));
                }
                next_position_entry += 1;
            }
            // Time index entries naming an offset of this batch must carry the largest timestamp so far.
            while let Some(&&(at, (ts, rel))) = by_offset.get(next_time_entry).filter(|e| base + e.1 .1 as i64 <= h.last_offset()) {
                let offset = base + rel as i64;
                if offset < h.base_offset {
                    problems.push(problem(
                        ProblemKind::BadIndexEntry,
                        &time_entries.file,
                        at as usize,
                        Some(offset),
                        format!("entry (timestamp {ts}, offset {offset}) names an offset no batch holds"),
                    ));
                } else if ts != max_timestamp {
                    problems.push(problem(
                        ProblemKind::BadIndexEntry,
                        &time_entries.file,
                        at as usize,
                        Some(offset),
                        format!("entry (timestamp {ts}, offset {offset}) but the largest timestamp up to that batch is {max_timestamp}"),
                    ));
                }
                next_time_entry += 1;
            }
            expect = h.next_offset();
            pos += h.size;
            batches += 1;
        }
        for &&(at, (rel, entry_pos)) in &by_position[next_position_entry..] {
            let offset = base + rel as i64;
            problems.push(problem(
                ProblemKind::BadIndexEntry,
                &offset_entries.file,
                at as usize,
                Some(offset),
                format!("entry (offset {offset}, position {entry_pos}) points past the last batch"),
            ));
        }
        for &&(at, (ts, rel)) in &by_offset[next_time_entry..] {
            let offset = base + rel as i64;
            problems.push(problem(
                ProblemKind::BadIndexEntry,
                &time_entries.file,
                at as usize,
                Some(offset),
                format!("entry (timestamp {ts}, offset {offset}) names an offset past the last batch"),
            ));
        }
        Ok(SegmentCheck { batches, end_offset: expect })
    }
}

/// What lies after the last whole batch at `pos`: nothing, holes (sparse
/// preallocation, fine), zeros written past the file system block the data
/// ends in, or bytes of a torn batch.
fn tail_problem(file: &File, bytes: &[u8], pos: usize, offset: i64, log_name: &str) -> Option<Problem> {
    let extents = data_extents(file, pos, bytes.len());
    let last_non_zero = extents.iter().rev().find_map(|&(from, to)| bytes[from..to].iter().rposition(|&b| b != 0).map(|i| from + i));
    if let Some(last) = last_non_zero {
        let rest = &bytes[pos..];
        let what = match BatchHeader::parse(rest) {
            Some(h) => format!("a batch whose header says {} bytes but only {} remain", h.size, rest.len()),
            None if rest.len() < batch::HEADER_SIZE => format!("{} bytes, fewer than a batch header", rest.len()),
            None => "bytes that are not a batch header".to_string(),
        };
        return Some(Problem {
            kind: ProblemKind::TornBatch,
            file: log_name.to_string(),
            position: pos as u64,
            offset: Some(offset),
            message: format!("{} bytes after the last whole batch: {what} (open cuts them)", last + 1 - pos),
        });
    }
    // The rest of the block the data ends in is zeros on any crash; only more is news.
    let block_end = pos.div_ceil(4096) * 4096;
    let written: usize = extents.iter().map(|&(from, to)| to.saturating_sub(from.max(block_end))).sum();
    if written == 0 {
        return None;
    }
    let end = extents.last().map_or(pos, |e| e.1);
    Some(Problem {
        kind: ProblemKind::ZeroTail,
        file: log_name.to_string(),
        position: pos as u64,
        offset: Some(offset),
        message: format!("{} bytes of zeros after the last batch, written rather than a hole (open cuts them)", end - pos),
    })
}

/// The ranges of `[from, to)` that hold data rather than holes; the whole
/// range when the file system cannot tell.
fn data_extents(file: &File, from: usize, to: usize) -> Vec<(usize, usize)> {
    use rustix::fs::{seek, SeekFrom};
    let mut out = Vec::new();
    let mut at = from;
    while at < to {
        let start = match seek(file, SeekFrom::Data(at as u64)) {
            Ok(s) => s as usize,
            Err(e) if e == rustix::io::Errno::NXIO => break,
            Err(_) => return vec![(from, to)],
        };
        if start >= to {
            break;
        }
        let end = seek(file, SeekFrom::Hole(start as u64)).map_or(to, |e| (e as usize).min(to));
        out.push((start, end));
        at = end;
    }
    out
}

/// Reads an index file's entries (ENTRY bytes each), reporting a missing file
/// or a cut last entry. Trailing all-zero entries are unused preallocated
/// slots of a segment that was active when its writer stopped.
fn read_entries<const ENTRY: usize>(dir: &Path, base: i64, suffix: &str, problems: &mut Vec<Problem>) -> Result<Entries<[u8; ENTRY]>> {
    let name = file_name(base, suffix);
    let path = dir.join(&name);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            problems.push(Problem {
                kind: ProblemKind::MissingIndex,
                file: name.clone(),
                position: 0,
                offset: Some(base),
                message: format!("segment {} has no {suffix} file (open rebuilds it)", file_name(base, "log")),
            });
            return Ok(Entries { file: name, list: Vec::new() });
        }
        Err(e) => return Err(crate::error::StoreError::io("read", &path, e)),
    };
    let whole = bytes.len() / ENTRY * ENTRY;
    if whole != bytes.len() {
        problems.push(Problem {
            kind: ProblemKind::ShortIndex,
            file: name.clone(),
            position: whole as u64,
            offset: None,
            message: format!(
                "{} bytes is not a whole number of {ENTRY}-byte entries: the last {} bytes are a cut entry",
                bytes.len(),
                bytes.len() - whole
            ),
        });
    }
    let mut entries: Vec<(u64, [u8; ENTRY])> =
        bytes[..whole].chunks_exact(ENTRY).enumerate().map(|(i, e)| ((i * ENTRY) as u64, e.try_into().unwrap())).collect();
    while entries.last().is_some_and(|(_, e)| e.iter().all(|&b| b == 0)) {
        entries.pop();
    }
    Ok(Entries { file: name, list: entries })
}

fn read_offset_index(dir: &Path, base: i64, problems: &mut Vec<Problem>) -> Result<Entries<(i32, u32)>> {
    let Entries { file, list: raw } = read_entries::<OFFSET_ENTRY_BYTES>(dir, base, "index", problems)?;
    let mut list = Vec::with_capacity(raw.len());
    let mut previous: Option<(i32, u32)> = None;
    for (at, e) in raw {
        let (rel, pos) = decode_offset_entry(&e);
        let offset = base + rel as i64;
        let out_of_order = previous.is_some_and(|(pr, pp)| rel <= pr || pos as u32 <= pp);
        if rel < 0 || pos < 0 || out_of_order {
            problems.push(Problem {
                kind: ProblemKind::BadIndexEntry,
                file: file.clone(),
                position: at,
                offset: Some(offset),
                message: match previous {
                    Some((pr, pp)) if out_of_order => format!(
                        "entry (offset {offset}, position {pos}) does not follow the previous entry (offset {}, position {pp})",
                        base + pr as i64
                    ),
                    _ => format!("entry (offset {offset}, position {pos}) is negative"),
                },
            });
            continue;
        }
        previous = Some((rel, pos as u32));
        list.push((at, (rel, pos as u32)));
    }
    Ok(Entries { file, list })
}

fn read_time_index(dir: &Path, base: i64, problems: &mut Vec<Problem>) -> Result<Entries<(i64, i32)>> {
    let Entries { file, list: raw } = read_entries::<TIME_ENTRY_BYTES>(dir, base, "timeindex", problems)?;
    let mut list = Vec::with_capacity(raw.len());
    let mut previous: Option<(i64, i32)> = None;
    for (at, e) in raw {
        let (ts, rel) = decode_time_entry(&e);
        let offset = base + rel as i64;
        let out_of_order = previous.is_some_and(|(pt, pr)| ts < pt || rel < pr);
        if rel < 0 || out_of_order {
            problems.push(Problem {
                kind: ProblemKind::BadIndexEntry,
                file: file.clone(),
                position: at,
                offset: Some(offset),
                message: match previous {
                    Some((pt, pr)) if out_of_order => format!(
                        "entry (timestamp {ts}, offset {offset}) does not follow the previous entry (timestamp {pt}, offset {})",
                        base + pr as i64
                    ),
                    _ => format!("entry (timestamp {ts}, offset {offset}) has a negative offset"),
                },
            });
            continue;
        }
        previous = Some((ts, rel));
        list.push((at, (ts, rel)));
    }
    Ok(Entries { file, list })
}
