//! The docs audit (`cargo xtask doc-audit`) on hand-made rustdoc pages: each defect it
//! exists for is found, and a clean page passes. CI runs it on the real docs.

use std::path::PathBuf;

use xtask::doc_audit::{audit, first_sentence, listed_items};

fn site(name: &str, pages: &[(&str, &str)]) -> PathBuf {
    let root = std::env::temp_dir().join(format!("xtask-doc-audit-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for (path, html) in pages {
        let file = root.join("demo").join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, html).unwrap();
    }
    root
}

fn listing(items: &[(&str, &str, &str)]) -> String {
    let rows: String = items
        .iter()
        .map(|(kind, name, summary)| {
            format!(
                "<dt><a class=\"{kind}\" href=\"{kind}.{name}.html\" title=\"{kind} demo::{name}\">{name}</a></dt><dd>{summary}</dd>"
            )
        })
        .collect();
    format!("<html><main><dl class=\"item-table\">{rows}</dl></main></html>")
}

fn private() -> Vec<String> {
    vec!["openplatform_runtime".to_owned()]
}

#[test]
fn a_summary_pasted_over_two_items_is_found() {
    let index = listing(&[
        (
            "struct",
            "FileTokenStore",
            "Token stores: in a file, in memory. Token state in a file.",
        ),
        (
            "struct",
            "MemoryTokenStore",
            "Token stores: in a file, in memory. Token state in memory.",
        ),
        ("struct", "Other", "Something else."),
    ]);
    let root = site("pasted", &[("index.html", &index)]);
    let findings = audit(&root, "demo", &private()).unwrap();
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert!(
        findings[0].what.contains("FileTokenStore"),
        "{}",
        findings[0]
    );
    assert!(
        findings[0].what.contains("MemoryTokenStore"),
        "{}",
        findings[0]
    );
}

#[test]
fn one_item_listed_on_two_pages_is_not_a_duplicate() {
    let index = listing(&[("struct", "Resolution", "How an entry ended.")]);
    let root = site(
        "same-item",
        &[("index.html", &index), ("entry/index.html", &index)],
    );
    assert_eq!(audit(&root, "demo", &private()).unwrap(), vec![]);
}

#[test]
fn a_link_into_the_runtime_and_a_link_shown_as_text_are_found() {
    let page = "<html><details class=\"toggle top-doc\" open><div class=\"docblock\">\
        <a class=\"src\" href=\"../src/openplatform_runtime/error.rs.html#9\">Source</a> \
        See <a href=\"../openplatform_runtime/enum.Error.html\">Error</a> and [<code>Stream</code>].\
        </div></details><h2 id=\"trait-implementations\">Trait Implementations</h2>\
        <p>Combinator similar to [<code>StreamExt::fold</code>]</p></html>";
    let root = site(
        "links",
        &[
            ("index.html", &listing(&[("struct", "A", "An item.")])),
            ("struct.A.html", page),
        ],
    );
    let findings = audit(&root, "demo", &private()).unwrap();
    let texts: Vec<String> = findings.iter().map(ToString::to_string).collect();
    assert_eq!(findings.len(), 2, "{texts:#?}");
    assert!(
        texts
            .iter()
            .any(|t| t.contains("openplatform_runtime/enum.Error.html")),
        "{texts:#?}"
    );
    // A "Source" link is served by docs.rs for every crate; the trait implementations
    // quote other crates' docs: not ours, not reported.
    assert!(texts.iter().any(|t| t.contains("[Stream]")), "{texts:#?}");
    assert!(!texts.iter().any(|t| t.contains("StreamExt")), "{texts:#?}");
}

#[test]
fn a_crate_without_docs_is_an_error_not_a_pass() {
    let root = site("empty", &[]);
    let err = audit(&root, "demo", &private()).unwrap_err();
    assert!(err.contains("no documentation of `demo`"), "{err}");
}

#[test]
fn sentences_end_at_a_full_stop_not_inside_a_section_number() {
    assert_eq!(
        first_sentence("关联商品明细 (3.4.1 items 数组的元素)"),
        "关联商品明细 (3.4.1 items 数组的元素)"
    );
    assert_eq!(first_sentence("One. Two."), "One.");
    assert_eq!(first_sentence("状态。其他"), "状态。");
    let items = listed_items(&listing(&[("enum", "Kind", "A <code>kind</code>.")]));
    assert_eq!(
        items,
        vec![("enum".into(), "Kind".into(), "A <code>kind</code>.".into())]
    );
}
