//! Arbitrary bytes handed to append validation: rejected with an error, or
//! accepted as whole well-formed batches that append and read back byte for
//! byte (offsets assigned by the log).
#![no_main]

use fjord_store::batch::{record_timestamps, validate_append, BatchHeader, MAGIC};
use fjord_store::{Log, StoreError};
use fjord_store_fuzz::{restamp_crcs, scratch_dir, small_config, whole_valid_batches};
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_700_000_000_000;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut input = rest.to_vec();
    if mode & 1 == 1 {
        restamp_crcs(&mut input);
    }
    let max_message_bytes = if mode & 2 == 2 { 200 } else { 1 << 20 };
    let verdict = validate_append(&input, max_message_bytes);

    let dir = scratch_dir();
    let config = fjord_store::LogConfig { max_message_bytes, ..small_config() };
    let log = Log::open_at(dir.path(), config, NOW).unwrap();
    let appended = log.append(&input, NOW);
    match verdict {
        Err(e) => {
            assert!(
                matches!(e, StoreError::InvalidRecord { .. } | StoreError::CorruptRecord { .. } | StoreError::RecordTooLarge { .. }),
                "unexpected error {e:?}"
            );
            assert!(appended.is_err(), "the log accepted what validation rejected");
            assert_eq!(log.log_end_offset().unwrap(), 0);
            assert_eq!(log.size().unwrap(), 0);
        }
        Ok(batches) => {
            let mut pos = 0;
            let mut records = 0i64;
            for b in &batches {
                assert_eq!(b.position, pos, "batches must tile the input");
                let h = b.header;
                assert_eq!(h.magic, MAGIC);
                assert!(h.records_count > 0 && h.last_offset_delta == h.records_count - 1);
                assert!(h.size as u64 <= max_message_bytes);
                if h.compression() == 0 {
                    let ts = record_timestamps(&input[pos..pos + h.size], &h).expect("validated records have timestamps");
                    assert_eq!(ts.len(), h.records_count as usize);
                }
                records += h.records_count as i64;
                pos += h.size;
            }
            assert_eq!(pos, input.len(), "batches must cover the input");
            if input.len() as u64 > config.segment_bytes {
                assert!(matches!(appended, Err(StoreError::RecordListTooLarge { .. })), "{appended:?}");
                return;
            }
            let info = appended.expect("validated input appends");
            assert_eq!((info.base_offset, info.last_offset), (0, records - 1));
            let slice = log.read(0, usize::MAX).unwrap().expect("appended batches read back");
            let stored = slice.bytes();
            assert_eq!(stored.len(), input.len());
            let mut offset = 0i64;
            for (b, (base, last)) in batches.iter().zip(whole_valid_batches(stored)) {
                assert_eq!((base, last), (offset, offset + b.header.last_offset_delta as i64));
                let (p, n) = (b.position, b.header.size);
                assert_eq!(&stored[p + 8..p + n], &input[p + 8..p + n], "stored batch differs from the input past its base offset");
                assert_eq!(BatchHeader::parse(&stored[p..]).unwrap().base_offset, offset);
                offset = last + 1;
            }
            assert_eq!(slice.next_offset, records);
        }
    }
});
