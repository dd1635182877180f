//! Log settings as the TypeScript layer passes them, and back.

use fjord_store::{LogConfig, StoreError, TimestampType};
use napi_derive::napi;

/// Log settings in camelCase, as the TypeScript layer passes them.
#[napi(object)]
#[derive(Default)]
pub struct LogOptions {
    pub segment_bytes: Option<f64>,
    pub segment_ms: Option<f64>,
    pub segment_index_bytes: Option<f64>,
    pub index_interval_bytes: Option<f64>,
    pub max_message_bytes: Option<f64>,
    /// `CreateTime` or `LogAppendTime`.
    pub message_timestamp_type: Option<String>,
}

impl LogOptions {
    pub(crate) fn to_config(&self) -> fjord_store::Result<LogConfig> {
        let d = LogConfig::default();
        let timestamp_type = match self.message_timestamp_type.as_deref() {
            None | Some("CreateTime") => TimestampType::CreateTime,
            Some("LogAppendTime") => TimestampType::LogAppendTime,
            Some(other) => {
                return Err(StoreError::InvalidConfig(format!("message.timestamp.type must be CreateTime or LogAppendTime, got {other}")))
            }
        };
        Ok(LogConfig {
            segment_bytes: self.segment_bytes.map_or(d.segment_bytes, |v| v as u64),
            segment_ms: self.segment_ms.map_or(d.segment_ms, |v| v as i64),
            segment_index_bytes: self.segment_index_bytes.map_or(d.segment_index_bytes, |v| v as u64),
            index_interval_bytes: self.index_interval_bytes.map_or(d.index_interval_bytes, |v| v as u64),
            max_message_bytes: self.max_message_bytes.map_or(d.max_message_bytes, |v| v as u64),
            timestamp_type,
        })
    }

    pub(crate) fn from_config(c: &LogConfig) -> LogOptions {
        LogOptions {
            segment_bytes: Some(c.segment_bytes as f64),
            segment_ms: Some(c.segment_ms as f64),
            segment_index_bytes: Some(c.segment_index_bytes as f64),
            index_interval_bytes: Some(c.index_interval_bytes as f64),
            max_message_bytes: Some(c.max_message_bytes as f64),
            message_timestamp_type: Some(
                match c.timestamp_type {
                    TimestampType::CreateTime => "CreateTime",
                    TimestampType::LogAppendTime => "LogAppendTime",
                }
                .into(),
            ),
        }
    }
}
