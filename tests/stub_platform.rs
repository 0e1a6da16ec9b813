//! A stub platform for tests that need answers the sandbox does not give (every call
//! answered "invalid token", a message that quotes the request, a `Date` header from
//! elsewhere): a real HTTP server on 127.0.0.1 whose answers a closure decides, counting
//! the token calls it received.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// One request as the stub saw it.
#[derive(Debug, Clone)]
pub struct Seen<'a> {
    /// The HTTP verb (`GET`, `POST`).
    pub verb: &'a str,
    /// The method name, from the path `/gw/gateway/{method}/v1`.
    pub method: &'a str,
    /// The raw query string.
    pub query: &'a str,
    /// The raw body.
    pub body: &'a [u8],
}

/// The answer to one request: HTTP status, body.
pub type Answer = (u16, String);

type Answerer = dyn Fn(&Seen<'_>) -> Answer + Send + Sync;

/// The method of the token-issuing call (2.1).
pub const OBTAIN: &str = "dss.auth.token.query";
/// The method of the refresh call (2.2).
pub const REFRESH: &str = "dss.auth.token.refresh";

/// A running stub.
pub struct Stub {
    answer: Box<Answerer>,
    date: Mutex<Option<String>>,
    obtain_calls: AtomicU32,
    refresh_calls: AtomicU32,
    business_calls: AtomicU32,
    addr: SocketAddr,
}

impl Stub {
    /// Starts a stub on 127.0.0.1 (a free port) answering with `answer`.
    pub async fn start(answer: impl Fn(&Seen<'_>) -> Answer + Send + Sync + 'static) -> Arc<Stub> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let stub = Arc::new(Stub {
            answer: Box::new(answer),
            date: Mutex::new(None),
            obtain_calls: AtomicU32::new(0),
            refresh_calls: AtomicU32::new(0),
            business_calls: AtomicU32::new(0),
            addr,
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(stub.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        stub
    }

    /// The base URL of the stub.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sends `date` as the `Date` header of every answer from now on (`None`: no header).
    pub fn set_date(&self, date: Option<String>) {
        *self.date.lock().unwrap_or_else(PoisonError::into_inner) = date;
    }

    /// The token-issuing calls received.
    pub fn obtain_calls(&self) -> u32 {
        self.obtain_calls.load(Ordering::SeqCst)
    }

    /// The refresh calls received.
    pub fn refresh_calls(&self) -> u32 {
        self.refresh_calls.load(Ordering::SeqCst)
    }

    /// The business calls received.
    pub fn business_calls(&self) -> u32 {
        self.business_calls.load(Ordering::SeqCst)
    }
}

async fn handle(
    State(stub): State<Arc<Stub>>,
    verb: axum::http::Method,
    uri: Uri,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let method = uri
        .path()
        .trim_start_matches("/gw/gateway/")
        .trim_end_matches("/v1")
        .to_owned();
    let counter = match method.as_str() {
        OBTAIN => &stub.obtain_calls,
        REFRESH => &stub.refresh_calls,
        _ => &stub.business_calls,
    };
    counter.fetch_add(1, Ordering::SeqCst);
    let seen = Seen {
        verb: verb.as_str(),
        method: &method,
        query: query.as_deref().unwrap_or(""),
        body: &body,
    };
    let (status, text) = (stub.answer)(&seen);
    let mut response =
        (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), text).into_response();
    let date = stub
        .date
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    if let Some(date) = date
        && let Ok(value) = HeaderValue::from_str(&date)
    {
        response.headers_mut().insert("date", value);
    }
    response
}

/// A token reply of the document's shape, with `access` as the access token and
/// `refresh` as the refresh token (2.2 answers may omit it: pass `None`).
pub fn token_reply(access: &str, refresh: Option<&str>, expire_in_s: i64) -> String {
    let refresh = refresh.map_or(String::new(), |r| format!(r#","refresh_token":"{r}""#));
    format!(
        r#"{{"success":true,"error_code":200,"data":{{"access_token":"{access}"{refresh},"expire_in":{expire_in_s}}}}}"#
    )
}

/// An error reply of the document's shape.
pub fn error_reply(code: i64, message: &str) -> String {
    serde_json::json!({"success": false, "error_code": code, "error_message": message}).to_string()
}

/// A successful 3.8 reply (no levels), which every business call of the tests accepts.
pub const OK_LEVELS: &str =
    r#"{"success":true,"errorCode":200,"data":[],"pageNo":1,"pageSize":10,"totalCount":0}"#;
