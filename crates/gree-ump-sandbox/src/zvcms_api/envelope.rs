//! The zvcms request envelope, checked before its `Params` are read: the JSON object
//! `{"OpenId", "GrantCode", "Timestamp", "Nonce", "Token", "Action", "Params"}`.
//!
//! Order of the checks: a JSON object with every key (else [`INVALID_PARAMS`]), the
//! `OpenId` and `GrantCode` the sandbox was configured with ([`UNKNOWN_CREDENTIALS`]),
//! `Timestamp` decimal seconds and `Nonce` a positive integer ([`INVALID_PARAMS`]), then the `Token`, recomputed by the configured [`Signer`] from
//! the fields exactly as received, `Params` as its exact JSON text ([`BAD_SIGNATURE`]).
//!
//! The document states no window for `Timestamp` and no rule for a repeated `Nonce`, so
//! neither is enforced (a sandbox stricter than the document fails users for rules
//! nobody stated; errata E73 of the UMP spec decided the same for UMP's calls).

use std::collections::BTreeMap;

use openplatform_runtime::{SignRequest, Signer};
use serde_json::value::RawValue;

use super::{BAD_SIGNATURE, INVALID_PARAMS, UNKNOWN_CREDENTIALS, ZvcmsConfig, ZvcmsError};

/// The envelope's keys but `Token`, in the order the document lists them: the order the
/// signer is given the fields in (the client's order).
const SIGNED_KEYS: [&str; 6] = [
    "OpenId",
    "GrantCode",
    "Timestamp",
    "Nonce",
    "Action",
    "Params",
];
const TOKEN_KEY: &str = "Token";

/// A received envelope that passed every check.
#[derive(Debug)]
pub(crate) struct Verified {
    pub action: String,
    /// `Params`, its exact JSON text.
    pub params: String,
}

/// The text of one envelope value as the signer sees it: a string's content, any other
/// JSON value's exact text.
fn field_text(raw: &RawValue) -> String {
    serde_json::from_str::<String>(raw.get()).unwrap_or_else(|_| raw.get().to_owned())
}

/// Checks the envelope `body` against `config`.
pub(crate) fn verify(body: &[u8], config: &ZvcmsConfig) -> Result<Verified, ZvcmsError> {
    let envelope: BTreeMap<String, Box<RawValue>> = serde_json::from_slice(body)
        .map_err(|_| ZvcmsError::system(INVALID_PARAMS, "请求格式错误: not a JSON object"))?;
    let text = |key: &str| -> Result<String, ZvcmsError> {
        envelope
            .get(key)
            .map(|raw| field_text(raw))
            .ok_or_else(|| ZvcmsError::system(INVALID_PARAMS, format!("缺少参数 {key}")))
    };
    let mut fields: Vec<(&str, String)> = Vec::with_capacity(SIGNED_KEYS.len());
    for key in SIGNED_KEYS {
        let value = if key == "Params" {
            envelope
                .get(key)
                .map(|raw| raw.get().to_owned())
                .ok_or_else(|| ZvcmsError::system(INVALID_PARAMS, "缺少参数 Params"))?
        } else {
            text(key)?
        };
        fields.push((key, value));
    }
    let token = text(TOKEN_KEY)?;
    let value = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| *k == key)
            .map_or("", |(_, v)| v.as_str())
    };
    // Compared whole, never echoed: the grant code is a credential.
    if value("OpenId") != config.open_id || value("GrantCode") != config.grant_code {
        return Err(ZvcmsError::system(
            UNKNOWN_CREDENTIALS,
            "OpenId或GrantCode无效: unknown OpenId or GrantCode",
        ));
    }
    if !is_decimal(value("Timestamp")) {
        return Err(ZvcmsError::system(
            INVALID_PARAMS,
            "Timestamp must be decimal seconds",
        ));
    }
    // 随机正整数: any positive integer (the client's range below 2^31 is its own choice).
    let nonce_ok =
        is_decimal(value("Nonce")) && value("Nonce").parse::<u64>().is_ok_and(|n| n >= 1);
    if !nonce_ok {
        return Err(ZvcmsError::system(
            INVALID_PARAMS,
            "Nonce must be a positive integer",
        ));
    }
    check_token(&fields, &token, config.signer.as_ref())?;
    Ok(Verified {
        action: value("Action").to_owned(),
        params: value("Params").to_owned(),
    })
}

/// Digits only, at most 19 (an `i64`), no sign, no spaces.
fn is_decimal(text: &str) -> bool {
    !text.is_empty() && text.len() <= 19 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The Token must be what `signer` computes from the fields as received. A signer that
/// cannot sign them refuses the call the same way (the caller cannot tell the two apart
/// on the platform either).
fn check_token(
    fields: &[(&str, String)],
    token: &str,
    signer: &dyn Signer,
) -> Result<(), ZvcmsError> {
    let action = fields
        .iter()
        .find(|(k, _)| *k == "Action")
        .map_or("", |(_, v)| v.as_str());
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let expected = signer.sign(&SignRequest::new(action, &pairs));
    match expected {
        Ok(expected) if constant_time_eq(expected.as_bytes(), token.as_bytes()) => Ok(()),
        _ => Err(ZvcmsError::system(
            BAD_SIGNATURE,
            "签名错误: Token verification failed",
        )),
    }
}

/// Equality whose time does not depend on where the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
