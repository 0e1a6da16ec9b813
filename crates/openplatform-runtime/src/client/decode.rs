//! Reply decoding, separate from transport so that servers, fuzzers and tests can decode a
//! body exactly as the client does.

use super::Response;
use crate::endpoint::{Endpoint, EndpointInfo};
use crate::envelope;
use crate::error::{ApiError, BodyExcerpt, DecodeError, DecodeErrorKind, Error, HttpError};
use crate::error_code::ApiErrorCode;
use crate::protocol::ProtocolInfo;
use crate::wire::Tolerant;

/// Decodes a reply of endpoint `E` (HTTP `status`, `body`) as the client does: the
/// envelope of `protocol`, the typed error code, then the typed `data`. Never panics, on
/// any bytes.
pub fn decode_response<E: Endpoint>(
    protocol: &ProtocolInfo,
    status: u16,
    body: &[u8],
) -> Result<Response<E::Data>, Error<E::Code>> {
    // Only the token calls' bodies carry tokens.
    let withhold = protocol.is_token_method(E::INFO.method);
    decode_body(
        protocol,
        E::INFO.method,
        status,
        body,
        withhold,
        DataRule::of(&E::INFO),
    )
}

/// What an endpoint's `data` must be for a success (from its [`EndpointInfo`]).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DataRule {
    /// A success without data is [`DecodeErrorKind::MissingData`].
    pub required: bool,
    /// A `data` of `false` is this error code.
    pub false_is_error: Option<i64>,
}

impl DataRule {
    pub(crate) fn of(info: &EndpointInfo) -> Self {
        DataRule {
            required: info.data_required,
            false_is_error: info.false_is_error,
        }
    }
}

/// [`decode_response`] for any data type; `withhold_body` keeps the body out of errors
/// (token calls, whose bodies carry tokens); `rule` says what `data` a success needs.
pub(crate) fn decode_body<T: Tolerant, C: ApiErrorCode>(
    protocol: &ProtocolInfo,
    method: &'static str,
    status: u16,
    body: &[u8],
    withhold_body: bool,
    rule: DataRule,
) -> Result<Response<T>, Error<C>> {
    let excerpt = || {
        if withhold_body {
            BodyExcerpt::withheld(body.len())
        } else {
            BodyExcerpt::new(body)
        }
    };
    // A redirect is not an answer, even with an envelope in its body: the platform's
    // replies are never 3xx, and following one would re-send the request elsewhere.
    if (300..400).contains(&status) {
        return Err(Error::Http(HttpError {
            method,
            status,
            body: excerpt(),
            redirected: false,
        }));
    }
    let env = match envelope::decode(protocol, body) {
        Ok(env) => env,
        Err(_) if !(200..300).contains(&status) => {
            return Err(Error::Http(HttpError {
                method,
                status,
                body: excerpt(),
                redirected: false,
            }));
        }
        Err(e) => {
            return Err(Error::Decode(DecodeError {
                kind: DecodeErrorKind::Envelope,
                method,
                status,
                reason: e.0,
                body: excerpt(),
            }));
        }
    };
    if let Err((code, message)) = env.outcome {
        return Err(Error::Api(ApiError {
            code: C::from_code(code),
            raw_code: code,
            code_text: env.code_text,
            message,
            method,
            status,
            body: excerpt(),
        }));
    }
    // `data` of `""` is no data, in every style (for a string it would be an empty open
    // id or code, never a result).
    let raw_data = env.data.filter(|raw| raw.get().trim() != "\"\"");
    // A check answered `data: false` says no, as its error code does: reported as that
    // error, so a caller handles one kind of "no".
    if let (Some(code), Some(raw)) = (rule.false_is_error, raw_data)
        && matches!(decode_data::<bool>(raw.get(), &[]), Ok(Some(false)))
    {
        return Err(Error::Api(ApiError {
            code: C::from_code(code),
            raw_code: code,
            code_text: None,
            message: Some("the platform answered success with data false".into()),
            method,
            status,
            body: excerpt(),
        }));
    }
    let data = match raw_data {
        None => None,
        Some(raw) => decode_data::<T>(raw.get(), protocol.sensitive_keys).map_err(|reason| {
            Error::Decode(DecodeError {
                kind: DecodeErrorKind::Data,
                method,
                status,
                reason,
                body: excerpt(),
            })
        })?,
    };
    if data.is_none() && rule.required {
        return Err(Error::Decode(DecodeError {
            kind: DecodeErrorKind::MissingData,
            method,
            status,
            reason: "the reply reports success without `data` (absent, null or empty), which \
                     this endpoint always returns"
                .into(),
            body: excerpt(),
        }));
    }
    Ok(Response {
        data,
        page: env.page,
        status,
    })
}

/// Decodes `data` tolerantly; the error names the path of the bad value (`items[2].price`).
///
/// Path tracking costs about a fifth of a reply's decoding (measured), and only a failure
/// needs it: the data is decoded plainly first, and again with tracking only when that
/// fails, so the error is the one the tracked decoder gives.
///
/// When the path passes through a field of `sensitive` (the spec's `secret` and `pii`
/// keys), the error gives the kind of problem without the value: the decoder's message
/// quotes it (`invalid "1982-02-30": expected a date`).
fn decode_data<T: Tolerant>(json: &str, sensitive: &[&str]) -> Result<Option<T>, String> {
    let mut de = serde_json::Deserializer::from_str(json);
    if let Ok(value) = T::deserialize_tolerant(&mut de)
        && de.end().is_ok()
    {
        return Ok(value);
    }
    decode_data_tracked(json, sensitive)
}

/// [`decode_data`] with path tracking, for the error.
fn decode_data_tracked<T: Tolerant>(json: &str, sensitive: &[&str]) -> Result<Option<T>, String> {
    let mut de = serde_json::Deserializer::from_str(json);
    let mut track = serde_path_to_error::Track::new();
    let value =
        T::deserialize_tolerant(serde_path_to_error::Deserializer::new(&mut de, &mut track))
            .map_err(|e| {
                let path = track.path().to_string();
                let personal = path
                    .split(['.', '[', ']'])
                    .any(|segment| sensitive.contains(&segment));
                let what = if personal {
                    format!(
                        "{} (the value of a sensitive field is not shown)",
                        crate::error::without_values(&e.to_string())
                    )
                } else {
                    e.to_string()
                };
                if path.is_empty() || path == "." {
                    format!("`data`: {what}")
                } else {
                    format!("`data.{path}`: {what}")
                }
            })?;
    de.end().map_err(|e| format!("`data`: {e}"))?;
    Ok(value)
}
