//! Redaction: what generated `Debug` impls print for sensitive fields, and the scrubbing
//! of every text the runtime produces from what a server sent.

mod needles;

use std::fmt;
use std::sync::Arc;

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
    /// Each form once, counted, indexed for [`Scrubber::finds`].
    needles: needles::Needles,
}

/// Bytes that every form leaves as they are (form encoding and JSON escaping): a value
/// made only of them has one form, and needs no copies (tokens and signatures are).
fn is_plain(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'*' | b'-' | b'.' | b'_'))
}

impl Scrubber {
    /// A scrubber that knows no value yet.
    pub fn new() -> Self {
        Scrubber::default()
    }

    /// Adds a value to scrub. Values shorter than 2 bytes are not: they would shred
    /// every text and cannot be told from ordinary characters anyway.
    pub fn add(&mut self, value: &str) {
        self.add_shared(&Arc::from(value));
    }

    /// [`Scrubber::add`] of a value already shared (a token's text): a plain value is
    /// kept without a copy.
    pub(crate) fn add_shared(&mut self, value: &Arc<str>) {
        for form in forms(value).into_iter().flatten() {
            self.needles.insert(form);
        }
    }

    /// Undoes one [`Scrubber::add_shared`] of `value` (a token or signature that aged
    /// out).
    pub(crate) fn remove(&mut self, value: &Arc<str>) {
        for form in forms(value).into_iter().flatten() {
            self.needles.release(&form);
        }
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
    ///
    /// Called on every successful reply, with the call's credentials (some 70 values):
    /// one pass over `text`, whatever the number and lengths of the values.
    pub fn finds(&self, text: &[u8]) -> bool {
        self.needles.found_in(text)
    }

    /// `text` with every known value replaced by [`MARK`].
    pub fn scrub(&self, text: &str) -> String {
        // Longest first, so that a value containing another is replaced whole.
        let mut needles: Vec<&str> = self.needles.iter().collect();
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        let mut out = text.to_owned();
        for needle in needles {
            if out.contains(needle) {
                out = out.replace(needle, MARK);
            }
        }
        out
    }
}

/// The forms of a value a server may quote, each once: as sent, percent-encoded,
/// JSON-escaped; none for a value shorter than 2 bytes. A plain value (tokens and
/// signatures, added and removed on every call) has one form, itself, shared without a
/// copy; no list is allocated either way.
fn forms(value: &Arc<str>) -> [Option<Arc<str>>; 3] {
    if value.trim().len() < 2 {
        return [None, None, None];
    }
    if is_plain(value) {
        return [Some(Arc::clone(value)), None, None];
    }
    let encoded = form_encoded(value);
    let escaped = serde_json::to_string(&**value).unwrap_or_default();
    let escaped = escaped.trim_matches('"');
    let new = |form: &str, before: &[&str]| {
        (!before.contains(&form) && form != &**value).then(|| Arc::from(form))
    };
    [
        Some(Arc::clone(value)),
        new(&encoded, &[]),
        new(escaped, &[&encoded]),
    ]
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

    /// A small deterministic generator (xorshift): `next(n)` is below `n`.
    fn numbers(mut state: u64) -> impl FnMut(u64) -> u64 {
        move |n| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        }
    }

    /// The naive scan `finds` replaced: any form as a window of the text.
    fn naive_finds(s: &Scrubber, text: &[u8]) -> bool {
        s.needles
            .iter()
            .any(|n| text.windows(n.len()).any(|w| w == n.as_bytes()))
    }

    #[test]
    fn finds_agrees_with_the_naive_scan() {
        // Texts over a few letters, so hits happen.
        let mut next = numbers(0x2545_f491_4f6c_dd1d);
        for _ in 0..2_000 {
            let mut s = Scrubber::new();
            for _ in 0..next(6) {
                let len = 2 + next(5) as usize;
                let v: String = (0..len).map(|_| (b'a' + next(3) as u8) as char).collect();
                s.add(&v);
            }
            let len = next(40) as usize;
            let text: Vec<u8> = (0..len).map(|_| b'a' + next(4) as u8).collect();
            assert_eq!(
                s.finds(&text),
                naive_finds(&s, &text),
                "{:?} in {text:?}",
                s.needles.iter().collect::<Vec<_>>()
            );
        }
    }

    /// After adds and removals in any order (the shortest form coming and going, forms
    /// shared by several values), the scrubber holds exactly the forms of the values
    /// still added, and finds what the naive scan of them finds.
    #[test]
    fn adds_and_removals_in_any_order_keep_the_index_exact() {
        let mut next = numbers(0x9e37_79b9_7f4a_7c15);
        let letters = [b'a', b'b', b' ', b'"', b'+'];
        for _ in 0..500 {
            let mut s = Scrubber::new();
            let mut added: Vec<String> = Vec::new();
            for _ in 0..30 {
                if next(3) == 0 && !added.is_empty() {
                    let i = next(added.len() as u64) as usize;
                    s.remove(&Arc::from(added.swap_remove(i)));
                } else {
                    let len = 1 + next(11) as usize;
                    let v: String = (0..len)
                        .map(|_| letters[next(letters.len() as u64) as usize] as char)
                        .collect();
                    s.add(&v);
                    added.push(v);
                }
                let mut fresh = Scrubber::new();
                added.iter().for_each(|a| fresh.add(a));
                let sorted = |s: &Scrubber| {
                    let mut v: Vec<String> = s.needles.iter().map(str::to_owned).collect();
                    v.sort();
                    v
                };
                assert_eq!(sorted(&s), sorted(&fresh), "after {added:?}");
                let len = next(30) as usize;
                let text: Vec<u8> = (0..len)
                    .map(|_| letters[next(letters.len() as u64) as usize])
                    .collect();
                assert_eq!(
                    s.finds(&text),
                    naive_finds(&fresh, &text),
                    "{added:?} in {text:?}"
                );
            }
        }
    }

    #[test]
    fn a_removed_value_is_forgotten_but_a_shared_form_stays() {
        let mut s = Scrubber::new();
        s.add("tok-1");
        s.add("a b");
        s.add("a+b"); // its raw form is the other's encoded form
        s.remove(&Arc::from("a b"));
        assert!(s.finds(b"x a+b y"), "a+b is still a value");
        assert!(!s.finds(b"x a b y"));
        s.remove(&Arc::from("tok-1"));
        assert!(!s.finds(b"tok-1"));
        s.remove(&Arc::from("never added"));
        assert!(s.finds(b"a+b"));
    }

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
