//! Gzip, for Rust readers of a segment (Fjord's TypeScript layer compresses
//! and decompresses gzip with Node's zlib): level 6, Kafka's default, and
//! reading as Java's `GZIPInputStream` does, members back to back included.

use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;

pub(crate) fn compress(input: &[u8]) -> Result<Vec<u8>, String> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(input.len() / 2 + 64), Compression::new(6));
    encoder.write_all(input).map_err(|e| e.to_string())?;
    encoder.finish().map_err(|e| e.to_string())
}

pub(crate) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    crate::read_limited(MultiGzDecoder::new(input), input.len(), limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_members_back_to_back_and_refuses_damage() {
        let mut two = compress(b"first ").unwrap();
        assert_eq!(&two[..3], &[0x1f, 0x8b, 8]);
        two.extend_from_slice(&compress(b"second").unwrap());
        assert_eq!(decompress(&two, usize::MAX).unwrap(), b"first second");
        assert_eq!(decompress(&two, 5).unwrap_err(), "more than the limit of 5 bytes");
        assert!(decompress(&two[..10], usize::MAX).is_err());
    }
}
