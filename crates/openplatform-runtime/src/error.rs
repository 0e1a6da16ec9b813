//! The error of a call: distinct, matchable kinds, none of which can carry a secret.
//!
//! Texts never contain the access token, the refresh token, the app secret or a
//! signature: URLs are stripped from transport errors at one place
//! ([`TransportError::from_reqwest`]), and response bodies of token calls are not kept.

use std::fmt;
use std::time::Duration;

use crate::error_code::{ApiErrorCode, ErrorCategory};
use crate::tokens::{BudgetKind, StoreError};
use crate::validation::RequestError;

/// How much of a response body an error keeps, in bytes.
pub const BODY_EXCERPT_LIMIT: usize = 2048;

/// The error of one call to endpoint method `method()`.
///
/// `C` is the API's error-code enum. Match on the variant for the kind of failure:
/// ```text
/// match err {
///     Error::Api(e) if e.code == ErrorCode::InsufficientPoints => …,
///     Error::Transport(e) if e.outcome_unknown() => …,   // the request may have been applied
///     _ => …,
/// }
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error<C> {
    /// The request was refused before any network traffic (a required field is empty…).
    Request(RequestError),
    /// The request could not be sent or the reply could not be read, including timeouts.
    Transport(TransportError),
    /// The server answered with an HTTP status and a body that is not the API's envelope.
    Http(HttpError),
    /// The reply could not be decoded (not JSON, wrong types, too large…).
    Decode(DecodeError),
    /// The platform answered with an error code.
    Api(ApiError<C>),
    /// No valid token could be had (a daily budget is spent, the store failed…).
    Token(TokenError),
    /// A keyed write that an earlier attempt of the same call applied: that attempt's
    /// reply was lost, and the retry was answered "key already used". The write is in
    /// effect, once; it is not a refusal. See [`AppliedEarlier`].
    /// (Boxed: it carries a whole API answer, and errors should stay small.)
    AppliedEarlier(Box<AppliedEarlier<C>>),
}

impl<C: ApiErrorCode> Error<C> {
    /// The platform's error code, for [`Error::Api`].
    pub fn code(&self) -> Option<C> {
        match self {
            Error::Api(e) => Some(e.code),
            // A token call the platform refused (110005 unknown app…) has the same codes.
            Error::Token(e) => e.api_code().map(C::from_code),
            _ => None,
        }
    }

    /// Whether an earlier attempt of this keyed write applied it (see
    /// [`Error::AppliedEarlier`]): the write is in effect, once.
    pub fn applied_earlier(&self) -> bool {
        matches!(self, Error::AppliedEarlier(_))
    }

    /// What this failure proves about the call's effect: the one reading that the typed
    /// call's users, the recovery paths (`gree_ump::recovery`) and the `ump` command
    /// line's exit codes and words all take (see [`Outcome`]).
    pub fn outcome(&self) -> Outcome {
        match self {
            Error::Request(_) | Error::Token(_) => Outcome::NotSent,
            Error::Transport(e) if e.sent() == Sent::No => Outcome::NotSent,
            Error::Transport(_) | Error::Decode(_) => Outcome::Unknown,
            // A 5xx from a proxy says nothing about whether the platform applied the call.
            Error::Http(e) if e.status >= 500 => Outcome::Unknown,
            Error::Http(_) => Outcome::Refused,
            Error::Api(e) if e.code.category() == ErrorCategory::Conflict => Outcome::KeyInUse,
            // "Busy": the document does not promise that it applied nothing.
            Error::Api(e) if e.code.is_retryable() => Outcome::Unknown,
            Error::Api(_) => Outcome::Refused,
            Error::AppliedEarlier(_) => Outcome::AppliedEarlier,
        }
    }

    /// Whether this failed attempt may have been applied by the platform: its outcome is
    /// unknown ([`Error::outcome_unknown`]), or the platform answered "busy", which the
    /// document does not promise applied nothing. A later "key already used" answer to
    /// the same keyed write then means the write was applied by this attempt.
    pub fn may_have_been_applied(&self) -> bool {
        self.outcome() == Outcome::Unknown
    }

    /// Whether the call may have been applied although no answer says so: the request
    /// left (or may have left) and no reply came back. A points change in this state
    /// must be resolved (see the recovery protocol) before it is repeated.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Error::Transport(e) => e.outcome_unknown(),
            // A 5xx from a proxy says nothing about whether the platform applied the call.
            Error::Http(e) => e.status >= 500,
            Error::Decode(_) => true,
            _ => false,
        }
    }

    /// Whether repeating the same request may succeed: timeouts and connection failures,
    /// 5xx answers, and error codes the spec marks retryable (busy). Whether it is SAFE to
    /// repeat depends on the endpoint's idempotency, not on the error.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Transport(_) => true,
            Error::Http(e) => e.status >= 500 || e.status == 429,
            Error::Api(e) => e.code.is_retryable(),
            // A token call answered with a code: retryable as the spec says of that code.
            Error::Token(TokenError::CallFailed { code: Some(c), .. }) => {
                C::from_code(*c).is_retryable()
            }
            Error::Token(e) => e.is_transient(),
            _ => false,
        }
    }

    /// Whether the platform refused the request as invalid or unauthorised (nothing was
    /// applied): an API error of category `invalid_request` or `auth`.
    pub fn is_refusal(&self) -> bool {
        matches!(self, Error::Api(e)
            if matches!(e.code.category(), ErrorCategory::InvalidRequest | ErrorCategory::Auth))
    }

    /// Changes the error-code type (used where token calls share one error path).
    pub fn map_code<D: ApiErrorCode>(self) -> Error<D> {
        match self {
            Error::Request(e) => Error::Request(e),
            Error::Transport(e) => Error::Transport(e),
            Error::Http(e) => Error::Http(e),
            Error::Decode(e) => Error::Decode(e),
            Error::Api(e) => Error::Api(e.map_code()),
            Error::Token(e) => Error::Token(e),
            Error::AppliedEarlier(e) => {
                let AppliedEarlier {
                    method,
                    key,
                    attempts,
                    answer,
                } = *e;
                Error::AppliedEarlier(Box::new(AppliedEarlier {
                    method,
                    key,
                    attempts,
                    answer: answer.map_code(),
                }))
            }
        }
    }
}

impl<C: ApiErrorCode> fmt::Display for Error<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Request(e) => write!(f, "invalid request: {e}"),
            Error::Transport(e) => e.fmt(f),
            Error::Http(e) => e.fmt(f),
            Error::Decode(e) => e.fmt(f),
            Error::Api(e) => e.fmt(f),
            Error::Token(e) => e.fmt(f),
            Error::AppliedEarlier(e) => e.fmt(f),
        }
    }
}

impl<C: ApiErrorCode> std::error::Error for Error<C> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Request(e) => Some(e),
            Error::Transport(e) => Some(e),
            Error::Token(e) => Some(e),
            _ => None,
        }
    }
}

impl<C> From<RequestError> for Error<C> {
    fn from(e: RequestError) -> Self {
        Error::Request(e)
    }
}

impl<C> From<TokenError> for Error<C> {
    fn from(e: TokenError) -> Self {
        Error::Token(e)
    }
}

/// What a failed call proves about its effect on the platform ([`Error::outcome`]).
///
/// The words are strict: "not sent" only when nothing of the call left the process,
/// "refused" only when the platform's (or a server's) answer proves this request changed
/// nothing. What a reply's envelope says is decided in one place too
/// (`envelope::succeeded`): a reply that contradicts itself is a decode error, and so
/// [`Outcome::Unknown`].
///
/// Exhaustive on purpose: these five are every thing a failed call can prove about its
/// effect, and the `match` on them is where a caller decides whether to re-send, settle
/// or report; a new class must fail to compile there (a major version) rather than fall
/// into a wildcard.
///
/// ```
/// # use openplatform_runtime::error::Outcome;
/// fn may_resend_as_new(outcome: Outcome) -> bool {
///     match outcome {
///         Outcome::NotSent | Outcome::Refused => true,
///         Outcome::KeyInUse | Outcome::AppliedEarlier | Outcome::Unknown => false,
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The request never left the process (refused before sending, no token could be
    /// had, the connection was never made): nothing can have been applied. (For a token
    /// failure the token call itself may have been sent; the request was not.)
    NotSent,
    /// A definitive refusal: this request applied nothing (an error code, or an HTTP
    /// answer below 500 without an API reply).
    Refused,
    /// The platform answered that the request's idempotency key is already in effect
    /// (150002 for UMP): this request applied nothing, and the write that holds the key
    /// is in effect — an earlier attempt of the same change, or another write.
    KeyInUse,
    /// An earlier attempt of this call applied it ([`Error::AppliedEarlier`]).
    AppliedEarlier,
    /// The request left, or may have, and no answer proves what happened (timeout after
    /// sending, a lost or unreadable reply, a 5xx, "busy"): it may have been applied.
    Unknown,
}

/// A keyed write applied by an earlier attempt of the same call.
///
/// An attempt may have reached the platform (its reply was lost, or it was answered
/// "busy"), and a later attempt with the same idempotency key was answered with the API's
/// "key already used" code (an error of category [`ErrorCategory::Conflict`] on a keyed
/// endpoint; 150002 for UMP). The key is then used because of this call's own earlier
/// attempt: the write is in effect, exactly once.
///
/// What the caller does not have is the data of the applying attempt's reply (a points
/// statement id): it was lost with the reply. Treat the write as done; do not send it
/// again under another key.
///
/// This reading assumes the key was fresh when the call began (never used before by
/// another write): a call whose *first* attempt is answered "key already used" is an
/// [`Error::Api`] refusal, as that answer proves nothing of this call was applied.
#[derive(Debug, Clone)]
pub struct AppliedEarlier<C> {
    /// The endpoint method of the call, as the spec names it.
    pub method: &'static str,
    /// The idempotency key every attempt carried (the endpoint's `idempotency_key`).
    pub key: Option<String>,
    /// Attempts made, the one answered "key already used" included.
    pub attempts: u32,
    /// The platform's answer to the last attempt.
    pub answer: ApiError<C>,
}

impl<C: ApiErrorCode> fmt::Display for AppliedEarlier<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: applied by an earlier attempt of this call (its reply was lost); attempt {} was answered that the key",
            self.method, self.attempts
        )?;
        if let Some(key) = &self.key {
            write!(f, " {key:?}")?;
        }
        write!(f, " is already used (error {})", self.answer.raw_code)
    }
}

/// Whether a failed request may have reached the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// The connection was never made: the server cannot have seen the request.
    No,
    /// The request may have been received and applied.
    Maybe,
}

/// A failure to send the request or to read the reply.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TransportError {
    method: &'static str,
    timeout: bool,
    sent: Sent,
    /// The underlying error's text, taken after the URL was removed from it.
    detail: String,
}

impl TransportError {
    /// The one conversion point for `reqwest` errors. reqwest's Display and Debug print the
    /// URL, and the access token travels in the query string: the URL is dropped first.
    pub fn from_reqwest(method: &'static str, err: reqwest::Error) -> Self {
        let timeout = err.is_timeout();
        let sent = if err.is_connect() || err.is_builder() {
            Sent::No
        } else {
            Sent::Maybe
        };
        let err = err.without_url();
        let mut detail = err.to_string();
        let mut source = std::error::Error::source(&err);
        // The chain adds the useful part ("connection refused", "operation timed out").
        while let Some(s) = source {
            detail.push_str(": ");
            detail.push_str(&s.to_string());
            source = s.source();
        }
        TransportError {
            method,
            timeout,
            sent,
            detail,
        }
    }

    /// A timeout enforced by the runtime itself (the whole call took too long).
    pub fn timed_out(method: &'static str, after: Duration) -> Self {
        TransportError {
            method,
            timeout: true,
            sent: Sent::Maybe,
            detail: format!("no complete reply within {} ms", after.as_millis()),
        }
    }

    /// The call's own deadline ([`CallOptions::timeout`](crate::CallOptions::timeout))
    /// passed before this request could be sent; nothing was sent.
    pub fn deadline_passed(method: &'static str) -> Self {
        TransportError {
            method,
            timeout: true,
            sent: Sent::No,
            detail: "the call's timeout passed before the request was sent".into(),
        }
    }

    /// The request could not be signed (the user's signer failed); nothing was sent.
    pub fn signing(method: &'static str, err: &dyn std::error::Error) -> Self {
        TransportError {
            method,
            timeout: false,
            sent: Sent::No,
            detail: err.to_string(),
        }
    }

    /// The request URL could not be formed (a base URL that does not join with the path).
    pub fn invalid_url(method: &'static str, err: &dyn std::error::Error) -> Self {
        TransportError {
            method,
            timeout: false,
            sent: Sent::No,
            detail: format!("cannot form the request URL: {err}"),
        }
    }

    /// The endpoint method of the failed call.
    pub fn method(&self) -> &'static str {
        self.method
    }

    pub(crate) fn scrubbed(mut self, scrubber: &crate::redact::Scrubber) -> Self {
        self.detail = scrubber.scrub(&self.detail);
        self
    }

    /// Whether the call ran out of time (the HTTP client's timeout or the runtime's limit
    /// on the whole call). A timed-out request may still have been applied: see [`sent`](Self::sent).
    pub fn is_timeout(&self) -> bool {
        self.timeout
    }

    /// Whether the request may have reached the server. [`Sent::No`] is safe to repeat on
    /// any endpoint; [`Sent::Maybe`] only on an idempotent one.
    pub fn sent(&self) -> Sent {
        self.sent
    }

    /// See [`Error::outcome_unknown`].
    pub fn outcome_unknown(&self) -> bool {
        self.sent == Sent::Maybe
    }
}

impl std::error::Error for TransportError {}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.timeout { "timed out" } else { "failed" };
        let sent = match self.sent {
            Sent::No => "not sent",
            Sent::Maybe => "outcome unknown",
        };
        write!(
            f,
            "{}: request {what} ({sent}): {}",
            self.method, self.detail
        )
    }
}

/// A reply that is not the API's envelope (an HTML error page from a proxy…), or a
/// redirect: a 3xx is never followed and never read as an answer, whatever its body.
#[derive(Debug, Clone)]
pub struct HttpError {
    /// The endpoint method of the call.
    pub method: &'static str,
    /// The HTTP status of the reply (of the redirect target when `redirected`).
    pub status: u16,
    /// The start of the body, at most [`BODY_EXCERPT_LIMIT`] bytes.
    pub body: BodyExcerpt,
    /// The reply came from another URL than the one sent: a `reqwest::Client` the user
    /// supplied followed a redirect (the SDK's own client never does). The request was
    /// re-sent there; the reply is not taken for the platform's.
    pub redirected: bool,
}

impl HttpError {
    /// Whether the server answered with a redirect (3xx), or one was followed.
    pub fn is_redirect(&self) -> bool {
        self.redirected || (300..400).contains(&self.status)
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.redirected {
            write!(
                f,
                "{}: the HTTP client followed a redirect to another URL (HTTP {} there); \
                 that reply is not the platform's. Build a supplied `reqwest::Client` with \
                 `redirect::Policy::none()`",
                self.method, self.status
            )
        } else if (300..400).contains(&self.status) {
            write!(
                f,
                "{}: HTTP {} redirect, not followed (a redirect would re-send the credentials \
                 and the body to another address)",
                self.method, self.status
            )
        } else {
            // The body stays out of the text (it may quote the request): `body.as_str()`.
            write!(
                f,
                "{}: HTTP {} without an API reply ({})",
                self.method, self.status, self.body
            )
        }
    }
}

/// What part of a reply could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The envelope: not JSON, not an object, neither a success flag nor a code, or a
    /// reply over the size cap.
    Envelope,
    /// `data` did not decode into the endpoint's type.
    Data,
    /// A success without the `data` the endpoint always returns: the call succeeded (a
    /// write is in effect) but its result is unknown. Never replaced by a default.
    MissingData,
    /// Not the platform's answer (a reply that quotes the request's credentials).
    NotThePlatform,
}

/// A reply that could not be decoded.
#[derive(Debug, Clone)]
pub struct DecodeError {
    /// What could not be decoded.
    pub kind: DecodeErrorKind,
    /// The endpoint method of the call.
    pub method: &'static str,
    /// The HTTP status of the reply.
    pub status: u16,
    /// What was wrong, e.g. "`data`: invalid type: string, expected i64 at line 1 column 9".
    pub reason: String,
    /// The start of the body, at most [`BODY_EXCERPT_LIMIT`] bytes (withheld for token calls).
    pub body: BodyExcerpt,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: cannot decode the reply (HTTP {}): {} ({})",
            self.method, self.status, self.reason, self.body
        )
    }
}

/// An error answer of the platform.
#[derive(Debug, Clone)]
pub struct ApiError<C> {
    /// The typed code (`Unknown(n)` for a code the document does not list).
    pub code: C,
    /// The code as received (`0` when it is not an integer: see `code_text`).
    pub raw_code: i64,
    /// The code as received when it is not an integer (a string code of letters); the
    /// typed `code` is then that of `0`.
    pub code_text: Option<String>,
    /// The platform's own message, when it sent one.
    pub message: Option<String>,
    /// The endpoint method of the call.
    pub method: &'static str,
    /// The HTTP status of the reply (200 for UMP, which sends its error answers so).
    pub status: u16,
    /// The start of the body, at most [`BODY_EXCERPT_LIMIT`] bytes (withheld for token calls).
    pub body: BodyExcerpt,
}

impl<C: ApiErrorCode> ApiError<C> {
    /// The kind of failure the code reports, to branch without listing codes.
    pub fn category(&self) -> ErrorCategory {
        self.code.category()
    }

    /// Changes the error-code type, keeping the wire code.
    pub fn map_code<D: ApiErrorCode>(self) -> ApiError<D> {
        ApiError {
            code: D::from_code(self.raw_code),
            raw_code: self.raw_code,
            code_text: self.code_text,
            message: self.message,
            method: self.method,
            status: self.status,
            body: self.body,
        }
    }
}

impl<C: ApiErrorCode> fmt::Display for ApiError<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.code_text {
            Some(text) => write!(f, "{}: error {text:?}", self.method)?,
            None => write!(f, "{}: error {}", self.method, self.raw_code)?,
        }
        match (&self.message, self.code.message()) {
            (Some(m), _) if !m.is_empty() => write!(f, ": {m}"),
            (_, Some(m)) => write!(f, ": {m}"),
            _ => Ok(()),
        }
    }
}

/// The start of a response body, for diagnosis. Empty for the token calls, whose bodies
/// carry tokens.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct BodyExcerpt {
    text: String,
    total_len: usize,
}

impl BodyExcerpt {
    /// Keeps at most [`BODY_EXCERPT_LIMIT`] bytes, cut at a character boundary.
    pub fn new(body: &[u8]) -> Self {
        let mut end = body.len().min(BODY_EXCERPT_LIMIT);
        let text = loop {
            match std::str::from_utf8(&body[..end]) {
                Ok(s) => break s.to_owned(),
                // Cut inside a character: step back to its start (at most 3 bytes).
                Err(e) if e.error_len().is_none() => end = e.valid_up_to(),
                Err(_) => break String::from_utf8_lossy(&body[..end]).into_owned(),
            }
        };
        BodyExcerpt {
            text,
            total_len: body.len(),
        }
    }

    /// A body that must not be kept (it may hold tokens).
    pub fn withheld(total_len: usize) -> Self {
        BodyExcerpt {
            text: String::new(),
            total_len,
        }
    }

    /// The kept start of the body, with known secrets and values under sensitive keys
    /// redacted when the client made the excerpt; empty when withheld.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The length of the whole body, in bytes.
    pub fn total_len(&self) -> usize {
        self.total_len
    }
}

/// Display and Debug give the body's size only: a body may quote the request (tokens,
/// a customer's phone). The text, scrubbed, is [`BodyExcerpt::as_str`].
impl fmt::Display for BodyExcerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.total_len == 0 {
            f.write_str("empty body")
        } else if self.text.is_empty() {
            write!(f, "body of {} bytes, withheld", self.total_len)
        } else {
            write!(f, "body of {} bytes, see `body.as_str()`", self.total_len)
        }
    }
}

impl BodyExcerpt {
    /// The excerpt with every value `scrubber` knows and every value under a sensitive
    /// key replaced: what [`as_str`](Self::as_str) then returns.
    pub(crate) fn scrubbed(self, scrubber: &crate::redact::Scrubber, keys: &[&str]) -> Self {
        // An excerpt cut at the limit may end inside a value: no whole form to find.
        let scrubbed = if self.text.len() < self.total_len {
            scrubber.scrub_cut(&self.text)
        } else {
            scrubber.scrub(&self.text)
        };
        BodyExcerpt {
            text: crate::redact::redact_json_keys(&scrubbed, keys),
            total_len: self.total_len,
        }
    }
}

impl<C> Error<C> {
    /// Every text of the error with the values `scrubber` knows replaced, and body
    /// excerpts redacted under the sensitive `keys`: applied by the client to every error
    /// of a call, before anyone can print it.
    pub(crate) fn scrubbed(self, scrubber: &crate::redact::Scrubber, keys: &[&str]) -> Self {
        match self {
            Error::Transport(e) => Error::Transport(e.scrubbed(scrubber)),
            Error::Http(mut e) => {
                e.body = e.body.scrubbed(scrubber, keys);
                Error::Http(e)
            }
            Error::Decode(mut e) => {
                e.reason = scrubber.scrub(&e.reason);
                e.body = e.body.scrubbed(scrubber, keys);
                Error::Decode(e)
            }
            Error::Api(mut e) => {
                e.message = e.message.map(|m| scrubber.scrub(&m));
                e.code_text = e.code_text.map(|m| scrubber.scrub(&m));
                e.body = e.body.scrubbed(scrubber, keys);
                Error::Api(e)
            }
            other => other,
        }
    }
}

impl fmt::Debug for BodyExcerpt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why no valid access token could be had.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TokenError {
    /// The day's budget of a token call is spent. Nothing was sent.
    BudgetExhausted {
        /// Which token call's budget is spent.
        kind: BudgetKind,
        /// Calls of that kind counted today (by every instance sharing the store).
        used: u32,
        /// The day's limit of that call, from the [`TokenPolicy`](crate::TokenPolicy).
        limit: u32,
        /// When the budget resets: the platform's next midnight, in its zone (RFC 3339).
        resets_at: String,
    },
    /// The token store failed; with a damaged record, no token call is made.
    Store(StoreError),
    /// Another process holds the refresh lock and no new token appeared in time.
    LockWaitTimedOut {
        /// How long this call waited for the lock.
        waited: Duration,
    },
    /// A token call failed.
    CallFailed {
        /// Which token call failed.
        kind: BudgetKind,
        /// The platform's error code, when it answered with one ([`Error::code`] gives it
        /// typed); `None` for a transport or decoding failure.
        code: Option<i64>,
        /// The underlying error's text, without the body, and with the refresh token
        /// masked should a server quote it.
        reason: String,
        /// Whether the call may have reached the platform (and spent a unit of the budget).
        sent: Sent,
        /// The transport failure, when that was the cause (also the error's `source()`).
        transport: Option<TransportError>,
    },
    /// The day's token-issuing call was spent at `started_at` by `instance`, and no token
    /// it issued reached the store: that instance crashed mid-call, or could not write
    /// the store. A new one is allowed at `resets_at` (the platform's next midnight); until
    /// then only that instance's memory, if it still runs, holds the tokens.
    ObtainLost {
        /// When the lost call was started, in the platform's zone (RFC 3339).
        started_at: String,
        /// The instance that made it: `host/pid/start-id`, to find its logs.
        instance: String,
        /// When a new token-issuing call is allowed: the platform's next midnight (RFC 3339).
        resets_at: String,
    },
    /// The platform refused the credential of a token call (an invalid or revoked
    /// refresh token): only a new token pair helps.
    CredentialRejected {
        /// Which token call was refused.
        kind: BudgetKind,
        /// The platform's error code of the refusal.
        code: i64,
    },
    /// The platform refused the stored refresh token, and the token-issuing call that
    /// could replace it failed too (`then`: most often the day's one is spent). Nothing
    /// can get a token until the budget resets, unless the platform forgot the tokens it
    /// issued (a sandbox reset, an app registered again): then an operator may give the
    /// day's token-issuing unit back (`TokenManager::forget_obtain`, `ump tokens
    /// forget-obtain --yes`), at the risk of a second token-issuing call the same day.
    RefreshTokenRefused {
        /// The platform's error code of the refusal.
        code: i64,
        /// Why no new token pair could be obtained.
        then: Box<TokenError>,
    },
    /// A token call failed a moment ago; it is not repeated before `retry_after`, so that
    /// an outage of the token call does not spend the day's budget.
    CoolingDown {
        /// How long until the token call may be made again.
        retry_after: Duration,
        /// The failure that started the cool-down.
        last: Box<TokenError>,
    },
    /// The client has no app credentials for the token calls.
    NotConfigured(&'static str),
    /// Only the token-issuing call (2.1 for UMP) would help (no tokens, or the refresh
    /// token was refused), and the client's [`TokenPolicy`](crate::TokenPolicy) does not
    /// allow it (`allow_obtain` is off). Nothing was spent on it.
    ObtainNotAllowed,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::BudgetExhausted {
                kind,
                used,
                limit,
                resets_at,
            } => write!(
                f,
                "the day's {kind} budget is spent ({used} of {limit} calls); it resets at {resets_at}"
            ),
            TokenError::Store(e) => write!(f, "token store: {e}"),
            TokenError::LockWaitTimedOut { waited } => write!(
                f,
                "another instance holds the token refresh lock and no new token appeared within {} ms",
                waited.as_millis()
            ),
            TokenError::CallFailed { kind, reason, .. } => {
                write!(f, "{kind} call failed: {reason}")
            }
            TokenError::ObtainLost {
                started_at,
                instance,
                resets_at,
            } => write!(
                f,
                "the day's token-issuing call was made at {started_at} by instance {instance} \
                 and no token reached the store (that instance crashed mid-call or could not \
                 write the store); the budget resets at {resets_at}"
            ),
            TokenError::CredentialRejected { kind, code } => {
                write!(f, "{kind} call refused the credential (error {code})")
            }
            TokenError::RefreshTokenRefused { code, then } => write!(
                f,
                "the platform refused the stored refresh token (error {code}), and no new token \
                 pair could be obtained: {then}. If the platform forgot the tokens it issued \
                 (a sandbox reset, an app registered again), an operator may give the day's \
                 token-issuing unit back (`ump tokens forget-obtain --yes`), at the risk of a \
                 second token-issuing call today"
            ),
            TokenError::CoolingDown { retry_after, last } => write!(
                f,
                "token call not repeated for another {} ms after a failure: {last}",
                retry_after.as_millis()
            ),
            TokenError::NotConfigured(what) => write!(f, "tokens unavailable: {what}"),
            TokenError::ObtainNotAllowed => f.write_str(
                "no usable token, and only the token-issuing call would give one: this \
                 client's token policy does not allow that call (allow_obtain is off)",
            ),
        }
    }
}

impl TokenError {
    /// The platform's error code, when a token call was answered with one.
    pub fn api_code(&self) -> Option<i64> {
        match self {
            TokenError::CallFailed { code, .. } => *code,
            TokenError::CredentialRejected { code, .. } => Some(*code),
            TokenError::RefreshTokenRefused { code, .. } => Some(*code),
            TokenError::CoolingDown { last, .. } => last.api_code(),
            _ => None,
        }
    }

    /// Whether trying again later may succeed without anyone changing anything: a token
    /// call that failed in transport or without an API answer, a store that failed to
    /// answer, a lock held by another instance. Budgets, a damaged record, a refused
    /// credential and a lost token-issuing call are not: they need time or a person. (A
    /// token call answered with an error code is judged by that code's spec entry:
    /// [`Error::is_transient`] does that, as this type knows no codes.)
    pub fn is_transient(&self) -> bool {
        match self {
            TokenError::CallFailed {
                transport, code, ..
            } => transport.is_some() || code.is_none(),
            TokenError::Store(e) => !e.is_corrupt(),
            TokenError::LockWaitTimedOut { .. } => true,
            TokenError::CoolingDown { last, .. } => last.is_transient(),
            _ => false,
        }
    }

    /// Whether the token-issuing call would have helped and the client's policy did not
    /// allow it ([`TokenError::ObtainNotAllowed`]), also as the reason behind a refused
    /// refresh token or a cool-down.
    pub fn obtain_not_allowed(&self) -> bool {
        match self {
            TokenError::ObtainNotAllowed => true,
            TokenError::RefreshTokenRefused { then, .. } => then.obtain_not_allowed(),
            TokenError::CoolingDown { last, .. } => last.obtain_not_allowed(),
            _ => false,
        }
    }

    /// Whether the failed token call certainly never reached the platform.
    pub fn certainly_not_sent(&self) -> bool {
        matches!(self, TokenError::CallFailed { sent: Sent::No, .. })
    }
}

impl std::error::Error for TokenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TokenError::Store(e) => Some(e),
            TokenError::CallFailed {
                transport: Some(t), ..
            } => Some(t),
            TokenError::CoolingDown { last, .. } => Some(last.as_ref()),
            TokenError::RefreshTokenRefused { then, .. } => Some(then.as_ref()),
            _ => None,
        }
    }
}

impl From<StoreError> for TokenError {
    fn from(e: StoreError) -> Self {
        TokenError::Store(e)
    }
}

/// A decoder's message with everything that may be the value taken out: quoted parts
/// (`"…"`, `'…'`, `` `…` ``), numbers of three digits or more, and serde_json's position
/// (` at line 1 column 40`, whose column tells the value's length).
pub fn without_values(message: &str) -> String {
    let message = message
        .rfind(" at line ")
        .map_or(message, |at| &message[..at]);
    let mut out = String::with_capacity(message.len());
    let mut quote: Option<char> = None;
    let mut digits = String::new();
    let flush = |out: &mut String, digits: &mut String| {
        if digits.len() >= 3 {
            out.push('…');
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for c in message.chars() {
        match quote {
            Some(q) if c == q => {
                out.push('…');
                out.push(c);
                quote = None;
            }
            Some(_) => {}
            None if matches!(c, '"' | '\'' | '`') => {
                flush(&mut out, &mut digits);
                out.push(c);
                quote = Some(c);
            }
            None if c.is_ascii_digit() => digits.push(c),
            None => {
                flush(&mut out, &mut digits);
                out.push(c);
            }
        }
    }
    if quote.is_some() {
        out.push('…');
    }
    flush(&mut out, &mut digits);
    out
}
