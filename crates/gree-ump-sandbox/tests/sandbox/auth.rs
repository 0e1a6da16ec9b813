//! Signature, timestamp, tokens and their daily limits.

use std::time::Duration;

use gree_ump_sandbox::{SandboxConfig, TimestampScope};
use serde_json::{Value, json};

use crate::common::{PHONE, TestClient};

const DAY_MS: i64 = 86_400_000;

#[tokio::test]
async fn obtain_issues_tokens_in_the_documented_shape() {
    let mut c = TestClient::start().await;
    let a = c.obtain().await;
    let data = a.expect_ok();
    assert_eq!(a.json["error_message"], "");
    let at = data["access_token"].as_str().unwrap();
    let rt = data["refresh_token"].as_str().unwrap();
    assert_eq!((at.len(), &at[..2]), (34, "at"));
    assert_eq!((rt.len(), &rt[..2]), (34, "rt"));
    assert_eq!(data["expire_in"], 7200);
}

#[tokio::test]
async fn bad_signature_is_refused() {
    let c = TestClient::ready().await;
    let at = c.access_token.clone().unwrap();
    let resp = c
        .send_raw(
            reqwest::Method::POST,
            "wk.user.level.list",
            &[("access_token", &at)],
            c.now(),
            "{}",
            "not-the-secret",
        )
        .await
        .unwrap();
    let a = TestClient::answer(resp).await;
    assert_eq!(a.status, 200);
    a.expect_err(1001);
    assert!(a.message().contains("sign"), "{}", a.message());

    // A body changed after signing fails too: the raw body is signed.
    let ts = c.now().to_string();
    let params = [("access_token", at.as_str()), ("timestamp", ts.as_str())];
    let sig =
        openplatform_runtime::ump_md5::sign(&params, b"{}", c.sandbox.app_secret().as_bytes());
    let resp = c
        .http
        .post(c.sandbox.method_url("wk.user.level.list"))
        .query(&params)
        .query(&[("sign", sig.as_str())])
        .body(r#"{"page_no":1}"#)
        .send()
        .await
        .unwrap();
    TestClient::answer(resp).await.expect_err(1001);

    // No sign at all.
    let resp = c
        .http
        .post(c.sandbox.method_url("wk.user.level.list"))
        .query(&params)
        .body("{}")
        .send()
        .await
        .unwrap();
    TestClient::answer(resp).await.expect_err(1001);
}

/// A business call (3.8) signed with a timestamp `offset` ms from the sandbox clock.
async fn level_list_at(c: &TestClient, offset: i64) -> crate::common::Answer {
    let at = c.access_token.clone().unwrap();
    let resp = c
        .send_raw(
            reqwest::Method::POST,
            "wk.user.level.list",
            &[("access_token", &at)],
            c.now().saturating_add(offset),
            "{}",
            c.sandbox.app_secret(),
        )
        .await
        .unwrap();
    TestClient::answer(resp).await
}

/// 2.1 signed with a timestamp `offset` ms from the sandbox clock.
async fn obtain_at(c: &TestClient, offset: i64) -> crate::common::Answer {
    let resp = c
        .send_raw(
            reqwest::Method::POST,
            "dss.auth.token.query",
            &[("app_id", c.sandbox.app_id())],
            c.now().saturating_add(offset),
            "",
            c.sandbox.app_secret(),
        )
        .await
        .unwrap();
    TestClient::answer(resp).await
}

/// 2.2 signed with a timestamp `offset` ms from the sandbox clock.
async fn refresh_at(c: &TestClient, offset: i64) -> crate::common::Answer {
    let rt = c.refresh_token.clone().unwrap();
    let resp = c
        .send_raw(
            reqwest::Method::POST,
            "dss.auth.token.refresh",
            &[("refresh_token", &rt)],
            c.now().saturating_add(offset),
            "",
            c.sandbox.app_secret(),
        )
        .await
        .unwrap();
    TestClient::answer(resp).await
}

#[track_caller]
fn refused_for_its_timestamp(a: &crate::common::Answer) {
    a.expect_err(1001);
    assert!(a.message().contains("timestamp"), "{}", a.message());
}

#[tokio::test]
async fn by_default_the_window_applies_to_2_1_and_2_2_only() {
    // Errata E73: the document states the 3 s window for 2.1/2.2 only.
    let c = TestClient::ready().await;
    assert_eq!(
        c.sandbox.control().timestamp_scope(),
        TimestampScope::TokenCalls
    );
    // 2.1 and 2.2 with a stale or early timestamp: refused, and no budget spent.
    for offset in [-3_500, 3_500, -86_400_000] {
        refused_for_its_timestamp(&obtain_at(&c, offset).await);
        refused_for_its_timestamp(&refresh_at(&c, offset).await);
    }
    let counts = c.sandbox.control().token_calls();
    assert_eq!((counts.obtain_calls, counts.refresh_calls), (1, 0));
    // Within the window: 2.2 works.
    refresh_at(&c, 2_000).await.expect_ok();
    // A business call with a stale timestamp: accepted.
    for offset in [-3_500, 3_500, -86_400_000, 2_000] {
        level_list_at(&c, offset).await.expect_ok();
    }
    // The document's own example value, timestamp=1: accepted on a business call…
    let at = c.access_token.clone().unwrap();
    let resp = c
        .send_raw(
            reqwest::Method::POST,
            "wk.user.level.list",
            &[("access_token", &at)],
            1,
            "{}",
            c.sandbox.app_secret(),
        )
        .await
        .unwrap();
    TestClient::answer(resp).await.expect_ok();
    // …but a timestamp is still required, as milliseconds.
    let resp = c
        .http
        .post(c.sandbox.method_url("wk.user.level.list"))
        .query(&[("access_token", at.as_str()), ("timestamp", "yesterday")])
        .body("{}")
        .send()
        .await
        .unwrap();
    TestClient::answer(resp).await.expect_err(1001);
}

#[tokio::test]
async fn in_strict_mode_the_window_applies_to_every_call() {
    let config = SandboxConfig::default().with_timestamp_scope(TimestampScope::EveryCall);
    let mut c = TestClient::start_with(config).await;
    c.obtain().await.expect_ok();
    for offset in [-3_500, 3_500, -86_400_000] {
        refused_for_its_timestamp(&level_list_at(&c, offset).await);
        refused_for_its_timestamp(&obtain_at(&c, offset).await);
        refused_for_its_timestamp(&refresh_at(&c, offset).await);
    }
    for offset in [-2_000, 2_000] {
        level_list_at(&c, offset).await.expect_ok();
    }
    refresh_at(&c, 2_000).await.expect_ok();
}

#[tokio::test]
async fn the_timestamp_scope_is_a_run_time_control_until_reset() {
    let c = TestClient::ready().await;
    level_list_at(&c, -10_000).await.expect_ok();
    let url = format!("{}/__sandbox/timestamps", c.sandbox.base_url());
    let view: Value = c.http.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(view, json!({"scope": "token_calls", "tolerance_ms": 3000}));
    let resp = c
        .http
        .post(&url)
        .json(&json!({"scope": "every_call"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        c.sandbox.control().timestamp_scope(),
        TimestampScope::EveryCall
    );
    refused_for_its_timestamp(&level_list_at(&c, -10_000).await);
    let bad = c
        .http
        .post(&url)
        .json(&json!({"scope": "sometimes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    c.sandbox
        .control()
        .set_timestamp_scope(TimestampScope::TokenCalls);
    level_list_at(&c, -10_000).await.expect_ok();
    c.sandbox
        .control()
        .set_timestamp_scope(TimestampScope::EveryCall);
    c.sandbox.control().reset();
    assert_eq!(
        c.sandbox.control().timestamp_scope(),
        TimestampScope::TokenCalls
    );
}

#[tokio::test]
async fn obtain_is_limited_to_once_per_beijing_day() {
    let mut c = TestClient::start().await;
    // 10:00 Beijing time, so the next day is reachable with a known step.
    c.sandbox.control().set_time_ms(1_700_013_600_000);
    c.obtain().await.expect_ok();
    let first = c.access_token.clone();
    let a = c.obtain().await;
    a.expect_err(gree_ump_sandbox::error::TOKEN_DAILY_LIMIT_CODE);
    assert_eq!(c.access_token, first, "the refused call issued nothing");
    let counts = c.sandbox.control().token_calls();
    assert_eq!((counts.obtain_calls, counts.obtain_issued), (2, 1));

    // The first token still works.
    c.call("wk.user.level.list", json!({})).await.expect_ok();

    // The next Beijing day allows one more.
    c.sandbox.control().advance_ms(DAY_MS);
    assert_eq!(c.sandbox.control().token_calls().obtain_calls, 0);
    c.obtain().await.expect_ok();
    assert_ne!(c.access_token, first);
}

#[tokio::test]
async fn unknown_app_id_is_refused() {
    let c = TestClient::start().await;
    let a = c
        .signed("dss.auth.token.query", &[("app_id", "someone-else")], "")
        .await;
    a.expect_err(110005);
    let a = c.signed("dss.auth.token.query", &[], "").await;
    a.expect_err(1001);
}

#[tokio::test]
async fn refresh_is_limited_to_twenty_per_day() {
    let mut c = TestClient::ready().await;
    let mut tokens = std::collections::HashSet::new();
    for i in 0..20 {
        let a = c.refresh().await;
        let data = a.expect_ok();
        assert_eq!(data["expire_in"], 7200, "refresh {i}");
        assert!(data.get("refresh_token").is_none());
        assert!(tokens.insert(c.access_token.clone().unwrap()));
    }
    let a = c.refresh().await;
    a.expect_err(gree_ump_sandbox::error::TOKEN_DAILY_LIMIT_CODE);
    let counts = c.sandbox.control().token_calls();
    assert_eq!((counts.refresh_calls, counts.refresh_issued), (21, 20));
    // The last issued token works.
    c.call("wk.user.level.list", json!({})).await.expect_ok();
}

#[tokio::test]
async fn expired_access_token_is_refused_then_refresh_works() {
    let mut c = TestClient::ready().await;
    c.call("wk.user.level.list", json!({})).await.expect_ok();

    c.sandbox.control().advance(Duration::from_secs(7_199));
    c.call("wk.user.level.list", json!({})).await.expect_ok();
    c.sandbox.control().advance(Duration::from_secs(2));
    let a = c.call("wk.user.level.list", json!({})).await;
    a.expect_err(1002);
    assert!(a.message().contains("access_token"), "{}", a.message());

    c.refresh().await.expect_ok();
    c.call("wk.user.level.list", json!({})).await.expect_ok();

    // Unknown token.
    c.access_token = Some("atNOTATOKEN".into());
    c.call("wk.user.level.list", json!({}))
        .await
        .expect_err(1002);
}

#[tokio::test]
async fn refresh_token_expires_after_a_year_and_can_be_revoked() {
    let mut c = TestClient::ready().await;
    c.sandbox
        .control()
        .advance(Duration::from_secs(365 * 86_400 + 1));
    let a = c.refresh().await;
    a.expect_err(1002);
    assert!(a.message().contains("refresh_token"));

    let mut c = TestClient::ready().await;
    c.sandbox.control().revoke_access_tokens();
    c.call("wk.user.level.list", json!({}))
        .await
        .expect_err(1002);
    c.refresh().await.expect_ok();
    c.call("wk.user.level.list", json!({})).await.expect_ok();
    c.sandbox.control().revoke_all_tokens();
    c.refresh().await.expect_err(1002);
}

#[tokio::test]
async fn date_header_follows_the_sandbox_clock() {
    let c = TestClient::start().await;
    c.sandbox.control().set_time_ms(784_111_777_000);
    let resp = c
        .http
        .get(format!("{}/__sandbox/clock", c.sandbox.base_url()))
        .send()
        .await
        .unwrap();
    let date = resp.headers()["date"].to_str().unwrap().to_owned();
    assert!(date.starts_with("Sun, 06 Nov 1994 08:49:3"), "{date}");
}

#[tokio::test]
async fn verbs_unknown_methods_and_garbage() {
    let c = TestClient::ready().await;
    let at = c.access_token.clone().unwrap();
    // GET is accepted where the document says GET (3.8), with the fields in the query.
    let resp = c
        .send_raw(
            reqwest::Method::GET,
            "wk.user.level.list",
            &[("access_token", &at), ("page_no", "2"), ("page_size", "3")],
            c.now(),
            "",
            c.sandbox.app_secret(),
        )
        .await
        .unwrap();
    let a = TestClient::answer(resp).await;
    assert_eq!(a.expect_ok().as_array().unwrap().len(), 3);
    assert_eq!(a.json["pageNo"], 2);
    // …and refused where it says POST.
    let resp = c
        .send_raw(
            reqwest::Method::GET,
            "wk.user.info.query",
            &[("access_token", &at), ("phone", PHONE)],
            c.now(),
            "",
            c.sandbox.app_secret(),
        )
        .await
        .unwrap();
    TestClient::answer(resp).await.expect_err(1001);

    c.call("wk.no.such.method", json!({}))
        .await
        .expect_err(1001);
    for body in [
        "not json",
        "[1,2]",
        "\"x\"",
        "{\"phone\": {\"a\": 1}}",
        "{\"open_id\": 1e999}",
    ] {
        let a = c.call_text("wk.user.info.query", body).await;
        assert!(!a.ok(), "{body}: {}", a.json);
        // The generated types decode tolerantly (an object where a string is expected
        // becomes its JSON text, an unknown phone then): an error either way, no panic.
        assert!(
            [1001, 110002, 110004].contains(&a.code()),
            "{body}: {}",
            a.json
        );
    }
    let resp = c
        .http
        .get(format!("{}/elsewhere", c.sandbox.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn after_a_clock_jump_both_clocks_are_accepted() {
    let mut c = TestClient::ready().await;
    let wall = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64
    };
    c.sandbox.control().advance(Duration::from_secs(7_300));
    let secret = c.sandbox.app_secret().to_owned();
    let rt = c.refresh_token.clone().unwrap();
    // Signed with the client's own (system) clock: accepted.
    let resp = c
        .send_raw(
            reqwest::Method::POST,
            "dss.auth.token.refresh",
            &[("refresh_token", &rt)],
            wall(),
            "",
            &secret,
        )
        .await
        .unwrap();
    let a = TestClient::answer(resp).await;
    c.access_token = a.expect_ok()["access_token"].as_str().map(str::to_owned);
    // Signed with the sandbox clock (a client following the Date header): accepted.
    c.call("wk.user.level.list", json!({})).await.expect_ok();
    // Off from both: refused (on 2.2, where the window applies by default, errata E73).
    let resp = c
        .send_raw(
            reqwest::Method::POST,
            "dss.auth.token.refresh",
            &[("refresh_token", &rt)],
            wall() + 3_600_000,
            "",
            &secret,
        )
        .await
        .unwrap();
    TestClient::answer(resp).await.expect_err(1001);
}
