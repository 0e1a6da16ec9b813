//! The token manager: one valid access token for any number of concurrent callers, in
//! one process or many, within the platform's daily budgets.
//!
//! The path to a token, cheapest first:
//! 1. the copy in memory, if valid beyond the refresh-ahead window (a read lock);
//! 2. otherwise one task per process (an async mutex) goes on, the others wait for it;
//! 3. the store, which another process may have refreshed already;
//! 4. the store's refresh lock (a lease): the holder re-reads the store, then calls the
//!    platform; the others poll the store until a new token appears or a deadline passes;
//! 5. the day's budget is counted in the store before the platform is called, so no
//!    instance can exceed it, and an exhausted budget is an error naming the reset time.
//!
//! ## Refresh-ahead and the budget of 20 refreshes a day
//! An access token lives 7,200 s. Refreshing `ahead` seconds early costs
//! `86_400 / (7_200 − ahead)` refreshes a day: 12.5 with the default 300 s, so 13 of the 20
//! allowed, leaving 7 for recovery (invalid-token answers, restarts with a lost token).
//! Refresh-ahead is skipped once fewer than `refresh_reserve` (default 5) refreshes remain
//! that day: the token is then used until it expires, and the reserve is kept for tokens
//! that really are expired or rejected. Tokens are treated as expired `expiry_margin`
//! (default 30 s) early, for the call's own latency and the clock's uncertainty.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use super::{BudgetKind, BudgetTake, Secret, StoreError, TokenRecord, TokenStore};
use crate::clock::{Clock, beijing_day, next_beijing_midnight};
use crate::error::TokenError;

/// What the token calls return.
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub access_token: Secret,
    pub access_expires_at_ms: i64,
    /// Present on the obtain call; the refresh call may omit it (the old one stays valid).
    pub refresh: Option<(Secret, i64)>,
}

/// The platform calls the manager makes. Implemented by the client.
pub trait TokenIssuer: Send + Sync {
    /// Issues a new access and refresh token (UMP 2.1).
    fn obtain(&self) -> impl Future<Output = Result<TokenGrant, TokenError>> + Send;
    /// Issues a new access token for `refresh_token` (UMP 2.2).
    fn refresh(
        &self,
        refresh_token: &Secret,
    ) -> impl Future<Output = Result<TokenGrant, TokenError>> + Send;
}

/// How the manager spends its budgets and waits for other instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenPolicy {
    /// Refresh this long before the access token expires (see the module docs).
    pub refresh_ahead: Duration,
    /// Treat tokens as expired this long before their stated expiry.
    pub expiry_margin: Duration,
    /// Skip refresh-ahead once fewer refreshes than this remain in the day.
    pub refresh_reserve: u32,
    /// The lease of the cross-process refresh lock; longer than a token call can take.
    pub lock_lease: Duration,
    /// How long an instance waits for another one's refresh before giving up.
    pub lock_wait: Duration,
    /// How often a waiting instance re-reads the store.
    pub poll_interval: Duration,
    /// The daily limits of the obtain and refresh calls (the document: 1 and 20).
    pub obtain_daily_limit: u32,
    pub refresh_daily_limit: u32,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        TokenPolicy {
            refresh_ahead: Duration::from_secs(300),
            expiry_margin: Duration::from_secs(30),
            refresh_reserve: 5,
            lock_lease: Duration::from_secs(30),
            lock_wait: Duration::from_secs(40),
            poll_interval: Duration::from_millis(100),
            obtain_daily_limit: 1,
            refresh_daily_limit: 20,
        }
    }
}

/// Keeps the access token of one app.
pub struct TokenManager {
    store: Arc<dyn TokenStore>,
    key: String,
    owner: String,
    policy: TokenPolicy,
    clock: Arc<dyn Clock>,
    cached: RwLock<Option<TokenRecord>>,
    gate: tokio::sync::Mutex<()>,
    last_store_error: Mutex<Option<StoreError>>,
    /// The last failed token call, when, and how many failed in a row: see
    /// [`TokenManager::cooling_down`].
    last_failure: Mutex<Option<Failure>>,
    calls: CallCounters,
}

#[derive(Debug, Clone)]
struct Failure {
    at: tokio::time::Instant,
    error: TokenError,
    in_a_row: u32,
}

/// The pause after the first failed token call; it doubles with each further failure.
const FAILURE_BACKOFF: Duration = Duration::from_secs(5);
/// The longest pause between token calls after failures.
const MAX_FAILURE_BACKOFF: Duration = Duration::from_secs(300);

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
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

static INSTANCE: AtomicU64 = AtomicU64::new(0);

/// A lock owner id unique to this manager: process id, start time, instance number.
fn owner_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "{}-{:x}-{}",
        std::process::id(),
        nanos,
        INSTANCE.fetch_add(1, Ordering::Relaxed)
    )
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
}

impl TokenManager {
    pub fn new(
        store: Arc<dyn TokenStore>,
        key: impl Into<String>,
        policy: TokenPolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        TokenManager {
            store,
            key: key.into(),
            owner: owner_id(),
            policy,
            clock,
            cached: RwLock::new(None),
            gate: tokio::sync::Mutex::new(()),
            last_store_error: Mutex::new(None),
            last_failure: Mutex::new(None),
            calls: CallCounters::default(),
        }
    }

    pub fn policy(&self) -> &TokenPolicy {
        &self.policy
    }

    /// The number of obtain and refresh calls this manager made.
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

    fn margin_ms(d: Duration) -> i64 {
        i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
    }

    fn cached(&self) -> Option<TokenRecord> {
        self.cached
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_cached(&self, record: &TokenRecord) {
        let mut slot = self.cached.write().unwrap_or_else(PoisonError::into_inner);
        // Never step back to an older record than the one held.
        if slot.as_ref().is_none_or(|r| r.version <= record.version) {
            *slot = Some(record.clone());
        }
    }

    /// A valid access token, refreshing it if needed.
    pub async fn access_token(&self, issuer: &impl TokenIssuer) -> Result<Secret, TokenError> {
        let now = self.clock.now_ms();
        let margin = Self::margin_ms(self.policy.expiry_margin);
        let ahead = margin + Self::margin_ms(self.policy.refresh_ahead);
        if let Some(record) = self.cached() {
            if record.access_valid_at(now, ahead) {
                return Ok(record.access_token);
            }
            if record.access_valid_at(now, margin) {
                // Within the refresh-ahead window the current token still works: while
                // another task is refreshing, use it instead of queueing behind it.
                if self.gate.try_lock().is_err() {
                    return Ok(record.access_token);
                }
                // Try for a new one; a failure only means using the current one a little
                // longer.
                return match self.fresh(issuer, Need::Ahead).await {
                    Ok(token) => Ok(token),
                    Err(e) => {
                        tracing::debug!(error = %e, "refresh ahead of expiry did not happen");
                        Ok(record.access_token)
                    }
                };
            }
        }
        self.fresh(issuer, Need::Expired).await
    }

    /// A new access token after the platform rejected `failed`. If the token held now is
    /// already another one (someone refreshed meanwhile), that one is returned and no
    /// call is made. Callers retry once with the result, never more.
    pub async fn after_rejection(
        &self,
        issuer: &impl TokenIssuer,
        failed: &Secret,
    ) -> Result<Secret, TokenError> {
        self.fresh(issuer, Need::Rejected(failed)).await
    }

    /// Counts a token call the user sends by hand against the day's budget.
    pub async fn spend_for_manual_call(&self, kind: BudgetKind) -> Result<(), TokenError> {
        self.spend(kind, self.clock.now_ms()).await
    }

    /// The refresh token held (in memory or in the store), for a refresh sent by hand.
    pub async fn refresh_token(&self) -> Result<Secret, TokenError> {
        if let Some(record) = self.cached() {
            return Ok(record.refresh_token);
        }
        match self.store.load(&self.key).await? {
            Some(record) => Ok(record.refresh_token),
            None => Err(TokenError::NotConfigured(
                "no refresh token yet: the token-issuing call has not been made",
            )),
        }
    }

    /// Whether `record` satisfies `need` at `now`.
    fn satisfies(&self, record: &TokenRecord, need: Need<'_>, now: i64) -> bool {
        let margin = Self::margin_ms(self.policy.expiry_margin);
        match need {
            Need::Ahead => {
                record.access_valid_at(now, margin + Self::margin_ms(self.policy.refresh_ahead))
            }
            Need::Expired => record.access_valid_at(now, margin),
            Need::Rejected(failed) => {
                record.access_token != *failed && record.access_valid_at(now, margin)
            }
        }
    }

    async fn fresh(&self, issuer: &impl TokenIssuer, need: Need<'_>) -> Result<Secret, TokenError> {
        // One task per process goes on; the others find its result in the cache, or its
        // failure: a caller that waited while the token call failed gets that failure
        // instead of calling again (an outage must not spend the day's budget).
        let waiting_since = tokio::time::Instant::now();
        let _gate = self.gate.lock().await;
        if let Some(failure) = self.failure_since(waiting_since) {
            return Err(failure);
        }
        let now = self.clock.now_ms();
        if let Some(record) = self.cached().filter(|r| self.satisfies(r, need, now)) {
            return Ok(record.access_token);
        }
        let stored = self.store.load(&self.key).await?;
        if let Some(record) = stored.as_ref().filter(|r| self.satisfies(r, need, now)) {
            self.set_cached(record);
            return Ok(record.access_token.clone());
        }
        if !self.lock_or_wait(need).await? {
            // Another instance refreshed while we waited.
            let record = self.store.load(&self.key).await?.ok_or_else(|| {
                TokenError::Store(StoreError::backend("the token record vanished"))
            })?;
            self.set_cached(&record);
            return Ok(record.access_token);
        }
        let result = match self.cooling_down() {
            Some(e) => Err(e),
            None => self.refresh_locked(issuer, need).await,
        };
        self.note_outcome(&result);
        if let Err(e) = self.store.unlock(&self.key, &self.owner).await {
            // The lease runs out by itself; a failed unlock only delays the next refresh.
            tracing::warn!(error = %e, "could not release the token refresh lock");
        }
        result
    }

    /// The failure of a token call made after `since`, if the last call failed.
    fn failure_since(&self, since: tokio::time::Instant) -> Option<TokenError> {
        let last = self
            .last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        last.as_ref()
            .filter(|f| f.at >= since)
            .map(|f| f.error.clone())
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
        let pause = FAILURE_BACKOFF
            .saturating_mul(1 << failure.in_a_row.saturating_sub(1).min(10))
            .min(MAX_FAILURE_BACKOFF);
        let elapsed = failure.at.elapsed();
        (elapsed < pause).then(|| TokenError::CoolingDown {
            retry_after: pause - elapsed,
            last: Box::new(failure.error.clone()),
        })
    }

    fn note_outcome(&self, result: &Result<Secret, TokenError>) {
        let mut last = self
            .last_failure
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match result {
            Ok(_) => *last = None,
            // Only failed platform calls are remembered: budget, store and lock errors
            // spent nothing at the platform and may differ from caller to caller.
            Err(
                TokenError::CoolingDown { .. }
                | TokenError::BudgetExhausted { .. }
                | TokenError::Store(_)
                | TokenError::LockWaitTimedOut { .. }
                | TokenError::NotConfigured(_),
            ) => {}
            Err(error) => {
                let in_a_row = last.as_ref().map_or(0, |f| f.in_a_row) + 1;
                *last = Some(Failure {
                    at: tokio::time::Instant::now(),
                    error: error.clone(),
                    in_a_row,
                });
            }
        }
    }

    /// Takes the store's refresh lock (`Ok(true)`), or waits until another instance's
    /// refresh put a satisfying record in the store (`Ok(false)`).
    async fn lock_or_wait(&self, need: Need<'_>) -> Result<bool, TokenError> {
        let started = tokio::time::Instant::now();
        loop {
            if self
                .store
                .try_lock(&self.key, &self.owner, self.policy.lock_lease)
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
            tokio::time::sleep(self.policy.poll_interval).await;
            let now = self.clock.now_ms();
            if let Some(record) = self.store.load(&self.key).await?
                && self.satisfies(&record, need, now)
            {
                return Ok(false);
            }
        }
    }

    /// Holding the lock: re-read the store, then obtain or refresh within budget.
    async fn refresh_locked(
        &self,
        issuer: &impl TokenIssuer,
        need: Need<'_>,
    ) -> Result<Secret, TokenError> {
        let now = self.clock.now_ms();
        let stored = self.store.load(&self.key).await?;
        if let Some(record) = stored.as_ref().filter(|r| self.satisfies(r, need, now)) {
            self.set_cached(record);
            return Ok(record.access_token.clone());
        }
        let refreshable = stored.as_ref().filter(|r| r.refresh_valid_at(now, 60_000));
        let grant = match refreshable {
            Some(record) => {
                if matches!(need, Need::Ahead) {
                    self.check_reserve(now).await?;
                }
                self.spend(BudgetKind::Refresh, now).await?;
                self.calls.refresh.fetch_add(1, Ordering::Relaxed);
                match issuer.refresh(&record.refresh_token).await {
                    Ok(grant) => grant,
                    // The platform refused the refresh token itself (revoked, replaced
                    // elsewhere): only a new pair helps. A busy answer (500) or a transport
                    // failure is not a refusal and does not spend the day's obtain call.
                    Err(TokenError::CredentialRejected { code, .. }) => {
                        tracing::warn!(code, "refresh token refused; obtaining a new token pair");
                        self.spend(BudgetKind::Obtain, now).await?;
                        self.calls.obtain.fetch_add(1, Ordering::Relaxed);
                        issuer.obtain().await?
                    }
                    Err(e) => return Err(e),
                }
            }
            None => {
                self.spend(BudgetKind::Obtain, now).await?;
                self.calls.obtain.fetch_add(1, Ordering::Relaxed);
                issuer.obtain().await?
            }
        };
        let previous = stored.as_ref();
        let (refresh_token, refresh_expires_at_ms) = match (grant.refresh, previous) {
            (Some(refresh), _) => refresh,
            (None, Some(p)) => (p.refresh_token.clone(), p.refresh_expires_at_ms),
            (None, None) => {
                return Err(TokenError::CallFailed {
                    kind: BudgetKind::Obtain,
                    code: None,
                    reason: "the reply carries no refresh token".into(),
                });
            }
        };
        let record = TokenRecord {
            access_token: grant.access_token,
            access_expires_at_ms: grant.access_expires_at_ms,
            refresh_token,
            refresh_expires_at_ms,
            version: previous.map_or(1, |p| p.version + 1),
        };
        self.persist(previous.map(|p| p.version), record).await
    }

    /// Writes the new record; a failed write keeps it in memory and is reported.
    async fn persist(
        &self,
        expected: Option<u64>,
        record: TokenRecord,
    ) -> Result<Secret, TokenError> {
        match self
            .store
            .compare_and_set(&self.key, expected, &record)
            .await
        {
            Ok(true) => {
                *self
                    .last_store_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = None;
            }
            Ok(false) => {
                // Someone wrote while we held the lock (our lease ran out): theirs is at
                // least as new. Use it if it is valid, else ours from memory.
                if let Ok(Some(theirs)) = self.store.load(&self.key).await
                    && theirs.access_valid_at(self.clock.now_ms(), 0)
                {
                    self.set_cached(&theirs);
                    return Ok(theirs.access_token);
                }
                tracing::warn!(
                    "token store changed under the refresh lock; using the new token from memory"
                );
            }
            Err(e) => {
                tracing::warn!(error = %e, "new token could not be stored; using it from memory");
                *self
                    .last_store_error
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(e);
            }
        }
        self.set_cached(&record);
        Ok(record.access_token)
    }

    /// Refusal of a refresh-ahead once the day's reserve is reached.
    async fn check_reserve(&self, now: i64) -> Result<(), TokenError> {
        let day = beijing_day(now);
        let used = self
            .store
            .budget_used(&self.key, BudgetKind::Refresh, day)
            .await?;
        let limit = self.policy.refresh_daily_limit;
        if used + self.policy.refresh_reserve >= limit {
            return Err(self.exhausted(BudgetKind::Refresh, used, limit, now));
        }
        Ok(())
    }

    async fn spend(&self, kind: BudgetKind, now: i64) -> Result<(), TokenError> {
        let limit = match kind {
            BudgetKind::Obtain => self.policy.obtain_daily_limit,
            BudgetKind::Refresh => self.policy.refresh_daily_limit,
        };
        match self
            .store
            .take_budget(&self.key, kind, beijing_day(now), limit)
            .await?
        {
            BudgetTake::Granted { .. } => Ok(()),
            BudgetTake::Exhausted { used } => Err(self.exhausted(kind, used, limit, now)),
        }
    }

    fn exhausted(&self, kind: BudgetKind, used: u32, limit: u32, now: i64) -> TokenError {
        TokenError::BudgetExhausted {
            kind,
            used,
            limit,
            resets_at: next_beijing_midnight(now).to_rfc3339(),
        }
    }
}
