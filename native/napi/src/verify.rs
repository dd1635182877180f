//! `verify`: a read-only check of partition directories, and the shared
//! `.lock` it holds on the data directory meanwhile.

use std::path::Path;

use fjord_store::ReadOnlyDirLock;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::errors::OrJsError;
use crate::no_panic::{catch, internal_error, no_panic};
use crate::tasks::Computed;

#[napi(object)]
pub struct VerifyProblem {
    /// torn-batch, zero-tail, corrupt-batch, offset-mismatch, missing-index,
    /// short-index, bad-index-entry, orphan-index or unknown-file.
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
    type Output = Computed<fjord_store::LogCheck>;
    type JsValue = LogCheck;

    fn compute(&mut self) -> Result<Self::Output> {
        Ok(catch(|| fjord_store::verify_log_dir(Path::new(&self.dir))))
    }

    fn resolve(&mut self, env: Env, output: Self::Output) -> Result<LogCheck> {
        match output {
            Ok(checked) => no_panic(&env, "verify", || to_js(checked.or_js_error(&env)?)),
            Err(payload) => Err(internal_error(&env, "verify", &*payload)),
        }
    }
}

fn to_js(c: fjord_store::LogCheck) -> Result<LogCheck> {
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

/// Checks every batch and index entry of one partition directory, changing
/// nothing, off the main thread. Fails with ERR_LOG_DIR_LOCKED while a writer
/// has the directory open.
#[napi(ts_return_type = "Promise<LogCheck>")]
pub fn verify_log(env: &Env, dir: String) -> Result<AsyncTask<VerifyTask>> {
    no_panic(env, "verify", || Ok(AsyncTask::new(VerifyTask { dir })))
}

/// A shared lock on a directory that writes nothing (see `ReadOnlyDirLock`):
/// held by `verify` on the data directory so no Fjord opens it meanwhile.
#[napi]
pub struct ReadOnlyLock {
    lock: Option<ReadOnlyDirLock>,
}

#[napi]
impl ReadOnlyLock {
    #[napi(factory)]
    pub fn acquire(env: &Env, dir: String) -> Result<ReadOnlyLock> {
        no_panic(env, "lock", || {
            let lock = ReadOnlyDirLock::acquire(Path::new(&dir)).or_js_error(env)?;
            Ok(ReadOnlyLock { lock: Some(lock) })
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
