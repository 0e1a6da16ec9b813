//! Spec → validated model. Every problem is reported with the spec's path, the line and
//! the place in the document tree, and all problems are reported at once.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use heck::{ToKebabCase, ToSnakeCase, ToUpperCamelCase};
use serde_saphyr::Location;

use crate::ir::{
    Api, Credential, Data, Encoding, Endpoint, Enum, EnumValue, ErrorCode, Field, Idempotency,
    Journal, MethodIn, Paging, Protocol, Rule, Settle, Struct, StructStyle, Ty, Verb, ZonedDates,
};
use crate::spec::{FieldSpec, Line, SpecFile};

/// The spec format version this generator reads.
pub const FORMAT: u32 = 1;

/// The error categories a spec may name; the runtime's `ErrorCategory::ALL` by name
/// (`tests/categories.rs` holds them equal).
pub const CATEGORIES: &[&str] = &[
    "busy",
    "invalid_request",
    "not_found",
    "conflict",
    "limit",
    "auth",
    "business",
    "unknown",
];

/// All problems found in one spec.
#[derive(Debug)]
pub struct SpecErrors {
    pub path: String,
    pub problems: Vec<(Option<Location>, String)>,
}

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {} problem(s)", self.path, self.problems.len())?;
        for (loc, msg) in &self.problems {
            match loc {
                Some(l) if l.line() > 0 => {
                    writeln!(f, "  {}:{}:{}: {msg}", self.path, l.line(), l.column())?
                }
                _ => writeln!(f, "  {}: {msg}", self.path)?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for SpecErrors {}

/// Parses and validates one spec's text.
pub fn load(path: &str, text: &str) -> Result<Api, SpecErrors> {
    let spec: SpecFile = serde_saphyr::from_str(text).map_err(|e| SpecErrors {
        path: path.to_string(),
        problems: vec![(None, format!("not a valid spec: {e}"))],
    })?;
    let mut v = Validator {
        problems: Vec::new(),
        enums: spec.enums.keys().cloned().collect(),
        types: spec.types.keys().cloned().collect(),
        dates: None,
    };
    let api = v.api(path, &spec);
    if v.problems.is_empty() {
        Ok(api)
    } else {
        Err(SpecErrors {
            path: path.to_string(),
            problems: v.problems,
        })
    }
}

struct Validator {
    problems: Vec<(Option<Location>, String)>,
    enums: BTreeSet<String>,
    types: BTreeSet<String>,
    /// The runtime's date types for the spec's `protocol.time_zone`, if it has them.
    dates: Option<&'static ZonedDates>,
}

fn is_upper_camel(s: &str) -> bool {
    !s.is_empty() && s.to_upper_camel_case() == s
}

fn is_snake_ident(s: &str) -> bool {
    !s.is_empty()
        && s.to_snake_case() == s
        && s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && syn::parse_str::<syn::Ident>(s).is_ok()
}

impl Validator {
    /// Every error code an `effects` paragraph cites (a number of four digits or more that
    /// the error table lists) is one the endpoint lists: the docs must not promise an
    /// answer the endpoint's own table does not have.
    fn effects(
        &mut self,
        place: &str,
        loc: Option<Location>,
        s: &crate::spec::EndpointSpec,
        codes: &BTreeSet<i64>,
    ) {
        let listed: BTreeSet<i64> = s.errors.iter().map(|c| c.value).collect();
        for (i, text) in s.effects.iter().enumerate() {
            if text.trim().is_empty() {
                self.problem(loc, format!("{place}: effects[{i}] is empty"));
            }
            let cited = text
                .split(|c: char| !c.is_ascii_digit())
                .filter(|n| n.len() >= 4)
                .filter_map(|n| n.parse::<i64>().ok())
                .filter(|c| codes.contains(c));
            for code in cited {
                if !listed.contains(&code) {
                    self.problem(
                        loc,
                        format!(
                            "{place}: effects[{i}] cites {code}, which is not among its errors"
                        ),
                    );
                }
            }
        }
    }

    fn problem(&mut self, loc: Option<Location>, msg: impl Into<String>) {
        self.problems.push((loc, msg.into()));
    }

    fn api(&mut self, path: &str, spec: &SpecFile) -> Api {
        if spec.format.value != FORMAT {
            self.problem(
                Some(spec.format.referenced),
                format!(
                    "format {} is not supported (this generator reads format {FORMAT})",
                    spec.format.value
                ),
            );
        }
        let protocol = self.protocol(spec);
        let enums = self.enums(spec);
        let errors = self.errors(spec);
        let known_codes: BTreeSet<i64> = errors.iter().map(|e| e.code).collect();

        let mut structs = Vec::new();
        for (name, t) in &spec.types {
            let place = format!("types.{name}");
            if !is_upper_camel(name) {
                self.problem(
                    Some(t.referenced),
                    format!("{place}: type names are UpperCamelCase"),
                );
            }
            let fields = self.fields(&place, &t.value.fields);
            self.no_missing_error(&place, &t.value.fields);
            structs.push(Struct {
                name: name.clone(),
                doc: t.value.doc.clone(),
                gloss: t.value.gloss.clone(),
                fields,
                style: StructStyle::Tolerant,
                args: None,
            });
        }

        let mut endpoints = Vec::new();
        let mut seen_method = BTreeMap::new();
        let mut seen_name = BTreeMap::new();
        let mut seen_section = BTreeMap::new();
        for (i, e) in spec.endpoints.iter().enumerate() {
            let place = format!("endpoints[{i}] ({})", e.value.method);
            for (seen, key, what) in [
                (&mut seen_method, &e.value.method, "method"),
                (&mut seen_name, &e.value.name, "name"),
                (&mut seen_section, &e.value.section, "section"),
            ] {
                if let Some(prev) = seen.insert(key.clone(), i) {
                    self.problems.push((
                        Some(e.referenced),
                        format!("{place}: duplicate {what} `{key}` (also endpoints[{prev}])"),
                    ));
                }
            }
            if let Some(ep) = self.endpoint(&place, e, &known_codes, &mut structs) {
                endpoints.push(ep);
            }
        }
        let mut commands = BTreeMap::new();
        for e in &endpoints {
            if let Some(prev) = commands.insert((e.group.clone(), e.command.clone()), &e.method) {
                self.problem(
                    None,
                    format!(
                        "endpoint {}: command `{} {}` is also endpoint {prev}'s",
                        e.method, e.group, e.command
                    ),
                );
            }
        }
        if endpoints.is_empty() && spec.endpoints.is_empty() {
            self.problem(None, "endpoints: the spec declares no endpoint");
        }

        let mut ids = BTreeSet::new();
        for (i, e) in spec.errata.iter().enumerate() {
            if !ids.insert(e.value.id.clone()) {
                self.problem(
                    Some(e.referenced),
                    format!("errata[{i}]: duplicate id `{}`", e.value.id),
                );
            }
            if e.value.decision.trim().is_empty() || e.value.reason.trim().is_empty() {
                self.problem(
                    Some(e.referenced),
                    format!(
                        "errata[{i}] ({}): decision and reason are required",
                        e.value.id
                    ),
                );
            }
            for key in &e.value.covers {
                if let Err(why) = crate::audit::check_key(&key.value) {
                    self.problem(
                        Some(key.referenced),
                        format!(
                            "errata[{i}] ({}): covers `{}`: {why}",
                            e.value.id, key.value
                        ),
                    );
                }
            }
        }

        if spec.protocol.tokens.is_none() {
            for e in &endpoints {
                if e.credential != Credential::AppSignature {
                    self.problem(
                        None,
                        format!(
                            "endpoint {}: credential {:?} needs tokens, but the spec has no protocol.tokens (use app_signature)",
                            e.method, e.credential
                        ),
                    );
                }
            }
        }
        let protocol = Protocol {
            tokens: self.tokens(spec, &endpoints),
            ..protocol
        };
        mark_styles(&mut structs, &endpoints);
        structs.sort_by(|a, b| a.name.cmp(&b.name));
        self.name_args(&enums, &mut structs, &mut endpoints);

        Api {
            spec_path: path.to_string(),
            name: spec.api.name.clone(),
            title: spec.api.title.clone(),
            gloss: spec.api.gloss.clone(),
            document: spec.api.document.clone(),
            doc_version: spec.api.doc_version.clone(),
            target: spec.api.target.clone(),
            protocol,
            enums,
            structs,
            endpoints,
            errors,
            errata: spec
                .errata
                .iter()
                .map(|e| crate::ir::Erratum {
                    id: e.value.id.clone(),
                    topic: e.value.topic.clone(),
                    sections: e.value.sections.clone(),
                    decision: e.value.decision.clone(),
                })
                .collect(),
            errors_heading: spec.api.errors_heading.clone(),
            cli: spec.cli.as_ref().map(|c| crate::ir::Cli {
                target: c.value.target.clone(),
                binary: c.value.binary.clone(),
            }),
        }
    }

    /// Names the named-arguments struct of every request-style struct with two or more
    /// required fields: its name minus a trailing `Request`, plus `Args`
    /// (`ChangePointsRequest` → `ChangePointsArgs`, `CouponGrant` → `CouponGrantArgs`).
    /// Such a constructor takes one struct literal instead of positional values, so two
    /// required values of one type can never be swapped silently. A generated name that
    /// is also an enum, a type, a request or another `Args` is an error.
    fn name_args(&mut self, enums: &[Enum], structs: &mut [Struct], endpoints: &mut [Endpoint]) {
        let mut taken: BTreeMap<String, String> = BTreeMap::new();
        for e in enums {
            taken.insert(e.name.clone(), format!("enums.{}", e.name));
        }
        for s in structs.iter() {
            taken.insert(s.name.clone(), format!("types.{}", s.name));
        }
        for e in endpoints.iter() {
            if let Some(prev) = taken.insert(
                e.request.name.clone(),
                format!("the request of endpoint {}", e.method),
            ) {
                self.problem(
                    None,
                    format!(
                        "endpoint {}: its request type `{}` is also {prev}",
                        e.method, e.request.name
                    ),
                );
            }
        }
        let owners = structs.iter_mut().map(|s| (s.name.clone(), s)).chain(
            endpoints
                .iter_mut()
                .map(|e| (e.method.clone(), &mut e.request)),
        );
        for (owner, s) in owners {
            if s.style != StructStyle::Request || s.fields.iter().filter(|f| f.required).count() < 2
            {
                continue;
            }
            let base = s.name.strip_suffix("Request").unwrap_or(&s.name);
            let args = format!("{base}Args");
            if let Some(prev) = taken.insert(args.clone(), format!("the arguments of `{}`", s.name))
            {
                self.problem(
                    None,
                    format!(
                        "{owner}: the arguments struct `{args}` of `{}::new` is also {prev}; rename one",
                        s.name
                    ),
                );
            }
            s.args = Some(args);
        }
    }

    fn protocol(&mut self, spec: &SpecFile) -> Protocol {
        let p = &spec.protocol;
        // Closed lists: the styles and schemes the runtime implements (its `EnvelopeStyle`
        // and `SigningScheme`), so a typo fails here with its place, not later at rustc.
        for (what, v, known) in [
            ("envelope", &p.envelope, ENVELOPE_STYLES),
            ("signing", &p.signing, SIGNING_SCHEMES),
        ] {
            if !known.contains(&v.value.as_str()) {
                self.problem(
                    Some(v.referenced),
                    format!(
                        "protocol.{what}: `{}` is not one the runtime implements ({})",
                        v.value,
                        known.join(", ")
                    ),
                );
            }
        }
        if !matches!(p.timestamp.value.as_str(), "milliseconds" | "seconds") {
            self.problem(
                Some(p.timestamp.referenced),
                format!(
                    "protocol.timestamp: `{}` is neither milliseconds nor seconds",
                    p.timestamp.value
                ),
            );
        }
        let method_in = match p
            .method_in
            .as_ref()
            .map(|m| (m.value.as_str(), m.referenced))
        {
            None | Some(("path", _)) => MethodIn::Path,
            Some(("envelope", _)) => MethodIn::Envelope,
            Some((other, at)) => {
                self.problem(
                    Some(at),
                    format!("protocol.method_in: `{other}` is neither path nor envelope"),
                );
                MethodIn::Path
            }
        };
        // The runtime's style decides where the method goes: the spec must say the same.
        if let Some(&(style, placed)) = STYLE_METHOD_IN
            .iter()
            .find(|(style, _)| *style == p.envelope.value)
            && placed != method_in
        {
            let (want, got) = (placed.as_str(), method_in.as_str());
            self.problem(
                Some(p.envelope.referenced),
                format!(
                    "protocol: the {style} envelope puts the method in the {want}, but method_in says {got}"
                ),
            );
        }
        if !p.path.starts_with('/') {
            self.problem(None, "protocol.path: the template must start with `/`");
        }
        match (method_in, p.path.contains("{method}")) {
            (MethodIn::Path, false) => self.problem(
                None,
                "protocol.path: the template has no `{method}` (with `method_in: envelope` the method travels in the request envelope instead)",
            ),
            (MethodIn::Envelope, true) => self.problem(
                None,
                "protocol.path: with `method_in: envelope` the template must not contain `{method}`",
            ),
            _ => {}
        }
        // Documented for completeness; the runtime supplies them.
        let (_, common_params) = self.fields_split("protocol.common_params", &p.common_params);
        let utc_offset_s = match &p.time_zone {
            None => 0,
            Some(tz) => parse_utc_offset(&tz.value).unwrap_or_else(|| {
                self.problem(
                    Some(tz.referenced),
                    format!(
                        "protocol.time_zone: `{}` is not a UTC offset such as +08:00",
                        tz.value
                    ),
                );
                0
            }),
        };
        self.dates = ZONED_DATE_TYPES
            .iter()
            .find(|z| z.utc_offset_s == utc_offset_s);
        let common: Vec<&str> = p
            .common_params
            .iter()
            .map(|f| f.value.wire.as_str())
            .collect();
        let mut named_param = |what: &str, v: &Option<Line<String>>| -> Option<String> {
            let v = v.as_ref()?;
            if !common.contains(&v.value.as_str()) {
                self.problem(
                    Some(v.referenced),
                    format!(
                        "protocol.{what}: `{}` is not among protocol.common_params",
                        v.value
                    ),
                );
            }
            Some(v.value.clone())
        };
        let timestamp_param = named_param("timestamp_param", &p.timestamp_param);
        let sign_param = named_param("sign_param", &p.sign_param);
        if p.envelope.value == "ump_gateway" && (timestamp_param.is_none() || sign_param.is_none())
        {
            self.problem(
                Some(p.envelope.referenced),
                "protocol: the ump_gateway envelope puts the timestamp and the signature in the query: name them with timestamp_param and sign_param",
            );
        }
        let invalid = p.invalid_token.as_ref();
        let envelope_keys = self.envelope_keys(&p.envelope_keys);
        Protocol {
            envelope_keys,
            envelope: p.envelope.value.clone(),
            signing: p.signing.value.clone(),
            path: p.path.clone(),
            method_in,
            base_urls: p
                .base_urls
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            success_code: p.success_code,
            timestamp: p.timestamp.value.clone(),
            clock_tolerance_ms: p.clock_tolerance_ms,
            utc_offset_s,
            timestamp_param,
            sign_param,
            invalid_token_codes: invalid.map(|i| i.codes.clone()).unwrap_or_default(),
            invalid_token_patterns: invalid
                .map(|i| i.message_patterns.clone())
                .unwrap_or_default(),
            ambiguous_token_codes: invalid
                .map(|i| i.ambiguous_codes.clone())
                .unwrap_or_default(),
            verb_refusal_codes: p.verb_refusal_codes.clone(),
            tokens: None,
            common_params,
        }
    }

    /// The envelope's keys: `data` and a success flag or a code are needed, and no key
    /// may name two parts (the runtime checks the same at `build()`).
    fn envelope_keys(
        &mut self,
        keys: &Line<crate::spec::EnvelopeKeysSpec>,
    ) -> Vec<(&'static str, Vec<String>)> {
        let loc = Some(keys.referenced);
        let parts = keys.value.parts();
        if keys.value.data.is_empty() {
            self.problem(loc, "protocol.envelope_keys: `data` lists no key");
        }
        if keys.value.success.is_empty() && keys.value.code.is_empty() {
            self.problem(
                loc,
                "protocol.envelope_keys: list the keys of `success` or of `code` (how a reply says it succeeded)",
            );
        }
        let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
        for (part, list) in parts {
            for key in list {
                if key.trim().is_empty() {
                    self.problem(loc, format!("protocol.envelope_keys.{part}: an empty key"));
                } else if let Some(first) = seen.insert(key, part) {
                    self.problem(
                        loc,
                        format!(
                            "protocol.envelope_keys: `{key}` is listed for {first} and again for {part}"
                        ),
                    );
                }
            }
        }
        parts
            .into_iter()
            .map(|(part, list)| (part, list.to_vec()))
            .collect()
    }

    /// The token block must name an app-signed endpoint and a refresh-token endpoint.
    fn tokens(&mut self, spec: &SpecFile, endpoints: &[Endpoint]) -> Option<crate::ir::Tokens> {
        let t = spec.protocol.tokens.as_ref()?;
        let loc = Some(t.referenced);
        let mut find = |method: &str, credential: Credential, what: &str| {
            let found = endpoints
                .iter()
                .find(|e| e.method == method && e.credential == credential);
            if found.is_none() {
                self.problem(
                    loc,
                    format!(
                        "protocol.tokens.{what}: `{method}` is not an endpoint with credential {credential:?}"
                    ),
                );
            }
            found.map(|e| e.daily_limit)
        };
        let obtain_daily_limit = find(&t.value.obtain, Credential::AppSignature, "obtain")?;
        let refresh_daily_limit = find(&t.value.refresh, Credential::RefreshToken, "refresh")?;
        let v = &t.value;
        Some(crate::ir::Tokens {
            obtain: v.obtain.clone(),
            refresh: v.refresh.clone(),
            app_id_param: v.app_id_param.clone(),
            access_token_param: v.access_token_param.clone(),
            refresh_token_param: v.refresh_token_param.clone(),
            access_token_key: v.access_token_key.clone(),
            refresh_token_key: v.refresh_token_key.clone(),
            expires_in_key: v.expires_in_key.clone(),
            access_token_lifetime_s: v.access_token_lifetime_s,
            refresh_token_lifetime_s: v.refresh_token_lifetime_s,
            obtain_daily_limit,
            refresh_daily_limit,
        })
    }

    fn enums(&mut self, spec: &SpecFile) -> Vec<Enum> {
        let mut out = Vec::new();
        for (name, e) in &spec.enums {
            let place = format!("enums.{name}");
            if !is_upper_camel(name) {
                self.problem(
                    Some(e.referenced),
                    format!("{place}: enum names are UpperCamelCase"),
                );
            }
            if self.types.contains(name) {
                self.problem(
                    Some(e.referenced),
                    format!("{place}: `{name}` is declared both as an enum and as a type"),
                );
            }
            let mut values = BTreeSet::new();
            let mut names = BTreeSet::new();
            let mut vs = Vec::new();
            for v in &e.value.values {
                if !values.insert(v.value.value) {
                    self.problem(
                        Some(v.referenced),
                        format!("{place}: duplicate value {}", v.value.value),
                    );
                }
                if !is_upper_camel(&v.value.name) || v.value.name == "Unknown" {
                    self.problem(
                        Some(v.referenced),
                        format!(
                            "{place}: variant `{}` must be UpperCamelCase and not `Unknown`",
                            v.value.name
                        ),
                    );
                }
                if !names.insert(v.value.name.clone()) {
                    self.problem(
                        Some(v.referenced),
                        format!("{place}: duplicate variant `{}`", v.value.name),
                    );
                }
                vs.push(EnumValue {
                    value: v.value.value,
                    name: v.value.name.clone(),
                    doc: v.value.doc.clone(),
                    gloss: v.value.gloss.clone(),
                });
            }
            if vs.is_empty() {
                self.problem(Some(e.referenced), format!("{place}: no values"));
            }
            out.push(Enum {
                name: name.clone(),
                doc: e.value.doc.clone(),
                gloss: e.value.gloss.clone(),
                values: vs,
            });
        }
        out
    }

    fn errors(&mut self, spec: &SpecFile) -> Vec<ErrorCode> {
        let mut codes = BTreeMap::new();
        let mut names = BTreeMap::new();
        let mut out = Vec::new();
        for (i, e) in spec.errors.iter().enumerate() {
            let v = &e.value;
            let place = format!("errors[{i}] ({})", v.code);
            if let Some(prev) = codes.insert(v.code, i) {
                self.problem(
                    Some(e.referenced),
                    format!("{place}: duplicate code {} (also errors[{prev}])", v.code),
                );
            }
            if let Some(prev) = names.insert(v.name.clone(), i) {
                self.problem(
                    Some(e.referenced),
                    format!("{place}: duplicate name `{}` (also errors[{prev}])", v.name),
                );
            }
            if !is_upper_camel(&v.name) || v.name == "Unknown" {
                self.problem(
                    Some(e.referenced),
                    format!(
                        "{place}: name `{}` must be UpperCamelCase and not `Unknown`",
                        v.name
                    ),
                );
            }
            if !CATEGORIES.contains(&v.category.value.as_str()) {
                self.problem(
                    Some(v.category.referenced),
                    format!(
                        "{place}: unknown category `{}` (known: {})",
                        v.category.value,
                        CATEGORIES.join(", ")
                    ),
                );
            }
            out.push(ErrorCode {
                code: v.code,
                name: v.name.clone(),
                message: v.message.clone(),
                gloss: v.gloss.clone(),
                group: v.group.clone(),
                category: v.category.value.clone(),
                retryable: v.retryable,
                sections: v.sections.clone(),
            });
        }
        out.sort_by_key(|e| e.code);
        out
    }

    fn ty(&mut self, place: &str, t: &Line<String>) -> Option<Ty> {
        match self.parse_ty(t.value.trim()) {
            Some(ty) => Some(ty),
            None if self.dates.is_none() && t.value.contains("date") => {
                let zones: Vec<&str> = ZONED_DATE_TYPES.iter().map(|z| z.time_zone).collect();
                self.problem(
                    Some(t.referenced),
                    format!(
                        "{place}: type `{}` needs date types for protocol.time_zone (absent: UTC), and the runtime has them for {} only",
                        t.value,
                        zones.join(", ")
                    ),
                );
                None
            }
            None => {
                let mut known: Vec<String> = [
                    "string",
                    "bool",
                    "i32",
                    "i64",
                    "yuan",
                    "fen",
                    "date",
                    "datetime",
                    "timestamp_ms",
                    "json",
                    "id",
                    "list<T>",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                known.extend(self.enums.iter().cloned());
                known.extend(self.types.iter().cloned());
                self.problem(
                    Some(t.referenced),
                    format!(
                        "{place}: unknown type `{}` (known: {})",
                        t.value,
                        known.join(", ")
                    ),
                );
                None
            }
        }
    }

    fn parse_ty(&self, s: &str) -> Option<Ty> {
        Some(match s {
            "string" => Ty::String,
            "bool" => Ty::Bool,
            "i32" => Ty::I32,
            "i64" => Ty::I64,
            "yuan" => Ty::Yuan,
            "fen" => Ty::Fen,
            "date" => Ty::Date(self.dates?),
            "datetime" => Ty::DateTime(self.dates?),
            "timestamp_ms" => Ty::TimestampMs,
            "json" => Ty::Json,
            "id" => Ty::Id,
            _ => {
                if let Some(inner) = s.strip_prefix("list<").and_then(|r| r.strip_suffix('>')) {
                    Ty::List(Box::new(self.parse_ty(inner.trim())?))
                } else if self.enums.contains(s) {
                    Ty::Enum(s.to_string())
                } else if self.types.contains(s) {
                    Ty::Struct(s.to_string())
                } else {
                    return None;
                }
            }
        })
    }

    /// Validates a field list; fields the runtime supplies are dropped.
    fn fields(&mut self, place: &str, specs: &[Line<FieldSpec>]) -> Vec<Field> {
        self.fields_split(place, specs).0
    }

    /// Returns (caller fields, runtime-supplied fields).
    fn fields_split(
        &mut self,
        place: &str,
        specs: &[Line<FieldSpec>],
    ) -> (Vec<Field>, Vec<crate::ir::Param>) {
        let mut out = Vec::new();
        let mut runtime = Vec::new();
        let mut wires = BTreeSet::new();
        let mut names = BTreeSet::new();
        for f in specs {
            let loc = Some(f.referenced);
            let s = &f.value;
            let fplace = format!("{place} field `{}`", s.wire);
            if s.wire.trim().is_empty() {
                self.problem(loc, format!("{place}: a field has an empty `wire` name"));
                continue;
            }
            if !wires.insert(s.wire.clone()) {
                self.problem(loc, format!("{fplace}: duplicate wire name"));
            }
            if s.doc.trim().is_empty() || s.gloss.trim().is_empty() {
                self.problem(
                    loc,
                    format!("{fplace}: `doc` and `gloss` must not be empty"),
                );
            }
            if let Some(by) = &s.supplied_by {
                if by.value != "runtime" {
                    self.problem(
                        Some(by.referenced),
                        format!(
                            "{fplace}: supplied_by must be `runtime`, not `{}`",
                            by.value
                        ),
                    );
                }
                runtime.push(crate::ir::Param {
                    wire: s.wire.clone(),
                    ty: s.ty.value.clone(),
                    required: s.required,
                    in_query: s.location.as_ref().is_some_and(|l| l.value == "query"),
                    doc: s.doc.clone(),
                    gloss: s.gloss.clone(),
                    example: s.example.clone(),
                });
                continue;
            }
            let name = s.name.clone().unwrap_or_else(|| s.wire.to_snake_case());
            if !is_snake_ident(&name) {
                self.problem(
                    loc,
                    format!(
                        "{fplace}: Rust name `{name}` is not a snake_case identifier (or is a keyword); set `name:`"
                    ),
                );
            }
            if name == "extra" {
                self.problem(loc, format!("{fplace}: the Rust name `extra` is reserved"));
            }
            if !names.insert(name.clone()) {
                self.problem(loc, format!("{fplace}: duplicate Rust name `{name}`"));
            }
            let Some(ty) = self.ty(&fplace, &s.ty) else {
                continue;
            };
            let in_query = match s
                .location
                .as_ref()
                .map(|l| (l.value.as_str(), l.referenced))
            {
                None | Some(("body", _)) => false,
                Some(("query", _)) => true,
                Some((other, at)) => {
                    self.problem(
                        Some(at),
                        format!("{fplace}: `in` must be body or query, not `{other}`"),
                    );
                    false
                }
            };
            let encoding = match s.encoding.as_ref() {
                None => Encoding::Plain,
                Some(e) => {
                    let enc = match e.value.as_str() {
                        "plain" => Some(Encoding::Plain),
                        "json_string" => Some(Encoding::JsonString),
                        "comma_joined" => Some(Encoding::CommaJoined),
                        "quoted" => Some(Encoding::Quoted),
                        _ => None,
                    };
                    let fits = match (enc, &ty) {
                        (None, _) => {
                            self.problem(
                                Some(e.referenced),
                                format!(
                                    "{fplace}: unknown encoding `{}` (known: plain, json_string, comma_joined, quoted)",
                                    e.value
                                ),
                            );
                            true
                        }
                        (Some(Encoding::Plain), _) => true,
                        (Some(Encoding::JsonString), t) => {
                            matches!(t, Ty::List(_) | Ty::Struct(_) | Ty::Json)
                        }
                        (Some(Encoding::CommaJoined), Ty::List(inner)) => {
                            matches!(**inner, Ty::String | Ty::I32 | Ty::I64)
                        }
                        (Some(Encoding::CommaJoined), _) => false,
                        (Some(Encoding::Quoted), t) => {
                            matches!(
                                t,
                                Ty::I32 | Ty::I64 | Ty::Yuan | Ty::Fen | Ty::Bool | Ty::Enum(_)
                            )
                        }
                    };
                    if !fits {
                        self.problem(
                            Some(e.referenced),
                            format!(
                                "{fplace}: encoding `{}` does not apply to type `{}`",
                                e.value, s.ty.value
                            ),
                        );
                    }
                    enc.unwrap_or(Encoding::Plain)
                }
            };
            let sensitive = match s
                .sensitive
                .as_ref()
                .map(|l| (l.value.as_str(), l.referenced))
            {
                None => None,
                Some(("secret", _)) => Some(crate::ir::Sensitivity::Secret),
                Some(("pii", _)) => Some(crate::ir::Sensitivity::Pii),
                Some((other, at)) => {
                    self.problem(
                        Some(at),
                        format!("{fplace}: `sensitive` must be secret or pii, not `{other}`"),
                    );
                    None
                }
            };
            out.push(Field {
                sensitive,
                missing_error: s.missing_error.as_ref().map(|l| l.value),
                wire: s.wire.clone(),
                name,
                ty,
                required: s.required,
                in_query,
                encoding,
                aliases: s.aliases.clone(),
                doc: s.doc.clone(),
                gloss: s.gloss.clone(),
                example: s.example.clone(),
                usable_example: s.usable_example.clone(),
                default: s.default.clone(),
            });
        }
        (out, runtime)
    }

    /// One endpoint: each concern validated by its own method, in this order (so the
    /// problems are reported in the order of the YAML keys they concern).
    fn endpoint(
        &mut self,
        place: &str,
        e: &Line<crate::spec::EndpointSpec>,
        codes: &BTreeSet<i64>,
        structs: &mut Vec<Struct>,
    ) -> Option<Endpoint> {
        let s = &e.value;
        let loc = Some(e.referenced);
        self.endpoint_names(place, s, loc);
        let doc_verb = self.verb(place, &s.doc_verb);
        let verb = self.verb(place, &s.verb);
        let credential = self.credential(place, s);
        let idempotency = self.idempotency(place, s);
        let stem = s.name.to_upper_camel_case();
        let (fields, runtime_fields) =
            self.fields_split(&format!("{place} request"), &s.request.fields);
        self.missing_errors(place, &s.request.fields, codes);
        let idempotency_key = self.idempotency_key(place, loc, s, idempotency, &fields);
        let paging = self.paging(place, s, &fields);
        let rules = self.rules(place, s, &fields, codes);
        let data = self.response_data(place, s, &stem, structs);
        if paging.is_some() && !matches!(data, Some(Data::List(_))) {
            self.problem(
                Some(s.response.referenced),
                format!("{place}: a paged endpoint's data must be a list"),
            );
        }
        self.endpoint_errors(place, s, codes);
        let (daily_limit, rate_limit_doc) = self.rate_limit(place, loc, s);

        let command = self.command(place, s);
        let journal = self.journal(place, s, idempotency, &fields, codes);
        self.effects(place, loc, s, codes);
        Some(Endpoint {
            method: s.method.clone(),
            name: s.name.clone(),
            group: s.group.clone(),
            command,
            section: s.section.clone(),
            title: s.title.clone(),
            gloss: s.gloss.clone(),
            doc_verb: doc_verb?,
            verb: verb?,
            credential,
            idempotency,
            idempotency_key,
            daily_limit,
            rate_limit_doc,
            paging: if s.paging.is_some() { paging } else { None },
            request: Struct {
                name: format!("{stem}Request"),
                doc: s.title.clone(),
                gloss: s.gloss.clone(),
                fields,
                style: StructStyle::Request,
                args: None,
            },
            runtime_params: runtime_fields.iter().map(|p| p.wire.clone()).collect(),
            runtime_fields,
            rules,
            data: data?,
            errors: s.errors.iter().map(|c| c.value).collect(),
            journal,
            effects: s.effects.clone(),
        })
    }

    /// The write journal's facts of a write endpoint: its settle path and order keys.
    fn journal(
        &mut self,
        place: &str,
        s: &crate::spec::EndpointSpec,
        idempotency: Idempotency,
        fields: &[Field],
        codes: &BTreeSet<i64>,
    ) -> Option<Journal> {
        let j = s.journal.as_ref()?;
        let loc = Some(j.referenced);
        let spec = &j.value;
        if idempotency == Idempotency::Read {
            self.problem(loc, format!("{place}: a read is never journalled"));
        }
        let settle = match (spec.settle.value.as_str(), spec.conflict_code) {
            ("keyed", Some(code)) => {
                if idempotency != Idempotency::Keyed {
                    self.problem(
                        loc,
                        format!("{place}: journal settle `keyed` needs idempotency keyed"),
                    );
                }
                if !codes.contains(&code) {
                    self.problem(
                        loc,
                        format!("{place}: journal conflict_code {code} is not a listed error code"),
                    );
                }
                Settle::Keyed {
                    conflict_code: code,
                }
            }
            ("keyed", None) => {
                self.problem(
                    loc,
                    format!("{place}: journal settle `keyed` needs a conflict_code"),
                );
                return None;
            }
            (_, Some(_)) => {
                self.problem(
                    loc,
                    format!("{place}: journal conflict_code is for settle `keyed` only"),
                );
                return None;
            }
            ("identical", None) => Settle::Identical,
            ("probe", None) => Settle::Probe,
            ("never", None) => Settle::Never,
            (other, None) => {
                self.problem(
                    Some(spec.settle.referenced),
                    format!(
                        "{place}: journal settle `{other}` is not keyed, identical, probe or never"
                    ),
                );
                return None;
            }
        };
        match (settle, &spec.probe) {
            (Settle::Probe, None) => {
                self.problem(
                    loc,
                    format!("{place}: journal settle `probe` needs a probe method"),
                );
            }
            (Settle::Probe, Some(_)) | (_, None) => {}
            (_, Some(_)) => {
                self.problem(
                    loc,
                    format!("{place}: journal probe is for settle `probe` only"),
                );
            }
        }
        let order_keys = self.journal_keys(place, loc, &spec.order_keys, fields);
        let after_keys = self.journal_keys(place, loc, &spec.after_keys, fields);
        Some(Journal {
            settle,
            probe: spec.probe.clone(),
            order_keys,
            after_keys,
        })
    }

    /// A journal's `order_keys` or `after_keys`: kinds are lowercase words, paths name a
    /// scalar request field or `list[].field`; sorted.
    fn journal_keys(
        &mut self,
        place: &str,
        loc: Option<Location>,
        keys: &std::collections::BTreeMap<String, Vec<String>>,
        fields: &[Field],
    ) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (kind, paths) in keys {
            if kind.is_empty() || !kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                self.problem(
                    loc,
                    format!("{place}: journal key kind `{kind}` must be a lowercase word"),
                );
            }
            for path in paths {
                let (head, item) = match path.split_once("[].") {
                    Some((head, item)) => (head, Some(item)),
                    None => (path.as_str(), None),
                };
                let field = by_wire(fields, head);
                let ok = match (&field, item) {
                    (Some(f), None) => !matches!(f.ty, Ty::List(_) | Ty::Struct(_) | Ty::Json),
                    (Some(f), Some(item)) => matches!(f.ty, Ty::List(_)) && !item.is_empty(),
                    (None, _) => false,
                };
                if !ok {
                    self.problem(
                        loc,
                        format!(
                            "{place}: journal key `{path}` must name a scalar request field, or `list[].field`"
                        ),
                    );
                }
                out.push((kind.clone(), path.clone()));
            }
        }
        out.sort();
        out
    }

    /// The endpoint's subcommand: the spec's `command` (kebab-case words) or the name in
    /// kebab-case.
    fn command(&mut self, place: &str, s: &crate::spec::EndpointSpec) -> String {
        let Some(c) = &s.command else {
            return s.name.to_kebab_case();
        };
        let ok = !c.value.is_empty()
            && c.value.split('-').all(|w| {
                !w.is_empty()
                    && w.chars()
                        .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit())
            });
        if !ok {
            self.problem(
                Some(c.referenced),
                format!(
                    "{place}: command `{}` must be lowercase kebab-case words (`query`, `rollback-part`)",
                    c.value
                ),
            );
        }
        c.value.clone()
    }

    /// `missing_error` of request fields: on a required field, naming a listed code.
    fn missing_errors(&mut self, place: &str, specs: &[Line<FieldSpec>], codes: &BTreeSet<i64>) {
        for f in specs {
            let Some(code) = &f.value.missing_error else {
                continue;
            };
            let fplace = format!("{place} request field `{}`", f.value.wire);
            if !f.value.required {
                self.problem(
                    Some(code.referenced),
                    format!("{fplace}: `missing_error` applies to a required field only"),
                );
            }
            if !codes.contains(&code.value) {
                self.problem(
                    Some(code.referenced),
                    format!("{fplace}: missing_error {} is not in errors", code.value),
                );
            }
        }
    }

    /// `missing_error` means something only on an endpoint's request field.
    fn no_missing_error(&mut self, place: &str, specs: &[Line<FieldSpec>]) {
        for f in specs {
            if let Some(code) = &f.value.missing_error {
                self.problem(
                    Some(code.referenced),
                    format!(
                        "{place} field `{}`: `missing_error` applies to an endpoint's request field only",
                        f.value.wire
                    ),
                );
            }
        }
    }

    /// Names, group, method and section of an endpoint.
    fn endpoint_names(
        &mut self,
        place: &str,
        s: &crate::spec::EndpointSpec,
        loc: Option<Location>,
    ) {
        if !is_snake_ident(&s.name) {
            self.problem(
                loc,
                format!("{place}: name `{}` must be snake_case", s.name),
            );
        }
        if !is_snake_ident(&s.group) {
            self.problem(
                loc,
                format!("{place}: group `{}` must be snake_case", s.group),
            );
        }
        if s.method.trim().is_empty() || s.section.trim().is_empty() {
            self.problem(
                loc,
                format!("{place}: method and section must not be empty"),
            );
        }
    }

    fn credential(&mut self, place: &str, s: &crate::spec::EndpointSpec) -> Credential {
        match s.credential.value.as_str() {
            "app_signature" => Credential::AppSignature,
            "refresh_token" => Credential::RefreshToken,
            "access_token" => Credential::AccessToken,
            other => {
                self.problem(
                    Some(s.credential.referenced),
                    format!(
                        "{place}: unknown credential `{other}` (known: app_signature, refresh_token, access_token)"
                    ),
                );
                Credential::AccessToken
            }
        }
    }

    fn idempotency(&mut self, place: &str, s: &crate::spec::EndpointSpec) -> Idempotency {
        match s.idempotency.value.as_str() {
            "read" => Idempotency::Read,
            "keyed" => Idempotency::Keyed,
            "unsafe" => Idempotency::Unsafe,
            other => {
                self.problem(
                    Some(s.idempotency.referenced),
                    format!("{place}: unknown idempotency `{other}` (known: read, keyed, unsafe)"),
                );
                Idempotency::Unsafe
            }
        }
    }

    /// The Rust name of the field carrying a keyed endpoint's idempotency key.
    fn idempotency_key(
        &mut self,
        place: &str,
        loc: Option<Location>,
        s: &crate::spec::EndpointSpec,
        idempotency: Idempotency,
        fields: &[Field],
    ) -> Option<String> {
        match (idempotency, &s.idempotency_key) {
            (Idempotency::Keyed, Some(k)) => match by_wire(fields, k) {
                Some(f) if f.required && f.ty == Ty::String => Some(f.name),
                _ => {
                    self.problem(
                        loc,
                        format!(
                            "{place}: idempotency_key `{k}` must name a required string request field"
                        ),
                    );
                    None
                }
            },
            (Idempotency::Keyed, None) => {
                self.problem(
                    loc,
                    format!("{place}: idempotency `keyed` needs an idempotency_key"),
                );
                None
            }
            (_, Some(k)) => {
                self.problem(
                    loc,
                    format!("{place}: idempotency_key `{k}` given but idempotency is not keyed"),
                );
                None
            }
            (_, None) => None,
        }
    }

    /// The request's paging fields (integers), and paging.total.
    fn paging(
        &mut self,
        place: &str,
        s: &crate::spec::EndpointSpec,
        fields: &[Field],
    ) -> Option<Paging> {
        s.paging.as_ref().and_then(|p| {
            let mut get = |wire: &str, what: &str| match by_wire(fields, wire) {
                Some(f) if f.ty.is_integer() => Some(f.name),
                _ => {
                    self.problem(
                        Some(p.referenced),
                        format!(
                            "{place}: paging.{what} `{wire}` must name an integer request field"
                        ),
                    );
                    None
                }
            };
            let page_no = get(&p.value.page_no, "page_no");
            let page_size = get(&p.value.page_size, "page_size");
            if p.value.total != "envelope" {
                self.problem(
                    Some(p.referenced),
                    format!("{place}: paging.total must be `envelope`"),
                );
            }
            Some(Paging {
                page_no: page_no?,
                page_size: page_size?,
            })
        })
    }

    /// The request's cross-field rules, each of exactly one kind.
    fn rules(
        &mut self,
        place: &str,
        s: &crate::spec::EndpointSpec,
        fields: &[Field],
        codes: &BTreeSet<i64>,
    ) -> Vec<Rule> {
        let mut rules = Vec::new();
        for r in &s.request.rules {
            let rloc = Some(r.referenced);
            let v = &r.value;
            let kinds = [
                v.one_of.is_some(),
                v.required_if.is_some(),
                v.required_unless.is_some(),
                v.items.is_some(),
            ];
            if kinds.iter().filter(|k| **k).count() != 1 {
                self.problem(
                    rloc,
                    format!(
                        "{place}: a rule has exactly one of `one_of`, `required_if`, `required_unless` or `items`"
                    ),
                );
                continue;
            }
            self.rule_one_of(place, rloc, v, fields, codes, &mut rules);
            self.rule_required(place, rloc, v, fields, &mut rules);
            self.rule_items(place, rloc, v, fields, &mut rules);
        }
        rules
    }

    /// A request field a rule names: (wire, Rust name, field).
    fn rule_field(
        &mut self,
        place: &str,
        rloc: Option<Location>,
        fields: &[Field],
        wire: &str,
    ) -> Option<(String, String, Field)> {
        match by_wire(fields, wire) {
            Some(f) => Some((f.wire.clone(), f.name.clone(), f)),
            None => {
                self.problem(
                    rloc,
                    format!("{place}: rule refers to unknown request field `{wire}`"),
                );
                None
            }
        }
    }

    fn rule_one_of(
        &mut self,
        place: &str,
        rloc: Option<Location>,
        v: &crate::spec::RuleSpec,
        fields: &[Field],
        codes: &BTreeSet<i64>,
        rules: &mut Vec<Rule>,
    ) {
        if let Some(list) = &v.one_of {
            let mut fs = Vec::new();
            for w in list {
                if let Some((wire, name, f)) = self.rule_field(place, rloc, fields, w) {
                    if f.required {
                        self.problem(
                            rloc,
                            format!(
                                "{place}: one_of field `{wire}` must not be required (either suffices)"
                            ),
                        );
                    }
                    fs.push((wire, name));
                }
            }
            if list.len() < 2 {
                self.problem(rloc, format!("{place}: one_of needs two fields or more"));
            }
            if let Some(code) = v.error
                && !codes.contains(&code)
            {
                self.problem(rloc, format!("{place}: rule error {code} is not in errors"));
            }
            rules.push(Rule::OneOf {
                fields: fs,
                error: v.error,
                doc: v.doc.clone(),
            });
        }
    }

    /// `required_if` and `required_unless`.
    fn rule_required(
        &mut self,
        place: &str,
        rloc: Option<Location>,
        v: &crate::spec::RuleSpec,
        fields: &[Field],
        rules: &mut Vec<Rule>,
    ) {
        for (key, ri, unless) in [
            ("required_if", &v.required_if, false),
            ("required_unless", &v.required_unless, true),
        ] {
            let Some(ri) = ri else { continue };
            let field = self.rule_field(place, rloc, fields, &ri.field);
            let when = self.rule_field(place, rloc, fields, &ri.when);
            if let Some((_, _, f)) = &field
                && f.required
            {
                self.problem(
                    rloc,
                    format!("{place}: {key} field `{}` is already required", ri.field),
                );
            }
            if let Some((_, _, w)) = &when
                && !(w.ty.is_integer() || matches!(w.ty, Ty::Enum(_)))
            {
                self.problem(
                    rloc,
                    format!(
                        "{place}: {key} `when` field `{}` must be an integer or enum",
                        ri.when
                    ),
                );
            }
            if let (Some(f), Some(w)) = (field, when) {
                let (field, when, equals, doc) = ((f.0, f.1), (w.0, w.1), ri.equals, v.doc.clone());
                rules.push(if unless {
                    Rule::RequiredUnless {
                        field,
                        when,
                        equals,
                        doc,
                    }
                } else {
                    Rule::RequiredIf {
                        field,
                        when,
                        equals,
                        doc,
                    }
                });
            }
        }
    }

    fn rule_items(
        &mut self,
        place: &str,
        rloc: Option<Location>,
        v: &crate::spec::RuleSpec,
        fields: &[Field],
        rules: &mut Vec<Rule>,
    ) {
        if let Some(it) = &v.items {
            let field = self.rule_field(place, rloc, fields, &it.field);
            if let Some((_, _, f)) = &field
                && !matches!(f.ty, Ty::List(_))
            {
                self.problem(
                    rloc,
                    format!("{place}: items field `{}` must be a list", it.field),
                );
            }
            let when_set = match &it.when_set {
                Some(w) => match self.rule_field(place, rloc, fields, w) {
                    Some((_, _, wf)) if wf.required => {
                        self.problem(
                            rloc,
                            format!(
                                "{place}: items `when_set` field `{w}` is required, so always set: drop `when_set`"
                            ),
                        );
                        None
                    }
                    Some((wire, name, _)) => Some(Some((wire, name))),
                    None => None,
                },
                None => Some(None),
            };
            match (it.min, it.max) {
                (None, None) => {
                    self.problem(rloc, format!("{place}: items needs `min`, `max` or both"))
                }
                (Some(lo), Some(hi)) if lo > hi => self.problem(
                    rloc,
                    format!("{place}: items `min` {lo} is above `max` {hi}"),
                ),
                _ => {}
            }
            if let (Some((wire, name, _)), Some(when_set)) = (field, when_set) {
                rules.push(Rule::Items {
                    field: (wire, name),
                    min: it.min,
                    max: it.max,
                    when_set,
                    doc: v.doc.clone(),
                });
            }
        }
    }

    /// The response's `data`: a named or inline type (the inline one is added to
    /// `structs`), a list, or nothing.
    fn response_data(
        &mut self,
        place: &str,
        s: &crate::spec::EndpointSpec,
        stem: &str,
        structs: &mut Vec<Struct>,
    ) -> Option<Data> {
        let r = &s.response.value;
        let rloc = Some(s.response.referenced);
        let inline_name = format!("{stem}Data");
        if let Some(code) = &r.data.false_is_error {
            if r.data.ty.as_deref() != Some("bool") || r.data.list.is_some() || !r.fields.is_empty()
            {
                self.problem(
                    Some(code.referenced),
                    format!("{place}: response.data.false_is_error applies to `type: bool` only"),
                );
            }
            if !s.errors.iter().any(|c| c.value == code.value) {
                self.problem(
                    Some(code.referenced),
                    format!("{place}: false_is_error {} is not in errors", code.value),
                );
            }
            return Some(Data::Confirmation {
                false_is_error: code.value,
            });
        }
        match (&r.data.ty, &r.data.list, r.data.none.unwrap_or(false)) {
            (Some(t), None, false) if !r.fields.is_empty() => {
                if t != &inline_name {
                    self.problem(
                        rloc,
                        format!("{place}: an inline response object is named `{inline_name}`"),
                    );
                }
                let fields = self.fields(&format!("{place} response"), &r.fields);
                self.no_missing_error(&format!("{place} response"), &r.fields);
                structs.push(Struct {
                    name: inline_name.clone(),
                    // Not the title alone: the request carries it, and two types opening
                    // with one sentence read as one in every listing.
                    doc: format!("{}:返回参数 data", s.title),
                    gloss: format!("The `data` of {}", s.method),
                    fields,
                    style: StructStyle::Tolerant,
                    args: None,
                });
                Some(Data::One(Ty::Struct(inline_name)))
            }
            (Some(t), None, false) => self
                .ty(
                    &format!("{place} response.data"),
                    &Line::new(t.clone(), s.response.referenced, s.response.defined),
                )
                .map(Data::One),
            (None, Some(t), false) => self
                .ty(
                    &format!("{place} response.data"),
                    &Line::new(t.clone(), s.response.referenced, s.response.defined),
                )
                .map(Data::List),
            (None, None, true) => Some(Data::None),
            _ => {
                self.problem(
                    rloc,
                    format!("{place}: response.data is exactly one of {{type}}, {{list}}, {{none: true}}"),
                );
                None
            }
        }
    }

    /// Every error code an endpoint lists is declared in `errors`.
    fn endpoint_errors(
        &mut self,
        place: &str,
        s: &crate::spec::EndpointSpec,
        codes: &BTreeSet<i64>,
    ) {
        for c in &s.errors {
            if !codes.contains(&c.value) {
                self.problem(
                    Some(c.referenced),
                    format!("{place}: error {} is not declared in `errors`", c.value),
                );
            }
        }
    }

    /// A daily rate limit: (limit, the document's words).
    fn rate_limit(
        &mut self,
        place: &str,
        loc: Option<Location>,
        s: &crate::spec::EndpointSpec,
    ) -> (Option<u32>, Option<String>) {
        match &s.rate_limit {
            Some(rl) if rl.per == "day" => (Some(rl.max), Some(rl.doc.clone())),
            Some(rl) => {
                self.problem(
                    loc,
                    format!("{place}: rate_limit.per `{}` is not `day`", rl.per),
                );
                (None, None)
            }
            None => (None, None),
        }
    }

    fn verb(&mut self, place: &str, v: &Line<String>) -> Option<Verb> {
        match v.value.trim().to_ascii_uppercase().as_str() {
            "GET" => Some(Verb::Get),
            "POST" => Some(Verb::Post),
            other => {
                self.problem(
                    Some(v.referenced),
                    format!("{place}: verb `{other}` is neither GET nor POST"),
                );
                None
            }
        }
    }
}

/// The request field with this wire name.
fn by_wire(fields: &[Field], wire: &str) -> Option<Field> {
    fields.iter().find(|f| f.wire == wire).cloned()
}

/// Shared types reachable only from requests are built like requests (required fields
/// required by the type); any type a response can contain is decoded tolerantly.
fn mark_styles(structs: &mut [Struct], endpoints: &[Endpoint]) {
    fn reach(ty: &Ty, structs: &[Struct], out: &mut BTreeSet<String>) {
        match ty {
            Ty::List(inner) => reach(inner, structs, out),
            Ty::Struct(name) => {
                if out.insert(name.clone())
                    && let Some(s) = structs.iter().find(|s| &s.name == name)
                {
                    for f in &s.fields {
                        reach(&f.ty, structs, out);
                    }
                }
            }
            _ => {}
        }
    }
    let mut received = BTreeSet::new();
    for e in endpoints {
        if let Data::One(t) | Data::List(t) = &e.data {
            reach(t, structs, &mut received);
        }
    }
    for s in structs.iter_mut() {
        s.style = if received.contains(&s.name) {
            StructStyle::Tolerant
        } else {
            StructStyle::Request
        };
    }
}

/// The envelope styles the runtime implements (`openplatform_runtime::EnvelopeStyle`, in
/// snake_case): one module each in its `client/styles/`.
pub const ENVELOPE_STYLES: &[&str] = &["ump_gateway", "zvcms_action"];
/// The signing schemes the runtime implements (`openplatform_runtime::SigningScheme`).
pub const SIGNING_SCHEMES: &[&str] = &["ump_md5", "pluggable"];
/// The envelope styles whose requests carry a grant code besides the app id: their
/// generated client gets the builder's `grant_code` (`CarriesGrantCode`), no other does.
pub const STYLES_WITH_GRANT_CODE: &[&str] = &["zvcms_action"];
/// Where each envelope style of the runtime places the method name.
pub const STYLE_METHOD_IN: &[(&str, MethodIn)] = &[
    ("ump_gateway", MethodIn::Path),
    ("zvcms_action", MethodIn::Envelope),
];

/// The runtime's date types (in `openplatform_runtime::wire`), by the UTC offset they
/// are written in: a spec's `date` and `datetime` fields get those of its
/// `protocol.time_zone`. A zone without a pair here is refused where a date field is.
pub const ZONED_DATE_TYPES: &[ZonedDates] = &[ZonedDates {
    time_zone: "+08:00",
    utc_offset_s: 8 * 3600,
    date: "BeijingDate",
    datetime: "BeijingDateTime",
}];

/// `+08:00`, `-05:30`, `+00:00` → seconds east of UTC (at most ±14 h, whole minutes).
fn parse_utc_offset(text: &str) -> Option<i32> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if h > 14 || m > 59 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

#[cfg(test)]
mod utc_offset_tests {
    use super::parse_utc_offset;

    #[test]
    fn offsets() {
        assert_eq!(parse_utc_offset("+08:00"), Some(28_800));
        assert_eq!(parse_utc_offset("-05:30"), Some(-19_800));
        assert_eq!(parse_utc_offset("+00:00"), Some(0));
        for bad in [
            "08:00",
            "+8:00",
            "+15:00",
            "+08:60",
            "+08",
            "",
            "Asia/Shanghai",
        ] {
            assert_eq!(parse_utc_offset(bad), None, "{bad}");
        }
    }
}
