//! What an operator's command line needs of the runtime: the token status any process
//! sharing the store can read (the last failure kept in the store), the clearing of a
//! pending-obtain marker, an operator-requested refresh, and the dry run of a call —
//! against a stub platform on a local port.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::Uri;
use openplatform_runtime::clock::{ManualClock, local_day};
use openplatform_runtime::tokens::{
    BudgetKind, ClearOutcome, MemoryTokenStore, Secret, StoreError, StoreFuture, TokenManager,
    TokenPolicy, TokenRecord, TokenStore,
};
use openplatform_runtime::{
    Client, DryRunToken, Endpoint, EndpointInfo, EnvelopeKeys, EnvelopeStyle, Error, ErrorCategory,
    Idempotency, ProtocolInfo, RequestError, SigningScheme, TimestampUnit, TokenError,
    TokenProtocol, Verb, endpoint::Credential, error_code::ApiErrorCode,
};
use serde::Serialize;

// ------------------------------------------------------------------------ the API

const UTC_OFFSET_S: i32 = 8 * 3600;

static PROTOCOL: ProtocolInfo = ProtocolInfo {
    api: "operator-test",
    doc_version: "1",
    envelope: EnvelopeStyle::UmpGateway,
    signing: SigningScheme::UmpMd5,
    path_template: "/gw/{method}",
    base_urls: &[],
    success_code: Some(200),
    timestamp: TimestampUnit::Milliseconds,
    clock_tolerance_ms: None,
    utc_offset_s: UTC_OFFSET_S,
    timestamp_param: Some("timestamp"),
    sign_param: Some("sign"),
    invalid_token_codes: &[1002],
    invalid_token_patterns: &[],
    ambiguous_token_codes: &[],
    verb_refusal_codes: &[],
    tokens: Some(TokenProtocol {
        obtain_method: "token.get",
        refresh_method: "token.refresh",
        app_id_param: "app_id",
        access_token_param: "access_token",
        refresh_token_param: "refresh_token",
        access_token_key: "access_token",
        refresh_token_key: "refresh_token",
        expires_in_key: "expires_in",
        access_token_lifetime_s: 7200,
        refresh_token_lifetime_s: 365 * 24 * 3600,
        obtain_daily_limit: Some(1),
        refresh_daily_limit: Some(20),
    }),
    sensitive_keys: &["phone"],
    envelope_keys: EnvelopeKeys {
        success: &["success"],
        code: &["error_code"],
        message: &["error_message"],
        data: &["data"],
        page_no: &[],
        page_size: &[],
        total_count: &[],
    },
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Code(i64);

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl ApiErrorCode for Code {
    fn from_code(code: i64) -> Self {
        Code(code)
    }
    fn code(&self) -> i64 {
        self.0
    }
    fn message(&self) -> Option<&'static str> {
        None
    }
    fn category(&self) -> ErrorCategory {
        ErrorCategory::Unknown
    }
    fn is_retryable(&self) -> bool {
        false
    }
}

const fn info(method: &'static str, credential: Credential) -> EndpointInfo {
    EndpointInfo {
        method,
        section: "1",
        doc_verb: Verb::Post,
        verb: Verb::Post,
        credential,
        idempotency: Idempotency::Read,
        idempotency_key: None,
        daily_limit: None,
        data_required: false,
        false_is_error: None,
        journal: None,
    }
}

/// A business call with the access token, a personal field and a query field.
#[derive(Serialize)]
struct QueryMember {
    phone: String,
    #[serde(rename = "pageNo")]
    page_no: i64,
    #[serde(skip)]
    shop: String,
}

impl Endpoint for QueryMember {
    type Data = serde_json::Value;
    type Code = Code;
    const INFO: EndpointInfo = info("member.query", Credential::AccessToken);
    fn validate(&self) -> Result<(), RequestError> {
        if self.phone.is_empty() {
            return Err(RequestError::EmptyField {
                method: Self::INFO.method,
                field: "phone",
            });
        }
        Ok(())
    }
    fn query_params(&self) -> Vec<(&'static str, String)> {
        vec![("shop_id", self.shop.clone())]
    }
}

fn member() -> QueryMember {
    QueryMember {
        phone: "13900000001".into(),
        page_no: 2,
        shop: "S 1/é".into(),
    }
}

/// A call signed with the app credentials only.
#[derive(Serialize)]
struct Ping {}

impl Endpoint for Ping {
    type Data = serde_json::Value;
    type Code = Code;
    const INFO: EndpointInfo = info("app.ping", Credential::AppSignature);
    fn validate(&self) -> Result<(), RequestError> {
        Ok(())
    }
}

/// The token-issuing call, sent by hand.
#[derive(Serialize)]
struct ObtainByHand {}

impl Endpoint for ObtainByHand {
    type Data = serde_json::Value;
    type Code = Code;
    const INFO: EndpointInfo = info("token.get", Credential::AppSignature);
    fn validate(&self) -> Result<(), RequestError> {
        Ok(())
    }
}

// ------------------------------------------------------------------------ the stub

/// How the stub answers the refresh call.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RefreshMode {
    Ok,
    /// Busy (500) with a message quoting the refresh token it was sent.
    Busy,
    /// The refresh token is invalid (1002).
    Reject,
}

struct Stub {
    obtains: AtomicU32,
    refreshes: AtomicU32,
    business: AtomicU32,
    refresh_mode: Mutex<RefreshMode>,
    /// Path and query, and body, of every business call received.
    received: Mutex<Vec<(String, Vec<u8>)>>,
}

impl Stub {
    fn calls(&self) -> (u32, u32, u32) {
        (
            self.obtains.load(Ordering::SeqCst),
            self.refreshes.load(Ordering::SeqCst),
            self.business.load(Ordering::SeqCst),
        )
    }
    fn set_refresh(&self, mode: RefreshMode) {
        *self.refresh_mode.lock().unwrap() = mode;
    }
}

fn query_value(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| v.to_owned())
    })
}

async fn handler(State(stub): State<Arc<Stub>>, uri: Uri, body: Bytes) -> String {
    let ok = |data: String| format!(r#"{{"success":true,"error_code":200,"data":{data}}}"#);
    match uri.path() {
        "/gw/token.get" => {
            let n = stub.obtains.fetch_add(1, Ordering::SeqCst) + 1;
            ok(format!(
                r#"{{"access_token":"AT-obtained-{n}","refresh_token":"RT-obtained-{n}","expires_in":7200}}"#
            ))
        }
        "/gw/token.refresh" => {
            let n = stub.refreshes.fetch_add(1, Ordering::SeqCst) + 1;
            let mode = *stub.refresh_mode.lock().unwrap();
            match mode {
                RefreshMode::Ok => ok(format!(
                    r#"{{"access_token":"AT-refreshed-{n}","expires_in":7200}}"#
                )),
                RefreshMode::Busy => format!(
                    r#"{{"success":false,"error_code":500,"error_message":"busy, try later (refresh_token={})"}}"#,
                    query_value(&uri, "refresh_token").unwrap_or_default()
                ),
                RefreshMode::Reject => {
                    r#"{"success":false,"error_code":1002,"error_message":"invalid token"}"#.into()
                }
            }
        }
        _ => {
            stub.business.fetch_add(1, Ordering::SeqCst);
            let path_and_query = uri.path_and_query().map_or("", |p| p.as_str()).to_owned();
            stub.received
                .lock()
                .unwrap()
                .push((path_and_query, body.to_vec()));
            ok(r#"{"ok":1}"#.into())
        }
    }
}

async fn start_stub() -> (String, Arc<Stub>) {
    let stub = Arc::new(Stub {
        obtains: AtomicU32::new(0),
        refreshes: AtomicU32::new(0),
        business: AtomicU32::new(0),
        refresh_mode: Mutex::new(RefreshMode::Ok),
        received: Mutex::new(Vec::new()),
    });
    let app = axum::Router::new()
        .fallback(handler)
        .with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}"), stub)
}

/// 2024-05-01 09:00 Beijing: far from the stub's `Date`, and no correction allowed anyway.
const START: i64 = 1_714_525_200_000;
const HOUR_MS: i64 = 3_600_000;

fn client(base_url: &str, store: Arc<dyn TokenStore>, clock: Arc<ManualClock>) -> Client {
    client_with(base_url, store, clock, TokenPolicy::default())
}

fn client_with(
    base_url: &str,
    store: Arc<dyn TokenStore>,
    clock: Arc<ManualClock>,
    policy: TokenPolicy,
) -> Client {
    Client::builder(&PROTOCOL)
        .base_url(base_url)
        .app_id("app-1")
        .app_secret("APP-SECRET-xyz")
        .token_store(store)
        .token_policy(policy)
        .clock(clock)
        .max_clock_skew(Duration::ZERO)
        .build()
        .unwrap()
}

fn assert_no_secret(text: &str) {
    for secret in ["AT-", "RT-", "APP-SECRET"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

// ------------------------------------------------------------------------ status

#[tokio::test]
async fn status_reads_the_store_only() {
    let (url, stub) = start_stub().await;
    let store = Arc::new(MemoryTokenStore::new());
    let clock = Arc::new(ManualClock::new(START));
    let a = client(&url, store.clone(), clock.clone());

    let empty = a.tokens().status().await.unwrap();
    assert_eq!(empty.key, a.tokens().key());
    assert_eq!(empty.record, None);
    assert_eq!((empty.obtain.used, empty.obtain.limit), (0, 1));
    assert_eq!((empty.refresh.used, empty.refresh.limit), (0, 20));
    assert_eq!(empty.platform_day, local_day(START, UTC_OFFSET_S));
    assert_eq!(empty.budget_resets_at, "2024-05-02T00:00:00+08:00");
    assert_eq!(empty.pending_obtain, None);
    assert_eq!(empty.last_failure, None);
    assert_eq!(stub.calls(), (0, 0, 0), "status made a call");

    a.send(&member()).await.unwrap();
    // Another process (another manager) sees the same.
    let b = client(&url, store.clone(), clock.clone());
    let status = b.tokens().status().await.unwrap();
    let record = status.record.clone().unwrap();
    assert_eq!(record.access_expires_at_ms, START + 2 * HOUR_MS);
    assert_eq!(record.version, 1);
    assert!(record.access_valid_now && record.refresh_valid_now);
    assert_eq!(status.obtain.used, 1);
    assert_eq!(status.obtain.remaining(), 0);
    assert_eq!(
        b.tokens().status().await.unwrap(),
        status,
        "status changed state"
    );
    assert_eq!(stub.calls(), (1, 0, 1));

    clock.advance_ms(3 * HOUR_MS);
    let later = b.tokens().status().await.unwrap();
    let record = later.record.clone().unwrap();
    assert!(!record.access_valid_now && record.refresh_valid_now);
    assert_eq!(stub.calls(), (1, 0, 1), "status refreshed an expired token");
    assert_eq!(later.refresh.used, 0);

    let json = serde_json::to_string(&later).unwrap();
    assert_no_secret(&json);
    assert_no_secret(&format!("{later:?}"));
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["obtain"]["used"], 1);
    assert_eq!(value["record"]["version"], 1);
}

// ------------------------------------------------------------------------ last failure

#[tokio::test]
async fn last_failure_is_kept_in_the_store_and_cleared_by_a_later_success() {
    let (url, stub) = start_stub().await;
    let store = Arc::new(MemoryTokenStore::new());
    let clock = Arc::new(ManualClock::new(START));
    let a = client(&url, store.clone(), clock.clone());
    let b = client(&url, store.clone(), clock.clone());
    a.send(&member()).await.unwrap();

    // The token expires; A's refresh is answered "busy", quoting the refresh token.
    clock.advance_ms(3 * HOUR_MS);
    stub.set_refresh(RefreshMode::Busy);
    let err = a.send(&member()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Token(TokenError::CallFailed {
                kind: BudgetKind::Refresh,
                ..
            })
        ),
        "{err:?}"
    );

    // B, another manager on the same store, sees why.
    let failure = b.tokens().status().await.unwrap().last_failure.unwrap();
    assert_eq!(failure.kind, BudgetKind::Refresh);
    assert_eq!(failure.in_a_row, 1);
    assert_eq!(failure.at_ms, START + 3 * HOUR_MS);
    assert!(failure.message.contains("busy"), "{}", failure.message);
    assert!(
        failure.message.contains("[REDACTED]"),
        "{}",
        failure.message
    );
    assert_no_secret(&failure.message);
    let raw = store
        .load_note(a.tokens().key(), "last-failure")
        .await
        .unwrap()
        .unwrap();
    assert_no_secret(&raw);

    // B keeps A's cool-down (it lives in the store): no refresh call before it ends.
    let err = b.send(&member()).await.unwrap_err();
    assert!(
        matches!(err, Error::Token(TokenError::CoolingDown { .. })),
        "{err:?}"
    );
    assert_eq!(stub.calls().1, 1, "B sent nothing during A's cool-down");
    // After it, B fails too: counted in a row across instances.
    clock.advance_ms(5_000);
    b.send(&member()).await.unwrap_err();
    let failure = a.tokens().status().await.unwrap().last_failure.unwrap();
    assert_eq!(failure.in_a_row, 2);

    // B's next refresh succeeds: the note is gone for everyone.
    clock.advance_ms(10_000);
    stub.set_refresh(RefreshMode::Ok);
    let c = client(&url, store.clone(), clock.clone());
    c.send(&member()).await.unwrap();
    assert_eq!(a.tokens().status().await.unwrap().last_failure, None);
    assert_eq!(stub.calls().1, 3);
}

/// A store that fails every write of the `last-failure` note.
#[derive(Debug)]
struct NoteFails(MemoryTokenStore, AtomicU32);

impl TokenStore for NoteFails {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<TokenRecord>> {
        self.0.load(key)
    }
    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: Option<u64>,
        record: &'a TokenRecord,
    ) -> StoreFuture<'a, bool> {
        self.0.compare_and_set(key, expected, record)
    }
    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        lease: Duration,
    ) -> StoreFuture<'a, bool> {
        self.0.try_lock(key, owner, lease)
    }
    fn unlock<'a>(&'a self, key: &'a str, owner: &'a str) -> StoreFuture<'a, ()> {
        self.0.unlock(key, owner)
    }
    fn take_budget<'a>(
        &'a self,
        key: &'a str,
        kind: BudgetKind,
        day: i64,
        limit: u32,
    ) -> StoreFuture<'a, openplatform_runtime::tokens::BudgetTake> {
        self.0.take_budget(key, kind, day, limit)
    }
    fn budget_used<'a>(&'a self, key: &'a str, kind: BudgetKind, day: i64) -> StoreFuture<'a, u32> {
        self.0.budget_used(key, kind, day)
    }
    fn give_back_budget<'a>(
        &'a self,
        key: &'a str,
        kind: BudgetKind,
        day: i64,
    ) -> StoreFuture<'a, ()> {
        self.0.give_back_budget(key, kind, day)
    }
    fn renew_lock<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        lease: Duration,
    ) -> StoreFuture<'a, bool> {
        self.0.renew_lock(key, owner, lease)
    }
    fn load_note<'a>(&'a self, key: &'a str, name: &'a str) -> StoreFuture<'a, Option<String>> {
        self.0.load_note(key, name)
    }
    fn store_note<'a>(
        &'a self,
        key: &'a str,
        name: &'a str,
        value: Option<&'a str>,
    ) -> StoreFuture<'a, ()> {
        if name == "last-failure" {
            self.1.fetch_add(1, Ordering::SeqCst);
            return Box::pin(std::future::ready(Err(StoreError::io(
                "test: note write fails",
            ))));
        }
        self.0.store_note(key, name, value)
    }
}

#[tokio::test]
async fn a_failed_note_write_changes_no_outcome() {
    let (url, stub) = start_stub().await;
    let store = Arc::new(NoteFails(MemoryTokenStore::new(), AtomicU32::new(0)));
    let clock = Arc::new(ManualClock::new(START));
    let a = client(&url, store.clone(), clock.clone());
    a.send(&member()).await.unwrap();
    assert_eq!(
        store.1.load(Ordering::SeqCst),
        1,
        "the success's clearing was not tried"
    );

    clock.advance_ms(3 * HOUR_MS);
    stub.set_refresh(RefreshMode::Busy);
    let err = a.send(&member()).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Token(TokenError::CallFailed {
                kind: BudgetKind::Refresh,
                ..
            })
        ),
        "{err:?}"
    );
    assert_eq!(store.1.load(Ordering::SeqCst), 2);
    assert_eq!(a.tokens().status().await.unwrap().last_failure, None);
}

// ------------------------------------------------------------------------ pending obtain

fn marker(host: &str, pid: u32, day: i64, started_at_ms: i64) -> String {
    serde_json::json!({
        "instance": format!("{host}/{pid}/abc-0"),
        "host": host,
        "pid": pid,
        "day": day,
        "started_at_ms": started_at_ms,
    })
    .to_string()
}

#[tokio::test]
async fn clearing_the_pending_obtain_marker() {
    let store = Arc::new(MemoryTokenStore::new());
    let clock = Arc::new(ManualClock::new(START));
    let manager = TokenManager::new(store.clone(), "k", TokenPolicy::default(), clock.clone())
        .with_call_deadline(Duration::from_secs(65))
        .with_utc_offset(UTC_OFFSET_S);
    let day = local_day(START, UTC_OFFSET_S);

    assert_eq!(
        manager.clear_pending_obtain(false).await.unwrap(),
        ClearOutcome::NothingPending
    );

    // Another host's call started 10 s ago: it may still be in flight.
    let note = marker("elsewhere", 7, day, START - 10_000);
    store
        .store_note("k", "pending-obtain", Some(&note))
        .await
        .unwrap();
    let status = manager.status().await.unwrap();
    let pending = status.pending_obtain.unwrap();
    assert!(pending.may_be_in_flight);
    assert_eq!(
        (pending.host.as_str(), pending.pid, pending.day),
        ("elsewhere", 7, day)
    );
    match manager.clear_pending_obtain(false).await.unwrap() {
        ClearOutcome::MayBeInFlight(p) => assert_eq!(p, pending),
        other => panic!("{other:?}"),
    }
    assert!(
        store
            .load_note("k", "pending-obtain")
            .await
            .unwrap()
            .is_some()
    );

    // Forced: removed whatever the judgement.
    match manager.clear_pending_obtain(true).await.unwrap() {
        ClearOutcome::Cleared(p) => assert!(p.may_be_in_flight),
        other => panic!("{other:?}"),
    }
    assert_eq!(store.load_note("k", "pending-obtain").await.unwrap(), None);
    assert_eq!(manager.status().await.unwrap().pending_obtain, None);

    // A call older than the longest a token call takes is no longer in flight.
    let note = marker("elsewhere", 7, day, START - 66_000);
    store
        .store_note("k", "pending-obtain", Some(&note))
        .await
        .unwrap();
    match manager.clear_pending_obtain(false).await.unwrap() {
        ClearOutcome::Cleared(p) => assert!(!p.may_be_in_flight),
        other => panic!("{other:?}"),
    }
    assert_eq!(store.load_note("k", "pending-obtain").await.unwrap(), None);
    // Clearing took and gave back the refresh lock.
    assert!(
        store
            .try_lock("k", "someone", Duration::from_secs(1))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn clearing_waits_for_the_lock_of_another_instance() {
    let store = Arc::new(MemoryTokenStore::new());
    let clock = Arc::new(ManualClock::new(START));
    let policy = TokenPolicy {
        lock_wait: Duration::from_millis(300),
        poll_interval: Duration::from_millis(20),
        ..TokenPolicy::default()
    };
    let manager = TokenManager::new(store.clone(), "k", policy, clock.clone());
    let note = marker("elsewhere", 7, local_day(START, 0), START - 100_000);
    store
        .store_note("k", "pending-obtain", Some(&note))
        .await
        .unwrap();
    assert!(
        store
            .try_lock("k", "other", Duration::from_secs(60))
            .await
            .unwrap()
    );
    let err = manager.clear_pending_obtain(false).await.unwrap_err();
    assert!(
        matches!(err, TokenError::LockWaitTimedOut { .. }),
        "{err:?}"
    );
    assert!(
        store
            .load_note("k", "pending-obtain")
            .await
            .unwrap()
            .is_some()
    );
    // The lock frees meanwhile: cleared.
    let store2 = store.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        store2.unlock("k", "other").await.unwrap();
    });
    assert!(matches!(
        manager.clear_pending_obtain(false).await.unwrap(),
        ClearOutcome::Cleared(_)
    ));
}

// ------------------------------------------------------------------------ refresh now

#[tokio::test]
async fn operator_refresh_spends_one_refresh_unit_and_stores_the_token() {
    let (url, stub) = start_stub().await;
    let store = Arc::new(MemoryTokenStore::new());
    let clock = Arc::new(ManualClock::new(START));
    let policy = TokenPolicy {
        refresh_daily_limit: 2,
        ..TokenPolicy::default()
    };
    let a = client_with(&url, store.clone(), clock.clone(), policy);
    a.send(&member()).await.unwrap();

    // The token held is valid: the operator's refresh is made anyway.
    clock.advance_ms(60_000);
    let cli = client_with(&url, store.clone(), clock.clone(), policy);
    let outcome = cli.refresh_access_token_now().await.unwrap();
    assert_eq!(outcome.access_expires_at_ms, START + 60_000 + 2 * HOUR_MS);
    assert_eq!((outcome.refresh_used_today, outcome.refresh_limit), (1, 2));
    assert_eq!(stub.calls(), (1, 1, 1));
    let status = a.tokens().status().await.unwrap();
    assert_eq!(status.record.unwrap().version, 2);
    assert_eq!(status.refresh.used, 1);
    assert_eq!(status.last_failure, None);
    assert_no_secret(&format!(
        "{outcome:?} {}",
        serde_json::to_string(&outcome).unwrap()
    ));

    // A new client (a restarted service) uses the refreshed token from the store.
    let d = client_with(&url, store.clone(), clock.clone(), policy);
    d.send(&member()).await.unwrap();
    let (query, _) = stub.received.lock().unwrap().last().cloned().unwrap();
    assert!(query.contains("access_token=AT-refreshed-1"), "{query}");

    // The budget: one more, then exhausted, and nothing is sent.
    assert_eq!(
        cli.refresh_access_token_now()
            .await
            .unwrap()
            .refresh_used_today,
        2
    );
    let err = cli.refresh_access_token_now().await.unwrap_err();
    assert!(
        matches!(
            err,
            TokenError::BudgetExhausted {
                kind: BudgetKind::Refresh,
                used: 2,
                limit: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(stub.calls(), (1, 2, 2));
}

#[tokio::test]
async fn operator_refresh_never_obtains() {
    let (url, stub) = start_stub().await;
    let store = Arc::new(MemoryTokenStore::new());
    let clock = Arc::new(ManualClock::new(START));
    let cli = client(&url, store.clone(), clock.clone());

    // No record: only the obtain call would help.
    let err = cli.refresh_access_token_now().await.unwrap_err();
    assert!(matches!(err, TokenError::NotConfigured(_)), "{err:?}");
    assert_eq!(stub.calls(), (0, 0, 0));
    assert_eq!(cli.tokens().status().await.unwrap().obtain.used, 0);

    // A refused refresh token is the answer; no new pair is obtained.
    client(&url, store.clone(), clock.clone())
        .send(&member())
        .await
        .unwrap();
    stub.set_refresh(RefreshMode::Reject);
    let err = cli.refresh_access_token_now().await.unwrap_err();
    assert!(
        matches!(
            err,
            TokenError::CredentialRejected {
                kind: BudgetKind::Refresh,
                code: 1002
            }
        ),
        "{err:?}"
    );
    assert_eq!(stub.calls(), (1, 1, 1));
    let failure = cli.tokens().status().await.unwrap().last_failure.unwrap();
    assert_eq!(failure.kind, BudgetKind::Refresh);

    // An expired refresh token is no refresh token.
    clock.advance_ms(366 * 24 * HOUR_MS);
    let late = client(&url, store.clone(), clock.clone());
    let err = late.refresh_access_token_now().await.unwrap_err();
    assert!(matches!(err, TokenError::NotConfigured(_)), "{err:?}");
    assert_eq!(stub.calls(), (1, 1, 1));
}

#[tokio::test]
async fn operator_refresh_never_sent_gives_its_unit_back() {
    // A port nobody listens on: the call certainly never left.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let store = Arc::new(MemoryTokenStore::new());
    let clock = Arc::new(ManualClock::new(START));
    let cli = client(&url, store.clone(), clock.clone());
    let record = TokenRecord {
        access_token: Secret::new("AT-seeded"),
        access_expires_at_ms: START + HOUR_MS,
        refresh_token: Secret::new("RT-seeded"),
        refresh_expires_at_ms: START + 1000 * HOUR_MS,
        version: 1,
    };
    assert!(
        store
            .compare_and_set(cli.tokens().key(), None, &record)
            .await
            .unwrap()
    );
    let err = cli.refresh_access_token_now().await.unwrap_err();
    assert!(err.certainly_not_sent(), "{err:?}");
    let status = cli.tokens().status().await.unwrap();
    assert_eq!(
        status.refresh.used, 0,
        "the unit of a call never sent was kept"
    );
    assert_eq!(status.record.unwrap().version, 1);
}

// ------------------------------------------------------------------------ dry run

#[tokio::test]
async fn dry_run_is_what_send_sends_with_its_token_redacted() {
    let (url, stub) = start_stub().await;
    let store = Arc::new(MemoryTokenStore::new());
    let clock = Arc::new(ManualClock::new(START));
    let a = client(&url, store.clone(), clock.clone());
    a.send(&member()).await.unwrap();
    let before = stub.calls();

    // Another process (the command line) with the stored token.
    let cli = client(&url, store.clone(), clock.clone());
    let dry = cli.dry_run(&member()).await.unwrap();
    assert_eq!(stub.calls(), before, "the dry run sent something");
    assert_eq!(dry.token, DryRunToken::Stored);
    assert_eq!((dry.method, dry.verb), ("member.query", "POST"));
    assert_no_secret(&dry.url);
    assert!(dry.url.contains("access_token=[REDACTED]"), "{}", dry.url);

    // The same instant: `send` sends exactly that, but for the token.
    cli.send(&member()).await.unwrap();
    let (sent_url, sent_body) = stub.received.lock().unwrap().last().cloned().unwrap();
    assert_eq!(dry.body.as_bytes(), &sent_body[..]);
    assert_eq!(
        dry.url,
        format!("{url}{sent_url}").replace("AT-obtained-1", "[REDACTED]")
    );
    assert!(dry.body.contains("13900000001"), "{}", dry.body);

    // Debug redacts the personal data; the JSON is the request as sent.
    let debug = format!("{dry:?}");
    assert!(!debug.contains("13900000001"), "{debug}");
    let json = serde_json::to_value(&dry).unwrap();
    assert_eq!(json["token"], "stored");
    assert_eq!(json["body"], dry.body);
    assert_eq!(json.as_object().unwrap().len(), 5);
}

#[tokio::test]
async fn dry_run_without_a_token_signs_a_placeholder_and_spends_nothing() {
    let (url, stub) = start_stub().await;
    let store = Arc::new(MemoryTokenStore::new());
    let clock = Arc::new(ManualClock::new(START));
    let cli = client(&url, store.clone(), clock.clone());

    let dry = cli.dry_run(&member()).await.unwrap();
    assert_eq!(dry.token, DryRunToken::Placeholder);
    assert!(dry.url.contains("access_token=[REDACTED]"), "{}", dry.url);
    assert!(!dry.url.contains("placeholder"), "{}", dry.url);
    assert_eq!(stub.calls(), (0, 0, 0));
    let status = cli.tokens().status().await.unwrap();
    assert_eq!((status.obtain.used, status.refresh.used), (0, 0));
    assert_eq!(status.record, None);

    // An expired stored token is no token either; nothing refreshes it.
    client(&url, store.clone(), clock.clone())
        .send(&member())
        .await
        .unwrap();
    clock.advance_ms(3 * HOUR_MS);
    let dry = cli.dry_run(&member()).await.unwrap();
    assert_eq!(dry.token, DryRunToken::Placeholder);
    assert_eq!(stub.calls(), (1, 0, 1));

    // Signed with the app credentials only: no token needed, no secret shown.
    let ping = cli.dry_run(&Ping {}).await.unwrap();
    assert_eq!(ping.token, DryRunToken::NotNeeded);
    assert!(ping.url.contains("app_id=app-1"), "{}", ping.url);
    assert_no_secret(&ping.url);
    assert_eq!(ping.body, "{}");
}

#[tokio::test]
async fn dry_run_refuses_what_send_refuses() {
    let (url, stub) = start_stub().await;
    let cli = client(
        &url,
        Arc::new(MemoryTokenStore::new()),
        Arc::new(ManualClock::new(START)),
    );
    let mut bad = member();
    bad.phone.clear();
    let dry = cli.dry_run(&bad).await.unwrap_err();
    let sent = cli.send(&bad).await.unwrap_err();
    assert!(matches!(
        &dry,
        Error::Request(RequestError::EmptyField { field: "phone", .. })
    ));
    assert_eq!(dry.to_string(), sent.to_string());

    let dry = cli.dry_run(&ObtainByHand {}).await.unwrap_err();
    assert!(
        matches!(
            dry,
            Error::Request(RequestError::TokenCallByHand {
                method: "token.get"
            })
        ),
        "{dry:?}"
    );
    assert_eq!(stub.calls(), (0, 0, 0));
}

// ------------------------------------------------------------------------ dry run, zvcms

static ZVCMS: ProtocolInfo = ProtocolInfo {
    api: "operator-test-zvcms",
    envelope: EnvelopeStyle::ZvcmsAction,
    path_template: "/api/v2",
    success_code: Some(0),
    timestamp: TimestampUnit::Seconds,
    utc_offset_s: UTC_OFFSET_S,
    timestamp_param: None,
    sign_param: None,
    tokens: None,
    envelope_keys: EnvelopeKeys {
        success: &["status"],
        code: &["code"],
        message: &["message"],
        data: &["data"],
        page_no: &[],
        page_size: &[],
        total_count: &[],
    },
    ..PROTOCOL
};

async fn zvcms_handler(State(stub): State<Arc<Stub>>, uri: Uri, body: Bytes) -> String {
    stub.business.fetch_add(1, Ordering::SeqCst);
    let path_and_query = uri.path_and_query().map_or("", |p| p.as_str()).to_owned();
    stub.received
        .lock()
        .unwrap()
        .push((path_and_query, body.to_vec()));
    r#"{"status":true,"code":0,"data":{"ok":1}}"#.into()
}

/// The envelope's signature (`Token`) and grant code are redacted from the body; the rest
/// is what `send` sends (but the nonce, new for every request).
#[tokio::test]
async fn dry_run_of_an_envelope_style_redacts_its_secret_body_fields() {
    let stub = Arc::new(Stub {
        obtains: AtomicU32::new(0),
        refreshes: AtomicU32::new(0),
        business: AtomicU32::new(0),
        refresh_mode: Mutex::new(RefreshMode::Ok),
        received: Mutex::new(Vec::new()),
    });
    let app = axum::Router::new()
        .fallback(zvcms_handler)
        .with_state(stub.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let cli = Client::builder(&ZVCMS)
        .base_url(&url)
        .app_id("open-1")
        .app_secret("APP-SECRET-zv")
        .grant_code("GRANT-SECRET-zv")
        .token_store(Arc::new(MemoryTokenStore::new()))
        .clock(Arc::new(ManualClock::new(START)))
        .max_clock_skew(Duration::ZERO)
        .build()
        .unwrap();

    let dry = cli.dry_run(&Ping {}).await.unwrap();
    assert_eq!(dry.token, DryRunToken::NotNeeded);
    assert_eq!(stub.calls(), (0, 0, 0));
    assert!(!dry.body.contains("SECRET"), "{}", dry.body);
    let shown: serde_json::Value = serde_json::from_str(&dry.body).unwrap();
    assert_eq!(shown["Token"], "[REDACTED]");
    assert_eq!(shown["GrantCode"], "[REDACTED]");

    cli.send(&Ping {}).await.unwrap();
    let (sent_url, sent_body) = stub.received.lock().unwrap().last().cloned().unwrap();
    assert_eq!(dry.url, format!("{url}{sent_url}"));
    let mut sent: serde_json::Value = serde_json::from_slice(&sent_body).unwrap();
    assert_ne!(sent["Token"], "[REDACTED]");
    sent["Token"] = "[REDACTED]".into();
    sent["GrantCode"] = "[REDACTED]".into();
    sent["Nonce"] = shown["Nonce"].clone();
    assert_eq!(shown, sent);
    // Byte for byte, too, once the same replacements are made in the text sent.
    let sent_text = String::from_utf8(sent_body).unwrap();
    let redacted = sent_text
        .replace(
            sent_text
                .split("\"Token\":\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap(),
            "[REDACTED]",
        )
        .replace("GRANT-SECRET-zv", "[REDACTED]");
    let nonce = |t: &str| {
        t.split("\"Nonce\":\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        dry.body,
        redacted.replace(&nonce(&redacted), &nonce(&dry.body))
    );
}
