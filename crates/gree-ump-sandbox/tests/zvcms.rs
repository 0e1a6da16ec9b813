//! The zvcms typed client (`crates/zvcms`) against the sandbox's zvcms API, end to end
//! over HTTP: the sandbox verifies each `Token` with the `Signer` the test gives
//! it, the same trait object the client signs with.
//!
//! The signer (HMAC-SHA1 over the sorted pairs, base64, percent-encoded) is a test
//! choice, not the vendor's algorithm, which the document does not publish.

use std::sync::Arc;

use gree_ump_sandbox::{Sandbox, SandboxConfig, SandboxHandle, ZvcmsConfig, ZvcmsCoupon};
use serde_json::{Value, json};
use zvcms::endpoints::{VerifyCouponsArgs, VerifyCouponsRequest};
use zvcms::models::{CardListType, ChannelType, VerifyExt};
use zvcms::signer::CanonicalSigner;
use zvcms::wire::Id;
use zvcms::{Client, Error, Signer};

const OPEN_ID: &str = "6dc05b4ac175cf316d226252b05cf685";
const GRANT: &str = "782c281f62";
const KEY: &str = "zvcms-sandbox-test-key";
const COUPON: &str = "390962138708451328";
const CUSTOMER: i64 = 10086;

fn signer(key: &str) -> Arc<dyn Signer> {
    Arc::new(CanonicalSigner::hmac_sha1(key).url_encoded(true))
}

async fn sandbox() -> SandboxHandle {
    let config = SandboxConfig::default().with_zvcms(ZvcmsConfig::new(OPEN_ID, GRANT, signer(KEY)));
    let sandbox = Sandbox::start(config).await.expect("the sandbox starts");
    sandbox
        .control()
        .zvcms_add_coupon(ZvcmsCoupon::new(COUPON, CUSTOMER));
    sandbox
}

fn client(sandbox: &SandboxHandle, signer: Arc<dyn Signer>) -> Client {
    Client::builder()
        .base_url(sandbox.base_url())
        .app_id(OPEN_ID)
        .grant_code(GRANT)
        .signer(signer)
        .build()
        .expect("a client")
}

fn redemption(biz_id: &str, coupon: &str, customer: i64) -> VerifyCouponsRequest {
    VerifyCouponsRequest::new(VerifyCouponsArgs {
        biz_id: biz_id.into(),
        coupons_card_list: vec![Id::new(coupon)],
    })
    .customer_id(customer)
    .ext(
        VerifyExt::new()
            .channel_type(ChannelType::Pos)
            .multi_store_mark("S001"),
    )
}

/// The refusal's `(raw_code, message)`.
fn refusal(result: Result<impl std::fmt::Debug, Error>) -> (i64, String) {
    match result {
        Err(Error::Api(e)) => (e.raw_code, e.message.unwrap_or_default()),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn uses_left(sandbox: &SandboxHandle, card_id: &str) -> u32 {
    sandbox
        .control()
        .zvcms_coupon(card_id)
        .expect("the coupon")
        .uses_left
}

#[tokio::test]
async fn a_verification_redeems_the_coupon_once() {
    let sandbox = sandbox().await;
    let client = client(&sandbox, signer(KEY));
    let data = client
        .coupons()
        .verify_coupons(redemption("paywewre121", COUPON, CUSTOMER))
        .await
        .expect("redeemed");
    assert_eq!(data.biz_id.as_deref(), Some("paywewre121"));
    assert_eq!(data.card_id_list, Some(vec![Id::new(COUPON)]));
    let user = data.user_info.expect("userInfo");
    assert_eq!(user.customer_id, Some(CUSTOMER));
    assert_eq!(uses_left(&sandbox, COUPON), 0);

    // Redeemed: a second verification is a business refusal, as the document's
    // business-error example (status true with a code).
    let again = client
        .coupons()
        .verify_coupons(redemption("paywewre122", COUPON, CUSTOMER))
        .await;
    assert_eq!(refusal(again).0, 2003);
}

#[tokio::test]
async fn a_bad_signature_is_refused_and_redeems_nothing() {
    let sandbox = sandbox().await;
    let forger = client(&sandbox, signer("another-key"));
    let (code, message) = refusal(
        forger
            .coupons()
            .verify_coupons(redemption("b-1", COUPON, CUSTOMER))
            .await,
    );
    assert_eq!(code, 1003, "{message}");
    assert!(message.contains("签名错误"), "{message}");
    assert!(
        !message.contains(KEY) && !message.contains(GRANT),
        "{message}"
    );
    assert_eq!(uses_left(&sandbox, COUPON), 1);

    // Another GrantCode, correctly signed with it, is refused too.
    let stranger = Client::builder()
        .base_url(sandbox.base_url())
        .app_id(OPEN_ID)
        .grant_code("not-the-grant")
        .signer(signer(KEY))
        .build()
        .expect("a client");
    let refused = stranger
        .coupons()
        .verify_coupons(redemption("b-2", COUPON, CUSTOMER))
        .await;
    assert_eq!(refusal(refused).0, 1002);
    assert_eq!(uses_left(&sandbox, COUPON), 1);
}

#[tokio::test]
async fn an_unknown_coupon_or_another_customers_is_refused() {
    let sandbox = sandbox().await;
    let client = client(&sandbox, signer(KEY));
    let unknown = client
        .coupons()
        .verify_coupons(redemption("u-1", "390962138708451329", CUSTOMER))
        .await;
    let (code, message) = refusal(unknown);
    assert_eq!(code, 2001, "{message}");
    let theirs = client
        .coupons()
        .verify_coupons(redemption("u-2", COUPON, CUSTOMER + 1))
        .await;
    assert_eq!(refusal(theirs).0, 2002);
    assert_eq!(uses_left(&sandbox, COUPON), 1);
}

#[tokio::test]
async fn scan_codes_multi_use_coupons_and_the_http_control() {
    let sandbox = sandbox().await;
    let client = client(&sandbox, signer(KEY));
    // Added over HTTP, as a test in another language would.
    openplatform_runtime::install_tls_provider();
    let http = reqwest::Client::new();
    let added: Value = http
        .post(format!("{}/__sandbox/zvcms/coupons", sandbox.base_url()))
        .body(
            json!({"card_id": "390962138708451330", "customer_id": 7,
                   "scan_code": "SCAN-1", "uses": 3})
            .to_string(),
        )
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(added["uses_left"], json!(3));
    let scan = VerifyCouponsRequest::new(VerifyCouponsArgs {
        biz_id: "s-1".into(),
        coupons_card_list: vec![Id::new("SCAN-1")],
    })
    .card_list_type(CardListType::ScanCode)
    .use_count(2);
    let data = client
        .coupons()
        .verify_coupons(scan.clone())
        .await
        .expect("redeemed by scan code");
    assert_eq!(data.card_id_list, Some(vec![Id::new("390962138708451330")]));
    assert_eq!(uses_left(&sandbox, "390962138708451330"), 1);
    assert_eq!(refusal(client.coupons().verify_coupons(scan).await).0, 2003);
}

#[tokio::test]
async fn without_zvcms_configured_the_path_is_not_served() {
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("the sandbox starts");
    let client = client(&sandbox, signer(KEY));
    match client
        .coupons()
        .verify_coupons(redemption("n-1", COUPON, CUSTOMER))
        .await
    {
        Err(Error::Http(e)) => assert_eq!(e.status, 404),
        other => panic!("expected HTTP 404, got {other:?}"),
    }
}

#[tokio::test]
async fn a_restart_on_a_state_file_keeps_the_zvcms_coupons() {
    let dir = std::env::temp_dir().join(format!(
        "gree-ump-sandbox-zvcms-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let config = SandboxConfig::default()
        .with_zvcms(ZvcmsConfig::new(OPEN_ID, GRANT, signer(KEY)))
        .with_state_file(dir.join("state.json"));
    let first = Sandbox::start(config.clone()).await.expect("starts");
    first
        .control()
        .zvcms_add_coupon(ZvcmsCoupon::new(COUPON, CUSTOMER));
    first
        .control()
        .zvcms_add_coupon(ZvcmsCoupon::new("390962138708451331", CUSTOMER));
    client(&first, signer(KEY))
        .coupons()
        .verify_coupons(redemption("r-1", COUPON, CUSTOMER))
        .await
        .expect("redeemed");
    // Killed, not shut down: the redemption was saved before its reply.
    drop(first);
    let second = Sandbox::start(config).await.expect("restarts");
    assert_eq!(uses_left(&second, COUPON), 0);
    assert_eq!(uses_left(&second, "390962138708451331"), 1);
    let again = client(&second, signer(KEY))
        .coupons()
        .verify_coupons(redemption("r-2", COUPON, CUSTOMER))
        .await;
    assert_eq!(refusal(again).0, 2003);
    second.shutdown().await;
    std::fs::remove_dir_all(&dir).ok();
}

/// Sends `body` to `/api/v2` as is: the parsed reply.
async fn post_raw(sandbox: &SandboxHandle, body: &str) -> Value {
    openplatform_runtime::install_tls_provider();
    let reply = reqwest::Client::new()
        .post(format!(
            "{}{}",
            sandbox.base_url(),
            zvcms::PROTOCOL.path_template
        ))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("an answer");
    assert_eq!(reply.status(), 200, "{body}");
    reply.json().await.expect("a JSON reply")
}

/// An envelope with these fields, signed by the test signer.
fn signed_envelope(action: &str, params: &str, nonce: &str) -> String {
    let fields = [
        ("OpenId", OPEN_ID),
        ("GrantCode", GRANT),
        ("Timestamp", "1547186244"),
        ("Nonce", nonce),
        ("Action", action),
        ("Params", params),
    ];
    let token = signer(KEY)
        .sign(&zvcms::SignRequest::new(action, &fields))
        .expect("signs");
    format!(
        r#"{{"OpenId":"{OPEN_ID}","GrantCode":"{GRANT}","Timestamp":"1547186244","Nonce":"{nonce}","Token":"{token}","Action":"{action}","Params":{params}}}"#
    )
}

#[tokio::test]
async fn hostile_envelopes_are_refused_with_an_answer() {
    let sandbox = sandbox().await;
    let action = "communal.user.coupons-vertify";
    let params =
        format!(r#"{{"bizId":"h","couponsCardList":"[{COUPON}]","customerId":{CUSTOMER}}}"#);
    let cases: Vec<(String, i64)> = vec![
        ("not json".into(), 1001),
        ("[1,2]".into(), 1001),
        ("{}".into(), 1001),
        (r#"{"OpenId":1}"#.into(), 1001),
        (signed_envelope(action, &params, "0"), 1001),
        (signed_envelope(action, &params, "-5"), 1001),
        (
            signed_envelope(action, &params, "99999999999999999999999"),
            1001,
        ),
        (signed_envelope("communal.user.unknown", &params, "7"), 1004),
        (signed_envelope(action, "[1]", "8"), 1001),
        (signed_envelope(action, r#"{"bizId":""}"#, "9"), 1001),
        (
            signed_envelope(action, r#"{"bizId":"h","couponsCardList":"[1]"}"#, "10"),
            1001,
        ),
        (
            signed_envelope(action, &params, "11").replace("\"h\"", "\"x\""),
            1003,
        ),
    ];
    for (body, code) in cases {
        let reply = post_raw(&sandbox, &body).await;
        assert_eq!(reply["code"], json!(code.to_string()), "{body}: {reply}");
        assert_ne!(reply["status"], json!("true"), "{body}: {reply}");
    }
    assert_eq!(uses_left(&sandbox, COUPON), 1);
    // A well-formed call after all of them is redeemed: nothing was consumed before.
    let reply = post_raw(&sandbox, &signed_envelope(action, &params, "658965")).await;
    assert_eq!(reply["status"], json!("true"), "{reply}");
    assert_eq!(reply["code"], json!("0"), "{reply}");
}

/// The document's request example's `Params`, verbatim.
const DOC_PARAMS: &str = r#"{ "bizId": "paywewre121", "channel": "", "customerId": "", "groupId": "", "couponsCardList": "[390962138708451328]", "type": "", "ext": { "channelType": "", "multiStoreId": "", "multiStoreMark": "", "orderNo": "", "reason": "" }, "useCount": "", "tradeMarks": "", "amount": "", "orderAmount": "" }"#;

#[tokio::test]
async fn the_documents_example_is_refused_without_a_customer_and_accepted_with_one() {
    let sandbox = sandbox().await;
    let action = "communal.user.coupons-vertify";
    // As printed (our signature: the example's Token is of an unknown key), customerId is
    // "" and type is "": the description requires customerId unless type=1
    // (其他情况下必传, errata E18), so the platform refuses it too.
    let reply = post_raw(&sandbox, &signed_envelope(action, DOC_PARAMS, "658965")).await;
    assert_eq!(reply["status"], json!(false), "{reply}");
    assert_eq!(reply["code"], json!("1001"), "{reply}");
    assert!(
        reply["message"]
            .as_str()
            .is_some_and(|m| m.contains("customerId")),
        "{reply}"
    );
    // With the customer who holds the coupon (state substituted), every other "" read
    // as absent (errata E06): redeemed.
    let params = DOC_PARAMS.replacen(
        r#""customerId": """#,
        &format!(r#""customerId": {CUSTOMER}"#),
        1,
    );
    let reply = post_raw(&sandbox, &signed_envelope(action, &params, "658966")).await;
    assert_eq!(reply["code"], json!("0"), "{reply}");
    assert_eq!(reply["data"]["bizId"], json!("paywewre121"), "{reply}");
    assert_eq!(
        reply["data"]["cardIdList"],
        json!(format!("[{COUPON}]")),
        "{reply}"
    );
    assert_eq!(uses_left(&sandbox, COUPON), 0);
}

/// With zvcms configured the sandbox serves its OpenAPI document, which names the path
/// the client sends to; the document's request example, decoded into the client's
/// request type and sent, is answered about the coupon (no such scan code), never
/// refused as invalid (the sandbox's 1001).
#[tokio::test]
async fn the_zvcms_openapi_document_is_served_and_its_example_is_taken() {
    let sandbox = sandbox().await;
    openplatform_runtime::install_tls_provider();
    let doc: Value = reqwest::Client::new()
        .get(format!(
            "{}/__sandbox/zvcms/openapi.json",
            sandbox.base_url()
        ))
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(doc["openapi"], json!("3.1.0"));
    let op = &doc["paths"][zvcms::PROTOCOL.path_template]["post"];
    assert_eq!(op["operationId"], json!("verify_coupons"));
    let example = &op["requestBody"]["content"]["application/json"]["example"];
    assert_eq!(example["Action"], json!("communal.user.coupons-vertify"));
    let request: VerifyCouponsRequest =
        serde_json::from_value(example["Params"].clone()).expect("the example decodes");
    let client = client(&sandbox, signer(KEY));
    let (code, message) = refusal(client.coupons().verify_coupons(request).await);
    assert_eq!(code, 2001, "{message}");
}
