//! Reads a vendor document in its text form into sections, tables and code lists, each
//! with its line number. What the layout looks like (headings, table headers, marks) comes
//! from the spec's `audit` key ([`AuditSpec`]); nothing here names a vendor.
//!
//! The reader is forgiving by design: a document is prose with tables, and a row it cannot
//! read becomes a [`Row`] with what it could read, so the comparison reports it rather
//! than the reader dropping it.

use crate::spec::AuditSpec;

/// One row of a field table (`参数名称 参数类型 必选 参数说明 示例值` in UMP's layout).
#[derive(Debug, Clone)]
pub struct Row {
    /// 1-based line of the document.
    pub line: usize,
    pub name: String,
    /// The type cell as written.
    pub ty: String,
    /// The required cell as written.
    pub required: String,
    /// The description cell as written, location marker included.
    pub doc: String,
}

/// One row of an error-code table.
#[derive(Debug, Clone)]
pub struct CodeRow {
    pub line: usize,
    pub code: i64,
    pub message: String,
    /// The group heading row above it (`用户相关`), if any.
    pub group: Option<String>,
}

/// A line's text and number.
#[derive(Debug, Clone)]
pub struct Noted {
    pub line: usize,
    pub text: String,
}

/// One numbered section (`2.1 获取授权access_token`), or the preamble before the first.
#[derive(Debug, Clone, Default)]
pub struct Section {
    pub number: String,
    pub title: String,
    pub line: usize,
    /// The line after the address heading.
    pub address: Option<Noted>,
    /// The line after the verb heading.
    pub verb: Option<Noted>,
    /// Field tables under the request heading (or the common-parameters heading).
    pub request: Vec<Row>,
    /// Field tables under the response heading.
    pub response: Vec<Row>,
    /// Error-code tables.
    pub codes: Vec<CodeRow>,
}

/// The document as the audit reads it.
#[derive(Debug, Clone)]
pub struct Document {
    /// The last row of the revision table (version, line), if the layout names that table.
    pub version: Option<Noted>,
    /// Everything before the first numbered section.
    pub preamble: Section,
    pub sections: Vec<Section>,
}

/// What the last heading line said a following table is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Part {
    None,
    Request,
    Response,
}

/// Splits a table line into trimmed cells.
fn cells(line: &str) -> Vec<&str> {
    line.split('\t').map(str::trim).collect()
}

/// `2.1 标题`, `3.4.1 标题`: a dotted number of at least `depth` parts, then a title.
fn section_heading(line: &str, depth: usize) -> Option<(String, String)> {
    let line = line.trim();
    let end = line
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(line.len());
    let (number, title) = line.split_at(end);
    let title = title.trim();
    let parts: Vec<&str> = number.split('.').collect();
    let well_formed = !number.ends_with('.')
        && parts.len() >= depth
        && parts.iter().all(|p| !p.is_empty())
        && !title.is_empty();
    well_formed.then(|| (number.to_string(), title.to_string()))
}

impl Document {
    /// Reads `text` with the layout `layout`.
    pub fn read(text: &str, layout: &AuditSpec) -> Document {
        let mut doc = Document {
            version: None,
            preamble: Section {
                number: layout.preamble_section.clone(),
                ..Section::default()
            },
            sections: Vec::new(),
        };
        let lines: Vec<&str> = text.lines().collect();
        let mut part = Part::None;
        let mut in_fence = false;
        let mut table: Option<Table> = None;
        let mut group: Option<String> = None;
        let mut i = 0;
        while i < lines.len() {
            let raw = lines[i];
            let line_no = i + 1;
            let trimmed = raw.trim();
            i += 1;
            if trimmed.starts_with("```") {
                in_fence = !in_fence;
                table = None;
                continue;
            }
            if in_fence {
                continue;
            }
            if trimmed.is_empty() {
                table = None;
                continue;
            }
            let row = cells(raw);
            if let Some(kind) = layout.table_kind(&row) {
                table = Some(kind);
                group = None;
                continue;
            }
            if let Some(kind) = table {
                let section = doc.sections.last_mut().unwrap_or(&mut doc.preamble);
                match kind {
                    Table::Fields => {
                        let cell = |k: usize| row.get(k).map(|s| s.to_string()).unwrap_or_default();
                        let r = Row {
                            line: line_no,
                            name: cell(0),
                            ty: cell(1),
                            required: cell(2),
                            doc: cell(3),
                        };
                        match part {
                            Part::Response => section.response.push(r),
                            _ => section.request.push(r),
                        }
                    }
                    Table::Codes => match row.first().and_then(|c| c.parse::<i64>().ok()) {
                        Some(code) => section.codes.push(CodeRow {
                            line: line_no,
                            code,
                            message: row.get(1).map(|s| s.to_string()).unwrap_or_default(),
                            group: group.clone(),
                        }),
                        None => group = row.first().map(|s| s.to_string()),
                    },
                    Table::Revisions => {
                        if let Some(v) = row.first().filter(|v| !v.is_empty()) {
                            doc.version = Some(Noted {
                                line: line_no,
                                text: v.to_string(),
                            });
                        }
                    }
                }
                continue;
            }
            if let Some((number, title)) = section_heading(trimmed, layout.section_depth) {
                doc.sections.push(Section {
                    number,
                    title,
                    line: line_no,
                    ..Section::default()
                });
                part = Part::None;
                continue;
            }
            let section = doc.sections.last_mut().unwrap_or(&mut doc.preamble);
            let next = || next_nonblank(&lines, i);
            if trimmed == layout.address_heading {
                section.address = next();
            } else if trimmed == layout.verb_heading {
                section.verb = next();
            } else if trimmed == layout.request_heading || trimmed == layout.common_heading {
                part = Part::Request;
            } else if trimmed == layout.response_heading {
                part = Part::Response;
            }
        }
        doc
    }
}

/// The next non-blank line at or after index `from`, trimmed.
fn next_nonblank(lines: &[&str], from: usize) -> Option<Noted> {
    lines
        .iter()
        .enumerate()
        .skip(from)
        .find(|(_, l)| !l.trim().is_empty())
        .map(|(k, l)| Noted {
            line: k + 1,
            text: l.trim().to_string(),
        })
}

/// Which table a header line opens.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Table {
    Fields,
    Codes,
    Revisions,
}

impl AuditSpec {
    /// The table whose header `row` is, if any.
    fn table_kind(&self, row: &[&str]) -> Option<Table> {
        let is = |header: &[String]| {
            row.len() >= header.len() && header.iter().zip(row).all(|(h, c)| h == c)
        };
        if is(&self.field_table.header) {
            Some(Table::Fields)
        } else if self.code_table_headers.iter().any(|h| is(h)) {
            Some(Table::Codes)
        } else if self.revision_table_header.as_deref().is_some_and(is) {
            Some(Table::Revisions)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::section_heading;

    #[test]
    fn headings_are_dotted_numbers_with_a_title() {
        assert_eq!(
            section_heading("3.4.1 会员积分回退接口", 2),
            Some(("3.4.1".into(), "会员积分回退接口".into()))
        );
        assert_eq!(
            section_heading("2.1 获取授权access_token", 2),
            Some(("2.1".into(), "获取授权access_token".into()))
        );
        // Chapters and numbered list items are not sections.
        assert_eq!(section_heading("3.会员接口", 2), None);
        assert_eq!(
            section_heading("2. 将排序好的参数名和参数值拼装在一起", 2),
            None
        );
        assert_eq!(section_heading("1.5", 2), None);
        assert_eq!(section_heading("1000.4", 2), None);
    }
}
