//! The write journal on PostgreSQL, drained by 4 processes (as 4 hosts), against the
//! sandbox: drain throughput as a fraction of the same 4 processes sending the same
//! writes directly, with the same concurrency each (floor: 0.6). Run:
//! `cargo bench -p gree-ump-benches --bench journal_hosts` with `POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); without a server it says so and stops.
//!
//! Each round creates fresh members (one write each, so every write may proceed in
//! parallel), then, alternately: the 4 processes send them directly (timed from their
//! spawn to their exit), and the same number of writes is recorded in the journal and
//! the 4 processes drain it (timed from their spawn to the last outcome's commit). The
//! figure is the median of the rounds' ratios. The sandbox runs in this process, on the
//! same two cores as the processes and PostgreSQL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gree_ump::endpoints::{
    ChangePointsArgs, ChangePointsRequest, CreateMemberArgs, CreateMemberRequest,
};
use gree_ump::journal::Journal;
use gree_ump::runtime::journal::{DrainPolicy, JournalStore, PostgresJournal};
use gree_ump::{Client, FileTokenStore};
use gree_ump_sandbox::config::{DEFAULT_APP_ID, DEFAULT_APP_SECRET};
use gree_ump_sandbox::{Sandbox, SandboxConfig};

const CHILD_ENV: &str = "JOURNAL_HOSTS_CHILD";
const PROCESSES: usize = 4;
/// Calls under way in each process, in both modes.
const CONCURRENCY: usize = 16;

fn url() -> String {
    std::env::var("POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

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

fn client(base_url: &str, tokens: &str) -> Client {
    Client::builder()
        .base_url(base_url)
        .app_id(DEFAULT_APP_ID)
        .app_secret(DEFAULT_APP_SECRET)
        .token_store(Arc::new(FileTokenStore::new(tokens).expect("token store")))
        .build()
        .expect("client")
}

/// A child: `direct|INDEX|BASE|TOKENS|MEMBERS_FILE|ROUND` sends its share of the
/// members' writes and exits; `drain|BASE|TOKENS|NAMESPACE` drains until killed.
async fn child(spec: String) {
    let parts: Vec<&str> = spec.split('|').collect();
    match parts[0] {
        "direct" => {
            use futures_util::StreamExt;
            let index: usize = parts[1].parse().expect("index");
            let client = client(parts[2], parts[3]);
            let members: Vec<String> =
                serde_json::from_str(&std::fs::read_to_string(parts[4]).expect("members"))
                    .expect("members JSON");
            let round = parts[5];
            let mine: Vec<ChangePointsRequest> = members
                .iter()
                .enumerate()
                .filter(|(m, _)| m % PROCESSES == index)
                .map(|(_, m)| change(m, &format!("d{round}-{m}")))
                .collect();
            futures_util::stream::iter(mine)
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
        }
        "drain" => {
            let client = client(parts[1], parts[2]);
            let store = PostgresJournal::builder(url())
                .namespace(parts[3])
                .max_connections(4)
                .connect()
                .await
                .expect("journal");
            let mut policy = DrainPolicy::default();
            policy.concurrency = CONCURRENCY;
            policy.idle_poll = Duration::from_millis(50);
            let journal = Journal::builder(client, Arc::new(store))
                .policy(policy)
                .build();
            let _drainer = journal.start();
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        other => panic!("unknown child mode {other}"),
    }
}

fn spawn(spec: String) -> std::process::Child {
    std::process::Command::new(std::env::current_exe().expect("the bench binary"))
        .env(CHILD_ENV, spec)
        .env("RUST_LOG", "off")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("a child")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        runtime.block_on(child(spec));
        return;
    }
    let quick = !std::env::args().any(|a| a == "--bench");
    let (rounds, per_round) = if quick {
        (1, 200)
    } else {
        let writes = std::env::var("JOURNAL_HOSTS_WRITES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(8000);
        (5, writes)
    };
    runtime.block_on(async move {
        let namespace = format!("bench_hosts_{}", std::process::id());
        let store = match PostgresJournal::builder(url())
            .namespace(namespace.as_str())
            .retry_for(Duration::from_secs(2))
            .connect()
            .await
        {
            Ok(store) => store,
            Err(e) => {
                println!("journal_hosts: no PostgreSQL at POSTGRES_URL ({e}); nothing measured");
                return;
            }
        };
        let sandbox = Sandbox::start(SandboxConfig::default()).await.expect("sandbox");
        let dir = tempfile::tempdir().expect("a temp dir");
        let tokens = dir.path().join("tokens").display().to_string();
        let base = sandbox.base_url().to_string();
        let setup = client(&base, &tokens);
        let writer = Journal::new(setup.clone(), Arc::new(store.clone()));
        let mut ratios = Vec::new();
        for round in 0..rounds {
            let mut members = Vec::with_capacity(per_round);
            for m in 0..per_round {
                members.push(
                    setup
                        .members()
                        .create_member(CreateMemberRequest::new(CreateMemberArgs {
                            project_id: "18756".into(),
                            nickname: "bench".into(),
                            phone: format!("133{round:02}{m:06}"),
                        }))
                        .await
                        .expect("a member"),
                );
            }
            let members_file = dir.path().join(format!("members-{round}.json"));
            std::fs::write(&members_file, serde_json::to_string(&members).unwrap()).unwrap();

            // Direct: 4 processes, from their spawn to their exit.
            let started = Instant::now();
            let children: Vec<_> = (0..PROCESSES)
                .map(|i| {
                    spawn(format!(
                        "direct|{i}|{base}|{tokens}|{}|{round}",
                        members_file.display()
                    ))
                })
                .collect();
            for mut child in children {
                assert!(child.wait().expect("a child").success(), "a direct child failed");
            }
            let direct = started.elapsed();

            // The journal: the same number of writes recorded, then drained by 4
            // processes, from their spawn to the last outcome's commit.
            let mut ids = Vec::with_capacity(per_round);
            for m in &members {
                let receipt = writer
                    .submit(&change(m, &format!("j{round}-{m}")))
                    .await
                    .expect("recorded");
                ids.push(receipt.id);
            }
            let started_ms = now_ms();
            let started = Instant::now();
            let mut children: Vec<_> = (0..PROCESSES)
                .map(|_| spawn(format!("drain|{base}|{tokens}|{namespace}")))
                .collect();
            loop {
                let counts = store.counts().await.expect("counts");
                if counts.pending + counts.in_flight == 0 {
                    break;
                }
                assert!(started.elapsed() < Duration::from_secs(600), "not drained: {counts:?}");
                // The end is read from the entries' commit times below, not from when
                // this loop sees it: a slow poll costs no accuracy. A fast one did cost the
                // contender: `counts()` is a GROUP BY over the table, and at 20 ms it took
                // about a quarter of the server's time during the drain.
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            for child in &mut children {
                let _ = child.kill();
                let _ = child.wait();
            }
            let first = ids.iter().min().copied().unwrap_or(1);
            let entries = store.list(None, first - 1, per_round).await.expect("list");
            assert_eq!(entries.len(), per_round);
            assert!(
                entries
                    .iter()
                    .all(|e| e.state == gree_ump::runtime::journal::EntryState::Applied),
                "every write applied"
            );
            let last_ms = entries.iter().map(|e| e.updated_ms).max().unwrap_or(started_ms);
            let drained = Duration::from_millis(u64::try_from(last_ms - started_ms).unwrap_or(1).max(1));
            let ratio = direct.as_secs_f64() / drained.as_secs_f64();
            ratios.push(ratio);
            println!(
                "round {round}: {per_round} changes by {PROCESSES} processes: direct {:.0}/s, journal drain {:.0}/s, ratio {ratio:.2}",
                per_round as f64 / direct.as_secs_f64(),
                per_round as f64 / drained.as_secs_f64(),
            );
        }
        ratios.sort_by(f64::total_cmp);
        println!(
            "journal on PostgreSQL, {PROCESSES} processes draining / {PROCESSES} processes sending directly \
             (concurrency {CONCURRENCY} each): {:.2} (median of {rounds} rounds; floor 0.60)",
            ratios[ratios.len() / 2]
        );
        sandbox.shutdown().await;
        let (raw, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls)
            .await
            .expect("a connection");
        tokio::spawn(connection);
        let _ = raw
            .batch_execute(&format!(
                "DROP TABLE {namespace}_entries; DROP TABLE {namespace}_meta;"
            ))
            .await;
    });
}
