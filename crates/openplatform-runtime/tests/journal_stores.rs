//! The journal stores against the conformance suite.

use std::sync::Arc;

use openplatform_runtime::journal::{MemoryJournal, conformance};

#[tokio::test]
async fn the_memory_journal_conforms() {
    conformance::check_journal(&MemoryJournal::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_memory_journal_conforms_under_concurrent_claims() {
    conformance::check_journal_shared(Arc::new(MemoryJournal::new())).await;
}

/// The SQLite journal: the suite, and what it promises beyond it (durable across a
/// reopen, shared by handles and by processes on one file, private, versioned).
#[cfg(feature = "sqlite")]
mod sqlite {
    use std::collections::{BTreeMap, HashMap, HashSet};
    use std::path::PathBuf;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use openplatform_runtime::journal::{
        Entry, EntryState, JournalErrorKind, JournalStore, NewEntry, Resolution, Settlement,
        SqliteJournal, Update, conformance,
    };

    const LEASE: i64 = 600_000;

    fn journal_path(dir: &tempfile::TempDir) -> PathBuf {
        dir.path().join("journal.sqlite")
    }

    fn new_entry(n: usize, keys: &[String]) -> NewEntry {
        NewEntry {
            method: format!("m{n}"),
            body: format!(r#"{{"n":{n},"手机":"13800000000"}}"#),
            order_keys: keys.to_vec(),
            created_ms: 1_000,
        }
    }

    /// The order keys of entry `n` of the concurrent tests: 25 members, and one of 10
    /// orders for every third entry (an entry naming two keys waits for both).
    fn keys_of(n: usize) -> Vec<String> {
        let mut keys = vec![format!("member:{}", n % 25)];
        if n.is_multiple_of(3) {
            keys.push(format!("order:{}", n % 10));
        }
        keys
    }

    fn applied(tag: &str) -> Update {
        Update::Settle(Settlement::Applied {
            result: Some(format!(r#""{tag}""#)),
        })
    }

    /// For each order key, entries naming it were settled one after another in id order:
    /// `(claimed, applying)` are times taken just after an entry's claim returned and
    /// just before its final update was sent, so an entry claimed while an earlier one
    /// of its key was still open shows as claimed before that one was being applied.
    fn assert_order_per_key(entries: &[Entry], times: &HashMap<i64, (u128, u128)>) {
        let mut by_key: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
        for e in entries {
            for k in &e.order_keys {
                by_key.entry(k).or_default().push(e.id);
            }
        }
        for (key, mut ids) in by_key {
            ids.sort_unstable();
            for pair in ids.windows(2) {
                let (earlier, later) = (times[&pair[0]], times[&pair[1]]);
                assert!(
                    earlier.1 < later.0,
                    "{key}: entry {} was claimed before entry {} was settled",
                    pair[1],
                    pair[0]
                );
            }
        }
    }

    // ---- conformance ---------------------------------------------------------------

    #[tokio::test]
    async fn the_sqlite_journal_conforms() {
        let dir = tempfile::tempdir().unwrap();
        let journal = SqliteJournal::open(journal_path(&dir)).expect("open");
        conformance::check_journal(&journal).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn the_sqlite_journal_conforms_under_concurrent_claims() {
        let dir = tempfile::tempdir().unwrap();
        let journal = SqliteJournal::open(journal_path(&dir)).expect("open");
        conformance::check_journal_shared(Arc::new(journal)).await;
    }

    // ---- durability ----------------------------------------------------------------

    #[tokio::test]
    async fn entries_survive_a_reopen_with_their_ids_fences_and_states() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_path(&dir);
        let journal = SqliteJournal::open(&path).unwrap();
        let keys = |k: &str| vec![k.to_owned()];
        let a = journal
            .append(new_entry(1, &keys("member:1")))
            .await
            .unwrap();
        let b = journal
            .append(new_entry(2, &keys("member:2")))
            .await
            .unwrap();
        let c = journal
            .append(new_entry(3, &keys("member:1")))
            .await
            .unwrap();
        let d = journal.append(new_entry(4, &[])).await.unwrap();
        let claimed = journal.claim(2_000, LEASE, 10).await.unwrap();
        assert_eq!(
            claimed.iter().map(|e| e.id).collect::<Vec<_>>(),
            [a.id, b.id, d.id]
        );
        journal
            .update(a.id, 1, Update::AttemptBegins, 2_001)
            .await
            .unwrap();
        journal.update(a.id, 1, applied("a"), 2_002).await.unwrap();
        journal
            .update(b.id, 1, Update::AttemptBegins, 2_003)
            .await
            .unwrap();
        journal
            .update(
                b.id,
                1,
                Update::Settle(Settlement::Retry {
                    next_attempt_ms: 9_000,
                    landing_possible: true,
                    confirming_refusal: true,
                    error: "busy".into(),
                }),
                2_004,
            )
            .await
            .unwrap();
        journal
            .resolve(d.id, Resolution::Refused, "by hand".into(), 2_005)
            .await
            .unwrap();
        let before = journal.list(None, 0, 100).await.unwrap();
        let counts = journal.counts().await.unwrap();
        let due = journal.next_due().await.unwrap();
        drop(journal);

        let journal = SqliteJournal::open(&path).unwrap();
        let after = journal.list(None, 0, 100).await.unwrap();
        assert_eq!(after, before, "every field of every entry, as it was");
        let states: Vec<_> = after.iter().map(|e| (e.id, e.state, e.fence)).collect();
        assert_eq!(
            states,
            [
                (a.id, EntryState::Applied, 1),
                (b.id, EntryState::Pending, 1),
                (c.id, EntryState::Pending, 0),
                (d.id, EntryState::Refused, 2),
            ]
        );
        assert!(after[1].landing_possible && after[1].confirming_refusal);
        assert_eq!(after[1].unknown_since_ms, Some(2_003));
        assert_eq!(after[0].body, new_entry(1, &[]).body, "byte for byte");
        assert_eq!(journal.counts().await.unwrap(), counts);
        assert_eq!(journal.next_due().await.unwrap(), due);
        let e = journal.append(new_entry(5, &[])).await.unwrap();
        assert!(e.id > d.id, "ids go on rising after a reopen");
        // The old claim's fence still holds: b is claimed under fence 2 now.
        let again = journal.claim(9_000, LEASE, 10).await.unwrap();
        let b_again = again.iter().find(|x| x.id == b.id).expect("b is due");
        assert_eq!(b_again.fence, 2);
        assert_eq!(
            journal
                .update(b.id, 1, applied("b"), 9_001)
                .await
                .map_err(|e| e.kind()),
            Err(JournalErrorKind::Fenced)
        );
    }

    /// The last entry removed behind the journal's back (an operator's clean-up) does not
    /// give its id again: AUTOINCREMENT.
    #[tokio::test]
    async fn ids_are_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_path(&dir);
        let journal = SqliteJournal::open(&path).unwrap();
        let a = journal.append(new_entry(1, &[])).await.unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute("DELETE FROM entries", []).unwrap();
        drop(conn);
        let b = journal.append(new_entry(2, &[])).await.unwrap();
        assert!(b.id > a.id);
    }

    // ---- sharing -------------------------------------------------------------------

    /// Two handles on one file (two processes, as far as SQLite can tell: each has its
    /// own connection) drained by many tasks at once: each entry is applied once, and
    /// the entries of one key one after another.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn two_handles_on_one_file_never_share_an_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_path(&dir);
        let handles = [
            Arc::new(SqliteJournal::open(&path).unwrap()),
            Arc::new(SqliteJournal::open(&path).unwrap()),
        ];
        const N: usize = 120;
        for n in 0..N {
            handles[n % 2]
                .append(new_entry(n, &keys_of(n)))
                .await
                .unwrap();
        }
        // First, one claim each from many tasks at once: the first entry of each key
        // that is free, once.
        let tasks: Vec<_> = (0..16)
            .map(|i| {
                let journal = Arc::clone(&handles[i % 2]);
                tokio::spawn(async move { journal.claim(2_000, LEASE, 3).await })
            })
            .collect();
        let mut claimed = Vec::new();
        for task in tasks {
            claimed.extend(task.await.unwrap().expect("claim"));
        }
        let ids: HashSet<i64> = claimed.iter().map(|e| e.id).collect();
        assert_eq!(ids.len(), claimed.len(), "no entry claimed twice");
        let keys: Vec<&String> = claimed.iter().flat_map(|e| &e.order_keys).collect();
        let distinct: HashSet<&&String> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len(), "one entry per key at a time");
        for e in &claimed {
            handles[0]
                .update(e.id, e.fence, applied("first"), 2_001)
                .await
                .unwrap();
        }

        // Then drain the rest from 8 tasks over both handles.
        let times: Arc<Mutex<HashMap<i64, (u128, u128)>>> = Arc::default();
        let start = Instant::now();
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let journal = Arc::clone(&handles[i % 2]);
                let times = Arc::clone(&times);
                tokio::spawn(async move {
                    loop {
                        let batch = journal.claim(3_000, LEASE, 2).await.expect("claim");
                        let claimed_at = start.elapsed().as_nanos();
                        if batch.is_empty() {
                            let c = journal.counts().await.expect("counts");
                            if c.pending + c.in_flight == 0 {
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(1)).await;
                            continue;
                        }
                        for e in batch {
                            assert_eq!(e.fence, 1, "entry {} was claimed before", e.id);
                            journal
                                .update(e.id, e.fence, Update::AttemptBegins, 3_001)
                                .await
                                .expect("a first claim is never fenced");
                            let applying_at = start.elapsed().as_nanos();
                            journal
                                .update(e.id, e.fence, applied("drained"), 3_002)
                                .await
                                .expect("a first claim is never fenced");
                            let old = times
                                .lock()
                                .unwrap()
                                .insert(e.id, (claimed_at, applying_at));
                            assert!(old.is_none(), "entry {} applied twice", e.id);
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.expect("a drainer task");
        }
        let all = handles[1].list(None, 0, 1_000).await.unwrap();
        assert_eq!(all.len(), N);
        assert!(
            all.iter()
                .all(|e| e.state == EntryState::Applied && e.fence == 1),
            "every entry applied under its one claim"
        );
        let times = times.lock().unwrap();
        assert_eq!(times.len() + claimed.len(), N, "each entry applied once");
        let drained: Vec<Entry> = all
            .into_iter()
            .filter(|e| times.contains_key(&e.id))
            .collect();
        assert_order_per_key(&drained, &times);
    }

    /// A write waits for another connection's transaction, past SQLite's 5 s busy
    /// timeout too (the operation is tried again), instead of failing.
    #[tokio::test]
    async fn a_write_waits_for_another_connections_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_path(&dir);
        let journal = SqliteJournal::open(&path).unwrap();
        let (locked_tx, locked) = std::sync::mpsc::channel();
        let holder = {
            let path = path.clone();
            std::thread::spawn(move || {
                let conn = rusqlite::Connection::open(&path).unwrap();
                conn.execute_batch("BEGIN IMMEDIATE").unwrap();
                locked_tx.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(5_500));
                conn.execute_batch("COMMIT").unwrap();
            })
        };
        locked.recv().unwrap();
        let started = Instant::now();
        let a = journal.append(new_entry(1, &[])).await.expect("append");
        assert!(
            started.elapsed() >= Duration::from_secs(5),
            "it waited for the lock: {:?}",
            started.elapsed()
        );
        holder.join().unwrap();
        assert_eq!(journal.get(a.id).await.unwrap().map(|e| e.id), Some(a.id));
    }

    // ---- files ---------------------------------------------------------------------

    /// The SQLite journal writes claims and updates in SQL of its own; the memory
    /// journal applies them in Rust (`Entry::claim`, `Entry::apply_fenced`). The same
    /// random operations on both, step by step, must give the same answers and leave the
    /// same entries: claims with and without an attempt begun, every kind of update,
    /// stale fences, unknown ids, saturating counts, and an operator's decisions.
    #[tokio::test]
    async fn sqlite_and_memory_give_the_same_answers_to_the_same_operations() {
        use openplatform_runtime::journal::MemoryJournal;
        let dir = tempfile::tempdir().unwrap();
        let sqlite = SqliteJournal::open(journal_path(&dir)).unwrap();
        let memory = MemoryJournal::new();
        let mut seed: u64 = 0x5eed_1234_abcd_0001;
        let mut next = move |n: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        let kind = |r: &Result<Entry, openplatform_runtime::journal::JournalError>| {
            r.as_ref().map_err(|e| e.kind()).cloned()
        };
        let mut now: i64 = 1_000;
        let mut known: Vec<(i64, u64)> = Vec::new();
        for step in 0..600 {
            now += i64::try_from(next(5_000)).unwrap();
            match next(10) {
                0 | 1 => {
                    let keys = vec![format!("member:{}", next(6))];
                    let a = sqlite.append(new_entry(step, &keys)).await.unwrap();
                    let b = memory.append(new_entry(step, &keys)).await.unwrap();
                    assert_eq!(a, b, "step {step}: append");
                }
                2 | 3 => {
                    let limit = usize::try_from(next(4) + 1).unwrap();
                    let lease = i64::try_from(next(20_000)).unwrap();
                    let (a, b) = if next(2) == 0 {
                        (
                            sqlite.claim_to_send(now, lease, limit).await.unwrap(),
                            memory.claim_to_send(now, lease, limit).await.unwrap(),
                        )
                    } else {
                        let plain = |v: Vec<Entry>| {
                            v.into_iter()
                                .map(|entry| openplatform_runtime::journal::Claimed {
                                    entry,
                                    begun: None,
                                })
                                .collect::<Vec<_>>()
                        };
                        (
                            plain(sqlite.claim(now, lease, limit).await.unwrap()),
                            plain(memory.claim(now, lease, limit).await.unwrap()),
                        )
                    };
                    assert_eq!(a, b, "step {step}: claim");
                    for c in &a {
                        let held = c.begun.as_ref().unwrap_or(&c.entry);
                        known.push((held.id, held.fence));
                    }
                }
                4..=7 if !known.is_empty() => {
                    let pick = usize::try_from(next(known.len() as u64)).unwrap();
                    let (id, mut fence) = known[pick];
                    match next(8) {
                        0 => fence = fence.wrapping_add(1),
                        1 => fence = u64::MAX,
                        _ => {}
                    }
                    let id = if next(12) == 0 { id + 1_000 } else { id };
                    let error = format!("e{step}");
                    let update = match next(6) {
                        0 => Update::AttemptBegins,
                        1 => Update::Settle(Settlement::Applied {
                            result: (next(2) == 0).then(|| format!("r{step}")),
                        }),
                        2 => Update::Settle(Settlement::Refused {
                            result: format!("{{\"code\":{step}}}"),
                        }),
                        3 => Update::Settle(Settlement::Retry {
                            next_attempt_ms: now + i64::try_from(next(9_000)).unwrap(),
                            landing_possible: next(2) == 0,
                            confirming_refusal: next(2) == 0,
                            error,
                        }),
                        _ => Update::Settle(Settlement::Attention { error }),
                    };
                    let a = sqlite.update(id, fence, update.clone(), now).await;
                    let b = memory.update(id, fence, update, now).await;
                    assert_eq!(kind(&a), kind(&b), "step {step}: update of {id}");
                }
                8 if !known.is_empty() => {
                    let pick = usize::try_from(next(known.len() as u64)).unwrap();
                    let id = known[pick].0;
                    let resolution = match next(3) {
                        0 => Resolution::RetryNow,
                        1 => Resolution::Applied,
                        _ => Resolution::Refused,
                    };
                    let a = sqlite
                        .resolve(id, resolution.clone(), format!("n{step}"), now)
                        .await;
                    let b = memory
                        .resolve(id, resolution, format!("n{step}"), now)
                        .await;
                    assert_eq!(kind(&a), kind(&b), "step {step}: resolve of {id}");
                }
                _ => {
                    assert_eq!(
                        sqlite.next_due().await.unwrap(),
                        memory.next_due().await.unwrap(),
                        "step {step}: next due"
                    );
                }
            }
        }
        let a = sqlite.list(None, 0, 10_000).await.unwrap();
        let b = memory.list(None, 0, 10_000).await.unwrap();
        assert!(a.len() > 50, "{} entries", a.len());
        assert_eq!(a, b, "the same entries at the end");
        assert_eq!(
            sqlite.counts().await.unwrap(),
            memory.counts().await.unwrap()
        );
    }

    /// The tables an SDK of schema version 1 wrote, as it wrote them.
    const SCHEMA_1: &str = "
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT) STRICT;
        CREATE TABLE entries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            method TEXT NOT NULL,
            body TEXT NOT NULL,
            order_keys TEXT NOT NULL,
            state TEXT NOT NULL
                CHECK (state IN ('pending', 'in_flight', 'applied', 'refused', 'attention')),
            attempts INTEGER NOT NULL CHECK (attempts >= 0),
            landing_possible INTEGER NOT NULL CHECK (landing_possible IN (0, 1)),
            confirming_refusal INTEGER NOT NULL CHECK (confirming_refusal IN (0, 1)),
            fence INTEGER NOT NULL CHECK (fence >= 0),
            lease_until_ms INTEGER NOT NULL,
            next_attempt_ms INTEGER NOT NULL,
            last_attempt_ms INTEGER,
            unknown_since_ms INTEGER,
            created_ms INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL,
            last_error TEXT,
            result TEXT
        ) STRICT;
        CREATE INDEX entries_open ON entries (id)
            WHERE state IN ('pending', 'in_flight', 'attention');
        CREATE INDEX entries_state ON entries (state, id);
        INSERT INTO meta (key, value) VALUES ('schema_version', '1');
    ";

    #[tokio::test]
    async fn a_version_1_file_is_migrated_keeping_its_entries_and_ids() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_path(&dir);
        {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch(SCHEMA_1).unwrap();
            let row = |id: i64, state: &str, result: Option<&str>| {
                conn.execute(
                    "INSERT INTO entries VALUES (?1, 'wk.user.event.score.change', \
                     '{\"n\":1}', '[\"member:a\"]', ?2, 1, 1, 0, 3, 0, 5, 4, 4, 1, 6, \
                     'busy', ?3)",
                    rusqlite::params![id, state, result],
                )
                .unwrap();
            };
            row(1, "applied", Some("7"));
            row(2, "pending", None);
            row(3, "refused", Some("{}"));
            // The highest id is gone: the next entry must still not reuse it.
            conn.execute("DELETE FROM entries WHERE id = 3", [])
                .unwrap();
        }

        let journal = SqliteJournal::open(&path).expect("a version 1 file opens");
        let applied = journal.get(1).await.unwrap().expect("entry 1");
        assert_eq!(applied.state, EntryState::Applied);
        assert_eq!(applied.result.as_deref(), Some("7"));
        assert_eq!(applied.order_keys, vec!["member:a".to_string()]);
        assert_eq!((applied.attempts, applied.fence), (1, 3));
        let pending = journal.get(2).await.unwrap().expect("entry 2");
        assert_eq!(pending.state, EntryState::Pending);
        assert_eq!(pending.last_error.as_deref(), Some("busy"));
        assert_eq!(pending.unknown_since_ms, Some(4));
        let next = journal.append(new_entry(4, &[])).await.unwrap();
        assert_eq!(next.id, 4, "an id is never given twice");
        let claimed = journal.claim(2_000, LEASE, 10).await.unwrap();
        let ids: Vec<i64> = claimed.iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![2, 4], "the open entries, through the new index");
        drop(journal);

        let conn = rusqlite::Connection::open(&path).unwrap();
        let version: String = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(version, "2");
        // The conditions still hold, written as comparisons.
        let bad = conn.execute("UPDATE entries SET state = 'lost' WHERE id = 1", []);
        assert!(bad.is_err(), "a state no SDK writes is refused");
        let tables: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'entries_v1'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0, "the old table is gone");
        drop(conn);
        // Opened again: nothing more to migrate.
        let journal = SqliteJournal::open(&path).expect("a version 2 file opens");
        assert_eq!(journal.get(4).await.unwrap().map(|e| e.id), Some(4));
    }

    #[tokio::test]
    async fn a_newer_schema_version_is_refused_naming_the_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_path(&dir);
        let journal = SqliteJournal::open(&path).unwrap();
        journal.append(new_entry(1, &[])).await.unwrap();
        drop(journal);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE meta SET value = '3' WHERE key = 'schema_version'",
            [],
        )
        .unwrap();
        drop(conn);

        let err = SqliteJournal::open(&path).expect_err("a newer schema is refused");
        assert_eq!(err.kind(), JournalErrorKind::Corrupt);
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("schema version 3"), "{text}");
        assert!(text.contains("schema version 2"), "{text}");
        // Refused, not changed: the version and the entry are still there.
        let conn = rusqlite::Connection::open(&path).unwrap();
        let version: String = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(version, "3");
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM entries", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_journal_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let text_file = dir.path().join("notes.txt");
        let content = "member 13800000000 owes nothing\n".repeat(200);
        std::fs::write(&text_file, &content).unwrap();
        let err = SqliteJournal::open(&text_file).expect_err("not a database");
        assert_eq!(err.kind(), JournalErrorKind::Corrupt);
        let text = err.to_string();
        assert!(text.contains(&text_file.display().to_string()), "{text}");
        assert!(text.contains("not a SQLite database"), "{text}");
        assert!(!text.contains("13800000000"), "{text}");
        assert_eq!(
            std::fs::read_to_string(&text_file).unwrap(),
            content,
            "left as it was"
        );

        let other_db = dir.path().join("app.sqlite");
        let conn = rusqlite::Connection::open(&other_db).unwrap();
        conn.execute_batch("CREATE TABLE customers (id INTEGER PRIMARY KEY, phone TEXT);")
            .unwrap();
        drop(conn);
        let err = SqliteJournal::open(&other_db).expect_err("another application's database");
        assert_eq!(err.kind(), JournalErrorKind::Corrupt);
        assert!(err.to_string().contains("something else"), "{err}");
        let conn = rusqlite::Connection::open(&other_db).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "delete", "its journal mode is left as it was");
        drop(conn);

        let err = SqliteJournal::open(dir.path()).expect_err("a directory");
        assert!(
            err.to_string().contains(&dir.path().display().to_string()),
            "{err}"
        );

        let err = SqliteJournal::open(dir.path().join("missing/journal.sqlite"))
            .expect_err("its directory must exist");
        assert_eq!(err.kind(), JournalErrorKind::Io);
    }

    #[tokio::test]
    async fn a_damaged_entry_is_an_error_naming_it_without_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_path(&dir);
        let journal = SqliteJournal::open(&path).unwrap();
        let a = journal
            .append(new_entry(1, &["member:13800000000".to_owned()]))
            .await
            .unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            r#"UPDATE entries SET order_keys = '["member:13800000000"' WHERE id = ?1"#,
            [a.id],
        )
        .unwrap();
        drop(conn);
        for err in [
            journal.get(a.id).await.expect_err("get"),
            journal.claim(2_000, LEASE, 10).await.expect_err("claim"),
            journal.list(None, 0, 10).await.expect_err("list"),
        ] {
            assert_eq!(err.kind(), JournalErrorKind::Corrupt);
            let text = err.to_string();
            assert!(text.contains(&path.display().to_string()), "{text}");
            assert!(text.contains(&format!("entry {}", a.id)), "{text}");
            assert!(!text.contains("13800000000"), "{text}");
        }
    }

    #[test]
    fn debug_shows_the_path_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_path(&dir);
        let journal = SqliteJournal::open(&path).unwrap();
        assert_eq!(
            format!("{journal:?}"),
            format!("SqliteJournal {{ path: {path:?} }}")
        );
        assert_eq!(journal.path(), path);
    }

    #[test]
    fn works_without_a_tokio_runtime() {
        // Outside a Tokio runtime the journal does its work in place: its futures are
        // ready at the first poll.
        fn ready<F: std::future::Future>(future: F) -> F::Output {
            let mut future = std::pin::pin!(future);
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            match future.as_mut().poll(&mut cx) {
                std::task::Poll::Ready(value) => value,
                std::task::Poll::Pending => panic!("not ready at the first poll"),
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let journal = SqliteJournal::open(journal_path(&dir)).unwrap();
        let a = ready(journal.append(new_entry(1, &[]))).unwrap();
        let claimed = ready(journal.claim(2_000, LEASE, 1)).unwrap();
        assert_eq!(claimed[0].id, a.id);
        ready(journal.update(a.id, 1, applied("a"), 2_001)).unwrap();
        assert_eq!(ready(journal.counts()).unwrap().applied, 1);
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn the_files_are_owner_only_and_no_link_is_followed() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let path = journal_path(&dir);
        let journal = SqliteJournal::open(&path).unwrap();
        journal.append(new_entry(1, &[])).await.unwrap();
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap();
            names.push(entry.file_name().to_string_lossy().into_owned());
            assert_eq!(mode(&entry.path()), 0o600, "{}", entry.path().display());
        }
        names.sort();
        assert_eq!(
            names,
            ["journal.sqlite", "journal.sqlite-shm", "journal.sqlite-wal"]
        );

        // A link planted at the path: refused, and neither its target nor a file where a
        // dangling link points is touched.
        let target = dir.path().join("target.sqlite");
        std::fs::write(&target, b"").unwrap();
        let link = dir.path().join("link.sqlite");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = SqliteJournal::open(&link).expect_err("a symlink");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(std::fs::metadata(&target).unwrap().len(), 0);
        let dangling = dir.path().join("dangling.sqlite");
        std::os::unix::fs::symlink(dir.path().join("nowhere.sqlite"), &dangling).unwrap();
        SqliteJournal::open(&dangling).expect_err("a dangling symlink");
        assert!(!dir.path().join("nowhere.sqlite").exists());
    }

    // ---- several processes ---------------------------------------------------------

    /// Set in a child process: the journal file it drains.
    const WORKER_ENV: &str = "OPENPLATFORM_JOURNAL_WORKER_FILE";
    /// Set in a child process: where it writes a line per entry it applied.
    const WORKER_OUT_ENV: &str = "OPENPLATFORM_JOURNAL_WORKER_OUT";

    /// A clock all processes of the host share.
    #[cfg(unix)]
    fn host_ns() -> u128 {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes the timespec it is given; CLOCK_MONOTONIC exists
        // on every Unix this test runs on.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        assert_eq!(rc, 0, "clock_gettime");
        u128::try_from(ts.tv_sec).unwrap() * 1_000_000_000 + u128::try_from(ts.tv_nsec).unwrap()
    }

    /// Not a test of its own: the drainer that `processes_sharing_one_file_apply_each_entry_once`
    /// runs in child processes (this test binary, re-executed with [`WORKER_ENV`] set).
    /// Without the variable it returns at once.
    #[cfg(unix)]
    #[test]
    fn journal_worker_child() {
        use std::io::Write;
        let Some(path) = std::env::var_os(WORKER_ENV) else {
            return;
        };
        let out = std::env::var_os(WORKER_OUT_ENV).expect("worker: output file");
        let mut out = std::fs::File::create(out).expect("worker: output file");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("worker: runtime");
        rt.block_on(async {
            let journal = SqliteJournal::open(&path).expect("worker: open");
            loop {
                let batch = journal.claim(5_000, LEASE, 4).await.expect("worker: claim");
                let claimed_at = host_ns();
                if batch.is_empty() {
                    let c = journal.counts().await.expect("worker: counts");
                    if c.pending + c.in_flight == 0 {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    continue;
                }
                for e in batch {
                    assert_eq!(e.fence, 1, "worker: entry {} was claimed before", e.id);
                    journal
                        .update(e.id, e.fence, Update::AttemptBegins, 5_001)
                        .await
                        .expect("worker: a first claim is never fenced");
                    let applying_at = host_ns();
                    journal
                        .update(
                            e.id,
                            e.fence,
                            applied(&std::process::id().to_string()),
                            5_002,
                        )
                        .await
                        .expect("worker: a first claim is never fenced");
                    writeln!(out, "{} {claimed_at} {applying_at}", e.id).expect("worker: write");
                }
            }
        });
    }

    /// Four processes drain one file together: every entry is applied once, by one of
    /// them, and the entries of one key one after another.
    #[cfg(unix)]
    #[tokio::test]
    async fn processes_sharing_one_file_apply_each_entry_once() {
        const N: usize = 400;
        const WORKERS: usize = 4;
        let dir = tempfile::tempdir().unwrap();
        let path = journal_path(&dir);
        let journal = SqliteJournal::open(&path).unwrap();
        for n in 0..N {
            journal.append(new_entry(n, &keys_of(n))).await.unwrap();
        }
        let started = Instant::now();
        let children: Vec<_> = (0..WORKERS)
            .map(|i| {
                let out = dir.path().join(format!("worker-{i}.txt"));
                let child = tokio::process::Command::new(std::env::current_exe().unwrap())
                    .args([
                        "--exact",
                        "sqlite::journal_worker_child",
                        "--test-threads=1",
                        "--nocapture",
                    ])
                    .env(WORKER_ENV, &path)
                    .env(WORKER_OUT_ENV, &out)
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .kill_on_drop(true)
                    .spawn()
                    .expect("spawn a worker");
                (out, child)
            })
            .collect();
        let mut times = HashMap::new();
        let mut per_worker = Vec::new();
        for (out, child) in children {
            let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
                .await
                .expect("a worker finished within 120 s")
                .expect("a worker's exit");
            assert!(
                output.status.success(),
                "a worker failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let lines = std::fs::read_to_string(&out).expect("a worker's output");
            let mut applied_here = 0;
            for line in lines.lines() {
                let mut parts = line.split(' ').map(|p| p.parse::<u128>().unwrap());
                let (id, claimed, applying) = (
                    i64::try_from(parts.next().unwrap()).unwrap(),
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                );
                assert!(
                    times.insert(id, (claimed, applying)).is_none(),
                    "entry {id} applied twice"
                );
                applied_here += 1;
            }
            per_worker.push(applied_here);
        }
        let elapsed = started.elapsed();
        eprintln!("{N} entries drained by {WORKERS} processes in {elapsed:?}: {per_worker:?}");

        let all = journal.list(None, 0, 1_000).await.unwrap();
        assert_eq!(all.len(), N);
        assert_eq!(times.len(), N, "each entry applied once");
        for e in &all {
            assert!(
                times.contains_key(&e.id),
                "entry {} applied by no worker",
                e.id
            );
            assert_eq!(
                (e.state, e.fence, e.attempts),
                (EntryState::Applied, 1, 1),
                "entry {}",
                e.id
            );
        }
        assert_order_per_key(&all, &times);
        let counts = journal.counts().await.unwrap();
        assert_eq!(counts.applied, N as u64);
        assert_eq!(counts.oldest_open_created_ms, None);
        assert_eq!(journal.next_due().await.unwrap(), None);
    }
}
