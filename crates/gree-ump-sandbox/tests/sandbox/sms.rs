//! SMS codes.

use std::time::Duration;

use serde_json::json;

use crate::common::{PHONE, TestClient};

#[tokio::test]
async fn send_then_verify_once() {
    let c = TestClient::ready().await;
    let a = c.call("wk.sms.verify.send", json!({"target": PHONE})).await;
    assert_eq!(a.expect_ok(), &json!(true));
    let code = c
        .sandbox
        .control()
        .last_sms_code(PHONE)
        .expect("a code was sent");
    assert_eq!(code.len(), 4);
    let wrong = if code == "0000" { "1111" } else { "0000" };
    c.call(
        "wk.sms.verify.judge",
        json!({"phone": PHONE, "verify_code": wrong}),
    )
    .await
    .expect_err(140005);
    let a = c
        .call(
            "wk.sms.verify.judge",
            json!({"phone": PHONE, "verify_code": code}),
        )
        .await;
    assert_eq!(a.expect_ok(), &json!(true));
    // Used once.
    c.call(
        "wk.sms.verify.judge",
        json!({"phone": PHONE, "verify_code": code}),
    )
    .await
    .expect_err(140005);
    // Never sent.
    c.call(
        "wk.sms.verify.judge",
        json!({"phone": "13900000000", "verify_code": "1234"}),
    )
    .await
    .expect_err(140005);
    c.call(
        "wk.sms.verify.judge",
        json!({"phone": "139", "verify_code": "1234"}),
    )
    .await
    .expect_err(140002);
}

#[tokio::test]
async fn codes_expire() {
    let c = TestClient::ready().await;
    c.call("wk.sms.verify.send", json!({"target": PHONE}))
        .await
        .expect_ok();
    let code = c.sandbox.control().last_sms_code(PHONE).unwrap();
    c.sandbox.control().advance(Duration::from_secs(301));
    c.call(
        "wk.sms.verify.judge",
        json!({"phone": PHONE, "verify_code": code}),
    )
    .await
    .expect_err(140005);
}

#[tokio::test]
async fn daily_limit_and_target_errors() {
    let mut c = TestClient::ready().await;
    for _ in 0..10 {
        c.call("wk.sms.verify.send", json!({"target": PHONE}))
            .await
            .expect_ok();
    }
    let a = c.call("wk.sms.verify.send", json!({"target": PHONE})).await;
    a.expect_err(140004);
    assert!(a.message().starts_with("超出每天最大发送次数"));
    // Another phone is not limited by this one.
    c.call("wk.sms.verify.send", json!({"target": "13900000000"}))
        .await
        .expect_ok();
    // The next Beijing day.
    c.sandbox.control().advance(Duration::from_secs(86_400));
    c.refresh().await.expect_ok();
    c.call("wk.sms.verify.send", json!({"target": PHONE}))
        .await
        .expect_ok();

    c.call("wk.sms.verify.send", json!({}))
        .await
        .expect_err(140003);
    c.call("wk.sms.verify.send", json!({"target": ""}))
        .await
        .expect_err(140003);
    c.call("wk.sms.verify.send", json!({"target": "12"}))
        .await
        .expect_err(140002);
}
