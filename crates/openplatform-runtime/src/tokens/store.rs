//! The seam between the token manager and where token state lives.
//!
//! A store keeps, per key: the [`TokenRecord`], a refresh lock (a lease with an owner),
//! the day's count of token-issuing and refresh calls, and small notes of the manager's
//! (the pending-obtain marker). Every operation is atomic in the store, so several
//! processes or hosts sharing one store agree on all of them.
//!
//! The key names the API, the base URL's host and the app id (see
//! `TokenManager::store_key`): two hosts or two apps never share a record or a budget.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::TokenRecord;

/// The future a store operation returns (boxed, so stores can be `dyn TokenStore`).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The two token calls the platform limits per day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BudgetKind {
    /// The call that issues a new access and refresh token (`protocol.tokens.obtain`).
    Obtain,
    /// The call that refreshes the access token (`protocol.tokens.refresh`).
    Refresh,
}

impl BudgetKind {
    /// The short name (`obtain`, `refresh`), as in the Redis store's keys.
    pub const fn as_str(self) -> &'static str {
        match self {
            BudgetKind::Obtain => "obtain",
            BudgetKind::Refresh => "refresh",
        }
    }
}

/// As its short name ([`BudgetKind::as_str`]): `"obtain"`, `"refresh"`.
impl serde::Serialize for BudgetKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl fmt::Display for BudgetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BudgetKind::Obtain => "token-issuing (obtain)",
            BudgetKind::Refresh => "token refresh",
        })
    }
}

/// The answer of [`TokenStore::take_budget`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetTake {
    /// The call was counted.
    Granted {
        /// Calls of the day now spent, this one included.
        used: u32,
    },
    /// The day's `limit` is spent; nothing was counted.
    Exhausted {
        /// Calls of the day spent (the limit, or more if it was lowered).
        used: u32,
    },
}

/// Where token state lives: in memory, a file, Redis, or the user's own backend.
///
/// `key` is scoped by API, host and app id: one store may hold the state of many.
///
/// Implementations must keep every day's budget count per key until the day is over
/// (counting a later day must never forget an earlier one), and must not panic on any
/// value: leases of `Duration::MAX`, versions of `u64::MAX`. What a store accepts to
/// write it must read back, whatever its size (tokens of 40,000 characters occur): a
/// record or note too large for it is refused at the write, with an error, and the
/// previous one stays. The conformance suite
/// (`openplatform_runtime::tokens::conformance`) checks all of it.
pub trait TokenStore: Send + Sync + fmt::Debug {
    /// The stored record, or `None` when there is none. A record that cannot be read is an
    /// error ([`StoreError::is_corrupt`]), never `None`.
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<TokenRecord>>;

    /// Writes `record` if the stored version is `expected` (`None`: no record stored).
    /// Returns whether it wrote. Never expires the record: the refresh token in it lives
    /// a year and must not be lost to a TTL.
    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: Option<u64>,
        record: &'a TokenRecord,
    ) -> StoreFuture<'a, bool>;

    /// Takes the refresh lock for `lease` if it is free or its lease ran out.
    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        lease: Duration,
    ) -> StoreFuture<'a, bool>;

    /// Releases the lock if `owner` still holds it (compare-and-delete): a holder whose
    /// lease ran out must not release the lock of the next holder.
    fn unlock<'a>(&'a self, key: &'a str, owner: &'a str) -> StoreFuture<'a, ()>;

    /// Counts one call of `kind` on platform day `day` (days since 1970-01-01 in the platform's zone)
    /// if fewer than `limit` are counted.
    fn take_budget<'a>(
        &'a self,
        key: &'a str,
        kind: BudgetKind,
        day: i64,
        limit: u32,
    ) -> StoreFuture<'a, BudgetTake>;

    /// How many calls of `kind` are counted on `day`.
    fn budget_used<'a>(&'a self, key: &'a str, kind: BudgetKind, day: i64) -> StoreFuture<'a, u32>;

    /// Uncounts one call of `kind` on `day` (never below zero): the manager gives back
    /// the unit of a token call that certainly never reached the platform.
    fn give_back_budget<'a>(
        &'a self,
        key: &'a str,
        kind: BudgetKind,
        day: i64,
    ) -> StoreFuture<'a, ()>;

    /// Extends the refresh lock to `lease` from now if `owner` still holds it; returns
    /// whether it does. The manager renews while a token call is in flight, so a slow call
    /// never lets a second instance start another.
    fn renew_lock<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        lease: Duration,
    ) -> StoreFuture<'a, bool>;

    /// A note the manager keeps beside the record (`name` is a short ASCII word), or
    /// `None`. Notes hold no secret.
    fn load_note<'a>(&'a self, key: &'a str, name: &'a str) -> StoreFuture<'a, Option<String>>;

    /// Writes the note `name` (`None`: deletes it). Never expires it.
    fn store_note<'a>(
        &'a self,
        key: &'a str,
        name: &'a str,
        value: Option<&'a str>,
    ) -> StoreFuture<'a, ()>;
}

/// What went wrong in a store. Its text names the problem, never a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError {
    kind: StoreErrorKind,
    message: String,
}

/// The kinds of [`StoreError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The stored record is damaged or of an unknown format.
    Corrupt,
    /// Reading or writing failed (file system, network to the store).
    Io,
    /// The store did not answer in time (the manager's `store_timeout`, or the backend's
    /// own reply timeout).
    Timeout,
    /// The backend refused the operation (permissions, configuration).
    Backend,
}

impl StoreError {
    /// An error of `kind`; `message` names the problem and must not contain a token.
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        StoreError {
            kind,
            message: message.into(),
        }
    }

    /// A damaged or unreadable record: the manager then makes no token call (a person
    /// must look), rather than spend the day's budget over a record it cannot read.
    pub fn corrupt(message: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Corrupt, message)
    }

    /// Reading or writing failed; transient (a later call may succeed).
    pub fn io(message: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Io, message)
    }

    /// The store did not answer in time; transient.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Timeout, message)
    }

    /// Whether the store did not answer in time.
    pub fn is_timeout(&self) -> bool {
        self.kind == StoreErrorKind::Timeout
    }

    /// The backend refused the operation (permissions, configuration).
    pub fn backend(message: impl Into<String>) -> Self {
        Self::new(StoreErrorKind::Backend, message)
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// Whether the stored record is damaged: not transient, no token call is made until
    /// the record is repaired or removed.
    pub fn is_corrupt(&self) -> bool {
        self.kind == StoreErrorKind::Corrupt
    }

    /// The problem, as the store described it (never a token).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            StoreErrorKind::Corrupt => "token store holds a damaged record",
            StoreErrorKind::Io => "token store I/O failed",
            StoreErrorKind::Timeout => "token store did not answer in time",
            StoreErrorKind::Backend => "token store refused the operation",
        };
        write!(f, "{kind}: {}", self.message)
    }
}

impl std::error::Error for StoreError {}
