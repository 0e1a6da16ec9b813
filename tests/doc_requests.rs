//! The request examples of the vendor document (格力地产会员开放平台文档 V2.7), verbatim,
//! and the syntax repairs that make them JSON.
//!
//! Shared by `doc_examples` (the typed client sends what each example says, after the
//! errata's decisions) and `doc_examples_sandbox` (the sandbox accepts each example as
//! printed, as raw signed HTTP). The only change to the document's text: trailing spaces
//! at the ends of lines (the 5.5 request and the 6.2 request) were dropped; JSON ignores
//! them.
//!
//! The repairs panic when the text they repair is not found, so a repair cannot silently
//! go stale.

/// Syntax repair: replaces the single occurrence of `broken` in a document example.
pub fn repair(text: &str, broken: &str, fixed: &str) -> String {
    assert_eq!(
        text.matches(broken).count(),
        1,
        "the repair target {broken:?} must occur exactly once"
    );
    text.replacen(broken, fixed, 1)
}

/// Syntax repair: the document wraps long string values over several lines, and a raw line
/// break inside a JSON string is invalid JSON. Each break inside a string, with the
/// indentation after it, becomes one space (the separator the wrapped text had there).
pub fn join_wrapped_strings(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped, mut joined) = (false, false, 0);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            } else if c == '\n' {
                while chars.peek() == Some(&' ') {
                    chars.next();
                }
                out.push(' ');
                joined += 1;
                continue;
            }
        } else if c == '"' {
            in_string = true;
        }
        out.push(c);
    }
    assert!(joined > 0, "no wrapped string to join");
    out
}

/// Syntax repair: the string value of `key` (on one line) contains unescaped `"` (JSON
/// text pasted into a string without escaping it); escapes them.
pub fn escape_quotes_in_value(text: &str, key: &str) -> String {
    let open = format!("\"{key}\": \"");
    let start = text.find(&open).expect("the key is in the example") + open.len();
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let close = start + text[start..line_end].rfind('"').expect("a closing quote");
    let (mut fixed, mut prev, mut count) = (String::new(), '\0', 0);
    for c in text[start..close].chars() {
        if c == '"' && prev != '\\' {
            fixed.push('\\');
            count += 1;
        }
        fixed.push(c);
        prev = c;
    }
    assert!(count > 0, "no unescaped quote in the value of {key}");
    format!("{}{}{}", &text[..start], fixed, &text[close..])
}

/// Section 1's request example: the token call as a URL.
pub const SECTION_1_REQUEST: &str =
    "https://test-ump.greedc.com/gw/gateway/dss.auth.token.query/v1?
app_id=wkb1ag2hdad7e6jw1r&code=&redirect_url=&timestamp=1&sign=cd3e05dca22f47dca
ed665538bb2f534";

/// 3.1, the example's first code block.
pub const S3_1_FIRST_BLOCK: &str = r#"{
  "outer_user_id": "out001",
  "q_id": "qId=123",
  "project_id": "18756",
  "nickname": "张三","#;

/// 3.1, the example's second code block (E10: the two are one object).
pub const S3_1_SECOND_BLOCK: &str = r#""username": "张达三",
"phone": "15900947949",
"avatar_img_url": "http://sdsd.sds.com",
"gender": 1,
"birthday": "1994-09-28",
"country": "中国",
"province": "广东",
"city": "深圳",
"id_card": "350322198209116378",
"company_name": "格力集团",
"remark": "备注"
}"#;

/// 3.2, the first alternative (`{…} 或 {…}`).
pub const S3_2_BY_OPEN_ID: &str = r#"{
  "open_id": "25c56912e05847c0b09f03ca7e52b796"
}"#;

/// 3.2, the second alternative.
pub const S3_2_BY_PHONE: &str = r#"{
  "phone": "13800000000"
}"#;

/// 3.3.
pub const S3_3: &str = r#"{"score":20,"change_reason":"add","change_event":"event_add","activity_score":10,"open_id":"15980947959","change_id":1632654222704,"out_biz_no":"1632654151087"}"#;

/// 3.4.1.
pub const S3_4_1: &str = r#"{
  "rollback_activity_score":10,
  "open_id":"15980947959",
  "change_id":"1632711458340",
  "rollback_score":20,
  "parent_order_no":"1632710642525",
  "items":
  [
    {
      "base_score":12,
      "total_price":103,
      "activity_score":5,
      "use_score":0,
      "item_name":"护肤品",
      "item_num":2,
      "item_no":"5408676771509321001"
    },
    {
      "base_score":8,
      "total_price":100,
      "activity_score":5,
      "use_score":0,
      "item_name":"护手霜",
      "item_num":3,
      "item_no":"5412324626765377001"
    }
  ]
}"#;

/// 3.4.2 (E33: `items` nested in an extra array).
pub const S3_4_2: &str = r#"{
  "open_id": "15980947959",
  "change_id": "1632720477224",
  "parent_order_no": "1632720420715",
  "items": [
    [
      {
        "order_no": 1632723357482,
        "base_score": 8,
        "total_price": 100,
        "activity_score": 5,
        "use_score": 0,
        "item_name": "护手霜",
        "item_num": 2,
        "item_no": "5408676771509321001"
      }
    ]
  ]
}"#;

/// 3.5.
pub const S3_5: &str = r#"{
  "open_id": "xxxx",
  "score_type": "1",
  "pageSize": "10",
  "pageNo": "1"
}"#;

/// 3.6.
pub const S3_6: &str = r#"{
  "open_id": "25c56912e05847c0b09f03ca7e52b796"
}"#;

/// 3.7.
pub const S3_7: &str = r#"{
  "code": "06244323958828461000"
}"#;

/// 3.8.
pub const S3_8: &str = r#"{
  "page_size":10,
  "page_no":1
}"#;

/// 5.1 (E49: a quote inside `stores` is not escaped: not JSON as printed).
pub const S5_1: &str = r#"{
  "suit_store_type": 1,
  "stores": "[{"name\":\"唐家湾\",\"id\":1}]",
  "name": "vnjohn1629772939065",
  "end_time": 1630204939084,
  "coupon_category": 0,
  "begin_time": 1629859339082,
  "rules": "满200元才能使用",
  "third_coupon_id": 1629772939065,
  "discount_fee": 10,
  "coupon_type": 1
}"#;

/// 5.2 (E54: the JSON inside `coupon_set` is not escaped: not JSON as printed).
pub const S5_2: &str = r#"{
  "number": 1,
  "coupon_set": "[{"open_id":"18023016181","params_type":"2","coupon_number":"29b81c45e83b49f5a71b95555aef6d00"}, {"open_id":"af76d25b97be4c55ab7fb0aff1d06667","params_type":"1","coupon_number":"6c69f766bddf4cf5923e06eea6bdccfb"}]",
  "create_time": 1626671161991,
  "third_coupon_id": "123213212"
}"#;

/// 5.3.
pub const S5_3: &str = r#"{
  "third_coupon_code": "550be7757dbf4357a0d79706e2c2c25f",
  "open_id": "af76d25b97be4c55ab7fb0aff1d06667",
  "status": 0
}"#;

/// 5.4.
pub const S5_4: &str = r#"{
  "order_no": "order_testCouponGive",
  "store_id": 12,
  "verifier_id": 12,
  "verification_time": 1632903617000,
  "open_id": "17875981518",
  "order_amount": 1205.52,
  "verifier_name": "12",
  "third_coupon_codes": "testCouponGive"
}"#;

/// 5.5.
pub const S5_5: &str = r#"{
  "open_id": "168eebeb0d2e4edca2258ce156ec545d",
  "page_no": 1,
  "page_size": "15"
}"#;

/// 6.1.
pub const S6_1: &str = r#"{
  "target": "13888888888"
}"#;

/// 6.2.
pub const S6_2: &str = r#"{
  "phone": "13888888888",
  "verify_code": "4586"
}"#;

/// The 4.1 request example, verbatim.
pub const SECTION_4_1_REQUEST: &str = r#"{
  "order_no": "test-order-no101",
  "item_info_list": "[{\"item_no\": \"123124\", \"item_name\": \"商品名称\",
  \"item_price\": \"125.2\", \"add_score\": \"100\", \"active_score\": \"120\",
  \"use_score\": \"120\", \"deduction_money\": \"120\", \"item_num\": \"120\"},
  {\"item_no\": \"123124\", \"item_name\": \"商品名称\", \"item_price\": \"125.2\",
  \"add_score\": \"100\", \"active_score\": \"120\", \"use_score\": \"120\",
  \"deduction_money\": \"120\", \"item_num\": \"120\"}]",
  "phone": "17875981518",
  "order_amount": 1000,
  "fin_entity_info": "[{\"material_name\": \"硬盒经典双喜牌香烟\", \"bar_code\":
  \"6901028004770\", \"ty\": \"1\", \"base_unit_id\": \"条\", \"price\": \"120\"}
  ...] ",
  "consume_date": "2021-08-24 00:00:00"
}"#;

/// The 4.1 request example with its syntax repaired.
pub fn section_4_1_request_example() -> String {
    // Repair: the string values of item_info_list and fin_entity_info are wrapped over
    // several lines; raw line breaks inside a JSON string are invalid.
    join_wrapped_strings(SECTION_4_1_REQUEST)
}

/// The request example of 4.2 and 4.3 (identical in both sections), verbatim.
pub const REFUND_REQUEST: &str = r#"{
  "order_no": "3refund-test-order-no32",
  "item_info_list": "[{\"item_no\": \"123124\", \"item_name\": \"商品名称\", \"item_price\": \"125.2\", \"add_score\": \"100\", \"active_score\": \"120\", \"use_score\": \"120\", \"deduction_money\": \"120\", \"item_num\": \"120\"}]",
  "phone": "17875981518",
  "order_amount": 1424.54,
  "material_info": "[{\"material_name\": \"硬盒经典双喜牌香烟\", \"bar_code\": \"6901028004770\", \"ty\": \"1\", \"base_unit_id\": \"条\", \"price\": \"120\"} ...] ",
  "consume_date": "2021-08-24 00:00:00",
  "parent_order_no": "4no31--test-order-"
}"#;

/// 3.1 as one object (E10: the example is cut into two code blocks).
pub fn s3_1_joined() -> String {
    format!("{S3_1_FIRST_BLOCK}\n{S3_1_SECOND_BLOCK}")
}

/// 5.1 with its syntax repaired (E49: the first quote inside `stores` is not escaped).
pub fn s5_1_repaired() -> String {
    escape_quotes_in_value(S5_1, "stores")
}

/// 5.2 with its syntax repaired (E54: the JSON inside `coupon_set` is not escaped).
pub fn s5_2_repaired() -> String {
    escape_quotes_in_value(S5_2, "coupon_set")
}
