//! Typed Rust client of the zvcms open API v2 coupon verification
//! (`communal.user.coupons-vertify`, 优惠券核销).
//!
//! Everything under [`generated`] is produced by `cargo xtask regenerate` from
//! `api-spec/zvcms.yaml`, by the same generator and runtime as the `gree-ump` crate; this
//! file only arranges the public API.
//!
//! - [`endpoints::VerifyCouponsRequest`]: the request (`Params`), with a constructor for
//!   its required fields and a setter per optional field.
//! - [`models`]: [`models::VerifyCouponsData`] (the reply's `data`), [`models::UserInfo`],
//!   [`models::VerifyExt`] and the enums.
//! - [`Client`], the client: `client.coupons().verify_coupons(request)`.
//! - [`PROTOCOL`]: the envelope (`zvcms_action`), the timestamp unit (seconds), the
//!   address.
//!
//! # The signature: you must choose it
//!
//! The document says the `Token` is a signature computed as described in a separate
//! 《数字签名sign》 document, which is **not** published with it. This crate therefore
//! does not know the vendor's algorithm and does not pretend to: a [`Client`] cannot be
//! built until you set a [`Signer`] with [`ClientBuilder::signer`](runtime::ClientBuilder::signer),
//! and `build()` says so.
//!
//! The one example `Token` of the document (`0%2B%2B3c6hthjwAml4ABAXOYF4Q6UY%3D`) is the
//! percent-encoding of a base64 string of 20 bytes, which is the shape of an HMAC-SHA1
//! digest; [`signer::CanonicalSigner`] builds such signers (HMAC-SHA1 or MD5, over a
//! documented canonical string, base64 or hex, optionally percent-encoded). Which
//! fields are signed, in which order, with which key, is **not** known: obtain the
//! vendor's signing document and confirm your choice against a real request before use.
//! A wrong signer fails every call with an error that looks like bad credentials.
//!
//! A signer sees the request as the runtime sends it ([`SignRequest`]): the envelope
//! fields `OpenId`, `GrantCode`, `Timestamp`, `Nonce`, `Action` and `Params` (the exact
//! JSON text of the request, as sent), and returns the `Token` exactly as it is to be
//! sent. Implement [`Signer`] yourself for any other scheme.
//!
//! ```no_run
//! use std::sync::Arc;
//! use zvcms::signer::{Canonical, CanonicalSigner};
//! use zvcms::endpoints::{VerifyCouponsArgs, VerifyCouponsRequest};
//! use zvcms::wire::Id;
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! // An ASSUMED scheme, to be confirmed with the vendor: HMAC-SHA1 over the sorted
//! // `name=value&…` pairs of every envelope field, base64, percent-encoded.
//! let signer = CanonicalSigner::hmac_sha1("your-key-secret")
//!     .canonical(Canonical::sorted_pairs())
//!     .url_encoded(true);
//! let client = zvcms::Client::builder()
//!     .preset("production")
//!     .app_id("6dc05b4ac175cf316d226252b05cf685") // OpenId
//!     .grant_code("782c281f62") // GrantCode
//!     .signer(Arc::new(signer))
//!     .build()?;
//! let request = VerifyCouponsRequest::new(VerifyCouponsArgs {
//!     biz_id: "paywewre121".into(),
//!     coupons_card_list: vec![Id::from(390962138708451328_u64)],
//! })
//! .customer_id(10086);
//! let data = client.coupons().verify_coupons(request).await?;
//! println!("redeemed {:?} for bizId {:?}", data.card_id_list, data.biz_id);
//! # Ok(())
//! # }
//! ```
//!
//! # Wire decisions
//!
//! The document contradicts itself in places; each decision is an entry of the spec's
//! `errata` (`api-spec/zvcms.yaml`), in short:
//!
//! - Coupon ids (18 digits, above 2^53) are [`wire::Id`]: exact text, never a float; sent
//!   as the example shows, a JSON array of bare integers inside a string
//!   (`"couponsCardList": "[390962138708451328]"`).
//! - Unset optional fields are omitted, never sent as `""`; a received `""` where an
//!   integer is expected is absent (`None`).
//! - `status` is accepted as `true` or `"true"`; `code` as `0` or `"0"`. `status: true`
//!   with a non-zero code is an error (the document's own business-error example). A code
//!   that is not a number is kept in [`runtime::ApiError::code_text`].
//! - The call is never retried by the client (a repeat could redeem twice).

// Generated code is formatted by the generator (prettyplease), deterministically and
// without needing rustfmt installed; rustfmt would reflow it and make `xtask check` stale.
#[rustfmt::skip]
pub mod generated;

pub use generated::client::{Client, Error};
pub use generated::errors::ErrorCode;
pub use generated::{PROTOCOL, endpoints, models};
// The runtime is inlined so that `cargo doc -p zvcms --no-deps` documents the types
// users touch (the builder, the error and its methods, signers) under this crate. No doc
// comments on re-exports: rustdoc prepends them to the items' own.
#[doc(inline)]
pub use openplatform_runtime as runtime;
#[doc(inline)]
pub use openplatform_runtime::signer;
#[doc(inline)]
pub use openplatform_runtime::wire;
#[doc(inline)]
pub use openplatform_runtime::{
    ApiErrorCode, Endpoint, ErrorCategory, RequestError, Response, SignRequest, Signer,
};

/// The README's code blocks, compiled as doc tests so the usage snippet cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
