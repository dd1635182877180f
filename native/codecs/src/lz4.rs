//! LZ4 as Kafka's `Lz4BlockOutputStream` writes a batch's records: one LZ4
//! frame (format version 1) of independent blocks of at most 64 KiB, no block
//! or content checksum, no content size, and the frame descriptor's checksum
//! computed over the descriptor alone (the correct one; only magic v0 batches
//! carried the broken one). A block that does not shrink is stored as is.
//! Kafka's default `compression.lz4.level` selects lz4-java's fast
//! compressor, the one algorithm lz4_flex implements. Reading accepts any
//! standard frame (block and content checksums checked, content size read).

use lz4_flex::frame::{BlockMode, BlockSize, FrameDecoder, FrameEncoder, FrameInfo};
use std::io::Write;

pub(crate) fn compress(input: &[u8]) -> Result<Vec<u8>, String> {
    let info =
        FrameInfo::new().block_size(BlockSize::Max64KB).block_mode(BlockMode::Independent).block_checksums(false).content_checksum(false);
    let mut encoder = FrameEncoder::with_frame_info(info, Vec::with_capacity(lz4_flex::block::get_maximum_output_size(input.len()) + 64));
    encoder.write_all(input).map_err(|e| e.to_string())?;
    encoder.finish().map_err(|e| e.to_string())
}

pub(crate) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    crate::read_limited(FrameDecoder::new(input), input.len(), limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8 ^ (i / 1000) as u8).collect()
    }

    #[test]
    fn writes_kafkas_frame_descriptor() {
        let out = compress(&sample(100)).unwrap();
        // Magic 0x184D2204 (little-endian); FLG: version 01, independent blocks, nothing else; BD: 64 KiB.
        assert_eq!(&out[..6], &[0x04, 0x22, 0x4d, 0x18, 0x60, 0x40]);
        // The descriptor checksum: bits 8..16 of XXH32 (seed 0) over FLG and BD.
        let hash = twox_hash::XxHash32::oneshot(0, &[0x60, 0x40]);
        assert_eq!(out[6], (hash >> 8) as u8);
        // Ends with the end mark, no content checksum.
        assert_eq!(&out[out.len() - 4..], &[0, 0, 0, 0]);
    }

    #[test]
    fn splits_into_64_kib_blocks_and_round_trips() {
        let input = sample(200_000);
        let out = compress(&input).unwrap();
        let mut pos = 7;
        let mut blocks = 0;
        loop {
            let word = u32::from_le_bytes(out[pos..pos + 4].try_into().unwrap());
            pos += 4;
            if word == 0 {
                break;
            }
            pos += (word & 0x7fff_ffff) as usize;
            blocks += 1;
        }
        assert_eq!((blocks, pos), (4, out.len()));
        assert_eq!(decompress(&out, usize::MAX).unwrap(), input);
    }

    #[test]
    fn refuses_damage_and_output_past_the_limit() {
        let out = compress(&sample(10_000)).unwrap();
        assert_eq!(decompress(&out, 9_999).unwrap_err(), "more than the limit of 9999 bytes");
        let mut bad_descriptor = out.clone();
        bad_descriptor[6] ^= 0xff;
        assert!(decompress(&bad_descriptor, usize::MAX).is_err());
        assert!(decompress(&out[..out.len() - 5], usize::MAX).is_err());
    }
}
