//! A list sent as one string of comma-joined items: `"goods_ids": "21315,5484,244"`.
//!
//! Sending joins the items' `Display` text with `,` (no spaces); an item that is empty or
//! contains a comma cannot be encoded ([`check`] says which, before anything is sent).
//! Receiving splits on `,`, trims spaces and skips empty items; a JSON array of strings or
//! numbers, or a single number, is accepted too; `null`, `""` and `"null"` are absent.
//!
//! ```
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Req {
//!     #[serde(
//!         serialize_with = "openplatform_runtime::wire::comma_joined::serialize",
//!         deserialize_with = "openplatform_runtime::wire::comma_joined::required"
//!     )]
//!     ids: Vec<i64>,
//! }
//!
//! let r = Req { ids: vec![21315, 5484, 244] };
//! assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"ids":"21315,5484,244"}"#);
//! let back: Req = serde_json::from_str(r#"{"ids":"21315, 5484, 244"}"#).unwrap();
//! assert_eq!(back.ids, [21315, 5484, 244]);
//! ```

use std::fmt::{self, Display};
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{self, Serializer};

use super::excerpt;
use super::tolerant::TolerantSeed;

/// A list that can be written as comma-joined text.
pub trait CommaJoin {
    /// The items' text joined by `,`; `None` for an absent list.
    fn join_commas(&self) -> Option<String>;

    /// Whether every item can be encoded (see [`check`]).
    fn check_commas(&self) -> Result<(), String> {
        Ok(())
    }
}

impl<X: Display> CommaJoin for [X] {
    fn join_commas(&self) -> Option<String> {
        let mut out = String::new();
        for (i, item) in self.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            // Writing to a String cannot fail.
            let _ = fmt::Write::write_fmt(&mut out, format_args!("{item}"));
        }
        Some(out)
    }

    fn check_commas(&self) -> Result<(), String> {
        check(self)
    }
}

impl<X: Display> CommaJoin for Vec<X> {
    fn join_commas(&self) -> Option<String> {
        self.as_slice().join_commas()
    }

    fn check_commas(&self) -> Result<(), String> {
        check(self)
    }
}

impl<X: Display> CommaJoin for Option<Vec<X>> {
    fn join_commas(&self) -> Option<String> {
        self.as_ref().and_then(|v| v.join_commas())
    }

    fn check_commas(&self) -> Result<(), String> {
        self.as_deref().map_or(Ok(()), check)
    }
}

impl<T: CommaJoin + ?Sized> CommaJoin for &T {
    fn join_commas(&self) -> Option<String> {
        (**self).join_commas()
    }

    fn check_commas(&self) -> Result<(), String> {
        (**self).check_commas()
    }
}

/// Whether every item can travel in a comma-joined string: an item whose text is empty
/// (or only spaces) or contains `,` cannot; the error names its index (from 0).
pub fn check<X: Display>(items: &[X]) -> Result<(), String> {
    for (i, item) in items.iter().enumerate() {
        let text = item.to_string();
        if text.trim().is_empty() {
            return Err(format!(
                "item {i} is empty, which a comma-joined list cannot carry"
            ));
        }
        if text.contains(',') {
            return Err(format!(
                "item {i} ({}) contains a comma, which a comma-joined list cannot carry",
                excerpt(&text)
            ));
        }
    }
    Ok(())
}

/// Writes the items joined by `,` as one string (`None` as `null`); an item that cannot
/// be encoded is an error rather than a silently different list.
pub fn serialize<T: CommaJoin + ?Sized, S: Serializer>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    value.check_commas().map_err(ser::Error::custom)?;
    match value.join_commas() {
        Some(text) => serializer.serialize_str(&text),
        None => serializer.serialize_none(),
    }
}

/// For `#[serde(default, deserialize_with = "…::comma_joined::option")]`: the items,
/// `None` when absent.
pub fn option<'de, D, X>(deserializer: D) -> Result<Option<Vec<X>>, D::Error>
where
    D: Deserializer<'de>,
    X: FromStr,
    X::Err: Display,
{
    deserializer.deserialize_any(ListVisitor::<X>(PhantomData))
}

/// For `#[serde(deserialize_with = "…::comma_joined::required")]`: the items; an absent
/// list is an error.
pub fn required<'de, D, X>(deserializer: D) -> Result<Vec<X>, D::Error>
where
    D: Deserializer<'de>,
    X: FromStr,
    X::Err: Display,
{
    option(deserializer)?
        .ok_or_else(|| de::Error::custom("expected a comma-joined list, found null (or \"\")"))
}

fn item<X: FromStr, E: de::Error>(text: &str, index: usize) -> Result<X, E>
where
    X::Err: Display,
{
    X::from_str(text).map_err(|e| {
        E::custom(format!(
            "invalid item {index} ({}) of a comma-joined list: {e}",
            excerpt(text)
        ))
    })
}

struct ListVisitor<X>(PhantomData<X>);

impl<'de, X: FromStr> Visitor<'de> for ListVisitor<X>
where
    X::Err: Display,
{
    type Value = Option<Vec<X>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a comma-joined list in a string (or a JSON array)")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        let t = v.trim();
        if t.is_empty() || t.eq_ignore_ascii_case("null") {
            return Ok(None);
        }
        t.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
            .map(|(i, s)| item(s, i))
            .collect::<Result<Vec<X>, E>>()
            .map(Some)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(text) = seq.next_element_seed(TolerantSeed::<String>::new())? {
            let Some(text) = text else { continue };
            let text = text.trim();
            if !text.is_empty() {
                out.push(item(text, out.len())?);
            }
        }
        Ok(Some(out))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        item(&v.to_string(), 0).map(|x| Some(vec![x]))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        item(&v.to_string(), 0).map(|x| Some(vec![x]))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        item(&super::tolerant::float_text(v), 0).map(|x| Some(vec![x]))
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
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
    struct Req {
        #[serde(serialize_with = "serialize", deserialize_with = "required")]
        ids: Vec<i64>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            serialize_with = "serialize",
            deserialize_with = "option"
        )]
        names: Option<Vec<String>>,
    }

    fn ids(json: &str) -> Result<Option<Vec<i64>>, String> {
        option::<_, i64>(&mut serde_json::Deserializer::from_str(json)).map_err(|e| e.to_string())
    }

    #[test]
    fn decodes_joined_text() {
        assert_eq!(
            ids(r#""21315, 5484, 244""#),
            Ok(Some(vec![21315, 5484, 244]))
        );
        assert_eq!(ids(r#""21315,5484,244""#), Ok(Some(vec![21315, 5484, 244])));
        assert_eq!(ids(r#"" 1,,2, ""#), Ok(Some(vec![1, 2])));
        assert_eq!(ids(r#""7""#), Ok(Some(vec![7])));
        assert_eq!(ids("7"), Ok(Some(vec![7])));
        assert_eq!(ids(r#"[1, "2", " 3 ", null, ""]"#), Ok(Some(vec![1, 2, 3])));
        assert_eq!(ids("[]"), Ok(Some(vec![])));
        assert_eq!(ids(r#"" , ""#), Ok(Some(vec![])));
        assert_eq!(ids(r#""""#), Ok(None));
        assert_eq!(ids("null"), Ok(None));
        assert_eq!(ids(r#""null""#), Ok(None));
        let err = ids(r#""1, x, 3""#).unwrap_err();
        assert!(err.contains("\"x\"") && err.contains("item 1"), "{err}");
        let err = ids(r#"[1, "x"]"#).unwrap_err();
        assert!(err.contains("\"x\""), "{err}");
        assert!(ids("{}").is_err());
        assert!(ids("1.5").is_err());

        let names =
            option::<_, String>(&mut serde_json::Deserializer::from_str(r#""a, b c ,d""#)).unwrap();
        assert_eq!(names, Some(vec!["a".into(), "b c".into(), "d".into()]));
    }

    #[test]
    fn serializes_joined_text() {
        let r = Req {
            ids: vec![21315, 5484, 244],
            names: Some(vec!["a".into(), "b".into()]),
        };
        let out = serde_json::to_string(&r).unwrap();
        assert_eq!(out, r#"{"ids":"21315,5484,244","names":"a,b"}"#);
        assert_eq!(serde_json::from_str::<Req>(&out).unwrap(), r);

        let empty = Req::default();
        assert_eq!(serde_json::to_string(&empty).unwrap(), r#"{"ids":""}"#);
        let err = serde_json::from_str::<Req>(r#"{"ids": null}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("comma-joined"), "{err}");

        let bad = Req {
            ids: vec![],
            names: Some(vec!["a,b".into()]),
        };
        let err = serde_json::to_string(&bad).unwrap_err().to_string();
        assert!(err.contains("comma"), "{err}");

        assert_eq!(vec![1, 2].join_commas().as_deref(), Some("1,2"));
        assert_eq!([1, 2][..].join_commas().as_deref(), Some("1,2"));
        assert_eq!(Some(vec![3]).join_commas().as_deref(), Some("3"));
        assert_eq!(None::<Vec<i64>>.join_commas(), None);
    }

    #[test]
    fn check_names_the_item() {
        assert_eq!(check::<i64>(&[1, 2, 3]), Ok(()));
        assert_eq!(check::<String>(&[]), Ok(()));
        let err = check(&["a", "b,c"]).unwrap_err();
        assert!(err.contains("item 1") && err.contains("\"b,c\""), "{err}");
        let err = check(&["a", "b", ""]).unwrap_err();
        assert!(err.contains("item 2") && err.contains("empty"), "{err}");
        let err = check(&[" "]).unwrap_err();
        assert!(err.contains("item 0"), "{err}");
        // As the generated `validate` calls it, for a required and an optional field.
        let required: Vec<String> = vec!["x".into()];
        assert_eq!(check(&required), Ok(()));
        let optional: Option<Vec<String>> = None;
        assert_eq!(check(optional.as_deref().unwrap_or_default()), Ok(()));
    }
}
