//! Zigzag varints as Kafka's record format uses them (7 bits a byte, low group first).

/// Appends the zigzag varint encoding of a 32-bit value.
pub fn write_varint(out: &mut Vec<u8>, value: i32) {
    write_varlong(out, value as i64);
}

/// Appends the zigzag varint encoding of a 64-bit value.
pub fn write_varlong(out: &mut Vec<u8>, value: i64) {
    let mut v = ((value << 1) ^ (value >> 63)) as u64;
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a zigzag varint that must fit 32 bits; returns the value and the bytes used.
pub fn read_varint(buf: &[u8]) -> Option<(i32, usize)> {
    let (v, n) = read_unsigned(buf, 5)?;
    if v > u32::MAX as u64 {
        return None;
    }
    let v = v as u32;
    Some((((v >> 1) as i32) ^ -((v & 1) as i32), n))
}

/// Reads a zigzag varint of up to 64 bits; returns the value and the bytes used.
pub fn read_varlong(buf: &[u8]) -> Option<(i64, usize)> {
    let (v, n) = read_unsigned(buf, 10)?;
    Some((((v >> 1) as i64) ^ -((v & 1) as i64), n))
}

fn read_unsigned(buf: &[u8], max_bytes: usize) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in buf.iter().take(max_bytes).enumerate() {
        value |= ((b & 0x7f) as u64) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: i64) -> Vec<u8> {
        let mut out = Vec::new();
        write_varlong(&mut out, v);
        out
    }

    #[test]
    fn matches_kafka_vectors() {
        let vectors: [(i64, &[u8]); 7] =
            [(0, &[0x00]), (-1, &[0x01]), (1, &[0x02]), (63, &[0x7e]), (-64, &[0x7f]), (64, &[0x80, 0x01]), (8192, &[0x80, 0x80, 0x01])];
        for (value, bytes) in vectors {
            assert_eq!(enc(value), bytes, "encoding {value}");
            assert_eq!(read_varint(bytes), Some((value as i32, bytes.len())), "decoding {value}");
            assert_eq!(read_varlong(bytes), Some((value, bytes.len())));
        }
    }

    #[test]
    fn round_trips_extremes() {
        for v in [i32::MIN, i32::MAX, -300, 300] {
            let mut out = Vec::new();
            write_varint(&mut out, v);
            assert_eq!(read_varint(&out), Some((v, out.len())));
        }
        for v in [i64::MIN, i64::MAX] {
            assert_eq!(read_varlong(&enc(v)), Some((v, 10)));
        }
    }

    #[test]
    fn rejects_truncated_and_overlong() {
        assert_eq!(read_varint(&[0x80]), None);
        assert_eq!(read_varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), None);
        assert_eq!(read_varint(&[]), None);
    }
}
