//! One process at a time per log directory: an exclusive `flock` on `.lock`,
//! which records who holds it so a second process can say so.

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

/// A directory lock shared by every holder in this process: the first
/// acquire takes the `flock`, the last drop releases it. Other processes
/// still get `StoreError::Locked`.
#[derive(Clone)]
pub struct SharedDirLock(#[allow(dead_code)] std::sync::Arc<DirLock>);

static SHARED_LOCKS: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, std::sync::Weak<DirLock>>>> =
    std::sync::LazyLock::new(Default::default);

impl SharedDirLock {
    pub fn acquire(dir: &Path) -> Result<SharedDirLock> {
        std::fs::create_dir_all(dir).ctx("create directory", dir)?;
        let dir = dir.canonicalize().ctx("resolve", dir)?;
        let mut locks = SHARED_LOCKS.lock().unwrap();
        if let Some(lock) = locks.get(&dir).and_then(std::sync::Weak::upgrade) {
            return Ok(SharedDirLock(lock));
        }
        let lock = std::sync::Arc::new(DirLock::acquire(&dir)?);
        locks.retain(|_, w| w.strong_count() > 0);
        locks.insert(dir, std::sync::Arc::downgrade(&lock));
        Ok(SharedDirLock(lock))
    }
}

static HOSTS: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, u64>>> =
    std::sync::LazyLock::new(Default::default);
static NEXT_HOST_TOKEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Claims the role of host for a directory within this process: a token for
/// the first claimer (until it releases with that token), `None` for others.
/// Threads that share a directory use it to pick the one that owns its
/// metadata and group coordinator.
pub fn claim_host(dir: &Path) -> Result<Option<u64>> {
    let dir = dir.canonicalize().ctx("resolve", dir)?;
    let mut hosts = HOSTS.lock().unwrap();
    if hosts.contains_key(&dir) {
        return Ok(None);
    }
    let token = NEXT_HOST_TOKEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    hosts.insert(dir, token);
    Ok(Some(token))
}

/// Gives the role up, if `token` still holds it.
pub fn release_host(dir: &Path, token: u64) {
    let Ok(dir) = dir.canonicalize() else { return };
    let mut hosts = HOSTS.lock().unwrap();
    if hosts.get(&dir) == Some(&token) {
        hosts.remove(&dir);
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
