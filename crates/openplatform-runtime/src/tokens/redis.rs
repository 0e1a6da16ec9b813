//! The Redis token store: token state shared by any number of processes and hosts.
//!
//! Keys, per app id, under the store's prefix (which ends with a separator: `:` is
//! added to one that has none, see [`RedisTokenStore::connect`]):
//!
//! | key | type | holds | expires |
//! | --- | --- | --- | --- |
//! | `<prefix><app>:record` | hash | `version`, `record` (the [`TokenRecord`] JSON, with the tokens) | never: the refresh token lives a year |
//! | `<prefix><app>:lock` | string | the refresh lock's owner | after the lease (`SET NX PX`) |
//! | `<prefix><app>:budget:<kind>:<day>` | string | the day's count of token calls | 3 days after the last count |
//! | `<prefix><app>:note:<name>` | string | a note of the manager's (the pending-obtain marker; no secret) | never |
//!
//! Writes are Lua scripts, so each is atomic on the server: compare-and-set checks the
//! `version` field as a string (exact for every `u64`), unlock deletes only its own
//! owner's lock, a budget counts only below its limit.
//!
//! The record holds the tokens in clear: protect the Redis server (password or ACL,
//! TLS or a private network) as you would the tokens themselves.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, Script, Value};

use super::file::decode_record;
use super::{BudgetKind, BudgetTake, StoreError, StoreFuture, TokenRecord, TokenStore};

/// Connection attempts after the first one that fail before an operation gives up.
const CONNECT_RETRIES: usize = 3;

/// A budget counter outlives its platform day by two days, then Redis drops it.
const BUDGET_TTL_SECONDS: u64 = 3 * 24 * 3600;

/// `KEYS[1]` record hash; `ARGV[1]` expected version (`""`: no record); `ARGV[2]` new
/// version; `ARGV[3]` record JSON. Returns 1 when it wrote.
static COMPARE_AND_SET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local exists = redis.call('EXISTS', KEYS[1])
if ARGV[1] == '' then
  if exists == 1 then return 0 end
else
  if exists == 0 then return 0 end
  if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then return 0 end
end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'record', ARGV[3])
redis.call('PERSIST', KEYS[1])
return 1
",
    )
});

/// `KEYS[1]` a key written under the prefix without its separator, `KEYS[2]` the same
/// key under the separated prefix. Moves it when the new one does not exist (1); leaves
/// both when it does (-1: the new one wins); 0 when there was nothing to move.
static ADOPT_KEY: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
redis.call('RENAME', KEYS[1], KEYS[2])
return 1
",
    )
});

/// A budget count under the old prefix, added to the new key's (`KEYS[2]`) and deleted:
/// counts of one day from both add up, so a budget is never reset by the move.
/// `ARGV[1]`: the counter's lifetime in seconds.
static ADOPT_COUNT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local old = redis.call('GET', KEYS[1])
if not old then return 0 end
redis.call('INCRBY', KEYS[2], tonumber(old) or 0)
redis.call('EXPIRE', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[1])
return 1
",
    )
});

/// `KEYS[1]` lock key; `ARGV[1]` owner. Deletes the lock only if `owner` holds it.
static UNLOCK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
",
    )
});

/// `KEYS[1]` budget counter; `ARGV[1]` limit; `ARGV[2]` TTL in seconds.
/// Returns `{granted (0|1), used}`.
static TAKE_BUDGET: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used == nil then
  return redis.error_reply('ERR budget counter is not a number')
end
if used >= tonumber(ARGV[1]) then
  return {0, used}
end
used = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return {1, used}
",
    )
});

/// `KEYS[1]` budget counter. Uncounts one call, never below zero.
static GIVE_BACK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used ~= nil and used > 0 then
  redis.call('DECR', KEYS[1])
end
return 0
",
    )
});

/// `KEYS[1]` lock key; `ARGV[1]` owner; `ARGV[2]` lease in ms. Extends the lease only
/// if `owner` holds the lock. Returns 1 when it does.
static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
",
    )
});

/// The reply timeout set on the connection: long enough that a busy host (CPU-starved
/// client, a Redis doing a snapshot) is not an error, short enough to stay below the
/// token manager's own per-operation timeout, which bounds every wait.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(4);
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(1);

/// Token state in Redis, shared by every process and host that uses the same server and
/// key prefix. Clones share the connection.
///
/// ```no_run
/// # async fn f() -> Result<(), openplatform_runtime::tokens::StoreError> {
/// use openplatform_runtime::tokens::RedisTokenStore;
/// let store = RedisTokenStore::connect("redis://127.0.0.1:6379/", "my-mall:ump:").await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisTokenStore {
    connection: ConnectionManager,
    prefix: Arc<str>,
    /// The prefix as given, when a separator was added to it: earlier versions wrote
    /// their keys there, and each app's are adopted on its first use.
    unseparated: Option<Arc<str>>,
    /// App keys whose old keys this store has adopted (or found none).
    adopted: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

/// Characters a key prefix may end with and count as separated.
const SEPARATORS: [char; 6] = [':', '/', '.', '-', '_', '|'];

/// `prefix` ending with a separator: `pos-sync` gives `pos-sync:`. Empty stays empty.
fn separated(prefix: String) -> (String, Option<String>) {
    if prefix.is_empty() || prefix.ends_with(SEPARATORS) {
        (prefix, None)
    } else {
        (format!("{prefix}:"), Some(prefix))
    }
}

/// `text` with the glob characters of `SCAN MATCH` escaped.
fn glob_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

impl fmt::Debug for RedisTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The connection's Debug would show the server's address and user: leave it out.
        f.debug_struct("RedisTokenStore")
            .field("key_prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisTokenStore {
    /// Connects to the Redis server at `url` (`redis://[user:password@]host:port/db`,
    /// `rediss://` for TLS if the `redis` crate is built with a TLS feature) through a
    /// `redis::aio::ConnectionManager`, which reconnects by itself. Fails when the server cannot be
    /// reached now. `key_prefix` is put in front of every key, e.g. `"my-mall:ump:"`; one
    /// that ends with none of `: / . - _ |` gets a `:` (`"pos-sync"` → `"pos-sync:"`), and
    /// the keys an earlier version wrote under it as given (`pos-syncgree-ump/…`) are
    /// adopted on each app's first use: its record, its budget counts (added to any under
    /// the new key, so no day's budget starts again) and its notes. Upgrade every process
    /// sharing the prefix together: an older one still writes the old keys.
    pub async fn connect(url: &str, key_prefix: impl Into<String>) -> Result<Self, StoreError> {
        // The URL may hold a password: it is never part of an error text.
        let client = redis::Client::open(url).map_err(|e| {
            StoreError::backend(format!("the Redis URL is not valid ({})", e.category()))
        })?;
        // 1 s to connect and 4 s per reply (the crate's 500 ms fired on CPU-starved CI
        // machines), and fewer connection retries than its 6: a caller waiting for a
        // token learns of a dead server in about a second rather than ten. Later calls
        // reconnect by themselves; the token manager bounds every operation anyway.
        let config = ConnectionManagerConfig::new()
            .set_number_of_retries(CONNECT_RETRIES)
            .set_connection_timeout(Some(CONNECTION_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| redis_error("connect", &e, &[]))?;
        Ok(Self::new(connection, key_prefix))
    }

    /// A store on a connection you configured yourself (timeouts, retries, TLS).
    /// The prefix is completed and old keys adopted as in [`RedisTokenStore::connect`].
    pub fn new(connection: ConnectionManager, key_prefix: impl Into<String>) -> Self {
        let (prefix, unseparated) = separated(key_prefix.into());
        RedisTokenStore {
            connection,
            prefix: Arc::from(prefix),
            unseparated: unseparated.map(Arc::from),
            adopted: Arc::default(),
        }
    }

    /// Moves the keys of app `key` written under the unseparated prefix, once per app
    /// and store. Each key moves atomically on the server; a key present under both
    /// prefixes keeps the new one (an older process wrote the old one since: logged).
    async fn adopt(&self, key: &str) -> Result<(), StoreError> {
        let Some(old_prefix) = &self.unseparated else {
            return Ok(());
        };
        if self.adopted.lock().map_or(true, |done| done.contains(key)) {
            return Ok(());
        }
        let old_base = format!("{old_prefix}{key}:");
        let pattern = format!("{}*", glob_escaped(&old_base));
        let mut connection = self.connection.clone();
        let mut cursor: u64 = 0;
        loop {
            let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut connection)
                .await
                .map_err(|e| redis_error("adopt old keys", &e, &[]))?;
            for old in found {
                let Some(rest) = old.strip_prefix(&old_base) else {
                    continue;
                };
                let new = format!("{}{key}:{rest}", self.prefix);
                let script = if rest.starts_with("budget:") {
                    &*ADOPT_COUNT
                } else {
                    &*ADOPT_KEY
                };
                let moved: i64 = script
                    .key(&old)
                    .key(&new)
                    .arg(BUDGET_TTL_SECONDS)
                    .invoke_async(&mut connection)
                    .await
                    .map_err(|e| redis_error("adopt old keys", &e, &[]))?;
                if moved < 0 {
                    tracing::warn!(old = %old, new = %new, "a token key exists under the prefix with and without its separator; the separated one is used");
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        if let Ok(mut done) = self.adopted.lock() {
            done.insert(key.to_owned());
        }
        Ok(())
    }

    /// The prefix in front of every key of this store.
    pub fn key_prefix(&self) -> &str {
        &self.prefix
    }

    /// The key of the hash that holds the record of app `key`.
    pub fn record_key(&self, key: &str) -> String {
        format!("{}{key}:record", self.prefix)
    }

    fn lock_key(&self, key: &str) -> String {
        format!("{}{key}:lock", self.prefix)
    }

    fn budget_key(&self, key: &str, kind: BudgetKind, day: i64) -> String {
        format!("{}{key}:budget:{}:{day}", self.prefix, kind.as_str())
    }

    fn note_key(&self, key: &str, name: &str) -> String {
        format!("{}{key}:note:{name}", self.prefix)
    }
}

/// A [`StoreError`] for a failed Redis operation. Its text has the error's category and
/// code, and the detail of I/O errors (the OS error) and of server errors (the server's
/// message); never the client's parse or type errors, which quote the value received, and
/// `secrets` are masked in case a server echoes an argument.
fn redis_error(op: &str, e: &RedisError, secrets: &[&str]) -> StoreError {
    use std::error::Error as _;
    let mut message = format!("redis {op} failed: {}", e.category());
    if let Some(code) = e.code() {
        message.push_str(&format!(" ({code})"));
    }
    let io = e.is_io_error() || e.is_timeout() || e.is_connection_dropped();
    let server = matches!(
        e.kind(),
        redis::ErrorKind::Server(_) | redis::ErrorKind::Extension
    );
    let detail = if io {
        e.source()
            .map(|source| source.to_string())
            .or_else(|| e.detail().map(str::to_owned))
    } else if server {
        e.detail().map(str::to_owned)
    } else {
        None
    };
    if let Some(detail) = detail.filter(|d| !d.is_empty()) {
        message.push_str(": ");
        message.push_str(&detail);
    }
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        message = message.replace(secret, "[REDACTED]");
    }
    if e.is_timeout() {
        StoreError::timeout(message)
    } else if io {
        StoreError::io(message)
    } else {
        StoreError::backend(message)
    }
}

fn lease_millis(lease: Duration) -> u64 {
    // `PX 0` is an error, and so is an expiry Redis cannot add to its clock: a lease is
    // at least a millisecond and at most a century (forever, for a refresh lock).
    const CENTURY_MS: u64 = 100 * 365 * 24 * 3_600_000;
    u64::try_from(lease.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, CENTURY_MS)
}

fn decode_stored(
    record_key: &str,
    fields: &HashMap<String, Vec<u8>>,
) -> Result<Option<TokenRecord>, StoreError> {
    if fields.is_empty() {
        // Redis has no empty hash: the key does not exist.
        return Ok(None);
    }
    let origin = format!("redis key {record_key}");
    let Some(json) = fields.get("record") else {
        return Err(StoreError::corrupt(format!(
            "{origin}: has no `record` field"
        )));
    };
    let record = decode_record(json, &origin)?;
    let version = fields.get("version").map(|v| v.as_slice());
    if version != Some(record.version.to_string().as_bytes()) {
        return Err(StoreError::corrupt(format!(
            "{origin}: its `version` field does not match the record's version {}",
            record.version
        )));
    }
    Ok(Some(record))
}

impl TokenStore for RedisTokenStore {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<TokenRecord>> {
        Box::pin(async move {
            self.adopt(key).await?;
            let record_key = self.record_key(key);
            let mut connection = self.connection.clone();
            let fields: HashMap<String, Vec<u8>> = redis::cmd("HGETALL")
                .arg(&record_key)
                .query_async(&mut connection)
                .await
                .map_err(|e| redis_error("load", &e, &[]))?;
            decode_stored(&record_key, &fields)
        })
    }

    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: Option<u64>,
        record: &'a TokenRecord,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            self.adopt(key).await?;
            let mut connection = self.connection.clone();
            let expected = expected.map(|v| v.to_string()).unwrap_or_default();
            let wrote: i64 = COMPARE_AND_SET
                .key(self.record_key(key))
                .arg(expected)
                .arg(record.version.to_string())
                .arg(record.to_json())
                .invoke_async(&mut connection)
                .await
                .map_err(|e| {
                    redis_error(
                        "compare-and-set",
                        &e,
                        &[record.access_token.expose(), record.refresh_token.expose()],
                    )
                })?;
            Ok(wrote == 1)
        })
    }

    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        lease: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            self.adopt(key).await?;
            let mut connection = self.connection.clone();
            let reply: Value = redis::cmd("SET")
                .arg(self.lock_key(key))
                .arg(owner)
                .arg("NX")
                .arg("PX")
                .arg(lease_millis(lease))
                .query_async(&mut connection)
                .await
                .map_err(|e| redis_error("lock", &e, &[]))?;
            Ok(!matches!(reply, Value::Nil))
        })
    }

    fn unlock<'a>(&'a self, key: &'a str, owner: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.adopt(key).await?;
            let mut connection = self.connection.clone();
            let _deleted: i64 = UNLOCK
                .key(self.lock_key(key))
                .arg(owner)
                .invoke_async(&mut connection)
                .await
                .map_err(|e| redis_error("unlock", &e, &[]))?;
            Ok(())
        })
    }

    fn take_budget<'a>(
        &'a self,
        key: &'a str,
        kind: BudgetKind,
        day: i64,
        limit: u32,
    ) -> StoreFuture<'a, BudgetTake> {
        Box::pin(async move {
            self.adopt(key).await?;
            let mut connection = self.connection.clone();
            let (granted, used): (i64, i64) = TAKE_BUDGET
                .key(self.budget_key(key, kind, day))
                .arg(limit)
                .arg(BUDGET_TTL_SECONDS)
                .invoke_async(&mut connection)
                .await
                .map_err(|e| redis_error("take budget", &e, &[]))?;
            let used = u32::try_from(used).map_err(|_| {
                StoreError::corrupt(format!(
                    "redis key {}: budget counter {used} is out of range",
                    self.budget_key(key, kind, day)
                ))
            })?;
            Ok(if granted == 1 {
                BudgetTake::Granted { used }
            } else {
                BudgetTake::Exhausted { used }
            })
        })
    }

    fn budget_used<'a>(&'a self, key: &'a str, kind: BudgetKind, day: i64) -> StoreFuture<'a, u32> {
        Box::pin(async move {
            self.adopt(key).await?;
            let budget_key = self.budget_key(key, kind, day);
            let mut connection = self.connection.clone();
            let value: Option<Vec<u8>> = redis::cmd("GET")
                .arg(&budget_key)
                .query_async(&mut connection)
                .await
                .map_err(|e| redis_error("read budget", &e, &[]))?;
            match value {
                None => Ok(0),
                Some(bytes) => std::str::from_utf8(&bytes)
                    .ok()
                    .and_then(|s| s.parse::<u32>().ok())
                    .ok_or_else(|| {
                        StoreError::corrupt(format!(
                            "redis key {budget_key}: budget counter is not a count"
                        ))
                    }),
            }
        })
    }

    fn give_back_budget<'a>(
        &'a self,
        key: &'a str,
        kind: BudgetKind,
        day: i64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.adopt(key).await?;
            let mut connection = self.connection.clone();
            let _: i64 = GIVE_BACK
                .key(self.budget_key(key, kind, day))
                .invoke_async(&mut connection)
                .await
                .map_err(|e| redis_error("give back budget", &e, &[]))?;
            Ok(())
        })
    }

    fn renew_lock<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        lease: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            self.adopt(key).await?;
            let mut connection = self.connection.clone();
            let held: i64 = RENEW
                .key(self.lock_key(key))
                .arg(owner)
                .arg(lease_millis(lease))
                .invoke_async(&mut connection)
                .await
                .map_err(|e| redis_error("renew lock", &e, &[]))?;
            Ok(held == 1)
        })
    }

    fn load_note<'a>(&'a self, key: &'a str, name: &'a str) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move {
            self.adopt(key).await?;
            let note_key = self.note_key(key, name);
            let mut connection = self.connection.clone();
            let value: Option<Vec<u8>> = redis::cmd("GET")
                .arg(&note_key)
                .query_async(&mut connection)
                .await
                .map_err(|e| redis_error("read note", &e, &[]))?;
            value
                .map(|bytes| {
                    String::from_utf8(bytes).map_err(|_| {
                        StoreError::corrupt(format!("redis key {note_key}: is not UTF-8"))
                    })
                })
                .transpose()
        })
    }

    fn store_note<'a>(
        &'a self,
        key: &'a str,
        name: &'a str,
        value: Option<&'a str>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.adopt(key).await?;
            let note_key = self.note_key(key, name);
            let mut connection = self.connection.clone();
            let result = match value {
                Some(text) => {
                    redis::cmd("SET")
                        .arg(&note_key)
                        .arg(text)
                        .query_async::<Value>(&mut connection)
                        .await
                }
                None => {
                    redis::cmd("DEL")
                        .arg(&note_key)
                        .query_async::<Value>(&mut connection)
                        .await
                }
            };
            result.map_err(|e| redis_error("write note", &e, &[]))?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lease_is_at_least_one_millisecond() {
        assert_eq!(lease_millis(Duration::ZERO), 1);
        assert_eq!(lease_millis(Duration::from_secs(30)), 30_000);
        assert_eq!(lease_millis(Duration::MAX), 100 * 365 * 24 * 3_600_000);
    }

    #[test]
    fn stored_hash_must_be_whole_and_consistent() {
        let record = TokenRecord {
            access_token: "at-secret".into(),
            access_expires_at_ms: 1,
            refresh_token: "rt-secret".into(),
            refresh_expires_at_ms: 2,
            version: 7,
        };
        let mut fields = HashMap::new();
        assert_eq!(decode_stored("k", &fields).unwrap(), None);
        fields.insert("version".to_owned(), b"7".to_vec());
        assert!(decode_stored("k", &fields).unwrap_err().is_corrupt());
        fields.insert("record".to_owned(), record.to_json().into_bytes());
        assert_eq!(decode_stored("k", &fields).unwrap(), Some(record));
        fields.insert("version".to_owned(), b"8".to_vec());
        let err = decode_stored("k", &fields).unwrap_err();
        assert!(
            err.is_corrupt() && err.message().contains("redis key k"),
            "{err}"
        );
    }
}
