//! RecordBatch v2: the header layout, validation of incoming batches, and a
//! small builder for Rust users and tests.

use crate::error::{Result, StoreError};
use crate::varint::{read_varint, read_varlong, write_varint, write_varlong};

pub const HEADER_SIZE: usize = 61;
/// baseOffset (8) + length (4): the bytes of a batch outside its length field.
pub const LOG_OVERHEAD: usize = 12;
pub const MAGIC: i8 = 2;
/// The smallest record: length, attributes, timestamp and offset deltas, null
/// key, null value and no headers, one byte each.
const MIN_RECORD_SIZE: usize = 7;

pub(crate) const BASE_OFFSET_AT: usize = 0;
pub(crate) const LENGTH_AT: usize = 8;
pub(crate) const MAGIC_AT: usize = 16;
pub(crate) const CRC_AT: usize = 17;
pub(crate) const ATTRIBUTES_AT: usize = 21;
pub(crate) const LAST_OFFSET_DELTA_AT: usize = 23;
pub(crate) const BASE_TIMESTAMP_AT: usize = 27;
pub(crate) const MAX_TIMESTAMP_AT: usize = 35;
pub(crate) const PRODUCER_ID_AT: usize = 43;
pub(crate) const PRODUCER_EPOCH_AT: usize = 51;
pub(crate) const BASE_SEQUENCE_AT: usize = 53;
pub(crate) const RECORDS_COUNT_AT: usize = 57;

pub const COMPRESSION_MASK: i16 = 0x07;
pub const TIMESTAMP_TYPE_LOG_APPEND: i16 = 0x08;
pub const TRANSACTIONAL: i16 = 0x10;
pub const CONTROL: i16 = 0x20;

fn be_i64(b: &[u8], at: usize) -> i64 {
    i64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}
fn be_i32(b: &[u8], at: usize) -> i32 {
    i32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}
fn be_i16(b: &[u8], at: usize) -> i16 {
    i16::from_be_bytes(b[at..at + 2].try_into().unwrap())
}

/// The fixed 61-byte header of a batch, read from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: i64,
    /// The whole batch in bytes, the 12 bytes of offset and length included.
    pub size: usize,
    pub magic: i8,
    pub crc: u32,
    pub attributes: i16,
    pub last_offset_delta: i32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    /// -1 unless an idempotent or transactional producer wrote the batch.
    pub producer_id: i64,
    pub producer_epoch: i16,
    /// The first record's sequence number, -1 when the batch has none.
    pub base_sequence: i32,
    pub records_count: i32,
}

impl BatchHeader {
    /// Reads a header. `None` when fewer than 61 bytes are there or the length
    /// field cannot describe a batch; nothing beyond the header is checked.
    pub fn parse(buf: &[u8]) -> Option<BatchHeader> {
        if buf.len() < HEADER_SIZE {
            return None;
        }
        let length = be_i32(buf, LENGTH_AT);
        if length < (HEADER_SIZE - LOG_OVERHEAD) as i32 {
            return None;
        }
        Some(BatchHeader {
            base_offset: be_i64(buf, BASE_OFFSET_AT),
            size: length as usize + LOG_OVERHEAD,
            magic: buf[MAGIC_AT] as i8,
            crc: u32::from_be_bytes(buf[CRC_AT..CRC_AT + 4].try_into().unwrap()),
            attributes: be_i16(buf, ATTRIBUTES_AT),
            last_offset_delta: be_i32(buf, LAST_OFFSET_DELTA_AT),
            base_timestamp: be_i64(buf, BASE_TIMESTAMP_AT),
            max_timestamp: be_i64(buf, MAX_TIMESTAMP_AT),
            producer_id: be_i64(buf, PRODUCER_ID_AT),
            producer_epoch: be_i16(buf, PRODUCER_EPOCH_AT),
            base_sequence: be_i32(buf, BASE_SEQUENCE_AT),
            records_count: be_i32(buf, RECORDS_COUNT_AT),
        })
    }

    /// Saturating, like `next_offset`: a damaged header never overflows; the
    /// store only keeps batches for which `fits_offset_space` holds.
    pub fn last_offset(&self) -> i64 {
        self.base_offset.saturating_add(self.last_offset_delta as i64)
    }

    pub fn next_offset(&self) -> i64 {
        self.last_offset().saturating_add(1)
    }

    /// True when the batch's offsets run forward from its base and the offset
    /// after it is still an i64.
    pub fn fits_offset_space(&self) -> bool {
        self.last_offset_delta >= 0 && self.base_offset.checked_add(self.last_offset_delta as i64 + 1).is_some()
    }

    pub fn compression(&self) -> i16 {
        self.attributes & COMPRESSION_MASK
    }

    pub fn is_control(&self) -> bool {
        self.attributes & CONTROL != 0
    }

    /// The last record's sequence number: Kafka's sequences wrap from
    /// i32::MAX to 0. -1 when the batch has none.
    pub fn last_sequence(&self) -> i32 {
        if self.base_sequence < 0 {
            return self.base_sequence;
        }
        increment_sequence(self.base_sequence, self.last_offset_delta)
    }

    pub fn is_log_append_time(&self) -> bool {
        self.attributes & TIMESTAMP_TYPE_LOG_APPEND != 0
    }
}

/// `sequence + by`, wrapping past i32::MAX to 0 as Kafka's producers do.
pub fn increment_sequence(sequence: i32, by: i32) -> i32 {
    if sequence > i32::MAX - by {
        by - (i32::MAX - sequence) - 1
    } else {
        sequence + by
    }
}

/// CRC-32C of everything from the attributes to the end of the batch.
pub fn compute_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(&batch[ATTRIBUTES_AT..])
}

/// True when `batch` (exactly one whole batch) carries a valid CRC.
pub fn crc_is_valid(batch: &[u8], header: &BatchHeader) -> bool {
    compute_crc(batch) == header.crc
}

/// A batch found in an append request: where it is in the input and its header.
#[derive(Debug, Clone, Copy)]
pub struct IncomingBatch {
    pub position: usize,
    pub header: BatchHeader,
}

/// Splits `input` into batches and checks each the way a broker does before
/// it appends: whole, magic 2, within `max_message_bytes`, CRC-32C, and for an
/// uncompressed batch every record's framing and offset delta. Nothing is
/// written by anyone on error.
pub fn validate_append(input: &[u8], max_message_bytes: u64) -> Result<Vec<IncomingBatch>> {
    if input.is_empty() {
        return Err(StoreError::InvalidRecord { position: 0, reason: "no record batch in the append".into() });
    }
    let mut batches = Vec::new();
    let mut pos = 0usize;
    while pos < input.len() {
        let rest = &input[pos..];
        let invalid = |reason: String| StoreError::InvalidRecord { position: pos as u64, reason };
        if rest.len() < HEADER_SIZE {
            return Err(invalid(format!("{} trailing bytes are shorter than a 61-byte batch header", rest.len())));
        }
        let header = check_frame(rest, rest.len(), max_message_bytes, pos)?;
        let bytes = &rest[..header.size];
        if !crc_is_valid(bytes, &header) {
            return Err(StoreError::CorruptRecord {
                position: pos as u64,
                reason: format!("CRC-32C is {:#010x}, the batch says {:#010x}", compute_crc(bytes), header.crc),
            });
        }
        if uncompressed(&header).map_err(invalid)? {
            validate_records(&bytes[HEADER_SIZE..], header.records_count).map_err(invalid)?;
        }
        batches.push(IncomingBatch { position: pos, header });
        pos += header.size;
    }
    Ok(batches)
}

/// The header of the batch at byte `position` of an append, from its first
/// HEADER_SIZE bytes `header` with `remaining` bytes of input left from it:
/// a length within the input and `max_message_bytes`, magic 2.
pub(crate) fn check_frame(header: &[u8], remaining: usize, max_message_bytes: u64, position: usize) -> Result<BatchHeader> {
    let invalid = |reason: String| StoreError::InvalidRecord { position: position as u64, reason };
    let length = be_i32(header, LENGTH_AT);
    if length < (HEADER_SIZE - LOG_OVERHEAD) as i32 {
        return Err(invalid(format!("batch length field {length} is below the 49-byte minimum")));
    }
    let size = length as u64 + LOG_OVERHEAD as u64;
    if size > remaining as u64 {
        return Err(invalid(format!("batch length says {size} bytes but only {remaining} remain")));
    }
    if size > max_message_bytes {
        return Err(StoreError::RecordTooLarge { size, limit: max_message_bytes });
    }
    let parsed = BatchHeader::parse(header).expect("length checked");
    if parsed.magic != MAGIC {
        return Err(invalid(format!("magic {} is not supported, only RecordBatch v2 (magic 2)", parsed.magic)));
    }
    Ok(parsed)
}

/// Whether the batch's records are to be walked (uncompressed), after its
/// record count, lastOffsetDelta and compression codec are checked.
pub(crate) fn uncompressed(header: &BatchHeader) -> std::result::Result<bool, String> {
    if header.records_count <= 0 {
        return Err(format!("batch holds {} records", header.records_count));
    }
    if header.last_offset_delta != header.records_count - 1 {
        return Err(format!("lastOffsetDelta {} does not match {} records", header.last_offset_delta, header.records_count));
    }
    match header.compression() {
        0 => Ok(true),
        1..=4 => Ok(false),
        codec => Err(format!("unknown compression codec {codec}")),
    }
}

/// Walks uncompressed records: each length-framed record must parse exactly,
/// offset deltas must run 0, 1, 2, ... and the records must fill the batch.
fn validate_records(mut buf: &[u8], count: i32) -> std::result::Result<(), String> {
    for i in 0..count {
        let (len, n) = read_varint(buf).ok_or_else(|| format!("record {i}: bad length varint"))?;
        if len < 0 || (len as usize) > buf.len() - n {
            return Err(format!("record {i}: length {len} runs past the batch"));
        }
        let record = &buf[n..n + len as usize];
        let offset_delta = parse_record(record).ok_or_else(|| format!("record {i}: malformed record"))?;
        if offset_delta != i {
            return Err(format!("record {i}: offsetDelta is {offset_delta}"));
        }
        buf = &buf[n + len as usize..];
    }
    if !buf.is_empty() {
        return Err(format!("{} bytes follow the last record", buf.len()));
    }
    Ok(())
}

/// Parses one record body (after its length) and returns its offset delta.
pub(crate) fn parse_record(rec: &[u8]) -> Option<i32> {
    let mut p = 1usize; // attributes
    if rec.is_empty() {
        return None;
    }
    let (_, n) = read_varlong(rec.get(p..)?)?;
    p += n;
    let (offset_delta, n) = read_varint(rec.get(p..)?)?;
    p += n;
    for _ in 0..2 {
        p = skip_bytes(rec, p, true)?;
    }
    let (headers, n) = read_varint(rec.get(p..)?)?;
    p += n;
    if headers < 0 {
        return None;
    }
    for _ in 0..headers {
        p = skip_bytes(rec, p, false)?;
        p = skip_bytes(rec, p, true)?;
    }
    (p == rec.len()).then_some(offset_delta)
}

fn skip_bytes(rec: &[u8], p: usize, nullable: bool) -> Option<usize> {
    let (len, n) = read_varint(rec.get(p..)?)?;
    let p = p + n;
    match len {
        -1 if nullable => Some(p),
        l if l >= 0 && p + l as usize <= rec.len() => Some(p + l as usize),
        _ => None,
    }
}

/// Timestamps of the records of a batch, in order (for offset-by-timestamp);
/// compressed records are decompressed first, as Kafka's segment search does.
/// A LogAppendTime batch's records all carry its max timestamp. None when the
/// records do not decompress or frame.
pub fn record_timestamps(batch: &[u8], header: &BatchHeader) -> Option<Vec<i64>> {
    let section = batch.get(HEADER_SIZE..header.size)?;
    let decompressed;
    let mut buf = match header.compression() {
        0 => section,
        codec => {
            decompressed = fjord_codecs::decompress(fjord_codecs::Codec::from_id(codec as u32)?, section, i32::MAX as usize).ok()?;
            &decompressed[..]
        }
    };
    // A damaged count must not size the allocation: no record is under 7 bytes.
    let count = usize::try_from(header.records_count).ok().filter(|&c| c <= buf.len() / MIN_RECORD_SIZE)?;
    if header.is_log_append_time() {
        return Some(vec![header.max_timestamp; count]);
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let (len, n) = read_varint(buf)?;
        let len = usize::try_from(len).ok()?;
        let rec = buf.get(n..n + len)?;
        let (delta, _) = read_varlong(rec.get(1..)?)?;
        out.push(header.base_timestamp.saturating_add(delta));
        buf = &buf[n + len..];
    }
    Some(out)
}

/// Sets a batch header's timestamp type to LogAppendTime with `now` as its
/// max timestamp, and restamps the CRC over the header and `records` (the
/// rest of the batch), as Kafka's broker does.
pub(crate) fn stamp_log_append_time(header: &mut [u8; HEADER_SIZE], records: &[u8], now: i64) {
    mark_log_append_time(header, now);
    let crc = crc32c::crc32c_append(crc32c::crc32c(&header[ATTRIBUTES_AT..]), records);
    header[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
}

/// Sets the LogAppendTime attribute and `now` as the max timestamp; the CRC is the caller's.
pub(crate) fn mark_log_append_time(header: &mut [u8; HEADER_SIZE], now: i64) {
    let attributes = be_i16(header, ATTRIBUTES_AT) | TIMESTAMP_TYPE_LOG_APPEND;
    header[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
    header[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8].copy_from_slice(&now.to_be_bytes());
}

/// One record for `RecordBatchBuilder`.
#[derive(Debug, Clone, Default)]
pub struct Record<'a> {
    pub key: Option<&'a [u8]>,
    pub value: Option<&'a [u8]>,
    pub headers: Vec<(&'a str, Option<&'a [u8]>)>,
    pub timestamp: i64,
}

/// Builds an uncompressed RecordBatch v2, base offset 0 (the log assigns it),
/// with the producer id, epoch and sequence of a non-idempotent producer (-1)
/// unless `producer` sets them.
#[derive(Debug, Default)]
pub struct RecordBatchBuilder {
    records: Vec<u8>,
    count: i32,
    base_timestamp: Option<i64>,
    max_timestamp: i64,
    partition_leader_epoch: i32,
    producer: Option<(i64, i16, i32)>,
}

impl RecordBatchBuilder {
    pub fn new() -> Self {
        Self { max_timestamp: -1, ..Default::default() }
    }

    /// An idempotent producer's id, epoch and the first record's sequence.
    pub fn producer(mut self, id: i64, epoch: i16, base_sequence: i32) -> Self {
        self.producer = Some((id, epoch, base_sequence));
        self
    }

    pub fn partition_leader_epoch(mut self, epoch: i32) -> Self {
        self.partition_leader_epoch = epoch;
        self
    }

    pub fn push(&mut self, record: &Record) -> &mut Self {
        let base = *self.base_timestamp.get_or_insert(record.timestamp);
        let mut body = vec![0u8]; // attributes
        write_varlong(&mut body, record.timestamp - base);
        write_varint(&mut body, self.count);
        for field in [record.key, record.value] {
            match field {
                None => write_varint(&mut body, -1),
                Some(b) => {
                    write_varint(&mut body, b.len() as i32);
                    body.extend_from_slice(b);
                }
            }
        }
        write_varint(&mut body, record.headers.len() as i32);
        for (k, v) in &record.headers {
            write_varint(&mut body, k.len() as i32);
            body.extend_from_slice(k.as_bytes());
            match v {
                None => write_varint(&mut body, -1),
                Some(b) => {
                    write_varint(&mut body, b.len() as i32);
                    body.extend_from_slice(b);
                }
            }
        }
        write_varint(&mut self.records, body.len() as i32);
        self.records.extend_from_slice(&body);
        self.count += 1;
        self.max_timestamp = self.max_timestamp.max(record.timestamp);
        self
    }

    pub fn build(&self) -> Vec<u8> {
        self.build_records(&self.records, 0)
    }

    /// The batch with its records compressed with `codec`, as Kafka's producer writes it.
    pub fn build_compressed(&self, codec: fjord_codecs::Codec) -> std::result::Result<Vec<u8>, fjord_codecs::CodecError> {
        Ok(self.build_records(&fjord_codecs::compress(codec, &self.records)?, codec as i16))
    }

    fn build_records(&self, records: &[u8], attributes: i16) -> Vec<u8> {
        let size = HEADER_SIZE + records.len();
        let mut b = Vec::with_capacity(size);
        b.extend_from_slice(&0i64.to_be_bytes());
        b.extend_from_slice(&((size - LOG_OVERHEAD) as i32).to_be_bytes());
        b.extend_from_slice(&self.partition_leader_epoch.to_be_bytes());
        b.push(MAGIC as u8);
        b.extend_from_slice(&[0; 4]); // crc, stamped below
        b.extend_from_slice(&attributes.to_be_bytes());
        b.extend_from_slice(&(self.count - 1).to_be_bytes());
        b.extend_from_slice(&self.base_timestamp.unwrap_or(-1).to_be_bytes());
        b.extend_from_slice(&self.max_timestamp.to_be_bytes());
        let (id, epoch, sequence) = self.producer.unwrap_or((-1, -1, -1));
        b.extend_from_slice(&id.to_be_bytes());
        b.extend_from_slice(&epoch.to_be_bytes());
        b.extend_from_slice(&sequence.to_be_bytes());
        b.extend_from_slice(&self.count.to_be_bytes());
        b.extend_from_slice(records);
        let crc = compute_crc(&b);
        b[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "00000000000000000000003d0000000002e641a44b0000000000000000018bcfe568000000018bcfe56800ffffffffffffffffffffffffffff0000000116000000010a68656c6c6f00";

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    #[test]
    fn crc32c_matches_kafka_vector() {
        assert_eq!(crc32c::crc32c(b"Some String"), 608512271);
    }

    #[test]
    fn builds_the_reference_batch_byte_for_byte() {
        let mut b = RecordBatchBuilder::new();
        b.push(&Record { key: None, value: Some(b"hello"), headers: vec![], timestamp: 1700000000000 });
        let bytes = b.build();
        assert_eq!(bytes, hex(SAMPLE));
        assert_eq!(bytes.len(), 73);
        let header = BatchHeader::parse(&bytes).unwrap();
        assert_eq!(header.crc, 0xe641a44b);
        assert_eq!(header.size, 73);
        assert_eq!(header.records_count, 1);
        assert_eq!(header.max_timestamp, 1700000000000);
    }

    #[test]
    fn validates_the_reference_batch() {
        let batches = validate_append(&hex(SAMPLE), 1048588).unwrap();
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].header.last_offset(), 0);
    }

    #[test]
    fn rejects_a_flipped_byte_as_corrupt() {
        let mut bytes = hex(SAMPLE);
        bytes[70] ^= 0x01;
        assert!(matches!(validate_append(&bytes, 1048588), Err(StoreError::CorruptRecord { position: 0, .. })));
    }

    #[test]
    fn rejects_bad_magic_short_input_and_oversize() {
        let mut bytes = hex(SAMPLE);
        bytes[MAGIC_AT] = 1;
        assert!(matches!(validate_append(&bytes, 1048588), Err(StoreError::InvalidRecord { .. })));
        let bytes = hex(SAMPLE);
        assert!(matches!(validate_append(&bytes[..60], 1048588), Err(StoreError::InvalidRecord { .. })));
        assert!(matches!(validate_append(&bytes[..72], 1048588), Err(StoreError::InvalidRecord { .. })));
        match validate_append(&bytes, 72) {
            Err(StoreError::RecordTooLarge { size: 73, limit: 72 }) => {}
            other => panic!("expected RecordTooLarge, got {other:?}"),
        }
        assert!(matches!(validate_append(&[], 100), Err(StoreError::InvalidRecord { .. })));
    }

    #[test]
    fn rejects_records_whose_framing_lies_even_with_a_good_crc() {
        let mut b = RecordBatchBuilder::new();
        b.push(&Record { key: Some(b"k"), value: Some(b"v"), headers: vec![], timestamp: 5 });
        let mut bytes = b.build();
        // Claim two records while holding one, then restamp the CRC.
        bytes[RECORDS_COUNT_AT..RECORDS_COUNT_AT + 4].copy_from_slice(&2i32.to_be_bytes());
        bytes[LAST_OFFSET_DELTA_AT..LAST_OFFSET_DELTA_AT + 4].copy_from_slice(&1i32.to_be_bytes());
        let crc = compute_crc(&bytes);
        bytes[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
        assert!(matches!(validate_append(&bytes, 1 << 20), Err(StoreError::InvalidRecord { .. })));
    }

    #[test]
    fn splits_several_batches_in_one_append() {
        let mut input = hex(SAMPLE);
        input.extend(hex(SAMPLE));
        let batches = validate_append(&input, 1048588).unwrap();
        assert_eq!(batches.iter().map(|b| b.position).collect::<Vec<_>>(), vec![0, 73]);
    }

    #[test]
    fn reads_record_timestamps_and_stamps_log_append_time() {
        let mut b = RecordBatchBuilder::new();
        for ts in [100, 105, 103] {
            b.push(&Record { value: Some(b"x"), timestamp: ts, ..Default::default() });
        }
        let mut bytes = b.build();
        let h = BatchHeader::parse(&bytes).unwrap();
        assert_eq!(record_timestamps(&bytes, &h).unwrap(), vec![100, 105, 103]);
        let mut header: [u8; HEADER_SIZE] = bytes[..HEADER_SIZE].try_into().unwrap();
        stamp_log_append_time(&mut header, &bytes[HEADER_SIZE..], 999);
        bytes[..HEADER_SIZE].copy_from_slice(&header);
        let h = BatchHeader::parse(&bytes).unwrap();
        assert!(h.is_log_append_time());
        assert!(crc_is_valid(&bytes, &h));
        assert_eq!(record_timestamps(&bytes, &h).unwrap(), vec![999, 999, 999]);
    }

    #[test]
    fn reads_the_record_timestamps_of_compressed_batches() {
        let mut b = RecordBatchBuilder::new();
        for ts in [100, 105, 103] {
            b.push(&Record { value: Some(b"x"), timestamp: ts, ..Default::default() });
        }
        for codec in [fjord_codecs::Codec::Gzip, fjord_codecs::Codec::Snappy, fjord_codecs::Codec::Lz4, fjord_codecs::Codec::Zstd] {
            let mut bytes = b.build_compressed(codec).unwrap();
            let h = BatchHeader::parse(&bytes).unwrap();
            assert_eq!(h.compression(), codec as i16);
            assert!(crc_is_valid(&bytes, &h));
            assert_eq!(record_timestamps(&bytes, &h).unwrap(), vec![100, 105, 103], "{codec:?}");
            // Records that do not decompress give no timestamps (the caller falls back to the batch).
            let last = bytes.len() - 1;
            bytes[HEADER_SIZE..last].fill(0xff);
            assert_eq!(record_timestamps(&bytes, &h), None, "{codec:?}");
        }
    }
}
