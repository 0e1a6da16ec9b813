//! Snapshots of the generator's output for fixture specs that together use every feature
//! of the format (`mini.yaml`: the gateway style with tokens; `action.yaml`: an envelope
//! that carries the method, a pluggable signer, ids, `required_unless`/`items` rules, no
//! error codes), so a reviewer sees exactly what a generator change does to generated code.

const FIXTURE: &str = include_str!("fixtures/mini.yaml");
const ACTION: &str = include_str!("fixtures/action.yaml");

fn generated_action(file: &str) -> String {
    let files = xtask::generate_from_str("xtask/tests/fixtures/action.yaml", ACTION)
        .unwrap_or_else(|e| panic!("action fixture spec must generate: {e}"));
    files
        .into_iter()
        .find(|f| f.path.ends_with(file))
        .unwrap_or_else(|| panic!("no generated {file}"))
        .contents
}

fn generated(file: &str) -> String {
    let files = xtask::generate_from_str("xtask/tests/fixtures/mini.yaml", FIXTURE)
        .unwrap_or_else(|e| panic!("fixture spec must generate: {e}"));
    files
        .into_iter()
        .find(|f| f.path.ends_with(file))
        .unwrap_or_else(|| panic!("no generated {file}"))
        .contents
}

#[test]
fn fixture_mod() {
    insta::assert_snapshot!(generated("generated/mod.rs"));
}

#[test]
fn fixture_models() {
    insta::assert_snapshot!(generated("generated/models.rs"));
}

#[test]
fn fixture_endpoints() {
    insta::assert_snapshot!(generated("generated/endpoints.rs"));
}

#[test]
fn fixture_errors() {
    insta::assert_snapshot!(generated("generated/errors.rs"));
}

#[test]
fn generation_is_deterministic() {
    let a = xtask::generate_from_str("mini.yaml", FIXTURE).expect("generates");
    let b = xtask::generate_from_str("mini.yaml", FIXTURE).expect("generates");
    assert_eq!(a, b);
}

#[test]
fn fixture_routes() {
    insta::assert_snapshot!(generated("generated/routes.rs"));
}

#[test]
fn fixture_client() {
    insta::assert_snapshot!(generated("generated/client.rs"));
}

#[test]
fn action_fixture_mod() {
    insta::assert_snapshot!(generated_action("generated/mod.rs"));
}

#[test]
fn action_fixture_models() {
    insta::assert_snapshot!(generated_action("generated/models.rs"));
}

#[test]
fn action_fixture_endpoints() {
    insta::assert_snapshot!(generated_action("generated/endpoints.rs"));
}

#[test]
fn action_fixture_errors() {
    insta::assert_snapshot!(generated_action("generated/errors.rs"));
}

#[test]
fn action_fixture_client() {
    insta::assert_snapshot!(generated_action("generated/client.rs"));
}
