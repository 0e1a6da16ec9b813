//! A value sent as JSON text inside a JSON string: `"items": "[{\"sku\":\"A\"}]"`.
//!
//! Sending writes compact JSON text as a string. Receiving accepts that, and also the
//! bare JSON value (`"items": [{"sku": "A"}]`), since the platform's examples do both;
//! `null`, `""`, `"null"` and a blank string are absent.
//!
//! ```
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Req {
//!     #[serde(
//!         serialize_with = "openplatform_runtime::wire::json_string::serialize",
//!         deserialize_with = "openplatform_runtime::wire::json_string::required"
//!     )]
//!     ids: Vec<u32>,
//! }
//!
//! let r = Req { ids: vec![1, 2] };
//! assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"ids":"[1,2]"}"#);
//! let back: Req = serde_json::from_str(r#"{"ids":"[1,2]"}"#).unwrap();
//! assert_eq!(back.ids, [1, 2]);
//! let bare: Req = serde_json::from_str(r#"{"ids":[1,2]}"#).unwrap();
//! assert_eq!(bare.ids, [1, 2]);
//! ```
//!
//! Decoding reads the field as a [`serde_json::value::RawValue`], so it needs a serde_json
//! deserializer (see [`Yuan`](super::Yuan) for what that allows).

use serde::de::{self, Deserialize, DeserializeOwned, Deserializer};
use serde::ser::{self, Serialize, Serializer};
use serde_json::value::RawValue;

use super::{excerpt, json_excerpt};

/// Writes `value` as its compact JSON text inside a JSON string; `None` (JSON `null`)
/// stays `null`. Works for `T` and `Option<T>`.
pub fn serialize<T: Serialize + ?Sized, S: Serializer>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let text = serde_json::to_string(value).map_err(ser::Error::custom)?;
    if text == "null" {
        serializer.serialize_none()
    } else {
        serializer.serialize_str(&text)
    }
}

/// For `#[serde(default, deserialize_with = "…::json_string::option")]`: the value from
/// JSON inside a string, or given bare; `None` when absent.
pub fn option<'de, D: Deserializer<'de>, T: DeserializeOwned>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    let raw = Box::<RawValue>::deserialize(deserializer)?;
    decode(raw.get()).map_err(de::Error::custom)
}

/// For `#[serde(deserialize_with = "…::json_string::required")]`: as [`option`], with an
/// absent value an error.
pub fn required<'de, D: Deserializer<'de>, T: DeserializeOwned>(
    deserializer: D,
) -> Result<T, D::Error> {
    let raw = Box::<RawValue>::deserialize(deserializer)?;
    match decode(raw.get()) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(de::Error::custom(format!(
            "expected a value (JSON inside a string), found {}",
            json_excerpt(raw.get())
        ))),
        Err(msg) => Err(de::Error::custom(msg)),
    }
}

/// Decodes the JSON text of one field value.
fn decode<T: DeserializeOwned>(raw: &str) -> Result<Option<T>, String> {
    let t = raw.trim();
    if t == "null" {
        return Ok(None);
    }
    if t.starts_with('"') {
        let inner: String =
            serde_json::from_str(t).map_err(|e| format!("invalid string holding JSON: {e}"))?;
        let inner = inner.trim();
        if inner.is_empty() || inner == "null" {
            return Ok(None);
        }
        return serde_json::from_str(inner).map(Some).map_err(|e| {
            format!(
                "invalid JSON inside a string: {e}; the string was {}",
                excerpt(inner)
            )
        });
    }
    serde_json::from_str(t).map(Some).map_err(|e| {
        format!(
            "invalid value for a field sent as JSON inside a string (given bare): {e}; the value was {}",
            json_excerpt(t)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Extra, Yuan};
    use serde::{Deserialize, Serialize};

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Item {
        sku: String,
        #[serde(deserialize_with = "crate::wire::tolerant::required")]
        price: Yuan,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Req {
        #[serde(serialize_with = "serialize", deserialize_with = "required")]
        items: Vec<Item>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            serialize_with = "serialize",
            deserialize_with = "option"
        )]
        more: Option<Vec<Item>>,
        #[serde(flatten)]
        extra: Extra,
    }

    fn item(sku: &str, price: &str) -> Item {
        Item {
            sku: sku.into(),
            price: Yuan::parse(price).unwrap(),
        }
    }

    #[test]
    fn serializes_compact_json_in_a_string() {
        let r = Req {
            items: vec![item("A", "125.20")],
            more: Some(vec![item("B", "1000.4")]),
            extra: Extra::new(),
        };
        let out = serde_json::to_string(&r).unwrap();
        assert_eq!(
            out,
            r#"{"items":"[{\"sku\":\"A\",\"price\":125.20}]","more":"[{\"sku\":\"B\",\"price\":1000.4}]"}"#
        );
        let back: Req = serde_json::from_str(&out).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.items[0].price.to_string(), "125.20");

        let none: Option<Vec<u8>> = None;
        let mut buf = Vec::new();
        serialize(&none, &mut serde_json::Serializer::new(&mut buf)).unwrap();
        assert_eq!(buf, b"null");
        let mut buf = Vec::new();
        serialize(
            &Some(vec![1, 2]),
            &mut serde_json::Serializer::new(&mut buf),
        )
        .unwrap();
        assert_eq!(buf, br#""[1,2]""#);
    }

    #[test]
    fn decodes_both_forms() {
        let in_string: Req =
            serde_json::from_str(r#"{"items": "[{\"sku\": \"A\", \"price\": \"125.2\"}]"}"#)
                .unwrap();
        let bare: Req =
            serde_json::from_str(r#"{"items": [{"sku": "A", "price": "125.2"}]}"#).unwrap();
        assert_eq!(in_string, bare);
        assert_eq!(bare.items, vec![item("A", "125.2")]);
        assert_eq!(bare.more, None);

        for absent in [r#""""#, r#""null""#, r#""  ""#, "null"] {
            let r: Req =
                serde_json::from_str(&format!(r#"{{"items": [], "more": {absent}}}"#)).unwrap();
            assert_eq!(r.more, None, "{absent}");
        }
        let err = serde_json::from_str::<Req>(r#"{"items": ""}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("JSON inside a string"), "{err}");
    }

    #[test]
    fn errors_quote_a_short_excerpt() {
        let long = format!(r#"[{{"sku": "{}", "price": oops}}]"#, "x".repeat(200));
        let json = format!(r#"{{"items": {}}}"#, serde_json::to_string(&long).unwrap());
        let err = serde_json::from_str::<Req>(&json).unwrap_err().to_string();
        assert!(err.contains("JSON inside a string"), "{err}");
        assert!(err.contains("[{\\\"sku\\\""), "{err}");
        assert!(!err.contains(&"x".repeat(100)), "{err}");

        let err = serde_json::from_str::<Req>(r#"{"items": {"sku": 1}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("JSON inside a string"), "{err}");
        assert!(err.contains(r#"{"sku": 1}"#), "{err}");
        let err = serde_json::from_str::<Req>(r#"{"items": "not json"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"not json\""), "{err}");
    }

    #[test]
    fn works_for_values_and_objects() {
        #[derive(Deserialize)]
        struct V {
            #[serde(default, deserialize_with = "option")]
            v: Option<serde_json::Value>,
            #[serde(default, deserialize_with = "option")]
            one: Option<Item>,
        }
        let v: V = serde_json::from_str(
            r#"{"v": "{\"a\": [1, 2]}", "one": "{\"sku\":\"Z\",\"price\":0.1}"}"#,
        )
        .unwrap();
        assert_eq!(v.v, Some(serde_json::json!({"a": [1, 2]})));
        assert_eq!(v.one, Some(item("Z", "0.1")));
    }
}
