//! Store work on the libuv thread pool: open (with recovery), flush, close.
//! `compute` runs off the JavaScript thread, where no JavaScript object can be
//! made, so it hands the store's result (failure included) back as its output,
//! and `resolve`, on the JavaScript thread, turns a failure into its error.
//! A panic in `compute` (which libuv calls through `extern "C"`, where an
//! unwinding panic aborts) is caught and handed over the same way.

use std::sync::Arc;

use fjord_store::{Log, LogConfig};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::errors::{store_error, OrJsError};
use crate::log_options::LogOptions;
use crate::native_log::NativeLog;
use crate::no_panic::{catch, internal_error, no_panic};

/// What `compute` hands to `resolve`: the store's result, or a panic's payload.
pub type Computed<T> = std::result::Result<fjord_store::Result<T>, Box<dyn std::any::Any + Send>>;

pub enum LogOp {
    Flush,
    Close,
}

pub struct LogTask {
    log: Arc<Log>,
    op: LogOp,
}

impl LogTask {
    pub(crate) fn new(log: Arc<Log>, op: LogOp) -> LogTask {
        LogTask { log, op }
    }
}

impl LogOp {
    fn name(&self) -> &'static str {
        match self {
            LogOp::Flush => "flush",
            LogOp::Close => "close",
        }
    }
}

impl Task for LogTask {
    type Output = Computed<()>;
    type JsValue = ();

    fn compute(&mut self) -> Result<Self::Output> {
        Ok(catch(|| match self.op {
            LogOp::Flush => self.log.flush(),
            LogOp::Close => self.log.close(),
        }))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<()> {
        let op = self.op.name();
        // A panic in this log's call takes the log offline, as one in the store does.
        let output = output.unwrap_or_else(|payload| Err(self.log.fail_after_panic(op, &*payload)));
        catch(|| output.or_js_error(&env)).unwrap_or_else(|payload| Err(store_error(&env, self.log.fail_after_panic(op, &*payload))))
    }
}

pub struct OpenTask {
    dir: String,
    config: LogConfig,
    now: i64,
}

impl Task for OpenTask {
    type Output = Computed<Log>;
    type JsValue = NativeLog;

    fn compute(&mut self) -> Result<Self::Output> {
        Ok(catch(|| Log::open_at(self.dir.as_ref(), self.config, self.now)))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<NativeLog> {
        match output {
            Ok(opened) => no_panic(&env, "open", || opened.map(NativeLog::new).or_js_error(&env)),
            Err(payload) => Err(internal_error(&env, "open", &*payload)),
        }
    }
}

/// Opens (and if needed recovers) a log on the libuv thread pool.
#[napi(ts_return_type = "Promise<NativeLog>")]
pub fn open_log(env: &Env, dir: String, options: LogOptions, now: f64) -> Result<AsyncTask<OpenTask>> {
    no_panic(env, "open", || Ok(AsyncTask::new(OpenTask { dir, config: options.to_config().or_js_error(env)?, now: now as i64 })))
}
