//! The Redis token store against a real Redis server: the conformance suite, key
//! expiry, damaged records, and no secret in any text.
//!
//! The server is the one at `REDIS_URL` (default `redis://127.0.0.1:6379/`). When it
//! cannot be reached the tests fail if `CI` is set, and are skipped with a notice
//! otherwise. Run: `cargo test -p openplatform-runtime --features redis --test redis_store`.
#![cfg(feature = "redis")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openplatform_runtime::tokens::{
    BudgetKind, BudgetTake, RedisTokenStore, Secret, StoreErrorKind, TokenRecord, TokenStore,
    conformance,
};

const DEFAULT_URL: &str = "redis://127.0.0.1:6379/";

fn url() -> String {
    std::env::var("REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_URL.to_owned())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// A key prefix no other test (or earlier run) uses.
fn unique_prefix(test: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "openplatform-test:{test}:{nanos:x}-{}-{}:",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// A store on the test server, or `None` (with a notice) when there is none and CI is
/// not set.
async fn store(test: &str) -> Option<RedisTokenStore> {
    match RedisTokenStore::connect(&url(), unique_prefix(test)).await {
        Ok(store) => Some(store),
        Err(e) if in_ci() => {
            panic!("CI is set but the Redis server of REDIS_URL cannot be reached: {e}")
        }
        Err(e) => {
            eprintln!(
                "SKIPPED {test}: no Redis server at REDIS_URL (default {DEFAULT_URL}): {e}. \
                 Start one (`redis-server --port 6379`) to run the Redis store tests."
            );
            None
        }
    }
}

/// A plain connection to the test server, for looking behind the store's back.
async fn raw() -> redis::aio::MultiplexedConnection {
    redis::Client::open(url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Deletes every key under `prefix` (records never expire; tests should not leave them).
async fn cleanup(prefix: &str) {
    let mut con = raw().await;
    let mut cursor: u64 = 0;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}*"))
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut con)
            .await
            .unwrap();
        if !keys.is_empty() {
            let _: i64 = redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut con)
                .await
                .unwrap();
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
}

fn record(version: u64) -> TokenRecord {
    TokenRecord {
        access_token: Secret::new(format!("at-SECRET-{version}")),
        access_expires_at_ms: 1_700_007_200_000,
        refresh_token: Secret::new(format!("rt-SECRET-{version}")),
        refresh_expires_at_ms: 1_731_536_000_000,
        version,
    }
}

#[tokio::test]
async fn redis_store_conforms() {
    let Some(store) = store("conforms").await else {
        return;
    };
    conformance::check_store(&store).await;
    cleanup(store.key_prefix()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_store_conforms_across_tasks() {
    let Some(store) = store("tasks").await else {
        return;
    };
    let prefix = store.key_prefix().to_owned();
    conformance::check_store_shared(Arc::new(store)).await;
    cleanup(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_connections_share_one_state() {
    let Some(a) = store("two").await else {
        return;
    };
    let b = RedisTokenStore::connect(&url(), a.key_prefix())
        .await
        .unwrap();
    assert!(a.compare_and_set("app", None, &record(1)).await.unwrap());
    assert_eq!(b.load("app").await.unwrap(), Some(record(1)));

    let results = futures_util::future::join_all((0..10u64).map(|i| {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move {
            store
                .compare_and_set("app", Some(1), &record(2))
                .await
                .unwrap()
        }
    }))
    .await;
    assert_eq!(
        results.iter().filter(|w| **w).count(),
        1,
        "one winner over two connections"
    );

    assert!(
        a.try_lock("app", "a", Duration::from_secs(30))
            .await
            .unwrap()
    );
    assert!(
        !b.try_lock("app", "b", Duration::from_secs(30))
            .await
            .unwrap()
    );
    b.unlock("app", "b").await.unwrap();
    assert!(
        !b.try_lock("app", "b", Duration::from_secs(30))
            .await
            .unwrap()
    );
    a.unlock("app", "a").await.unwrap();
    assert!(
        b.try_lock("app", "b", Duration::from_secs(30))
            .await
            .unwrap()
    );
    cleanup(a.key_prefix()).await;
}

#[tokio::test]
async fn record_never_expires_lock_and_budgets_do() {
    let Some(store) = store("ttl").await else {
        return;
    };
    let prefix = store.key_prefix().to_owned();
    let mut con = raw().await;
    let ttl_con = con.clone();
    let ttl = |key: String| {
        let mut con = ttl_con.clone();
        async move {
            let ms: i64 = redis::cmd("PTTL")
                .arg(key)
                .query_async(&mut con)
                .await
                .unwrap();
            ms
        }
    };

    assert!(
        store
            .compare_and_set("app", None, &record(1))
            .await
            .unwrap()
    );
    // Even a record key someone gave a TTL loses it on the next write.
    let _: i64 = redis::cmd("PEXPIRE")
        .arg(store.record_key("app"))
        .arg(100_000)
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(
        store
            .compare_and_set("app", Some(1), &record(2))
            .await
            .unwrap()
    );
    assert_eq!(
        ttl(store.record_key("app")).await,
        -1,
        "the record has no TTL"
    );

    assert!(
        store
            .try_lock("app", "me", Duration::from_secs(30))
            .await
            .unwrap()
    );
    let lock_ttl = ttl(format!("{prefix}app:lock")).await;
    assert!(
        (1..=30_000).contains(&lock_ttl),
        "the lock expires with its lease: {lock_ttl}"
    );

    assert_eq!(
        store
            .take_budget("app", BudgetKind::Refresh, 20_000, 20)
            .await
            .unwrap(),
        BudgetTake::Granted { used: 1 }
    );
    let budget_ttl = ttl(format!("{prefix}app:budget:refresh:20000")).await;
    let three_days = 3 * 24 * 3600 * 1000;
    assert!(
        (three_days - 60_000..=three_days).contains(&budget_ttl),
        "a budget counter lives about three days: {budget_ttl}"
    );
    cleanup(&prefix).await;
}

#[tokio::test]
async fn damaged_record_is_an_error_naming_the_key() {
    let Some(store) = store("corrupt").await else {
        return;
    };
    let key = store.record_key("app");
    let mut con = raw().await;
    let whole = record(1).to_json();
    let damaged = [
        whole[..whole.len() / 2].to_owned(),
        whole.replacen("\"version\":1", "\"version\":\"at-SECRET-1\"", 1),
        r#"{"format":1,"version":1,"at-SECRET-1":2}"#.to_owned(),
    ];
    for (i, content) in damaged.iter().enumerate() {
        let _: i64 = redis::cmd("HSET")
            .arg(&key)
            .arg("version")
            .arg("1")
            .arg("record")
            .arg(content)
            .query_async(&mut con)
            .await
            .unwrap();
        let err = store
            .load("app")
            .await
            .expect_err("a damaged record must not load");
        assert_eq!(err.kind(), StoreErrorKind::Corrupt, "case {i}: {err}");
        assert!(
            err.to_string().contains(&key),
            "case {i}: names the key: {err}"
        );
        assert!(!err.to_string().contains("SECRET"), "case {i}: {err}");
        // Never taken for "no record".
        assert!(
            !store
                .compare_and_set("app", None, &record(5))
                .await
                .unwrap()
        );
    }

    // A hash without the record field, and a version field that disagrees.
    let _: i64 = redis::cmd("HDEL")
        .arg(&key)
        .arg("record")
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(store.load("app").await.unwrap_err().is_corrupt());
    let _: i64 = redis::cmd("HSET")
        .arg(&key)
        .arg("version")
        .arg("2")
        .arg("record")
        .arg(&whole)
        .query_async(&mut con)
        .await
        .unwrap();
    assert!(store.load("app").await.unwrap_err().is_corrupt());

    // A key of the wrong type holding a token: an error, and the token is not in it.
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg("at-SECRET-9")
        .query_async(&mut con)
        .await
        .unwrap();
    let err = store.load("app").await.unwrap_err();
    assert!(!err.to_string().contains("SECRET"), "{err}");
    let err = store
        .compare_and_set("app", Some(1), &record(3))
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("SECRET"), "{err}");

    // A budget counter that is not a count.
    let budget_key = format!("{}app:budget:obtain:1", store.key_prefix());
    let _: () = redis::cmd("SET")
        .arg(&budget_key)
        .arg("at-SECRET-9")
        .query_async(&mut con)
        .await
        .unwrap();
    let err = store
        .budget_used("app", BudgetKind::Obtain, 1)
        .await
        .unwrap_err();
    assert!(
        err.is_corrupt() && !err.to_string().contains("SECRET"),
        "{err}"
    );
    let err = store
        .take_budget("app", BudgetKind::Obtain, 1, 1)
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("SECRET"), "{err}");
    cleanup(store.key_prefix()).await;
}

#[tokio::test]
async fn debug_and_errors_show_no_secret() {
    let Some(store) = store("debug").await else {
        return;
    };
    assert!(
        store
            .compare_and_set("app", None, &record(1))
            .await
            .unwrap()
    );
    let loaded = store.load("app").await.unwrap().unwrap();
    for text in [
        format!("{store:?}"),
        format!("{store:#?}"),
        format!("{loaded:?}"),
    ] {
        assert!(!text.contains("SECRET"), "{text}");
    }
    cleanup(store.key_prefix()).await;

    // A password in the URL stays out of every error text.
    for bad in [
        "redis://:pw-SECRET@[not-a-host/",
        "not-a-scheme://:pw-SECRET@127.0.0.1/",
    ] {
        let err = RedisTokenStore::connect(bad, "p:").await.unwrap_err();
        assert!(!format!("{err} {err:?}").contains("SECRET"), "{err}");
    }
}

#[tokio::test]
async fn unreachable_server_is_an_io_error_without_the_password() {
    // Port 1 on loopback: nothing listens there. (No server needed for this test.)
    let started = std::time::Instant::now();
    let err = RedisTokenStore::connect("redis://:pw-SECRET@127.0.0.1:1/", "p:")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Io, "{err}");
    assert!(!format!("{err} {err:?}").contains("SECRET"), "{err}");
    eprintln!(
        "unreachable server reported after {:?}: {err}",
        started.elapsed()
    );
}

/// A prefix given without a separator (`pos-sync`) gets one (`pos-sync:`): used as given,
/// it ran into the app's key (`pos-syncgree-ump/…`). Keys an earlier version wrote there
/// are adopted on first use: the record (the refresh token lives a year), the day's
/// budget counts (a reset mid-day would let a second token call through) and the notes.
/// Another deployment's keys that merely start with the same letters are left alone.
#[tokio::test]
async fn a_prefix_without_a_separator_gets_one_and_old_keys_are_adopted() {
    let Some(probe) = store("adopt").await else {
        return;
    };
    // The prefix as a user typed it, unique to this run, ending with no separator.
    let given = probe.key_prefix().trim_end_matches(':').to_owned() + "-pos-sync";
    let app = "gree-ump/test-ump.greedc.com/app1";
    let day = 20_000;
    // An earlier version's keys: `<given><app>:…`, written here through a store whose
    // empty prefix adds nothing.
    let legacy = RedisTokenStore::connect(&url(), "").await.unwrap();
    let legacy_app = format!("{given}{app}");
    assert!(
        legacy
            .compare_and_set(&legacy_app, None, &record(7))
            .await
            .unwrap()
    );
    assert!(matches!(
        legacy
            .take_budget(&legacy_app, BudgetKind::Obtain, day, 1)
            .await
            .unwrap(),
        BudgetTake::Granted { used: 1 }
    ));
    legacy
        .store_note(&legacy_app, "pending", Some("host-1"))
        .await
        .unwrap();
    // Another deployment whose prefix starts with the same letters.
    let neighbour = format!("{given}2:{app}");
    assert!(
        legacy
            .compare_and_set(&neighbour, None, &record(9))
            .await
            .unwrap()
    );

    let store = RedisTokenStore::connect(&url(), given.clone())
        .await
        .unwrap();
    assert_eq!(store.key_prefix(), format!("{given}:"));
    assert_eq!(store.record_key(app), format!("{given}:{app}:record"));
    let adopted = store
        .load(app)
        .await
        .unwrap()
        .expect("the old record is adopted");
    assert_eq!(adopted.version, 7);
    assert_eq!(
        store
            .budget_used(app, BudgetKind::Obtain, day)
            .await
            .unwrap(),
        1
    );
    assert!(
        matches!(
            store
                .take_budget(app, BudgetKind::Obtain, day, 1)
                .await
                .unwrap(),
            BudgetTake::Exhausted { .. }
        ),
        "the day's obtain, spent under the old key, stays spent"
    );
    assert_eq!(
        store.load_note(app, "pending").await.unwrap().as_deref(),
        Some("host-1")
    );
    let mut con = raw().await;
    let old_left: i64 = redis::cmd("EXISTS")
        .arg(format!("{legacy_app}:record"))
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(old_left, 0, "the old record was moved, not copied");
    assert_eq!(
        legacy.load(&neighbour).await.unwrap().map(|r| r.version),
        Some(9),
        "a neighbour's keys are not touched"
    );
    cleanup(&given).await;
    cleanup(probe.key_prefix()).await;
}
