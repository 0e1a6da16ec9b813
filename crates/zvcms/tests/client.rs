//! The zvcms client against a local server on 127.0.0.1 that checks the wire as the
//! platform would: one URL for every call, the JSON envelope and its key order, `Action`
//! dispatch through the generated route table, `Timestamp` in seconds, a `Nonce` never
//! seen before, and the `Token` recomputed with the same [`Signer`] from the fields as
//! received (`Params` as its exact text).
//!
//! The signer used here (HMAC-SHA1 over the sorted pairs, base64, percent-encoded) is a
//! test choice, not the vendor's algorithm, which the document does not publish.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;
use zvcms::endpoints::{VerifyCouponsArgs, VerifyCouponsRequest};
use zvcms::generated::routes::AnyRequest;
use zvcms::models::{CardListType, ChannelType, VerifyExt};
use zvcms::runtime::{Error, Sent};
use zvcms::signer::{CanonicalSigner, SignError};
use zvcms::wire::Id;
use zvcms::{Client, SignRequest, Signer};

const OPEN_ID: &str = "6dc05b4ac175cf316d226252b05cf685";
const GRANT: &str = "grant-782c281f62-secret";
const KEY: &str = "zvcms-test-key-secret";
const COUPON: u64 = 390_962_138_708_451_328;
/// The envelope keys, in the document's order.
const KEYS: [&str; 7] = [
    "OpenId",
    "GrantCode",
    "Timestamp",
    "Nonce",
    "Token",
    "Action",
    "Params",
];

fn test_signer(key: &str) -> CanonicalSigner {
    CanonicalSigner::hmac_sha1(key).url_encoded(true)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    #[serde(rename = "OpenId")]
    open_id: String,
    #[serde(rename = "GrantCode")]
    grant_code: String,
    #[serde(rename = "Timestamp")]
    timestamp: String,
    #[serde(rename = "Nonce")]
    nonce: String,
    #[serde(rename = "Token")]
    token: String,
    #[serde(rename = "Action")]
    action: String,
    #[serde(rename = "Params")]
    params: Box<RawValue>,
}

struct Server {
    signer: Arc<dyn Signer>,
    /// Raw bodies received.
    bodies: Mutex<Vec<String>>,
    nonces: Mutex<HashSet<String>>,
    /// Answer every valid call with this body instead of the echo.
    canned: Mutex<Option<String>>,
    /// Quote the request's `Token` in a successful reply (a hostile echo).
    quote_token: std::sync::atomic::AtomicBool,
    /// Refuse every call quoting the `Token` percent-decoded (a server that reads it as
    /// form data).
    quote_decoded_token: std::sync::atomic::AtomicBool,
    calls: AtomicUsize,
}

impl Server {
    fn new(signer: Arc<dyn Signer>) -> Arc<Self> {
        Arc::new(Server {
            signer,
            bodies: Mutex::new(Vec::new()),
            nonces: Mutex::new(HashSet::new()),
            canned: Mutex::new(None),
            quote_token: Default::default(),
            quote_decoded_token: Default::default(),
            calls: AtomicUsize::new(0),
        })
    }
}

fn refuse(code: &str, message: String) -> String {
    json!({"status": false, "code": code, "message": message}).to_string()
}

/// Checks one request as the platform would; the reply echoes the redemption.
async fn handle(
    State(server): State<Arc<Server>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> String {
    server.calls.fetch_add(1, Ordering::SeqCst);
    let text = String::from_utf8(body.to_vec()).unwrap_or_default();
    server.bodies.lock().unwrap().push(text.clone());
    if method != Method::POST || uri.path() != "/api/v2" || uri.query().is_some() {
        return refuse("ROUTE", format!("{method} {uri}"));
    }
    let json_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_type {
        return refuse("TYPE", "not JSON".into());
    }
    let env: Envelope = match serde_json::from_str(&text) {
        Ok(env) => env,
        Err(e) => return refuse("ENVELOPE", e.to_string()),
    };
    let positions: Vec<usize> = KEYS
        .iter()
        .map(|k| text.find(&format!("\"{k}\"")).unwrap_or(usize::MAX))
        .collect();
    if !positions.windows(2).all(|w| w[0] < w[1]) {
        return refuse("ORDER", format!("keys out of order: {text}"));
    }
    if env.open_id != OPEN_ID || env.grant_code != GRANT {
        return refuse("AUTH", "unknown OpenId or GrantCode".into());
    }
    let now_s = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    match env.timestamp.parse::<i64>() {
        Ok(ts) if env.timestamp.bytes().all(|b| b.is_ascii_digit()) && (ts - now_s).abs() <= 5 => {}
        _ => {
            return refuse(
                "TIME",
                format!("Timestamp {} is not now in seconds", env.timestamp),
            );
        }
    }
    match env.nonce.parse::<u64>() {
        Ok(n) if (1..2_147_483_647).contains(&n) && env.nonce == n.to_string() => {}
        _ => {
            return refuse(
                "NONCE",
                format!("Nonce {} is not a positive integer", env.nonce),
            );
        }
    }
    if !server.nonces.lock().unwrap().insert(env.nonce.clone()) {
        return refuse("REPLAY", format!("Nonce {} seen before", env.nonce));
    }
    if server.quote_decoded_token.load(Ordering::SeqCst) {
        return refuse(
            "SIGN",
            format!("Token {} does not match", percent_decode(&env.token)),
        );
    }
    // The Token, recomputed from the fields exactly as received.
    let fields = [
        ("OpenId", env.open_id.as_str()),
        ("GrantCode", env.grant_code.as_str()),
        ("Timestamp", env.timestamp.as_str()),
        ("Nonce", env.nonce.as_str()),
        ("Action", env.action.as_str()),
        ("Params", env.params.get()),
    ];
    let expected = server
        .signer
        .sign(&SignRequest::new(&env.action, &fields))
        .unwrap();
    if expected != env.token {
        return refuse("SIGN", "Token does not match".into());
    }
    // Action dispatch through the generated route table, and its rules.
    let request = match AnyRequest::decode(&env.action, env.params.get().as_bytes()) {
        None => return refuse("ACTION", format!("unknown Action {}", env.action)),
        Some(Err(e)) => return refuse("PARAMS", e.to_string()),
        Some(Ok(r)) => r,
    };
    if let Err(e) = request.validate() {
        return refuse("RULE", e.to_string());
    }
    if let Some(canned) = server.canned.lock().unwrap().clone() {
        return canned;
    }
    let AnyRequest::VerifyCoupons(req) = request else {
        return refuse("ACTION", "not a verification".into());
    };
    let nickname = if server.quote_token.load(Ordering::SeqCst) {
        env.token.clone()
    } else {
        "测试".to_owned()
    };
    json!({
        "status": "true",
        "code": "0",
        "message": "说明",
        "data": {
            "bizId": req.biz_id,
            // JSON text inside a string, as the document's example.
            "cardIdList": serde_json::to_string(&req.coupons_card_list).unwrap(),
            "userInfo": {
                "customer_id": req.customer_id.map_or(String::new(), |c| c.to_string()),
                "birthday": "", "username": "", "nickname": nickname, "phone": "",
                "gender": "", "province": "", "city": "", "district": ""
            }
        }
    })
    .to_string()
}

/// `%XX` as a byte, as a form parser reads the `Token`.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn start(server: Arc<Server>) -> String {
    let app = axum::Router::new().fallback(handle).with_state(server);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    format!("http://{addr}")
}

fn client(base_url: &str, signer: Arc<dyn Signer>) -> Client {
    Client::builder()
        .base_url(base_url)
        .app_id(OPEN_ID)
        .grant_code(GRANT)
        .signer(signer)
        .build()
        .unwrap()
}

fn redemption() -> VerifyCouponsRequest {
    VerifyCouponsRequest::new(VerifyCouponsArgs {
        biz_id: "paywewre121".into(),
        coupons_card_list: vec![Id::from(COUPON)],
    })
    .customer_id(10086)
    .ext(
        VerifyExt::new()
            .channel_type(ChannelType::Pos)
            .multi_store_mark("S001")
            .order_no("O-1"),
    )
    .amount(1000_i64)
    .order_amount(5000_i64)
}

/// A signer that records what it is given, then signs with the test scheme.
#[derive(Debug, Default)]
struct Recording {
    seen: Mutex<Vec<Vec<(String, String)>>>,
}

impl Signer for Recording {
    fn sign(&self, request: &SignRequest<'_>) -> Result<String, SignError> {
        self.seen.lock().unwrap().push(
            request
                .fields()
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
        );
        test_signer(KEY).sign(request)
    }
}

#[tokio::test]
async fn verify_end_to_end_envelope_action_and_signature() {
    let server = Server::new(Arc::new(test_signer(KEY)));
    let url = start(server.clone()).await;
    let recording = Arc::new(Recording::default());
    let client = client(&url, recording.clone());

    let request = redemption();
    let data = client
        .coupons()
        .verify_coupons(request.clone())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(data.biz_id.as_deref(), Some("paywewre121"));
    assert_eq!(data.card_id_list, Some(vec![Id::from(COUPON)]));
    let user = data.user_info.unwrap();
    assert_eq!(user.customer_id, Some(10086));
    assert_eq!(user.nickname.as_deref(), Some("测试"));
    assert_eq!(user.province, None);

    // One request; Params is the request's own JSON, byte for byte, ids as bare integers.
    let bodies = server.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1);
    let env: Envelope = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(env.action, "communal.user.coupons-vertify");
    assert_eq!(env.params.get(), serde_json::to_string(&request).unwrap());
    assert!(
        env.params
            .get()
            .contains(r#""couponsCardList":"[390962138708451328]""#),
        "{}",
        env.params.get()
    );
    assert!(
        !env.params.get().contains(r#""""#),
        "no empty strings are sent"
    );

    // The signer was given the envelope fields in the order sent, Params as sent.
    let seen = recording.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let names: Vec<&str> = seen[0].iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "OpenId",
            "GrantCode",
            "Timestamp",
            "Nonce",
            "Action",
            "Params"
        ]
    );
    assert_eq!(seen[0][5].1, env.params.get());
    assert_eq!(seen[0][2].1, env.timestamp);
    assert_eq!(seen[0][3].1, env.nonce);
}

#[tokio::test]
async fn every_call_has_a_fresh_nonce() {
    let server = Server::new(Arc::new(test_signer(KEY)));
    let url = start(server.clone()).await;
    let client = client(&url, Arc::new(test_signer(KEY)));
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..40_u64 {
        let client = client.clone();
        calls.spawn(async move {
            let request = VerifyCouponsRequest::new(VerifyCouponsArgs {
                biz_id: format!("biz-{i}"),
                coupons_card_list: vec![Id::from(COUPON + i)],
            })
            .customer_id(7);
            client.coupons().verify_coupons(request).await
        });
    }
    while let Some(result) = calls.join_next().await {
        result.unwrap().unwrap_or_else(|e| panic!("{e}"));
    }
    // The server refuses a repeated nonce, so 40 successes mean 40 distinct nonces.
    assert_eq!(server.nonces.lock().unwrap().len(), 40);
    assert_eq!(server.calls.load(Ordering::SeqCst), 40);
}

#[tokio::test]
async fn scan_codes_travel_without_a_member() {
    let server = Server::new(Arc::new(test_signer(KEY)));
    let url = start(server.clone()).await;
    let client = client(&url, Arc::new(test_signer(KEY)));
    let request = VerifyCouponsRequest::new(VerifyCouponsArgs {
        biz_id: "scan-1".into(),
        coupons_card_list: vec![Id::from("0012AB")],
    })
    .card_list_type(CardListType::ScanCode);
    let data = client
        .coupons()
        .verify_coupons(request)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let body = server.bodies.lock().unwrap()[0].clone();
    assert!(
        body.contains(r#""couponsCardList":"[\"0012AB\"]""#),
        "{body}"
    );
    assert!(body.contains(r#""type":1"#), "{body}");
    assert_eq!(data.biz_id.as_deref(), Some("scan-1"));
    assert_eq!(data.card_id_list, Some(vec![Id::from("0012AB")]));
}

#[tokio::test]
async fn a_different_signer_is_refused_by_the_server() {
    let server = Server::new(Arc::new(test_signer(KEY)));
    let url = start(server.clone()).await;
    let client = client(&url, Arc::new(test_signer("another-key-secret")));
    let err = client
        .coupons()
        .verify_coupons(redemption())
        .await
        .unwrap_err();
    let Error::Api(e) = &err else {
        panic!("expected the server's refusal, got {err}");
    };
    assert_eq!(e.code_text.as_deref(), Some("SIGN"));
    let shown = format!("{err} {err:?}");
    for secret in [GRANT, KEY, "another-key-secret"] {
        assert!(!shown.contains(secret), "{shown}");
    }
}

/// The envelope's `Token` is the call's signature: a success that quotes it is a server
/// echoing the request, refused without its body, as the gateway style's `sign` is.
#[tokio::test]
async fn a_success_quoting_the_request_token_is_refused() {
    let server = Server::new(Arc::new(test_signer(KEY)));
    server.quote_token.store(true, Ordering::SeqCst);
    let url = start(server.clone()).await;
    let client = client(&url, Arc::new(test_signer(KEY)));
    let err = client
        .coupons()
        .verify_coupons(redemption())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Decode(e) if e.kind == zvcms::runtime::DecodeErrorKind::NotThePlatform),
        "{err:?}"
    );
    let body = server.bodies.lock().unwrap().last().cloned().unwrap();
    let sent: Envelope = serde_json::from_str(&body).unwrap();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(&sent.token), "{shown}");

    server.quote_token.store(false, Ordering::SeqCst);
    client
        .coupons()
        .verify_coupons(redemption())
        .await
        .expect("the same call, not quoting its Token, succeeds");
}

/// A server quoting the `Token` percent-decoded (base64 with `+`, `/` and `=`, as the
/// percent-encoding signer sends it encoded) in its refusal: the error's texts hold
/// neither form.
#[tokio::test]
async fn an_error_quoting_the_decoded_token_does_not_show_it() {
    let server = Server::new(Arc::new(test_signer(KEY)));
    server.quote_decoded_token.store(true, Ordering::SeqCst);
    let url = start(server.clone()).await;
    let client = client(&url, Arc::new(test_signer(KEY)));
    let mut shown = String::new();
    let mut tokens = Vec::new();
    for _ in 0..20 {
        let err = client
            .coupons()
            .verify_coupons(redemption())
            .await
            .unwrap_err();
        assert!(matches!(&err, Error::Api(_)), "{err:?}");
        let body = server.bodies.lock().unwrap().last().cloned().unwrap();
        let sent: Envelope = serde_json::from_str(&body).unwrap();
        tokens.push(percent_decode(&sent.token));
        tokens.push(sent.token);
        shown.push_str(&format!("{err}\n{err:?}\n"));
    }
    assert!(
        tokens.iter().any(|t| t.contains('+') || t.contains('/')),
        "some Token has characters that decoding changes"
    );
    for token in &tokens {
        assert!(!shown.contains(token.as_str()), "{token} in {shown}");
    }
    assert!(shown.contains("does not match"), "{shown}");
}

#[tokio::test]
async fn business_errors_with_status_true_are_errors_and_not_retried() {
    let server = Server::new(Arc::new(test_signer(KEY)));
    *server.canned.lock().unwrap() =
        Some(r#"{"status": true, "code": "40001", "message": "券已核销"}"#.into());
    let url = start(server.clone()).await;
    let client = client(&url, Arc::new(test_signer(KEY)));
    let err = client
        .coupons()
        .verify_coupons(redemption())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Api(e) if e.raw_code == 40001 && e.message.as_deref() == Some("券已核销")),
        "{err}"
    );
    assert_eq!(server.calls.load(Ordering::SeqCst), 1);

    // Nor is a garbled reply (outcome unknown): the call is not idempotent (errata E16).
    *server.canned.lock().unwrap() = Some("<html>busy</html>".into());
    let err = client
        .coupons()
        .verify_coupons(redemption())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decode(_)), "{err}");
    assert_eq!(server.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn invalid_requests_and_failing_signers_send_nothing() {
    #[derive(Debug)]
    struct Unavailable;
    impl Signer for Unavailable {
        fn sign(&self, _: &SignRequest<'_>) -> Result<String, SignError> {
            Err("the signing service is unavailable".into())
        }
    }
    let server = Server::new(Arc::new(test_signer(KEY)));
    let url = start(server.clone()).await;

    let client_ok = client(&url, Arc::new(test_signer(KEY)));
    let no_member = VerifyCouponsRequest::new(VerifyCouponsArgs {
        biz_id: "b".into(),
        coupons_card_list: vec![Id::from(COUPON)],
    });
    let err = client_ok
        .coupons()
        .verify_coupons(no_member)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Request(_)), "{err}");
    assert!(err.to_string().contains("customerId"), "{err}");

    let failing = client(&url, Arc::new(Unavailable));
    let err = failing
        .coupons()
        .verify_coupons(redemption())
        .await
        .unwrap_err();
    let Error::Transport(t) = &err else {
        panic!("expected a transport error, got {err}");
    };
    assert_eq!(t.sent(), Sent::No);
    assert!(
        err.to_string().contains("signing service is unavailable"),
        "{err}"
    );
    assert_eq!(server.calls.load(Ordering::SeqCst), 0);
}

#[test]
fn a_client_needs_an_explicit_signer_and_a_grant_code() {
    let base = || {
        Client::builder()
            .base_url("http://127.0.0.1:9")
            .app_id(OPEN_ID)
    };
    let err = base().grant_code(GRANT).build().unwrap_err().to_string();
    assert!(err.contains("no signer is set"), "{err}");
    assert!(err.contains("confirm it with the vendor"), "{err}");
    // An app secret does not stand in for a signer: no algorithm is assumed.
    let err = base()
        .grant_code(GRANT)
        .app_secret(KEY)
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("no signer is set"), "{err}");
    assert!(!err.contains(KEY), "{err}");
    let err = base()
        .grant_code(GRANT)
        .app_secret(KEY)
        .signer(Arc::new(test_signer(KEY)))
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("give the secret to the signer"), "{err}");
    let err = base()
        .signer(Arc::new(test_signer(KEY)))
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("grant_code"), "{err}");
    let client = base()
        .grant_code(GRANT)
        .signer(Arc::new(test_signer(KEY)))
        .build()
        .unwrap();
    let shown = format!("{client:?}");
    assert!(!shown.contains(GRANT) && !shown.contains(KEY), "{shown}");
    // The preset is the document's address.
    let preset = Client::builder()
        .preset("production")
        .app_id(OPEN_ID)
        .grant_code(GRANT)
        .signer(Arc::new(test_signer(KEY)))
        .build()
        .unwrap();
    assert_eq!(preset.runtime().base_url(), "http://openapi.zvcms.com");
}
