//! Typed Rust SDK for the Gree real-estate member open platform
//! (格力地产会员开放平台, "UMP", document V2.7): members, points, orders and returns,
//! coupons, SMS codes. Tokens are obtained, cached, shared and refreshed for you;
//! every error says what it proves about the write it failed (sent or not, applied or
//! not); a journal lands till writes exactly once across crashes and outages.
//!
//! ```no_run
//! use gree_ump::endpoints::{ChangePointsArgs, ChangePointsRequest, QueryMemberRequest};
//! use gree_ump::recovery::{PointsChangeOutcome, Recovery, change_points_reliably};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // UMP_BASE_URL or UMP_PRESET, UMP_APP_ID, UMP_APP_SECRET…: see `config`.
//! let client = gree_ump::config::load_from_env().await?.build()?;
//!
//! let member = client
//!     .members()
//!     .query_member(QueryMemberRequest::new().phone("13800000000"))
//!     .await?;
//!
//! // A points change applied exactly once, whatever the network does.
//! let change = ChangePointsRequest::new(ChangePointsArgs {
//!     open_id: member.open_id.unwrap_or_default(),
//!     score: 100,
//!     out_biz_no: "order-1".into(),
//!     change_reason: "购物".into(),
//!     change_event: "event_add".into(),
//!     change_id: "chg-1".into(), // one fresh id per logical change
//! });
//! match change_points_reliably(&client, change, Recovery::default()).await {
//!     PointsChangeOutcome::Applied { .. } => println!("applied once"),
//!     PointsChangeOutcome::Refused(e) => println!("refused, nothing moved: {e}"),
//!     PointsChangeOutcome::NotSent(e) => println!("not sent, nothing moved: {e}"),
//!     PointsChangeOutcome::KeyInUse { .. } | PointsChangeOutcome::Unresolved { .. } => {
//!         println!("settle it later with recovery::resolve_points_change")
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Where to go next:
//!
//! - [`config`]: the settings from the environment (the same variables `ump` reads).
//! - [`Client`] and its groups (`members()`, `points()`, `orders()`, `coupons()`,
//!   `sms()`): one method per endpoint; [`endpoints`] has the request types, [`models`]
//!   the answers.
//! - [`journal`] (feature `journal`, on by default): writes at the till, recorded first
//!   and settled in the background, exactly once.
//! - [`recovery`]: settling a write whose outcome is unknown, in the process.
//! - [`Error`]: what went wrong ([`Error::outcome`]: what it proves), [`ErrorCode`]: every
//!   code of the document.
//! - Token stores: [`FileTokenStore`] (the default), [`MemoryTokenStore`] (tests), and
//!   `RedisTokenStore` (feature `redis`, several hosts).
//! - Try it without credentials against `gree-ump-sandbox`, a local emulator of the
//!   platform.
//!
//! ## For maintainers
//!
//! Everything under [`generated`] is produced by `cargo xtask regenerate` from
//! `api-spec/gree-ump.yaml`; this file only arranges the public API. [`PROTOCOL`] holds
//! the envelope, signing scheme, base URLs and token rules of the platform.
//!
//! The builder has only what this API uses: no grant code, which another envelope style
//! (zvcms) carries and this one does not, and no signer, since the platform's MD5 scheme
//! is the runtime's own:
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
// The runtime is inlined so that `cargo doc -p gree-ump --no-deps` documents every
// type users touch (the builder, the error's methods, the journal's stores) under this
// crate: with a plain re-export those pages were missing and their links led nowhere.
#[doc(inline)]
pub use openplatform_runtime as runtime;
#[cfg(feature = "redis")]
#[doc(inline)]
pub use openplatform_runtime::tokens::RedisTokenStore;
// No doc comment on these re-exports: rustdoc prepends it to every item's own docs, and
// one comment pasted over two token stores gave both the same summary.
#[doc(inline)]
pub use openplatform_runtime::tokens::{FileTokenStore, MemoryTokenStore};
#[doc(inline)]
pub use openplatform_runtime::wire;
#[doc(inline)]
pub use openplatform_runtime::{
    ApiError, ApiErrorCode, AppliedEarlier, Call, CallOptions, ClientBuilder, DecodeErrorKind,
    Endpoint, ErrorCategory, Items, Paged, RequestError, Response, RetryPolicy, TokenPolicy,
    TokenStore,
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
