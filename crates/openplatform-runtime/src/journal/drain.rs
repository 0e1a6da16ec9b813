//! The drainer: claims due entries, sends or probes them through the API's dispatcher,
//! and writes what the settle rules make of the answers. Any number of drainers, in one
//! process or several, may work on one store: the claims and fences keep them apart.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::Either;
use futures_util::stream::FuturesUnordered;
use tokio::sync::Notify;

use super::entry::{Entry, EntryState, Settlement, Update};
use super::settle::{
    AttemptAnswer, Before, ProbeAnswer, SettlePolicy, after_attempt, after_probe, before_attempt,
};
use super::store::{Claimed, JournalError, JournalErrorKind, JournalStore, UpdatedAndClaimed};
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
    /// No longer used: [`Drainer::run`] keeps `concurrency` entries under way
    /// continuously, writing outcomes and claiming more while calls are out. Kept so
    /// that code setting it still builds.
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

    /// One pass: claims what is due (up to the concurrency), recording in the same
    /// commit the attempts of the entries no earlier attempt can have reached; settles
    /// each claimed entry at once (deciding the others, probing those whose settle path
    /// says so, recording their attempts before they leave), and records the outcomes
    /// in one commit. A store failure is returned; what it left claimed stays claimed
    /// until its lease runs out.
    pub async fn pass(&self) -> Result<Pass, JournalError> {
        let now = self.clock.now_ms();
        let limit = self.policy.concurrency.max(1);
        let claimed = self
            .store
            .claim_to_send(now, ms(self.policy.lease), limit)
            .await?;
        if claimed.is_empty() {
            return Ok(Pass::default());
        }
        let claimed_count = claimed.len();
        let mut outcomes = Vec::with_capacity(claimed_count);
        let mut failed = None;
        let settled = claimed.into_iter().map(|c| self.settle_one(c));
        for result in futures_util::future::join_all(settled).await {
            match result {
                Ok(Some(outcome)) => outcomes.push(outcome),
                Ok(None) => {}
                Err(e) => failed = Some(e),
            }
        }
        let written = self
            .store
            .update_many(outcomes, self.clock.now_ms())
            .await?;
        let pass = self.tally(claimed_count, written)?;
        match failed {
            Some(e) => Err(e),
            None => Ok(pass),
        }
    }

    /// Works on one claimed entry: sends it when its attempt is recorded as begun, and
    /// otherwise decides it (probing it when its settle path says so) and, to send it,
    /// records its attempt first. The update to write; `None` when another holder took
    /// the entry meanwhile; a store failure leaves it claimed until its lease runs out.
    async fn settle_one(&self, claimed: Claimed) -> Result<Option<Outcome>, JournalError> {
        let Claimed { entry, begun } = claimed;
        let (entry, settle, landed_before, begun) =
            match (begun, self.dispatch.journal_info(&entry.method)) {
                (Some(begun), Some(info)) => (entry, info.settle, false, begun),
                // Begun, though this SDK cannot send it: the decision leaves it to an
                // operator (its attempt count includes one never sent).
                (begun, _) => match self.decide(begun.unwrap_or(entry)).await {
                    Step::Settle(entry, settlement) => {
                        log_settlement(entry.id, &settlement);
                        return Ok(Some((entry.id, entry.fence, Update::Settle(settlement))));
                    }
                    Step::Send(entry, settle, landed_before) => {
                        // Recorded before it leaves. Concurrent ones share a commit where
                        // the store groups them.
                        let begun = self
                            .store
                            .update(
                                entry.id,
                                entry.fence,
                                Update::AttemptBegins,
                                self.clock.now_ms(),
                            )
                            .await;
                        match begun {
                            Ok(begun) => (entry, settle, landed_before, begun),
                            Err(e) if e.kind() == JournalErrorKind::Fenced => return Ok(None),
                            Err(e) => return Err(e),
                        }
                    }
                },
            };
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
        Ok(Some((entry.id, entry.fence, Update::Settle(settlement))))
    }

    /// What a pass's written outcomes come to; wakes those waiting on them.
    fn tally(
        &self,
        claimed: usize,
        written: Vec<Result<Entry, JournalError>>,
    ) -> Result<Pass, JournalError> {
        let mut pass = Pass {
            claimed,
            ..Pass::default()
        };
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
        Ok(pass)
    }

    /// The longest one attempt or probe may take: below the lease.
    fn call_timeout(&self) -> Duration {
        self.policy
            .call_timeout
            .min(self.policy.lease.saturating_sub(Duration::from_secs(1)))
            .max(Duration::from_millis(100))
    }

    /// Works until `stop` completes, keeping up to [`DrainPolicy::concurrency`] entries
    /// under way at once, and as many more claimed ahead: each is sent (or probed) as
    /// soon as a call ends, and while calls are out, the outcomes of the finished ones
    /// are written and more entries claimed, in one store round at a time (one commit
    /// where the store groups them). A slow call holds up its own entry only. With
    /// nothing under way and nothing due, it sleeps until the next entry is due, a
    /// submission wakes it, or `idle_poll` passes (other processes submit too). A store
    /// failure is logged and the store tried again after `idle_poll`.
    ///
    /// When `stop` completes, the entries claimed ahead are given back, pending and
    /// unsent (each with one attempt counted that never left); the calls under way are
    /// dropped, and their entries wait for their lease to end, as after a crash. A
    /// process killed outright leaves the entries it claimed ahead as if sent: they are
    /// probed (or left to an operator, for a write that is never sent again) when their
    /// lease ends.
    pub async fn run(&self, stop: impl Future<Output = ()>) {
        let ready = std::sync::Mutex::new(VecDeque::new());
        futures_util::future::select(Box::pin(stop), Box::pin(self.run_stream(&ready))).await;
        let ready = std::mem::take(&mut *ready.lock().unwrap_or_else(PoisonError::into_inner));
        self.release(ready).await;
    }

    /// Gives back the entries a stopping drainer claimed ahead and never sent: pending
    /// and due at once, with no attempt that may land (their attempt was recorded with
    /// the claim, and counted, but never left). Were they left in flight, they would
    /// wait for their lease to end, and then be probed (or, for a write that is never
    /// sent again, left to an operator) as if they might have landed.
    async fn release(&self, ready: VecDeque<Claimed>) {
        if ready.is_empty() {
            return;
        }
        let now = self.clock.now_ms();
        let updates = ready
            .into_iter()
            .map(|Claimed { entry, begun }| {
                let held = begun.as_ref().unwrap_or(&entry);
                let settlement = Settlement::Retry {
                    next_attempt_ms: now,
                    landing_possible: entry.landing_possible,
                    confirming_refusal: entry.confirming_refusal,
                    error: entry.last_error.clone().unwrap_or_else(|| {
                        "claimed, then given back unsent by a stopping drainer".into()
                    }),
                };
                (held.id, held.fence, Update::Settle(settlement))
            })
            .collect();
        if let Err(e) = self.store.update_many(updates, now).await {
            tracing::warn!(error = %e, "journal store failed; entries claimed ahead wait for their lease to end");
        }
    }

    /// [`Drainer::run`]'s work; never ends by itself. Entries claimed and not yet sent
    /// wait in `ready`, where [`Drainer::run`] finds them when it stops.
    async fn run_stream(&self, ready: &std::sync::Mutex<VecDeque<Claimed>>) {
        let limit = self.policy.concurrency.max(1);
        // Claim once every call has ended, or once a finished call's outcome has waited
        // `OUTCOMES_WAIT` (a slow call holds the others' room up that long at most), or
        // when no outcome is held: a
        // round's fixed cost (a commit, a read of the open entries) is shared by the
        // whole window. With half the window per round, 4 hosts of 16 calls on
        // PostgreSQL drained 5.1-6.0k writes/s; with the whole window, 6.6-8.4k/s.
        let batch = limit;
        // Entries are claimed up to a window ahead of the calls (`AHEAD`): each round
        // then runs while a window of calls is out, instead of between two windows. On
        // SQLite with fsync, waiting for each round between windows held the drain at
        // 0.39 of direct sends.
        let target = limit.saturating_mul(AHEAD);
        let mut calls: FuturesUnordered<SettleFuture<'_>> = FuturesUnordered::new();
        let mut outcomes: Vec<Outcome> = Vec::new();
        // When the outcomes held now must be written, at the latest (see `OUTCOMES_WAIT`).
        let mut write_by: Option<tokio::time::Instant> = None;
        let mut round: Option<RoundFuture<'_>> = None;
        // The last claim found nothing (or the store failed): claim again only after
        // writing outcomes (they may free later writes of the same members) or waking.
        let mut waiting = false;
        let mut store_failed = false;
        let mut wake = Box::pin(self.work.notified());
        wake.as_mut().enable();
        loop {
            {
                let mut ready = ready.lock().unwrap_or_else(PoisonError::into_inner);
                while calls.len() < limit {
                    let Some(c) = ready.pop_front() else { break };
                    calls.push(Box::pin(self.settle_one(c)));
                }
            }
            if round.is_none() {
                let held = calls.len() + ready.lock().unwrap_or_else(PoisonError::into_inner).len();
                let room = target.saturating_sub(held);
                let due = write_by.is_some_and(|t| t <= tokio::time::Instant::now());
                // With no outcome held, nothing would share the round: claim what room
                // there is (a submission woke it while calls are out).
                let claim = room > 0
                    && (room >= batch || due || outcomes.is_empty())
                    && (!waiting || !outcomes.is_empty());
                // Outcomes are written with the next claim, so that one commit carries
                // many (a commit's fixed cost was most of the store's); alone only when
                // nothing else will come soon: no call is out, the last claim found
                // nothing (they may free later writes of their members), a batch's worth
                // is held, or the oldest has waited `OUTCOMES_WAIT`.
                let write = !outcomes.is_empty()
                    && (calls.is_empty() || waiting || outcomes.len() >= batch || due);
                if claim || write {
                    if claim {
                        // Submissions from now on wake an idle drainer.
                        wake = Box::pin(self.work.notified());
                        wake.as_mut().enable();
                    }
                    write_by = None;
                    round = Some(self.round(std::mem::take(&mut outcomes), claim.then_some(room)));
                }
            }
            let finished = match (round.as_mut(), calls.is_empty()) {
                (Some(r), false) => match futures_util::future::select(r, calls.next()).await {
                    Either::Left((done, _)) => Finished::Round(done),
                    Either::Right((call, _)) => Finished::Call(call),
                },
                (Some(r), true) => Finished::Round(r.await),
                (None, false) if !waiting => match write_by {
                    Some(at) => {
                        let due = Box::pin(tokio::time::sleep_until(at));
                        match futures_util::future::select(calls.next(), due).await {
                            Either::Left((call, _)) => Finished::Call(call),
                            // The held outcomes are due: written at the top.
                            Either::Right(_) => continue,
                        }
                    }
                    None => Finished::Call(calls.next().await),
                },
                // Calls are out and nothing else was due: a submission here, or after
                // `idle_poll` one elsewhere, is claimed beside them.
                (None, false) => {
                    let woken = futures_util::future::select(
                        wake.as_mut(),
                        Box::pin(tokio::time::sleep(self.policy.idle_poll)),
                    );
                    match futures_util::future::select(calls.next(), woken).await {
                        Either::Left((call, _)) => Finished::Call(call),
                        Either::Right(_) => {
                            waiting = false;
                            wake = Box::pin(self.work.notified());
                            wake.as_mut().enable();
                            continue;
                        }
                    }
                }
                (None, true) => {
                    let pause = if store_failed {
                        self.policy.idle_poll
                    } else {
                        self.idle_pause().await
                    };
                    futures_util::future::select(
                        wake.as_mut(),
                        Box::pin(tokio::time::sleep(pause)),
                    )
                    .await;
                    waiting = false;
                    store_failed = false;
                    continue;
                }
            };
            match finished {
                Finished::Call(Some(Ok(Some(outcome)))) => {
                    write_by.get_or_insert_with(|| tokio::time::Instant::now() + OUTCOMES_WAIT);
                    outcomes.push(outcome);
                }
                Finished::Call(Some(Ok(None))) | Finished::Call(None) => {}
                Finished::Call(Some(Err(e))) => {
                    tracing::warn!(error = %e, "journal store failed; the entry waits for its lease to end");
                }
                Finished::Round((written, claimed)) => {
                    round = None;
                    let wrote = written.is_some();
                    if let Some(Err(e)) = written.map(|w| w.and_then(|w| self.tally(0, w))) {
                        tracing::warn!(error = %e, "journal store failed; trying again");
                        store_failed = true;
                    }
                    match claimed {
                        Some(Ok(claimed)) => {
                            waiting = claimed.is_empty();
                            ready
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .extend(claimed);
                        }
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "journal store failed; trying again");
                            waiting = true;
                            store_failed = true;
                        }
                        None if wrote => waiting = false,
                        None => {}
                    }
                }
            }
        }
    }

    /// One store round: writes `outcomes` and, when `claim` gives room, claims that many
    /// more entries, the claim seeing what the outcomes freed
    /// ([`JournalStore::update_and_claim`]: one commit where the store can).
    fn round(&self, outcomes: Vec<Outcome>, claim: Option<usize>) -> RoundFuture<'_> {
        let now = self.clock.now_ms();
        self.store
            .update_and_claim(outcomes, now, ms(self.policy.lease), claim)
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

/// The longest a finished call's outcome waits in [`Drainer::run`] for a commit to
/// share, while other calls are out: what a receipt waiting in this process may hear
/// later than it could.
const OUTCOMES_WAIT: Duration = Duration::from_millis(20);

/// How many windows of entries [`Drainer::run`] holds at most, counting the window of
/// calls out: 2 claims one window ahead.
const AHEAD: usize = 2;

/// An update a drainer writes: entry id, fence, update.
type Outcome = (i64, u64, Update);

/// [`Drainer::settle_one`] of one entry.
type SettleFuture<'a> = DispatchFuture<'a, Result<Option<Outcome>, JournalError>>;

/// What one store round of [`Drainer::run`] wrote (when it had outcomes) and claimed
/// (when it had room).
type RoundResult = UpdatedAndClaimed;

/// [`Drainer::round`].
type RoundFuture<'a> = DispatchFuture<'a, RoundResult>;

/// What [`Drainer::run`] waited for, that finished.
enum Finished {
    Round(RoundResult),
    Call(Option<Result<Option<Outcome>, JournalError>>),
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
