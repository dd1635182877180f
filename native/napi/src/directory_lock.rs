//! The lock on a data directory as a whole, shared by the threads (JavaScript
//! environments) of this process and exclusive against other processes. Each
//! partition log inside also takes its own `.lock` (`fjord_store::DirLock`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, Weak};

use fjord_store::{DirLock, StoreError};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::errors::OrJsError;
use crate::no_panic::no_panic;

/// A `DirLock` shared by every holder in this process: the first acquire
/// takes the `flock`, the last drop releases it. Other processes still get
/// `StoreError::Locked`.
#[derive(Clone)]
struct SharedDirLock(#[allow(dead_code)] Arc<DirLock>);

/// The held locks by canonical directory; a dead entry is one whose last holder dropped it.
static SHARED_LOCKS: LazyLock<Mutex<HashMap<PathBuf, Weak<DirLock>>>> = LazyLock::new(Default::default);

impl SharedDirLock {
    fn acquire(dir: &Path) -> fjord_store::Result<SharedDirLock> {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::io("create directory", dir, e))?;
        let dir = dir.canonicalize().map_err(|e| StoreError::io("resolve", dir, e))?;
        // Each change is one insert or retain: a lock poisoned by a panic still holds a whole map.
        let mut locks = SHARED_LOCKS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(lock) = locks.get(&dir).and_then(Weak::upgrade) {
            return Ok(SharedDirLock(lock));
        }
        let lock = Arc::new(DirLock::acquire(&dir)?);
        locks.retain(|_, w| w.strong_count() > 0);
        locks.insert(dir, Arc::downgrade(&lock));
        Ok(SharedDirLock(lock))
    }
}

/// A lock on a data directory as a whole (each partition log also locks its
/// own): shared by the threads of this process, exclusive against others.
#[napi]
pub struct DirectoryLock {
    lock: Option<SharedDirLock>,
}

#[napi]
impl DirectoryLock {
    #[napi(factory)]
    pub fn acquire(env: &Env, dir: String) -> Result<DirectoryLock> {
        no_panic(env, "lock", || {
            let lock = SharedDirLock::acquire(Path::new(&dir)).or_js_error(env)?;
            Ok(DirectoryLock { lock: Some(lock) })
        })
    }

    #[napi]
    pub fn release(&mut self, env: &Env) -> Result<()> {
        no_panic(env, "unlock", || {
            self.lock = None;
            Ok(())
        })
    }
}
