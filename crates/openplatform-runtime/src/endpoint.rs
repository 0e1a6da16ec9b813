//! The descriptor every generated request type implements, so one generic `send` serves all.

use crate::error_code::ApiErrorCode;
use crate::validation::RequestError;
use crate::wire::Tolerant;
use serde::Serialize;

/// HTTP verb.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// HTTP `GET`, the business fields as signed query parameters. For UMP only a
    /// [`doc_verb`](EndpointInfo::doc_verb) (errata E01): those calls are sent as POST
    /// until the platform refuses a POST for them (or the client is asked to send the
    /// document's verbs), then as GET.
    Get,
    /// HTTP `POST`, the business fields as the JSON body.
    Post,
}

impl Verb {
    /// The verb as sent on the wire (`GET`, `POST`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
        }
    }
}

/// Which credential a call needs besides the app signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Credential {
    /// Signed with the app secret, identified by `app_id` (token issuance).
    AppSignature,
    /// Carries the refresh token (token refresh).
    RefreshToken,
    /// Carries the access token (every business call).
    AccessToken,
}

/// Whether repeating a call is safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Idempotency {
    /// A read: repeating it changes nothing.
    Read,
    /// A write carrying an idempotency key: repeating it with the same key is safe.
    Keyed,
    /// A write without a key: repeating it may apply it twice.
    Unsafe,
}

/// Static facts about one endpoint, from the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointInfo {
    /// The platform's method name, as the spec gives it (`members.query`, say).
    pub method: &'static str,
    /// Section of the vendor document, e.g. `3.2`.
    pub section: &'static str,
    /// The verb the document's section states.
    pub doc_verb: Verb,
    /// The verb sent first (see the spec's errata where it differs from `doc_verb`: the
    /// client then follows the platform between the two).
    pub verb: Verb,
    /// The credential the call carries.
    pub credential: Credential,
    /// Whether repeating the call is safe: the client retries only reads and keyed writes.
    pub idempotency: Idempotency,
    /// The request field that carries the idempotency key, for [`Idempotency::Keyed`].
    pub idempotency_key: Option<&'static str>,
    /// The most calls the document allows per day, where it states a limit.
    pub daily_limit: Option<u32>,
    /// Every success carries `data` (all endpoints but those the spec gives no data): a
    /// success without it is an error ([`DecodeErrorKind::MissingData`]), never a default.
    ///
    /// [`DecodeErrorKind::MissingData`]: crate::DecodeErrorKind::MissingData
    pub data_required: bool,
    /// A `data` of `false` is this error code, not a success (the spec's
    /// `false_is_error`): a check that says no says it one way, as an [`Error::Api`].
    ///
    /// [`Error::Api`]: crate::Error::Api
    pub false_is_error: Option<i64>,
    /// How the write journal settles and orders this write (the spec's `journal`);
    /// `None`: it is never journalled (reads, and writes the spec leaves out).
    pub journal: Option<JournalInfo>,
}

/// How the write journal settles and orders one write endpoint (the spec's `journal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalInfo {
    /// How a write whose outcome is unknown is settled.
    pub settle: Settle,
    /// The read that finds whether the write is in effect, for [`Settle::Probe`].
    pub probe: Option<&'static str>,
    /// `(kind, path)`: the request fields naming the things (`member`, `order`…) whose
    /// writes are sent in the order they were submitted. A path is a wire name, or
    /// `list[].field` for a field of each item of a list (a list sent as JSON text too).
    pub order_keys: &'static [(&'static str, &'static str)],
    /// `(kind, path)` of the things this write must follow without holding them: it
    /// waits for earlier writes that name them in their `order_keys` (a coupon grant for
    /// its template), and writes that only follow one do not wait for each other.
    pub after_keys: &'static [(&'static str, &'static str)],
}

/// How a write whose outcome is unknown is settled by the write journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Settle {
    /// Re-sent identical under its idempotency key; `conflict_code` ("key already used")
    /// after an attempt that may have landed means that attempt applied it, and on a
    /// first attempt that the key is another write's (an operator decides).
    Keyed {
        /// The platform's "key already used" code.
        conflict_code: i64,
    },
    /// Re-sent identical: the platform answers an identical repeat with the first answer.
    Identical,
    /// Before any re-send, a read (the probe) finds whether it is in effect.
    Probe,
    /// Never re-sent: a write whose outcome is unknown needs an operator.
    Never,
}

/// A request value that the runtime can send: the body is its `Serialize` form.
pub trait Endpoint: Serialize + Send + Sync {
    /// The decoded `data` of a successful reply (decoded tolerantly: see [`Tolerant`]).
    type Data: Tolerant + Send + 'static;

    /// The error-code enum of the API this endpoint belongs to.
    type Code: ApiErrorCode;

    /// The endpoint's facts from the spec: method, verb, credential, idempotency.
    const INFO: EndpointInfo;

    /// Checks the rules the type system cannot express (non-empty required strings,
    /// "open_id or phone", fields required when another has a value) before any traffic.
    fn validate(&self) -> Result<(), RequestError>;

    /// The idempotency key's value, for [`Idempotency::Keyed`] endpoints.
    fn idempotency_key(&self) -> Option<&str> {
        None
    }

    /// Business parameters that travel in the query string rather than the body.
    fn query_params(&self) -> Vec<(&'static str, String)> {
        Vec::new()
    }
}

/// A paged endpoint: the runtime can walk its pages.
pub trait Paged: Endpoint + Clone {
    /// One element of a page (compared with the previous page's, to end a walk on a
    /// server that ignores the page number).
    type Item: Clone + PartialEq + Send + 'static;

    /// The page number this request asks for (1-based).
    fn page_no(&self) -> i64;
    /// The page size this request asks for, when set.
    fn page_size(&self) -> Option<i64>;
    /// The same request for another page.
    fn with_page_no(&self, page_no: i64) -> Self;
    /// The items of one page's `data`.
    fn into_items(data: Self::Data) -> Vec<Self::Item>;
}
