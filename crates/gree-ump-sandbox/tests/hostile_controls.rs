//! No control or request input breaks the sandbox: a property
//! test starts sandboxes with arbitrary limits and lifetimes, drives the control API with
//! arbitrary values (clock set and advance, faults, growth values, revocations, the
//! timestamp scope, token lifetimes, resets) and hostile signed bodies, then checks that
//! every later request (the control reads and representative signed calls) gets an HTTP
//! answer within a generous bound, and that nothing panicked anywhere in the process.
//!
//! Its own test binary: the panic counter counts every panic of the process.

#[path = "sandbox/common.rs"]
mod common;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gree_ump_sandbox::{SandboxConfig, TimestampScope};
use proptest::prelude::*;
use serde_json::{Value, json};

use common::{PHONE, TestClient};

/// Generous: the point is "an answer comes", not how fast (a busy 2-core machine).
const WAIT: Duration = Duration::from_secs(20);
/// Fault delays above this are "never answer" by the user's own choice: calls they
/// apply to are not sent.
const LONG_DELAY_MS: u64 = 1_000;

const METHODS: &[&str] = &[
    "*",
    "dss.auth.token.query",
    "dss.auth.token.refresh",
    "wk.user.info.query",
    "wk.user.event.score.change",
    "wk.user.level.list",
    "wk.sms.verify.send",
];

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts every panic of the process (the sandbox's tasks included), then reports it
/// as usual.
fn count_panics() {
    static HOOK: OnceLock<()> = OnceLock::new();
    HOOK.get_or_init(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            previous(info);
        }));
    });
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

#[derive(Debug, Clone)]
enum Op {
    SetClock(i64),
    AdvanceClock(i64),
    /// A fault plan as JSON, with any numbers in it.
    AddFault(Value),
    ClearFaults,
    SetGrowth(i64),
    Revoke(bool),
    StrictTimestamps(bool),
    TokenLifetimeSecs(u64),
    Reset,
    /// A signed business call with a hostile body.
    Call(&'static str, String),
}

fn any_delay() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..200, Just(u64::MAX), any::<u64>()]
}

fn fault() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"kind": "drop_after_commit"})),
        Just(json!({"kind": "busy"})),
        Just(json!({"kind": "malformed"})),
        any_delay().prop_map(|d| json!({"kind": "slow", "delay_ms": d})),
        any_delay().prop_map(|d| json!({"kind": "slow_after_commit", "delay_ms": d})),
        any_delay().prop_map(|d| json!({"kind": "commit_after_timeout", "delay_ms": d})),
        any::<u16>().prop_map(|s| json!({"kind": "http_status", "status": s})),
        // Out of range or of the wrong type: the control answers 400.
        any::<i64>().prop_map(|s| json!({"kind": "http_status", "status": s})),
        Just(json!({"kind": "slow", "delay_ms": -1})),
    ]
}

fn hostile_body() -> impl Strategy<Value = String> {
    let n = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        Just("1e400".to_owned())
    ];
    prop_oneof![
        ".{0,40}",
        n.clone().prop_map(|n| format!(
            r#"{{"open_id":"{PHONE}","score":{n},"out_biz_no":"b","change_reason":"r","change_event":"event_add","change_id":"c{n}"}}"#
        )),
        n.clone()
            .prop_map(|n| format!(r#"{{"open_id":"{PHONE}","score_type":0,"page_no":{n},"page_size":{n}}}"#)),
        n.prop_map(|n| format!(r#"{{"page_no":{n},"page_size":{n}}}"#)),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<i64>().prop_map(Op::SetClock),
        any::<i64>().prop_map(Op::AdvanceClock),
        (0..METHODS.len(), fault(), any::<u32>()).prop_map(|(m, f, times)| Op::AddFault(
            json!({"method": METHODS[m], "fault": f, "times": times % 4})
        )),
        Just(Op::ClearFaults),
        any::<i64>().prop_map(Op::SetGrowth),
        any::<bool>().prop_map(Op::Revoke),
        any::<bool>().prop_map(Op::StrictTimestamps),
        any::<u64>().prop_map(Op::TokenLifetimeSecs),
        Just(Op::Reset),
        (
            prop::sample::select(
                &[
                    "wk.user.event.score.change",
                    "wk.user.score.record",
                    "wk.user.level.list",
                    "wk.user.info.query",
                ][..]
            ),
            hostile_body()
        )
            .prop_map(|(m, b)| Op::Call(m, b)),
    ]
}

fn config() -> impl Strategy<Value = SandboxConfig> {
    let limits = (any::<u32>(), any::<u32>(), any::<u32>()).prop_map(|(a, b, c)| (a % 3, b, c));
    let lifetimes = (any::<i64>(), any::<i64>(), any::<i64>(), any::<i64>());
    let clock = (
        proptest::option::of(any::<i64>()),
        proptest::option::of(any::<i64>()),
    );
    (limits, lifetimes, clock).prop_map(
        |((obtain, refresh, sms), (at, rt, code, sms_ttl), (start, window))| {
            let mut c = SandboxConfig::default();
            c.obtain_daily_limit = obtain;
            c.refresh_daily_limit = refresh;
            c.sms_daily_limit = sms;
            c.access_token_lifetime_s = at;
            c.refresh_token_lifetime_s = rt;
            c.member_code_ttl_ms = code;
            c.sms_code_ttl_ms = sms_ttl;
            c.start_time_ms = start;
            // Mostly the default window, sometimes any value (negative included).
            if window.is_some_and(|w| w % 2 == 0) {
                c.timestamp_tolerance_ms = window;
            }
            c
        },
    )
}

/// A control request; any HTTP answer will do, within the bound.
async fn control(c: &TestClient, verb: reqwest::Method, path: &str, body: Value) -> u16 {
    let send = c
        .http
        .request(verb, format!("{}/__sandbox{path}", c.sandbox.base_url()))
        .json(&body)
        .send();
    let resp = tokio::time::timeout(WAIT, send)
        .await
        .unwrap_or_else(|_| panic!("{path}: no answer within {WAIT:?}"))
        .unwrap_or_else(|e| panic!("{path}: no HTTP answer: {e}"));
    let status = resp.status().as_u16();
    let text = tokio::time::timeout(WAIT, resp.text())
        .await
        .unwrap_or_else(|_| panic!("{path}: no body within {WAIT:?}"))
        .unwrap_or_else(|e| panic!("{path}: body: {e}"));
    assert!(
        serde_json::from_str::<Value>(&text).is_ok(),
        "{path}: {status} {text}"
    );
    status
}

/// How a call of `method` is expected to end, given the pending faults.
enum Expect {
    Answer,
    /// A fault cuts the connection by design.
    AnswerOrCut,
    /// A fault delays it longer than this test waits, by the user's choice.
    Skip,
}

async fn expectation(c: &TestClient, method: &str) -> Expect {
    let faults: Value = c
        .http
        .get(format!("{}/__sandbox/faults", c.sandbox.base_url()))
        .send()
        .await
        .expect("faults answer")
        .json()
        .await
        .expect("faults are JSON");
    let plan = faults
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["method"] == method || p["method"] == "*");
    let Some(plan) = plan else {
        return Expect::Answer;
    };
    let fault = &plan["fault"];
    let delay = fault["delay_ms"].as_u64().unwrap_or(0);
    match fault["kind"].as_str() {
        _ if delay > LONG_DELAY_MS => Expect::Skip,
        Some("drop_after_commit" | "commit_after_timeout") => Expect::AnswerOrCut,
        _ => Expect::Answer,
    }
}

async fn signed(c: &TestClient, method: &str, params: &[(&str, &str)], body: &str) {
    let expect = expectation(c, method).await;
    if let Expect::Skip = expect {
        return;
    }
    let sent = tokio::time::timeout(
        WAIT,
        c.send_raw(
            reqwest::Method::POST,
            method,
            params,
            c.now(),
            body,
            c.sandbox.app_secret(),
        ),
    )
    .await
    .unwrap_or_else(|_| panic!("{method}: no answer within {WAIT:?}"));
    match (sent, expect) {
        (Ok(resp), expect) => {
            let status = resp.status();
            let body = tokio::time::timeout(WAIT, resp.bytes())
                .await
                .unwrap_or_else(|_| panic!("{method}: no body within {WAIT:?}"));
            if let (Err(e), Expect::Answer) = (body, expect) {
                panic!("{method}: {status}: body: {e}");
            }
        }
        (Err(_), Expect::AnswerOrCut) => {}
        (Err(e), _) => panic!("{method}: no HTTP answer: {e}"),
    }
}

async fn apply(c: &mut TestClient, op: &Op) {
    use reqwest::Method;
    match op {
        Op::SetClock(at) => {
            control(c, Method::POST, "/clock", json!({"set_ms": at})).await;
        }
        Op::AdvanceClock(by) => {
            control(c, Method::POST, "/clock", json!({"advance_ms": by})).await;
        }
        Op::AddFault(plan) => {
            control(c, Method::POST, "/faults", plan.clone()).await;
        }
        Op::ClearFaults => {
            control(c, Method::DELETE, "/faults", json!({})).await;
        }
        Op::SetGrowth(g) => {
            control(
                c,
                Method::POST,
                &format!("/members/{PHONE}/growth"),
                json!({"growth_value": g}),
            )
            .await;
        }
        Op::Revoke(all) => {
            control(
                c,
                Method::POST,
                "/tokens/revoke",
                json!({"refresh_tokens": all}),
            )
            .await;
        }
        Op::StrictTimestamps(strict) => {
            let scope = if *strict { "every_call" } else { "token_calls" };
            control(c, Method::POST, "/timestamps", json!({"scope": scope})).await;
        }
        Op::TokenLifetimeSecs(s) => c
            .sandbox
            .control()
            .set_access_token_lifetime(Duration::from_secs(*s)),
        Op::Reset => {
            control(c, Method::POST, "/reset", json!({})).await;
        }
        Op::Call(method, body) => {
            let at = c.access_token.clone().unwrap_or_default();
            signed(c, method, &[("access_token", &at)], body).await;
        }
    }
}

/// Every control read and a few representative signed calls get an answer.
async fn everything_answers(c: &mut TestClient) {
    use reqwest::Method;
    for path in [
        "",
        "/clock",
        "/faults",
        "/token-calls",
        "/timestamps",
        "/state",
        &format!("/members/{PHONE}/ledger"),
        &format!("/sms/{PHONE}"),
    ] {
        control(c, Method::GET, path, json!({})).await;
    }
    let app_id = c.sandbox.app_id().to_owned();
    signed(c, "dss.auth.token.query", &[("app_id", &app_id)], "").await;
    let rt = c.refresh_token.clone().unwrap_or_default();
    signed(c, "dss.auth.token.refresh", &[("refresh_token", &rt)], "").await;
    let at = c.access_token.clone().unwrap_or_default();
    let business = [
        ("wk.user.info.query", json!({"phone": PHONE})),
        ("wk.user.level.list", json!({})),
        ("wk.user.code.generate", json!({"open_id": PHONE})),
        ("wk.sms.verify.send", json!({"target": PHONE})),
        (
            "wk.user.event.score.change",
            json!({"open_id": PHONE, "score": 1, "out_biz_no": "b", "change_reason": "r",
                   "change_event": "event_add", "change_id": "final"}),
        ),
        (
            "wk.user.score.record",
            json!({"open_id": PHONE, "score_type": 0, "page_no": 1, "page_size": 10}),
        ),
    ];
    for (method, body) in business {
        signed(c, method, &[("access_token", &at)], &body.to_string()).await;
    }
}

async fn case(config: SandboxConfig, ops: Vec<Op>) {
    let mut c = TestClient::start_with(config).await;
    // Tokens and a member when the configuration allows them; answers either way.
    let _ = tokio::time::timeout(WAIT, c.obtain()).await;
    let at = c.access_token.clone().unwrap_or_default();
    let body = json!({"project_id": "18756", "nickname": "n", "phone": PHONE}).to_string();
    signed(&c, "wk.user.info.add", &[("access_token", &at)], &body).await;
    for op in &ops {
        apply(&mut c, op).await;
    }
    everything_answers(&mut c).await;
    c.sandbox.shutdown().await;
}

proptest! {
    // Modest: each case starts a sandbox and sends a few dozen requests.
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_request_after_any_controls_gets_an_answer(
        config in config(),
        ops in proptest::collection::vec(op(), 1..8),
    ) {
        count_panics();
        let before = PANICS.load(Ordering::SeqCst);
        runtime().block_on(case(config, ops));
        prop_assert_eq!(PANICS.load(Ordering::SeqCst), before, "something panicked");
    }
}

#[test]
fn the_extreme_values_of_every_control_get_answers() {
    count_panics();
    let before = PANICS.load(Ordering::SeqCst);
    let extremes = [i64::MAX, i64::MIN, i64::MAX - 1, i64::MIN + 1, -1, 0];
    let mut cases: Vec<Vec<Op>> = Vec::new();
    for v in extremes {
        cases.push(vec![Op::SetClock(v)]);
        cases.push(vec![Op::AdvanceClock(v), Op::AdvanceClock(v)]);
        cases.push(vec![Op::SetGrowth(v)]);
    }
    cases.push(vec![
        Op::TokenLifetimeSecs(u64::MAX),
        Op::AddFault(json!({"method": "*", "fault": {"kind": "http_status", "status": 0}, "times": u32::MAX})),
        Op::AddFault(json!({"method": "*", "fault": {"kind": "slow", "delay_ms": u64::MAX}, "times": 1})),
        Op::ClearFaults,
        Op::StrictTimestamps(true),
        Op::Revoke(true),
    ]);
    for ops in cases {
        let mut config = SandboxConfig::default().with_timestamp_scope(TimestampScope::TokenCalls);
        config.access_token_lifetime_s = i64::MAX;
        config.refresh_token_lifetime_s = i64::MIN;
        config.sms_code_ttl_ms = i64::MAX;
        config.member_code_ttl_ms = i64::MIN;
        runtime().block_on(case(config, ops));
    }
    assert_eq!(PANICS.load(Ordering::SeqCst), before, "something panicked");
}
