//! `zvcms_action`: one URL for every call (`method_in: envelope`) and a JSON body
//! `{"OpenId", "GrantCode", "Timestamp", "Nonce", "Token", "Action", "Params"}`: the app
//! id, the grant code, the time (the protocol's unit, as a decimal string), a random
//! positive integer unique per call, the signature, the method name, and the business
//! parameters as a JSON object. Reply: `status`, `code`, `message`, `data`.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use serde::Serialize;
use serde_json::value::RawValue;

use super::{Call, Outgoing, Style};
use crate::client::Client;
use crate::envelope::{Envelope, EnvelopeError, PageInfo, Part, Parts, succeeded};
use crate::error::TransportError;
use crate::protocol::{ProtocolInfo, SigningScheme};
use crate::signer::{SignError, SignRequest};
use crate::tokens::Secret;
use crate::ump_md5;

pub(super) struct ZvcmsAction;

impl Style for ZvcmsAction {
    fn check_config(&self, protocol: &ProtocolInfo, has_grant_code: bool) -> Result<(), String> {
        if !has_grant_code {
            return Err(format!(
                "{}: grant_code is not set (the envelope's GrantCode)",
                protocol.api
            ));
        }
        Ok(())
    }

    fn prepare(&self, client: &Client, call: Call<'_>) -> Result<Outgoing, TransportError> {
        // Every action is a POST of its envelope: no zvcms section marks another verb, so
        // the call's verb is always POST here.
        client.prepare_action(call.method, call.extra, &call.body)
    }

    fn decode<'a>(
        &self,
        protocol: &ProtocolInfo,
        body: &'a [u8],
    ) -> Result<Envelope<'a>, EnvelopeError> {
        decode_zvcms(protocol, body)
    }

    fn secret_body_fields(&self) -> &'static [&'static str] {
        &["Token"]
    }
}

/// The `zvcms_action` request envelope, keys in the document's order.
#[derive(Serialize)]
struct ActionEnvelope<'a> {
    #[serde(rename = "OpenId")]
    open_id: &'a str,
    #[serde(rename = "GrantCode")]
    grant_code: &'a str,
    #[serde(rename = "Timestamp")]
    timestamp: &'a str,
    #[serde(rename = "Nonce")]
    nonce: &'a str,
    #[serde(rename = "Token")]
    token: &'a str,
    #[serde(rename = "Action")]
    action: &'a str,
    #[serde(rename = "Params")]
    params: &'a RawValue,
}

/// The `Nonce` of the `zvcms_action` envelope: a positive integer below 2^31 − 1, distinct
/// for each of the next 2^31 − 2 calls of a client and its clones.
///
/// A counter from a random start, multiplied modulo the prime 2^31 − 1 by a constant
/// (a bijection of 1..2^31 − 1): unique like a counter, scattered like a random number,
/// and different between clients and processes (the start comes from the standard
/// library's randomly keyed hasher).
pub(crate) struct Nonces {
    next: AtomicU64,
}

const NONCE_MODULUS: u64 = 2_147_483_647; // 2^31 − 1, a prime
const NONCE_MULTIPLIER: u64 = 48_271; // a primitive root modulo 2^31 − 1

impl Nonces {
    pub(crate) fn new() -> Self {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        Nonces {
            next: AtomicU64::new(hasher.finish() % (NONCE_MODULUS - 1)),
        }
    }

    /// The next nonce, in `1..=2_147_483_646`.
    pub(crate) fn next(&self) -> u64 {
        let n = self.next.fetch_add(1, Ordering::Relaxed) % (NONCE_MODULUS - 1) + 1;
        n * NONCE_MULTIPLIER % NONCE_MODULUS
    }
}

impl Client {
    /// `zvcms_action`: one URL; the app id, grant code, timestamp, nonce, signature,
    /// method and business parameters (`Params`, the serialized request as is) in a JSON
    /// body. Query fields, if an endpoint has any, go in the query string and are signed
    /// after the envelope fields.
    pub(super) fn prepare_action(
        &self,
        method: &'static str,
        extra: &[(&'static str, String)],
        params: &[u8],
    ) -> Result<Outgoing, TransportError> {
        let inner = &self.inner;
        let protocol = inner.protocol;
        let invalid = |reason: String| TransportError::signing(method, &SignError(reason));
        // The caller serialized the request with serde_json: UTF-8 JSON.
        let params_text = std::str::from_utf8(params)
            .map_err(|e| invalid(format!("the parameters are not UTF-8: {e}")))?;
        let params_raw: &RawValue = serde_json::from_str(params_text)
            .map_err(|e| invalid(format!("the parameters are not JSON: {e}")))?;
        let timestamp = self.timestamp();
        let nonce = inner.nonces.next().to_string();
        // `build()` requires the grant code for this style.
        let grant_code = inner.grant_code.as_ref().map_or("", |g| g.expose());
        let mut fields: Vec<(&str, &str)> = Vec::with_capacity(6 + extra.len());
        fields.extend([
            ("OpenId", inner.app_id.as_str()),
            ("GrantCode", grant_code),
            ("Timestamp", timestamp.as_str()),
            ("Nonce", nonce.as_str()),
            ("Action", method),
            ("Params", params_text),
        ]);
        fields.extend(extra.iter().map(|(n, v)| (*n, v.as_str())));
        let token = match protocol.signing {
            SigningScheme::UmpMd5 => ump_md5::sign(&fields, b"", self.secret())
                .as_str()
                .to_owned(),
            SigningScheme::Pluggable => {
                self.custom_sign(method, &SignRequest::new(method, &fields))?
            }
        };
        let envelope = ActionEnvelope {
            open_id: &inner.app_id,
            grant_code,
            timestamp: &timestamp,
            nonce: &nonce,
            token: &token,
            action: method,
            params: params_raw,
        };
        let body = serde_json::to_vec(&envelope)
            .map_err(|e| invalid(format!("cannot write the envelope: {e}")))?;
        let mut url = self.method_url(method)?;
        if !extra.is_empty() {
            let mut query = url.query_pairs_mut();
            for (name, value) in extra {
                query.append_pair(name, value);
            }
        }
        Ok(Outgoing {
            verb: crate::endpoint::Verb::Post,
            url,
            body: Bytes::from(body),
            // The grant code is the client's own, known to every scrubber from the start;
            // the envelope's `Token` is the signature.
            token: None,
            signature: Secret::new(token),
        })
    }
}

/// An error code as sent: an integer (a number or a string of digits) or other text.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Code {
    Int(i64),
    Text(String),
}

/// `0`, `"0"`, `" 12 "` are integers; `null`, `""` are absent; anything else is text.
fn code_of(raw: &RawValue) -> Option<Code> {
    let t = raw.get().trim();
    if t == "null" {
        return None;
    }
    let text = if t.starts_with('"') {
        serde_json::from_str::<String>(t).unwrap_or_else(|_| t.to_owned())
    } else {
        t.to_owned()
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return None;
    }
    Some(match trimmed.parse::<i64>() {
        Ok(n) => Code::Int(n),
        Err(_) => Code::Text(text),
    })
}

fn decode_zvcms<'a>(
    protocol: &ProtocolInfo,
    body: &'a [u8],
) -> Result<Envelope<'a>, EnvelopeError> {
    let parts = Parts::read(&protocol.envelope_keys, body)?;
    // `"data": ""` is how a PHP-style server says "no data".
    let data = parts
        .raw(Part::Data)
        .filter(|raw| !matches!(raw.get().trim(), "null" | "\"\""));
    let code = parts.raw(Part::Code).and_then(code_of);
    // Errata (zvcms spec): `status` true only says the call was processed; the document's
    // own example of a business error has `status: true` and an error code. So the code
    // decides when there is one; `status` false is an error beside an error code, and
    // beside the success code a success only with a result (errata E22; [`succeeded`]
    // holds the whole rule, shared with every style).
    let code_is_success = code
        .as_ref()
        .map(|c| matches!(c, Code::Int(n) if Some(*n) == protocol.success_code));
    let ok = succeeded(
        parts.get(Part::Success)?,
        code_is_success,
        data.is_some(),
        "a status flag nor a code",
    )?;
    let (outcome, code_text) = if ok {
        (Ok(()), None)
    } else {
        let message = parts
            .get::<String>(Part::Message)?
            .filter(|m| !m.is_empty());
        match code {
            Some(Code::Int(n)) => (Err((n, message)), None),
            Some(Code::Text(t)) => (Err((0, message)), Some(t)),
            None => (Err((0, message)), None),
        }
    };
    Ok(Envelope {
        outcome,
        code_text,
        data,
        page: PageInfo::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn nonces_are_positive_distinct_and_below_2_pow_31() {
        let nonces = Nonces::new();
        let mut seen = HashSet::new();
        for _ in 0..100_000 {
            let n = nonces.next();
            assert!((1..NONCE_MODULUS).contains(&n), "{n}");
            assert!(seen.insert(n), "repeated nonce {n}");
        }
        // Wraps around the counter without leaving the range or panicking.
        let edge = Nonces {
            next: AtomicU64::new(u64::MAX - 2),
        };
        for _ in 0..5 {
            assert!((1..NONCE_MODULUS).contains(&edge.next()));
        }
    }
}
