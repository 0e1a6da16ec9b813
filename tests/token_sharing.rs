//! Tokens shared by several processes, and a day of the platform's token budgets, against
//! the sandbox: the token-issuing call 2.1 is allowed once per Beijing day, the refresh
//! 2.2 twenty times, and no number of processes or callers may spend more.
//!
//! - `four_processes_share_one_token`: 4 OS processes on one Redis store, cold, make one
//!   2.1 in total; 3 h later 1,000 concurrent callers in each make one 2.2 in total.
//! - `invalid_token_recovery_across_processes`: revoked access tokens cost one 2.2 per
//!   revocation, whichever process sees the rejection first.
//! - `simulated_day_of_steady_traffic`, `budgets_reset_at_beijing_midnight`,
//!   `refresh_ahead_keeps_the_reserve`: a manual clock and the sandbox clock moved in
//!   lockstep over a day and across Beijing midnight.
//! - `corrupt_record_fails_clearly_without_token_call`: a damaged record is an error,
//!   never a reason to spend the day's 2.1.
//! - `failed_store_write_keeps_new_token`: a refresh whose store write fails.
//! - `refresh_outage_does_not_spend_the_budget`: a refresh outage with 100 callers waiting
//!   spends one refresh, not the day's budget.
//!
//! The child processes are this test binary, re-executed with [`CHILD_ENV`] set (see
//! `token_sharing_child`). Redis is the server at `REDIS_URL` (default
//! `redis://127.0.0.1:6379/`); when it cannot be reached the Redis tests fail if `CI` is
//! set and are skipped with a notice otherwise. Every run uses its own key prefix and
//! deletes its keys at the end.

use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gree_ump::endpoints::ListLevelsRequest;
use gree_ump::runtime::clock::{Clock, ManualClock, beijing_day, next_beijing_midnight};
use gree_ump::runtime::tokens::faulty::{FaultyStore, StoreFault};
use gree_ump::runtime::tokens::{
    BudgetKind, FileTokenStore, MemoryTokenStore, RedisTokenStore, StoreErrorKind, TokenManager,
    TokenPolicy, TokenStore,
};
use gree_ump::runtime::{RetryPolicy, TokenError};
use gree_ump::{Client, Error};
use gree_ump_sandbox::config::{DEFAULT_APP_ID, DEFAULT_APP_SECRET};
use gree_ump_sandbox::{Controls, Sandbox, SandboxConfig, SandboxHandle};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStdin, ChildStdout};

#[path = "redis_helpers.rs"]
mod redis_helpers;
use redis_helpers::{raw_redis, redis_store, redis_url};

/// This suite's part of the Redis key prefixes.
const SUITE: &str = "token_sharing";

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// The children's store timeouts (the Redis reply timeout; the manager's is a second more).
const CHILD_STORE_TIMEOUT: Duration = Duration::from_secs(15);
/// The longest a child may take to answer one step.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

// ------------------------------------------------------------------------ helpers

/// Deletes every key under `prefix` (token records never expire by design).
async fn cleanup(prefix: &str) {
    let mut con = raw_redis().await;
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
            .expect("SCAN");
        if !keys.is_empty() {
            let _: i64 = redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut con)
                .await
                .expect("DEL");
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
}

/// A client of the sandbox on `store`, with the system clock or `clock`. Reads are retried
/// on transport errors only (the sandbox injects no faults here): with thousands of
/// concurrent connections a loaded machine resets one now and then, which says nothing
/// about tokens. Token failures are never retried by the call loop, so every one shows.
fn client(base_url: &str, store: Arc<dyn TokenStore>, clock: Option<Arc<dyn Clock>>) -> Client {
    let mut builder = Client::builder()
        .base_url(base_url)
        .app_id(DEFAULT_APP_ID)
        .app_secret(DEFAULT_APP_SECRET)
        .token_store(store)
        .retry_policy(RetryPolicy::default());
    if let Some(clock) = clock {
        builder = builder.clock(clock);
    }
    builder.build().expect("client")
}

/// One business call (3.8, list levels: a read that needs an access token).
async fn business_call(client: &Client) -> Result<(), Error> {
    let levels = client
        .members()
        .list_levels(ListLevelsRequest::new())
        .await?;
    assert_eq!(levels.page.total_count, Some(7));
    Ok(())
}

/// `n` concurrent business calls; returns (successes, failures, first failure's text).
async fn concurrent_calls(client: &Client, n: usize) -> (usize, usize, Option<String>) {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let client = client.clone();
        tasks.spawn(async move { business_call(&client).await });
    }
    let (mut ok, mut failed, mut first) = (0, 0, None);
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("a caller task panicked") {
            Ok(()) => ok += 1,
            Err(e) => {
                failed += 1;
                first.get_or_insert_with(|| e.to_string());
            }
        }
    }
    (ok, failed, first)
}

/// Every 2.1 and 2.2 call the sandbox ever received (genuine: signed, in time), refused
/// ones included, whatever the day.
fn token_call_totals(control: &Controls) -> (u64, u64) {
    let dump = control.dump();
    let total = |name: &str| dump["tokens"][name].as_u64().expect("token call total");
    (total("obtain_total"), total("refresh_total"))
}

/// A client clock and the sandbox clock moved together (the sandbox clock keeps running in
/// real time between moves; each move sets it to the client's time again).
struct Lockstep {
    manual: Arc<ManualClock>,
    control: Controls,
}

impl Lockstep {
    fn set(&self, now_ms: i64) {
        self.manual.set_ms(now_ms);
        self.control.set_time_ms(now_ms);
    }

    fn advance(&self, delta_ms: i64) {
        self.set(self.manual.now_ms() + delta_ms);
    }

    fn now(&self) -> i64 {
        self.manual.now_ms()
    }
}

/// The instant Beijing day `day` (days since 1970-01-01, Beijing) begins.
fn beijing_midnight(day: i64) -> i64 {
    day * DAY_MS - 8 * HOUR_MS
}

/// A sandbox whose clock starts at `start_ms`, a manual clock there too, and a client on
/// `store` and that clock.
async fn lockstep_setup(
    start_ms: i64,
    store: Arc<dyn TokenStore>,
) -> (SandboxHandle, Lockstep, Client) {
    let sandbox = Sandbox::start(SandboxConfig::default().with_start_time_ms(start_ms))
        .await
        .expect("sandbox starts");
    let manual = Arc::new(ManualClock::new(start_ms));
    let clock = Lockstep {
        manual: manual.clone(),
        control: sandbox.control().clone(),
    };
    clock.set(start_ms);
    let client = client(sandbox.base_url(), store, Some(manual));
    (sandbox, clock, client)
}

// ------------------------------------------------------------------ child processes

/// Set in a child process: the sandbox's base URL. [`PREFIX_ENV`] and [`REDIS_ENV`] name
/// the shared store.
const CHILD_ENV: &str = "GREE_UMP_TOKEN_SHARING_CHILD_BASE_URL";
const PREFIX_ENV: &str = "GREE_UMP_TOKEN_SHARING_CHILD_PREFIX";
const REDIS_ENV: &str = "GREE_UMP_TOKEN_SHARING_CHILD_REDIS_URL";
/// Messages of a child to the parent start with this (at the start of a line or after
/// the harness's `test token_sharing_child ... `).
const CHILD_TAG: &str = "CHILD:";

/// Not a test of its own: the child process of the multi-process tests (this binary,
/// re-executed with [`CHILD_ENV`] set). Without the variable it returns at once.
///
/// Protocol, one line each way: the child prints `CHILD:ready` once its client is built,
/// then for each `go N` on stdin makes N concurrent business calls and prints
/// `CHILD:done ok=… failed=… obtain=… refresh=… first_error=…` (its client's token calls
/// so far); `quit` or the end of stdin ends it.
#[test]
fn token_sharing_child() {
    let Ok(base_url) = std::env::var(CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("child: runtime");
    runtime.block_on(child_main(base_url));
}

async fn child_main(base_url: String) {
    let prefix = std::env::var(PREFIX_ENV).expect("child: prefix");
    let url = std::env::var(REDIS_ENV).expect("child: Redis URL");
    // These children test sharing, not outage bounds (token_findings does): on a CI box
    // at load average 10, a Redis reply took over 4 s, so they wait up to 15 s for one.
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_response_timeout(Some(CHILD_STORE_TIMEOUT))
        .set_connection_timeout(Some(Duration::from_secs(5)));
    let manager = redis::aio::ConnectionManager::new_with_config(
        redis::Client::open(url.as_str()).expect("child: Redis URL"),
        config,
    )
    .await
    .expect("child: Redis connection");
    let store = RedisTokenStore::new(manager, prefix);
    let client = Client::builder()
        .base_url(&base_url)
        .app_id(DEFAULT_APP_ID)
        .app_secret(DEFAULT_APP_SECRET)
        .token_store(Arc::new(store))
        .token_policy(TokenPolicy {
            store_timeout: CHILD_STORE_TIMEOUT + Duration::from_secs(1),
            ..TokenPolicy::default()
        })
        .retry_policy(RetryPolicy::default())
        .build()
        .expect("child: client");
    println!("{CHILD_TAG}ready");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await.expect("child: stdin") {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("go") => {
                let n: usize = words
                    .next()
                    .and_then(|w| w.parse().ok())
                    .expect("child: go N");
                let (ok, failed, first) = concurrent_calls(&client, n).await;
                let (obtain, refresh) = client.runtime().tokens().calls_made();
                let first = first.unwrap_or_default().replace('\n', " ");
                println!(
                    "{CHILD_TAG}done ok={ok} failed={failed} obtain={obtain} refresh={refresh} first_error={first}"
                );
            }
            Some("quit") | None => break,
            Some(other) => panic!("child: unknown command {other:?}"),
        }
    }
}

/// What a child reported for one `go`.
#[derive(Debug)]
struct Round {
    ok: usize,
    failed: usize,
    /// The child's token calls since it started.
    obtain: u64,
    refresh: u64,
    first_error: String,
}

impl Round {
    fn parse(line: &str) -> Round {
        let rest = line.strip_prefix("done ").expect("a `done` line");
        let (counts, first_error) = rest.split_once(" first_error=").expect("first_error");
        let field = |name: &str| -> u64 {
            counts
                .split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{name}=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {line:?}"))
        };
        Round {
            ok: field("ok") as usize,
            failed: field("failed") as usize,
            obtain: field("obtain"),
            refresh: field("refresh"),
            first_error: first_error.to_owned(),
        }
    }
}

/// A child process seen from the parent.
struct Worker {
    name: String,
    child: tokio::process::Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Worker {
    fn spawn(name: &str, base_url: &str, prefix: &str) -> Worker {
        let mut child = tokio::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "token_sharing_child",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(CHILD_ENV, base_url)
            .env(PREFIX_ENV, prefix)
            .env(REDIS_ENV, redis_url())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn a child process");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("child stdout")).lines();
        Worker {
            name: name.to_owned(),
            child,
            stdin,
            stdout,
        }
    }

    /// The next line of the child meant for us (without the tag).
    async fn message(&mut self) -> String {
        let name = self.name.clone();
        let read = async {
            loop {
                match self.stdout.next_line().await {
                    // The harness may have begun the line (`test … ... `).
                    Ok(Some(line)) => {
                        if let Some(at) = line.find(CHILD_TAG) {
                            return line[at + CHILD_TAG.len()..].to_owned();
                        }
                    }
                    Ok(None) => panic!("{name} exited early (see its stderr above)"),
                    Err(e) => panic!("{name}: reading its stdout failed: {e}"),
                }
            }
        };
        tokio::time::timeout(STEP_TIMEOUT, read)
            .await
            .unwrap_or_else(|_| panic!("{name}: no answer within {STEP_TIMEOUT:?}"))
    }

    async fn ready(&mut self) {
        let message = self.message().await;
        assert_eq!(message, "ready", "{}", self.name);
    }

    async fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("child stdin");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("write to child");
        stdin.flush().await.expect("flush to child");
    }

    async fn round(&mut self) -> Round {
        let line = self.message().await;
        Round::parse(&line)
    }

    /// Ends the child and checks it exited cleanly.
    async fn finish(mut self) {
        self.stdin = None; // end of input: the child ends
        let status = tokio::time::timeout(STEP_TIMEOUT, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} did not exit", self.name))
            .expect("wait for child");
        assert!(status.success(), "{} exited with {status}", self.name);
    }
}

/// Sends `go n` to every worker at once, then collects their rounds.
async fn go_all(workers: &mut [Worker], n: usize) -> Vec<Round> {
    for w in workers.iter_mut() {
        w.send(&format!("go {n}")).await;
    }
    let mut rounds = Vec::new();
    for w in workers.iter_mut() {
        rounds.push(w.round().await);
    }
    rounds
}

fn assert_all_ok(rounds: &[Round], n: usize, what: &str) {
    for (i, r) in rounds.iter().enumerate() {
        assert_eq!(
            (r.ok, r.failed),
            (n, 0),
            "{what}: child {i} had failures; first: {}",
            r.first_error
        );
    }
}

// --------------------------------------------------------------- 1–2: four processes

/// The calls of `kind` a store counted on the Beijing day of `now_ms` and the day before
/// (a call made just before midnight is counted on the earlier day).
/// The store key of the sandbox's default app on this sandbox's host.
fn key(sandbox: &SandboxHandle) -> String {
    TokenManager::store_key("gree-ump", sandbox.base_url(), DEFAULT_APP_ID)
}

async fn budget_near(
    sandbox: &SandboxHandle,
    store: &RedisTokenStore,
    kind: BudgetKind,
    now_ms: i64,
) -> u32 {
    let day = beijing_day(now_ms);
    let mut used = 0;
    for d in [day - 1, day] {
        used += store.budget_used(&key(sandbox), kind, d).await.unwrap();
    }
    used
}

/// The sandbox of the multi-process tests: without the 3 s timestamp window, which
/// thousands of requests queued on a loaded machine (2 cores, a debug build) could miss;
/// these tests are about token sharing, the window is tested elsewhere.
fn multi_process_config() -> SandboxConfig {
    SandboxConfig::default().with_timestamp_tolerance_ms(None)
}

/// Four processes share a Redis store. Cold (nothing stored), 50 concurrent callers in
/// each make exactly one 2.1 in total. Three hours later (access tokens expired, refresh
/// token valid), 1,000 concurrent callers in each make exactly one 2.2 in total, and
/// every call succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_processes_share_one_token() {
    let Some(store) = redis_store(SUITE, "four_processes").await else {
        return;
    };
    let started = Instant::now();
    let prefix = store.key_prefix().to_owned();
    let sandbox = Sandbox::start(multi_process_config()).await.unwrap();
    let control = sandbox.control().clone();
    let mut workers: Vec<Worker> = (0..4)
        .map(|i| Worker::spawn(&format!("child {i}"), sandbox.base_url(), &prefix))
        .collect();
    for w in &mut workers {
        w.ready().await;
    }

    // Cold start: one 2.1 for all four processes.
    let rounds = go_all(&mut workers, 50).await;
    assert_all_ok(&rounds, 50, "cold start");
    let calls = control.token_calls();
    assert_eq!(
        (calls.obtain_calls, calls.obtain_issued, calls.refresh_calls),
        (1, 1, 0),
        "{calls:?}"
    );
    assert_eq!(
        rounds.iter().map(|r| r.obtain).sum::<u64>(),
        1,
        "{rounds:?}"
    );
    assert_eq!(
        budget_near(&sandbox, &store, BudgetKind::Obtain, control.now_ms()).await,
        1
    );

    // Three hours later: the access token is expired, the refresh token is not.
    control.advance(Duration::from_secs(3 * 3600));
    let before = Instant::now();
    let rounds = go_all(&mut workers, 1_000).await;
    let stampede = before.elapsed();
    assert_all_ok(&rounds, 1_000, "after expiry");
    assert_eq!(
        token_call_totals(&control),
        (1, 1),
        "one 2.1, one 2.2 in all"
    );
    assert_eq!(
        rounds.iter().map(|r| r.obtain).sum::<u64>(),
        1,
        "{rounds:?}"
    );
    assert_eq!(
        rounds.iter().map(|r| r.refresh).sum::<u64>(),
        1,
        "{rounds:?}"
    );
    let record = store.load(&key(&sandbox)).await.unwrap().expect("a record");
    assert_eq!(
        record.version, 2,
        "written by the obtain and the one refresh"
    );
    assert_eq!(
        budget_near(&sandbox, &store, BudgetKind::Refresh, control.now_ms()).await,
        1
    );

    for w in workers {
        w.finish().await;
    }
    sandbox.shutdown().await;
    cleanup(&prefix).await;
    eprintln!(
        "four_processes_share_one_token: 4 × 1,000 callers after expiry in {stampede:?}; \
         whole test {:?}",
        started.elapsed()
    );
}

// ------------------------------------------------- 4: invalid token, two processes

/// Revoked access tokens, two processes. First in turn: the process that sees the
/// rejection first refreshes; the other, rejected with the old token afterwards, finds
/// the store's token is not the one that failed and makes no call. Then concurrently:
/// exactly one more 2.2. Every call succeeds (one retry each, no loop).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_token_recovery_across_processes() {
    let Some(store) = redis_store(SUITE, "invalid_token").await else {
        return;
    };
    let prefix = store.key_prefix().to_owned();
    let sandbox = Sandbox::start(multi_process_config()).await.unwrap();
    let control = sandbox.control().clone();
    let mut a = Worker::spawn("child A", sandbox.base_url(), &prefix);
    let mut b = Worker::spawn("child B", sandbox.base_url(), &prefix);
    a.ready().await;
    b.ready().await;
    // Both hold the first token.
    a.send("go 10").await;
    let ra = a.round().await;
    b.send("go 10").await;
    let rb = b.round().await;
    assert_all_ok(&[ra, rb], 10, "warm-up");
    assert_eq!(token_call_totals(&control), (1, 0));

    // In turn: A is rejected and refreshes; B is rejected with the old token later.
    control.revoke_access_tokens();
    a.send("go 20").await;
    let ra = a.round().await;
    assert_eq!(token_call_totals(&control), (1, 1));
    b.send("go 20").await;
    let rb = b.round().await;
    assert_eq!(
        token_call_totals(&control),
        (1, 1),
        "B must use the token A stored, not invalidate it"
    );
    assert_eq!((ra.refresh, rb.refresh), (1, 0));
    assert_all_ok(&[ra, rb], 20, "in turn");
    assert_eq!(
        store.load(&key(&sandbox)).await.unwrap().unwrap().version,
        2
    );

    // Concurrently: 200 callers in each process, one 2.2 in all.
    control.revoke_access_tokens();
    let mut both = [a, b];
    let rounds = go_all(&mut both, 200).await;
    assert_all_ok(&rounds, 200, "concurrent");
    assert_eq!(token_call_totals(&control), (1, 2), "{rounds:?}");
    assert_eq!(
        rounds.iter().map(|r| r.refresh).sum::<u64>(),
        2,
        "{rounds:?}"
    );
    assert_eq!(
        store.load(&key(&sandbox)).await.unwrap().unwrap().version,
        3
    );

    let [a, b] = both;
    a.finish().await;
    b.finish().await;
    sandbox.shutdown().await;
    cleanup(&prefix).await;
}

/// With a real crash: a process is killed (SIGKILL) while its 2.1 is in
/// flight. The platform issues the tokens, nothing stores them, and the day's only 2.1 is
/// spent. The next process reports exactly that at once, naming the reset time, with no
/// lease wait; it makes no token call of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_process_killed_mid_obtain_is_reported_at_once() {
    let Some(store) = redis_store(SUITE, "killed_mid_obtain").await else {
        return;
    };
    let prefix = store.key_prefix().to_owned();
    let sandbox = Sandbox::start(multi_process_config()).await.unwrap();
    sandbox.control().inject_fault(
        "dss.auth.token.query",
        gree_ump_sandbox::faults::Fault::Slow { delay_ms: 3_000 },
        1,
    );
    let mut child = Worker::spawn("child K", sandbox.base_url(), &prefix);
    child.ready().await;
    child.send("go 1").await;
    // The child is mid-obtain once its marker is in the store.
    let note_key = format!("{prefix}{}:note:pending-obtain", key(&sandbox));
    let mut redis = raw_redis().await;
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let exists: bool = redis::cmd("EXISTS")
            .arg(&note_key)
            .query_async(&mut redis)
            .await
            .unwrap();
        if exists {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the child never marked its obtain"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let pid = child.child.id().expect("the child runs");
    child.child.kill().await.expect("kill the child");

    let parent = client(sandbox.base_url(), Arc::new(store), None);
    let started = Instant::now();
    let err = business_call(&parent).await.unwrap_err();
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(3), "no lease wait: {waited:?}");
    match &err {
        Error::Token(TokenError::ObtainLost {
            instance,
            resets_at,
            ..
        }) => {
            assert!(
                instance.contains(&format!("/{pid}/")),
                "names the killed process: {instance}"
            );
            assert!(resets_at.ends_with("T00:00:00+08:00"), "{resets_at}");
        }
        other => panic!("expected ObtainLost, got {other:?}"),
    }
    assert_eq!(parent.runtime().tokens().calls_made(), (0, 0));
    sandbox.shutdown().await;
    cleanup(&prefix).await;
}

// ------------------------------------------------------------- 3: a simulated day

/// Steady traffic, a call every 5 simulated minutes, over a whole Beijing day and 6 hours
/// into the next, with the default policy: one 2.1, about 12.5 2.2 a day (refreshed
/// `refresh_ahead` + `expiry_margin` = 330 s before expiry), never a refused token call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulated_day_of_steady_traffic() {
    const STEP_MS: i64 = 5 * 60_000;
    let day1 = 20_000; // 2024-10-04, Beijing
    let start = beijing_midnight(day1) + 60_000; // 00:01
    let store = Arc::new(MemoryTokenStore::new());
    let (sandbox, clock, client) = lockstep_setup(start, store.clone()).await;
    let control = sandbox.control();

    let end_of_day1 = beijing_midnight(day1 + 1);
    let mut t = start;
    let mut calls = 0;
    while t < end_of_day1 {
        clock.set(t);
        business_call(&client)
            .await
            .unwrap_or_else(|e| panic!("call at +{} min: {e}", (t - start) / 60_000));
        calls += 1;
        t += STEP_MS;
    }
    // Still day 1 on the sandbox clock.
    let day1_counts = control.token_calls();
    assert_eq!(day1_counts.beijing_day, day1);
    assert_eq!(
        (day1_counts.obtain_calls, day1_counts.obtain_issued),
        (1, 1)
    );
    assert_eq!(
        day1_counts.refresh_calls, day1_counts.refresh_issued,
        "a 2.2 was refused (1003): {day1_counts:?}"
    );
    let refreshes_day1 = day1_counts.refresh_calls;
    assert!(
        (12..=13).contains(&refreshes_day1),
        "2.2 calls in a day: {refreshes_day1}"
    );
    assert_eq!(
        store
            .budget_used(&key(&sandbox), BudgetKind::Refresh, day1)
            .await
            .unwrap(),
        refreshes_day1
    );

    // Across Beijing midnight: day 2 counts from zero, the refresh token carries on.
    let day2_end = end_of_day1 + 6 * HOUR_MS;
    while t < day2_end {
        clock.set(t);
        business_call(&client)
            .await
            .unwrap_or_else(|e| panic!("call at +{} min: {e}", (t - start) / 60_000));
        calls += 1;
        t += STEP_MS;
    }
    let day2_counts = control.token_calls();
    assert_eq!(day2_counts.beijing_day, day1 + 1);
    assert_eq!(
        day2_counts.obtain_calls, 0,
        "no 2.1 on day 2: {day2_counts:?}"
    );
    assert_eq!(day2_counts.refresh_calls, day2_counts.refresh_issued);
    assert!(
        (2..=4).contains(&day2_counts.refresh_calls),
        "{day2_counts:?}"
    );
    assert_eq!(
        store
            .budget_used(&key(&sandbox), BudgetKind::Refresh, day1 + 1)
            .await
            .unwrap(),
        day2_counts.refresh_calls
    );
    assert_eq!(
        client.runtime().tokens().calls_made(),
        (1, u64::from(refreshes_day1 + day2_counts.refresh_calls))
    );
    assert_eq!(clock.now(), t - STEP_MS);
    eprintln!(
        "simulated day: {calls} business calls; day 1: 2.1 × {}, 2.2 × {refreshes_day1}; \
         first 6 h of day 2: 2.1 × 0, 2.2 × {}",
        day1_counts.obtain_calls, day2_counts.refresh_calls
    );
    sandbox.shutdown().await;
}

/// The refresh budget spent by invalid-token answers late on day D: the 21st refresh is
/// refused by the client (nothing sent, an error naming the reset time), repeatedly and
/// without a loop. Past Beijing midnight both budgets are new: a refresh works, and a
/// refused refresh token gets the day's one 2.1 — and not a second one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budgets_reset_at_beijing_midnight() {
    let day = 20_100;
    let start = beijing_midnight(day + 1) - HOUR_MS; // 23:00, Beijing
    let store = Arc::new(MemoryTokenStore::new());
    let (sandbox, clock, client) = lockstep_setup(start, store.clone()).await;
    let control = sandbox.control();

    business_call(&client).await.expect("first call obtains");
    for i in 1..=20 {
        clock.advance(1_000);
        control.revoke_access_tokens();
        business_call(&client)
            .await
            .unwrap_or_else(|e| panic!("refresh {i} of 20: {e}"));
    }
    let counts = control.token_calls();
    assert_eq!(
        (counts.obtain_calls, counts.refresh_calls),
        (1, 20),
        "{counts:?}"
    );

    // The 21st: refused before anything is sent, twice, naming the reset.
    control.revoke_access_tokens();
    for _ in 0..2 {
        clock.advance(1_000);
        let err = business_call(&client).await.unwrap_err();
        let resets = next_beijing_midnight(clock.now()).to_rfc3339();
        assert!(resets.ends_with("T00:00:00+08:00"), "{resets}");
        match &err {
            Error::Token(TokenError::BudgetExhausted {
                kind: BudgetKind::Refresh,
                used: 20,
                limit: 20,
                resets_at,
            }) => assert_eq!(resets_at, &resets),
            other => panic!("expected an exhausted refresh budget, got {other:?}"),
        }
        assert!(err.to_string().contains(&resets), "{err}");
    }
    let counts = control.token_calls();
    assert_eq!(
        (counts.obtain_calls, counts.refresh_calls),
        (1, 20),
        "nothing sent once the budget is spent: {counts:?}"
    );

    // Past midnight: the refresh budget is new.
    clock.set(beijing_midnight(day + 1) + 1_000);
    business_call(&client)
        .await
        .expect("refresh on the new day");
    let counts = control.token_calls();
    assert_eq!(counts.beijing_day, day + 1);
    assert_eq!(
        (counts.obtain_calls, counts.refresh_issued),
        (0, 1),
        "{counts:?}"
    );
    assert_eq!(
        store
            .budget_used(&key(&sandbox), BudgetKind::Refresh, day + 1)
            .await
            .unwrap(),
        1
    );

    // The obtain budget too: a refused refresh token gets a new pair (the day's 2.1)…
    clock.advance(1_000);
    control.revoke_all_tokens();
    business_call(&client)
        .await
        .expect("a new pair on the new day");
    let counts = control.token_calls();
    assert_eq!(
        (counts.obtain_calls, counts.obtain_issued),
        (1, 1),
        "{counts:?}"
    );
    // …and only one: the next refused refresh token is an error, with no 2.1 sent,
    // saying that the refresh token was refused and why no new pair could be had.
    clock.advance(1_000);
    control.revoke_all_tokens();
    match business_call(&client).await.unwrap_err() {
        Error::Token(TokenError::RefreshTokenRefused { then, .. })
            if matches!(
                *then,
                TokenError::BudgetExhausted {
                    kind: BudgetKind::Obtain,
                    used: 1,
                    limit: 1,
                    ..
                }
            ) => {}
        other => {
            panic!("expected a refused refresh token and an exhausted obtain budget, got {other:?}")
        }
    }
    let counts = control.token_calls();
    assert_eq!(counts.obtain_calls, 1, "{counts:?}");
    assert_eq!(
        counts.refresh_calls,
        counts.refresh_issued + 2,
        "{counts:?}"
    );
    sandbox.shutdown().await;
}

/// Refresh-ahead stops once only the reserve (5 of 20) is left: the token is then used
/// until it expires, and the reserve goes to tokens that really expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_ahead_keeps_the_reserve() {
    let start = beijing_midnight(20_400) + 8 * HOUR_MS;
    let store = Arc::new(MemoryTokenStore::new());
    let (sandbox, clock, client) = lockstep_setup(start, store.clone()).await;
    let control = sandbox.control();
    business_call(&client).await.expect("obtain");
    for i in 1..=15 {
        clock.advance(1_000);
        control.revoke_access_tokens();
        business_call(&client)
            .await
            .unwrap_or_else(|e| panic!("refresh {i} of 15: {e}"));
    }
    assert_eq!(control.token_calls().refresh_calls, 15);
    let expiry = store
        .load(&key(&sandbox))
        .await
        .unwrap()
        .unwrap()
        .access_expires_at_ms;
    // Inside the refresh-ahead window: 15 used + a reserve of 5 = the limit, no refresh.
    for before_expiry in [200_000, 60_000] {
        clock.set(expiry - before_expiry);
        business_call(&client).await.expect("the current token");
    }
    assert_eq!(control.token_calls().refresh_calls, 15);
    // Expired: the reserve serves.
    clock.set(expiry + 1_000);
    business_call(&client)
        .await
        .expect("a refresh from the reserve");
    let counts = control.token_calls();
    assert_eq!((counts.refresh_calls, counts.refresh_issued), (16, 16));
    sandbox.shutdown().await;
}

/// A short outage of the refresh call (the platform answers "busy" for a while) with many
/// callers waiting for a token must not spend the day's refresh budget: otherwise the
/// client refuses every call until Beijing midnight once the platform is back.
///
/// The manager hands a failed token call to the callers that waited for it, and pauses
/// token calls after a failure (5 s, doubling), so 100 callers spend one refresh, not 20.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_outage_does_not_spend_the_budget() {
    let day = 20_500;
    let start = beijing_midnight(day) + 9 * HOUR_MS;
    let store = Arc::new(MemoryTokenStore::new());
    let (sandbox, clock, client) = lockstep_setup(start, store.clone()).await;
    let control = sandbox.control();
    business_call(&client).await.expect("obtain");
    clock.advance(2 * HOUR_MS + 60_000); // expired
    control.inject_fault("dss.auth.token.refresh", gree_ump_sandbox::Fault::Busy, 30);
    let (ok, _, _) = concurrent_calls(&client, 100).await;
    assert_eq!(ok, 0, "the platform was busy");
    let used = store
        .budget_used(&key(&sandbox), BudgetKind::Refresh, day)
        .await
        .unwrap();
    assert!(
        used <= 5,
        "an outage spent {used} of the day's 20 refreshes"
    );
    // The platform is back: so is the client, within seconds.
    control.clear_faults();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        clock.advance(1_000);
        match business_call(&client).await {
            Ok(()) => break,
            Err(e) if Instant::now() > deadline => panic!("no recovery after the outage: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    sandbox.shutdown().await;
}

// --------------------------------------------------------- 5: a damaged record

/// A damaged record in a file store: every call fails with a Token/Store error that
/// names the file, and no token call is made (treating it as "no record" would spend the
/// day's only 2.1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_record_fails_clearly_without_token_call() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = FileTokenStore::new(dir.path().join("tokens")).unwrap();
    let path = store.record_path(&key(&sandbox)).unwrap();
    for damaged in [
        &b"{\"format\":1,\"version\":3,\"access_tok"[..],
        b"\x00\x00\x00\x00",
        br#"{"format":9,"version":1,"access_token":"a","access_expires_at_ms":1,"refresh_token":"r","refresh_expires_at_ms":2}"#,
    ] {
        std::fs::write(&path, damaged).unwrap();
        let client = client(sandbox.base_url(), Arc::new(store.clone()), None);
        for _ in 0..2 {
            let err = business_call(&client).await.unwrap_err();
            match &err {
                Error::Token(TokenError::Store(e)) => {
                    assert_eq!(e.kind(), StoreErrorKind::Corrupt, "{e}");
                    assert!(e.message().contains(&path.display().to_string()), "{e}");
                }
                other => panic!("expected a store error, got {other:?}"),
            }
            let text = err.to_string();
            assert!(text.contains("damaged record"), "{text}");
        }
        assert_eq!(client.runtime().tokens().calls_made(), (0, 0));
    }
    assert_eq!(
        token_call_totals(sandbox.control()),
        (0, 0),
        "no 2.1, no 2.2"
    );

    // The same in Redis.
    if let Some(redis_store) = redis_store(SUITE, "corrupt_record").await {
        let key = redis_store.record_key(&key(&sandbox));
        let _: i64 = redis::cmd("HSET")
            .arg(&key)
            .arg("version")
            .arg("1")
            .arg("record")
            .arg("{\"format\":1,")
            .query_async(&mut raw_redis().await)
            .await
            .unwrap();
        let client = client(sandbox.base_url(), Arc::new(redis_store.clone()), None);
        match business_call(&client).await.unwrap_err() {
            Error::Token(TokenError::Store(e)) => {
                assert!(e.is_corrupt(), "{e}");
                assert!(e.message().contains(&key), "{e}");
            }
            other => panic!("expected a store error, got {other:?}"),
        }
        assert_eq!(token_call_totals(sandbox.control()), (0, 0));
        cleanup(redis_store.key_prefix()).await;
    }
    sandbox.shutdown().await;
}

// ------------------------------------------------------ 6: a store write that fails

/// The write after a successful refresh fails: the new token is used from memory by
/// every caller (no refetch storm: one 2.2 for 100 concurrent callers and the calls
/// after), the error is reported by `last_store_error`, and it clears once a later write
/// succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_store_write_keeps_new_token() {
    let start = beijing_midnight(20_200) + 9 * HOUR_MS;
    let store = Arc::new(FaultyStore::new(MemoryTokenStore::new()));
    let (sandbox, clock, client) = lockstep_setup(start, store.clone()).await;
    let control = sandbox.control();
    let tokens = client.runtime().tokens();
    let key = tokens.key().to_owned();

    business_call(&client).await.expect("obtain");
    let first = store.inner().load(&key).await.unwrap().unwrap();
    assert_eq!(first.version, 1);
    assert!(tokens.last_store_error().is_none());

    // Expired; the refresh works, its write does not.
    store.set(StoreFault::FailRecordWrites);
    clock.advance(2 * HOUR_MS + 60_000);
    let (ok, failed, first_error) = concurrent_calls(&client, 100).await;
    assert_eq!((ok, failed), (100, 0), "{first_error:?}");
    assert_eq!(token_call_totals(control), (1, 1));
    assert_eq!(store.faulted(), 1);
    let error = tokens
        .last_store_error()
        .expect("the failed write is reported");
    assert_eq!(error.kind(), StoreErrorKind::Io);
    assert!(error.to_string().contains("unavailable"), "{error}");
    assert_eq!(
        store.inner().load(&key).await.unwrap().unwrap(),
        first,
        "the store keeps the old record"
    );

    // The new token keeps serving from memory for its lifetime.
    for _ in 0..10 {
        clock.advance(10 * 60_000);
        business_call(&client).await.expect("from memory");
    }
    assert_eq!(token_call_totals(control), (1, 1), "no refetch storm");

    // Writes work again: the next refresh is stored and the error clears.
    store.set(StoreFault::None);
    clock.advance(HOUR_MS);
    business_call(&client).await.expect("refresh, stored");
    assert_eq!(token_call_totals(control), (1, 2));
    assert!(tokens.last_store_error().is_none());
    let stored = store.inner().load(&key).await.unwrap().unwrap();
    // Version 2 never reached the store; the refresh builds on it (held in memory).
    assert_eq!(stored.version, 3);
    assert_eq!(stored.refresh_token, first.refresh_token);
    sandbox.shutdown().await;
}
