//! The per-log settings (the Kafka topic configs the store acts on), their
//! defaults, and the one table of their limits. The TypeScript layer reads
//! the same table through the binding (`configLimits()`), so a value that
//! passes its checks is one this store accepts.

use crate::batch;
use crate::error::{Result, StoreError};
use crate::segment::SegmentSizes;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampType {
    CreateTime,
    LogAppendTime,
}

/// Inclusive bounds of one numeric setting, and its Kafka default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigLimit {
    /// Kafka's topic config name, as messages and the TypeScript layer name it.
    pub name: &'static str,
    pub min: i64,
    /// `i64::MAX` when only the minimum is checked.
    pub max: i64,
    pub default: i64,
}

const INT_MAX: i64 = i32::MAX as i64;

/// A segment holds at least one batch header; positions in it are i32.
pub const SEGMENT_BYTES: ConfigLimit =
    ConfigLimit { name: "segment.bytes", min: batch::HEADER_SIZE as i64, max: INT_MAX, default: 1 << 30 };
pub const SEGMENT_MS: ConfigLimit = ConfigLimit { name: "segment.ms", min: 1, max: i64::MAX, default: 604_800_000 };
pub const SEGMENT_INDEX_BYTES: ConfigLimit = ConfigLimit { name: "segment.index.bytes", min: 24, max: INT_MAX, default: 10 << 20 };
pub const INDEX_INTERVAL_BYTES: ConfigLimit = ConfigLimit { name: "index.interval.bytes", min: 0, max: INT_MAX, default: 4096 };
pub const MAX_MESSAGE_BYTES: ConfigLimit = ConfigLimit { name: "max.message.bytes", min: 0, max: INT_MAX, default: 1_048_588 };

/// Every numeric setting of `LogConfig`, in its field order.
pub const CONFIG_LIMITS: [ConfigLimit; 5] = [SEGMENT_BYTES, SEGMENT_MS, SEGMENT_INDEX_BYTES, INDEX_INTERVAL_BYTES, MAX_MESSAGE_BYTES];

impl ConfigLimit {
    /// `InvalidConfig` naming the setting and its bounds when `value` is outside them.
    pub fn check(&self, value: impl Into<i128>) -> Result<()> {
        let value = value.into();
        if (self.min as i128..=self.max as i128).contains(&value) {
            return Ok(());
        }
        // The sizes are unsigned in `LogConfig`: a minimum of 0 cannot be broken, only the maximum is news.
        let rule = if self.max == i64::MAX {
            format!("at least {}", self.min)
        } else if self.min == 0 {
            format!("at most {}", self.max)
        } else {
            format!("in [{}, {}]", self.min, self.max)
        };
        Err(StoreError::InvalidConfig(format!("{} must be {rule}, got {value}", self.name)))
    }
}

/// The per-log settings, named and defaulted as Kafka's topic configs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    pub segment_bytes: u64,
    pub segment_ms: i64,
    pub segment_index_bytes: u64,
    pub index_interval_bytes: u64,
    pub max_message_bytes: u64,
    pub timestamp_type: TimestampType,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: SEGMENT_BYTES.default as u64,
            segment_ms: SEGMENT_MS.default,
            segment_index_bytes: SEGMENT_INDEX_BYTES.default as u64,
            index_interval_bytes: INDEX_INTERVAL_BYTES.default as u64,
            max_message_bytes: MAX_MESSAGE_BYTES.default as u64,
            timestamp_type: TimestampType::CreateTime,
        }
    }
}

impl LogConfig {
    pub fn validate(&self) -> Result<()> {
        SEGMENT_BYTES.check(self.segment_bytes)?;
        SEGMENT_MS.check(self.segment_ms)?;
        SEGMENT_INDEX_BYTES.check(self.segment_index_bytes)?;
        INDEX_INTERVAL_BYTES.check(self.index_interval_bytes)?;
        MAX_MESSAGE_BYTES.check(self.max_message_bytes)
    }

    pub(crate) fn sizes(&self) -> SegmentSizes {
        SegmentSizes {
            capacity: self.segment_bytes as usize,
            index_bytes: self.segment_index_bytes as usize,
            index_interval: self.index_interval_bytes as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(config: LogConfig) -> String {
        config.validate().expect_err("out of bounds").to_string()
    }

    #[test]
    fn each_limit_names_its_bounds() {
        let d = LogConfig::default();
        assert_eq!(d.validate().ok(), Some(()));
        assert_eq!(message(LogConfig { segment_bytes: 60, ..d }), "invalid log config: segment.bytes must be in [61, 2147483647], got 60");
        assert_eq!(message(LogConfig { segment_ms: 0, ..d }), "invalid log config: segment.ms must be at least 1, got 0");
        assert_eq!(
            message(LogConfig { segment_index_bytes: 1 << 31, ..d }),
            "invalid log config: segment.index.bytes must be in [24, 2147483647], got 2147483648"
        );
        assert_eq!(
            message(LogConfig { index_interval_bytes: u64::MAX, ..d }),
            "invalid log config: index.interval.bytes must be at most 2147483647, got 18446744073709551615"
        );
        assert_eq!(
            message(LogConfig { max_message_bytes: 1 << 31, ..d }),
            "invalid log config: max.message.bytes must be at most 2147483647, got 2147483648"
        );
    }

    #[test]
    fn bounds_are_inclusive() {
        let d = LogConfig::default();
        let lowest =
            LogConfig { segment_bytes: 61, segment_ms: 1, segment_index_bytes: 24, index_interval_bytes: 0, max_message_bytes: 0, ..d };
        assert_eq!(lowest.validate().ok(), Some(()));
        let max = i32::MAX as u64;
        let highest = LogConfig {
            segment_bytes: max,
            segment_ms: i64::MAX,
            segment_index_bytes: max,
            index_interval_bytes: max,
            max_message_bytes: max,
            ..d
        };
        assert_eq!(highest.validate().ok(), Some(()));
    }
}
