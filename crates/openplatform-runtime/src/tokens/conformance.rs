//! The behaviour every [`TokenStore`] must have, as a test suite any store can run:
//! the stores of this crate run it in their tests, and a user's own store should too
//! (enable the feature `test-util` in your dev-dependencies).
//!
//! ```no_run
//! # async fn f() {
//! use openplatform_runtime::tokens::{MemoryTokenStore, conformance};
//! conformance::check_store(&MemoryTokenStore::new()).await;
//! # }
//! ```
//!
//! It panics (like `assert!`) at the first broken rule, naming it. It uses fresh app ids
//! on each run, so it can run against a store that already holds state (a shared Redis),
//! and leaves its records behind (records never expire).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;

use super::{BudgetKind, BudgetTake, Secret, TokenRecord, TokenStore};

/// Runs every check on `store`. Takes a few seconds (lease expiry is waited for in real
/// time). Concurrency here is many operations in flight at once in one task; see
/// [`check_store_shared`] for operations from many tasks on several threads.
pub async fn check_store(store: &dyn TokenStore) {
    let run = Run::new();
    check_records(store, &run).await;
    check_large_versions(store, &run).await;
    check_large_records(store, &run).await;
    check_keys_are_separate(store, &run).await;
    check_lock(store, &run).await;
    check_budgets(store, &run).await;
    check_budget_days_kept(store, &run).await;
    check_give_back(store, &run).await;
    check_renew_lock(store, &run).await;
    check_extreme_leases(store, &run).await;
    check_notes(store, &run).await;
    check_concurrent_budget(store, &run.key("concurrent-budget"), 40, 13).await;
    check_concurrent_compare_and_set(store, &run.key("concurrent-cas"), 12, 4).await;
}

/// Races from many Tokio tasks (on a multi-thread runtime, many threads): concurrent
/// budget takes never exceed the limit, concurrent compare-and-sets have exactly one
/// winner per version, and exactly one of many tasks takes a free lock.
pub async fn check_store_shared(store: Arc<dyn TokenStore>) {
    let run = Run::new();

    // Budgets.
    let key: Arc<str> = Arc::from(run.key("tasks-budget"));
    let limit = 20;
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (store, key) = (store.clone(), key.clone());
            tokio::spawn(
                async move { store.take_budget(&key, BudgetKind::Refresh, 1, limit).await },
            )
        })
        .collect();
    let mut granted = Vec::new();
    for task in tasks {
        match task.await.expect("budget task panicked") {
            Ok(BudgetTake::Granted { used }) => granted.push(used),
            Ok(BudgetTake::Exhausted { used }) => {
                assert_eq!(used, limit, "an exhausted budget reports the limit as used")
            }
            Err(e) => panic!("take_budget failed: {e}"),
        }
    }
    granted.sort_unstable();
    assert_eq!(
        granted,
        (1..=limit).collect::<Vec<_>>(),
        "64 tasks racing for a budget of {limit}: each count granted exactly once"
    );
    assert_eq!(
        used(&*store, &key, BudgetKind::Refresh, 1).await,
        limit,
        "budget_used after the race"
    );

    // Compare-and-set.
    let key: Arc<str> = Arc::from(run.key("tasks-cas"));
    let mut current: Option<u64> = None;
    for round in 0..3u64 {
        let tasks: Vec<_> = (0..16u64)
            .map(|contender| {
                let (store, key) = (store.clone(), key.clone());
                let record = record(round + 1, &format!("r{round}c{contender}"));
                tokio::spawn(async move {
                    let wrote = store.compare_and_set(&key, current, &record).await;
                    (record, wrote)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            let (record, wrote) = task.await.expect("compare-and-set task panicked");
            if wrote.unwrap_or_else(|e| panic!("compare_and_set failed: {e}")) {
                winners.push(record);
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "16 tasks racing compare-and-set from version {current:?}: exactly one wins"
        );
        assert_eq!(
            load(&*store, &key).await.as_ref(),
            winners.first(),
            "the stored record is the winner's"
        );
        current = Some(round + 1);
    }

    // Lock.
    let key: Arc<str> = Arc::from(run.key("tasks-lock"));
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let (store, key) = (store.clone(), key.clone());
            tokio::spawn(async move {
                store
                    .try_lock(&key, &format!("owner-{i}"), Duration::from_secs(30))
                    .await
            })
        })
        .collect();
    let mut holders = 0;
    for task in tasks {
        if task
            .await
            .expect("lock task panicked")
            .unwrap_or_else(|e| panic!("try_lock failed: {e}"))
        {
            holders += 1;
        }
    }
    assert_eq!(
        holders, 1,
        "16 tasks racing for a free lock: exactly one takes it"
    );
}

/// Fresh app ids for one run of the suite.
struct Run {
    nonce: String,
}

impl Run {
    fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        Run {
            nonce: format!("{nanos:x}-{}-{count}", std::process::id()),
        }
    }

    fn key(&self, name: &str) -> String {
        format!("conformance-{}-{name}", self.nonce)
    }
}

/// A record whose tokens name `tag`, so a mix-up between records shows.
fn record(version: u64, tag: &str) -> TokenRecord {
    TokenRecord {
        access_token: Secret::new(format!("access-{tag}-{version}")),
        access_expires_at_ms: 1_700_000_000_000
            + 7_200_000
            + i64::try_from(version % 1000).unwrap_or(0),
        refresh_token: Secret::new(format!("refresh-{tag}-{version}")),
        refresh_expires_at_ms: 1_700_000_000_000 + 31_536_000_000,
        version,
    }
}

async fn load(store: &dyn TokenStore, key: &str) -> Option<TokenRecord> {
    store
        .load(key)
        .await
        .unwrap_or_else(|e| panic!("load({key:?}) failed: {e}"))
}

async fn cas(
    store: &dyn TokenStore,
    key: &str,
    expected: Option<u64>,
    record: &TokenRecord,
) -> bool {
    store
        .compare_and_set(key, expected, record)
        .await
        .unwrap_or_else(|e| panic!("compare_and_set({key:?}, {expected:?}) failed: {e}"))
}

async fn lock(store: &dyn TokenStore, key: &str, owner: &str, lease: Duration) -> bool {
    store
        .try_lock(key, owner, lease)
        .await
        .unwrap_or_else(|e| panic!("try_lock({key:?}, {owner:?}) failed: {e}"))
}

async fn unlock(store: &dyn TokenStore, key: &str, owner: &str) {
    store
        .unlock(key, owner)
        .await
        .unwrap_or_else(|e| panic!("unlock({key:?}, {owner:?}) failed: {e}"))
}

async fn take(
    store: &dyn TokenStore,
    key: &str,
    kind: BudgetKind,
    day: i64,
    limit: u32,
) -> BudgetTake {
    store
        .take_budget(key, kind, day, limit)
        .await
        .unwrap_or_else(|e| panic!("take_budget({key:?}, {kind:?}, {day}, {limit}) failed: {e}"))
}

async fn used(store: &dyn TokenStore, key: &str, kind: BudgetKind, day: i64) -> u32 {
    store
        .budget_used(key, kind, day)
        .await
        .unwrap_or_else(|e| panic!("budget_used({key:?}, {kind:?}, {day}) failed: {e}"))
}

async fn check_records(store: &dyn TokenStore, run: &Run) {
    let key = run.key("records");
    assert_eq!(
        load(store, &key).await,
        None,
        "an unknown app id loads as None"
    );

    let v1 = record(1, "first");
    assert!(
        !cas(store, &key, Some(0), &v1).await,
        "compare-and-set expecting a version when nothing is stored must refuse"
    );
    assert_eq!(
        load(store, &key).await,
        None,
        "a refused write stores nothing"
    );
    assert!(
        cas(store, &key, None, &v1).await,
        "compare-and-set expecting no record creates it"
    );
    assert_eq!(
        load(store, &key).await,
        Some(v1.clone()),
        "load returns the record written, whole"
    );

    let other = record(1, "other");
    assert!(
        !cas(store, &key, None, &other).await,
        "compare-and-set expecting no record must refuse when one is stored"
    );
    assert_eq!(
        load(store, &key).await,
        Some(v1.clone()),
        "a refused create overwrites nothing"
    );

    let v2 = record(2, "second");
    assert!(
        cas(store, &key, Some(1), &v2).await,
        "compare-and-set on the stored version writes"
    );
    assert_eq!(
        load(store, &key).await,
        Some(v2.clone()),
        "the new version is stored"
    );

    let stale = record(2, "stale");
    assert!(
        !cas(store, &key, Some(1), &stale).await,
        "compare-and-set with a stale version must refuse"
    );
    assert!(
        !cas(store, &key, Some(3), &stale).await,
        "compare-and-set with a version never stored must refuse"
    );
    assert_eq!(
        load(store, &key).await,
        Some(v2.clone()),
        "a refused compare-and-set overwrites nothing"
    );

    // Versions need not be consecutive: the stored version is what counts.
    let v10 = record(10, "jump");
    assert!(
        cas(store, &key, Some(2), &v10).await,
        "any new version may be written"
    );
    assert!(
        !cas(store, &key, Some(2), &record(11, "late")).await,
        "the old version is stale now"
    );
    assert_eq!(
        load(store, &key).await,
        Some(v10),
        "the jumped version is stored"
    );
}

/// Versions are compared exactly, not through a float (2^53 + 1 and 2^53 are one double).
async fn check_large_versions(store: &dyn TokenStore, run: &Run) {
    let key = run.key("large-versions");
    let big = (1u64 << 53) + 1;
    let r = record(big, "big");
    assert!(
        cas(store, &key, None, &r).await,
        "create with a large version"
    );
    assert_eq!(
        load(store, &key).await,
        Some(r),
        "a large version round-trips exactly"
    );
    assert!(
        !cas(store, &key, Some(big - 1), &record(big + 1, "near")).await,
        "versions 2^53 and 2^53+1 must not compare equal"
    );
    let max = record(u64::MAX, "max");
    assert!(
        cas(store, &key, Some(big), &max).await,
        "u64::MAX is a version"
    );
    assert_eq!(load(store, &key).await, Some(max), "u64::MAX round-trips");
}

/// A record of tokens `size` characters long made of `unit`, so the JSON form grows by
/// what escaping costs too.
fn large_record(version: u64, unit: &str, size: usize) -> TokenRecord {
    let token: String = unit.chars().cycle().take(size).collect();
    TokenRecord {
        access_token: Secret::new(format!("a{token}")),
        access_expires_at_ms: 1_700_000_000_000 + 7_200_000,
        refresh_token: Secret::new(format!("r{token}")),
        refresh_expires_at_ms: 1_700_000_000_000 + 31_536_000_000,
        version,
    }
}

/// Whatever a store accepts it reads back: tokens of 40,000 characters (a platform has
/// issued them), plain or at their most expensive to escape, always round-trip; far
/// larger ones either round-trip or are refused at the write, with a clear error that
/// quotes no token, the previous record intact and the store still usable. A store
/// that wrote a record and then refused to read it reported a damaged store to every
/// other process and every restart, until a person deleted the file.
async fn check_large_records(store: &dyn TokenStore, run: &Run) {
    let key = run.key("large-records");
    let small = record(1, "small");
    assert!(cas(store, &key, None, &small).await, "create");
    let mut current = small;
    // Plain, then characters JSON escapes as `\u0001` (six bytes for one), then quotes,
    // backslashes and non-ASCII.
    for (i, unit) in ["x", "\u{1}", "\"\\é会\u{7f}"].into_iter().enumerate() {
        let big = large_record(current.version + 1, unit, 40_000);
        assert!(
            cas(store, &key, Some(current.version), &big).await,
            "a record with tokens of 40,000 characters (case {i}) is written"
        );
        assert_eq!(
            load(store, &key).await.as_ref(),
            Some(&big),
            "a record with tokens of 40,000 characters (case {i}) is read back whole"
        );
        current = big;
    }
    for size in [1 << 20, 3 << 20] {
        let huge = large_record(current.version + 1, "\u{1}y", size);
        match store
            .compare_and_set(&key, Some(current.version), &huge)
            .await
        {
            Ok(true) => {
                assert_eq!(
                    load(store, &key).await.as_ref(),
                    Some(&huge),
                    "a record of tokens of {size} characters, once written, is read back"
                );
                current = huge;
            }
            Ok(false) => panic!("compare_and_set on the stored version refused to write"),
            Err(e) => {
                let text = format!("{e} {e:?}");
                assert!(
                    !text.contains("y\u{1}y\u{1}") && !text.contains("y\\u0001y"),
                    "the refusal of a large record quotes no token: {text}"
                );
                assert!(
                    !e.is_corrupt(),
                    "a refused write is not a damaged store: {e}"
                );
                assert_eq!(
                    load(store, &key).await.as_ref(),
                    Some(&current),
                    "a record refused at the write leaves the previous one, readable"
                );
            }
        }
    }
    let next = record(current.version + 1, "after");
    assert!(
        cas(store, &key, Some(current.version), &next).await,
        "the store goes on after large records"
    );
    assert_eq!(load(store, &key).await, Some(next));

    // Notes too: what a store accepts, it reads back.
    let text = "n".repeat(100_000);
    match store.store_note(&key, "large", Some(&text)).await {
        Ok(()) => assert_eq!(
            store
                .load_note(&key, "large")
                .await
                .unwrap_or_else(|e| panic!("a large note written cannot be read: {e}")),
            Some(text),
            "a large note is read back whole"
        ),
        Err(e) => assert!(
            !e.is_corrupt(),
            "a refused note is not a damaged store: {e}"
        ),
    }
}

async fn check_keys_are_separate(store: &dyn TokenStore, run: &Run) {
    // Ids that a careless file-name or key encoding would mix up.
    let ids = [
        run.key("a/b"),
        run.key("a_b"),
        run.key("a%2Fb"),
        run.key("a:b"),
        run.key("A-B"),
        run.key("a-b"),
        run.key("a b.json"),
        run.key("../a"),
        run.key("会员"),
    ];
    for (i, id) in ids.iter().enumerate() {
        let r = record(u64::try_from(i).unwrap_or(0) + 1, &format!("id{i}"));
        assert!(cas(store, id, None, &r).await, "create for app id {id:?}");
    }
    for (i, id) in ids.iter().enumerate() {
        let r = record(u64::try_from(i).unwrap_or(0) + 1, &format!("id{i}"));
        assert_eq!(
            load(store, id).await,
            Some(r),
            "app id {id:?} keeps its own record"
        );
    }
    assert!(lock(store, &ids[0], "x", Duration::from_secs(30)).await);
    assert!(
        lock(store, &ids[1], "x", Duration::from_secs(30)).await,
        "locks are per app id"
    );
    unlock(store, &ids[0], "x").await;
    unlock(store, &ids[1], "x").await;
}

async fn check_lock(store: &dyn TokenStore, run: &Run) {
    let key = run.key("lock");
    let long = Duration::from_secs(30);

    assert!(lock(store, &key, "a", long).await, "a free lock is taken");
    assert!(
        !lock(store, &key, "b", long).await,
        "a held lock is exclusive"
    );
    assert!(
        !lock(store, &key, "a", long).await,
        "a held lock is not re-entrant"
    );

    unlock(store, &key, "b").await;
    assert!(
        !lock(store, &key, "c", long).await,
        "unlock by a non-owner must leave the lock held"
    );

    unlock(store, &key, "a").await;
    assert!(
        lock(store, &key, "b", long).await,
        "unlock by the owner frees the lock"
    );
    unlock(store, &key, "b").await;
    unlock(store, &key, "b").await; // unlocking a free lock is harmless

    // Lease expiry.
    let lease = Duration::from_millis(300);
    assert!(
        lock(store, &key, "a", lease).await,
        "lock with a short lease"
    );
    assert!(
        !lock(store, &key, "b", long).await,
        "held until the lease runs out"
    );
    tokio::time::sleep(lease + Duration::from_millis(400)).await;
    assert!(
        lock(store, &key, "b", long).await,
        "another owner takes the lock once the lease ran out"
    );
    unlock(store, &key, "a").await;
    assert!(
        !lock(store, &key, "c", long).await,
        "the late unlock of an expired holder must not release the next holder's lock"
    );
    unlock(store, &key, "b").await;
}

async fn check_budgets(store: &dyn TokenStore, run: &Run) {
    let key = run.key("budgets");
    let other_key = run.key("budgets-other");
    let day = 20_000;

    assert_eq!(
        used(store, &key, BudgetKind::Refresh, day).await,
        0,
        "nothing counted yet"
    );
    for n in 1..=3 {
        assert_eq!(
            take(store, &key, BudgetKind::Refresh, day, 3).await,
            BudgetTake::Granted { used: n },
            "call {n} of a budget of 3"
        );
    }
    for _ in 0..2 {
        assert_eq!(
            take(store, &key, BudgetKind::Refresh, day, 3).await,
            BudgetTake::Exhausted { used: 3 },
            "past the limit: exhausted, and nothing more is counted"
        );
    }
    assert_eq!(
        used(store, &key, BudgetKind::Refresh, day).await,
        3,
        "budget_used counts"
    );

    // Separate per kind, per day, per key.
    assert_eq!(
        used(store, &key, BudgetKind::Obtain, day).await,
        0,
        "kinds are separate"
    );
    assert_eq!(
        take(store, &key, BudgetKind::Obtain, day, 1).await,
        BudgetTake::Granted { used: 1 },
        "the obtain budget is its own"
    );
    assert_eq!(
        take(store, &key, BudgetKind::Obtain, day, 1).await,
        BudgetTake::Exhausted { used: 1 },
        "obtain: once a day"
    );
    assert_eq!(
        used(store, &key, BudgetKind::Refresh, day + 1).await,
        0,
        "days are separate"
    );
    assert_eq!(
        take(store, &key, BudgetKind::Refresh, day + 1, 3).await,
        BudgetTake::Granted { used: 1 },
        "a new day starts at zero"
    );
    // (Whether a store still remembers a day once a later one is counted is its choice.)
    assert_eq!(
        used(store, &other_key, BudgetKind::Refresh, day).await,
        0,
        "app ids are separate"
    );
    assert_eq!(
        take(store, &other_key, BudgetKind::Refresh, day, 3).await,
        BudgetTake::Granted { used: 1 },
        "another app id has its own budget"
    );

    // The limit is the caller's: a zero limit grants nothing, a higher one goes on.
    assert_eq!(
        take(store, &run.key("budgets-zero"), BudgetKind::Refresh, day, 0).await,
        BudgetTake::Exhausted { used: 0 },
        "a zero limit is exhausted at once"
    );
    assert_eq!(
        take(store, &key, BudgetKind::Refresh, day + 1, 1).await,
        BudgetTake::Exhausted { used: 1 },
        "a lower limit than the count is exhausted"
    );
    assert_eq!(
        take(store, &key, BudgetKind::Refresh, day + 1, 2).await,
        BudgetTake::Granted { used: 2 },
        "a higher limit counts on from the stored count"
    );
}

/// `calls` budget takes in flight at once, limit `limit`: exactly `limit` granted, each
/// count once.
async fn check_concurrent_budget(store: &dyn TokenStore, key: &str, calls: u32, limit: u32) {
    let takes = join_all((0..calls).map(|_| take(store, key, BudgetKind::Refresh, 7, limit))).await;
    let mut granted: Vec<u32> = takes
        .iter()
        .filter_map(|t| match t {
            BudgetTake::Granted { used } => Some(*used),
            BudgetTake::Exhausted { .. } => None,
        })
        .collect();
    granted.sort_unstable();
    assert_eq!(
        granted,
        (1..=limit).collect::<Vec<_>>(),
        "{calls} concurrent takes of a budget of {limit}: each count granted exactly once"
    );
    assert_eq!(
        used(store, key, BudgetKind::Refresh, 7).await,
        limit,
        "budget_used after the race"
    );
}

/// `contenders` compare-and-sets in flight at once from the same version, for `rounds`
/// versions: exactly one wins each round and its record is the one stored.
async fn check_concurrent_compare_and_set(
    store: &dyn TokenStore,
    key: &str,
    contenders: u64,
    rounds: u64,
) {
    let mut current = None;
    for round in 0..rounds {
        let records: Vec<TokenRecord> = (0..contenders)
            .map(|c| record(round + 1, &format!("round{round}-contender{c}")))
            .collect();
        let results = join_all(records.iter().map(|r| cas(store, key, current, r))).await;
        let winners: Vec<&TokenRecord> = records
            .iter()
            .zip(&results)
            .filter_map(|(r, won)| won.then_some(r))
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "{contenders} concurrent compare-and-sets from version {current:?}: exactly one wins"
        );
        assert_eq!(
            load(store, key).await.as_ref(),
            winners.first().copied(),
            "the stored record is the winner's"
        );
        current = Some(round + 1);
    }
}

/// Counting later days (a skewed clock, another key) never forgets an earlier day.
async fn check_budget_days_kept(store: &dyn TokenStore, run: &Run) {
    let key = run.key("days-kept");
    let other = run.key("days-kept-other");
    let today = 20_000;
    assert!(matches!(
        take(store, &key, BudgetKind::Obtain, today, 1).await,
        BudgetTake::Granted { used: 1 }
    ));
    for d in 1..=3 {
        take(store, &key, BudgetKind::Obtain, today + d, 1).await;
        take(store, &key, BudgetKind::Refresh, today + d, 20).await;
        take(store, &other, BudgetKind::Obtain, today + d, 1).await;
    }
    assert_eq!(
        used(store, &key, BudgetKind::Obtain, today).await,
        1,
        "today's count survives later days being counted"
    );
    assert!(
        matches!(
            take(store, &key, BudgetKind::Obtain, today, 1).await,
            BudgetTake::Exhausted { used: 1 }
        ),
        "the 1-a-day call is not granted twice on one day"
    );
}

/// A unit given back is uncounted once, never below zero, and only on its day and kind.
async fn check_give_back(store: &dyn TokenStore, run: &Run) {
    let key = run.key("give-back");
    let give_back = |kind, day| {
        let key = key.clone();
        async move {
            store
                .give_back_budget(&key, kind, day)
                .await
                .unwrap_or_else(|e| panic!("give_back_budget failed: {e}"))
        }
    };
    give_back(BudgetKind::Obtain, 7).await; // nothing counted: harmless
    assert_eq!(used(store, &key, BudgetKind::Obtain, 7).await, 0);
    take(store, &key, BudgetKind::Obtain, 7, 1).await;
    take(store, &key, BudgetKind::Refresh, 7, 20).await;
    take(store, &key, BudgetKind::Refresh, 7, 20).await;
    give_back(BudgetKind::Refresh, 7).await;
    assert_eq!(used(store, &key, BudgetKind::Refresh, 7).await, 1);
    assert_eq!(
        used(store, &key, BudgetKind::Obtain, 7).await,
        1,
        "another kind is untouched"
    );
    give_back(BudgetKind::Obtain, 7).await;
    give_back(BudgetKind::Obtain, 7).await;
    assert_eq!(
        used(store, &key, BudgetKind::Obtain, 7).await,
        0,
        "never below zero"
    );
    assert!(
        matches!(
            take(store, &key, BudgetKind::Obtain, 7, 1).await,
            BudgetTake::Granted { used: 1 }
        ),
        "a unit given back can be taken again"
    );
}

/// Only the holder renews, a renewal extends the lease, and an expired lease is not
/// renewed (another instance may take it by then).
async fn check_renew_lock(store: &dyn TokenStore, run: &Run) {
    let key = run.key("renew");
    let renew = |owner: &'static str, lease| {
        let key = key.clone();
        async move {
            store
                .renew_lock(&key, owner, lease)
                .await
                .unwrap_or_else(|e| panic!("renew_lock failed: {e}"))
        }
    };
    assert!(
        !renew("a", Duration::from_secs(1)).await,
        "a free lock is not renewed"
    );
    let lease = Duration::from_millis(400);
    assert!(lock(store, &key, "a", lease).await);
    assert!(!renew("b", lease).await, "only the holder renews");
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(renew("a", lease).await, "the holder renews its live lease");
    }
    assert!(
        !lock(store, &key, "b", lease).await,
        "renewed: held beyond its first lease"
    );
    tokio::time::sleep(lease + Duration::from_millis(400)).await;
    assert!(!renew("a", lease).await, "an expired lease is not renewed");
    assert!(lock(store, &key, "b", lease).await);
    unlock(store, &key, "b").await;
}

/// Leases of any length, down to zero and up to `Duration::MAX`, never panic.
async fn check_extreme_leases(store: &dyn TokenStore, run: &Run) {
    let key = run.key("extreme-lease");
    assert!(lock(store, &key, "a", Duration::MAX).await);
    assert!(!lock(store, &key, "b", Duration::ZERO).await);
    store
        .renew_lock(&key, "a", Duration::MAX)
        .await
        .unwrap_or_else(|e| panic!("renew_lock(Duration::MAX) failed: {e}"));
    unlock(store, &key, "a").await;
    let key = run.key("zero-lease");
    let _ = lock(store, &key, "a", Duration::ZERO).await;
    unlock(store, &key, "a").await;
}

/// Notes: absent, written, replaced, deleted; per key and per name.
async fn check_notes(store: &dyn TokenStore, run: &Run) {
    let key = run.key("notes");
    let note = |name: &'static str| {
        let key = key.clone();
        async move {
            store
                .load_note(&key, name)
                .await
                .unwrap_or_else(|e| panic!("load_note failed: {e}"))
        }
    };
    let put = |name: &'static str, value: Option<&'static str>| {
        let key = key.clone();
        async move {
            store
                .store_note(&key, name, value)
                .await
                .unwrap_or_else(|e| panic!("store_note failed: {e}"))
        }
    };
    assert_eq!(note("pending-obtain").await, None);
    put("pending-obtain", Some(r#"{"a":1}"#)).await;
    put("other", Some("x")).await;
    assert_eq!(note("pending-obtain").await.as_deref(), Some(r#"{"a":1}"#));
    put("pending-obtain", Some("second")).await;
    assert_eq!(note("pending-obtain").await.as_deref(), Some("second"));
    put("pending-obtain", None).await;
    assert_eq!(note("pending-obtain").await, None);
    put("pending-obtain", None).await; // deleting an absent note is harmless
    assert_eq!(
        note("other").await.as_deref(),
        Some("x"),
        "notes are per name"
    );
    let elsewhere = store
        .load_note(&run.key("notes-elsewhere"), "other")
        .await
        .unwrap_or_else(|e| panic!("load_note failed: {e}"));
    assert_eq!(elsewhere, None, "notes are per key");
}
