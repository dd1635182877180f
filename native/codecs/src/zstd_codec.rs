//! Zstandard as Kafka's Java client uses it: one frame at Kafka's default
//! level (3, `compression.zstd.level`), no checksum; read with libzstd's
//! default window limit (2^27 bytes, `ZSTD_WINDOWLOG_LIMIT_DEFAULT`), the one
//! zstd-jni's `ZstdInputStreamNoFinalizer` applies for Kafka, so a frame that
//! needs a larger window fails here as it fails there. Written in one call, the
//! frame records its content size; Kafka's streaming writer leaves it out, and
//! both read alike.

use std::cell::RefCell;

use zstd::zstd_safe::{DCtx, DParameter, InBuffer, OutBuffer, ResetDirective};

/// Kafka's default zstd level (`CompressionType.ZSTD.defaultLevel()`).
const LEVEL: i32 = 3;
/// libzstd's default `ZSTD_d_windowLogMax`.
const WINDOW_LOG_MAX: u32 = 27;

// One context per thread, kept: creating one costs more than a 16 KiB batch
// takes to compress or decompress.
thread_local! {
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<DCtx<'static>>> = const { RefCell::new(None) };
}

pub(crate) fn compress(input: &[u8]) -> Result<Vec<u8>, String> {
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let compressor = match slot.as_mut() {
            Some(compressor) => compressor,
            None => slot.insert(zstd::bulk::Compressor::new(LEVEL).map_err(|e| e.to_string())?),
        };
        compressor.compress(input).map_err(|e| e.to_string())
    })
}

pub(crate) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        let context = match slot.as_mut() {
            Some(context) => context,
            None => {
                let mut context = DCtx::try_create().ok_or("no memory for a decompression context")?;
                context.set_parameter(DParameter::WindowLogMax(WINDOW_LOG_MAX)).map_err(name)?;
                slot.insert(context)
            }
        };
        context.reset(ResetDirective::SessionOnly).map_err(name)?;
        decompress_frames(context, input, limit)
    })
}

/// Every frame of `input`, through `context`, into one vector of at most `limit` bytes.
fn decompress_frames(context: &mut DCtx<'static>, input: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let too_much = || format!("more than the limit of {limit} bytes");
    let mut out: Vec<u8> = Vec::with_capacity(input.len().saturating_mul(4).clamp(1024, limit.saturating_add(1)));
    let mut source = InBuffer::around(input);
    loop {
        if out.len() == out.capacity() {
            if out.len() > limit {
                return Err(too_much());
            }
            let grown = out.capacity().saturating_mul(2).min(limit.saturating_add(1));
            out.reserve_exact(grown - out.len());
        }
        let at = out.len();
        let hint = context.decompress_stream(&mut OutBuffer::around_pos(&mut out, at), &mut source).map_err(name)?;
        if out.len() > limit {
            return Err(too_much());
        }
        let consumed = source.pos() == input.len();
        if hint == 0 && consumed {
            return Ok(out);
        }
        // Input used up mid-frame with room left to write: the frame is cut short.
        if consumed && hint != 0 && out.len() < out.capacity() {
            return Err("the frame is cut short".into());
        }
    }
}

fn name(code: usize) -> String {
    zstd::zstd_safe::get_error_name(code).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8 ^ (i / 1000) as u8).collect()
    }

    #[test]
    fn writes_one_frame_without_checksum_and_round_trips() {
        let input = sample(300_000);
        let out = compress(&input).unwrap();
        assert_eq!(&out[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
        // Frame header descriptor: bit 2, the content checksum flag, is clear.
        assert_eq!(out[4] & 0x04, 0);
        assert_eq!(decompress(&out, usize::MAX).unwrap(), input);
    }

    #[test]
    fn refuses_damage_output_past_the_limit_and_windows_past_2_27() {
        let out = compress(&sample(10_000)).unwrap();
        assert_eq!(decompress(&out, 9_999).unwrap_err(), "more than the limit of 9999 bytes");
        assert_eq!(decompress(&out[..out.len() - 3], usize::MAX).unwrap_err(), "the frame is cut short");
        // The thread's context, reset, decodes the next input whole; frames back to back decode one after the other.
        let mut twice = out.clone();
        twice.extend_from_slice(&compress(b"tail").unwrap());
        let mut expected = sample(10_000);
        expected.extend_from_slice(b"tail");
        assert_eq!(decompress(&twice, usize::MAX).unwrap(), expected);
        // An empty frame that asks for a 2^27-byte window (descriptor 0x88: exponent 17 + 10), then one asking for 2^28 (0x90).
        let frame = |window_descriptor: u8| [0x28, 0xb5, 0x2f, 0xfd, 0x00, window_descriptor, 0x01, 0x00, 0x00];
        assert_eq!(decompress(&frame(0x88), usize::MAX).unwrap(), Vec::<u8>::new());
        assert_eq!(decompress(&frame(0x90), usize::MAX).unwrap_err(), "Frame requires too much memory for decoding");
    }
}
