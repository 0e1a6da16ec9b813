//! The vendor document a crate describes, recorded in its `Cargo.toml` as
//! `[package.metadata.vendor-document]`, so that tools (and people reading crates.io)
//! can tell which document a published version speaks. `regenerate` writes the section
//! from the spec's `api` key; `check` fails when it is stale. Only that section is
//! touched: the rest of the manifest is hand-written.

use crate::ir::Api;

/// The section's header line.
pub const SECTION: &str = "[package.metadata.vendor-document]";

/// The section as the spec says it should read.
pub fn section(api: &Api) -> String {
    // The path goes in a comment, which ends at a line break: control characters become
    // spaces there.
    let path: String = api
        .spec_path
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!(
        "{SECTION}\n# Written by `cargo xtask regenerate` from {path}: the vendor document this crate describes.\ntitle = {}\nversion = {}\nfile = {}\n",
        toml_string(&api.title),
        toml_string(&api.doc_version),
        toml_string(&api.document)
    )
}

/// `text` as a TOML basic string. Rust's `{:?}` is not one: it writes `\u{301}` for a
/// combining accent, which TOML does not read.
fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `manifest` with the section replaced by (or, if absent, followed by) [`section`].
pub fn apply(manifest: &str, api: &Api) -> String {
    let wanted = section(api);
    let lines: Vec<&str> = manifest.split_inclusive('\n').collect();
    let Some(start) = lines.iter().position(|l| l.trim_end() == SECTION) else {
        let mut out = manifest.to_string();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&wanted);
        return out;
    };
    // The section runs to the next table header; blank lines before it stay outside.
    let mut end = lines[start + 1..]
        .iter()
        .position(|l| l.trim_start().starts_with('['))
        .map_or(lines.len(), |k| start + 1 + k);
    while end > start + 1 && lines[end - 1].trim().is_empty() {
        end -= 1;
    }
    let mut out: String = lines[..start].concat();
    out.push_str(&wanted);
    out.push_str(&lines[end..].concat());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_written_as_toml_reads_them() {
        assert_eq!(toml_string("格力 V2.7"), "\"格力 V2.7\"");
        assert_eq!(
            toml_string("a\"b\\c\nd\u{7f}e\u{301}"),
            "\"a\\\"b\\\\c\\nd\\u007Fe\u{301}\""
        );
    }

    fn api() -> Api {
        crate::validate::load(
            "api-spec/t.yaml",
            include_str!("../tests/fixtures/mini.yaml"),
        )
        .expect("fixture valid")
    }

    #[test]
    fn appends_then_replaces_in_place() {
        let api = api();
        let manifest = "[package]\nname = \"x\"\n\n[features]\ndefault = []\n";
        let once = apply(manifest, &api);
        assert!(once.starts_with(manifest), "{once}");
        assert!(once.ends_with(&section(&api)));
        assert_eq!(apply(&once, &api), once, "idempotent");
        let stale = once.replace(
            &format!("version = {}", toml_string(&api.doc_version)),
            "version = \"V0\"",
        );
        assert_ne!(stale, once);
        assert_eq!(apply(&stale, &api), once);
        // In the middle of the manifest, the following tables are kept.
        let middle = format!(
            "[package]\nname = \"x\"\n\n{SECTION}\nversion = \"old\"\n\n[features]\ndefault = []\n"
        );
        let fixed = apply(&middle, &api);
        assert_eq!(
            fixed,
            format!(
                "[package]\nname = \"x\"\n\n{}\n[features]\ndefault = []\n",
                section(&api)
            )
        );
    }
}
