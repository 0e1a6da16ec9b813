//! No secret anywhere: an end-to-end run against the sandbox (tokens obtained, refreshed,
//! rejected; API, decode, HTTP, transport, request and token errors) with every `tracing`
//! event and span field captured at TRACE and every `log` record, plus Display and Debug
//! of every error and of the client and configuration objects. None contains the app
//! secret, an access token, a refresh token or a request signature.
//!
//! The secrets to look for are taken from the wire itself: the client talks to the
//! sandbox through a recording TCP relay, so the test knows every token and signature
//! that was actually sent.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gree_ump::Client;
use gree_ump::endpoints::*;
use gree_ump::runtime::tokens::{MemoryTokenStore, TokenStore};
use gree_ump::runtime::{Error, RetryPolicy, TokenPolicy};
use gree_ump_sandbox::{Fault, Sandbox, SandboxConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[path = "hostile.rs"]
mod hostile;

type Log = Arc<Mutex<String>>;

/// What the capture saw: every `tracing` event and span field at every level on every
/// thread, and every `log` record (reqwest and hyper log through `log`).
#[derive(Default)]
struct Captured {
    text: String,
    events: usize,
    spans: usize,
    records: usize,
}

static CAPTURED: Mutex<Captured> = Mutex::new(Captured {
    text: String::new(),
    events: 0,
    spans: 0,
    records: 0,
});

/// The capture is global to the test binary (a global `tracing` subscriber and the
/// `log` logger): the tests of this binary run one at a time ([`session`]), so each one
/// reads what its own calls logged, on every thread.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn captured() -> std::sync::MutexGuard<'static, Captured> {
    CAPTURED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Installs the capture once, waits for the other tests of this binary to finish, and
/// empties the capture.
async fn session() -> tokio::sync::MutexGuard<'static, ()> {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        tracing::subscriber::set_global_default(Capture).unwrap();
        log::set_logger(&LogCapture).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
    });
    let guard = SERIAL.lock().await;
    take_captured();
    guard
}

/// What was captured since the last call.
fn take_captured() -> Captured {
    std::mem::take(&mut *captured())
}

/// Captures every tracing event and span field, at every level.
struct Capture;

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
}

impl tracing::Subscriber for Capture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        // Formatted before the capture is locked: a field's Debug may log too.
        let mut text = format!("\nspan {}", span.metadata().name());
        span.record(&mut Fields(&mut text));
        let mut c = captured();
        c.spans += 1;
        c.text.push_str(&text);
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut text = String::from("\nrecord");
        values.record(&mut Fields(&mut text));
        captured().text.push_str(&text);
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut text = format!(
            "\nevent {} {}",
            event.metadata().level(),
            event.metadata().target()
        );
        event.record(&mut Fields(&mut text));
        let mut c = captured();
        c.events += 1;
        c.text.push_str(&text);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// Captures every `log` record (reqwest and hyper log through it).
struct LogCapture;

impl log::Log for LogCapture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let text = format!(
            "\nlog {} {} {}",
            record.level(),
            record.target(),
            record.args()
        );
        let mut c = captured();
        c.records += 1;
        c.text.push_str(&text);
    }
    fn flush(&self) {}
}

/// A TCP relay that records every byte the client sends.
async fn recording_relay(target: std::net::SocketAddr, wire: Log) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let wire = wire.clone();
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(target).await else {
                    return;
                };
                let (mut server_read, mut server_write) = server.into_split();
                let (mut client_read, mut client_write) = client.split();
                let upstream = async {
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        let n = match client_read.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        wire.lock()
                            .unwrap()
                            .push_str(&String::from_utf8_lossy(&buf[..n]));
                        if server_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = server_write.shutdown().await;
                };
                let downstream = async {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                    let _ = client_write.shutdown().await;
                };
                tokio::join!(upstream, downstream);
            });
        }
    });
    format!("http://{addr}")
}

/// The values of a query parameter everywhere it occurs on the wire.
fn params(wire: &str, name: &str) -> Vec<String> {
    let key = format!("{name}=");
    wire.match_indices(&key)
        .filter(|(i, _)| *i == 0 || matches!(wire.as_bytes()[i - 1], b'?' | b'&'))
        .map(|(i, _)| {
            wire[i + key.len()..]
                .chars()
                .take_while(|c| !matches!(c, '&' | ' ' | '\r' | '\n'))
                .collect()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_logs_errors_or_debug_output() {
    let _serial = session().await;

    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let wire: Log = Arc::default();
    let base = recording_relay(sandbox.addr(), wire.clone()).await;
    let store = Arc::new(MemoryTokenStore::new());
    let builder = Client::builder()
        .base_url(&base)
        .app_id(sandbox.app_id())
        .app_secret(sandbox.app_secret())
        .token_store(store.clone())
        .timeout(Some(Duration::from_secs(5)))
        // Each fault below must surface as an error, not be retried away.
        .retry_policy(RetryPolicy::NONE);
    let mut texts = vec![
        format!("{builder:?}"),
        format!("{:?}", TokenPolicy::default()),
    ];
    let client: Client = builder.build().unwrap();
    texts.push(format!("{client:?}"));
    let mut errors: Vec<Error<gree_ump::ErrorCode>> = Vec::new();

    // Successes: member, points, levels, coupons list, SMS.
    let open_id = client
        .members()
        .create_member(CreateMemberRequest::new(CreateMemberArgs {
            project_id: "P001".into(),
            nickname: "秘密测试".into(),
            phone: "13900000001".into(),
        }))
        .await
        .unwrap();
    client
        .members()
        .query_member(QueryMemberRequest::new().open_id(&open_id))
        .await
        .unwrap();
    client
        .points()
        .change_points(ChangePointsRequest::new(ChangePointsArgs {
            open_id: open_id.clone(),
            score: 50,
            out_biz_no: "o-1".into(),
            change_reason: "r".into(),
            change_event: "event_add".into(),
            change_id: "c-1".into(),
        }))
        .await
        .unwrap();
    client
        .members()
        .list_levels(ListLevelsRequest::new())
        .await
        .unwrap();
    client
        .sms()
        .send_sms_code(SendSmsCodeRequest::new("13900000001"))
        .await
        .unwrap();
    texts.push(format!("{:?}", store.load(sandbox.app_id()).await.unwrap()));

    // An API error, and a request refused before sending.
    errors.push(
        client
            .points()
            .change_points(ChangePointsRequest::new(ChangePointsArgs {
                open_id: open_id.clone(),
                score: 1,
                out_biz_no: "o-2".into(),
                change_reason: "r".into(),
                change_event: "no_such_event".into(),
                change_id: "c-2".into(),
            }))
            .await
            .unwrap_err(),
    );
    errors.push(
        client
            .members()
            .query_member(QueryMemberRequest::new())
            .await
            .unwrap_err(),
    );
    // A garbled reply, a proxy's HTTP error, a connection dropped after the commit.
    for fault in [
        Fault::Malformed,
        Fault::HttpStatus { status: 502 },
        Fault::DropAfterCommit,
    ] {
        sandbox
            .control()
            .inject_fault("wk.user.info.query", fault, 1);
        errors.push(
            client
                .members()
                .query_member(QueryMemberRequest::new().open_id(&open_id))
                .await
                .unwrap_err(),
        );
    }
    // Expiry: the sandbox's clock moves 3 hours; the client refreshes by itself.
    sandbox.control().advance(Duration::from_secs(3 * 3600));
    client
        .members()
        .list_levels(ListLevelsRequest::new())
        .await
        .unwrap();
    // Revocation: an invalid-token answer, one refresh, one retry.
    sandbox.control().revoke_access_tokens();
    client
        .members()
        .list_levels(ListLevelsRequest::new())
        .await
        .unwrap();
    texts.push(format!("{:?}", store.load(sandbox.app_id()).await.unwrap()));
    // A spent budget: a policy allowing no refresh, on a client sharing the store.
    sandbox.control().revoke_access_tokens();
    let strict: Client = Client::builder()
        .base_url(&base)
        .app_id(sandbox.app_id())
        .app_secret(sandbox.app_secret())
        .token_store(store.clone())
        .token_policy(TokenPolicy {
            refresh_daily_limit: 0,
            ..TokenPolicy::default()
        })
        .build()
        .unwrap();
    errors.push(
        strict
            .members()
            .list_levels(ListLevelsRequest::new())
            .await
            .unwrap_err(),
    );
    // A dead host: the URL (with the token) must not be printed by the transport error.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dead_client: Client = Client::builder()
        .base_url(format!("http://{dead}"))
        .app_id(sandbox.app_id())
        .app_secret(sandbox.app_secret())
        .token_store(store.clone())
        .build()
        .unwrap();
    errors.push(
        dead_client
            .members()
            .list_levels(ListLevelsRequest::new())
            .await
            .unwrap_err(),
    );

    let kinds: Vec<&str> = errors
        .iter()
        .map(|e| match e {
            Error::Request(_) => "request",
            Error::Transport(_) => "transport",
            Error::Http(_) => "http",
            Error::Decode(_) => "decode",
            Error::Api(_) => "api",
            Error::Token(_) => "token",
            _ => "other",
        })
        .collect();
    for kind in ["request", "transport", "http", "decode", "api", "token"] {
        assert!(
            kinds.contains(&kind),
            "no {kind} error exercised: {kinds:?}"
        );
    }
    for e in &errors {
        texts.push(e.to_string());
        texts.push(format!("{e:?}"));
    }
    texts.push(format!("{:?}", client.runtime().tokens()));

    let wire = wire.lock().unwrap().clone();
    let secrets = wire_secrets(&wire, sandbox.app_secret());
    // About 22 distinct values in a normal run; two requests signed in the same
    // millisecond with the same parameters share a signature, so the floor leaves room
    // (a loaded CI box once saw 20).
    assert!(
        secrets.len() >= 16,
        "the run sent few requests: {} {:?}",
        secrets.len(),
        secrets.iter().map(|(w, _)| w.as_str()).collect::<Vec<_>>()
    );
    let scan = Scan::new(texts, &secrets);
    scan.print("sandbox: tokens, expiry, revocation, every error kind");
    assert!(
        scan.everything.contains("wk.user.info.query"),
        "the capture saw the calls"
    );
    assert!(scan.hits.is_empty(), "secrets leaked:{}", scan.contexts());
}

/// Must-show 1: a 3xx reply is a typed `Http` error naming its status, and nothing
/// reaches the address it points to: not a business call (whose URL carries the access
/// token and whose body may carry a phone number), not a token call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_never_followed() {
    let _serial = session().await;
    let (target, reached) = hostile::counting_target().await;
    for status in [301u16, 302, 303, 307, 308] {
        for issue_tokens in [true, false] {
            let base = hostile::redirecting_server(target.clone(), status, issue_tokens).await;
            let client: Client = Client::builder()
                .base_url(&base)
                .app_id("app-redirect")
                .app_secret("secret-redirect")
                .token_store(Arc::new(MemoryTokenStore::new()))
                .retry_policy(RetryPolicy::NONE)
                .build()
                .unwrap();
            let e = client
                .members()
                .create_member(CreateMemberRequest::new(CreateMemberArgs {
                    project_id: "P9".into(),
                    nickname: "测试".into(),
                    phone: "13900000009".into(),
                }))
                .await
                .expect_err("a redirect is never an answer");
            let text = e.to_string();
            assert!(text.contains(&status.to_string()), "{text}");
            if issue_tokens {
                assert!(
                    matches!(&e, Error::Http(h) if h.status == status),
                    "{status}: {e:?}"
                );
            } else {
                assert!(matches!(&e, Error::Token(_)), "{status}: {e:?}");
            }
        }
    }
    assert_eq!(reached.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// A `reqwest::Client` the user supplies follows redirects unless they built it with
/// `redirect::Policy::none()`; the SDK cannot un-send what it re-sent, but the reply of
/// another URL is never taken for the platform's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_followed_by_a_supplied_http_client_is_an_error() {
    let _serial = session().await;
    let (target, reached) = hostile::counting_target().await;
    let base = hostile::redirecting_server(target, 307, true).await;
    let client: Client = Client::builder()
        .base_url(&base)
        .app_id("app-redirect")
        .app_secret("secret-redirect")
        .token_store(Arc::new(MemoryTokenStore::new()))
        .retry_policy(RetryPolicy::NONE)
        .http_client({
            gree_ump::runtime::install_tls_provider();
            reqwest::Client::new()
        })
        .build()
        .unwrap();
    let e = client
        .members()
        .query_member(QueryMemberRequest::new().open_id("o-1"))
        .await
        .expect_err("another URL's answer is not the platform's");
    assert!(
        matches!(&e, Error::Http(h) if h.redirected && h.is_redirect()),
        "{e:?}"
    );
    assert!(e.to_string().contains("redirect"), "{e}");
    assert_eq!(reached.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// Must-show 6: credentials in the base URL are refused at `build()` with an error that
/// says why, and never printed: not by the builder's Debug, not by the error, also when
/// the URL does not even parse.
#[test]
fn base_url_userinfo_is_refused_and_never_printed() {
    let _serial = SERIAL.blocking_lock();
    for url in [
        "https://user:hunter2-pw@ump.example.com",
        "https://hunter2-pw@ump.example.com/prefix",
        "https://user:hunter2-pw@ump.example.com:99999999",
        "ftp://user:hunter2-pw@ump.example.com",
        // A password with a `/`, `?` or `#` ends the authority early for a parser: the
        // URL does not parse, or parses with the password in its path or query.
        "http://u:s3cr/et-hunter2@ump.example.com",
        "http://u:hunter2?x@ump.example.com/",
        "http://u:hunter2#x@ump.example.com/",
        "http://u:hunter2/x@ump.example.com:99999999",
        "ump.example.com:hunter2@x",
    ] {
        let builder = Client::builder()
            .base_url(url)
            .app_id("app")
            .app_secret("secret")
            .token_store(Arc::new(MemoryTokenStore::new()));
        let debug = format!("{builder:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        let e = builder.build().expect_err("userinfo is refused");
        let texts = format!("{e}\n{e:?}");
        assert!(!texts.contains("hunter2"), "{texts}");
        assert!(texts.contains("user name or password"), "{texts}");
    }
}

/// Reply fields the spec does not list are kept in `extra`, and `Debug` shows only their
/// keys: a platform that adds `mobile`, `address` or `id_no` to a member does not put
/// them in every log line that prints the member. The values stay reachable through the
/// field (printing `member.extra` itself is the caller's explicit choice).
#[test]
fn unlisted_reply_fields_show_only_their_keys_in_debug() {
    let _serial = SERIAL.blocking_lock();
    use gree_ump::models::{MemberInfo, UserCoupon};
    let member: MemberInfo = serde_json::from_str(
        r#"{"open_id":"o-1","mobile":"13955550123","address":"珠海市香洲区秘密路1号","id_no":"350322198209116378","vip":{"card":"VIP-7731-secret"}}"#,
    )
    .unwrap();
    let coupon: UserCoupon =
        serde_json::from_str(r#"{"code":"c-1","holder_phone":"13955550124"}"#).unwrap();
    let debug = format!("{member:?}\n{member:#?}\n{coupon:?}");
    for value in [
        "13955550123",
        "秘密路",
        "350322198209116378",
        "VIP-7731",
        "13955550124",
    ] {
        assert!(!debug.contains(value), "{value} in {debug}");
    }
    for key in ["mobile", "address", "id_no", "vip", "holder_phone"] {
        assert!(debug.contains(key), "{key} not in {debug}");
    }
    assert!(debug.contains("o-1"), "{debug}");
    assert_eq!(member.extra["mobile"], "13955550123");
    assert_eq!(member.extra["vip"]["card"], "VIP-7731-secret");
}

/// A reply whose personal field cannot be read (an impossible birthday, one in another
/// format, one of the wrong type): the decode error names the path
/// and the kind of problem, never the value; a field that is not personal still shows
/// what was wrong with it.
#[test]
fn decode_errors_never_quote_a_personal_value() {
    let _serial = SERIAL.blocking_lock();
    use gree_ump::PROTOCOL;
    use openplatform_runtime::decode_response;
    for (data, path, secret) in [
        (
            r#"{"open_id":"o-1","birthday":"1982-02-30"}"#,
            "birthday",
            "1982-02-30",
        ),
        (
            r#"{"open_id":"o-1","birthday":"02/30/1982"}"#,
            "birthday",
            "1982",
        ),
        (
            r#"{"open_id":"o-1","birthday":19820230}"#,
            "birthday",
            "19820230",
        ),
    ] {
        let body = format!(r#"{{"success":true,"error_code":200,"data":{data}}}"#);
        let e =
            decode_response::<QueryMemberRequest>(&PROTOCOL, 200, body.as_bytes()).expect_err(data);
        let texts = format!("{e}\n{e:?}");
        assert!(matches!(e, Error::Decode(_)), "{texts}");
        assert!(!texts.contains(secret), "{secret} in {texts}");
        assert!(texts.contains(&format!("data.{path}")), "{texts}");
    }
    // Not personal: the value stays, it is what the reader needs.
    let body = r#"{"success":true,"error_code":200,"data":{"open_id":"o-1","score":"many"}}"#;
    let e = decode_response::<QueryMemberRequest>(&PROTOCOL, 200, body.as_bytes()).unwrap_err();
    assert!(e.to_string().contains("many"), "{e}");
}

/// Must-show 2: fields the spec marks `sensitive` are redacted by the generated `Debug`
/// of requests, responses and shared types, including the token data of 2.1/2.2.
#[test]
fn generated_debug_redacts_sensitive_fields() {
    let _serial = SERIAL.blocking_lock();
    use gree_ump::models::{MemberInfo, TokenData};
    let request = CreateMemberRequest::new(CreateMemberArgs {
        project_id: "P001".into(),
        nickname: "昵称秘密".into(),
        phone: "13912345678".into(),
    })
    .realname("王秘密")
    .id_card("350322198209116378")
    .birthday(gree_ump::wire::BeijingDate::parse("1990-02-03").unwrap());
    let member: MemberInfo = serde_json::from_str(
        r#"{"open_id":"o-1","phone":"13912345678","realname":"王秘密","id_card":"350322198209116378","birthday":"1990-02-03","nickname":"昵称秘密"}"#,
    )
    .unwrap();
    let tokens: TokenData = serde_json::from_str(
        r#"{"access_token":"at-secret-123456","refresh_token":"rt-secret-654321","expire_in":7200}"#,
    )
    .unwrap();
    // An open_id that may be a phone (erratum E79).
    let change = ChangePointsRequest::new(ChangePointsArgs {
        open_id: "13912345678".into(),
        score: 1,
        out_biz_no: "ob".into(),
        change_reason: "r".into(),
        change_event: "e".into(),
        change_id: "c".into(),
    });
    let texts = format!("{request:?}\n{member:?}\n{tokens:?}\n{change:?}");
    for secret in [
        "13912345678",
        "王秘密",
        "350322198209116378",
        "1990",
        "昵称秘密",
        "at-secret",
        "rt-secret",
    ] {
        assert!(!texts.contains(secret), "{secret} in {texts}");
    }
    // What is not sensitive stays visible, and a set field shows that it is set.
    assert!(texts.contains("P001") && texts.contains("o-1"), "{texts}");
    assert!(texts.contains("[REDACTED pii]") && texts.contains("[REDACTED secret]"));
    assert!(texts.contains("expire_in: Some(7200)"), "{texts}");
}

/// Must-show 3/4 (part): a server quoting the whole request (URL, headers, body) in its
/// answers, as the API's error JSON, as an HTML page, inside undecodable data, with the
/// invalid-token code (the refresh call is then quoted too), and on the token calls.
/// Every tracing event at TRACE on this thread, and the Display and Debug of every error:
/// no token, signature, app secret, phone, ID-card number or name.
#[tokio::test]
async fn a_server_quoting_the_request_leaks_nothing() {
    let _serial = session().await;
    let (base, echoer) = hostile::echoing_server().await;
    let client = |store: Arc<MemoryTokenStore>| -> Client {
        Client::builder()
            .base_url(&base)
            .app_id("app-echo")
            .app_secret("app-secret-echo-77")
            .token_store(store)
            .retry_policy(RetryPolicy::NONE)
            .build()
            .unwrap()
    };
    let (phone, id_card, name) = ("13955550123", "350322198209116378", "欧阳秘名");
    let mut texts: Vec<String> = Vec::new();
    let mut record = |r: Result<String, Error<gree_ump::ErrorCode>>| match r {
        Ok(v) => texts.push(v),
        Err(e) => {
            texts.push(e.to_string());
            texts.push(format!("{e:?}"));
            if let Error::Http(h) = &e {
                texts.push(h.body.as_str().to_owned());
            }
        }
    };
    let business = client(Arc::new(MemoryTokenStore::new()));
    for mode in [
        hostile::Echo::ApiJson,
        hostile::Echo::Html,
        hostile::Echo::DecodeJson,
        hostile::Echo::InvalidToken,
    ] {
        *echoer.business.lock().unwrap() = mode;
        // The refresh after an invalid-token answer is quoted back as an error too.
        *echoer.tokens.lock().unwrap() =
            (mode == hostile::Echo::InvalidToken).then_some(hostile::Echo::ApiJson);
        record(
            business
                .members()
                .create_member(
                    CreateMemberRequest::new(CreateMemberArgs {
                        project_id: "P1".into(),
                        nickname: name.into(),
                        phone: phone.into(),
                    })
                    .realname(name)
                    .id_card(id_card),
                )
                .await
                .map(|v| format!("{v:?}")),
        );
        record(
            business
                .members()
                .query_member(QueryMemberRequest::new().phone(phone))
                .await
                .map(|v| format!("{v:?}")),
        );
        *echoer.tokens.lock().unwrap() = None;
    }
    for mode in [hostile::Echo::ApiJson, hostile::Echo::Html] {
        *echoer.tokens.lock().unwrap() = Some(mode);
        record(
            client(Arc::new(MemoryTokenStore::new()))
                .members()
                .list_levels(ListLevelsRequest::new())
                .await
                .map(|v| format!("{v:?}")),
        );
    }
    let seen = echoer.seen.lock().unwrap().join("\n");
    let mut secrets: Vec<String> = vec![
        "app-secret-echo-77".into(),
        phone.into(),
        id_card.into(),
        name.into(),
    ];
    for param in ["access_token", "refresh_token", "sign"] {
        let values = params(&seen, param);
        assert!(!values.is_empty(), "no {param} reached the echoing server");
        secrets.extend(values);
    }
    assert!(
        seen.contains(phone) && seen.contains(id_card),
        "the PII was sent"
    );
    texts.push(take_captured().text);
    let everything = texts.join("\n");
    assert!(
        everything.contains("wk.user.info.add"),
        "the capture saw the calls"
    );
    let hits: Vec<&String> = secrets
        .iter()
        .filter(|s| everything.contains(s.as_str()))
        .collect();
    eprintln!(
        "quoting server: {} requests, {} secrets and personal values, {} texts ({} bytes), {} hits",
        echoer.seen.lock().unwrap().len(),
        secrets.len(),
        texts.len(),
        everything.len(),
        hits.len()
    );
    for (i, t) in texts.iter().enumerate() {
        if hits.iter().any(|h| t.contains(h.as_str())) {
            eprintln!("text {i} leaks: {}", &t[..t.floor_char_boundary(300)]);
        }
    }
    if let Some(s) = hits.first() {
        let at = everything.find(s.as_str()).unwrap();
        let from = everything.floor_char_boundary(at.saturating_sub(100));
        panic!(
            "leaked {s}: …{}…",
            &everything[from..everything.ceil_char_boundary(at + 60)]
        );
    }
}

// ------------------------------------------------------------------ every endpoint

/// The test customer: a phone number, an ID-card number (valid checksum) and a real name
/// that occur nowhere but in what the test sends.
const PHONE: &str = "13955550123";
const ID_CARD: &str = "350322198209116378";
const NAME: &str = "欧阳秘名";

/// The Display and Debug of everything the calls returned, and which methods ran.
#[derive(Default)]
struct Outcomes {
    texts: Vec<String>,
    ok: usize,
    errors: Vec<&'static str>,
}

impl Outcomes {
    /// Keeps the Debug of a value, or the Display and Debug of an error and the body
    /// excerpt its accessor gives; returns the value.
    fn keep<T: std::fmt::Debug>(&mut self, result: Result<T, gree_ump::Error>) -> Option<T> {
        match result {
            Ok(value) => {
                self.ok += 1;
                self.texts.push(format!("{value:?}"));
                Some(value)
            }
            Err(e) => {
                self.errors.push(match &e {
                    Error::Request(_) => "request",
                    Error::Transport(_) => "transport",
                    Error::Http(_) => "http",
                    Error::Decode(_) => "decode",
                    Error::Api(_) => "api",
                    Error::Token(_) => "token",
                    _ => "other",
                });
                self.texts.push(e.to_string());
                self.texts.push(format!("{e:?}"));
                match &e {
                    Error::Http(h) => self.texts.push(h.body.as_str().to_owned()),
                    Error::Decode(d) => self.texts.push(d.body.as_str().to_owned()),
                    Error::Api(a) => self.texts.push(a.body.as_str().to_owned()),
                    _ => {}
                }
                None
            }
        }
    }
}

/// Calls every endpoint of the generated client once, each group in turn, with the
/// values a mall sends (the test customer's phone, ID card and name wherever a request
/// carries them); later calls use what earlier ones returned (open_id, member code,
/// statement), or stand-ins when they failed. `tag` keeps keys unique per run;
/// `sms_code` reads the code "sent" (the sandbox's inspection, or a stand-in).
async fn call_every_endpoint(
    client: &Client,
    tag: &str,
    sms_code: &dyn Fn() -> Option<String>,
    out: &mut Outcomes,
) {
    use gree_ump::models::{
        CouponCategory, CouponGrant, CouponGrantArgs, CouponStatus, CouponValidityType, OrderItem,
        ParamsType, PartialRollbackItem, PartialRollbackItemArgs, ScoreType,
    };
    use gree_ump::wire::{BeijingDate, BeijingDateTime, TimestampMs, Yuan};
    let yuan = |s: &str| Yuan::parse(s).unwrap();
    let now = || {
        TimestampMs(
            std::time::SystemTime::UNIX_EPOCH
                .elapsed()
                .unwrap()
                .as_millis() as i64,
        )
    };
    let k = |name: &str| format!("{name}-{tag}");

    // members
    let members = client.members();
    let open_id = out
        .keep(
            members
                .create_member(
                    CreateMemberRequest::new(CreateMemberArgs {
                        project_id: "P001".into(),
                        nickname: NAME.into(),
                        phone: PHONE.into(),
                    })
                    .realname(NAME)
                    .id_card(ID_CARD)
                    .birthday(BeijingDate::parse("1982-09-11").unwrap())
                    .city("珠海")
                    .email("ouyang.miming@example.com"),
                )
                .await,
        )
        .unwrap_or_else(|| "0123456789abcdef0123456789abcdef".into());
    out.keep(
        members
            .query_member(QueryMemberRequest::new().phone(PHONE))
            .await,
    );
    let code = out
        .keep(
            members
                .generate_member_code(GenerateMemberCodeRequest::new(&open_id))
                .await,
        )
        .unwrap_or_else(|| "12345678901234567890".into());
    out.keep(
        members
            .parse_member_code(ParseMemberCodeRequest::new(&code))
            .await,
    );
    out.keep(members.list_levels(ListLevelsRequest::new()).await);

    // points
    let points = client.points();
    let statement = out
        .keep(
            points
                .change_points(ChangePointsRequest::new(ChangePointsArgs {
                    open_id: open_id.clone(),
                    score: 100,
                    out_biz_no: (k("order-9")),
                    change_reason: "购物".into(),
                    change_event: "event_add".into(),
                    change_id: (k("chg-1")),
                }))
                .await,
        )
        .and_then(|s| s.statement_id)
        .unwrap_or_else(|| "SP1".into());
    out.keep(
        points
            .rollback_points(
                RollbackPointsRequest::new(RollbackPointsArgs {
                    open_id: open_id.clone(),
                    rollback_score: 10,
                    change_id: (k("rb-1")),
                })
                .statement_id(&statement),
            )
            .await,
    );
    out.keep(
        points
            .rollback_points_partially(RollbackPointsPartiallyRequest::new(
                RollbackPointsPartiallyArgs {
                    open_id: open_id.clone(),
                    change_id: (k("prb-1")),
                    parent_order_no: (k("order-9")),
                    items: vec![
                        PartialRollbackItem::new(PartialRollbackItemArgs {
                            order_no: (k("order-9")),
                            item_no: "sku-1".into(),
                            total_price: yuan("60.00"),
                        })
                        .base_score(30),
                    ],
                },
            ))
            .await,
    );
    out.keep(
        points
            .list_point_records(ListPointRecordsRequest::new(ListPointRecordsArgs {
                open_id: open_id.clone(),
                score_type: ScoreType::All,
                page_size: 10,
                page_no: 1,
            }))
            .await,
    );

    // orders
    let orders = client.orders();
    for order in ["ord-1", "ord-2"] {
        out.keep(
            orders
                .add_order(
                    AddOrderRequest::new(AddOrderArgs {
                        consume_date: BeijingDateTime::now(),
                        order_amount: yuan("200.00"),
                        order_no: k(order),
                        order_score: 100,
                    })
                    .open_id(&open_id)
                    .phone(PHONE)
                    .vip_name(NAME)
                    .item_info_list(vec![OrderItem::new().item_no("sku-1").use_score(20)]),
                )
                .await,
        );
    }
    out.keep(
        orders
            .refund_order(
                RefundOrderRequest::new(RefundOrderArgs {
                    consume_date: BeijingDateTime::now(),
                    order_amount: yuan("200.00"),
                    order_no: (k("ret-1")),
                    parent_order_no: (k("ord-1")),
                })
                .open_id(&open_id)
                .phone(PHONE)
                .vip_name(NAME),
            )
            .await,
    );
    out.keep(
        orders
            .refund_order_partially(
                RefundOrderPartiallyRequest::new(RefundOrderPartiallyArgs {
                    consume_date: BeijingDateTime::now(),
                    order_amount: yuan("50.00"),
                    order_no: (k("ret-2")),
                    parent_order_no: (k("ord-2")),
                })
                .open_id(&open_id)
                .phone(PHONE)
                .vip_name(NAME),
            )
            .await,
    );

    // coupons
    let coupons = client.coupons();
    out.keep(
        coupons
            .add_coupon_template(
                AddCouponTemplateRequest::new(AddCouponTemplateArgs {
                    third_coupon_id: (k("tpl-1")),
                    coupon_category: CouponCategory::OrderAmountOff,
                    name: "满100减10".into(),
                    discount_fee: 1_000,
                    coupon_type: CouponValidityType::DaysAfterReceipt,
                    rules: "满100元可用".into(),
                })
                .fixed_term(30)
                .minimum_fee(10_000),
            )
            .await,
    );
    for coupon in ["C-1", "C-2"] {
        out.keep(
            coupons
                .give_coupons(GiveCouponsRequest::new(GiveCouponsArgs {
                    coupon_set: vec![CouponGrant::new(CouponGrantArgs {
                        open_id: open_id.clone(),
                        coupon_number: k(coupon),
                        params_type: ParamsType::OpenId,
                    })],
                    number: 1,
                    create_time: now(),
                    third_coupon_id: (k("tpl-1")),
                }))
                .await,
        );
    }
    out.keep(
        coupons
            .sync_coupon_status(SyncCouponStatusRequest::new(SyncCouponStatusArgs {
                third_coupon_code: (k("C-1")),
                open_id: open_id.clone(),
                status: CouponStatus::InUse,
            }))
            .await,
    );
    out.keep(
        coupons
            .verify_coupons(
                VerifyCouponsRequest::new(VerifyCouponsArgs {
                    open_id: open_id.clone(),
                    order_no: (k("ord-3")),
                    third_coupon_codes: vec![k("C-2")],
                    verification_time: now(),
                    order_amount: yuan("150.00"),
                })
                .verifier_name("收银员"),
            )
            .await,
    );
    out.keep(
        coupons
            .list_user_coupons(ListUserCouponsRequest::new(&open_id))
            .await,
    );

    // sms
    let sms = client.sms();
    out.keep(sms.send_sms_code(SendSmsCodeRequest::new(PHONE)).await);
    let code = sms_code().unwrap_or_else(|| "123456".into());
    out.keep(
        sms.verify_sms_code(VerifySmsCodeRequest::new(VerifySmsCodeArgs {
            phone: PHONE.into(),
            verify_code: code,
        }))
        .await,
    );
}

/// The methods of the requests on a recorded wire (`/gw/gateway/{method}/v1`).
fn methods_on(wire: &str) -> std::collections::BTreeSet<String> {
    wire.match_indices("/gw/gateway/")
        .map(|(i, m)| {
            wire[i + m.len()..]
                .split(['/', '?', ' '])
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .collect()
}

/// Every method of the spec, token calls included.
fn every_method() -> std::collections::BTreeSet<String> {
    gree_ump::generated::routes::AnyRequest::ENDPOINTS
        .iter()
        .map(|e| e.method.to_owned())
        .collect()
}

/// The secrets a wire carried: every access token, refresh token and signature sent.
fn wire_secrets(wire: &str, app_secret: &str) -> Vec<(String, String)> {
    let mut secrets = vec![("app secret".to_owned(), app_secret.to_owned())];
    for (what, name) in [
        ("access token", "access_token"),
        ("refresh token", "refresh_token"),
        ("signature", "sign"),
    ] {
        let mut values = params(wire, name);
        values.sort();
        values.dedup();
        assert!(!values.is_empty(), "no {what} seen on the wire");
        secrets.extend(values.into_iter().map(|v| (what.to_owned(), v)));
    }
    secrets
}

/// A scan of everything captured and returned for the values sought.
struct Scan {
    events: usize,
    spans: usize,
    records: usize,
    texts: usize,
    bytes: usize,
    sought: usize,
    hits: Vec<(String, String)>,
    everything: String,
}

impl Scan {
    fn new(mut texts: Vec<String>, sought: &[(String, String)]) -> Scan {
        let captured = take_captured();
        texts.push(captured.text);
        let everything = texts.join("\n");
        let hits = sought
            .iter()
            .filter(|(_, v)| everything.contains(v.as_str()))
            .cloned()
            .collect();
        Scan {
            events: captured.events,
            spans: captured.spans,
            records: captured.records,
            texts: texts.len(),
            bytes: everything.len(),
            sought: sought.len(),
            hits,
            everything,
        }
    }

    fn print(&self, label: &str) {
        eprintln!(
            "{label}: {} tracing events, {} spans, {} log records, {} texts, {} bytes scanned, \
             {} values sought, {} hits",
            self.events,
            self.spans,
            self.records,
            self.texts,
            self.bytes,
            self.sought,
            self.hits.len()
        );
    }

    /// The context of each hit, for the failure message.
    fn contexts(&self) -> String {
        let mut out = String::new();
        for (what, value) in self.hits.iter().take(5) {
            let at = self.everything.find(value.as_str()).unwrap();
            let text = &self.everything;
            let mut from = at.saturating_sub(160);
            while !text.is_char_boundary(from) {
                from -= 1;
            }
            let mut to = (at + value.len() + 60).min(text.len());
            while !text.is_char_boundary(to) {
                to += 1;
            }
            let _ = write!(out, "\n{what} {value}: …{}…", &self.everything[from..to]);
        }
        out
    }
}

/// A client of `base` for the app `app-hostile`, every call one attempt.
fn hostile_client(base: &str, app_secret: &str) -> Client {
    Client::builder()
        .base_url(base)
        .app_id("app-hostile")
        .app_secret(app_secret)
        .token_store(Arc::new(MemoryTokenStore::new()))
        .retry_policy(RetryPolicy::NONE)
        .timeout(Some(Duration::from_secs(10)))
        .build()
        .unwrap()
}

/// The address of a local server's base URL.
fn addr_of(base: &str) -> std::net::SocketAddr {
    base.trim_start_matches("http://").parse().unwrap()
}

/// Must-show 4: every endpoint of the generated client, token calls included, against a
/// server that quotes the whole request (URL, headers, body) in its error answers — as
/// the API's error JSON, as an HTML page, inside undecodable data, with the invalid-token
/// code (the refresh call then quoted too), on the token calls themselves — and against
/// servers redirecting every call elsewhere (the token calls too). Captured: every
/// `tracing` event at TRACE on every thread, every `log` record, the Display and Debug of
/// every error and value. Sought: the app secret and every token and signature a
/// recording relay saw on the wire. Floor: 0 hits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_against_quoting_and_redirecting_servers_leaks_no_secret() {
    let _serial = session().await;
    const SECRET: &str = "app-secret-hostile-4711";
    let wire: Log = Arc::default();
    let (echo_base, echoer) = hostile::echoing_server().await;
    let echo = recording_relay(addr_of(&echo_base), wire.clone()).await;
    let mut out = Outcomes::default();
    let no_code = || None;
    use hostile::Echo;
    // Business calls quoted, tokens issued: one client per answer style.
    for mode in [Echo::ApiJson, Echo::Html, Echo::DecodeJson] {
        *echoer.business.lock().unwrap() = mode;
        *echoer.tokens.lock().unwrap() = None;
        call_every_endpoint(&hostile_client(&echo, SECRET), "q", &no_code, &mut out).await;
    }
    // Every call rejected as invalid-token: the client refreshes (issued, then quoted as
    // JSON and as HTML) and its retry is quoted again.
    *echoer.business.lock().unwrap() = Echo::InvalidToken;
    for refresh in [None, Some(Echo::ApiJson), Some(Echo::Html)] {
        let client = hostile_client(&echo, SECRET);
        // Tokens are issued to start with; the refresh is answered as `refresh` says.
        client
            .members()
            .list_levels(ListLevelsRequest::new())
            .await
            .ok();
        *echoer.tokens.lock().unwrap() = refresh;
        call_every_endpoint(&client, "r", &no_code, &mut out).await;
        *echoer.tokens.lock().unwrap() = None;
    }
    // The token-issuing call quoted: a fresh client (its budget unspent) per endpoint.
    for mode in [Echo::ApiJson, Echo::Html, Echo::DecodeJson] {
        *echoer.tokens.lock().unwrap() = Some(mode);
        call_every_endpoint(&hostile_client(&echo, SECRET), "t", &no_code, &mut out).await;
    }
    // Redirects: business calls (tokens issued) and token calls, to a counting target.
    let (target, reached) = hostile::counting_target().await;
    for (status, issue_tokens) in [(307, true), (302, true), (308, false)] {
        let redirector = hostile::redirecting_server(target.clone(), status, issue_tokens).await;
        let base = recording_relay(addr_of(&redirector), wire.clone()).await;
        call_every_endpoint(&hostile_client(&base, SECRET), "d", &no_code, &mut out).await;
    }
    assert_eq!(reached.load(std::sync::atomic::Ordering::SeqCst), 0);

    let wire = wire.lock().unwrap().clone();
    let missing: Vec<String> = every_method()
        .difference(&methods_on(&wire))
        .cloned()
        .collect();
    assert!(missing.is_empty(), "endpoints never called: {missing:?}");
    for kind in ["http", "decode", "api", "token"] {
        assert!(
            out.errors.contains(&kind),
            "no {kind} error: {:?}",
            out.errors
        );
    }
    assert_eq!(out.ok, 0, "a hostile server's answer was taken as data");
    let secrets = wire_secrets(&wire, SECRET);
    let scan = Scan::new(out.texts, &secrets);
    scan.print("quoting and redirecting servers, every endpoint");
    assert!(scan.everything.contains("wk.coupon.give") && scan.events > 100);
    assert!(scan.hits.is_empty(), "secrets leaked:{}", scan.contexts());
}

// ------------------------------------------------------------ every form of a value

/// A small deterministic generator (xorshift): `next(n)` is below `n`.
fn numbers(mut state: u64) -> impl FnMut(usize) -> usize {
    move |n| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    }
}

/// A value no text holds by chance: a tag of its own (`Qz` and six letters or digits,
/// unchanged by every encoding, so any quote of the value shows it) and a tail of 1 to
/// 8 characters of every class a form treats apart: ASCII, CJK, emoji (a surrogate pair
/// in `\uXXXX` form), quotes, backslashes, `+`, `=`, `%` (also before hex digits), `/`,
/// `&`, spaces.
fn random_value(next: &mut impl FnMut(usize) -> usize, tags: &mut Vec<String>) -> String {
    const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const TAIL: &[&str] = &[
        "a", "Z", "7", "张", "三", "欧", "😀", "🎉", "\"", "'", "\\", "+", "=", "%", "%2B", "%e5",
        "/", "&", " ", "<",
    ];
    let tag: String = "Qz"
        .chars()
        .chain((0..6).map(|_| ALNUM[next(ALNUM.len())] as char))
        .collect();
    tags.push(tag.clone());
    let tail: String = (0..1 + next(8)).map(|_| TAIL[next(TAIL.len())]).collect();
    format!("{tag}{tail}")
}

/// For random secrets and personal values of every character class, a
/// server quoting the request in every form (as received, percent-encoded in either case
/// with `+` or `%20`, percent-decoded, in ASCII-only JSON as Python, PHP and Jackson
/// write it) and answering in every way (API error, HTML page, undecodable data, the
/// invalid-token code) leaves no trace of any value in any error's Display or Debug, body
/// excerpt, returned value or tracing event. The values: the app secret, the tokens
/// (the server issues tokens ending in the random tail), and the personal fields of 3.1,
/// 3.2 and 3.3 (name, nickname, phone, ID card, city, e-mail, and 3.3's open_id, which
/// may be a phone).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_values_quoted_in_every_form_leave_no_trace() {
    let _serial = session().await;
    let (base, echoer) = hostile::echoing_server().await;
    // Another run's values: FORMS_SEED=<number>.
    let seed = std::env::var("FORMS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x05ee_d0ff_0a11_f0a5_u64);
    let mut next = numbers(seed | 1);
    let mut tags: Vec<String> = Vec::new();
    let mut texts: Vec<String> = Vec::new();
    let mut record = |r: Result<String, Error<gree_ump::ErrorCode>>| match r {
        Ok(v) => texts.push(v),
        Err(e) => {
            texts.push(e.to_string());
            texts.push(format!("{e:?}"));
            match &e {
                Error::Http(h) => texts.push(h.body.as_str().to_owned()),
                Error::Decode(d) => texts.push(d.body.as_str().to_owned()),
                Error::Api(a) => texts.push(a.body.as_str().to_owned()),
                _ => {}
            }
        }
    };
    let mut calls = 0;
    for _case in 0..6 {
        let secret = random_value(&mut next, &mut tags);
        *echoer.token_tail.lock().unwrap() = random_value(&mut next, &mut tags);
        let mut v = || random_value(&mut next, &mut tags);
        let (name, nickname, phone, id_card, city, email, open_id) =
            (v(), v(), v(), v(), v(), v(), v());
        for quote in hostile::QUOTES {
            *echoer.quote.lock().unwrap() = quote;
            for mode in [
                hostile::Echo::ApiJson,
                hostile::Echo::Html,
                hostile::Echo::DecodeJson,
                hostile::Echo::InvalidToken,
            ] {
                *echoer.business.lock().unwrap() = mode;
                *echoer.tokens.lock().unwrap() =
                    (mode == hostile::Echo::InvalidToken).then_some(hostile::Echo::ApiJson);
                let client = Client::builder()
                    .base_url(&base)
                    .app_id("app-forms")
                    .app_secret(secret.as_str())
                    .token_store(Arc::new(MemoryTokenStore::new()))
                    .retry_policy(RetryPolicy::NONE)
                    .build()
                    .unwrap();
                let members = client.members();
                record(
                    members
                        .create_member(
                            CreateMemberRequest::new(CreateMemberArgs {
                                project_id: "P1".into(),
                                nickname: nickname.clone(),
                                phone: phone.clone(),
                            })
                            .realname(name.as_str())
                            .id_card(id_card.as_str())
                            .city(city.as_str())
                            .email(email.as_str()),
                        )
                        .await
                        .map(|v| format!("{v:?}")),
                );
                record(
                    members
                        .query_member(QueryMemberRequest::new().phone(phone.as_str()))
                        .await
                        .map(|v| format!("{v:?}")),
                );
                let change = ChangePointsRequest::new(ChangePointsArgs {
                    open_id: open_id.clone(),
                    score: 5,
                    out_biz_no: "ob-1".into(),
                    change_reason: "r".into(),
                    change_event: "event_add".into(),
                    change_id: format!("chg-{calls}"),
                });
                record(Ok(format!("{change:?}")));
                record(
                    client
                        .points()
                        .change_points(change)
                        .await
                        .map(|v| format!("{v:?}")),
                );
                calls += 3;
                *echoer.tokens.lock().unwrap() = None;
            }
        }
    }
    let seen = echoer.seen.lock().unwrap().join("\n");
    let sent = tags.iter().filter(|t| seen.contains(t.as_str())).count();
    let capture = take_captured();
    texts.push(capture.text);
    let everything = texts.join("\n");
    let hits: Vec<&String> = tags
        .iter()
        .filter(|t| everything.contains(t.as_str()))
        .collect();
    eprintln!(
        "every form (seed {seed}): {calls} calls, {} values ({sent} on the wire), {} texts ({} bytes, {} events), {} hits",
        tags.len(),
        texts.len(),
        everything.len(),
        capture.events,
        hits.len()
    );
    assert!(
        sent >= tags.len() - 6,
        "every value but the app secrets was sent"
    );
    assert!(capture.events > 100, "the capture saw the calls");
    for tag in hits.iter().take(8) {
        let at = everything.find(tag.as_str()).unwrap();
        let from = everything.floor_char_boundary(at.saturating_sub(60));
        eprintln!(
            "leak {tag}: …{}…",
            &everything[from..everything.ceil_char_boundary(at + 40)]
        );
    }
    if let Some(tag) = hits.first() {
        let at = everything.find(tag.as_str()).unwrap();
        let from = everything.floor_char_boundary(at.saturating_sub(200));
        panic!(
            "{} of {} values leaked; {tag}: …{}…",
            hits.len(),
            tags.len(),
            &everything[from..everything.ceil_char_boundary(at + 80)]
        );
    }
}

// ------------------------------------------------------------------- personal data

/// The personal values of the test customer, as a server may quote them.
fn personal_values() -> Vec<(String, String)> {
    let mut values = Vec::new();
    for (what, value) in [("phone", PHONE), ("ID card", ID_CARD), ("name", NAME)] {
        values.push((what.to_owned(), value.to_owned()));
        // As a JSON text escapes it when asked to stay ASCII.
        let escaped: String = value
            .chars()
            .map(|c| {
                if c.is_ascii() {
                    c.to_string()
                } else {
                    format!("\\u{:04x}", c as u32)
                }
            })
            .collect();
        if escaped != value {
            values.push((format!("{what} (escaped)"), escaped));
        }
    }
    values
}

/// Must-show 5, both ways: every endpoint with the test customer's phone, ID card and
/// name, against the sandbox (every call a success) and against the quoting server
/// (every call an error), each client built with `log_request_bodies_with_personal_data`
/// as given. Returns the scan of the error and value texts alone, and that of the
/// capture (tracing and `log`), with the wire's secrets and the personal values sought.
async fn personal_data_run(log_bodies: bool) -> (Scan, Scan, Vec<String>) {
    const SECRET_ECHO: &str = "app-secret-pii-echo-5150";
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let wire: Log = Arc::default();
    let base = recording_relay(sandbox.addr(), wire.clone()).await;
    let client: Client = Client::builder()
        .base_url(&base)
        .app_id(sandbox.app_id())
        .app_secret(sandbox.app_secret())
        .token_store(Arc::new(MemoryTokenStore::new()))
        .retry_policy(RetryPolicy::NONE)
        .log_request_bodies_with_personal_data(log_bodies)
        .build()
        .unwrap();
    let mut successes = Outcomes::default();
    let control = sandbox.control();
    let code = || control.last_sms_code(PHONE);
    call_every_endpoint(&client, "pii", &code, &mut successes).await;
    assert!(
        successes.errors.is_empty(),
        "every call succeeds against the sandbox: {:?}\n{}",
        successes.errors,
        successes.texts.join("\n")
    );
    assert!(successes.ok >= 21, "{} successes", successes.ok);

    let (echo_base, echoer) = hostile::echoing_server().await;
    let echo = recording_relay(addr_of(&echo_base), wire.clone()).await;
    let mut errors = Outcomes::default();
    let no_code = || None;
    for mode in [
        hostile::Echo::ApiJson,
        hostile::Echo::Html,
        hostile::Echo::DecodeJson,
        hostile::Echo::InvalidToken,
    ] {
        *echoer.business.lock().unwrap() = mode;
        let client: Client = Client::builder()
            .base_url(&echo)
            .app_id("app-pii-echo")
            .app_secret(SECRET_ECHO)
            .token_store(Arc::new(MemoryTokenStore::new()))
            .retry_policy(RetryPolicy::NONE)
            .log_request_bodies_with_personal_data(log_bodies)
            .build()
            .unwrap();
        call_every_endpoint(&client, "pii", &no_code, &mut errors).await;
    }
    assert_eq!(errors.ok, 0, "the quoting server's answers are errors");

    let wire = wire.lock().unwrap().clone();
    for value in [PHONE, ID_CARD, NAME] {
        assert!(wire.contains(value), "{value} was sent");
    }
    let mut sought = personal_values();
    sought.extend(wire_secrets(&wire, sandbox.app_secret()));
    sought.push(("app secret".into(), SECRET_ECHO.into()));
    let mut texts = successes.texts;
    texts.extend(errors.texts);
    texts.push(format!("{client:?}"));
    // The capture's lines, to be told apart: the opted-in body events, and the rest.
    let capture = take_captured();
    let lines: Vec<String> = capture.text.lines().map(str::to_owned).collect();
    let returned = Scan::new(texts, &sought);
    *captured() = capture;
    let logged = Scan::new(Vec::new(), &sought);
    (returned, logged, lines)
}

/// Off (the default): no personal value and no secret in any log record, error text or
/// `Debug` output.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_never_reaches_logs_errors_or_debug_output() {
    let _serial = session().await;
    let (returned, logged, _) = personal_data_run(false).await;
    returned.print("personal data, off: errors and values");
    logged.print("personal data, off: tracing and log");
    assert!(returned.texts > 150 && logged.events > 100);
    assert!(returned.hits.is_empty(), "leaked:{}", returned.contexts());
    assert!(logged.hits.is_empty(), "leaked:{}", logged.contexts());
}

/// On (`log_request_bodies_with_personal_data(true)`): every request body is logged at
/// DEBUG with its personal data, and only there: errors, `Debug` output and every other
/// event stay clean, and no secret is logged even then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opting_in_logs_request_bodies_with_personal_data_and_nothing_else() {
    let _serial = session().await;
    let (returned, logged, lines) = personal_data_run(true).await;
    returned.print("personal data, on: errors and values");
    logged.print("personal data, on: tracing and log");
    assert!(returned.hits.is_empty(), "leaked:{}", returned.contexts());
    let personal: Vec<String> = personal_values().into_iter().map(|(_, v)| v).collect();
    let (bodies, others): (Vec<&String>, Vec<&String>) = lines
        .iter()
        .partition(|l| l.starts_with("event DEBUG") && l.contains("request body"));
    for value in [PHONE, ID_CARD, NAME] {
        assert!(
            bodies.iter().any(|l| l.contains(value)),
            "{value} is in a logged body: {} body events",
            bodies.len()
        );
    }
    let elsewhere: Vec<&&String> = others
        .iter()
        .filter(|l| personal.iter().any(|v| l.contains(v.as_str())))
        .collect();
    assert!(
        elsewhere.is_empty(),
        "personal data outside the body events: {elsewhere:?}"
    );
    let secrets: Vec<&(String, String)> = logged
        .hits
        .iter()
        .filter(|(_, v)| !personal.contains(v))
        .collect();
    assert!(secrets.is_empty(), "secrets logged: {secrets:?}");
}

// ---------------------------------------------------------------------------- panics

/// Must-show 3 (panic messages): the SDK's own code (runtime and generated crate, outside
/// `#[cfg(test)]`) has no panic site whose message could carry a value: every `unwrap`,
/// `expect`, `panic!`, `unreachable!`, `assert!` left is listed here with its constant
/// message, and a new one fails this test until it is reviewed.
///
/// Not counted: `tokens/conformance.rs` and `journal/conformance.rs`, the conformance kits
/// store implementers run in their own tests (their assertion messages name store keys,
/// `TokenRecord`s, whose `Debug` redacts both tokens, and journal entries, whose `Debug`
/// shows no body). Slicing panics (which quote the string) are ruled out
/// for the scrubbing paths by `text_producing_paths_never_panic`.
#[test]
fn no_panic_site_in_sdk_code_can_carry_a_value() {
    let _serial = SERIAL.blocking_lock();
    const REVIEWED: &[(&str, &str)] = &[
        // A constant evaluated at compile time.
        (
            "wire/time.rs",
            r#"None => panic!("+08:00 is a valid offset"),"#,
        ),
        // `new_from_slice` of HMAC cannot fail; the message is constant.
        (
            "signer.rs",
            r#".unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));"#,
        ),
    ];
    const PATTERNS: &[&str] = &[
        ".unwrap()",
        ".expect(",
        "panic!(",
        "unreachable!(",
        "todo!(",
        "unimplemented!(",
        "assert!(",
        "assert_eq!(",
        "assert_ne!(",
        "unwrap_unchecked",
    ];
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    let mut dirs = vec![
        root.join("crates/openplatform-runtime/src"),
        root.join("crates/gree-ump/src"),
    ];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 30, "{} source files", files.len());
    let mut found: Vec<(String, String)> = Vec::new();
    for path in &files {
        let shown = path.to_string_lossy().replace('\\', "/");
        if shown.ends_with("tokens/conformance.rs") || shown.ends_with("journal/conformance.rs") {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap();
        for line in text.lines().take_while(|l| l.trim_end() != "#[cfg(test)]") {
            let code = line.trim();
            if code.starts_with("//") {
                continue;
            }
            if PATTERNS.iter().any(|p| code.contains(p)) {
                found.push((shown.clone(), code.to_owned()));
            }
        }
    }
    let unreviewed: Vec<&(String, String)> = found
        .iter()
        .filter(|(file, code)| !REVIEWED.iter().any(|(f, c)| file.ends_with(f) && code == c))
        .collect();
    assert!(
        unreviewed.is_empty(),
        "panic sites to review (a message must never format a value): {unreviewed:#?}"
    );
    for (f, c) in REVIEWED {
        assert!(
            found
                .iter()
                .any(|(file, code)| file.ends_with(f) && code == c),
            "stale entry: {f}: {c}"
        );
        assert!(!c.contains('{'), "a reviewed message formats nothing: {c}");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

    /// The paths every error text goes through (scrubbing known values, redacting
    /// sensitive JSON keys, cutting a body excerpt) never panic, whatever a server sends:
    /// a panic there would print the unscrubbed text (a string slice's panic quotes it).
    #[test]
    fn text_producing_paths_never_panic(
        text in "(\\PC|[\"\\\\:{},\\[\\] ]|phone|id_card|\u{00e9}|\u{6b27}|\u{1f600}){0,64}",
        needle in "\\PC{0,8}",
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
    ) {
        use gree_ump::runtime::redact::{Scrubber, redact_json_keys};
        let mut scrubber = Scrubber::new();
        scrubber.add(&needle);
        scrubber.add_sensitive_values(text.as_bytes(), &["phone", "id_card"]);
        scrubber.add_sensitive_values(&bytes, &["phone"]);
        let scrubbed = scrubber.scrub(&text);
        proptest::prop_assert!(needle.trim().len() < 2 || !scrubbed.contains(needle.as_str()) || scrubbed.contains("[REDACTED]"));
        let _ = scrubber.finds(&bytes);
        let _ = redact_json_keys(&text, &["phone", "id_card"]);
        let _ = redact_json_keys(&String::from_utf8_lossy(&bytes), &["phone"]);
        use gree_ump::runtime::error::{BODY_EXCERPT_LIMIT, BodyExcerpt};
        proptest::prop_assert_eq!(BodyExcerpt::new(&bytes).total_len(), bytes.len());
        // Cut at the limit, inside a character or not.
        for pad in [BODY_EXCERPT_LIMIT - 3, BODY_EXCERPT_LIMIT - 1] {
            let mut long = vec![b'a'; pad];
            long.extend_from_slice(text.as_bytes());
            long.extend_from_slice(&bytes);
            proptest::prop_assert_eq!(BodyExcerpt::new(&long).total_len(), long.len());
        }
    }
}
