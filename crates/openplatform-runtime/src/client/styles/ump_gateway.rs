//! `ump_gateway`: the method in the URL path; the credential, the timestamp, the
//! endpoint's query fields and the signature in the query string (their names from the
//! spec); the business parameters as the JSON body. Reply: `success`,
//! `error_code`/`errorCode`, `error_message`/`errorMessage`, `data`, and top-level
//! `pageNo`/`pageSize`/`totalCount`.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{Call, Outgoing, Style};
use crate::client::Client;
use crate::client::send::CredentialParam;
use crate::envelope::{Envelope, EnvelopeError, PageInfo, succeeded};
use crate::error::TransportError;
use crate::protocol::{ProtocolInfo, SigningScheme};
use crate::signer::SignRequest;
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
}

/// The UMP gateway envelope: `success`, `error_code`/`errorCode`,
/// `error_message`/`errorMessage`, `data`, and top-level `pageNo`/`pageSize`/`totalCount`.
#[derive(Deserialize)]
struct UmpEnvelope<'a> {
    #[serde(default, deserialize_with = "crate::wire::tolerant::option")]
    success: Option<bool>,
    #[serde(
        default,
        alias = "errorCode",
        deserialize_with = "crate::wire::tolerant::option"
    )]
    error_code: Option<i64>,
    #[serde(default, alias = "errorMessage", alias = "msg", alias = "message")]
    error_message: Option<String>,
    #[serde(default, borrow)]
    data: Option<&'a RawValue>,
    #[serde(
        default,
        alias = "page_no",
        deserialize_with = "crate::wire::tolerant::option"
    )]
    #[serde(rename = "pageNo")]
    page_no: Option<i64>,
    #[serde(
        default,
        alias = "page_size",
        deserialize_with = "crate::wire::tolerant::option"
    )]
    #[serde(rename = "pageSize")]
    page_size: Option<i64>,
    #[serde(
        default,
        alias = "total_count",
        alias = "total",
        deserialize_with = "crate::wire::tolerant::option"
    )]
    #[serde(rename = "totalCount")]
    total_count: Option<i64>,
}

fn decode_ump<'a>(protocol: &ProtocolInfo, body: &'a [u8]) -> Result<Envelope<'a>, EnvelopeError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(EnvelopeError("the body is empty".into()));
    }
    let env: UmpEnvelope<'a> = serde_json::from_slice(body)
        .map_err(|e| EnvelopeError(format!("not a JSON envelope: {e}")))?;
    let data = env.data.filter(|raw| raw.get() != "null");
    let page = PageInfo {
        page_no: env.page_no,
        page_size: env.page_size,
        total_count: env.total_count,
    };
    // Errata E08: with `success` true, the success code, null or an absent code all mean
    // success. Without `success`, the code decides.
    let code_is_success = env
        .error_code
        .map(|code| Some(code) == protocol.success_code);
    let ok = succeeded(env.success, code_is_success, "`success` nor an error code")?;
    let outcome = if ok {
        Ok(())
    } else {
        // `success: false` without a code: report it as code 0 ("no code given").
        let message = env.error_message.filter(|m| !m.is_empty());
        Err((env.error_code.unwrap_or(0), message))
    };
    Ok(Envelope {
        outcome,
        code_text: None,
        data,
        page,
    })
}
