//! What `cargo doc` shows a user of a crate, read back from the HTML it wrote. rustdoc's
//! own lints (`-D warnings`) catch a link that resolves nowhere; these three defects pass
//! them, and each cost a new user time:
//!
//! - **a pasted summary**: two items whose docs open with the same sentence (a doc
//!   comment on a `pub use` of two items is prepended to both: `FileTokenStore` and
//!   `MemoryTokenStore` read alike in every listing);
//! - **a page out of reach**: a link into a crate the user does not depend on by name
//!   (the runtime), whose pages `cargo doc -p <crate> --no-deps` does not write;
//! - **a link shown as text**: a link rustdoc resolved in the defining crate but could
//!   not draw where it is shown (`[Stream]` in brackets), in an item's own docs.
//!
//! Only the item's own docs and inherent methods are read for the third: the trait
//! implementations further down quote other crates' docs, which are not ours to fix.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// One defect, with the page it was seen on (relative to the doc root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub page: String,
    pub what: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.page, self.what)
    }
}

/// Audits the pages of `krate` (its directory under `doc_root`, e.g. `target/doc/gree_ump`)
/// and names every defect. `private` lists crates whose pages must not be linked to.
pub fn audit(doc_root: &Path, krate: &str, private: &[String]) -> Result<Vec<Finding>, String> {
    let dir = doc_root.join(krate);
    if !dir.join("index.html").is_file() {
        return Err(format!(
            "no documentation of `{krate}` in {} (run `cargo doc --no-deps -p` for it first)",
            dir.display()
        ));
    }
    let mut pages = Vec::new();
    html_files(&dir, &mut pages).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    pages.sort();
    let mut findings = Vec::new();
    // first sentence → the distinct items (kind, name) that open with it, and where seen
    let mut openings: BTreeMap<String, BTreeMap<(String, String), String>> = BTreeMap::new();
    for path in &pages {
        let html = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let page = path
            .strip_prefix(doc_root)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/");
        for (kind, name, summary) in listed_items(&html) {
            let sentence = first_sentence(&text_of(&summary));
            if !sentence.is_empty() {
                openings
                    .entry(sentence)
                    .or_default()
                    .entry((kind, name))
                    .or_insert_with(|| page.clone());
            }
        }
        for target in hrefs(&html) {
            if let Some(p) = private
                .iter()
                .find(|p| target.split('/').any(|seg| seg == *p))
            {
                findings.push(Finding {
                    page: page.clone(),
                    what: format!(
                        "links to `{target}`, a page of `{p}` that `cargo doc -p {krate} --no-deps` does not write (re-export the item with #[doc(inline)])"
                    ),
                });
            }
        }
        for shown in links_shown_as_text(own_docs(&html)) {
            findings.push(Finding {
                page: page.clone(),
                what: format!(
                    "shows the link [{shown}] as text: its target is not documented here (name it without a link, or re-export it)"
                ),
            });
        }
    }
    for (sentence, items) in openings {
        if items.len() > 1 {
            let names: Vec<String> = items
                .iter()
                .map(|((kind, name), page)| format!("{kind} {name} ({page})"))
                .collect();
            findings.push(Finding {
                page: items.values().next().cloned().unwrap_or_default(),
                what: format!(
                    "{} items open with the same sentence \"{sentence}\": {}",
                    items.len(),
                    names.join(", ")
                ),
            });
        }
    }
    Ok(findings)
}

fn html_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            html_files(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "html") {
            out.push(path);
        }
    }
    Ok(())
}

/// The items a module page lists, as (kind, name, summary HTML): rustdoc writes each as
/// `<dt><a class="struct" … title="struct path::Name">…</a></dt><dd>summary</dd>`.
pub fn listed_items(html: &str) -> Vec<(String, String, String)> {
    let mut items = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<dt>") {
        rest = &rest[start + 4..];
        let Some(dt_end) = rest.find("</dt>") else {
            break;
        };
        let dt = &rest[..dt_end];
        rest = &rest[dt_end + 5..];
        let Some(title) = attribute(dt, "title") else {
            continue;
        };
        let Some((kind, path)) = title.split_once(' ') else {
            continue;
        };
        let name = path.rsplit("::").next().unwrap_or(path).to_owned();
        let summary = match (rest.strip_prefix("<dd>"), rest.find("</dd>")) {
            (Some(dd), Some(end)) if rest.find("<dt>").is_none_or(|next| end < next) => {
                dd[..end - 4].to_owned()
            }
            _ => String::new(),
        };
        items.push((kind.to_owned(), name, summary));
    }
    items
}

fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("{name}=\"");
    let start = tag.find(&key)? + key.len();
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

/// Every `href` target of the page once, except fragments within it and the "Source"
/// links (a view of the code, which docs.rs serves for every crate).
fn hrefs(html: &str) -> std::collections::BTreeSet<&str> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .filter(|t| !t.starts_with('#') && !t.split('/').any(|seg| seg == "src"))
        .collect()
}

/// The page up to its trait implementations: the item's own docs and inherent methods.
pub fn own_docs(html: &str) -> &str {
    let end = [
        "id=\"trait-implementations\"",
        "id=\"synthetic-implementations\"",
        "id=\"blanket-implementations\"",
        "id=\"implementors\"",
    ]
    .iter()
    .filter_map(|marker| html.find(marker))
    .min()
    .unwrap_or(html.len());
    &html[..end]
}

/// `[<code>Name</code>]`: a link rustdoc could not draw, left in its brackets.
fn links_shown_as_text(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("[<code>") {
        rest = &rest[start + 7..];
        if let Some(end) = rest.find("</code>]") {
            let inner = &rest[..end];
            if !inner.contains('<') {
                found.push(inner.to_owned());
            }
            rest = &rest[end..];
        }
    }
    found
}

/// Text of an HTML fragment: tags dropped, the entities rustdoc writes decoded, runs of
/// white space made one space.
pub fn text_of(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text up to the first full stop that ends a sentence: "。", or "." before a space
/// ("(3.4.1 items)" does not end one).
pub fn first_sentence(text: &str) -> String {
    let mut end = text.len();
    for (i, c) in text.char_indices() {
        let next = text[i + c.len_utf8()..].chars().next();
        if c == '。' || (c == '.' && next.is_none_or(char::is_whitespace)) {
            end = i + c.len_utf8();
            break;
        }
    }
    text[..end].trim().to_owned()
}
