//! One regression test per finding of the token issue ("Tokens that never lock a service
//! out and never overrun a daily budget"), each named after its finding (`fNN_…`), against
//! the sandbox or a stub server written for the finding. The 30-day soak is in
//! `token_soak.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use gree_ump::endpoints::ListLevelsRequest;
use gree_ump::runtime::clock::{Clock, ManualClock, beijing_day};
use gree_ump::runtime::tokens::faulty::{FaultyStore, StoreFault};
use gree_ump::runtime::tokens::{
    BudgetKind, FileTokenStore, MemoryTokenStore, TokenManager, TokenPolicy, TokenStore,
};
use gree_ump::runtime::{Error as RuntimeError, Sent, TokenError};
use gree_ump::{Client, Error, ErrorCode};
use gree_ump_sandbox::config::{DEFAULT_APP_ID, DEFAULT_APP_SECRET};
use gree_ump_sandbox::faults::Fault;
use gree_ump_sandbox::{Sandbox, SandboxConfig, SandboxHandle};

const HOUR_MS: i64 = 3_600_000;

// ------------------------------------------------------------------------ helpers

fn builder(base_url: &str) -> gree_ump::runtime::ClientBuilder<Client> {
    Client::builder()
        .base_url(base_url)
        .app_id(DEFAULT_APP_ID)
        .app_secret(DEFAULT_APP_SECRET)
}

fn client_on(base_url: &str, store: Arc<dyn TokenStore>) -> Client {
    builder(base_url).token_store(store).build().unwrap()
}

async fn call(client: &Client) -> Result<(), Error> {
    client
        .members()
        .list_levels(ListLevelsRequest::new())
        .await
        .map(|_| ())
}

fn is_token_failure(e: &Error) -> bool {
    matches!(e, RuntimeError::Token(_))
}

/// A sandbox whose clock starts at `start` (ms), and a manual client clock there too.
async fn lockstep(config: SandboxConfig, start: i64) -> (SandboxHandle, Arc<ManualClock>) {
    let sandbox = Sandbox::start(config.with_start_time_ms(start))
        .await
        .unwrap();
    sandbox.control().set_time_ms(start);
    (sandbox, Arc::new(ManualClock::new(start)))
}

fn advance(sandbox: &SandboxHandle, clock: &ManualClock, delta_ms: i64) {
    clock.advance_ms(delta_ms);
    sandbox.control().set_time_ms(clock.now_ms());
}

/// 2024-05-01 09:00 Beijing.
const START: i64 = 1_714_525_200_000;

/// A stub platform: `answer` gives the reply of each request (method, query, body).
type Answer = dyn Fn(&str, &str, &[u8]) -> (u16, String) + Send + Sync;

struct Stub {
    answer: Box<Answer>,
    date: Option<String>,
    token_calls: AtomicU32,
    refresh_calls: AtomicU32,
}

async fn stub_handler(
    State(stub): State<Arc<Stub>>,
    uri: Uri,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let method = uri
        .path()
        .trim_start_matches("/gw/gateway/")
        .trim_end_matches("/v1")
        .to_owned();
    if method == "dss.auth.token.query" {
        stub.token_calls.fetch_add(1, Ordering::SeqCst);
    }
    if method == "dss.auth.token.refresh" {
        stub.refresh_calls.fetch_add(1, Ordering::SeqCst);
    }
    let (status, text) = (stub.answer)(&method, query.as_deref().unwrap_or(""), &body);
    let mut response =
        (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), text).into_response();
    if let Some(date) = &stub.date {
        response
            .headers_mut()
            .insert("date", HeaderValue::from_str(date).unwrap());
    }
    response
}

async fn start_stub(
    answer: impl Fn(&str, &str, &[u8]) -> (u16, String) + Send + Sync + 'static,
    date: Option<String>,
) -> (String, Arc<Stub>) {
    let stub = Arc::new(Stub {
        answer: Box::new(answer),
        date,
        token_calls: AtomicU32::new(0),
        refresh_calls: AtomicU32::new(0),
    });
    let app = axum::Router::new()
        .fallback(stub_handler)
        .with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), stub)
}

/// A token reply of the document's shape.
fn token_reply(access: &str, expire_in: &str) -> String {
    format!(
        r#"{{"success":true,"error_code":200,"data":{{"access_token":"{access}","refresh_token":"rt-1","expire_in":{expire_in}}}}}"#
    )
}

const OK_LEVELS: &str =
    r#"{"success":true,"errorCode":200,"data":[],"pageNo":1,"pageSize":10,"totalCount":0}"#;

fn error_reply(code: i64, message: &str) -> String {
    format!(r#"{{"success":false,"error_code":{code},"error_message":"{message}"}}"#)
}

// ------------------------------------------------------- 1: restart, default store

/// Finding 1: the default store was memory, so a restarted instance spent the day's only
/// 2.1 again and was locked out. The default is now a file store in the state directory.
#[tokio::test]
async fn f01_a_restart_with_the_default_store_spends_no_second_obtain() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    // The default store outlives this test: an earlier sandbox on the same port may have
    // left a record and a day's count under this host's key. Clear them, before and after.
    let key = TokenManager::store_key("gree-ump", sandbox.base_url(), DEFAULT_APP_ID);
    clear_default_store(&key);
    let first = builder(sandbox.base_url()).build().unwrap();
    call(&first).await.unwrap();
    drop(first);
    // "Restarted": a new client, a new manager, nothing in memory.
    let second = builder(sandbox.base_url()).build().unwrap();
    call(&second)
        .await
        .expect("the restarted client uses the stored token");
    let calls = sandbox.control().token_calls();
    assert_eq!((calls.obtain_calls, calls.refresh_calls), (1, 0));
    assert_eq!(second.runtime().tokens().key(), key);
    clear_default_store(&key);
    sandbox.shutdown().await;
}

/// Removes the default file store's files of `key` (record, lease, budgets, notes).
fn clear_default_store(key: &str) {
    let Some(base) = dirs::state_dir().or_else(dirs::data_local_dir) else {
        return;
    };
    let dir = base.join("gree-ump").join("tokens");
    let Ok(store) = FileTokenStore::new(&dir) else {
        return;
    };
    let record = store.record_path(key).unwrap();
    let stem = record
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap()
        .to_owned();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!("{stem}.")) || name.starts_with(&format!(".{stem}.")) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

// -------------------------------------------- 2: budget spent on calls never sent

/// Finding 2: a refused connection on 2.1 spent the day's 2.1. A call certainly not sent
/// gives its unit back; and the failure is transient, with the transport error as source
/// (finding 14).
#[tokio::test]
async fn f02_a_refused_connection_gives_the_budget_unit_back() {
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let store = Arc::new(MemoryTokenStore::new());
    let client = client_on(&format!("http://{dead}"), store.clone());
    let err = call(&client).await.unwrap_err();
    match &err {
        RuntimeError::Token(TokenError::CallFailed {
            sent, transport, ..
        }) => {
            assert_eq!(*sent, Sent::No);
            assert!(transport.is_some());
        }
        other => panic!("expected a failed token call, got {other:?}"),
    }
    assert!(err.is_transient(), "a refused connection is transient");
    assert!(std::error::Error::source(&err).is_some());
    let tokens = client.runtime().tokens();
    assert_eq!(
        tokens.budget_used_today(BudgetKind::Obtain).await.unwrap(),
        0
    );
    assert_eq!(tokens.calls_made(), (0, 0));
}

// ---------------------------------------------------- 3: one record for two hosts

/// Finding 3: the store key was the app id alone, so a test host received the
/// production tokens. Two hosts under one app id on one store keep two records.
#[tokio::test]
async fn f03_two_hosts_under_one_app_id_never_share_a_record_or_budget() {
    let test_host = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let production = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
    let a = client_on(production.base_url(), store.clone());
    let b = client_on(test_host.base_url(), store.clone());
    for _ in 0..3 {
        call(&a).await.unwrap();
        call(&b).await.unwrap();
    }
    for sandbox in [&test_host, &production] {
        let calls = sandbox.control().token_calls();
        assert_eq!((calls.obtain_issued, calls.refresh_calls), (1, 0));
    }
    let (ka, kb) = (a.runtime().tokens().key(), b.runtime().tokens().key());
    assert_ne!(ka, kb);
    assert!(ka.starts_with("gree-ump/127.0.0.1:"), "{ka}");
    assert!(store.load(ka).await.unwrap().is_some());
    assert!(store.load(kb).await.unwrap().is_some());
    test_host.shutdown().await;
    production.shutdown().await;
}

/// Finding 3, the old key: a record an earlier version stored under the bare app id is
/// not used unless the client adopts it; adopted, it saves the day's 2.1.
#[tokio::test]
async fn f03_a_record_under_the_unscoped_key_is_used_only_when_adopted() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    // The record an earlier version wrote: tokens the sandbox issued.
    let seed_store = Arc::new(MemoryTokenStore::new());
    let seed = client_on(sandbox.base_url(), seed_store.clone());
    call(&seed).await.unwrap();
    let record = seed_store
        .load(seed.runtime().tokens().key())
        .await
        .unwrap()
        .unwrap();

    let store = Arc::new(MemoryTokenStore::new());
    assert!(
        store
            .compare_and_set(DEFAULT_APP_ID, None, &record)
            .await
            .unwrap()
    );
    // Not adopted: the client obtains its own pair (the sandbox refuses a second 2.1
    // today, so this shows as a refused token call, not as a stolen record).
    let plain = client_on(sandbox.base_url(), store.clone());
    let err = call(&plain).await.unwrap_err();
    assert!(is_token_failure(&err), "{err:?}");
    // Adopted: no token call at all, the record is copied to the scoped key.
    let adopting = builder(sandbox.base_url())
        .token_store(store.clone())
        .adopt_unscoped_token_record(true)
        .build()
        .unwrap();
    call(&adopting).await.expect("the adopted record serves");
    assert_eq!(
        store
            .load(adopting.runtime().tokens().key())
            .await
            .unwrap()
            .map(|r| r.version),
        Some(record.version)
    );
    let calls = sandbox.control().token_calls();
    assert_eq!(calls.obtain_issued, 1, "only the seed's");
    sandbox.shutdown().await;
}

// ------------------------------------------------------------- 4: unbounded skew

/// Finding 4: any reply's `Date` moved the clock, with no bound. A `Date` a year or a
/// day ahead is ignored; so is the `Date` of a proxy's error page, however plausible.
#[tokio::test]
async fn f04_a_date_beyond_the_bound_or_on_a_proxy_page_is_never_applied() {
    let far = "Fri, 01 Jan 2100 00:00:00 GMT".to_owned();
    let (base, _stub) = start_stub(
        |method, _, _| match method {
            "dss.auth.token.query" => (200, token_reply("at-1", "7200")),
            _ => (200, OK_LEVELS.into()),
        },
        Some(far),
    )
    .await;
    let client = client_on(&base, Arc::new(MemoryTokenStore::new()));
    call(&client).await.unwrap();
    assert_eq!(client.runtime().clock_offset_ms(), 0);

    // A day ahead, from the sandbox: still ignored, and the budget day stays today's.
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    sandbox.control().advance(Duration::from_secs(24 * 3_600));
    let store = Arc::new(MemoryTokenStore::new());
    let client = builder(sandbox.base_url())
        .token_store(store.clone())
        .build()
        .unwrap();
    let _ = call(&client).await;
    assert_eq!(client.runtime().clock_offset_ms(), 0);
    let today = beijing_day(gree_ump::runtime::clock::SystemClock.now_ms());
    let key = client.runtime().tokens().key();
    assert_eq!(
        store
            .budget_used(key, BudgetKind::Obtain, today)
            .await
            .unwrap()
            + store
                .budget_used(key, BudgetKind::Obtain, today - 1)
                .await
                .unwrap(),
        1,
        "counted on the local (bounded) day"
    );
    assert_eq!(
        store
            .budget_used(key, BudgetKind::Obtain, today + 1)
            .await
            .unwrap(),
        0
    );
    sandbox.shutdown().await;

    // Two minutes ahead, but on an HTML 502 of a proxy: not the platform's clock.
    let soon = chrono_like_http_date(gree_ump::runtime::clock::SystemClock.now_ms() + 120_000);
    let (base, _stub) = start_stub(
        |_, _, _| (502, "<html>bad gateway</html>".into()),
        Some(soon),
    )
    .await;
    let client = client_on(&base, Arc::new(MemoryTokenStore::new()));
    let _ = call(&client).await;
    assert_eq!(client.runtime().clock_offset_ms(), 0);
}

/// An IMF-fixdate of `ms`.
fn chrono_like_http_date(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

// ------------------------------------------------------ 5: memory store forgets today

/// Finding 5: `MemoryTokenStore` dropped every older day's counts, for all apps, as soon
/// as a later day was counted, and granted the 1-a-day 2.1 twice on one day.
#[tokio::test]
async fn f05_the_memory_store_never_forgets_today() {
    let store = MemoryTokenStore::new();
    let day = 20_000;
    assert!(matches!(
        store
            .take_budget("app-a", BudgetKind::Obtain, day, 1)
            .await
            .unwrap(),
        gree_ump::runtime::tokens::BudgetTake::Granted { used: 1 }
    ));
    // Another app counts tomorrow (a skewed clock, another host's day).
    store
        .take_budget("app-b", BudgetKind::Obtain, day + 1, 1)
        .await
        .unwrap();
    store
        .take_budget("app-a", BudgetKind::Refresh, day + 1, 20)
        .await
        .unwrap();
    assert!(matches!(
        store
            .take_budget("app-a", BudgetKind::Obtain, day, 1)
            .await
            .unwrap(),
        gree_ump::runtime::tokens::BudgetTake::Exhausted { used: 1 }
    ));
    assert_eq!(
        store
            .budget_used("app-a", BudgetKind::Obtain, day)
            .await
            .unwrap(),
        1
    );
}

// --------------------------------------------------- 6: message patterns burn refreshes

/// Finding 6: any message containing `access_token` counted as an invalid token: 25 calls
/// answered `1001 "sign error: check access_token…"` spent all 20 refreshes. The 1001 is
/// what the caller sees, and the phrase is no proof; 1001 itself may be a revoked token
/// (errata E85), which earns one speculative refresh for the token, refuted when the
/// retry is answered the same, and none more.
#[tokio::test]
async fn f06_a_1001_that_mentions_access_token_spends_no_refresh() {
    let (base, stub) = start_stub(
        |method, _, _| match method {
            "dss.auth.token.query" => (200, token_reply("at-1", "7200")),
            "dss.auth.token.refresh" => (200, token_reply("at-2", "7200")),
            _ => (
                200,
                error_reply(1001, "sign error: check access_token, timestamp and sign"),
            ),
        },
        None,
    )
    .await;
    let client = client_on(&base, Arc::new(MemoryTokenStore::new()));
    for _ in 0..25 {
        let err = call(&client).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidParameter), "{err:?}");
    }
    assert_eq!(stub.refresh_calls.load(Ordering::SeqCst), 1);
    assert_eq!(client.runtime().tokens().calls_made(), (1, 1));
}

/// Finding 6, the table: real-looking messages, both ways.
#[test]
fn f06_invalid_token_messages_are_recognised_narrowly() {
    let p = gree_ump::PROTOCOL;
    for message in [
        "access_token无效",
        "token已过期, 请重新获取",
        "Token expired",
        "invalid access_token",
        "access_token is invalid",
        "令牌无效",
        "令牌已过期",
        "token已失效",
    ] {
        assert!(p.is_invalid_token(1001, Some(message)), "{message}");
    }
    for message in [
        "sign error: check access_token, timestamp and sign",
        "请求参数不合法: access_token 缺失",
        "missing parameter access_token",
        "签名错误",
        "系统繁忙, 请稍后再试",
        "app_id 未找到应用",
        "令牌桶限流",
        "",
    ] {
        assert!(!p.is_invalid_token(1001, Some(message)), "{message}");
    }
    assert!(p.is_invalid_token(1002, None), "the spec's code");
    assert!(!p.is_invalid_token(1001, None));
}

/// Finding 6, refresh on proof only: a platform that rejects every token. The first
/// rejection is refreshed once; the token issued for it, never accepted, is not
/// refreshed again however many calls follow.
#[tokio::test]
async fn f06_a_token_issued_after_a_rejection_and_rejected_again_is_not_refreshed_again() {
    let (base, stub) = start_stub(
        |method, _, _| match method {
            "dss.auth.token.query" => (200, token_reply("at-1", "7200")),
            "dss.auth.token.refresh" => (200, token_reply("at-2", "7200")),
            _ => (200, error_reply(1002, "access_token无效")),
        },
        None,
    )
    .await;
    let client = client_on(&base, Arc::new(MemoryTokenStore::new()));
    for _ in 0..10 {
        let err = call(&client).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidAccessToken), "{err:?}");
    }
    assert_eq!(stub.refresh_calls.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------- 7: short lifetimes

/// Finding 7: with tokens shorter than the 30 s margin, no token was ever valid: 20
/// refreshes in 1.1 s, then every call failed. With 5 s tokens for a simulated day of
/// bursts, at most one refresh per lifetime and no call fails for token reasons.
#[tokio::test]
async fn f07_five_second_tokens_for_a_simulated_day() {
    let mut config = SandboxConfig::default();
    config.access_token_lifetime_s = 5;
    // 00:10 Beijing: the whole simulated day is one budget day.
    let (sandbox, clock) = lockstep(config, START - 9 * HOUR_MS + 10 * 60_000).await;
    let client = builder(sandbox.base_url())
        .token_store(Arc::new(MemoryTokenStore::new()))
        .clock(clock.clone())
        .build()
        .unwrap();
    // 15 bursts, 90 minutes apart (until 22:40), each of 12 calls 250 ms apart: 2.75 s, within
    // one token's life. The day's 20 refreshes cover at most 20 lifetimes, so one refresh
    // per burst is the most a client can spend and still serve every burst.
    let bursts = 15;
    for _ in 0..bursts {
        advance(&sandbox, &clock, 90 * 60_000);
        for _ in 0..12 {
            call(&client)
                .await
                .expect("no call fails for token reasons");
            advance(&sandbox, &clock, 250);
        }
    }
    let calls = sandbox.control().token_calls();
    // The first burst obtains; every later one finds its token expired and refreshes once.
    assert_eq!(calls.obtain_calls, 1);
    assert_eq!(
        calls.refresh_calls,
        bursts - 1,
        "one refresh per lifetime used"
    );
    sandbox.shutdown().await;
}

// ------------------------------------------------------- 8: the lease lapses mid-refresh

/// Finding 8: the lease (30 s) equalled the request timeout and was never renewed, so a
/// slow refresh let a second instance refresh too. A refresh four times slower than the
/// lease, with two instances waiting for it: one refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f08_a_refresh_slower_than_the_lease_is_made_once() {
    let (sandbox, clock) = lockstep(SandboxConfig::default(), START).await;
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
    let policy = TokenPolicy {
        lock_lease: Duration::from_millis(400),
        ..TokenPolicy::default()
    };
    let instance = || {
        builder(sandbox.base_url())
            .token_store(store.clone())
            .token_policy(policy)
            .clock(clock.clone())
            .build()
            .unwrap()
    };
    let (a, b) = (instance(), instance());
    call(&a).await.unwrap();
    call(&b).await.unwrap();
    advance(&sandbox, &clock, 2 * HOUR_MS + 60_000);
    sandbox
        .control()
        .inject_fault("dss.auth.token.refresh", Fault::Slow { delay_ms: 1_600 }, 1);
    let (ra, rb) = tokio::join!(call(&a), call(&b));
    ra.unwrap();
    rb.unwrap();
    let calls = sandbox.control().token_calls();
    assert_eq!((calls.obtain_calls, calls.refresh_calls), (1, 1));
    sandbox.shutdown().await;
}

// ------------------------------------------- 9: the refresh token in memory is ignored

/// Finding 9, case 1: the store's first write failed (disk full); one invalid-token
/// answer later the client went for 2.1 again and was locked out. It refreshes with the
/// refresh token it holds, and writes the result back once it can.
#[tokio::test]
async fn f09_a_refresh_token_held_in_memory_is_used_when_the_store_has_none() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let store = Arc::new(FaultyStore::new(MemoryTokenStore::new()));
    store.set(StoreFault::FailRecordWrites);
    // The periodic write-back is off: the refresh itself must find the token in memory.
    let client = builder(sandbox.base_url())
        .token_store(store.clone())
        .token_policy(TokenPolicy {
            write_back_every: Duration::from_secs(86_400),
            ..TokenPolicy::default()
        })
        .build()
        .unwrap();
    call(&client).await.unwrap();
    let key = client.runtime().tokens().key().to_owned();
    assert!(store.inner().load(&key).await.unwrap().is_none());
    store.set(StoreFault::None);
    sandbox.control().revoke_access_tokens();
    call(&client)
        .await
        .expect("refreshed from the token in memory");
    let calls = sandbox.control().token_calls();
    assert_eq!((calls.obtain_calls, calls.refresh_calls), (1, 1));
    let stored = store.inner().load(&key).await.unwrap();
    assert!(stored.is_some(), "written back");
    sandbox.shutdown().await;
}

/// Finding 9, case 2: the store lost the record (a Redis restarted without persistence;
/// here the record file is deleted). The platform saw 2 obtain calls and the client was
/// locked out. Now: no second 2.1; the valid token keeps serving, and the record is back
/// in the store by the next write-back check or refresh.
#[tokio::test]
async fn f09_a_store_that_lost_the_record_gets_it_back_without_a_second_obtain() {
    let (sandbox, clock) = lockstep(SandboxConfig::default(), START).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileTokenStore::new(dir.path()).unwrap());
    let client = builder(sandbox.base_url())
        .token_store(store.clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    call(&client).await.unwrap();
    let key = client.runtime().tokens().key().to_owned();
    std::fs::remove_file(store.record_path(&key).unwrap()).unwrap();
    advance(&sandbox, &clock, 2 * HOUR_MS + 60_000);
    call(&client)
        .await
        .expect("refreshed from the token in memory");
    let calls = sandbox.control().token_calls();
    assert_eq!((calls.obtain_calls, calls.refresh_calls), (1, 1));
    assert!(store.load(&key).await.unwrap().is_some(), "written back");
    // A second instance starting now finds it and spends nothing.
    let second = builder(sandbox.base_url())
        .token_store(store.clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    call(&second).await.unwrap();
    assert_eq!(sandbox.control().token_calls().obtain_calls, 1);
    sandbox.shutdown().await;
}

// ------------------------------------------------------------ 10: store outages

/// Finding 10: a store read that never returns hung every caller. Every operation now
/// has a timeout; a valid token in memory keeps serving; and waiters share one failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f10_a_store_that_never_answers_bounds_every_caller() {
    let (sandbox, clock) = lockstep(SandboxConfig::default(), START).await;
    let store = Arc::new(FaultyStore::new(MemoryTokenStore::new()));
    let store_timeout = Duration::from_millis(300);
    let client_timeout = Duration::from_secs(3);
    let client = builder(sandbox.base_url())
        .token_store(store.clone())
        .token_policy(TokenPolicy {
            store_timeout,
            ..TokenPolicy::default()
        })
        .timeout(Some(client_timeout))
        .clock(clock.clone())
        .build()
        .unwrap();
    call(&client).await.unwrap();

    store.set(StoreFault::HangAll);
    // A valid token in memory: every call succeeds, none waits for the store.
    for _ in 0..20 {
        call(&client).await.expect("served from memory");
    }
    // Expired: 100 concurrent callers, each done within the client timeout plus one
    // store timeout.
    advance(&sandbox, &clock, 2 * HOUR_MS + 60_000);
    let started = Instant::now();
    let results = futures_util::future::join_all((0..100).map(|_| async {
        let t = Instant::now();
        let r = call(&client).await;
        (t.elapsed(), r)
    }))
    .await;
    let slowest = results.iter().map(|(d, _)| *d).max().unwrap();
    eprintln!(
        "store never answers: 100 callers, slowest {} ms, all {} ms (bound {} ms)",
        slowest.as_millis(),
        started.elapsed().as_millis(),
        (client_timeout + store_timeout).as_millis()
    );
    assert!(slowest <= client_timeout + store_timeout, "{slowest:?}");
    for (_, r) in &results {
        assert!(
            matches!(r, Err(RuntimeError::Token(TokenError::Store(_)))),
            "{r:?}"
        );
    }
    // The store is back: the next call refreshes, once.
    store.set(StoreFault::None);
    call(&client).await.unwrap();
    assert_eq!(sandbox.control().token_calls().refresh_calls, 1);
    sandbox.shutdown().await;
}

// ----------------------------------------------------------- 11: hostile numbers

/// Finding 11: `expire_in = i64::MAX` panicked in debug (and wrapped in release).
#[tokio::test]
async fn f11_an_expire_in_of_i64_max_neither_panics_nor_expires_the_token() {
    let (base, stub) = start_stub(
        |method, _, _| match method {
            "dss.auth.token.query" => (200, token_reply("at-1", "9223372036854775807")),
            _ => (200, OK_LEVELS.into()),
        },
        None,
    )
    .await;
    let client = client_on(&base, Arc::new(MemoryTokenStore::new()));
    for _ in 0..3 {
        call(&client).await.unwrap();
    }
    assert_eq!(stub.token_calls.load(Ordering::SeqCst), 1);
    assert!(client.runtime().tokens().access_expires_at_ms().unwrap() > START);
}

/// Finding 11: a stored record with version `u64::MAX` panicked on `version + 1` after
/// the day's 2.1 was spent, and the new tokens were lost.
#[tokio::test]
async fn f11_a_stored_version_of_u64_max_keeps_the_new_tokens() {
    let (sandbox, clock) = lockstep(SandboxConfig::default(), START).await;
    let store = Arc::new(MemoryTokenStore::new());
    let client = builder(sandbox.base_url())
        .token_store(store.clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    call(&client).await.unwrap();
    let key = client.runtime().tokens().key().to_owned();
    let mut record = store.load(&key).await.unwrap().unwrap();
    let expected = record.version;
    record.version = u64::MAX;
    assert!(
        store
            .compare_and_set(&key, Some(expected), &record)
            .await
            .unwrap()
    );
    // A restarted instance reads it, and its refresh stores the new token.
    let restarted = builder(sandbox.base_url())
        .token_store(store.clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    advance(&sandbox, &clock, 2 * HOUR_MS + 60_000);
    call(&restarted).await.unwrap();
    let stored = store.load(&key).await.unwrap().unwrap();
    assert_ne!(
        stored.access_token, record.access_token,
        "the new token is kept"
    );
    assert_eq!(sandbox.control().token_calls().refresh_issued, 1);
    sandbox.shutdown().await;
}

/// Finding 11: `MemoryTokenStore::try_lock(.., Duration::MAX)` panicked.
#[tokio::test]
async fn f11_a_lease_of_duration_max_does_not_panic() {
    let store = MemoryTokenStore::new();
    assert!(store.try_lock("k", "a", Duration::MAX).await.unwrap());
    assert!(store.renew_lock("k", "a", Duration::MAX).await.unwrap());
    assert!(!store.try_lock("k", "b", Duration::MAX).await.unwrap());
}

// --------------------------------------------- 12: no explanation after a crash mid-obtain

/// Finding 12: a process killed during 2.1 left the day's call spent and nothing stored;
/// the restart waited out the lease (27.6 s) and then reported `BudgetExhausted` with no
/// word of what happened. The restart now reports the lost call at once, with the reset
/// time. (The kill is a dropped call future: the same as a crash, seen from the store.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f12_a_crash_mid_obtain_is_reported_at_once_with_the_reset_time() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
    sandbox
        .control()
        .inject_fault("dss.auth.token.query", Fault::Slow { delay_ms: 1_500 }, 1);
    let crashing = client_on(sandbox.base_url(), store.clone());
    let task = tokio::spawn(async move { call(&crashing).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    task.abort();
    let _ = task.await;
    tokio::time::sleep(Duration::from_millis(1_500)).await; // the platform issues anyway

    let restarted = client_on(sandbox.base_url(), store.clone());
    let started = Instant::now();
    let err = call(&restarted).await.unwrap_err();
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(2), "no lease wait: {waited:?}");
    match &err {
        RuntimeError::Token(TokenError::ObtainLost { resets_at, .. }) => {
            assert!(resets_at.ends_with("T00:00:00+08:00"), "{resets_at}");
        }
        other => panic!("expected ObtainLost, got {other:?}"),
    }
    let text = err.to_string();
    assert!(text.contains("no token reached the store"), "{text}");
    assert_eq!(sandbox.control().token_calls().obtain_calls, 1);
    sandbox.shutdown().await;
}

// ------------------------------------------------------ 13: token calls carry a body

/// Finding 13: 2.1 and 2.2 were sent with a signed `{}` body; the document's token calls
/// have only query parameters. A server that refuses any body on them is satisfied.
#[tokio::test]
async fn f13_token_calls_carry_no_body() {
    let (base, stub) = start_stub(
        |method, _, body| match method {
            "dss.auth.token.query" | "dss.auth.token.refresh" if !body.is_empty() => {
                (200, error_reply(1001, "token calls take no body"))
            }
            "dss.auth.token.query" => (200, token_reply("at-1", "7200")),
            "dss.auth.token.refresh" => (200, token_reply("at-2", "7200")),
            _ => (200, OK_LEVELS.into()),
        },
        None,
    )
    .await;
    let clock = Arc::new(ManualClock::new(START));
    let client = builder(&base)
        .token_store(Arc::new(MemoryTokenStore::new()))
        .clock(clock.clone())
        .build()
        .unwrap();
    call(&client).await.unwrap();
    clock.advance_ms(2 * HOUR_MS + 60_000);
    call(&client).await.unwrap();
    assert_eq!(stub.token_calls.load(Ordering::SeqCst), 1);
    assert_eq!(stub.refresh_calls.load(Ordering::SeqCst), 1);
}

/// Secrets: a refresh token quoted back by a server never reaches an error text.
#[tokio::test]
async fn f14_a_refresh_token_quoted_by_the_server_is_masked() {
    let (base, _stub) = start_stub(
        |method, query, _| match method {
            "dss.auth.token.query" => (200, token_reply("at-1", "7200")),
            "dss.auth.token.refresh" => (200, error_reply(500, &format!("busy: {query}"))),
            _ => (200, error_reply(1002, "access_token无效")),
        },
        None,
    )
    .await;
    let client = client_on(&base, Arc::new(MemoryTokenStore::new()));
    let err = call(&client).await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("rt-1"), "{text}");
}

/// A TCP proxy in front of Redis that can be cut: while cut, it forwards nothing, in
/// either direction, and holds every connection open (a Redis that hangs, or a network
/// partition), so only timeouts end a wait.
struct CutProxy {
    addr: std::net::SocketAddr,
    cut: Arc<std::sync::atomic::AtomicBool>,
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    cut: Arc<std::sync::atomic::AtomicBool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if cut.load(Ordering::SeqCst) {
            // Swallow: hold both halves open, forward nothing ever again.
            let _keep = (from, to);
            std::future::pending::<()>().await;
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

async fn start_cut_proxy(upstream: std::net::SocketAddr) -> CutProxy {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cut = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = cut.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let flag = flag.clone();
            tokio::spawn(async move {
                if flag.load(Ordering::SeqCst) {
                    let _hold = client;
                    std::future::pending::<()>().await;
                    return;
                }
                let Ok(server) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pump(cr, sw, flag.clone()));
                pump(sr, cw, flag).await;
            });
        }
    });
    CutProxy { addr, cut }
}

/// Finding 10, with a real Redis: during an outage callers queued behind one gate and
/// each paid about 1 s of reconnect (100 callers took up to 115 s with a 5 s client
/// timeout). Now a valid token keeps serving, and with the token expired 100 callers each
/// finish within the client timeout plus one store timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn f10_a_redis_outage_bounds_every_caller() {
    let url = std::env::var("REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "redis://127.0.0.1:6379/".to_owned());
    let upstream = url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .parse::<std::net::SocketAddr>();
    let in_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    let Ok(upstream) = upstream else {
        assert!(!in_ci, "REDIS_URL {url:?} is not host:port");
        eprintln!("REDIS_URL {url:?} is not a plain host:port; skipping");
        return;
    };
    if tokio::net::TcpStream::connect(upstream).await.is_err() {
        assert!(!in_ci, "CI is set but no Redis answers at {upstream}");
        eprintln!("no Redis at {upstream}; skipping");
        return;
    }
    let proxy = start_cut_proxy(upstream).await;
    let prefix = format!(
        "gree-ump-test:token_findings:f10:{}-{}:",
        std::process::id(),
        START
    );
    let store = gree_ump::runtime::tokens::RedisTokenStore::connect(
        &format!("redis://{}/", proxy.addr),
        prefix.clone(),
    )
    .await
    .unwrap();
    let (sandbox, clock) = lockstep(SandboxConfig::default(), START).await;
    let store_timeout = Duration::from_millis(500);
    let client_timeout = Duration::from_secs(5);
    let client = builder(sandbox.base_url())
        .token_store(Arc::new(store))
        .token_policy(TokenPolicy {
            store_timeout,
            ..TokenPolicy::default()
        })
        .timeout(Some(client_timeout))
        .clock(clock.clone())
        .build()
        .unwrap();
    call(&client).await.unwrap();

    proxy.cut.store(true, Ordering::SeqCst);
    for _ in 0..20 {
        call(&client)
            .await
            .expect("a valid token serves during the outage");
    }
    advance(&sandbox, &clock, 2 * HOUR_MS + 60_000);
    let results = futures_util::future::join_all((0..100).map(|_| async {
        let t = Instant::now();
        let r = call(&client).await;
        (t.elapsed(), r)
    }))
    .await;
    let slowest = results.iter().map(|(d, _)| *d).max().unwrap();
    let mean_ms = results.iter().map(|(d, _)| d.as_millis()).sum::<u128>() / 100;
    eprintln!(
        "redis outage: 100 callers, slowest {} ms, mean {mean_ms} ms (bound: client timeout {} ms + store timeout {} ms)",
        slowest.as_millis(),
        client_timeout.as_millis(),
        store_timeout.as_millis()
    );
    assert!(slowest <= client_timeout + store_timeout, "{slowest:?}");
    assert!(results.iter().all(|(_, r)| r.is_err()));
    assert_eq!(sandbox.control().token_calls().refresh_calls, 0);
    sandbox.shutdown().await;

    // Clean up through a direct connection.
    let direct = redis::Client::open(url.as_str()).unwrap();
    let mut conn = direct.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL")
            .arg(keys)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
}

/// Exactly-once, where it meets tokens: a keyed write whose first reply is lost (a
/// gateway's 502 says nothing of what the platform did), and
/// whose retry then fails for token reasons (rejected, and the refresh answered busy),
/// must not report only the token failure: the write may be in effect. The lost reply's
/// outcome-unknown error is what the caller gets.
#[tokio::test]
async fn a_lost_reply_then_a_token_failure_reports_the_write_as_maybe_applied() {
    let changes = Arc::new(AtomicU32::new(0));
    let seen = changes.clone();
    let (base, _stub) = start_stub(
        move |method, _, _| match method {
            "dss.auth.token.query" => (200, token_reply("at-1", "7200")),
            "dss.auth.token.refresh" => (200, error_reply(500, "系统繁忙, 请稍后再试")),
            "wk.user.event.score.change" if seen.fetch_add(1, Ordering::SeqCst) == 0 => {
                (502, "<html>bad gateway</html>".into())
            }
            _ => (200, error_reply(1002, "access_token无效")),
        },
        None,
    )
    .await;
    let client = client_on(&base, Arc::new(MemoryTokenStore::new()));
    let change =
        gree_ump::endpoints::ChangePointsRequest::new(gree_ump::endpoints::ChangePointsArgs {
            open_id: "o-1".into(),
            score: 10,
            out_biz_no: "biz-1".into(),
            change_reason: "测试".into(),
            change_event: "event_add".into(),
            change_id: "chg-1".into(),
        });
    let err = client.points().change_points(change).await.unwrap_err();
    assert!(changes.load(Ordering::SeqCst) >= 2, "retried: {err:?}");
    assert!(err.outcome_unknown(), "{err:?}");
    assert!(!err.is_refusal());
}
