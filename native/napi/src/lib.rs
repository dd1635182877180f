//! The N-API surface of the segment store: a thin class over `fjord_store::Log`.
//! Arguments are validated in TypeScript; errors cross as messages prefixed
//! with a stable code (`ERR_...: ...`) that `src/errors.ts` maps to classes,
//! the same way on sync and async paths.

pub mod config_limits;
use std::sync::Arc;

use fjord_store::{Log, LogConfig, Pieces, ReadMap, StoreError, TimestampType};
use napi::bindgen_prelude::*;
use napi_derive::napi;

fn js_error(e: StoreError) -> Error {
    Error::new(Status::GenericFailure, format!("{}: {}", e.code(), e))
}

/// Log settings in camelCase, as the TypeScript layer passes them.
#[napi(object)]
#[derive(Default)]
pub struct LogOptions {
    pub segment_bytes: Option<f64>,
    pub segment_ms: Option<f64>,
    pub segment_index_bytes: Option<f64>,
    pub index_interval_bytes: Option<f64>,
    pub max_message_bytes: Option<f64>,
    /// `CreateTime` or `LogAppendTime`.
    pub message_timestamp_type: Option<String>,
}

impl LogOptions {
    fn to_config(&self) -> Result<LogConfig> {
        let d = LogConfig::default();
        let timestamp_type = match self.message_timestamp_type.as_deref() {
            None | Some("CreateTime") => TimestampType::CreateTime,
            Some("LogAppendTime") => TimestampType::LogAppendTime,
            Some(other) => {
                return Err(js_error(StoreError::InvalidConfig(format!(
                    "message.timestamp.type must be CreateTime or LogAppendTime, got {other}"
                ))))
            }
        };
        Ok(LogConfig {
            segment_bytes: self.segment_bytes.map_or(d.segment_bytes, |v| v as u64),
            segment_ms: self.segment_ms.map_or(d.segment_ms, |v| v as i64),
            segment_index_bytes: self.segment_index_bytes.map_or(d.segment_index_bytes, |v| v as u64),
            index_interval_bytes: self.index_interval_bytes.map_or(d.index_interval_bytes, |v| v as u64),
            max_message_bytes: self.max_message_bytes.map_or(d.max_message_bytes, |v| v as u64),
            timestamp_type,
        })
    }

    fn from_config(c: &LogConfig) -> LogOptions {
        LogOptions {
            segment_bytes: Some(c.segment_bytes as f64),
            segment_ms: Some(c.segment_ms as f64),
            segment_index_bytes: Some(c.segment_index_bytes as f64),
            index_interval_bytes: Some(c.index_interval_bytes as f64),
            max_message_bytes: Some(c.max_message_bytes as f64),
            message_timestamp_type: Some(
                match c.timestamp_type {
                    TimestampType::CreateTime => "CreateTime",
                    TimestampType::LogAppendTime => "LogAppendTime",
                }
                .into(),
            ),
        }
    }
}

#[napi(object)]
pub struct SegmentInfo {
    pub base_offset: f64,
    pub next_offset: f64,
    pub size: f64,
    pub max_timestamp: f64,
}

#[napi(object)]
pub struct RecoveryReport {
    pub clean_shutdown: bool,
    pub segments_recovered: u32,
    pub bytes_truncated: f64,
    pub torn_bytes_truncated: f64,
    pub segments_deleted: u32,
    pub notes: Vec<String>,
}

/// One open partition log, as seen from one JavaScript environment.
#[napi]
pub struct NativeLog {
    log: Arc<Log>,
    /// The mapping of the last read, for `lastReadBuffer`. Methods take
    /// `&self` (a `&mut self` method would fail while an async task of this
    /// object is in flight), hence the lock.
    last_map: std::sync::Mutex<Option<Arc<ReadMap>>>,
}

impl NativeLog {
    fn new(log: Log) -> NativeLog {
        NativeLog { log: Arc::new(log), last_map: std::sync::Mutex::new(None) }
    }
}

#[napi]
impl NativeLog {
    /// Opens (and if needed recovers) on the calling thread.
    #[napi(factory)]
    pub fn open_sync(dir: String, options: LogOptions, now: f64) -> Result<NativeLog> {
        let config = options.to_config()?;
        Log::open_at(dir.as_ref(), config, now as i64).map(NativeLog::new).map_err(js_error)
    }

    /// Appends concatenated batches; writes [baseOffset, lastOffset, position,
    /// logAppendTime] into `out`.
    #[napi]
    pub fn append(&self, batches: &[u8], now: f64, mut out: Float64ArraySlice) -> Result<()> {
        // SAFETY: the scratch array is not touched by JavaScript during the call.
        let out = unsafe { out.as_mut() };
        let info = self.log.append(batches, now as i64).map_err(js_error)?;
        out[0] = info.base_offset as f64;
        out[1] = info.last_offset as f64;
        out[2] = info.position as f64;
        out[3] = info.log_append_time as f64;
        Ok(())
    }

    /// Appends batches given as `framing` with `values[i]` spliced in at byte
    /// `cuts[i]` of it; the store stamps each batch's CRC. Writes what
    /// `append` writes into `out`, then the log start offset.
    #[napi]
    pub fn append_gathered(&self, framing: &[u8], values: Vec<&[u8]>, cuts: &[u32], now: f64, mut out: Float64ArraySlice) -> Result<()> {
        // SAFETY: as in `append`.
        let out = unsafe { out.as_mut() };
        let pieces = Pieces::spliced(framing, &values, cuts).map_err(js_error)?;
        let info = self.log.append_gathered(&pieces, now as i64).map_err(js_error)?;
        out[0] = info.base_offset as f64;
        out[1] = info.last_offset as f64;
        out[2] = info.position as f64;
        out[3] = info.log_append_time as f64;
        out[4] = self.log.log_start_offset().map_err(js_error)? as f64;
        Ok(())
    }

    /// Reads whole batches from `offset`. Returns false at the log end;
    /// otherwise writes [mapId, start, length, nextOffset, generation] into
    /// `out`, and `lastReadBuffer()` gives the mapping the bytes live in.
    #[napi]
    pub fn read(&self, offset: f64, max_bytes: f64, mut out: Float64ArraySlice) -> Result<bool> {
        // SAFETY: as in `append`.
        let out = unsafe { out.as_mut() };
        let generation = self.log.generation();
        match self.log.read(offset as i64, max_bytes as usize).map_err(js_error)? {
            None => {
                *self.last_map.lock().unwrap() = None;
                out[4] = generation as f64;
                Ok(false)
            }
            Some(slice) => {
                out[0] = slice.map.id() as f64;
                out[1] = slice.start as f64;
                out[2] = slice.len as f64;
                out[3] = slice.next_offset as f64;
                out[4] = generation as f64;
                *self.last_map.lock().unwrap() = Some(slice.map);
                Ok(true)
            }
        }
    }

    /// An external ArrayBuffer over the whole mapping of the last read. It
    /// owns a reference to the mapping: the mapping (and the file's pages)
    /// live until the buffer is garbage-collected. Call once per mapping id
    /// and cache the result: V8 must never see two buffers at one address.
    #[napi]
    pub fn last_read_buffer<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        let map = self.last_map.lock().unwrap().clone().ok_or_else(|| Error::new(Status::InvalidArg, "ERR_STATE: no read to map"))?;
        let ptr = map.as_ptr() as *mut u8;
        let len = map.len();
        // SAFETY: the mapping stays valid while `map` (moved into the
        // finalizer hint) lives; V8 drops it when the buffer is collected.
        unsafe { ArrayBuffer::from_external(env, ptr, len, map, |_, map| drop(map)) }
    }

    /// Ids of mappings the log still holds; a cached buffer of any other id is stale.
    #[napi]
    pub fn live_map_ids(&self) -> Result<Vec<f64>> {
        Ok(self.log.live_map_ids().map_err(js_error)?.into_iter().map(|id| id as f64).collect())
    }

    #[napi(getter)]
    pub fn generation(&self) -> f64 {
        self.log.generation() as f64
    }

    #[napi]
    pub fn offset_for_timestamp(&self, timestamp: f64) -> Result<f64> {
        Ok(self.log.offset_for_timestamp(timestamp as i64).map_err(js_error)?.map_or(-1.0, |o| o as f64))
    }

    #[napi]
    pub fn log_start_offset(&self) -> Result<f64> {
        self.log.log_start_offset().map(|o| o as f64).map_err(js_error)
    }

    #[napi]
    pub fn log_end_offset(&self) -> Result<f64> {
        self.log.log_end_offset().map(|o| o as f64).map_err(js_error)
    }

    #[napi]
    pub fn size(&self) -> Result<f64> {
        self.log.size().map(|s| s as f64).map_err(js_error)
    }

    #[napi]
    pub fn segments(&self) -> Result<Vec<SegmentInfo>> {
        Ok(self
            .log
            .segments()
            .map_err(js_error)?
            .into_iter()
            .map(|s| SegmentInfo {
                base_offset: s.base_offset as f64,
                next_offset: s.next_offset as f64,
                size: s.size as f64,
                max_timestamp: s.max_timestamp as f64,
            })
            .collect())
    }

    #[napi]
    pub fn truncate_to(&self, offset: f64) -> Result<f64> {
        self.log.truncate_to(offset as i64).map(|o| o as f64).map_err(js_error)
    }

    #[napi]
    pub fn delete_segments_before(&self, offset: f64) -> Result<u32> {
        self.log.delete_segments_before(offset as i64).map(|n| n as u32).map_err(js_error)
    }

    #[napi]
    pub fn delete_oldest_segment(&self) -> Result<bool> {
        self.log.delete_oldest_segment().map_err(js_error)
    }

    #[napi]
    pub fn config(&self) -> Result<LogOptions> {
        Ok(LogOptions::from_config(&self.log.config().map_err(js_error)?))
    }

    #[napi]
    pub fn set_config(&self, options: LogOptions) -> Result<()> {
        self.log.set_config(options.to_config()?).map_err(js_error)
    }

    #[napi]
    pub fn recovery_report(&self) -> RecoveryReport {
        let r = self.log.recovery_report();
        RecoveryReport {
            clean_shutdown: r.clean_shutdown,
            segments_recovered: r.segments_recovered,
            bytes_truncated: r.bytes_truncated as f64,
            torn_bytes_truncated: r.torn_bytes_truncated as f64,
            segments_deleted: r.segments_deleted,
            notes: r.notes.clone(),
        }
    }

    /// True when this handle's open read the directory (its recovery report
    /// is news); false for a handle on a log this process already had open.
    #[napi(getter)]
    pub fn opened_directory(&self) -> bool {
        self.log.opened_directory()
    }

    #[napi]
    pub fn flush_sync(&self) -> Result<()> {
        self.log.flush().map_err(js_error)
    }

    /// fsync off the main thread.
    #[napi]
    pub fn flush(&self) -> AsyncTask<LogTask> {
        AsyncTask::new(LogTask { log: self.log.clone(), op: LogOp::Flush })
    }

    #[napi]
    pub fn close_sync(&self) -> Result<()> {
        *self.last_map.lock().unwrap() = None;
        self.log.close().map_err(js_error)
    }

    /// Close off the main thread (it flushes and trims files).
    #[napi]
    pub fn close(&self) -> AsyncTask<LogTask> {
        *self.last_map.lock().unwrap() = None;
        AsyncTask::new(LogTask { log: self.log.clone(), op: LogOp::Close })
    }

    /// Drops the log as a killed process would (no flush, no clean marker). Tests only.
    #[napi]
    pub fn simulate_crash(&self) {
        *self.last_map.lock().unwrap() = None;
        self.log.simulate_crash();
    }
}

pub enum LogOp {
    Flush,
    Close,
}

pub struct LogTask {
    log: Arc<Log>,
    op: LogOp,
}

impl Task for LogTask {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        match self.op {
            LogOp::Flush => self.log.flush(),
            LogOp::Close => self.log.close(),
        }
        .map_err(js_error)
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}

pub struct OpenTask {
    dir: String,
    config: LogConfig,
    now: i64,
}

impl Task for OpenTask {
    type Output = Log;
    type JsValue = NativeLog;

    fn compute(&mut self) -> Result<Log> {
        Log::open_at(self.dir.as_ref(), self.config, self.now).map_err(js_error)
    }

    fn resolve(&mut self, _env: Env, log: Log) -> Result<NativeLog> {
        Ok(NativeLog::new(log))
    }
}

/// Opens (and if needed recovers) a log on the libuv thread pool.
#[napi(ts_return_type = "Promise<NativeLog>")]
pub fn open_log(dir: String, options: LogOptions, now: f64) -> Result<AsyncTask<OpenTask>> {
    Ok(AsyncTask::new(OpenTask { dir, config: options.to_config()?, now: now as i64 }))
}

/// A lock on a data directory as a whole (each partition log also locks its
/// own): shared by the threads of this process, exclusive against others.
#[napi]
pub struct DirectoryLock {
    lock: Option<fjord_store::SharedDirLock>,
}

#[napi]
impl DirectoryLock {
    #[napi(factory)]
    pub fn acquire(dir: String) -> Result<DirectoryLock> {
        let lock = fjord_store::SharedDirLock::acquire(std::path::Path::new(&dir)).map_err(js_error)?;
        Ok(DirectoryLock { lock: Some(lock) })
    }

    #[napi]
    pub fn release(&mut self) {
        self.lock = None;
    }
}

/// Claims the host role for a data directory within this process: a token
/// (> 0) for the first claimer until it releases, 0 for the others. See
/// `src/directory/shared-directory.ts`.
#[napi]
pub fn claim_host(env: Env, dir: String) -> Result<f64> {
    let Some(token) = fjord_store::claim_host(std::path::Path::new(&dir)).map_err(js_error)? else { return Ok(0.0) };
    // A thread torn down without closing (worker.terminate()) must not keep
    // the role: another thread takes over.
    env.add_env_cleanup_hook((dir, token), |(dir, token)| fjord_store::release_host(std::path::Path::new(&dir), token))?;
    Ok(token as f64)
}

#[napi]
pub fn release_host(dir: String, token: f64) {
    fjord_store::release_host(std::path::Path::new(&dir), token as u64);
}

/// CRC-32C (Castagnoli) of `data`, as RecordBatch v2 uses it.
#[napi(js_name = "crc32c")]
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

/// Read-only segment mappings alive in the process (held by logs or by Buffers).
#[napi]
pub fn live_read_maps() -> u32 {
    fjord_store::live_read_maps() as u32
}

#[napi(object)]
pub struct VerifyProblem {
    /// torn-batch, zero-tail, corrupt-batch, offset-mismatch, missing-index,
    /// short-index, bad-index-entry or orphan-index.
    pub kind: String,
    pub file: String,
    pub position: f64,
    pub offset: Option<f64>,
    pub message: String,
}

#[napi(object)]
pub struct LogCheck {
    pub dir: String,
    pub clean_shutdown: bool,
    pub segments: u32,
    pub batches: f64,
    pub first_offset: f64,
    pub end_offset: f64,
    pub problems: Vec<VerifyProblem>,
}

pub struct VerifyTask {
    dir: String,
}

impl Task for VerifyTask {
    type Output = fjord_store::LogCheck;
    type JsValue = LogCheck;

    fn compute(&mut self) -> Result<fjord_store::LogCheck> {
        fjord_store::verify_log_dir(std::path::Path::new(&self.dir)).map_err(js_error)
    }

    fn resolve(&mut self, _env: Env, c: fjord_store::LogCheck) -> Result<LogCheck> {
        Ok(LogCheck {
            dir: c.dir.to_string_lossy().into_owned(),
            clean_shutdown: c.clean_shutdown,
            segments: c.segments,
            batches: c.batches as f64,
            first_offset: c.first_offset as f64,
            end_offset: c.end_offset as f64,
            problems: c
                .problems
                .into_iter()
                .map(|p| VerifyProblem {
                    kind: p.kind.as_str().to_string(),
                    file: p.file,
                    position: p.position as f64,
                    offset: p.offset.map(|o| o as f64),
                    message: p.message,
                })
                .collect(),
        })
    }
}

/// Checks every batch and index entry of one partition directory, changing
/// nothing, off the main thread. Fails with ERR_LOG_DIR_LOCKED while a writer
/// has the directory open.
#[napi(ts_return_type = "Promise<LogCheck>")]
pub fn verify_log(dir: String) -> AsyncTask<VerifyTask> {
    AsyncTask::new(VerifyTask { dir })
}

/// A shared lock on a directory that writes nothing (see `ReadOnlyDirLock`):
/// held by `verify` on the data directory so no Fjord opens it meanwhile.
#[napi]
pub struct ReadOnlyLock {
    lock: Option<fjord_store::ReadOnlyDirLock>,
}

#[napi]
impl ReadOnlyLock {
    #[napi(factory)]
    pub fn acquire(dir: String) -> Result<ReadOnlyLock> {
        let lock = fjord_store::ReadOnlyDirLock::acquire(std::path::Path::new(&dir)).map_err(js_error)?;
        Ok(ReadOnlyLock { lock: Some(lock) })
    }

    #[napi]
    pub fn release(&mut self) {
        self.lock = None;
    }
}
