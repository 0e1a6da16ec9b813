//! The write journal's crash test: mixed writes (points credits and debits, orders,
//! partial refunds, coupon grants and verifications) submitted by 4 OS processes to one
//! journal and drained by them, against the sandbox with dropped replies, busy answers,
//! late commits, cut replies and a platform outage, while the processes are killed with
//! SIGKILL at random points and restarted. Twice: on one host (a SQLite journal, one
//! token directory), and as four hosts (a state directory each, their tokens on one
//! Redis, one PostgreSQL journal, the PostgreSQL server restarted mid-drain).
//!
//! Each member's script only adds up when its writes land in order and once: its last
//! debits take exactly what the earlier writes left, so a write lost, applied twice or
//! applied out of order shows in the member's ledger. The floor: every ledger equals its
//! script, every entry applied.
//!
//! `JOURNAL_CRASH_WRITES` sets the number of writes (default 10,000; a multiple of 10).
//! The outage is scaled with the drainers' backoff: 20 s with a 1 s backoff cap stands
//! for 10 minutes with the default 5-minute cap (both let each entry retry at its cap
//! many times over). Run with `--nocapture` to see the figures.
//!
//! The PostgreSQL run needs `POSTGRES_URL` and `REDIS_URL` (their local defaults
//! otherwise) and restarts the server with the shell command in `POSTGRES_RESTART`
//! (`.ci/run` sets all three). Without a server it is skipped with a notice, and fails
//! under `CI`; without `POSTGRES_RESTART` it cuts every connection instead (and says so),
//! and fails under `CI`.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gree_ump::endpoints::*;
use gree_ump::journal::Journal;
use gree_ump::models::{
    CouponCategory, CouponGrant, CouponGrantArgs, CouponValidityType, ParamsType,
};
use gree_ump::runtime::journal::{
    DrainPolicy, EntryState, JournalStore, PostgresJournal, SqliteJournal,
};
use gree_ump::runtime::tokens::{RedisTokenStore, TokenStore};
use gree_ump::wire::{BeijingDateTime, TimestampMs, Yuan};
use gree_ump::{Client, FileTokenStore};
use gree_ump_sandbox::config::{DEFAULT_APP_ID, DEFAULT_APP_SECRET};
use gree_ump_sandbox::{Fault, Sandbox, SandboxConfig};

const CHILD_ENV: &str = "JOURNAL_CRASH_CHILD";
const PROCESSES: usize = 4;
const WRITES_PER_MEMBER: usize = 10;
const TEMPLATE: &str = "crash-tpl";
/// The methods of the mix, faulted at random.
const METHODS: [&str; 5] = [
    "wk.user.event.score.change",
    "wk.user.order.add",
    "wk.user.refund.order.part",
    "wk.coupon.give",
    "wk.coupon.verification",
];

fn writes() -> usize {
    std::env::var("JOURNAL_CRASH_WRITES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

fn yuan(text: &str) -> Yuan {
    Yuan::parse(text).expect("an amount")
}

/// The phone of member `m`.
fn phone(m: usize) -> String {
    format!("137{m:08}")
}

/// The points each write of a member's script moves, in order (orders and returns move
/// points too), with the ledger they make: credit 100, order +20, debit 30, return of a
/// quarter of the order −5, credit 10, debit 95 (all that is left: refused if anything
/// before it is missing), order +7, debit 7. The grant and the verification move none.
const LEDGER: [i64; 8] = [100, 20, -30, -5, 10, -95, 7, -7];

/// One member's script, as (unique name, request) pairs in submission order.
fn script(m: usize, open_id: &str, create_time: i64) -> Vec<(String, Submit)> {
    let key = |what: &str| format!("m{m}-{what}");
    let change = |what: &str, score: i64, event: &str| {
        Submit::Change(ChangePointsRequest::new(ChangePointsArgs {
            open_id: open_id.into(),
            score,
            out_biz_no: key(what),
            change_reason: "crash".into(),
            change_event: event.into(),
            change_id: key(what),
        }))
    };
    let consume_date = BeijingDateTime::from_timestamp_ms(create_time).expect("a date");
    let order = |what: &str, score: i64| {
        Submit::Order(
            AddOrderRequest::new(AddOrderArgs {
                consume_date,
                order_amount: yuan("200.00"),
                order_no: key(what),
                order_score: score,
            })
            .open_id(open_id),
        )
    };
    let writes = vec![
        ("credit-1", change("credit-1", 100, "event_add")),
        ("order-a", order("order-a", 20)),
        (
            "grant",
            Submit::Grant(GiveCouponsRequest::new(GiveCouponsArgs {
                coupon_set: vec![CouponGrant::new(CouponGrantArgs {
                    open_id: open_id.into(),
                    coupon_number: key("coupon"),
                    params_type: ParamsType::OpenId,
                })],
                number: 1,
                create_time: TimestampMs(create_time),
                third_coupon_id: TEMPLATE.into(),
            })),
        ),
        ("debit-1", change("debit-1", 30, "event_subtract")),
        (
            "return-a",
            Submit::Return(
                RefundOrderPartiallyRequest::new(RefundOrderPartiallyArgs {
                    consume_date,
                    order_amount: yuan("50.00"),
                    order_no: key("return-a"),
                    parent_order_no: key("order-a"),
                })
                .open_id(open_id),
            ),
        ),
        (
            "verify",
            Submit::Verify(VerifyCouponsRequest::new(VerifyCouponsArgs {
                open_id: open_id.into(),
                order_no: key("order-a"),
                third_coupon_codes: vec![key("coupon")],
                verification_time: TimestampMs(create_time),
                order_amount: yuan("200.00"),
            })),
        ),
        ("credit-2", change("credit-2", 10, "event_add")),
        ("debit-2", change("debit-2", 95, "event_subtract")),
        ("order-b", order("order-b", 7)),
        ("debit-3", change("debit-3", 7, "event_subtract")),
    ];
    assert_eq!(writes.len(), WRITES_PER_MEMBER);
    writes.into_iter().map(|(what, w)| (key(what), w)).collect()
}

/// A write of the mix.
enum Submit {
    Change(ChangePointsRequest),
    Order(AddOrderRequest),
    Return(RefundOrderPartiallyRequest),
    Grant(GiveCouponsRequest),
    Verify(VerifyCouponsRequest),
}

impl Submit {
    async fn submit(&self, journal: &Journal) {
        let result = match self {
            Submit::Change(r) => journal.submit(r).await.map(|_| ()),
            Submit::Order(r) => journal.submit(r).await.map(|_| ()),
            Submit::Return(r) => journal.submit(r).await.map(|_| ()),
            Submit::Grant(r) => journal.submit(r).await.map(|_| ()),
            Submit::Verify(r) => journal.submit(r).await.map(|_| ()),
        };
        result.expect("child: submit");
    }
}

/// The unique name of a stored write (its change_id, order_no or coupon number).
fn unique_name(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    if let Some(id) = v["change_id"].as_str() {
        return Some(id.to_owned());
    }
    if let Some(codes) = v["third_coupon_codes"].as_str() {
        return Some(format!("{}-verify", codes.trim_end_matches("-coupon")));
    }
    if let Some(no) = v["order_no"].as_str() {
        return Some(no.to_owned());
    }
    let set = match &v["coupon_set"] {
        serde_json::Value::String(s) => serde_json::from_str(s).ok()?,
        other => other.clone(),
    };
    let number = set[0]["coupon_number"].as_str()?;
    Some(format!("{}-grant", number.trim_end_matches("-coupon")))
}

fn policy() -> DrainPolicy {
    let mut policy = DrainPolicy::default();
    // Late commits arrive 1.5 s after their call; an attempt cannot land after 4 s.
    policy.settle.attempt_lifetime = Duration::from_secs(4);
    policy.settle.backoff_base = Duration::from_millis(50);
    policy.settle.backoff_cap = Duration::from_secs(1);
    policy.lease = Duration::from_secs(5);
    policy.call_timeout = Duration::from_secs(1);
    policy.concurrency = 16;
    policy.idle_poll = Duration::from_millis(100);
    policy
}

/// A child: submits its members' scripts (skipping what an earlier life of it recorded)
/// and drains the journal, until it is killed.
#[test]
fn journal_crash_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("child: runtime");
    runtime.block_on(child_main(spec));
}

/// Where a child finds everything: passed as JSON in [`CHILD_ENV`].
#[derive(serde::Serialize, serde::Deserialize)]
struct ChildSpec {
    index: usize,
    processes: usize,
    base_url: String,
    journal: JournalAt,
    tokens: TokensAt,
    members_file: String,
}

/// The journal the processes share.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
enum JournalAt {
    Sqlite { file: String },
    Postgres { url: String, namespace: String },
}

impl JournalAt {
    async fn open(&self) -> Arc<dyn JournalStore> {
        match self {
            JournalAt::Sqlite { file } => Arc::new(SqliteJournal::open(file).expect("journal")),
            JournalAt::Postgres { url, namespace } => Arc::new(
                PostgresJournal::builder(url.as_str())
                    .namespace(namespace.as_str())
                    .connect()
                    .await
                    .expect("journal"),
            ),
        }
    }
}

/// The token store the processes use.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
enum TokensAt {
    /// One directory on one host.
    Files { dir: String },
    /// One Redis for all hosts.
    Redis { url: String, prefix: String },
}

impl TokensAt {
    async fn open(&self) -> Arc<dyn TokenStore> {
        match self {
            TokensAt::Files { dir } => Arc::new(FileTokenStore::new(dir).expect("token store")),
            TokensAt::Redis { url, prefix } => Arc::new(
                RedisTokenStore::connect(url, prefix.as_str())
                    .await
                    .expect("token store"),
            ),
        }
    }
}

async fn child_main(spec: String) {
    let spec: ChildSpec = serde_json::from_str(&spec).expect("child: spec");
    let (index, processes) = (spec.index, spec.processes);
    let members: Vec<(String, i64)> =
        serde_json::from_str(&std::fs::read_to_string(&spec.members_file).expect("members"))
            .expect("members JSON");
    let client = Client::builder()
        .base_url(spec.base_url.as_str())
        .app_id(DEFAULT_APP_ID)
        .app_secret(DEFAULT_APP_SECRET)
        .token_store(spec.tokens.open().await)
        .build()
        .expect("child: client");
    let store = spec.journal.open().await;
    let journal = Journal::builder(client, store.clone())
        .policy(policy())
        .build();
    let _drainer = journal.start();
    // What an earlier life of this child recorded.
    let mut recorded = HashSet::new();
    let mut after = 0;
    loop {
        let page = store.list(None, after, 1000).await.expect("child: list");
        let Some(last) = page.last() else { break };
        after = last.id;
        recorded.extend(page.iter().filter_map(|e| unique_name(&e.body)));
    }
    // This child's members, their scripts interleaved (many members in flight at once).
    let mine: Vec<(usize, &(String, i64))> = members
        .iter()
        .enumerate()
        .filter(|(m, _)| m % processes == index)
        .collect();
    let scripts: Vec<Vec<(String, Submit)>> = mine
        .iter()
        .map(|(m, (open_id, t))| script(*m, open_id, *t))
        .collect();
    for step in 0..WRITES_PER_MEMBER {
        for script in &scripts {
            let (name, write) = &script[step];
            if !recorded.contains(name) {
                write.submit(&journal).await;
            }
        }
    }
    println!("CHILD:submitted");
    // Drain until killed.
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

fn spawn_child(spec: &ChildSpec) -> tokio::process::Child {
    tokio::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "journal_crash_child",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(CHILD_ENV, serde_json::to_string(spec).expect("spec JSON"))
        .env("RUST_LOG", "off")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn a child")
}

/// A tiny deterministic generator (no dependency): xorshift.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The two runs share the machine's two cores: one at a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// One host: a SQLite journal and one token directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashing_drainers_apply_every_write_once_in_order() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let journal = JournalAt::Sqlite {
        file: path_text(&dir.path().join("journal.sqlite3")),
    };
    // The journal file exists before the children race to create it.
    drop(journal.open().await);
    let tokens = TokensAt::Files {
        dir: path_text(&dir.path().join("tokens")),
    };
    run(dir.path(), journal, |_| tokens.clone(), None).await;
}

/// Four hosts: a state directory each, their token stores on one Redis, one PostgreSQL
/// journal; the PostgreSQL server restarted mid-drain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashing_hosts_on_postgres_apply_every_write_once_in_order() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let in_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    let url = std::env::var("POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let redis_url = std::env::var("REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379/".to_owned());
    let namespace = format!("crash_{}_{}", std::process::id(), now_ms());
    let journal = JournalAt::Postgres {
        url: url.clone(),
        namespace: namespace.clone(),
    };
    let reachable = async {
        PostgresJournal::builder(url.as_str())
            .namespace(namespace.as_str())
            .retry_for(Duration::from_secs(2))
            .connect()
            .await?;
        RedisTokenStore::connect(&redis_url, "probe:")
            .await
            .map_err(|e| {
                gree_ump::runtime::journal::JournalError::new(
                    gree_ump::runtime::journal::JournalErrorKind::Io,
                    e.to_string(),
                )
            })?;
        Ok::<_, gree_ump::runtime::journal::JournalError>(())
    };
    if let Err(e) = reachable.await {
        assert!(
            !in_ci,
            "CI is set but PostgreSQL or Redis cannot be reached: {e}"
        );
        eprintln!(
            "SKIPPED crashing_hosts_on_postgres: PostgreSQL (POSTGRES_URL) or Redis \
             (REDIS_URL) cannot be reached: {e}"
        );
        return;
    }
    let restart = std::env::var("POSTGRES_RESTART")
        .ok()
        .filter(|c| !c.is_empty());
    assert!(
        restart.is_some() || !in_ci,
        "CI is set but POSTGRES_RESTART (a command restarting the server) is not"
    );
    let dir = tempfile::tempdir().expect("a temp dir");
    let prefix = format!("gree-ump-test:journal-crash:{namespace}:");
    let tokens = TokensAt::Redis {
        url: redis_url,
        prefix,
    };
    let restart = Restart {
        url: url.clone(),
        command: restart,
    };
    run(dir.path(), journal, |_| tokens.clone(), Some(restart)).await;
    // The run's tables go; what a failed run leaves stays, to look at.
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("a connection");
    tokio::spawn(connection);
    client
        .batch_execute(&format!(
            "DROP TABLE {namespace}_entries; DROP TABLE {namespace}_meta;"
        ))
        .await
        .expect("drop the run's tables");
}

/// How the PostgreSQL server is restarted mid-drain: the command, or (without one)
/// every connection cut.
struct Restart {
    url: String,
    command: Option<String>,
}

impl Restart {
    /// Restarts the server (or cuts every connection); what it did, for the figures.
    async fn now(&self) -> &'static str {
        match &self.command {
            Some(command) => {
                let status = tokio::process::Command::new("sh")
                    .args(["-c", command])
                    .stdout(Stdio::null())
                    .status()
                    .await
                    .expect("run POSTGRES_RESTART");
                assert!(status.success(), "POSTGRES_RESTART failed: {status}");
                "restarted"
            }
            None => {
                let (client, connection) =
                    tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
                        .await
                        .expect("a connection");
                tokio::spawn(connection);
                client
                    .batch_execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                         WHERE application_name = 'ump-journal'",
                    )
                    .await
                    .expect("cut the connections");
                "not restarted (no POSTGRES_RESTART): every connection cut"
            }
        }
    }
}

/// The crash test in `dir`, on `journal`, with child `i`'s token store `tokens(i)`;
/// restarting PostgreSQL once mid-drain when `restart` is given.
async fn run(
    dir: &Path,
    journal: JournalAt,
    tokens: impl Fn(usize) -> TokensAt,
    restart: Option<Restart>,
) {
    let total = writes();
    let members_count = total / WRITES_PER_MEMBER;
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("the sandbox");
    let control = sandbox.control();
    let members_file = dir.join("members.json");

    // The members and the coupon template, made directly.
    let client = Client::builder()
        .base_url(sandbox.base_url())
        .app_id(sandbox.app_id())
        .app_secret(sandbox.app_secret())
        .token_store(tokens(0).open().await)
        .build()
        .expect("client");
    client
        .coupons()
        .add_coupon_template(
            AddCouponTemplateRequest::new(AddCouponTemplateArgs {
                third_coupon_id: TEMPLATE.into(),
                coupon_category: CouponCategory::OrderAmountOff,
                name: "满100减10".into(),
                discount_fee: 1_000,
                coupon_type: CouponValidityType::DaysAfterReceipt,
                rules: "满100元可用".into(),
            })
            .fixed_term(30),
        )
        .await
        .expect("the template");
    let now = control.now_ms();
    let mut members = Vec::with_capacity(members_count);
    for m in 0..members_count {
        let open_id = client
            .members()
            .create_member(CreateMemberRequest::new(CreateMemberArgs {
                project_id: "18756".into(),
                nickname: "压测".into(),
                phone: phone(m),
            }))
            .await
            .expect("a member");
        members.push((open_id, now));
    }
    std::fs::write(
        &members_file,
        serde_json::to_string(&members).expect("JSON"),
    )
    .expect("write");
    let spec = |index: usize| ChildSpec {
        index,
        processes: PROCESSES,
        base_url: sandbox.base_url().to_string(),
        journal: journal.clone(),
        tokens: tokens(index),
        members_file: path_text(&members_file),
    };
    let mut children: Vec<tokio::process::Child> =
        (0..PROCESSES).map(|i| spawn_child(&spec(i))).collect();
    let store = journal.open().await;
    let mut restarted = None;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let started = Instant::now();
    let outage_from = Duration::from_secs(4);
    let outage = Duration::from_secs(20);
    let mut in_outage = false;
    let mut outage_done = false;
    let (mut kills, mut faults, mut crashes) = (0u32, 0u32, 0u32);
    // Bounds a hung run only: the four-host run settles in 90 to 150 s here, and a busy
    // CI box may take twice that.
    let deadline = Duration::from_secs(420);
    loop {
        let elapsed = started.elapsed();
        if elapsed >= deadline {
            let open: Vec<String> = [EntryState::Pending, EntryState::InFlight]
                .into_iter()
                .map(|s| store.list(Some(s), 0, 20))
                .collect::<futures_util::future::JoinAll<_>>()
                .await
                .into_iter()
                .flat_map(|r| r.unwrap_or_default())
                .map(|e| format!("{e:?} due in {} ms", e.next_attempt_ms - now_ms()))
                .collect();
            panic!(
                "not settled after {elapsed:?}: {:?}\n{}",
                store.counts().await,
                open.join("\n")
            );
        }
        // The outage: every call of the mix answered 503, then back.
        if !in_outage && !outage_done && elapsed >= outage_from {
            for method in METHODS {
                control.inject_fault(method, Fault::HttpStatus { status: 503 }, u32::MAX);
            }
            in_outage = true;
        }
        if in_outage && elapsed >= outage_from + outage {
            control.clear_faults();
            in_outage = false;
            outage_done = true;
        }
        // Faults of every kind, at random: one in ten writes meets one (then none, so
        // that the queue of faults drains).
        for _ in 0..8 {
            if in_outage || (faults as usize) >= total / 10 {
                break;
            }
            let method = METHODS[rng.below(METHODS.len() as u64) as usize];
            let fault = match rng.below(5) {
                0 => Fault::DropAfterCommit,
                1 => Fault::Busy,
                2 => Fault::CommitAfterTimeout { delay_ms: 1_500 },
                3 => Fault::Malformed,
                _ => Fault::SlowAfterCommit { delay_ms: 1_200 },
            };
            control.inject_fault(method, fault, 1 + rng.below(3) as u32);
            faults += 1;
        }
        // A process that ended by itself (a store failure it could not outlast) is
        // restarted, as a supervisor would; the figures count it.
        for (i, child) in children.iter_mut().enumerate() {
            if let Ok(Some(_)) = child.try_wait() {
                *child = spawn_child(&spec(i));
                crashes += 1;
            }
        }
        // Kills: a random process, at a random point, restarted at once.
        if kills < 60 {
            let i = rng.below(PROCESSES as u64) as usize;
            children[i].start_kill().expect("SIGKILL");
            let _ = children[i].wait().await;
            kills += 1;
            children[i] = spawn_child(&spec(i));
        }
        // The database restarted once, mid-drain (after the outage, with entries open).
        if let Some(restart) = &restart
            && restarted.is_none()
            && outage_done
            && kills >= 40
        {
            restarted = Some(restart.now().await);
        }
        tokio::time::sleep(Duration::from_millis(150 + rng.below(350))).await;
        let counts = store.counts().await.expect("counts");
        let recorded =
            counts.pending + counts.in_flight + counts.applied + counts.refused + counts.attention;
        if outage_done
            && kills >= 50
            && (restart.is_none() || restarted.is_some())
            && recorded == total as u64
            && counts.applied + counts.refused + counts.attention == recorded
        {
            break;
        }
    }
    let took = started.elapsed();
    for child in &mut children {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }

    // The floor: every entry applied, every ledger its script, every coupon used once.
    let mut entries = Vec::new();
    let mut after = 0;
    loop {
        let page = store.list(None, after, 1000).await.expect("list");
        let Some(last) = page.last() else { break };
        after = last.id;
        entries.extend(page);
    }
    let states: HashMap<EntryState, usize> = entries.iter().fold(HashMap::new(), |mut m, e| {
        *m.entry(e.state).or_default() += 1;
        m
    });
    let attempts: u64 = entries.iter().map(|e| u64::from(e.attempts)).sum();
    let names: HashSet<String> = entries
        .iter()
        .filter_map(|e| unique_name(&e.body))
        .collect();
    let mut wrong = Vec::new();
    for (m, (open_id, _)) in members.iter().enumerate() {
        let ledger: Vec<i64> = control
            .ledger(open_id)
            .expect("the member")
            .entries
            .iter()
            .map(|e| e.amount)
            .collect();
        if ledger != LEDGER {
            wrong.push(format!("member {m}: {ledger:?}"));
        }
    }
    let dump = control.dump();
    let coupons = dump["coupons"]["coupons"].as_array().expect("coupons");
    let used = coupons
        .iter()
        .filter(|c| c["use_order_no"].is_string())
        .count();
    let backend = match (&journal, restarted) {
        (JournalAt::Sqlite { .. }, _) => "one SQLite journal".to_owned(),
        (JournalAt::Postgres { .. }, restarted) => format!(
            "one PostgreSQL journal (server {})",
            restarted.unwrap_or("not restarted")
        ),
    };
    println!(
        "journal crash test on {backend}: {total} writes by {PROCESSES} processes, {kills} SIGKILLs, {crashes} restarts after a process ended by itself, {faults} injected faults, \
         a {}s outage; settled in {:.1}s with {attempts} attempts ({:.2} per write); states {states:?}; \
         {} of {members_count} ledgers wrong; {} coupons, {used} used; {} distinct writes recorded",
        outage.as_secs(),
        took.as_secs_f64(),
        attempts as f64 / total as f64,
        wrong.len(),
        coupons.len(),
        names.len()
    );
    assert_eq!(
        entries.len(),
        total,
        "every write recorded once (none lost, none twice)"
    );
    assert_eq!(names.len(), total, "distinct writes");
    assert_eq!(
        states.get(&EntryState::Applied),
        Some(&total),
        "every entry applied: {states:?}"
    );
    assert!(
        wrong.is_empty(),
        "ledgers off their scripts (lost, doubled or out of order): {:?}",
        &wrong[..wrong.len().min(5)]
    );
    assert_eq!(coupons.len(), members_count, "one coupon per member");
    assert_eq!(used, members_count, "each verified once");
    assert!(kills >= 50, "{kills} kills");
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn path_text(path: &Path) -> String {
    PathBuf::from(path).display().to_string()
}
