//! `cargo xtask diff OLD NEW`: what a spec change does to the generated API, each change
//! with its semver class for the generated crate, and a drafted CHANGELOG entry.
//!
//! Both specs are validated and compared as the generator sees them ([`crate::ir::Api`]), so the
//! verdict follows the generated code's shape:
//! - every generated struct and enum is `#[non_exhaustive]`, so a new field, enum value or
//!   error code is **minor**;
//! - a request's required fields are `new`'s arguments (or its `Args` struct), so a new
//!   required field, or a field whose required flag changes, is **major**;
//! - a received (tolerant) struct holds every field as an `Option`, so its required flag
//!   only documents the table: **patch**;
//! - anything removed or renamed, and any Rust type change, is **major**;
//! - what changes only the wire or the docs (method name, verb, encoding, query or body,
//!   texts, examples) is **patch**; what changes behaviour without changing a signature
//!   (retry class, idempotency, credential, daily limit, client-side rules) is **minor**.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use crate::ir::{Api, Data, Endpoint, Enum, ErrorCode, Field, Struct, StructStyle, Ty};

/// A semver class, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Patch,
    Minor,
    Major,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Patch => "patch",
            Level::Minor => "minor",
            Level::Major => "major",
        })
    }
}

/// One change to the generated API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub level: Level,
    /// What the change touches, as a Rust user names it (`client.create_member`,
    /// `CreateMemberRequest.realname`, `ErrorCode::MemberDeregistered`).
    pub item: String,
    pub what: String,
}

/// Every change between two specs of one API.
#[derive(Debug, Clone)]
pub struct ApiDiff {
    pub api: String,
    pub old_doc_version: String,
    pub new_doc_version: String,
    pub changes: Vec<Change>,
}

impl ApiDiff {
    /// The most severe class, or `None` when nothing changed.
    pub fn verdict(&self) -> Option<Level> {
        self.changes.iter().map(|c| c.level).max()
    }

    /// The version after `current` that the verdict asks for. Before 1.0 a breaking change
    /// bumps the minor number and anything else the patch number (cargo's rule).
    pub fn next_version(&self, current: &str) -> Option<String> {
        let mut parts = current.split('.').map(|p| p.parse::<u64>().ok());
        let (Some(Some(major)), Some(Some(minor)), Some(Some(patch))) =
            (parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let bump = |n: u64| n.checked_add(1);
        let next = match (self.verdict()?, major) {
            (Level::Major, 0) => (0, bump(minor)?, 0),
            (Level::Major, m) => (bump(m)?, 0, 0),
            (Level::Minor, 0) | (Level::Patch, _) => (major, minor, bump(patch)?),
            (Level::Minor, m) => (m, bump(minor)?, 0),
        };
        Some(format!("{}.{}.{}", next.0, next.1, next.2))
    }

    /// The changes, one per line with its class, and the verdict.
    pub fn render(&self, current_version: &str) -> String {
        let mut out = format!(
            "{}: document {} -> {}\n",
            self.api, self.old_doc_version, self.new_doc_version
        );
        for c in &self.changes {
            let _ = writeln!(out, "  {:<5}  {}: {}", c.level.to_string(), c.item, c.what);
        }
        match (self.verdict(), self.next_version(current_version)) {
            (None, _) => out.push_str("verdict: no change to the generated API\n"),
            (Some(level), Some(next)) => {
                let _ = writeln!(out, "verdict: {level} ({current_version} -> {next})");
            }
            (Some(level), None) => {
                let _ = writeln!(
                    out,
                    "verdict: {level} (version {current_version:?} is not x.y.z)"
                );
            }
        }
        out
    }

    /// A drafted CHANGELOG entry (Keep a Changelog headings), to edit before release.
    pub fn changelog_entry(&self, current_version: &str) -> String {
        let next = self
            .next_version(current_version)
            .unwrap_or_else(|| "UNRELEASED".into());
        let mut out = format!(
            "## [{next}] - unreleased\n\nDocument {} (was {}). Semver: {}.\n",
            self.new_doc_version,
            self.old_doc_version,
            self.verdict()
                .map_or("no API change".into(), |l| l.to_string())
        );
        let groups: [(&str, Pick); 4] = [
            ("Breaking", |c| c.level == Level::Major),
            ("Added", |c| {
                c.level == Level::Minor && c.what.starts_with("added")
            }),
            ("Changed", |c| {
                c.level == Level::Minor && !c.what.starts_with("added")
            }),
            ("Documentation and wire", |c| c.level == Level::Patch),
        ];
        for (title, pick) in groups {
            let items: Vec<&Change> = self.changes.iter().filter(|c| pick(c)).collect();
            if items.is_empty() {
                continue;
            }
            let _ = write!(out, "\n### {title}\n\n");
            for c in items {
                let _ = writeln!(out, "- `{}`: {}", c.item, c.what);
            }
        }
        out
    }
}

/// Whether a change belongs under a CHANGELOG heading.
type Pick = fn(&Change) -> bool;

/// Compares two validated specs of one API.
pub fn diff(old: &Api, new: &Api) -> ApiDiff {
    let mut d = Differ { out: Vec::new() };
    d.endpoints(&old.endpoints, &new.endpoints);
    d.structs(&old.structs, &new.structs);
    d.enums(&old.enums, &new.enums);
    d.errors(&old.errors, &new.errors);
    if old.document != new.document {
        d.push(
            Level::Patch,
            "document".into(),
            format!("{} -> {}", old.document, new.document),
        );
    }
    ApiDiff {
        api: new.name.clone(),
        old_doc_version: old.doc_version.clone(),
        new_doc_version: new.doc_version.clone(),
        changes: d.out,
    }
}

struct Differ {
    out: Vec<Change>,
}

/// Items of two lists paired by key: (old only, both, new only), each in list order.
fn pair<'a, T>(
    old: &'a [T],
    new: &'a [T],
    key: impl Fn(&T) -> String,
) -> (Vec<&'a T>, Vec<(&'a T, &'a T)>, Vec<&'a T>) {
    let new_by: BTreeMap<String, &T> = new.iter().map(|t| (key(t), t)).collect();
    let old_by: BTreeMap<String, &T> = old.iter().map(|t| (key(t), t)).collect();
    let removed = old
        .iter()
        .filter(|t| !new_by.contains_key(&key(t)))
        .collect();
    let both = old
        .iter()
        .filter_map(|t| new_by.get(&key(t)).map(|n| (t, *n)))
        .collect();
    let added = new
        .iter()
        .filter(|t| !old_by.contains_key(&key(t)))
        .collect();
    (removed, both, added)
}

impl Differ {
    fn push(&mut self, level: Level, item: String, what: String) {
        self.out.push(Change { level, item, what });
    }

    fn endpoints(&mut self, old: &[Endpoint], new: &[Endpoint]) {
        let (removed, both, added) = pair(old, new, |e| e.name.clone());
        for e in removed {
            self.push(
                Level::Major,
                format!("client.{}", e.name),
                format!("removed (section {}, {})", e.section, e.method),
            );
        }
        for (o, n) in both {
            self.endpoint(o, n);
        }
        for e in added {
            self.push(
                Level::Minor,
                format!("client.{}", e.name),
                format!(
                    "added: section {} {} ({}), request {}Request",
                    e.section,
                    e.title,
                    e.method,
                    e.type_stem()
                ),
            );
        }
    }

    fn endpoint(&mut self, o: &Endpoint, n: &Endpoint) {
        let item = format!("client.{}", n.name);
        let scalars = [
            ("method", o.method.clone(), n.method.clone(), Level::Patch),
            (
                "section",
                o.section.clone(),
                n.section.clone(),
                Level::Patch,
            ),
            (
                "verb",
                o.verb_str().into(),
                n.verb_str().into(),
                Level::Patch,
            ),
            ("title", o.title.clone(), n.title.clone(), Level::Patch),
            (
                "errors",
                format!("{:?}", o.errors),
                format!("{:?}", n.errors),
                Level::Patch,
            ),
            (
                "credential",
                format!("{:?}", o.credential),
                format!("{:?}", n.credential),
                Level::Minor,
            ),
            (
                "idempotency",
                format!("{:?}", o.idempotency),
                format!("{:?}", n.idempotency),
                Level::Minor,
            ),
            (
                "daily limit",
                format!("{:?}", o.daily_limit),
                format!("{:?}", n.daily_limit),
                Level::Minor,
            ),
        ];
        for (what, a, b, level) in scalars {
            if a != b {
                self.push(level, item.clone(), format!("{what} {a} -> {b}"));
            }
        }
        if format!("{:?}", o.rules) != format!("{:?}", n.rules) {
            self.push(
                Level::Minor,
                item.clone(),
                format!(
                    "client-side checks changed ({} rule(s) -> {})",
                    o.rules.len(),
                    n.rules.len()
                ),
            );
        }
        match (&o.paging, &n.paging) {
            (None, Some(_)) => self.push(
                Level::Minor,
                item.clone(),
                "added: paging (a stream of items)".into(),
            ),
            (Some(_), None) => self.push(Level::Major, item.clone(), "paging removed".into()),
            _ => {}
        }
        if data_type(&o.data) != data_type(&n.data) {
            self.push(
                Level::Major,
                item.clone(),
                format!("returns {} -> {}", data_type(&o.data), data_type(&n.data)),
            );
        }
        self.fields(&o.request, &n.request);
    }

    fn structs(&mut self, old: &[Struct], new: &[Struct]) {
        let (removed, both, added) = pair(old, new, |s| s.name.clone());
        for s in removed {
            self.push(Level::Major, s.name.clone(), "removed".into());
        }
        for (o, n) in both {
            self.fields(o, n);
        }
        for s in added {
            self.push(Level::Minor, s.name.clone(), format!("added: {}", s.gloss));
        }
    }

    /// Field changes of one struct, classed by how the struct is built.
    fn fields(&mut self, o: &Struct, n: &Struct) {
        let request = n.style == StructStyle::Request;
        let (removed, both, added) = pair(&o.fields, &n.fields, |f| f.wire.clone());
        let item = |f: &Field| format!("{}.{}", n.name, f.name);
        for f in removed {
            self.push(
                Level::Major,
                format!("{}.{}", o.name, f.name),
                format!("removed (wire {})", f.wire),
            );
        }
        for (a, b) in both {
            self.field(&item(b), request, a, b);
        }
        for f in added {
            let (level, how) = if request && f.required {
                (Level::Major, "added, required: a new argument of `new`")
            } else {
                (Level::Minor, "added, optional")
            };
            self.push(
                level,
                item(f),
                format!("{how} ({}: {})", ty_name(&f.ty), f.gloss),
            );
        }
    }

    fn field(&mut self, item: &str, request: bool, a: &Field, b: &Field) {
        if a.name != b.name {
            self.push(
                Level::Major,
                item.into(),
                format!("renamed from {}", a.name),
            );
        }
        if a.ty != b.ty {
            self.push(
                Level::Major,
                item.into(),
                format!("type {} -> {}", ty_name(&a.ty), ty_name(&b.ty)),
            );
        }
        if a.required != b.required {
            let says = |r: bool| if r { "required" } else { "optional" };
            let (level, why) = if request {
                (Level::Major, ": `new`'s arguments change")
            } else {
                (
                    Level::Patch,
                    " (documentation: a received field is always an Option)",
                )
            };
            self.push(
                level,
                item.into(),
                format!("{} -> {}{why}", says(a.required), says(b.required)),
            );
        }
        let patch = [
            (
                "encoding",
                format!("{:?}", a.encoding),
                format!("{:?}", b.encoding),
            ),
            (
                "travels in query",
                a.in_query.to_string(),
                b.in_query.to_string(),
            ),
            ("aliases", a.aliases.join(","), b.aliases.join(",")),
            (
                "sensitivity",
                format!("{:?}", a.sensitive),
                format!("{:?}", b.sensitive),
            ),
            ("doc", a.doc.clone(), b.doc.clone()),
        ];
        for (what, x, y) in patch {
            if x != y {
                self.push(Level::Patch, item.into(), format!("{what} {x:?} -> {y:?}"));
            }
        }
    }

    fn enums(&mut self, old: &[Enum], new: &[Enum]) {
        let (removed, both, added) = pair(old, new, |e| e.name.clone());
        for e in removed {
            self.push(Level::Major, e.name.clone(), "removed".into());
        }
        for (o, n) in both {
            let (gone, kept, new_values) = pair(&o.values, &n.values, |v| v.value.to_string());
            for v in gone {
                self.push(
                    Level::Major,
                    format!("{}::{}", o.name, v.name),
                    format!("removed (value {})", v.value),
                );
            }
            for (a, b) in kept {
                if a.name != b.name {
                    self.push(
                        Level::Major,
                        format!("{}::{}", n.name, b.name),
                        format!("renamed from {} (value {})", a.name, a.value),
                    );
                }
            }
            for v in new_values {
                self.push(
                    Level::Minor,
                    format!("{}::{}", n.name, v.name),
                    format!("added: value {} ({})", v.value, v.doc),
                );
            }
        }
        for e in added {
            self.push(Level::Minor, e.name.clone(), format!("added: {}", e.gloss));
        }
    }

    fn errors(&mut self, old: &[ErrorCode], new: &[ErrorCode]) {
        let (removed, both, added) = pair(old, new, |e| e.code.to_string());
        for e in removed {
            self.push(
                Level::Major,
                format!("ErrorCode::{}", e.name),
                format!("removed (code {})", e.code),
            );
        }
        for (a, b) in both {
            let item = format!("ErrorCode::{}", b.name);
            if a.name != b.name {
                self.push(
                    Level::Major,
                    item.clone(),
                    format!("renamed from {} (code {})", a.name, a.code),
                );
            }
            if a.category != b.category || a.retryable != b.retryable {
                self.push(
                    Level::Minor,
                    item.clone(),
                    format!(
                        "category {} -> {}, retryable {} -> {}",
                        a.category, b.category, a.retryable, b.retryable
                    ),
                );
            }
            if a.message != b.message {
                self.push(
                    Level::Patch,
                    item.clone(),
                    format!("message {:?} -> {:?}", a.message, b.message),
                );
            }
        }
        for e in added {
            self.push(
                Level::Minor,
                format!("ErrorCode::{}", e.name),
                format!(
                    "added: code {} {} ({}, {})",
                    e.code,
                    e.message,
                    e.category,
                    if e.retryable {
                        "retryable"
                    } else {
                        "not retryable"
                    }
                ),
            );
        }
    }
}

fn data_type(d: &Data) -> String {
    match d {
        Data::None => "nothing".into(),
        Data::One(t) => ty_name(t),
        Data::List(t) => format!("list<{}>", ty_name(t)),
        Data::Confirmation { false_is_error } => format!("() (false is {false_is_error})"),
    }
}

/// A type as the spec writes it.
fn ty_name(t: &Ty) -> String {
    match t {
        Ty::String => "string".into(),
        Ty::Bool => "bool".into(),
        Ty::I32 => "i32".into(),
        Ty::I64 => "i64".into(),
        Ty::Yuan => "yuan".into(),
        Ty::Fen => "fen".into(),
        Ty::Date(_) => "date".into(),
        Ty::DateTime(_) => "datetime".into(),
        Ty::TimestampMs => "timestamp_ms".into(),
        Ty::Json => "json".into(),
        Ty::Id => "id".into(),
        Ty::List(t) => format!("list<{}>", ty_name(t)),
        Ty::Enum(n) | Ty::Struct(n) => n.clone(),
    }
}
