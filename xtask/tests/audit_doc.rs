//! `cargo xtask audit-doc`: the synthetic V2.8 document against today's spec reports each
//! of its changes once, on its line, and nothing else; the spec a maintainer writes for it
//! audits clean; errata keys explain differences and go stale when they explain none.

mod v2_8;

use std::collections::BTreeSet;

use v2_8::{DOC_V2_8, DOC_V2_8_PATH, SPEC, SPEC_PATH, line_of, spec_v2_8};
use xtask::audit::{Report, audit};

fn run(spec: &str, doc: &str) -> Report {
    audit(SPEC_PATH, spec, DOC_V2_8_PATH, doc).expect("the audit runs")
}

fn unexplained(r: &Report) -> BTreeSet<(String, usize)> {
    r.unexplained()
        .map(|f| {
            (
                f.key.clone(),
                f.doc_line.expect("every V2.8 change has a line"),
            )
        })
        .collect()
}

#[test]
fn each_change_of_v2_8_is_reported_once_on_its_line() {
    let report = run(SPEC, DOC_V2_8);
    let d = DOC_V2_8;
    let expected: BTreeSet<(String, usize)> = [
        ("document/version", line_of(d, "V2.8\t")),
        (
            "6.3/endpoint/not_in_spec",
            line_of(d, "6.3 查询短信发送记录"),
        ),
        (
            "3.1/request/referrer_phone/not_in_spec",
            line_of(d, "referrer_phone\t"),
        ),
        (
            "3.1/request/realname/required",
            line_of(d, "realname\tString\t是\t(BODY)"),
        ),
        // A removed row is anchored at the row before it.
        (
            "3.1/request/remark/not_in_doc",
            line_of(d, "company_name\tString\t否\t(BODY)"),
        ),
        (
            "4.1/request/store_id/type",
            line_of(d, "store_id\tString\t否\t(BODY) 门店id, 门店标识"),
        ),
        ("3.1/request/gender/doc", line_of(d, "3-保密\t")),
        ("errors/110007/not_in_spec", line_of(d, "110007\t")),
        ("errors/110004/message", line_of(d, "110004\t")),
    ]
    .into_iter()
    .map(|(k, l)| (k.to_string(), l))
    .collect();
    assert_eq!(unexplained(&report), expected, "{}", report.render(false));
    // Once each: no key twice.
    assert_eq!(report.unexplained().count(), expected.len());
    assert!(report.stale.is_empty(), "{:?}", report.stale);
    assert!(!report.is_clean());
    let text = report.render(false);
    assert!(
        text.ends_with("9 unexplained, 51 explained by errata; 0 stale errata key(s)\n"),
        "{text}"
    );
}

#[test]
fn the_spec_updated_for_v2_8_audits_clean() {
    let report = run(&spec_v2_8(), DOC_V2_8);
    assert!(report.is_clean(), "{}", report.render(false));
    assert_eq!(report.read.endpoints, 22);
}

#[test]
fn a_key_that_covers_nothing_is_stale() {
    let spec = SPEC.replacen(
        "    covers: [\"3.8/verb\", \"5.4/verb\", \"5.5/verb\"]\n",
        "    covers: [\"3.8/verb\", \"5.4/verb\", \"5.5/verb\", \"6.2/verb\"]\n",
        1,
    );
    assert_ne!(spec, SPEC, "the E01 covers line moved");
    let report = run(&spec, DOC_V2_8);
    assert_eq!(
        report.stale,
        vec![(
            "E01".to_string(),
            "6.2/verb".to_string(),
            Some(line_of(&spec, "\"6.2/verb\""))
        )]
    );
    assert!(
        report
            .render(false)
            .contains("errata E01 covers `6.2/verb`")
    );
}

#[test]
fn without_its_erratum_a_known_contradiction_is_reported() {
    let spec = SPEC.replacen("\"3.8/verb\", ", "", 1);
    let report = run(&spec, DOC_V2_8);
    let keys: Vec<&str> = report.unexplained().map(|f| f.key.as_str()).collect();
    assert!(keys.contains(&"3.8/verb"), "{keys:?}");
    let f = report.unexplained().find(|f| f.key == "3.8/verb").unwrap();
    assert_eq!(f.doc_line, Some(line_of(DOC_V2_8, "· GET")));
    assert!(
        f.message.contains("GET") && f.message.contains("POST"),
        "{}",
        f.message
    );
}

#[test]
fn a_malformed_covers_key_is_a_spec_error() {
    let spec = SPEC.replacen("\"3.8/verb\"", "\"3.8/verbs\"", 1);
    let err = audit(SPEC_PATH, &spec, DOC_V2_8_PATH, DOC_V2_8)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("covers `3.8/verbs`") && err.contains("not an aspect"),
        "{err}"
    );
}

#[test]
fn an_unreadable_required_mark_is_reported() {
    let doc = DOC_V2_8.replacen(
        "nickname\tString\t是\t(BODY)",
        "nickname\tString\t必填\t(BODY)",
        1,
    );
    let report = run(SPEC, &doc);
    let f = report
        .unexplained()
        .find(|f| f.key == "3.1/request/nickname/unreadable")
        .expect("reported");
    assert_eq!(f.doc_line, Some(line_of(&doc, "nickname\tString\t必填")));
}

/// The real V2.7, when the vendor's files are beside the checkout (CI also runs
/// `cargo xtask audit-doc` on it).
#[test]
fn v2_7_reports_nothing_unexplained() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/api-docs/gree-ump-open-platform-v2.7.txt"
    );
    let Ok(doc) = std::fs::read_to_string(path) else {
        eprintln!("skipped: {path} is not here");
        return;
    };
    let report = audit(SPEC_PATH, SPEC, "v2.7", &doc).expect("the audit runs");
    assert!(report.is_clean(), "{}", report.render(false));
}
