//! Decoding of response envelopes, per [`EnvelopeStyle`](crate::EnvelopeStyle).
//!
//! The envelope is decoded first, keeping `data` as raw JSON, so that the data is
//! decoded exactly once into its typed form and a decode failure names its place.
//!
//! Every style reads its flags, codes and page numbers with the one lenient decoder of
//! the crate, [`wire::tolerant`](crate::wire::tolerant), whose table says what it accepts
//! (`true`/`"TRUE"`/`1` for a flag, a number or a string of digits for a code): a gateway
//! that stringifies one style's fields is read like one that stringifies another's.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::protocol::{EnvelopeKeys, ProtocolInfo};
use crate::wire::tolerant::{self, Tolerant};

/// The parts of a reply every envelope style yields.
#[derive(Debug)]
pub struct Envelope<'a> {
    /// `Ok(())` for success, otherwise the error code and message. A code that is not an
    /// integer is reported as `0`, its text in [`Envelope::code_text`].
    pub outcome: Result<(), (i64, Option<String>)>,
    /// An error code as received when it is not an integer (a string code of letters).
    pub code_text: Option<String>,
    /// `data`, raw; `None` when absent or `null`.
    pub data: Option<&'a RawValue>,
    /// The paging fields at the reply's top level (all `None` for unpaged replies).
    pub page: PageInfo,
}

/// Paging facts a reply carries at its top level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageInfo {
    /// The page number of this reply (`pageNo`, from 1); `None` when the reply omits it.
    pub page_no: Option<i64>,
    /// The page size (`pageSize`): items per page, as the platform echoes it; `None` when
    /// the reply omits it.
    pub page_size: Option<i64>,
    /// The number of items over all pages (`totalCount`); `None` when the reply omits it.
    pub total_count: Option<i64>,
}

impl PageInfo {
    /// The size of a full page: the smaller of the size asked for and the size the reply
    /// says it used (a server may cap the size, and say so).
    pub fn full_size(&self, asked: Option<i64>) -> Option<i64> {
        match (asked, self.page_size) {
            (Some(asked), Some(used)) if used > 0 => Some(asked.min(used)),
            (asked, used) => asked.or(used),
        }
    }

    /// Whether pages follow this one, which held `count` items, `seen` items having been
    /// read up to and including it: the one rule of the runtime's page walk and of what
    /// a tool tells its user about a single page. A short page is the last one even when
    /// `totalCount` announces more (a server answering short pages with a wrong total
    /// kept a walk going to its page bound); an unknown size leaves `totalCount` to
    /// decide.
    pub fn more_follow(&self, asked_size: Option<i64>, count: i64, seen: i64) -> bool {
        let size = self.full_size(asked_size);
        let full = size.is_some_and(|s| count >= s);
        count > 0
            && match self.total_count {
                Some(total) => seen < total && (full || size.is_none()),
                None => full,
            }
    }
}

/// Why an envelope could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeError(pub String);

/// Decodes `body` as the envelope of `protocol`.
pub fn decode<'a>(protocol: &ProtocolInfo, body: &'a [u8]) -> Result<Envelope<'a>, EnvelopeError> {
    crate::client::styles::of(protocol.envelope).decode(protocol, body)
}

/// The parts of an envelope, raw, each found under one of its keys
/// ([`EnvelopeKeys`]); every style reads its envelope through this one reader and
/// decodes the parts with [`Parts::get`], so that all styles accept the same spellings.
pub(crate) struct Parts<'a> {
    raw: [Option<&'a RawValue>; 7],
    keys: EnvelopeKeys,
}

/// Indexes into [`EnvelopeKeys::parts`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum Part {
    Success = 0,
    Code = 1,
    Message = 2,
    Data = 3,
    PageNo = 4,
    PageSize = 5,
    TotalCount = 6,
}

impl<'a> Parts<'a> {
    /// Reads the top-level object of `body`, keeping each part's value raw. A part sent
    /// twice (under one key or two of its keys) is an error: which one is meant is not
    /// for the client to guess.
    pub(crate) fn read(keys: &EnvelopeKeys, body: &'a [u8]) -> Result<Self, EnvelopeError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(EnvelopeError("the body is empty".into()));
        }
        let mut de = serde_json::Deserializer::from_slice(body);
        let raw = PartsSeed(keys)
            .deserialize(&mut de)
            .and_then(|raw| de.end().map(|()| raw))
            .map_err(|e| EnvelopeError(format!("not a JSON envelope: {e}")))?;
        Ok(Parts { raw, keys: *keys })
    }

    /// A part, raw; `None` when absent.
    pub(crate) fn raw(&self, part: Part) -> Option<&'a RawValue> {
        self.raw[part as usize]
    }

    /// A part decoded tolerantly; `None` when absent or `null` (or `""` for a
    /// non-string). The error names the key the part was expected under.
    pub(crate) fn get<T: Tolerant>(&self, part: Part) -> Result<Option<T>, EnvelopeError> {
        let Some(raw) = self.raw(part) else {
            return Ok(None);
        };
        let mut de = serde_json::Deserializer::from_str(raw.get());
        tolerant::option::<_, T>(&mut de).map_err(|e| {
            let (name, keys) = self.keys.parts()[part as usize];
            let key = keys.first().copied().unwrap_or(name);
            EnvelopeError(format!("not a JSON envelope: `{key}`: {e}"))
        })
    }
}

struct PartsSeed<'k>(&'k EnvelopeKeys);

impl<'de> DeserializeSeed<'de> for PartsSeed<'_> {
    type Value = [Option<&'de RawValue>; 7];

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PartsSeed<'_> {
    type Value = [Option<&'de RawValue>; 7];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object (the reply's envelope)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let parts = self.0.parts();
        let mut raw = [None; 7];
        while let Some(index) = map.next_key_seed(KeySeed(&parts))? {
            match index {
                Some(i) => {
                    if raw[i].is_some() {
                        return Err(de::Error::custom(format!(
                            "the envelope's {} is sent twice",
                            parts[i].0
                        )));
                    }
                    raw[i] = Some(map.next_value::<&'de RawValue>()?);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(raw)
    }
}

/// A key of the envelope → the index of its part, if it is one.
struct KeySeed<'p>(&'p [(&'static str, &'static [&'static str]); 7]);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.iter().position(|(_, keys)| keys.contains(&key)))
    }
}

/// Whether a reply reports success: the one rule every envelope style applies, from its
/// success flag, whether its code (if any) is the success code, and whether it carries
/// `data`. An `Err` is a reply that proves neither success nor failure: the caller
/// reports it as a decode error, whose outcome is unknown (a write may have been applied).
///
/// - An error code is a failure, whatever the flag: the code is the more specific
///   statement (both documents show `success: true` beside an error code).
/// - The success code, or a true flag without a code, is a success — also beside a false
///   flag when the reply carries a result in `data`: the platform reported the write
///   applied, and reading it as a refusal invites a second write under a new key.
/// - A false flag beside the success code without a result, or beside a result without
///   any code, contradicts itself: unknown.
/// - A false flag alone (no code, no data) is a failure; neither flag nor code is unknown.
///
/// `missing` names the keys for the error when neither is present.
pub(crate) fn succeeded(
    flag: Option<bool>,
    code_is_success: Option<bool>,
    has_data: bool,
    missing: &str,
) -> Result<bool, EnvelopeError> {
    match (flag, code_is_success, has_data) {
        (_, Some(false), _) => Ok(false),
        (Some(true) | None, Some(true), _) | (Some(true), None, _) => Ok(true),
        (Some(false), Some(true), true) => Ok(true),
        (Some(false), Some(true), false) => Err(EnvelopeError(
            "the reply contradicts itself: a failure flag beside the success code, and no \
             data to tell which is meant"
                .into(),
        )),
        (Some(false), None, true) => Err(EnvelopeError(
            "the reply contradicts itself: a failure flag without an error code, beside data"
                .into(),
        )),
        (Some(false), None, false) => Ok(false),
        (None, None, _) => Err(EnvelopeError(format!("the reply has neither {missing}"))),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::protocol::{EnvelopeStyle, SigningScheme, TimestampUnit};

    /// A gateway protocol with the gree-ump spec's envelope keys: the base of other
    /// modules' test protocols too.
    pub(crate) const P: ProtocolInfo = ProtocolInfo {
        api: "test",
        doc_version: "1",
        envelope: EnvelopeStyle::UmpGateway,
        signing: SigningScheme::UmpMd5,
        path_template: "/gw/gateway/{method}/v1",
        base_urls: &[],
        success_code: Some(200),
        timestamp: TimestampUnit::Milliseconds,
        clock_tolerance_ms: None,
        utc_offset_s: 0,
        timestamp_param: None,
        sign_param: None,
        invalid_token_codes: &[],
        invalid_token_patterns: &[],
        ambiguous_token_codes: &[],
        verb_refusal_codes: &[],
        tokens: None,
        sensitive_keys: &[],
        // As the gree-ump spec lists them.
        envelope_keys: EnvelopeKeys {
            success: &["success"],
            code: &["error_code", "errorCode"],
            message: &["error_message", "errorMessage", "msg", "message"],
            data: &["data"],
            page_no: &["pageNo", "page_no"],
            page_size: &["pageSize", "page_size"],
            total_count: &["totalCount", "total_count", "total"],
        },
    };

    /// The two styles once had two lenient decoders, and `"TRUE"` or `"1"` was a
    /// success for zvcms `status` but an error for UMP `success`.
    #[test]
    fn both_styles_read_flags_and_codes_alike() {
        for flag in ["true", r#""true""#, r#""TRUE""#, "1", r#""1""#] {
            let ump = format!(r#"{{"success":{flag},"error_code":"200","data":1}}"#);
            assert_eq!(decode(&P, ump.as_bytes()).unwrap().outcome, Ok(()), "{ump}");
        }
        for flag in ["false", r#""FALSE""#, "0", r#""0""#] {
            let ump = format!(r#"{{"success":{flag},"error_code":" 1001 ","data":null}}"#);
            assert_eq!(
                decode(&P, ump.as_bytes()).unwrap().outcome,
                Err((1001, None)),
                "{ump}"
            );
        }
    }

    /// What an envelope says of the call, for the table below: the decoder's answer
    /// read the way every surface reads it (an envelope that cannot be decoded is a
    /// `Decode` error, whose outcome is unknown).
    #[derive(Debug, PartialEq, Eq)]
    enum Said {
        Applied,
        Refused(i64),
        Unknown,
    }

    fn said(protocol: &ProtocolInfo, body: &str) -> Said {
        match decode(protocol, body.as_bytes()) {
            Ok(env) => match env.outcome {
                Ok(()) => Said::Applied,
                Err((code, _)) => Said::Refused(code),
            },
            Err(_) => Said::Unknown,
        }
    }

    /// Every combination of the flag (true, false, absent, garbage), the code (absent,
    /// the success code, an error code, garbage) and `data` (present, absent), with the
    /// outcome it must give (errata E08, E79). The floor: the success code with a result
    /// in `data` is never a refusal.
    #[test]
    fn every_envelope_combination_has_one_meaning() {
        use Said::*;
        let flags = [
            ("true", Some(r#""success":true"#)),
            ("false", Some(r#""success":false"#)),
            ("absent", None),
            ("garbage", Some(r#""success":"maybe""#)),
        ];
        let codes = [
            ("absent", None),
            ("success", Some(r#""error_code":200"#)),
            ("error", Some(r#""error_code":150003"#)),
            ("garbage", Some(r#""error_code":"E-1""#)),
        ];
        let datas = [
            ("data", Some(r#""data":{"statement_id":"S1"}"#)),
            ("no data", None),
        ];
        // (flag, code, data) -> outcome.
        let expected = |flag: &str, code: &str, data: &str| match (flag, code, data) {
            ("garbage", _, _) | (_, "garbage", _) => Unknown,
            (_, "error", _) => Refused(150003),
            ("true", "absent" | "success", _) => Applied,
            ("absent", "success", _) => Applied,
            ("absent", "absent", _) => Unknown,
            // E79: the success code with a result is the platform reporting it applied.
            ("false", "success", "data") => Applied,
            // E79: the flag and the code disagree and nothing else tells: unknown.
            ("false", "success", "no data") => Unknown,
            // E79: a failure flag alone beside a result: unknown.
            ("false", "absent", "data") => Unknown,
            ("false", "absent", "no data") => Refused(0),
            other => panic!("no row for {other:?}"),
        };
        let mut rows = 0;
        for (flag, f) in flags {
            for (code, c) in codes {
                for (data, d) in datas {
                    let parts: Vec<&str> = [f, c, d].into_iter().flatten().collect();
                    let body = format!("{{{}}}", parts.join(","));
                    let want = expected(flag, code, data);
                    assert_eq!(
                        said(&P, &body),
                        want,
                        "flag {flag}, code {code}, {data}: {body}"
                    );
                    if code == "success" && data == "data" {
                        assert!(!matches!(want, Refused(_)), "the floor: {body}");
                    }
                    rows += 1;
                }
            }
        }
        assert_eq!(rows, 32);
        // The zvcms style follows the same rule (one function decides for both).
        assert_eq!(
            said(&Z, r#"{"status":false,"code":"0","data":{"a":1}}"#),
            Applied
        );
        assert_eq!(said(&Z, r#"{"status":false,"code":"0"}"#), Unknown);
        assert_eq!(said(&Z, r#"{"status":false,"data":{"a":1}}"#), Unknown);
        assert_eq!(said(&Z, r#"{"status":false}"#), Refused(0));
    }

    #[test]
    fn success_forms() {
        for body in [
            r#"{"success":true,"data":{"a":1}}"#,
            r#"{"success":true,"error_code":200,"error_message":"","data":{"a":1}}"#,
            r#"{"success":"true","errorCode":null,"errorMessage":null,"data":{"a":1}}"#,
        ] {
            let env = decode(&P, body.as_bytes()).unwrap();
            assert_eq!(env.outcome, Ok(()), "{body}");
            assert_eq!(env.data.unwrap().get(), r#"{"a":1}"#);
        }
    }

    #[test]
    fn error_forms() {
        let env = decode(
            &P,
            br#"{"success":false,"errorCode":"150003","errorMessage":"no"}"#,
        )
        .unwrap();
        assert_eq!(env.outcome, Err((150003, Some("no".into()))));
        let env = decode(&P, br#"{"success":true,"error_code":1001}"#).unwrap();
        assert_eq!(env.outcome, Err((1001, None)));
    }

    #[test]
    fn paging_and_null_data() {
        let env = decode(
            &P,
            br#"{"success":true,"data":null,"pageNo":2,"pageSize":"10","totalCount":31}"#,
        )
        .unwrap();
        assert!(env.data.is_none());
        assert_eq!(
            env.page,
            PageInfo {
                page_no: Some(2),
                page_size: Some(10),
                total_count: Some(31)
            }
        );
    }

    const Z: ProtocolInfo = ProtocolInfo {
        api: "zvcms-test",
        envelope: EnvelopeStyle::ZvcmsAction,
        signing: SigningScheme::Pluggable,
        path_template: "/api/v2",
        success_code: Some(0),
        timestamp: TimestampUnit::Seconds,
        // As the zvcms spec lists them.
        envelope_keys: EnvelopeKeys {
            success: &["status"],
            code: &["code"],
            message: &["message", "msg"],
            data: &["data"],
            page_no: &[],
            page_size: &[],
            total_count: &[],
        },
        ..P
    };

    #[test]
    fn a_part_sent_twice_is_an_error() {
        for body in [
            r#"{"success":true,"error_code":200,"errorCode":200,"data":1}"#,
            r#"{"success":true,"data":1,"data":2}"#,
        ] {
            let err = decode(&P, body.as_bytes()).unwrap_err();
            assert!(err.0.contains("is sent twice"), "{body}: {err:?}");
        }
    }

    #[test]
    fn an_envelope_is_an_object_and_nothing_after_it() {
        for body in [
            r#"[true, 200, "", 1]"#,
            r#"{"success":true,"data":1} x"#,
            "1",
        ] {
            assert!(decode(&P, body.as_bytes()).is_err(), "{body}");
        }
    }

    #[test]
    fn keys_come_from_the_protocol() {
        // The same body means different things under different keys.
        let body = br#"{"ok":"false"}"#;
        assert!(decode(&P, body).is_err(), "no success key of P");
        const CUSTOM: ProtocolInfo = ProtocolInfo {
            envelope_keys: EnvelopeKeys {
                success: &["ok"],
                ..P.envelope_keys
            },
            ..P
        };
        assert_eq!(decode(&CUSTOM, body).unwrap().outcome, Err((0, None)));
    }

    #[test]
    fn key_lists_are_checked() {
        assert_eq!(P.envelope_keys.check(), Ok(()));
        assert_eq!(Z.envelope_keys.check(), Ok(()));
        let shared = EnvelopeKeys {
            message: &["msg", "data"],
            ..P.envelope_keys
        };
        assert_eq!(
            shared.check().unwrap_err(),
            "envelope_keys: `data` is listed for message and again for data"
        );
        let no_data = EnvelopeKeys {
            data: &[],
            ..P.envelope_keys
        };
        assert!(no_data.check().unwrap_err().contains("data lists no key"));
        let no_outcome = EnvelopeKeys {
            success: &[],
            code: &[],
            ..P.envelope_keys
        };
        assert!(
            no_outcome
                .check()
                .unwrap_err()
                .contains("success nor for code")
        );
    }

    #[test]
    fn zvcms_success_forms() {
        for body in [
            r#"{"status":"true","code":"0","message":"说明","data":{"a":1}}"#,
            r#"{"status":true,"code":0,"data":{"a":1}}"#,
            r#"{"status":"TRUE","data":{"a":1}}"#,
            r#"{"code":" 0 ","data":{"a":1}}"#,
        ] {
            let env = decode(&Z, body.as_bytes()).unwrap();
            assert_eq!(env.outcome, Ok(()), "{body}");
            assert_eq!(env.data.unwrap().get(), r#"{"a":1}"#);
            assert_eq!(env.code_text, None);
            assert_eq!(env.page, PageInfo::default());
        }
        let env = decode(&Z, br#"{"status":true,"code":"0","data":""}"#).unwrap();
        assert!(env.data.is_none());
    }

    #[test]
    fn zvcms_error_forms() {
        // The document's two error examples: a business error with `status: true`, a
        // system error with `status: false`, both with a code of text.
        let env = decode(
            &Z,
            r#"{ "status": true, "code": "异常编码,根据不同的业务返回编码", "message": "异常说明:查询的信息不存在" }"#.as_bytes(),
        )
        .unwrap();
        assert_eq!(
            env.outcome,
            Err((0, Some("异常说明:查询的信息不存在".into())))
        );
        assert_eq!(
            env.code_text.as_deref(),
            Some("异常编码,根据不同的业务返回编码")
        );
        let env = decode(
            &Z,
            r#"{ "status": false, "code": "系统错误编码:详见全局返回编码", "message": "系统错误说明" }"#.as_bytes(),
        )
        .unwrap();
        assert_eq!(env.outcome, Err((0, Some("系统错误说明".into()))));
        assert_eq!(
            env.code_text.as_deref(),
            Some("系统错误编码:详见全局返回编码")
        );
        let env = decode(&Z, br#"{"status":"true","code":"40001","message":"no"}"#).unwrap();
        assert_eq!(env.outcome, Err((40001, Some("no".into()))));
        assert_eq!(env.code_text, None);
        // A failure flag beside the success code and no data: unknown (errata E22).
        assert!(decode(&Z, br#"{"status":false,"code":"0"}"#).is_err());
        let env = decode(&Z, br#"{"status":"false"}"#).unwrap();
        assert_eq!(env.outcome, Err((0, None)));
        for bad in [
            &b"{}"[..],
            b"",
            b"[]",
            b"{\"status\":\"maybe\"}",
            b"{\"status\":true,\"code\":",
        ] {
            assert!(decode(&Z, bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn bad_bodies_are_errors() {
        for body in [
            &b""[..],
            b"   ",
            b"<html>502 Bad Gateway</html>",
            b"{\"success\":tr",
            b"[]",
            b"{}",
            b"{\"success\":\"maybe\"}",
            b"{\"error_code\":1.5}",
        ] {
            assert!(
                decode(&P, body).is_err(),
                "{:?}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
