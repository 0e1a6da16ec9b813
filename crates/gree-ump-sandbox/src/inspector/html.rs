//! A tiny HTML builder whose only way to add a dynamic value escapes it.
//!
//! [`Html::raw`] takes `&'static str` alone, so markup can come only from literals in
//! this crate; everything else (names, bodies, query values) goes through
//! [`Html::text`], which escapes `& < > " '` (safe in element content and in quoted
//! attribute values alike). No template engine: the pages are few and plain, and a
//! dependency with a proc macro would cost more build time than these lines.

use std::fmt::{self, Write as _};

use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

/// An HTML document being built.
#[derive(Debug, Default)]
pub(crate) struct Html(String);

/// Writes into a string, escaping as it goes.
struct Escaper<'a>(&'a mut String);

impl fmt::Write for Escaper<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        escape_into(self.0, s);
        Ok(())
    }
}

/// `s` with the five HTML-special characters replaced by entities.
pub(crate) fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// `s` percent-encoded for a path segment or a query value.
pub(crate) fn url_component(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl Html {
    pub(crate) fn new() -> Self {
        Html::default()
    }

    /// Markup from a literal.
    pub(crate) fn raw(&mut self, markup: &'static str) -> &mut Self {
        self.0.push_str(markup);
        self
    }

    /// A value, escaped.
    pub(crate) fn text(&mut self, value: impl fmt::Display) -> &mut Self {
        // Writing into a String cannot fail.
        let _ = write!(Escaper(&mut self.0), "{value}");
        self
    }

    /// `<a href="…">label</a>`, both escaped (dynamic parts of `href` must be
    /// [`url_component`]s).
    pub(crate) fn link(&mut self, href: &str, label: impl fmt::Display) -> &mut Self {
        self.raw("<a href=\"")
            .text(href)
            .raw("\">")
            .text(label)
            .raw("</a>")
    }

    /// A table cell holding a value.
    pub(crate) fn td(&mut self, value: impl fmt::Display) -> &mut Self {
        self.raw("<td>").text(value).raw("</td>")
    }

    /// A header cell with a field's label in both languages.
    pub(crate) fn th(&mut self, label: super::labels::Label) -> &mut Self {
        self.raw("<th>")
            .text(label.zh)
            .raw(" <span class=\"en\">")
            .text(label.en)
            .raw("</span></th>")
    }

    /// Another document's markup (escaped when it was built).
    pub(crate) fn append(&mut self, other: Html) -> &mut Self {
        self.0.push_str(&other.0);
        self
    }

    pub(crate) fn into_string(self) -> String {
        self.0
    }
}

const STYLE: &str = "<style>
body{font-family:system-ui,sans-serif;margin:0;color:#222}
nav{background:#1d3557;padding:.6em 1em}nav a{color:#fff;margin-right:1.2em;text-decoration:none}
main{padding:1em}table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top;font-size:.9em}
th{background:#f1f3f5}.en{color:#666;font-weight:normal;font-size:.85em}
.error{color:#b00020}.ok{color:#2b8a3e}pre{background:#f8f9fa;padding:.5em;white-space:pre-wrap;word-break:break-all}
form{margin:.5em 0 1em}fieldset{margin-bottom:1em}input,select,button{margin:.15em}
</style>";

/// A whole page: navigation, a title, the content.
pub(crate) fn page(title: &str, content: Html) -> Response {
    let mut doc = Html::new();
    doc.raw("<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>")
        .text(title)
        .raw(" · gree-ump-sandbox</title>")
        .raw(STYLE)
        .raw("</head><body><nav><a href=\"/__sandbox/ui\">会员 Members</a>")
        .raw("<a href=\"/__sandbox/ui/requests\">请求日志 Requests</a>")
        .raw("<a href=\"/__sandbox/ui/controls\">控制 Controls</a>")
        .raw("<a href=\"/__sandbox/ui/api\">接口 API</a></nav><main><h1>")
        .text(title)
        .raw("</h1>");
    doc.0.push_str(&content.0);
    doc.raw("</main></body></html>");
    html_response(StatusCode::OK, doc.into_string())
}

/// An error page with `status`, saying `message`.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    let mut content = Html::new();
    content
        .raw("<p class=\"error\" id=\"error\">")
        .text(message)
        .raw("</p>");
    let mut res = page(status.canonical_reason().unwrap_or("Error"), content);
    *res.status_mut() = status;
    res
}

pub(crate) fn html_response(status: StatusCode, body: String) -> Response {
    (status, [(CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_raw_is_not() {
        let mut h = Html::new();
        h.raw("<b>")
            .text("<script>alert('x')</script> & \"q\"")
            .raw("</b>");
        assert_eq!(
            h.into_string(),
            "<b>&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;</b>"
        );
    }

    #[test]
    fn links_escape_href_and_label() {
        let mut h = Html::new();
        let href = format!("/m/{}", url_component("a\"b/<c>"));
        h.link(&href, "<x>");
        assert_eq!(
            h.into_string(),
            "<a href=\"/m/a%22b%2F%3Cc%3E\">&lt;x&gt;</a>"
        );
    }
}
