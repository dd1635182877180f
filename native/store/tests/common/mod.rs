//! What the store's integration tests build logs from and read them back with.
#![allow(dead_code)] // each test binary uses its own part

use fjord_store::{BatchHeader, Log, LogConfig, Record, RecordBatchBuilder};

pub const NOW: i64 = 1_700_000_000_000;

/// One batch of `n` records, values `"{tag}-{i}"`, timestamps `ts`, ts+1, ...
pub fn batch(tag: &str, n: usize, ts: i64) -> Vec<u8> {
    let values: Vec<String> = (0..n).map(|i| format!("{tag}-{i}")).collect();
    let mut b = RecordBatchBuilder::new();
    for (i, v) in values.iter().enumerate() {
        b.push(&Record { key: Some(b"k"), value: Some(v.as_bytes()), headers: vec![], timestamp: ts + i as i64 });
    }
    b.build()
}

/// A one-record batch whose value is `size` bytes of `fill`.
pub fn sized_batch(size: usize, fill: u8, ts: i64) -> Vec<u8> {
    let value = vec![fill; size];
    let mut b = RecordBatchBuilder::new();
    b.push(&Record { key: None, value: Some(&value), headers: vec![], timestamp: ts });
    b.build()
}

/// 2 KiB segments, 1 KiB indexes, an index entry every 256 bytes.
pub fn small_config() -> LogConfig {
    LogConfig { segment_bytes: 2048, segment_index_bytes: 1024, index_interval_bytes: 256, ..LogConfig::default() }
}

/// Each batch of `bytes` (whole batches) with its bytes.
pub fn each_batch(bytes: &[u8], mut visit: impl FnMut(&BatchHeader, &[u8])) {
    let mut pos = 0;
    while pos < bytes.len() {
        let h = BatchHeader::parse(&bytes[pos..]).unwrap();
        visit(&h, &bytes[pos..pos + h.size]);
        pos += h.size;
    }
}

/// Every batch in a read, as (base offset, last offset).
pub fn batches_of(bytes: &[u8]) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    each_batch(bytes, |h, _| out.push((h.base_offset, h.last_offset())));
    out
}

/// Each batch of the log from `from` on, read by following `next_offset`.
pub fn each_logged_batch(log: &Log, from: i64, mut visit: impl FnMut(&BatchHeader, &[u8])) {
    let mut offset = from;
    while let Some(slice) = log.read(offset, 1 << 20).unwrap() {
        each_batch(slice.bytes(), &mut visit);
        offset = slice.next_offset;
    }
}

/// The whole log from `from`, as (base offset, last offset) per batch.
pub fn read_all(log: &Log, from: i64) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    each_logged_batch(log, from, |h, _| out.push((h.base_offset, h.last_offset())));
    out
}

/// The whole log from its start, as (base offset, last offset) per batch.
pub fn read_from_start(log: &Log) -> Vec<(i64, i64)> {
    read_all(log, log.log_start_offset().unwrap())
}
