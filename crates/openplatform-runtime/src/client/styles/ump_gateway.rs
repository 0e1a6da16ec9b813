//! `ump_gateway`: the method in the URL path; the credential, the timestamp, the
//! endpoint's query fields and the signature in the query string (their names from the
//! spec); the business parameters as the JSON body. Reply: a success flag, a code, a
//! message, `data` and top-level page numbers, under the spec's `envelope_keys`.

use super::{Call, Outgoing, Style};
use crate::client::Client;
use crate::client::send::CredentialParam;
use crate::endpoint::Verb;
use crate::envelope::{Envelope, EnvelopeError, PageInfo, Part, Parts, succeeded};
use crate::error::TransportError;
use crate::protocol::{ProtocolInfo, SigningScheme};
use crate::signer::{SignError, SignRequest};
use crate::tokens::Secret;
use crate::ump_md5;

pub(super) struct UmpGateway;

impl Style for UmpGateway {
    fn check_config(&self, protocol: &ProtocolInfo, has_grant_code: bool) -> Result<(), String> {
        if protocol.timestamp_param.is_none() || protocol.sign_param.is_none() {
            return Err(format!(
                "{}: its spec names no timestamp_param or sign_param, which the {:?} \
                 envelope puts in the query (regenerate it from a valid spec)",
                protocol.api, protocol.envelope
            ));
        }
        if has_grant_code {
            return Err(format!(
                "{}: its envelope carries no grant code: remove grant_code",
                protocol.api
            ));
        }
        Ok(())
    }

    fn prepare(&self, client: &Client, call: Call<'_>) -> Result<Outgoing, TransportError> {
        match call.verb {
            Verb::Post => {
                client.prepare_gateway(call.method, call.credential, call.extra, call.body)
            }
            Verb::Get => {
                // Errata E01: a GET carries no body; the business fields travel as query
                // parameters beside the protocol's, and the signature covers them as it
                // covers every query parameter (over an empty body).
                let fields =
                    query_fields(client.inner.protocol, call.method, call.extra, &call.body)?;
                let mut outgoing = client.prepare_gateway(
                    call.method,
                    call.credential,
                    &fields,
                    bytes::Bytes::new(),
                )?;
                outgoing.verb = Verb::Get;
                Ok(outgoing)
            }
        }
    }

    fn decode<'a>(
        &self,
        protocol: &ProtocolInfo,
        body: &'a [u8],
    ) -> Result<Envelope<'a>, EnvelopeError> {
        decode_ump(protocol, body)
    }

    fn secret_body_fields(&self) -> &'static [&'static str] {
        // The credential and the signature travel in the query.
        &[]
    }
}

impl Client {
    /// `ump_gateway`: the method in the path; credential, timestamp, query fields and
    /// `sign` in the query string; the business parameters as the body.
    pub(super) fn prepare_gateway<N: AsRef<str>>(
        &self,
        method: &'static str,
        credential: CredentialParam<'_>,
        extra: &[(N, String)],
        body: bytes::Bytes,
    ) -> Result<Outgoing, TransportError> {
        let inner = &self.inner;
        let protocol = inner.protocol;
        let timestamp = self.timestamp();
        let mut params: Vec<(&str, &str)> = Vec::with_capacity(3 + extra.len());
        let mut token = None;
        if let Some(tokens) = &protocol.tokens {
            match credential {
                CredentialParam::AppId => params.push((tokens.app_id_param, &inner.app_id)),
                CredentialParam::RefreshToken(t) => {
                    params.push((tokens.refresh_token_param, t.expose()));
                    token = Some(t.clone());
                }
                CredentialParam::AccessToken(t) => {
                    params.push((tokens.access_token_param, t.expose()));
                    token = Some(t.clone());
                }
            }
        }
        // `build()` requires both names for this style.
        let (timestamp_param, sign_param) = (
            protocol.timestamp_param.unwrap_or_default(),
            protocol.sign_param.unwrap_or_default(),
        );
        params.push((timestamp_param, &timestamp));
        params.extend(extra.iter().map(|(n, v)| (n.as_ref(), v.as_str())));
        ump_md5::sort_params(&mut params);
        let ump;
        let custom;
        let signature: &str = match protocol.signing {
            SigningScheme::UmpMd5 => {
                ump = ump_md5::sign_sorted(&params, &body, self.secret());
                ump.as_str()
            }
            SigningScheme::Pluggable => {
                custom =
                    self.custom_sign(method, &SignRequest::new(method, &params).with_body(&body))?;
                &custom
            }
        };
        let mut url = self.method_url(method)?;
        {
            let mut query = url.query_pairs_mut();
            for (name, value) in &params {
                query.append_pair(name, value);
            }
            query.append_pair(sign_param, signature);
        }
        Ok(Outgoing {
            verb: Verb::Post,
            url,
            body,
            token,
            signature: Secret::new(signature),
        })
    }
}

/// The query fields of a GET: the endpoint's own, then each field of the JSON body, a
/// text as it is, a number or a boolean as its JSON text, a list or an object as its JSON
/// text (no section the document marks GET has one), an absent or null field left out.
/// A field named like a protocol parameter, or like another field, is refused: the
/// gateway could not tell them apart.
fn query_fields(
    protocol: &ProtocolInfo,
    method: &'static str,
    extra: &[(&'static str, String)],
    body: &[u8],
) -> Result<Vec<(String, String)>, TransportError> {
    let invalid = |reason: String| TransportError::signing(method, &SignError(reason));
    // Raw values: a number travels as the exact text serialized (an 18-digit id or an
    // amount never passes through f64).
    let object: std::collections::BTreeMap<String, &serde_json::value::RawValue> =
        serde_json::from_slice(body)
            .map_err(|e| invalid(format!("the business fields are not a JSON object: {e}")))?;
    let mut reserved: Vec<&str> = [protocol.timestamp_param, protocol.sign_param]
        .into_iter()
        .flatten()
        .collect();
    if let Some(tokens) = &protocol.tokens {
        reserved.extend([
            tokens.app_id_param,
            tokens.access_token_param,
            tokens.refresh_token_param,
        ]);
    }
    let mut fields: Vec<(String, String)> = extra
        .iter()
        .map(|(n, v)| ((*n).to_owned(), v.clone()))
        .collect();
    for (name, value) in object {
        if reserved.contains(&name.as_str()) || fields.iter().any(|(n, _)| *n == name) {
            return Err(invalid(format!(
                "the business field {name} is named like another query parameter: it cannot \
                 travel in a GET's query"
            )));
        }
        let raw = value.get();
        let text = match raw.as_bytes().first() {
            _ if raw == "null" => continue,
            Some(b'"') => serde_json::from_str::<String>(raw)
                .map_err(|e| invalid(format!("the business field {name}: {e}")))?,
            _ => raw.to_owned(),
        };
        fields.push((name, text));
    }
    Ok(fields)
}

fn decode_ump<'a>(protocol: &ProtocolInfo, body: &'a [u8]) -> Result<Envelope<'a>, EnvelopeError> {
    let parts = Parts::read(&protocol.envelope_keys, body)?;
    let error_code: Option<i64> = parts.get(Part::Code)?;
    let data = parts.raw(Part::Data).filter(|raw| raw.get() != "null");
    let page = PageInfo {
        page_no: parts.get(Part::PageNo)?,
        page_size: parts.get(Part::PageSize)?,
        total_count: parts.get(Part::TotalCount)?,
    };
    // Errata E08: with `success` true, the success code, null or an absent code all mean
    // success. Without `success`, the code decides. E79: a false flag beside the success
    // code and a result is a success ([`succeeded`] holds the whole rule).
    let code_is_success = error_code.map(|code| Some(code) == protocol.success_code);
    let ok = succeeded(
        parts.get(Part::Success)?,
        code_is_success,
        data.is_some(),
        "a success flag nor an error code",
    )?;
    let outcome = if ok {
        Ok(())
    } else {
        // `success: false` without a code: report it as code 0 ("no code given").
        let message = parts
            .get::<String>(Part::Message)?
            .filter(|m| !m.is_empty());
        Err((error_code.unwrap_or(0), message))
    };
    Ok(Envelope {
        outcome,
        code_text: None,
        data,
        page,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The envelope tests' protocol, with the query's timestamp and signature names.
    const P: ProtocolInfo = ProtocolInfo {
        timestamp_param: Some("timestamp"),
        sign_param: Some("sign"),
        ..crate::envelope::tests::P
    };

    #[test]
    fn a_gets_fields_are_query_texts() {
        let body = br#"{"open_id":"1380000","store_id":123456789012345678,"order_amount":150.50,
            "third_coupon_codes":"C-1,C-2","verifier_name":null,"flag":true,"list":[1,2]}"#;
        let fields = query_fields(&P, "m", &[("extra", "x".into())], body).unwrap();
        let get = |name: &str| {
            fields
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("extra"), Some("x"));
        assert_eq!(get("open_id"), Some("1380000"));
        assert_eq!(get("store_id"), Some("123456789012345678"));
        assert_eq!(get("order_amount"), Some("150.50"), "the exact text sent");
        assert_eq!(get("third_coupon_codes"), Some("C-1,C-2"));
        assert_eq!(get("verifier_name"), None, "an absent field is left out");
        assert_eq!(get("flag"), Some("true"));
        assert_eq!(get("list"), Some("[1,2]"));
    }

    #[test]
    fn a_field_named_like_a_query_parameter_is_refused() {
        for body in [
            &br#"{"sign":"x"}"#[..],
            br#"{"timestamp":1}"#,
            br#"{"extra":"y"}"#,
        ] {
            let refused = query_fields(&P, "m", &[("extra", "x".into())], body).unwrap_err();
            assert!(
                refused
                    .to_string()
                    .contains("named like another query parameter"),
                "{refused}"
            );
        }
        assert!(query_fields(&P, "m", &[], b"[1]").is_err(), "not an object");
    }
}
