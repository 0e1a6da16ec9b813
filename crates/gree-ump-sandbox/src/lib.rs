//! A local, stateful emulator of the Gree UMP member open platform (格力地产会员开放平台,
//! document V2.7): the signed gateway, tokens with their daily limits, members, levels,
//! points with idempotency and rollbacks, orders and returns, coupons, SMS codes — plus
//! test controls (clock, faults, inspection).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use gree_ump_sandbox::{Fault, Sandbox, SandboxConfig};
//!
//! let sandbox = Sandbox::start(SandboxConfig::default()).await?;
//! let base_url = sandbox.base_url(); // http://127.0.0.1:PORT
//! let (app_id, secret) = (sandbox.app_id(), sandbox.app_secret());
//! // … point a client at base_url with app_id and secret …
//! sandbox.control().advance(std::time::Duration::from_secs(7_201)); // expire tokens
//! sandbox.control().inject_fault("wk.user.event.score.change", Fault::DropAfterCommit, 1);
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! The binary `gree-ump-sandbox [--port N] [--app-id ID] [--app-secret SECRET]
//! [--no-timestamp-check] [--strict-timestamps] [--replay-identical-keys] [--state FILE]`
//! serves one on
//! 127.0.0.1 and prints its URL, port and the credentials it accepts.
//!
//! # Protocol
//!
//! - `POST /gw/gateway/{method}/v1`; `GET` too for the sections the document gives as
//!   GET (3.8, 5.4, 5.5; errata E01): with an empty body, the business fields are then
//!   read from the query string (signed like any parameter).
//! - Signature (MD5 over sorted query parameters but `sign`, the raw body and the
//!   secret), then `timestamp` (milliseconds, on every call) within ±3 s on 2.1/2.2 (of
//!   the sandbox clock, or of the system clock when the controls moved the sandbox
//!   clock; on every call with `TimestampScope::EveryCall`, errata E73), then
//!   the credential: `app_id` (2.1), `refresh_token` (2.2), `access_token` (others).
//!   See [`auth`] for the codes. Request bodies are decoded and validated by the
//!   generated request types (`AnyRequest::decode` + `validate`): a field the spec
//!   requires is required here (1001), `open_id`-or-`phone` rules answer 110002, an
//!   empty 3.1 `phone` 110001, an empty 6.1 `target` 140003. The document's own
//!   examples are accepted where they differ from what the client sends (3.4.2 nested
//!   `items`, 4.1 without `order_score` or with a `fin_entity_info` that is not JSON;
//!   errata E74–E76): they are rewritten before decoding, see `lenient.rs`.
//! - Replies: always HTTP 200 with the envelope of the examples,
//!   `{"success":true,"error_code":200,"error_message":"","data":…}` (3.1, 3.3) or
//!   `{"success":false,"error_code":N,"error_message":"…","data":null}` (3.4.1); paged
//!   replies add top-level `pageNo`, `pageSize` (the size asked for, as the 3.5 and 5.5
//!   examples echo it; the 3.8 example's 7 for a request of 10 is read as a quirk) and
//!   `totalCount`. A method the spec does not know is 1001; a path outside
//!   `/gw/gateway/{method}/v1` and `/__sandbox/` is HTTP 404. `data` is in the shapes of
//!   the document's *response examples*, i.e. what the server really sends where the
//!   tables differ: `level_num` (3.2/3.7), `project_id` as a number, coupon codes as
//!   19-digit JSON numbers (5.2 `code`, 5.5 `coupon_code`), `open_id` in 5.2, JSON
//!   strings for `rights`, `stores`, `items`, `categories`.
//! - Tokens: 2.1 at most once per Beijing day, 2.2 at most 20 times; beyond, code
//!   [`error::TOKEN_DAILY_LIMIT_CODE`] (1003, the document names none). Invalid tokens
//!   answer the spec's code 1002 with a message containing `access_token` (or
//!   `refresh_token`) and 无效或已过期. Issuing tokens revokes none. See [`state::tokens`].
//! - Every reply carries a `Date` header from the sandbox clock, so clients that
//!   correct their clock skew follow the sandbox after the clock is moved.
//!
//! # Semantics where the document is silent
//!
//! Each state module documents its decisions: [`state::members`] (register-or-get by
//! phone, levels, member code lifetime), [`state::points`] (events, idempotency and
//! 150002, the two rollback paths and 1005, 150007/150008/150009), [`state::orders`]
//! (points of orders and returns, 150003, 120001/120002), [`state::coupons`] (issuing,
//! status transitions, verification, 130001–130004), [`state::sms`] (limits, code
//! lifetime, 140002–140005). Unkeyed writes (orders, returns, templates, coupon grants)
//! treat their natural key (`order_no`, `third_coupon_id`, `coupon_number`) as
//! idempotent: same content, same answer; other content, 1001.
//!
//! # State across restarts
//!
//! With `SandboxConfig::state_file` (`--state FILE`) the state is loaded at start, and
//! every change is appended to a log beside it before the reply leaves (the whole state
//! is rewritten only when the log outgrows it); a corrupt or other-version file stops the
//! start with an error naming it. See [`state::persist`].
//!
//! # zvcms
//!
//! With [`SandboxConfig::zvcms`] the same server also serves the zvcms coupon
//! verification (`POST /api/v2`, `communal.user.coupons-vertify`), checking each `Token`
//! with the `Signer` it is given and dispatching through the zvcms crate's generated
//! routes; its coupons are kept apart from UMP's. See [`zvcms_api`].
//!
//! # Test controls
//!
//! [`Controls`] in process (`SandboxHandle::control()`), or over HTTP under
//! `/__sandbox/` (table in [`controls`]).
//!
//! # Inspector
//!
//! A web page of the sandbox's state at `/__sandbox/ui`: members (searchable, with their
//! ledgers, orders and coupons), the request log (every gateway call, secrets redacted,
//! updated live; as JSON at `/__sandbox/requests`), faults, clock, token-call counters,
//! SMS codes, reset and the state as a download.

pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
mod conn;
pub mod controls;
pub mod error;
pub mod faults;
mod gateway;
mod http;
mod ids;
mod inspector;
mod lenient;
mod server;
pub mod state;
pub mod zvcms_api;

pub use config::{
    InvalidTokenAnswer, LevelConfig, LevelRight, PointDirection, PointEvent, SandboxConfig,
    TimestampScope, VerbReading,
};
pub use controls::{Controls, MemberLedger};
pub use error::ApiError;
pub use faults::{Fault, FaultPlan};
pub use server::{Sandbox, SandboxHandle};
pub use state::persist::StateFileError;
pub use state::sms::SentCode;
pub use state::tokens::TokenCallCounts;
pub use state::zvcms_coupons::ZvcmsCoupon;
pub use zvcms_api::{ZvcmsConfig, ZvcmsError};

/// The README's code blocks, compiled as doc tests so the usage snippet cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
