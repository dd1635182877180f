use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use crate::offline::OfflineCause;

/// Every failure the store reports. `code()` is the stable string that crosses
/// the N-API boundary; the TypeScript layer maps it to a Kafka-named error class.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("record batch is {size} bytes, larger than max.message.bytes ({limit} bytes)")]
    RecordTooLarge { size: u64, limit: u64 },

    #[error("append of {size} bytes is larger than segment.bytes ({limit} bytes)")]
    RecordListTooLarge { size: u64, limit: u64 },

    #[error("corrupt record batch at byte {position} of the input: {reason}")]
    CorruptRecord { position: u64, reason: String },

    /// A stored batch failed its check on read (CRC-32C, framing, offsets).
    #[error("corrupt record batch at offset {offset} in {} at byte {position}: {reason}", file.display())]
    CorruptStoredBatch { file: PathBuf, position: u64, offset: i64, reason: String },

    #[error("invalid record batch at byte {position} of the input: {reason}")]
    InvalidRecord { position: u64, reason: String },

    #[error("offset {offset} is out of range: the log holds [{start}, {end})")]
    OffsetOutOfRange { offset: i64, start: i64, end: i64 },

    #[error("log directory {dir} is locked by {holder}")]
    Locked { dir: PathBuf, holder: String },

    #[error("invalid log config: {0}")]
    InvalidConfig(String),

    /// Kafka's OUT_OF_ORDER_SEQUENCE_NUMBER: an idempotent producer's batch
    /// does not follow the last one the log holds from it.
    #[error("out of order sequence number for producer {producer_id} (epoch {epoch}): found {found}, expected {expected}")]
    OutOfOrderSequence { producer_id: i64, epoch: i16, found: i32, expected: String },

    /// Kafka's INVALID_PRODUCER_EPOCH: a batch from an older epoch of a producer
    /// the log has seen at a newer one (the older producer was fenced).
    #[error("producer {producer_id} wrote with epoch {epoch}, older than its current epoch {current}")]
    InvalidProducerEpoch { producer_id: i64, epoch: i16, current: i16 },

    #[error("log {0} is closed")]
    Closed(PathBuf),

    /// An earlier write or fsync error (or a panic) took the log offline:
    /// every call fails until it is closed and opened again.
    #[error("partition log {} is offline after {}; close and reopen it to recover from its files", dir.display(), cause.reason)]
    Offline { dir: PathBuf, cause: Arc<OfflineCause> },

    /// Displays as `no space left on device (ENOSPC) appending to <file>`.
    #[error("{} {} {}", describe_io(.source), doing(.op), .path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

impl StoreError {
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::RecordTooLarge { .. } => "ERR_RECORD_TOO_LARGE",
            StoreError::RecordListTooLarge { .. } => "ERR_RECORD_LIST_TOO_LARGE",
            StoreError::CorruptRecord { .. } | StoreError::CorruptStoredBatch { .. } => "ERR_CORRUPT_RECORD",
            StoreError::InvalidRecord { .. } => "ERR_INVALID_RECORD",
            StoreError::OffsetOutOfRange { .. } => "ERR_OFFSET_OUT_OF_RANGE",
            StoreError::Locked { .. } => "ERR_LOG_DIR_LOCKED",
            StoreError::InvalidConfig(_) => "ERR_INVALID_CONFIG",
            StoreError::Closed(_) => "ERR_LOG_CLOSED",
            StoreError::Offline { .. } => "ERR_LOG_OFFLINE",
            StoreError::OutOfOrderSequence { .. } => "ERR_OUT_OF_ORDER_SEQUENCE_NUMBER",
            StoreError::InvalidProducerEpoch { .. } => "ERR_INVALID_PRODUCER_EPOCH",
            StoreError::Io { source, .. } => match source.raw_os_error() {
                Some(code) if code == rustix::io::Errno::NOSPC.raw_os_error() => "ERR_DISK_FULL",
                Some(code) if code == rustix::io::Errno::DQUOT.raw_os_error() => "ERR_DISK_FULL",
                Some(code) if code == rustix::io::Errno::FBIG.raw_os_error() => "ERR_FILE_TOO_LARGE",
                _ => "ERR_STORAGE",
            },
        }
    }

    /// The OS error number of an I/O failure (28 for ENOSPC on Linux).
    pub fn errno(&self) -> Option<i32> {
        match self {
            StoreError::Io { source, .. } => source.raw_os_error(),
            StoreError::Offline { cause, .. } => cause.errno,
            _ => None,
        }
    }

    /// The name of `errno()`, e.g. `ENOSPC` (`errno 95` for one this table lacks).
    pub fn errno_name(&self) -> Option<String> {
        self.errno().map(errno_name)
    }

    /// The disk refused for lack of room (ENOSPC, EDQUOT, EFBIG).
    pub(crate) fn is_lack_of_room(&self) -> bool {
        matches!(self, StoreError::Io { .. }) && matches!(self.code(), "ERR_DISK_FULL" | "ERR_FILE_TOO_LARGE")
    }

    /// A write the disk refused for lack of room and that was undone (a
    /// write not undone is `undo append`): the file is as before, so the log
    /// stays online.
    pub(crate) fn is_refused_append(&self) -> bool {
        matches!(self, StoreError::Io { op: "append", .. }) && self.is_lack_of_room()
    }

    pub fn io(op: &'static str, path: &Path, source: io::Error) -> Self {
        StoreError::Io { op, path: path.to_path_buf(), source }
    }
}

/// The system's reason with the errno's name, e.g. `file too large (EFBIG)`.
fn describe_io(error: &io::Error) -> String {
    let text = error.to_string();
    let reason = text.split(" (os error").next().unwrap_or(&text);
    let mut reason = reason.to_string();
    if let Some(first) = reason.get(..1) {
        reason.replace_range(..1, &first.to_lowercase());
    }
    match error.raw_os_error() {
        Some(code) => format!("{reason} ({})", errno_name(code)),
        None => reason,
    }
}

fn errno_name(code: i32) -> String {
    use rustix::io::Errno;
    let known = [
        (Errno::NOSPC, "ENOSPC"),
        (Errno::DQUOT, "EDQUOT"),
        (Errno::FBIG, "EFBIG"),
        (Errno::IO, "EIO"),
        (Errno::ROFS, "EROFS"),
        (Errno::ACCESS, "EACCES"),
        (Errno::PERM, "EPERM"),
        (Errno::NOENT, "ENOENT"),
        (Errno::EXIST, "EEXIST"),
        (Errno::NOTDIR, "ENOTDIR"),
        (Errno::ISDIR, "EISDIR"),
        (Errno::MFILE, "EMFILE"),
        (Errno::NFILE, "ENFILE"),
        (Errno::NOMEM, "ENOMEM"),
        (Errno::INVAL, "EINVAL"),
        (Errno::BADF, "EBADF"),
        (Errno::AGAIN, "EAGAIN"),
        (Errno::BUSY, "EBUSY"),
        (Errno::NAMETOOLONG, "ENAMETOOLONG"),
        (Errno::OPNOTSUPP, "EOPNOTSUPP"),
    ];
    known.iter().find(|(e, _)| e.raw_os_error() == code).map_or_else(|| format!("errno {code}"), |(_, name)| name.to_string())
}

/// An operation as the middle of a sentence: `appending to`, `syncing`.
fn doing(op: &str) -> &str {
    match op {
        "append" => "appending to",
        "undo append" => "undoing a failed append to",
        "write" => "writing",
        "extend" => "extending",
        "fallocate" => "preallocating",
        "truncate" => "truncating",
        "fsync" => "syncing",
        "open" => "opening",
        "create" => "creating",
        "create directory" => "creating directory",
        "stat" => "reading the size of",
        "mmap" => "mapping",
        "remove" => "removing",
        "rename" => "renaming to",
        "list" => "listing",
        "resolve" => "resolving",
        "seek" => "seeking in",
        "flock" => "locking",
        other => other,
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Attaches the operation and path to an `io::Result`.
pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, op: &'static str, path: &Path) -> Result<T> {
        self.map_err(|e| StoreError::io(op, path, e))
    }
}

impl<T> IoContext<T> for std::result::Result<T, rustix::io::Errno> {
    fn ctx(self, op: &'static str, path: &Path) -> Result<T> {
        self.map_err(|e| StoreError::io(op, path, e.into()))
    }
}
