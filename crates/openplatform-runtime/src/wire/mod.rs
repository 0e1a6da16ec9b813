//! Wire encodings the generated types use: exact money, Beijing-time dates, tolerant
//! decoding, JSON inside a string, comma-joined lists, numbers carried as strings.
//!
//! The rule throughout: strict in what is sent (the spec's type), tolerant in what is
//! accepted (numbers or numeric strings, `null` or `""` for absent), never through `f64`.

pub mod comma_joined;
pub mod id;
pub mod int_enum;
pub mod json_string;
pub mod money;
pub mod quoted;
pub mod time;
pub mod tolerant;

pub use id::Id;
pub use money::{Fen, ParseYuanError, ToFenError, Yuan};
pub use time::{BeijingDate, BeijingDateTime, TimestampMs};
pub use tolerant::Tolerant;

/// Unknown keys of a decoded object, kept so nothing the platform sends is lost.
pub type Extra = serde_json::Map<String, serde_json::Value>;

pub use time::{ParseTimeError, beijing};

/// The text of a query-string parameter: a string as is, anything else as its JSON text
/// (`12`, `1000.40`, `true`; a date in its wire form), `null` as an empty string.
pub fn query_value<T: serde::Serialize + ?Sized>(value: &T) -> String {
    unquoted_json(value).ok().flatten().unwrap_or_default()
}

/// The JSON text of `value`, unquoted when it is a JSON string; `None` for `null`.
pub(crate) fn unquoted_json<T: serde::Serialize + ?Sized>(
    value: &T,
) -> Result<Option<String>, serde_json::Error> {
    let text = serde_json::to_string(value)?;
    if text == "null" {
        Ok(None)
    } else if text.starts_with('"') {
        serde_json::from_str(&text).map(Some)
    } else {
        Ok(Some(text))
    }
}

/// The longest excerpt of a value an error message quotes, in characters.
const EXCERPT_CHARS: usize = 80;

/// `s` shortened to at most 80 characters (ending in `…` when cut).
fn shorten(s: &str) -> std::borrow::Cow<'_, str> {
    match s.char_indices().nth(EXCERPT_CHARS) {
        None => std::borrow::Cow::Borrowed(s),
        Some(_) => {
            let end = s
                .char_indices()
                .nth(EXCERPT_CHARS - 1)
                .map_or(s.len(), |(i, _)| i);
            std::borrow::Cow::Owned(format!("{}…", &s[..end]))
        }
    }
}

/// A text value for an error message: quoted and escaped, at most 80 characters of it.
pub(crate) fn excerpt(s: &str) -> String {
    format!("{:?}", shorten(s))
}

/// JSON text for an error message (already self-delimiting): at most 80 characters.
pub(crate) fn json_excerpt(json: &str) -> String {
    shorten(json.trim()).into_owned()
}

/// Floats below this magnitude (2^53) are whole numbers held exactly and uniquely: every
/// integer from −(2^53 − 1) to 2^53 − 1 is its own float. 2^53 itself is not safe: a
/// decimal text such as `9007199254740993.0` rounds to it, so a float equal to it may
/// be another number, rounded (how it rounds even depends on serde_json's
/// `float_roundtrip` feature, which any crate of the build may turn on).
pub(crate) const EXACT_FLOAT_LIMIT: f64 = 9_007_199_254_740_992.0;
