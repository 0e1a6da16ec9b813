//! The PostgreSQL journal against a real server: the conformance suite, and what it
//! promises beyond it (versioned tables, several handles as several hosts, connection
//! loss, no secret in any text).
//!
//! The server is the one at `POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). When it cannot be reached the tests
//! fail if `CI` is set, and are skipped with a notice otherwise. Each test works in
//! tables of its own (a namespace no other test or run uses) and drops them after. Run:
//! `cargo test -p openplatform-runtime --features postgres,test-util --test journal_postgres`.
#![cfg(feature = "postgres")]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use openplatform_runtime::journal::{
    EntryState, JournalErrorKind, JournalStore, NewEntry, PostgresJournal, Settlement, Update,
    conformance,
};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const LEASE: i64 = 600_000;

fn url() -> String {
    std::env::var("POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_URL.to_owned())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// A namespace no other test (or earlier run) uses.
fn unique_namespace(test: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "t_{test}_{:x}_{}_{}",
        nanos % 0xffff_ffff,
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Tables of their own on the test server: dropped when dropped.
struct Scratch {
    namespace: String,
}

impl Scratch {
    /// A namespace for `test`, or `None` (with a notice) when there is no server and CI
    /// is not set.
    async fn new(test: &str) -> Option<Scratch> {
        match raw().await {
            Ok(_) => Some(Scratch {
                namespace: unique_namespace(test),
            }),
            Err(e) if in_ci() => {
                panic!("CI is set but the PostgreSQL server of POSTGRES_URL cannot be reached: {e}")
            }
            Err(e) => {
                eprintln!(
                    "SKIPPED {test}: no PostgreSQL server at POSTGRES_URL (default \
                     {DEFAULT_URL}): {e}. Start one to run the PostgreSQL journal tests."
                );
                None
            }
        }
    }

    async fn journal(&self) -> PostgresJournal {
        PostgresJournal::builder(url())
            .namespace(self.namespace.clone())
            .connect()
            .await
            .expect("the journal")
    }

    async fn sql(&self, sql: &str) {
        let client = raw().await.expect("a connection");
        client
            .batch_execute(&sql.replace("{ns}", &self.namespace))
            .await
            .expect(sql);
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let namespace = self.namespace.clone();
        // Best effort, on a thread of its own: Drop cannot await.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                if let Ok(client) = raw().await {
                    let _ = client
                        .batch_execute(&format!(
                            "DROP TABLE IF EXISTS {namespace}_entries; \
                             DROP TABLE IF EXISTS {namespace}_meta;"
                        ))
                        .await;
                }
            });
        })
        .join();
    }
}

/// A plain connection to the test server, for looking behind the store's back.
async fn raw() -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(&url(), tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

fn new_entry(n: i64, keys: &[String]) -> NewEntry {
    NewEntry {
        method: format!("m{n}"),
        body: format!(r#"{{"n":{n},"手机":"13800000000"}}"#),
        order_keys: keys.to_vec(),
        created_ms: 1_000,
    }
}

fn applied(tag: &str) -> Update {
    Update::Settle(Settlement::Applied {
        result: Some(format!(r#""{tag}""#)),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_journal_conforms() {
    let Some(scratch) = Scratch::new("conforms").await else {
        return;
    };
    conformance::check_journal(&scratch.journal().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_postgres_journal_conforms_under_concurrent_claims() {
    let Some(scratch) = Scratch::new("shared").await else {
        return;
    };
    conformance::check_journal_shared(Arc::new(scratch.journal().await)).await;
}

/// Four handles with pools of their own, as four hosts: 400 entries of 20 members drained
/// by all at once, each claiming, then settling what it claimed. Every entry is settled
/// once, and no member ever has two entries in flight at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_hosts_drain_one_journal_in_order() {
    let Some(scratch) = Scratch::new("hosts").await else {
        return;
    };
    let hosts: Vec<Arc<PostgresJournal>> = {
        let mut hosts = Vec::new();
        for _ in 0..4 {
            hosts.push(Arc::new(scratch.journal().await));
        }
        hosts
    };
    for n in 0..400 {
        hosts[0]
            .append(new_entry(n, &[format!("member:{}", n % 20)]))
            .await
            .unwrap();
    }
    // Who holds what right now, per member: a member held twice is a broken order.
    let holding: Arc<std::sync::Mutex<HashMap<String, i64>>> = Arc::default();
    let settled: Arc<std::sync::Mutex<Vec<i64>>> = Arc::default();
    let tasks: Vec<_> = hosts
        .iter()
        .cloned()
        .map(|host| {
            let (holding, settled) = (holding.clone(), settled.clone());
            tokio::spawn(async move {
                let mut now = 10_000;
                loop {
                    now += 1;
                    let claimed = host.claim(now, LEASE, 3).await.unwrap();
                    if claimed.is_empty() {
                        if host.counts().await.unwrap().applied >= 400 {
                            return;
                        }
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        continue;
                    }
                    for entry in &claimed {
                        let key = entry.order_keys[0].clone();
                        let before = holding.lock().unwrap().insert(key.clone(), entry.id);
                        assert!(
                            before.is_none(),
                            "{key} held by {before:?} and {}",
                            entry.id
                        );
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    for entry in &claimed {
                        holding.lock().unwrap().remove(&entry.order_keys[0]);
                        host.update(entry.id, entry.fence, applied("ok"), now)
                            .await
                            .unwrap();
                        settled.lock().unwrap().push(entry.id);
                    }
                }
            })
        })
        .collect();
    tokio::time::timeout(Duration::from_secs(120), async {
        for task in tasks {
            task.await.expect("a host");
        }
    })
    .await
    .expect("drained within 120 s");
    let settled = settled.lock().unwrap().clone();
    let unique: HashSet<i64> = settled.iter().copied().collect();
    assert_eq!(settled.len(), 400, "every entry settled once");
    assert_eq!(unique.len(), 400);
    // Per member, in submission order.
    let all = hosts[0].list(None, 0, 1000).await.unwrap();
    let mut last_settled: HashMap<&str, i64> = HashMap::new();
    for entry in &all {
        assert_eq!(entry.state, EntryState::Applied);
        let key = entry.order_keys[0].as_str();
        let position = settled.iter().position(|id| *id == entry.id).unwrap() as i64;
        if let Some(before) = last_settled.insert(key, position) {
            assert!(
                before < position,
                "{key}: entry {} settled before an earlier one",
                entry.id
            );
        }
    }
}

/// Tables a newer SDK wrote are refused, named, and left as they were; tables of
/// something else are refused too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_of_a_newer_schema_are_refused_unchanged() {
    let Some(scratch) = Scratch::new("newer").await else {
        return;
    };
    let journal = scratch.journal().await;
    journal.append(new_entry(1, &[])).await.unwrap();
    scratch
        .sql("UPDATE {ns}_meta SET value = '2' WHERE key = 'schema_version'")
        .await;
    let error = PostgresJournal::builder(url())
        .namespace(scratch.namespace.clone())
        .connect()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), JournalErrorKind::Corrupt, "{error}");
    assert!(
        error
            .to_string()
            .contains("schema version 2, written by a newer SDK"),
        "{error}"
    );
    let client = raw().await.unwrap();
    let rows = client
        .query(
            &format!("SELECT COUNT(*) FROM {}_entries", scratch.namespace),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows[0].get::<_, i64>(0), 1, "the entry is still there");

    let Some(other) = Scratch::new("foreign").await else {
        return;
    };
    other.sql("CREATE TABLE {ns}_entries (id INTEGER)").await;
    let error = PostgresJournal::builder(url())
        .namespace(other.namespace.clone())
        .connect()
        .await
        .unwrap_err();
    assert_eq!(error.kind(), JournalErrorKind::Corrupt, "{error}");
    assert!(
        error.to_string().contains("not a journal this SDK wrote"),
        "{error}"
    );
}

/// A damaged row is told as damaged (naming the entry, not its contents).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_row_is_told_without_its_contents() {
    let Some(scratch) = Scratch::new("damaged").await else {
        return;
    };
    let journal = scratch.journal().await;
    let entry = journal
        .append(new_entry(1, &["member:秘密".into()]))
        .await
        .unwrap();
    scratch
        .sql("ALTER TABLE {ns}_entries DROP CONSTRAINT IF EXISTS {ns}_entries_fence_check")
        .await;
    scratch.sql("UPDATE {ns}_entries SET fence = -5").await;
    let error = journal.get(entry.id).await.unwrap_err();
    assert_eq!(error.kind(), JournalErrorKind::Corrupt, "{error}");
    let text = error.to_string();
    assert!(
        text.contains(&format!("entry {} is damaged", entry.id)),
        "{text}"
    );
    assert!(
        !text.contains("秘密") && !text.contains("13800000000"),
        "{text}"
    );
}

/// Every connection the journal holds is cut (as by a server restart) between two
/// operations and during a burst of them: nothing fails for good, nothing is recorded
/// twice, and what was recorded is all there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_connections_lose_nothing() {
    let Some(scratch) = Scratch::new("cut").await else {
        return;
    };
    let journal = Arc::new(scratch.journal().await);
    let first = journal.append(new_entry(0, &[])).await.unwrap();
    let killer = raw().await.unwrap();
    // The journal's connections, by the application name it gives them.
    let kill = "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name = 'ump-journal' AND datname = current_database()";
    let cut = || async {
        let row = killer.query_one(kill, &[]).await.unwrap();
        row.get::<_, i64>(0)
    };
    assert!(cut().await >= 1, "the journal's connection was cut");
    assert_eq!(journal.get(first.id).await.unwrap().unwrap().id, first.id);

    let appends: Vec<_> = (1..=200)
        .map(|n| {
            let journal = journal.clone();
            tokio::spawn(async move { journal.append(new_entry(n, &[])).await })
        })
        .collect();
    let mut cuts = 0;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        cuts += cut().await;
    }
    assert!(cuts >= 1, "connections were cut during the burst");
    let mut ids = HashSet::new();
    for append in appends {
        let entry = append.await.unwrap().expect("recorded despite the cuts");
        assert!(ids.insert(entry.id));
    }
    let all = journal.list(None, 0, 1000).await.unwrap();
    assert_eq!(all.len(), 201, "each submission recorded once");
    let methods: HashSet<&str> = all.iter().map(|e| e.method.as_str()).collect();
    assert_eq!(methods.len(), 201, "no submission recorded twice");
}

/// The URL's password reaches no message and no Debug output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_password_stays_out_of_every_text() {
    // A port nothing listens on: the connection fails.
    let url = "postgres://pos:hunter2-secret@127.0.0.1:1/mall?connect_timeout=1";
    let error = PostgresJournal::builder(url)
        .retry_for(Duration::from_millis(300))
        .connect()
        .await
        .unwrap_err();
    assert!(!error.to_string().contains("hunter2"), "{error}");
    assert!(error.to_string().contains("127.0.0.1:1/mall"), "{error}");
    let error = PostgresJournal::builder("postgres://pos:hunter2-secret@[bad")
        .connect()
        .await
        .unwrap_err();
    assert!(!error.to_string().contains("hunter2"), "{error}");
    assert!(
        format!("{:?}", PostgresJournal::builder(url))
            .find("hunter2")
            .is_none()
    );
    let Some(scratch) = Scratch::new("debug").await else {
        return;
    };
    let shown = format!("{:?}", scratch.journal().await);
    assert!(shown.contains(&scratch.namespace), "{shown}");
}

/// A proxy to the test server that, once, forwards a COMMIT and then cuts the connection
/// before the answer comes back: the commit happens, and the client cannot know.
async fn proxy_losing_one_commit_answer(
    armed: Arc<std::sync::atomic::AtomicBool>,
) -> (String, Arc<std::sync::atomic::AtomicBool>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config: tokio_postgres::Config = url().parse().unwrap();
    let target = match &config.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(host) => {
            format!(
                "{host}:{}",
                config.get_ports().first().copied().unwrap_or(5432)
            )
        }
        #[cfg(unix)]
        tokio_postgres::config::Host::Unix(_) => panic!("the proxy test needs a TCP URL"),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let lost = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = lost.clone();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else {
                return;
            };
            let server = tokio::net::TcpStream::connect(&target).await.unwrap();
            let (flag, armed) = (flag.clone(), armed.clone());
            tokio::spawn(async move {
                let cutting = std::sync::atomic::AtomicBool::new(false);
                let (mut client_r, mut client_w) = client.into_split();
                let (mut server_r, mut server_w) = server.into_split();
                let upstream = async {
                    let mut buf = vec![0u8; 65536];
                    loop {
                        let n = match client_r.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        if server_w.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                        let commit = buf[..n].windows(6).any(|w| w == b"COMMIT");
                        if commit
                            && armed.load(Ordering::SeqCst)
                            && !flag.swap(true, Ordering::SeqCst)
                        {
                            // Nothing more reaches the client; the server commits; then
                            // both sides are cut.
                            cutting.store(true, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(200)).await;
                            return;
                        }
                    }
                };
                let downstream = async {
                    let mut buf = vec![0u8; 65536];
                    loop {
                        let n = match server_r.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        if cutting.load(Ordering::SeqCst) {
                            // Held until the upstream side ends the connection.
                            std::future::pending::<()>().await;
                        }
                        if client_w.write_all(&buf[..n]).await.is_err() {
                            return;
                        }
                    }
                };
                // Whichever ends first ends the connection (both halves dropped).
                tokio::select! {
                    () = upstream => {}
                    () = downstream => {}
                }
            });
        }
    });
    let user = config.get_user().unwrap_or("postgres");
    let db = config.get_dbname().unwrap_or("postgres");
    (format!("postgres://{user}@127.0.0.1:{port}/{db}"), lost)
}

/// An append whose commit happened but whose answer was lost is found by its submission
/// token: the caller gets its receipt, and the write is recorded once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_append_whose_commit_answer_was_lost_is_recorded_once() {
    let Some(scratch) = Scratch::new("lost_commit").await else {
        return;
    };
    // The tables, made directly (the proxy must see the append's commit first).
    drop(scratch.journal().await);
    let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (proxied, lost) = proxy_losing_one_commit_answer(armed.clone()).await;
    let journal = PostgresJournal::builder(proxied)
        .namespace(scratch.namespace.clone())
        .connect()
        .await
        .unwrap();
    armed.store(true, Ordering::SeqCst);
    let entry = journal
        .append(new_entry(7, &["member:1".into()]))
        .await
        .expect("a receipt despite the lost answer");
    assert!(
        lost.load(Ordering::SeqCst),
        "the append's commit answer was lost"
    );
    let all = scratch.journal().await.list(None, 0, 10).await.unwrap();
    assert_eq!(all.len(), 1, "recorded once: {all:?}");
    assert_eq!(all[0].id, entry.id);
}

/// A read whose commit answer was lost changed nothing: it is tried again, not failed
/// (a drainer's `list` during a server restart killed it otherwise).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_whose_commit_answer_was_lost_is_tried_again() {
    let Some(scratch) = Scratch::new("lost_read").await else {
        return;
    };
    scratch
        .journal()
        .await
        .append(new_entry(3, &[]))
        .await
        .unwrap();
    let armed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (proxied, lost) = proxy_losing_one_commit_answer(armed.clone()).await;
    let journal = PostgresJournal::builder(proxied)
        .namespace(scratch.namespace.clone())
        .connect()
        .await
        .unwrap();
    armed.store(true, Ordering::SeqCst);
    let listed = journal
        .list(None, 0, 10)
        .await
        .expect("listed despite the lost answer");
    assert!(
        lost.load(Ordering::SeqCst),
        "the list's commit answer was lost"
    );
    assert_eq!(listed.len(), 1);
}
