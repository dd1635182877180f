//! One process at a time per log directory: an exclusive `flock` on `.lock`,
//! which records who holds it so a second process can say so.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::Path;

use rustix::fs::FlockOperation;

use crate::error::{IoContext, Result, StoreError};

pub(crate) struct DirLock {
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
