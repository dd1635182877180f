//! Zstandard as Kafka's Java client uses it: one frame at Kafka's default
//! level (3, `compression.zstd.level`), no checksum; read with libzstd's
//! default window limit (2^27 bytes, `ZSTD_WINDOWLOG_LIMIT_DEFAULT`), the one
//! zstd-jni's `ZstdInputStreamNoFinalizer` applies for Kafka, so a frame that
//! needs a larger window fails here as it fails there. Written in one call, the
//! frame records its content size; Kafka's streaming writer leaves it out, and
//! both read alike.

/// Kafka's default zstd level (`CompressionType.ZSTD.defaultLevel()`).
const LEVEL: i32 = 3;
/// libzstd's default `ZSTD_d_windowLogMax`.
const WINDOW_LOG_MAX: u32 = 27;

pub(crate) fn compress(input: &[u8]) -> Vec<u8> {
    // Compressing in memory fails only on allocation failure, which aborts first.
    zstd::bulk::compress(input, LEVEL).unwrap_or_default()
}

pub(crate) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let mut decoder = zstd::stream::read::Decoder::with_buffer(input).map_err(|e| e.to_string())?;
    decoder.window_log_max(WINDOW_LOG_MAX).map_err(|e| e.to_string())?;
    crate::read_limited(decoder, limit)
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
        let out = compress(&input);
        assert_eq!(&out[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
        // Frame header descriptor: bit 2, the content checksum flag, is clear.
        assert_eq!(out[4] & 0x04, 0);
        assert_eq!(decompress(&out, usize::MAX).unwrap(), input);
    }

    #[test]
    fn refuses_damage_output_past_the_limit_and_windows_past_2_27() {
        let out = compress(&sample(10_000));
        assert_eq!(decompress(&out, 9_999).unwrap_err(), "more than the limit of 9999 bytes");
        assert!(decompress(&out[..out.len() - 3], usize::MAX).is_err());
        // An empty frame that asks for a 2^27-byte window (descriptor 0x88: exponent 17 + 10), then one asking for 2^28 (0x90).
        let frame = |window_descriptor: u8| [0x28, 0xb5, 0x2f, 0xfd, 0x00, window_descriptor, 0x01, 0x00, 0x00];
        assert_eq!(decompress(&frame(0x88), usize::MAX).unwrap(), Vec::<u8>::new());
        assert_eq!(decompress(&frame(0x90), usize::MAX).unwrap_err(), "Frame requires too much memory for decoding");
    }
}
