//! Criterion benchmarks of the segment store alone (no Node): append, read at
//! an offset, offset for a timestamp, batch validation, and opening a log of
//! many segments, cleanly and after a crash.
//!
//!   cargo bench --manifest-path native/store/bench/Cargo.toml -- --quick     (npm run bench:cargo)
//!
//! Logs live in temp dirs in the page cache; nothing here fsyncs inside a
//! timed region except what `Log::open` itself does.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fjord_store::batch::{crc_is_valid, validate_append};
use fjord_store::{BatchHeader, Log, LogConfig, Record, RecordBatchBuilder};
use tempfile::TempDir;

const NOW: i64 = 1_700_000_000_000;
const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;
/// Kafka's default max.message.bytes: the 1 MiB batch must fit it.
const MAX_MESSAGE_BYTES: usize = 1_048_588;

/// `count` records of `value_bytes` bytes each (no key), timestamps `first_ts`, `first_ts` + 1, ...
fn batch(count: usize, value_bytes: usize, first_ts: i64) -> Vec<u8> {
    let value: Vec<u8> = (0..value_bytes).map(|i| (i * 31 + 7) as u8).collect();
    let mut builder = RecordBatchBuilder::new();
    for i in 0..count {
        builder.push(&Record { key: None, value: Some(&value), headers: vec![], timestamp: first_ts + i as i64 });
    }
    builder.build()
}

/// As many 1 KiB records as fit one batch of at most 1 MiB.
fn one_mib_batch() -> Vec<u8> {
    let mut count = MIB / KIB;
    loop {
        let bytes = batch(count, KIB, NOW);
        if bytes.len() <= MIB {
            assert!(bytes.len() <= MAX_MESSAGE_BYTES);
            return bytes;
        }
        count -= 1;
    }
}

/// Offsets spread over `0..end` in a fixed, scattered order (multiplicative hashing),
/// so successive lookups land in different segments and index entries.
fn scattered(end: i64, n: usize) -> Vec<i64> {
    (0..n as u64).map(|i| (i.wrapping_mul(2_654_435_761) % end as u64) as i64).collect()
}

/// The page-cache path: every TRIM_BYTES the log is cut back to empty (untimed), so no
/// segment rolls and nothing is written back inside a measurement (with rolls, the
/// background fsync of each sealed segment made the disk part of the measurement).
fn append(c: &mut Criterion) {
    const TRIM_BYTES: usize = 128 * MIB;
    let config = LogConfig { segment_bytes: 2 * TRIM_BYTES as u64, ..LogConfig::default() };
    let mut group = c.benchmark_group("append");
    for (name, bytes) in [("16 x 1 KiB records", batch(16, KIB, NOW)), ("1 MiB batch of 1 KiB records", one_mib_batch())] {
        let dir = TempDir::new().unwrap();
        let log = Log::open(dir.path(), config).unwrap();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(name, |b| {
            let per_trim = (TRIM_BYTES / bytes.len()).max(1) as u64;
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let n = left.min(per_trim);
                    let start = Instant::now();
                    for _ in 0..n {
                        black_box(log.append(black_box(&bytes), NOW).unwrap());
                    }
                    timed += start.elapsed();
                    log.truncate_to(0).unwrap();
                    left -= n;
                }
                timed
            });
        });
        log.close().unwrap();
    }
    group.finish();
}

/// A log of `batches` batches of 16 records of 1 KiB, in segments of `segment_bytes`;
/// the record at offset o has timestamp NOW + o.
fn filled_log(dir: &TempDir, batches: usize, segment_bytes: usize) -> Log {
    let log = Log::open(dir.path(), LogConfig { segment_bytes: segment_bytes as u64, ..LogConfig::default() }).unwrap();
    for b in 0..batches {
        log.append(&batch(16, KIB, NOW + (b * 16) as i64), NOW).unwrap();
    }
    log
}

fn lookups(c: &mut Criterion) {
    let dir = TempDir::new().unwrap();
    let log = filled_log(&dir, 4096, 4 * MIB);
    let end = log.log_end_offset().unwrap();
    let segments = log.segments().unwrap().len();
    let offsets = scattered(end, 4096);
    // Checked once, untimed: each lookup lands on the batch that holds its offset.
    for &offset in &offsets[..64] {
        let slice = log.read(offset, 1).unwrap().unwrap();
        let header = BatchHeader::parse(slice.bytes()).unwrap();
        assert!(header.base_offset <= offset && offset <= header.last_offset());
        assert_eq!(log.offset_for_timestamp(NOW + offset).unwrap(), Some(offset));
    }
    println!("lookups: {end} offsets in 4096 batches of 16 x 1 KiB over {segments} segments");

    let mut group = c.benchmark_group("lookup");
    group.throughput(Throughput::Elements(1));
    for (name, max_bytes) in [("read one batch at an offset", 1), ("read up to 1 MiB at an offset", MIB)] {
        group.bench_function(name, |b| {
            let mut i = 0;
            b.iter(|| {
                let offset = offsets[i % offsets.len()];
                i += 1;
                let slice = log.read(offset, max_bytes).unwrap().unwrap();
                black_box((slice.start, slice.len, slice.next_offset))
            });
        });
    }
    group.bench_function("offset_for_timestamp", |b| {
        let mut i = 0;
        b.iter(|| {
            let offset = offsets[i % offsets.len()];
            i += 1;
            black_box(log.offset_for_timestamp(black_box(NOW + offset)).unwrap())
        });
    });
    group.finish();
    log.close().unwrap();
}

fn validation(c: &mut Criterion) {
    let bytes = one_mib_batch();
    let header = BatchHeader::parse(&bytes).unwrap();
    let mut group = c.benchmark_group("validate 1 MiB batch");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("CRC-32C", |b| b.iter(|| assert!(crc_is_valid(black_box(&bytes), &header))));
    group.bench_function("validate_append (CRC + record framing)", |b| {
        b.iter(|| black_box(validate_append(black_box(&bytes), MAX_MESSAGE_BYTES as u64).unwrap()))
    });
    group.finish();
}

fn open(c: &mut Criterion) {
    const SEGMENT_BYTES: usize = MIB;
    let config = LogConfig { segment_bytes: SEGMENT_BYTES as u64, ..LogConfig::default() };
    let mut group = c.benchmark_group("open");
    group.sample_size(10);
    for segments in [16usize, 128] {
        // About one batch of 16 x 1 KiB short of a full segment each, so the log has `segments` segments.
        let batches_per_segment = SEGMENT_BYTES / batch(16, KIB, NOW).len();
        let dir = TempDir::new().unwrap();
        let log = filled_log(&dir, segments * batches_per_segment, SEGMENT_BYTES);
        assert_eq!(log.segments().unwrap().len(), segments);
        let bytes = log.size().unwrap();
        // A crash before any flush leaves the recovery point at 0: every segment is
        // re-read (length, offsets, CRC-32C) and its indexes rebuilt, on every open.
        log.simulate_crash();

        group.throughput(Throughput::Bytes(bytes));
        group.bench_with_input(BenchmarkId::new("after a crash", format!("{segments} segments")), &segments, |b, &segments| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let log = Log::open(dir.path(), config).unwrap();
                    timed += start.elapsed();
                    assert_eq!(log.recovery_report().segments_recovered as usize, segments);
                    log.simulate_crash();
                }
                timed
            });
        });

        // One recovering open and a clean close; from then on every open is clean.
        Log::open(dir.path(), config).unwrap().close().unwrap();
        group.throughput(Throughput::Elements(segments as u64));
        group.bench_with_input(BenchmarkId::new("clean", format!("{segments} segments")), &segments, |b, _| {
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    let log = Log::open(dir.path(), config).unwrap();
                    timed += start.elapsed();
                    assert!(log.recovery_report().clean_shutdown);
                    log.close().unwrap();
                }
                timed
            });
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = append, lookups, validation, open
}
criterion_main!(benches);
