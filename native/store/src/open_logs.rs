//! The logs this process has open, by canonical directory: opening a
//! directory again returns another handle on the log already open instead of
//! reading the directory (and taking its lock) a second time. Entries are
//! weak: a log whose handles are all gone is opened afresh.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex, Weak};

use crate::error::Result;
use crate::log::Shared;

static OPEN_LOGS: LazyLock<Mutex<HashMap<PathBuf, Weak<Shared>>>> = LazyLock::new(Default::default);

/// The log open on `dir` with one more handle counted or, when there is none
/// (or it is closed), the one `open` makes, registered; with true when `open`
/// ran. The map stays locked while `open` reads the directory, so two opens
/// of one directory never both read it.
pub(crate) fn share_or_open(dir: &Path, open: impl FnOnce() -> Result<Shared>) -> Result<(Arc<Shared>, bool)> {
    // The map holds only weak references and changes after `open` returns, so
    // a panic inside `open` (which poisons the lock) leaves it whole.
    let mut logs = OPEN_LOGS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(shared) = logs.get(dir).and_then(Weak::upgrade) {
        if shared.add_handle() {
            return Ok((shared, false));
        }
    }
    let shared = Arc::new(open()?);
    logs.retain(|_, w| w.strong_count() > 0);
    logs.insert(dir.to_path_buf(), Arc::downgrade(&shared));
    Ok((shared, true))
}

/// Forgets the log open on `dir`, for a log dropped without closing.
pub(crate) fn forget(dir: &Path) {
    OPEN_LOGS.lock().unwrap_or_else(|e| e.into_inner()).remove(dir);
}
