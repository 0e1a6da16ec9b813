//! `cargo xtask diff`: the API change of the synthetic V2.8 spec, with its semver classes
//! and drafted CHANGELOG entry, against an insta snapshot; and the classes that decide the
//! verdict, one by one.

mod v2_8;

use v2_8::{SPEC, SPEC_PATH, spec_v2_8};
use xtask::api_diff::{ApiDiff, Level, diff};

fn diff_of(old: &str, new: &str) -> ApiDiff {
    let o = xtask::validate::load(SPEC_PATH, old).expect("old spec valid");
    let n = xtask::validate::load(SPEC_PATH, new).expect("new spec valid");
    diff(&o, &n)
}

#[test]
fn v2_8_diff_snapshot() {
    let d = diff_of(SPEC, &spec_v2_8());
    let text = format!("{}\n{}", d.render("0.1.0"), d.changelog_entry("0.1.0"));
    insta::assert_snapshot!("v2_8_diff", text);
}

#[test]
fn v2_8_is_major_and_bumps_the_minor_before_1_0() {
    let d = diff_of(SPEC, &spec_v2_8());
    assert_eq!(d.verdict(), Some(Level::Major));
    assert_eq!(d.next_version("0.1.0").as_deref(), Some("0.2.0"));
    assert_eq!(d.next_version("1.4.2").as_deref(), Some("2.0.0"));
    let level_of = |item: &str| {
        d.changes
            .iter()
            .filter(|c| c.item == item)
            .map(|c| c.level)
            .max()
    };
    assert_eq!(level_of("client.count_sms_sent"), Some(Level::Minor));
    assert_eq!(
        level_of("CreateMemberRequest.referrer_phone"),
        Some(Level::Minor)
    );
    assert_eq!(level_of("CreateMemberRequest.realname"), Some(Level::Major));
    assert_eq!(level_of("CreateMemberRequest.remark"), Some(Level::Major));
    assert_eq!(level_of("AddOrderRequest.store_id"), Some(Level::Major));
    assert_eq!(level_of("Gender::Undisclosed"), Some(Level::Minor));
    assert_eq!(
        level_of("ErrorCode::MemberDeregistered"),
        Some(Level::Minor)
    );
    assert_eq!(level_of("ErrorCode::MemberNotFound"), Some(Level::Patch));
}

#[test]
fn no_change_has_no_verdict() {
    let d = diff_of(SPEC, SPEC);
    assert!(d.changes.is_empty(), "{:?}", d.changes);
    assert_eq!(d.verdict(), None);
    assert!(d.render("0.1.0").contains("no change to the generated API"));
}

#[test]
fn additions_alone_are_minor_and_docs_alone_are_patch() {
    let added = SPEC.replacen(
        "      - {value: 2, name: Female, doc: 女, gloss: female}\n",
        "      - {value: 2, name: Female, doc: 女, gloss: female}\n      - {value: 3, name: Undisclosed, doc: 保密, gloss: not disclosed}\n",
        1,
    );
    let d = diff_of(SPEC, &added);
    assert_eq!(d.verdict(), Some(Level::Minor));
    assert_eq!(d.next_version("0.1.0").as_deref(), Some("0.1.1"));
    assert_eq!(d.next_version("1.4.2").as_deref(), Some("1.5.0"));

    let reworded = SPEC.replacen(
        "    message: 会员不存在\n",
        "    message: 会员不存在或已注销\n",
        1,
    );
    let d = diff_of(SPEC, &reworded);
    assert_eq!(d.verdict(), Some(Level::Patch));
    assert_eq!(d.next_version("1.4.2").as_deref(), Some("1.4.3"));
}

#[test]
fn a_received_fields_required_flag_is_patch_and_a_requests_is_major() {
    // MemberInfo (received) vs CreateMemberRequest (sent) both have `realname`.
    let received = SPEC.replacen(
        "      - wire: realname\n        sensitive: pii\n        type: string\n",
        "      - wire: realname\n        sensitive: pii\n        type: string\n        required: true\n",
        1,
    );
    assert_ne!(received, SPEC);
    let d = diff_of(SPEC, &received);
    assert_eq!(d.verdict(), Some(Level::Patch), "{:?}", d.changes);
}
