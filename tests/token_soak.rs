//! The token soak: 30 simulated days of the platform's token budgets (2.1 once per
//! Beijing day, 2.2 twenty times, access tokens of 2 h) on the sandbox's controlled
//! clock, with 4 OS processes sharing one Redis store.
//!
//! What the soak covers (each event once per 30-day cycle; see [`Plan`]):
//! - 4 child processes (this test binary re-executed, as in `token_sharing.rs`), each
//!   with a client on one `RedisTokenStore` (same key prefix) and a `ManualClock` the
//!   parent sets through a line protocol, so simulated time drives every process;
//! - a restart of each process every 8 simulated hours, staggered by 2 hours: the
//!   child is killed (SIGKILL, nothing flushed) and a new process spawned;
//! - bursts of business calls every 30–60 simulated minutes (each child `calls` calls
//!   at once), so a day needs about 12 refreshes with 2 h tokens;
//! - one Redis restart without persistence: every key under the run's prefix deleted and
//!   the children's Redis connections killed (`CLIENT KILL ID`, only theirs: the server
//!   may be shared). ORDER OF EVENTS: no process is restarted between the flush and
//!   the moment a holder wrote its token back (the parent polls the store for it). A
//!   process started in that gap finds nothing and would spend a 2.1; see
//!   `cold_start_right_after_a_redis_flush` for what happens then;
//! - one Beijing midnight crossed while the sandbox's clock (and so its `Date` header)
//!   is 2 minutes ahead of the children's, from 23:30 to 00:30, with a refresh forced
//!   (access tokens revoked) at 23:59 children's time = 00:01 platform time;
//! - one simulated day of 5 s access tokens (`Controls::set_access_token_lifetime`),
//!   with 15 bursts, each shorter than a token's life;
//! - one 30-minute outage of 2.2 (`Fault::Busy` on every `dss.auth.token.refresh`),
//!   placed around an expiry so that a refresh is due in it (ahead of expiry and after);
//! - one simulated hour of a platform incident: every call (2.1 and 2.2 included) is
//!   answered 1002 (`Fault::Reject`), and every child crash-loops: killed and started
//!   again each simulated minute, each new process making its burst. The rules that
//!   protect the budget live in the store, so the incident costs at most one 2.2 (and
//!   the day's 2.1, which the refused 2.2 leads to), whatever the number of restarts;
//!   the service works again at the first burst after it;
//! - one simulated day of member-code scans: every burst also scans codes whose text is
//!   `invalid token`, which the sandbox answers "会员码已失效: unknown code invalid
//!   token". The echo of the customer's scan never spends a refresh.
//!
//! Per platform day the soak records the sandbox's 2.1 and 2.2 calls (`token_calls()`,
//! read after every burst, so the last reading of a day is its total), the budget the
//! store counted, and the calls that failed for token reasons (`Error::Token`, counted
//! by the children), separately inside the outage and the incident. It asserts the
//! floor: every day ≤ 1 2.1 and ≤ 20 2.2, no token call refused by the platform
//! (lockout) outside the incident, no budget exhausted, one 2.1 issued in the whole soak,
//! ≤ 1 2.2 sent during the incident, 0 calls failed for token reasons outside the outage
//! and the incident, and every other call succeeded. The table is printed
//! (`--nocapture`).
//!
//! Two clocks, and what the parent does about it: token validity and budget days follow
//! the simulated clock, but the manager's pauses (the back-off after a failed token
//! call, the write-back interval, leases) are wall-clock durations. Thirty simulated
//! minutes pass in milliseconds here, so after the outage the parent waits out the
//! manager's back-off (5 s after one failed call, doubling) as thirty real minutes
//! would; the wait is a model of elapsed time, not a synchronisation.
//!
//! Run: `cargo test -p workspace-tests --test token_soak -- --nocapture`; the longer
//! variant (90 days, 3 cycles, more calls, restarts every 3 h):
//! `cargo test -p workspace-tests --test token_soak -- --ignored --nocapture`.
//! Redis is the server at `REDIS_URL` (default `redis://127.0.0.1:6379/`); without one
//! the soak fails when `CI` is set and is skipped with a notice otherwise.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gree_ump::endpoints::{ListLevelsRequest, ParseMemberCodeRequest};
use gree_ump::runtime::RetryPolicy;
use gree_ump::runtime::clock::{ManualClock, beijing_day};
use gree_ump::runtime::tokens::{
    BudgetKind, RedisTokenStore, TokenManager, TokenPolicy, TokenStore,
};
use gree_ump::{Client, Error};
use gree_ump_sandbox::config::{DEFAULT_APP_ID, DEFAULT_APP_SECRET};
use gree_ump_sandbox::{Controls, Fault, Sandbox, SandboxConfig, SandboxHandle};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{ChildStdin, ChildStdout};

#[path = "redis_helpers.rs"]
mod redis_helpers;
use redis_helpers::{raw_redis, redis_store, redis_url};

/// This suite's part of the Redis key prefixes.
const SUITE: &str = "token_soak";

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;
/// The longest a child may take to answer one step (generous: a busy 2-core box).
const STEP_TIMEOUT: Duration = Duration::from_secs(60);
/// The children's write-back interval (wall clock): after the Redis flush a holder
/// writes its token back on its first call this long after its last check.
const WRITE_BACK_EVERY: Duration = Duration::from_millis(250);
/// The manager's pause after one failed token call (it doubles with each failure in a
/// row): `FAILURE_BACKOFF` in `tokens/manager.rs`.
const MANAGER_BACKOFF: Duration = Duration::from_secs(5);
/// The `Date` skew served around one midnight.
const SKEW_MS: i64 = 2 * MINUTE_MS;
/// The refresh method, whose outage is simulated.
const REFRESH_METHOD: &str = "dss.auth.token.refresh";

// ------------------------------------------------------------------------ helpers

/// Deletes every key under `prefix`; returns how many there were.
async fn delete_prefix(prefix: &str) -> usize {
    let mut con = raw_redis().await;
    let mut cursor: u64 = 0;
    let mut deleted = 0;
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
            let n: usize = redis::cmd("DEL")
                .arg(&keys)
                .query_async(&mut con)
                .await
                .expect("DEL");
            deleted += n;
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    deleted
}

/// The Redis server's port (from `REDIS_URL`).
fn redis_port() -> u16 {
    redis::Client::open(redis_url())
        .ok()
        .and_then(|c| match c.get_connection_info().addr() {
            redis::ConnectionAddr::Tcp(_, port) => Some(*port),
            _ => None,
        })
        .unwrap_or(6379)
}

/// The local TCP ports of `pid`'s connections to the Redis port (Linux: `/proc`).
fn redis_client_ports(pid: u32) -> BTreeSet<u16> {
    let mut inodes = BTreeSet::new();
    if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                let target = target.to_string_lossy().into_owned();
                if let Some(inode) = target
                    .strip_prefix("socket:[")
                    .and_then(|t| t.strip_suffix(']'))
                {
                    inodes.insert(inode.to_owned());
                }
            }
        }
    }
    let mut ports = BTreeSet::new();
    let server_port = redis_port();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(remote), Some(inode)) = (cols.get(1), cols.get(2), cols.get(9))
            else {
                continue;
            };
            let port = |addr: &str| {
                addr.rsplit_once(':')
                    .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
            };
            if inodes.contains(*inode) && port(remote) == Some(server_port) {
                ports.extend(port(local));
            }
        }
    }
    ports
}

/// Kills the Redis connections of the given processes (`CLIENT KILL ID`), leaving every
/// other client of a possibly shared server alone. Returns how many it killed.
async fn kill_redis_connections_of(pids: &[u32]) -> usize {
    let ports: BTreeSet<u16> = pids.iter().flat_map(|&p| redis_client_ports(p)).collect();
    let mut con = raw_redis().await;
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(&mut con)
        .await
        .expect("CLIENT LIST");
    let mut killed = 0;
    for line in list.lines() {
        let field = |name: &str| {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(name))
                .map(str::to_owned)
        };
        let (Some(id), Some(addr)) = (field("id="), field("addr=")) else {
            continue;
        };
        let port = addr
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse::<u16>().ok());
        if port.is_some_and(|p| ports.contains(&p)) {
            let n: i64 = redis::cmd("CLIENT")
                .arg("KILL")
                .arg("ID")
                .arg(&id)
                .query_async(&mut con)
                .await
                .expect("CLIENT KILL");
            killed += usize::try_from(n).unwrap_or(0);
        }
    }
    killed
}

/// The instant Beijing day `day` (days since 1970-01-01, Beijing) begins.
fn beijing_midnight(day: i64) -> i64 {
    day * DAY_MS - 8 * HOUR_MS
}

fn beijing_date(day: i64) -> String {
    gree_ump::runtime::wire::BeijingDateTime::from_timestamp_ms(beijing_midnight(day))
        .map(|t| t.date().to_string())
        .unwrap_or_default()
}

/// `HH:MM` (Beijing) of an instant.
fn hhmm(at_ms: i64) -> String {
    let of_day = (at_ms + 8 * HOUR_MS).rem_euclid(DAY_MS);
    format!(
        "{:02}:{:02}",
        of_day / HOUR_MS,
        of_day % HOUR_MS / MINUTE_MS
    )
}

/// The store key of the sandbox's default app.
fn key(sandbox: &SandboxHandle) -> String {
    TokenManager::store_key("gree-ump", sandbox.base_url(), DEFAULT_APP_ID)
}

// ------------------------------------------------------------------ child processes

const CHILD_ENV: &str = "GREE_UMP_TOKEN_SOAK_CHILD_BASE_URL";
const PREFIX_ENV: &str = "GREE_UMP_TOKEN_SOAK_CHILD_PREFIX";
const REDIS_ENV: &str = "GREE_UMP_TOKEN_SOAK_CHILD_REDIS_URL";
const START_ENV: &str = "GREE_UMP_TOKEN_SOAK_CHILD_START_MS";
const CHILD_TAG: &str = "SOAK:";

/// Not a test of its own: the child process of the soak (this binary, re-executed with
/// [`CHILD_ENV`] set). Without the variable it returns at once.
///
/// Protocol, one line each way. The child prints `SOAK:ready pid=…` once its client is
/// built. `clock MS` sets its manual clock (answer `SOAK:clock MS`); `go N` makes N
/// concurrent business calls (answer `SOAK:done ok=… token_failed=… call_failed=…
/// other_failed=… obtain=… refresh=… kinds=… first_error=…`: its token calls since it
/// started, and the `TokenError` variants seen); `quit` or the end of stdin ends it.
#[test]
fn token_soak_child() {
    let Ok(base_url) = std::env::var(CHILD_ENV) else {
        return;
    };
    // One thread: four children and the parent share two cores.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("child: runtime");
    runtime.block_on(child_main(base_url));
}

async fn child_main(base_url: String) {
    let prefix = std::env::var(PREFIX_ENV).expect("child: prefix");
    let url = std::env::var(REDIS_ENV).expect("child: Redis URL");
    let start: i64 = std::env::var(START_ENV)
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("child: start time");
    let store = RedisTokenStore::connect(&url, prefix)
        .await
        .expect("child: Redis store");
    let clock = Arc::new(ManualClock::new(start));
    // The default policy but for two wall-clock intervals, shortened because a
    // simulated day passes in seconds: the write-back check, and the poll of an
    // instance waiting for another's refresh (100 ms would be most of the soak's time).
    let policy = TokenPolicy {
        write_back_every: WRITE_BACK_EVERY,
        poll_interval: Duration::from_millis(10),
        ..TokenPolicy::default()
    };
    let client = Client::builder()
        .base_url(&base_url)
        .app_id(DEFAULT_APP_ID)
        .app_secret(DEFAULT_APP_SECRET)
        .token_store(Arc::new(store))
        .token_policy(policy)
        .retry_policy(RetryPolicy::default())
        .clock(clock.clone())
        .build()
        .expect("child: client");
    println!("{CHILD_TAG}ready pid={}", std::process::id());
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await.expect("child: stdin") {
        let mut words = line.split_whitespace();
        let command = words.next();
        let number = words
            .next()
            .and_then(|w| w.parse::<i64>().ok())
            .unwrap_or(-1);
        match command {
            Some("clock") => {
                assert!(number >= 0, "child: clock MS, got {line:?}");
                clock.set_ms(number);
                println!("{CHILD_TAG}clock {number}");
            }
            Some("go") => {
                let n = usize::try_from(number).expect("child: go N");
                println!("{CHILD_TAG}{}", burst(&client, n).await);
            }
            Some("scan") => {
                let n = usize::try_from(number).expect("child: scan N");
                println!("{CHILD_TAG}{}", scans(&client, n).await);
            }
            Some("quit") | None => break,
            Some(other) => panic!("child: unknown command {other:?}"),
        }
    }
}

/// `n` concurrent business calls (3.8, list levels: a read that needs an access token).
async fn burst(client: &Client, n: usize) -> String {
    let began = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let client = client.clone();
        tasks.spawn(async move {
            client
                .members()
                .list_levels(ListLevelsRequest::new())
                .await
                .map(|levels| levels.page.total_count)
        });
    }
    let (mut ok, mut token_failed, mut call_failed, mut other_failed) = (0, 0, 0, 0);
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut first = None;
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("a caller task panicked") {
            Ok(Some(7)) => ok += 1,
            Ok(total) => {
                other_failed += 1;
                first.get_or_insert_with(|| format!("wrong level count {total:?}"));
            }
            Err(e) => {
                if let Error::Token(t) = &e {
                    token_failed += 1;
                    let debug = format!("{t:?}");
                    let kind = debug
                        .split(|c: char| !c.is_alphanumeric())
                        .next()
                        .unwrap_or_default()
                        .to_owned();
                    if kind == "CallFailed" {
                        call_failed += 1;
                    }
                    *kinds.entry(kind).or_default() += 1;
                } else {
                    other_failed += 1;
                }
                first.get_or_insert_with(|| e.to_string());
            }
        }
    }
    let (obtain, refresh) = client.runtime().tokens().calls_made();
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{k}:{n}")).collect();
    let kinds = if kinds.is_empty() {
        "-".to_owned()
    } else {
        kinds.join(",")
    };
    let first = first.unwrap_or_default().replace('\n', " ");
    format!(
        "done ok={ok} token_failed={token_failed} call_failed={call_failed} \
         other_failed={other_failed} obtain={obtain} refresh={refresh} kinds={kinds} \
         wall_us={} first_error={first}",
        began.elapsed().as_micros()
    )
}

/// The code a customer's scan yields on the scan day: text the platform quotes back in
/// its error message, and one of the spec's invalid-token phrases.
const ECHOED_CODE: &str = "invalid token";

/// `n` concurrent member-code scans (3.7) of [`ECHOED_CODE`]: each must fail with 110006
/// (the platform quoting the code), never for token reasons. Answer: `scanned
/// expired=… other=… refresh=…`.
async fn scans(client: &Client, n: usize) -> String {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let client = client.clone();
        tasks.spawn(async move {
            client
                .members()
                .parse_member_code(ParseMemberCodeRequest::new(ECHOED_CODE))
                .await
        });
    }
    let (mut expired, mut other) = (0, 0);
    let mut first = String::new();
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("a scan task panicked") {
            Err(Error::Api(e)) if e.raw_code == 110006 => expired += 1,
            result => {
                other += 1;
                if first.is_empty() {
                    first = format!("{result:?}").replace('\n', " ");
                }
            }
        }
    }
    let (_, refresh) = client.runtime().tokens().calls_made();
    format!("scanned expired={expired} other={other} refresh={refresh} first={first}")
}

/// What a child reported for one `go`.
#[derive(Debug, Clone)]
struct Round {
    ok: u64,
    token_failed: u64,
    /// Calls whose token call itself failed (not refused for a pause or a budget).
    call_failed: u64,
    other_failed: u64,
    obtain: u64,
    refresh: u64,
    kinds: String,
    /// How long the child's burst took (wall clock).
    wall: Duration,
    first_error: String,
}

impl Round {
    fn parse(line: &str) -> Round {
        let rest = line
            .strip_prefix("done ")
            .unwrap_or_else(|| panic!("a `done` line, got {line:?}"));
        let (counts, first_error) = rest.split_once(" first_error=").expect("first_error");
        let word = |name: &str| -> String {
            counts
                .split_whitespace()
                .find_map(|w| w.strip_prefix(&format!("{name}=")))
                .unwrap_or_else(|| panic!("no {name} in {line:?}"))
                .to_owned()
        };
        let field = |name: &str| -> u64 {
            word(name)
                .parse()
                .unwrap_or_else(|_| panic!("{name} in {line:?}"))
        };
        Round {
            ok: field("ok"),
            token_failed: field("token_failed"),
            call_failed: field("call_failed"),
            other_failed: field("other_failed"),
            obtain: field("obtain"),
            refresh: field("refresh"),
            kinds: word("kinds"),
            wall: Duration::from_micros(field("wall_us")),
            first_error: first_error.to_owned(),
        }
    }
}

/// A child process seen from the parent.
struct Worker {
    name: String,
    pid: u32,
    child: tokio::process::Child,
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    /// Whether its `ready` line was read.
    ready: bool,
}

impl Worker {
    /// Starts a child. Its `ready` line is awaited before its first answer (so its
    /// start overlaps with the parent's next steps; it is sent nothing before).
    fn start(name: String, base_url: &str, prefix: &str, now_ms: i64) -> Worker {
        let mut child = tokio::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "token_soak_child",
                "--test-threads=1",
                "--nocapture",
            ])
            .env(CHILD_ENV, base_url)
            .env(PREFIX_ENV, prefix)
            .env(REDIS_ENV, redis_url())
            .env(START_ENV, now_ms.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn a child process");
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().expect("child stdout")).lines();
        Worker {
            name,
            pid: child.id().expect("a child pid"),
            child,
            stdin,
            stdout,
            ready: false,
        }
    }

    /// Waits until the child's client is built (once).
    async fn ready(&mut self) {
        if !self.ready {
            let ready = self.line().await;
            assert_eq!(ready, format!("ready pid={}", self.pid), "{}", self.name);
            self.ready = true;
        }
    }

    /// The next answer of the child (without the tag), after its `ready`.
    async fn message(&mut self) -> String {
        self.ready().await;
        self.line().await
    }

    /// The next line of the child meant for us (without the tag).
    async fn line(&mut self) -> String {
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

    async fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("child stdin");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .expect("write to child");
        stdin.flush().await.expect("flush to child");
    }

    /// Kills the process (SIGKILL: nothing in memory survives, nothing is flushed).
    async fn kill(mut self) {
        self.child.start_kill().expect("kill a child");
        let status = tokio::time::timeout(STEP_TIMEOUT, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} did not die", self.name))
            .expect("wait for child");
        assert!(!status.success(), "{} was killed: {status}", self.name);
    }

    /// Ends the child and checks it exited cleanly.
    async fn finish(mut self) {
        self.ready().await;
        self.stdin = None;
        let status = tokio::time::timeout(STEP_TIMEOUT, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} did not exit", self.name))
            .expect("wait for child");
        assert!(status.success(), "{} exited with {status}", self.name);
    }
}

/// Sets every child's clock to `local_ms`, then has each make `n` concurrent calls
/// (all children at once).
async fn burst_all(workers: &mut [Worker], local_ms: i64, n: usize) -> Vec<Round> {
    // A child handles its lines in order: its clock is set before its calls begin,
    // and its answer to `clock` confirms it.
    for w in workers.iter_mut() {
        w.send(&format!("clock {local_ms}\ngo {n}")).await;
    }
    let mut rounds = Vec::new();
    for w in workers.iter_mut() {
        let answer = w.message().await;
        assert_eq!(answer, format!("clock {local_ms}"), "{}", w.name);
        let line = w.message().await;
        rounds.push(Round::parse(&line));
    }
    rounds
}

// ------------------------------------------------------------------------ the plan

/// The shape of a soak. Every special event happens once per 30-day cycle, on the
/// cycle's days given here (0-based).
#[derive(Debug, Clone, Copy)]
struct Plan {
    days: i64,
    /// Concurrent business calls per child per burst.
    calls: usize,
    /// Each child is restarted this often (simulated), staggered by a quarter of it.
    restart_every_ms: i64,
    /// The day whose access tokens live 5 s.
    short_token_day: i64,
    /// The day of the Redis restart without persistence (at 13:10).
    flush_day: i64,
    /// The night from this day to the next is crossed with the `Date` skew.
    skew_night: i64,
    /// The day of the 2.2 outage (around the first expiry after 10:00).
    outage_day: i64,
    /// The day of the hour-long incident (1002 to every call, from the first instant
    /// after 15:00 at which the token held has 75 minutes left).
    incident_day: i64,
    /// The day whose bursts also scan member codes the platform quotes back.
    scan_day: i64,
}

const CI_PLAN: Plan = Plan {
    days: 30,
    calls: 4,
    restart_every_ms: 8 * HOUR_MS,
    short_token_day: 8,
    flush_day: 13,
    skew_night: 18,
    outage_day: 23,
    incident_day: 26,
    scan_day: 28,
};

const LONG_PLAN: Plan = Plan {
    days: 90,
    calls: 16,
    restart_every_ms: 3 * HOUR_MS,
    ..CI_PLAN
};

/// What happens at one simulated instant (children's clock), in this order when several
/// share an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// From now on the sandbox's clock runs `SKEW_MS` ahead of the children's.
    SkewOn,
    SkewOff,
    /// Access tokens issued from now on live this many seconds.
    TokenLifetime(u64),
    /// The first expiry after this instant gets the outage around it.
    PlanOutage,
    OutageStart,
    OutageEnd,
    /// Kill child `i` and start a new process in its place.
    Restart(usize),
    /// Every access token is revoked (a refresh is due at the next burst).
    RevokeAccess,
    Burst,
    /// The Redis restart without persistence, after the burst at the same instant.
    FlushRedis,
    /// The incident is placed here, or later (see `Plan::incident_day`).
    PlanIncident,
    IncidentStart,
    IncidentEnd,
    /// Member-code scans by every child (the scan day), after the burst of the instant.
    Scan,
}

type Schedule = BTreeMap<i64, BTreeSet<Event>>;

fn add(schedule: &mut Schedule, at: i64, event: Event) {
    schedule.entry(at).or_default().insert(event);
}

/// The whole schedule but the outage (placed once the expiry it surrounds is known).
fn schedule(plan: &Plan, first_day: i64) -> Schedule {
    let mut s = Schedule::new();
    // Bursts every 30–60 minutes, never within 3 minutes of a midnight (a burst takes
    // some wall time, during which the sandbox clock runs).
    const GAPS_MIN: [i64; 6] = [30, 45, 60, 40, 50, 35];
    let start = beijing_midnight(first_day) + 30 * MINUTE_MS;
    let end = beijing_midnight(first_day + plan.days);
    let mut t = start;
    let mut i = 0;
    while t < end {
        let day = beijing_day(t) - first_day;
        let of_day = t - beijing_midnight(beijing_day(t));
        // (5 minutes before: the skewed night's platform clock is 2 minutes ahead.)
        let near_midnight = !(3 * MINUTE_MS..DAY_MS - 5 * MINUTE_MS).contains(&of_day);
        if day % 30 != plan.short_token_day && !near_midnight {
            add(&mut s, t, Event::Burst);
        }
        t += GAPS_MIN[i % GAPS_MIN.len()] * MINUTE_MS;
        i += 1;
    }
    for cycle in 0..(plan.days + 29) / 30 {
        let base = first_day + cycle * 30;
        // The day of 5 s tokens: 15 bursts, 96 minutes apart, from 00:45.
        let short = beijing_midnight(base + plan.short_token_day);
        if short < end {
            add(&mut s, short, Event::TokenLifetime(5));
            for k in 0..15 {
                add(
                    &mut s,
                    short + 45 * MINUTE_MS + k * 96 * MINUTE_MS,
                    Event::Burst,
                );
            }
            add(&mut s, short + DAY_MS, Event::TokenLifetime(7_200));
        }
        // The Redis restart without persistence, mid-day, between two bursts.
        let flush = beijing_midnight(base + plan.flush_day) + 13 * HOUR_MS + 10 * MINUTE_MS;
        if flush < end {
            add(&mut s, flush, Event::Burst);
            add(&mut s, flush, Event::FlushRedis);
        }
        // The skewed midnight: the sandbox 2 minutes ahead from 23:30 to 00:30; bursts
        // at 23:40 (the children measure the skew) and at 23:59 (00:01 on the
        // platform: a new day there, the old one here), with a refresh forced then.
        let midnight = beijing_midnight(base + plan.skew_night + 1);
        if midnight < end {
            add(&mut s, midnight - 30 * MINUTE_MS, Event::SkewOn);
            add(&mut s, midnight - 20 * MINUTE_MS, Event::Burst);
            add(&mut s, midnight - MINUTE_MS, Event::RevokeAccess);
            add(&mut s, midnight - MINUTE_MS, Event::Burst);
            add(&mut s, midnight + 30 * MINUTE_MS, Event::SkewOff);
        }
        let outage = beijing_midnight(base + plan.outage_day) + 10 * HOUR_MS;
        if outage < end {
            add(&mut s, outage, Event::PlanOutage);
        }
        let incident = beijing_midnight(base + plan.incident_day) + 15 * HOUR_MS;
        if incident < end {
            add(&mut s, incident, Event::PlanIncident);
        }
    }
    // The scan day: every burst scans too.
    let bursts: Vec<i64> = s
        .iter()
        .filter(|(at, events)| {
            events.contains(&Event::Burst) && (beijing_day(**at) - first_day) % 30 == plan.scan_day
        })
        .map(|(at, _)| *at)
        .collect();
    for at in bursts {
        add(&mut s, at, Event::Scan);
    }
    // Restarts: child i every `restart_every_ms`, offset by i quarters of it.
    for child in 0..4 {
        let mut at = start + plan.restart_every_ms * (child as i64 + 1) / 4;
        while at < end {
            add(&mut s, at, Event::Restart(child));
            at += plan.restart_every_ms;
        }
    }
    s
}

// ------------------------------------------------------------------ the bookkeeping

/// Which fault, if any, the platform suffers during a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Normal,
    /// 2.2 answered busy.
    Outage,
    /// Every call answered 1002.
    Incident,
}

/// One platform day of the soak.
#[derive(Debug, Default, Clone)]
struct DayRow {
    /// The sandbox's counts (genuine calls, refused ones included) and issuances.
    obtain_calls: u32,
    obtain_issued: u32,
    refresh_calls: u32,
    refresh_issued: u32,
    /// What the shared store counted (the budget the clients spent).
    store_obtain: u32,
    store_refresh: u32,
    /// Budget counted before the Redis flush of that day (lost with it).
    store_refresh_lost: u32,
    calls: u64,
    /// Calls failed for token reasons outside the outage, and inside it.
    token_failures: u64,
    outage_failures: u64,
    /// Calls failed for any other reason (none expected: no other fault is injected).
    other_failures: u64,
    /// Calls refused for an exhausted budget or a lost 2.1.
    lockouts: u64,
    /// Calls failed during the incident (for any reason: the platform refused them).
    incident_failures: u64,
    /// The sandbox's 2.1 and 2.2 calls during the incident.
    incident_obtain: u32,
    incident_refresh: u32,
    /// Member-code scans answered 110006 (the platform quoting the code), and others.
    scans_expired: u64,
    scans_other: u64,
    /// The first failure of the day outside the outage, if any.
    first_failure: Option<String>,
    notes: Vec<String>,
}

fn add_rounds(row: &mut DayRow, rounds: &[Round], phase: Phase, when: &str) {
    let in_outage = phase == Phase::Outage;
    for (i, r) in rounds.iter().enumerate() {
        row.calls += r.ok + r.token_failed + r.other_failed;
        if phase == Phase::Incident {
            row.incident_failures += r.token_failed + r.other_failed;
            continue;
        }
        row.other_failures += r.other_failed;
        if in_outage {
            row.outage_failures += r.token_failed;
        } else {
            row.token_failures += r.token_failed;
        }
        if r.kinds.contains("BudgetExhausted") || r.kinds.contains("ObtainLost") {
            row.lockouts += 1;
        }
        if (r.other_failed > 0 || (r.token_failed > 0 && !in_outage)) && row.first_failure.is_none()
        {
            row.first_failure = Some(format!(
                "{when}, child {i}: {} failed ({}): {}",
                r.token_failed + r.other_failed,
                r.kinds,
                r.first_error
            ));
        }
    }
}

// ------------------------------------------------------------------------ the soak

async fn soak(plan: Plan, test: &str) {
    let Some(store) = redis_store(SUITE, test).await else {
        return;
    };
    let wall = Instant::now();
    let prefix = store.key_prefix().to_owned();
    let first_day = 20_300; // 2025-07-31, Beijing
    let schedule0 = schedule(&plan, first_day);
    let start = *schedule0.keys().next().expect("a schedule");
    let sandbox = Sandbox::start(SandboxConfig::default().with_start_time_ms(start))
        .await
        .expect("sandbox starts");
    let control: Controls = sandbox.control().clone();
    let key = key(&sandbox);
    let base_url = sandbox.base_url().to_owned();

    let mut generation = [0u32; 4];
    let mut workers = Vec::new();
    for i in 0..4 {
        workers.push(Worker::start(
            format!("child {i}.0"),
            &base_url,
            &prefix,
            start,
        ));
    }

    let mut rows: BTreeMap<i64, DayRow> = BTreeMap::new();
    let mut schedule = schedule0;
    let mut skew = 0;
    let mut in_outage = false;
    let mut in_incident = false;
    // The clients' token calls when the incident began, and the number of restarts in it.
    let mut incident_from: Option<(u64, u64)> = None;
    let mut incident_window: Option<(i64, i64)> = None;
    let mut outage_window: Option<(i64, i64)> = None;
    // Per child: bursts in the outage in which its own token call failed (the manager's
    // back-off doubles with each).
    let mut outage_failed_bursts = [0u32; 4];
    let mut last_outage_burst = None;
    let (mut bursts, mut restarts) = (0u64, 0u64);
    let (mut burst_wall, mut restart_wall) = (Duration::ZERO, Duration::ZERO);
    // Inside the children: the calls of a burst (the longest child), summed; the longest.
    let (mut calls_wall, mut longest_burst) = (Duration::ZERO, Duration::ZERO);
    // Set by the forced refresh of the skewed midnight: checked after its burst.
    let mut skewed_refresh: Option<(i64, u32)> = None;
    // Rounds are cumulative per process: a killed child's counts are kept here.
    let (mut obtain_by_clients, mut refresh_by_clients) = (0u64, 0u64);
    let mut current = [(0u64, 0u64); 4];

    while let Some((t, events)) = schedule.pop_first() {
        let platform_now = t + skew;
        let day = beijing_day(platform_now);
        let when = format!(
            "day {} {} {}",
            day - first_day + 1,
            beijing_date(day),
            hhmm(t)
        );
        for event in events {
            match event {
                Event::SkewOn => {
                    skew = SKEW_MS;
                    rows.entry(day).or_default().notes.push(format!(
                        "Date +2 min from {} to 00:30 (children's clock)",
                        hhmm(t)
                    ));
                }
                Event::SkewOff => skew = 0,
                Event::TokenLifetime(seconds) => {
                    control.set_access_token_lifetime(Duration::from_secs(seconds));
                    if seconds < 60 {
                        rows.entry(day)
                            .or_default()
                            .notes
                            .push(format!("{seconds} s tokens, 15 bursts"));
                    }
                }
                Event::PlanOutage => {
                    let record = store.load(&key).await.unwrap().expect("a token record");
                    let expiry = record.access_expires_at_ms;
                    if expiry - 10 * MINUTE_MS <= t {
                        // No room before this expiry: plan around the next token's.
                        add(&mut schedule, t + 30 * MINUTE_MS, Event::PlanOutage);
                        continue;
                    }
                    let (from, to) = (expiry - 10 * MINUTE_MS, expiry + 20 * MINUTE_MS);
                    add(&mut schedule, from, Event::OutageStart);
                    // Inside the refresh-ahead window (330 s before expiry), then after
                    // the expiry: a refresh is due at both.
                    add(&mut schedule, expiry - 4 * MINUTE_MS, Event::Burst);
                    add(&mut schedule, expiry + 5 * MINUTE_MS, Event::Burst);
                    add(&mut schedule, to, Event::OutageEnd);
                    outage_window = Some((from, to));
                }
                Event::OutageStart => {
                    control.inject_fault(REFRESH_METHOD, Fault::Busy, u32::MAX);
                    in_outage = true;
                    rows.entry(day).or_default().notes.push(format!(
                        "2.2 busy {}–{}",
                        hhmm(t),
                        hhmm(t + 30 * MINUTE_MS)
                    ));
                }
                Event::OutageEnd => {
                    control.clear_faults();
                    in_outage = false;
                    // Thirty simulated minutes are milliseconds here: wait out the
                    // manager's wall-clock back-off, as thirty real minutes would.
                    let k = outage_failed_bursts.iter().copied().max().unwrap_or(0);
                    if let (Some(last), true) = (last_outage_burst, k > 0) {
                        let backoff = MANAGER_BACKOFF * (1 << (k - 1).min(6));
                        tokio::time::sleep_until(
                            tokio::time::Instant::from_std(last) + backoff + Duration::from_secs(1),
                        )
                        .await;
                    }
                }
                Event::Restart(i) => {
                    let began = Instant::now();
                    workers.remove(i).kill().await;
                    generation[i] += 1;
                    let name = format!("child {i}.{}", generation[i]);
                    workers.insert(i, Worker::start(name, &base_url, &prefix, t));
                    obtain_by_clients += current[i].0;
                    refresh_by_clients += current[i].1;
                    current[i] = (0, 0);
                    restarts += 1;
                    restart_wall += began.elapsed();
                }
                Event::RevokeAccess => {
                    control.set_time_ms(platform_now);
                    control.revoke_access_tokens();
                    let previous = store
                        .budget_used(&key, BudgetKind::Refresh, beijing_day(t))
                        .await
                        .unwrap();
                    skewed_refresh = Some((beijing_day(t), previous));
                }
                Event::Burst => {
                    control.set_time_ms(platform_now);
                    let began = Instant::now();
                    let rounds = burst_all(&mut workers, t, plan.calls).await;
                    burst_wall += began.elapsed();
                    let longest = rounds.iter().map(|r| r.wall).max().unwrap_or_default();
                    calls_wall += longest;
                    longest_burst = longest_burst.max(longest);
                    bursts += 1;
                    for (i, r) in rounds.iter().enumerate() {
                        current[i] = (r.obtain, r.refresh);
                    }
                    if in_outage {
                        for (i, r) in rounds.iter().enumerate() {
                            if r.call_failed > 0 {
                                outage_failed_bursts[i] += 1;
                            }
                        }
                        last_outage_burst = Some(Instant::now());
                    }
                    // The platform's day may be the children's next one (the skew).
                    let counts = control.token_calls();
                    let row = rows.entry(counts.beijing_day).or_default();
                    let phase = if in_incident {
                        Phase::Incident
                    } else if in_outage {
                        Phase::Outage
                    } else {
                        Phase::Normal
                    };
                    add_rounds(row, &rounds, phase, &when);
                    row.obtain_calls = counts.obtain_calls;
                    row.obtain_issued = counts.obtain_issued;
                    row.refresh_calls = counts.refresh_calls;
                    row.refresh_issued = counts.refresh_issued;
                    record_store_counts(&store, &key, &mut rows, counts.beijing_day).await;
                    if let Some((local_day, before)) = skewed_refresh.take() {
                        // 23:59 here, 00:01 on the platform: the refresh the revocation
                        // forced is the platform's first of its new day, and the store
                        // counted it on that day, not on the children's local one.
                        assert_eq!(counts.beijing_day, local_day + 1, "{when}");
                        assert_eq!(
                            (counts.refresh_calls, counts.refresh_issued),
                            (1, 1),
                            "{when}: one refresh after the revocation"
                        );
                        let budget = |d| store.budget_used(&key, BudgetKind::Refresh, d);
                        assert_eq!(budget(local_day).await.unwrap(), before, "{when}");
                        assert_eq!(budget(local_day + 1).await.unwrap(), 1, "{when}");
                        rows.entry(local_day + 1).or_default().notes.push(
                            "00:01 (23:59 on the children's clock): tokens revoked, one 2.2, \
                             counted on this day"
                                .to_owned(),
                        );
                    }
                }
                Event::PlanIncident => {
                    let record = store.load(&key).await.unwrap().expect("a token record");
                    if record.access_expires_at_ms - t < 75 * MINUTE_MS {
                        // The token held would expire in the incident: later.
                        add(&mut schedule, t + 20 * MINUTE_MS, Event::PlanIncident);
                        continue;
                    }
                    add(&mut schedule, t, Event::IncidentStart);
                    for k in 1..=60 {
                        let at = t + k * MINUTE_MS;
                        for child in 0..4 {
                            add(&mut schedule, at, Event::Restart(child));
                        }
                        add(&mut schedule, at, Event::Burst);
                    }
                    add(&mut schedule, t + 61 * MINUTE_MS, Event::IncidentEnd);
                    // The first burst after it: the service works again.
                    add(&mut schedule, t + 62 * MINUTE_MS, Event::Burst);
                    incident_window = Some((t, t + 61 * MINUTE_MS));
                }
                Event::IncidentStart => {
                    control.inject_fault("*", Fault::Reject { code: 1002 }, u32::MAX);
                    in_incident = true;
                    let sum = |f: fn(&(u64, u64)) -> u64| current.iter().map(f).sum::<u64>();
                    incident_from = Some((
                        obtain_by_clients + sum(|c| c.0),
                        refresh_by_clients + sum(|c| c.1),
                    ));
                    rows.entry(day).or_default().notes.push(format!(
                        "1002 to every call {}–{}, every process restarted each minute",
                        hhmm(t),
                        hhmm(t + 61 * MINUTE_MS)
                    ));
                }
                Event::IncidentEnd => {
                    control.clear_faults();
                    in_incident = false;
                    let sum = |f: fn(&(u64, u64)) -> u64| current.iter().map(f).sum::<u64>();
                    let (obtain0, refresh0) = incident_from.take().expect("the incident began");
                    let row = rows.entry(day).or_default();
                    row.incident_obtain +=
                        u32::try_from(obtain_by_clients + sum(|c| c.0) - obtain0).unwrap();
                    row.incident_refresh +=
                        u32::try_from(refresh_by_clients + sum(|c| c.1) - refresh0).unwrap();
                }
                Event::Scan => {
                    for w in workers.iter_mut() {
                        w.send(&format!("scan {}", plan.calls)).await;
                    }
                    let row = rows.entry(day).or_default();
                    for (i, w) in workers.iter_mut().enumerate() {
                        let line = w.message().await;
                        let rest = line
                            .strip_prefix("scanned ")
                            .unwrap_or_else(|| panic!("a `scanned` line, got {line:?}"));
                        let field = |name: &str| -> u64 {
                            rest.split_whitespace()
                                .find_map(|word| word.strip_prefix(&format!("{name}=")))
                                .and_then(|v| v.parse().ok())
                                .unwrap_or_else(|| panic!("no {name} in {line:?}"))
                        };
                        row.scans_expired += field("expired");
                        row.scans_other += field("other");
                        if field("other") > 0 && row.first_failure.is_none() {
                            row.first_failure = Some(format!("{when}, scan of child {i}: {line}"));
                        }
                        current[i].1 = field("refresh");
                    }
                }
                Event::FlushRedis => {
                    let rounds =
                        flush_and_write_back(&store, &key, &mut workers, &mut rows, day, t, &when)
                            .await;
                    for (i, r) in rounds.iter().enumerate() {
                        current[i] = (r.obtain, r.refresh);
                    }
                }
            }
        }
    }
    for (i, w) in workers.into_iter().enumerate() {
        obtain_by_clients += current[i].0;
        refresh_by_clients += current[i].1;
        w.finish().await;
    }

    // ------------------------------------------------------------ the table, the floor
    let elapsed = wall.elapsed();
    let (window_from, window_to) = outage_window.expect("the outage was planned");
    let mut table = String::new();
    table.push_str(
        "| day | date | 2.1 | 2.2 | 2.2 budget spent | token failures | outage failures | incident failures (2.1, 2.2 sent) | scans answered 110006 | calls | events |\n",
    );
    table.push_str("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (day, row) in &rows {
        let spent = if row.store_refresh_lost > 0 {
            format!(
                "{} ({} counted before the flush, then put back by the holders)",
                row.store_refresh, row.store_refresh_lost,
            )
        } else {
            row.store_refresh.to_string()
        };
        let incident = if row.incident_failures > 0 || row.incident_refresh > 0 {
            format!(
                "{} ({}, {})",
                row.incident_failures, row.incident_obtain, row.incident_refresh
            )
        } else {
            "0".to_owned()
        };
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            day - first_day + 1,
            beijing_date(*day),
            row.obtain_calls,
            row.refresh_calls,
            spent,
            row.token_failures,
            row.outage_failures,
            incident,
            row.scans_expired,
            row.calls,
            row.notes.join("; ")
        ));
    }
    let total = |f: fn(&DayRow) -> u64| rows.values().map(f).sum::<u64>();
    eprintln!(
        "token soak ({test}): {} simulated days, {bursts} bursts, {} business calls, \
         {restarts} process restarts, in {elapsed:.1?} wall (bursts {burst_wall:.1?}, of \
         which calls {calls_wall:.1?}, the longest {longest_burst:.1?}; restarts \
         {restart_wall:.1?}); outage {}–{}; incident {}\n{table}",
        plan.days,
        total(|r| r.calls),
        hhmm(window_from),
        hhmm(window_to),
        incident_window.map_or_else(
            || "none".to_owned(),
            |(from, to)| format!("{}–{}", hhmm(from), hhmm(to))
        ),
    );

    // Every platform day of the soak has a row.
    assert_eq!(rows.len() as i64, plan.days, "{table}");
    let total_obtain: u64 = total(|r| u64::from(r.obtain_calls));
    let total_refresh: u64 = total(|r| u64::from(r.refresh_calls));
    assert_eq!(total_obtain, 1, "one 2.1 in the whole soak:\n{table}");
    let failures: Vec<&String> = rows
        .values()
        .filter_map(|r| r.first_failure.as_ref())
        .collect();
    assert_eq!(
        total(|r| r.token_failures),
        0,
        "calls failed for token reasons outside the outage: {failures:#?}\n{table}"
    );
    assert_eq!(total(|r| r.other_failures), 0, "{failures:#?}\n{table}");
    assert_eq!(total(|r| r.lockouts), 0, "{failures:#?}\n{table}");
    assert!(
        total(|r| r.outage_failures) > 0,
        "the outage was meant to make a refresh due in it:\n{table}"
    );
    // The incident: however many processes started in it, at most one 2.2 (and the 2.1
    // the refused 2.2 leads to) reached the platform.
    if incident_window.is_some() {
        assert!(total(|r| r.incident_failures) > 0, "{table}");
        assert!(
            total(|r| u64::from(r.incident_refresh)) <= 1,
            "2.2 calls during the incident:\n{table}"
        );
        assert!(
            total(|r| u64::from(r.incident_obtain)) <= 1,
            "2.1 calls during the incident:\n{table}"
        );
    }
    // The scans: every one answered 110006, none cost a refresh (the day's count is
    // checked with the others below).
    assert_eq!(total(|r| r.scans_other), 0, "{failures:#?}\n{table}");
    assert!(
        plan.days <= plan.scan_day || total(|r| r.scans_expired) > 0,
        "{table}"
    );
    for (day, row) in &rows {
        let cycle_day = (day - first_day) % 30;
        let what = format!("day {} ({})", day - first_day + 1, beijing_date(*day));
        assert!(
            row.obtain_calls <= 1 && row.refresh_calls <= 20,
            "{what}:\n{table}"
        );
        assert!(row.store_refresh <= 20, "{what}:\n{table}");
        assert_eq!(
            (row.obtain_calls, row.refresh_calls),
            (row.obtain_issued, row.refresh_issued),
            "{what}: a lockout:\n{table}"
        );
        // The store's budget day is the platform's day (the skew is corrected), and
        // every 2.2 the platform saw was counted there. The outage adds the busy calls
        // (sent, so counted; the platform did not process them).
        // The incident's token calls were refused before the sandbox processed them:
        // counted by the store (they were sent), not by the sandbox.
        assert_eq!(
            row.store_obtain,
            row.obtain_calls + row.incident_obtain,
            "{what}:\n{table}"
        );
        if cycle_day == plan.outage_day {
            assert!(
                row.store_refresh > row.refresh_calls,
                "{what}: the busy 2.2 calls are counted:\n{table}"
            );
        } else if cycle_day == plan.flush_day {
            // The flush deleted the day's count; the holders put back what they knew
            // of it (each knows the count as of its own last refresh), so the store
            // never counts more than were made, and got some of the lost count back.
            assert!(
                row.store_refresh <= row.refresh_calls
                    && row.store_refresh + row.store_refresh_lost > row.refresh_calls,
                "{what}: the count came back (in part) with the record:\n{table}"
            );
        } else {
            assert_eq!(
                row.store_refresh,
                row.refresh_calls + row.incident_refresh,
                "{what}:\n{table}"
            );
        }
        if cycle_day == plan.short_token_day {
            assert!(
                (14..=17).contains(&row.refresh_calls),
                "{what}: one refresh per burst of 5 s tokens:\n{table}"
            );
        } else {
            assert!(
                (8..=14).contains(&row.refresh_calls),
                "{what}: about 12 refreshes a day with 2 h tokens:\n{table}"
            );
        }
    }
    // The clients' own counters agree with the platform's totals (busy calls aside).
    assert_eq!(
        obtain_by_clients,
        total_obtain + total(|r| u64::from(r.incident_obtain))
    );
    // The busy 2.2 calls of the outage, and the incident's refused ones: sent (so
    // counted by the clients and the store), never processed by the sandbox.
    let busy: i64 = rows
        .iter()
        .filter(|(day, _)| (*day - first_day) % 30 == plan.outage_day)
        .map(|(_, r)| i64::from(r.store_refresh) - i64::from(r.refresh_calls))
        .sum();
    let incident = i64::try_from(total(|r| u64::from(r.incident_refresh))).unwrap();
    assert_eq!(
        i64::try_from(refresh_by_clients).unwrap(),
        i64::try_from(total_refresh).unwrap() + busy + incident,
        "{table}"
    );

    sandbox.shutdown().await;
    delete_prefix(&prefix).await;
}

/// The Redis restart without persistence: every key of the run deleted, the children's
/// connections killed. Then the holders write their token back (on their first call
/// `WRITE_BACK_EVERY` after their last check); the parent polls the store for it before
/// anything else happens, so no process starts in the gap (see the module docs).
async fn flush_and_write_back(
    store: &RedisTokenStore,
    key: &str,
    workers: &mut [Worker],
    rows: &mut BTreeMap<i64, DayRow>,
    day: i64,
    t: i64,
    when: &str,
) -> Vec<Round> {
    let before = store
        .load(key)
        .await
        .unwrap()
        .expect("a record before the flush");
    let lost = store
        .budget_used(key, BudgetKind::Refresh, day)
        .await
        .unwrap();
    let deleted = delete_prefix(store.key_prefix()).await;
    assert!(
        deleted >= 2,
        "{when}: the record and the budget were deleted"
    );
    assert!(store.load(key).await.unwrap().is_none());
    for w in workers.iter_mut() {
        w.ready().await; // connected to Redis
    }
    let pids: Vec<u32> = workers.iter().map(|w| w.pid).collect();
    let killed = if cfg!(target_os = "linux") {
        let killed = kill_redis_connections_of(&pids).await;
        assert!(
            killed >= workers.len(),
            "{when}: each child's Redis connection was killed ({killed})"
        );
        killed
    } else {
        0
    };
    let deadline = Instant::now() + STEP_TIMEOUT;
    let mut probes = 0;
    // Budget counted today before the flush: lost with it (the store counts from 0).
    let row = rows.entry(day).or_default();
    row.store_refresh_lost = lost;
    row.store_refresh = 0;
    let (written_back, rounds) = loop {
        let rounds = burst_all(workers, t, 1).await;
        probes += 1;
        add_rounds(rows.entry(day).or_default(), &rounds, Phase::Normal, when);
        if let Some(record) = store.load(key).await.unwrap() {
            break (record, rounds);
        }
        assert!(
            Instant::now() < deadline,
            "{when}: no holder wrote its token back within {STEP_TIMEOUT:?}"
        );
        tokio::time::sleep(WRITE_BACK_EVERY / 4).await;
    };
    assert_eq!(written_back.version, before.version, "{when}");
    assert_eq!(written_back.access_token, before.access_token, "{when}");
    rows.entry(day).or_default().notes.push(format!(
        "Redis flushed at {} ({deleted} keys, {killed} connections killed); token written \
         back after {probes} probe bursts",
        hhmm(t)
    ));
    rounds
}

/// The budget the store counted on `day` and the day before. Counts only grow within a
/// day (the flush resets the day's row first), so the larger reading is kept: the
/// flush also deletes the count of the day before, already complete.
async fn record_store_counts(
    store: &RedisTokenStore,
    key: &str,
    rows: &mut BTreeMap<i64, DayRow>,
    day: i64,
) {
    for d in [day - 1, day] {
        let obtain = store.budget_used(key, BudgetKind::Obtain, d).await.unwrap();
        let refresh = store
            .budget_used(key, BudgetKind::Refresh, d)
            .await
            .unwrap();
        if let Some(row) = rows.get_mut(&d) {
            row.store_obtain = row.store_obtain.max(obtain);
            row.store_refresh = row.store_refresh.max(refresh);
        }
    }
}

/// The order the soak keeps, not kept: a process starts right after the Redis flush,
/// before any holder wrote its token back. It finds nothing and cannot tell a lost
/// store from a first start, so it spends a 2.1:
/// - on a day whose 2.1 is spent (here: the first day), the platform refuses it (a
///   lockout: every call of that process fails for token reasons) until a holder
///   writes its token back; then it recovers at once, with no further token call;
/// - on a day whose 2.1 is not spent yet, the 2.1 succeeds: a needless new pair, and
///   the day's only 2.1 is gone (a later need for one that day is refused).
///
/// This measures what the gap costs; it is a limit of the design (write-back is the
/// only way a lost record comes back), reported in the soak's note.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cold_start_right_after_a_redis_flush() {
    let Some(store) = redis_store(SUITE, "cold_after_flush").await else {
        return;
    };
    let prefix = store.key_prefix().to_owned();
    let day = 20_300;
    let t0 = beijing_midnight(day) + 8 * HOUR_MS;
    let sandbox = Sandbox::start(SandboxConfig::default().with_start_time_ms(t0))
        .await
        .expect("sandbox starts");
    let control = sandbox.control().clone();
    let key = key(&sandbox);
    let base_url = sandbox.base_url().to_owned();
    let mut holders: Vec<Worker> = (0..2)
        .map(|i| Worker::start(format!("holder {i}"), &base_url, &prefix, t0))
        .collect();
    let ok = |rounds: &[Round], n: u64, what: &str| {
        for r in rounds {
            assert_eq!((r.ok, r.first_error.as_str()), (n, ""), "{what}: {r:?}");
        }
    };
    control.set_time_ms(t0);
    ok(
        &burst_all(&mut holders, t0, 4).await,
        4,
        "holders, cold start",
    );
    assert_eq!(control.token_calls().obtain_issued, 1);

    // Day 1, an hour later: the flush, and a new process at once.
    let t1 = t0 + HOUR_MS;
    control.set_time_ms(t1);
    assert!(delete_prefix(&prefix).await >= 2);
    let mut cold = vec![Worker::start("cold 1".into(), &base_url, &prefix, t1)];
    let round = burst_all(&mut cold, t1, 4).await.remove(0);
    let counts = control.token_calls();
    eprintln!(
        "cold start after a flush, on a day whose 2.1 is spent: {round:?}; platform: {counts:?}"
    );
    assert_eq!((round.ok, round.token_failed), (0, 4), "{round:?}");
    assert_eq!(round.kinds, "CallFailed:4", "{round:?}");
    assert!(
        (2..=3).contains(&counts.obtain_calls) && counts.obtain_issued == 1,
        "one more 2.1 sent, refused: {counts:?}"
    );
    // A holder writes its token back; the new process then uses it, with no token call.
    let deadline = Instant::now() + STEP_TIMEOUT;
    while store.load(&key).await.unwrap().is_none() {
        assert!(Instant::now() < deadline, "no write-back");
        ok(
            &burst_all(&mut holders, t1, 1).await,
            1,
            "holders after the flush",
        );
        tokio::time::sleep(WRITE_BACK_EVERY / 4).await;
    }
    let round = burst_all(&mut cold, t1, 4).await.remove(0);
    assert_eq!(
        (round.ok, round.obtain, round.refresh),
        (4, 1, 0),
        "{round:?}"
    );
    assert_eq!(control.token_calls().obtain_issued, 1);

    // Day 2: the holders refresh; the flush; a new process spends the day's 2.1 on a
    // new pair, which the platform grants.
    let t2 = beijing_midnight(day + 1) + 8 * HOUR_MS;
    control.set_time_ms(t2);
    ok(&burst_all(&mut holders, t2, 4).await, 4, "holders, day 2");
    assert!(delete_prefix(&prefix).await >= 2);
    let mut cold2 = Worker::start("cold 2".into(), &base_url, &prefix, t2);
    let round = burst_all(std::slice::from_mut(&mut cold2), t2, 4)
        .await
        .remove(0);
    let counts = control.token_calls();
    eprintln!(
        "cold start after a flush, on a day whose 2.1 is not spent: {round:?}; platform: \
         {counts:?}"
    );
    assert_eq!((round.ok, round.obtain), (4, 1), "{round:?}");
    assert_eq!((counts.obtain_calls, counts.obtain_issued), (1, 1));
    assert_eq!(
        store
            .budget_used(&key, BudgetKind::Obtain, day + 1)
            .await
            .unwrap(),
        1,
        "the day's only 2.1 is spent"
    );

    for w in holders.into_iter().chain(cold).chain([cold2]) {
        w.finish().await;
    }
    sandbox.shutdown().await;
    delete_prefix(&prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_soak_30_days() {
    soak(CI_PLAN, "30_days").await;
}

/// The longer variant: 90 days (3 cycles of every event), 16 calls per child per burst,
/// restarts every 3 h (about 2,900 restarts, 190,000 calls; 5.3 min on a busy 2-core
/// box).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long: about 5 minutes (90 simulated days); run with --ignored"]
async fn token_soak_long() {
    soak(LONG_PLAN, "long").await;
}
