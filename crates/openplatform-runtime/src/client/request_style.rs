//! Request building per [`EnvelopeStyle`]: where the method, the credential, the
//! timestamp, the nonce and the signature travel, and exactly what is signed.
//!
//! The business parameters are serialized once by the caller; each style signs the very
//! bytes it sends.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use serde::Serialize;
use serde_json::value::RawValue;

use super::Client;
use super::send::CredentialParam;
use crate::clock::Clock;
use crate::error::TransportError;
use crate::protocol::{EnvelopeStyle, SigningScheme, TimestampUnit};
use crate::sign;
use crate::signer::{SignError, SignRequest};

/// A request ready to send.
pub(super) struct Outgoing {
    pub url: reqwest::Url,
    pub body: Bytes,
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
pub(super) struct Nonces {
    next: AtomicU64,
}

const NONCE_MODULUS: u64 = 2_147_483_647; // 2^31 − 1, a prime
const NONCE_MULTIPLIER: u64 = 48_271; // a primitive root modulo 2^31 − 1

impl Nonces {
    pub(super) fn new() -> Self {
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
    pub(super) fn next(&self) -> u64 {
        let n = self.next.fetch_add(1, Ordering::Relaxed) % (NONCE_MODULUS - 1) + 1;
        n * NONCE_MULTIPLIER % NONCE_MODULUS
    }
}

impl Client {
    /// The URL and body of one request in this API's envelope style, signed.
    pub(super) fn prepare(
        &self,
        method: &'static str,
        credential: CredentialParam<'_>,
        extra: &[(&'static str, String)],
        body: Bytes,
    ) -> Result<Outgoing, TransportError> {
        match self.inner.protocol.envelope {
            EnvelopeStyle::UmpGateway => self.prepare_gateway(method, credential, extra, body),
            EnvelopeStyle::ZvcmsAction => self.prepare_action(method, extra, &body),
        }
    }

    /// The current time in the protocol's unit, on the platform's clock.
    fn timestamp(&self) -> String {
        let now_ms = self.inner.clock.now_ms();
        match self.inner.protocol.timestamp {
            TimestampUnit::Milliseconds => now_ms.to_string(),
            TimestampUnit::Seconds => now_ms.div_euclid(1000).to_string(),
        }
    }

    fn secret(&self) -> &[u8] {
        // `build()` requires the app secret for the runtime's own schemes.
        self.inner
            .app_secret
            .as_ref()
            .map_or(&[][..], |s| s.expose().as_bytes())
    }

    /// Signs with the user's signer (`SigningScheme::Pluggable`).
    fn custom_sign(
        &self,
        method: &'static str,
        request: &SignRequest<'_>,
    ) -> Result<String, TransportError> {
        let signer = self.inner.signer.as_ref().ok_or_else(|| {
            // `build()` refuses a pluggable scheme without a signer; never reached.
            TransportError::signing(method, &SignError("no signer is set".into()))
        })?;
        signer
            .sign(request)
            .map_err(|e| TransportError::signing(method, &e))
    }

    /// `ump_gateway`: the method in the path; credential, timestamp, query fields and
    /// `sign` in the query string; the business parameters as the body.
    fn prepare_gateway(
        &self,
        method: &'static str,
        credential: CredentialParam<'_>,
        extra: &[(&'static str, String)],
        body: Bytes,
    ) -> Result<Outgoing, TransportError> {
        let inner = &self.inner;
        let protocol = inner.protocol;
        let timestamp = self.timestamp();
        let mut params: Vec<(&str, &str)> = Vec::with_capacity(3 + extra.len());
        if let Some(tokens) = &protocol.tokens {
            match credential {
                CredentialParam::AppId => params.push((tokens.app_id_param, &inner.app_id)),
                CredentialParam::RefreshToken(t) => {
                    params.push((tokens.refresh_token_param, t.expose()))
                }
                CredentialParam::AccessToken(t) => {
                    params.push((tokens.access_token_param, t.expose()))
                }
            }
        }
        // `build()` requires both names for this style.
        let (timestamp_param, sign_param) = (
            protocol.timestamp_param.unwrap_or_default(),
            protocol.sign_param.unwrap_or_default(),
        );
        params.push((timestamp_param, &timestamp));
        params.extend(extra.iter().map(|(n, v)| (*n, v.as_str())));
        sign::sort_params(&mut params);
        let ump;
        let custom;
        let signature: &str = match protocol.signing {
            SigningScheme::UmpMd5 => {
                ump = sign::sign_sorted(&params, &body, self.secret());
                ump.as_str()
            }
            SigningScheme::Pluggable => {
                custom =
                    self.custom_sign(method, &SignRequest::new(method, &params).with_body(&body))?;
                &custom
            }
        };
        let mut url = reqwest::Url::parse(&format!("{}{}", inner.base_url, protocol.path(method)))
            .map_err(|e| TransportError::invalid_url(method, &e))?;
        {
            let mut query = url.query_pairs_mut();
            for (name, value) in &params {
                query.append_pair(name, value);
            }
            query.append_pair(sign_param, signature);
        }
        Ok(Outgoing { url, body })
    }

    /// `zvcms_action`: one URL; the app id, grant code, timestamp, nonce, signature,
    /// method and business parameters (`Params`, the serialized request as is) in a JSON
    /// body. Query fields, if an endpoint has any, go in the query string and are signed
    /// after the envelope fields.
    fn prepare_action(
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
            SigningScheme::UmpMd5 => sign::sign(&fields, b"", self.secret()).as_str().to_owned(),
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
        let mut url = reqwest::Url::parse(&format!("{}{}", inner.base_url, protocol.path(method)))
            .map_err(|e| TransportError::invalid_url(method, &e))?;
        if !extra.is_empty() {
            let mut query = url.query_pairs_mut();
            for (name, value) in extra {
                query.append_pair(name, value);
            }
        }
        Ok(Outgoing {
            url,
            body: Bytes::from(body),
        })
    }
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
