//! Token state: the record, the store seam, the stores, and the manager that keeps one
//! valid access token for any number of concurrent callers.
//!
//! ## Budget rules kept in the store
//! The platform allows one token-issuing call and 20 refreshes a day; a service that
//! spends them is locked out until the platform's midnight. Every rule that protects
//! them lives in the store beside the tokens, so that every process sharing the store,
//! and every restart of one, follows it (a supervisor restarting a crash-looping
//! service, each `ump` command, are new processes):
//! - **Refresh on proof only.** A rejection of the access token leads to one refresh.
//!   What proves a rejection is the protocol's invalid-token code, or a token phrase in
//!   the message that the request did not itself send (the platform quotes request
//!   values: "会员码已失效: invalid token" answers a scanned code `invalid token`).
//! - **No second refresh for a rejection until a token is accepted.** Before the token
//!   call a rejection makes, a note goes into the store; while it stands (until the
//!   platform accepts any token), rejections make no token call, in any process; the
//!   token's own expiry still refreshes it. Worst case: a platform that revokes a token
//!   and at once its replacement leaves the service on expiry-driven refreshes, at most
//!   one access-token lifetime (2 h) without a valid token.
//! - **Pauses after failures, across processes.** The last failed token call (when,
//!   code, how many in a row across instances) is a store note; before any token call
//!   the pause it implies is waited out, judged on the platform's clock: 5 s, doubling,
//!   at most 5 minutes. A refresh token the platform refused is not sent again for 30
//!   minutes, doubling, at most 4 hours (the token-issuing call comes first meanwhile):
//!   at most about 7 such tries a day, each a unit of the 20.
//! - **Every call that reaches the platform took a unit**, re-sends included: a token
//!   call refused for its timestamp is re-sent after the clock correction only with a
//!   unit of its own, which the token-issuing call (one a day) never has. The measured
//!   clock offset is kept in the store, so the next process starts corrected.
//! - **A refused token-issuing call stays counted** (the platform may count a refused
//!   call against its limit) and is shown with its code in
//!   [`TokenManager::status`]'s `last_failure`; an operator who knows better gives the
//!   unit back with [`TokenManager::forget_obtain`] (`ump tokens forget-obtain --yes`).
//! - **An ambiguous answer earns one speculative refresh**, not more: the gateway's
//!   generic parameter error (the protocol's `ambiguous_token_codes`) on a call with an
//!   access token may be a token the platform stopped accepting. One refresh and one
//!   retry, once per access token, none for an hour after the retry was answered the
//!   same (a real parameter error, reported as it is), and none while the day's
//!   remaining refreshes do not exceed what its remaining expiries need; so a bad
//!   parameter sent all day never locks the service out.
//! - **Counts outlive a store that forgets them**: an instance that knows the day's
//!   counts puts them back when the store reports fewer (Redis restarted without
//!   persistence), with the record it holds.

mod instance;
mod manager;
mod memory;
mod record;
mod rules;
mod status;
mod store;

// Token stores beyond memory, and (feature `test-util`) the suite every store must pass
// and a store wrapper with switchable faults: test code, kept out of users' builds.
#[cfg(feature = "test-util")]
pub mod conformance;
#[cfg(feature = "test-util")]
pub mod faulty;
mod file;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "redis")]
pub use self::redis::RedisTokenStore;
pub use file::{FileTokenStore, FileTokenStoreBuilder};

pub use crate::secret::Secret;
pub use manager::{TokenGrant, TokenIssuer, TokenManager, TokenPolicy};
pub use memory::MemoryTokenStore;
pub use record::TokenRecord;
pub use status::{
    BudgetStatus, ClearOutcome, ForgetOutcome, LAST_FAILURE_MAX_MESSAGE, LastFailure,
    PendingObtain, RecordStatus, RefreshOutcome, TokenStatus,
};
pub use store::{BudgetKind, BudgetTake, StoreError, StoreErrorKind, StoreFuture, TokenStore};
