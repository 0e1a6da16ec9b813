//! The write journal on SQLite (WAL, `synchronous=FULL`: every commit is fsynced), in one
//! run: submit-to-receipt latency (median, p99), and drain throughput against the
//! sandbox as a fraction of sending the same writes directly with the same concurrency
//! (floor: 0.7). Run: `cargo bench -p gree-ump-benches --bench journal`.
//!
//! The direct sends and the drains alternate, round by round, on fresh members each, so
//! the machine's drift falls on both alike; the figure is the median of the rounds.
//! `JOURNAL_STORE_MICRO=1` times the store's own operations instead (a claim, the
//! attempts and the outcomes of 64 entries), `JOURNAL_STORE_STREAM=1` the store's part
//! of a streaming drain, and `JOURNAL_MEMORY=1` runs the rounds on the memory journal
//! (the drainer's own cost, without the store's). `SUBMITS`, `ROUNDS` and `PER_ROUND`
//! change the run's size, and `ONLY=direct|journal|none` runs one side alone, for an
//! instruction count of each (`valgrind --tool=callgrind`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use gree_ump::Client;
use gree_ump::endpoints::{
    ChangePointsArgs, ChangePointsRequest, CreateMemberArgs, CreateMemberRequest,
};
use gree_ump::journal::Journal;
use gree_ump::runtime::journal::{DrainPolicy, JournalStore, SqliteJournal};
use gree_ump::runtime::tokens::MemoryTokenStore;
use gree_ump_sandbox::{Sandbox, SandboxConfig, SandboxHandle};

const CONCURRENCY: usize = 64;

fn change(open_id: &str, key: &str) -> ChangePointsRequest {
    ChangePointsRequest::new(ChangePointsArgs {
        open_id: open_id.into(),
        score: 1,
        out_biz_no: key.into(),
        change_reason: "bench".into(),
        change_event: "event_add".into(),
        change_id: key.into(),
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn members(client: &Client, from: usize, count: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(count);
    for m in from..from + count {
        out.push(
            client
                .members()
                .create_member(CreateMemberRequest::new(CreateMemberArgs {
                    project_id: "18756".into(),
                    nickname: "bench".into(),
                    phone: format!("136{m:08}"),
                }))
                .await
                .expect("a member"),
        );
    }
    out
}

/// Sends one change per member directly, keeping `CONCURRENCY` calls under way (the
/// next starts as soon as one ends, as the drainer does); the time it took.
async fn direct(client: &Client, members: &[String], round: usize) -> Duration {
    use futures_util::StreamExt;
    let started = Instant::now();
    let requests: Vec<ChangePointsRequest> = members
        .iter()
        .map(|m| change(m, &format!("d{round}-{m}")))
        .collect();
    futures_util::stream::iter(requests)
        .map(|request| {
            let client = client.clone();
            async move {
                client
                    .points()
                    .change_points(request)
                    .await
                    .expect("applied")
            }
        })
        .buffer_unordered(CONCURRENCY)
        .for_each(|_| async {})
        .await;
    started.elapsed()
}

/// Submits one change per member, then drains them all; the time the drain took: from
/// its start to the last outcome's commit (the entries' `updated_ms`). The bench looks
/// for the end only every 10 ms, so that looking costs the drainer little.
async fn drained(journal: &Journal, members: &[String], round: usize) -> (Duration, f64) {
    let mut first = None;
    for m in members {
        let receipt = journal
            .submit(&change(m, &format!("j{round}-{m}")))
            .await
            .expect("recorded");
        first.get_or_insert(receipt.id);
    }
    let first = first.expect("a submission");
    let started_ms = now_ms();
    let c0 = cpu_s();
    let drainer = journal.start();
    while journal
        .store()
        .next_due()
        .await
        .expect("next_due")
        .is_some()
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let cpu = cpu_s() - c0;
    drainer.stop().await;
    let counts = journal.store().counts().await.expect("counts");
    assert_eq!(counts.attention + counts.refused, 0, "{counts:?}");
    let entries = journal
        .store()
        .list(None, first - 1, members.len())
        .await
        .expect("list");
    assert_eq!(entries.len(), members.len(), "this round's entries");
    let last_ms = entries.iter().map(|e| e.updated_ms).max().expect("entries");
    let took = Duration::from_millis(u64::try_from(last_ms - started_ms).unwrap_or(0).max(1));
    (took, cpu)
}

fn now_ms() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970");
    i64::try_from(since.as_millis()).expect("milliseconds")
}

/// A number from environment variable `name`, or `default`.
fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let (submits, rounds, per_round) = if quick {
        (20, 1, 32)
    } else {
        (
            knob("SUBMITS", 500),
            knob("ROUNDS", 7),
            knob("PER_ROUND", 1000),
        )
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    if std::env::var_os("JOURNAL_STORE_STREAM").is_some() {
        rt.block_on(store_stream());
        return;
    }
    if std::env::var_os("JOURNAL_STORE_MICRO").is_some() {
        rt.block_on(store_micro());
        return;
    }
    rt.block_on(async {
        let sandbox: SandboxHandle = Sandbox::start(SandboxConfig::default()).await.expect("sandbox");
        let client = Client::builder()
            .base_url(sandbox.base_url())
            .app_id(sandbox.app_id())
            .app_secret(sandbox.app_secret())
            .token_store(Arc::new(MemoryTokenStore::new()))
            .build()
            .expect("client");
        let dir = tempfile::tempdir().expect("a temp dir");
        let backend = if std::env::var_os("JOURNAL_MEMORY").is_some() {
            "the memory journal"
        } else {
            "SQLite, synchronous=FULL"
        };
        // `JOURNAL_MEMORY=1`: the memory journal instead, to tell the drainer's own cost
        // from the store's.
        let store: Arc<dyn JournalStore> = if std::env::var_os("JOURNAL_MEMORY").is_some() {
            Arc::new(gree_ump::runtime::journal::MemoryJournal::new())
        } else {
            Arc::new(SqliteJournal::open(dir.path().join("journal.sqlite3")).expect("journal"))
        };
        let mut policy = DrainPolicy::default();
        policy.concurrency = CONCURRENCY;
        let journal = Journal::builder(client.clone(), store).policy(policy).build();

        // Submit-to-receipt latency: the receipt leaves after the commit's fsync.
        let member = members(&client, 0, 1).await.remove(0);
        let mut latencies = Vec::with_capacity(submits);
        for n in 0..submits {
            let request = change(&member, &format!("lat-{n}"));
            let started = Instant::now();
            journal.submit(&request).await.expect("recorded");
            latencies.push(started.elapsed());
        }
        latencies.sort();
        // Drain them, so that the throughput rounds start from an empty journal.
        while journal.drain_once().await.expect("a pass").claimed > 0 {}

        let mut ratios = Vec::with_capacity(rounds);
        let mut next_member = 1;
        for round in 0..rounds {
            let a = members(&client, next_member, per_round).await;
            let b = members(&client, next_member + per_round, per_round).await;
            next_member += 2 * per_round;
            // On the runtime's workers, as the drainer is: `block_on`'s own thread would
            // give the direct sends a third thread the drainer does not have.
            let sender = client.clone();
            let c0 = cpu_s();
            // `ONLY=direct`, `ONLY=journal` or `ONLY=none`: one side alone (or neither),
            // so that an instruction count (callgrind) of each can be told apart.
            match std::env::var("ONLY").as_deref() {
                Ok("none") => continue,
                Ok("direct") => {
                    let took = tokio::spawn(async move { direct(&sender, &a, round).await })
                        .await
                        .expect("the direct sends");
                    println!("round {round}: direct sends took {took:?}");
                    continue;
                }
                Ok("journal") => {
                    let (took, _) = drained(&journal, &b, round).await;
                    println!("round {round}: the drain took {took:?}");
                    continue;
                }
                _ => {}
            }
            let direct_took = tokio::spawn(async move { direct(&sender, &a, round).await })
                .await
                .expect("the direct sends");
            let direct_cpu = cpu_s() - c0;
            let (journal_took, journal_cpu) = drained(&journal, &b, round).await;
            ratios.push(direct_took.as_secs_f64() / journal_took.as_secs_f64());
            println!(
                "round {round}: {per_round} changes, direct {:.0}/s ({:.0} µs CPU each), journal drain {:.0}/s ({:.0} µs CPU each)",
                per_round as f64 / direct_took.as_secs_f64(),
                direct_cpu * 1e6 / per_round as f64,
                per_round as f64 / journal_took.as_secs_f64(),
                journal_cpu * 1e6 / per_round as f64,
            );
        }
        ratios.sort_by(f64::total_cmp);
        let median = ratios[ratios.len() / 2];
        println!(
            "journal ({backend}): submit-to-receipt median {:.2} ms, p99 {:.2} ms over {submits} submits",
            percentile(&latencies, 0.5).as_secs_f64() * 1e3,
            percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        );
        println!(
            "journal drain throughput / direct sends (concurrency {CONCURRENCY}): {median:.2} (median of {rounds} rounds; floor 0.70)"
        );
        sandbox.shutdown().await;
    });
}

/// The store's own operations, timed (`JOURNAL_STORE_MICRO=1`): where a pass's time goes.
async fn store_micro() {
    use gree_ump::runtime::journal::{Settlement, Update};
    let (_dir, store) = filled_store(400).await;
    for round in 0..6 {
        let t = Instant::now();
        let claimed = store.claim(1, 60_000, 64).await.unwrap();
        let claim = t.elapsed();
        let t = Instant::now();
        let begun = store
            .update_many(
                claimed
                    .iter()
                    .map(|e| (e.id, e.fence, Update::AttemptBegins))
                    .collect(),
                2,
            )
            .await
            .unwrap();
        let begin = t.elapsed();
        let t = Instant::now();
        store
            .update_many(
                claimed
                    .iter()
                    .map(|e| {
                        (
                            e.id,
                            e.fence,
                            Update::Settle(Settlement::Applied {
                                result: Some("1".into()),
                            }),
                        )
                    })
                    .collect(),
                3,
            )
            .await
            .unwrap();
        let settle = t.elapsed();
        println!(
            "round {round}: {} claimed ({} begun): claim {claim:?}, begin {begin:?}, settle {settle:?}",
            claimed.len(),
            begun.len()
        );
    }
}

/// The process's CPU time (user and system), in seconds.
fn cpu_s() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 * 1e-6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

/// The store's part of a streaming drain (`JOURNAL_STORE_STREAM=1`): 64 held, then
/// rounds of 16 outcomes written and 16 more claimed in one store round, as the drainer
/// does, over 4,000 entries (`STREAM_BATCH` and `STREAM_N` change both); the wall and
/// CPU time per entry (the CPU time is the process's, from `getrusage`).
async fn store_stream() {
    use gree_ump::runtime::journal::{Settlement, Update};
    let b = knob("STREAM_BATCH", 16);
    let (_dir, store) = filled_store(knob("STREAM_N", 4000)).await;
    let (w, c) = (Instant::now(), cpu_s());
    let mut held: std::collections::VecDeque<(i64, u64)> = store
        .claim_to_send(1, 60_000, 64)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.entry.id, c.entry.fence))
        .collect();
    let mut done = 0;
    let mut t_round = Duration::ZERO;
    while !held.is_empty() {
        let outcomes: Vec<_> = (0..b.min(held.len()))
            .map(|_| held.pop_front().unwrap())
            .map(|(id, fence)| {
                (
                    id,
                    fence,
                    Update::Settle(Settlement::Applied {
                        result: Some("1".into()),
                    }),
                )
            })
            .collect();
        done += outcomes.len();
        let t = Instant::now();
        // As the drainer does: the outcomes and the next claim in one store round.
        let (written, claimed) = futures_util::future::join(
            store.update_many(outcomes, 2),
            store.claim_to_send(2, 60_000, b),
        )
        .await;
        written.unwrap();
        t_round += t.elapsed();
        held.extend(
            claimed
                .unwrap()
                .into_iter()
                .map(|c| (c.entry.id, c.entry.fence)),
        );
    }
    let (wall, cpu) = (w.elapsed(), cpu_s() - c);
    println!("store rounds (outcomes and claim in one) {t_round:?}");
    println!(
        "{done} settled: {:.1} µs wall, {:.1} µs CPU per entry",
        wall.as_secs_f64() * 1e6 / done as f64,
        cpu * 1e6 / done as f64
    );
}

/// A SQLite journal in a temporary directory holding `n` pending points changes, each of
/// its own member.
async fn filled_store(n: usize) -> (tempfile::TempDir, SqliteJournal) {
    use gree_ump::runtime::journal::NewEntry;
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = SqliteJournal::open(dir.path().join("j.sqlite3")).expect("journal");
    let body = serde_json::to_string(&change("00000000000000000000000000000000", "k")).unwrap();
    // Concurrently, so that the group commit writes them 256 at a time: the fill is not
    // what is measured.
    let appends = (0..n).map(|i| {
        store.append(NewEntry {
            method: "wk.user.event.score.change".into(),
            body: body.clone(),
            order_keys: vec![format!("member:{i}")],
            created_ms: 0,
        })
    });
    for appended in futures_util::future::join_all(appends).await {
        appended.expect("appended");
    }
    (dir, store)
}
