//! Every example of the zvcms document, verbatim: the request envelope and its `Params`
//! decode into the generated request type and re-encode; the success reply and both error
//! replies decode as the client decodes them (`decode_response`). Each assertion that
//! rests on a decision names its errata entry of `api-spec/zvcms.yaml`.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::value::RawValue;
use zvcms::endpoints::{VerifyCouponsArgs, VerifyCouponsRequest};
use zvcms::generated::routes::AnyRequest;
use zvcms::models::{UserInfo, VerifyCouponsData, VerifyExt};
use zvcms::runtime::{Error, decode_response};
use zvcms::wire::Id;
use zvcms::{Endpoint, PROTOCOL, RequestError};

/// The document's request example, verbatim.
const REQUEST: &str = r#"{ "OpenId": "6dc05b4ac175cf316d226252b05cf685", "GrantCode": "782c281f62", "Timestamp": "1547186244", "Nonce": "658965", "Token": "0%2B%2B3c6hthjwAml4ABAXOYF4Q6UY%3D", "Action": "communal.user.coupons-vertify", "Params": { "bizId": "paywewre121", "channel": "", "customerId": "", "groupId": "", "couponsCardList": "[390962138708451328]", "type": "", "ext": { "channelType": "", "multiStoreId": "", "multiStoreMark": "", "orderNo": "", "reason": "" }, "useCount": "", "tradeMarks": "", "amount": "", "orderAmount": "" } }"#;

/// The document's success reply, verbatim.
const SUCCESS: &str = r#"{ "status": "true", "code": "0", "message": "说明", "data": { "bizId": "paywewre121", "cardIdList": "[390962138708451328]", "userInfo": { "customer_id": "", "birthday": "", "username": "", "nickname": "", "phone": "", "gender": "", "province": "", "city": "", "district": "" } } }"#;

/// The document's business-error reply, verbatim.
const BUSINESS_ERROR: &str = r#"{ "status": true, "code": "异常编码,根据不同的业务返回编码", "message": "异常说明:查询的信息不存在" }"#;

/// The document's system-error reply, verbatim.
const SYSTEM_ERROR: &str =
    r#"{ "status": false, "code": "系统错误编码:详见全局返回编码", "message": "系统错误说明" }"#;

const COUPON: u64 = 390_962_138_708_451_328;

/// The request envelope, with `Params` kept as its exact text.
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

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

#[test]
fn request_example_decodes_and_round_trips() {
    let env: Envelope = serde_json::from_str(REQUEST).unwrap();
    assert_eq!(env.open_id, "6dc05b4ac175cf316d226252b05cf685");
    assert_eq!(env.grant_code, "782c281f62");
    // E14: the action as the server dispatches on it, misspelling included.
    assert_eq!(env.action, VerifyCouponsRequest::INFO.method);
    assert_eq!(
        AnyRequest::endpoint(&env.action).map(|e| e.method),
        Some("communal.user.coupons-vertify")
    );
    // E12: ten digits are seconds (2019-01-11); in milliseconds it would be January 1970.
    let ts: i64 = env.timestamp.parse().unwrap();
    assert!((1_000_000_000..10_000_000_000).contains(&ts), "{ts}");
    // E13: a positive integer as a string.
    assert!(env.nonce.parse::<u32>().unwrap() > 0);
    // E11: the Token is the percent-encoding of a base64 string of 20 bytes.
    let b64 = String::from_utf8(percent_decode(&env.token)).unwrap();
    assert_eq!(b64, "0++3c6hthjwAml4ABAXOYF4Q6UY=");
    let digest = base64::engine::general_purpose::STANDARD
        .decode(&b64)
        .unwrap();
    assert_eq!(digest.len(), 20);

    // Params through the generated route table, as a server decodes it.
    let Some(Ok(AnyRequest::VerifyCoupons(req))) =
        AnyRequest::decode(&env.action, env.params.get().as_bytes())
    else {
        panic!("the example's Params must decode");
    };
    assert_eq!(req.biz_id, "paywewre121");
    // E04: the 18-digit id inside a string, exact.
    assert_eq!(req.coupons_card_list, vec![Id::from(COUPON)]);
    assert_eq!(req.coupons_card_list[0].as_str(), "390962138708451328");
    // E06: "" is absent for integers, enums and lists; a string keeps "".
    assert_eq!(req.channel.as_deref(), Some(""));
    assert_eq!(req.customer_id, None);
    assert_eq!(req.group_id, None);
    assert_eq!(req.card_list_type, None);
    assert_eq!(req.use_count, None);
    assert_eq!(req.trade_marks, None);
    assert_eq!(req.amount, None);
    assert_eq!(req.order_amount, None);
    let ext = req.ext.clone().unwrap();
    assert_eq!(ext.channel_type, None);
    assert_eq!(ext.multi_store_id, None);
    assert_eq!(ext.multi_store_mark.as_deref(), Some(""));

    // Re-encoded: strict (no "" for absent numbers), the ids as the example sends them.
    let out = serde_json::to_string(&req).unwrap();
    assert_eq!(
        out,
        r#"{"bizId":"paywewre121","channel":"","couponsCardList":"[390962138708451328]","ext":{"multiStoreMark":"","orderNo":"","reason":""}}"#
    );
    let again: VerifyCouponsRequest = serde_json::from_str(&out).unwrap();
    assert_eq!(again, req);

    // E18: the example leaves customerId empty without type=1, which the description
    // forbids; the client refuses that before sending.
    assert_eq!(
        req.validate(),
        Err(RequestError::RequiredUnless {
            method: "communal.user.coupons-vertify",
            field: "customerId",
            when: "type",
            equals: 1,
        })
    );
    assert_eq!(req.clone().customer_id(10086).validate(), Ok(()));
}

#[test]
fn the_client_sends_what_the_example_sends() {
    // The same request built with the API, as a user would.
    let req = VerifyCouponsRequest::new(VerifyCouponsArgs {
        biz_id: "paywewre121".into(),
        coupons_card_list: vec![Id::from(COUPON)],
    })
    .customer_id(10086)
    .ext(VerifyExt::new().order_no("A1"))
    .trade_marks(vec!["6901234567890".to_string()])
    .amount(1000_i64);
    assert_eq!(
        serde_json::to_string(&req).unwrap(),
        r#"{"bizId":"paywewre121","customerId":10086,"couponsCardList":"[390962138708451328]","ext":{"orderNo":"A1"},"tradeMarks":"[\"6901234567890\"]","amount":1000}"#
    );
    // E04: a scan code that is not a plain integer stays text inside the array.
    let scan = VerifyCouponsRequest::new(VerifyCouponsArgs {
        biz_id: "b2".into(),
        coupons_card_list: vec![Id::from("0012AB")],
    })
    .card_list_type(zvcms::models::CardListType::ScanCode);
    assert_eq!(scan.validate(), Ok(()));
    assert_eq!(
        serde_json::to_string(&scan).unwrap(),
        r#"{"bizId":"b2","couponsCardList":"[\"0012AB\"]","type":1}"#
    );
}

#[test]
fn request_rules_are_checked_before_sending() {
    let none = VerifyCouponsRequest::new(VerifyCouponsArgs {
        biz_id: "b".into(),
        coupons_card_list: Vec::<Id>::new(),
    })
    .customer_id(1);
    assert!(matches!(
        none.validate(),
        Err(RequestError::ItemCount {
            field: "couponsCardList",
            min: Some(1),
            found: 0,
            ..
        })
    ));
    let multi = VerifyCouponsRequest::new(VerifyCouponsArgs {
        biz_id: "b".into(),
        coupons_card_list: vec![Id::from(1_u64), Id::from(2_u64)],
    })
    .customer_id(1)
    .use_count(2);
    let err = multi.validate().unwrap_err();
    assert!(matches!(
        err,
        RequestError::ItemCount {
            max: Some(1),
            when_set: Some("useCount"),
            found: 2,
            ..
        }
    ));
    assert!(
        err.to_string()
            .contains("at most 1 item(s) while `useCount` is set"),
        "{err}"
    );
    let blank = VerifyCouponsRequest::new(VerifyCouponsArgs {
        biz_id: " ".into(),
        coupons_card_list: vec![Id::from(1_u64)],
    })
    .customer_id(1);
    assert!(matches!(
        blank.validate(),
        Err(RequestError::EmptyField { field: "bizId", .. })
    ));
}

#[test]
fn success_example_decodes_exactly() {
    let reply = decode_response::<VerifyCouponsRequest>(&PROTOCOL, 200, SUCCESS.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let data = reply.data.unwrap();
    assert_eq!(data.biz_id.as_deref(), Some("paywewre121"));
    // E05: never through f64 (which would give 390962138708451300).
    assert_eq!(data.card_id_list, Some(vec![Id::from(COUPON)]));
    let user = data.user_info.clone().unwrap();
    // E06: "" for an integer is absent; strings keep "".
    assert_eq!(user.customer_id, None);
    assert_eq!(user.province, None);
    assert_eq!(user.city, None);
    assert_eq!(user.district, None);
    assert_eq!(user.username.as_deref(), Some(""));
    assert!(user.extra.is_empty() && data.extra.is_empty());

    let out = serde_json::to_string(&data).unwrap();
    assert!(
        out.contains(r#""cardIdList":"[390962138708451328]""#),
        "{out}"
    );
    let again: VerifyCouponsData = serde_json::from_str(&out).unwrap();
    assert_eq!(again, data);
}

#[test]
fn success_forms_the_document_mixes() {
    // E01, E02: status and code as booleans, strings or numbers; a bare id array; ids
    // that an f64 cannot hold.
    for body in [
        r#"{"status":true,"code":0,"data":{"bizId":"x","cardIdList":[390962138708451329]}}"#,
        r#"{"status":"true","code":"0","data":{"bizId":"x","cardIdList":"[390962138708451329]"}}"#,
        r#"{"status":"TRUE","data":{"bizId":"x","cardIdList":["390962138708451329"]}}"#,
    ] {
        let data = decode_response::<VerifyCouponsRequest>(&PROTOCOL, 200, body.as_bytes())
            .unwrap_or_else(|e| panic!("{body}: {e}"))
            .data
            .unwrap();
        assert_eq!(
            data.card_id_list.unwrap()[0].as_str(),
            "390962138708451329",
            "{body}"
        );
    }
    // A member with numbers where the example has "".
    let body = r#"{"status":true,"code":"0","data":{"userInfo":{"customer_id":"9007199254740993","province":340000,"city":"340100","gender":"1","vip":true}}}"#;
    let user: UserInfo = decode_response::<VerifyCouponsRequest>(&PROTOCOL, 200, body.as_bytes())
        .unwrap()
        .data
        .unwrap()
        .user_info
        .unwrap();
    assert_eq!(user.customer_id, Some(9_007_199_254_740_993));
    assert_eq!(user.province, Some(340_000));
    assert_eq!(user.city, Some(340_100));
    assert_eq!(user.gender.as_deref(), Some("1"));
    assert_eq!(user.extra["vip"], true);
}

#[test]
fn error_examples_decode_with_their_text_codes() {
    // E02, E03: a business error with status true, a system error with status false; codes
    // that are text are kept.
    for (body, code, message) in [
        (
            BUSINESS_ERROR,
            "异常编码,根据不同的业务返回编码",
            "异常说明:查询的信息不存在",
        ),
        (
            SYSTEM_ERROR,
            "系统错误编码:详见全局返回编码",
            "系统错误说明",
        ),
    ] {
        let err =
            decode_response::<VerifyCouponsRequest>(&PROTOCOL, 200, body.as_bytes()).unwrap_err();
        let Error::Api(e) = &err else {
            panic!("expected an API error, got {err}");
        };
        assert_eq!(e.raw_code, 0);
        assert_eq!(e.code_text.as_deref(), Some(code));
        assert_eq!(e.message.as_deref(), Some(message));
        assert_eq!(e.code, zvcms::ErrorCode::Unknown(0));
        let shown = err.to_string();
        assert!(shown.contains(code) && shown.contains(message), "{shown}");
        assert!(!err.is_transient());
    }
    // A numeric code in a string is the code.
    let err = decode_response::<VerifyCouponsRequest>(
        &PROTOCOL,
        200,
        br#"{"status":"true","code":"40001","message":"coupon used"}"#,
    )
    .unwrap_err();
    assert!(matches!(&err, Error::Api(e) if e.raw_code == 40001 && e.code_text.is_none()));
}
