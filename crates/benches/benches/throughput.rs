//! The sandbox's throughput for a signed member query (3.2) against a bare axum handler
//! that returns the same reply bytes, both measured in the same run under the same load.
//!
//! The load generator is a reqwest client on a multi-thread runtime keeping
//! [`CONCURRENCY`] requests in flight over loopback; one iteration is [`REQUESTS`]
//! requests. Every request is built the same way for both servers (a fresh timestamp, an
//! MD5 signature, the access token in the query, the JSON body), so the client's work is
//! identical and the difference is the server's: the sandbox checks the signature, the
//! timestamp and the token, decodes and validates the request, looks the member up and
//! builds its reply; the bare handler only answers fixed bytes.
//!
//! Floor: the sandbox serves at least half of the bare handler's requests per second.
//! The two functions run one after the other and share the machine with the load
//! generator: measure on an otherwise idle machine, as load from other processes during
//! one of them skews the ratio.
//!
//! ```sh
//! cargo bench -p gree-ump-benches --bench throughput
//! python3 scripts/bench-ratios.py
//! ```

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use axum::serve::ListenerExt;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use gree_ump_sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use openplatform_runtime::ump_md5;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::task::JoinSet;

/// Requests in flight at any time.
const CONCURRENCY: usize = 64;
/// Requests per measured iteration.
const REQUESTS: usize = 2_048;

const QUERY_METHOD: &str = "wk.user.info.query";
const PHONE: &str = "13800000000";

/// Where the load goes and what it sends.
struct Target {
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

/// `requests` queries with `CONCURRENCY` in flight.
async fn load(http: &reqwest::Client, target: &Arc<Target>, requests: usize) {
    let mut workers = JoinSet::new();
    for worker in 0..CONCURRENCY {
        let share = requests / CONCURRENCY + usize::from(worker < requests % CONCURRENCY);
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
}

/// A signed call of the sandbox for the set-up (token, member, reference reply).
async fn signed_call(
    http: &reqwest::Client,
    sandbox: &SandboxHandle,
    method: &str,
    credential: (&str, &str),
    body: &Value,
) -> Bytes {
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
    reply
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
    let tokens: Value = serde_json::from_slice(&tokens).expect("JSON");
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
    let created: Value = serde_json::from_slice(&created).expect("JSON");
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

fn throughput(c: &mut Criterion) {
    let rt = Runtime::new().expect("a multi-thread runtime");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .expect("a reqwest client");

    let (sandbox, sandbox_target, bare_target) = rt.block_on(async {
        let (sandbox, target) = sandbox_target(&http).await;
        // The bare handler answers exactly the bytes the sandbox answers for the query.
        let reply = send(&http, &target).await;
        assert!(reply.starts_with(br#"{"success":true"#));
        let base = bare_axum(reply).await;
        let bare = Target {
            url: format!("{base}/gw/gateway/{QUERY_METHOD}/v1"),
            access_token: target.access_token.clone(),
            secret: target.secret.clone(),
            body: target.body.clone(),
        };
        (sandbox, Arc::new(target), Arc::new(bare))
    });

    let mut group = c.benchmark_group("sandbox_throughput");
    group.throughput(Throughput::Elements(REQUESTS as u64));
    // Iterations take tens of milliseconds: the same number of them in every sample.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(3));
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("bare_axum", |b| {
        b.to_async(&rt).iter(|| load(&http, &bare_target, REQUESTS));
    });
    group.bench_function("sandbox_member_query", |b| {
        b.to_async(&rt)
            .iter(|| load(&http, &sandbox_target, REQUESTS));
    });
    group.finish();

    rt.block_on(sandbox.shutdown());
}

criterion_group!(benches, throughput);
criterion_main!(benches);
