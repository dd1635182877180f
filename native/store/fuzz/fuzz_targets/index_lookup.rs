//! Arbitrary `.index` / `.timeindex` file contents and lookups: no panic, and
//! every answer is the segment start or a position or offset the file holds;
//! on a file that passes the sanity check, exactly the floor entry.
#![no_main]

use arbitrary::Arbitrary;
use fjord_store::index::{OffsetIndex, TimeIndex};
use fjord_store_fuzz::scratch_dir;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    offset_file: Vec<u8>,
    time_file: Vec<u8>,
    /// Open for appending (preallocated, then pushed to) instead of read-only.
    writable: bool,
    capacity_entries: u8,
    pushes: Vec<(i32, u32, i64)>,
    log_size: u16,
    offset_lookups: Vec<i64>,
    time_lookups: Vec<i64>,
}

fn be_i32(b: &[u8]) -> i32 {
    i32::from_be_bytes(b.try_into().unwrap())
}

fuzz_target!(|input: Input| {
    let dir = scratch_dir();
    let offset_path = dir.path().join("00000000000000000000.index");
    let time_path = dir.path().join("00000000000000000000.timeindex");
    std::fs::write(&offset_path, &input.offset_file).unwrap();
    std::fs::write(&time_path, &input.time_file).unwrap();
    let capacity = input.capacity_entries as usize * 12;
    let mut offsets = OffsetIndex::open(&offset_path, capacity, input.writable, false).unwrap();
    let mut times = TimeIndex::open(&time_path, capacity, input.writable, false).unwrap();

    // The model: the whole entries the file held, then what was pushed.
    let mut offset_entries: Vec<(i32, u32)> =
        input.offset_file.chunks_exact(8).map(|e| (be_i32(&e[..4]), be_i32(&e[4..]) as u32)).collect();
    let mut time_entries: Vec<(i64, i32)> =
        input.time_file.chunks_exact(12).map(|e| (i64::from_be_bytes(e[..8].try_into().unwrap()), be_i32(&e[8..]))).collect();
    assert_eq!(offsets.len(), offset_entries.len());
    assert_eq!(times.len(), time_entries.len());
    if input.writable {
        for &(rel, pos, ts) in &input.pushes {
            if !offsets.is_full() {
                offsets.push(rel, pos);
                offset_entries.push((rel, pos));
            }
            let before = times.len();
            times.maybe_push(ts, rel, false);
            if times.len() > before {
                time_entries.push((ts, rel));
            }
        }
    }
    for (i, e) in offset_entries.iter().enumerate() {
        assert_eq!(offsets.entry(i), *e);
    }
    for (i, e) in time_entries.iter().enumerate() {
        assert_eq!(times.entry(i), *e);
    }

    let offsets_sane = offsets.is_consistent(input.log_size as usize);
    for &target in &input.offset_lookups {
        let found = offsets.lookup(target);
        assert!(found == 0 || offset_entries.iter().any(|&(_, p)| p == found), "lookup({target}) gave position {found}, held by no entry");
        if offsets_sane {
            let floor = offset_entries.iter().rev().find(|&&(rel, _)| rel as i64 <= target).map_or(0, |&(_, p)| p);
            assert_eq!(found, floor, "lookup({target}) on a sane index");
            assert!((found as usize) < (input.log_size as usize).max(1));
        }
    }
    let times_sane = times.is_consistent(i32::MAX as i64);
    for &target in &input.time_lookups {
        let found = times.lookup(target);
        assert!(
            found.is_none_or(|rel| time_entries.iter().any(|&(_, r)| r == rel)),
            "time lookup({target}) gave {found:?}, held by no entry"
        );
        if times_sane {
            let floor = time_entries.iter().rev().find(|&&(ts, _)| ts <= target).map(|&(_, rel)| rel);
            assert_eq!(found, floor, "time lookup({target}) on a sane index");
        }
    }
    offsets.trim().unwrap();
    times.trim().unwrap();
    assert_eq!(std::fs::metadata(&offset_path).unwrap().len(), offset_entries.len() as u64 * 8);
    assert_eq!(std::fs::metadata(&time_path).unwrap().len(), time_entries.len() as u64 * 12);
});
