//! A number (or enum code, or boolean) sent as a JSON string: `"item_price": "125.2"`.
//!
//! Sending writes the value's JSON text inside a string (`125.2` → `"125.2"`, `true` →
//! `"true"`); a value that is already a JSON string is written unchanged (never quoted
//! twice) and `None` stays `null`. Receiving is [`tolerant`](super::tolerant), which
//! accepts both the quoted and the bare form.
//!
//! ```
//! use openplatform_runtime::wire::Yuan;
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Item {
//!     #[serde(
//!         serialize_with = "openplatform_runtime::wire::quoted::serialize",
//!         deserialize_with = "openplatform_runtime::wire::quoted::required"
//!     )]
//!     item_price: Yuan,
//! }
//!
//! let item: Item = serde_json::from_str(r#"{"item_price": "125.20"}"#).unwrap();
//! assert_eq!(serde_json::to_string(&item).unwrap(), r#"{"item_price":"125.20"}"#);
//! let bare: Item = serde_json::from_str(r#"{"item_price": 125.20}"#).unwrap();
//! assert_eq!(bare.item_price, item.item_price);
//! ```

use serde::ser::{self, Serialize, Serializer};

pub use super::tolerant::{option, required};

/// Writes the JSON text of `value` inside a JSON string (a JSON string as is, `null` as
/// `null`). Works for `T` and `Option<T>`.
pub fn serialize<T: Serialize + ?Sized, S: Serializer>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match super::unquoted_json(value).map_err(ser::Error::custom)? {
        Some(text) => serializer.serialize_str(&text),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{BeijingDate, Yuan};
    use serde::{Deserialize, Serialize};

    fn quoted<T: Serialize + ?Sized>(v: &T) -> String {
        let mut buf = Vec::new();
        serialize(v, &mut serde_json::Serializer::new(&mut buf)).unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn serializes_inside_a_string() {
        assert_eq!(quoted(&Yuan::parse("125.2").unwrap()), r#""125.2""#);
        assert_eq!(quoted(&Yuan::parse("1000.40").unwrap()), r#""1000.40""#);
        assert_eq!(quoted(&Some(Yuan::parse("0.1").unwrap())), r#""0.1""#);
        assert_eq!(
            quoted(&3_733_288_246_799_497_770_i64),
            r#""3733288246799497770""#
        );
        assert_eq!(quoted(&-5_i64), r#""-5""#);
        assert_eq!(quoted(&Some(1_i64)), r#""1""#);
        assert_eq!(quoted(&None::<i64>), "null");
        assert_eq!(quoted(&true), r#""true""#);
        assert_eq!(quoted("already"), r#""already""#);
        assert_eq!(quoted(&"say \"hi\"".to_string()), r#""say \"hi\"""#);
        assert_eq!(
            quoted(&BeijingDate::from_ymd(2021, 6, 21).unwrap()),
            r#""2021-06-21""#
        );
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Item {
        #[serde(serialize_with = "serialize", deserialize_with = "required")]
        item_price: Yuan,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            serialize_with = "serialize",
            deserialize_with = "option"
        )]
        add_score: Option<i64>,
        #[serde(
            default,
            skip_serializing_if = "Option::is_none",
            serialize_with = "serialize",
            deserialize_with = "option"
        )]
        gift: Option<bool>,
    }

    #[test]
    fn round_trips_and_accepts_both_forms() {
        let quoted_form = r#"{"item_price":"125.2","add_score":"100","gift":"1"}"#;
        let item: Item = serde_json::from_str(quoted_form).unwrap();
        assert_eq!(item.item_price.to_string(), "125.2");
        assert_eq!(item.add_score, Some(100));
        assert_eq!(item.gift, Some(true));
        assert_eq!(
            serde_json::to_string(&item).unwrap(),
            r#"{"item_price":"125.2","add_score":"100","gift":"true"}"#
        );
        let bare: Item =
            serde_json::from_str(r#"{"item_price":125.2,"add_score":100,"gift":true}"#).unwrap();
        assert_eq!(bare, item);
        let absent: Item = serde_json::from_str(r#"{"item_price":"0","add_score":""}"#).unwrap();
        assert_eq!(absent.add_score, None);
        assert_eq!(
            serde_json::to_string(&absent).unwrap(),
            r#"{"item_price":"0"}"#
        );
        let err = serde_json::from_str::<Item>(r#"{"item_price":"12.3.4"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"12.3.4\""), "{err}");
    }
}
