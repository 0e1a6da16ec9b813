//! The HTTP test controls, reset, shutdown, configuration.

use serde_json::{Value, json};

use gree_ump_sandbox::{Sandbox, SandboxConfig};

use crate::common::{PHONE, TestClient};

async fn get(c: &TestClient, path: &str) -> (u16, Value) {
    let resp = c
        .http
        .get(format!("{}/__sandbox{path}", c.sandbox.base_url()))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn post(c: &TestClient, path: &str, body: Value) -> (u16, Value) {
    let resp = c
        .http
        .post(format!("{}/__sandbox{path}", c.sandbox.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn clock_over_http() {
    let mut c = TestClient::ready().await;
    let (_, info) = get(&c, "").await;
    assert_eq!(info["app_id"], c.sandbox.app_id());
    assert!(info.to_string().find(c.sandbox.app_secret()).is_none());

    let start = c.now() + 60_000;
    let (status, clock) = post(&c, "/clock", json!({"set_ms": start})).await;
    assert_eq!(status, 200);
    assert!(clock["now_ms"].as_i64().unwrap() - start < 1_000);
    assert_eq!(clock["now"].as_str().unwrap().len(), 19);
    let (_, clock) = post(&c, "/clock", json!({"advance_ms": 7_201_000})).await;
    assert!(clock["now_ms"].as_i64().unwrap() >= start + 7_201_000);
    // The token issued before the jump is now expired (timestamps follow the sandbox).
    c.call("wk.user.level.list", json!({}))
        .await
        .expect_err(1002);
    c.refresh().await.expect_ok();
    assert_eq!(post(&c, "/clock", json!({})).await.0, 400);
    assert_eq!(
        post(&c, "/clock", json!({"set_ms": 1, "advance_ms": 1}))
            .await
            .0,
        400
    );
}

#[tokio::test]
async fn faults_sms_ledger_counters_state_reset_over_http() {
    let c = TestClient::ready().await;
    let open_id = c.member(PHONE).await;

    let (status, plans) = post(
        &c,
        "/faults",
        json!({"method": "wk.user.info.query", "fault": {"kind": "busy"}, "times": 2}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(plans[0]["remaining"], 2);
    assert_eq!(
        post(
            &c,
            "/faults",
            json!({"method": "nope", "fault": {"kind": "busy"}})
        )
        .await
        .0,
        400
    );
    assert_eq!(
        post(
            &c,
            "/faults",
            json!({"method": "*", "fault": {"kind": "explode"}})
        )
        .await
        .0,
        400
    );
    c.call("wk.user.info.query", json!({"phone": PHONE}))
        .await
        .expect_err(500);
    let resp = c
        .http
        .delete(format!("{}/__sandbox/faults", c.sandbox.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.json::<Value>().await.unwrap(), json!([]));
    c.call("wk.user.info.query", json!({"phone": PHONE}))
        .await
        .expect_ok();

    assert_eq!(get(&c, &format!("/sms/{PHONE}")).await.0, 404);
    c.call("wk.sms.verify.send", json!({"target": PHONE}))
        .await
        .expect_ok();
    let (status, sms) = get(&c, &format!("/sms/{PHONE}")).await;
    assert_eq!(status, 200);
    assert_eq!(sms["code"].as_str().unwrap().len(), 4);
    assert_eq!(sms["used"], false);

    c.change(&open_id, "event_add", 12, "c1").await.expect_ok();
    let (_, ledger) = get(&c, &format!("/members/{PHONE}/ledger")).await;
    assert_eq!(ledger["score"], 12);
    assert_eq!(ledger["entries"][0]["amount"], 12);
    assert_eq!(get(&c, "/members/nobody/ledger").await.0, 404);
    let (_, ledger) = post(
        &c,
        &format!("/members/{open_id}/growth"),
        json!({"growth_value": 1000}),
    )
    .await;
    assert_eq!(ledger["growth_value"], 1000);
    let m = c
        .call("wk.user.info.query", json!({"open_id": open_id}))
        .await;
    assert_eq!(m.data()["level_num"], 3);

    let (_, counts) = get(&c, "/token-calls").await;
    assert_eq!(counts["obtain_calls"], 1);
    assert_eq!(counts["obtain_issued"], 1);
    assert_eq!(counts["refresh_calls"], 0);

    let (_, state) = get(&c, "/state").await;
    assert_eq!(state["members"]["by_open_id"][&open_id]["score"], 12);
    let token = c.access_token.clone().unwrap();
    assert!(
        !state.to_string().contains(&token),
        "tokens are not dumped whole"
    );

    post(&c, "/tokens/revoke", json!({})).await;
    c.call("wk.user.level.list", json!({}))
        .await
        .expect_err(1002);

    let (status, _) = post(&c, "/reset", json!({})).await;
    assert_eq!(status, 200);
    let (_, state) = get(&c, "/state").await;
    assert_eq!(state["members"]["by_open_id"], json!({}));
    assert_eq!(get(&c, "/token-calls").await.1["obtain_calls"], 0);
}

#[tokio::test]
async fn configured_credentials_and_shutdown() {
    let config = SandboxConfig::default()
        .with_app("my-app", "my-secret")
        .with_timestamp_tolerance_ms(None);
    let mut c = TestClient::start_with(config).await;
    assert_eq!(c.sandbox.app_id(), "my-app");
    c.obtain().await.expect_ok();
    // Any timestamp is accepted with the check off.
    let at = c.access_token.clone().unwrap();
    let resp = c
        .send_raw(
            reqwest::Method::POST,
            "wk.user.level.list",
            &[("access_token", &at)],
            1,
            "{}",
            "my-secret",
        )
        .await
        .unwrap();
    TestClient::answer(resp).await.expect_ok();

    let url = c.sandbox.method_url("wk.user.level.list");
    let TestClient { sandbox, http, .. } = c;
    sandbox.shutdown().await;
    assert!(
        http.post(url).send().await.is_err(),
        "nothing listens any more"
    );
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let url = format!("{}/__sandbox/clock", sandbox.base_url());
    openplatform_runtime::install_tls_provider();
    let http = reqwest::Client::new();
    assert!(http.get(&url).send().await.is_ok());
    drop(sandbox);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    // A new client: no pooled connection.
    assert!(reqwest::Client::new().get(&url).send().await.is_err());
}
