//! HTTP: the gateway route, the reply envelope, faults, and the `Date` header.
//!
//! Every platform answer is HTTP 200 with the envelope of the document's examples:
//! `{"success":true,"error_code":200,"error_message":"","data":…}` (3.1, 3.3), paged
//! replies adding top-level `pageNo`, `pageSize`, `totalCount`; errors
//! `{"success":false,"error_code":N,"error_message":"…","data":null}` (3.4.1).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Path, Request, State};
use axum::http::header::{CONTENT_TYPE, DATE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::map_response_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use openplatform_runtime::Verb;
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::clock::http_date;
use crate::conn::ConnKill;
use crate::error::{ApiError, ApiResult};
use crate::faults::Fault;
use crate::gateway::{Answer, Call, process};
use crate::inspector::log::{NewEntry, Outcome};
use crate::server::Shared;
use crate::state::Page;

/// The largest body read (the platform's bodies are small JSON objects).
const BODY_LIMIT: usize = 4 * 1024 * 1024;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/gw/gateway/{method}/v1", get(gateway).post(gateway))
        .route(zvcms::PROTOCOL.path_template, post(zvcms_call))
        .merge(crate::controls::router())
        .merge(crate::zvcms_api::controls::router())
        .merge(crate::inspector::router())
        .fallback(not_found)
        .layer(map_response_with_state(shared.clone(), add_date))
        .with_state(shared)
}

#[derive(Serialize)]
struct Envelope<'a> {
    success: bool,
    error_code: i64,
    error_message: &'a str,
    data: Data<'a>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    page: Option<Page>,
}

/// An envelope's `data`: a value, or JSON already serialized.
#[derive(Serialize)]
#[serde(untagged)]
enum Data<'a> {
    Value(&'a Value),
    Raw(&'a RawValue),
}

/// The envelope of a reply, as bytes.
pub(crate) fn envelope(result: &ApiResult<Answer>) -> Vec<u8> {
    let null = Value::Null;
    let success_code = gree_ump::PROTOCOL.success_code.unwrap_or(200);
    let env = match result {
        Ok(Answer::Reply(reply)) => Envelope {
            success: true,
            error_code: success_code,
            error_message: "",
            data: Data::Value(&reply.data),
            page: reply.page,
        },
        Ok(Answer::Member(data)) => Envelope {
            success: true,
            error_code: success_code,
            error_message: "",
            data: Data::Raw(data),
            page: None,
        },
        Err(e) => Envelope {
            success: false,
            error_code: e.code,
            error_message: &e.message,
            data: Data::Value(&null),
            page: None,
        },
    };
    serde_json::to_vec(&env).unwrap_or_else(|_| {
        br#"{"success":false,"error_code":500,"error_message":"encoding failed","data":null}"#
            .to_vec()
    })
}

fn json_response(body: impl Into<Bytes>) -> Response {
    let mut res = Response::new(Body::from(body.into()));
    res.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=UTF-8"),
    );
    res
}

fn error_response(e: ApiError) -> Response {
    json_response(envelope(&Err(e)))
}

/// What the request log keeps of a call, known before it is answered.
struct Record {
    shared: Arc<Shared>,
    at_ms: i64,
    verb: &'static str,
    method: String,
    query: String,
    body: Bytes,
    fault: Option<Fault>,
}

impl Record {
    /// Logs the call with the reply the client gets (or would have got), and passes the
    /// response through.
    fn answer(self, reply: Bytes, outcome: Outcome, res: Response) -> Response {
        self.shared.log.record(NewEntry {
            at_ms: self.at_ms,
            verb: self.verb,
            method: self.method,
            query: self.query,
            body: self.body,
            reply,
            outcome,
            fault: self.fault,
        });
        res
    }

    /// Logs an envelope answer and sends it.
    fn json(self, reply: Bytes, outcome: Outcome) -> Response {
        let res = json_response(reply.clone());
        self.answer(reply, outcome, res)
    }

    fn error(self, e: ApiError) -> Response {
        let outcome = Outcome::Error(e.code);
        self.json(Bytes::from(envelope(&Err(e))), outcome)
    }
}

async fn gateway(
    State(shared): State<Arc<Shared>>,
    Path(method): Path<String>,
    request: Request,
) -> Response {
    let at_ms = shared.now_ms();
    let (parts, body) = request.into_parts();
    let kill = parts
        .extensions
        .get::<ConnectInfo<ConnKill>>()
        .map(|c| c.0.clone());
    let verb = if parts.method == Method::GET {
        Verb::Get
    } else {
        Verb::Post
    };
    let raw_query = parts.uri.query().unwrap_or_default();
    // The pairs axum's `Query<Vec<(String, String)>>` gave (serde_urlencoded reads them
    // with this same parser, and a list of string pairs cannot fail to deserialize),
    // without its serde layers.
    let query: Vec<(String, String)> = form_urlencoded::parse(raw_query.as_bytes())
        .into_owned()
        .collect();
    let mut record = Record {
        shared: shared.clone(),
        at_ms,
        verb: verb.as_str(),
        method: method.clone(),
        query: raw_query.to_owned(),
        body: Bytes::new(),
        fault: None,
    };
    let body: Bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(e) => return record.error(ApiError::invalid(format!("body: {e}"))),
    };
    // A clone of `Bytes` shares the buffer: the log keeps the body without a copy.
    record.body = body.clone();

    // A router that enforces the document's verbs refuses the other before anything
    // else: HTTP 405 naming the verb it takes.
    if shared.config.verbs == crate::config::VerbReading::DocumentHttp405
        && let Some(info) = gree_ump::generated::routes::AnyRequest::endpoint(&method)
        && let Some(wanted) = crate::gateway::wanted_verb(shared.config.verbs, verb, info.doc_verb)
    {
        shared
            .verb_refusals
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        const REFUSAL: &str = "<html><body>405 Method Not Allowed</body></html>";
        let mut res = (StatusCode::METHOD_NOT_ALLOWED, REFUSAL).into_response();
        res.headers_mut().insert(
            axum::http::header::ALLOW,
            HeaderValue::from_static(wanted.as_str()),
        );
        return record.answer(
            Bytes::from_static(REFUSAL.as_bytes()),
            Outcome::Http(405),
            res,
        );
    }
    let fault = shared.faults().take(&method);
    record.fault = fault;
    let delay_before = match fault {
        Some(Fault::Busy) => {
            return record.error(ApiError::of(gree_ump::ErrorCode::SystemBusy));
        }
        Some(Fault::Reject { code }) => {
            return record.error(ApiError::of(gree_ump::ErrorCode::from_code(code)));
        }
        Some(Fault::HttpStatus { status }) => {
            // Only final error statuses: an informational or success status without the
            // envelope would not be a fault a proxy produces.
            let status = StatusCode::from_u16(status)
                .ok()
                .filter(|s| s.is_client_error() || s.is_server_error())
                .unwrap_or(StatusCode::BAD_GATEWAY);
            let text = format!("<html><body>{status}</body></html>");
            let res = (status, text.clone()).into_response();
            return record.answer(Bytes::from(text), Outcome::Http(status.as_u16()), res);
        }
        Some(Fault::Slow { delay_ms } | Fault::CommitAfterTimeout { delay_ms }) => delay_ms,
        _ => 0,
    };

    let run = move || {
        let call = Call {
            verb,
            method: &method,
            query: &query,
            body: &body,
        };
        let result = process(&shared, &call);
        // Saved before the reply leaves: an acknowledged change is on disk.
        shared.save();
        let outcome = match &result {
            Ok(_) => Outcome::Ok,
            Err(e) => Outcome::Error(e.code),
        };
        (envelope(&result), outcome)
    };
    let (bytes, outcome) = if delay_before > 0 {
        // The slow fault: processed in a task of its own, so the state changes even when
        // the client gives up while the call waits (a timeout must leave the outcome
        // unknown, as in production).
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay_before)).await;
            busy_on_panic(run)
        })
        .await
        .unwrap_or_else(|_| busy_answer())
    } else {
        // Otherwise inline: the work is synchronous (no await between the start of the
        // processing and the save), so a client that gives up cannot interrupt it.
        busy_on_panic(run)
    };
    let bytes = Bytes::from(bytes);

    match fault {
        Some(Fault::DropAfterCommit | Fault::CommitAfterTimeout { .. }) => {
            if let Some(kill) = kill {
                kill.kill();
            }
            // Nothing of this reaches the client: the connection is cut. (Without the
            // sandbox's listener there is no switch, and the reply is a busy answer.)
            // The log keeps the reply that was never delivered.
            let res = error_response(ApiError::of(gree_ump::ErrorCode::SystemBusy));
            record.answer(bytes, Outcome::Dropped, res)
        }
        Some(Fault::Malformed) => {
            let cut = bytes.slice(..bytes.len() / 2);
            record.json(cut, Outcome::Malformed)
        }
        Some(Fault::SlowAfterCommit { delay_ms }) => {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            record.json(bytes, outcome)
        }
        _ => record.json(bytes, outcome),
    }
}

/// The "busy" envelope: the answer to a call whose processing failed unexpectedly.
fn busy() -> Vec<u8> {
    envelope(&Err(ApiError::of(gree_ump::ErrorCode::SystemBusy)))
}

/// The "busy" answer and its outcome.
fn busy_answer() -> (Vec<u8>, Outcome) {
    let code = ApiError::of(gree_ump::ErrorCode::SystemBusy).code;
    (busy(), Outcome::Error(code))
}

/// The envelope `run` builds, or the "busy" answer if it panics (as a spawned task's
/// panic was answered before the work was done inline).
fn busy_on_panic(run: impl FnOnce() -> (Vec<u8>, Outcome)) -> (Vec<u8>, Outcome) {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or_else(|_| busy_answer())
}

/// A zvcms call (`POST /api/v2`), when the sandbox serves zvcms; otherwise 404.
async fn zvcms_call(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let Some(config) = &shared.config.zvcms else {
        return not_found().await;
    };
    let reply = crate::zvcms_api::process(config, &mut shared.world(), &body);
    // Saved before the reply leaves, like a gateway call.
    shared.save();
    json_response(reply)
}

async fn not_found() -> Response {
    let mut res = error_response(ApiError::invalid(
        "unknown path: calls go to /gw/gateway/{method}/v1, test controls to /__sandbox/",
    ));
    *res.status_mut() = StatusCode::NOT_FOUND;
    res
}

/// Every reply says the sandbox's time, so clients can measure their skew against it.
async fn add_date(State(shared): State<Arc<Shared>>, mut res: Response) -> Response {
    if let Some(v) = date_header(shared.now_ms()) {
        res.headers_mut().insert(DATE, v);
    }
    res
}

/// The last `Date` header made, with the second of the sandbox clock it says.
static LAST_DATE: std::sync::Mutex<Option<(i64, HeaderValue)>> = std::sync::Mutex::new(None);

/// The `Date` header of an instant, formatted once per second of the sandbox clock (the
/// header says whole seconds, so it is a function of the second alone, whichever
/// sandbox of the process asks).
fn date_header(now_ms: i64) -> Option<HeaderValue> {
    let second = now_ms.div_euclid(1000);
    let mut last = LAST_DATE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((at, value)) = last.as_ref()
        && *at == second
    {
        return Some(value.clone());
    }
    let value = HeaderValue::from_str(&http_date(now_ms)).ok()?;
    *last = Some((second, value.clone()));
    Some(value)
}

#[cfg(test)]
mod tests {
    use crate::error::ApiError;
    use crate::gateway::PANIC_METHOD;
    use crate::{Sandbox, SandboxConfig, SandboxHandle};

    /// A sandbox of the default configuration, and a plain HTTP client.
    async fn sandbox_and_http() -> (SandboxHandle, reqwest::Client) {
        let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
        gree_ump::runtime::install_tls_provider();
        (sandbox, reqwest::Client::new())
    }

    /// POSTs `body` to `url`; the reply, as JSON.
    async fn post_json(http: &reqwest::Client, url: String, body: Vec<u8>) -> serde_json::Value {
        let reply = http.post(url).body(body).send().await.unwrap();
        serde_json::from_slice(&reply.bytes().await.unwrap()).unwrap()
    }

    /// The query string is read as `application/x-www-form-urlencoded`: percent-escapes
    /// and `+` decoded, bad UTF-8 replaced, pairs kept in order (the signature is checked
    /// over the decoded values, and the timestamp's error quotes its value as decoded).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_query_is_form_decoded() {
        let (sandbox, http) = sandbox_and_http().await;
        let body = br#"{"open_id":"x"}"#;
        let decoded = [("timestamp", "12 a中\u{fffd}=")];
        let sign = openplatform_runtime::ump_md5::sign_sorted(
            &decoded,
            body,
            sandbox.app_secret().as_bytes(),
        );
        let url = format!(
            "{}?timestamp=%31%32+a%E4%B8%AD%FF%3D&&sign={}&",
            sandbox.method_url("wk.user.info.query"),
            sign.as_str()
        );
        let reply = post_json(&http, url, body.to_vec()).await;
        assert_eq!(
            reply["error_message"],
            "请求参数不合法: timestamp must be milliseconds, got \"12 a中\u{fffd}=\"",
            "{reply}"
        );
        // A wrong signature of the same query is refused as such.
        let url = format!(
            "{}?timestamp=%31%32+a%E4%B8%AD%FF%3D&sign=0{}",
            sandbox.method_url("wk.user.info.query"),
            sign.as_str()
        );
        let reply = post_json(&http, url, body.to_vec()).await;
        assert_eq!(
            reply["error_message"], "请求参数不合法: sign verification failed (签名错误)",
            "{reply}"
        );
        sandbox.shutdown().await;
    }

    /// A business call's errors keep their order: the access token is checked before the
    /// body is (the body is decoded before the world is locked, its error kept for then).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_bad_token_is_answered_before_a_bad_body() {
        let (sandbox, http) = sandbox_and_http().await;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            .to_string();
        let mut answers = Vec::new();
        for body in [&b"[1,2]"[..], b"{\"open_id\":", b"{}"] {
            let params = [
                ("access_token", "no-such-token"),
                ("timestamp", now.as_str()),
            ];
            let sign = openplatform_runtime::ump_md5::sign_sorted(
                &params,
                body,
                sandbox.app_secret().as_bytes(),
            );
            let url = format!(
                "{}?access_token=no-such-token&timestamp={now}&sign={}",
                sandbox.method_url("wk.user.info.query"),
                sign.as_str()
            );
            answers.push(post_json(&http, url, body.to_vec()).await);
        }
        // The same token error each time, whatever the body.
        assert_eq!(answers[0]["success"], false);
        assert_ne!(answers[0]["error_code"], 1001, "{}", answers[0]);
        assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
        sandbox.shutdown().await;
    }

    /// A panic while a call is processed (a bug) is answered "busy", HTTP 200, and the
    /// sandbox goes on answering.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_panic_is_answered_busy() {
        let (sandbox, http) = sandbox_and_http().await;
        let busy = super::busy();
        for _ in 0..3 {
            let res = http
                .post(sandbox.method_url(PANIC_METHOD))
                .body("{}")
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200);
            assert_eq!(res.bytes().await.unwrap(), busy);
        }
        let res = http
            .post(sandbox.method_url("no.such.method"))
            .body("{}")
            .send()
            .await
            .unwrap();
        let reply = res.bytes().await.unwrap();
        assert!(
            reply.starts_with(br#"{"success":false,"error_code":"#),
            "{reply:?}"
        );
        assert_ne!(reply, busy);
        sandbox.shutdown().await;
    }

    /// The cached `Date` header is the one formatted afresh, whatever the order of the
    /// instants asked (same second, the next, back in time, before 1970, out of range).
    #[test]
    fn the_date_header_is_the_formatted_date() {
        let instants = [
            1_700_000_000_000,
            1_700_000_000_999,
            1_700_000_001_000,
            1_700_000_000_500,
            0,
            -1,
            -1_000,
            -1_001,
            784_111_777_000,
            i64::MAX,
            i64::MIN,
            1_700_000_000_001,
        ];
        for ms in instants.into_iter().chain(instants) {
            let expected = axum::http::HeaderValue::from_str(&crate::clock::http_date(ms)).ok();
            assert_eq!(super::date_header(ms), expected, "{ms}");
        }
    }

    #[test]
    fn busy_on_panic_answers_busy() {
        let busy = super::busy();
        assert_eq!(
            busy,
            super::envelope(&Err(ApiError::of(gree_ump::ErrorCode::SystemBusy)))
        );
        assert_eq!(super::busy_on_panic(|| panic!("a bug")).0, busy);
        let ok = super::busy_on_panic(|| (b"ok".to_vec(), super::Outcome::Ok));
        assert_eq!(ok, (b"ok".to_vec(), super::Outcome::Ok));
    }
}
