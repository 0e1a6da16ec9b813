//! The token stores against the conformance suite, and what the file store promises
//! beyond it: whole records after a `kill -9` mid-write, damaged files reported (never
//! taken for "no record"), owner-only permissions, no token in any text.
//!
//! The Redis store's tests are in `redis_store.rs` (feature `redis`).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use openplatform_runtime::tokens::{
    BudgetKind, BudgetTake, FileTokenStore, MemoryTokenStore, Secret, StoreErrorKind, TokenRecord,
    TokenStore, conformance,
};

fn record(version: u64) -> TokenRecord {
    TokenRecord {
        access_token: Secret::new(format!("at-SECRET-{version}")),
        access_expires_at_ms: 1_700_007_200_000,
        refresh_token: Secret::new(format!("rt-SECRET-{version}")),
        refresh_expires_at_ms: 1_731_536_000_000,
        version,
    }
}

fn file_store(dir: &tempfile::TempDir) -> FileTokenStore {
    FileTokenStore::new(dir.path().join("tokens")).expect("file store")
}

// ---- conformance -------------------------------------------------------------------

#[tokio::test]
async fn memory_store_conforms() {
    conformance::check_store(&MemoryTokenStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_store_conforms_across_tasks() {
    conformance::check_store_shared(Arc::new(MemoryTokenStore::new())).await;
}

#[tokio::test]
async fn file_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    conformance::check_store(&file_store(&dir)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_store_conforms_across_tasks() {
    let dir = tempfile::tempdir().unwrap();
    conformance::check_store_shared(Arc::new(file_store(&dir))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_stores_on_one_directory_share_state() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (file_store(&dir), file_store(&dir));
    assert!(a.compare_and_set("app", None, &record(1)).await.unwrap());
    assert_eq!(b.load("app").await.unwrap(), Some(record(1)));
    assert!(!b.compare_and_set("app", None, &record(1)).await.unwrap());

    // Two instances (two open files, so two OS locks) racing for one budget.
    let takes = futures_util::future::join_all((0..30).map(|i| {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        async move {
            store
                .take_budget("app", BudgetKind::Refresh, 9, 20)
                .await
                .unwrap()
        }
    }))
    .await;
    let granted = takes
        .iter()
        .filter(|t| matches!(t, BudgetTake::Granted { .. }))
        .count();
    assert_eq!(granted, 20);
    assert_eq!(
        a.budget_used("app", BudgetKind::Refresh, 9).await.unwrap(),
        20
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
}

#[test]
fn file_store_works_without_a_tokio_runtime() {
    // Outside a Tokio runtime the store does its file work in place, so its futures are
    // ready at the first poll: any executor will do, here a bare poll loop.
    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        loop {
            if let std::task::Poll::Ready(value) = future.as_mut().poll(&mut cx) {
                return value;
            }
            std::thread::yield_now();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir);
    assert!(block_on(store.compare_and_set("app", None, &record(1))).unwrap());
    assert_eq!(block_on(store.load("app")).unwrap(), Some(record(1)));
    assert!(block_on(store.try_lock("app", "me", Duration::from_secs(1))).unwrap());
    assert_eq!(
        block_on(store.take_budget("app", BudgetKind::Obtain, 1, 1)).unwrap(),
        BudgetTake::Granted { used: 1 }
    );
}

// ---- large records -----------------------------------------------------------------

fn record_of(version: u64, token_chars: usize) -> TokenRecord {
    TokenRecord {
        access_token: Secret::new(format!("at-SECRET-{}", "a".repeat(token_chars))),
        refresh_token: Secret::new(format!("rt-SECRET-{}", "r".repeat(token_chars))),
        ..record(version)
    }
}

/// Tokens of 40,000 characters, written by one process, are read by another and after a
/// restart (a new store on the same directory); a record beyond what the store keeps is
/// refused at the write, naming the file and the limit, and the previous one stays.
#[tokio::test]
async fn large_records_written_are_read_by_every_process() {
    let dir = tempfile::tempdir().unwrap();
    let writer = file_store(&dir);
    let big = record_of(1, 40_000);
    assert!(writer.compare_and_set("app", None, &big).await.unwrap());
    let other_process = file_store(&dir);
    assert_eq!(other_process.load("app").await.unwrap(), Some(big.clone()));

    let huge = record_of(2, 600_000);
    let err = other_process
        .compare_and_set("app", Some(1), &huge)
        .await
        .expect_err("a record larger than the store keeps is refused at the write");
    let text = err.to_string();
    let path = writer.record_path("app").unwrap();
    assert!(!err.is_corrupt(), "{text}");
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("1048576 bytes"), "the limit is named: {text}");
    assert!(!text.contains("SECRET"), "{text}");
    assert_eq!(writer.load("app").await.unwrap(), Some(big));
}

// ---- damaged files -----------------------------------------------------------------

#[tokio::test]
async fn corrupt_record_file_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir);
    assert!(
        store
            .compare_and_set("app", None, &record(1))
            .await
            .unwrap()
    );
    let path = store.record_path("app").unwrap();
    let whole = std::fs::read_to_string(&path).unwrap();

    let damaged = [
        // Cut short by a crash of something other than this store.
        whole[..whole.len() / 2].to_owned(),
        String::new(),
        "\0\0\0\0".to_owned(),
        // Damage that makes serde quote a token in its message.
        whole.replacen("\"version\":1", "\"version\":\"at-SECRET-1\"", 1),
        whole.replacen("\"access_token\":", "", 1),
        r#"{"format":1,"version":1,"at-SECRET-1":2}"#.to_owned(),
        whole.replacen("\"format\":1", "\"format\":99", 1),
    ];
    for (i, content) in damaged.iter().enumerate() {
        std::fs::write(&path, content).unwrap();
        let err = store
            .load("app")
            .await
            .expect_err("a damaged record must not load");
        assert_eq!(err.kind(), StoreErrorKind::Corrupt, "case {i}: {err}");
        let text = err.to_string();
        assert!(
            text.contains(&path.display().to_string()),
            "case {i}: the path is named: {text}"
        );
        assert!(
            !text.contains("SECRET"),
            "case {i}: no token in the error: {text}"
        );
        assert!(
            !format!("{err:?}").contains("SECRET"),
            "case {i}: no token in Debug"
        );

        // A damaged record is never overwritten as if it were absent.
        let cas = store.compare_and_set("app", None, &record(2)).await;
        assert!(
            cas.as_ref().is_err_and(|e| e.is_corrupt()),
            "case {i}: {cas:?}"
        );
        let cas = store.compare_and_set("app", Some(1), &record(2)).await;
        assert!(
            cas.as_ref().is_err_and(|e| e.is_corrupt()),
            "case {i}: {cas:?}"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            *content,
            "case {i}: file untouched"
        );
    }
}

#[tokio::test]
async fn corrupt_lease_and_budget_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir);
    assert!(
        store
            .try_lock("app", "me", Duration::from_secs(30))
            .await
            .unwrap()
    );
    store
        .take_budget("app", BudgetKind::Obtain, 1, 1)
        .await
        .unwrap();

    for (name, suffix) in [("lease", "lease.json"), ("budget", "budget.json")] {
        let path = store.dir().join(format!("app-app.{suffix}"));
        assert!(path.exists(), "{name} file at {}", path.display());
        std::fs::write(&path, "{\"format\":1,").unwrap();
        let err = if name == "lease" {
            store
                .try_lock("app", "other", Duration::from_secs(1))
                .await
                .unwrap_err()
        } else {
            store
                .take_budget("app", BudgetKind::Obtain, 1, 1)
                .await
                .unwrap_err()
        };
        assert!(err.is_corrupt(), "{name}: {err}");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{name}: {err}"
        );
    }
    let err = store
        .budget_used("app", BudgetKind::Obtain, 1)
        .await
        .unwrap_err();
    assert!(err.is_corrupt(), "{err}");
}

#[tokio::test]
async fn file_store_rejects_a_file_as_directory_and_overlong_ids() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").unwrap();
    assert!(FileTokenStore::new(&file).is_err());

    let store = file_store(&dir);
    let long = "x".repeat(1000);
    assert!(store.load(&long).await.is_err());
    assert!(
        store
            .compare_and_set(&long, None, &record(1))
            .await
            .is_err()
    );
}

// ---- permissions and texts ---------------------------------------------------------

#[cfg(unix)]
#[tokio::test]
async fn files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;

    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a").join("tokens");
    let store = FileTokenStore::new(&nested).unwrap();
    assert_eq!(mode(&nested), 0o700, "the store's directory");
    assert_eq!(mode(&dir.path().join("a")), 0o700, "a created parent");

    assert!(
        store
            .compare_and_set("app", None, &record(1))
            .await
            .unwrap()
    );
    assert!(
        store
            .compare_and_set("app", Some(1), &record(2))
            .await
            .unwrap()
    );
    assert!(
        store
            .try_lock("app", "me", Duration::from_secs(30))
            .await
            .unwrap()
    );
    store
        .take_budget("app", BudgetKind::Refresh, 1, 20)
        .await
        .unwrap();

    let mut names = Vec::new();
    for entry in std::fs::read_dir(&nested).unwrap() {
        let entry = entry.unwrap();
        names.push(entry.file_name().to_string_lossy().into_owned());
        assert_eq!(mode(&entry.path()), 0o600, "{}", entry.path().display());
    }
    names.sort();
    assert_eq!(
        names,
        [
            "app-app.budget.json",
            "app-app.json",
            "app-app.lease.json",
            "app-app.lock"
        ],
        "one file per purpose, no temporary file left behind"
    );
}

/// Nothing the store opens or creates follows a symlink planted in its directory: the
/// lock file (once opened with create, so a planted link created or opened its target),
/// the record, the side files and the temporary files. The target stays untouched, no
/// file appears where a dangling link points, and the error names the file.
#[cfg(unix)]
#[tokio::test]
async fn no_file_of_the_store_follows_a_symlink() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let store = file_store(&dir);
    let outside = dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    let victim = outside.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let untouched = |what: &str| {
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap(),
            "precious",
            "{what}: the link's target was written"
        );
        let names: Vec<_> = std::fs::read_dir(&outside)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            names,
            ["victim"],
            "{what}: a file was created through a link"
        );
    };

    // The lock file: every operation that takes the OS lock refuses, naming it.
    for (key, target) in [("a", victim.clone()), ("b", outside.join("created"))] {
        let lock = store.dir().join(format!("app-{key}.lock"));
        symlink(&target, &lock).unwrap();
        let results = [
            store
                .try_lock(key, "me", Duration::from_secs(30))
                .await
                .map(|_| ()),
            store
                .take_budget(key, BudgetKind::Obtain, 1, 1)
                .await
                .map(|_| ()),
            store
                .compare_and_set(key, None, &record(1))
                .await
                .map(|_| ()),
            store.store_note(key, "pending-obtain", Some("x")).await,
        ];
        for (i, result) in results.into_iter().enumerate() {
            let err = result.expect_err("an operation through a symlinked lock file");
            let text = err.to_string();
            assert!(
                text.contains(&lock.display().to_string()),
                "{key}/{i}: {text}"
            );
            assert!(text.contains("symbolic link"), "{key}/{i}: {text}");
        }
        untouched(&format!("lock file of {key}"));
    }

    // The record and the side files: a link there is never read through, never written
    // through (a write replaces the link itself).
    let key = "c";
    for name in [
        "app-c.json",
        "app-c.budget.json",
        "app-c.lease.json",
        "app-c.note-pending-obtain",
    ] {
        symlink(&victim, store.dir().join(name)).unwrap();
    }
    assert!(
        store.load(key).await.is_err(),
        "a symlinked record is not read"
    );
    assert!(store.budget_used(key, BudgetKind::Obtain, 1).await.is_err());
    assert!(store.load_note(key, "pending-obtain").await.is_err());
    untouched("record and side files");

    // Temporary files: links at the old fixed names and at likely ones are never
    // written through; the write succeeds.
    let key = "d";
    for name in [
        ".app-d.json.tmp",
        ".app-d.budget.json.tmp",
        ".app-d.lease.json.tmp",
        ".app-d.note-pending-obtain.tmp",
    ] {
        symlink(&victim, store.dir().join(name)).unwrap();
    }
    assert!(store.compare_and_set(key, None, &record(1)).await.unwrap());
    store
        .take_budget(key, BudgetKind::Obtain, 1, 1)
        .await
        .unwrap();
    assert!(
        store
            .try_lock(key, "me", Duration::from_secs(30))
            .await
            .unwrap()
    );
    store
        .store_note(key, "pending-obtain", Some("x"))
        .await
        .unwrap();
    assert_eq!(store.load(key).await.unwrap(), Some(record(1)));
    untouched("temporary files");
}

/// A directory that other users can write is refused, naming it and the fix: anyone who
/// can write there can plant the store's file names (a record of their tokens, links).
/// Refused likewise when it is sticky (`/tmp`): others still create names before us.
#[cfg(unix)]
#[test]
fn a_directory_others_can_write_is_refused_unless_opted_in() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    for mode in [0o777, 0o770, 0o730, 0o702, 0o1777, 0o1770] {
        let path = dir.path().join(format!("shared-{mode:o}"));
        std::fs::create_dir(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = FileTokenStore::new(&path).expect_err("a directory others can write");
        let text = err.to_string();
        assert_eq!(err.kind(), StoreErrorKind::Backend, "{mode:o}: {text}");
        assert!(
            text.contains(&path.display().to_string()),
            "{mode:o}: {text}"
        );
        assert!(text.contains("chmod go-w"), "{mode:o}: the fix: {text}");
        assert!(
            text.contains("allow_shared_directory"),
            "{mode:o}: the opt-in: {text}"
        );
        // The explicit opt-in accepts it, and leaves its mode alone.
        let store = FileTokenStore::builder(&path)
            .allow_shared_directory(true)
            .open()
            .unwrap_or_else(|e| panic!("{mode:o}, opted in: {e}"));
        assert_eq!(store.dir(), path);
        let now = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(now, mode);
    }
    // A directory another user owns: its owner can make it writable at any time. (Only
    // where this test may give a directory away, as root.)
    let given = dir.path().join("given-away");
    std::fs::create_dir(&given).unwrap();
    std::fs::set_permissions(&given, std::fs::Permissions::from_mode(0o755)).unwrap();
    if std::os::unix::fs::chown(&given, Some(54_321), None).is_ok() {
        let err = FileTokenStore::new(&given).expect_err("a directory another user owns");
        let text = err.to_string();
        assert!(text.contains("owned by another user (uid 54321)"), "{text}");
        assert!(text.contains(&given.display().to_string()), "{text}");
        FileTokenStore::builder(&given)
            .allow_shared_directory(true)
            .open()
            .unwrap();
    }
    for mode in [0o700, 0o750, 0o755, 0o711] {
        let path = dir.path().join(format!("private-{mode:o}"));
        std::fs::create_dir(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        FileTokenStore::new(&path).unwrap_or_else(|e| panic!("{mode:o}: {e}"));
    }
}

#[tokio::test]
async fn debug_and_display_show_no_token() {
    let dir = tempfile::tempdir().unwrap();
    let file = file_store(&dir);
    let memory = MemoryTokenStore::new();
    for store in [&file as &dyn TokenStore, &memory] {
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
    }
    // The file itself does hold the tokens (that is why it is owner-only).
    let json = std::fs::read_to_string(file.record_path("app").unwrap()).unwrap();
    assert!(json.contains("at-SECRET-1"));
}

// ---- kill -9 mid-write -------------------------------------------------------------

/// Set in a child process: the directory of the store it writes until it is killed.
const WRITER_ENV: &str = "OPENPLATFORM_TOKEN_STORE_CRASH_WRITER_DIR";
const CRASH_KEY: &str = "crash-app";

/// A record whose content follows from its version, large enough that a write takes a
/// while, so a torn write would show.
fn crash_record(version: u64) -> TokenRecord {
    let pad = "x".repeat(8 * 1024);
    TokenRecord {
        access_token: Secret::new(format!("access-{version}-{pad}")),
        access_expires_at_ms: i64::try_from(version).unwrap_or(0),
        refresh_token: Secret::new(format!("refresh-{version}-{pad}")),
        refresh_expires_at_ms: i64::try_from(version).unwrap_or(0) + 1,
        version,
    }
}

/// Not a test of its own: the writer that `file_store_survives_kill_9_mid_write` runs in
/// a child process (this test binary, re-executed with [`WRITER_ENV`] set). Without the
/// variable it returns at once.
#[test]
fn crash_writer_child() {
    let Some(dir) = std::env::var_os(WRITER_ENV) else {
        return;
    };
    let store = FileTokenStore::new(dir).expect("writer: store");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("writer: runtime");
    rt.block_on(async {
        loop {
            let current = store
                .load(CRASH_KEY)
                .await
                .expect("writer: load")
                .expect("writer: a record is there");
            let next = crash_record(current.version + 1);
            assert!(
                store
                    .compare_and_set(CRASH_KEY, Some(current.version), &next)
                    .await
                    .expect("writer: compare-and-set"),
                "writer: the only writer must win"
            );
        }
    });
}

fn spawn_writer(dir: &Path) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_writer_child",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(WRITER_ENV, dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the writer")
}

fn assert_whole(
    loaded: Result<Option<TokenRecord>, openplatform_runtime::tokens::StoreError>,
) -> u64 {
    let record = match loaded {
        Ok(Some(record)) => record,
        Ok(None) => panic!("the record vanished"),
        Err(e) => panic!("a reader saw a damaged record: {e}"),
    };
    assert_eq!(
        record,
        crash_record(record.version),
        "record is whole and of one version"
    );
    record.version
}

#[tokio::test]
async fn file_store_survives_kill_9_mid_write() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens");
    let store = FileTokenStore::new(&path).unwrap();
    assert!(
        store
            .compare_and_set(CRASH_KEY, None, &crash_record(1))
            .await
            .unwrap()
    );

    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    let mut random_ms = move |max: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % max
    };

    let mut last = 1;
    let iterations = 50;
    for i in 0..iterations {
        let mut child = spawn_writer(&path);
        // Wait until the writer is writing (reading all the while: readers must only
        // ever see whole records too), then kill it at a random moment.
        let started = Instant::now();
        loop {
            let version = assert_whole(store.load(CRASH_KEY).await);
            assert!(
                version >= last,
                "versions never go back: {version} < {last}"
            );
            if version > last {
                break;
            }
            if let Some(status) = child.try_wait().unwrap() {
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
                }
                panic!("iteration {i}: the writer exited by itself ({status}): {stderr}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "iteration {i}: the writer made no progress"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_millis(random_ms(25))).await;
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();

        let version = assert_whole(store.load(CRASH_KEY).await);
        assert!(version > last, "iteration {i}: {version} <= {last}");
        last = version;
    }
    assert!(last > iterations, "every writer wrote at least once");

    // The store goes on: a killed writer's OS lock died with it, its temporary file is
    // removed by the next write.
    assert!(
        store
            .compare_and_set(CRASH_KEY, Some(last), &crash_record(last + 1))
            .await
            .unwrap()
    );
    assert_eq!(
        store.load(CRASH_KEY).await.unwrap(),
        Some(crash_record(last + 1))
    );
    let leftovers = std::fs::read_dir(&path)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp")
        })
        .count();
    assert_eq!(
        leftovers, 0,
        "the temporary file a killed writer left is removed by the next write"
    );
}
