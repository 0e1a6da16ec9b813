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
fn action_fixture_routes() {
    insta::assert_snapshot!(generated_action("generated/routes.rs"));
}

/// The fixtures' generated modules are checked in as the crate `xtask/tests/output`
/// (a workspace member, so they are compiled and linted with the workspace). This test
/// keeps them equal to what the fixtures generate now; `UPDATE_FIXTURE_OUTPUT=1`
/// rewrites them.
#[test]
fn fixture_outputs_are_checked_in() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/output/src");
    let update = std::env::var_os("UPDATE_FIXTURE_OUTPUT").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (module, path, text) in [
        ("mini", "xtask/tests/fixtures/mini.yaml", FIXTURE),
        ("action", "xtask/tests/fixtures/action.yaml", ACTION),
    ] {
        let files = xtask::generate_from_str(path, text)
            .unwrap_or_else(|e| panic!("{path} must generate: {e}"));
        let out = dir.join(module);
        let mut names = Vec::new();
        for f in files {
            let name = f.path.rsplit('/').next().expect("a file name").to_owned();
            let target = out.join(&name);
            if std::fs::read_to_string(&target).ok().as_deref() != Some(f.contents.as_str()) {
                if update {
                    std::fs::create_dir_all(&out).expect("create the output dir");
                    std::fs::write(&target, &f.contents).expect("write a fixture output");
                } else {
                    stale.push(format!("{module}/{name}"));
                }
            }
            names.push(name);
        }
        for entry in std::fs::read_dir(&out).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !names.contains(&name) {
                stale.push(format!("{module}/{name} (not generated: remove it)"));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "xtask/tests/output/src is out of date with the fixtures: {}; run \
         `UPDATE_FIXTURE_OUTPUT=1 cargo test -p xtask --test generate_fixture` and commit",
        stale.join(", ")
    );
}

#[test]
fn action_fixture_client() {
    insta::assert_snapshot!(generated_action("generated/client.rs"));
}
