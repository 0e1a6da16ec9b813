//! One call: serialize once, sign exactly the bytes sent, send, read a capped body,
//! decode the envelope, map the error code, decode `data`.

use std::time::Instant;

use bytes::Bytes;
use tracing::Instrument;

use super::decode::DataRule;
use super::retry::CallOptions;
use super::{Client, Response, decode};
use crate::endpoint::{Credential, Endpoint, Verb};
use crate::error::{BodyExcerpt, DecodeError, DecodeErrorKind, Error, TransportError};
use crate::error_code::ApiErrorCode;
use crate::secret::Secret;
use crate::wire::Tolerant;

/// A call's typed reply, boxed (see [`Client::send_boxed`]).
pub(super) type Reply<E> =
    Result<Box<Response<<E as Endpoint>::Data>>, Error<<E as Endpoint>::Code>>;

/// The credential parameter of one request.
#[derive(Clone, Copy)]
pub(crate) enum CredentialParam<'a> {
    AppId,
    RefreshToken(&'a Secret),
    AccessToken(&'a Secret),
}

/// A reply as received: status and a body within the size cap.
pub(super) struct RawReply<'a> {
    pub status: u16,
    pub body: Bytes,
    /// The body exceeded the cap; `body` holds its start only.
    pub too_large: Option<usize>,
    /// The `Date` header and the local time it arrived.
    pub date: Option<(String, i64)>,
    /// The `Allow` header of a 405 (the verbs the server takes there).
    pub allow: Option<String>,
    /// The reply came from another URL than the one sent (a supplied HTTP client
    /// followed a redirect).
    pub redirected: bool,
    /// The credentials and signatures alone: no business reply of the platform quotes
    /// them, so one that does is a hostile echo, never data.
    pub credentials: std::sync::Arc<crate::redact::Scrubber>,
    /// What was sent, for the full scrubber of an error's text: built only when an
    /// error needs it (parsing the request for its personal values costs on every call).
    pub sent: SentRequest<'a>,
}

/// The request as sent: where the values to scrub from an error's text are found.
pub(super) struct SentRequest<'a> {
    pub url: reqwest::Url,
    pub body: Bytes,
    pub extra: &'a [(&'static str, String)],
}

impl Client {
    /// Sends any request of this client's API and returns its typed reply.
    ///
    /// Checks the request before any traffic ([`Endpoint::validate`]), adds the credential
    /// (access token, fetched or refreshed as needed), timestamp and signature, and on an
    /// invalid-token answer refreshes the token once and retries once.
    ///
    /// The token calls themselves (the spec's `protocol.tokens`) are refused here
    /// ([`RequestError::TokenCallByHand`](crate::RequestError::TokenCallByHand)): the
    /// client's token manager makes them, within the daily budgets, and stores what they
    /// issue. See [`Client::tokens`].
    ///
    /// Transient failures are retried by the client's [`RetryPolicy`](super::RetryPolicy)
    /// when the endpoint is a read or carries an idempotency key (see [`Client::send_with`]
    /// to change it per call).
    pub async fn send<E: Endpoint>(
        &self,
        request: &E,
    ) -> Result<Response<E::Data>, Error<E::Code>> {
        self.send_with(request, CallOptions::default()).await
    }

    /// [`Client::send`] with per-call options (a retry policy).
    pub async fn send_with<E: Endpoint>(
        &self,
        request: &E,
        options: CallOptions,
    ) -> Result<Response<E::Data>, Error<E::Code>> {
        self.send_boxed(request, options).await.map(|reply| *reply)
    }

    /// [`Client::send_with`], its reply boxed from the decoding up: every level of a call
    /// moves its result to the one above, and a reply's data is large (640 bytes for a
    /// member), so unboxed it was copied some ten times a call (measured).
    pub(super) async fn send_boxed<E: Endpoint>(
        &self,
        request: &E,
        options: CallOptions,
    ) -> Reply<E> {
        let info = E::INFO;
        let span = tracing::info_span!(
            "api_call",
            api = self.inner.protocol.api,
            method = info.method,
            error_code = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        );
        // No subscriber wants the span: skip the instrumentation (it cost about 0.4 µs a
        // call); the attempts, the skew correction and the retries are the same.
        if span.is_disabled() {
            return self.attempts(request, options).await;
        }
        let started = Instant::now();
        let result = self
            .attempts(request, options)
            .instrument(span.clone())
            .await;
        span.record("latency_ms", started.elapsed().as_millis() as u64);
        match &result {
            Ok(_) => span.in_scope(|| tracing::debug!("call succeeded")),
            Err(e) => {
                if let Some(code) = e.code() {
                    span.record("error_code", code.code());
                }
                span.in_scope(|| tracing::debug!(error = %e, "call failed"));
            }
        }
        result
    }

    /// Every attempt of one call: the retries of its policy, one re-send after a clock
    /// correction, and the report of an earlier attempt that may have landed.
    async fn attempts<E: Endpoint>(&self, request: &E, options: CallOptions) -> Reply<E> {
        let info = E::INFO;
        let policy = options.retry.unwrap_or(self.inner.retry);
        // A deadline too far to represent is no deadline.
        let deadline = options
            .timeout
            .and_then(|t| tokio::time::Instant::now().checked_add(t));
        let mut attempt = 1;
        let mut skew_retried = false;
        // What earlier attempts tell about a "key already used" answer (retry.rs).
        let mut attempts = super::retry::Attempts {
            made: 0,
            may_have_landed: options.resending,
        };
        // The last error of an attempt that may have been applied: if a later attempt
        // ends in an error that says nothing of the platform's state (a token or
        // request failure, a request never sent), that earlier error is the truth to
        // report: the write may be in effect.
        let mut may_have_landed: Option<Error<E::Code>> = None;
        loop {
            let offset_before = self.inner.clock.offset_ms();
            let sent = self.send_inner(request, deadline).await;
            let error = match attempts.settle(request, sent) {
                Ok(response) => return Ok(response),
                Err(e) => e,
            };
            // Our clock was found off by more than the platform tolerates during this
            // very call, and the platform refused it: the refusal is most likely the
            // stale timestamp. A refused call applied nothing, so one re-send with the
            // corrected clock is safe for any endpoint.
            if !skew_retried && self.skew_changed(offset_before) && error.is_refusal() {
                skew_retried = true;
                tracing::info!(error = %error, offset_ms = self.inner.clock.offset_ms(), "clock skew corrected; re-sending once");
                continue;
            }
            let pause = policy.backoff(attempt);
            // No retry that could not finish before the call's deadline.
            let in_time = deadline.is_none_or(|d| {
                tokio::time::Instant::now()
                    .checked_add(pause)
                    .is_some_and(|end| end < d)
            });
            if in_time && policy.should_retry(info.idempotency, attempt, &error) {
                tracing::info!(attempt, error = %error, pause_ms = pause.as_millis() as u64, "retrying");
                if error.may_have_been_applied() {
                    may_have_landed = Some(error);
                }
                tokio::time::sleep(pause).await;
                attempt += 1;
                continue;
            }
            return Err(match may_have_landed {
                Some(earlier) if says_nothing_of_the_platform(&error) => {
                    tracing::info!(last = %error, "an earlier attempt may have been applied; reporting it");
                    earlier
                }
                _ => error,
            });
        }
    }

    /// Sends a request and returns its `data` (the type's empty value when the reply had
    /// none, for endpoints that answer with no data).
    pub async fn call<E: Endpoint>(&self, request: &E) -> Result<E::Data, Error<E::Code>>
    where
        E::Data: Default,
    {
        self.send(request).await.map(Response::into_data)
    }

    /// One attempt: the token (waited for, not cut by `deadline`: the token work is shared
    /// with every other call, and cutting an obtain short would waste a daily budget
    /// unit), then the exchange, within `deadline`.
    async fn send_inner<E: Endpoint>(
        &self,
        request: &E,
        deadline: Option<tokio::time::Instant>,
    ) -> Reply<E> {
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
        match info.credential {
            // The token calls themselves are the manager's alone: sent by hand they would
            // spend the day's budget and their tokens would never reach the store.
            _ if self.inner.protocol.is_token_method(info.method) => {
                Err(Error::Request(crate::RequestError::TokenCallByHand {
                    method: info.method,
                }))
            }
            // Signed with the app credentials only (an API without tokens).
            Credential::AppSignature | Credential::RefreshToken => {
                let reply = self
                    .exchange_endpoint(&E::INFO, CredentialParam::AppId, &extra, body, deadline)
                    .await
                    .map_err(Error::Transport)?;
                self.decode_raw_reply::<E::Data, E::Code>(
                    info.method,
                    &reply,
                    false,
                    DataRule::of(&info),
                )
            }
            Credential::AccessToken => {
                let tokens = &self.inner.tokens;
                let token = self.access_token().await.map_err(Error::Token)?;
                let first = self
                    .with_access_token::<E>(&token, &extra, body.clone(), deadline)
                    .await;
                let rejected = matches!(&first, Err(Error::Api(e))
                    if self.rejects_token(e.raw_code, e.message.as_deref(), &extra, &body));
                // An answer that may mean a token the platform stopped accepting, without
                // saying so (the gateway's generic parameter error): see the token
                // manager's speculative refresh.
                let ambiguous = match &first {
                    Err(Error::Api(e)) if !rejected => self
                        .inner
                        .protocol
                        .ambiguous_token_codes
                        .contains(&e.raw_code)
                        .then_some(e.raw_code),
                    _ => None,
                };
                if !rejected && ambiguous.is_none() {
                    if !matches!(first, Err(Error::Transport(_))) && tokens.note_accepted(&token) {
                        Box::pin(tokens.clear_rejection()).await;
                    }
                    return first;
                }
                // The refresh and the second attempt are boxed: a cold path, kept out of
                // every call's future.
                let renewed = if ambiguous.is_some() {
                    // `None`: the rules withhold a speculation; the answer stands.
                    Box::pin(tokens.speculative_refresh(self, &token)).await
                } else {
                    tracing::info!("access token rejected; refreshing once");
                    // `None`: the token was itself issued after a rejection and never
                    // accepted, so a refresh cannot help; the platform's answer stands.
                    Box::pin(tokens.after_rejection(self, &token))
                        .await
                        .map_err(Error::Token)?
                };
                let Some(token) = renewed else {
                    return first;
                };
                // A second rejection is reported as it is: never a loop.
                let second =
                    Box::pin(self.with_access_token::<E>(&token, &extra, body.clone(), deadline))
                        .await;
                let rejected_again = matches!(&second, Err(Error::Api(e))
                    if self.rejects_token(e.raw_code, e.message.as_deref(), &extra, &body));
                if ambiguous.is_some()
                    && matches!(&second, Err(Error::Api(e)) if Some(e.raw_code) == ambiguous)
                {
                    // The same answer with a new token: the request itself is wrong.
                    Box::pin(tokens.speculation_refuted()).await;
                }
                if !rejected_again
                    && !matches!(second, Err(Error::Transport(_)))
                    && tokens.note_accepted(&token)
                {
                    Box::pin(tokens.clear_rejection()).await;
                }
                second
            }
        }
    }

    /// Whether an error answer to a business call proves its access token invalid: the
    /// request's own query values and body are what it sent, so a token phrase found in
    /// them is an echo of the caller's input, never proof
    /// ([`ProtocolInfo::is_invalid_token_answer`](crate::protocol::ProtocolInfo::is_invalid_token_answer)).
    fn rejects_token(
        &self,
        code: i64,
        message: Option<&str>,
        extra: &[(&'static str, String)],
        body: &Bytes,
    ) -> bool {
        let protocol = &self.inner.protocol;
        if protocol.invalid_token_codes.contains(&code) {
            return true;
        }
        let body = String::from_utf8_lossy(body);
        let mut sent: Vec<&str> = extra.iter().map(|(_, v)| v.as_str()).collect();
        sent.push(&body);
        protocol.is_invalid_token_answer(code, message, &sent)
    }

    /// One exchange of a business call with `token`, decoded.
    async fn with_access_token<E: Endpoint>(
        &self,
        token: &Secret,
        extra: &[(&'static str, String)],
        body: Bytes,
        deadline: Option<tokio::time::Instant>,
    ) -> Reply<E> {
        let info = E::INFO;
        let reply = self
            .exchange_endpoint(
                &E::INFO,
                CredentialParam::AccessToken(token),
                extra,
                body,
                deadline,
            )
            .await
            .map_err(Error::Transport)?;
        self.decode_raw_reply::<E::Data, E::Code>(info.method, &reply, false, DataRule::of(&info))
    }

    /// Whether the clock correction moved by more than the platform's tolerance (or by
    /// more than a second when the protocol states none) since `before`.
    pub(super) fn skew_changed(&self, before: i64) -> bool {
        let tolerance = self
            .inner
            .protocol
            .clock_tolerance_ms
            .map_or(1_000, |t| i64::try_from(t).unwrap_or(i64::MAX));
        (self.inner.clock.offset_ms() - before).abs() > tolerance
    }

    pub(super) async fn access_token(&self) -> Result<Secret, crate::error::TokenError> {
        self.inner.tokens.access_token(self).await
    }

    /// One exchange of an endpoint's call with the verb it is sent with now, and its one
    /// re-send with the other verb when the platform refuses that one (see `verbs`).
    async fn exchange_endpoint<'a>(
        &self,
        info: &'static crate::endpoint::EndpointInfo,
        credential: CredentialParam<'_>,
        extra: &'a [(&'static str, String)],
        body: Bytes,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<RawReply<'a>, TransportError> {
        let verb = self.verb_for(info).await;
        let reply = self
            .exchange(info.method, verb, credential, extra, body.clone(), deadline)
            .await?;
        let Some(other) = self.refused_verb(info, verb, &reply, extra, &body) else {
            return Ok(reply);
        };
        tracing::info!(
            method = info.method,
            refused = verb.as_str(),
            verb = other.as_str(),
            "the platform takes this endpoint with the other verb; re-sending once with it"
        );
        self.learn_verb(info.method, other).await;
        self.exchange(info.method, other, credential, extra, body, deadline)
            .await
    }

    /// Signs and sends one request, reads the reply within the size cap.
    pub(super) async fn exchange<'a>(
        &self,
        method: &'static str,
        verb: Verb,
        credential: CredentialParam<'_>,
        extra: &'a [(&'static str, String)],
        body: Bytes,
        deadline: Option<tokio::time::Instant>,
    ) -> Result<RawReply<'a>, TransportError> {
        let inner = &self.inner;
        // The request's timeout: the client's, shortened to what is left of the call's.
        let left = deadline.map(|d| d.saturating_duration_since(tokio::time::Instant::now()));
        if left.is_some_and(|left| left.is_zero()) {
            return Err(TransportError::deadline_passed(method));
        }
        let timeout = match (inner.timeout, left) {
            (Some(t), Some(left)) => Some(t.min(left)),
            (t, left) => t.or(left),
        };
        // Where method, credential, timestamp and signature go depends on the envelope
        // style (styles/); the signature covers exactly the body sent.
        let call = super::styles::Call {
            method,
            verb,
            credential,
            extra,
            body,
        };
        let super::styles::Outgoing {
            verb,
            url,
            body,
            token,
            signature,
        } = super::styles::of(self.inner.protocol.envelope).prepare(self, call)?;
        let credentials = self.credentials_for(token, signature);
        let sent = SentRequest {
            url: url.clone(),
            body: body.clone(),
            extra,
        };
        let scrubbed = |e: TransportError| e.scrubbed(&self.full_scrubber(&credentials, &sent));
        // The user's explicit opt-in: the body as sent, personal data and all; the
        // credentials and signatures (an envelope may carry a token) are still scrubbed.
        if inner.log_request_bodies {
            tracing::debug!(
                method,
                body = %credentials.scrub(&String::from_utf8_lossy(&body)),
                "request body (personal data unredacted: log_request_bodies_with_personal_data)"
            );
        }
        let mut builder = match verb {
            Verb::Post => inner.http.post(url),
            Verb::Get => inner.http.get(url),
        };
        builder = builder
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/json;charset=utf-8",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body);
        if let Some(timeout) = timeout {
            builder = builder.timeout(timeout);
        }
        let mut response = builder
            .send()
            .await
            .map_err(|e| scrubbed(TransportError::from_reqwest(method, e)))?;
        // Kept for after decoding: only the platform's own replies correct the clock.
        let date = response
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|d| d.to_str().ok())
            .map(|d| (d.to_owned(), inner.clock.local_now_ms()));
        let status = response.status().as_u16();
        let allow = (status == 405)
            .then(|| response.headers().get(reqwest::header::ALLOW))
            .flatten()
            .and_then(|a| a.to_str().ok())
            .map(str::to_owned);
        let redirected = response.url() != &sent.url;
        let cap = inner.max_response_bytes;
        let mut body = Vec::new();
        let mut too_large = None;
        if response
            .content_length()
            .is_some_and(|len| len > cap as u64)
        {
            too_large = Some(cap);
        } else {
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| scrubbed(TransportError::from_reqwest(method, e)))?
            {
                if body.len() + chunk.len() > cap {
                    // Keep the start for the error's excerpt; stop reading.
                    let room = cap - body.len();
                    body.extend_from_slice(&chunk[..room.min(chunk.len())]);
                    too_large = Some(cap);
                    break;
                }
                body.extend_from_slice(&chunk);
            }
        }
        Ok(RawReply {
            status,
            body: Bytes::from(body),
            too_large,
            date,
            allow,
            redirected,
            credentials,
            sent,
        })
    }

    /// Decodes a reply into the typed data or the typed error (see
    /// [`decode::decode_body`] for `withhold_body` and `rule`).
    pub(super) fn decode_raw_reply<T: Tolerant, C: ApiErrorCode>(
        &self,
        method: &'static str,
        reply: &RawReply<'_>,
        withhold_body: bool,
        rule: DataRule,
    ) -> Result<Box<Response<T>>, Error<C>> {
        if reply.redirected {
            // Another host's body: not kept.
            return Err(Error::Http(crate::error::HttpError {
                method,
                status: reply.status,
                body: BodyExcerpt::withheld(reply.body.len()),
                redirected: true,
            }));
        }
        if let Some(cap) = reply.too_large {
            let body = if withhold_body {
                BodyExcerpt::withheld(reply.body.len())
            } else {
                BodyExcerpt::new(&reply.body)
            };
            return Err(Error::Decode(DecodeError {
                kind: DecodeErrorKind::Envelope,
                method,
                status: reply.status,
                reason: format!("the reply is larger than the cap of {cap} bytes"),
                body,
            })
            .scrubbed(
                &self.full_scrubber(&reply.credentials, &reply.sent),
                self.inner.protocol.sensitive_keys,
            ));
        }
        let decoded = decode::decode_body(
            self.inner.protocol,
            method,
            reply.status,
            &reply.body,
            withhold_body,
            rule,
        );
        // A successful business reply that quotes a credential or a signature is a server echoing the
        // request (a gateway's error page dressed as success): its data would hand the
        // token to whoever prints it. Token calls' replies carry tokens by design.
        if !withhold_body && decoded.is_ok() && reply.credentials.finds(&reply.body) {
            return Err(Error::Decode(DecodeError {
                kind: DecodeErrorKind::NotThePlatform,
                method,
                status: reply.status,
                reason: "the reply quotes the request's credentials: not the platform's answer"
                    .into(),
                body: BodyExcerpt::withheld(reply.body.len()),
            }));
        }
        let keys = self.inner.protocol.sensitive_keys;
        let decoded = decoded
            .map(Box::new)
            .map_err(|e| e.scrubbed(&self.full_scrubber(&reply.credentials, &reply.sent), keys));
        // The clock is corrected only from a reply that is plausibly the platform's: one
        // that decoded as its envelope (a success or an error code), never a proxy's page.
        if let Some((date, received)) = &reply.date
            && matches!(decoded, Ok(_) | Err(Error::Api(_)))
        {
            self.inner.clock.observe_date_header(date, *received);
        }
        decoded
    }
}

/// Whether an error says nothing about what the platform did with the request: it was
/// refused before sending, certainly never sent, or no token could be had for it.
fn says_nothing_of_the_platform<C>(error: &Error<C>) -> bool {
    match error {
        Error::Request(_) | Error::Token(_) => true,
        Error::Transport(t) => t.sent() == crate::error::Sent::No,
        _ => false,
    }
}

impl Client {
    /// Remembers a token this client holds, to scrub it from texts.
    pub(super) fn remember_token(&self, token: &Secret) {
        self.inner
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remember_token(token.clone());
    }

    /// The credentials of one exchange: the app secret and grant code, and the tokens and
    /// signatures this client sent lately (this request's among them). A successful reply
    /// is checked against them (a hostile echo).
    fn credentials_for(
        &self,
        token: Option<Secret>,
        signature: Secret,
    ) -> std::sync::Arc<crate::redact::Scrubber> {
        let mut recent = self
            .inner
            .recent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(token) = token {
            recent.remember_token(token);
        }
        recent.remember_signature(signature);
        recent.scrubber()
    }

    /// The full scrubber of an error of one exchange: its credentials, and the values the
    /// request sent under the spec's sensitive keys (query, query fields, body).
    fn full_scrubber(
        &self,
        credentials: &crate::redact::Scrubber,
        sent: &SentRequest<'_>,
    ) -> crate::redact::Scrubber {
        let keys = self.inner.protocol.sensitive_keys;
        let mut scrubber = credentials.clone();
        for (name, value) in sent.url.query_pairs() {
            if keys.contains(&name.as_ref()) {
                scrubber.add(&value);
            }
        }
        for (name, value) in sent.extra {
            if keys.contains(name) {
                scrubber.add(value);
            }
        }
        scrubber.add_sensitive_values(&sent.body, keys);
        scrubber
    }
}
