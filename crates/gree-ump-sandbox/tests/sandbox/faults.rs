//! Fault injection: drop after commit, busy, slow, malformed, HTTP errors.

use std::time::{Duration, Instant};

use gree_ump_sandbox::Fault;
use serde_json::json;

use crate::common::{PHONE, TestClient};

const CHANGE: &str = "wk.user.event.score.change";

#[tokio::test]
async fn drop_after_commit_then_recover() {
    let c = TestClient::ready().await;
    let open_id = c.member(PHONE).await;
    c.sandbox
        .control()
        .inject_fault(CHANGE, Fault::DropAfterCommit, 1);
    let body = json!({"open_id": open_id, "score": 50, "out_biz_no": "o-1", "change_reason": "r",
                      "change_event": "event_add", "change_id": "lost-1"});
    let err = c
        .try_call(CHANGE, body.clone())
        .await
        .expect_err("no reply");
    assert!(!err.is_status() && !err.is_decode(), "{err:?}");
    // The change happened.
    assert_eq!(c.balance(&open_id), 50);
    assert!(
        c.sandbox.control().faults().is_empty(),
        "the fault was consumed"
    );

    // Retrying with the same change_id is answered 150002 (the key is used): no double
    // credit.
    let retry = TestClient::answer(c.try_call(CHANGE, body).await.unwrap()).await;
    retry.expect_err(150002);
    assert_eq!(c.balance(&open_id), 50);
    assert_eq!(
        c.sandbox.control().ledger(&open_id).unwrap().entries.len(),
        1
    );

    // Or the 3.4.1 recovery path rolls it back.
    c.call(
        "wk.user.event.score.rollback",
        json!({"open_id": open_id, "rollback_score": 50, "change_id": "lost-1"}),
    )
    .await
    .expect_ok();
    assert_eq!(c.balance(&open_id), 0);
}

#[tokio::test]
async fn busy_commits_nothing() {
    let c = TestClient::ready().await;
    let open_id = c.member(PHONE).await;
    c.sandbox.control().inject_fault(CHANGE, Fault::Busy, 2);
    for _ in 0..2 {
        let a = c.change(&open_id, "event_add", 5, "b-1").await;
        a.expect_err(500);
        assert_eq!(a.message(), "系统繁忙, 请稍后再试");
    }
    assert_eq!(c.balance(&open_id), 0);
    c.change(&open_id, "event_add", 5, "b-1").await.expect_ok();
    assert_eq!(c.balance(&open_id), 5);
}

#[tokio::test]
async fn malformed_reply_after_commit() {
    let c = TestClient::ready().await;
    let open_id = c.member(PHONE).await;
    c.sandbox
        .control()
        .inject_fault(CHANGE, Fault::Malformed, 1);
    let resp = c
        .try_call(
            CHANGE,
            json!({"open_id": open_id, "score": 7, "out_biz_no": "o", "change_reason": "r",
                   "change_event": "event_add", "change_id": "m-1"}),
        )
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(
        serde_json::from_str::<serde_json::Value>(&text).is_err(),
        "{text}"
    );
    assert_eq!(c.balance(&open_id), 7);
}

#[tokio::test]
async fn slow_and_http_errors() {
    let c = TestClient::ready().await;
    c.sandbox
        .control()
        .inject_fault("wk.user.level.list", Fault::Slow { delay_ms: 300 }, 1);
    let started = Instant::now();
    c.call("wk.user.level.list", json!({})).await.expect_ok();
    assert!(started.elapsed() >= Duration::from_millis(300));

    // A client that gives up while the call waits: the call still happens.
    let open_id = c.member(PHONE).await;
    c.sandbox
        .control()
        .inject_fault(CHANGE, Fault::Slow { delay_ms: 400 }, 1);
    openplatform_runtime::install_tls_provider();
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let at = c.access_token.clone().unwrap();
    let body = json!({"open_id": open_id, "score": 9, "out_biz_no": "o", "change_reason": "r",
                      "change_event": "event_add", "change_id": "slow-1"})
    .to_string();
    let ts = c.now().to_string();
    let params = [("access_token", at.as_str()), ("timestamp", ts.as_str())];
    let sig = openplatform_runtime::ump_md5::sign(
        &params,
        body.as_bytes(),
        c.sandbox.app_secret().as_bytes(),
    );
    let err = impatient
        .post(c.sandbox.method_url(CHANGE))
        .query(&params)
        .query(&[("sign", sig.as_str())])
        .body(body)
        .send()
        .await
        .expect_err("timed out");
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(c.balance(&open_id), 0, "not yet");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(c.balance(&open_id), 9, "processed after the client left");

    c.sandbox
        .control()
        .inject_fault("*", Fault::HttpStatus { status: 502 }, 1);
    let resp = c.try_call("wk.user.level.list", json!({})).await.unwrap();
    assert_eq!(resp.status(), 502);
    c.call("wk.user.level.list", json!({})).await.expect_ok();

    c.sandbox.control().inject_fault(
        "wk.user.level.list",
        Fault::SlowAfterCommit { delay_ms: 200 },
        1,
    );
    let started = Instant::now();
    c.call("wk.user.level.list", json!({})).await.expect_ok();
    assert!(started.elapsed() >= Duration::from_millis(200));
}

/// Waits (generously: the box may be busy) until `done` holds.
async fn eventually(done: impl Fn() -> bool) -> bool {
    for _ in 0..200 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done()
}

#[tokio::test]
async fn commit_after_timeout_lands_after_the_caller_gave_up_and_retried() {
    let c = TestClient::ready().await;
    let open_id = c.member(PHONE).await;
    c.sandbox
        .control()
        .inject_fault(CHANGE, Fault::CommitAfterTimeout { delay_ms: 1_500 }, 1);
    let body = json!({"open_id": open_id, "score": 50, "out_biz_no": "o-1", "change_reason": "r",
                      "change_event": "event_add", "change_id": "late-1"});
    // The caller's timeout (300 ms) is shorter than the delay: it gives up.
    let gave_up =
        tokio::time::timeout(Duration::from_millis(300), c.try_call(CHANGE, body.clone())).await;
    assert!(gave_up.is_err(), "no answer within the caller's timeout");
    assert_eq!(c.balance(&open_id), 0, "not committed yet");
    // Its retry, same key, lands first and commits.
    c.call(CHANGE, body.clone()).await.expect_ok();
    assert_eq!(c.balance(&open_id), 50);
    // Then the held attempt is processed: 150002, nothing more.
    assert!(
        eventually(|| c.sandbox.control().faults().is_empty()).await,
        "the fault was consumed"
    );
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(c.balance(&open_id), 50, "credited once");

    // Without a retry, the held attempt commits by itself.
    c.sandbox
        .control()
        .inject_fault(CHANGE, Fault::CommitAfterTimeout { delay_ms: 300 }, 1);
    let mut other = body;
    other["change_id"] = json!("late-2");
    let gave_up = tokio::time::timeout(Duration::from_millis(100), c.try_call(CHANGE, other)).await;
    assert!(gave_up.is_err());
    assert!(
        eventually(|| c.balance(&open_id) == 100).await,
        "committed late"
    );
}
