//! A synthetic V2.8 of the vendor's document, and the spec a maintainer would write for it.
//!
//! The document (`fixtures/audit/gree-ump-open-platform-v2.8.txt`) is V2.7 with nine
//! changes: a new revision row, a new endpoint (6.3), a new optional field
//! (`referrer_phone`), a field that became required (`realname`), a removed field
//! (`remark`), a type change (4.1 `store_id`), a new enumeration value in a description
//! (3.1 `gender`), a new error code (110007) and a changed error message (110004).
//! [`spec_v2_8`] applies the same changes to today's spec, edit by edit, so that the audit
//! and the API diff of the two can be tested without the vendor's files.

#![allow(dead_code)]

/// The synthetic document.
pub const DOC_V2_8: &str = include_str!("../fixtures/audit/gree-ump-open-platform-v2.8.txt");
pub const DOC_V2_8_PATH: &str = "xtask/tests/fixtures/audit/gree-ump-open-platform-v2.8.txt";

/// Today's spec, which describes V2.7.
pub const SPEC: &str = include_str!("../../../api-spec/gree-ump.yaml");
pub const SPEC_PATH: &str = "api-spec/gree-ump.yaml";

/// Replaces exactly one occurrence, so a spec edit elsewhere cannot silently void an edit.
fn once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "the spec must contain this exactly once:\n{from}"
    );
    text.replacen(from, to, 1)
}

/// The 1-based line of the only line containing `needle`.
pub fn line_of(text: &str, needle: &str) -> usize {
    let hits: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(hits.len(), 1, "`{needle}` must be on exactly one line");
    hits[0]
}

/// Today's spec updated for the synthetic V2.8.
pub fn spec_v2_8() -> String {
    let mut s = SPEC.to_string();
    s = once(&s, "  doc_version: V2.7\n", "  doc_version: V2.8\n");
    s = once(
        &s,
        "  document: gree-ump-open-platform-v2.7.txt\n",
        "  document: gree-ump-open-platform-v2.8.txt\n",
    );
    // 3.1: realname becomes required.
    s = once(
        &s,
        "        - wire: realname\n          sensitive: pii\n          type: string\n          doc: 用户真实姓名\n",
        "        - wire: realname\n          sensitive: pii\n          type: string\n          required: true\n          doc: 用户真实姓名\n",
    );
    // 3.1: remark is removed.
    s = once(
        &s,
        "        - wire: remark\n          type: string\n          doc: 备注\n          gloss: Remark\n          example: 没有备注\n",
        "",
    );
    // 3.1: a new optional field.
    s = once(
        &s,
        "          doc: 员工姓名\n          gloss: Name of that staff member\n          example: 张三\n",
        "          doc: 员工姓名\n          gloss: Name of that staff member\n          example: 张三\n        - wire: referrer_phone\n          sensitive: pii\n          type: string\n          doc: 推荐人手机号\n          gloss: Phone number of the member who referred this one\n          example: \"13800000001\"\n",
    );
    // 3.1: gender gains a value.
    s = once(
        &s,
        "        - wire: gender\n          type: Gender\n          doc: 会员性别, 1-男, 2-女, 0-未知\n",
        "        - wire: gender\n          type: Gender\n          doc: 会员性别, 1-男, 2-女, 0-未知, 3-保密\n",
    );
    s = once(
        &s,
        "      - {value: 2, name: Female, doc: 女, gloss: female}\n",
        "      - {value: 2, name: Female, doc: 女, gloss: female}\n      - {value: 3, name: Undisclosed, doc: 保密, gloss: not disclosed}\n",
    );
    // 4.1: store_id becomes a string; 4.2 keeps the number it shared with 4.1.
    s = once(
        &s,
        "        - &store_id\n          wire: store_id\n          type: i64\n          doc: 门店id, 门店标识\n",
        "        - wire: store_id\n          type: string\n          doc: 门店id, 门店标识\n",
    );
    s = once(
        &s,
        "        - *store_id\n",
        "        - wire: store_id\n          type: i64\n          doc: 门店id, 门店标识\n          gloss: Store identifier\n          example: \"20206023\"\n",
    );
    // Errors: a changed message, a new code.
    s = once(
        &s,
        "    message: 会员不存在\n",
        "    message: 会员不存在或已注销\n",
    );
    s = once(
        &s,
        "    message: 会员码已失效\n    gloss: Member code has expired\n    group: 用户相关\n    category: business\n    retryable: false\n",
        "    message: 会员码已失效\n    gloss: Member code has expired\n    group: 用户相关\n    category: business\n    retryable: false\n  - code: 110007\n    name: MemberDeregistered\n    message: 会员已注销\n    gloss: The member has deregistered\n    group: 用户相关\n    category: not_found\n    retryable: false\n",
    );
    // 6.3: a new endpoint.
    s = once(
        &s,
        "\nerrors:\n",
        r#"
  - method: wk.sms.verify.record
    name: count_sms_sent
    group: sms
    section: "6.3"
    title: 查询短信发送记录
    gloss: Count the verification codes sent to a phone on a day
    doc_verb: POST
    verb: POST
    credential: access_token
    idempotency: read
    request:
      fields:
        - *access_token
        - *sign
        - *timestamp
        - wire: target
          sensitive: pii
          type: string
          required: true
          doc: 目标人电话
          gloss: Phone number
          example: "13888888888"
        - wire: send_date
          type: date
          doc: 发送日期, 格式yyyy-MM-dd, 不传默认当天
          gloss: Day to count (default today)
          example: "2026-11-20"
    response:
      data: {type: i64}
    errors: [500, 1001, 140002]

errors:
"#,
    );
    s
}
