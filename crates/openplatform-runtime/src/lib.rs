//! The hand-written runtime that generated open-platform clients call.
//!
//! It holds no knowledge of any endpoint: the generated crates describe each call through
//! [`Endpoint`] and this crate does the protocol work — wire encodings ([`wire`]), request
//! validation errors ([`RequestError`]), and error-code classification ([`ErrorCategory`]).

pub mod clock;
pub mod endpoint;
pub mod error_code;
pub mod protocol;
pub mod sign;
pub mod tokens;
pub mod validation;
pub mod wire;

pub use endpoint::{Credential, Endpoint, EndpointInfo, Idempotency, Paged, Verb};
pub use error_code::{ApiErrorCode, ErrorCategory};
pub use protocol::{EnvelopeStyle, ProtocolInfo, SigningScheme, TimestampUnit, TokenProtocol};
pub use validation::RequestError;
