//! The Redis plumbing that `token_sharing.rs` and `token_soak.rs` share: where the server
//! is, a key prefix of the run's own, and a store that is skipped (or, in CI, fails) when
//! no server answers. Included by `#[path]` in each; not a test target of its own.

use std::time::{SystemTime, UNIX_EPOCH};

use gree_ump::runtime::tokens::RedisTokenStore;

pub(crate) const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379/";

/// `REDIS_URL`, or the local default.
pub(crate) fn redis_url() -> String {
    std::env::var("REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_REDIS_URL.to_owned())
}

pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// A key prefix no other test or run uses: `gree-ump-test:{suite}:{test}:…`.
pub(crate) fn unique_prefix(suite: &str, test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "gree-ump-test:{suite}:{test}:{nanos:x}-{}:",
        std::process::id()
    )
}

/// A Redis store under a fresh prefix, or `None` (with a notice) when there is no server
/// and `CI` is not set.
pub(crate) async fn redis_store(suite: &str, test: &str) -> Option<RedisTokenStore> {
    match RedisTokenStore::connect(&redis_url(), unique_prefix(suite, test)).await {
        Ok(store) => Some(store),
        Err(e) if in_ci() => {
            panic!("CI is set but the Redis server of REDIS_URL cannot be reached: {e}")
        }
        Err(e) => {
            eprintln!(
                "SKIPPED {test}: no Redis server at REDIS_URL (default {DEFAULT_REDIS_URL}): \
                 {e}. Start one (`redis-server --port 6379`) to run it."
            );
            None
        }
    }
}

/// A plain connection, for what the tests do behind the store's back.
pub(crate) async fn raw_redis() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .expect("REDIS_URL")
        .get_multiplexed_async_connection()
        .await
        .expect("a plain Redis connection")
}
