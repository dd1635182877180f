//! Snappy as Kafka's Java client writes it: snappy-java's `SnappyOutputStream`
//! framing, a 16-byte header (the magic `\x82SNAPPY\0`, then version 1 and
//! minimum compatible version 1 as big-endian int32s) and the input in 32 KiB
//! pieces, each raw snappy behind its big-endian int32 length. Reading, as
//! `SnappyInputStream` does, accepts streams concatenated (a piece length that
//! is the magic's first four bytes starts a new header) and input without the
//! header as one raw snappy block (what librdkafka and KafkaJS codecs write).

/// snappy-java's stream magic.
const MAGIC: [u8; 8] = [0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0];
/// The magic, then the stream format's version and its minimum compatible version (both 1).
const HEADER_SIZE: usize = 16;
/// `SnappyOutputStream`'s default block size, the one Kafka's producer uses.
const BLOCK_SIZE: usize = 32 * 1024;
/// The magic's first four bytes read as a piece length: a concatenated stream's header.
const MAGIC_HEAD: u32 = u32::from_be_bytes([MAGIC[0], MAGIC[1], MAGIC[2], MAGIC[3]]);

pub(crate) fn compress(input: &[u8]) -> Result<Vec<u8>, String> {
    let mut encoder = snap::raw::Encoder::new();
    let pieces = input.len().div_ceil(BLOCK_SIZE);
    let mut out = Vec::with_capacity(HEADER_SIZE + pieces * 4 + snap::raw::max_compress_len(input.len()));
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&1i32.to_be_bytes());
    out.extend_from_slice(&1i32.to_be_bytes());
    for piece in input.chunks(BLOCK_SIZE) {
        let at = out.len();
        out.resize(at + 4 + snap::raw::max_compress_len(piece.len()), 0);
        let written = encoder.compress(piece, &mut out[at + 4..]).map_err(|e| e.to_string())?;
        out[at..at + 4].copy_from_slice(&(written as u32).to_be_bytes());
        out.truncate(at + 4 + written);
    }
    Ok(out)
}

pub(crate) fn decompress(input: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    if !input.starts_with(&MAGIC) {
        return raw_block(input, limit, Vec::new());
    }
    let mut out = Vec::new();
    let mut pos = HEADER_SIZE;
    if input.len() < HEADER_SIZE {
        return Err("the stream header is cut short".into());
    }
    while pos < input.len() {
        let Some(length) = input.get(pos..pos + 4) else {
            return Err(format!("{} bytes at byte {pos} are too few for a block length", input.len() - pos));
        };
        let length = u32::from_be_bytes([length[0], length[1], length[2], length[3]]);
        if length == MAGIC_HEAD {
            if !input[pos..].starts_with(&MAGIC) || input.len() - pos < HEADER_SIZE {
                return Err(format!("a concatenated stream's header at byte {pos} is damaged"));
            }
            pos += HEADER_SIZE;
            continue;
        }
        let start = pos + 4;
        let end = start.checked_add(length as usize).filter(|&end| end <= input.len());
        let Some(end) = end else {
            return Err(format!("block at byte {pos} declares {length} bytes, past the end of the {} bytes", input.len()));
        };
        out = raw_block(&input[start..end], limit, out)?;
        pos = end;
    }
    Ok(out)
}

/// The most bytes one byte of raw snappy can stand for: a 3-byte copy of 64 bytes, rounded up.
const MAX_EXPANSION: usize = 22;

/// `block` (raw snappy) decompressed onto the end of `out`, which must stay within `limit` bytes.
fn raw_block(block: &[u8], limit: usize, mut out: Vec<u8>) -> Result<Vec<u8>, String> {
    let size = snap::raw::decompress_len(block).map_err(|e| e.to_string())?;
    let at = out.len();
    if size > limit - at {
        return Err(format!("more than the limit of {limit} bytes"));
    }
    // A damaged length must not size the allocation.
    if size > block.len().saturating_mul(MAX_EXPANSION) {
        return Err(format!("a block of {} bytes claims {size} bytes, more than it can hold", block.len()));
    }
    out.resize(at + size, 0);
    let written = snap::raw::Decoder::new().decompress(block, &mut out[at..]).map_err(|e| e.to_string())?;
    out.truncate(at + written);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8 ^ (i / 1000) as u8).collect()
    }

    #[test]
    fn writes_the_snappy_java_header_and_32_kib_pieces() {
        let input = sample(70_000);
        let out = compress(&input).unwrap();
        assert_eq!(&out[..16], &[0x82, b'S', b'N', b'A', b'P', b'P', b'Y', 0, 0, 0, 0, 1, 0, 0, 0, 1]);
        let mut pos = 16;
        let mut sizes = Vec::new();
        while pos < out.len() {
            let length = u32::from_be_bytes(out[pos..pos + 4].try_into().unwrap()) as usize;
            let piece = &out[pos + 4..pos + 4 + length];
            sizes.push(snap::raw::decompress_len(piece).unwrap());
            pos += 4 + length;
        }
        assert_eq!(sizes, vec![32768, 32768, 4464]);
        assert_eq!(decompress(&out, usize::MAX).unwrap(), input);
    }

    #[test]
    fn reads_raw_snappy_and_concatenated_streams() {
        let input = sample(5000);
        let raw = snap::raw::Encoder::new().compress_vec(&input).unwrap();
        assert_eq!(decompress(&raw, usize::MAX).unwrap(), input);
        let mut twice = compress(&input).unwrap();
        twice.extend_from_slice(&compress(b"tail").unwrap());
        let mut expected = input.clone();
        expected.extend_from_slice(b"tail");
        assert_eq!(decompress(&twice, usize::MAX).unwrap(), expected);
    }

    #[test]
    fn an_empty_input_is_the_header_alone() {
        assert_eq!(compress(&[]).unwrap().len(), 16);
        assert_eq!(decompress(&compress(&[]).unwrap(), 10).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn refuses_damage_and_output_past_the_limit() {
        let out = compress(&sample(40_000)).unwrap();
        let first = u32::from_be_bytes(out[16..20].try_into().unwrap()) as usize;
        let second_at = 20 + first;
        let second = u32::from_be_bytes(out[second_at..second_at + 4].try_into().unwrap());
        assert_eq!(
            decompress(&out[..out.len() - 1], usize::MAX).unwrap_err(),
            format!("block at byte {second_at} declares {second} bytes, past the end of the {} bytes", out.len() - 1)
        );
        assert_eq!(decompress(&out, 39_999).unwrap_err(), "more than the limit of 39999 bytes");
        assert_eq!(decompress(&out[..18], usize::MAX).unwrap_err(), "2 bytes at byte 16 are too few for a block length");
        assert!(decompress(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01], usize::MAX).is_err());
        // A raw block whose length varint claims 1 GiB: refused before anything is allocated.
        assert_eq!(
            decompress(&[0x80, 0x80, 0x80, 0x80, 0x04, 0x00], usize::MAX).unwrap_err(),
            "a block of 6 bytes claims 1073741824 bytes, more than it can hold"
        );
        // The densest block there is, 64-byte copies of 3 bytes each, stays within the bound.
        let zeros = vec![0u8; 1 << 20];
        let dense = snap::raw::Encoder::new().compress_vec(&zeros).unwrap();
        assert!(dense.len() * MAX_EXPANSION >= zeros.len(), "{} bytes", dense.len());
        assert_eq!(decompress(&dense, usize::MAX).unwrap(), zeros);
    }
}
