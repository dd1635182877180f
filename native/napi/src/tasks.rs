//! Store work on the libuv thread pool: open (with recovery), flush, close.
//! `compute` runs off the JavaScript thread, where no JavaScript object can be
//! made, so it hands the store's result (failure included) back as its output,
//! and `resolve`, on the JavaScript thread, turns a failure into its error.

use std::sync::Arc;

use fjord_store::{Log, LogConfig};
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::errors::OrJsError;
use crate::log_options::LogOptions;
use crate::native_log::NativeLog;

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

impl Task for LogTask {
    type Output = fjord_store::Result<()>;
    type JsValue = ();

    fn compute(&mut self) -> Result<Self::Output> {
        Ok(match self.op {
            LogOp::Flush => self.log.flush(),
            LogOp::Close => self.log.close(),
        })
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<()> {
        output.or_js_error(&env)
    }
}

pub struct OpenTask {
    dir: String,
    config: LogConfig,
    now: i64,
}

impl Task for OpenTask {
    type Output = fjord_store::Result<Log>;
    type JsValue = NativeLog;

    fn compute(&mut self) -> Result<Self::Output> {
        Ok(Log::open_at(self.dir.as_ref(), self.config, self.now))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<NativeLog> {
        output.map(NativeLog::new).or_js_error(&env)
    }
}

/// Opens (and if needed recovers) a log on the libuv thread pool.
#[napi(ts_return_type = "Promise<NativeLog>")]
pub fn open_log(env: &Env, dir: String, options: LogOptions, now: f64) -> Result<AsyncTask<OpenTask>> {
    Ok(AsyncTask::new(OpenTask { dir, config: options.to_config().or_js_error(env)?, now: now as i64 }))
}
