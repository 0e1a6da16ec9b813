//! Decoding of response envelopes, per [`EnvelopeStyle`](crate::EnvelopeStyle).
//!
//! The envelope is decoded first, keeping `data` as raw JSON, so that the data is
//! decoded exactly once into its typed form and a decode failure names its place.
//!
//! Every style reads its flags, codes and page numbers with the one lenient decoder of
//! the crate, [`wire::tolerant`](crate::wire::tolerant), whose table says what it accepts
//! (`true`/`"TRUE"`/`1` for a flag, a number or a string of digits for a code): a gateway
//! that stringifies one style's fields is read like one that stringifies another's.

use serde_json::value::RawValue;

use crate::protocol::ProtocolInfo;

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

/// Why an envelope could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeError(pub String);

/// Decodes `body` as the envelope of `protocol`.
pub fn decode<'a>(protocol: &ProtocolInfo, body: &'a [u8]) -> Result<Envelope<'a>, EnvelopeError> {
    crate::client::styles::of(protocol.envelope).decode(protocol, body)
}

/// Whether a reply reports success, from its success flag and whether its code (if any)
/// is the success code. A flag of true with an error code is an error: the code is the
/// more specific statement (both documents show such replies). `missing` names the keys
/// for the error when neither is present.
pub(crate) fn succeeded(
    flag: Option<bool>,
    code_is_success: Option<bool>,
    missing: &str,
) -> Result<bool, EnvelopeError> {
    match (flag, code_is_success) {
        (Some(true), None | Some(true)) => Ok(true),
        (Some(true), Some(false)) | (Some(false), _) => Ok(false),
        (None, Some(ok)) => Ok(ok),
        (None, None) => Err(EnvelopeError(format!("the reply has neither {missing}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{EnvelopeStyle, SigningScheme, TimestampUnit};

    const P: ProtocolInfo = ProtocolInfo {
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
        tokens: None,
        sensitive_keys: &[],
    };

    /// Issue 14: the two styles once had two lenient decoders, and `"TRUE"` or `"1"` was a
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
        ..P
    };

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
        let env = decode(&Z, br#"{"status":false,"code":"0"}"#).unwrap();
        assert_eq!(env.outcome, Err((0, None)));
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
