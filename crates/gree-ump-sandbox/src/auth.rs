//! The gateway's checks before any business logic: signature, timestamp, credentials.
//!
//! Order: the signature (over every query parameter but `sign`, sorted, then the raw
//! body, then the app secret: the document's MD5 scheme), then the timestamp, then the
//! credential the endpoint needs (`app_id` for 2.1, `refresh_token` for 2.2,
//! `access_token` otherwise). A bad signature or timestamp is 1001 (请求参数不合法): the
//! document names no code for them; an unknown `app_id` is 110005 (未找到应用); an
//! unknown, expired or revoked token is the spec's invalid-token code (1002).
//!
//! The timestamp window (3 s by default) applies where the document states it, to
//! 2.1/2.2 (必须是北京时间3秒内的时间戳); the other calls need a `timestamp` of
//! milliseconds at any distance. `SandboxConfig::timestamp_scope` (`--strict-timestamps`,
//! `POST /__sandbox/timestamps`) applies it to every call instead, for clients that want
//! to prove their clock handling against the strictest platform (errata E73).
//! When the test controls have moved the sandbox clock, a timestamp within the window of
//! either the sandbox clock or the system clock passes (see [`check_timestamp`]).

use openplatform_runtime::ump_md5::verify;

/// The query parameter of the signature, as the spec names it (`sign`).
pub const SIGN_PARAM: &str = match gree_ump::PROTOCOL.sign_param {
    Some(name) => name,
    None => "sign",
};
/// The query parameter of the timestamp (ms), as the spec names it (`timestamp`).
pub const TIMESTAMP_PARAM: &str = match gree_ump::PROTOCOL.timestamp_param {
    Some(name) => name,
    None => "timestamp",
};

use crate::error::{ApiError, ApiResult};

/// Parameters the protocol itself uses; the others of a GET call are business fields.
pub const PROTOCOL_PARAMS: &[&str] = &[
    SIGN_PARAM,
    TIMESTAMP_PARAM,
    token_param(TokenParam::AppId),
    token_param(TokenParam::Access),
    token_param(TokenParam::Refresh),
    // The spec's common parameter `method` travels in the path (E03); a client that
    // repeats it in the query has not sent a business field.
    "method",
];

/// The credential parameters the spec's `protocol.tokens` names.
#[derive(Clone, Copy)]
pub enum TokenParam {
    /// The app id, carried by 2.1 (`app_id`).
    AppId,
    /// The access token, carried by every business call (`access_token`).
    Access,
    /// The refresh token, carried by 2.2 (`refresh_token`).
    Refresh,
}

/// The name of a credential parameter, from the spec.
pub const fn token_param(which: TokenParam) -> &'static str {
    match gree_ump::PROTOCOL.tokens {
        Some(t) => match which {
            TokenParam::AppId => t.app_id_param,
            TokenParam::Access => t.access_token_param,
            TokenParam::Refresh => t.refresh_token_param,
        },
        None => "",
    }
}

/// The single value of a query parameter; a repeated protocol parameter is refused (it
/// would make the signed text ambiguous).
pub fn param<'a>(query: &'a [(String, String)], name: &str) -> ApiResult<Option<&'a str>> {
    let mut values = query
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(ApiError::invalid(format!(
            "query parameter {name} is repeated"
        )));
    }
    Ok(first)
}

/// A required query parameter.
pub fn required_param<'a>(query: &'a [(String, String)], name: &str) -> ApiResult<&'a str> {
    param(query, name)?
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::invalid(format!("query parameter {name} is missing")))
}

/// Checks `sign` against the query and the raw body.
pub fn check_signature(query: &[(String, String)], body: &[u8], secret: &str) -> ApiResult<()> {
    let provided = required_param(query, SIGN_PARAM)?;
    if verify(query, SIGN_PARAM, body, secret.as_bytes(), provided) {
        Ok(())
    } else {
        Err(ApiError::invalid("sign verification failed (签名错误)"))
    }
}

/// Checks that `timestamp` (ms) is within `tolerance_ms` of `now_ms` or of `wall_ms`.
///
/// `now_ms` is the sandbox clock, `wall_ms` the same minus what the test controls moved
/// it by (the system clock). Moving the sandbox clock stands for time passing for client
/// and platform alike, but a client cannot move its own clock: it is accepted when it
/// signs with its own clock, and also when it follows the sandbox's `Date` header (as a
/// skew-correcting client does). A client whose clock is off from both is refused.
pub fn check_timestamp(
    query: &[(String, String)],
    now_ms: i64,
    wall_ms: i64,
    tolerance_ms: Option<i64>,
) -> ApiResult<()> {
    let text = required_param(query, TIMESTAMP_PARAM)?;
    let ts: i64 = text
        .trim()
        .parse()
        .map_err(|_| ApiError::invalid(format!("timestamp must be milliseconds, got {text:?}")))?;
    if let Some(tolerance) = tolerance_ms {
        let within = |reference: i64| ts.saturating_sub(reference).saturating_abs() <= tolerance;
        if !within(now_ms) && !within(wall_ms) {
            let drift = ts.saturating_sub(now_ms);
            return Err(ApiError::invalid(format!(
                "timestamp {ts} is {drift} ms from the platform clock {now_ms} (allowed ±{tolerance} ms)"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use openplatform_runtime::ump_md5::sign;

    fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    #[test]
    fn signature() {
        let body = br#"{"orderNo":123}"#;
        let mut query = q(&[
            ("foo", "1"),
            ("bar", "2"),
            ("foo_bar", "3"),
            ("foobar", "4"),
        ]);
        let s = sign(&query, body, b"XYZ");
        assert_eq!(s.as_str(), "546e4aa36d2d624da5ff816ca030951c");
        query.push(("sign".into(), s.as_str().into()));
        assert!(check_signature(&query, body, "XYZ").is_ok());
        assert_eq!(
            check_signature(&query, b"{}", "XYZ").unwrap_err().code,
            1001
        );
        assert!(check_signature(&q(&[("a", "b")]), body, "XYZ").is_err());
    }

    #[test]
    fn timestamp() {
        let now = 1_700_000_000_000;
        let ok = q(&[("timestamp", "1700000002999")]);
        assert!(check_timestamp(&ok, now, now, Some(3000)).is_ok());
        let late = q(&[("timestamp", "1700000003001")]);
        assert!(check_timestamp(&late, now, now, Some(3000)).is_err());
        assert!(check_timestamp(&late, now, now, None).is_ok());
        // Within the window of the wall clock when the sandbox clock was moved.
        assert!(check_timestamp(&late, now + 7_200_000, now + 1, Some(3000)).is_ok());
        assert!(check_timestamp(&q(&[("timestamp", "x")]), now, now, None).is_err());
        assert!(check_timestamp(&q(&[]), now, now, None).is_err());
        let twice = q(&[("timestamp", "1"), ("timestamp", "2")]);
        assert!(check_timestamp(&twice, now, now, None).is_err());
    }
}
