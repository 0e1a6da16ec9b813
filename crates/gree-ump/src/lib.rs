//! Typed Rust SDK for the Gree real-estate member open platform
//! (格力地产会员开放平台, "UMP"), document V2.7.
//!
//! Everything under [`generated`] is produced by `cargo xtask regenerate` from
//! `api-spec/gree-ump.yaml`; this file only arranges the public API.
//!
//! - [`models`]: enums and shared types (member info, order item, coupon…).
//! - [`endpoints`]: one request type per endpoint; each implements
//!   [`openplatform_runtime::Endpoint`], so one generic `send` serves all 21.
//! - [`ErrorCode`]: every error code of the document, with message, category and
//!   retryability.
//! - [`PROTOCOL`]: the envelope, signing scheme, base URLs and token rules of the platform.
//!
//! The builder has only what this API uses: no grant code, which another envelope style
//! (zvcms) carries and this one does not, and no signer, since the platform's MD5 scheme
//! is the runtime's own.
//!
//! ```compile_fail
//! let _ = gree_ump::Client::builder().grant_code("782c281f62");
//! ```
//!
//! ```compile_fail
//! use std::sync::Arc;
//! use gree_ump::runtime::signer::CanonicalSigner;
//! let _ = gree_ump::Client::builder().signer(Arc::new(CanonicalSigner::hmac_sha1("k")));
//! ```

// Generated code is formatted by the generator (prettyplease), deterministically and
// without needing rustfmt installed; rustfmt would reflow it and make `xtask check` stale.
#[rustfmt::skip]
pub mod generated;
pub mod config;
#[cfg(feature = "journal")]
pub mod journal;
pub mod recovery;

pub use generated::client::{Client, Error};
pub use generated::errors::ErrorCode;
pub use generated::{PROTOCOL, endpoints, models};
/// The runtime, for token stores, clocks and the generic client.
pub use openplatform_runtime as runtime;
#[cfg(feature = "redis")]
#[doc(inline)]
pub use openplatform_runtime::tokens::RedisTokenStore;
/// Token stores: in a file (the default: the user's state directory), in memory (tests),
/// in Redis (feature `redis`: several hosts).
#[doc(inline)]
pub use openplatform_runtime::tokens::{FileTokenStore, MemoryTokenStore};
/// Wire types the models use (exact money, Beijing-time dates…).
pub use openplatform_runtime::wire;
#[doc(inline)]
pub use openplatform_runtime::{
    ApiErrorCode, Call, CallOptions, DecodeErrorKind, Endpoint, ErrorCategory, Items, Paged,
    RequestError, Response, RetryPolicy, TokenPolicy, TokenStore,
};

/// The README's code blocks, compiled as doc tests so the usage snippet cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    /// Whichever TLS feature is on (CI runs this with `rustls-ring` alone), `build()` gets a
    /// working HTTP client: reqwest panics when rustls has no crypto provider.
    #[test]
    fn a_client_builds_with_the_chosen_tls() {
        let client = crate::Client::builder()
            .base_url("https://127.0.0.1:9")
            .app_id("app")
            .app_secret("secret")
            .token_store(Arc::new(crate::MemoryTokenStore::new()))
            .build();
        assert!(client.is_ok(), "{client:?}");
    }
}
