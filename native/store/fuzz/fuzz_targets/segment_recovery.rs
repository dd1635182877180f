//! A partition directory of arbitrary segment files (with or without
//! arbitrary indexes, checkpoints and a clean-shutdown marker) opened as a
//! `Log`: no panic, and appending works. When every segment was recovered
//! (no clean-shutdown marker, no recovery point) everything served reads back
//! as whole CRC-valid batches with increasing offsets, offset_for_timestamp
//! answers inside the log, and a clean reopen serves the same.
#![no_main]

use arbitrary::Arbitrary;
use fjord_store::{Log, Record, RecordBatchBuilder};
use fjord_store_fuzz::{append_and_read_back, read_everything, restamp_crcs, scratch_dir, small_config};
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_700_000_000_000;

#[derive(Arbitrary, Debug)]
enum Base {
    Small(u16),
    NearMax(u8),
    Negative(u8),
}

impl Base {
    fn offset(&self) -> i64 {
        match *self {
            Base::Small(b) => b as i64,
            Base::NearMax(d) => i64::MAX - d as i64,
            Base::Negative(d) => -(d as i64) - 1,
        }
    }
}

/// One batch the builder makes, `gap` offsets after the previous one.
#[derive(Arbitrary, Debug)]
struct BatchSpec {
    gap: u8,
    records: u8,
    timestamp: i16,
    value_len: u8,
}

#[derive(Arbitrary, Debug)]
struct SegmentFiles {
    base: Base,
    /// Well-formed batches first, then `tail` as raw bytes.
    batches: Vec<BatchSpec>,
    tail: Vec<u8>,
    /// (position, xor) byte flips over the whole file.
    flips: Vec<(u16, u8)>,
    /// Cut the file here, as a torn write would.
    cut: Option<u16>,
    /// Restamp the CRC of each whole batch, so structure is what gets tested.
    restamp: bool,
    index: Option<Vec<u8>>,
    timeindex: Option<Vec<u8>>,
}

impl SegmentFiles {
    fn log_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut offset = self.base.offset();
        for spec in self.batches.iter().take(8) {
            offset = offset.saturating_add(spec.gap as i64);
            let value = vec![b'v'; spec.value_len as usize];
            let mut b = RecordBatchBuilder::new();
            let records = spec.records % 4 + 1;
            for i in 0..records {
                b.push(&Record { key: None, value: Some(&value), headers: vec![], timestamp: NOW + spec.timestamp as i64 + i as i64 });
            }
            let mut bytes = b.build();
            bytes[..8].copy_from_slice(&offset.to_be_bytes());
            out.extend(bytes);
            offset = offset.saturating_add(records as i64);
        }
        out.extend(&self.tail);
        if !out.is_empty() {
            for &(at, xor) in &self.flips {
                let at = at as usize % out.len();
                out[at] ^= xor;
            }
        }
        if let Some(cut) = self.cut {
            out.truncate(cut as usize);
        }
        if self.restamp {
            restamp_crcs(&mut out);
        }
        out
    }
}

#[derive(Arbitrary, Debug)]
struct Input {
    segments: Vec<SegmentFiles>,
    clean_shutdown: bool,
    log_start_offset: Option<u16>,
    recovery_point: Option<u16>,
    max_read_bytes: u16,
    timestamps: Vec<i64>,
}

fn checkpoint(offset: u16) -> String {
    format!("0\n{offset}\n")
}

fuzz_target!(|input: Input| {
    let dir = scratch_dir();
    for seg in input.segments.iter().take(4) {
        let base = seg.base.offset();
        let name = |suffix: &str| dir.path().join(format!("{base:020}.{suffix}"));
        std::fs::write(name("log"), seg.log_bytes()).unwrap();
        if let Some(bytes) = &seg.index {
            std::fs::write(name("index"), bytes).unwrap();
        }
        if let Some(bytes) = &seg.timeindex {
            std::fs::write(name("timeindex"), bytes).unwrap();
        }
    }
    if input.clean_shutdown {
        std::fs::write(dir.path().join(".clean-shutdown"), b"").unwrap();
    }
    if let Some(o) = input.log_start_offset {
        std::fs::write(dir.path().join("log-start-offset"), checkpoint(o)).unwrap();
    }
    if let Some(o) = input.recovery_point {
        std::fs::write(dir.path().join("recovery-point-offset"), checkpoint(o)).unwrap();
    }

    let log = Log::open_at(dir.path(), small_config(), NOW).expect("a directory of damaged segments still opens");
    let max_bytes = input.max_read_bytes as usize;
    if input.clean_shutdown || input.recovery_point.is_some() {
        // A cleanly shut down log, and segments below the recovery point, are
        // trusted as Kafka trusts them (no CRC scan): no panic, and appending
        // must still work.
        let _ = read_everything_tolerant(&log, max_bytes);
        for &ts in &input.timestamps {
            let _ = log.offset_for_timestamp(ts);
        }
        let end = log.log_end_offset().unwrap();
        let _ = log.append(&one_batch(), NOW).map(|info| assert_eq!(info.base_offset, end));
        return;
    }
    let served = read_everything(&log, max_bytes);
    let (start, end) = (log.log_start_offset().unwrap(), log.log_end_offset().unwrap());
    for &ts in &input.timestamps {
        if let Some(offset) = log.offset_for_timestamp(ts).unwrap() {
            assert!(offset >= start && offset < end, "offset_for_timestamp({ts}) = {offset} outside [{start}, {end})");
        }
    }
    let appended = append_and_read_back(&log, 1, NOW) as i64;
    log.close().unwrap();
    drop(log);

    let log = Log::open_at(dir.path(), small_config(), NOW).unwrap();
    assert!(log.recovery_report().clean_shutdown);
    assert_eq!((log.log_start_offset().unwrap(), log.log_end_offset().unwrap()), (start, end + appended));
    let mut expected = served;
    if appended == 1 {
        expected.push((end, end));
    }
    assert_eq!(read_everything(&log, max_bytes), expected, "a clean reopen serves what was served before");
    append_and_read_back(&log, 2, NOW);
});

fn one_batch() -> Vec<u8> {
    let mut b = RecordBatchBuilder::new();
    b.push(&Record { value: Some(b"v"), timestamp: NOW, ..Default::default() });
    b.build()
}

/// Follows reads from the log start without judging the bytes.
fn read_everything_tolerant(log: &Log, max_bytes: usize) -> Option<()> {
    let mut offset = log.log_start_offset().ok()?;
    for _ in 0..10_000 {
        let slice = log.read(offset, max_bytes).ok()??;
        let _ = slice.bytes();
        if slice.next_offset <= offset {
            return None;
        }
        offset = slice.next_offset;
    }
    None
}
