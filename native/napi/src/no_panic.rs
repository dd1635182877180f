//! No Rust panic crosses into Node: every entry point of the binding runs its
//! body through `no_panic` (or, for a log, `NativeLog::guard`, which also takes
//! the log offline), and each async task's `compute` and `resolve` through
//! `catch`. A panic comes back as a JavaScript error with a code instead of
//! aborting the process (a panic unwinding out of an `extern "C"` function aborts).

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use fjord_store::panic_message;
use napi::bindgen_prelude::*;

use crate::errors::coded_error;

/// The code of a panic outside any log: `ERR_INTERNAL`.
pub(crate) const INTERNAL: &str = "ERR_INTERNAL";

/// Runs `body`; a panic becomes an `ERR_INTERNAL` error naming `what`.
pub(crate) fn no_panic<T>(env: &Env, what: &str, body: impl FnOnce() -> Result<T>) -> Result<T> {
    catch(body).unwrap_or_else(|payload| Err(internal_error(env, what, &*payload)))
}

/// Runs `body`, handing a panic's payload back instead of unwinding.
pub(crate) fn catch<T>(body: impl FnOnce() -> T) -> std::result::Result<T, Box<dyn Any + Send>> {
    catch_unwind(AssertUnwindSafe(body))
}

pub(crate) fn internal_error(env: &Env, what: &str, payload: &(dyn Any + Send)) -> Error {
    coded_error(env, INTERNAL, &format!("internal error: a panic in {what}: {}", panic_message(payload)))
}
