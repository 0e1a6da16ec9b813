//! Hostile servers for the secrets and personal-data tests: one that redirects every
//! call to another local address, one that counts what reaches it, and one that quotes
//! the whole request (URL, headers, body) back in its error answers, the way gateways and
//! proxies do. All bind 127.0.0.1 only.

#![allow(dead_code)] // each test binary uses a part

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

pub const OBTAIN: &str = "dss.auth.token.query";
pub const REFRESH: &str = "dss.auth.token.refresh";

/// The method name in a gateway path (`/gw/gateway/{method}/v1`).
pub fn method_of(uri: &Uri) -> String {
    uri.path()
        .trim_start_matches("/gw/gateway/")
        .trim_end_matches("/v1")
        .to_owned()
}

async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

/// A token reply of the document's shape, with tokens unique to this server.
pub fn token_reply(tag: &str, n: usize) -> String {
    format!(
        r#"{{"success":true,"error_code":200,"data":{{"access_token":"{tag}-access-{n:04}-a8f3","refresh_token":"{tag}-refresh-{n:04}-c1d9","expire_in":7200}}}}"#
    )
}

/// A server that counts every request reaching it and answers each with a success.
pub async fn counting_target() -> (String, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let app = axum::Router::new().fallback(move || {
        let c = c.clone();
        async move {
            c.fetch_add(1, Ordering::SeqCst);
            r#"{"success":true,"error_code":200,"data":{"open_id":"stolen"}}"#
        }
    });
    (serve(app).await, count)
}

/// A server answering every call with `status` and a `Location` to the same path and
/// query on `target`. With `issue_tokens`, the token-issuing call is answered with tokens
/// instead, so that business calls (carrying the access token) reach the redirect.
pub async fn redirecting_server(target: String, status: u16, issue_tokens: bool) -> String {
    let issued = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new().fallback(move |uri: Uri| {
        let target = target.clone();
        let issued = issued.clone();
        async move {
            if issue_tokens && method_of(&uri) == OBTAIN {
                let n = issued.fetch_add(1, Ordering::SeqCst);
                return token_reply("redirector", n).into_response();
            }
            let location = format!(
                "{target}{}",
                uri.path_and_query().map_or("/", |p| p.as_str())
            );
            let mut response = (
                StatusCode::from_u16(status).unwrap(),
                // A redirect body that is a valid success envelope: it must still not
                // count as an answer.
                r#"{"success":true,"error_code":200,"data":{}}"#,
            )
                .into_response();
            response
                .headers_mut()
                .insert("location", location.parse().unwrap());
            response
        }
    });
    serve(app).await
}

/// How the echoing server answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Echo {
    /// The API's error envelope, the request quoted in `error_message`.
    ApiJson,
    /// An HTML error page (502) quoting the request.
    Html,
    /// A success envelope whose `data` is the quoted request (a type the client cannot
    /// decode: the decoder's message quotes it).
    DecodeJson,
    /// The invalid-token code (1002) quoting the request: the client refreshes.
    InvalidToken,
}

/// How the echoing server writes the request it quotes: as received, percent-encoded
/// (a gateway's URL log, upper or lower case hex, `+` or `%20` for a space),
/// percent-decoded (a form parser's view), or in an answer whose JSON writer escapes to
/// ASCII (Python's `json.dumps`, `\uXXXX` lower case; PHP's `json_encode`, also `\/`;
/// Jackson's ASCII mode, upper case).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quote {
    Raw,
    PercentUpper,
    PercentLower,
    Percent20,
    PercentDecoded,
    PythonJson,
    PhpJson,
    AsciiJsonUpper,
}

pub const QUOTES: [Quote; 8] = [
    Quote::Raw,
    Quote::PercentUpper,
    Quote::PercentLower,
    Quote::Percent20,
    Quote::PercentDecoded,
    Quote::PythonJson,
    Quote::PhpJson,
    Quote::AsciiJsonUpper,
];

/// `text` percent-encoded: every byte but `A-Z a-z 0-9 - . _ ~` as `%XX`.
pub fn percent_encode(text: &str, upper: bool, plus: bool) -> String {
    let mut out = String::new();
    for &b in text.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' if plus => out.push('+'),
            _ if upper => out.push_str(&format!("%{b:02X}")),
            _ => out.push_str(&format!("%{b:02x}")),
        }
    }
    out
}

/// `text` as a form parser reads it: `+` a space, `%XX` a byte.
pub fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = |i: usize| {
            bytes
                .get(i)
                .and_then(|b| (*b as char).to_digit(16))
                .map(|d| d as u8)
        };
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if hex(i + 1).is_some() && hex(i + 2).is_some() => {
                out.push(hex(i + 1).unwrap() * 16 + hex(i + 2).unwrap());
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The JSON string literal of `text`, ASCII only (`\uXXXX`, surrogate pairs beyond the
/// BMP), with `/` as `\/` when `slash`.
pub fn ascii_json(text: &str, upper: bool, slash: bool) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if slash => out.push_str("\\/"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii() && (c as u32) >= 0x20 => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&if upper {
                        format!("\\u{u:04X}")
                    } else {
                        format!("\\u{u:04x}")
                    });
                }
            }
        }
    }
    out.push('"');
    out
}

impl Quote {
    /// The quoted request as the server's message holds it.
    fn text(self, quoted: &str) -> String {
        match self {
            Quote::PercentUpper => percent_encode(quoted, true, true),
            Quote::PercentLower => percent_encode(quoted, false, true),
            Quote::Percent20 => percent_encode(quoted, true, false),
            Quote::PercentDecoded => form_decode(quoted),
            _ => quoted.to_owned(),
        }
    }

    /// A JSON string literal of `text`, as the server's JSON writer writes it.
    fn json(self, text: &str) -> String {
        match self {
            Quote::PythonJson => ascii_json(text, false, false),
            Quote::PhpJson => ascii_json(text, false, true),
            Quote::AsciiJsonUpper => ascii_json(text, true, false),
            _ => serde_json::to_string(text).unwrap(),
        }
    }
}

/// The state of an echoing server.
pub struct Echoer {
    /// How business calls are answered.
    pub business: Mutex<Echo>,
    /// How the request is quoted.
    pub quote: Mutex<Quote>,
    /// Appended to every token issued (tokens of any characters).
    pub token_tail: Mutex<String>,
    /// How token calls are answered: `None` issues tokens.
    pub tokens: Mutex<Option<Echo>>,
    pub issued: AtomicUsize,
    /// Every request as received, for the test to know what was on the wire.
    pub seen: Mutex<Vec<String>>,
}

/// The whole request as text: request line, headers, body.
fn quote_request(method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) -> String {
    let mut text = format!("{method} {uri} HTTP/1.1\n");
    for (name, value) in headers {
        text.push_str(&format!(
            "{name}: {}\n",
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    text.push('\n');
    text.push_str(&String::from_utf8_lossy(body));
    text
}

fn answer(echo: Echo, quote: Quote, quoted: &str) -> Response {
    let text = quote.text(quoted);
    let json = quote.json(&text);
    // An HTML page of a server whose writer escapes to ASCII shows the escapes.
    let quoted = match quote {
        Quote::PythonJson | Quote::PhpJson | Quote::AsciiJsonUpper => {
            json[1..json.len() - 1].to_owned()
        }
        _ => text,
    };
    match echo {
        Echo::ApiJson => (
            StatusCode::OK,
            format!(
                r#"{{"success":false,"error_code":110002,"error_message":{json},"request":{json}}}"#
            ),
        )
            .into_response(),
        Echo::InvalidToken => (
            StatusCode::OK,
            format!(r#"{{"success":false,"error_code":1002,"error_message":{json}}}"#),
        )
            .into_response(),
        Echo::DecodeJson => (
            StatusCode::OK,
            format!(r#"{{"success":true,"error_code":200,"data":[{json}]}}"#),
        )
            .into_response(),
        Echo::Html => (
            StatusCode::BAD_GATEWAY,
            [("content-type", "text/html")],
            format!("<html><body><h1>502 Bad Gateway</h1><pre>{quoted}</pre></body></html>"),
        )
            .into_response(),
    }
}

async fn echo_handler(
    State(echoer): State<Arc<Echoer>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let quoted = quote_request(&method, &uri, &headers, &body);
    echoer.seen.lock().unwrap().push(quoted.clone());
    let called = method_of(&uri);
    let quote = *echoer.quote.lock().unwrap();
    if called == OBTAIN || called == REFRESH {
        match *echoer.tokens.lock().unwrap() {
            None => {
                let n = echoer.issued.fetch_add(1, Ordering::SeqCst);
                let tail = echoer.token_tail.lock().unwrap().clone();
                if tail.is_empty() {
                    return token_reply("echoer", n).into_response();
                }
                return serde_json::json!({
                    "success": true,
                    "error_code": 200,
                    "data": {
                        "access_token": format!("echoer-access-{n:04}-{tail}"),
                        "refresh_token": format!("echoer-refresh-{n:04}-{tail}"),
                        "expire_in": 7200,
                    }
                })
                .to_string()
                .into_response();
            }
            Some(echo) => return answer(echo, quote, &quoted),
        }
    }
    let echo = *echoer.business.lock().unwrap();
    answer(echo, quote, &quoted)
}

/// A server quoting every request back; the test switches how it answers.
pub async fn echoing_server() -> (String, Arc<Echoer>) {
    let echoer = Arc::new(Echoer {
        business: Mutex::new(Echo::ApiJson),
        quote: Mutex::new(Quote::Raw),
        token_tail: Mutex::default(),
        tokens: Mutex::new(None),
        issued: AtomicUsize::new(0),
        seen: Mutex::default(),
    });
    let app = axum::Router::new()
        .fallback(echo_handler)
        .with_state(echoer.clone());
    (serve(app).await, echoer)
}
