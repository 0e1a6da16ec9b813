//! The loopback "platform" and the hand-written baseline shared by the call benchmarks.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::http::Uri;
use gree_ump::Client;
use gree_ump::endpoints::QueryMemberRequest;
use openplatform_runtime::ump_md5;

const SECRET: &str = "bench-secret";
const MEMBER: &str = r#"{"success":true,"error_code":200,"error_message":"","data":{"open_id":"25c56912e05847c0b09f03ca7e52b796","nickname":"张大三","realname":"张三","gender":1,"level_number":2,"level_name":"银卡会员","score":245,"growth_value":300,"coupon_num":98,"birthday":"2019-02-27","register_time":1543222562000,"next_level_growth_value":300,"next_level_name":"二级会员","next_level_num":2,"is_max_level":0}}"#;

async fn platform(uri: Uri, _body: Bytes) -> String {
    if uri.path().contains("dss.auth.token.query") {
        return r#"{"success":true,"data":{"access_token":"at-bench","refresh_token":"rt-bench","expire_in":7200}}"#.into();
    }
    MEMBER.into()
}

/// What a careful user would write by hand: serialize, sign, send, read, decode.
pub(crate) async fn hand_written(
    http: &reqwest::Client,
    base: &str,
    request: &QueryMemberRequest,
) -> serde_json::Value {
    let body = serde_json::to_vec(request).unwrap();
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        .to_string();
    let params = [("access_token", "at-bench"), ("timestamp", ts.as_str())];
    let signature = ump_md5::sign_sorted(&params, &body, SECRET.as_bytes());
    let url = format!(
        "{base}/gw/gateway/wk.user.info.query/v1?access_token=at-bench&timestamp={ts}&sign={}",
        signature.as_str()
    );
    let reply = http
        .post(url)
        .header("content-type", "application/json;charset=utf-8")
        .body(body)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let envelope: serde_json::Value = serde_json::from_slice(&reply).unwrap();
    envelope["data"].clone()
}

/// The same call through the SDK's typed client.
pub(crate) async fn sdk_call(
    client: &Client,
    request: &QueryMemberRequest,
) -> gree_ump::models::MemberInfo {
    client
        .members()
        .query_member(request.clone())
        .await
        .unwrap()
}

/// Everything both contenders need: the server's base URL, the client (with its token
/// already obtained), a reqwest client, and the request; both connections are warm.
pub(crate) struct Setup {
    pub base: String,
    pub client: Client,
    pub http: reqwest::Client,
    pub request: QueryMemberRequest,
}

pub(crate) fn setup(rt: &tokio::runtime::Runtime) -> Setup {
    let base = rt.block_on(async {
        let app = axum::Router::new().fallback(platform);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        format!("http://{addr}")
    });
    let client = Client::builder()
        .base_url(&base)
        .app_id("bench-app")
        .app_secret(SECRET)
        .token_store(std::sync::Arc::new(
            openplatform_runtime::tokens::MemoryTokenStore::new(),
        ))
        .build()
        .unwrap();
    // A careful hand-written client sets the same timeouts as the SDK's defaults (a
    // production call without a timeout can hang forever); each costs a timer per call.
    gree_ump::runtime::install_tls_provider();
    let http = reqwest::Client::builder()
        .connect_timeout(openplatform_runtime::client::DEFAULT_CONNECT_TIMEOUT)
        .timeout(openplatform_runtime::client::DEFAULT_TIMEOUT)
        .build()
        .unwrap();
    let request = QueryMemberRequest::new().open_id("25c56912e05847c0b09f03ca7e52b796");
    // Warm both: the client obtains its token, both open a pooled connection.
    rt.block_on(async {
        sdk_call(&client, &request).await;
        hand_written(&http, &base, &request).await;
    });
    Setup {
        base,
        client,
        http,
        request,
    }
}
