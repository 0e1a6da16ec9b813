//! Doc comments: the document's own wording first, then the English gloss.

use proc_macro2::TokenStream;
use quote::quote;

/// Markdown-safe text: the vendor's descriptions contain HTML fragments and brackets.
pub fn escape(text: &str) -> String {
    text.replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('[', "\\[")
        .replace(']', "\\]")
}

/// `#[doc]` attributes for paragraphs; each paragraph may span lines.
pub fn attrs(paragraphs: &[String]) -> TokenStream {
    let mut lines: Vec<String> = Vec::new();
    for p in paragraphs.iter().filter(|p| !p.trim().is_empty()) {
        if !lines.is_empty() {
            lines.push(String::new());
        }
        lines.extend(p.lines().map(|l| format!(" {}", l.trim_end())));
    }
    let lines = lines.iter().map(|l| {
        let l = if l.trim().is_empty() { "" } else { l.as_str() };
        quote!(#[doc = #l])
    });
    quote!(#(#lines)*)
}

/// A code span that survives backticks inside the value.
pub fn code(text: &str) -> String {
    if text.contains('`') {
        format!("`` {text} ``")
    } else {
        format!("`{text}`")
    }
}
