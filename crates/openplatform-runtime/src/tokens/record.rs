//! The persisted token record and its stable serialized form.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::secret::Secret;

/// What a token store keeps for one app: both tokens, both expiries and a version.
///
/// `version` grows by one with every write; stores write compare-and-set on it, so a late
/// writer holding an older record never overwrites a newer token.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The access token business calls carry.
    pub access_token: Secret,
    /// When the access token expires, in ms since the Unix epoch (platform clock).
    pub access_expires_at_ms: i64,
    /// The refresh token the refresh call carries.
    pub refresh_token: Secret,
    /// When the refresh token expires, in ms since the Unix epoch (platform clock).
    pub refresh_expires_at_ms: i64,
    /// The write count of this record (see above): the `expected` of the next
    /// [`compare_and_set`](super::TokenStore::compare_and_set).
    pub version: u64,
}

impl fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRecord")
            .field("access_token", &self.access_token)
            .field("access_expires_at_ms", &self.access_expires_at_ms)
            .field("refresh_token", &self.refresh_token)
            .field("refresh_expires_at_ms", &self.refresh_expires_at_ms)
            .field("version", &self.version)
            .finish()
    }
}

/// The serialized layout, versioned by `format` so a later layout can read this one.
///
/// The tokens are `Cow`s: borrowed from the input when they can be, owned when the JSON
/// escapes a character (`\"`, `\u0001`). As `&str` they could only be borrowed, so a
/// token with any escaped character was written and then refused as "not a token
/// record" at every read.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored<'a> {
    format: u32,
    version: u64,
    #[serde(borrow)]
    access_token: Cow<'a, str>,
    access_expires_at_ms: i64,
    #[serde(borrow)]
    refresh_token: Cow<'a, str>,
    refresh_expires_at_ms: i64,
}

const FORMAT: u32 = 1;

impl TokenRecord {
    /// Whether the access token is still usable at `now_ms`, keeping `margin_ms` in hand.
    pub fn access_valid_at(&self, now_ms: i64, margin_ms: i64) -> bool {
        now_ms.saturating_add(margin_ms) < self.access_expires_at_ms
    }

    /// Whether the refresh token is still usable at `now_ms`, keeping `margin_ms` in hand.
    pub fn refresh_valid_at(&self, now_ms: i64, margin_ms: i64) -> bool {
        now_ms.saturating_add(margin_ms) < self.refresh_expires_at_ms
    }

    /// The stable JSON form stores persist. It contains the tokens: stores must keep it
    /// private (owner-only files, a protected Redis).
    pub fn to_json(&self) -> String {
        let stored = Stored {
            format: FORMAT,
            version: self.version,
            access_token: Cow::Borrowed(self.access_token.expose()),
            access_expires_at_ms: self.access_expires_at_ms,
            refresh_token: Cow::Borrowed(self.refresh_token.expose()),
            refresh_expires_at_ms: self.refresh_expires_at_ms,
        };
        // A struct of strings and integers always serializes.
        serde_json::to_string(&stored).unwrap_or_default()
    }

    /// Reads [`TokenRecord::to_json`]'s form. A damaged record is an error, never "no
    /// record": treating it as absent would spend the day's only token-issuing call.
    pub fn from_json(json: &[u8]) -> Result<Self, StoreError> {
        let stored: Stored<'_> = serde_json::from_slice(json).map_err(|e| {
            // serde_json's own message may quote the rejected text, which can be a token:
            // only its class and position are reported.
            let class = match e.classify() {
                serde_json::error::Category::Io => "unreadable",
                serde_json::error::Category::Syntax => "not valid JSON",
                serde_json::error::Category::Data => "not a token record",
                serde_json::error::Category::Eof => "truncated",
            };
            StoreError::corrupt(format!(
                "token record is {class} (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        if stored.format != FORMAT {
            return Err(StoreError::corrupt(format!(
                "token record has format {}, this version reads format {FORMAT}",
                stored.format
            )));
        }
        if stored.access_token.is_empty() || stored.refresh_token.is_empty() {
            return Err(StoreError::corrupt("token record has an empty token"));
        }
        Ok(TokenRecord {
            access_token: Secret::new(stored.access_token.as_ref()),
            access_expires_at_ms: stored.access_expires_at_ms,
            refresh_token: Secret::new(stored.refresh_token.as_ref()),
            refresh_expires_at_ms: stored.refresh_expires_at_ms,
            version: stored.version,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> TokenRecord {
        TokenRecord {
            access_token: Secret::new("at-secret-1"),
            access_expires_at_ms: 10_000,
            refresh_token: Secret::new("rt-secret-1"),
            refresh_expires_at_ms: 20_000,
            version: 3,
        }
    }

    #[test]
    fn json_round_trip() {
        let r = record();
        assert_eq!(TokenRecord::from_json(r.to_json().as_bytes()).unwrap(), r);
    }

    #[test]
    fn tokens_with_escaped_characters_round_trip() {
        for token in [
            "a\"b",
            "back\\slash",
            "ctl\u{1}\n",
            "会员\u{7f}",
            "\u{2028}",
        ] {
            let r = TokenRecord {
                access_token: Secret::new(token),
                refresh_token: Secret::new(format!("r{token}")),
                ..record()
            };
            assert_eq!(
                TokenRecord::from_json(r.to_json().as_bytes()).unwrap(),
                r,
                "{token:?}"
            );
        }
    }

    #[test]
    fn debug_is_redacted() {
        let text = format!("{:?}", record());
        assert!(!text.contains("secret"), "{text}");
        assert!(text.contains("version: 3"));
    }

    #[test]
    fn truncated_record_is_corrupt_and_does_not_echo_tokens() {
        let json = record().to_json();
        for cut in 0..json.len() {
            let err = TokenRecord::from_json(&json.as_bytes()[..cut]).unwrap_err();
            assert!(err.is_corrupt(), "cut at {cut}: {err}");
            assert!(!err.to_string().contains("secret"), "{err}");
        }
    }

    #[test]
    fn damaged_records_do_not_echo_their_content() {
        for bad in [
            r#"{"format":1,"version":1,"access_token":7,"access_expires_at_ms":1,"refresh_token":"rt-secret-9","refresh_expires_at_ms":2}"#,
            r#"{"at-secret-9":1}"#,
            r#"["at-secret-9"]"#,
        ] {
            let err = TokenRecord::from_json(bad.as_bytes()).unwrap_err();
            assert!(err.is_corrupt());
            assert!(!err.to_string().contains("secret"), "{err}");
        }
    }

    #[test]
    fn validity_margins() {
        let r = record();
        assert!(r.access_valid_at(9_000, 999));
        assert!(!r.access_valid_at(9_000, 1_000));
        assert!(r.refresh_valid_at(19_999, 0));
        assert!(!r.refresh_valid_at(20_000, 0));
    }
}
