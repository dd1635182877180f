use napi::bindgen_prelude::*;
use napi_derive::napi;

/// CRC-32C (Castagnoli) of `data`, as RecordBatch v2 uses it.
#[napi(js_name = "crc32c")]
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}
