//! Gather appends: record batches handed over in pieces (an encoded framing
//! buffer with value buffers spliced in at given positions), whose CRC-32C
//! the store computes instead of checking one the caller computed. The
//! pieces are written as they are, in one vectored write: a value the
//! caller leaves out of its framing is copied once, into the page cache.

use crate::batch::{self, BatchHeader, ATTRIBUTES_AT, CRC_AT, HEADER_SIZE};
use crate::error::{Result, StoreError};
use crate::varint;

/// The logical byte stream of an append: pieces read back to back.
#[derive(Debug)]
pub struct Pieces<'a> {
    parts: Vec<&'a [u8]>,
    len: usize,
}

impl<'a> Pieces<'a> {
    /// The bytes of `parts`, back to back.
    pub fn new(mut parts: Vec<&'a [u8]>) -> Pieces<'a> {
        parts.retain(|p| !p.is_empty());
        let len = parts.iter().map(|p| p.len()).sum();
        Pieces { parts, len }
    }

    /// `framing` with `values[i]` inserted at byte `cuts[i]` of it. Cuts must
    /// not decrease, must lie within `framing`, and match `values` one to one.
    pub fn spliced(framing: &'a [u8], values: &[&'a [u8]], cuts: &[u32]) -> Result<Pieces<'a>> {
        if cuts.len() != values.len() {
            return Err(invalid_pieces(format!("{} cut positions for {} values", cuts.len(), values.len())));
        }
        let mut parts = Vec::with_capacity(2 * values.len() + 1);
        let mut from = 0usize;
        for (value, &cut) in values.iter().zip(cuts) {
            let cut = cut as usize;
            if cut < from || cut > framing.len() {
                return Err(invalid_pieces(format!("cut position {cut} lies outside [{from}, {}] of the framing", framing.len())));
            }
            parts.push(&framing[from..cut]);
            parts.push(*value);
            from = cut;
        }
        parts.push(&framing[from..]);
        Ok(Pieces::new(parts))
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn cursor(&self) -> Cursor<'_, 'a> {
        Cursor { parts: &self.parts, part: 0, at: 0, pos: 0 }
    }
}

fn invalid_pieces(reason: String) -> StoreError {
    StoreError::InvalidRecord { position: 0, reason }
}

/// A read position in `Pieces`.
#[derive(Clone)]
struct Cursor<'p, 'a> {
    parts: &'p [&'a [u8]],
    /// The current part and the position in it; `at` is always below its length
    /// unless the cursor is at the end.
    part: usize,
    at: usize,
    /// Position in the whole stream.
    pos: usize,
}

impl<'a> Cursor<'_, 'a> {
    fn rest_of_part(&self) -> &'a [u8] {
        match self.parts.get(self.part) {
            Some(p) => &p[self.at..],
            None => &[],
        }
    }

    #[inline]
    fn advance(&mut self, mut n: usize) -> Option<()> {
        self.pos += n;
        while n > 0 {
            let rest = self.parts.get(self.part)?.len() - self.at;
            if n < rest {
                self.at += n;
                return Some(());
            }
            n -= rest;
            self.part += 1;
            self.at = 0;
        }
        Some(())
    }

    fn read_u8(&mut self) -> Option<u8> {
        let b = *self.rest_of_part().first()?;
        self.advance(1)?;
        Some(b)
    }

    /// Copies the next `out.len()` bytes.
    fn read_into(&mut self, out: &mut [u8]) -> Option<()> {
        let mut filled = 0;
        while filled < out.len() {
            let rest = self.rest_of_part();
            if rest.is_empty() {
                return None;
            }
            let n = rest.len().min(out.len() - filled);
            out[filled..filled + n].copy_from_slice(&rest[..n]);
            filled += n;
            self.advance(n)?;
        }
        Some(())
    }

    /// Reads a varint of at most `max_bytes` bytes with `read`, which works on
    /// one contiguous slice; a varint across two parts is first copied out.
    #[inline]
    fn read_var<T>(&mut self, max_bytes: usize, read: impl Fn(&[u8]) -> Option<(T, usize)>) -> Option<T> {
        let rest = self.rest_of_part();
        if rest.len() >= max_bytes {
            let (v, n) = read(rest)?;
            self.advance(n)?;
            return Some(v);
        }
        let mut scratch = [0u8; 10];
        let mut probe = self.clone();
        let mut have = 0;
        while have < max_bytes {
            match probe.read_u8() {
                Some(b) => {
                    scratch[have] = b;
                    have += 1;
                    if b & 0x80 == 0 {
                        break;
                    }
                }
                None => break,
            }
        }
        let (v, n) = read(&scratch[..have])?;
        self.advance(n)?;
        Some(v)
    }

    #[inline]
    fn read_varint(&mut self) -> Option<i32> {
        self.read_var(5, varint::read_varint)
    }

    fn read_varlong(&mut self) -> Option<i64> {
        self.read_var(10, varint::read_varlong)
    }

    /// Skips a length-prefixed field (-1 is null where `nullable`), staying
    /// within `end` (a stream position).
    fn skip_bytes(&mut self, nullable: bool, end: usize) -> Option<()> {
        match self.read_varint()? {
            -1 if nullable => Some(()),
            len if len >= 0 && self.pos + len as usize <= end => self.advance(len as usize),
            _ => None,
        }
    }

    /// Calls `visit` with the next `n` bytes, in as many slices as they span.
    fn take(&mut self, mut n: usize, mut visit: impl FnMut(&'a [u8])) -> Option<()> {
        while n > 0 {
            let rest = self.rest_of_part();
            if rest.is_empty() {
                return None;
            }
            let k = rest.len().min(n);
            visit(&rest[..k]);
            n -= k;
            self.advance(k)?;
        }
        Some(())
    }
}

/// A batch of a gather append, ready to be written: its header (CRC stamped,
/// base offset still to be assigned) and its records as slices of the pieces.
#[derive(Debug)]
pub(crate) struct GatheredBatch {
    /// Position of the batch in the stream.
    pub position: usize,
    pub header: [u8; HEADER_SIZE],
    pub parsed: BatchHeader,
    /// Range of this batch's record slices in `Gathered::bodies`.
    pub bodies: std::ops::Range<usize>,
}

/// A validated gather append.
#[derive(Debug)]
pub(crate) struct Gathered<'a> {
    pub batches: Vec<GatheredBatch>,
    pub bodies: Vec<&'a [u8]>,
    pub len: usize,
}

/// Splits the stream into batches and checks each as `batch::validate_append`
/// does, except the CRC: it is computed here and stamped into the header,
/// after the LogAppendTime (when given) is. Nothing is written by anyone on error.
pub(crate) fn prepare<'a>(pieces: &Pieces<'a>, max_message_bytes: u64, log_append_time: Option<i64>) -> Result<Gathered<'a>> {
    if pieces.is_empty() {
        return Err(invalid_pieces("no record batch in the append".into()));
    }
    let mut batches = Vec::new();
    let mut bodies = Vec::with_capacity(pieces.parts.len() + 1);
    let mut cursor = pieces.cursor();
    while cursor.pos < pieces.len {
        let position = cursor.pos;
        let invalid = |reason: String| StoreError::InvalidRecord { position: position as u64, reason };
        let remaining = pieces.len - position;
        let mut header = [0u8; HEADER_SIZE];
        if remaining < HEADER_SIZE || cursor.read_into(&mut header).is_none() {
            return Err(invalid(format!("{remaining} trailing bytes are shorter than a 61-byte batch header")));
        }
        let parsed = batch::check_frame(&header, remaining, max_message_bytes, position)?;
        let end = position + parsed.size;
        if batch::uncompressed(&parsed).map_err(invalid)? {
            validate_records(cursor.clone(), end, parsed.records_count).map_err(invalid)?;
        }
        if let Some(now) = log_append_time {
            batch::mark_log_append_time(&mut header, now);
        }
        let first_body = bodies.len();
        let mut crc = crc32c::crc32c(&header[ATTRIBUTES_AT..]);
        cursor
            .take(parsed.size - HEADER_SIZE, |slice| {
                crc = crc32c::crc32c_append(crc, slice);
                bodies.push(slice);
            })
            .expect("size checked against the stream length");
        header[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
        let parsed = BatchHeader::parse(&header).expect("length checked");
        batches.push(GatheredBatch { position, header, parsed, bodies: first_body..bodies.len() });
    }
    Ok(Gathered { batches, bodies, len: pieces.len })
}

/// `batch::validate_records` over pieces: the records from `cursor` must parse
/// exactly, run offset deltas 0, 1, 2, ... and fill the batch up to `end`.
fn validate_records(mut cursor: Cursor<'_, '_>, end: usize, count: i32) -> std::result::Result<(), String> {
    for i in 0..count {
        let len = cursor.read_varint().ok_or_else(|| format!("record {i}: bad length varint"))?;
        if len < 0 || cursor.pos + len as usize > end {
            return Err(format!("record {i}: length {len} runs past the batch"));
        }
        let record_end = cursor.pos + len as usize;
        let rest = cursor.rest_of_part();
        let offset_delta = if rest.len() >= len as usize {
            // The whole record in one part, as every record with its value in the framing.
            let parsed = batch::parse_record(&rest[..len as usize]);
            cursor.advance(len as usize);
            parsed
        } else {
            parse_record(&mut cursor, record_end)
        }
        .ok_or_else(|| format!("record {i}: malformed record"))?;
        if offset_delta != i {
            return Err(format!("record {i}: offsetDelta is {offset_delta}"));
        }
    }
    if cursor.pos != end {
        return Err(format!("{} bytes follow the last record", end - cursor.pos));
    }
    Ok(())
}

/// Parses one record body ending at `record_end`; returns its offset delta.
fn parse_record(cursor: &mut Cursor<'_, '_>, record_end: usize) -> Option<i32> {
    if cursor.pos >= record_end {
        return None;
    }
    cursor.read_u8()?; // attributes
    cursor.read_varlong()?;
    let offset_delta = cursor.read_varint()?;
    cursor.skip_bytes(true, record_end)?;
    cursor.skip_bytes(true, record_end)?;
    let headers = cursor.read_varint()?;
    if headers < 0 {
        return None;
    }
    for _ in 0..headers {
        cursor.skip_bytes(false, record_end)?;
        cursor.skip_bytes(true, record_end)?;
    }
    (cursor.pos == record_end).then_some(offset_delta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{validate_append, Record, RecordBatchBuilder};

    fn sample(values: &[&[u8]]) -> Vec<u8> {
        let mut b = RecordBatchBuilder::new();
        for (i, v) in values.iter().enumerate() {
            b.push(&Record { key: Some(b"key"), value: Some(v), headers: vec![("h", Some(b"x"))], timestamp: 1000 + i as i64 });
        }
        b.build()
    }

    fn written(g: &Gathered<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        for b in &g.batches {
            out.extend_from_slice(&b.header);
            for s in &g.bodies[b.bodies.clone()] {
                out.extend_from_slice(s);
            }
        }
        out
    }

    #[test]
    fn every_split_of_valid_batches_gives_the_same_bytes_and_crc() {
        let mut input = sample(&[b"alpha", b"", b"a longer value of some bytes"]);
        input.extend(sample(&[b"second batch"]));
        let mut unstamped = input.clone();
        for b in validate_append(&input, 1 << 20).unwrap() {
            unstamped[b.position + CRC_AT..b.position + CRC_AT + 4].fill(0);
        }
        for a in 0..=input.len() {
            for b in (a..=input.len()).step_by(7) {
                let pieces = Pieces::new(vec![&unstamped[..a], &unstamped[a..b], &unstamped[b..]]);
                let g = prepare(&pieces, 1 << 20, None).unwrap();
                assert_eq!(written(&g), input, "split at {a}, {b}");
                assert_eq!(
                    g.batches.iter().map(|b| b.position).collect::<Vec<_>>(),
                    vec![0, input.len() - sample(&[b"second batch"]).len()]
                );
            }
        }
    }

    #[test]
    fn splices_values_into_the_framing_at_their_cuts() {
        let whole = sample(&[b"0123456789", b"abcdefghij"]);
        let first = whole.windows(10).position(|w| w == b"0123456789").unwrap();
        let second = whole.windows(10).position(|w| w == b"abcdefghij").unwrap();
        let mut framing = whole[..first].to_vec();
        framing.extend_from_slice(&whole[first + 10..second]);
        framing.extend_from_slice(&whole[second + 10..]);
        let cuts = [first as u32, (second - 10) as u32];
        let pieces = Pieces::spliced(&framing, &[b"0123456789", b"abcdefghij"], &cuts).unwrap();
        assert_eq!(written(&prepare(&pieces, 1 << 20, None).unwrap()), whole);
    }

    #[test]
    fn rejects_cuts_that_do_not_fit_the_framing() {
        let framing = [0u8; 70];
        let v: &[u8] = b"v";
        assert!(matches!(Pieces::spliced(&framing, &[v, v], &[10]), Err(StoreError::InvalidRecord { .. })));
        assert!(matches!(Pieces::spliced(&framing, &[v, v], &[10, 9]), Err(StoreError::InvalidRecord { .. })));
        assert!(matches!(Pieces::spliced(&framing, &[v], &[71]), Err(StoreError::InvalidRecord { .. })));
    }

    #[test]
    fn rejects_a_value_of_the_wrong_length() {
        let whole = sample(&[b"0123456789"]);
        let at = whole.windows(10).position(|w| w == b"0123456789").unwrap();
        let mut framing = whole[..at].to_vec();
        framing.extend_from_slice(&whole[at + 10..]);
        for value in [&b"012345678"[..], b"0123456789A"] {
            let pieces = Pieces::spliced(&framing, &[value], &[at as u32]).unwrap();
            assert!(matches!(prepare(&pieces, 1 << 20, None), Err(StoreError::InvalidRecord { position: 0, .. })), "{value:?}");
        }
    }

    #[test]
    fn stamps_log_append_time_before_the_crc() {
        let input = sample(&[b"x", b"y"]);
        let g = prepare(&Pieces::new(vec![&input]), 1 << 20, Some(99)).unwrap();
        let bytes = written(&g);
        let h = BatchHeader::parse(&bytes).unwrap();
        assert!(h.is_log_append_time());
        assert_eq!(h.max_timestamp, 99);
        assert!(batch::crc_is_valid(&bytes, &h));
    }

    #[test]
    fn rejects_oversize_and_truncated_input() {
        let input = sample(&[b"x"]);
        let size = input.len() as u64;
        assert!(matches!(prepare(&Pieces::new(vec![&input]), size - 1, None), Err(StoreError::RecordTooLarge { .. })));
        assert!(matches!(prepare(&Pieces::new(vec![&input[..input.len() - 1]]), 1 << 20, None), Err(StoreError::InvalidRecord { .. })));
        assert!(matches!(prepare(&Pieces::new(vec![]), 1 << 20, None), Err(StoreError::InvalidRecord { .. })));
    }
}
