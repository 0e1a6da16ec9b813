//! No input breaks the sandbox's zvcms API: a property test sends arbitrary bytes and
//! correctly signed envelopes with arbitrary fields and `Params` (every key of the
//! request, values of any JSON kind, integers beyond 2^63) to `/api/v2`, and checks that
//! each gets an HTTP 200 answer in the document's envelope, and that a valid redemption
//! still succeeds after them.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use gree_ump_sandbox::{Sandbox, SandboxConfig, SandboxHandle, ZvcmsConfig, ZvcmsCoupon};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use zvcms::signer::CanonicalSigner;
use zvcms::{SignRequest, Signer};

const OPEN_ID: &str = "open-id";
const GRANT: &str = "grant-code";
const ACTION: &str = "communal.user.coupons-vertify";
/// Generous: the machine may be busy; a hang, not slowness, is the failure.
const WAIT: Duration = Duration::from_secs(30);

fn signer() -> Arc<dyn Signer> {
    Arc::new(CanonicalSigner::hmac_sha1("hostile-key").url_encoded(true))
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime")
    })
}

/// One sandbox for every case (started on the shared runtime).
fn sandbox() -> &'static SandboxHandle {
    static SANDBOX: OnceLock<SandboxHandle> = OnceLock::new();
    SANDBOX.get_or_init(|| {
        runtime().block_on(async {
            let config =
                SandboxConfig::default().with_zvcms(ZvcmsConfig::new(OPEN_ID, GRANT, signer()));
            Sandbox::start(config).await.expect("the sandbox starts")
        })
    })
}

fn http() -> &'static reqwest::Client {
    static HTTP: OnceLock<reqwest::Client> = OnceLock::new();
    HTTP.get_or_init(|| {
        openplatform_runtime::install_tls_provider();
        reqwest::Client::new()
    })
}

/// Posts `body`; the parsed answer, which must be the document's envelope.
fn post(body: Vec<u8>) -> Value {
    // Started before blocking on the runtime (starting it blocks on the runtime too).
    let url = format!("{}{}", sandbox().base_url(), zvcms::PROTOCOL.path_template);
    runtime().block_on(async {
        let sent = tokio::time::timeout(WAIT, async {
            let reply = http().post(url).body(body).send().await?;
            let status = reply.status();
            reply.bytes().await.map(|b| (status, b))
        })
        .await
        .expect("an answer in time")
        .expect("an HTTP answer");
        assert_eq!(sent.0, 200);
        let reply: Value = serde_json::from_slice(&sent.1).expect("JSON");
        assert!(
            reply.get("status").is_some() && reply.get("code").is_some(),
            "{reply}"
        );
        reply
    })
}

/// Any JSON value, small.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
        // Beyond i64 and u64, and JSON inside strings.
        Just(json!("[390962138708451328, 99999999999999999999999]")),
        Just(Value::String(String::new())),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,6}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `Params` with any subset of the request's keys, each of any kind.
fn params() -> impl Strategy<Value = Value> {
    const KEYS: [&str; 11] = [
        "bizId",
        "channel",
        "customerId",
        "groupId",
        "couponsCardList",
        "type",
        "ext",
        "useCount",
        "tradeMarks",
        "amount",
        "orderAmount",
    ];
    prop::collection::vec((prop::sample::select(&KEYS[..]), any_json()), 0..8).prop_map(|pairs| {
        let map: Map<String, Value> = pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        Value::Object(map)
    })
}

/// A correctly signed envelope around these values.
fn envelope(timestamp: &str, nonce: &str, action: &str, params: &Value) -> Vec<u8> {
    let params_text = params.to_string();
    let fields = [
        ("OpenId", OPEN_ID),
        ("GrantCode", GRANT),
        ("Timestamp", timestamp),
        ("Nonce", nonce),
        ("Action", action),
        ("Params", params_text.as_str()),
    ];
    let token = signer()
        .sign(&SignRequest::new(action, &fields))
        .expect("signs");
    let mut text = String::from("{");
    for (key, value) in &fields[..5] {
        text.push_str(&format!("{}:{},", json!(key), json!(value)));
    }
    text.push_str(&format!(
        "\"Token\":{},\"Params\":{params_text}}}",
        json!(token)
    ));
    text.into_bytes()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn any_bytes_get_an_answer(body in prop::collection::vec(any::<u8>(), 0..256)) {
        post(body);
    }

    #[test]
    fn any_signed_envelope_gets_an_answer(
        timestamp in prop_oneof![Just("1547186244".to_owned()), ".{0,22}"],
        nonce in prop_oneof![Just("658965".to_owned()), "[0-9-]{0,25}", ".{0,6}"],
        action in prop_oneof![Just(ACTION.to_owned()), ".{0,20}"],
        params in params(),
    ) {
        post(envelope(&timestamp, &nonce, &action, &params));
    }
}

#[test]
fn a_valid_redemption_after_hostile_input_succeeds() {
    // Some hostile input first (the property tests may run before or after this one).
    post(b"{\"OpenId\":".to_vec());
    post(envelope(
        "1",
        "1",
        ACTION,
        &json!({"couponsCardList": "[1e400]"}),
    ));
    sandbox()
        .control()
        .zvcms_add_coupon(ZvcmsCoupon::new("777000000000000001", 5));
    let params =
        json!({"bizId": "after", "couponsCardList": "[777000000000000001]", "customerId": 5});
    let reply = post(envelope("1547186244", "42", ACTION, &params));
    assert_eq!(reply["code"], json!("0"), "{reply}");
}
