//! Every request example of the vendor document (格力地产会员开放平台文档 V2.7) is
//! accepted by the sandbox, sent as raw signed HTTP, not through the
//! typed client: the bodies are the document's bytes, so what the sandbox tolerates is
//! tested apart from what the client sends (the client's side is `doc_examples`).
//!
//! What is changed before sending, and why:
//! - **Syntax repairs** only where the text as printed is not JSON (no JSON server can
//!   read it, the platform's no more than the sandbox's; errata E77): 3.1's two code
//!   blocks are one object (E10), 4.1's string values are wrapped over several lines,
//!   5.1's and 5.2's inner quotes are not escaped (E49, E54). The unrepaired texts are
//!   sent too, and refused with 1001.
//! - Nothing else: numbers for strings, quoted integers, bare JSON for JSON in a string
//!   and keys no table lists are read as sent (E78).
//! - **State**: an open_id, member code, coupon code or SMS code of the document names a
//!   thing of the vendor's test platform; it is replaced by the one the sandbox issued
//!   (3.1's open_id for the document's, the code 3.6 generated…). Members, changes, orders
//!   and templates an example refers to are created first, with bodies of their own.
//! - **Section 1's URL**: its `timestamp=1` is a placeholder (E05) and its `sign` is of
//!   a secret we do not have; both are refused as the document says (E77), and the
//!   URL is then sent with the current time and a signature of ours.
//!
//! The signature is computed here from the document's signing section (sorted query
//! parameters but `sign`, name and value concatenated, the raw body, the secret; MD5,
//! lowercase hex), with the runtime's `ump_md5::sign`.

use std::time::{SystemTime, UNIX_EPOCH};

use gree_ump_sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use openplatform_runtime::ump_md5::sign;
use serde_json::{Value, json};
use workspace_tests::doc_requests::*;

/// A sandbox clock inside 5.1's example period (begin 1629859339082, end 1630204939084:
/// 2021-08-25 to 2021-08-29, Beijing time), so the example's coupons are valid. The
/// timestamps sent stay the system time: the sandbox accepts either clock.
const IN_THE_EXAMPLE_PERIOD_MS: i64 = 1_629_950_000_000;

/// The document's open_id in 3.1's response, 3.2 and 3.6: stands for 3.1's member.
const DOC_OPEN_ID: &str = "25c56912e05847c0b09f03ca7e52b796";

struct Raw {
    http: reqwest::Client,
    sandbox: SandboxHandle,
    access_token: String,
}

fn wall_ms() -> String {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis()
        .to_string()
}

/// Sends `body` to `method` with these query parameters and a signature of ours.
async fn send(
    http: &reqwest::Client,
    sandbox: &SandboxHandle,
    method: &str,
    params: &[(String, String)],
    body: &str,
) -> Value {
    let signature = sign(params, body.as_bytes(), sandbox.app_secret().as_bytes());
    let mut query = params.to_vec();
    query.push(("sign".into(), signature.as_str().into()));
    let query: Vec<String> = query
        .iter()
        .map(|(n, v)| format!("{}={}", percent_encoded(n), percent_encoded(v)))
        .collect();
    let url = format!("{}?{}", sandbox.method_url(method), query.join("&"));
    let reply = http
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method}: no answer: {e}"));
    assert_eq!(reply.status(), 200, "{method}");
    let text = reply.text().await.expect("a body");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method}: not JSON: {e}: {text}"))
}

/// A query-string component: unreserved characters as they are, every other byte %XX.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl Raw {
    /// Section 1's example URL, with the current time and our signature (2.1).
    async fn start() -> Raw {
        let sandbox = Sandbox::start(
            SandboxConfig::default()
                .with_id_seed(18)
                .with_start_time_ms(IN_THE_EXAMPLE_PERIOD_MS),
        )
        .await
        .expect("the sandbox starts");
        // reqwest is built without a TLS provider of its own; the runtime installs one.
        openplatform_runtime::install_tls_provider();
        let http = reqwest::Client::new();
        // Repair: the URL is wrapped over three lines; it is one URL.
        let url = SECTION_1_REQUEST.replace('\n', "");
        let (address, query) = url.split_once('?').expect("a query string");
        let method = address
            .strip_prefix("https://test-ump.greedc.com/gw/gateway/")
            .and_then(|m| m.strip_suffix("/v1"))
            .expect("a gateway address");
        let as_printed: Vec<(String, String)> = query
            .split('&')
            .map(|p| p.split_once('=').expect("name=value"))
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(as_printed[0], ("app_id".into(), sandbox.app_id().into()));

        // As printed: the document's own signature (of another secret) is refused…
        let verbatim = raw_url_reply(&http, &sandbox, method, query).await;
        assert_refused(&verbatim, 1001, "section 1 as printed");
        // …and so is timestamp=1 under a valid signature: 2.1 requires 3 s (E05, E77).
        let unsigned: Vec<(String, String)> = as_printed
            .iter()
            .filter(|(n, _)| n != "sign")
            .cloned()
            .collect();
        let stale = send(&http, &sandbox, method, &unsigned, "").await;
        assert_refused(&stale, 1001, "section 1 with timestamp=1");
        assert!(
            stale["error_message"]
                .as_str()
                .is_some_and(|m| m.contains("timestamp")),
            "{stale}"
        );

        let now: Vec<(String, String)> = unsigned
            .iter()
            .map(|(n, v)| {
                let v = if n == "timestamp" {
                    wall_ms()
                } else {
                    v.clone()
                };
                (n.clone(), v)
            })
            .collect();
        let reply = send(&http, &sandbox, method, &now, "").await;
        assert_accepted(&reply, "section 1 (2.1)");
        let access_token = reply["data"]["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned();
        Raw {
            http,
            sandbox,
            access_token,
        }
    }

    /// A business call: `body` exactly as given.
    async fn call(&self, method: &str, body: &str) -> Value {
        let params = vec![
            ("access_token".to_owned(), self.access_token.clone()),
            ("timestamp".to_owned(), wall_ms()),
        ];
        send(&self.http, &self.sandbox, method, &params, body).await
    }

    /// A call of ours that prepares state; it must succeed.
    async fn setup(&self, method: &str, body: Value) -> Value {
        let reply = self.call(method, &body.to_string()).await;
        assert_accepted(&reply, &format!("setup {method} {body}"));
        reply["data"].clone()
    }

    async fn member(&self, phone: &str) -> String {
        let data = self
            .setup(
                "wk.user.info.add",
                json!({"project_id": "18756", "nickname": "示例", "phone": phone}),
            )
            .await;
        data.as_str().expect("an open_id").to_owned()
    }
}

/// The section 1 URL's query string sent as printed, signature included.
async fn raw_url_reply(
    http: &reqwest::Client,
    sandbox: &SandboxHandle,
    method: &str,
    query: &str,
) -> Value {
    let url = format!("{}?{query}", sandbox.method_url(method));
    let reply = http.post(url).send().await.expect("an answer");
    serde_json::from_str(&reply.text().await.expect("a body")).expect("JSON")
}

fn assert_accepted(reply: &Value, what: &str) {
    assert_eq!(reply["success"], json!(true), "{what}: {reply}");
}

/// Records an example the sandbox refused.
fn note(refused: &mut Vec<String>, reply: &Value, what: &str) {
    if reply["success"] != json!(true) {
        refused.push(format!("{what}: {reply}"));
    }
}

fn assert_refused(reply: &Value, code: i64, what: &str) {
    assert_eq!(reply["success"], json!(false), "{what}: {reply}");
    assert_eq!(reply["error_code"], json!(code), "{what}: {reply}");
}

/// Replaces the single occurrence of a value of the document by the sandbox's.
fn substitute(text: &str, doc_value: &str, ours: &str) -> String {
    repair(text, doc_value, ours)
}

#[tokio::test]
async fn every_request_example_is_accepted() {
    let raw = Raw::start().await;
    // Every example is sent, and the refused ones are listed together at the end.
    let mut refused: Vec<String> = Vec::new();

    // Members the examples name by phone (the sandbox reads an open_id field holding a
    // member's phone as that member, as 3.3's example sends).
    raw.member("13800000000").await; // 3.2
    raw.member("15980947959").await; // 3.3, 3.4
    let shopper = raw.member("17875981518").await; // 4.x, 5.4
    raw.member("18023016181").await; // 5.2

    // 3.1, the two code blocks as one object (E10).
    let unjoined = raw.call("wk.user.info.add", S3_1_FIRST_BLOCK).await;
    assert_refused(&unjoined, 1001, "3.1's first block alone");
    let reply = raw.call("wk.user.info.add", &s3_1_joined()).await;
    note(&mut refused, &reply, "3.1");
    let open_id = reply["data"].as_str().expect("an open_id").to_owned();

    // 3.2, both alternatives.
    let reply = raw
        .call(
            "wk.user.info.query",
            &substitute(S3_2_BY_OPEN_ID, DOC_OPEN_ID, &open_id),
        )
        .await;
    note(&mut refused, &reply, "3.2 by open_id");
    // E78: 3.1's username is no table's key: ignored, not read as realname.
    assert_eq!(reply["data"]["nickname"], json!("张三"), "{reply}");
    assert_ne!(reply["data"]["realname"], json!("张达三"), "{reply}");
    let reply = raw.call("wk.user.info.query", S3_2_BY_PHONE).await;
    note(&mut refused, &reply, "3.2 by phone");

    // 3.3 as printed (change_id a number, E26).
    let reply = raw.call("wk.user.event.score.change", S3_3).await;
    note(&mut refused, &reply, "3.3");

    // 3.4.1, the recovery path: the change under its change_id exists.
    raw.setup(
        "wk.user.event.score.change",
        json!({"open_id": "15980947959", "score": 20, "activity_score": 10,
               "change_reason": "add", "change_event": "event_add",
               "change_id": "1632711458340", "out_biz_no": "1632710642525"}),
    )
    .await;
    let reply = raw.call("wk.user.event.score.rollback", S3_4_1).await;
    note(&mut refused, &reply, "3.4.1");

    // 3.4.2 as printed: items nested in an extra array (E33, E74), order_no a number.
    raw.setup(
        "wk.user.event.score.change",
        json!({"open_id": "15980947959", "score": 8, "activity_score": 5,
               "change_reason": "add", "change_event": "event_add",
               "change_id": "setup-3.4.2", "out_biz_no": "1632720420715"}),
    )
    .await;
    let reply = raw.call("wk.user.event.score.rollback.part", S3_4_2).await;
    note(&mut refused, &reply, "3.4.2");
    // Both items' points came back: 30 credited by 3.3, the rest rolled back.
    let ledger = raw
        .sandbox
        .control()
        .ledger("15980947959")
        .expect("the member");
    assert_eq!(
        ledger.score, 30,
        "3.4.2 took back the flattened item's 13 points"
    );

    // 3.5 as printed (quoted integers, E35); "xxxx" stands for a member.
    let reply = raw
        .call("wk.user.score.record", &substitute(S3_5, "xxxx", &open_id))
        .await;
    note(&mut refused, &reply, "3.5");

    // 3.6, then 3.7 with the code 3.6 generated.
    let reply = raw
        .call(
            "wk.user.code.generate",
            &substitute(S3_6, DOC_OPEN_ID, &open_id),
        )
        .await;
    note(&mut refused, &reply, "3.6");
    let code = reply["data"].as_str().expect("a member code").to_owned();
    let reply = raw
        .call(
            "wk.user.code.parsing",
            &substitute(S3_7, "06244323958828461000", &code),
        )
        .await;
    note(&mut refused, &reply, "3.7");

    // 3.8 as printed.
    let reply = raw.call("wk.user.level.list", S3_8).await;
    note(&mut refused, &reply, "3.8");

    // 4.1: the items spend 240 points; the member earns them first.
    raw.setup(
        "wk.user.event.score.change",
        json!({"open_id": shopper, "score": 1000, "change_reason": "add",
               "change_event": "event_add", "change_id": "setup-4.1",
               "out_biz_no": "setup-4.1"}),
    )
    .await;
    let unwrapped = raw.call("wk.user.order.add", SECTION_4_1_REQUEST).await;
    assert_refused(&unwrapped, 1001, "4.1 with raw line breaks inside strings");
    // Without order_score (E65, E75) and with fin_entity_info's `...` (E43, E76).
    let reply = raw
        .call("wk.user.order.add", &section_4_1_request_example())
        .await;
    note(&mut refused, &reply, "4.1");
    // E75: without order_score the order earns nothing; its items spent 2 × 120.
    let ledger = raw.sandbox.control().ledger(&shopper).expect("the member");
    assert_eq!(ledger.score, 1000 - 240, "4.1 credited no order_score");

    // 4.2 and 4.3 (the same text; material_info is no field, E44): each returns from an
    // order of its own, under a return number of its own (4.3's are substituted).
    // The parent orders spent the points the returns give back (the returns' items).
    let return_example: Value = serde_json::from_str(REFUND_REQUEST).expect("JSON");
    let returned_items = return_example["item_info_list"].clone();
    for parent in ["4no31--test-order-", "4no31--test-order-b"] {
        raw.setup(
            "wk.user.order.add",
            json!({"order_no": parent, "phone": "17875981518", "order_amount": 3000,
                   "order_score": 600, "consume_date": "2021-08-20 10:00:00",
                   "item_info_list": returned_items.clone()}),
        )
        .await;
    }
    let reply = raw
        .call("wk.user.refund.order.complete", REFUND_REQUEST)
        .await;
    note(&mut refused, &reply, "4.2");
    let partial = substitute(
        REFUND_REQUEST,
        "4no31--test-order-\"",
        "4no31--test-order-b\"",
    );
    let partial = substitute(
        &partial,
        "3refund-test-order-no32",
        "3refund-test-order-no32b",
    );
    let reply = raw.call("wk.user.refund.order.part", &partial).await;
    note(&mut refused, &reply, "4.3");

    // 5.1, repaired (E49); the unrepaired text is not JSON.
    let unrepaired = raw.call("wk.coupon.template.add", S5_1).await;
    assert_refused(&unrepaired, 1001, "5.1 as printed");
    let reply = raw.call("wk.coupon.template.add", &s5_1_repaired()).await;
    note(&mut refused, &reply, "5.1");

    // 5.2, repaired (E54), from a template with the example's third_coupon_id; the
    // document's open_id stands for 3.1's member.
    raw.setup(
        "wk.coupon.template.add",
        json!({"suit_store_type": 0, "name": "示例券", "coupon_category": 0,
               "coupon_type": 1, "begin_time": 1_629_859_339_082_i64,
               "end_time": 1_630_204_939_084_i64, "rules": "无门槛",
               "third_coupon_id": "123213212", "discount_fee": 10}),
    )
    .await;
    let unrepaired = raw.call("wk.coupon.give", S5_2).await;
    assert_refused(&unrepaired, 1001, "5.2 as printed");
    let give = substitute(
        &s5_2_repaired(),
        "af76d25b97be4c55ab7fb0aff1d06667",
        &open_id,
    );
    let reply = raw.call("wk.coupon.give", &give).await;
    note(&mut refused, &reply, "5.2");

    // 5.3: the coupon 5.2 gave 3.1's member.
    let sync = substitute(S5_3, "af76d25b97be4c55ab7fb0aff1d06667", &open_id);
    let sync = substitute(
        &sync,
        "550be7757dbf4357a0d79706e2c2c25f",
        "6c69f766bddf4cf5923e06eea6bdccfb",
    );
    let reply = raw.call("wk.coupon.sync.status", &sync).await;
    note(&mut refused, &reply, "5.3");

    // 5.4: a coupon coded testCouponGive, held by the example's member.
    raw.setup(
        "wk.coupon.give",
        json!({"number": 1, "create_time": 1_629_900_000_000_i64,
               "third_coupon_id": "123213212",
               "coupon_set": json!([{"open_id": "17875981518", "params_type": "2",
                                     "coupon_number": "testCouponGive"}]).to_string()}),
    )
    .await;
    let reply = raw.call("wk.coupon.verification", S5_4).await;
    note(&mut refused, &reply, "5.4");

    // 5.5 as printed (page_size quoted, E62).
    let reply = raw
        .call(
            "wk.coupon.user.list",
            &substitute(S5_5, "168eebeb0d2e4edca2258ce156ec545d", &open_id),
        )
        .await;
    note(&mut refused, &reply, "5.5");

    // 6.1 as printed, then 6.2 with the code sent.
    let reply = raw.call("wk.sms.verify.send", S6_1).await;
    note(&mut refused, &reply, "6.1");
    let sent = raw
        .sandbox
        .control()
        .last_sms_code("13888888888")
        .expect("a code was sent");
    let reply = raw
        .call("wk.sms.verify.judge", &substitute(S6_2, "4586", &sent))
        .await;
    note(&mut refused, &reply, "6.2");
    assert!(
        refused.is_empty(),
        "examples refused:\n{}",
        refused.join("\n")
    );
}
