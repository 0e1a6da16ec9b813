//! A dry run: the signed request a call would send, its credentials redacted, sending
//! nothing.

use std::fmt;

use bytes::Bytes;

use super::Client;
use super::send::CredentialParam;
use crate::endpoint::{Credential, Endpoint};
use crate::error::Error;
use crate::redact::{Scrubber, redact_json_keys};
use crate::secret::Secret;

/// The request a call would send at this instant ([`Client::dry_run`]): laid out and
/// signed exactly as [`Client::send`] lays it out, with its credentials redacted.
///
/// `url` and `body` are what `send` would send, byte for byte, except that the access
/// token, the app secret, the grant code and the style's secret body fields (the
/// signature of an envelope that carries it in the body) read `[REDACTED]`, the marker
/// of every scrubbed text of the runtime. A signature in the query string stays (it is
/// no secret: it only proves the request, and the request's token is redacted).
///
/// The body holds the personal data of the request as it would be sent (the operator
/// asked to see it); the `Debug` of a `DryRun` redacts the spec's sensitive fields of the
/// body too, as every `Debug` of the runtime does. Its JSON (`serde::Serialize`) does not.
#[derive(Clone, serde::Serialize)]
#[non_exhaustive]
pub struct DryRun {
    /// The endpoint's method name.
    pub method: &'static str,
    /// The HTTP verb sent (`POST`, `GET`).
    pub verb: &'static str,
    /// The full URL, credentials redacted.
    pub url: String,
    /// The exact body as text, credentials and the style's secret body fields redacted.
    pub body: String,
    /// Which access token the signature was computed with.
    pub token: DryRunToken,
    /// The spec's sensitive keys, for `Debug`.
    #[serde(skip)]
    sensitive_keys: &'static [&'static str],
}

impl fmt::Debug for DryRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DryRun")
            .field("method", &self.method)
            .field("verb", &self.verb)
            .field("url", &self.url)
            .field("body", &redact_json_keys(&self.body, self.sensitive_keys))
            .field("token", &self.token)
            .finish()
    }
}

/// Which access token a [`DryRun`]'s signature was computed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DryRunToken {
    /// The valid access token held or stored: the one `send` would use now.
    Stored,
    /// No valid token is held or stored (`send` would obtain or refresh one first): a
    /// placeholder was signed with, so the signature differs from what `send` would send.
    Placeholder,
    /// The endpoint carries no access token.
    NotNeeded,
}

/// The access token a dry run signs with when no valid one is held or stored.
const PLACEHOLDER_TOKEN: &str = "dry-run-placeholder-access-token";

impl Client {
    /// The request `send` would send for `request` now, its credentials redacted; sends
    /// nothing.
    ///
    /// Checks the request as [`Client::send`] does (the same
    /// [`RequestError`](crate::RequestError)s, token calls refused alike), serializes it
    /// the same way and lays it out through the same envelope style, so `url` and `body`
    /// are byte-identical to what `send` would send at this instant, redactions aside
    /// (timestamp and nonce are this instant's). The access token is the valid one held
    /// in memory or stored (read from the store: never a token call, never a budget
    /// unit), else a placeholder ([`DryRunToken::Placeholder`]). A store that fails or
    /// holds a damaged record is an [`Error::Token`].
    pub async fn dry_run<E: Endpoint>(&self, request: &E) -> Result<DryRun, Error<E::Code>> {
        let info = E::INFO;
        request.validate()?;
        let body = Bytes::from(serde_json::to_vec(request).map_err(|e| {
            Error::Request(crate::RequestError::Encoding {
                method: info.method,
                field: "(body)",
                reason: e.to_string(),
            })
        })?);
        let extra = request.query_params();
        if self.inner.protocol.is_token_method(info.method) {
            return Err(Error::Request(crate::RequestError::TokenCallByHand {
                method: info.method,
            }));
        }
        let (token, kind) = match info.credential {
            Credential::AppSignature | Credential::RefreshToken => (None, DryRunToken::NotNeeded),
            Credential::AccessToken => match self
                .inner
                .tokens
                .usable_token()
                .await
                .map_err(Error::Token)?
            {
                Some(token) => (Some(token), DryRunToken::Stored),
                None => (
                    Some(Secret::new(PLACEHOLDER_TOKEN)),
                    DryRunToken::Placeholder,
                ),
            },
        };
        let credential = match &token {
            Some(token) => CredentialParam::AccessToken(token),
            None => CredentialParam::AppId,
        };
        let style = super::styles::of(self.inner.protocol.envelope);
        let call = super::styles::Call {
            method: info.method,
            verb: self.verb_for(&E::INFO).await,
            credential,
            extra: &extra,
            body,
        };
        let super::styles::Outgoing {
            verb, url, body, ..
        } = style.prepare(self, call).map_err(Error::Transport)?;
        let mut scrubber = Scrubber::new();
        for secret in [&self.inner.app_secret, &self.inner.grant_code, &token]
            .into_iter()
            .flatten()
        {
            scrubber.add(secret.expose());
        }
        let body_text =
            redact_json_keys(&String::from_utf8_lossy(&body), style.secret_body_fields());
        Ok(DryRun {
            method: info.method,
            verb: verb.as_str(),
            url: scrubber.scrub(url.as_str()),
            body: scrubber.scrub(&body_text),
            token: kind,
            sensitive_keys: self.inner.protocol.sensitive_keys,
        })
    }
}
