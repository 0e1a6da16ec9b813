//! Extreme control values: the clock at the ends of `i64`, far back, far ahead. Every
//! later request still gets a JSON answer (once, `i64::MAX` made the
//! control reads panic and 2.1 answer "busy").

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{PHONE, TestClient};

/// Generous: the point is "an answer comes", not how fast.
const WAIT: Duration = Duration::from_secs(20);

async fn control(c: &TestClient, verb: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
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
    let text = resp.text().await.expect("body");
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{path}: answer is not JSON ({e}): {text}"));
    (status, json)
}

/// Every control read answers 200 with JSON (404 for an unknown member or phone).
async fn control_reads_answer(c: &TestClient, open_id: &str, when: &str) {
    for path in [
        "",
        "/clock",
        "/faults",
        "/token-calls",
        "/state",
        &format!("/members/{open_id}/ledger"),
        &format!("/sms/{PHONE}"),
    ] {
        let (status, _) = control(c, reqwest::Method::GET, path, json!({})).await;
        assert!(
            status == 200 || (status == 404 && path.starts_with("/sms")),
            "{when}: GET /__sandbox{path} answered {status}"
        );
    }
}

/// A business call signed with the sandbox clock gets the platform's envelope, never
/// the busy answer a panicking handler turns into.
async fn business_calls_answer(c: &TestClient, open_id: &str, when: &str) {
    let calls = [
        ("wk.user.info.query", json!({"open_id": open_id})),
        ("wk.user.code.generate", json!({"open_id": open_id})),
        ("wk.user.level.list", json!({})),
        ("wk.sms.verify.send", json!({"target": PHONE})),
        (
            "wk.user.score.record",
            json!({"open_id": open_id, "score_type": 0, "page_no": 1, "page_size": 10}),
        ),
        (
            "wk.user.event.score.change",
            json!({"open_id": open_id, "score": 5, "out_biz_no": format!("biz-{when}"),
                   "change_reason": "test", "change_event": "event_add",
                   "change_id": format!("chg-{when}")}),
        ),
    ];
    for (method, body) in calls {
        let a = tokio::time::timeout(WAIT, c.call(method, body))
            .await
            .unwrap_or_else(|_| panic!("{when}: {method}: no answer within {WAIT:?}"));
        assert_ne!(a.code(), 500, "{when}: {method} answered busy: {}", a.json);
    }
}

async fn check_after(c: &mut TestClient, open_id: &str, when: &str) {
    control_reads_answer(c, open_id, when).await;
    // 2.1 at the new time: tokens, or the daily limit when still the same day; not busy.
    let a = tokio::time::timeout(WAIT, c.obtain())
        .await
        .unwrap_or_else(|_| panic!("{when}: 2.1: no answer within {WAIT:?}"));
    assert!(
        a.ok() || a.code() == gree_ump_sandbox::error::TOKEN_DAILY_LIMIT_CODE,
        "{when}: 2.1 answered {}",
        a.json
    );
    business_calls_answer(c, open_id, when).await;
    control_reads_answer(c, open_id, when).await;
}

#[tokio::test]
async fn the_clock_set_to_extremes_never_breaks_an_answer() {
    for at in [
        i64::MAX,
        i64::MAX - 1,
        i64::MIN,
        i64::MIN + 1,
        -1,
        0,
        -86_400_000 * 365 * 3_000,
        86_400_000 * 365 * 300_000,
    ] {
        let mut c = TestClient::ready().await;
        let open_id = c.member(PHONE).await;
        let (status, clock) =
            control(&c, reqwest::Method::POST, "/clock", json!({"set_ms": at})).await;
        assert_eq!(status, 200, "set_ms {at}: {clock}");
        check_after(&mut c, &open_id, &format!("set_ms {at}")).await;
    }
}

#[tokio::test]
async fn the_clock_advanced_by_extremes_never_breaks_an_answer() {
    for steps in [
        vec![i64::MAX],
        vec![i64::MIN],
        vec![i64::MAX, i64::MAX],
        vec![i64::MIN, i64::MIN, i64::MAX],
        vec![86_400_000 * 365 * 300_000, 86_400_000 * 365 * 300_000],
    ] {
        let mut c = TestClient::ready().await;
        let open_id = c.member(PHONE).await;
        for by in &steps {
            let (status, clock) = control(
                &c,
                reqwest::Method::POST,
                "/clock",
                json!({"advance_ms": by}),
            )
            .await;
            assert_eq!(status, 200, "advance_ms {by}: {clock}");
        }
        check_after(&mut c, &open_id, &format!("advance_ms {steps:?}")).await;
    }
}

#[tokio::test]
async fn in_process_controls_take_extreme_clocks() {
    let c = TestClient::ready().await;
    let open_id = c.member(PHONE).await;
    let control = c.sandbox.control();
    for at in [i64::MAX, i64::MIN, -1] {
        control.set_time_ms(at);
        let _ = control.token_calls();
        let _ = control.dump();
        assert!(control.ledger(&open_id).is_some());
        control.advance(Duration::MAX);
        let _ = control.token_calls();
        let _ = control.dump();
        control.advance_ms(i64::MIN);
        let _ = control.dump();
    }
}
