//! The API reference page: every endpoint of the OpenAPI document the sandbox serves
//! (`/__sandbox/openapi.json`, written by `cargo xtask openapi` from the spec), in the
//! document's section order, with its method, idempotency, description, error codes and
//! errata. Read from the same embedded document, so the page and the JSON cannot differ.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;

use super::html::{Html, error_page, page};

/// One endpoint, as the page lists it.
struct Operation<'a> {
    section: &'a str,
    summary: &'a str,
    method: &'a str,
    path: &'a str,
    verb: &'a str,
    idempotency: &'a str,
    description: &'a str,
    codes: Vec<(i64, &'a str)>,
    errata: Vec<&'a str>,
}

/// Section numbers compare as numbers part by part ("3.10" after "3.9").
fn section_key(section: &str) -> Vec<u32> {
    section
        .split('.')
        .map(|p| p.parse().unwrap_or(u32::MAX))
        .collect()
}

fn operations(doc: &Value) -> Vec<Operation<'_>> {
    let mut ops = Vec::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return ops;
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            continue;
        };
        for (verb, op) in item {
            let text = |key: &str| op.get(key).and_then(Value::as_str).unwrap_or("");
            let codes = op
                .get("x-error-codes")
                .and_then(Value::as_array)
                .map(|codes| {
                    codes
                        .iter()
                        .filter_map(|c| {
                            Some((
                                c.get("code")?.as_i64()?,
                                c.get("message").and_then(Value::as_str).unwrap_or(""),
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let errata = op
                .get("x-errata")
                .and_then(Value::as_array)
                .map(|ids| ids.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            ops.push(Operation {
                section: text("x-section"),
                summary: text("summary"),
                method: text("x-method"),
                path,
                verb,
                idempotency: text("x-idempotency"),
                description: text("description"),
                codes,
                errata,
            });
        }
    }
    ops.sort_by_key(|o| section_key(o.section));
    ops
}

/// The page, from `document` (the OpenAPI JSON text).
pub(crate) fn reference(document: &str) -> Response {
    let doc: Value = match serde_json::from_str(document) {
        Ok(doc) => doc,
        Err(e) => {
            return error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("the embedded OpenAPI document does not parse: {e}"),
            );
        }
    };
    let ops = operations(&doc);
    let mut content = Html::new();
    content
        .raw("<p>")
        .text(format!("{} 个接口 endpoints · ", ops.len()))
        .link("/__sandbox/openapi.json", "OpenAPI 3.1 JSON")
        .raw(" (Postman, Apifox, Swagger UI…)</p>");
    content.raw("<table><tr><th>章节 Section</th><th>接口 Endpoint</th><th>方法 Method</th><th>幂等 Idempotency</th><th>错误码 Error codes</th><th>勘误 Errata</th></tr>");
    for op in &ops {
        content
            .raw("<tr id=\"")
            .text(op.method)
            .raw("\">")
            .td(op.section)
            .raw("<td><strong>")
            .text(op.summary)
            .raw("</strong><br><code>")
            .text(op.verb.to_uppercase())
            .raw(" ")
            .text(op.path)
            .raw("</code><pre>")
            .text(op.description)
            .raw("</pre></td>")
            .td(op.method)
            .td(op.idempotency)
            .raw("<td>");
        for (code, message) in &op.codes {
            content.text(format!("{code} {message}")).raw("<br>");
        }
        content.raw("</td>").td(op.errata.join(", ")).raw("</tr>");
    }
    content.raw("</table>");
    page("接口参考 API reference", content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_of_the_served_document_is_listed_in_section_order() {
        let doc: Value = serde_json::from_str(crate::controls::OPENAPI_UMP).unwrap();
        let ops = operations(&doc);
        assert_eq!(ops.len(), 21, "the document's 21 endpoints");
        let sections: Vec<&str> = ops.iter().map(|o| o.section).collect();
        let mut sorted = sections.clone();
        sorted.sort_by_key(|s| section_key(s));
        assert_eq!(sections, sorted);
        let create = ops.iter().find(|o| o.method == "wk.user.info.add").unwrap();
        assert_eq!(create.section, "3.1");
        assert!(!create.codes.is_empty());
    }

    #[test]
    fn a_document_that_does_not_parse_is_an_error_page() {
        let res = reference("{not json");
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
