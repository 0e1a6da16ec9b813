//! Identifiers kept exactly as their text: 18-digit coupon ids, scan codes, snowflake ids.
//!
//! An [`Id`] is never a number in Rust, so it never passes through `f64` (where
//! `390962138708451328` would become `390962138708451300`). On the wire it is a bare JSON
//! integer when its text is one (canonical decimal: no sign but `-`, no leading zero,
//! within `i64`/`u64`) and a JSON string otherwise, so numeric ids travel as the
//! platform's examples show them and any other code (letters, leading zeros) is still
//! sent unchanged. Decoding accepts an integer or a string, never a float.
//!
//! ```
//! use openplatform_runtime::wire::Id;
//!
//! let ids: Vec<Id> = serde_json::from_str(r#"[390962138708451328, "A-0012"]"#).unwrap();
//! assert_eq!(ids[0].as_str(), "390962138708451328");
//! assert_eq!(serde_json::to_string(&ids).unwrap(), r#"[390962138708451328,"A-0012"]"#);
//! assert_eq!(Id::from(390962138708451328_i64), ids[0]);
//! ```

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

use super::tolerant::{Tolerant, float_text};

/// An identifier: its exact text. See the [module docs](self).
#[derive(Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(String);

impl Id {
    /// The id of this exact text (any text: letters and leading zeros are kept).
    pub fn new(text: impl Into<String>) -> Self {
        Id(text.into())
    }

    /// The exact text of the id.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The exact text of the id, owned.
    pub fn into_string(self) -> String {
        self.0
    }

    /// The id as an `i64`, when its text is a canonical decimal within range.
    pub fn as_i64(&self) -> Option<i64> {
        self.0
            .parse::<i64>()
            .ok()
            .filter(|n| n.to_string() == self.0)
    }

    /// The id as a `u64`, when its text is a canonical decimal within range.
    pub fn as_u64(&self) -> Option<u64> {
        self.0
            .parse::<u64>()
            .ok()
            .filter(|n| n.to_string() == self.0)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({:?})", self.0)
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Id {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Id(s.to_owned()))
    }
}

impl From<&str> for Id {
    fn from(s: &str) -> Self {
        Id(s.to_owned())
    }
}

impl From<String> for Id {
    fn from(s: String) -> Self {
        Id(s)
    }
}

macro_rules! id_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Id {
            fn from(n: $t) -> Self {
                Id(n.to_string())
            }
        }
    )*};
}

id_from_int!(i32, i64, u32, u64);

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Some(n) = self.as_i64() {
            serializer.serialize_i64(n)
        } else if let Some(n) = self.as_u64() {
            serializer.serialize_u64(n)
        } else {
            serializer.serialize_str(&self.0)
        }
    }
}

struct IdVisitor;

impl<'de> Visitor<'de> for IdVisitor {
    type Value = Option<Id>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an identifier (an integer or a string)")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(Id(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(Id(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(Id(v.to_string())))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(Id(v.to_string())))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Self::Value, E> {
        Ok(Some(Id(v.to_string())))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Self::Value, E> {
        Ok(Some(Id(v.to_string())))
    }

    /// A float has lost digits already (or never was an id): refused, never rounded.
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Err(E::custom(format!(
            "invalid identifier {}: a float cannot carry an identifier exactly",
            float_text(v)
        )))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Err(E::custom(format!(
            "invalid identifier {v}: expected an integer or a string"
        )))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// Strict: an integer or a string (`""` is an empty id); `null` is an error.
impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_any(IdVisitor)?
            .ok_or_else(|| de::Error::custom("expected an identifier, found null"))
    }
}

/// Tolerant: `null`, `""` and `"null"` (blank or not) are absent; text is kept untrimmed.
impl Tolerant for Id {
    fn deserialize_tolerant<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Self>, D::Error> {
        Ok(d.deserialize_any(IdVisitor)?.filter(|id| {
            let t = id.0.trim();
            !(t.is_empty() || t.eq_ignore_ascii_case("null"))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tolerant(json: &str) -> Result<Option<Id>, String> {
        let mut d = serde_json::Deserializer::from_str(json);
        Id::deserialize_tolerant(&mut d).map_err(|e| e.to_string())
    }

    #[test]
    fn eighteen_digits_stay_exact_both_ways() {
        let id: Id = serde_json::from_str("390962138708451328").unwrap();
        assert_eq!(id.as_str(), "390962138708451328");
        assert_eq!(id.as_i64(), Some(390_962_138_708_451_328));
        assert_eq!(serde_json::to_string(&id).unwrap(), "390962138708451328");
        let max: Id = serde_json::from_str("18446744073709551615").unwrap();
        assert_eq!(serde_json::to_string(&max).unwrap(), "18446744073709551615");
        let huge: Id = serde_json::from_str(r#""123456789012345678901234567890""#).unwrap();
        assert_eq!(
            serde_json::to_string(&huge).unwrap(),
            r#""123456789012345678901234567890""#
        );
    }

    #[test]
    fn non_canonical_text_is_sent_as_a_string() {
        for text in ["0012", "-0", "+5", " 5", "A-1", "", "1.0"] {
            let out = serde_json::to_string(&Id::from(text)).unwrap();
            assert_eq!(out, serde_json::to_string(text).unwrap(), "{text}");
        }
        assert_eq!(serde_json::to_string(&Id::from(-5_i64)).unwrap(), "-5");
        assert_eq!(serde_json::to_string(&Id::from("0")).unwrap(), "0");
    }

    #[test]
    fn decoding() {
        assert_eq!(
            tolerant(r#""390962138708451328""#),
            Ok(Some(Id::from(390_962_138_708_451_328_u64)))
        );
        assert_eq!(tolerant("null"), Ok(None));
        assert_eq!(tolerant(r#""""#), Ok(None));
        assert_eq!(tolerant(r#"" ""#), Ok(None));
        assert_eq!(tolerant(r#""null""#), Ok(None));
        let err = tolerant("3.9096213870845133e17").unwrap_err();
        assert!(err.contains("float"), "{err}");
        assert!(tolerant("true").is_err());
        assert!(tolerant("{}").is_err());
        assert!(serde_json::from_str::<Id>("null").is_err());
        assert_eq!(serde_json::from_str::<Id>(r#""""#).unwrap(), Id::default());
    }
}
