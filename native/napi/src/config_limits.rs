//! The store's one table of setting limits (`fjord_store::CONFIG_LIMITS`),
//! which the TypeScript layer checks topic configs and log options against.

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::no_panic::no_panic;

/// JavaScript numbers hold integers exactly up to 2^53 − 1 (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// Inclusive bounds of one numeric setting, and its Kafka default.
#[napi(object)]
pub struct ConfigLimit {
    /// Kafka's topic config name, e.g. `segment.bytes`.
    pub name: String,
    pub min: f64,
    /// The store's "no maximum" (`i64::MAX`) reads as `Number.MAX_SAFE_INTEGER`,
    /// the largest integer a JavaScript number carries exactly.
    pub max: f64,
    pub default: f64,
}

/// Every numeric setting the store checks, with its bounds and default.
#[napi]
pub fn config_limits(env: &Env) -> Result<Vec<ConfigLimit>> {
    no_panic(env, "config limits", || Ok(config_limit_list()))
}

fn config_limit_list() -> Vec<ConfigLimit> {
    fjord_store::CONFIG_LIMITS
        .iter()
        .map(|l| ConfigLimit {
            name: l.name.to_string(),
            min: l.min.min(MAX_SAFE_INTEGER) as f64,
            max: l.max.min(MAX_SAFE_INTEGER) as f64,
            default: l.default.min(MAX_SAFE_INTEGER) as f64,
        })
        .collect()
}
