//! Producer id allocation for a data directory, as a Kafka broker's
//! `ProducerIdManager` hands out ids: a counter kept durably in
//! `<data dir>/producer-id-counter` (checkpoint format: `0`, then the next
//! id), advanced before an id is given, so no id is handed out twice across
//! restarts. The caller passes a floor (one past the largest producer id its
//! logs hold, e.g. from a Kafka broker's adopted partitions) so that a new id
//! never collides with one already in a log.

use std::path::Path;
use std::sync::Mutex;

use crate::checkpoint;
use crate::error::{Result, StoreError};

pub const PRODUCER_ID_COUNTER: &str = "producer-id-counter";

/// One allocation at a time in the process (worker threads share the addon).
static ALLOCATING: Mutex<()> = Mutex::new(());

/// A new producer id, at least `floor` and above every id given out before.
pub fn allocate_producer_id(data_dir: &Path, floor: i64) -> Result<i64> {
    let _one_at_a_time = ALLOCATING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let next = checkpoint::read_offset(data_dir, PRODUCER_ID_COUNTER).unwrap_or(0).max(floor).max(0);
    if next == i64::MAX {
        return Err(StoreError::InvalidConfig("producer ids are exhausted".into()));
    }
    checkpoint::write_offset(data_dir, PRODUCER_ID_COUNTER, next + 1)?;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_never_given_twice_and_stay_above_the_floor() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(allocate_producer_id(dir.path(), 0).unwrap(), 0);
        assert_eq!(allocate_producer_id(dir.path(), 0).unwrap(), 1);
        assert_eq!(allocate_producer_id(dir.path(), 1000).unwrap(), 1000);
        assert_eq!(allocate_producer_id(dir.path(), 5).unwrap(), 1001);
        assert_eq!(std::fs::read_to_string(dir.path().join(PRODUCER_ID_COUNTER)).unwrap(), "0\n1002\n");
    }
}
