//! The OpenAPI document the sandbox serves (`GET /__sandbox/openapi.json`), and every
//! operation of it sent as the document describes it: the path it names, its query
//! parameters, its request example as the body, signed with `ump_md5::sign`. No example
//! may be refused for its shape (a code of category `invalid_request`, such as 1001):
//! an answer about the state (no such member, no such coupon) is fine, since the
//! examples are the vendor document's values, not things the sandbox holds.

use openplatform_runtime::ump_md5::sign;
use serde_json::{Value, json};

use crate::common::TestClient;

async fn get_json(c: &TestClient, path: &str) -> (u16, Value) {
    let resp = c
        .http
        .get(format!("{}{path}", c.sandbox.base_url()))
        .send()
        .await
        .expect("request sent");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_sandbox_serves_the_checked_in_document() {
    let c = TestClient::start().await;
    let (status, doc) = get_json(&c, "/__sandbox/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], json!("3.1.0"));
    let copy = include_str!("../../openapi/gree-ump.openapi.json");
    assert_eq!(doc, serde_json::from_str::<Value>(copy).expect("JSON"));
    // Without a zvcms configuration the sandbox serves no zvcms call, nor its document.
    let (status, _) = get_json(&c, "/__sandbox/zvcms/openapi.json").await;
    assert_eq!(status, 404);
}

/// The example's answer: the operation, its code and message.
struct Sent {
    operation: String,
    code: i64,
    message: String,
    data: Value,
}

/// Sends one operation as the document describes it.
async fn send(c: &TestClient, doc: &Value, path: &str, verb: &str, op: &Value) -> Sent {
    let tokens = &doc["x-signing"]["tokens"];
    let timestamp_param = doc["x-signing"]["timestamp_param"].as_str().unwrap_or("");
    let sign_param = doc["x-signing"]["sign_param"].as_str().unwrap_or("");
    let mut query: Vec<(String, String)> = Vec::new();
    for p in op["parameters"].as_array().into_iter().flatten() {
        let name = p["name"].as_str().unwrap_or("").to_owned();
        assert_eq!(p["in"], json!("query"), "{name}");
        let value = if name == timestamp_param {
            c.now().to_string()
        } else if name == sign_param {
            continue;
        } else if tokens["app_id_param"] == json!(name) {
            c.sandbox.app_id().to_owned()
        } else if tokens["access_token_param"] == json!(name) {
            c.access_token.clone().unwrap_or_default()
        } else if tokens["refresh_token_param"] == json!(name) {
            c.refresh_token.clone().unwrap_or_default()
        } else {
            panic!("{}: no value for the parameter {name}", op["operationId"]);
        };
        query.push((name, value));
    }
    let body = match op.pointer("/requestBody/content/application~1json/example") {
        Some(x) => x.to_string(),
        None => {
            assert!(
                op.get("requestBody").is_none(),
                "{}: a body without an example",
                op["operationId"]
            );
            String::new()
        }
    };
    let pairs: Vec<(&str, &str)> = query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let signature = sign(&pairs, body.as_bytes(), c.sandbox.app_secret().as_bytes());
    let mut pairs = pairs;
    pairs.push((sign_param, signature.as_str()));
    let method = verb.to_uppercase().parse().expect("a verb");
    let resp = c
        .http
        .request(method, format!("{}{path}", c.sandbox.base_url()))
        .query(&pairs)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request sent");
    let a = TestClient::answer(resp).await;
    assert_eq!(a.status, 200, "{}: {}", op["operationId"], a.json);
    Sent {
        operation: op["operationId"].as_str().unwrap_or("").to_owned(),
        code: a.code(),
        message: a.message().to_owned(),
        data: a.data().clone(),
    }
}

#[tokio::test]
async fn every_request_example_of_the_document_is_accepted_for_its_shape() {
    let mut c = TestClient::start().await;
    let (_, doc) = get_json(&c, "/__sandbox/openapi.json").await;
    let refused_for_shape: Vec<i64> = doc["x-error-codes"]
        .as_array()
        .expect("codes")
        .iter()
        .filter(|c| c["category"] == json!("invalid_request"))
        .filter_map(|c| c["code"].as_i64())
        .collect();
    assert!(refused_for_shape.contains(&1001));

    let mut ops: Vec<(String, String, Value)> = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (verb, op) in item.as_object().expect("path item") {
            ops.push((path.clone(), verb.clone(), op.clone()));
        }
    }
    // The token calls first, in order: every other call carries the access token.
    let rank = |op: &Value| {
        let m = &op["x-method"];
        if *m == doc["x-signing"]["tokens"]["obtain"] {
            0
        } else if *m == doc["x-signing"]["tokens"]["refresh"] {
            1
        } else {
            2
        }
    };
    ops.sort_by_key(|(_, _, op)| rank(op));

    let mut sent = Vec::new();
    let mut with_example = 0;
    for (path, verb, op) in &ops {
        if op
            .pointer("/requestBody/content/application~1json/example")
            .is_some()
        {
            with_example += 1;
        }
        let s = send(&c, &doc, path, verb, op).await;
        if rank(op) < 2 {
            assert_eq!(s.code, 200, "{}: {}", s.operation, s.message);
            let tokens = &doc["x-signing"]["tokens"];
            let key = |k: &str| tokens[k].as_str().unwrap_or("").to_owned();
            if let Some(t) = s.data[key("access_token_key")].as_str() {
                c.access_token = Some(t.to_owned());
            }
            if let Some(t) = s.data[key("refresh_token_key")].as_str() {
                c.refresh_token = Some(t.to_owned());
            }
        }
        sent.push(s);
    }
    for s in &sent {
        println!("{:<28} {:>7} {}", s.operation, s.code, s.message);
    }
    let refused: Vec<String> = sent
        .iter()
        .filter(|s| refused_for_shape.contains(&s.code))
        .map(|s| format!("{}: {} {}", s.operation, s.code, s.message))
        .collect();
    assert!(
        refused.is_empty(),
        "refused for their shape:\n{}",
        refused.join("\n")
    );
    assert_eq!(sent.len(), ops.len());
    assert!(
        with_example >= ops.len() - 2,
        "only {with_example} examples"
    );
}
