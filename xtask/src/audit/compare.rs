//! The document against the spec: every disagreement, as a [`Finding`] with a key that an
//! erratum's `covers` can name.
//!
//! Keys, by what they compare (`<s>` is a section number):
//! - `document/version`: the revision table's last version against `api.doc_version`;
//! - `<s>/endpoint/not_in_spec`, `<s>/endpoint/not_in_doc`: a section with a request
//!   address and no endpoint, or the reverse;
//! - `<s>/title`, `<s>/method`, `<s>/verb`, `<s>/doc_verb`: the heading, the address's
//!   method, the verb against `verb` and against `doc_verb`;
//! - `<s>/request/<field>/<aspect>` and `<s>/response/<field>/<aspect>`, aspect one of
//!   `type`, `required`, `in`, `not_in_spec`, `not_in_doc`, `unreadable`;
//! - `errors/<code>/<aspect>` for the summary table, aspect `message`, `group`,
//!   `not_in_spec`, `not_in_doc`; `<s>/errors/<code>/<aspect>` for a section's table,
//!   aspect `message`, `not_in_spec`, `not_listed` (not in the endpoint's `errors`).

use std::collections::BTreeMap;

use super::document::{CodeRow, Document, Row, Section};
use crate::spec::{AuditSpec, EndpointSpec, FieldSpec, Line, SpecFile};

/// The last segment of every key the audit reports.
pub const ASPECTS: &[&str] = &[
    "version",
    "not_in_spec",
    "not_in_doc",
    "title",
    "method",
    "verb",
    "doc_verb",
    "type",
    "doc",
    "required",
    "in",
    "unreadable",
    "message",
    "group",
    "not_listed",
];

/// One disagreement between the document and the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub key: String,
    /// The document's line, when the difference has one there.
    pub doc_line: Option<usize>,
    /// The spec's line, when the difference has one there.
    pub spec_line: Option<usize>,
    pub message: String,
}

fn line_of<T>(v: &Line<T>) -> Option<usize> {
    Some(v.referenced.line() as usize).filter(|l| *l > 0)
}

/// Compares `doc` with `spec`, whose layout is `layout`.
pub fn compare(spec: &SpecFile, layout: &AuditSpec, doc: &Document) -> Vec<Finding> {
    let mut c = Comparer {
        spec,
        layout,
        out: Vec::new(),
    };
    c.version(doc);
    c.preamble(&doc.preamble);
    c.endpoints(doc);
    c.out
}

struct Comparer<'a> {
    spec: &'a SpecFile,
    layout: &'a AuditSpec,
    out: Vec<Finding>,
}

/// Which table a field row belongs to, for keys and messages.
#[derive(Clone, Copy)]
enum Side {
    Request,
    Response,
}

impl Side {
    fn as_str(self) -> &'static str {
        match self {
            Side::Request => "request",
            Side::Response => "response",
        }
    }
}

impl<'a> Comparer<'a> {
    fn report(
        &mut self,
        key: String,
        doc_line: Option<usize>,
        spec_line: Option<usize>,
        message: String,
    ) {
        self.out.push(Finding {
            key,
            doc_line,
            spec_line,
            message,
        });
    }

    fn version(&mut self, doc: &Document) {
        if let Some(v) = &doc.version
            && v.text != self.spec.api.doc_version
        {
            self.report(
                "document/version".into(),
                Some(v.line),
                None,
                format!(
                    "the document is {}, the spec describes {}",
                    v.text, self.spec.api.doc_version
                ),
            );
        }
    }

    /// The common parameters, the envelope's table and the summary of error codes.
    fn preamble(&mut self, pre: &Section) {
        let s = pre.number.clone();
        let common: Vec<&Line<FieldSpec>> = self.spec.protocol.common_params.iter().collect();
        self.fields(&s, Side::Request, &pre.request, &common, None);
        for row in &pre.response {
            if !self.is_envelope_key(&row.name) {
                self.report(
                    format!("{s}/response/{}/not_in_spec", row.name),
                    Some(row.line),
                    None,
                    format!(
                        "the envelope's `{}` is not in protocol.envelope_keys",
                        row.name
                    ),
                );
            }
        }
        self.summary_codes(&pre.codes);
    }

    fn is_envelope_key(&self, name: &str) -> bool {
        self.spec
            .protocol
            .envelope_keys
            .value
            .parts()
            .iter()
            .any(|(_, keys)| keys.iter().any(|k| k == name))
    }

    fn summary_codes(&mut self, rows: &[CodeRow]) {
        let by_code: BTreeMap<i64, _> =
            self.spec.errors.iter().map(|e| (e.value.code, e)).collect();
        for row in rows {
            let key = |aspect: &str| format!("errors/{}/{aspect}", row.code);
            match by_code.get(&row.code) {
                None => self.report(
                    key("not_in_spec"),
                    Some(row.line),
                    None,
                    format!(
                        "code {} ({}) is not in the spec's errors",
                        row.code, row.message
                    ),
                ),
                Some(e) => {
                    if e.value.message != row.message {
                        self.report(
                            key("message"),
                            Some(row.line),
                            line_of(e),
                            format!(
                                "code {}: the document says {:?}, the spec {:?}",
                                row.code, row.message, e.value.message
                            ),
                        );
                    }
                    if let Some(g) = &row.group
                        && *g != e.value.group
                    {
                        self.report(
                            key("group"),
                            Some(row.line),
                            line_of(e),
                            format!(
                                "code {}: the document's group is {g}, the spec's {}",
                                row.code, e.value.group
                            ),
                        );
                    }
                }
            }
        }
        for e in &self.spec.errors {
            if !rows.iter().any(|r| r.code == e.value.code) {
                self.report(
                    format!("errors/{}/not_in_doc", e.value.code),
                    None,
                    line_of(e),
                    format!(
                        "code {} ({}) is not in the document's summary",
                        e.value.code, e.value.message
                    ),
                );
            }
        }
    }

    fn endpoints(&mut self, doc: &Document) {
        let spec = self.spec;
        for section in doc.sections.iter().filter(|s| s.address.is_some()) {
            let s = &section.number;
            match spec.endpoints.iter().find(|e| e.value.section == *s) {
                None => self.report(
                    format!("{s}/endpoint/not_in_spec"),
                    Some(section.line),
                    None,
                    format!(
                        "section {s} ({}) has no endpoint in the spec",
                        section.title
                    ),
                ),
                Some(e) => self.endpoint(section, e),
            }
        }
        for e in &spec.endpoints {
            let documented = doc
                .sections
                .iter()
                .any(|s| s.number == e.value.section && s.address.is_some());
            if !documented {
                self.report(
                    format!("{}/endpoint/not_in_doc", e.value.section),
                    None,
                    line_of(e),
                    format!(
                        "endpoint {} (section {}) has no section with a request address in the document",
                        e.value.method, e.value.section
                    ),
                );
            }
        }
    }

    fn endpoint(&mut self, section: &Section, e: &'a Line<EndpointSpec>) {
        let s = &section.number;
        let ep = &e.value;
        let at = line_of(e);
        if section.title != ep.title {
            self.report(
                format!("{s}/title"),
                Some(section.line),
                at,
                format!(
                    "the heading says {:?}, the spec's title {:?}",
                    section.title, ep.title
                ),
            );
        }
        if let Some(addr) = &section.address {
            match self.method_of(&addr.text) {
                Some(m) if m == ep.method => {}
                found => self.report(
                    format!("{s}/method"),
                    Some(addr.line),
                    at,
                    format!(
                        "the address {} names method {}, the spec {}",
                        addr.text,
                        found.as_deref().unwrap_or("(none readable)"),
                        ep.method
                    ),
                ),
            }
        }
        if let Some(verb) = &section.verb {
            let said = verb_of(&verb.text);
            if !said.eq_ignore_ascii_case(&ep.doc_verb.value) {
                self.report(
                    format!("{s}/doc_verb"),
                    Some(verb.line),
                    line_of(&ep.doc_verb),
                    format!(
                        "the document's verb is {said}, the spec's doc_verb {}",
                        ep.doc_verb.value
                    ),
                );
            }
            if !said.eq_ignore_ascii_case(&ep.verb.value) {
                self.report(
                    format!("{s}/verb"),
                    Some(verb.line),
                    line_of(&ep.verb),
                    format!(
                        "the document's verb is {said}, the spec sends {}",
                        ep.verb.value
                    ),
                );
            }
        }
        let request: Vec<&Line<FieldSpec>> = ep.request.fields.iter().collect();
        self.fields(s, Side::Request, &section.request, &request, at);
        self.response(section, e);
        self.section_codes(section, ep);
    }

    /// The method between the path template's prefix and suffix, in an address.
    fn method_of(&self, address: &str) -> Option<String> {
        let address = address.trim_matches(|c| matches!(c, '<' | '>' | '`'));
        let (prefix, suffix) = self.spec.protocol.path.split_once("{method}")?;
        let start = address.find(prefix)? + prefix.len();
        let rest = &address[start..];
        let end = if suffix.is_empty() {
            rest.len()
        } else {
            rest.find(suffix)?
        };
        Some(rest[..end].to_string())
    }

    fn response(&mut self, section: &Section, e: &'a Line<EndpointSpec>) {
        let s = &section.number;
        let data = &e.value.response.value.data;
        let data_key = self.spec.protocol.envelope_keys.value.data.first().cloned();
        let type_name = data.ty.as_ref().or(data.list.as_ref());
        let ty = type_name.and_then(|t| self.spec.types.get(t));
        let mut fields: Vec<&Line<FieldSpec>> = e.value.response.value.fields.iter().collect();
        if let Some(t) = ty {
            fields.extend(t.value.fields.iter());
        }
        let mut rows = Vec::new();
        for row in &section.response {
            if Some(&row.name) == data_key.as_ref() {
                self.data_row(s, row, e);
            } else if !self.is_envelope_key(&row.name) {
                rows.push(row.clone());
            }
        }
        let at = ty.and_then(line_of).or_else(|| line_of(&e.value.response));
        self.fields(s, Side::Response, &rows, &fields, at);
    }

    /// The `data` row's type against `response.data`.
    fn data_row(&mut self, s: &str, row: &Row, e: &Line<EndpointSpec>) {
        let data = &e.value.response.value.data;
        let class = if data.list.is_some() {
            "list".to_string()
        } else if data.none == Some(true) {
            return;
        } else {
            match &data.ty {
                Some(t) => self.class_of_type(t),
                None => return,
            }
        };
        if !self.agrees(&class, &row.ty) {
            self.report(
                format!("{s}/response/{}/type", row.name),
                Some(row.line),
                line_of(&e.value.response),
                format!(
                    "`{}` is {} in the document, {class} in the spec",
                    row.name, row.ty
                ),
            );
        }
    }

    fn section_codes(&mut self, section: &Section, ep: &EndpointSpec) {
        let s = &section.number;
        for row in &section.codes {
            let key = |aspect: &str| format!("{s}/errors/{}/{aspect}", row.code);
            let Some(e) = self.spec.errors.iter().find(|e| e.value.code == row.code) else {
                self.report(
                    key("not_in_spec"),
                    Some(row.line),
                    None,
                    format!(
                        "code {} ({}) is not in the spec's errors",
                        row.code, row.message
                    ),
                );
                continue;
            };
            if e.value.message != row.message {
                self.report(
                    key("message"),
                    Some(row.line),
                    line_of(e),
                    format!(
                        "code {} in section {s}: the document says {:?}, the spec {:?}",
                        row.code, row.message, e.value.message
                    ),
                );
            }
            if !ep.errors.iter().any(|c| c.value == row.code) {
                self.report(
                    key("not_listed"),
                    Some(row.line),
                    None,
                    format!(
                        "code {} is not in the errors of endpoint {}",
                        row.code, ep.method
                    ),
                );
            }
        }
    }

    /// A table's rows against the spec's fields of that table.
    fn fields(
        &mut self,
        s: &str,
        side: Side,
        rows: &[Row],
        fields: &[&Line<FieldSpec>],
        table_line: Option<usize>,
    ) {
        let side_name = side.as_str();
        // The document line of each spec field's row, once found.
        let mut seen: Vec<Option<usize>> = vec![None; fields.len()];
        for row in rows {
            let key = |aspect: &str| format!("{s}/{side_name}/{}/{aspect}", row.name);
            let found = fields
                .iter()
                .position(|f| f.value.wire == row.name || f.value.aliases.contains(&row.name));
            let Some(k) = found else {
                self.report(
                    key("not_in_spec"),
                    Some(row.line),
                    table_line,
                    format!(
                        "`{}` ({}) is in the document's {side_name} table, not in the spec",
                        row.name, row.ty
                    ),
                );
                continue;
            };
            seen[k] = Some(row.line);
            let f = fields[k];
            let at = line_of(f);
            let class = self.class_of(&f.value);
            if !self.agrees(&class, &row.ty) {
                self.report(
                    key("type"),
                    Some(row.line),
                    at,
                    format!(
                        "`{}` is {} in the document, {} ({class}) in the spec",
                        row.name, row.ty, f.value.ty.value
                    ),
                );
            }
            let t = &self.layout.field_table;
            let required = if row.required == t.required_yes {
                Some(true)
            } else if row.required == t.required_no {
                Some(false)
            } else {
                None
            };
            match required {
                Some(r) if r != f.value.required => self.report(
                    key("required"),
                    Some(row.line),
                    at,
                    format!(
                        "`{}` is {} in the document, {} in the spec",
                        row.name,
                        if r { "required" } else { "optional" },
                        if f.value.required {
                            "required"
                        } else {
                            "optional"
                        }
                    ),
                ),
                Some(_) => {}
                None => self.report(
                    key("unreadable"),
                    Some(row.line),
                    at,
                    format!(
                        "`{}`: the required column says {:?}",
                        row.name, row.required
                    ),
                ),
            }
            let said = self.without_location(&row.doc);
            if said != f.value.doc.trim() {
                self.report(
                    key("doc"),
                    Some(row.line),
                    at,
                    format!(
                        "`{}`: the document says {said:?}, the spec's doc {:?}",
                        row.name, f.value.doc
                    ),
                );
            }
            if let Side::Request = side
                && let Some(place) = self.location_of(&row.doc)
            {
                let spec_place = f
                    .value
                    .location
                    .as_ref()
                    .map_or("body", |l| l.value.as_str());
                if place != spec_place {
                    self.report(
                            key("in"),
                            Some(row.line),
                            at,
                            format!("`{}` travels in the {place} in the document, in the {spec_place} in the spec", row.name),
                        );
                }
            }
        }
        for (k, f) in fields.iter().enumerate() {
            if seen[k].is_some() {
                continue;
            }
            // Anchor a field the document lost at the row of the spec field before it.
            let before = (0..k).rev().find_map(|j| seen[j].map(|line| (j, line)));
            let (doc_line, after) = match before {
                Some((j, line)) => (
                    Some(line),
                    format!(" (it would follow `{}`)", fields[j].value.wire),
                ),
                None => (rows.first().map(|r| r.line), String::new()),
            };
            self.report(
                format!("{s}/{side_name}/{}/not_in_doc", f.value.wire),
                doc_line,
                line_of(f),
                format!(
                    "`{}` is in the spec, not in the document's {side_name} table{after}",
                    f.value.wire
                ),
            );
        }
    }

    /// A description without its location marker.
    fn without_location<'d>(&self, doc: &'d str) -> &'d str {
        let marker = self
            .layout
            .field_table
            .locations
            .keys()
            .filter(|m| doc.starts_with(m.as_str()))
            .max_by_key(|m| m.len());
        marker.map_or(doc, |m| &doc[m.len()..]).trim()
    }

    /// Where the document's description says the field travels.
    fn location_of(&self, doc: &str) -> Option<&'a str> {
        self.layout
            .field_table
            .locations
            .iter()
            .filter(|(marker, _)| doc.starts_with(marker.as_str()))
            .max_by_key(|(marker, _)| marker.len())
            .map(|(_, place)| place.as_str())
    }

    /// The type class of a field: its encoding, else its type's class.
    fn class_of(&self, f: &FieldSpec) -> String {
        match &f.encoding {
            Some(enc) => format!("encoding:{}", enc.value),
            None => self.class_of_type(&f.ty.value),
        }
    }

    fn class_of_type(&self, ty: &str) -> String {
        if ty.starts_with("list<") {
            "list".into()
        } else if self.spec.enums.contains_key(ty) {
            "enum".into()
        } else if self.spec.types.contains_key(ty) {
            "object".into()
        } else {
            ty.to_string()
        }
    }

    /// Whether the document's type name agrees with a spec type class.
    fn agrees(&self, class: &str, doc_ty: &str) -> bool {
        let bare = doc_ty.split(['(', '（']).next().unwrap_or_default().trim();
        self.layout
            .types
            .get(class)
            .is_some_and(|names| names.iter().any(|n| n.eq_ignore_ascii_case(bare)))
    }
}

/// The verb as the document writes it, without decoration (`· GET`, `` `post` ``).
fn verb_of(text: &str) -> String {
    text.trim_matches(|c: char| c == '`' || c == '·' || c.is_whitespace())
        .to_string()
}
