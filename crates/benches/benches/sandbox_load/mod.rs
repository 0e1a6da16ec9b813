//! The load both sandbox benches put on a server (`sandbox_paired`, `throughput`): a
//! sandbox with one member and a valid token, a bare axum handler answering the very
//! bytes the sandbox answers, and signed member queries (3.2) sent to either with a fixed
//! number in flight over one keep-alive reqwest client.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use axum::serve::ListenerExt;
use gree_ump_sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use openplatform_runtime::ump_md5;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

const QUERY_METHOD: &str = "wk.user.info.query";
const PHONE: &str = "13800000000";

/// Where the load goes and what it sends.
pub(crate) struct Target {
    /// `{base}/gw/gateway/wk.user.info.query/v1`
    url: String,
    access_token: String,
    secret: String,
    body: Bytes,
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

/// The query's URL with a fresh timestamp and its signature.
fn signed_url(target: &Target) -> String {
    let timestamp = now_ms().to_string();
    // Sorted by name, as signing requires.
    let params = [
        ("access_token", target.access_token.as_str()),
        ("timestamp", timestamp.as_str()),
    ];
    let signature = ump_md5::sign_sorted(&params, &target.body, target.secret.as_bytes());
    format!(
        "{}?access_token={}&timestamp={timestamp}&sign={}",
        target.url,
        target.access_token,
        signature.as_str()
    )
}

/// One signed query; its reply.
async fn send(http: &reqwest::Client, target: &Target) -> Bytes {
    http.post(signed_url(target))
        .header("content-type", "application/json;charset=utf-8")
        .body(target.body.clone())
        .send()
        .await
        .expect("the request is sent")
        .bytes()
        .await
        .expect("the reply is read")
}

/// One signed query; panics unless the answer is a success (a fast error reply would
/// make the sandbox look faster than it is).
async fn query(http: &reqwest::Client, target: &Target) {
    let reply = send(http, target).await;
    assert!(
        reply.starts_with(br#"{"success":true"#),
        "not a success: {}",
        String::from_utf8_lossy(&reply)
    );
}

/// `requests` queries with `concurrency` in flight; the time they took.
pub(crate) async fn load(
    http: &reqwest::Client,
    target: &Arc<Target>,
    requests: usize,
    concurrency: usize,
) -> Duration {
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for worker in 0..concurrency {
        let share = requests / concurrency + usize::from(worker < requests % concurrency);
        let http = http.clone();
        let target = target.clone();
        workers.spawn(async move {
            for _ in 0..share {
                query(&http, &target).await;
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.expect("a load worker panicked");
    }
    started.elapsed()
}

/// A signed call of the sandbox for the set-up (token, member).
async fn signed_call(
    http: &reqwest::Client,
    sandbox: &SandboxHandle,
    method: &str,
    credential: (&str, &str),
    body: &Value,
) -> Value {
    let body = serde_json::to_vec(body).expect("JSON");
    let timestamp = now_ms().to_string();
    let mut params = vec![credential, ("timestamp", timestamp.as_str())];
    ump_md5::sort_params(&mut params);
    let signature = ump_md5::sign_sorted(&params, &body, sandbox.app_secret().as_bytes());
    let url = format!(
        "{}?{}={}&timestamp={timestamp}&sign={}",
        sandbox.method_url(method),
        credential.0,
        credential.1,
        signature.as_str()
    );
    let reply = http
        .post(url)
        .header("content-type", "application/json;charset=utf-8")
        .body(body)
        .send()
        .await
        .expect("the set-up call is sent")
        .bytes()
        .await
        .expect("the set-up reply is read");
    let envelope: Value = serde_json::from_slice(&reply).expect("a JSON reply");
    assert_eq!(envelope["success"], json!(true), "{method}: {envelope}");
    envelope
}

/// The sandbox with one member and a valid access token, and the target of the query.
async fn sandbox_target(http: &reqwest::Client) -> (SandboxHandle, Target) {
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("the sandbox starts");
    let app_id = sandbox.app_id().to_owned();
    let tokens = signed_call(
        http,
        &sandbox,
        "dss.auth.token.query",
        ("app_id", &app_id),
        &json!({}),
    )
    .await;
    let access_token = tokens["data"]["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned();
    let created = signed_call(
        http,
        &sandbox,
        "wk.user.info.add",
        ("access_token", &access_token),
        &json!({"project_id": "18756", "nickname": "张三", "phone": PHONE}),
    )
    .await;
    let open_id = created["data"].as_str().expect("an open_id").to_owned();
    let body = Bytes::from(serde_json::to_vec(&json!({ "open_id": open_id })).expect("JSON"));
    let target = Target {
        url: sandbox.method_url(QUERY_METHOD),
        access_token,
        secret: sandbox.app_secret().to_owned(),
        body,
    };
    (sandbox, target)
}

/// A bare axum server answering `reply` to every gateway call; returns its base URL.
async fn bare_axum(reply: Bytes) -> String {
    let app = Router::new().route(
        "/gw/gateway/{method}/v1",
        post(move |_body: Bytes| {
            let reply = reply.clone();
            async move { ([("content-type", "application/json;charset=UTF-8")], reply) }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("an address"));
    // As the sandbox does: replies are small, Nagle must not hold them back.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

/// A reqwest client keeping up to `concurrency` connections alive.
pub(crate) fn client(concurrency: usize) -> reqwest::Client {
    gree_ump::runtime::install_tls_provider();
    reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .expect("a reqwest client")
}

/// The sandbox (kept alive by the caller), its query target, and the bare handler's.
pub(crate) async fn targets(http: &reqwest::Client) -> (SandboxHandle, Arc<Target>, Arc<Target>) {
    let (sandbox, target) = sandbox_target(http).await;
    // The bare handler answers exactly the bytes the sandbox answers for the query.
    let reply = send(http, &target).await;
    assert!(reply.starts_with(br#"{"success":true"#));
    let base = bare_axum(reply).await;
    let bare = Target {
        url: format!("{base}/gw/gateway/{QUERY_METHOD}/v1"),
        access_token: target.access_token.clone(),
        secret: target.secret.clone(),
        body: target.body.clone(),
    };
    (sandbox, Arc::new(target), Arc::new(bare))
}
