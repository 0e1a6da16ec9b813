//! The token manager: one valid access token for any number of concurrent callers, in
//! one process or many, within the platform's daily budgets.
//!
//! The path to a token, cheapest first:
//! 1. the copy in memory, if valid beyond the refresh-ahead window (a read lock);
//! 2. otherwise one task per process (an async mutex) goes on, the others wait for it and
//!    share its result, or its failure (a store outage is paid once, not once per caller);
//! 3. the store, which another process may have refreshed already;
//! 4. the store's refresh lock (a lease, renewed while a token call is in flight): the
//!    holder re-reads the store, then calls the platform; the others poll the store until
//!    a new token appears or a deadline passes;
//! 5. the day's budget is counted in the store before the platform is called, so no
//!    instance can exceed it, and given back when the call certainly never left; an
//!    exhausted budget is an error naming the reset time.
//!
//! ## Refresh-ahead and the daily refresh budget
//! With the nominal lifetime `L` of an access token, refreshing `ahead` early costs
//! `86_400 / (L − ahead)` refreshes a day. The policy's `refresh_ahead` and
//! `expiry_margin` are capped at a quarter and a tenth of the token's lifetime, so short
//! tokens are still used for most of their life, at most one refresh per lifetime.
//! Refresh-ahead is skipped once fewer than `refresh_reserve` refreshes remain that day:
//! the token is then used until it expires, and the reserve is kept for tokens that
//! really are expired or rejected. A token just issued is always used at least once.
//!
//! ## Refresh on proof only
//! A rejection of the token held leads to one refresh; a rejection of a token that was
//! issued *because of* a rejection and has not been accepted since is the platform's
//! answer, surfaced as it is: refreshing again would only burn the budget. What proves a
//! rejection is the protocol's to say (`ProtocolInfo::is_invalid_token_answer`: the
//! code, or a token phrase the request did not itself send). The rule, the cool-down
//! after failed token calls and the refused refresh token live in the store, not in
//! this process's memory, so that restarts and other instances follow them too: see
//! [`rules`](super::rules).
//!
//! ## Store outages
//! Every store operation is bounded by `store_timeout` (5 s: a CPU-starved host, a Redis
//! writing a snapshot, must not fail calls); a quick I/O failure of the store phase is
//! tried once more after 100 ms, a timeout is not, and a failure is shared by every
//! caller that waited for it, so no caller waits more than about one store timeout for
//! the store. A valid token in memory keeps serving while the store is
//! down; the refresh token held in memory is used (and written back) when the store lost
//! the record.

mod speculation;

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use futures_util::future::{Either, select};
use tokio::time::Instant;

use super::instance::{InFlight, Instance, ObtainMarker, PENDING_OBTAIN_NOTE};
use super::rules::{
    self, FAILURE_BACKOFF, MAX_FAILURE_BACKOFF, REFUSED_REFRESH_NOTE, REJECTED_NOTE,
    RefusedRefresh, Rejection, fingerprint,
};
use super::status::{self, LAST_FAILURE_MAX_MESSAGE, LAST_FAILURE_NOTE};
use super::{
    BudgetKind, BudgetStatus, BudgetTake, ClearOutcome, ForgetOutcome, LastFailure, PendingObtain,
    RecordStatus, RefreshOutcome, Secret, StoreError, StoreFuture, TokenRecord, TokenStatus,
    TokenStore,
};
use crate::clock::{Clock, local_day, next_local_midnight};
use crate::error::TokenError;

/// What the token calls return.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    /// The new access token.
    pub access_token: Secret,
    /// When it expires, in ms since the Unix epoch on the platform's clock.
    pub access_expires_at_ms: i64,
    /// A new refresh token and its expiry (ms since the Unix epoch, platform clock).
    /// Present on the obtain call; the refresh call may omit it (the old one stays valid).
    pub refresh: Option<(Secret, i64)>,
    /// When the call that issued it left, on the platform's clock (the start of the
    /// token's lifetime).
    pub issued_at_ms: i64,
}

/// The platform calls the manager makes. Implemented by the client.
pub trait TokenIssuer: Send + Sync {
    /// Issues a new access and refresh token (the spec's `protocol.tokens.obtain`).
    fn obtain(&self) -> impl Future<Output = Result<TokenGrant, TokenError>> + Send;
    /// Issues a new access token for `refresh_token` (`protocol.tokens.refresh`).
    fn refresh(
        &self,
        refresh_token: &Secret,
    ) -> impl Future<Output = Result<TokenGrant, TokenError>> + Send;
}

/// How the manager spends its budgets and waits for other instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenPolicy {
    /// Refresh this long before the access token expires (capped at a quarter of the
    /// token's lifetime; see the module docs).
    pub refresh_ahead: Duration,
    /// Treat tokens as expired this long before their stated expiry (capped at a tenth
    /// of the token's lifetime).
    pub expiry_margin: Duration,
    /// Skip refresh-ahead once fewer refreshes than this remain in the day.
    pub refresh_reserve: u32,
    /// The lease of the cross-process refresh lock. It is renewed every third of itself
    /// while a token call is in flight, so it only bounds how long a crashed holder
    /// blocks the others.
    pub lock_lease: Duration,
    /// How long an instance waits for another one's refresh before giving up.
    pub lock_wait: Duration,
    /// How often a waiting instance re-reads the store.
    pub poll_interval: Duration,
    /// Your own daily limit of obtain calls, below the platform's. The client applies the
    /// limit the API's spec states (the smaller one wins); the default (`u32::MAX`) states none.
    pub obtain_daily_limit: u32,
    /// Your own daily limit of refresh calls, likewise.
    pub refresh_daily_limit: u32,
    /// The longest any one store operation may take; beyond it the operation counts as
    /// failed, and every caller that waited for it shares that failure. (A quick I/O
    /// failure is tried once more first.)
    pub store_timeout: Duration,
    /// How often a valid token held in memory is compared with the store, so that a
    /// store that lost its data (a Redis restart without persistence) gets it back
    /// before another instance spends the day's token-issuing call.
    pub write_back_every: Duration,
    /// Whether this client may make the token-issuing call at all (on by default). Off,
    /// every path that would obtain (no tokens, or a refresh token the platform refused)
    /// fails with [`TokenError::ObtainNotAllowed`] instead: an operator's command that
    /// must not spend the day's only call without consent.
    pub allow_obtain: bool,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        TokenPolicy {
            refresh_ahead: Duration::from_secs(300),
            expiry_margin: Duration::from_secs(30),
            refresh_reserve: 5,
            lock_lease: Duration::from_secs(15),
            lock_wait: Duration::from_secs(40),
            poll_interval: Duration::from_millis(100),
            obtain_daily_limit: u32::MAX,
            refresh_daily_limit: u32::MAX,
            store_timeout: Duration::from_secs(5),
            write_back_every: Duration::from_secs(60),
            allow_obtain: true,
        }
    }
}

/// Keeps the access token of one app on one host of one API.
pub struct TokenManager {
    store: Arc<dyn TokenStore>,
    key: String,
    /// The key earlier versions used (the bare app id), and whether its record may be
    /// adopted: see [`TokenManager::with_unscoped_key`].
    unscoped: Option<(String, bool)>,
    unscoped_checked: AtomicBool,
    me: Instance,
    policy: TokenPolicy,
    clock: Arc<dyn Clock>,
    /// The lifetime the API states for an access token, for records of unknown age.
    nominal_lifetime_ms: i64,
    /// The longest a token call can be in flight (the client's timeout, twice: a call
    /// may be re-sent once after a clock correction).
    call_deadline_ms: i64,
    /// The platform's clock zone (seconds east of UTC): its daily limits count per day
    /// of that zone.
    utc_offset_s: i32,
    cached: RwLock<Option<Cached>>,
    gate: tokio::sync::Mutex<()>,
    last_store_error: Mutex<Option<StoreError>>,
    /// The last failed token call, when, and how many failed in a row: see
    /// [`TokenManager::cooling_down`].
    last_failure: Mutex<Option<Failure>>,
    /// The last failed store operation and when: callers that waited for it share it.
    store_failure: Mutex<Option<(Instant, StoreError)>>,
    /// A token issued because of a rejection and not accepted by the platform since.
    unproven: Mutex<Option<Secret>>,
    has_unproven: AtomicBool,
    /// Whether the store may hold the rejection note ([`rules`]), which the next token
    /// the platform accepts removes.
    rejection_noted: AtomicBool,
    /// Whether this instance has looked for a rejection note another one left.
    rejection_checked: AtomicBool,
    /// The fingerprint of the refresh token the platform refused in the token call being
    /// made, for its failure note.
    refused_in_attempt: Mutex<Option<String>>,
    /// The budget counts this instance knows of (day, obtain, refresh), to put back into
    /// a store that lost them (a Redis restarted without persistence).
    known_used: Mutex<(i64, u32, u32)>,
    last_write_back_check: Mutex<Option<Instant>>,
    calls: CallCounters,
}

#[derive(Clone)]
struct Cached {
    record: TokenRecord,
    /// The token's lifetime as first seen here (its whole life when issued here).
    lifetime_ms: i64,
}

#[derive(Debug, Clone)]
struct Failure {
    at: Instant,
    /// When, on the platform's clock.
    at_ms: i64,
    error: TokenError,
    in_a_row: u32,
}

/// The pause before the one retry of a failed store phase.
const STORE_RETRY_PAUSE: Duration = Duration::from_millis(100);
/// The store note of the platform's clock offset (ms, decimal), measured last.
const CLOCK_OFFSET_NOTE: &str = "clock-offset";
/// A refresh token this close to its expiry is not used.
const REFRESH_TOKEN_MARGIN_MS: i64 = 60_000;

/// How many token calls this manager made (for tests and monitoring).
#[derive(Debug, Default)]
struct CallCounters {
    obtain: AtomicU64,
    refresh: AtomicU64,
}

impl fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManager")
            .field("store", &self.store)
            .field("key", &self.key)
            .field("instance", &self.me.id)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Why [`TokenManager::fresh`] looks for a new token.
#[derive(Clone, Copy)]
enum Need<'a> {
    /// The token is within the refresh-ahead window: a new one is welcome, not required.
    Ahead,
    /// The token is expired (or none is known).
    Expired,
    /// The platform rejected this token.
    Rejected(&'a Secret),
    /// An operator asked for a refresh ([`TokenManager::refresh_now`]): no record
    /// satisfies it, and only the refresh call may answer it (never the obtain call).
    Operator,
}

/// What [`TokenManager::fresh`] got: the token, and whether a token call made it.
struct Fresh {
    token: Secret,
    /// When `token` expires (ms, platform clock).
    access_expires_at_ms: i64,
    /// Whether a token call to the platform issued it (rather than a record another
    /// instance stored).
    called: bool,
    /// The refresh calls counted today when this one's unit was taken, if a refresh call
    /// was made.
    refresh_used: Option<u32>,
    /// A rejection led to no token call: the store's rejection note stands (`token` is
    /// the rejected one).
    declined: bool,
}

/// What [`TokenManager::note_outcome`] made of a result, for the store's note.
enum Noted {
    /// Nothing to note: no token call's outcome.
    Nothing,
    /// A token call succeeded.
    Succeeded,
    /// A token call failed; this process counts `in_a_row` failures in a row.
    Failed(BudgetKind, u32),
}

/// Why an operator's refresh cannot be made without the token-issuing call.
const NO_REFRESH_TOKEN: &str = "no usable refresh token is stored or held (absent, expired or \
     refused): only the token-issuing call would help, and an operator's refresh never makes it";

impl Fresh {
    /// A record found (in memory or the store), not issued by a call of ours.
    fn found(record: &TokenRecord) -> Self {
        Fresh {
            token: record.access_token.clone(),
            access_expires_at_ms: record.access_expires_at_ms,
            called: false,
            refresh_used: None,
            declined: false,
        }
    }

    /// No token call for a rejection of `failed`, as the store's rejection note says.
    fn declined(failed: &Secret) -> Self {
        Fresh {
            token: failed.clone(),
            access_expires_at_ms: 0,
            called: false,
            refresh_used: None,
            declined: true,
        }
    }
}

/// Which token call a failed call's error names.
fn failed_kind(error: &TokenError) -> BudgetKind {
    match error {
        TokenError::CallFailed { kind, .. } | TokenError::CredentialRejected { kind, .. } => *kind,
        TokenError::CoolingDown { last, .. } => failed_kind(last),
        TokenError::RefreshTokenRefused { .. } => BudgetKind::Refresh,
        _ => BudgetKind::Obtain,
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// An instant as RFC 3339 in the zone `utc_offset_s` seconds east of UTC.
fn local_text(at_ms: i64, utc_offset_s: i32) -> String {
    use chrono::TimeZone;
    chrono::FixedOffset::east_opt(utc_offset_s)
        .and_then(|zone| zone.timestamp_millis_opt(at_ms).single())
        .map_or_else(|| format!("{at_ms} ms since 1970"), |t| t.to_rfc3339())
}

impl TokenManager {
    /// A manager of the record and budgets under `key` in `store` (see
    /// [`store_key`](Self::store_key)), judging expiry and days by `clock`. The client
    /// builds one per client; build your own only to drive a store without a client.
    pub fn new(
        store: Arc<dyn TokenStore>,
        key: impl Into<String>,
        policy: TokenPolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        TokenManager {
            store,
            key: key.into(),
            unscoped: None,
            unscoped_checked: AtomicBool::new(false),
            me: Instance::new(),
            policy,
            clock,
            nominal_lifetime_ms: 7_200_000,
            call_deadline_ms: 65_000,
            utc_offset_s: 0,
            cached: RwLock::new(None),
            gate: tokio::sync::Mutex::new(()),
            last_store_error: Mutex::new(None),
            last_failure: Mutex::new(None),
            store_failure: Mutex::new(None),
            unproven: Mutex::new(None),
            has_unproven: AtomicBool::new(false),
            rejection_noted: AtomicBool::new(false),
            rejection_checked: AtomicBool::new(false),
            refused_in_attempt: Mutex::new(None),
            known_used: Mutex::new((i64::MIN, 0, 0)),
            // The first check is one interval after start: a new manager just read the store.
            last_write_back_check: Mutex::new(Some(Instant::now())),
            calls: CallCounters::default(),
        }
    }

    /// The store key of an API's tokens on one host for one app:
    /// `<api>/<host>[:<port>]/<app id>`. Two hosts (test and production) or two apps
    /// never share a record or a budget. (A `base_url` that is not a URL is used as the
    /// host as it is; the client refuses such a URL before it gets here.)
    pub fn store_key(api: &str, base_url: &str, app_id: &str) -> String {
        let Ok(url) = reqwest::Url::parse(base_url) else {
            return format!("{api}/{base_url}/{app_id}");
        };
        let host = url.host_str().unwrap_or("no-host");
        match url.port() {
            Some(port) => format!("{api}/{host}:{port}/{app_id}"),
            None => format!("{api}/{host}/{app_id}"),
        }
    }

    /// The lifetime the API states for an access token (default 2 hours), used for a
    /// stored record whose age is unknown.
    #[must_use]
    pub fn with_nominal_lifetime(mut self, lifetime: Duration) -> Self {
        self.nominal_lifetime_ms = ms(lifetime).max(1);
        self
    }

    /// The longest one token call can take, so that a marker of another host's call is
    /// judged stale after it.
    #[must_use]
    pub fn with_call_deadline(mut self, deadline: Duration) -> Self {
        self.call_deadline_ms = ms(deadline).max(1);
        self
    }

    /// The platform's clock zone, seconds east of UTC (the spec's `time_zone`; default
    /// UTC): budgets are counted per day of that zone and reset at its midnight.
    #[must_use]
    pub fn with_utc_offset(mut self, utc_offset_s: i32) -> Self {
        self.utc_offset_s = utc_offset_s;
        self
    }

    /// The platform's day of an instant, in which its daily limits count.
    fn day(&self, now_ms: i64) -> i64 {
        local_day(now_ms, self.utc_offset_s)
    }

    /// The key of earlier versions (the bare app id). Its record is adopted (copied to
    /// the scoped key, once, when the scoped key has none) only if `adopt`: it may
    /// belong to another host of the same app id, whose tokens this host must not use.
    /// Without `adopt`, finding one is logged at warn, once.
    #[must_use]
    pub fn with_unscoped_key(mut self, key: impl Into<String>, adopt: bool) -> Self {
        self.unscoped = Some((key.into(), adopt));
        self
    }

    /// The store key of this manager's record and budgets.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// This manager's instance id (`host/pid/…`), as pending-obtain markers name it.
    pub fn instance_id(&self) -> &str {
        &self.me.id
    }

    /// The policy this manager follows.
    pub fn policy(&self) -> &TokenPolicy {
        &self.policy
    }

    /// The store this manager keeps its state in.
    pub fn store(&self) -> &Arc<dyn TokenStore> {
        &self.store
    }

    /// The number of obtain and refresh calls this manager made that may have reached
    /// the platform.
    pub fn calls_made(&self) -> (u64, u64) {
        (
            self.calls.obtain.load(Ordering::Relaxed),
            self.calls.refresh.load(Ordering::Relaxed),
        )
    }

    /// The last store write that failed after a successful token call, if any. The new
    /// token is used from memory meanwhile; other instances cannot see it.
    pub fn last_store_error(&self) -> Option<StoreError> {
        self.last_store_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// When the access token held in memory expires (platform clock, ms), if one is held.
    pub fn access_expires_at_ms(&self) -> Option<i64> {
        self.cached().map(|c| c.record.access_expires_at_ms)
    }

    fn cached(&self) -> Option<Cached> {
        self.cached
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_cached(&self, record: &TokenRecord, lifetime_ms: i64) {
        let mut slot = self.cached.write().unwrap_or_else(PoisonError::into_inner);
        // Never step back to an older record than the one held.
        if slot
            .as_ref()
            .is_none_or(|c| c.record.version <= record.version)
        {
            *slot = Some(Cached {
                record: record.clone(),
                lifetime_ms: lifetime_ms.max(1),
            });
        }
    }

    /// Takes a record found in the store into memory.
    fn adopt(&self, record: &TokenRecord, now: i64) -> Secret {
        self.set_cached(record, self.lifetime_of(record, now));
        record.access_token.clone()
    }

    /// The expiry margin and the refresh-ahead point (margin included) for a token of
    /// `lifetime_ms`.
    fn margins(&self, lifetime_ms: i64) -> (i64, i64) {
        let lifetime = lifetime_ms.max(1);
        let margin = ms(self.policy.expiry_margin).min(lifetime / 10);
        let ahead = ms(self.policy.refresh_ahead).min(lifetime / 4);
        (margin, margin.saturating_add(ahead))
    }

    /// The lifetime of `record`'s access token: as first seen here, or, for a record of
    /// unknown age, what is left of it (never more than the nominal lifetime).
    fn lifetime_of(&self, record: &TokenRecord, now: i64) -> i64 {
        if let Some(c) = self.cached()
            && c.record.version == record.version
            && c.record.access_token == record.access_token
        {
            return c.lifetime_ms;
        }
        record
            .access_expires_at_ms
            .saturating_sub(now)
            .clamp(1, self.nominal_lifetime_ms)
    }

    /// A valid access token, refreshing it if needed.
    pub async fn access_token(&self, issuer: &impl TokenIssuer) -> Result<Secret, TokenError> {
        let now = self.clock.now_ms();
        if let Some(cached) = self.cached() {
            let (margin, ahead) = self.margins(cached.lifetime_ms);
            if cached.record.access_valid_at(now, ahead) {
                // The cold paths are boxed, so every call's future does not carry their
                // state (4.4 KB before).
                if self.write_back_due() {
                    Box::pin(self.write_back(&cached)).await;
                }
                return Ok(cached.record.access_token);
            }
            if cached.record.access_valid_at(now, margin) {
                // Within the refresh-ahead window the current token still works: while
                // another task is refreshing, use it instead of queueing behind it.
                if self.gate.try_lock().is_err() {
                    return Ok(cached.record.access_token);
                }
                // Try for a new one; a failure only means using the current one a little
                // longer.
                return match Box::pin(self.fresh(issuer, Need::Ahead)).await {
                    Ok(fresh) => Ok(fresh.token),
                    Err(e) => {
                        tracing::debug!(error = %e, "refresh ahead of expiry did not happen");
                        Ok(cached.record.access_token)
                    }
                };
            }
        }
        Box::pin(self.fresh(issuer, Need::Expired))
            .await
            .map(|f| f.token)
    }

    /// A new access token after the platform rejected `failed`, or `None` when refreshing
    /// cannot help: `failed` was itself issued because of a rejection and the platform
    /// has not accepted it since, so the caller reports the platform's answer as it is.
    /// If the token held now is already another one (someone refreshed meanwhile), that
    /// one is returned and no call is made. Callers retry once with the result, never
    /// more.
    pub async fn after_rejection(
        &self,
        issuer: &impl TokenIssuer,
        failed: &Secret,
    ) -> Result<Option<Secret>, TokenError> {
        if self.is_unproven(failed) {
            tracing::warn!(
                "a token issued after a rejection was rejected too; not refreshing again"
            );
            return Ok(None);
        }
        let fresh = self.fresh(issuer, Need::Rejected(failed)).await?;
        // Either way, a later rejection of the token now held makes no token call in
        // this process: the new token is unproven, or the rejected one stays held.
        *self.unproven.lock().unwrap_or_else(PoisonError::into_inner) = Some(fresh.token.clone());
        self.has_unproven.store(true, Ordering::Release);
        if fresh.declined {
            tracing::warn!(
                "the platform rejected the access token, but it has rejected tokens since \
                 the last one it accepted (noted in the token store): no token call is made \
                 for the rejection; the token's expiry still refreshes it"
            );
            return Ok(None);
        }
        Ok(Some(fresh.token))
    }

    /// Whether `token` was issued because of a rejection and not accepted since.
    fn is_unproven(&self, token: &Secret) -> bool {
        self.has_unproven.load(Ordering::Acquire)
            && self
                .unproven
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                == Some(token)
    }

    /// The platform accepted `token` (a call with it was answered with anything but an
    /// invalid-token code): it is proven, and a later rejection of it may be refreshed.
    /// Returns whether the store's rejection note is to be removed now
    /// ([`TokenManager::clear_rejection`]): the platform accepts tokens again.
    pub fn note_accepted(&self, token: &Secret) -> bool {
        if self.has_unproven.load(Ordering::Acquire) {
            let mut unproven = self.unproven.lock().unwrap_or_else(PoisonError::into_inner);
            if unproven.as_ref() == Some(token) {
                *unproven = None;
                self.has_unproven.store(false, Ordering::Release);
            }
        }
        self.rejection_noted.load(Ordering::Acquire)
    }

    /// Removes the store's rejection note (see the [budget rules](super)) after the platform accepted a
    /// token. A store failure only leaves the note for the next acceptance.
    pub async fn clear_rejection(&self) {
        if !self.rejection_noted.swap(false, Ordering::AcqRel) {
            return;
        }
        match self
            .op(
                "clear rejection note",
                self.store.store_note(&self.key, REJECTED_NOTE, None),
            )
            .await
        {
            Ok(()) => tracing::info!("the platform accepts tokens again; rejection note removed"),
            Err(e) => {
                self.rejection_noted.store(true, Ordering::Release);
                tracing::warn!(error = %e, "could not remove the rejection note");
            }
        }
    }

    /// Whether the store holds the rejection note (a damaged one counts: it only ever
    /// withholds token calls that a rejection would make).
    async fn rejection_in_store(&self) -> Result<bool, TokenError> {
        let noted = self
            .op(
                "read rejection note",
                self.store.load_note(&self.key, REJECTED_NOTE),
            )
            .await?
            .is_some();
        if noted {
            self.rejection_noted.store(true, Ordering::Release);
        }
        Ok(noted)
    }

    /// Writes the rejection note before the token call a rejection makes, so that a crash
    /// mid-call cannot lose it.
    async fn note_rejection(&self, now: i64) {
        let note = Rejection {
            since_ms: now,
            instance: self.me.id.clone(),
        }
        .to_note();
        self.rejection_noted.store(true, Ordering::Release);
        if let Err(e) = self
            .op(
                "write rejection note",
                self.store.store_note(&self.key, REJECTED_NOTE, Some(&note)),
            )
            .await
        {
            tracing::warn!(error = %e, "could not note the rejection in the token store");
        }
    }

    /// Whether `record` satisfies `need` at `now`.
    fn satisfies(&self, record: &TokenRecord, need: Need<'_>, now: i64) -> bool {
        let (margin, ahead) = self.margins(self.lifetime_of(record, now));
        match need {
            Need::Ahead => record.access_valid_at(now, ahead),
            Need::Expired => record.access_valid_at(now, margin),
            Need::Rejected(failed) => {
                record.access_token != *failed && record.access_valid_at(now, margin)
            }
            Need::Operator => false,
        }
    }

    /// One store operation, bounded by the policy's `store_timeout`.
    async fn op<T>(&self, what: &str, work: StoreFuture<'_, T>) -> Result<T, TokenError> {
        match tokio::time::timeout(self.policy.store_timeout, work).await {
            Ok(result) => result.map_err(TokenError::Store),
            Err(_) => Err(TokenError::Store(StoreError::timeout(format!(
                "the token store did not answer ({what}) within {} ms",
                self.policy.store_timeout.as_millis()
            )))),
        }
    }

    /// The stored record; on the first miss, the record of the unscoped key of earlier
    /// versions is adopted (if allowed) or reported.
    async fn load(&self) -> Result<Option<TokenRecord>, TokenError> {
        let stored = self.op("load", self.store.load(&self.key)).await?;
        if !self.rejection_checked.swap(true, Ordering::AcqRel) {
            // Once per instance: another instance's rejection note (a later acceptance
            // removes it), and the day's counts (put back if the store loses them).
            if let Err(e) = self.rejection_in_store().await {
                tracing::debug!(error = %e, "could not read the rejection note");
                self.rejection_checked.store(false, Ordering::Release);
            }
            let day = self.day(self.clock.now_ms());
            for kind in [BudgetKind::Obtain, BudgetKind::Refresh] {
                if let Ok(used) = self
                    .op("read budget", self.store.budget_used(&self.key, kind, day))
                    .await
                {
                    self.note_used(kind, day, Some(used), 0);
                }
            }
        }
        if stored.is_some() || self.unscoped_checked.swap(true, Ordering::Relaxed) {
            return Ok(stored);
        }
        let Some((old_key, adopt)) = &self.unscoped else {
            return Ok(None);
        };
        let Some(old) = self.op("load", self.store.load(old_key)).await? else {
            return Ok(None);
        };
        if !adopt {
            tracing::warn!(
                unscoped_key = %old_key,
                key = %self.key,
                "a token record of an earlier version (stored under the bare app id) is \
                 not used: it may belong to another host of this app id. If it is this \
                 host's, let the client adopt it (ClientBuilder::adopt_unscoped_token_record)"
            );
            return Ok(None);
        }
        if self
            .op(
                "adopt the unscoped record",
                self.store.compare_and_set(&self.key, None, &old),
            )
            .await?
        {
            tracing::info!(unscoped_key = %old_key, key = %self.key, "adopted the token record of an earlier version");
            return Ok(Some(old));
        }
        self.op("load", self.store.load(&self.key)).await
    }

    /// Whether the periodic write-back check is due now (and marks it done).
    fn write_back_due(&self) -> bool {
        let mut last = self
            .last_write_back_check
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if last.is_some_and(|t| t.elapsed() < self.policy.write_back_every) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    /// Now and then (when [`Self::write_back_due`]), compares the valid token held with
    /// the store and writes it back when the store lost it (or went back to an older
    /// one). Never fails the caller.
    async fn write_back(&self, cached: &Cached) {
        let Ok(_gate) = self.gate.try_lock() else {
            return;
        };
        let stored = match self.op("load", self.store.load(&self.key)).await {
            Ok(stored) => stored,
            Err(e) => {
                tracing::debug!(error = %e, "token store check skipped");
                return;
            }
        };
        let expected = stored.as_ref().map(|r| r.version);
        // The day's counts, which a store that lost its data lost too (another holder
        // may have written the record back already).
        let day = self.day(self.clock.now_ms());
        for kind in [BudgetKind::Obtain, BudgetKind::Refresh] {
            if let Err(e) = self.restore_budget(kind, day).await {
                tracing::debug!(error = %e, "token budget check skipped");
            }
        }
        if expected.is_some_and(|v| v >= cached.record.version) {
            return;
        }
        match self
            .op(
                "write back",
                self.store
                    .compare_and_set(&self.key, expected, &cached.record),
            )
            .await
        {
            Ok(true) => tracing::warn!(
                version = cached.record.version,
                "the token store had lost the token record; wrote back the one held in memory"
            ),
            Ok(false) => {}
            Err(e) => tracing::debug!(error = %e, "token write-back failed"),
        }
    }

    async fn fresh(&self, issuer: &impl TokenIssuer, need: Need<'_>) -> Result<Fresh, TokenError> {
        // One task per process goes on; the others find its result in the cache, or its
        // failure: a caller that waited while the token call or the store failed gets
        // that failure instead of trying again (an outage must not spend the day's
        // budget, nor make every caller pay its timeout in turn).
        let waiting_since = Instant::now();
        let _gate = self.gate.lock().await;
        if let Some(failure) = self.failure_since(waiting_since) {
            return Err(failure);
        }
        let mut result = self.fresh_gated(issuer, need).await;
        if let Err(TokenError::Store(e)) = &result
            && e.kind() == super::StoreErrorKind::Io
        {
            // A quick I/O failure (a connection reset; the Redis client reconnects) is
            // tried once more; a timeout is not, so that no caller waits more than one
            // store timeout for the store, and an outage fails again and is shared. A
            // lock taken by an operation whose reply was lost is released first, or the
            // retry would wait out our own lease.
            tracing::debug!(error = %e, "token store failed; trying once more");
            self.release_lock().await;
            tokio::time::sleep(STORE_RETRY_PAUSE).await;
            result = self.fresh_gated(issuer, need).await;
        }
        if let Err(TokenError::Store(e)) = &result {
            self.release_lock().await;
            *self
                .store_failure
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), e.clone()));
        }
        result
    }

    /// [`TokenManager::fresh`], holding the process's gate.
    async fn fresh_gated(
        &self,
        issuer: &impl TokenIssuer,
        need: Need<'_>,
    ) -> Result<Fresh, TokenError> {
        let now = self.clock.now_ms();
        if let Some(cached) = self
            .cached()
            .filter(|c| self.satisfies(&c.record, need, now))
        {
            return Ok(Fresh::found(&cached.record));
        }
        let stored = self.load().await?;
        if let Some(record) = stored.as_ref().filter(|r| self.satisfies(r, need, now)) {
            self.adopt(record, now);
            return Ok(Fresh::found(record));
        }
        if !self.refreshable(stored.as_ref(), now) {
            if matches!(need, Need::Operator) {
                return Err(TokenError::NotConfigured(NO_REFRESH_TOKEN));
            }
            // Only the token-issuing call would help: a lost one is explained at once.
            self.explain_lost_obtain(now).await?;
        }
        if !self.lock_or_wait(need).await? {
            // Another instance refreshed while we waited.
            let record = self.load().await?.ok_or_else(|| {
                TokenError::Store(StoreError::backend("the token record vanished"))
            })?;
            self.adopt(&record, self.clock.now_ms());
            return Ok(Fresh::found(&record));
        }
        let result = match self.cooling_down() {
            Some(e) => Err(e),
            None => self.refresh_locked(issuer, need).await,
        };
        let noted = self.note_outcome(&result);
        // Under the lock, so that the notes of two instances' calls land in their order.
        self.note_outcome_in_store(noted, &result).await;
        self.release_lock().await;
        result
    }

    /// Releases the refresh lock if this instance holds it (harmless if not).
    async fn release_lock(&self) {
        if let Err(e) = self
            .op("unlock", self.store.unlock(&self.key, &self.me.id))
            .await
        {
            // The lease runs out by itself; a failed unlock only delays the next refresh.
            tracing::warn!(error = %e, "could not release the token refresh lock");
        }
    }

    /// The record to refresh from: the stored one, or the one held in memory when the
    /// store lost it (or holds an older one).
    fn base(&self, stored: Option<TokenRecord>) -> Option<TokenRecord> {
        let held = self.cached().map(|c| c.record);
        match (stored, held) {
            (Some(s), Some(h)) if h.version > s.version => Some(h),
            (Some(s), _) => Some(s),
            (None, held) => held,
        }
    }

    fn refreshable(&self, stored: Option<&TokenRecord>, now: i64) -> bool {
        self.base(stored.cloned())
            .is_some_and(|r| r.refresh_valid_at(now, REFRESH_TOKEN_MARGIN_MS))
    }

    /// An error naming a lost token-issuing call, when today's is spent, nothing holds
    /// its tokens, and the instance that made it is certainly not still making it.
    async fn explain_lost_obtain(&self, now: i64) -> Result<(), TokenError> {
        let day = self.day(now);
        let used = self
            .op(
                "read budget",
                self.store.budget_used(&self.key, BudgetKind::Obtain, day),
            )
            .await?;
        if used < self.policy.obtain_daily_limit {
            return Ok(());
        }
        let note = self
            .op(
                "read marker",
                self.store.load_note(&self.key, PENDING_OBTAIN_NOTE),
            )
            .await?;
        let Some(marker) = note.as_deref().and_then(ObtainMarker::from_note) else {
            return Ok(());
        };
        if marker.day != day || marker.may_be_in_flight(&self.me, now, self.call_deadline_ms) {
            return Ok(());
        }
        Err(TokenError::ObtainLost {
            started_at: local_text(marker.started_at_ms, self.utc_offset_s),
            instance: marker.instance,
            resets_at: next_local_midnight(now, self.utc_offset_s).to_rfc3339(),
        })
    }

    /// The failure of a token call or store operation after `since`, if the last one
    /// failed.
    fn failure_since(&self, since: Instant) -> Option<TokenError> {
        if let Some((at, e)) = self
            .store_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            && *at >= since
        {
            return Some(TokenError::Store(e.clone()));
        }
        let last = self
            .last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        last.as_ref()
            .filter(|f| f.at >= since)
            .map(|f| f.error.clone())
    }

    /// A refusal while the pause of the stored last failure lasts (see [`rules`]): the
    /// failure of any instance, before any restart, judged on the platform's clock.
    async fn stored_cool_down(&self, now: i64) -> Result<(), TokenError> {
        let Some(note) = self
            .op(
                "read last failure",
                self.store.load_note(&self.key, LAST_FAILURE_NOTE),
            )
            .await?
        else {
            return Ok(());
        };
        let Some(failure) = LastFailure::from_note(&note) else {
            return Ok(());
        };
        let Some(left) = rules::failure_pause_left(failure.at_ms, failure.in_a_row, now) else {
            return Ok(());
        };
        Err(TokenError::CoolingDown {
            retry_after: left,
            last: Box::new(TokenError::CallFailed {
                kind: failure.kind,
                code: failure.code,
                reason: failure.message,
                sent: crate::error::Sent::Maybe,
                transport: None,
            }),
        })
    }

    /// The code of the platform's refusal of `record`'s refresh token and what is left
    /// of its pause, if it refused it lately (see [`rules`]).
    async fn refused_lately(
        &self,
        record: &TokenRecord,
        now: i64,
    ) -> Result<Option<(i64, Duration)>, TokenError> {
        let note = self
            .op(
                "read refused refresh",
                self.store.load_note(&self.key, REFUSED_REFRESH_NOTE),
            )
            .await?;
        let sending = fingerprint(&record.refresh_token);
        Ok(note
            .as_deref()
            .and_then(RefusedRefresh::from_note)
            .and_then(|r| r.pause_left(&sending, now).map(|left| (r.code, left))))
    }

    /// Notes in the store that the platform refused `refresh_token` (see [`rules`]), and
    /// marks the attempt's failure note.
    async fn note_refused_refresh(&self, refresh_token: &Secret, code: i64, now: i64) {
        self.mark_refused_in_attempt(refresh_token);
        let token = fingerprint(refresh_token);
        let before = match self
            .op(
                "read refused refresh",
                self.store.load_note(&self.key, REFUSED_REFRESH_NOTE),
            )
            .await
        {
            Ok(note) => note.as_deref().and_then(RefusedRefresh::from_note),
            Err(e) => {
                tracing::warn!(error = %e, "could not read the refused refresh token's note");
                None
            }
        };
        let in_a_row = before
            .filter(|b| b.token == token)
            .map_or(1, |b| b.in_a_row.saturating_add(1));
        let note = RefusedRefresh {
            token,
            at_ms: now,
            in_a_row,
            code,
        }
        .to_note();
        if let Err(e) = self
            .op(
                "write refused refresh",
                self.store
                    .store_note(&self.key, REFUSED_REFRESH_NOTE, Some(&note)),
            )
            .await
        {
            tracing::warn!(error = %e, "could not note the refused refresh token");
        }
    }

    /// Marks the attempt under way as one whose refresh token the platform refused, for
    /// its failure note.
    fn mark_refused_in_attempt(&self, refresh_token: &Secret) {
        *self
            .refused_in_attempt
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(fingerprint(refresh_token));
    }

    /// A refusal while the pause after the last failed token call lasts: 5 s after one
    /// failure, doubling with each failure in a row, at most 5 minutes. At most
    /// 24 h / 5 min = 288 calls a day could fail this way, but the budget check comes
    /// first, so an outage spends at most one budget unit per pause.
    fn cooling_down(&self) -> Option<TokenError> {
        let last = self
            .last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let failure = last.as_ref()?;
        let pause = rules::backoff(FAILURE_BACKOFF, MAX_FAILURE_BACKOFF, failure.in_a_row);
        // Over when either clock says so: the platform's (as the store's note is judged,
        // and as a test's simulated clock moves) or this process's own.
        let platform = self.clock.now_ms().saturating_sub(failure.at_ms).max(0);
        let elapsed = failure
            .at
            .elapsed()
            .max(Duration::from_millis(u64::try_from(platform).unwrap_or(0)));
        (elapsed < pause).then(|| TokenError::CoolingDown {
            retry_after: pause - elapsed,
            last: Box::new(failure.error.clone()),
        })
    }

    fn note_outcome(&self, result: &Result<Fresh, TokenError>) -> Noted {
        let mut last = self
            .last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match result {
            Ok(fresh) if fresh.declined => Noted::Nothing,
            Ok(fresh) => {
                *last = None;
                if fresh.called {
                    Noted::Succeeded
                } else {
                    Noted::Nothing
                }
            }
            // Only failed platform calls are remembered: budget, store and lock errors
            // spent nothing at the platform and may differ from caller to caller.
            Err(
                TokenError::CoolingDown { .. }
                | TokenError::BudgetExhausted { .. }
                | TokenError::Store(_)
                | TokenError::LockWaitTimedOut { .. }
                | TokenError::ObtainLost { .. }
                | TokenError::NotConfigured(_)
                | TokenError::ObtainNotAllowed,
            ) => Noted::Nothing,
            Err(error) => {
                let in_a_row = last.as_ref().map_or(0, |f| f.in_a_row).saturating_add(1);
                *last = Some(Failure {
                    at: Instant::now(),
                    at_ms: self.clock.now_ms(),
                    error: error.clone(),
                    in_a_row,
                });
                Noted::Failed(failed_kind(error), in_a_row)
            }
        }
    }

    /// Keeps the last failed token call in the store (the `last-failure` note), where
    /// every process sharing it can read why a service is locked out
    /// ([`TokenManager::status`]); a successful call removes it. A store failure here only
    /// loses the note: it is logged and never changes the token call's outcome.
    async fn note_outcome_in_store(&self, noted: Noted, result: &Result<Fresh, TokenError>) {
        let refused_refresh = self
            .refused_in_attempt
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let note = match (noted, result) {
            (Noted::Nothing, _) => return,
            (Noted::Succeeded, _) => {
                if let Err(e) = self
                    .op(
                        "clear refused refresh",
                        self.store.store_note(&self.key, REFUSED_REFRESH_NOTE, None),
                    )
                    .await
                {
                    tracing::debug!(error = %e, "could not remove the refused refresh token's note");
                }
                None
            }
            (Noted::Failed(kind, in_a_row_here), Err(error)) => {
                // Counted across instances: the note's count goes on, else this process's.
                let in_a_row = match self
                    .op(
                        "read last failure",
                        self.store.load_note(&self.key, LAST_FAILURE_NOTE),
                    )
                    .await
                {
                    Ok(Some(note)) => LastFailure::from_note(&note)
                        .map_or(in_a_row_here, |f| f.in_a_row.saturating_add(1)),
                    Ok(None) => 1,
                    Err(e) => {
                        // A store that fails now would fail the write too (and a hung one
                        // would make every caller wait for it once more).
                        tracing::warn!(error = %e, "could not keep the failed token call in the store");
                        return;
                    }
                };
                Some(
                    LastFailure {
                        at_ms: self.clock.now_ms(),
                        kind,
                        message: self.failure_text(error).await,
                        in_a_row,
                        code: error.api_code(),
                        refresh_token_refused: refused_refresh.is_some(),
                    }
                    .to_note(),
                )
            }
            (Noted::Failed(..), Ok(_)) => return,
        };
        if let Err(e) = self
            .op(
                "write last failure",
                self.store
                    .store_note(&self.key, LAST_FAILURE_NOTE, note.as_deref()),
            )
            .await
        {
            tracing::warn!(error = %e, "could not keep the outcome of the token call in the store");
        }
    }

    /// A token call's error text for the store: the client's texts hold no secret
    /// already; an issuer of the user's might quote one, so every token this instance
    /// knows (held, and stored) is scrubbed too, and the text is cut to a bounded length.
    async fn failure_text(&self, error: &TokenError) -> String {
        let mut scrubber = crate::redact::Scrubber::new();
        let stored = self
            .op("load", self.store.load(&self.key))
            .await
            .ok()
            .flatten();
        for record in self.cached().map(|c| c.record).into_iter().chain(stored) {
            scrubber.add(record.access_token.expose());
            scrubber.add(record.refresh_token.expose());
        }
        let text = scrubber.scrub(&error.to_string());
        status::cut(text, LAST_FAILURE_MAX_MESSAGE)
    }

    /// Takes the store's refresh lock (`Ok(true)`), or waits until another instance's
    /// refresh put a satisfying record in the store (`Ok(false)`).
    async fn lock_or_wait(&self, need: Need<'_>) -> Result<bool, TokenError> {
        let started = Instant::now();
        loop {
            if self
                .op(
                    "lock",
                    self.store
                        .try_lock(&self.key, &self.me.id, self.policy.lock_lease),
                )
                .await?
            {
                return Ok(true);
            }
            if matches!(need, Need::Ahead) {
                // The current token still works: another instance's early refresh is no
                // reason to wait.
                return Err(TokenError::LockWaitTimedOut {
                    waited: Duration::ZERO,
                });
            }
            if started.elapsed() >= self.policy.lock_wait {
                return Err(TokenError::LockWaitTimedOut {
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(self.poll_pause(started)).await;
            let now = self.clock.now_ms();
            if let Some(record) = self.op("load", self.store.load(&self.key)).await?
                && self.satisfies(&record, need, now)
            {
                return Ok(false);
            }
        }
    }

    /// The pause before a waiting instance re-reads the store: the poll interval, at
    /// least 1 ms (zero re-read the store in a tight loop) and never past `lock_wait` (an
    /// interval of `Duration::MAX` slept past it for ever).
    fn poll_pause(&self, started: Instant) -> Duration {
        let left = self.policy.lock_wait.saturating_sub(started.elapsed());
        self.policy
            .poll_interval
            .max(Duration::from_millis(1))
            .min(left)
    }

    /// Runs a token call while renewing the refresh lock every third of its lease, so
    /// that no other instance can take the lock, and start a second call, while this
    /// one is in flight however slow it is.
    async fn with_renewed_lease<T>(&self, call: impl Future<Output = T>) -> T {
        let every = (self.policy.lock_lease / 3).max(Duration::from_millis(10));
        let renew = async {
            loop {
                tokio::time::sleep(every).await;
                match self
                    .op(
                        "renew lock",
                        self.store
                            .renew_lock(&self.key, &self.me.id, self.policy.lock_lease),
                    )
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(
                        "the token refresh lock was lost while a token call was in flight"
                    ),
                    Err(e) => tracing::warn!(error = %e, "could not renew the token refresh lock"),
                }
            }
        };
        let call = pin!(call);
        let renew = pin!(renew);
        match select(call, renew).await {
            Either::Left((value, _)) => value,
            Either::Right(((), call)) => call.await,
        }
    }

    /// Holding the lock: re-read the store, then obtain or refresh within budget.
    async fn refresh_locked(
        &self,
        issuer: &impl TokenIssuer,
        need: Need<'_>,
    ) -> Result<Fresh, TokenError> {
        let now = self.clock.now_ms();
        let stored = self.load().await?;
        if let Some(record) = stored.as_ref().filter(|r| self.satisfies(r, need, now)) {
            self.adopt(record, now);
            return Ok(Fresh::found(record));
        }
        let expected = stored.as_ref().map(|r| r.version);
        let base = self.base(stored);
        let refreshable = base
            .as_ref()
            .filter(|r| r.refresh_valid_at(now, REFRESH_TOKEN_MARGIN_MS));
        // The store-held rules (see `rules`), read under the lock so that every instance
        // sees the last one's outcome: a rejection since the last accepted token makes no
        // call; a failed call's pause holds across restarts.
        if let Need::Rejected(failed) = need
            && self.rejection_in_store().await?
        {
            return Ok(Fresh::declined(failed));
        }
        // An operator's step is the operator's consent: no pause holds it back.
        let refused = match refreshable {
            Some(record) if !matches!(need, Need::Operator) => {
                self.stored_cool_down(now).await?;
                self.refused_lately(record, now).await?
            }
            None if !matches!(need, Need::Operator) => {
                self.stored_cool_down(now).await?;
                None
            }
            _ => None,
        };
        let rejection = matches!(need, Need::Rejected(_));
        let mut refresh_used = None;
        let (grant, obtained) = match (refreshable, refused) {
            // The platform refused this refresh token lately: not sent again before its
            // pause ends; only a new pair helps meanwhile, as right after the refusal.
            (Some(record), Some((code, left))) => {
                self.mark_refused_in_attempt(&record.refresh_token);
                match self.obtain_call(issuer, now, rejection).await {
                    Ok(grant) => (grant, true),
                    Err(then) => {
                        let made_a_call = matches!(
                            then,
                            TokenError::CallFailed { .. } | TokenError::CredentialRejected { .. }
                        ) && !then.certainly_not_sent();
                        let refused = TokenError::RefreshTokenRefused {
                            code,
                            then: Box::new(then),
                        };
                        // No platform call was made: a pause, not a new failure (a new
                        // failure would restart the refused token's pause at every try).
                        return Err(if made_a_call {
                            refused
                        } else {
                            TokenError::CoolingDown {
                                retry_after: left,
                                last: Box::new(refused),
                            }
                        });
                    }
                }
            }
            (Some(record), None) => {
                if matches!(need, Need::Ahead) {
                    self.check_reserve(now).await?;
                }
                match self
                    .refresh_call(
                        issuer,
                        &record.refresh_token,
                        now,
                        rejection,
                        &mut refresh_used,
                    )
                    .await
                {
                    Ok(grant) => (grant, false),
                    // An operator's refresh never obtains: the refusal is its answer.
                    Err(e @ TokenError::CredentialRejected { code, .. })
                        if matches!(need, Need::Operator) =>
                    {
                        self.note_refused_refresh(&record.refresh_token, code, now)
                            .await;
                        return Err(e);
                    }
                    // The platform refused the refresh token itself (revoked, replaced
                    // elsewhere): only a new pair helps. A busy answer (500) or a transport
                    // failure is not a refusal and does not spend the day's obtain call.
                    Err(TokenError::CredentialRejected { code, .. }) => {
                        self.note_refused_refresh(&record.refresh_token, code, now)
                            .await;
                        tracing::warn!(code, "refresh token refused; obtaining a new token pair");
                        match self.obtain_call(issuer, now, rejection).await {
                            Ok(grant) => (grant, true),
                            Err(then) => {
                                return Err(TokenError::RefreshTokenRefused {
                                    code,
                                    then: Box::new(then),
                                });
                            }
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            (None, _) if matches!(need, Need::Operator) => {
                return Err(TokenError::NotConfigured(NO_REFRESH_TOKEN));
            }
            (None, _) => (self.obtain_call(issuer, now, rejection).await?, true),
        };
        let lifetime = grant
            .access_expires_at_ms
            .saturating_sub(grant.issued_at_ms);
        let (refresh_token, refresh_expires_at_ms) = match (grant.refresh, base.as_ref()) {
            (Some(refresh), _) => refresh,
            (None, Some(p)) => (p.refresh_token.clone(), p.refresh_expires_at_ms),
            (None, None) => {
                return Err(TokenError::CallFailed {
                    kind: BudgetKind::Obtain,
                    code: None,
                    reason: "the reply carries no refresh token".into(),
                    sent: crate::error::Sent::Maybe,
                    transport: None,
                });
            }
        };
        let record = TokenRecord {
            access_token: grant.access_token,
            access_expires_at_ms: grant.access_expires_at_ms,
            refresh_token,
            refresh_expires_at_ms,
            // A hostile stored version of u64::MAX stays u64::MAX: the write still
            // compares equal and the new tokens are kept, never lost to an overflow.
            version: base.as_ref().map_or(1, |p| p.version.saturating_add(1)),
        };
        let (token, access_expires_at_ms, wrote) = self.persist(expected, record, lifetime).await;
        if obtained && wrote {
            self.clear_marker().await;
        }
        Ok(Fresh {
            token,
            access_expires_at_ms,
            called: true,
            refresh_used,
            declined: false,
        })
    }

    /// The refresh call, within the day's budget; `used` gets the day's count of refresh
    /// calls once this one's unit is taken. `rejection`: made because the platform
    /// rejected a token, which the store's rejection note records before the call.
    async fn refresh_call(
        &self,
        issuer: &impl TokenIssuer,
        refresh_token: &Secret,
        now: i64,
        rejection: bool,
        used: &mut Option<u32>,
    ) -> Result<TokenGrant, TokenError> {
        *used = Some(self.spend(BudgetKind::Refresh, now).await?);
        if rejection {
            self.note_rejection(now).await;
        }
        let result = self.with_renewed_lease(issuer.refresh(refresh_token)).await;
        self.settle(BudgetKind::Refresh, now, &result).await;
        result
    }

    /// The token-issuing call, within the day's budget, with its marker in the store
    /// from before it is sent until its tokens are stored or it failed.
    async fn obtain_call(
        &self,
        issuer: &impl TokenIssuer,
        now: i64,
        rejection: bool,
    ) -> Result<TokenGrant, TokenError> {
        // Every path to the token-issuing call passes here (the refused-refresh fallback
        // too), so the policy holds on all of them.
        if !self.policy.allow_obtain {
            return Err(TokenError::ObtainNotAllowed);
        }
        self.spend(BudgetKind::Obtain, now).await?;
        if rejection {
            self.note_rejection(now).await;
        }
        let marker = ObtainMarker::new(&self.me, self.day(now), now).to_note();
        if let Err(e) = self
            .op(
                "write marker",
                self.store
                    .store_note(&self.key, PENDING_OBTAIN_NOTE, Some(&marker)),
            )
            .await
        {
            tracing::warn!(error = %e, "could not mark the token-issuing call as pending");
        }
        let result = {
            let _in_flight = InFlight::start(&self.me);
            self.with_renewed_lease(issuer.obtain()).await
        };
        self.settle(BudgetKind::Obtain, now, &result).await;
        if result.is_err() {
            // The call's outcome is known here: no tokens to look for.
            self.clear_marker().await;
        }
        result
    }

    /// After a token call: counts it, or gives its budget unit back when it certainly
    /// never left (connection refused, a URL that cannot be formed).
    async fn settle(&self, kind: BudgetKind, now: i64, result: &Result<TokenGrant, TokenError>) {
        if let Err(e) = result
            && e.certainly_not_sent()
        {
            match self
                .op(
                    "give back budget",
                    self.store.give_back_budget(&self.key, kind, self.day(now)),
                )
                .await
            {
                Ok(()) => self.note_used(kind, self.day(now), None, -1),
                Err(store) => {
                    tracing::warn!(error = %store, "could not give back the budget of a call never sent");
                }
            }
            return;
        }
        let counter = match kind {
            BudgetKind::Obtain => &self.calls.obtain,
            BudgetKind::Refresh => &self.calls.refresh,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    async fn clear_marker(&self) {
        if let Err(e) = self
            .op(
                "clear marker",
                self.store.store_note(&self.key, PENDING_OBTAIN_NOTE, None),
            )
            .await
        {
            tracing::warn!(error = %e, "could not clear the pending token-issuing marker");
        }
    }

    /// Writes the new record; a failed write keeps it in memory and is reported. Returns
    /// the token to use and whether this record is the stored one.
    async fn persist(
        &self,
        expected: Option<u64>,
        record: TokenRecord,
        lifetime_ms: i64,
    ) -> (Secret, i64, bool) {
        match self
            .op(
                "store",
                self.store.compare_and_set(&self.key, expected, &record),
            )
            .await
        {
            Ok(true) => {
                *self
                    .last_store_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = None;
                self.set_cached(&record, lifetime_ms);
                return (record.access_token, record.access_expires_at_ms, true);
            }
            Ok(false) => {
                // Someone wrote while we held the lock (our lease ran out): theirs is at
                // least as new. Use it if it is valid, else ours from memory.
                let now = self.clock.now_ms();
                if let Ok(Some(theirs)) = self.op("load", self.store.load(&self.key)).await
                    && theirs.access_valid_at(now, 0)
                {
                    return (self.adopt(&theirs, now), theirs.access_expires_at_ms, false);
                }
                tracing::warn!(
                    "token store changed under the refresh lock; using the new token from memory"
                );
            }
            Err(TokenError::Store(e)) => {
                tracing::warn!(error = %e, "new token could not be stored; using it from memory");
                *self
                    .last_store_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(e);
            }
            Err(e) => tracing::warn!(error = %e, "new token could not be stored"),
        }
        self.set_cached(&record, lifetime_ms);
        (record.access_token, record.access_expires_at_ms, false)
    }

    /// Refusal of a refresh-ahead once the day's reserve is reached.
    async fn check_reserve(&self, now: i64) -> Result<(), TokenError> {
        let day = self.day(now);
        let used = self
            .op(
                "read budget",
                self.store.budget_used(&self.key, BudgetKind::Refresh, day),
            )
            .await?;
        self.note_used(BudgetKind::Refresh, day, Some(used), 0);
        let limit = self.policy.refresh_daily_limit;
        if used.saturating_add(self.policy.refresh_reserve) >= limit {
            return Err(self.exhausted(BudgetKind::Refresh, used, limit, now));
        }
        Ok(())
    }

    /// Takes one unit of `kind`'s budget of today; returns the calls counted, this one
    /// included.
    async fn spend(&self, kind: BudgetKind, now: i64) -> Result<u32, TokenError> {
        let limit = match kind {
            BudgetKind::Obtain => self.policy.obtain_daily_limit,
            BudgetKind::Refresh => self.policy.refresh_daily_limit,
        };
        let day = self.day(now);
        self.restore_budget(kind, day).await?;
        match self
            .op(
                "take budget",
                self.store.take_budget(&self.key, kind, day, limit),
            )
            .await?
        {
            BudgetTake::Granted { used } => {
                self.note_used(kind, day, Some(used), 0);
                Ok(used)
            }
            BudgetTake::Exhausted { used } => Err(self.exhausted(kind, used, limit, now)),
        }
    }

    /// Keeps in memory what this instance knows of the store's count of `kind` on `day`:
    /// a count the store reported (`used`), or a change this instance made (`delta`).
    fn note_used(&self, kind: BudgetKind, day: i64, used: Option<u32>, delta: i32) {
        let mut known = self
            .known_used
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if known.0 != day {
            *known = (day, 0, 0);
        }
        let slot = match kind {
            BudgetKind::Obtain => &mut known.1,
            BudgetKind::Refresh => &mut known.2,
        };
        if let Some(used) = used {
            *slot = (*slot).max(used);
        }
        *slot = slot.saturating_add_signed(delta);
    }

    /// Puts back into the store the count of `kind` on `day` that this instance knows of,
    /// when the store counts fewer: a store that restarted empty (Redis without
    /// persistence) must not let the day's calls be made twice.
    async fn restore_budget(&self, kind: BudgetKind, day: i64) -> Result<(), TokenError> {
        let known = {
            let known = self
                .known_used
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            match (known.0 == day, kind) {
                (false, _) => 0,
                (true, BudgetKind::Obtain) => known.1,
                (true, BudgetKind::Refresh) => known.2,
            }
        };
        if known == 0 {
            return Ok(());
        }
        let stored = self
            .op("read budget", self.store.budget_used(&self.key, kind, day))
            .await?;
        if stored >= known {
            return Ok(());
        }
        tracing::warn!(
            %kind,
            stored,
            known,
            "the token store counts fewer of today's calls than were made (it lost its data?); putting the count back"
        );
        // Counted up one by one with `known` as the limit: each step counts only while
        // the store holds fewer, so instances restoring at once never count beyond the
        // largest count one of them knows. At most `known` steps (a day's limit: 1, 20).
        for _ in stored..known {
            if let BudgetTake::Exhausted { .. } = self
                .op(
                    "restore budget",
                    self.store.take_budget(&self.key, kind, day, known),
                )
                .await?
            {
                break;
            }
        }
        Ok(())
    }

    /// Takes one more unit of today's `kind` budget for the re-send of a token call in
    /// flight (after a clock correction): every call that reaches the platform is
    /// counted, the re-send too. An exhausted budget is the answer: no re-send.
    pub(crate) async fn take_resend_unit(&self, kind: BudgetKind) -> Result<(), TokenError> {
        self.spend(kind, self.clock.now_ms()).await?;
        let counter = match kind {
            BudgetKind::Obtain => &self.calls.obtain,
            BudgetKind::Refresh => &self.calls.refresh,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// The offset of the platform's clock from the local one that an instance sharing the
    /// store measured last (ms), if any. A failure is only logged: the `Date` header of
    /// the next reply measures it again.
    pub(crate) async fn stored_clock_offset(&self) -> Option<i64> {
        self.shared_note(CLOCK_OFFSET_NOTE)
            .await
            .and_then(|n| n.trim().parse().ok())
    }

    /// Keeps the measured offset of the platform's clock in the store, so that the next
    /// process (a restart, an `ump` command) sends its first token call with a timestamp
    /// the platform accepts: a refused token-issuing call cannot be re-sent the same day.
    pub(crate) async fn store_clock_offset(&self, offset_ms: i64) {
        self.keep_shared_note(CLOCK_OFFSET_NOTE, &offset_ms.to_string())
            .await;
    }

    /// A note about the platform that every instance sharing the store can use (the
    /// clock's offset, the verbs learnt): `None` when there is none or the store fails (a
    /// failure is only logged: what the note saves is learnt again from the platform).
    pub(crate) async fn shared_note(&self, name: &'static str) -> Option<String> {
        match self
            .op("read a note", self.store.load_note(&self.key, name))
            .await
        {
            Ok(note) => note,
            Err(e) => {
                tracing::debug!(error = %e, note = name, "could not read a note of the store");
                None
            }
        }
    }

    /// Writes a note about the platform (see [`TokenManager::shared_note`]); a failure is
    /// only logged.
    pub(crate) async fn keep_shared_note(&self, name: &'static str, value: &str) {
        if let Err(e) = self
            .op(
                "write a note",
                self.store.store_note(&self.key, name, Some(value)),
            )
            .await
        {
            tracing::debug!(error = %e, note = name, "could not keep a note in the store");
        }
    }

    /// Gives back the unit of a re-send that certainly never left.
    pub(crate) async fn give_back_unit(&self, kind: BudgetKind) {
        let day = self.day(self.clock.now_ms());
        match self
            .op(
                "give back budget",
                self.store.give_back_budget(&self.key, kind, day),
            )
            .await
        {
            Ok(()) => {
                let counter = match kind {
                    BudgetKind::Obtain => &self.calls.obtain,
                    BudgetKind::Refresh => &self.calls.refresh,
                };
                counter.fetch_sub(1, Ordering::Relaxed);
                self.note_used(kind, day, None, -1);
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not give back the budget of a re-send never sent")
            }
        }
    }

    /// How many calls of `kind` the store counts today (platform day).
    pub async fn budget_used_today(&self, kind: BudgetKind) -> Result<u32, TokenError> {
        let day = self.day(self.clock.now_ms());
        let used = self
            .op("read budget", self.store.budget_used(&self.key, kind, day))
            .await?;
        self.note_used(kind, day, Some(used), 0);
        Ok(used)
    }

    /// The token state of this manager's key, read from the store only: the record's
    /// expiries, both budgets of today, the pending-obtain marker and the last failed
    /// token call. Never makes a token call, never takes a budget unit, writes nothing.
    /// Any process sharing the store sees the same (an operator's command line beside
    /// the services).
    pub async fn status(&self) -> Result<TokenStatus, TokenError> {
        let now = self.clock.now_ms();
        let day = self.day(now);
        // The store's record as it is: no adoption of an earlier version's record.
        let record = self
            .op("load", self.store.load(&self.key))
            .await?
            .map(|r| RecordStatus {
                access_expires_at_ms: r.access_expires_at_ms,
                refresh_expires_at_ms: r.refresh_expires_at_ms,
                version: r.version,
                access_valid_now: r.access_valid_at(now, 0),
                refresh_valid_now: r.refresh_valid_at(now, REFRESH_TOKEN_MARGIN_MS),
            });
        let obtain = BudgetStatus {
            used: self
                .op(
                    "read budget",
                    self.store.budget_used(&self.key, BudgetKind::Obtain, day),
                )
                .await?,
            limit: self.policy.obtain_daily_limit,
        };
        let refresh = BudgetStatus {
            used: self
                .op(
                    "read budget",
                    self.store.budget_used(&self.key, BudgetKind::Refresh, day),
                )
                .await?,
            limit: self.policy.refresh_daily_limit,
        };
        let pending_obtain = self.pending_obtain(now).await?;
        let last_failure = self
            .op(
                "read last failure",
                self.store.load_note(&self.key, LAST_FAILURE_NOTE),
            )
            .await?
            .as_deref()
            .and_then(LastFailure::from_note);
        Ok(TokenStatus {
            key: self.key.clone(),
            record,
            obtain,
            refresh,
            platform_day: day,
            budget_resets_at: next_local_midnight(now, self.utc_offset_s).to_rfc3339(),
            pending_obtain,
            last_failure,
        })
    }

    /// The stored pending-obtain marker, judged at `now`.
    async fn pending_obtain(&self, now: i64) -> Result<Option<PendingObtain>, TokenError> {
        let note = self
            .op(
                "read marker",
                self.store.load_note(&self.key, PENDING_OBTAIN_NOTE),
            )
            .await?;
        Ok(note
            .as_deref()
            .and_then(ObtainMarker::from_note)
            .map(|m| PendingObtain {
                may_be_in_flight: m.may_be_in_flight(&self.me, now, self.call_deadline_ms),
                instance: m.instance,
                host: m.host,
                pid: m.pid,
                day: m.day,
                started_at_ms: m.started_at_ms,
            }))
    }

    /// Removes the pending-obtain marker, once an operator has verified that the process
    /// that wrote it is gone (it crashed mid-call, so the day's token-issuing call is
    /// spent and its tokens lost; the marker makes every instance report
    /// [`TokenError::ObtainLost`] until the platform's midnight).
    ///
    /// Without `force`, a marker whose call may still be in flight (a process of this host
    /// that still runs, or another host's call younger than the longest a token call can
    /// take) is left in place: [`ClearOutcome::MayBeInFlight`]. The marker is removed
    /// holding the store's refresh lock, so no instance writes a new one meanwhile; while
    /// another instance holds the lock this waits for it (up to the policy's
    /// `lock_wait`, then [`TokenError::LockWaitTimedOut`]). With `force`, the marker is
    /// removed whatever the judgement and whoever holds the lock.
    ///
    /// Removing the marker spends nothing and issues no token: it only stops the
    /// `ObtainLost` explanation, so the next instance that needs a token tries the
    /// token-issuing call (and, if today's is spent, reports the exhausted budget).
    pub async fn clear_pending_obtain(&self, force: bool) -> Result<ClearOutcome, TokenError> {
        let started = Instant::now();
        let mut locked = self
            .op(
                "lock",
                self.store
                    .try_lock(&self.key, &self.me.id, self.policy.lock_lease),
            )
            .await?;
        let outcome = loop {
            let pending = match self.pending_obtain(self.clock.now_ms()).await {
                Ok(Some(pending)) => pending,
                Ok(None) => break Ok(ClearOutcome::NothingPending),
                Err(e) => break Err(e),
            };
            if pending.may_be_in_flight && !force {
                break Ok(ClearOutcome::MayBeInFlight(pending));
            }
            if locked || force {
                break self
                    .op(
                        "clear marker",
                        self.store.store_note(&self.key, PENDING_OBTAIN_NOTE, None),
                    )
                    .await
                    .map(|()| ClearOutcome::Cleared(pending));
            }
            if started.elapsed() >= self.policy.lock_wait {
                break Err(TokenError::LockWaitTimedOut {
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(self.poll_pause(started)).await;
            match self
                .op(
                    "lock",
                    self.store
                        .try_lock(&self.key, &self.me.id, self.policy.lock_lease),
                )
                .await
            {
                Ok(taken) => locked = taken,
                Err(e) => break Err(e),
            }
        };
        if locked {
            self.release_lock().await;
        }
        outcome
    }

    /// Gives back one unit of today's token-issuing budget, for an operator who knows the
    /// day's token-issuing call issued nothing the platform still honours: it was refused
    /// (a wrong app secret, an unknown app id), or the platform forgot its tokens since (a
    /// sandbox reset, an app registered again).
    ///
    /// Why this is not automatic: the document limits the token-issuing call to once a
    /// day, and says nothing of whether a refused call counts against that limit. A
    /// refused call cannot have issued a token, but the platform may have counted it. So
    /// the manager keeps a refused call's unit spent (and shows the failure, its code
    /// and message, in [`TokenManager::status`]'s `last_failure`), and leaves it to a
    /// person to judge. The risk of giving it back: a second token-issuing call the same
    /// day, which the platform may refuse as over its limit (nothing is lost then, the
    /// service stays without a token until its midnight).
    ///
    /// Holds the store's refresh lock while it works, so no instance starts a token call
    /// meanwhile; a call that may still be in flight (its marker) is left alone
    /// ([`ForgetOutcome::MayBeInFlight`]). Removes the last-failure note of a failed
    /// token-issuing call and any stale pending marker. Makes no platform call.
    pub async fn forget_obtain(&self) -> Result<ForgetOutcome, TokenError> {
        let started = Instant::now();
        while !self
            .op(
                "lock",
                self.store
                    .try_lock(&self.key, &self.me.id, self.policy.lock_lease),
            )
            .await?
        {
            if started.elapsed() >= self.policy.lock_wait {
                return Err(TokenError::LockWaitTimedOut {
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(self.policy.poll_interval).await;
        }
        let outcome = self.forget_obtain_locked().await;
        self.release_lock().await;
        outcome
    }

    async fn forget_obtain_locked(&self) -> Result<ForgetOutcome, TokenError> {
        let now = self.clock.now_ms();
        let day = self.day(now);
        if let Some(marker) = self.pending_obtain(now).await?
            && marker.may_be_in_flight
        {
            return Ok(ForgetOutcome::MayBeInFlight { marker });
        }
        let used_before = self
            .op(
                "read budget",
                self.store.budget_used(&self.key, BudgetKind::Obtain, day),
            )
            .await?;
        if used_before == 0 {
            return Ok(ForgetOutcome::NothingSpent);
        }
        self.op(
            "give back budget",
            self.store
                .give_back_budget(&self.key, BudgetKind::Obtain, day),
        )
        .await?;
        // This instance's own memory of the count must not put it back.
        {
            let mut known = self
                .known_used
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if known.0 == day {
                known.1 = used_before.saturating_sub(1);
            }
        }
        self.op(
            "clear marker",
            self.store.store_note(&self.key, PENDING_OBTAIN_NOTE, None),
        )
        .await?;
        let failure = self
            .op(
                "read last failure",
                self.store.load_note(&self.key, LAST_FAILURE_NOTE),
            )
            .await?;
        if failure
            .as_deref()
            .and_then(LastFailure::from_note)
            .is_some_and(|f| f.kind == BudgetKind::Obtain || f.refresh_token_refused)
        {
            self.op(
                "clear last failure",
                self.store.store_note(&self.key, LAST_FAILURE_NOTE, None),
            )
            .await?;
        }
        // The operator says the platform forgot what it issued: its rejections say
        // nothing of an incident any more. (The refused refresh token's note stays: that
        // token is not sent again, the token-issuing call comes first.)
        self.op(
            "clear rejection note",
            self.store.store_note(&self.key, REJECTED_NOTE, None),
        )
        .await?;
        self.rejection_noted.store(false, Ordering::Release);
        *self
            .last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
        let used_now = self
            .op(
                "read budget",
                self.store.budget_used(&self.key, BudgetKind::Obtain, day),
            )
            .await?;
        tracing::warn!(
            used_before,
            used_now,
            "an operator gave back a unit of today's token-issuing budget"
        );
        Ok(ForgetOutcome::GaveBack {
            used_before,
            used_now,
        })
    }

    /// An operator-requested refresh of the access token: one refresh call, made exactly
    /// as the manager's own refreshes are (the process's gate and the store's refresh
    /// lock, one unit of the day's refresh budget taken in the store first and given back
    /// if the call certainly never left, the new record written to the store, the
    /// cool-down after a failed token call), whatever the validity of the token held.
    ///
    /// It never makes the token-issuing call: without a usable refresh token it fails
    /// with [`TokenError::NotConfigured`], and a refused refresh token is
    /// [`TokenError::CredentialRejected`]. An exhausted budget is
    /// [`TokenError::BudgetExhausted`]. The refresh-ahead reserve does not apply: the
    /// operator asked for this refresh.
    pub async fn refresh_now(
        &self,
        issuer: &impl TokenIssuer,
    ) -> Result<RefreshOutcome, TokenError> {
        let fresh = self.fresh(issuer, Need::Operator).await?;
        let refresh_used_today = match fresh.refresh_used {
            Some(used) => used,
            // Every success of an operator's refresh made a refresh call; should one not
            // have, the store's count is the answer.
            None => self.budget_used_today(BudgetKind::Refresh).await?,
        };
        Ok(RefreshOutcome {
            access_expires_at_ms: fresh.access_expires_at_ms,
            refresh_used_today,
            refresh_limit: self.policy.refresh_daily_limit,
        })
    }

    /// The access token a call would carry now without any token call: the one held in
    /// memory or stored, if it is valid beyond the expiry margin; `None` otherwise. Reads
    /// the store, writes nothing (for dry runs).
    pub(crate) async fn usable_token(&self) -> Result<Option<Secret>, TokenError> {
        let now = self.clock.now_ms();
        if let Some(cached) = self
            .cached()
            .filter(|c| self.satisfies(&c.record, Need::Expired, now))
        {
            return Ok(Some(cached.record.access_token));
        }
        Ok(self
            .op("load", self.store.load(&self.key))
            .await?
            .filter(|r| self.satisfies(r, Need::Expired, now))
            .map(|r| r.access_token))
    }

    fn exhausted(&self, kind: BudgetKind, used: u32, limit: u32, now: i64) -> TokenError {
        TokenError::BudgetExhausted {
            kind,
            used,
            limit,
            resets_at: next_local_midnight(now, self.utc_offset_s).to_rfc3339(),
        }
    }
}
