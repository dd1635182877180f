//! Host-thread election: of the threads of this process that open one data
//! directory, one (the host) owns its topic metadata and group coordinator;
//! the others reach it over a BroadcastChannel. See
//! `src/directory/shared-directory.ts`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};

use fjord_store::StoreError;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::errors::OrJsError;
use crate::no_panic::no_panic;

/// The host's token by canonical directory.
static HOSTS: LazyLock<Mutex<HashMap<PathBuf, u64>>> = LazyLock::new(Default::default);
static NEXT_HOST_TOKEN: AtomicU64 = AtomicU64::new(1);

/// A token for the first claimer of `dir` (until it releases with that token), `None` for others.
fn claim(dir: &Path) -> fjord_store::Result<Option<u64>> {
    let dir = dir.canonicalize().map_err(|e| StoreError::io("resolve", dir, e))?;
    let mut hosts = HOSTS.lock().unwrap_or_else(|e| e.into_inner());
    if hosts.contains_key(&dir) {
        return Ok(None);
    }
    let token = NEXT_HOST_TOKEN.fetch_add(1, Ordering::Relaxed);
    hosts.insert(dir, token);
    Ok(Some(token))
}

/// Gives the role up, if `token` still holds it.
fn release(dir: &Path, token: u64) {
    let Ok(dir) = dir.canonicalize() else { return };
    let mut hosts = HOSTS.lock().unwrap_or_else(|e| e.into_inner());
    if hosts.get(&dir) == Some(&token) {
        hosts.remove(&dir);
    }
}

/// Claims the host role for a data directory within this process: a token
/// (> 0) for the first claimer until it releases, 0 for the others.
#[napi]
pub fn claim_host(env: Env, dir: String) -> Result<f64> {
    no_panic(&env, "claim host", || {
        let Some(token) = claim(Path::new(&dir)).or_js_error(&env)? else { return Ok(0.0) };
        // A thread torn down without closing (worker.terminate()) must not keep
        // the role: another thread takes over. The hook runs outside any call,
        // so it must not unwind either.
        env.add_env_cleanup_hook((dir, token), |(dir, token)| {
            let _ = std::panic::catch_unwind(|| release(Path::new(&dir), token));
        })?;
        Ok(token as f64)
    })
}

#[napi]
pub fn release_host(env: Env, dir: String, token: f64) -> Result<()> {
    no_panic(&env, "release host", || {
        release(Path::new(&dir), token as u64);
        Ok(())
    })
}
