//! The drainer: claims due entries, sends or probes them through the API's dispatcher,
//! and writes what the settle rules make of the answers. Any number of drainers, in one
//! process or several, may work on one store: the claims and fences keep them apart.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::entry::{Entry, EntryState, Settlement, Update};
use super::settle::{
    AttemptAnswer, Before, ProbeAnswer, SettlePolicy, after_attempt, after_probe, before_attempt,
};
use super::store::{JournalError, JournalErrorKind, JournalStore};
use crate::clock::Clock;
use crate::endpoint::JournalInfo;

/// A boxed future of the dispatcher.
pub type DispatchFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the journal needs of an API's SDK: the journal facts of a method, and sending
/// or probing a stored request.
pub trait Dispatch: Send + Sync {
    /// The spec's journal facts of `method`, if this SDK journals it.
    fn journal_info(&self, method: &str) -> Option<JournalInfo>;

    /// Sends the entry's request once (no retries of its own), within `timeout`.
    fn send<'a>(&'a self, entry: &'a Entry, timeout: Duration)
    -> DispatchFuture<'a, AttemptAnswer>;

    /// Finds whether the entry's write is in effect (for `Settle::Probe`), within
    /// `timeout`.
    fn probe<'a>(&'a self, entry: &'a Entry, timeout: Duration) -> DispatchFuture<'a, ProbeAnswer>;
}

/// How a drainer works.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DrainPolicy {
    /// The settle rules' timings.
    pub settle: SettlePolicy,
    /// How long a claim holds an entry: longer than an attempt and a probe take. A
    /// drainer killed mid-attempt delays its entries by at most this. Default 60 s.
    pub lease: Duration,
    /// The longest one attempt (or probe) may take; kept below the lease. Default 20 s.
    pub call_timeout: Duration,
    /// How many entries one drainer works on at once (each of a different member or
    /// order). Default 8.
    pub concurrency: usize,
    /// How often an idle drainer looks for work other processes submitted. Default 1 s.
    pub idle_poll: Duration,
}

impl Default for DrainPolicy {
    fn default() -> Self {
        DrainPolicy {
            settle: SettlePolicy::default(),
            lease: Duration::from_secs(60),
            call_timeout: Duration::from_secs(20),
            concurrency: 8,
            idle_poll: Duration::from_secs(1),
        }
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A drainer of one store through one dispatcher.
pub struct Drainer {
    store: Arc<dyn JournalStore>,
    dispatch: Arc<dyn Dispatch>,
    clock: Arc<dyn Clock>,
    policy: DrainPolicy,
    work: Arc<Notify>,
    settled: Arc<Notify>,
}

impl std::fmt::Debug for Drainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drainer")
            .field("store", &self.store)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// What one pass of a drainer did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Entries claimed.
    pub claimed: usize,
    /// Of them, settled for good (applied or refused).
    pub settled: usize,
    /// Of them, left for an operator.
    pub attention: usize,
}

impl Drainer {
    /// A drainer of `store` that sends through `dispatch`.
    pub fn new(
        store: Arc<dyn JournalStore>,
        dispatch: Arc<dyn Dispatch>,
        clock: Arc<dyn Clock>,
        policy: DrainPolicy,
    ) -> Self {
        Drainer {
            store,
            dispatch,
            clock,
            policy,
            work: Arc::new(Notify::new()),
            settled: Arc::new(Notify::new()),
        }
    }

    /// Notify it on a submission: a sleeping drainer wakes to work at once.
    pub fn work(&self) -> &Notify {
        &self.work
    }

    /// Notified after every pass that settled something: what receipts waiting in this
    /// process wait on.
    pub fn settled(&self) -> &Notify {
        &self.settled
    }

    /// One pass: claims what is due (up to the concurrency), works on each at once, and
    /// returns what it did. A store failure is returned; what was claimed stays claimed
    /// until its lease runs out.
    pub async fn pass(&self) -> Result<Pass, JournalError> {
        let now = self.clock.now_ms();
        let claimed = self
            .store
            .claim(now, ms(self.policy.lease), self.policy.concurrency.max(1))
            .await?;
        let mut pass = Pass {
            claimed: claimed.len(),
            ..Pass::default()
        };
        let results =
            futures_util::future::join_all(claimed.into_iter().map(|e| self.work_on(e))).await;
        for result in results {
            match result {
                Ok(state) if state.is_final() => pass.settled += 1,
                Ok(EntryState::Attention) => pass.attention += 1,
                Ok(_) => {}
                // Another holder took it: its outcome is theirs to write.
                Err(e) if e.kind() == JournalErrorKind::Fenced => {}
                Err(e) => return Err(e),
            }
        }
        if pass.claimed > 0 {
            self.settled.notify_waiters();
        }
        Ok(pass)
    }

    /// Works until `stop` completes: passes while there is work, and between them sleeps
    /// until the next entry is due, a submission wakes it, or `idle_poll` passes (other
    /// processes submit too). A store failure is logged and retried after `idle_poll`.
    pub async fn run(&self, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            let wake = self.work.notified();
            tokio::pin!(wake);
            wake.as_mut().enable();
            let pause = match self.pass().await {
                Ok(pass) if pass.claimed > 0 => Duration::ZERO,
                Ok(_) => self.idle_pause().await,
                Err(e) => {
                    tracing::warn!(error = %e, "journal store failed; trying again");
                    self.policy.idle_poll
                }
            };
            if pause.is_zero() {
                let next = Box::pin(tokio::task::yield_now());
                if let futures_util::future::Either::Left(_) =
                    futures_util::future::select(stop.as_mut(), next).await
                {
                    return;
                }
                continue;
            }
            let idle = futures_util::future::select(wake, Box::pin(tokio::time::sleep(pause)));
            if let futures_util::future::Either::Left(_) =
                futures_util::future::select(stop.as_mut(), idle).await
            {
                return;
            }
        }
    }

    /// Until the next entry is due, at most `idle_poll`.
    async fn idle_pause(&self) -> Duration {
        let now = self.clock.now_ms();
        let due = self.store.next_due().await.ok().flatten();
        let until_due = due.map_or(self.policy.idle_poll, |t| {
            Duration::from_millis(u64::try_from(t.saturating_sub(now)).unwrap_or(0))
        });
        // A due entry that could not be claimed waits for an earlier one: poll.
        if until_due.is_zero() {
            return self.policy.idle_poll.min(Duration::from_millis(100));
        }
        until_due.min(self.policy.idle_poll)
    }

    /// One claimed entry: probe if its settle path says so, attempt, write the outcome.
    /// Returns the state it was left in.
    async fn work_on(&self, entry: Entry) -> Result<EntryState, JournalError> {
        let fence = entry.fence;
        let id = entry.id;
        let write = |settlement: Settlement| async move {
            let now = self.clock.now_ms();
            log_settlement(&entry_ref(id), &settlement);
            self.store
                .update(id, fence, Update::Settle(settlement), now)
                .await
                .map(|e| e.state)
        };
        let Some(info) = self.dispatch.journal_info(&entry.method) else {
            return write(Settlement::Attention {
                error: format!(
                    "{} is not a write this SDK journals (a newer SDK recorded it?)",
                    entry.method
                ),
            })
            .await;
        };
        let call_timeout = self
            .policy
            .call_timeout
            .min(self.policy.lease.saturating_sub(Duration::from_secs(1)))
            .max(Duration::from_millis(100));
        let mut landed_before = entry.landing_possible;
        match before_attempt(
            &entry,
            info.settle,
            &self.policy.settle,
            self.clock.now_ms(),
        ) {
            Before::Send => {}
            Before::WaitUntil(t) => {
                return write(Settlement::Retry {
                    next_attempt_ms: t,
                    landing_possible: true,
                    confirming_refusal: entry.confirming_refusal,
                    error: entry.last_error.clone().unwrap_or_else(|| {
                        "waiting until an earlier attempt cannot land, to probe".into()
                    }),
                })
                .await;
            }
            Before::Attention(error) => return write(Settlement::Attention { error }).await,
            Before::Probe => {
                let answer = self.dispatch.probe(&entry, call_timeout).await;
                match after_probe(&entry, answer, &self.policy.settle, self.clock.now_ms()) {
                    Some(settlement) => return write(settlement).await,
                    None => landed_before = false,
                }
            }
        }
        let now = self.clock.now_ms();
        let begun = self
            .store
            .update(id, fence, Update::AttemptBegins, now)
            .await?;
        let answer = self.dispatch.send(&begun, call_timeout).await;
        let settlement = after_attempt(
            &entry,
            landed_before,
            info.settle,
            answer,
            &self.policy.settle,
            self.clock.now_ms(),
        );
        write(settlement).await
    }
}

/// An entry's id for logs: never its body (personal data).
fn entry_ref(id: i64) -> String {
    format!("#{id}")
}

fn log_settlement(entry: &str, settlement: &Settlement) {
    match settlement {
        Settlement::Applied { .. } => tracing::info!(entry, "journal entry applied"),
        Settlement::Refused { .. } => tracing::info!(entry, "journal entry refused"),
        Settlement::Retry {
            next_attempt_ms,
            error,
            ..
        } => {
            tracing::info!(entry, next_attempt_ms, error = %error, "journal entry not settled yet")
        }
        Settlement::Attention { error } => {
            tracing::warn!(entry, error = %error, "journal entry needs an operator");
        }
    }
}
