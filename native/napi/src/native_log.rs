//! `NativeLog`: one open partition log as a JavaScript class. Each method is
//! one call into `fjord_store::Log`; results go back in scratch arrays or
//! plain objects, failures as the errors of `errors.rs`.

use std::sync::{Arc, Mutex};

use fjord_store::{Log, Pieces, ReadMap};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::errors::{coded_error, OrJsError};
use crate::log_options::LogOptions;
use crate::tasks::{LogOp, LogTask};

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
    last_map: Mutex<Option<Arc<ReadMap>>>,
}

impl NativeLog {
    pub(crate) fn new(log: Log) -> NativeLog {
        NativeLog { log: Arc::new(log), last_map: Mutex::new(None) }
    }
}

#[napi]
impl NativeLog {
    /// Opens (and if needed recovers) on the calling thread.
    #[napi(factory)]
    pub fn open_sync(env: &Env, dir: String, options: LogOptions, now: f64) -> Result<NativeLog> {
        let config = options.to_config().or_js_error(env)?;
        Log::open_at(dir.as_ref(), config, now as i64).map(NativeLog::new).or_js_error(env)
    }

    /// Appends concatenated batches; writes [baseOffset, lastOffset, position,
    /// logAppendTime] into `out`. Position -1: the batches were an idempotent
    /// producer's retry, already stored at those offsets; nothing was written.
    #[napi]
    pub fn append(&self, env: &Env, batches: &[u8], now: f64, mut out: Float64ArraySlice) -> Result<()> {
        // SAFETY: the scratch array is not touched by JavaScript during the call.
        let out = unsafe { out.as_mut() };
        let info = self.log.append(batches, now as i64).or_js_error(env)?;
        out[0] = info.base_offset as f64;
        out[1] = info.last_offset as f64;
        out[2] = if info.duplicate { -1.0 } else { info.position as f64 };
        out[3] = info.log_append_time as f64;
        Ok(())
    }

    /// Appends batches given as `framing` with `values[i]` spliced in at byte
    /// `cuts[i]` of it; the store stamps each batch's CRC. Writes what
    /// `append` writes into `out`, then the log start offset.
    #[napi]
    pub fn append_gathered(
        &self,
        env: &Env,
        framing: &[u8],
        values: Vec<&[u8]>,
        cuts: &[u32],
        now: f64,
        mut out: Float64ArraySlice,
    ) -> Result<()> {
        // SAFETY: as in `append`.
        let out = unsafe { out.as_mut() };
        let pieces = Pieces::spliced(framing, &values, cuts).or_js_error(env)?;
        let info = self.log.append_gathered(&pieces, now as i64).or_js_error(env)?;
        out[0] = info.base_offset as f64;
        out[1] = info.last_offset as f64;
        out[2] = if info.duplicate { -1.0 } else { info.position as f64 };
        out[3] = info.log_append_time as f64;
        out[4] = self.log.log_start_offset().or_js_error(env)? as f64;
        Ok(())
    }

    /// The largest producer id in the log's batches, -1 for none.
    #[napi]
    pub fn max_producer_id(&self, env: &Env) -> Result<f64> {
        Ok(self.log.max_producer_id().or_js_error(env)? as f64)
    }

    /// Reads whole batches from `offset`. Returns false at the log end;
    /// otherwise writes [mapId, start, length, nextOffset, generation] into
    /// `out`, and `lastReadBuffer()` gives the mapping the bytes live in.
    #[napi]
    pub fn read(&self, env: &Env, offset: f64, max_bytes: f64, mut out: Float64ArraySlice) -> Result<bool> {
        // SAFETY: as in `append`.
        let out = unsafe { out.as_mut() };
        let generation = self.log.generation();
        match self.log.read(offset as i64, max_bytes as usize).or_js_error(env)? {
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
        let map = self.last_map.lock().unwrap().clone().ok_or_else(|| coded_error(env, "ERR_STATE", "no read to map"))?;
        let ptr = map.as_ptr() as *mut u8;
        let len = map.len();
        // SAFETY: the mapping stays valid while `map` (moved into the
        // finalizer hint) lives; V8 drops it when the buffer is collected.
        unsafe { ArrayBuffer::from_external(env, ptr, len, map, |_, map| drop(map)) }
    }

    /// Ids of mappings the log still holds; a cached buffer of any other id is stale.
    #[napi]
    pub fn live_map_ids(&self, env: &Env) -> Result<Vec<f64>> {
        Ok(self.log.live_map_ids().or_js_error(env)?.into_iter().map(|id| id as f64).collect())
    }

    #[napi(getter)]
    pub fn generation(&self) -> f64 {
        self.log.generation() as f64
    }

    #[napi]
    pub fn offset_for_timestamp(&self, env: &Env, timestamp: f64) -> Result<f64> {
        Ok(self.log.offset_for_timestamp(timestamp as i64).or_js_error(env)?.map_or(-1.0, |o| o as f64))
    }

    #[napi]
    pub fn log_start_offset(&self, env: &Env) -> Result<f64> {
        self.log.log_start_offset().map(|o| o as f64).or_js_error(env)
    }

    #[napi]
    pub fn log_end_offset(&self, env: &Env) -> Result<f64> {
        self.log.log_end_offset().map(|o| o as f64).or_js_error(env)
    }

    #[napi]
    pub fn size(&self, env: &Env) -> Result<f64> {
        self.log.size().map(|s| s as f64).or_js_error(env)
    }

    #[napi]
    pub fn segments(&self, env: &Env) -> Result<Vec<SegmentInfo>> {
        Ok(self
            .log
            .segments()
            .or_js_error(env)?
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
    pub fn truncate_to(&self, env: &Env, offset: f64) -> Result<f64> {
        self.log.truncate_to(offset as i64).map(|o| o as f64).or_js_error(env)
    }

    #[napi]
    pub fn delete_segments_before(&self, env: &Env, offset: f64) -> Result<u32> {
        self.log.delete_segments_before(offset as i64).map(|n| n as u32).or_js_error(env)
    }

    #[napi]
    pub fn delete_oldest_segment(&self, env: &Env) -> Result<bool> {
        self.log.delete_oldest_segment().or_js_error(env)
    }

    #[napi]
    pub fn config(&self, env: &Env) -> Result<LogOptions> {
        Ok(LogOptions::from_config(&self.log.config().or_js_error(env)?))
    }

    #[napi]
    pub fn set_config(&self, env: &Env, options: LogOptions) -> Result<()> {
        let config = options.to_config().or_js_error(env)?;
        self.log.set_config(config).or_js_error(env)
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
    pub fn flush_sync(&self, env: &Env) -> Result<()> {
        self.log.flush().or_js_error(env)
    }

    /// fsync off the main thread.
    #[napi]
    pub fn flush(&self) -> AsyncTask<LogTask> {
        AsyncTask::new(LogTask::new(self.log.clone(), LogOp::Flush))
    }

    #[napi]
    pub fn close_sync(&self, env: &Env) -> Result<()> {
        *self.last_map.lock().unwrap() = None;
        self.log.close().or_js_error(env)
    }

    /// Close off the main thread (it flushes and trims files).
    #[napi]
    pub fn close(&self) -> AsyncTask<LogTask> {
        *self.last_map.lock().unwrap() = None;
        AsyncTask::new(LogTask::new(self.log.clone(), LogOp::Close))
    }

    /// Drops the log as a killed process would (no flush, no clean marker). Tests only.
    #[napi]
    pub fn simulate_crash(&self) {
        *self.last_map.lock().unwrap() = None;
        self.log.simulate_crash();
    }
}
