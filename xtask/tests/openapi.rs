//! The OpenAPI documents (`cargo xtask openapi`) against the official OpenAPI 3.1 JSON
//! Schema, checked by an independent JSON Schema validator (the `jsonschema` crate):
//! what the generator writes must be a document any OpenAPI tool accepts, and the
//! validator must be shown to refuse a document that is not one.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn read_json(path: &Path) -> Value {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

fn validator() -> jsonschema::Validator {
    let schema = read_json(&root().join("xtask/tests/openapi/openapi-3.1-schema-2022-10-07.json"));
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .expect("the OpenAPI 3.1 schema compiles")
}

/// Every error the validator finds, one per line.
fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// The documents generated now from every spec (not the checked-in files: `cargo xtask
/// check` compares those).
fn documents() -> Vec<(String, Value)> {
    let files = xtask::openapi_all(&root()).expect("the specs generate");
    let docs: Vec<(String, Value)> = files
        .into_iter()
        .filter(|f| f.path.starts_with("api-spec/"))
        .map(|f| {
            let v = serde_json::from_str(&f.contents)
                .unwrap_or_else(|e| panic!("{}: not JSON: {e}", f.path));
            (f.path, v)
        })
        .collect();
    assert_eq!(docs.len(), xtask::spec_paths(&root()).expect("specs").len());
    docs
}

#[test]
fn every_document_is_valid_openapi_3_1() {
    let v = validator();
    for (path, doc) in documents() {
        let found = errors(&v, &doc);
        assert!(found.is_empty(), "{path}:\n{}", found.join("\n"));
        assert_eq!(doc["openapi"], json!("3.1.0"), "{path}");
    }
}

/// What a breakage is called, and what it does to a document.
type Breakage = (&'static str, fn(&mut Value));

/// The validator refuses what is not an OpenAPI 3.1 document: each breakage of a real
/// document is found, so the test above proves something.
#[test]
fn the_validator_refuses_broken_documents() {
    let v = validator();
    let (_, good) = documents().remove(0);
    assert!(errors(&v, &good).is_empty());
    let breakages: Vec<Breakage> = vec![
        ("no info", |d| {
            d.as_object_mut().map(|o| o.remove("info"));
        }),
        ("an OpenAPI 3.0 version", |d| d["openapi"] = json!("3.0.3")),
        ("a path not starting with /", |d| {
            let item = d["paths"]
                .as_object()
                .and_then(|p| p.values().next().cloned());
            d["paths"]["gw/gateway/x/v1"] = item.unwrap_or(json!({}));
        }),
        ("an unknown key at the top (not x-)", |d| {
            d["signing"] = json!("md5")
        }),
        ("a parameter without `in`", |d| {
            d["components"]["parameters"]["broken"] = json!({"name": "x", "schema": {}});
        }),
        ("an operation whose responses is a list", |d| {
            if let Some(item) = d["paths"]
                .as_object_mut()
                .and_then(|p| p.values_mut().next())
            {
                item["post"]["responses"] = json!([]);
            }
        }),
    ];
    for (what, breakage) in breakages {
        let mut doc = good.clone();
        breakage(&mut doc);
        assert_ne!(doc, good, "{what}: the breakage changed nothing");
        assert!(!errors(&v, &doc).is_empty(), "{what}: accepted");
    }
}

/// Every `$ref` of a document points at something in it, and every operation has a
/// distinct operationId: what the JSON Schema cannot check.
#[test]
fn every_reference_resolves_and_operation_ids_are_unique() {
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r);
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    for (path, doc) in documents() {
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty(), "{path}: no reference at all");
        for r in found {
            let pointer = r
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("{path}: external {r}"));
            assert!(
                doc.pointer(pointer).is_some(),
                "{path}: {r} resolves to nothing"
            );
        }
        let mut ids = Vec::new();
        for item in doc["paths"].as_object().expect("paths").values() {
            for op in item.as_object().expect("path item").values() {
                ids.push(op["operationId"].as_str().expect("operationId").to_owned());
            }
        }
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "{path}: duplicate operationId");
    }
}

/// The document says everything the spec does: one operation per endpoint (named after
/// the Rust method), a schema per enum and type, every error code and erratum.
#[test]
fn every_endpoint_type_code_and_erratum_is_in_the_document() {
    for spec in xtask::spec_paths(&root()).expect("specs") {
        let rel = spec
            .strip_prefix(root())
            .unwrap_or(&spec)
            .to_string_lossy()
            .replace('\\', "/");
        let text = fs::read_to_string(&spec).expect("spec");
        let api = xtask::validate::load(&rel, &text).expect("valid spec");
        let doc = xtask::openapi::document(&api);
        let mut ops = Vec::new();
        for item in doc["paths"].as_object().expect("paths").values() {
            for op in item.as_object().expect("item").values() {
                ops.push(op.clone());
            }
        }
        assert_eq!(ops.len(), api.endpoints.len(), "{rel}");
        for e in &api.endpoints {
            let op = ops
                .iter()
                .find(|o| o["operationId"] == json!(e.name))
                .unwrap_or_else(|| panic!("{rel}: no operation {}", e.name));
            assert_eq!(op["tags"], json!([e.group]), "{}", e.name);
            assert!(
                op["summary"]
                    .as_str()
                    .is_some_and(|s| s.starts_with(&e.section)),
                "{}",
                e.name
            );
            let codes: Vec<i64> = op["x-error-codes"]
                .as_array()
                .expect("codes")
                .iter()
                .filter_map(|c| c["code"].as_i64())
                .collect();
            assert_eq!(codes, e.errors, "{}", e.name);
            let errata: Vec<&str> = op["x-errata"]
                .as_array()
                .expect("errata")
                .iter()
                .filter_map(|x| x["id"].as_str())
                .collect();
            let expected: Vec<&str> = api.errata_of(&e.section).map(|x| x.id.as_str()).collect();
            assert_eq!(errata, expected, "{}", e.name);
            if e.doc_verb != e.verb {
                assert_eq!(op["x-doc-verb"], json!(e.doc_verb_str()), "{}", e.name);
            }
        }
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for name in api
            .enums
            .iter()
            .map(|e| &e.name)
            .chain(api.structs.iter().map(|s| &s.name))
        {
            assert!(schemas.contains_key(name), "{rel}: no schema {name}");
        }
        for en in &api.enums {
            let names: Vec<&str> = en.values.iter().map(|v| v.name.as_str()).collect();
            assert_eq!(
                schemas[&en.name]["x-enum-varnames"],
                json!(names),
                "{}",
                en.name
            );
        }
        assert_eq!(
            doc["x-error-codes"].as_array().map(Vec::len),
            Some(api.errors.len()),
            "{rel}"
        );
        let ids: Vec<&str> = doc["x-errata"]
            .as_array()
            .expect("errata")
            .iter()
            .filter_map(|x| x["id"].as_str())
            .collect();
        let expected: Vec<&str> = api.errata.iter().map(|x| x.id.as_str()).collect();
        assert_eq!(ids, expected, "{rel}");
        // Same spec, same bytes.
        assert_eq!(
            xtask::openapi::render(&doc),
            xtask::openapi::render(&xtask::openapi::document(&api))
        );
    }
}

/// `cargo xtask check` fails on a stale document, naming it and the command that
/// rewrites it; `cargo xtask openapi` rewrites it and nothing else.
#[test]
fn check_names_a_stale_document_and_openapi_fixes_it() {
    let dir = std::env::temp_dir().join(format!("xtask-openapi-check-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.join("api-spec")).expect("temp dir");
    for spec in xtask::spec_paths(&root()).expect("specs") {
        let name = spec.file_name().expect("file name");
        fs::copy(&spec, dir.join("api-spec").join(name)).expect("copy spec");
    }
    xtask::regenerate(&dir).expect("regenerate");
    assert!(xtask::check(&dir).is_ok());

    let doc = dir.join("api-spec/zvcms.openapi.json");
    let text = fs::read_to_string(&doc).expect("written");
    fs::write(&doc, text.replacen("\"3.1.0\"", "\"3.1.1\"", 1)).expect("edit");
    let e = xtask::check(&dir)
        .expect_err("a stale document")
        .to_string();
    assert!(e.contains("api-spec/zvcms.openapi.json: stale"), "{e}");
    assert!(e.contains("cargo xtask openapi"), "{e}");

    let written = xtask::write_openapi(&dir).expect("openapi");
    assert_eq!(written, vec!["api-spec/zvcms.openapi.json".to_owned()]);
    assert!(xtask::check(&dir).is_ok());
    let _ = fs::remove_dir_all(&dir);
}

/// Every request example, and every example of a component schema, is valid against
/// the schema it illustrates (JSON Schema 2020-12, the dialect of OpenAPI 3.1): the
/// document is compiled as a schema whose root refers to the one illustrated, so its
/// `$ref`s resolve in it.
#[test]
fn every_example_is_valid_against_its_schema() {
    fn check(doc: &Value, pointer: &str, example: &Value) -> Vec<String> {
        let mut root = doc.clone();
        root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
        root["$ref"] = json!(format!("#{pointer}"));
        let v = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&root)
            .unwrap_or_else(|e| panic!("{pointer}: does not compile: {e}"));
        v.iter_errors(example)
            .map(|e| format!("{pointer}: {}: {e}", e.instance_path()))
            .collect()
    }
    let mut checked = 0;
    for (path, doc) in documents() {
        let mut found = Vec::new();
        for (p, item) in doc["paths"].as_object().expect("paths") {
            for (verb, op) in item.as_object().expect("item") {
                let media = "/requestBody/content/application~1json";
                if let Some(x) = op.pointer(&format!("{media}/example")) {
                    let escaped = p.replace('~', "~0").replace('/', "~1");
                    found.extend(check(
                        &doc,
                        &format!("/paths/{escaped}/{verb}{media}/schema"),
                        x,
                    ));
                    checked += 1;
                }
            }
        }
        for (name, schema) in doc["components"]["schemas"].as_object().expect("schemas") {
            for x in schema["examples"].as_array().into_iter().flatten() {
                found.extend(check(&doc, &format!("/components/schemas/{name}"), x));
                checked += 1;
            }
        }
        assert!(found.is_empty(), "{path}:\n{}", found.join("\n"));
    }
    assert!(checked > 20, "only {checked} examples");

    // And an example that breaks its schema is found.
    let (_, doc) = documents().remove(0);
    let (name, _) = doc["components"]["schemas"]
        .as_object()
        .expect("schemas")
        .iter()
        .find(|(_, s)| s["required"].as_array().is_some_and(|r| !r.is_empty()))
        .expect("a schema with a required field");
    assert!(!check(&doc, &format!("/components/schemas/{name}"), &json!({})).is_empty());
}
