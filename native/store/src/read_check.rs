//! The CRC check on read: every batch the store hands out has passed a
//! CRC-32C and framing check in this process, but only once.
//!
//! Each segment keeps a watermark: the bytes below it are whole batches known
//! good. Bytes appended by this process were validated on append (and sit at
//! or past `appended_from`); bytes recovery scanned at open were checked
//! there (recovery sets the watermark). A read checks only the batches it is
//! about to hand out that lie past the watermark and below `appended_from`,
//! and moves the watermark up when it checked a run that starts at it.
//!
//! Residual risk, by design: a byte that changes on disk after this process
//! checked it (or after it was appended) is not seen again until the next
//! open of the log (or a `verify` of the directory, which reads every byte).
//! A reader that jumps far past the watermark (more than `JUMP_LIMIT` bytes)
//! checks the batches it reads without moving the watermark, so that
//! starting mid-segment does not read the whole segment prefix from disk;
//! such a reader checks its batches on every read.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::batch::{self, BatchHeader, MAGIC};

/// Past this distance from the watermark a read checks only its own batches.
const JUMP_LIMIT: usize = 4 << 20;

/// A batch that failed its check: where, which offset, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Corruption {
    pub position: usize,
    pub offset: i64,
    pub reason: String,
}

/// The outcome of checking the bytes `[start, end)` a read wants to hand out.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Checked {
    /// The read may hand out `[start, good_end)`: whole batches, all good.
    pub good_end: usize,
    /// The batch at `good_end`, when it is bad.
    pub corruption: Option<Corruption>,
}

/// Per-segment watermark; see the module docs.
pub(crate) struct ReadCheck {
    /// (byte position << 32) | (next offset − segment base): both grow together.
    verified: AtomicU64,
    /// Bytes at or past this position were appended (and validated) by this process.
    appended_from: usize,
}

impl ReadCheck {
    /// Nothing checked yet below `appended_from` (the segment's size at open).
    pub fn unchecked(appended_from: usize) -> ReadCheck {
        ReadCheck { verified: AtomicU64::new(0), appended_from }
    }

    /// Everything below `position` is checked (recovery just scanned it).
    pub fn checked_up_to(position: usize, next_relative_offset: i64) -> ReadCheck {
        let check = ReadCheck::unchecked(position);
        check.advance(position, next_relative_offset);
        check
    }

    /// (position, next offset relative to the segment base) of the watermark.
    pub fn watermark(&self) -> (usize, i64) {
        let v = self.verified.load(Ordering::Acquire);
        ((v >> 32) as usize, (v & 0xffff_ffff) as i64)
    }

    fn advance(&self, position: usize, next_relative_offset: i64) {
        let packed = ((position as u64) << 32) | (next_relative_offset as u64 & 0xffff_ffff);
        self.verified.fetch_max(packed, Ordering::AcqRel);
    }

    /// Checks the batches of `[start, end)` (batch boundaries found by the
    /// reader) that are not known good. `map` holds the segment's bytes,
    /// `size` its valid length, `base`/`next_offset` its offset range.
    pub fn check(&self, map: &[u8], size: usize, base: i64, next_offset: i64, start: usize, end: usize) -> Checked {
        let all_good = Checked { good_end: end, corruption: None };
        let limit = end.min(self.appended_from);
        let (wpos, wrel) = self.watermark();
        if start >= limit || limit <= wpos {
            return all_good;
        }
        let segment = Bounds { map, size, base, next_offset };
        let (mut pos, mut expect, mut advancing) = (wpos, Some(base + wrel), true);
        if wpos < start {
            // Walk from the watermark up to the read when it is near, so it moves on.
            if start - wpos <= JUMP_LIMIT {
                while pos < start {
                    match segment.check_batch(pos, expect) {
                        Ok(h) => {
                            pos += h.size;
                            expect = Some(h.next_offset());
                        }
                        Err(_) => break,
                    }
                }
                self.advance(pos, expect.map_or(wrel, |e| e - base));
            }
            if pos != start {
                // A bad batch before the read, a read too far ahead, or a start
                // that is no batch boundary of the checked chain: check the read alone.
                (pos, expect, advancing) = (start, None, false);
            }
        }
        while pos < limit {
            match segment.check_batch(pos, expect) {
                Ok(h) => {
                    pos += h.size;
                    expect = Some(h.next_offset());
                }
                Err(reason) => {
                    if advancing {
                        self.advance(pos, expect.map_or(wrel, |e| e - base));
                    }
                    let offset = expect.or_else(|| segment.plausible_base(pos)).unwrap_or(base);
                    return Checked { good_end: pos, corruption: Some(Corruption { position: pos, offset, reason }) };
                }
            }
        }
        if advancing {
            self.advance(pos, expect.map_or(wrel, |e| e - base));
        }
        all_good
    }
}

struct Bounds<'a> {
    map: &'a [u8],
    size: usize,
    base: i64,
    next_offset: i64,
}

impl Bounds<'_> {
    fn check_batch(&self, pos: usize, expect: Option<i64>) -> Result<BatchHeader, String> {
        check_stored_batch(&self.map[pos..self.size], expect, self.base, self.next_offset)
    }

    /// The base offset a damaged header claims, if it lies inside the segment.
    fn plausible_base(&self, pos: usize) -> Option<i64> {
        BatchHeader::parse(&self.map[pos..self.size]).map(|h| h.base_offset).filter(|o| (self.base..self.next_offset).contains(o))
    }
}

/// Checks the batch at the start of `rest` (the segment's bytes from the
/// batch to its valid end): framing, magic, offsets and CRC-32C. `expect` is
/// the base offset it must carry when the previous batch is known.
pub(crate) fn check_stored_batch(rest: &[u8], expect: Option<i64>, base: i64, next_offset: i64) -> Result<BatchHeader, String> {
    let h = BatchHeader::parse(rest).ok_or_else(|| {
        if rest.len() < batch::HEADER_SIZE {
            format!("only {} bytes remain, fewer than a 61-byte batch header", rest.len())
        } else {
            "the batch length field is below the 49-byte minimum".to_string()
        }
    })?;
    if h.size > rest.len() {
        return Err(format!("the batch length says {} bytes but only {} remain in the segment", h.size, rest.len()));
    }
    if h.magic != MAGIC {
        return Err(format!("magic is {}, not 2", h.magic));
    }
    if h.last_offset_delta < 0 {
        return Err(format!("lastOffsetDelta is {}", h.last_offset_delta));
    }
    match expect {
        Some(e) if h.base_offset != e => return Err(format!("base offset is {}, the previous batch ends before {e}", h.base_offset)),
        _ if h.base_offset < base || h.next_offset() > next_offset => {
            return Err(format!("offsets {}..={} lie outside the segment's [{base}, {next_offset})", h.base_offset, h.last_offset()));
        }
        _ => {}
    }
    let computed = batch::compute_crc(&rest[..h.size]);
    if computed != h.crc {
        return Err(format!("CRC-32C is {computed:#010x}, the batch says {:#010x}", h.crc));
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::{Record, RecordBatchBuilder};

    /// `n` one-record batches with offsets 0.. as a segment's bytes, and their positions.
    fn segment(n: i64) -> (Vec<u8>, Vec<usize>) {
        let mut bytes = Vec::new();
        let mut positions = Vec::new();
        for i in 0..n {
            let mut b = RecordBatchBuilder::new();
            b.push(&Record { value: Some(b"value"), timestamp: 1000 + i, ..Default::default() });
            let mut batch = b.build();
            batch[..8].copy_from_slice(&i.to_be_bytes());
            positions.push(bytes.len());
            bytes.extend(batch);
        }
        (bytes, positions)
    }

    #[test]
    fn a_sequential_reader_moves_the_watermark_and_checks_each_batch_once() {
        let (bytes, at) = segment(10);
        let check = ReadCheck::unchecked(bytes.len());
        assert_eq!(check.check(&bytes, bytes.len(), 0, 10, 0, at[3]), Checked { good_end: at[3], corruption: None });
        assert_eq!(check.watermark(), (at[3], 3));
        assert_eq!(check.check(&bytes, bytes.len(), 0, 10, at[3], bytes.len()).good_end, bytes.len());
        assert_eq!(check.watermark(), (bytes.len(), 10));
        // Below the watermark nothing is read again: a flipped byte there is the documented residual.
        let mut changed = bytes.clone();
        changed[at[2] + 70] ^= 1;
        assert_eq!(check.check(&changed, bytes.len(), 0, 10, at[2], at[4]).corruption, None);
    }

    #[test]
    fn a_bad_batch_stops_the_read_before_it_and_keeps_failing() {
        let (mut bytes, at) = segment(10);
        bytes[at[5] + 70] ^= 0x10;
        let check = ReadCheck::unchecked(bytes.len());
        let first = check.check(&bytes, bytes.len(), 0, 10, 0, bytes.len());
        assert_eq!(first.good_end, at[5]);
        let bad = first.corruption.unwrap();
        assert_eq!((bad.position, bad.offset), (at[5], 5));
        assert!(bad.reason.starts_with("CRC-32C is 0x"), "{}", bad.reason);
        assert_eq!(check.watermark(), (at[5], 5));
        let again = check.check(&bytes, bytes.len(), 0, 10, at[5], bytes.len());
        assert_eq!((again.good_end, again.corruption.map(|c| c.offset)), (at[5], Some(5)));
        // The batches after it are checked on their own and served.
        assert_eq!(check.check(&bytes, bytes.len(), 0, 10, at[6], bytes.len()), Checked { good_end: bytes.len(), corruption: None });
        assert_eq!(check.watermark(), (at[5], 5), "the watermark never passes a bad batch");
    }

    #[test]
    fn appended_bytes_and_recovered_bytes_are_not_checked_again() {
        let (mut bytes, at) = segment(4);
        bytes[at[3] + 70] ^= 1;
        // Appended by this process from at[2] on: trusted.
        let appended = ReadCheck::unchecked(at[2]);
        assert_eq!(appended.check(&bytes, bytes.len(), 0, 4, at[2], bytes.len()).corruption, None);
        let recovered = ReadCheck::checked_up_to(bytes.len(), 4);
        assert_eq!(recovered.check(&bytes, bytes.len(), 0, 4, 0, bytes.len()).corruption, None);
    }

    #[test]
    fn detects_a_broken_offset_chain_and_a_cut_batch() {
        let (mut bytes, at) = segment(3);
        bytes[at[1]..at[1] + 8].copy_from_slice(&7i64.to_be_bytes());
        let check = ReadCheck::unchecked(bytes.len());
        let out = check.check(&bytes, bytes.len(), 0, 3, 0, bytes.len());
        assert_eq!(out.good_end, at[1]);
        assert_eq!(out.corruption.unwrap().reason, "base offset is 7, the previous batch ends before 1");
        let (bytes, at) = segment(3);
        let cut = bytes.len() - 5;
        let out = ReadCheck::unchecked(cut).check(&bytes, cut, 0, 3, 0, cut);
        assert_eq!(out.good_end, at[2]);
        assert_eq!(
            out.corruption.unwrap().reason,
            format!("the batch length says {} bytes but only {} remain in the segment", bytes.len() - at[2], cut - at[2])
        );
    }
}
