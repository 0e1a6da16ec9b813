//! What the sandbox accepts beyond what the client sends: the document's own request
//! examples.
//!
//! The generated request types read what the typed client sends (strict, the errata's
//! decisions). The vendor's examples send three things those types refuse, and a sandbox
//! that refuses the vendor's own example fails a user whose code was written from the
//! document. Each is rewritten here, before decoding, into the form the types read; the
//! client is unchanged. Each is an errata entry of `api-spec/gree-ump.yaml`:
//!
//! - **E74**, 3.4.2 `items` nested in an extra array (`[[{…}]]`, the example): flattened
//!   one level, bare or inside a string. Only when every element is an array: a mix of
//!   arrays and objects is still refused (1001), as nothing says what it means.
//! - **E75**, 4.1 without `order_score` (the example): read as 0, an order that earns no
//!   points. The sandbox never invents points; a test that needs them sends the field,
//!   as the client always does (E65).
//! - **E76**, 4.1 `fin_entity_info` that is not JSON (the example's `[{…} ...]`): kept as
//!   the opaque text it is (the platform says it stores the text without checking its
//!   content, E42), as a JSON string value.
//!
//! Bodies that are not a JSON object are passed through untouched: decoding reports them.

use std::borrow::Cow;

use gree_ump::Endpoint;
use gree_ump::endpoints::{AddOrderRequest, RollbackPointsPartiallyRequest};
use serde_json::{Map, Value};

const PARTIAL_ROLLBACK: &str = <RollbackPointsPartiallyRequest as Endpoint>::INFO.method;
const ADD_ORDER: &str = <AddOrderRequest as Endpoint>::INFO.method;

/// The body of a business call, rewritten where the document's examples differ from what
/// the generated types read (see the module documentation); otherwise as given.
pub(crate) fn normalise<'a>(method: &str, body: Cow<'a, [u8]>) -> Cow<'a, [u8]> {
    if method != PARTIAL_ROLLBACK && method != ADD_ORDER {
        return body;
    }
    let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(&body) else {
        return body;
    };
    let changed = if method == PARTIAL_ROLLBACK {
        flatten_nested_items(&mut fields)
    } else {
        let defaulted = default_order_score(&mut fields);
        let kept = keep_opaque_fin_entity_info(&mut fields);
        defaulted || kept
    };
    if !changed {
        return body;
    }
    match serde_json::to_vec(&Value::Object(fields)) {
        Ok(rewritten) => Cow::Owned(rewritten),
        Err(_) => body,
    }
}

/// E74: `"items": [[{…}, …]]` (bare, or as JSON inside a string) becomes `[{…}, …]`.
fn flatten_nested_items(fields: &mut Map<String, Value>) -> bool {
    let Some(items) = fields.get_mut("items") else {
        return false;
    };
    let inner = match &*items {
        Value::String(text) => serde_json::from_str::<Value>(text).ok(),
        other => Some(other.clone()),
    };
    let Some(Value::Array(outer)) = inner else {
        return false;
    };
    if outer.is_empty() || !outer.iter().all(Value::is_array) {
        return false;
    }
    let flat: Vec<Value> = outer
        .into_iter()
        .flat_map(|nested| match nested {
            Value::Array(elements) => elements,
            other => vec![other],
        })
        .collect();
    *items = Value::Array(flat);
    true
}

/// E75: an absent (or null) `order_score` is 0.
fn default_order_score(fields: &mut Map<String, Value>) -> bool {
    match fields.get("order_score") {
        None | Some(Value::Null) => {
            fields.insert("order_score".to_owned(), Value::from(0));
            true
        }
        Some(_) => false,
    }
}

/// E76: a `fin_entity_info` string that does not hold JSON is kept as its text: the
/// string becomes JSON text of a string, which the generated type reads as that text.
fn keep_opaque_fin_entity_info(fields: &mut Map<String, Value>) -> bool {
    let Some(Value::String(text)) = fields.get("fin_entity_info") else {
        return false;
    };
    let blank = text.trim().is_empty();
    if blank || serde_json::from_str::<Value>(text).is_ok() {
        return false;
    }
    let Ok(quoted) = serde_json::to_string(text) else {
        return false;
    };
    fields.insert("fin_entity_info".to_owned(), Value::String(quoted));
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rewrite(method: &str, body: &Value) -> Value {
        let bytes = serde_json::to_vec(body).expect("JSON");
        serde_json::from_slice(&normalise(method, Cow::Borrowed(&bytes))).expect("JSON")
    }

    #[test]
    fn nested_items_are_flattened_bare_or_in_a_string() {
        let item = json!({"order_no": "1", "item_no": "2", "total_price": 1});
        let flat = json!([item.clone(), item.clone()]);
        let bare = json!({"items": [[item.clone()], [item.clone()]]});
        assert_eq!(rewrite(PARTIAL_ROLLBACK, &bare)["items"], flat);
        let text = json!({"items": json!([[item.clone(), item.clone()]]).to_string()});
        assert_eq!(rewrite(PARTIAL_ROLLBACK, &text)["items"], flat);
        // Flat lists and mixtures are left to decoding.
        let as_sent = json!({"items": [item.clone()]});
        assert_eq!(rewrite(PARTIAL_ROLLBACK, &as_sent), as_sent);
        let mixed = json!({"items": [[item.clone()], item.clone()]});
        assert_eq!(rewrite(PARTIAL_ROLLBACK, &mixed), mixed);
        // Only 3.4.2.
        assert_eq!(rewrite(ADD_ORDER, &bare)["items"], bare["items"]);
    }

    #[test]
    fn an_absent_order_score_is_zero_a_given_one_is_kept() {
        assert_eq!(rewrite(ADD_ORDER, &json!({}))["order_score"], json!(0));
        let null = json!({"order_score": null});
        assert_eq!(rewrite(ADD_ORDER, &null)["order_score"], json!(0));
        let given = json!({"order_score": 100});
        assert_eq!(rewrite(ADD_ORDER, &given), given);
        assert_eq!(rewrite(PARTIAL_ROLLBACK, &json!({})), json!({}));
    }

    #[test]
    fn fin_entity_info_that_is_not_json_is_kept_as_text() {
        let text = "[{\"price\": \"120\"} ...] ";
        let body = json!({"order_score": 1, "fin_entity_info": text});
        let rewritten = rewrite(ADD_ORDER, &body);
        let quoted = rewritten["fin_entity_info"].as_str().expect("a string");
        assert_eq!(serde_json::from_str::<Value>(quoted).unwrap(), json!(text));
        let json_text = json!({"order_score": 1, "fin_entity_info": "[{\"a\":1}]"});
        assert_eq!(rewrite(ADD_ORDER, &json_text), json_text);
    }

    #[test]
    fn what_is_not_an_object_passes_untouched() {
        for body in [&b"[1,2]"[..], b"not json", b""] {
            assert_eq!(&*normalise(ADD_ORDER, Cow::Borrowed(body)), body);
        }
    }
}
