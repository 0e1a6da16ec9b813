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

/// The `Debug` of a reply's `extra` (the keys its spec does not list): each key with
/// `[REDACTED unlisted]` for its value. The spec cannot mark a field it does not know as
/// personal, and platforms add fields such as `mobile` or `id_no`; the values stay
/// reachable through the field itself.
pub struct ExtraKeys<'a>(pub &'a serde_json::Map<String, serde_json::Value>);

impl fmt::Debug for ExtraKeys<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = Redacted::new(true, "[REDACTED unlisted]");
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, &hidden)))
            .finish()
    }
}

/// What replaces a scrubbed value.
pub const MARK: &str = "[REDACTED]";

/// The secrets and personal values one call knows (app secret, tokens current and
/// previous, the call's signature, the sensitive values the request sent), in every form
/// a server may quote them: as sent, percent-encoded, JSON-escaped, decoded.
#[derive(Default, Clone)]
pub struct Scrubber {
    /// Each form once, counted, indexed for [`Scrubber::finds`].
    needles: needles::Needles,
    /// The forms of each value added that has more than one, with how many times it is
    /// added: removing it (a base64 signature ages out on every call) then releases them
    /// without computing them again, which costs as much as adding.
    derived: std::collections::HashMap<Arc<str>, (u32, FormList)>,
}

/// The forms of one value, shared by the scrubber's clones.
type FormList = Arc<[Arc<str>]>;

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
        if let Some((count, forms)) = self.derived.get_mut(value) {
            *count = count.saturating_add(1);
            for form in forms.iter() {
                self.needles.insert(Arc::clone(form));
            }
            return;
        }
        match forms(value) {
            Forms::Many(many) => {
                let many: FormList = many.collect();
                for form in many.iter() {
                    self.needles.insert(Arc::clone(form));
                }
                self.derived.insert(Arc::clone(value), (1, many));
            }
            one => one.for_each(|form| self.needles.insert(form)),
        }
    }

    /// Undoes one [`Scrubber::add_shared`] of `value` (a token or signature that aged
    /// out).
    pub(crate) fn remove(&mut self, value: &Arc<str>) {
        if let Some((count, forms)) = self.derived.get_mut(value) {
            for form in forms.iter() {
                self.needles.release(form);
            }
            *count -= 1;
            if *count == 0 {
                self.derived.remove(value);
            }
            return;
        }
        for form in forms(value) {
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

    /// [`Scrubber::scrub`] of a text cut short (a body excerpt): also a start of a form
    /// at its very end, 3 bytes or more, is replaced, since the rest of that value was
    /// cut off and no whole form is left to find.
    pub fn scrub_cut(&self, text: &str) -> String {
        let mut out = self.scrub(text);
        let tail_of = |out: &str| {
            self.needles
                .iter()
                .filter_map(|n| {
                    (3..n.len())
                        .rev()
                        .find(|&k| out.as_bytes().ends_with(&n.as_bytes()[..k]))
                })
                .max()
        };
        if let Some(k) = tail_of(&out) {
            // A form starts at a character boundary: so does its copy in `out`.
            let at = out.len() - k;
            if out.is_char_boundary(at) {
                out.truncate(at);
                out.push_str(MARK);
            }
        }
        out
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

/// The forms of a value a server may quote, each once; none for a value shorter than 2
/// bytes. A plain value (tokens and signatures, added and removed on every call) has one
/// form, itself, shared without a copy and without a list.
///
/// The rest are computed here, once per value added, so that the check of a reply still
/// reads the reply once: as sent; percent-encoded (upper or lower case hex, `+` or `%20`
/// for a space: what a gateway's URL log or a re-encoding proxy shows); JSON-escaped as
/// serde, Python, PHP, Go and Gson write it (ASCII-only `\uXXXX` in either case with
/// surrogate pairs, `\/`, the HTML-safe `\u003c`…), once or twice (a quoted body quoted
/// again); and percent-decoded (a base64 signature sent percent-encoded, quoted by a
/// server that decoded it, with or without `+` read as a space).
fn forms(value: &Arc<str>) -> Forms {
    if value.trim().len() < 2 {
        return Forms::None;
    }
    if is_plain(value) {
        return Forms::One(Some(Arc::clone(value)));
    }
    // Breadth first: one step (a server encodes or decodes the value once), two steps (it
    // quotes a request whose value was encoded: JSON-escaped in the body, percent-encoded
    // in the URL), and a JSON writer over any chain with a decoding (a decoded quote put
    // in the server's own JSON envelope). A step that changes nothing is not followed.
    // Percent-encoding twice is followed only from the encoding the client itself sends
    // in a query (upper case, `+`: a gateway's log of the URL, encoded again); every pair
    // of encodings would be most of the work for signatures, added on every call.
    let mut seen: Vec<String> = vec![value.to_string()];
    let mut out: Vec<Arc<str>> = vec![Arc::clone(value)];
    // Each form of the level: its index in `seen`, whether its chain decodes, whether
    // its last step percent-encodes otherwise than the client does.
    let mut level: Vec<(usize, bool, bool)> = vec![(0, false, false)];
    for depth in 0..3 {
        let mut next = Vec::new();
        for &(at, decoded, encoded) in &level {
            for step in STEPS {
                let follows = match step {
                    Step::Json(_) => depth < 2 || decoded,
                    Step::Percent(..) => depth < 2 && !encoded,
                    Step::Decode(_) => depth < 2,
                };
                if !follows {
                    continue;
                }
                let Some(new) = step.apply(&seen[at]) else {
                    continue;
                };
                if seen.contains(&new) {
                    continue;
                }
                if new.trim().len() >= 2 {
                    out.push(Arc::from(new.as_str()));
                }
                next.push((
                    seen.len(),
                    decoded || matches!(step, Step::Decode(_)),
                    matches!(step, Step::Percent(upper, plus) if !(upper && plus)),
                ));
                seen.push(new);
            }
        }
        level = next;
    }
    Forms::Many(out.into_iter())
}

/// The forms of one value: [`forms`].
enum Forms {
    None,
    One(Option<Arc<str>>),
    Many(std::vec::IntoIter<Arc<str>>),
}

impl Iterator for Forms {
    type Item = Arc<str>;
    fn next(&mut self) -> Option<Arc<str>> {
        match self {
            Forms::None => None,
            Forms::One(one) => one.take(),
            Forms::Many(many) => many.next(),
        }
    }
}

/// One way a server may transform a value before quoting it.
#[derive(Clone, Copy)]
enum Step {
    /// [`percent_encoded`]: upper case hex, `+` for a space.
    Percent(bool, bool),
    /// [`percent_decoded`]: `+` as a space.
    Decode(bool),
    Json(JsonEscape),
}

const STEPS: [Step; 14] = [
    Step::Percent(true, true),
    Step::Percent(true, false),
    Step::Percent(false, true),
    Step::Percent(false, false),
    Step::Decode(false),
    Step::Decode(true),
    Step::Json(JSON_ESCAPES[0]),
    Step::Json(JSON_ESCAPES[1]),
    Step::Json(JSON_ESCAPES[2]),
    Step::Json(JSON_ESCAPES[3]),
    Step::Json(JSON_ESCAPES[4]),
    Step::Json(JSON_ESCAPES[5]),
    Step::Json(JSON_ESCAPES[6]),
    Step::Json(JSON_ESCAPES[7]),
];

impl Step {
    /// `value` after this step; `None` when the step changes nothing.
    fn apply(self, value: &str) -> Option<String> {
        // Checked before anything is written: most steps change nothing of most forms.
        let out = match self {
            Step::Percent(upper, plus) => percent_encoded(value, upper, plus),
            Step::Decode(plus) if value.contains('%') || (plus && value.contains('+')) => {
                return percent_decoded(value, plus);
            }
            Step::Decode(_) => return None,
            Step::Json(escape) if value.chars().any(|c| escape.changes(c)) => {
                json_escaped(value, escape)
            }
            Step::Json(_) => return None,
        };
        (out != value).then_some(out)
    }
}

/// `value` percent-encoded, every byte but `A-Z a-z 0-9 * - . _` as `%XX` (`upper` or
/// lower case hex), a space as `+` (`plus`, as `Url::query_pairs_mut` writes it) or `%20`.
fn percent_encoded(value: &str, upper: bool, plus: bool) -> String {
    const UPPER: &[u8; 16] = b"0123456789ABCDEF";
    const LOWER: &[u8; 16] = b"0123456789abcdef";
    let hex = if upper { UPPER } else { LOWER };
    let mut out = String::with_capacity(value.len());
    for &b in value.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(b as char)
            }
            b' ' if plus => out.push('+'),
            _ => {
                out.push('%');
                out.push(hex[usize::from(b >> 4)] as char);
                out.push(hex[usize::from(b & 15)] as char);
            }
        }
    }
    out
}

/// `value` percent-decoded (`%XX`; with `plus`, `+` as a space too); `None` when that
/// changes nothing.
fn percent_decoded(value: &str, plus: bool) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' if plus => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    // A decoded byte that is not UTF-8 is shown as U+FFFD by the servers that decode.
    let out = String::from_utf8_lossy(&out).into_owned();
    (out != value).then_some(out)
}

/// How a JSON writer escapes a string: non-ASCII as `\uXXXX` (in which case of hex), `/`
/// as `\/`, and `< > & = '` as `\u00XX`.
#[derive(Clone, Copy)]
struct JsonEscape {
    ascii: Option<bool>,
    slash: bool,
    html: bool,
}

/// The escapings of the JSON writers servers are written with: serde and Python with
/// `ensure_ascii=False` (minimal), Python's default (ASCII, lower case), PHP's default
/// (ASCII and `\/`), Jackson's ASCII mode (upper case), Go and Gson (HTML-safe).
const JSON_ESCAPES: [JsonEscape; 8] = [
    JsonEscape::new(None, false, false),
    JsonEscape::new(None, true, false),
    JsonEscape::new(None, false, true),
    JsonEscape::new(Some(false), false, false),
    JsonEscape::new(Some(false), true, false),
    JsonEscape::new(Some(false), false, true),
    JsonEscape::new(Some(true), false, false),
    JsonEscape::new(Some(true), true, false),
];

impl JsonEscape {
    const fn new(ascii: Option<bool>, slash: bool, html: bool) -> Self {
        JsonEscape { ascii, slash, html }
    }

    /// Whether this escaping writes `c` other than as itself.
    fn changes(self, c: char) -> bool {
        match c {
            '"' | '\\' => true,
            '/' => self.slash,
            '<' | '>' | '&' | '=' | '\'' => self.html,
            c if (c as u32) < 0x20 => true,
            c => !c.is_ascii() && self.ascii.is_some(),
        }
    }
}

/// The inside of the JSON string literal of `value` as `escape` writes it.
fn json_escaped(value: &str, escape: JsonEscape) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(value.len() + 8);
    let unit = |out: &mut String, u: u16, upper: bool| {
        let _ = if upper {
            write!(out, "\\u{u:04X}")
        } else {
            write!(out, "\\u{u:04x}")
        };
    };
    let upper = escape.ascii == Some(true);
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '/' if escape.slash => out.push_str("\\/"),
            '<' | '>' | '&' | '=' | '\'' if escape.html => unit(&mut out, c as u16, upper),
            c if (c as u32) < 0x20 => unit(&mut out, c as u16, upper),
            c if !c.is_ascii() && escape.ascii.is_some() => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    unit(&mut out, *u, upper);
                }
            }
            c => out.push(c),
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
        s.add("a+b"); // its raw form is the other's encoded form, and the reverse
        s.remove(&Arc::from("a b"));
        assert!(s.finds(b"x a+b y"), "a+b is still a value");
        assert!(s.finds(b"x a b y"), "a+b form-decoded");
        s.remove(&Arc::from("tok-1"));
        assert!(!s.finds(b"tok-1"));
        s.remove(&Arc::from("never added"));
        assert!(s.finds(b"a+b"));
        s.remove(&Arc::from("a+b"));
        assert!(!s.finds(b"x a+b a b a%2Bb y"));
    }

    #[test]
    fn scrubs_every_form_of_a_value() {
        let mut s = Scrubber::new();
        s.add("a+b/c=");
        s.add("x");
        let text = s.scrub("q=a%2Bb%2Fc%3D raw=a+b/c= x");
        assert_eq!(text, "q=[REDACTED] raw=[REDACTED] x");
    }

    /// Every form a server may quote a value in, each found and scrubbed: percent-encoded
    /// in either case with `+` or `%20` for a space, JSON-escaped (also with `\/` and the
    /// HTML-safe `\u003d`), ASCII-only JSON (`\uXXXX` either case, a surrogate pair
    /// beyond the BMP), JSON-escaped twice (a quoted body quoted again), and
    /// percent-decoded (a base64 signature sent percent-encoded, quoted decoded).
    #[test]
    fn finds_and_scrubs_every_quoted_form() {
        let cases: &[(&str, &[&str])] = &[
            (
                "张三 a",
                &[
                    "%E5%BC%A0%E4%B8%89+a",
                    "%e5%bc%a0%e4%b8%89+a",
                    "%E5%BC%A0%E4%B8%89%20a",
                    "%e5%bc%a0%e4%b8%89%20a",
                    r"\u5f20\u4e09 a",
                    r"\u5F20\u4E09 a",
                ],
            ),
            ("x😀y", &[r"x\ud83d\ude00y", r"x\uD83D\uDE00y"]),
            (
                r#"a"b\c/d"#,
                &[r#"a\"b\\c/d"#, r#"a\"b\\c\/d"#, r#"a\\\"b\\\\c/d"#],
            ),
            (
                "ab+c/d==",
                &[
                    "ab c/d==",
                    r"ab+c\/d==",
                    r"ab+c/d\u003d\u003d",
                    "ab%2Bc%2Fd%3D%3D",
                    "ab%2bc%2fd%3d%3d",
                ],
            ),
            ("0%2B%2B3c%3D", &["0++3c="]),
        ];
        for (value, quoted) in cases {
            let mut s = Scrubber::new();
            s.add(value);
            for q in *quoted {
                let text = format!("<< {q} >>");
                assert!(s.finds(text.as_bytes()), "{value:?} as {q:?}");
                assert_eq!(
                    s.scrub(&text),
                    format!("<< {MARK} >>"),
                    "{value:?} as {q:?}"
                );
            }
        }
    }

    /// A token or signature of plain characters has one form whatever the encoding: the
    /// check of every reply keeps its cost.
    #[test]
    fn a_plain_value_has_one_form() {
        let mut s = Scrubber::new();
        s.add("tok-1.A_b*9");
        assert_eq!(s.needles.iter().count(), 1);
    }

    /// A text cut inside a value (a body excerpt at its limit): the start left is
    /// replaced too; a short common ending is not.
    #[test]
    fn a_value_cut_at_the_end_is_scrubbed() {
        let mut s = Scrubber::new();
        s.add("欧阳秘名-13955550123");
        s.add("tok-abcdef");
        assert_eq!(s.scrub_cut("name: 欧阳秘"), format!("name: {MARK}"));
        assert_eq!(s.scrub_cut("q=%E6%AC%A7%E9%98%B3"), format!("q={MARK}"));
        assert_eq!(s.scrub_cut("token tok-ab"), format!("token {MARK}"));
        assert_eq!(s.scrub_cut("to"), "to");
        assert_eq!(s.scrub_cut("欧阳秘名-13955550123 ok"), format!("{MARK} ok"));
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
