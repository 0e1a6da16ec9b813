//! `ump_gateway`: the method in the URL path; the credential, the timestamp, the
//! endpoint's query fields and the signature in the query string (their names from the
//! spec); the business parameters as the JSON body. Reply: a success flag, a code, a
//! message, `data` and top-level page numbers, under the spec's `envelope_keys`.

use super::{Call, Outgoing, Style};
use crate::client::Client;
use crate::client::send::CredentialParam;
use crate::envelope::{Envelope, EnvelopeError, PageInfo, Part, Parts, succeeded};
use crate::error::TransportError;
use crate::protocol::{ProtocolInfo, SigningScheme};
use crate::signer::SignRequest;
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
        client.prepare_gateway(call.method, call.credential, call.extra, call.body)
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
    pub(super) fn prepare_gateway(
        &self,
        method: &'static str,
        credential: CredentialParam<'_>,
        extra: &[(&'static str, String)],
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
        params.extend(extra.iter().map(|(n, v)| (*n, v.as_str())));
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
            url,
            body,
            token,
            signature: Secret::new(signature),
        })
    }
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
