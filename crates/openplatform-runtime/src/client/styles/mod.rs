//! One module per protocol style: everything the runtime knows of an envelope style —
//! the checks of a client's configuration, the building and signing of a request, and
//! the decoding of a reply's envelope — behind one trait, [`Style`]. The spec names the
//! style (`protocol.envelope`); [`of`] gives its implementation.
//!
//! A new style is a variant of [`EnvelopeStyle`], a module here implementing [`Style`],
//! and an arm of [`of`]: nothing else of the runtime changes.

mod ump_gateway;
mod zvcms_action;

use bytes::Bytes;

pub(crate) use zvcms_action::Nonces;

use super::Client;
use super::send::CredentialParam;
use crate::clock::Clock;
use crate::endpoint::Verb;
use crate::envelope::{Envelope, EnvelopeError};
use crate::error::TransportError;
use crate::protocol::{EnvelopeStyle, ProtocolInfo, TimestampUnit};
use crate::signer::{SignError, SignRequest};
use crate::tokens::Secret;

/// A request ready to send.
pub(crate) struct Outgoing {
    /// The verb it is sent with: the call's, where the style can lay the call out so.
    pub verb: Verb,
    pub url: reqwest::Url,
    pub body: Bytes,
    /// The token it carries, if any, and its signature, wherever the style put them: a
    /// reply that quotes one is an echo (the style knows them; reading them back out of
    /// the URL or body cost a parse per call).
    pub token: Option<Secret>,
    pub signature: Secret,
}

/// What one request is made of before its style lays it out.
pub(crate) struct Call<'a> {
    pub method: &'static str,
    /// The verb to send it with (see `client::verbs`).
    pub verb: Verb,
    pub credential: CredentialParam<'a>,
    /// Query fields of the endpoint, serialized.
    pub extra: &'a [(&'static str, String)],
    /// The business parameters, serialized once by the caller.
    pub body: Bytes,
}

/// An envelope style: configuration checks, request building, reply decoding.
pub(crate) trait Style: Sync {
    /// Checks at `build()` what this style needs of the protocol facts and the client's
    /// configuration; the error text names what is wrong.
    fn check_config(&self, protocol: &ProtocolInfo, has_grant_code: bool) -> Result<(), String>;

    /// The URL and body of one request, signed over exactly the bytes sent.
    fn prepare(&self, client: &Client, call: Call<'_>) -> Result<Outgoing, TransportError>;

    /// Decodes a reply's envelope, keeping `data` raw.
    fn decode<'a>(
        &self,
        protocol: &ProtocolInfo,
        body: &'a [u8],
    ) -> Result<Envelope<'a>, EnvelopeError>;

    /// Fields of the request body that carry a credential (the signature of an envelope
    /// that travels in the body), for scrubbing error texts.
    fn secret_body_fields(&self) -> &'static [&'static str];
}

/// The implementation of `style`.
pub(crate) fn of(style: EnvelopeStyle) -> &'static dyn Style {
    match style {
        EnvelopeStyle::UmpGateway => &ump_gateway::UmpGateway,
        EnvelopeStyle::ZvcmsAction => &zvcms_action::ZvcmsAction,
    }
}

impl Client {
    /// The current time in the protocol's unit, on the platform's clock.
    pub(crate) fn timestamp(&self) -> String {
        let now_ms = self.inner.clock.now_ms();
        match self.inner.protocol.timestamp {
            TimestampUnit::Milliseconds => now_ms.to_string(),
            TimestampUnit::Seconds => now_ms.div_euclid(1000).to_string(),
        }
    }

    pub(crate) fn secret(&self) -> &[u8] {
        // `build()` requires the app secret for the runtime's own schemes.
        self.inner
            .app_secret
            .as_ref()
            .map_or(&[][..], |s| s.expose().as_bytes())
    }

    /// Signs with the user's signer (`SigningScheme::Pluggable`).
    pub(crate) fn custom_sign(
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
}
