//! `cargo xtask audit-doc PATH`: reads a vendor document and reports every disagreement
//! with the spec that no erratum explains.
//!
//! The spec stays hand-maintained; the audit makes sure nothing in a new document slips
//! past it. The document's layout is the spec's `audit` key; the erratum that explains a
//! difference names it in `covers`. An erratum key that covers nothing is reported too
//! (stale): the document no longer says what the erratum explains.

mod compare;
mod document;

use std::fmt::{self, Write as _};

pub use compare::Finding;
pub use document::Document;

use crate::spec::SpecFile;
use crate::validate::{self, SpecErrors};

/// What the audit found.
#[derive(Debug)]
pub struct Report {
    /// The document's path as given, for line references.
    pub doc_path: String,
    pub spec_path: String,
    /// Every difference, in document order, each with the erratum that explains it.
    pub findings: Vec<(Finding, Option<String>)>,
    /// Errata keys that explain no difference: (erratum id, key, spec line).
    pub stale: Vec<(String, String, Option<usize>)>,
    /// What the reader found, so a layout it failed to recognise shows as small counts.
    pub read: Counts,
}

/// How much of the document the audit read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Sections with a request address.
    pub endpoints: usize,
    /// Field table rows, in all sections and the preamble.
    pub field_rows: usize,
    /// Error-code table rows.
    pub code_rows: usize,
}

impl Report {
    pub fn unexplained(&self) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(|(_, by)| by.is_none())
            .map(|(f, _)| f)
    }

    /// True when there is nothing to fix: every difference explained, no stale key.
    pub fn is_clean(&self) -> bool {
        self.unexplained().next().is_none() && self.stale.is_empty()
    }

    /// The report as printed: unexplained differences (all, with `verbose`), stale keys,
    /// and a summary line.
    pub fn render(&self, verbose: bool) -> String {
        let mut out = String::new();
        for (f, by) in &self.findings {
            if by.is_some() && !verbose {
                continue;
            }
            let doc = f.doc_line.map_or_else(
                || self.doc_path.clone(),
                |l| format!("{}:{l}", self.doc_path),
            );
            let spec = f
                .spec_line
                .map_or_else(String::new, |l| format!(" [{}:{l}]", self.spec_path));
            let why = by
                .as_ref()
                .map_or_else(String::new, |id| format!(" (explained by {id})"));
            let _ = writeln!(out, "{doc}: {}: {}{spec}{why}", f.key, f.message);
        }
        for (id, key, line) in &self.stale {
            let at = line.map_or_else(String::new, |l| format!(":{l}"));
            let _ = writeln!(
                out,
                "{}{at}: errata {id} covers `{key}`, which the document does not differ on (stale)",
                self.spec_path
            );
        }
        let explained = self.findings.len() - self.unexplained().count();
        let r = self.read;
        let _ = writeln!(
            out,
            "audit-doc: read {} sections with a request address, {} field rows, {} error-code rows",
            r.endpoints, r.field_rows, r.code_rows
        );
        let _ = writeln!(
            out,
            "audit-doc: {} difference(s): {} unexplained, {explained} explained by errata; {} stale errata key(s)",
            self.findings.len(),
            self.unexplained().count(),
            self.stale.len()
        );
        out
    }
}

/// Why the audit could not run.
#[derive(Debug)]
pub enum AuditError {
    Spec(SpecErrors),
    /// The spec has no `audit` key: it does not say how its document is laid out.
    NoLayout {
        spec_path: String,
    },
}

impl fmt::Display for AuditError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditError::Spec(e) => write!(f, "{e}"),
            AuditError::NoLayout { spec_path } => write!(
                f,
                "{spec_path} has no `audit` key: it does not describe its document's layout"
            ),
        }
    }
}

impl std::error::Error for AuditError {}

/// Audits the document `doc_text` against the spec `spec_text`.
pub fn audit(
    spec_path: &str,
    spec_text: &str,
    doc_path: &str,
    doc_text: &str,
) -> Result<Report, AuditError> {
    validate::load(spec_path, spec_text).map_err(AuditError::Spec)?;
    let spec: SpecFile = serde_saphyr::from_str(spec_text).map_err(|e| {
        AuditError::Spec(SpecErrors {
            path: spec_path.to_string(),
            problems: vec![(None, format!("not a valid spec: {e}"))],
        })
    })?;
    let layout = spec.audit.as_ref().ok_or_else(|| AuditError::NoLayout {
        spec_path: spec_path.to_string(),
    })?;
    let doc = Document::read(doc_text, layout);
    let all = || std::iter::once(&doc.preamble).chain(&doc.sections);
    let read = Counts {
        endpoints: doc.sections.iter().filter(|s| s.address.is_some()).count(),
        field_rows: all().map(|s| s.request.len() + s.response.len()).sum(),
        code_rows: all().map(|s| s.codes.len()).sum(),
    };
    let found = compare::compare(&spec, layout, &doc);
    let covers: Vec<(&str, &str, Option<usize>)> = spec
        .errata
        .iter()
        .flat_map(|e| {
            e.value.covers.iter().map(move |k| {
                let line = Some(k.referenced.line() as usize).filter(|l| *l > 0);
                (e.value.id.as_str(), k.value.as_str(), line)
            })
        })
        .collect();
    let mut used = vec![false; covers.len()];
    let mut findings = Vec::new();
    for f in found {
        let mut by = None;
        // Every covering key counts as used, not only the first.
        for (i, (id, key, _)) in covers.iter().enumerate() {
            if key_matches(key, &f.key) {
                used[i] = true;
                by.get_or_insert_with(|| id.to_string());
            }
        }
        findings.push((f, by));
    }
    findings.sort_by_key(|(f, _)| (f.doc_line.unwrap_or(usize::MAX), f.spec_line));
    let stale = covers
        .iter()
        .zip(used)
        .filter(|(_, u)| !u)
        .map(|((id, key, line), _)| (id.to_string(), key.to_string(), *line))
        .collect();
    Ok(Report {
        doc_path: doc_path.to_string(),
        spec_path: spec_path.to_string(),
        findings,
        stale,
        read,
    })
}

/// Checks the form of an erratum's `covers` key: `/`-separated segments, none empty or
/// with spaces, at least two, ending with an aspect the audit reports
/// (`compare::ASPECTS`).
pub fn check_key(key: &str) -> Result<(), String> {
    let segments: Vec<&str> = key.split('/').collect();
    if segments.len() < 2
        || segments
            .iter()
            .any(|s| s.is_empty() || s.contains(char::is_whitespace))
    {
        return Err(
            "a key is two or more `/`-separated segments without spaces (`3.8/verb`)".into(),
        );
    }
    let aspect = segments[segments.len() - 1];
    if !compare::ASPECTS.contains(&aspect) {
        return Err(format!(
            "`{aspect}` is not an aspect the audit reports (one of {})",
            compare::ASPECTS.join(", ")
        ));
    }
    Ok(())
}

/// Whether an erratum's key covers a finding's key: segment by segment, `*` matching any
/// one segment.
pub fn key_matches(pattern: &str, key: &str) -> bool {
    let (p, k): (Vec<&str>, Vec<&str>) = (pattern.split('/').collect(), key.split('/').collect());
    p.len() == k.len() && p.iter().zip(&k).all(|(p, k)| *p == "*" || p == k)
}

#[cfg(test)]
mod tests {
    use super::key_matches;

    #[test]
    fn keys_match_segment_by_segment() {
        assert!(key_matches("3.8/verb", "3.8/verb"));
        assert!(key_matches(
            "*/request/timestamp/type",
            "3.1/request/timestamp/type"
        ));
        assert!(!key_matches(
            "*/request/timestamp/type",
            "3.1/request/timestamp"
        ));
        assert!(!key_matches("3.8/verb", "3.8/doc_verb"));
        assert!(!key_matches("3.8", "3.8/verb"));
    }
}
