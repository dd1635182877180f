//! The N-API surface of the segment store: a thin class over `fjord_store::Log`
//! plus what only a Node process needs (host-thread election, the shared lock
//! on a data directory). Arguments are validated in TypeScript; every store
//! failure is thrown as a JavaScript error whose fields are properties
//! (`errors.rs`), which `src/errors.ts` turns into its class.

// Public so the compiler counts the `#[napi]` items (registered at load) as used.
pub mod codecs;
pub mod config_limits;
pub mod directory_lock;
mod errors;
mod fetch_buffer;
pub mod host;
pub mod log_options;
pub mod native_log;
mod no_panic;
pub mod tasks;
pub mod verify;

use napi::bindgen_prelude::{Env, Result};
use napi_derive::napi;

use crate::no_panic::no_panic;

/// CRC-32C (Castagnoli) of `data`, as RecordBatch v2 uses it.
#[napi(js_name = "crc32c")]
pub fn crc32c(env: &Env, data: &[u8]) -> Result<u32> {
    no_panic(env, "crc32c", || Ok(crc32c::crc32c(data)))
}

/// A new producer id for the data directory `data_dir`, at least `floor`
/// (see `fjord_store::producer_ids`).
#[napi]
pub fn allocate_producer_id(env: &Env, data_dir: String, floor: f64) -> Result<f64> {
    use crate::errors::OrJsError;
    no_panic(
        env,
        "allocate producer id",
        || Ok(fjord_store::allocate_producer_id(data_dir.as_ref(), floor as i64).or_js_error(env)? as f64),
    )
}

/// Shared read-only segment mappings alive in the process (held by logs, or by fetch mappings).
#[napi]
pub fn live_read_maps(env: &Env) -> Result<u32> {
    no_panic(env, "live read maps", || Ok(fjord_store::live_read_maps() as u32))
}

/// Private mappings of reads alive in the process (held by Buffers).
#[napi]
pub fn live_fetch_maps() -> u32 {
    fjord_store::live_fetch_maps() as u32
}

/// Fetch mappings alive past which reads are copied instead (see `fetch_buffer`).
#[napi]
pub fn fetch_maps_limit() -> u32 {
    fetch_buffer::LIVE_MAPS_LIMIT as u32
}
