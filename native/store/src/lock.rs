//! Kafka's `.lock`: one process at a time per log directory, by an exclusive
//! `flock` on `.lock` that records who holds it so a second process can say
//! so; and a shared `flock` for readers that must not run beside a writer.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::Path;

use rustix::fs::FlockOperation;

use crate::error::{IoContext, Result, StoreError};

/// Held while the directory is in use; dropping it releases the lock.
pub struct DirLock {
    _file: File,
}

impl DirLock {
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        let path = dir.join(".lock");
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).ctx("open", &path)?;
        if let Err(e) = rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
            if e == rustix::io::Errno::WOULDBLOCK {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let holder = if holder.is_empty() { "another process".to_string() } else { holder.to_string() };
                return Err(StoreError::Locked { dir: dir.to_path_buf(), holder });
            }
            return Err(StoreError::io("flock", &path, e.into()));
        }
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap_or_default();
        file.set_len(0).ctx("truncate", &path)?;
        file.rewind().ctx("seek", &path)?;
        write!(file, "pid {} ({})", std::process::id(), comm.trim()).ctx("write", &path)?;
        Ok(DirLock { _file: file })
    }
}

/// A shared lock on a directory taken without writing anything, for readers
/// that must not run while a writer has the directory open (`verify`). A
/// directory without a `.lock` file was never opened, so there is no writer
/// to exclude and nothing is created.
pub struct ReadOnlyDirLock {
    _file: Option<File>,
}

impl ReadOnlyDirLock {
    pub fn acquire(dir: &Path) -> Result<ReadOnlyDirLock> {
        let path = dir.join(".lock");
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ReadOnlyDirLock { _file: None }),
            Err(e) => return Err(StoreError::io("open", &path, e)),
        };
        if let Err(e) = rustix::fs::flock(&file, FlockOperation::NonBlockingLockShared) {
            if e == rustix::io::Errno::WOULDBLOCK {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = if holder.trim().is_empty() { "another process".to_string() } else { holder.trim().to_string() };
                return Err(StoreError::Locked { dir: dir.to_path_buf(), holder });
            }
            return Err(StoreError::io("flock", &path, e.into()));
        }
        Ok(ReadOnlyDirLock { _file: Some(file) })
    }
}
