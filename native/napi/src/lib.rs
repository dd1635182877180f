//! The N-API surface of the segment store: a thin class over `fjord_store::Log`
//! plus what only a Node process needs (host-thread election, the shared lock
//! on a data directory). Arguments are validated in TypeScript; every store
//! failure is thrown as a JavaScript error whose fields are properties
//! (`errors.rs`), which `src/errors.ts` turns into its class.

// Public so the compiler counts the `#[napi]` items (registered at load) as used.
pub mod config_limits;
pub mod directory_lock;
mod errors;
pub mod host;
pub mod log_options;
pub mod native_log;
pub mod tasks;
pub mod verify;

use napi_derive::napi;

/// CRC-32C (Castagnoli) of `data`, as RecordBatch v2 uses it.
#[napi(js_name = "crc32c")]
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

/// A new producer id for the data directory `data_dir`, at least `floor`
/// (see `fjord_store::producer_ids`).
#[napi]
pub fn allocate_producer_id(env: &napi::Env, data_dir: String, floor: f64) -> napi::Result<f64> {
    use crate::errors::OrJsError;
    Ok(fjord_store::allocate_producer_id(data_dir.as_ref(), floor as i64).or_js_error(env)? as f64)
}

/// Read-only segment mappings alive in the process (held by logs or by Buffers).
#[napi]
pub fn live_read_maps() -> u32 {
    fjord_store::live_read_maps() as u32
}
