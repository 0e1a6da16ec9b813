//! What goes to stdout: one JSON document per call (pretty, stable key order: the
//! model's), one line per item with `--jsonl`, or a table with `--output table`. Values
//! are written from their exact JSON text, never through `f64`.

use std::fmt;
use std::io::Write;

use serde::Serialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::run::CliError;

/// How results are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Json,
    Table,
}

/// Where and how results are written.
#[derive(Debug, Clone, Copy, Default)]
pub struct Output {
    pub format: Format,
    /// Streams as one JSON document per line.
    pub jsonl: bool,
}

fn io(e: std::io::Error) -> CliError {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return CliError::output_closed();
    }
    CliError::failed(format!("cannot write the output: {e}"))
}

fn json<T: Serialize + ?Sized>(value: &T, pretty: bool) -> Result<String, CliError> {
    let text = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    text.map_err(|e| CliError::failed(format!("cannot encode the result: {e}")))
}

impl Output {
    /// Writes one result.
    pub fn document<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), CliError> {
        let text = match self.format {
            Format::Json => json(value, !self.jsonl)?,
            Format::Table => table(&json(value, false)?),
        };
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}").map_err(io)
    }

    /// Starts writing a stream of items.
    pub fn stream(&self) -> Stream {
        Stream {
            output: *self,
            count: 0,
            rows: Vec::new(),
        }
    }
}

/// Items written as they come (JSON, JSON lines), or kept for one table at the end.
pub struct Stream {
    output: Output,
    count: u64,
    rows: Vec<String>,
}

impl Stream {
    pub fn item<T: Serialize>(&mut self, item: &T) -> Result<(), CliError> {
        let mut out = std::io::stdout().lock();
        match (self.output.format, self.output.jsonl) {
            (Format::Table, _) => self.rows.push(json(item, false)?),
            (Format::Json, true) => writeln!(out, "{}", json(item, false)?).map_err(io)?,
            (Format::Json, false) => {
                let sep = if self.count == 0 { "[\n" } else { ",\n" };
                write!(out, "{sep}{}", indent(&json(item, true)?)).map_err(io)?;
            }
        }
        self.count = self.count.saturating_add(1);
        Ok(())
    }

    pub fn finish(self) -> Result<(), CliError> {
        let mut out = std::io::stdout().lock();
        match (self.output.format, self.output.jsonl) {
            (Format::Table, _) => {
                writeln!(out, "{}", table(&format!("[{}]", self.rows.join(",")))).map_err(io)
            }
            (Format::Json, true) => Ok(()),
            (Format::Json, false) if self.count == 0 => writeln!(out, "[]").map_err(io),
            (Format::Json, false) => writeln!(out, "\n]").map_err(io),
        }
    }
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// An object's members in their order, each as raw JSON.
struct Ordered(Vec<(String, Box<RawValue>)>);

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut members = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Box<RawValue>>()? {
                    members.push((k, v));
                }
                Ok(Ordered(members))
            }
        }
        d.deserialize_map(V)
    }
}

/// A cell of column `key`: a time as Beijing time, a string without its quotes, anything
/// else as its JSON text.
fn cell_of(key: &str, raw: &RawValue) -> String {
    time_cell(key, raw.get()).unwrap_or_else(|| cell(raw))
}

/// Milliseconds since 1970 in a column named as a time (`…time`, `…date`, `…_at`), as
/// `yyyy-MM-dd HH:mm:ss` Beijing time; the replies carry their times so, and a table is
/// for reading. Only values from 2000 to 2100 are taken for times (a count or an amount
/// in such a column stays as it is); JSON output keeps the numbers.
fn time_cell(key: &str, text: &str) -> Option<String> {
    let key = key.to_ascii_lowercase();
    if !(key.ends_with("time") || key.ends_with("date") || key.ends_with("_at")) {
        return None;
    }
    let ms: i64 = text.trim_matches('"').parse().ok()?;
    const Y2000_MS: i64 = 946_684_800_000;
    const Y2100_MS: i64 = 4_102_444_800_000;
    if !(Y2000_MS..Y2100_MS).contains(&ms) {
        return None;
    }
    gree_ump::wire::BeijingDateTime::from_timestamp_ms(ms).map(|t| t.to_string())
}

/// A cell: a string without its quotes, anything else as its JSON text.
fn cell(raw: &RawValue) -> String {
    let text = raw.get();
    if text.starts_with('"') {
        serde_json::from_str::<String>(text).unwrap_or_else(|_| text.to_string())
    } else {
        text.to_string()
    }
}

/// Terminal columns a text takes (wide CJK characters take two).
fn width(text: &str) -> usize {
    text.chars()
        .map(|c| if (c as u32) >= 0x1100 { 2 } else { 1 })
        .sum()
}

/// A list of objects as rows under a header; one object as key/value lines; anything else
/// as its JSON text.
fn table(json: &str) -> String {
    let rows: Vec<Ordered> = match serde_json::from_str::<Vec<Ordered>>(json) {
        Ok(rows) => rows,
        Err(_) => match serde_json::from_str::<Ordered>(json) {
            Ok(one) => {
                let rows: Vec<Vec<String>> = one
                    .0
                    .iter()
                    .map(|(k, v)| vec![k.clone(), cell_of(k, v)])
                    .collect();
                return grid(&["field".into(), "value".into()], &rows);
            }
            Err(_) => return json.to_string(),
        },
    };
    let mut columns: Vec<String> = Vec::new();
    for r in &rows {
        for (k, _) in &r.0 {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            columns
                .iter()
                .map(|c| {
                    r.0.iter()
                        .find(|(k, _)| k == c)
                        .map(|(k, v)| cell_of(k, v))
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect();
    grid(&columns, &cells)
}

fn grid(header: &[String], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(width(c));
            }
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w.saturating_sub(width(c)))))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    let mut out = vec![line(header)];
    out.push(
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  "),
    );
    out.extend(rows.iter().map(|r| line(r)));
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::table;

    #[test]
    fn tables_keep_order_and_exact_numbers() {
        let t = table(r#"[{"name":"银卡","amount":1000.40},{"name":"a","extra":true}]"#);
        assert_eq!(
            t,
            "name  amount   extra\n----  -------  -----\n银卡  1000.40\na              true"
        );
        assert_eq!(
            table(r#"{"a":1,"b":"x"}"#),
            "field  value\n-----  -----\na      1\nb      x"
        );
        assert_eq!(table("42"), "42");
    }

    /// Times in a table read as Beijing time; numbers that are not times stay numbers.
    #[test]
    fn table_cells_show_times_as_beijing_time() {
        let t = table(
            r#"[{"create_time":1765072800000,"expireDate":"1765072800000","score":1765072800000,"end_time":5}]"#,
        );
        assert!(t.contains("2025-12-07 10:00:00"), "{t}");
        assert_eq!(t.matches("2025-12-07 10:00:00").count(), 2, "{t}");
        assert!(t.contains("1765072800000"), "a score is not a time: {t}");
        assert!(t.contains(" 5"), "5 ms is no time of this century: {t}");
        let one = table(r#"{"use_time":1765072800000}"#);
        assert!(one.contains("2025-12-07 10:00:00"), "{one}");
    }
}
