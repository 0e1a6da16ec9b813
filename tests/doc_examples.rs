//! Every example of the vendor document (格力地产会员开放平台文档 V2.7,
//! `gree-ump-open-platform-v2.7.txt`), checked against the generated types.
//!
//! - Response examples: the envelope is parsed with its values kept as raw JSON text,
//!   `data` is decoded into `<XxxRequest as Endpoint>::Data` the way the runtime decodes it
//!   (tolerantly, never through `f64`), and concrete field values are asserted.
//! - Request examples: the request is built with the typed API (`XxxRequest::new` plus
//!   setters) and its JSON must have the example's keys, value kinds and values, JSON inside
//!   strings compared as JSON. Where the spec's errata decide against the example, the
//!   example is adjusted first, in code, next to a comment citing the errata id.
//!
//! The examples are pasted verbatim (the request texts in `doc_requests.rs`, shared with
//! `doc_examples_sandbox`, which sends them to the sandbox). Where the document's JSON is
//! not valid JSON, the repair is made in code by [`repair`] and friends (each panics when the text it repairs is
//! not found, so a repair cannot silently go stale), with a comment saying what was wrong.
//! The only other change: trailing spaces at the ends of lines (the 5.5 request and the
//! 6.2 request and response examples) were dropped; JSON ignores them.

use std::collections::BTreeMap;

use gree_ump::endpoints::*;
use gree_ump::models::*;
use gree_ump::{ErrorCode, PROTOCOL};
use openplatform_runtime::wire::{
    BeijingDate, BeijingDateTime, Fen, TimestampMs, ToFenError, Tolerant, Yuan,
};
use openplatform_runtime::{Endpoint, ErrorCategory};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use workspace_tests::doc_requests::*;

// ======================================================================================
// Helpers
// ======================================================================================

/// A reply envelope whose values are kept as raw JSON text, so `data` is decoded by the
/// generated types themselves and no number passes through `f64` on the way.
struct Reply(BTreeMap<String, Box<RawValue>>);

fn reply(example: &str) -> Reply {
    Reply(
        serde_json::from_str(example)
            .unwrap_or_else(|e| panic!("the example is not valid JSON: {e}\n{example}")),
    )
}

impl Reply {
    /// `data`, decoded as the runtime decodes it: `<E::Data as Tolerant>` straight from the
    /// JSON text.
    fn data<E: Endpoint>(&self) -> E::Data {
        let section = E::INFO.section;
        let raw = self.0.get("data").map_or("null", |r| r.get());
        let mut de = serde_json::Deserializer::from_str(raw);
        let data = <E::Data as Tolerant>::deserialize_tolerant(&mut de)
            .unwrap_or_else(|e| panic!("{section}: `data` does not decode: {e}\n{raw}"));
        de.end().expect("nothing after `data`");
        data.unwrap_or_else(|| panic!("{section}: `data` is absent"))
    }

    /// An envelope key as a JSON value (`null` when absent).
    fn get(&self, key: &str) -> Value {
        self.0.get(key).map_or(Value::Null, |r| {
            serde_json::from_str(r.get()).expect("raw values are valid JSON")
        })
    }

    fn success(&self) -> bool {
        self.get("success") == Value::Bool(true)
    }

    /// `error_code` or `errorCode` (E08: both spellings occur).
    fn error_code(&self) -> Option<i64> {
        let snake = self.get("error_code");
        let value = if snake.is_null() {
            self.get("errorCode")
        } else {
            snake
        };
        value.as_i64()
    }

    /// `error_message` or `errorMessage`.
    fn error_message(&self) -> Option<String> {
        let snake = self.get("error_message");
        let value = if snake.is_null() {
            self.get("errorMessage")
        } else {
            snake
        };
        value.as_str().map(str::to_owned)
    }

    /// A top-level paging key (`pageNo`, `pageSize`, `totalCount`).
    fn page_key(&self, key: &str) -> Option<i64> {
        self.get(key).as_i64()
    }

    /// E08: with `success: true`, an `error_code` of 200, `null` or absent all mean success.
    fn assert_success(&self) {
        assert!(self.success(), "success is not true");
        assert!(
            matches!(self.error_code(), None | Some(200)),
            "error_code {:?} on a success",
            self.error_code()
        );
        assert!(matches!(self.error_message().as_deref(), None | Some("")));
    }
}

/// A document request example, parsed.
fn example(text: &str) -> Value {
    serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("the example is not valid JSON: {e}\n{text}"))
}

/// Renames a key of an example object (an errata decision on a key's name).
fn rename_key(example: &mut Value, from: &str, to: &str) {
    let object = example.as_object_mut().expect("an object");
    let value = object.remove(from).expect("the key is in the example");
    object.insert(to.to_owned(), value);
}

/// Asserts that the typed request passes its pre-flight rules and serializes to the
/// example: the same keys, the same JSON kinds (string, number, array, object…) and the
/// same values, recursively; strings holding JSON are compared as the JSON they hold.
fn assert_matches_example<E: Endpoint>(request: &E, example: &Value) {
    let section = E::INFO.section;
    request
        .validate()
        .unwrap_or_else(|e| panic!("{section}: the typed request is refused: {e}"));
    let typed = serde_json::to_value(request).expect("requests serialize");
    let mut diffs = Vec::new();
    compare("$", example, &typed, &mut diffs);
    assert!(
        diffs.is_empty(),
        "{section}: the typed request differs from the example:\n  {}\nexample: {example}\ntyped:   {typed}",
        diffs.join("\n  ")
    );
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The JSON array or object a string holds, if it holds one.
fn json_inside(s: &str) -> Option<Value> {
    serde_json::from_str(s)
        .ok()
        .filter(|v: &Value| v.is_array() || v.is_object())
}

fn compare(path: &str, doc: &Value, typed: &Value, diffs: &mut Vec<String>) {
    match (doc, typed) {
        (Value::Object(d), Value::Object(t)) => {
            for key in d.keys().filter(|k| !t.contains_key(*k)) {
                diffs.push(format!("{path}.{key}: in the example, not sent"));
            }
            for key in t.keys().filter(|k| !d.contains_key(*k)) {
                diffs.push(format!("{path}.{key}: sent, not in the example"));
            }
            for (key, dv) in d {
                if let Some(tv) = t.get(key) {
                    compare(&format!("{path}.{key}"), dv, tv, diffs);
                }
            }
        }
        (Value::Array(d), Value::Array(t)) => {
            if d.len() != t.len() {
                diffs.push(format!("{path}: {} elements vs {}", d.len(), t.len()));
            }
            for (i, (dv, tv)) in d.iter().zip(t).enumerate() {
                compare(&format!("{path}[{i}]"), dv, tv, diffs);
            }
        }
        (Value::String(d), Value::String(t)) => match (json_inside(d), json_inside(t)) {
            (Some(dj), Some(tj)) => compare(&format!("{path}<json>"), &dj, &tj, diffs),
            _ if d != t => diffs.push(format!("{path}: {d:?} vs {t:?}")),
            _ => {}
        },
        (Value::Number(d), Value::Number(t)) => {
            let same = match (d.as_i64(), t.as_i64()) {
                (Some(a), Some(b)) => a == b,
                _ => d.as_f64() == t.as_f64(),
            };
            if !same {
                diffs.push(format!("{path}: {d} vs {t}"));
            }
        }
        (Value::Bool(d), Value::Bool(t)) if d == t => {}
        (Value::Null, Value::Null) => {}
        _ => diffs.push(format!(
            "{path}: the example has {} ({doc}), the typed request sends {} ({typed})",
            kind(doc),
            kind(typed)
        )),
    }
}

fn yuan(text: &str) -> Yuan {
    Yuan::parse(text).expect("a decimal")
}

fn beijing(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> BeijingDateTime {
    BeijingDateTime::from_ymd_hms(y, mo, d, h, mi, s).expect("a valid Beijing time")
}

fn named_ref(id: &str, name: &str) -> NamedRef {
    // NamedRef has no constructor (it is also a response type) and is #[non_exhaustive].
    let mut r = NamedRef::default();
    r.id = Some(id.to_owned());
    r.name = Some(name.to_owned());
    r
}

// ======================================================================================
// 1. 调用前说明 (general request and response examples)
// ======================================================================================

/// Section 1's response example (the same as 2.1's).
const TOKEN_RESPONSE: &str = r#"{
  "success": true,
  "data": {
    "access_token": "atB1ABA5C50C41C5FEE3E911EC8020C32C",
    "refresh_token": "rt5ED02D25F23917092218565B9DDAF657",
    "expire_in": 7200
  }
}"#;

#[test]
fn section_1_general_request() {
    // Repair: the URL is wrapped over three lines; it is one URL.
    let url = SECTION_1_REQUEST.replace('\n', "");
    let (address, query) = url.split_once('?').expect("a query string");
    let method = <ObtainTokenRequest as Endpoint>::INFO.method;
    assert_eq!(method, "dss.auth.token.query");
    assert_eq!(
        address,
        format!(
            "{}{}",
            PROTOCOL.base_url("test").unwrap(),
            PROTOCOL.path(method)
        )
    );
    let params: Vec<(&str, &str)> = query
        .split('&')
        .map(|p| p.split_once('=').expect("name=value"))
        .collect();
    let names: Vec<&str> = params.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        ["app_id", "code", "redirect_url", "timestamp", "sign"]
    );
    let sign = params.iter().find(|(n, _)| *n == "sign").unwrap().1;
    assert_eq!(sign.len(), 32, "an MD5 in lowercase hex");
    assert!(
        sign.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );

    // E04: app_id, timestamp and sign are supplied by the runtime, so the typed request has
    // no field for them; E06: code= and redirect_url= are not sent. Nothing else remains:
    // the typed request has an empty body and no query parameter of its own.
    let tokens = PROTOCOL.tokens.expect("the API uses tokens");
    assert_eq!(tokens.app_id_param, "app_id");
    assert_eq!(tokens.obtain_method, method);
    let request = ObtainTokenRequest::new();
    assert_matches_example(&request, &json!({}));
    assert!(request.query_params().is_empty());
}

#[test]
fn section_1_general_response() {
    let reply = reply(TOKEN_RESPONSE);
    reply.assert_success();
    assert_eq!(reply.error_code(), None);
    let token = reply.data::<ObtainTokenRequest>();
    assert_eq!(
        token.access_token.as_deref(),
        Some("atB1ABA5C50C41C5FEE3E911EC8020C32C")
    );
    assert_eq!(token.access_token.as_ref().unwrap().len(), 34);
    assert_eq!(
        token.refresh_token.as_deref(),
        Some("rt5ED02D25F23917092218565B9DDAF657")
    );
    assert_eq!(token.expire_in, Some(7200));
    assert!(token.extra.is_empty());
}

// ======================================================================================
// 2. 授权接口
// ======================================================================================

#[test]
fn section_2_1_obtain_token_response() {
    let reply = reply(TOKEN_RESPONSE);
    reply.assert_success();
    let token = reply.data::<ObtainTokenRequest>();
    assert_eq!(
        token.access_token.as_deref(),
        Some("atB1ABA5C50C41C5FEE3E911EC8020C32C")
    );
    assert_eq!(
        token.refresh_token.as_deref(),
        Some("rt5ED02D25F23917092218565B9DDAF657")
    );
    assert_eq!(token.expire_in, Some(7200));
    assert!(token.extra.is_empty());
    // The keys the runtime's token handling reads are the ones the example sends.
    let tokens = PROTOCOL.tokens.unwrap();
    for key in [
        tokens.access_token_key,
        tokens.refresh_token_key,
        tokens.expires_in_key,
    ] {
        assert!(!reply.get("data")[key].is_null(), "{key}");
    }
}

#[test]
fn section_2_2_refresh_access_token_response() {
    let reply = reply(
        r#"{
  "success": true,
  "data": {
    "access_token": "atB1ABA5C50C41C5FEE3E911EC8020C001",
    "expire_in": 7200
  }
}"#,
    );
    reply.assert_success();
    let token = reply.data::<RefreshAccessTokenRequest>();
    assert_eq!(
        token.access_token.as_deref(),
        Some("atB1ABA5C50C41C5FEE3E911EC8020C001")
    );
    assert_eq!(token.expire_in, Some(7200));
    assert!(token.extra.is_empty());
    // 2.2 has no request example: its parameters are all query parameters the runtime
    // supplies (refresh_token, timestamp, sign).
    assert_matches_example(&RefreshAccessTokenRequest::new(), &json!({}));
}

// ======================================================================================
// 3. 会员接口
// ======================================================================================

#[test]
fn section_3_1_create_member_request() {
    // Repair (E10): the example is cut into two code blocks; they are one object.
    let mut doc = example(&s3_1_joined());
    // E09: the real name is sent as realname (the table's name), not username.
    rename_key(&mut doc, "username", "realname");

    let request = CreateMemberRequest::new(CreateMemberArgs {
        project_id: "18756".into(),
        nickname: "张三".into(),
        phone: "15900947949".into(),
    })
    .outer_user_id("out001")
    .q_id("qId=123")
    .realname("张达三")
    .avatar_img_url("http://sdsd.sds.com")
    .gender(Gender::Male)
    .birthday(BeijingDate::from_ymd(1994, 9, 28).unwrap())
    .country("中国")
    .province("广东")
    .city("深圳")
    .id_card("350322198209116378")
    .company_name("格力集团")
    .remark("备注");
    assert_matches_example(&request, &doc);
}

#[test]
fn section_3_1_create_member_response() {
    let reply = reply(
        r#"{
  "success": true,
  "error_code": 200,
  "error_message": "",
  "data": "25c56912e05847c0b09f03ca7e52b796"
}"#,
    );
    reply.assert_success();
    assert_eq!(reply.error_code(), Some(200));
    let open_id: String = reply.data::<CreateMemberRequest>();
    assert_eq!(open_id, "25c56912e05847c0b09f03ca7e52b796");
}

#[test]
fn section_3_2_query_member_request() {
    // The example gives two alternatives, `{…} 或 {…}`: each is one request.
    let by_open_id = example(S3_2_BY_OPEN_ID);
    let by_phone = example(S3_2_BY_PHONE);
    assert_matches_example(
        &QueryMemberRequest::new().open_id("25c56912e05847c0b09f03ca7e52b796"),
        &by_open_id,
    );
    assert_matches_example(&QueryMemberRequest::new().phone("13800000000"), &by_phone);
    // E16: one of the two is required, checked before sending.
    assert!(QueryMemberRequest::new().validate().is_err());
}

/// The 3.2 and 3.7 response examples (identical), first code block.
const MEMBER_RESPONSE_FIRST_BLOCK: &str = r#"{
  "success": true,
  "data": {
    "birthday": "1994-09-28",
    "country": "中国",
    "gender": 1,"#;

/// The 3.2 and 3.7 response examples, second code block.
const MEMBER_RESPONSE_SECOND_BLOCK: &str = r#""city": "深圳",
"open_id": null,
"level_num": 1,
"id_card": "350322198209116378",
"remark": "备注",
"next_level_num": 2,
"register_time": 1624874660000,
"avatar_img_url": "http://sdsd.sds.com",
"score": 0,
"next_level_growth_value": 300,
"province": "广东",
"project_id": 18756,
"next_level_name": "二级会员",
"rights": null,
"nickname": "李大哥",
"email": null,
"growth_value": 0,
"is_max_level": 0,
"realname": null,
"user_num": "58500000003",
"level_name": "一级会员",
"phone": "15980944959",
"coupon_num": 0
},
"errorCode": null,
"errorMessage": null,
"pageSize": null,
"pageNo": null,
"totalCount": null
}"#;

/// Decodes and checks the member-info reply of 3.2 and 3.7.
fn check_member_response<E: Endpoint<Data = MemberInfo>>() {
    // Repair (E10): the example is cut into two code blocks; they are one object.
    let text = format!("{MEMBER_RESPONSE_FIRST_BLOCK}\n{MEMBER_RESPONSE_SECOND_BLOCK}");
    let reply = reply(&text);
    reply.assert_success();
    // E08: camelCase envelope keys, all null.
    assert_eq!(reply.get("errorCode"), Value::Null);
    assert_eq!(reply.page_key("totalCount"), None);

    let member = reply.data::<E>();
    // E14: a "required" open_id sent as null is absent, not an error.
    assert_eq!(member.open_id, None);
    // E12: the table's level_number arrives as level_num.
    assert_eq!(member.level_number, Some(1));
    assert_eq!(member.level_name.as_deref(), Some("一级会员"));
    assert_eq!(member.nickname.as_deref(), Some("李大哥"));
    assert_eq!(member.realname, None);
    assert_eq!(member.gender, Some(Gender::Male));
    assert_eq!(member.birthday, BeijingDate::from_ymd(1994, 9, 28));
    assert_eq!(member.birthday.unwrap().to_string(), "1994-09-28");
    assert_eq!(member.register_time, Some(TimestampMs(1_624_874_660_000)));
    assert_eq!(
        member.register_time.unwrap().to_beijing(),
        Some(beijing(2021, 6, 28, 18, 4, 20))
    );
    assert_eq!(member.score, Some(0));
    assert_eq!(member.growth_value, Some(0));
    assert_eq!(member.coupon_num, Some(0));
    assert_eq!(member.next_level_num, Some(2));
    assert_eq!(member.next_level_name.as_deref(), Some("二级会员"));
    assert_eq!(member.next_level_growth_value, Some(300));
    assert_eq!(member.is_max_level, Some(MaxLevelFlag::NotMaxLevel));
    assert_eq!(member.rights, None);
    assert_eq!(member.q_id, None);
    // E13: the fields only the example shows are typed fields.
    assert_eq!(member.country.as_deref(), Some("中国"));
    assert_eq!(member.province.as_deref(), Some("广东"));
    assert_eq!(member.city.as_deref(), Some("深圳"));
    assert_eq!(member.id_card.as_deref(), Some("350322198209116378"));
    assert_eq!(member.remark.as_deref(), Some("备注"));
    assert_eq!(
        member.avatar_img_url.as_deref(),
        Some("http://sdsd.sds.com")
    );
    // E11: project_id is a number here, a string in the typed field.
    assert_eq!(member.project_id.as_deref(), Some("18756"));
    assert_eq!(member.email, None);
    assert_eq!(member.phone.as_deref(), Some("15980944959"));
    assert_eq!(member.user_num.as_deref(), Some("58500000003"));
    // Every key of the example is a declared field (or alias): nothing is left in extra.
    assert!(member.extra.is_empty(), "undeclared: {:?}", member.extra);

    // Sent back strictly: the table's key, not the alias.
    let again = serde_json::to_value(&member).unwrap();
    assert_eq!(again["level_number"], json!(1));
    assert!(again.get("level_num").is_none());

    // A key the spec does not declare stays reachable through extra.
    let with_unknown = text.replace(
        "\"user_num\": \"58500000003\",",
        "\"user_num\": \"58500000003\", \"vip_card\": {\"no\": 7},",
    );
    let member = crate::reply(&with_unknown).data::<E>();
    assert_eq!(member.extra.get("vip_card"), Some(&json!({"no": 7})));
    assert_eq!(member.user_num.as_deref(), Some("58500000003"));
}

#[test]
fn section_3_2_query_member_response() {
    check_member_response::<QueryMemberRequest>();
}

#[test]
fn section_3_3_change_points_request() {
    let mut doc = example(S3_3);
    // E26: change_id is a string (the example sends a number).
    doc["change_id"] = json!("1632654222704");

    let request = ChangePointsRequest::new(ChangePointsArgs {
        open_id: "15980947959".into(),
        score: 20,
        out_biz_no: "1632654151087".into(),
        change_reason: "add".into(),
        change_event: "event_add".into(),
        change_id: "1632654222704".into(),
    })
    .activity_score(10);
    assert_matches_example(&request, &doc);
    assert_eq!(request.idempotency_key(), Some("1632654222704"));
}

/// The statement reply of 3.3, 3.4.1 and 3.4.2 (identical in the three sections).
const STATEMENT_RESPONSE: &str = r#"{
  "success": true,
  "error_code": 200,
  "error_message": "",
  "data": {
    "statement_id": "SP016244316351097643"
  }
}"#;

fn check_statement_response<E: Endpoint<Data = StatementData>>() {
    let reply = reply(STATEMENT_RESPONSE);
    reply.assert_success();
    assert_eq!(reply.error_code(), Some(200));
    let statement = reply.data::<E>();
    assert_eq!(
        statement.statement_id.as_deref(),
        Some("SP016244316351097643")
    );
    assert!(statement.extra.is_empty());
}

#[test]
fn section_3_3_change_points_response() {
    check_statement_response::<ChangePointsRequest>();
}

#[test]
fn section_3_4_1_rollback_points_request() {
    let mut doc = example(S3_4_1);
    // E32: items is sent as a JSON array inside a string (the example sends it bare).
    doc["items"] = Value::String(doc["items"].to_string());

    let request = RollbackPointsRequest::new(RollbackPointsArgs {
        open_id: "15980947959".into(),
        rollback_score: 20,
        change_id: "1632711458340".into(),
    })
    .rollback_activity_score(10)
    .parent_order_no("1632710642525")
    .items(vec![
        RollbackItem::new()
            .base_score(12)
            .total_price(yuan("103"))
            .activity_score(5)
            .use_score(0)
            .item_name("护肤品")
            .item_num(2)
            .item_no("5408676771509321001"),
        RollbackItem::new()
            .base_score(8)
            .total_price(yuan("100"))
            .activity_score(5)
            .use_score(0)
            .item_name("护手霜")
            .item_num(3)
            .item_no("5412324626765377001"),
    ]);
    assert_matches_example(&request, &doc);
    // E30: the recovery path sends no statement_id.
    assert!(request.statement_id.is_none());
}

#[test]
fn section_3_4_1_rollback_points_response() {
    check_statement_response::<RollbackPointsRequest>();

    // The error reply of the recovery path.
    let text = r#"{
  "success": false,
  "error_code": 1005, // 返回code以实际为准
  "error_message": "未查询到该订单",
  "data": null
}"#;
    // Repair (E34): a `//` comment is not JSON; removed.
    let reply = reply(&repair(text, " // 返回code以实际为准", ""));
    assert!(!reply.success());
    assert_eq!(reply.error_code(), Some(1005));
    assert_eq!(reply.error_message().as_deref(), Some("未查询到该订单"));
    assert_eq!(reply.get("data"), Value::Null);
    let code = ErrorCode::from_code(1005);
    assert_eq!(code, ErrorCode::ChangeNotFound);
    assert_eq!(code.message(), Some("未查询到该订单"));
    assert_eq!(code.category(), ErrorCategory::NotFound);
    assert!(!code.is_retryable());
}

#[test]
fn section_3_4_2_rollback_points_partially_request() {
    let mut doc = example(S3_4_2);
    // E33: items is a flat array (the example nests it in an extra array), order_no is a
    // string (the example sends a number), and the array travels inside a string (E32).
    let mut item = doc["items"][0][0].clone();
    item["order_no"] = json!("1632723357482");
    doc["items"] = Value::String(json!([item]).to_string());

    let request = RollbackPointsPartiallyRequest::new(RollbackPointsPartiallyArgs {
        open_id: "15980947959".into(),
        change_id: "1632720477224".into(),
        parent_order_no: "1632720420715".into(),
        items: vec![
            PartialRollbackItem::new(PartialRollbackItemArgs {
                order_no: "1632723357482".into(),
                item_no: "5408676771509321001".into(),
                total_price: yuan("100"),
            })
            .base_score(8)
            .activity_score(5)
            .use_score(0)
            .item_name("护手霜")
            .item_num(2),
        ],
    });
    assert_matches_example(&request, &doc);
}

#[test]
fn section_3_4_2_rollback_points_partially_response() {
    check_statement_response::<RollbackPointsPartiallyRequest>();
}

#[test]
fn section_3_5_list_point_records_request() {
    let mut doc = example(S3_5);
    // E35: score_type, pageSize and pageNo are sent as integers (the example quotes them).
    doc["score_type"] = json!(1);
    doc["pageSize"] = json!(10);
    doc["pageNo"] = json!(1);

    let request = ListPointRecordsRequest::new(ListPointRecordsArgs {
        open_id: "xxxx".into(),
        score_type: ScoreType::Income,
        page_size: 10,
        page_no: 1,
    });
    assert_matches_example(&request, &doc);
}

#[test]
fn section_3_5_list_point_records_response() {
    let text = r#"{
  "success": true,
  "error_code": 200,
  "error_message": "",
  "data": [
    { "id": 1, "amount": 30, "desc": "消费增加积分", "createTime": "2021-06-21 14:35:29", "updateTime": "2021-06-21 14:35:29" }
  ],
  "pageNo": 1
  "pageSize": 10
  "totalCount": 1
}"#;
    // Repair (E36): the commas after "pageNo": 1 and "pageSize": 10 are missing.
    let text = repair(text, "\"pageNo\": 1\n", "\"pageNo\": 1,\n");
    let text = repair(&text, "\"pageSize\": 10\n", "\"pageSize\": 10,\n");
    let reply = reply(&text);
    reply.assert_success();
    // E25: the paging keys are envelope keys.
    assert_eq!(reply.page_key("pageNo"), Some(1));
    assert_eq!(reply.page_key("pageSize"), Some(10));
    assert_eq!(reply.page_key("totalCount"), Some(1));

    let records = reply.data::<ListPointRecordsRequest>();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!(record.id, Some(1));
    assert_eq!(record.amount, Some(30));
    assert_eq!(record.desc.as_deref(), Some("消费增加积分"));
    // E37: the String-typed times are Beijing date-times.
    assert_eq!(record.create_time, Some(beijing(2021, 6, 21, 14, 35, 29)));
    assert_eq!(record.update_time, Some(beijing(2021, 6, 21, 14, 35, 29)));
    assert_eq!(
        record.create_time.unwrap().to_string(),
        "2021-06-21 14:35:29"
    );
    assert_eq!(
        record.create_time.unwrap().timestamp_ms(),
        1_624_257_329_000,
        "+08:00"
    );
    assert!(record.extra.is_empty());
}

#[test]
fn section_3_6_generate_member_code_request() {
    let doc = example(S3_6);
    let request = GenerateMemberCodeRequest::new("25c56912e05847c0b09f03ca7e52b796");
    assert_matches_example(&request, &doc);
}

#[test]
fn section_3_6_generate_member_code_response() {
    let reply = reply(
        r#"{
  "success": true,
  "data": "06244323958828461000",
  "errorCode": null,
  "errorMessage": null
}"#,
    );
    reply.assert_success();
    let code: String = reply.data::<GenerateMemberCodeRequest>();
    // A string: the leading zero is kept.
    assert_eq!(code, "06244323958828461000");
}

#[test]
fn section_3_7_parse_member_code_request() {
    let doc = example(S3_7);
    let request = ParseMemberCodeRequest::new("06244323958828461000");
    assert_matches_example(&request, &doc);
}

#[test]
fn section_3_7_parse_member_code_response() {
    // 3.7's example is the same text as 3.2's (there separated by blank lines).
    check_member_response::<ParseMemberCodeRequest>();
}

#[test]
fn section_3_8_list_levels_request() {
    let doc = example(S3_8);
    let request = ListLevelsRequest::new().page_size(10).page_no(1);
    assert_matches_example(&request, &doc);
}

#[test]
fn section_3_8_list_levels_response() {
    let first_block = r#"{
  "error_message": null,
  "data": [
    {
      "level_name": "一级会员",
      "level_number": 1,
      "id": 76
    },
    {
      "level_name": "二级会员",
      "level_number": 2,
      "id": 82
    },
    {
      "level_name": "三级会员",
      "level_number": 3,
      "id": 77
    }
  ],
}"#;
    let second_block = r#"{
  "level_name": "四级会员",
  "level_number": 4,
  "id": 80
},
{
  "level_name": "五级会员",
  "level_number": 5,
  "id": 83
},
{
  "level_name": "六级会员",
  "level_number": 6,
  "id": 81
},
{
  "level_name": "七级会员",
  "level_number": 7,
  "id": 85
}
],
"pageNo": 1,
"success": true,
"pageSize": 7,
"error_code": null,
"totalCount": 7
}"#;
    // Repair (E22): the first block closes the array and the object early (`],` then
    // `}`); the second block continues the array. Dropped, a comma put between the levels,
    // and the blocks joined.
    let first_block = repair(first_block, "\n  ],\n}", ",");
    let reply = reply(&format!("{first_block}\n{second_block}"));
    reply.assert_success();
    assert_eq!(reply.page_key("pageNo"), Some(1));
    assert_eq!(reply.page_key("pageSize"), Some(7));
    assert_eq!(reply.page_key("totalCount"), Some(7));

    let levels = reply.data::<ListLevelsRequest>();
    assert_eq!(levels.len(), 7);
    // E21: level_number is a number (the table says String).
    let numbers: Vec<i64> = levels.iter().map(|l| l.level_number.unwrap()).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7]);
    let ids: Vec<i64> = levels.iter().map(|l| l.id.unwrap()).collect();
    assert_eq!(ids, [76, 82, 77, 80, 83, 81, 85]);
    assert_eq!(levels[0].level_name.as_deref(), Some("一级会员"));
    assert_eq!(levels[6].level_name.as_deref(), Some("七级会员"));
    assert!(levels.iter().all(|l| l.extra.is_empty()));
}

// ======================================================================================
// 4. 消费订单接口
// ======================================================================================

/// The one item of the 4.2/4.3 examples (and twice that of 4.1): every value quoted (E40).
fn example_order_item() -> OrderItem {
    OrderItem::new()
        .item_no("123124")
        .item_name("商品名称")
        .item_price(yuan("125.2"))
        .add_score(100)
        .active_score(120)
        .use_score(120)
        .deduction_money(yuan("120"))
        .item_num(120)
}

/// E65: the example lacks the required order_score; adds the table's example value.
fn with_order_score(text: &str) -> String {
    repair(
        text,
        "\"consume_date\"",
        "\"order_score\": 100,\n  \"consume_date\"",
    )
}

/// E43: drops the literal `...` (elided elements) that makes fin_entity_info's text not JSON.
fn without_elision(text: &str) -> String {
    repair(text, "} ...] \"", "}]\"")
}

/// The 4.1 request example as the typed request reads it (E65, E43).
fn section_4_1_request_decodable() -> String {
    without_elision(&with_order_score(&section_4_1_request_example()))
}

#[test]
fn section_4_1_add_order_request() {
    let mut doc = example(&section_4_1_request_example());
    // E43: fin_entity_info's example text ends in a literal `...` (elided elements), so it
    // is not JSON; the value is free-form JSON the caller supplies, compared without it.
    assert_eq!(
        doc["fin_entity_info"],
        json!(
            "[{\"material_name\": \"硬盒经典双喜牌香烟\", \"bar_code\": \"6901028004770\", \
             \"ty\": \"1\", \"base_unit_id\": \"条\", \"price\": \"120\"} ...] "
        )
    );
    let fin_entity_info = json!([{
        "material_name": "硬盒经典双喜牌香烟", "bar_code": "6901028004770",
        "ty": "1", "base_unit_id": "条", "price": "120"
    }]);
    doc["fin_entity_info"] = Value::String(fin_entity_info.to_string());
    // E65: order_score is required by the table and absent from the example; it is sent
    // (here the table's example value, 100).
    doc["order_score"] = json!(100);

    let request = AddOrderRequest::new(AddOrderArgs {
        consume_date: (beijing(2021, 8, 24, 0, 0, 0)),
        order_amount: yuan("1000"),
        order_no: "test-order-no101".into(),
        order_score: 100,
    })
    .phone("17875981518")
    .item_info_list(vec![example_order_item(), example_order_item()])
    .fin_entity_info(fin_entity_info);
    assert_matches_example(&request, &doc);
    // E39: the amount is sent as written, an integer here.
    assert!(
        serde_json::to_string(&request)
            .unwrap()
            .contains(r#""order_amount":1000,"#)
    );
    // E16: open_id or phone; this example sends the phone only.
    assert!(request.open_id.is_none());
}

/// The order-id reply of 4.1, 4.2 and 4.3 (identical in the three sections).
const ORDER_ID_RESPONSE: &str = r#"{
  "error_message": null,
  "data": 126352,
  "pageNo": null,
  "success": true,
  "pageSize": null,
  "error_code": null,
  "totalCount": null
}"#;

#[test]
fn section_4_1_add_order_response() {
    let reply = reply(ORDER_ID_RESPONSE);
    reply.assert_success();
    let order_id: i64 = reply.data::<AddOrderRequest>();
    assert_eq!(order_id, 126_352);
}

fn refund_example_adjusted() -> Value {
    let mut doc = example(REFUND_REQUEST);
    // E44: material_info is no table's field and is not sent.
    doc.as_object_mut().unwrap().remove("material_info");
    doc
}

#[test]
fn section_4_2_refund_order_request() {
    let request = RefundOrderRequest::new(RefundOrderArgs {
        consume_date: (beijing(2021, 8, 24, 0, 0, 0)),
        order_amount: yuan("1424.54"),
        order_no: "3refund-test-order-no32".into(),
        parent_order_no: "4no31--test-order-".into(),
    })
    .phone("17875981518")
    .item_info_list(vec![example_order_item()]);
    assert_matches_example(&request, &refund_example_adjusted());
}

#[test]
fn section_4_2_refund_order_response() {
    let reply = reply(ORDER_ID_RESPONSE);
    reply.assert_success();
    assert_eq!(reply.data::<RefundOrderRequest>(), 126_352);
}

#[test]
fn section_4_3_refund_order_partially_request() {
    let request = RefundOrderPartiallyRequest::new(RefundOrderPartiallyArgs {
        consume_date: (beijing(2021, 8, 24, 0, 0, 0)),
        order_amount: yuan("1424.54"),
        order_no: "3refund-test-order-no32".into(),
        parent_order_no: "4no31--test-order-".into(),
    })
    .phone("17875981518")
    .item_info_list(vec![example_order_item()]);
    assert_matches_example(&request, &refund_example_adjusted());
}

#[test]
fn section_4_3_refund_order_partially_response() {
    let reply = reply(ORDER_ID_RESPONSE);
    reply.assert_success();
    assert_eq!(reply.data::<RefundOrderPartiallyRequest>(), 126_352);
}

// ======================================================================================
// 5. 优惠券接口
// ======================================================================================

#[test]
fn section_5_1_add_coupon_template_request() {
    // Repair (E49): the first quote inside the stores string is not escaped.
    let mut doc = example(&s5_1_repaired());
    // E48: third_coupon_id is a string (the example sends a number).
    doc["third_coupon_id"] = json!("1629772939065");
    // E49, E63: a store's id is a string (the example's JSON has the number 1).
    let mut stores: Value = serde_json::from_str(doc["stores"].as_str().unwrap()).unwrap();
    assert_eq!(stores, json!([{"name": "唐家湾", "id": 1}]));
    stores[0]["id"] = json!("1");
    doc["stores"] = Value::String(stores.to_string());

    let request = AddCouponTemplateRequest::new(AddCouponTemplateArgs {
        third_coupon_id: "1629772939065".into(),
        coupon_category: CouponCategory::OrderAmountOff,
        name: "vnjohn1629772939065".into(),
        discount_fee: 10,
        coupon_type: CouponValidityType::FixedPeriod,
        rules: "满200元才能使用".into(),
    })
    .suit_store_type(SuitStoreType::SomeStores)
    .stores(vec![named_ref("1", "唐家湾")])
    .end_time(TimestampMs(1_630_204_939_084))
    .begin_time(TimestampMs(1_629_859_339_082));
    assert_matches_example(&request, &doc);
}

#[test]
fn section_5_1_add_coupon_template_response() {
    let reply = reply(
        r#"{
  "error_message": null,
  "data": 1309,
  "pageNo": null,
  "success": true,
  "pageSize": null,
  "error_code": null,
  "totalCount": null
}"#,
    );
    reply.assert_success();
    let template_id: i64 = reply.data::<AddCouponTemplateRequest>();
    assert_eq!(template_id, 1309);
}

#[test]
fn section_5_2_give_coupons_request() {
    // Repair (E54): the JSON inside the coupon_set string is not escaped.
    let doc = example(&s5_2_repaired());

    let request = GiveCouponsRequest::new(GiveCouponsArgs {
        coupon_set: vec![
            CouponGrant::new(CouponGrantArgs {
                open_id: "18023016181".into(),
                coupon_number: "29b81c45e83b49f5a71b95555aef6d00".into(),
                params_type: ParamsType::Phone,
            }),
            CouponGrant::new(CouponGrantArgs {
                open_id: "af76d25b97be4c55ab7fb0aff1d06667".into(),
                coupon_number: "6c69f766bddf4cf5923e06eea6bdccfb".into(),
                params_type: ParamsType::OpenId,
            }),
        ],
        number: 1,
        create_time: TimestampMs(1_626_671_161_991),
        third_coupon_id: "123213212".into(),
    });
    assert_matches_example(&request, &doc);
}

#[test]
fn section_5_2_give_coupons_response() {
    let reply = reply(
        r#"{
  "error_message": null,
  "data": [
    {
      "code": 3733288246799497770,
      "open_id": "168eebeb0d2e4edca2258ce156ec545d"
    },
    {
      "code": 3733288242305165352,
      "open_id": "af76d25b97be4c55ab7fb0aff1d06667"
    }
  ],
  "pageNo": null,
  "success": true,
  "pageSize": null,
  "error_code": null,
  "totalCount": null
}"#,
    );
    reply.assert_success();
    let coupons = reply.data::<GiveCouponsRequest>();
    assert_eq!(coupons.len(), 2);
    // E56: 19-digit codes, above 2^53, kept digit for digit.
    assert_eq!(coupons[0].code.as_deref(), Some("3733288246799497770"));
    assert_eq!(coupons[1].code.as_deref(), Some("3733288242305165352"));
    // E55: the table's openId arrives as open_id.
    assert_eq!(
        coupons[0].open_id.as_deref(),
        Some("168eebeb0d2e4edca2258ce156ec545d")
    );
    assert_eq!(
        coupons[1].open_id.as_deref(),
        Some("af76d25b97be4c55ab7fb0aff1d06667")
    );
    assert!(coupons.iter().all(|c| c.extra.is_empty()));
}

#[test]
fn section_5_3_sync_coupon_status_request() {
    let doc = example(S5_3);
    // E57: third_coupon_code is a string, as the example sends it (the table says Long).
    let request = SyncCouponStatusRequest::new(SyncCouponStatusArgs {
        third_coupon_code: "550be7757dbf4357a0d79706e2c2c25f".into(),
        open_id: "af76d25b97be4c55ab7fb0aff1d06667".into(),
        status: CouponStatus::Invalid,
    });
    assert_matches_example(&request, &doc);
}

#[test]
fn section_5_3_sync_coupon_status_response() {
    let reply = reply(
        r#"{
  "error_message": null,
  "data": "641e0b64e16d45bc97fdaaec09afc481",
  "pageNo": null,
  "success": true,
  "pageSize": null,
  "error_code": null,
  "totalCount": null
}"#,
    );
    reply.assert_success();
    let code: String = reply.data::<SyncCouponStatusRequest>();
    assert_eq!(code, "641e0b64e16d45bc97fdaaec09afc481");
}

#[test]
fn section_5_4_verify_coupons_request() {
    let doc = example(S5_4);
    let request = VerifyCouponsRequest::new(VerifyCouponsArgs {
        open_id: "17875981518".into(),
        order_no: "order_testCouponGive".into(),
        third_coupon_codes: vec!["testCouponGive".to_owned()],
        verification_time: TimestampMs(1_632_903_617_000),
        order_amount: yuan("1205.52"),
    })
    .store_id(12)
    .verifier_id(12)
    .verifier_name("12");
    assert_matches_example(&request, &doc);
    assert!(
        serde_json::to_string(&request)
            .unwrap()
            .contains(r#""order_amount":1205.52"#)
    );

    // E60: several codes are joined by a bare comma.
    let several = VerifyCouponsRequest::new(VerifyCouponsArgs {
        open_id: "17875981518".into(),
        order_no: "order_testCouponGive".into(),
        third_coupon_codes: vec!["21315".to_owned(), "5484".to_owned(), "244".to_owned()],
        verification_time: TimestampMs(1_632_903_617_000),
        order_amount: yuan("14.5"),
    });
    assert_eq!(
        serde_json::to_value(&several).unwrap()["third_coupon_codes"],
        json!("21315,5484,244")
    );
}

#[test]
fn section_5_4_verify_coupons_response() {
    let reply = reply(
        r#"{
  "error_message": null,
  "data": null,
  "pageNo": null,
  "success": true,
  "pageSize": null,
  "error_code": null,
  "totalCount": null
}"#,
    );
    reply.assert_success();
    // E59: no payload.
    let () = reply.data::<VerifyCouponsRequest>();
    assert_eq!(reply.get("data"), Value::Null);
}

#[test]
fn section_5_5_list_user_coupons_request() {
    let mut doc = example(S5_5);
    // E62: page_size is sent as a number (the example quotes it).
    doc["page_size"] = json!(15);

    let request = ListUserCouponsRequest::new("168eebeb0d2e4edca2258ce156ec545d")
        .page_no(1)
        .page_size(15);
    assert_matches_example(&request, &doc);
}

#[test]
fn section_5_5_list_user_coupons_response() {
    let reply = reply(
        r#"
{
  "error_message": null,
  "data": [
    {
      "coupon_code": 3735473975794516910,
      "coupon_info_id": 1307,
      "stores": "[{\"id\":1,\"name\": \"唐家湾\"}]",
      "end_time": 1627401600000,
      "minimum_fee": 100,
      "receive_time": 1626452602000,
      "begin_time": 1626452602000,
      "coupon_category": 0,
      "rules": "满100元才能使用",
      "discount_fee": 10,
      "member_restrict_type": 2,
      "third_coupon_code": "eeea1682-93d2-443c-b995-fc6cdf37ea22",
      "use_scope_type": 1,
      "suit_store_type": 1,
      "suit_item_type": 1,
      "use_order_no": null,
      "name": "测试优惠券",
      "categories": "[]",
      "fixed_term": 10,
      "id": 306784,
      "items": "[{\"id\":1,\"name\": \"洗衣粉\"}]",
      "coupon_type": 0,
      "status": 1
    }
  ],
  "pageNo": 1,
  "success": true,
  "pageSize": 15,
  "error_code": null,
  "totalCount": 1
}
"#,
    );
    reply.assert_success();
    assert_eq!(reply.page_key("pageNo"), Some(1));
    assert_eq!(reply.page_key("pageSize"), Some(15));
    assert_eq!(reply.page_key("totalCount"), Some(1));

    let coupons = reply.data::<ListUserCouponsRequest>();
    assert_eq!(coupons.len(), 1);
    let c = &coupons[0];
    // E56: a 19-digit code, above 2^53, kept digit for digit.
    assert_eq!(c.coupon_code.as_deref(), Some("3735473975794516910"));
    assert_eq!(c.coupon_info_id, Some(1307));
    // E15-like JSON inside strings, E63: numeric ids decode into the string id.
    assert_eq!(c.stores, Some(vec![named_ref("1", "唐家湾")]));
    assert_eq!(c.items, Some(vec![named_ref("1", "洗衣粉")]));
    assert_eq!(c.categories, Some(vec![]));
    assert_eq!(c.end_time, Some(TimestampMs(1_627_401_600_000)));
    assert_eq!(
        c.end_time.unwrap().to_beijing(),
        Some(beijing(2021, 7, 28, 0, 0, 0))
    );
    assert_eq!(c.receive_time, Some(TimestampMs(1_626_452_602_000)));
    assert_eq!(c.begin_time, Some(TimestampMs(1_626_452_602_000)));
    // E51: minimum_fee is a Fen, 100 fen = 1.00 yuan.
    assert_eq!(c.minimum_fee, Some(Fen::new(100)));
    assert_eq!(c.minimum_fee.map(Yuan::from), Some(yuan("1.00")));
    assert_eq!(c.discount_fee, Some(10));
    assert_eq!(c.coupon_category, Some(CouponCategory::OrderAmountOff));
    assert_eq!(c.rules.as_deref(), Some("满100元才能使用"));
    assert_eq!(c.member_restrict_type, Some(MemberRestrictType::Everyone));
    assert_eq!(
        c.third_coupon_code.as_deref(),
        Some("eeea1682-93d2-443c-b995-fc6cdf37ea22")
    );
    assert_eq!(c.use_scope_type, Some(UseScopeType::IssuingBusinessOnly));
    assert_eq!(c.suit_store_type, Some(SuitStoreType::SomeStores));
    assert_eq!(c.suit_item_type, Some(SuitItemType::SomeItems));
    assert_eq!(c.use_order_no, None);
    assert_eq!(c.name.as_deref(), Some("测试优惠券"));
    assert_eq!(c.fixed_term, Some(10));
    assert_eq!(c.id, Some(306_784));
    assert_eq!(c.coupon_type, Some(CouponValidityType::DaysAfterReceipt));
    // E61: the response status uses CouponStatus (1 = valid).
    assert_eq!(c.status, Some(CouponStatus::Valid));
    assert!(c.extra.is_empty(), "undeclared: {:?}", c.extra);
}

// ======================================================================================
// 6. 短信服务
// ======================================================================================

/// The reply of 6.1 and 6.2 (identical; 6.2's has trailing spaces, dropped).
const SMS_RESPONSE: &str = r#"{
  "error_message": null,
  "data": true,
  "pageNo": null,
  "success": true,
  "pageSize": null,
  "error_code": null,
  "totalCount": null
}"#;

#[test]
fn section_6_1_send_sms_code_request() {
    let doc = example(S6_1);
    assert_matches_example(&SendSmsCodeRequest::new("13888888888"), &doc);
}

#[test]
fn section_6_1_send_sms_code_response() {
    let reply = reply(SMS_RESPONSE);
    reply.assert_success();
    // E64: no response table; data is a boolean.
    assert!(reply.data::<SendSmsCodeRequest>());
}

#[test]
fn section_6_2_verify_sms_code_request() {
    let doc = example(S6_2);
    assert_matches_example(
        &VerifySmsCodeRequest::new(VerifySmsCodeArgs {
            phone: "13888888888".into(),
            verify_code: "4586".into(),
        }),
        &doc,
    );
}

#[test]
fn section_6_2_verify_sms_code_response() {
    let reply = reply(SMS_RESPONSE);
    reply.assert_success();
    // E72: `data: true` is the pass, returned as `()`.
    openplatform_runtime::decode_response::<VerifySmsCodeRequest>(
        &gree_ump::PROTOCOL,
        200,
        SMS_RESPONSE.as_bytes(),
    )
    .expect("data true: the code verified");
}

/// E72: one way to say no. `success` with `data: false` is the same error as the code
/// 140005, and a success without data is not a pass.
#[test]
fn e72_a_wrong_sms_code_is_one_error_however_it_is_said() {
    use openplatform_runtime::{DecodeErrorKind, Error};
    let decode = |body: &str| {
        openplatform_runtime::decode_response::<VerifySmsCodeRequest>(
            &gree_ump::PROTOCOL,
            200,
            body.as_bytes(),
        )
        .map_err(Box::new)
    };
    for body in [
        SMS_RESPONSE.replace(r#""data": true"#, r#""data": false"#),
        SMS_RESPONSE.replace(r#""data": true"#, r#""data": "false""#),
        r#"{"success":false,"error_code":140005,"error_message":"验证码验证不通过"}"#.to_owned(),
    ] {
        assert_ne!(body, SMS_RESPONSE);
        match decode(&body).map_err(|e| *e) {
            Err(Error::Api(e)) => {
                assert_eq!(e.code, gree_ump::ErrorCode::SmsCodeMismatch, "{body}");
                assert_eq!(e.method, "wk.sms.verify.judge");
            }
            other => panic!("{body}: {other:?}"),
        }
    }
    match decode(r#"{"success":true,"data":null}"#).map_err(|e| *e) {
        Err(Error::Decode(d)) => assert_eq!(d.kind, DecodeErrorKind::MissingData),
        other => panic!("{other:?}"),
    }
}

// ======================================================================================
// Cross-cutting wire properties
// ======================================================================================

#[test]
fn money_round_trips_byte_exact() {
    // A bare amount: decoded and re-serialized as written.
    for text in ["1000.4", "1000.40", "1424.54", "1205.52", "1000", "0.1"] {
        let amount: Yuan = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&amount).unwrap(), text);
    }
    let amount: Yuan = serde_json::from_str("1000.4").unwrap();
    assert_eq!(amount.to_fen(), Some(100_040));
    assert_eq!(amount, Yuan::from_fen(100_040));

    // More digits than an f64 holds: through f64 this would become 12345678901234568.
    let big = "12345678901234567.89";
    assert_ne!(big.parse::<f64>().unwrap().to_string(), big);
    let amount: Yuan = serde_json::from_str(big).unwrap();
    assert_eq!(serde_json::to_string(&amount).unwrap(), big);

    // Inside a request: the doc's 4.2 example decodes into the typed request and its amount
    // is sent back byte for byte.
    let request: RefundOrderRequest = serde_json::from_str(REFUND_REQUEST).unwrap();
    assert_eq!(request.order_amount.to_string(), "1424.54");
    let sent = serde_json::to_string(&request).unwrap();
    assert!(sent.contains(r#""order_amount":1424.54,"#), "{sent}");

    // 4.1's table example amount, 1000.4, in a request decoded from text and re-sent.
    let text = repair(
        &section_4_1_request_decodable(),
        "\"order_amount\": 1000,",
        "\"order_amount\": 1000.4,",
    );
    let request: AddOrderRequest = serde_json::from_str(&text).unwrap();
    assert_eq!(request.order_amount, yuan("1000.4"));
    let sent = serde_json::to_string(&request).unwrap();
    assert!(sent.contains(r#""order_amount":1000.4,"#), "{sent}");
    // A quoted amount inside JSON inside a string (E40) keeps its text too.
    let items = request.item_info_list.as_ref().unwrap();
    assert_eq!(items[0].item_price.unwrap().to_string(), "125.2");
    assert!(sent.contains(r#"\"item_price\":\"125.2\""#), "{sent}");

    // Yuan built from text, sent as a JSON number with that exact text.
    let request = VerifyCouponsRequest::new(VerifyCouponsArgs {
        open_id: "17875981518".into(),
        order_no: "o1".into(),
        third_coupon_codes: vec!["c1".to_owned()],
        verification_time: TimestampMs(1_632_903_617_000),
        order_amount: yuan("1000.40"),
    });
    let sent = serde_json::to_string(&request).unwrap();
    assert!(sent.contains(r#""order_amount":1000.40"#), "{sent}");

    // E71: an amount with more than two decimals is decoded and kept byte for byte (the
    // request is not refused), but it is not a whole number of fen: computing with it
    // says so. Text the caller writes is held to two decimals.
    let text = repair(
        &section_4_1_request_decodable(),
        "\"order_amount\": 1000,",
        "\"order_amount\": 1000.405,",
    );
    let request: AddOrderRequest = serde_json::from_str(&text).unwrap();
    assert_eq!(request.order_amount.to_string(), "1000.405");
    let sent = serde_json::to_string(&request).unwrap();
    assert!(sent.contains(r#""order_amount":1000.405,"#), "{sent}");
    assert_eq!(request.order_amount.to_fen(), None);
    assert_eq!(request.order_amount.checked_add(yuan("0.01")), None);
    let err = Fen::try_from(request.order_amount).unwrap_err();
    assert!(
        matches!(err, ToFenError::TooManyDecimals { decimals: 3, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("1000.405"), "{err}");
    assert_eq!(Yuan::parse("1000.405").unwrap_err().decimals(), Some(3));
}

#[test]
fn integers_beyond_2_pow_53_never_pass_through_f64() {
    const TWO_POW_53_PLUS_1: i64 = 9_007_199_254_740_993;
    // Through f64 this value would become 2^53.
    assert_ne!(TWO_POW_53_PLUS_1 as f64 as i64, TWO_POW_53_PLUS_1);

    // i64 response fields (3.8's level id and number) decoded from the wire text.
    let reply = reply(
        r#"{"success": true, "data": [
            {"level_name": "x", "level_number": "9007199254740993", "id": 9223372036854775807}
        ], "pageNo": 1, "pageSize": 1, "totalCount": 1}"#,
    );
    let levels = reply.data::<ListLevelsRequest>();
    assert_eq!(levels[0].id, Some(i64::MAX));
    assert_eq!(levels[0].level_number, Some(TWO_POW_53_PLUS_1));

    // The 4.1 reply's order id, and 5.1's template id, at 2^53 + 1.
    let reply = crate::reply(r#"{"success": true, "data": 9007199254740993}"#);
    assert_eq!(reply.data::<AddOrderRequest>(), TWO_POW_53_PLUS_1);
    assert_eq!(reply.data::<AddCouponTemplateRequest>(), TWO_POW_53_PLUS_1);

    // Coupon codes (E56): the doc's 19-digit values are strings with the exact digits;
    // an f64 would change them.
    let code = "3733288246799497770";
    assert_ne!(
        code.parse::<f64>().unwrap() as u64,
        code.parse::<u64>().unwrap()
    );
    let reply = crate::reply(&format!(
        r#"{{"success": true, "data": [{{"code": {code}, "openId": "o"}}]}}"#
    ));
    assert_eq!(
        reply.data::<GiveCouponsRequest>()[0].code.as_deref(),
        Some(code)
    );

    // Request side: i64 fields are sent with their exact digits.
    let request = AddOrderRequest::new(AddOrderArgs {
        consume_date: (beijing(2021, 8, 24, 0, 0, 0)),
        order_amount: yuan("1"),
        order_no: "o".into(),
        order_score: 0,
    })
    .phone("17875981518")
    .store_id(TWO_POW_53_PLUS_1)
    .shop_id(i64::MAX);
    let sent = serde_json::to_string(&request).unwrap();
    assert!(sent.contains(r#""store_id":9007199254740993"#), "{sent}");
    assert!(sent.contains(r#""shop_id":9223372036854775807"#), "{sent}");
    // And a quoted i64 inside JSON inside a string (OrderItem, E40).
    let request = request.item_info_list(vec![OrderItem::new().add_score(TWO_POW_53_PLUS_1)]);
    let sent = serde_json::to_string(&request).unwrap();
    assert!(
        sent.contains(r#"\"add_score\":\"9007199254740993\""#),
        "{sent}"
    );
    let back: AddOrderRequest = serde_json::from_str(&sent).unwrap();
    assert_eq!(
        back.item_info_list.unwrap()[0].add_score,
        Some(TWO_POW_53_PLUS_1)
    );
}

#[test]
fn json_inside_a_string_decodes_to_typed_vecs() {
    // rights (3.2/3.7, E15): the table's example value, sent inside a string.
    let rights_text = r#"[{"id":1,"name":"免费停车","imgUrl":" https://img.url "}]"#;
    let text = format!(
        r#"{{"success": true, "data": {{"nickname": "李大哥", "rights": {}}}}}"#,
        serde_json::to_string(rights_text).unwrap()
    );
    let member = reply(&text).data::<QueryMemberRequest>();
    let rights = member.rights.expect("rights decoded");
    assert_eq!(rights.len(), 1);
    assert_eq!(rights[0].id, Some(1));
    assert_eq!(rights[0].name.as_deref(), Some("免费停车"));
    // The spaces around the URL are the example's and are kept.
    assert_eq!(rights[0].img_url.as_deref(), Some(" https://img.url "));
    assert!(rights[0].extra.is_empty());
    // The same array given bare is accepted too.
    let bare = format!(r#"{{"success": true, "data": {{"rights": {rights_text}}}}}"#);
    assert_eq!(
        reply(&bare).data::<ParseMemberCodeRequest>().rights,
        Some(rights)
    );

    // item_info_list (4.1, E40): the doc's example (two items) decoded into OrderItems.
    let request: AddOrderRequest = serde_json::from_str(&section_4_1_request_decodable()).unwrap();
    let items = request.item_info_list.expect("items decoded");
    assert_eq!(items.len(), 2);
    assert_eq!(items, vec![example_order_item(), example_order_item()]);
    assert_eq!(items[1].item_price, Some(yuan("125.2")));
    assert_eq!(items[1].item_num, Some(120));
    // fin_entity_info's text is not JSON (E43: it ends in `...`): decoding refuses it
    // rather than guessing.
    let error =
        serde_json::from_str::<AddOrderRequest>(&with_order_score(&section_4_1_request_example()))
            .unwrap_err();
    assert!(
        error.to_string().contains("JSON inside a string"),
        "{error}"
    );

    // coupon_set (5.2, E54): the repaired example decoded into CouponGrants.
    let text = escape_quotes_in_value(
        r#"{
  "number": 1,
  "coupon_set": "[{"open_id":"18023016181","params_type":"2","coupon_number":"29b81c45e83b49f5a71b95555aef6d00"}, {"open_id":"af76d25b97be4c55ab7fb0aff1d06667","params_type":"1","coupon_number":"6c69f766bddf4cf5923e06eea6bdccfb"}]",
  "create_time": 1626671161991,
  "third_coupon_id": "123213212"
}"#,
        "coupon_set",
    );
    let request: GiveCouponsRequest = serde_json::from_str(&text).unwrap();
    assert_eq!(request.coupon_set.len(), 2);
    assert_eq!(request.coupon_set[0].params_type, ParamsType::Phone);
    assert_eq!(request.coupon_set[0].open_id, "18023016181");
    assert_eq!(request.coupon_set[1].params_type, ParamsType::OpenId);
    assert_eq!(
        request.coupon_set[1].coupon_number,
        "6c69f766bddf4cf5923e06eea6bdccfb"
    );

    // items (3.4.2): a partial-rollback item list sent and read back.
    let request = RollbackPointsPartiallyRequest::new(RollbackPointsPartiallyArgs {
        open_id: "15980947959".into(),
        change_id: "1632720477224".into(),
        parent_order_no: "1632720420715".into(),
        items: vec![PartialRollbackItem::new(PartialRollbackItemArgs {
            order_no: "1632723357482".into(),
            item_no: "5408676771509321001".into(),
            total_price: yuan("100"),
        })],
    });
    let sent = serde_json::to_string(&request).unwrap();
    assert!(
        sent.contains(r#""items":"[{\"order_no\":\"1632723357482\""#),
        "{sent}"
    );
    let back: RollbackPointsPartiallyRequest = serde_json::from_str(&sent).unwrap();
    assert_eq!(back.items[0].item_no, "5408676771509321001");
    assert_eq!(back.items[0].total_price, yuan("100"));
}
