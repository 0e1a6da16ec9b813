//! An OpenAPI 3.1 document of one API, built from the validated model ([`crate::ir`]):
//! what the code generator reads, so the document and the SDK cannot disagree.
//!
//! The document describes the wire as the platform sees it: the path with the method
//! filled in, the query parameters the runtime adds (credential, timestamp, signature),
//! the business parameters as the JSON body, each reply inside its envelope, encodings
//! as they travel (a `json_string` list is a string holding JSON). What OpenAPI cannot
//! say is carried by `x-` extensions: the signing scheme (`x-signing`), the error codes
//! (`x-error-codes`), the errata (`x-errata`), enum names (`x-enum-varnames`).
//!
//! Rendering sorts every object's keys and pretty-prints with a trailing newline, so the
//! same spec gives the same bytes whatever order a map was built in.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::codegen::GeneratedFile;
use crate::ir::{
    Api, Credential, Data, Encoding, Endpoint, Enum, Field, Idempotency, MethodIn, Param, Rule,
    Settle, Struct, StructStyle, Ty, Verb,
};

/// The OpenAPI version written.
pub const OPENAPI_VERSION: &str = "3.1.0";

/// Where the sandbox crate keeps its copy of every document: it serves them, and a
/// published crate can embed only files inside its own directory.
pub const SANDBOX_COPY_DIR: &str = "crates/gree-ump-sandbox/openapi";

/// The document's path beside its spec: `api-spec/gree-ump.yaml` →
/// `api-spec/gree-ump.openapi.json`.
pub fn document_path(api: &Api) -> String {
    let stem = api
        .spec_path
        .strip_suffix(".yaml")
        .unwrap_or(&api.spec_path);
    format!("{stem}.openapi.json")
}

/// The document beside the spec and its copy in the sandbox crate, same bytes.
pub fn files(api: &Api) -> Vec<GeneratedFile> {
    let contents = render(&document(api));
    vec![
        GeneratedFile {
            path: document_path(api),
            contents: contents.clone(),
        },
        GeneratedFile {
            path: format!("{SANDBOX_COPY_DIR}/{}.openapi.json", api.name),
            contents,
        },
    ]
}

/// The whole document as a JSON value.
pub fn document(api: &Api) -> Value {
    let mut paths = Map::new();
    let shared_path = api.protocol.method_in == MethodIn::Envelope && api.endpoints.len() > 1;
    for e in &api.endpoints {
        let path = match api.protocol.method_in {
            MethodIn::Path => api.protocol.path.replace("{method}", &e.method),
            // One URL for every call: a second operation on it would replace the first,
            // so each is told apart by its method after a `#` (the fragment never travels).
            MethodIn::Envelope if shared_path => format!("{}#{}", api.protocol.path, e.method),
            MethodIn::Envelope => api.protocol.path.clone(),
        };
        let item = paths
            .entry(path)
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(item) = item {
            item.insert(verb_key(e.verb).to_owned(), operation(api, e));
        }
    }

    let mut schemas = Map::new();
    for en in &api.enums {
        schemas.insert(en.name.clone(), enum_schema(en));
    }
    for st in &api.structs {
        schemas.insert(st.name.clone(), struct_schema(api, st));
    }
    for e in &api.endpoints {
        let mut schema = struct_schema(api, &e.request);
        if let (Value::Object(o), (Some(x), _)) = (&mut schema, request_example(api, e)) {
            o.insert("examples".into(), json!([x]));
        }
        schemas.insert(e.request.name.clone(), schema);
    }
    schemas.insert(envelope_name(api), envelope_schema(api));

    let mut parameters = Map::new();
    let sent: BTreeSet<&str> = api
        .endpoints
        .iter()
        .flat_map(|e| e.runtime_fields.iter().map(|p| p.wire.as_str()))
        .collect();
    for p in &api.protocol.common_params {
        // A common parameter no endpoint sends in its query (UMP's `method`, which
        // travels in the path) is not a parameter of any call.
        if p.in_query && sent.contains(p.wire.as_str()) {
            parameters.insert(p.wire.clone(), param_object(p));
        }
    }

    let mut components = Map::new();
    components.insert("schemas".into(), Value::Object(schemas));
    if !parameters.is_empty() {
        components.insert("parameters".into(), Value::Object(parameters));
    }

    let mut tags = Vec::new();
    let mut seen = BTreeSet::new();
    for e in &api.endpoints {
        if seen.insert(e.group.as_str()) {
            tags.push(json!({"name": e.group}));
        }
    }

    let servers: Vec<Value> = api
        .protocol
        .base_urls
        .iter()
        .map(|(name, url)| json!({"url": url, "description": format!("preset `{name}`")}))
        .collect();

    json!({
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": api.title,
            "summary": api.gloss,
            "version": api.doc_version,
            "description": info_description(api),
            "x-document": api.document,
            "x-spec": api.spec_path,
        },
        "servers": servers,
        "tags": tags,
        "paths": paths,
        "components": components,
        "x-signing": signing(api),
        "x-error-codes": error_codes(api),
        "x-errata": api.errata.iter().map(|e| json!({
            "id": e.id,
            "sections": e.sections,
            "topic": e.topic,
            "decision": e.decision,
        })).collect::<Vec<_>>(),
    })
}

fn verb_key(v: Verb) -> &'static str {
    match v {
        Verb::Get => "get",
        Verb::Post => "post",
    }
}

fn envelope_name(api: &Api) -> String {
    format!(
        "{}Envelope",
        heck::ToUpperCamelCase::to_upper_camel_case(api.name.as_str())
    )
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn info_description(api: &Api) -> String {
    let p = &api.protocol;
    let mut out = vec![format!(
        "{} ({}), document {} ({}). Generated by `cargo xtask openapi` from `{}`: do not \
         edit by hand.",
        api.title, api.gloss, api.doc_version, api.document, api.spec_path
    )];
    out.push(match p.method_in {
        MethodIn::Path => format!(
            "Every call goes to `{}` with the method name in the path; the business \
             parameters are the JSON body.",
            p.path
        ),
        MethodIn::Envelope => format!(
            "Every call goes to `{}`; the method name and the business parameters travel \
             in the JSON envelope of the request (see each request body).",
            p.path
        ),
    });
    out.push(format!("Signing (`x-signing`): {}", signing_text(api)));
    out.push(format!(
        "Every reply is the envelope `{}` (components/schemas), whose data part holds the \
         call's answer. Error codes: `x-error-codes` (each operation lists its section's). \
         The document's contradictions and the decisions taken: `x-errata` (each operation \
         lists those of its section).",
        envelope_name(api)
    ));
    out.join("\n\n")
}

fn signing_text(api: &Api) -> String {
    let p = &api.protocol;
    let unit = if p.timestamp == "seconds" {
        "seconds"
    } else {
        "milliseconds"
    };
    let clock = p
        .clock_tolerance_ms
        .map(|ms| format!(" The platform refuses a timestamp more than {ms} ms from its clock."))
        .unwrap_or_default();
    match p.signing.as_str() {
        "ump_md5" => format!(
            "`{}`: take the query parameters but the signature (credential, `{}`, and any \
             other), sorted by name; concatenate each name followed by its value; append \
             the raw request body exactly as sent; append the app secret; the signature is \
             the MD5 of those bytes in lowercase hex, sent as the query parameter `{}`. \
             The timestamp is the current time in {unit} since the epoch.{clock}",
            p.signing,
            p.timestamp_param.as_deref().unwrap_or("timestamp"),
            p.sign_param.as_deref().unwrap_or("sign"),
        ),
        "pluggable" => format!(
            "`{}`: the document does not publish its signature algorithm (see `x-errata`); \
             the signature field of the envelope is computed by a signer the caller \
             chooses, over the request's fields as sent. The timestamp is the current time \
             in {unit} since the epoch.{clock}",
            p.signing
        ),
        other => format!("`{other}`. The timestamp is in {unit} since the epoch.{clock}"),
    }
}

fn signing(api: &Api) -> Value {
    let p = &api.protocol;
    let mut s = Map::new();
    s.insert("scheme".into(), json!(p.signing));
    s.insert("description".into(), json!(signing_text(api)));
    s.insert("timestamp_unit".into(), json!(p.timestamp));
    if let Some(ms) = p.clock_tolerance_ms {
        s.insert("clock_tolerance_ms".into(), json!(ms));
    }
    if let Some(t) = &p.timestamp_param {
        s.insert("timestamp_param".into(), json!(t));
    }
    if let Some(t) = &p.sign_param {
        s.insert("sign_param".into(), json!(t));
    }
    if let Some(t) = &p.tokens {
        s.insert(
            "tokens".into(),
            json!({
                "obtain": t.obtain,
                "refresh": t.refresh,
                "app_id_param": t.app_id_param,
                "access_token_param": t.access_token_param,
                "refresh_token_param": t.refresh_token_param,
                "access_token_key": t.access_token_key,
                "refresh_token_key": t.refresh_token_key,
                "expires_in_key": t.expires_in_key,
                "access_token_lifetime_s": t.access_token_lifetime_s,
                "refresh_token_lifetime_s": t.refresh_token_lifetime_s,
            }),
        );
    }
    Value::Object(s)
}

fn error_codes(api: &Api) -> Vec<Value> {
    api.errors
        .iter()
        .map(|c| {
            json!({
                "code": c.code,
                "name": c.name,
                "message": c.message,
                "gloss": c.gloss,
                "group": c.group,
                "category": c.category,
                "retryable": c.retryable,
                "sections": c.sections,
            })
        })
        .collect()
}

/// The runtime's query parameter for an endpoint's credential, if the API has tokens.
fn credential_param(api: &Api, e: &Endpoint) -> Option<String> {
    let t = api.protocol.tokens.as_ref()?;
    Some(match e.credential {
        Credential::AppSignature => t.app_id_param.clone(),
        Credential::RefreshToken => t.refresh_token_param.clone(),
        Credential::AccessToken => t.access_token_param.clone(),
    })
}

fn operation(api: &Api, e: &Endpoint) -> Value {
    let mut op = Map::new();
    op.insert("operationId".into(), json!(e.name));
    op.insert(
        "summary".into(),
        json!(format!("{} {}", e.section, e.title)),
    );
    op.insert("description".into(), json!(operation_description(api, e)));
    op.insert("tags".into(), json!([e.group]));
    op.insert("x-method".into(), json!(e.method));
    op.insert("x-section".into(), json!(e.section));
    op.insert(
        "x-idempotency".into(),
        json!(match e.idempotency {
            Idempotency::Read => "read",
            Idempotency::Keyed => "keyed",
            Idempotency::Unsafe => "unsafe",
        }),
    );
    if e.doc_verb != e.verb {
        op.insert("x-doc-verb".into(), json!(e.doc_verb_str()));
    }

    let mut params = Vec::new();
    if api.protocol.method_in == MethodIn::Path {
        let mut named: Vec<&Param> = e.runtime_fields.iter().filter(|p| p.in_query).collect();
        // The runtime adds the credential, the timestamp and the signature to every call,
        // whether or not its section's table lists them.
        let needed = [
            credential_param(api, e),
            api.protocol.timestamp_param.clone(),
            api.protocol.sign_param.clone(),
        ];
        for wire in needed.into_iter().flatten() {
            if !named.iter().any(|p| p.wire == wire)
                && let Some(p) = api.protocol.common_params.iter().find(|p| p.wire == wire)
            {
                named.push(p);
            }
        }
        params.extend(named.into_iter().map(param_object));
    }
    for f in e.request.fields.iter().filter(|f| f.in_query) {
        let mut p = Map::new();
        p.insert("name".into(), json!(f.wire));
        p.insert("in".into(), json!("query"));
        p.insert("required".into(), json!(f.required));
        p.insert("description".into(), json!(field_description(f)));
        p.insert("schema".into(), ty_schema(&f.ty, f.encoding));
        params.push(Value::Object(p));
    }
    if !params.is_empty() {
        op.insert("parameters".into(), Value::Array(params));
    }

    let body_fields = e.request.fields.iter().filter(|f| !f.in_query).count();
    let (example, notes) = request_example(api, e);
    if !notes.is_empty() {
        op.insert("x-example-notes".into(), json!(notes));
    }
    match api.protocol.method_in {
        MethodIn::Path if body_fields > 0 => {
            let mut media = Map::new();
            media.insert("schema".into(), schema_ref(&e.request.name));
            if let Some(x) = example {
                media.insert("example".into(), Value::Object(x));
            }
            op.insert(
                "requestBody".into(),
                json!({
                    "required": true,
                    "content": {"application/json": media},
                }),
            );
        }
        MethodIn::Path => {}
        MethodIn::Envelope => {
            op.insert(
                "requestBody".into(),
                envelope_request(api, e, example.unwrap_or_default()),
            );
        }
    }

    op.insert(
        "responses".into(),
        json!({
            "200": {
                "description": "The envelope: on success the data part holds the answer; \
                                otherwise the code and message say why (`x-error-codes`).",
                "content": {"application/json": {"schema": reply_schema(api, e)}},
            }
        }),
    );

    let codes: Vec<Value> = e
        .errors
        .iter()
        .map(|code| match api.errors.iter().find(|c| c.code == *code) {
            Some(c) => json!({"code": c.code, "name": c.name, "message": c.message}),
            None => json!({"code": code}),
        })
        .collect();
    op.insert("x-error-codes".into(), Value::Array(codes));
    let errata: Vec<Value> = api
        .errata_of(&e.section)
        .map(|x| json!({"id": x.id, "topic": x.topic}))
        .collect();
    op.insert("x-errata".into(), Value::Array(errata));
    Value::Object(op)
}

fn operation_description(api: &Api, e: &Endpoint) -> String {
    let mut out = vec![format!("{} (`{}`).", e.gloss, e.method)];
    out.push(match e.idempotency {
        Idempotency::Read => "A read: safe to repeat.".to_owned(),
        Idempotency::Keyed => format!(
            "A write made idempotent by `{}`: repeating it with the same key applies it once.",
            e.idempotency_key.as_deref().unwrap_or("?")
        ),
        Idempotency::Unsafe => {
            "A write without an idempotency key: a repeat may apply it twice.".to_owned()
        }
    });
    if let Some(j) = &e.journal {
        out.push(match j.settle {
            Settle::Keyed { conflict_code } => format!(
                "Settling an unknown outcome: re-send it identical; {conflict_code} after an \
                 attempt that may have landed means that attempt applied it."
            ),
            Settle::Identical => "Settling an unknown outcome: re-send it identical; the \
                                  platform answers an identical repeat with the first answer."
                .to_owned(),
            Settle::Probe => format!(
                "Settling an unknown outcome: read with `{}` before any re-send.",
                j.probe.as_deref().unwrap_or("?")
            ),
            Settle::Never => {
                "Settling an unknown outcome: never re-send; an operator decides.".to_owned()
            }
        });
    }
    if e.doc_verb != e.verb {
        out.push(format!(
            "The section marks it {} (`x-doc-verb`); it is sent as {} (see `x-errata`).",
            e.doc_verb_str(),
            e.verb_str()
        ));
    }
    if let Some(rl) = &e.rate_limit_doc {
        out.push(format!(
            "Rate limit: {rl} ({} a day).",
            e.daily_limit.unwrap_or(0)
        ));
    }
    if let Some(p) = &e.paging {
        let wire = |rust: &str| {
            e.request
                .fields
                .iter()
                .find(|f| f.name == rust)
                .map_or_else(|| rust.to_owned(), |f| f.wire.clone())
        };
        out.push(format!(
            "Paged by `{}` and `{}`; the envelope carries the total count.",
            wire(&p.page_no),
            wire(&p.page_size)
        ));
    }
    for r in &e.rules {
        out.push(format!("Rule: {}", rule_text(r)));
    }
    out.extend(e.effects.iter().cloned());
    let _ = api;
    out.join("\n\n")
}

fn rule_text(r: &Rule) -> String {
    match r {
        Rule::OneOf { fields, error, doc } => {
            let names: Vec<String> = fields.iter().map(|(w, _)| format!("`{w}`")).collect();
            let code = error.map(|c| format!(", else {c}")).unwrap_or_default();
            format!("at least one of {} ({doc}{code})", names.join(", "))
        }
        Rule::RequiredIf {
            field,
            when,
            equals,
            doc,
        } => format!(
            "`{}` is required when `{}` is {equals} ({doc})",
            field.0, when.0
        ),
        Rule::RequiredUnless {
            field,
            when,
            equals,
            doc,
        } => format!(
            "`{}` is required unless `{}` is {equals} ({doc})",
            field.0, when.0
        ),
        Rule::Items {
            field,
            min,
            max,
            when_set,
            doc,
        } => {
            let mut bounds = Vec::new();
            if let Some(n) = min {
                bounds.push(format!("at least {n}"));
            }
            if let Some(n) = max {
                bounds.push(format!("at most {n}"));
            }
            let when = when_set
                .as_ref()
                .map(|(w, _)| format!(" while `{w}` is set"))
                .unwrap_or_default();
            format!(
                "`{}` holds {} items{when} ({doc})",
                field.0,
                bounds.join(" and ")
            )
        }
    }
}

fn param_object(p: &Param) -> Value {
    let mut o = Map::new();
    o.insert("name".into(), json!(p.wire));
    o.insert(
        "in".into(),
        json!(if p.in_query { "query" } else { "header" }),
    );
    o.insert("required".into(), json!(p.required));
    o.insert(
        "description".into(),
        json!(format!("{}\n\n{}\n\nAdded by the runtime.", p.doc, p.gloss)),
    );
    let mut schema = param_schema(&p.ty);
    if let (Some(x), Value::Object(s)) = (&p.example, &mut schema)
        && let Some(v) = example_value(&param_ty(&p.ty), Encoding::Plain, x)
    {
        s.insert("examples".into(), json!([v]));
    }
    o.insert("schema".into(), schema);
    Value::Object(o)
}

/// The type of a runtime parameter (the spec's text), for its schema and example.
fn param_ty(ty: &str) -> Ty {
    match ty {
        "bool" => Ty::Bool,
        "i32" => Ty::I32,
        "i64" => Ty::I64,
        "timestamp_ms" => Ty::TimestampMs,
        "json" => Ty::Json,
        _ => Ty::String,
    }
}

fn param_schema(ty: &str) -> Value {
    ty_schema(&param_ty(ty), Encoding::Plain)
}

/// The request of an API whose method travels in the envelope: the envelope's fields
/// (the common parameters), the method fixed, the business parameters as an object.
fn envelope_request(api: &Api, e: &Endpoint, example: Map<String, Value>) -> Value {
    let mut placeholders = Vec::new();
    let mut props = Map::new();
    let mut required = Vec::new();
    let mut x = Map::new();
    let (method_key, params_key) = envelope_keys_of(&api.protocol.envelope);
    for p in &api.protocol.common_params {
        let mut s = param_schema(&p.ty);
        if let Value::Object(o) = &mut s {
            o.insert(
                "description".into(),
                json!(format!("{}\n\n{}", p.doc, p.gloss)),
            );
        }
        if Some(p.wire.as_str()) == params_key {
            s = json!({
                "allOf": [schema_ref(&e.request.name)],
                "description": format!("{}\n\n{}", p.doc, p.gloss),
            });
            x.insert(p.wire.clone(), Value::Object(example.clone()));
        } else if Some(p.wire.as_str()) == method_key {
            if let Value::Object(o) = &mut s {
                o.insert("const".into(), json!(e.method));
            }
            x.insert(p.wire.clone(), json!(e.method));
        } else if let Some(v) = p
            .example
            .as_deref()
            .and_then(|t| example_value(&param_ty(&p.ty), Encoding::Plain, t))
        {
            x.insert(p.wire.clone(), v);
        } else if p.required {
            // The caller's credentials and the signature have no example value: a
            // placeholder keeps the example complete, and says what goes there.
            x.insert(p.wire.clone(), json!(format!("<{}>", p.wire)));
            placeholders.push(format!("`{}`", p.wire));
        }
        if p.required {
            required.push(p.wire.clone());
        }
        props.insert(p.wire.clone(), s);
    }
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), Value::Object(props));
    if !required.is_empty() {
        schema.insert("required".into(), json!(required));
    }
    let mut media = Map::new();
    media.insert("schema".into(), Value::Object(schema));
    media.insert("example".into(), Value::Object(x));
    if !placeholders.is_empty() {
        media.insert(
            "x-example-notes".into(),
            json!([format!(
                "{} are placeholders: the caller's credentials and the signature.",
                placeholders.join(", ")
            )]),
        );
    }
    json!({
        "required": true,
        "content": {"application/json": media},
    })
}

/// The request envelope's keys of the method name and of the business parameters, per
/// envelope style the runtime implements (api-spec/README.md, "Envelope styles").
fn envelope_keys_of(style: &str) -> (Option<&'static str>, Option<&'static str>) {
    match style {
        "zvcms_action" => (Some("Action"), Some("Params")),
        _ => (None, None),
    }
}

/// The wire type of each envelope part, per envelope style the runtime implements.
fn part_schema(api: &Api, part: &str) -> Value {
    let zvcms = api.protocol.envelope == "zvcms_action";
    match part {
        "success" if zvcms => json!({"type": ["boolean", "string"]}),
        "success" => json!({"type": "boolean"}),
        "code" if zvcms => json!({"type": ["integer", "string"]}),
        "code" => json!({"type": "integer"}),
        "message" => json!({"type": "string"}),
        "page_no" | "page_size" | "total_count" => json!({"type": "integer"}),
        _ => json!({}),
    }
}

fn part_description(api: &Api, part: &str) -> String {
    match part {
        "success" => "Whether the call succeeded.".to_owned(),
        "code" => match api.protocol.success_code {
            Some(c) => format!("{c} on success; otherwise an error code (`x-error-codes`)."),
            None => "The error code (`x-error-codes`).".to_owned(),
        },
        "message" => "The error message.".to_owned(),
        "data" => "The call's answer (see each operation).".to_owned(),
        "page_no" => "Paged calls: the page number.".to_owned(),
        "page_size" => "Paged calls: the page size.".to_owned(),
        "total_count" => "Paged calls: the total number of items.".to_owned(),
        other => other.to_owned(),
    }
}

fn envelope_schema(api: &Api) -> Value {
    let mut props = Map::new();
    for (part, keys) in &api.protocol.envelope_keys {
        let Some((key, also)) = keys.split_first() else {
            continue;
        };
        let mut s = part_schema(api, part);
        let mut text = part_description(api, part);
        if !also.is_empty() {
            let also: Vec<String> = also.iter().map(|k| format!("`{k}`")).collect();
            text.push_str(&format!(" Also accepted under {}.", also.join(", ")));
        }
        if let Value::Object(o) = &mut s {
            o.insert("description".into(), json!(text));
        }
        props.insert(key.clone(), s);
    }
    json!({
        "type": "object",
        "title": envelope_name(api),
        "description": format!(
            "The envelope of every reply ({} style).", api.protocol.envelope
        ),
        "properties": props,
    })
}

fn reply_schema(api: &Api, e: &Endpoint) -> Value {
    let Some(data_key) = api
        .protocol
        .envelope_keys
        .iter()
        .find(|(p, _)| *p == "data")
        .and_then(|(_, k)| k.first())
    else {
        return schema_ref(&envelope_name(api));
    };
    let data = match &e.data {
        Data::None => json!({"description": "No data: a success carries none."}),
        Data::One(t) => with_description(ty_schema(t, Encoding::Plain), "The answer."),
        Data::List(t) => json!({"type": "array", "items": ty_schema(t, Encoding::Plain)}),
        Data::Confirmation { false_is_error } => json!({
            "type": "boolean",
            "description": format!("true: confirmed; false is the error {false_is_error}."),
        }),
    };
    json!({
        "allOf": [
            schema_ref(&envelope_name(api)),
            {"type": "object", "properties": {data_key.clone(): data}},
        ]
    })
}

fn with_description(mut s: Value, text: &str) -> Value {
    if let Value::Object(o) = &mut s {
        o.entry("description").or_insert_with(|| json!(text));
    }
    s
}

fn enum_schema(en: &Enum) -> Value {
    let lines: Vec<String> = en
        .values
        .iter()
        .map(|v| format!("- {}: {} ({}; {})", v.value, v.doc, v.name, v.gloss))
        .collect();
    json!({
        "type": "integer",
        "title": en.name,
        "description": format!(
            "{}\n\n{}\n\n{}\n\nA value not listed is kept as it is when received.",
            en.doc, en.gloss, lines.join("\n")
        ),
        "enum": en.values.iter().map(|v| v.value).collect::<Vec<_>>(),
        "x-enum-varnames": en.values.iter().map(|v| v.name.clone()).collect::<Vec<_>>(),
        "x-enum-descriptions": en
            .values
            .iter()
            .map(|v| format!("{} ({})", v.doc, v.gloss))
            .collect::<Vec<_>>(),
    })
}

fn struct_schema(api: &Api, st: &Struct) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    for f in st.fields.iter().filter(|f| !f.in_query) {
        props.insert(f.wire.clone(), field_schema(f));
        if f.required {
            required.push(json!(f.wire));
        }
    }
    let mut o = Map::new();
    o.insert("type".into(), json!("object"));
    o.insert("title".into(), json!(st.name));
    let note = match st.style {
        StructStyle::Request => "",
        StructStyle::Tolerant => {
            "\n\nReceived: any field may be absent or null, and keys not listed are kept \
             (the document's required marks are in `x-required-in-document`)."
        }
    };
    o.insert(
        "description".into(),
        json!(format!("{}\n\n{}{note}", st.doc, st.gloss)),
    );
    o.insert("properties".into(), Value::Object(props));
    if !required.is_empty() {
        let key = match st.style {
            StructStyle::Request => "required",
            StructStyle::Tolerant => "x-required-in-document",
        };
        o.insert(key.into(), Value::Array(required));
    }
    if let Some(x) = struct_example(api, st)
        && !x.is_empty()
    {
        o.insert("examples".into(), json!([x]));
    }
    Value::Object(o)
}

fn field_description(f: &Field) -> String {
    let mut out = vec![f.doc.clone(), f.gloss.clone()];
    if !f.aliases.is_empty() {
        let a: Vec<String> = f.aliases.iter().map(|k| format!("`{k}`")).collect();
        out.push(format!("Also accepted under {}.", a.join(", ")));
    }
    match f.encoding {
        Encoding::Plain => {}
        Encoding::JsonString => {
            out.push("Travels as the JSON text of the value inside a string.".to_owned())
        }
        Encoding::CommaJoined => {
            out.push("Travels as its items joined by `,` in one string.".to_owned())
        }
        Encoding::Quoted => out.push("Travels as the value's JSON text in a string.".to_owned()),
    }
    if let Some(s) = f.sensitive {
        out.push(format!(
            "Sensitive ({}): never logged by the SDK.",
            match s {
                crate::ir::Sensitivity::Secret => "a credential",
                crate::ir::Sensitivity::Pii => "personal data",
            }
        ));
    }
    out.join("\n\n")
}

/// The field's example as a wire value: the document's when it reads as the field's
/// type, else the spec's `usable_example` (the one `ump`'s help shows).
fn usable_example(f: &Field) -> Option<Value> {
    [f.example.as_deref(), f.usable_example.as_deref()]
        .into_iter()
        .flatten()
        .find_map(|x| example_value(&f.ty, f.encoding, x))
}

fn field_schema(f: &Field) -> Value {
    let mut s = match ty_schema(&f.ty, f.encoding) {
        Value::Object(o) => o,
        other => {
            let mut o = Map::new();
            o.insert("allOf".into(), json!([other]));
            o
        }
    };
    // The type's own words (money unit, time zone, id form) follow the field's.
    let text = match s.get("description").and_then(Value::as_str) {
        Some(of_type) => format!("{}\n\n{of_type}", field_description(f)),
        None => field_description(f),
    };
    s.insert("description".into(), json!(text));
    if let Some(v) = usable_example(f) {
        s.insert("examples".into(), json!([v]));
    }
    if let Some(x) = f.example.as_deref().filter(|x| !x.trim().is_empty())
        && example_value(&f.ty, f.encoding, x).is_none()
    {
        // The document's example does not read as the field's type: kept verbatim.
        s.insert("x-doc-example".into(), json!(x));
    }
    if let Some(v) = f
        .default
        .as_deref()
        .and_then(|x| example_value(&f.ty, f.encoding, x))
    {
        s.insert("default".into(), v);
    }
    if let Some(sens) = f.sensitive {
        s.insert(
            "x-sensitive".into(),
            json!(match sens {
                crate::ir::Sensitivity::Secret => "secret",
                crate::ir::Sensitivity::Pii => "pii",
            }),
        );
    }
    Value::Object(s)
}

/// The schema of a value of type `ty` as it travels with `encoding`.
fn ty_schema(ty: &Ty, encoding: Encoding) -> Value {
    let plain = plain_schema(ty);
    match encoding {
        Encoding::Plain => plain,
        Encoding::JsonString | Encoding::Quoted => json!({
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": plain,
            "x-encoding": if encoding == Encoding::Quoted { "quoted" } else { "json_string" },
        }),
        Encoding::CommaJoined => {
            let item = match ty {
                Ty::List(t) => plain_schema(t),
                other => plain_schema(other),
            };
            json!({
                "type": "string",
                "x-encoding": "comma_joined",
                "x-items": item,
            })
        }
    }
}

fn plain_schema(ty: &Ty) -> Value {
    match ty {
        Ty::String => json!({"type": "string"}),
        Ty::Bool => json!({"type": "boolean"}),
        Ty::I32 => json!({"type": "integer", "format": "int32"}),
        Ty::I64 => json!({"type": "integer", "format": "int64"}),
        Ty::Yuan => json!({
            "type": "number",
            "x-money": "yuan",
            "description": "Money in yuan, an exact decimal (at most 2 decimals when sent).",
        }),
        Ty::Fen => json!({
            "type": "integer",
            "format": "int64",
            "x-money": "fen",
            "description": "Money in fen (hundredths of a yuan).",
        }),
        Ty::Date(z) => json!({
            "type": "string",
            "format": "date",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            "x-time-zone": z.time_zone,
            "description": format!("A date (yyyy-MM-dd) in UTC{}.", z.time_zone),
        }),
        Ty::DateTime(z) => json!({
            "type": "string",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$",
            "x-time-zone": z.time_zone,
            "description": format!(
                "A date and time (yyyy-MM-dd HH:mm:ss) in UTC{}.", z.time_zone
            ),
        }),
        Ty::TimestampMs => json!({
            "type": "integer",
            "format": "int64",
            "x-unit": "ms",
            "description": "Milliseconds since the epoch.",
        }),
        Ty::Json => json!({"description": "Any JSON value."}),
        Ty::Id => json!({
            "type": ["integer", "string"],
            "description": "An identifier kept as its exact text: a bare JSON integer when \
                            it is a canonical integer (never read through a float), \
                            otherwise a string.",
        }),
        Ty::List(t) => json!({"type": "array", "items": plain_schema(t)}),
        Ty::Enum(n) | Ty::Struct(n) => schema_ref(n),
    }
}

/// The document's example text as a JSON value of the field's wire form; `None` when
/// empty (the document writes `""` for an unset value) or not a value of that form (a
/// description of the values, JSON that does not parse): such text is kept verbatim as
/// `x-doc-example`, never sent.
fn example_value(ty: &Ty, encoding: Encoding, text: &str) -> Option<Value> {
    if text.trim().is_empty() {
        return None;
    }
    match encoding {
        Encoding::Plain => {}
        Encoding::JsonString => {
            let inner = serde_json::from_str::<Value>(text).ok()?;
            let fits = match ty {
                Ty::List(_) => inner.is_array(),
                Ty::Struct(_) => inner.is_object(),
                _ => true,
            };
            return fits.then(|| json!(text));
        }
        Encoding::Quoted => {
            return example_value(ty, Encoding::Plain, text).map(|_| json!(text));
        }
        Encoding::CommaJoined => return Some(json!(text)),
    }
    match ty {
        Ty::String | Ty::Date(_) | Ty::DateTime(_) => Some(json!(text)),
        Ty::Bool => match text {
            "true" => Some(json!(true)),
            "false" => Some(json!(false)),
            _ => None,
        },
        Ty::I32 => text.parse::<i32>().ok().map(|n| json!(n)),
        Ty::I64 | Ty::Fen | Ty::TimestampMs | Ty::Enum(_) => {
            text.parse::<i64>().ok().map(|n| json!(n))
        }
        Ty::Yuan => serde_json::from_str::<Value>(text)
            .ok()
            .filter(Value::is_number),
        Ty::Json => serde_json::from_str(text).ok(),
        Ty::Id => Some(match (text.parse::<i64>(), text.parse::<u64>()) {
            (Ok(n), _) if n.to_string() == text => json!(n),
            (_, Ok(n)) if n.to_string() == text => json!(n),
            _ => json!(text),
        }),
        Ty::List(_) => serde_json::from_str::<Value>(text)
            .ok()
            .filter(Value::is_array),
        Ty::Struct(_) => serde_json::from_str::<Value>(text)
            .ok()
            .filter(Value::is_object),
    }
}

/// An example of a struct's body from its fields' examples; `None` when no field has
/// one. A field whose own example is missing or unusable gets, where the type gives one,
/// the example of its nested type (for a required field: or its default, or its enum's
/// first value), so that the example is a request the platform takes.
fn struct_example(api: &Api, st: &Struct) -> Option<Map<String, Value>> {
    struct_example_at(api, st, 0)
}

fn struct_example_at(api: &Api, st: &Struct, depth: usize) -> Option<Map<String, Value>> {
    // Types may refer to each other; the examples of a document are shallow.
    if depth > 8 {
        return None;
    }
    let mut out = Map::new();
    for f in st.fields.iter().filter(|f| !f.in_query) {
        let own = usable_example(f);
        let v = own
            .or_else(|| nested_example(api, f, depth))
            .or_else(|| f.required.then(|| fallback_example(api, f)).flatten());
        if let Some(v) = v {
            out.insert(f.wire.clone(), v);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// An endpoint's request example: [`struct_example`], then made to keep the endpoint's
/// conditional rules. A rule the document's own values break (5.1's coupon_type 1
/// needs begin_time, whose example is not a timestamp) takes the first other value of
/// the deciding enum under which every rule holds. Each change is noted.
fn request_example(api: &Api, e: &Endpoint) -> (Option<Map<String, Value>>, Vec<String>) {
    let mut notes = Vec::new();
    let Some(mut x) = struct_example(api, &e.request) else {
        return (None, notes);
    };
    for r in &e.rules {
        if rules_hold(&e.rules, &x) {
            break;
        }
        let (Rule::RequiredIf { when, .. } | Rule::RequiredUnless { when, .. }) = r else {
            continue;
        };
        let Some(field) = e.request.fields.iter().find(|f| f.wire == when.0) else {
            continue;
        };
        let before = x.get(&when.0).cloned();
        let values: Vec<i64> = match &field.ty {
            Ty::Enum(n) => api
                .enums
                .iter()
                .find(|en| &en.name == n)
                .map(|en| en.values.iter().map(|v| v.value).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let found = values.into_iter().find(|v| {
            let mut y = x.clone();
            y.insert(when.0.clone(), json!(v));
            rules_hold(&e.rules, &y)
        });
        if let Some(v) = found {
            x.insert(when.0.clone(), json!(v));
            notes.push(format!(
                "`{}` is {v} (the document's example: {}): with the document's values, a \
                 field a rule then requires has no usable example.",
                when.0,
                before.map_or_else(|| "(none)".to_owned(), |b| b.to_string())
            ));
        }
    }
    (Some(x), notes)
}

/// Whether an example keeps every `required_if` / `required_unless` rule.
fn rules_hold(rules: &[Rule], x: &Map<String, Value>) -> bool {
    rules.iter().all(|r| match r {
        Rule::RequiredIf {
            field,
            when,
            equals,
            ..
        } => x.get(&when.0) != Some(&json!(equals)) || x.contains_key(&field.0),
        Rule::RequiredUnless {
            field,
            when,
            equals,
            ..
        } => x.get(&when.0) == Some(&json!(equals)) || x.contains_key(&field.0),
        _ => true,
    })
}

/// A field's value built from its nested type's examples, in the field's encoding.
fn nested_example(api: &Api, f: &Field, depth: usize) -> Option<Value> {
    let nested = |name: &str| {
        api.structs
            .iter()
            .find(|s| s.name == name)
            .and_then(|s| struct_example_at(api, s, depth + 1))
    };
    let value = match &f.ty {
        Ty::Struct(n) => Value::Object(nested(n)?),
        Ty::List(t) => match t.as_ref() {
            Ty::Struct(n) => json!([nested(n)?]),
            _ => return None,
        },
        _ => return None,
    };
    match f.encoding {
        Encoding::Plain => Some(value),
        Encoding::JsonString => Some(json!(value.to_string())),
        Encoding::CommaJoined | Encoding::Quoted => None,
    }
}

/// A required field's stand-in when the document gives no usable example: its default,
/// else its enum's first value.
fn fallback_example(api: &Api, f: &Field) -> Option<Value> {
    if let Some(v) = f
        .default
        .as_deref()
        .and_then(|x| example_value(&f.ty, f.encoding, x))
    {
        return Some(v);
    }
    let Ty::Enum(name) = &f.ty else {
        return None;
    };
    let first = api.enums.iter().find(|e| &e.name == name)?.values.first()?;
    match f.encoding {
        Encoding::Plain => Some(json!(first.value)),
        Encoding::Quoted => Some(json!(first.value.to_string())),
        Encoding::JsonString | Encoding::CommaJoined => None,
    }
}

/// Pretty JSON, two spaces, every object's keys sorted, a trailing newline: the same
/// value gives the same bytes whatever the map's own order.
pub fn render(v: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, v, 0);
    out.push('\n');
    out
}

fn write_value(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Object(m) if m.is_empty() => out.push_str("{}"),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push_str("{\n");
            for (i, k) in keys.iter().enumerate() {
                pad(out, indent + 1);
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push_str(": ");
                if let Some(x) = m.get(*k) {
                    write_value(out, x, indent + 1);
                }
                if i + 1 < keys.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            pad(out, indent);
            out.push('}');
        }
        Value::Array(a) if a.is_empty() => out.push_str("[]"),
        Value::Array(a) => {
            out.push_str("[\n");
            for (i, x) in a.iter().enumerate() {
                pad(out, indent + 1);
                write_value(out, x, indent + 1);
                if i + 1 < a.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            pad(out, indent);
            out.push(']');
        }
        // Scalars: serde_json's own text (escapes, numbers exactly as held).
        other => out.push_str(&other.to_string()),
    }
}

fn pad(out: &mut String, indent: usize) {
    for _ in 0..indent {
        out.push_str("  ");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys come out sorted whatever order they were inserted in, nested too.
    #[test]
    fn render_sorts_keys_and_ends_with_a_newline() {
        let mut a = Map::new();
        a.insert("b".into(), json!(1));
        a.insert("a".into(), json!({"z": [1, "两"], "y": {}}));
        let text = render(&Value::Object(a));
        assert_eq!(
            text,
            "{\n  \"a\": {\n    \"y\": {},\n    \"z\": [\n      1,\n      \"两\"\n    ]\n  },\n  \"b\": 1\n}\n"
        );
        let back: Value = serde_json::from_str(&text).expect("valid JSON");
        assert_eq!(back["a"]["z"][1], json!("两"));
    }

    /// An 18-digit id stays an exact integer; text that is not canonical stays text;
    /// an empty example (the document's "unset") gives none.
    #[test]
    fn examples_keep_the_wire_form() {
        assert_eq!(
            example_value(&Ty::Id, Encoding::Plain, "390962138708451328"),
            Some(json!(390962138708451328_i64))
        );
        assert_eq!(
            example_value(&Ty::Id, Encoding::Plain, "007"),
            Some(json!("007"))
        );
        assert_eq!(example_value(&Ty::I64, Encoding::Plain, ""), None);
        assert_eq!(example_value(&Ty::I64, Encoding::Plain, "abc"), None);
        assert_eq!(
            example_value(
                &Ty::List(Box::new(Ty::Id)),
                Encoding::JsonString,
                "[390962138708451328]"
            ),
            Some(json!("[390962138708451328]"))
        );
    }
}
