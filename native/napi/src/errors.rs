//! Store failures as JavaScript errors. The message is the store's own text;
//! the code (`ERR_...`) and every field the TypeScript layer needs (offset,
//! file, position, errno, ...) are properties of the error object, so
//! `src/errors.ts` builds its typed error from them and never parses a message.
//!
//! Property names, by variant (a reason text stays in the message only):
//! - every error: `code`
//! - RecordTooLarge, RecordListTooLarge: `size`, `limit`
//! - CorruptRecord, InvalidRecord (bytes being appended): `position`
//! - CorruptStoredBatch: `file`, `position`, `offset`
//! - OffsetOutOfRange: `offset`, `logStartOffset`, `logEndOffset`
//! - Locked: `dir`, `holder`; Closed: `dir`
//! - Offline: `dir`, and its first cause's `op` (`panic` for a panic),
//!   `path` and, for an I/O error, `errno` and `errnoName`
//! - OutOfOrderSequence: `producerId`, `producerEpoch`, `sequence` (the batch's);
//!   InvalidProducerEpoch: `producerId`, `producerEpoch`, `currentEpoch`
//! - Io: `op` (the store's operation, e.g. `append`), `path`, and when the OS
//!   gave one `errno` (e.g. 28) and `errnoName` (e.g. `ENOSPC`)

use std::path::Path;

use fjord_store::StoreError;
use napi::bindgen_prelude::*;
use napi::JsValue;

/// The JavaScript error for `e`, to return from a `#[napi]` function or a task.
/// Needs the environment: the error object is built on the JavaScript thread.
pub(crate) fn store_error(env: &Env, e: StoreError) -> Error {
    match error_object(env, e.code(), &e.to_string(), |object| set_fields(object, &e)) {
        Ok(error) => error,
        // Only when the environment is tearing down; nothing will read the fields.
        Err(_) => Error::new(Status::GenericFailure, e.to_string()),
    }
}

/// A JavaScript error with `code` and no other field, for the binding's own failures.
pub(crate) fn coded_error(env: &Env, code: &str, message: &str) -> Error {
    error_object(env, code, message, |_| Ok(())).unwrap_or_else(|_| Error::new(Status::GenericFailure, message.to_string()))
}

fn error_object(env: &Env, code: &str, message: &str, fields: impl FnOnce(&mut Object) -> Result<()>) -> Result<Error> {
    let mut object = env.create_error(Error::new(Status::GenericFailure, message.to_string()))?;
    object.set_named_property("code", code)?;
    fields(&mut object)?;
    // An error made from a JavaScript value throws that very value.
    Ok(Error::from(object.to_unknown()))
}

fn set_fields(object: &mut Object, e: &StoreError) -> Result<()> {
    match e {
        StoreError::RecordTooLarge { size, limit } | StoreError::RecordListTooLarge { size, limit } => {
            object.set_named_property("size", *size as f64)?;
            object.set_named_property("limit", *limit as f64)
        }
        StoreError::CorruptRecord { position, .. } | StoreError::InvalidRecord { position, .. } => {
            object.set_named_property("position", *position as f64)
        }
        StoreError::CorruptStoredBatch { file, position, offset, .. } => {
            object.set_named_property("file", path_text(file))?;
            object.set_named_property("position", *position as f64)?;
            object.set_named_property("offset", *offset as f64)
        }
        StoreError::OffsetOutOfRange { offset, start, end } => {
            object.set_named_property("offset", *offset as f64)?;
            object.set_named_property("logStartOffset", *start as f64)?;
            object.set_named_property("logEndOffset", *end as f64)
        }
        StoreError::Locked { dir, holder } => {
            object.set_named_property("dir", path_text(dir))?;
            object.set_named_property("holder", holder.as_str())
        }
        StoreError::InvalidConfig(_) => Ok(()),
        StoreError::Closed(dir) => object.set_named_property("dir", path_text(dir)),
        StoreError::Offline { dir, cause } => {
            object.set_named_property("dir", path_text(dir))?;
            object.set_named_property("op", cause.op.as_str())?;
            object.set_named_property("path", path_text(&cause.path))?;
            if let (Some(errno), Some(name)) = (e.errno(), e.errno_name()) {
                object.set_named_property("errno", errno)?;
                object.set_named_property("errnoName", name)?;
            }
            Ok(())
        }
        StoreError::OutOfOrderSequence { producer_id, epoch, found, .. } => {
            object.set_named_property("producerId", *producer_id as f64)?;
            object.set_named_property("producerEpoch", *epoch as i32)?;
            object.set_named_property("sequence", *found)
        }
        StoreError::InvalidProducerEpoch { producer_id, epoch, current } => {
            object.set_named_property("producerId", *producer_id as f64)?;
            object.set_named_property("producerEpoch", *epoch as i32)?;
            object.set_named_property("currentEpoch", *current as i32)
        }
        StoreError::Io { op, path, .. } => {
            object.set_named_property("op", *op)?;
            object.set_named_property("path", path_text(path))?;
            if let (Some(errno), Some(name)) = (e.errno(), e.errno_name()) {
                object.set_named_property("errno", errno)?;
                object.set_named_property("errnoName", name)?;
            }
            Ok(())
        }
    }
}

/// A path as the store's messages show it.
fn path_text(path: &Path) -> String {
    path.display().to_string()
}

/// `result.or_js_error(env)?` in a `#[napi]` function: a store failure as its JavaScript error.
pub(crate) trait OrJsError<T> {
    fn or_js_error(self, env: &Env) -> Result<T>;
}

impl<T> OrJsError<T> for fjord_store::Result<T> {
    fn or_js_error(self, env: &Env) -> Result<T> {
        self.map_err(|e| store_error(env, e))
    }
}
