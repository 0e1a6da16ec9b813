//! `cargo xtask check` must reject an invalid spec with a message that names the problem
//! and the place in the YAML. Each test breaks the fixture in one way.

const FIXTURE: &str = include_str!("fixtures/mini.yaml");
const PATH: &str = "api-spec/broken.yaml";

fn errors_of(text: &str) -> String {
    match xtask::generate_from_str(PATH, text) {
        Ok(_) => panic!("the broken spec was accepted"),
        Err(e) => e.to_string(),
    }
}

/// Replaces exactly one occurrence, so a fixture edit cannot silently void a test.
fn broken(from: &str, to: &str) -> String {
    assert_eq!(
        FIXTURE.matches(from).count(),
        1,
        "fixture must contain `{from}` once"
    );
    FIXTURE.replacen(from, to, 1)
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .expect("needle in text")
}

#[test]
fn fixture_is_valid() {
    xtask::generate_from_str(PATH, FIXTURE).expect("fixture generates");
}

#[test]
fn unknown_type_names_field_type_and_line() {
    let text = broken("{wire: qty, type: i64,", "{wire: qty, type: integer,");
    let err = errors_of(&text);
    let line = line_of(&text, "type: integer");
    assert!(err.contains("unknown type `integer`"), "{err}");
    assert!(err.contains("types.Item field `qty`"), "{err}");
    assert!(err.contains(&format!("{PATH}:{line}:")), "{err}");
}

#[test]
fn duplicate_method_is_reported_with_both_places() {
    let text = broken("method: mini.thing.list", "method: mini.thing.add");
    let err = errors_of(&text);
    assert!(err.contains("duplicate method `mini.thing.add`"), "{err}");
    assert!(err.contains("also endpoints[1]"), "{err}");
}

#[test]
fn duplicate_error_code_is_reported() {
    let text = broken(
        "{code: 110002, name: MemberRequired",
        "{code: 500, name: MemberRequired",
    );
    let err = errors_of(&text);
    assert!(err.contains("duplicate code 500"), "{err}");
}

#[test]
fn field_without_type_is_reported_with_line() {
    let text = broken(
        "{wire: name, type: string, doc: 名称",
        "{wire: name, doc: 名称",
    );
    let err = errors_of(&text);
    let line = line_of(&text, "{wire: name, doc: 名称");
    assert!(err.contains("missing field `type`"), "{err}");
    assert!(err.contains(&format!("line {line} ")), "{err}");
}

#[test]
fn endpoint_without_section_is_reported() {
    let text = broken("    section: \"2.3\"\n", "");
    let err = errors_of(&text);
    assert!(err.contains("missing field `section`"), "{err}");
    assert!(err.contains("line "), "{err}");
}

#[test]
fn unknown_key_is_rejected_not_ignored() {
    let text = broken(
        "    idempotency_key: change_id\n",
        "    idempotency_kee: change_id\n",
    );
    let err = errors_of(&text);
    assert!(err.contains("idempotency_kee"), "{err}");
}

#[test]
fn undeclared_error_reference_is_reported() {
    let text = broken("errors: [500, 110002]", "errors: [500, 999]");
    let err = errors_of(&text);
    assert!(err.contains("error 999 is not declared"), "{err}");
}

#[test]
fn encoding_that_does_not_fit_the_type_is_reported() {
    let text = broken(
        "{wire: open_id, type: string, doc: 会员",
        "{wire: open_id, type: string, encoding: quoted, doc: 会员",
    );
    let err = errors_of(&text);
    assert!(
        err.contains("encoding `quoted` does not apply to type `string`"),
        "{err}"
    );
}

#[test]
fn rule_on_unknown_field_is_reported() {
    let text = broken("one_of: [open_id, phone]", "one_of: [open_id, mobile]");
    let err = errors_of(&text);
    assert!(err.contains("unknown request field `mobile`"), "{err}");
}

#[test]
fn all_problems_are_reported_at_once() {
    let text = broken("{wire: qty, type: i64,", "{wire: qty, type: integer,").replacen(
        "errors: [500, 110002]",
        "errors: [500, 999]",
        1,
    );
    let err = errors_of(&text);
    // The undeclared 999, the unknown type, and the effects citing the 110002 now gone.
    assert!(err.contains("3 problem(s)"), "{err}");
}

#[test]
#[ignore = "prints the messages for a human to read: cargo test -p xtask -- --ignored --nocapture"]
fn show_messages() {
    for (from, to) in [
        (
            "{wire: name, type: string, doc: 名称",
            "{wire: name, doc: 名称",
        ),
        ("    section: \"2.3\"\n", ""),
    ] {
        println!("{}", errors_of(&broken(from, to)));
    }
}

// ---- The action fixture: envelope-carried method, pluggable signing, new rules.

const ACTION: &str = include_str!("fixtures/action.yaml");

fn broken_action(from: &str, to: &str) -> String {
    assert_eq!(
        ACTION.matches(from).count(),
        1,
        "action fixture must contain `{from}` once"
    );
    ACTION.replacen(from, to, 1)
}

#[test]
fn action_fixture_is_valid() {
    xtask::generate_from_str(PATH, ACTION).expect("action fixture generates");
}

#[test]
fn method_in_must_agree_with_the_path() {
    let err = errors_of(&broken_action("path: /api/v2", "path: /api/{method}"));
    assert!(err.contains("must not contain `{method}`"), "{err}");
    let err = errors_of(&broken_action("  method_in: envelope\n", ""));
    assert!(err.contains("the template has no `{method}`"), "{err}");
    let err = errors_of(&broken_action(
        "  method_in: envelope\n",
        "  method_in: query\n",
    ));
    assert!(
        err.contains("`query` is neither path nor envelope"),
        "{err}"
    );
}

#[test]
fn token_credentials_need_a_tokens_block() {
    let text = broken_action("credential: app_signature", "credential: access_token");
    let err = errors_of(&text);
    assert!(err.contains("has no protocol.tokens"), "{err}");
}

#[test]
fn items_rules_are_checked() {
    let err = errors_of(&broken_action(
        "{items: {field: codes, min: 1}, doc: 至少一个}",
        "{items: {field: bizId, min: 1}, doc: 至少一个}",
    ));
    assert!(err.contains("items field `bizId` must be a list"), "{err}");
    let err = errors_of(&broken_action(
        "{items: {field: extra_codes, min: 1, max: 3}",
        "{items: {field: extra_codes, min: 4, max: 3}",
    ));
    assert!(err.contains("`min` 4 is above `max` 3"), "{err}");
    let err = errors_of(&broken_action(
        "{items: {field: codes, min: 1}, doc: 至少一个}",
        "{items: {field: codes}, doc: 至少一个}",
    ));
    assert!(err.contains("items needs `min`, `max` or both"), "{err}");
    let err = errors_of(&broken_action(
        "{items: {field: codes, max: 1, when_set: uses}",
        "{items: {field: codes, max: 1, when_set: ref}",
    ));
    assert!(err.contains("is required, so always set"), "{err}");
}

#[test]
fn a_rule_has_exactly_one_kind() {
    let err = errors_of(&broken_action(
        "{items: {field: codes, min: 1}, doc: 至少一个}",
        "{items: {field: codes, min: 1}, one_of: [ownerId, uses], doc: 至少一个}",
    ));
    assert!(err.contains("a rule has exactly one of"), "{err}");
}

#[test]
fn required_unless_on_a_required_field_is_reported() {
    let err = errors_of(&broken_action(
        "required_unless: {field: ownerId,",
        "required_unless: {field: bizId,",
    ));
    assert!(
        err.contains("required_unless field `bizId` is already required"),
        "{err}"
    );
}

#[test]
fn id_fits_json_string_but_not_quoted() {
    let err = errors_of(&broken_action(
        "{wire: ref, name: reference, type: id, required: true,",
        "{wire: ref, name: reference, type: id, encoding: quoted, required: true,",
    ));
    assert!(
        err.contains("encoding `quoted` does not apply to type `id`"),
        "{err}"
    );
}

#[test]
fn fen_is_an_integer_amount_that_fits_quoted_but_not_json_string() {
    let text = broken(
        "{wire: qty, type: i64, encoding: quoted,",
        "{wire: qty, type: fen, encoding: quoted,",
    );
    let files = xtask::generate_from_str(PATH, &text).expect("fen generates");
    let models = files
        .iter()
        .find(|f| f.path.ends_with("models.rs"))
        .expect("a models file");
    assert!(
        models
            .contents
            .contains("Option<::openplatform_runtime::wire::Fen>"),
        "{}",
        models.contents
    );
    assert!(models.contents.contains("· fen (an integer) ·"));
    let err = errors_of(&broken(
        "{wire: qty, type: i64, encoding: quoted,",
        "{wire: qty, type: fen, encoding: json_string,",
    ));
    assert!(
        err.contains("encoding `json_string` does not apply to type `fen`"),
        "{err}"
    );
}

#[test]
fn a_time_zone_that_is_not_an_offset_is_reported_with_line() {
    let text = broken("time_zone: \"+08:00\"", "time_zone: Asia/Shanghai");
    let err = errors_of(&text);
    let line = line_of(&text, "time_zone: Asia/Shanghai");
    assert!(err.contains("protocol.time_zone: `Asia/Shanghai`"), "{err}");
    assert!(err.contains(&format!("{PATH}:{line}:")), "{err}");
}

#[test]
fn a_sign_param_not_among_the_common_params_is_reported() {
    let err = errors_of(&broken("sign_param: sign", "sign_param: signature"));
    assert!(
        err.contains("protocol.sign_param: `signature` is not among protocol.common_params"),
        "{err}"
    );
}

#[test]
fn the_gateway_envelope_needs_its_query_parameter_names() {
    let err = errors_of(&broken("  timestamp_param: timestamp\n", ""));
    assert!(
        err.contains("name them with timestamp_param and sign_param"),
        "{err}"
    );
}

#[test]
fn unknown_sensitivity_is_reported() {
    let text = broken(
        "{wire: phone, type: string, sensitive: pii, doc: 手机",
        "{wire: phone, type: string, sensitive: private, doc: 手机",
    );
    let err = errors_of(&text);
    assert!(
        err.contains("`sensitive` must be secret or pii, not `private`"),
        "{err}"
    );
}

#[test]
fn an_envelope_style_the_runtime_lacks_is_reported_with_line() {
    let text = broken("envelope: ump_gateway", "envelope: ump_gatewy");
    let err = errors_of(&text);
    let line = line_of(&text, "envelope: ump_gatewy");
    assert!(
        err.contains("protocol.envelope: `ump_gatewy` is not one the runtime implements"),
        "{err}"
    );
    assert!(err.contains(&format!("{PATH}:{line}:")), "{err}");
}

#[test]
fn missing_error_on_an_optional_field_is_reported_with_line() {
    let text = broken(
        "{wire: phone, type: string, sensitive: pii, doc: 手机",
        "{wire: phone, type: string, sensitive: pii, missing_error: 110002, doc: 手机",
    );
    let err = errors_of(&text);
    let line = line_of(&text, "missing_error: 110002");
    assert!(
        err.contains("request field `phone`: `missing_error` applies to a required field only"),
        "{err}"
    );
    assert!(err.contains(&format!("{PATH}:{line}:")), "{err}");
}

#[test]
fn missing_error_must_be_a_listed_code() {
    let text = broken(
        "{wire: change_id, type: string, required: true, doc: 幂等键",
        "{wire: change_id, type: string, required: true, missing_error: 424242, doc: 幂等键",
    );
    let err = errors_of(&text);
    assert!(
        err.contains("missing_error 424242 is not in errors"),
        "{err}"
    );
}

#[test]
fn missing_error_on_a_response_field_is_reported() {
    let text = broken(
        "{wire: expire_in, type: i64, doc: 有效期",
        "{wire: expire_in, type: i64, missing_error: 500, doc: 有效期",
    );
    let err = errors_of(&text);
    assert!(
        err.contains("`missing_error` applies to an endpoint's request field only"),
        "{err}"
    );
}

#[test]
fn a_date_field_needs_runtime_date_types_for_the_time_zone() {
    let text = broken(r#"time_zone: "+08:00""#, r#"time_zone: "+09:00""#);
    let err = errors_of(&text);
    let line = line_of(&text, "{wire: born, type: date,");
    assert!(
        err.contains("type `date` needs date types for protocol.time_zone"),
        "{err}"
    );
    assert!(err.contains("+08:00 only"), "{err}");
    assert!(err.contains(&format!("{PATH}:{line}:")), "{err}");
}

#[test]
fn envelope_keys_must_tell_success_and_not_overlap() {
    let text = broken(
        "    message: [error_message, errorMessage]\n",
        "    message: [error_message, data]\n",
    );
    let err = errors_of(&text);
    assert!(
        err.contains("protocol.envelope_keys: `data` is listed for message and again for data"),
        "{err}"
    );
    let text = broken(
        "    success: [success]\n    code: [error_code, errorCode]\n",
        "",
    );
    let err = errors_of(&text);
    assert!(
        err.contains("list the keys of `success` or of `code`"),
        "{err}"
    );
}

#[test]
fn method_in_must_match_the_style() {
    // mini is ump_gateway (method in the path): a spec saying otherwise is refused.
    let text = broken(
        "  envelope: ump_gateway\n",
        "  envelope: ump_gateway\n  method_in: envelope\n",
    );
    let err = errors_of(&text);
    assert!(
        err.contains(
            "the ump_gateway envelope puts the method in the path, but method_in says envelope"
        ),
        "{err}"
    );
}

#[test]
fn args_struct_name_taken_by_a_type_is_reported() {
    // `AddThingRequest` has three required fields: its constructor takes `AddThingArgs`.
    let text = broken(
        "types:\n  Item:\n",
        "types:\n  AddThingArgs:\n    doc: 别名\n    gloss: a type with the generated name\n    fields:\n      - {wire: x, type: string, doc: x, gloss: x}\n  Item:\n",
    );
    let err = errors_of(&text);
    assert!(
        err.contains("the arguments struct `AddThingArgs` of `AddThingRequest::new` is also types.AddThingArgs"),
        "{err}"
    );
}

#[test]
fn a_command_must_be_kebab_case_and_unique_in_its_group() {
    let text = broken(
        "    name: add_thing\n    group: things\n",
        "    name: add_thing\n    group: things\n    command: Add_Thing\n",
    );
    let err = errors_of(&text);
    let line = line_of(&text, "command: Add_Thing");
    assert!(
        err.contains(&format!(":{line}:"))
            && err.contains("command `Add_Thing` must be lowercase kebab-case words"),
        "{err}"
    );
    // `list_things` of the same group has the default command `list-things`.
    let text = broken(
        "    name: add_thing\n    group: things\n",
        "    name: add_thing\n    group: things\n    command: list-things\n",
    );
    assert!(FIXTURE.contains("    name: list_things\n    group: things\n"));
    let err = errors_of(&text);
    assert!(
        err.contains("command `things list-things` is also endpoint"),
        "{err}"
    );
}

/// An `effects` paragraph is shown in the method's docs: citing a code the endpoint does
/// not list would promise users an answer its own table does not have.
#[test]
fn effects_citing_a_code_the_endpoint_does_not_list_are_refused() {
    let text = broken(
        "it is 110002.\"\n  - method: mini.thing.list",
        "it is 110002; when busy, 500.\"\n      - \"A second thing is 120009.\"\n  - method: mini.thing.list",
    );
    // 120009 is no code of the table: a number, not a citation. Now cite a listed code
    // of the table that this endpoint lacks.
    xtask::generate_from_str(PATH, &text).expect("a number that is no code is not a citation");
    let text = broken("    errors: [500, 110002]\n", "    errors: [500]\n");
    let err = errors_of(&text);
    assert!(
        err.contains("effects[0] cites 110002, which is not among its errors"),
        "{err}"
    );
}
