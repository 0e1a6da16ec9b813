//! No `RetryPolicy`, call timeout, client timeout, clock-skew bound or token policy
//! value makes a call panic: extreme values (zero, one nanosecond, `u64::MAX` seconds,
//! `Duration::MAX`, zero and `u32::MAX` attempts), each called through a client against
//! a local server that always fails. Each call ends in an error, within its call timeout
//! (and a little), having sent no more requests than its policy allows.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use openplatform_runtime::tokens::{MemoryTokenStore, TokenStore};
use openplatform_runtime::{
    CallOptions, Client, Endpoint, EndpointInfo, EnvelopeKeys, EnvelopeStyle, ErrorCategory,
    Idempotency, ProtocolInfo, RequestError, RetryPolicy, SigningScheme, TimestampUnit,
    TokenPolicy, TokenProtocol, Verb, endpoint::Credential, error_code::ApiErrorCode,
};
use proptest::prelude::*;
use serde::Serialize;

static PROTOCOL: ProtocolInfo = ProtocolInfo {
    api: "extreme-durations-test",
    doc_version: "1",
    envelope: EnvelopeStyle::UmpGateway,
    signing: SigningScheme::UmpMd5,
    path_template: "/gw/{method}",
    base_urls: &[],
    success_code: Some(200),
    timestamp: TimestampUnit::Milliseconds,
    clock_tolerance_ms: None,
    utc_offset_s: 8 * 3600,
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
    sensitive_keys: &[],
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

/// A read signed with the app credentials only: retried on every failure here.
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

/// A read with the access token: the token manager's waits and timeouts too.
#[derive(Serialize)]
struct Member {}

impl Endpoint for Member {
    type Data = serde_json::Value;
    type Code = Code;
    const INFO: EndpointInfo = info("member.query", Credential::AccessToken);
    fn validate(&self) -> Result<(), RequestError> {
        Ok(())
    }
}

/// A server that answers every request HTTP 500 (a transient failure: retried), and
/// counts them.
async fn failing_server() -> (String, Arc<AtomicU32>) {
    let count = Arc::new(AtomicU32::new(0));
    let counted = count.clone();
    let app = axum::Router::new().fallback(move || {
        let counted = counted.clone();
        async move {
            counted.fetch_add(1, Ordering::SeqCst);
            (StatusCode::INTERNAL_SERVER_ERROR, "busy")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), count)
}

const EXTREMES: [Duration; 6] = [
    Duration::ZERO,
    Duration::from_nanos(1),
    Duration::from_millis(1),
    Duration::from_secs(3600),
    Duration::from_secs(u64::MAX),
    Duration::MAX,
];

/// The most a call with a call timeout may overrun it (a request in flight at the
/// deadline is cut by its own timeout, set to what is left; scheduling on a busy machine).
const SLACK: Duration = Duration::from_secs(5);

fn client(url: &str) -> openplatform_runtime::ClientBuilder {
    Client::builder(&PROTOCOL)
        .base_url(url)
        .app_id("app-1")
        .app_secret("APP-SECRET")
        .token_store(Arc::new(MemoryTokenStore::new()))
}

/// Calls `Ping` with `options`; asserts an error (the server always fails), within
/// `bound`, and at most `max_requests` requests.
async fn call_fails_in_bounds(
    client: &Client,
    count: &AtomicU32,
    options: CallOptions,
    bound: Duration,
    max_requests: u32,
    case: &str,
) {
    let before = count.load(Ordering::SeqCst);
    let started = Instant::now();
    let outcome = tokio::time::timeout(bound, client.send_with(&Ping {}, options)).await;
    let took = started.elapsed();
    match outcome {
        Ok(Ok(_)) => panic!("{case}: a call to a failing server succeeded"),
        Ok(Err(_)) => {}
        Err(_) => panic!("{case}: no outcome within {bound:?}"),
    }
    let sent = count.load(Ordering::SeqCst) - before;
    assert!(
        sent <= max_requests,
        "{case}: {sent} requests, at most {max_requests} allowed ({took:?})"
    );
}

/// Every retry policy of extreme pauses and attempts, bounded by a short call timeout;
/// and without one, every policy of at most 3 attempts whose pauses are short.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_retry_policy_panics_and_every_call_ends() {
    let (url, count) = failing_server().await;
    let client = client(&url).build().unwrap();
    let call_timeout = Duration::from_millis(50);
    for initial_backoff in EXTREMES {
        for max_backoff in EXTREMES {
            for max_attempts in [0, 1, 2, 3, u32::MAX] {
                let policy = RetryPolicy {
                    max_attempts,
                    initial_backoff,
                    max_backoff,
                };
                let case = format!("{policy:?}");
                // Each attempt is sent at most once more after a clock correction.
                let allowed = max_attempts.max(1).saturating_add(1);
                call_fails_in_bounds(
                    &client,
                    &count,
                    CallOptions::default().retry(policy).timeout(call_timeout),
                    call_timeout + SLACK,
                    allowed,
                    &format!("{case} with a call timeout"),
                )
                .await;
                if max_attempts <= 3 && initial_backoff.min(max_backoff) <= Duration::from_millis(1)
                {
                    call_fails_in_bounds(
                        &client,
                        &count,
                        CallOptions::default().retry(policy),
                        SLACK,
                        allowed,
                        &format!("{case} without a call timeout"),
                    )
                    .await;
                }
            }
        }
    }
}

/// Call timeouts of any length, with the default policy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_call_timeout_panics() {
    let (url, count) = failing_server().await;
    let client = client(&url).build().unwrap();
    for timeout in EXTREMES {
        let policy = RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(2),
        };
        call_fails_in_bounds(
            &client,
            &count,
            CallOptions::default().retry(policy).timeout(timeout),
            SLACK,
            4,
            &format!("call timeout {timeout:?}"),
        )
        .await;
    }
}

/// The client's own timeouts, clock-skew bound and reply cap at their extremes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_client_setting_panics() {
    let (url, count) = failing_server().await;
    for connect_timeout in EXTREMES {
        for timeout in EXTREMES.map(Some).into_iter().chain([None]) {
            for max_clock_skew in [Duration::ZERO, Duration::MAX] {
                for max_response_bytes in [0, usize::MAX] {
                    let case = format!(
                        "connect {connect_timeout:?}, timeout {timeout:?}, skew {max_clock_skew:?}, reply cap {max_response_bytes}"
                    );
                    let client = client(&url)
                        .connect_timeout(connect_timeout)
                        .timeout(timeout)
                        .max_clock_skew(max_clock_skew)
                        .max_response_bytes(max_response_bytes)
                        .retry_policy(RetryPolicy::NONE)
                        .build()
                        .unwrap_or_else(|e| panic!("{case}: {e}"));
                    call_fails_in_bounds(&client, &count, CallOptions::default(), SLACK, 2, &case)
                        .await;
                }
            }
        }
    }
}

/// The token manager's durations at their extremes, on a call that needs a token (whose
/// obtain the server fails too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_policy_panics() {
    let (url, _count) = failing_server().await;
    let values = [
        Duration::ZERO,
        Duration::from_nanos(1),
        Duration::from_secs(u64::MAX),
        Duration::MAX,
    ];
    for (field, value) in (0..7).flat_map(|f| values.map(|v| (f, v))) {
        let mut policy = TokenPolicy::default();
        let name = match field {
            0 => {
                policy.refresh_ahead = value;
                "refresh_ahead"
            }
            1 => {
                policy.expiry_margin = value;
                "expiry_margin"
            }
            2 => {
                policy.lock_lease = value;
                "lock_lease"
            }
            3 => {
                policy.lock_wait = value;
                "lock_wait"
            }
            4 => {
                policy.poll_interval = value;
                "poll_interval"
            }
            5 => {
                policy.store_timeout = value;
                "store_timeout"
            }
            _ => {
                policy.write_back_every = value;
                "write_back_every"
            }
        };
        for limits in [0, u32::MAX] {
            policy.obtain_daily_limit = limits;
            policy.refresh_daily_limit = limits;
            let case = format!("{name} = {value:?}, daily limits {limits}");
            let client = client(&url)
                .token_policy(policy)
                .retry_policy(RetryPolicy::NONE)
                .build()
                .unwrap_or_else(|e| panic!("{case}: {e}"));
            let outcome = tokio::time::timeout(SLACK, client.send(&Member {})).await;
            match outcome {
                Ok(Ok(_)) => panic!("{case}: a call to a failing server succeeded"),
                Ok(Err(_)) => {}
                Err(_) => panic!("{case}: no outcome within {SLACK:?}"),
            }
        }
    }
}

/// Waiting for another instance's token call ends after `lock_wait`, whatever the poll
/// interval: one of `Duration::MAX` slept past it, for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_for_another_instance_ends_after_lock_wait() {
    let (url, count) = failing_server().await;
    for poll_interval in [Duration::ZERO, Duration::from_nanos(1), Duration::MAX] {
        let store = Arc::new(MemoryTokenStore::new());
        let policy = TokenPolicy {
            poll_interval,
            lock_wait: Duration::from_millis(200),
            ..TokenPolicy::default()
        };
        let client = client(&url)
            .token_store(store.clone())
            .token_policy(policy)
            .retry_policy(RetryPolicy::NONE)
            .build()
            .unwrap();
        // Another instance holds the refresh lock, and never finishes.
        let key = client.tokens().key().to_owned();
        assert!(
            store
                .try_lock(&key, "another-instance", Duration::from_secs(3600))
                .await
                .unwrap()
        );
        let before = count.load(Ordering::SeqCst);
        let started = Instant::now();
        let outcome = tokio::time::timeout(SLACK, client.send(&Member {})).await;
        let case = format!("poll interval {poll_interval:?}");
        match outcome {
            Ok(Err(openplatform_runtime::Error::Token(_))) => {}
            Ok(other) => panic!("{case}: expected a token error, got {other:?}"),
            Err(_) => panic!("{case}: still waiting after {:?}", started.elapsed()),
        }
        assert_eq!(
            count.load(Ordering::SeqCst),
            before,
            "{case}: no token call while another instance holds the lock"
        );
    }
}

fn any_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        Just(Duration::ZERO),
        Just(Duration::from_nanos(1)),
        Just(Duration::from_secs(u64::MAX)),
        Just(Duration::MAX),
        (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        (0u64..10_000_000_000).prop_map(Duration::from_nanos),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Any policy, any attempt number: a pause, never a panic, within the policy's
    /// ceiling and the longest pause the client takes.
    #[test]
    fn backoff_of_any_policy(
        initial_backoff in any_duration(),
        max_backoff in any_duration(),
        max_attempts in any::<u32>(),
        attempt in any::<u32>(),
    ) {
        let policy = RetryPolicy { max_attempts, initial_backoff, max_backoff };
        let pause = policy.backoff(attempt);
        prop_assert!(pause <= max_backoff);
        prop_assert!(pause <= RetryPolicy::MAX_PAUSE);
    }
}
