//! Fail-stop, as Kafka's log-dir failure handling: the first write or fsync
//! error on a log (or a panic inside it) takes it offline, and every later
//! call on it fails with `StoreError::Offline` naming that first cause until
//! the log is closed and opened again, which recovers from the files.
//!
//! Why sticky: Linux reports a failed writeback once per file. A later fsync
//! of the same file returns success although the pages it lost were never
//! written, so after one failure no later "synced" can be believed.

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};

use parking_lot::Mutex;

use crate::error::StoreError;

/// What took a log offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfflineCause {
    /// The store's operation (`fsync`, `append`, `truncate`, ...), or `panic`.
    pub op: String,
    /// The file (or directory) it failed on.
    pub path: PathBuf,
    /// The OS error number, when the cause was an I/O error.
    pub errno: Option<i32>,
    /// The cause as a sentence, e.g. `input/output error (EIO) syncing <file>`.
    pub reason: String,
}

impl OfflineCause {
    fn of(error: &StoreError, dir: &Path) -> OfflineCause {
        match error {
            StoreError::Io { op, path, .. } => {
                OfflineCause { op: op.to_string(), path: path.clone(), errno: error.errno(), reason: error.to_string() }
            }
            other => OfflineCause { op: other.code().to_string(), path: dir.to_path_buf(), errno: None, reason: other.to_string() },
        }
    }

    pub(crate) fn panic(op: &str, dir: &Path, message: &str) -> OfflineCause {
        OfflineCause { op: "panic".into(), path: dir.to_path_buf(), errno: None, reason: format!("a panic in {op}: {message}") }
    }
}

#[derive(Default)]
pub(crate) struct OfflineState {
    offline: AtomicBool,
    cause: Mutex<Option<Arc<OfflineCause>>>,
}

impl OfflineState {
    pub fn is_offline(&self) -> bool {
        self.offline.load(Ordering::Acquire)
    }

    /// `Err(Offline)` once the log is offline.
    pub fn check(&self, dir: &Path) -> Result<(), StoreError> {
        if self.is_offline() {
            return Err(self.error(dir));
        }
        Ok(())
    }

    fn error(&self, dir: &Path) -> StoreError {
        let cause = self.cause.lock().clone().unwrap_or_else(|| {
            // Only between a panic's unwinding (which marks the log) and its catch (which names it).
            Arc::new(OfflineCause::panic("the store", dir, "while the log was being changed"))
        });
        StoreError::Offline { dir: dir.to_path_buf(), cause }
    }

    /// Takes the log offline because of `error` (the first cause is kept)
    /// and returns the error to report: `Offline`, naming the first cause.
    pub fn fail(&self, dir: &Path, error: StoreError) -> StoreError {
        if let StoreError::Offline { .. } = error {
            return error;
        }
        self.record(OfflineCause::of(&error, dir));
        self.error(dir)
    }

    /// Takes the log offline after a panic caught in `op`.
    pub fn fail_after_panic(&self, dir: &Path, op: &str, payload: &(dyn Any + Send)) -> StoreError {
        self.record(OfflineCause::panic(op, dir, &panic_message(payload)));
        self.error(dir)
    }

    /// Marks the log offline without naming a cause yet: for a guard dropped
    /// while its thread unwinds, which must close the log before it lets go
    /// of the lock.
    pub fn mark(&self) {
        self.offline.store(true, Ordering::Release);
    }

    fn record(&self, cause: OfflineCause) {
        let mut slot = self.cause.lock();
        if slot.is_none() {
            *slot = Some(Arc::new(cause));
        }
        self.offline.store(true, Ordering::Release);
    }
}

/// The text of a panic's payload (`panic!` gives a `&str` or a `String`).
pub fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// Test only: `FJORD_TEST_PANIC=<text>` (read once per process) makes every
/// append to a log whose directory path contains `<text>` panic while it
/// holds the log's lock, so tests can check that a panic becomes an error,
/// takes only that log offline, and leaves the process running.
static TEST_PANIC: LazyLock<Option<String>> = LazyLock::new(|| std::env::var("FJORD_TEST_PANIC").ok().filter(|s| !s.is_empty()));

pub(crate) fn forced_panic_for_test(dir: &Path) {
    if let Some(text) = TEST_PANIC.as_deref() {
        if dir.to_string_lossy().contains(text) {
            panic!("forced by FJORD_TEST_PANIC={text} appending to {}", dir.display());
        }
    }
}
