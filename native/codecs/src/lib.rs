//! Kafka's record-batch compression codecs, byte for byte as Kafka's Java
//! client writes them and accepting what it reads:
//!
//! - **gzip** (`gzip.rs`): for Rust readers of a segment; the TypeScript layer
//!   uses Node's zlib.
//! - **snappy** (`snappy.rs`): snappy-java's stream framing, which Kafka's
//!   producer writes; raw snappy (librdkafka, KafkaJS codecs) is read too.
//! - **lz4** (`lz4.rs`): an LZ4 frame as Kafka's `Lz4BlockOutputStream` writes
//!   it (64 KiB independent blocks, no checksums, a correct header checksum).
//! - **zstd** (`zstd_codec.rs`): one zstd frame at Kafka's default level, read
//!   with libzstd's default window limit, as zstd-jni's stream reads it.
//!
//! Every decompression stops at `limit` bytes of output: a batch that claims
//! more fails rather than exhausting memory.

mod gzip;
mod lz4;
mod snappy;
mod zstd_codec;

use std::fmt;

/// A Kafka compression codec, by its number in a batch's attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    Gzip = 1,
    Snappy = 2,
    Lz4 = 3,
    Zstd = 4,
}

impl Codec {
    /// The codec numbered `id` in a batch's attributes, if it is one of this crate's.
    pub fn from_id(id: u32) -> Option<Codec> {
        match id {
            1 => Some(Codec::Gzip),
            2 => Some(Codec::Snappy),
            3 => Some(Codec::Lz4),
            4 => Some(Codec::Zstd),
            _ => None,
        }
    }

    /// Kafka's name of the codec (`compression.type`).
    pub fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Snappy => "snappy",
            Codec::Lz4 => "lz4",
            Codec::Zstd => "zstd",
        }
    }
}

/// Why bytes did not compress or decompress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError {
    pub codec: Codec,
    pub reason: String,
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.codec.name(), self.reason)
    }
}

impl std::error::Error for CodecError {}

/// `input` compressed as Kafka's Java producer compresses a batch's records.
pub fn compress(codec: Codec, input: &[u8]) -> Result<Vec<u8>, CodecError> {
    let result = match codec {
        Codec::Gzip => gzip::compress(input),
        Codec::Snappy => snappy::compress(input),
        Codec::Lz4 => lz4::compress(input),
        Codec::Zstd => zstd_codec::compress(input),
    };
    result.map_err(|reason| CodecError { codec, reason })
}

/// `input` decompressed, at most `limit` bytes of it.
pub fn decompress(codec: Codec, input: &[u8], limit: usize) -> Result<Vec<u8>, CodecError> {
    let result = match codec {
        Codec::Gzip => gzip::decompress(input, limit),
        Codec::Snappy => snappy::decompress(input, limit),
        Codec::Lz4 => lz4::decompress(input, limit),
        Codec::Zstd => zstd_codec::decompress(input, limit),
    };
    result.map_err(|reason| CodecError { codec, reason })
}

/// Reads `reader` (decompressing `input_len` bytes) to its end into a vector, failing past `limit` bytes.
fn read_limited(reader: impl std::io::Read, input_len: usize, limit: usize) -> Result<Vec<u8>, String> {
    use std::io::Read;
    // Room for a typical ratio up front: growing from empty reads in small steps.
    let mut out = Vec::with_capacity(input_len.saturating_mul(4).min(limit.saturating_add(1)));
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader.take(cap).read_to_end(&mut out).map_err(|e| e.to_string())?;
    if out.len() > limit {
        return Err(format!("more than the limit of {limit} bytes"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// xorshift64: damage that is the same on every run.
    struct Damage(u64);

    impl Damage {
        fn next(&mut self) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 as usize
        }
    }

    #[test]
    fn damaged_input_is_an_error_or_data_never_a_panic_nor_past_the_limit() {
        let plain: Vec<u8> = (0..100_000u32).map(|i| (i % 97) as u8 ^ (i / 3000) as u8).collect();
        let mut damage = Damage(0x9e37_79b9_7f4a_7c15);
        for codec in [Codec::Gzip, Codec::Snappy, Codec::Lz4, Codec::Zstd] {
            let good = compress(codec, &plain).unwrap();
            assert_eq!(decompress(codec, &good, plain.len()).unwrap(), plain);
            for round in 0..3000 {
                let mut bad = good.clone();
                match round % 3 {
                    0 => bad.truncate(damage.next() % good.len()),
                    1 => {
                        for _ in 0..1 + damage.next() % 4 {
                            let at = damage.next() % bad.len();
                            bad[at] ^= 1 << (damage.next() % 8);
                        }
                    }
                    _ => {
                        let at = damage.next() % bad.len();
                        bad[at] = damage.next() as u8;
                    }
                }
                if let Ok(out) = decompress(codec, &bad, 200_000) {
                    assert!(out.len() <= 200_000, "{codec:?} round {round}: {} bytes", out.len());
                }
            }
        }
    }
}
