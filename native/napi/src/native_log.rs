//! `NativeLog`: one open partition log as a JavaScript class. Each method is
//! one call into `fjord_store::Log`; results go back in scratch arrays or
//! plain objects, failures as the errors of `errors.rs`.

use std::sync::Arc;

use fjord_store::{Log, Pieces};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::errors::{store_error, OrJsError};
use crate::fetch_buffer::fetch_buffer;
use crate::log_options::LogOptions;
use crate::no_panic::{catch, no_panic};
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
}

impl NativeLog {
    pub(crate) fn new(log: Log) -> NativeLog {
        NativeLog { log: Arc::new(log) }
    }

    /// Runs one method: a panic (the store catches its own; this is for the
    /// binding's) takes the log offline and is thrown as its error.
    fn guard<T>(&self, env: &Env, op: &str, body: impl FnOnce() -> Result<T>) -> Result<T> {
        catch(body).unwrap_or_else(|payload| Err(store_error(env, self.log.fail_after_panic(op, &*payload))))
    }
}

#[napi]
impl NativeLog {
    /// Opens (and if needed recovers) on the calling thread.
    #[napi(factory)]
    pub fn open_sync(env: &Env, dir: String, options: LogOptions, now: f64) -> Result<NativeLog> {
        no_panic(env, "open", || {
            let config = options.to_config().or_js_error(env)?;
            Log::open_at(dir.as_ref(), config, now as i64).map(NativeLog::new).or_js_error(env)
        })
    }

    /// Appends concatenated batches; writes [baseOffset, lastOffset, position,
    /// logAppendTime] into `out`. Position -1: the batches were an idempotent
    /// producer's retry, already stored at those offsets; nothing was written.
    #[napi]
    pub fn append(&self, env: &Env, batches: &[u8], now: f64, mut out: Float64ArraySlice) -> Result<()> {
        self.guard(env, "append", || {
            // SAFETY: the scratch array is not touched by JavaScript during the call.
            let out = unsafe { out.as_mut() };
            let info = self.log.append(batches, now as i64).or_js_error(env)?;
            out[0] = info.base_offset as f64;
            out[1] = info.last_offset as f64;
            out[2] = if info.duplicate { -1.0 } else { info.position as f64 };
            out[3] = info.log_append_time as f64;
            Ok(())
        })
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
        self.guard(env, "append", || {
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
        })
    }

    /// The largest producer id in the log's batches, -1 for none.
    #[napi]
    pub fn max_producer_id(&self, env: &Env) -> Result<f64> {
        self.guard(env, "max producer id", || Ok(self.log.max_producer_id().or_js_error(env)? as f64))
    }

    /// Reads whole batches from `offset`: `null` at the log end, otherwise
    /// an ArrayBuffer of exactly the bytes read, this read's own (see
    /// `fetch_buffer`), with the offset the next read starts at in `out[0]`.
    #[napi]
    pub fn read<'env>(&self, env: &'env Env, offset: f64, max_bytes: f64, mut out: Float64ArraySlice) -> Result<Option<ArrayBuffer<'env>>> {
        self.guard(env, "read", || {
            // SAFETY: as in `append`.
            let out = unsafe { out.as_mut() };
            let Some(slice) = self.log.read(offset as i64, max_bytes as usize).or_js_error(env)? else { return Ok(None) };
            out[0] = slice.next_offset as f64;
            fetch_buffer(env, &slice).map(Some)
        })
    }

    #[napi]
    pub fn offset_for_timestamp(&self, env: &Env, timestamp: f64) -> Result<f64> {
        self.guard(env, "offset for timestamp", || {
            Ok(self.log.offset_for_timestamp(timestamp as i64).or_js_error(env)?.map_or(-1.0, |o| o as f64))
        })
    }

    #[napi]
    pub fn log_start_offset(&self, env: &Env) -> Result<f64> {
        self.guard(env, "log start offset", || self.log.log_start_offset().map(|o| o as f64).or_js_error(env))
    }

    #[napi]
    pub fn log_end_offset(&self, env: &Env) -> Result<f64> {
        self.guard(env, "log end offset", || self.log.log_end_offset().map(|o| o as f64).or_js_error(env))
    }

    #[napi]
    pub fn size(&self, env: &Env) -> Result<f64> {
        self.guard(env, "size", || self.log.size().map(|s| s as f64).or_js_error(env))
    }

    #[napi]
    pub fn segments(&self, env: &Env) -> Result<Vec<SegmentInfo>> {
        self.guard(env, "segments", || {
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
        })
    }

    #[napi]
    pub fn truncate_to(&self, env: &Env, offset: f64) -> Result<f64> {
        self.guard(env, "truncate to", || self.log.truncate_to(offset as i64).map(|o| o as f64).or_js_error(env))
    }

    #[napi]
    pub fn delete_segments_before(&self, env: &Env, offset: f64) -> Result<u32> {
        self.guard(env, "delete segments before", || self.log.delete_segments_before(offset as i64).map(|n| n as u32).or_js_error(env))
    }

    #[napi]
    pub fn delete_oldest_segment(&self, env: &Env) -> Result<bool> {
        self.guard(env, "delete oldest segment", || self.log.delete_oldest_segment().or_js_error(env))
    }

    #[napi]
    pub fn config(&self, env: &Env) -> Result<LogOptions> {
        self.guard(env, "config", || Ok(LogOptions::from_config(&self.log.config().or_js_error(env)?)))
    }

    #[napi]
    pub fn set_config(&self, env: &Env, options: LogOptions) -> Result<()> {
        self.guard(env, "set config", || {
            let config = options.to_config().or_js_error(env)?;
            self.log.set_config(config).or_js_error(env)
        })
    }

    #[napi]
    pub fn recovery_report(&self, env: &Env) -> Result<RecoveryReport> {
        self.guard(env, "recovery report", || {
            let r = self.log.recovery_report();
            Ok(RecoveryReport {
                clean_shutdown: r.clean_shutdown,
                segments_recovered: r.segments_recovered,
                bytes_truncated: r.bytes_truncated as f64,
                torn_bytes_truncated: r.torn_bytes_truncated as f64,
                segments_deleted: r.segments_deleted,
                notes: r.notes.clone(),
            })
        })
    }

    /// True when this handle's open read the directory (its recovery report
    /// is news); false for a handle on a log this process already had open.
    #[napi(getter)]
    pub fn opened_directory(&self, env: &Env) -> Result<bool> {
        self.guard(env, "opened directory", || Ok(self.log.opened_directory()))
    }

    #[napi]
    pub fn flush_sync(&self, env: &Env) -> Result<()> {
        self.guard(env, "flush sync", || self.log.flush().or_js_error(env))
    }

    /// fsync off the main thread.
    #[napi]
    pub fn flush(&self, env: &Env) -> Result<AsyncTask<LogTask>> {
        self.guard(env, "flush", || Ok(AsyncTask::new(LogTask::new(self.log.clone(), LogOp::Flush))))
    }

    #[napi]
    pub fn close_sync(&self, env: &Env) -> Result<()> {
        self.guard(env, "close sync", || self.log.close().or_js_error(env))
    }

    /// Close off the main thread (it flushes and trims files).
    #[napi]
    pub fn close(&self, env: &Env) -> Result<AsyncTask<LogTask>> {
        self.guard(env, "close", || Ok(AsyncTask::new(LogTask::new(self.log.clone(), LogOp::Close))))
    }

    /// Drops the log as a killed process would (no flush, no clean marker). Tests only.
    #[napi]
    pub fn simulate_crash(&self, env: &Env) -> Result<()> {
        self.guard(env, "simulate crash", || {
            self.log.simulate_crash();
            Ok(())
        })
    }
}
