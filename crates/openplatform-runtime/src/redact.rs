//! Redaction: what generated `Debug` impls print for sensitive fields, and the scrubbing
//! of every text the runtime produces from what a server sent.

use std::fmt;

/// The `Debug` of a sensitive field (the spec's `sensitive: secret | pii`): its marker
/// when set, `None` when not; never the value.
pub struct Redacted {
    present: bool,
    marker: &'static str,
}

impl Redacted {
    /// Debug-prints as `marker` (`[REDACTED pii]`) when the field is `present`, else as `None`.
    pub fn new(present: bool, marker: &'static str) -> Self {
        Redacted { present, marker }
    }
}

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.present {
            f.write_str(self.marker)
        } else {
            f.write_str("None")
        }
    }
}

/// What replaces a scrubbed value.
pub const MARK: &str = "[REDACTED]";

/// The secrets and personal values one call knows (app secret, tokens current and
/// previous, the call's signature, the sensitive values the request sent), in every form
/// a server may quote them: as sent, percent-encoded, JSON-escaped.
#[derive(Default, Clone)]
pub struct Scrubber {
    needles: Vec<String>,
}

impl Scrubber {
    /// A scrubber that knows no value yet.
    pub fn new() -> Self {
        Scrubber::default()
    }

    /// Adds a value to scrub. Values shorter than 2 bytes are not: they would shred
    /// every text and cannot be told from ordinary characters anyway.
    pub fn add(&mut self, value: &str) {
        if value.trim().len() < 2 {
            return;
        }
        let encoded = form_encoded(value);
        let escaped = serde_json::to_string(value).unwrap_or_default();
        let escaped = escaped.trim_matches('"').to_owned();
        for form in [value.to_owned(), encoded, escaped] {
            if !self.needles.contains(&form) {
                self.needles.push(form);
            }
        }
        // Longest first, so that a value containing another is replaced whole.
        self.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    }

    /// Adds the values a JSON body sends under any of `keys` (at any depth, also inside
    /// JSON text carried in a string).
    pub fn add_sensitive_values(&mut self, body: &[u8], keys: &[&str]) {
        if keys.is_empty() {
            return;
        }
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) {
            self.walk(&value, keys, false);
        }
    }

    fn walk(&mut self, value: &serde_json::Value, keys: &[&str], under_key: bool) {
        use serde_json::Value;
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    self.walk(v, keys, keys.contains(&k.as_str()));
                }
            }
            Value::Array(items) => items.iter().for_each(|v| self.walk(v, keys, under_key)),
            Value::String(s) => {
                if under_key {
                    self.add(s);
                } else if let Ok(inner) = serde_json::from_str::<Value>(s)
                    && (inner.is_object() || inner.is_array())
                {
                    self.walk(&inner, keys, false);
                }
            }
            Value::Number(n) if under_key => self.add(&n.to_string()),
            _ => {}
        }
    }

    /// Whether `text` holds any known value.
    pub fn finds(&self, text: &[u8]) -> bool {
        self.needles
            .iter()
            .any(|n| text.windows(n.len()).any(|w| w == n.as_bytes()))
    }

    /// `text` with every known value replaced by [`MARK`].
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), MARK);
            }
        }
        out
    }
}

/// `value` as a query string carries it (`application/x-www-form-urlencoded`, as
/// `Url::query_pairs_mut` writes it).
fn form_encoded(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `text` (JSON, possibly cut short) with the value of every key in `keys` replaced by
/// `"[REDACTED]"`. Works on a prefix of a document, never panics.
pub fn redact_json_keys(text: &str, keys: &[&str]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    'scan: while let Some(q) = rest.find('"') {
        out.push_str(&rest[..q]);
        rest = &rest[q..];
        for key in keys {
            let quoted = format!("\"{key}\"");
            let Some(after) = rest.strip_prefix(quoted.as_str()) else {
                continue;
            };
            let trimmed = after.trim_start();
            let Some(value) = trimmed.strip_prefix(':') else {
                continue;
            };
            let value = value.trim_start();
            let len = json_value_len(value);
            out.push_str(&quoted);
            out.push_str(":\"");
            out.push_str(MARK);
            out.push('"');
            rest = &value[len..];
            continue 'scan;
        }
        // Not a sensitive key: copy this string whole (escapes included).
        let len = json_value_len(rest).max(1);
        out.push_str(&rest[..len]);
        rest = &rest[len..];
    }
    out.push_str(rest);
    out
}

/// The byte length of the JSON scalar at the start of `s` (a string with its quotes, or
/// a bare token up to `,` `}` `]` or whitespace); the rest of `s` when it is cut short.
fn json_value_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    if bytes.first() == Some(&b'"') {
        let mut i = 1;
        while i < bytes.len() {
            match bytes[i] {
                b'\\' => i += 2,
                b'"' => return i + 1,
                _ => i += 1,
            }
        }
        return s.len();
    }
    s.find([',', '}', ']', ' ', '\n', '\r', '\t'])
        .unwrap_or(s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_every_form_of_a_value() {
        let mut s = Scrubber::new();
        s.add("a+b/c=");
        s.add("x");
        let text = s.scrub("q=a%2Bb%2Fc%3D raw=a+b/c= x");
        assert_eq!(text, "q=[REDACTED] raw=[REDACTED] x");
    }

    #[test]
    fn collects_sensitive_values_at_any_depth_and_inside_json_text() {
        let mut s = Scrubber::new();
        let body =
            br#"{"phone":"13900000001","items":"[{\"id_card\":\"35032219\"}]","n":{"phone":139}}"#;
        s.add_sensitive_values(body, &["phone", "id_card"]);
        assert_eq!(
            s.scrub("13900000001 35032219 139"),
            "[REDACTED] [REDACTED] [REDACTED]"
        );
    }

    #[test]
    fn redacts_keys_in_cut_json() {
        let keys = ["phone", "realname"];
        assert_eq!(
            redact_json_keys(r#"{"phone": "139", "a":"\"phone\"","realname":"王"#, &keys),
            r#"{"phone":"[REDACTED]", "a":"\"phone\"","realname":"[REDACTED]""#
        );
        assert_eq!(
            redact_json_keys(r#"{"phone":12,"x":1}"#, &keys),
            r#"{"phone":"[REDACTED]","x":1}"#
        );
        for cut in [
            "\"",
            "\"phone\"",
            "\"phone\":",
            "\"phone\":\"\\",
            "{\"a\":\"\\",
        ] {
            let _ = redact_json_keys(cut, &keys);
        }
    }
}
