//! No generated `pub fn` takes two values of one type in a row: such a call compiles as
//! well with the two swapped (`ChangePointsRequest::new(open_id, 100, out_biz_no, …)`
//! took six values, five of them strings). A constructor with two or more required
//! fields takes a struct of named arguments instead (`ChangePointsArgs`; see
//! `validate::name_args`). This test parses every checked-in generated file (both
//! crates, the fixture outputs) with `syn` and names each offender.

use std::path::{Path, PathBuf};

use quote::ToTokens;

/// A type's token text with the spaces removed where Rust puts none (`impl Into<String>`,
/// `&str`, `::openplatform_runtime::wire::Yuan`).
fn compact(tokens: &str) -> String {
    let mut s = tokens.to_string();
    for (from, to) in [
        (" <", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" ::", "::"),
        (":: ", "::"),
    ] {
        s = s.replace(from, to);
    }
    s.replace("& ", "&").replace(" ,", ",")
}

/// One finding per pair of adjacent typed parameters of one type, in each `pub fn` of
/// the file (inherent and trait impls, free functions, inline modules). The receiver
/// is not a parameter of a type the caller chooses, so it is left out.
fn adjacent_same_type(file: &str, src: &str) -> (Vec<String>, usize) {
    let parsed = syn::parse_file(src).unwrap_or_else(|e| panic!("{file}: does not parse: {e}"));
    let mut findings = Vec::new();
    let mut checked = 0;
    walk(file, &parsed.items, &mut findings, &mut checked);
    (findings, checked)
}

fn walk(file: &str, items: &[syn::Item], findings: &mut Vec<String>, checked: &mut usize) {
    for item in items {
        match item {
            syn::Item::Impl(imp) => {
                let owner = imp.self_ty.to_token_stream().to_string().replace(' ', "");
                let is_trait = imp.trait_.is_some();
                for it in &imp.items {
                    if let syn::ImplItem::Fn(f) = it
                        && (is_trait || matches!(f.vis, syn::Visibility::Public(_)))
                    {
                        params(file, &format!("{owner}::"), &f.sig, findings, checked);
                    }
                }
            }
            syn::Item::Fn(f) if matches!(f.vis, syn::Visibility::Public(_)) => {
                params(file, "", &f.sig, findings, checked);
            }
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    walk(file, inner, findings, checked);
                }
            }
            _ => {}
        }
    }
}

fn params(
    file: &str,
    owner: &str,
    sig: &syn::Signature,
    findings: &mut Vec<String>,
    checked: &mut usize,
) {
    let typed: Vec<(String, String)> = sig
        .inputs
        .iter()
        .filter_map(|arg| match arg {
            syn::FnArg::Typed(p) => Some((
                p.pat.to_token_stream().to_string(),
                p.ty.to_token_stream().to_string(),
            )),
            syn::FnArg::Receiver(_) => None,
        })
        .collect();
    if typed.is_empty() {
        return;
    }
    *checked += 1;
    for pair in typed.windows(2) {
        let [(a, ta), (b, tb)] = pair else {
            unreachable!()
        };
        if ta == tb {
            findings.push(format!(
                "{file}: {owner}{} has adjacent parameters {a} and {b} of type {}",
                sig.ident,
                compact(ta)
            ));
        }
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_path_buf()
}

/// Every generated file: `crates/*/src/generated/*.rs` and the fixture outputs
/// (`xtask/tests/output/src/*/` — its `lib.rs` is hand-written and left out).
fn generated_files() -> Vec<PathBuf> {
    let root = workspace();
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(root.join("crates")).expect("crates/") {
        let dir = entry.expect("entry").path().join("src/generated");
        if dir.is_dir() {
            dirs.push(dir);
        }
    }
    for entry in std::fs::read_dir(root.join("xtask/tests/output/src")).expect("fixture output") {
        let dir = entry.expect("entry").path();
        if dir.is_dir() {
            dirs.push(dir);
        }
    }
    let mut files: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|d| std::fs::read_dir(d).expect("dir"))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    files
}

#[test]
fn no_generated_fn_takes_two_adjacent_values_of_one_type() {
    let root = workspace();
    let files = generated_files();
    for must in [
        "crates/gree-ump/src/generated/endpoints.rs",
        "crates/gree-ump/src/generated/models.rs",
        "crates/zvcms/src/generated/endpoints.rs",
        "xtask/tests/output/src/mini/endpoints.rs",
        "xtask/tests/output/src/action/endpoints.rs",
    ] {
        assert!(files.contains(&root.join(must)), "{must} is not checked");
    }
    let mut findings = Vec::new();
    let mut checked = 0;
    for path in &files {
        let name = path.strip_prefix(&root).unwrap().display().to_string();
        let src = std::fs::read_to_string(path).unwrap();
        let (f, n) = adjacent_same_type(&name, &src);
        findings.extend(f);
        checked += n;
    }
    // Every request's `new` and setters take a value: a walk that finds none is broken.
    assert!(
        checked > 100,
        "only {checked} functions with parameters found"
    );
    assert!(findings.is_empty(), "{}", findings.join("\n"));
}

/// The check itself: the old positional constructor is flagged, with file, type,
/// function, both parameters and the type.
#[test]
fn the_check_flags_adjacent_parameters_of_one_type() {
    let bad = r#"
        impl ChangePointsRequest {
            pub fn new(
                open_id: impl Into<String>,
                score: impl Into<i64>,
                out_biz_no: impl Into<String>,
                change_reason: impl Into<String>,
                change_id: impl Into<String>,
            ) -> Self { todo!() }
        }
        pub fn page(page_size: i32, page_no: i32) {}
        pub mod inner {
            impl<'a> Points<'a> {
                pub fn pair(&self, a: &str, b: &str) {}
            }
        }
    "#;
    let (findings, checked) = adjacent_same_type("bad.rs", bad);
    assert_eq!(checked, 3);
    assert_eq!(
        findings,
        [
            "bad.rs: ChangePointsRequest::new has adjacent parameters out_biz_no and change_reason of type impl Into<String>",
            "bad.rs: ChangePointsRequest::new has adjacent parameters change_reason and change_id of type impl Into<String>",
            "bad.rs: page has adjacent parameters page_size and page_no of type i32",
            "bad.rs: Points<'a>::pair has adjacent parameters a and b of type &str",
        ]
    );
}

/// What is allowed: one struct of named arguments, one value, values of different
/// types, the same type apart, and private helpers.
#[test]
fn the_check_passes_named_arguments_and_distinct_types() {
    let good = r#"
        impl ChangePointsRequest {
            pub fn new(args: ChangePointsArgs) -> Self { todo!() }
            pub fn remark(mut self, value: impl Into<String>) -> Self { self }
            pub fn mixed(a: String, n: i64, b: String) {}
            fn private(a: String, b: String) {}
        }
    "#;
    let (findings, checked) = adjacent_same_type("good.rs", good);
    assert_eq!(checked, 3);
    assert!(findings.is_empty(), "{findings:?}");
}

/// A nested model (an order's item, a coupon grant) is a value inside a request, not a
/// request: its `new` said "A request with…", which sent readers looking for an endpoint.
#[test]
fn a_models_constructor_is_not_described_as_a_request() {
    let mut models = 0;
    for path in generated_files() {
        if path.file_name().is_none_or(|n| n != "models.rs") {
            continue;
        }
        models += 1;
        let src = std::fs::read_to_string(&path).expect("read");
        let wrong: Vec<&str> = src
            .lines()
            .filter(|l| l.trim_start().starts_with("/// A request with"))
            .collect();
        assert!(wrong.is_empty(), "{}: {wrong:#?}", path.display());
    }
    assert!(models >= 3, "found only {models} generated models.rs files");
}
