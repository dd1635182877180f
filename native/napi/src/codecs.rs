//! Kafka's codecs (`fjord-codecs`) as two calls over a batch's records
//! section; the TypeScript layer (`src/record-batch/codecs.ts`) picks the
//! codec (gzip stays with Node's zlib there) and frames the batch.
//! Synchronous, as Node's `gzipSync`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use fjord_codecs::Codec;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::errors::coded_error;

fn codec_of(env: &Env, id: u32) -> Result<Codec> {
    Codec::from_id(id).ok_or_else(|| coded_error(env, "ERR_INVALID_ARGUMENT", &format!("codec {id} is not one of Kafka's (1 to 4)")))
}

/// `data` compressed with `codec` (1 gzip, 2 snappy, 3 lz4, 4 zstd) as Kafka's Java producer compresses a batch's records.
#[napi]
pub fn compress_records(env: Env, codec: u32, data: &[u8]) -> Result<Buffer> {
    let codec = codec_of(&env, codec)?;
    match catch_unwind(AssertUnwindSafe(|| fjord_codecs::compress(codec, data))) {
        Ok(Ok(out)) => Ok(out.into()),
        Ok(Err(e)) => Err(coded_error(&env, "ERR_INVALID_ARGUMENT", &e.to_string())),
        Err(_) => Err(coded_error(&env, "ERR_INVALID_ARGUMENT", &format!("{}: the encoder failed", codec.name()))),
    }
}

/// `data` decompressed with `codec`; throws an `ERR_CORRUPT_RECORD` error, the reason as its message, when it does not decompress or holds more than `limit` bytes.
#[napi]
pub fn decompress_records(env: Env, codec: u32, data: &[u8], limit: u32) -> Result<Buffer> {
    let codec = codec_of(&env, codec)?;
    match catch_unwind(AssertUnwindSafe(|| fjord_codecs::decompress(codec, data, limit as usize))) {
        Ok(Ok(out)) => Ok(out.into()),
        Ok(Err(e)) => Err(coded_error(&env, "ERR_CORRUPT_RECORD", &e.reason)),
        Err(_) => Err(coded_error(&env, "ERR_CORRUPT_RECORD", "the decoder failed")),
    }
}
