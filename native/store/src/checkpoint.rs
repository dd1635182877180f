//! Small per-partition files written atomically: the log start offset, the
//! recovery point, and the clean-shutdown marker.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::error::{IoContext, Result};

pub(crate) const LOG_START_OFFSET: &str = "log-start-offset";
pub(crate) const RECOVERY_POINT: &str = "recovery-point-offset";
pub(crate) const CLEAN_SHUTDOWN: &str = ".clean-shutdown";
/// Written first by Fjord (its TypeScript topic registry) in a partition
/// directory it creates, removed once the topic is in the metadata: what
/// proves a directory a crash left mid-create is Fjord's to remove.
pub(crate) const CREATING_MARKER: &str = ".fjord-creating";
/// Written by the topic registry in each partition directory of a topic
/// before its deletion (a rename to `*-delete`, then removal).
pub(crate) const DELETING_MARKER: &str = ".fjord-deleting";

/// Reads a checkpoint: a version line `0` then the offset. A missing or
/// unreadable file is `None` (the caller falls back to a safe default).
pub(crate) fn read_offset(dir: &Path, name: &str) -> Option<i64> {
    let text = fs::read_to_string(dir.join(name)).ok()?;
    let mut lines = text.lines();
    (lines.next()? == "0").then_some(())?;
    lines.next()?.trim().parse().ok()
}

/// Writes a checkpoint durably: temp file, fsync, rename, fsync the directory.
pub(crate) fn write_offset(dir: &Path, name: &str, offset: i64) -> Result<()> {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = File::create(&tmp).ctx("create", &tmp)?;
    f.write_all(format!("0\n{offset}\n").as_bytes()).ctx("write", &tmp)?;
    f.sync_all().ctx("fsync", &tmp)?;
    let path = dir.join(name);
    fs::rename(&tmp, &path).ctx("rename", &path)?;
    sync_dir(dir)
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).ctx("fsync", dir)
}
