//! The hand-written runtime that generated open-platform clients call.
//!
//! It holds no knowledge of any endpoint: the generated crates describe each call through
//! [`Endpoint`] and this crate does the protocol work — wire encodings ([`wire`]), request
//! validation errors ([`RequestError`]), and error-code classification ([`ErrorCategory`]).

pub mod client;
pub mod clock;
pub mod endpoint;
pub mod envelope;
pub mod error;
pub mod error_code;
pub mod journal;
pub mod protocol;
pub mod redact;
pub mod secret;
pub mod signer;
pub mod tokens;
pub mod ump_md5;
pub mod validation;
pub mod wire;

#[cfg(feature = "rustls-ring")]
pub use client::install_tls_provider;
pub use client::{
    Call, CallOptions, CarriesGrantCode, Client, ClientBuilder, ConfigError, DEFAULT_MAX_PAGES,
    DryRun, DryRunToken, Items, Response, RetryPolicy, TakesSigner, decode_response,
};
pub use endpoint::{
    Credential, Endpoint, EndpointInfo, Idempotency, JournalInfo, Paged, Settle, Verb,
};
pub use envelope::PageInfo;
pub use error::{
    ApiError, AppliedEarlier, BodyExcerpt, DecodeError, DecodeErrorKind, Error, HttpError, Outcome,
    Sent, TokenError, TransportError,
};
pub use error_code::{ApiErrorCode, ErrorCategory};
/// The stream type of paged endpoints ([`Client::items`]).
pub use futures_core::Stream;
pub use protocol::{
    EnvelopeKeys, EnvelopeStyle, ProtocolInfo, SigningScheme, TimestampUnit, TokenProtocol,
};
pub use signer::{SignRequest, Signer};
pub use tokens::{MemoryTokenStore, RefreshOutcome, Secret, TokenPolicy, TokenStore};
pub use validation::RequestError;

/// The README's code blocks, compiled as doc tests so the usage snippet cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
