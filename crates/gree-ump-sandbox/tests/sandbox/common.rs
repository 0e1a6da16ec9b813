//! A minimal signing client for the tests.

#![allow(dead_code)]

use gree_ump_sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use openplatform_runtime::ump_md5::sign;
use serde_json::{Value, json};

pub(crate) const PHONE: &str = "13800000000";

pub(crate) struct TestClient {
    pub sandbox: SandboxHandle,
    pub http: reqwest::Client,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
}

/// What a call answered: the HTTP status and the body as JSON.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub json: Value,
}

impl Answer {
    pub(crate) fn ok(&self) -> bool {
        self.json["success"] == json!(true)
    }
    pub(crate) fn code(&self) -> i64 {
        self.json["error_code"].as_i64().unwrap_or(-1)
    }
    pub(crate) fn message(&self) -> &str {
        self.json["error_message"].as_str().unwrap_or("")
    }
    pub(crate) fn data(&self) -> &Value {
        &self.json["data"]
    }
    #[track_caller]
    pub(crate) fn expect_ok(&self) -> &Value {
        assert!(self.ok(), "expected success, got {}", self.json);
        assert_eq!(self.code(), 200, "{}", self.json);
        self.data()
    }
    #[track_caller]
    pub(crate) fn expect_err(&self, code: i64) {
        assert!(!self.ok(), "expected error {code}, got {}", self.json);
        assert_eq!(self.code(), code, "{}", self.json);
        assert_eq!(self.json["data"], Value::Null);
    }
}

impl TestClient {
    pub(crate) async fn start() -> Self {
        Self::start_with(SandboxConfig::default()).await
    }

    pub(crate) async fn start_with(config: SandboxConfig) -> Self {
        let sandbox = Sandbox::start(config).await.expect("sandbox starts");
        TestClient {
            sandbox,
            http: {
                openplatform_runtime::install_tls_provider();
                reqwest::Client::new()
            },
            access_token: None,
            refresh_token: None,
        }
    }

    /// A started sandbox with tokens already obtained.
    pub(crate) async fn ready() -> Self {
        let mut c = Self::start().await;
        c.obtain().await.expect_ok();
        c
    }

    pub(crate) fn now(&self) -> i64 {
        self.sandbox.control().now_ms()
    }

    /// Signs and sends: `params` are the query parameters besides `timestamp` and `sign`.
    pub(crate) async fn send_raw(
        &self,
        verb: reqwest::Method,
        method: &str,
        params: &[(&str, &str)],
        timestamp: i64,
        body: &str,
        secret: &str,
    ) -> reqwest::Result<reqwest::Response> {
        let ts = timestamp.to_string();
        let mut query: Vec<(&str, &str)> = params.to_vec();
        query.push(("timestamp", &ts));
        let signature = sign(&query, body.as_bytes(), secret.as_bytes());
        query.push(("sign", signature.as_str()));
        self.http
            .request(verb, self.sandbox.method_url(method))
            .query(&query)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
    }

    pub(crate) async fn answer(resp: reqwest::Response) -> Answer {
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("reply is not JSON ({e}): {text}"));
        Answer { status, json }
    }

    pub(crate) async fn signed(&self, method: &str, params: &[(&str, &str)], body: &str) -> Answer {
        let resp = self
            .send_raw(
                reqwest::Method::POST,
                method,
                params,
                self.now(),
                body,
                self.sandbox.app_secret(),
            )
            .await
            .expect("request sent");
        Self::answer(resp).await
    }

    /// 2.1; keeps the tokens on success.
    pub(crate) async fn obtain(&mut self) -> Answer {
        let app_id = self.sandbox.app_id().to_owned();
        let a = self
            .signed("dss.auth.token.query", &[("app_id", &app_id)], "")
            .await;
        if a.ok() {
            self.access_token = a.data()["access_token"].as_str().map(str::to_owned);
            self.refresh_token = a.data()["refresh_token"].as_str().map(str::to_owned);
        }
        a
    }

    /// 2.2; keeps the new access token on success.
    pub(crate) async fn refresh(&mut self) -> Answer {
        let rt = self.refresh_token.clone().unwrap_or_default();
        let a = self
            .signed("dss.auth.token.refresh", &[("refresh_token", &rt)], "")
            .await;
        if a.ok() {
            self.access_token = a.data()["access_token"].as_str().map(str::to_owned);
        }
        a
    }

    /// A business call with the current access token.
    pub(crate) async fn call(&self, method: &str, body: Value) -> Answer {
        self.call_text(method, &body.to_string()).await
    }

    pub(crate) async fn call_text(&self, method: &str, body: &str) -> Answer {
        let at = self.access_token.clone().unwrap_or_default();
        self.signed(method, &[("access_token", &at)], body).await
    }

    /// A business call that may fail at the transport level.
    pub(crate) async fn try_call(
        &self,
        method: &str,
        body: Value,
    ) -> reqwest::Result<reqwest::Response> {
        let at = self.access_token.clone().unwrap_or_default();
        self.send_raw(
            reqwest::Method::POST,
            method,
            &[("access_token", &at)],
            self.now(),
            &body.to_string(),
            self.sandbox.app_secret(),
        )
        .await
    }

    /// Registers a member; returns its open_id.
    pub(crate) async fn member(&self, phone: &str) -> String {
        let a = self
            .call(
                "wk.user.info.add",
                json!({"project_id": "18756", "nickname": "张三", "phone": phone}),
            )
            .await;
        a.expect_ok().as_str().expect("open_id").to_owned()
    }

    /// Credits (`event_add`) or debits (`event_subtract`) points.
    pub(crate) async fn change(
        &self,
        open_id: &str,
        event: &str,
        score: i64,
        change_id: &str,
    ) -> Answer {
        self.call(
            "wk.user.event.score.change",
            json!({
                "open_id": open_id, "score": score, "out_biz_no": format!("biz-{change_id}"),
                "change_reason": "test", "change_event": event, "change_id": change_id,
            }),
        )
        .await
    }

    pub(crate) fn balance(&self, member: &str) -> i64 {
        self.sandbox.control().ledger(member).expect("member").score
    }
}
