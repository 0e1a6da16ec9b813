//! Lenient decoding of what the platform sends: numbers as strings, strings as numbers,
//! `null` or `""` for absent values.
//!
//! [`Tolerant`] is implemented for every type a response field can have; the functions
//! [`option`] and [`required`] plug it into `#[derive(Deserialize)]`:
//!
//! ```
//! use openplatform_runtime::wire::{Extra, Yuan};
//!
//! #[derive(serde::Deserialize)]
//! struct Member {
//!     #[serde(default, deserialize_with = "openplatform_runtime::wire::tolerant::option")]
//!     balance: Option<Yuan>,
//!     #[serde(deserialize_with = "openplatform_runtime::wire::tolerant::required")]
//!     level: i32,
//!     #[serde(flatten)]
//!     extra: Extra,
//! }
//!
//! let m: Member = serde_json::from_str(r#"{"balance": 1000.40, "level": "3", "x": 1}"#).unwrap();
//! assert_eq!(m.balance.unwrap().to_string(), "1000.40");
//! assert_eq!(m.level, 3);
//! assert_eq!(m.extra["x"], 1);
//! ```
//!
//! What is accepted, by type:
//!
//! | type | accepted | absent (`None`) |
//! | --- | --- | --- |
//! | `String` | a string; a number or boolean as its text; an array or object as its compact JSON text | `null` (`""` stays `Some("")`) |
//! | `bool` | `true`/`false`, `1`/`0`, and those as strings (any case for true/false) | `null`, `""`, `"null"` |
//! | integers, [`Fen`] | integer numbers, whole floats held exactly by `f64`, numeric strings (trimmed; `"10.0"`, `"1e3"` when whole) | `null`, `""`, `"null"` |
//! | [`Yuan`] | a number or a string holding a decimal (exact, any number of decimals; see [`Yuan`]) | `null`, `""`, `"null"` |
//! | dates and times | see [`time`](super::time) | `null`, `""`, `"null"` |
//! | `serde_json::Value` | anything | `null` |
//! | `Vec<T>` | an array (elements decoded tolerantly, `null` elements skipped), or a string holding a JSON array | `null`, `""`, `"null"` |
//! | `()` | anything (ignored) | never |
//!
//! Integers never pass through `f64`: an integer number is range-checked against the
//! target type and an out-of-range value is an error naming it.

use std::any::type_name;
use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{
    self, Deserialize, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde_json::Value;
use serde_json::value::RawValue;

use super::{Fen, Yuan, excerpt};

/// A type that can be decoded leniently from what the platform sends.
///
/// The default method suits a struct whose `Deserialize` is already lenient field by
/// field (every generated request and reply type): `null` is `None`, anything else is
/// decoded by `Deserialize`. So a generated type needs only `impl Tolerant for T {}`;
/// scalars, lists and code enums override it with their own rules (the table above).
pub trait Tolerant: Sized + de::DeserializeOwned {
    /// Decodes a value leniently; `Ok(None)` for null (and for "" where the type is not a string).
    fn deserialize_tolerant<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Self>, D::Error> {
        Option::<Self>::deserialize(d)
    }
}

/// For `#[serde(default, deserialize_with = "…::tolerant::option")]` on an `Option<T>`
/// field: the value decoded tolerantly, `None` when absent.
pub fn option<'de, D: Deserializer<'de>, T: Tolerant>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize_tolerant(d)
}

/// For `#[serde(deserialize_with = "…::tolerant::required")]` on a plain field: the value
/// decoded tolerantly; an absent value (`null`, or `""` for a non-string) is an error.
pub fn required<'de, D: Deserializer<'de>, T: Tolerant>(d: D) -> Result<T, D::Error> {
    T::deserialize_tolerant(d)?.ok_or_else(|| {
        de::Error::custom(format!(
            "expected a value, found null (or \"\") for {}",
            short_type_name::<T>()
        ))
    })
}

/// A [`DeserializeSeed`] that decodes one `T` tolerantly (e.g. one element of a list).
pub struct TolerantSeed<T>(PhantomData<T>);

impl<T> TolerantSeed<T> {
    /// The seed of one tolerantly decoded `T`.
    pub fn new() -> Self {
        TolerantSeed(PhantomData)
    }
}

impl<T> Default for TolerantSeed<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'de, T: Tolerant> DeserializeSeed<'de> for TolerantSeed<T> {
    type Value = Option<T>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        T::deserialize_tolerant(d)
    }
}

/// `i32` for `i32`, `Yuan` for `openplatform_runtime::wire::money::Yuan`.
fn short_type_name<T>() -> &'static str {
    let full = type_name::<T>();
    // Keep generic arguments intact: cut only the path before the outermost name.
    let head = full.split('<').next().unwrap_or(full);
    match head.rfind("::") {
        Some(i) => &full[i + 2..],
        None => full,
    }
}

/// Whether a trimmed text stands for an absent non-string value.
fn is_absent(t: &str) -> bool {
    t.is_empty() || t.eq_ignore_ascii_case("null")
}

/// The text of a float as serde_json writes it (`1000.4`, `10.0`, `1e20`). Only as exact
/// as the `f64` it came from.
pub(crate) fn float_text(v: f64) -> String {
    serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string())
}

// ---------------------------------------------------------------------------------------
// String

/// Strings as they are; integers as their exact decimal text; floats as their shortest
/// text (approximate: the `f64` serde_json made of the number); booleans as
/// `true`/`false`; arrays and objects as their compact JSON text. `null` is `None`, `""`
/// is `Some("")`.
impl Tolerant for String {
    fn deserialize_tolerant<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Self>, D::Error> {
        d.deserialize_any(StringVisitor)
    }
}

struct StringVisitor;

impl<'de> Visitor<'de> for StringVisitor {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string (or a number or boolean)")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_char<E: de::Error>(self, v: char) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        match std::str::from_utf8(v) {
            Ok(s) => Ok(Some(s.to_owned())),
            Err(_) => Err(E::invalid_value(de::Unexpected::Bytes(v), &self)),
        }
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(float_text(v)))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(if v { "true" } else { "false" }.to_owned()))
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

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        let v = Value::deserialize(SeqAccessDeserializer::new(seq))?;
        Ok(Some(v.to_string()))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        let v = Value::deserialize(MapAccessDeserializer::new(map))?;
        Ok(Some(v.to_string()))
    }
}

// ---------------------------------------------------------------------------------------
// bool

impl Tolerant for bool {
    fn deserialize_tolerant<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Self>, D::Error> {
        d.deserialize_any(BoolVisitor)
    }
}

struct BoolVisitor;

impl BoolVisitor {
    fn bad<E: de::Error>(shown: &dyn fmt::Display) -> E {
        E::custom(format!(
            "invalid value {shown} for bool: expected true/false or 1/0"
        ))
    }
}

impl<'de> Visitor<'de> for BoolVisitor {
    type Value = Option<bool>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a boolean (true/false or 1/0, possibly as a string)")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        match v {
            0 => Ok(Some(false)),
            1 => Ok(Some(true)),
            _ => Err(Self::bad(&v)),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        match v {
            0 => Ok(Some(false)),
            1 => Ok(Some(true)),
            _ => Err(Self::bad(&v)),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        if v == 0.0 {
            Ok(Some(false))
        } else if v == 1.0 {
            Ok(Some(true))
        } else {
            Err(Self::bad(&float_text(v)))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let t = v.trim();
        if is_absent(t) {
            Ok(None)
        } else if t == "1" || t.eq_ignore_ascii_case("true") {
            Ok(Some(true))
        } else if t == "0" || t.eq_ignore_ascii_case("false") {
            Ok(Some(false))
        } else {
            Err(Self::bad(&excerpt(v)))
        }
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

// ---------------------------------------------------------------------------------------
// Integers

struct IntVisitor<T>(PhantomData<T>);

impl<T: TryFrom<i128>> IntVisitor<T> {
    fn fit<E: de::Error>(v: i128) -> Result<Option<T>, E> {
        T::try_from(v).map(Some).map_err(|_| {
            E::custom(format!(
                "value {v} is out of range for {}",
                short_type_name::<T>()
            ))
        })
    }

    fn out_of_range<E: de::Error>(shown: &dyn fmt::Display) -> E {
        E::custom(format!(
            "value {shown} is out of range for {}",
            short_type_name::<T>()
        ))
    }

    fn parse_text<E: de::Error>(v: &str) -> Result<Option<T>, E> {
        let t = v.trim();
        if is_absent(t) {
            return Ok(None);
        }
        match t.parse::<i128>() {
            Ok(n) => Self::fit(n),
            Err(e)
                if matches!(
                    e.kind(),
                    std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow
                ) =>
            {
                Err(Self::out_of_range(&excerpt(v)))
            }
            // A decimal or exponent form, accepted when it is a whole number.
            Err(_) => match Yuan::parse_any_scale(t) {
                Ok(y) => match y.to_integer() {
                    Some(n) => Self::fit(n),
                    None => Err(E::custom(format!(
                        "invalid value {} for {}: not a whole number",
                        excerpt(v),
                        short_type_name::<T>()
                    ))),
                },
                Err(_) => Err(E::custom(format!(
                    "invalid value {} for {}: expected an integer (a number or a numeric string)",
                    excerpt(v),
                    short_type_name::<T>()
                ))),
            },
        }
    }
}

impl<'de, T: TryFrom<i128>> Visitor<'de> for IntVisitor<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "an integer ({}), as a number or a numeric string",
            short_type_name::<T>()
        )
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Self::fit(i128::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Self::fit(i128::from(v))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Self::Value, E> {
        Self::fit(v)
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Self::Value, E> {
        match i128::try_from(v) {
            Ok(n) => Self::fit(n),
            Err(_) => Err(Self::out_of_range(&v)),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // Only whole numbers that f64 holds exactly and uniquely (|v| < 2^53).
        if v.is_finite() && v.fract() == 0.0 && v.abs() < super::EXACT_FLOAT_LIMIT {
            Self::fit(v as i128)
        } else {
            Err(E::custom(format!(
                "invalid value {} for {}: not a whole number that a float holds exactly",
                float_text(v),
                short_type_name::<T>()
            )))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Self::parse_text(v)
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

macro_rules! tolerant_int {
    ($($t:ty),*) => {$(
        impl Tolerant for $t {
            fn deserialize_tolerant<'de, D: Deserializer<'de>>(
                d: D,
            ) -> Result<Option<Self>, D::Error> {
                d.deserialize_any(IntVisitor::<$t>(PhantomData))
            }
        }
    )*};
}

tolerant_int!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, Fen);

// ---------------------------------------------------------------------------------------
// Yuan, Value, (), Vec

/// Exact: read as the raw JSON text (serde_json deserializers only; see [`Yuan`]).
impl Tolerant for Yuan {
    fn deserialize_tolerant<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Self>, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        Yuan::from_json_text(raw.get()).map_err(de::Error::custom)
    }
}

impl Tolerant for Value {
    fn deserialize_tolerant<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Self>, D::Error> {
        Option::<Value>::deserialize(d)
    }
}

/// The `data` of a reply that carries none: whatever is there is ignored.
impl Tolerant for () {
    fn deserialize_tolerant<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Self>, D::Error> {
        IgnoredAny::deserialize(d)?;
        Ok(Some(()))
    }
}

impl<T: Tolerant> Tolerant for Vec<T> {
    fn deserialize_tolerant<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Self>, D::Error> {
        d.deserialize_any(VecVisitor::<T>(PhantomData))
    }
}

struct VecVisitor<T>(PhantomData<T>);

impl<'de, T: Tolerant> Visitor<'de> for VecVisitor<T> {
    type Value = Option<Vec<T>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list (a JSON array)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(item) = seq.next_element_seed(TolerantSeed::<T>::new())? {
            if let Some(item) = item {
                out.push(item);
            }
        }
        Ok(Some(out))
    }

    /// A JSON array inside a string is decoded too (the platform does that).
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let t = v.trim();
        if is_absent(t) {
            return Ok(None);
        }
        if !t.starts_with('[') {
            return Err(E::custom(format!(
                "invalid value {}: expected a list (a JSON array)",
                excerpt(v)
            )));
        }
        let mut de = serde_json::Deserializer::from_str(t);
        Vec::<T>::deserialize_tolerant(&mut de)
            .and_then(|list| de.end().map(|()| list))
            .map_err(|e| {
                E::custom(format!(
                    "invalid list in JSON inside a string: {e} (in {})",
                    excerpt(t)
                ))
            })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{BeijingDateTime, Extra};
    use serde::{Deserialize, Serialize};
    use serde_json::json;

    fn de<T: Tolerant>(json: &str) -> Result<Option<T>, String> {
        let mut d = serde_json::Deserializer::from_str(json);
        T::deserialize_tolerant(&mut d).map_err(|e| e.to_string())
    }

    #[test]
    fn integers() {
        assert_eq!(de::<i32>(r#""10""#), Ok(Some(10)));
        assert_eq!(de::<i32>(r#"" 10 ""#), Ok(Some(10)));
        assert_eq!(de::<i32>("10"), Ok(Some(10)));
        assert_eq!(de::<i32>("-10"), Ok(Some(-10)));
        assert_eq!(de::<i32>(r#""""#), Ok(None));
        assert_eq!(de::<i32>(r#""  ""#), Ok(None));
        assert_eq!(de::<i32>("null"), Ok(None));
        assert_eq!(de::<i32>(r#""null""#), Ok(None));
        assert_eq!(de::<i32>("10.0"), Ok(Some(10)));
        assert_eq!(de::<i32>(r#""10.00""#), Ok(Some(10)));
        assert_eq!(de::<i64>(r#""1e3""#), Ok(Some(1000)));
        assert_eq!(de::<i64>("-0.0"), Ok(Some(0)));
        assert_eq!(de::<u64>("18446744073709551615"), Ok(Some(u64::MAX)));
        assert_eq!(de::<i64>("-9223372036854775808"), Ok(Some(i64::MIN)));
        assert_eq!(
            de::<i64>(r#""3733288246799497770""#),
            Ok(Some(3_733_288_246_799_497_770))
        );
        assert_eq!(de::<u32>("4294967295"), Ok(Some(u32::MAX)));

        let err = de::<i32>("3000000000").unwrap_err();
        assert!(err.contains("3000000000") && err.contains("i32"), "{err}");
        let err = de::<i32>(r#""3000000000""#).unwrap_err();
        assert!(err.contains("3000000000") && err.contains("i32"), "{err}");
        let err = de::<u32>("-1").unwrap_err();
        assert!(err.contains("-1") && err.contains("u32"), "{err}");
        let err = de::<u64>(r#""99999999999999999999999999999999999999999""#).unwrap_err();
        assert!(err.contains("out of range") && err.contains("u64"), "{err}");
        let err = de::<i64>("10.5").unwrap_err();
        assert!(err.contains("10.5") && err.contains("i64"), "{err}");
        let err = de::<i64>(r#""10.5""#).unwrap_err();
        assert!(err.contains("\"10.5\"") && err.contains("whole"), "{err}");
        let err = de::<i64>("1e300").unwrap_err();
        assert!(err.contains("i64"), "{err}");
        let err = de::<i64>("9007199254740993.0").unwrap_err();
        assert!(err.contains("i64"), "{err}");
        // 2^53 itself: the float that 9007199254740993.0 rounds to when serde_json parses
        // exactly (its float_roundtrip feature), so it may be a rounded other number.
        let err = de::<i64>("9007199254740992.0").unwrap_err();
        assert!(err.contains("i64"), "{err}");
        assert_eq!(
            de::<i64>("9007199254740991.0").unwrap(),
            Some(9_007_199_254_740_991)
        );
        let err = de::<i32>(r#""abc""#).unwrap_err();
        assert!(err.contains("\"abc\"") && err.contains("i32"), "{err}");
        let err = de::<i32>("true").unwrap_err();
        assert!(err.contains("true"), "{err}");
        assert!(de::<i32>("[1]").is_err());
        assert!(de::<i32>("{}").is_err());
    }

    #[test]
    fn strings_keep_every_digit() {
        assert_eq!(
            de::<String>("3733288246799497770"),
            Ok(Some("3733288246799497770".into()))
        );
        assert_eq!(
            de::<String>("-3733288246799497770"),
            Ok(Some("-3733288246799497770".into()))
        );
        assert_eq!(
            de::<String>("18446744073709551615"),
            Ok(Some("18446744073709551615".into()))
        );
        assert_eq!(de::<String>(r#""abc""#), Ok(Some("abc".into())));
        assert_eq!(de::<String>(r#""""#), Ok(Some(String::new())));
        assert_eq!(de::<String>("null"), Ok(None));
        assert_eq!(de::<String>("true"), Ok(Some("true".into())));
        assert_eq!(de::<String>("false"), Ok(Some("false".into())));
        assert_eq!(de::<String>("1000.4"), Ok(Some("1000.4".into())));
        assert_eq!(
            de::<String>(r#"{"a": [1, "x"]}"#),
            Ok(Some(r#"{"a":[1,"x"]}"#.into()))
        );
        assert_eq!(de::<String>("[1, 2]"), Ok(Some("[1,2]".into())));
        assert_eq!(de::<String>(r#""\u5143""#), Ok(Some("元".into())));
    }

    #[test]
    fn booleans() {
        for (json, want) in [
            ("true", Some(true)),
            ("false", Some(false)),
            ("1", Some(true)),
            ("0", Some(false)),
            (r#""1""#, Some(true)),
            (r#""0""#, Some(false)),
            (r#""true""#, Some(true)),
            (r#""FALSE""#, Some(false)),
            ("null", None),
            (r#""""#, None),
        ] {
            assert_eq!(de::<bool>(json), Ok(want), "{json}");
        }
        for bad in ["2", r#""yes""#, "[true]", "0.5"] {
            let err = de::<bool>(bad).unwrap_err();
            assert!(
                err.contains(bad.trim_matches('"').trim_matches(['[', ']'])),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn yuan_tolerant() {
        assert_eq!(
            de::<Yuan>("1000.40").unwrap().map(|y| y.to_string()),
            Some("1000.40".into())
        );
        assert_eq!(
            de::<Yuan>(r#""125.2""#).unwrap().map(|y| y.to_string()),
            Some("125.2".into())
        );
        assert_eq!(de::<Yuan>("null"), Ok(None));
        assert_eq!(de::<Yuan>(r#""""#), Ok(None));
        assert_eq!(de::<Yuan>(r#"" ""#), Ok(None));
        let err = de::<Yuan>(r#""12元""#).unwrap_err();
        assert!(err.contains("\"12元\""), "{err}");
        let err = de::<Yuan>("{}").unwrap_err();
        assert!(err.contains("{}"), "{err}");
    }

    #[test]
    fn values_and_unit() {
        assert_eq!(de::<Value>("null"), Ok(None));
        assert_eq!(de::<Value>(r#""""#), Ok(Some(json!(""))));
        assert_eq!(de::<Value>(r#"{"a":1}"#), Ok(Some(json!({"a": 1}))));
        assert_eq!(de::<()>("null"), Ok(Some(())));
        assert_eq!(de::<()>(r#"{"a":[1]}"#), Ok(Some(())));
    }

    #[test]
    fn lists() {
        assert_eq!(
            de::<Vec<i64>>(r#"[1, "2", null, "", 3.0]"#),
            Ok(Some(vec![1, 2, 3]))
        );
        assert_eq!(de::<Vec<i64>>("null"), Ok(None));
        assert_eq!(de::<Vec<i64>>(r#""""#), Ok(None));
        assert_eq!(de::<Vec<i64>>("[]"), Ok(Some(vec![])));
        assert_eq!(de::<Vec<i64>>(r#""[1, \"2\"]""#), Ok(Some(vec![1, 2])));
        assert_eq!(
            de::<Vec<Vec<String>>>(r#"[["a", 1], null, []]"#),
            Ok(Some(vec![vec!["a".to_string(), "1".to_string()], vec![]]))
        );
        let err = de::<Vec<i64>>(r#"[1, "x"]"#).unwrap_err();
        assert!(err.contains("\"x\""), "{err}");
        let err = de::<Vec<i64>>(r#""1,2""#).unwrap_err();
        assert!(err.contains("\"1,2\""), "{err}");
        let err = de::<Vec<i64>>(r#""[1, oops]""#).unwrap_err();
        assert!(err.contains("JSON inside a string"), "{err}");
        assert!(de::<Vec<i64>>("{}").is_err());
        let amounts = de::<Vec<Yuan>>(r#"[1000.40, "0.1", null]"#)
            .unwrap()
            .unwrap();
        let texts: Vec<String> = amounts.iter().map(Yuan::to_string).collect();
        assert_eq!(texts, ["1000.40", "0.1"]);
    }

    #[test]
    fn required_and_option_helpers() {
        #[derive(Debug, Deserialize)]
        struct S {
            #[serde(deserialize_with = "required")]
            n: i64,
            #[serde(default, deserialize_with = "option")]
            o: Option<i64>,
        }
        let s: S = serde_json::from_str(r#"{"n": "5"}"#).unwrap();
        assert_eq!((s.n, s.o), (5, None));
        let s: S = serde_json::from_str(r#"{"n": 5, "o": ""}"#).unwrap();
        assert_eq!((s.n, s.o), (5, None));
        let err = serde_json::from_str::<S>(r#"{"n": null}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("expected a value, found null"), "{err}");
        let err = serde_json::from_str::<S>(r#"{"o": 1}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing field `n`"), "{err}");
        // The generated enums call `required::<D, i64>` with a turbofish.
        fn code<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
            required::<D, i64>(d)
        }
        let mut d = serde_json::Deserializer::from_str(r#""7""#);
        assert_eq!(code(&mut d).unwrap(), 7);
        let mut d = serde_json::Deserializer::from_str("null");
        assert!(option::<_, i64>(&mut d).unwrap().is_none());
    }

    /// The shape of a generated response struct: tolerant `Option` fields, a renamed
    /// field with an alias, a required field, and a flatten map for unknown keys.
    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    struct Order {
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "option"
        )]
        amount: Option<Yuan>,
        #[serde(
            rename = "open_id",
            alias = "openId",
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "option"
        )]
        open_id: Option<String>,
        #[serde(
            rename = "level",
            alias = "level_num",
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "option"
        )]
        level: Option<i32>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "option"
        )]
        items: Option<Vec<Item>>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            deserialize_with = "option"
        )]
        paid_at: Option<BeijingDateTime>,
        #[serde(flatten)]
        extra: Extra,
    }

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    struct Item {
        #[serde(deserialize_with = "required")]
        price: Yuan,
        #[serde(flatten)]
        extra: Extra,
    }

    /// As the generated types do: the default method.
    impl Tolerant for Item {}

    #[test]
    fn struct_with_flatten_and_alias_decodes_money_exactly() {
        let json = r#"{
            "amount": 1000.40,
            "openId": 3733288246799497770,
            "level_num": "3",
            "items": [{"price": 1424.54, "sku": "A"}, null, {"price": "125.20"}],
            "paid_at": "2021-06-21 14:35:29",
            "unknown": {"x": 1.50},
            "another": null
        }"#;
        let check = |o: &Order| {
            assert_eq!(o.amount.map(|y| y.to_string()).as_deref(), Some("1000.40"));
            assert_eq!(o.open_id.as_deref(), Some("3733288246799497770"));
            assert_eq!(o.level, Some(3));
            let items = o.items.as_ref().unwrap();
            assert_eq!(items.len(), 2);
            assert_eq!(items[0].price.to_string(), "1424.54");
            assert_eq!(items[0].extra["sku"], "A");
            assert_eq!(items[1].price.to_string(), "125.20");
            assert_eq!(o.paid_at.map(|t| t.timestamp_ms()), Some(1_624_257_329_000));
            assert_eq!(o.extra.len(), 2);
            assert_eq!(o.extra["unknown"]["x"], 1.5);
            assert!(o.extra["another"].is_null());
        };
        let from_str: Order = serde_json::from_str(json).unwrap();
        check(&from_str);
        let from_slice: Order = serde_json::from_slice(json.as_bytes()).unwrap();
        check(&from_slice);
        let from_reader: Order = serde_json::from_reader(json.as_bytes()).unwrap();
        check(&from_reader);
        let via_seed = Order::deserialize(&mut serde_json::Deserializer::from_str(json)).unwrap();
        check(&via_seed);

        let out = serde_json::to_string(&from_str).unwrap();
        assert!(out.contains(r#""amount":1000.40"#), "{out}");
        assert!(out.contains(r#""price":1424.54"#), "{out}");
        assert!(out.contains(r#""price":125.20"#), "{out}");
        assert!(out.contains(r#""open_id":"3733288246799497770""#), "{out}");
        assert!(out.contains(r#""paid_at":"2021-06-21 14:35:29""#), "{out}");
        let again: Order = serde_json::from_str(&out).unwrap();
        assert_eq!(again, from_str);

        // From a Value (as a runtime might decode an envelope first): amounts keep their
        // value (trailing zeros may go, since Value holds numbers as f64).
        let value: Value = serde_json::from_str(json).unwrap();
        let from_value: Order = serde_json::from_value(value).unwrap();
        assert_eq!(from_value.amount, from_str.amount);
        assert_eq!(from_value.items, from_str.items);

        // Absent values everywhere.
        let empty: Order = serde_json::from_str(
            r#"{"amount": "", "open_id": null, "level": "", "items": "", "paid_at": ""}"#,
        )
        .unwrap();
        assert_eq!(empty, Order::default());

        // Errors name the field's bad value.
        let err = serde_json::from_str::<Order>(r#"{"amount": "1,000"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"1,000\""), "{err}");
    }

    #[test]
    fn never_panics_on_odd_input() {
        let inputs = [
            "",
            " ",
            "null",
            "[",
            "{",
            "\"",
            "1e999",
            "-",
            "[[[[[]]]]]",
            r#"{"a":"#,
            r#""\ud800""#,
            "18446744073709551616",
            "-9223372036854775809",
            "1.7976931348623157e309",
        ];
        for json in inputs {
            let _ = de::<String>(json);
            let _ = de::<bool>(json);
            let _ = de::<i32>(json);
            let _ = de::<u64>(json);
            let _ = de::<Yuan>(json);
            let _ = de::<Vec<i64>>(json);
            let _ = de::<Value>(json);
            let _ = de::<BeijingDateTime>(json);
            let _ = serde_json::from_str::<Order>(json);
        }
    }
}
