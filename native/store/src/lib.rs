//! Fjord's segment store: one Kafka partition directory, byte for byte in
//! Apache Kafka's on-disk format (RecordBatch v2 `.log` segments with sparse
//! `.index` and `.timeindex` files), with crash recovery and zero-copy reads.
//! It knows nothing about Node; `fjord-napi` binds it.

pub mod batch;
mod checkpoint;
mod config;
pub mod error;
mod fetch_map;
mod gather;
// Public only to the fuzz targets (native/store/fuzz), which probe lookups directly.
#[cfg(feature = "fuzzing")]
pub mod index;
#[cfg(not(feature = "fuzzing"))]
mod index;
mod kafka_log_dir;
mod loader;
pub mod lock;
mod log;
mod log_file;
mod offline;
mod open_logs;
pub mod producer_ids;
pub mod producer_state;
mod read_check;
mod segment;
pub mod varint;
pub mod verify;

pub use crate::batch::{BatchHeader, Record, RecordBatchBuilder};
pub use crate::config::{ConfigLimit, LogConfig, TimestampType, CONFIG_LIMITS};
pub use crate::error::{OfflineCause, Result, StoreError};
pub use crate::fetch_map::{live_fetch_maps, FetchMap};
pub use crate::gather::Pieces;
pub use crate::loader::RecoveryReport;
pub use crate::lock::{DirLock, ReadOnlyDirLock};
pub use crate::log::{AppendInfo, Log, ReadSlice, SegmentInfo};
pub use crate::log_file::{live_read_maps, ReadMap};
pub use crate::offline::panic_message;
pub use crate::producer_ids::allocate_producer_id;
pub use crate::producer_state::{ProducerBatch, ProducerEntry};
pub use crate::verify::{verify_log_dir, LogCheck, Problem, ProblemKind};
