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
    /// How many passes one drainer keeps under way at once (each of up to `concurrency`
    /// entries): while one waits for its commits, another's calls are out. Default 2.
    pub pipeline: usize,
}

impl Default for DrainPolicy {
    fn default() -> Self {
        DrainPolicy {
            settle: SettlePolicy::default(),
            lease: Duration::from_secs(60),
            call_timeout: Duration::from_secs(20),
            concurrency: 8,
            idle_poll: Duration::from_secs(1),
            pipeline: 2,
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

    /// One pass: claims what is due (up to the concurrency), decides each entry (probing
    /// those whose settle path says so), records the attempts about to be sent in one
    /// commit, sends them at once, and records their outcomes in one commit. A store
    /// failure is returned; what was claimed stays claimed until its lease runs out.
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
        if claimed.is_empty() {
            return Ok(pass);
        }
        let decided =
            futures_util::future::join_all(claimed.into_iter().map(|e| self.decide(e))).await;
        let mut outcomes: Vec<(i64, u64, Update)> = Vec::new();
        let mut to_send = Vec::new();
        for step in decided {
            match step {
                Step::Settle(entry, settlement) => {
                    log_settlement(entry.id, &settlement);
                    outcomes.push((entry.id, entry.fence, Update::Settle(settlement)));
                }
                Step::Send(entry, settle, landed_before) => {
                    to_send.push((entry, settle, landed_before))
                }
            }
        }
        // Every attempt is recorded before it leaves: one commit for all of them.
        let begins = to_send
            .iter()
            .map(|(e, _, _)| (e.id, e.fence, Update::AttemptBegins))
            .collect();
        let begun = self.store.update_many(begins, self.clock.now_ms()).await?;
        let sends = to_send
            .into_iter()
            .zip(begun)
            .filter_map(|(send, begun)| begun.ok().map(|b| (send, b)))
            .map(|((entry, settle, landed_before), begun)| async move {
                let answer = self.dispatch.send(&begun, self.call_timeout()).await;
                let settlement = after_attempt(
                    &entry,
                    landed_before,
                    settle,
                    answer,
                    &self.policy.settle,
                    self.clock.now_ms(),
                );
                log_settlement(entry.id, &settlement);
                (entry.id, entry.fence, Update::Settle(settlement))
            });
        outcomes.extend(futures_util::future::join_all(sends).await);
        let written = self
            .store
            .update_many(outcomes, self.clock.now_ms())
            .await?;
        for result in written {
            match result {
                Ok(entry) if entry.state.is_final() => pass.settled += 1,
                Ok(entry) if entry.state == EntryState::Attention => pass.attention += 1,
                Ok(_) => {}
                // Another holder took it: its outcome is theirs to write.
                Err(e) if e.kind() == JournalErrorKind::Fenced => {}
                Err(e) => return Err(e),
            }
        }
        self.settled.notify_waiters();
        // What this pass settled may free later writes to the same members and orders:
        // the other loops of this drainer look at once rather than at their next poll.
        self.work.notify_waiters();
        Ok(pass)
    }

    /// The longest one attempt or probe may take: below the lease.
    fn call_timeout(&self) -> Duration {
        self.policy
            .call_timeout
            .min(self.policy.lease.saturating_sub(Duration::from_secs(1)))
            .max(Duration::from_millis(100))
    }

    /// Works until `stop` completes: [`DrainPolicy::pipeline`] loops of passes, each
    /// passing while there is work and otherwise sleeping until the next entry is due, a
    /// submission wakes it, or `idle_poll` passes (other processes submit too). Several
    /// loops overlap one pass's commits with another's sends. A store failure is logged
    /// and retried after `idle_poll`.
    pub async fn run(&self, stop: impl Future<Output = ()>) {
        let loops = (0..self.policy.pipeline.max(1)).map(|_| Box::pin(self.run_loop()));
        let all = futures_util::future::join_all(loops);
        futures_util::future::select(Box::pin(stop), all).await;
    }

    /// One loop of [`Drainer::run`]; never ends by itself.
    async fn run_loop(&self) {
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
                tokio::task::yield_now().await;
                continue;
            }
            futures_util::future::select(wake, Box::pin(tokio::time::sleep(pause))).await;
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

    /// What to do with one claimed entry: settle it now (it waits, needs an operator,
    /// or a probe settled it), or send it (with whether an earlier attempt may land).
    async fn decide(&self, entry: Entry) -> Step {
        let Some(info) = self.dispatch.journal_info(&entry.method) else {
            let error = format!(
                "{} is not a write this SDK journals (a newer SDK recorded it?)",
                entry.method
            );
            return Step::Settle(entry, Settlement::Attention { error });
        };
        let landed_before = entry.landing_possible;
        match before_attempt(
            &entry,
            info.settle,
            &self.policy.settle,
            self.clock.now_ms(),
        ) {
            Before::Send => Step::Send(entry, info.settle, landed_before),
            Before::WaitUntil(t) => {
                let settlement = Settlement::Retry {
                    next_attempt_ms: t,
                    landing_possible: true,
                    confirming_refusal: entry.confirming_refusal,
                    error: entry.last_error.clone().unwrap_or_else(|| {
                        "waiting until an earlier attempt cannot land, to probe".into()
                    }),
                };
                Step::Settle(entry, settlement)
            }
            Before::Attention(error) => Step::Settle(entry, Settlement::Attention { error }),
            Before::Probe => {
                let answer = self.dispatch.probe(&entry, self.call_timeout()).await;
                match after_probe(&entry, answer, &self.policy.settle, self.clock.now_ms()) {
                    Some(settlement) => Step::Settle(entry, settlement),
                    // Not in effect, and no earlier attempt can land any more: send.
                    None => Step::Send(entry, info.settle, false),
                }
            }
        }
    }
}

/// [`Drainer::decide`]'s verdict on one entry.
enum Step {
    Settle(Entry, Settlement),
    Send(Entry, crate::endpoint::Settle, bool),
}

/// Logs an entry's settlement by its number: never its body (personal data).
fn log_settlement(id: i64, settlement: &Settlement) {
    let entry = format!("#{id}");
    let entry = entry.as_str();
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
