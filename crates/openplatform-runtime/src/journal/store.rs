//! The seam between the journal and where its entries live.
//!
//! Every operation is atomic in the store, so several processes (SQLite on one host) or
//! hosts sharing one store agree: a claim hands an entry to one drainer only, and an
//! update under an old fence is refused.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use super::entry::{Counts, Entry, EntryId, EntryState, NewEntry, Resolution, Update};

/// The future a journal store operation returns.
pub type JournalFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, JournalError>> + Send + 'a>>;

/// Where journal entries live. Implementations: [`MemoryJournal`](super::MemoryJournal)
/// (tests only: everything is lost with the process) and, with the `sqlite` feature,
/// [`SqliteJournal`](super::SqliteJournal). The conformance suite (`test-util`) holds
/// every implementation to the same behaviour.
pub trait JournalStore: Send + Sync + fmt::Debug {
    /// Records a write durably (the reply leaves after the commit), as
    /// [`EntryState::Pending`] due at once; its id is higher than every earlier entry's.
    fn append(&self, entry: NewEntry) -> JournalFuture<'_, Entry>;

    /// [`JournalStore::append`] of several writes, in one commit where the backend can
    /// (all or none): their ids ascend in the order given, above every earlier entry's.
    /// A bulk import records a batch of lines with one fsync rather than one each.
    fn append_many(&self, entries: Vec<NewEntry>) -> JournalFuture<'_, Vec<Entry>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(entries.len());
            for entry in entries {
                out.push(self.append(entry).await?);
            }
            Ok(out)
        })
    }

    /// Claims up to `limit` entries for a drainer, lowest id first: each
    /// [claimable](Entry::claimable) at `now_ms`, and with no entry of a lower id that
    /// names one of its order keys and [holds back](Entry::holds_back) (so writes to one
    /// member or order are sent in submission order, and a write whose earlier one is
    /// stuck waits). Each claimed entry is in flight until `now_ms + lease_ms`, under a
    /// fence one higher; the entries are returned as claimed.
    fn claim(&self, now_ms: i64, lease_ms: i64, limit: usize) -> JournalFuture<'_, Vec<Entry>>;

    /// [`JournalStore::claim`], and, in the same commit where the backend can, the next
    /// attempt of each claimed entry that no earlier attempt can have reached the
    /// platform ([`Update::AttemptBegins`]): such an entry is always sent next (see
    /// [`before_attempt`](super::settle::before_attempt)), so a drainer records its
    /// claim and its attempts in one commit rather than two. The others are returned as
    /// claimed, for the drainer to decide (wait, probe or send).
    fn claim_to_send(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> JournalFuture<'_, Vec<Claimed>> {
        Box::pin(async move {
            let claimed = self.claim(now_ms, lease_ms, limit).await?;
            let begins = claimed
                .iter()
                .filter(|e| !e.landing_possible)
                .map(|e| (e.id, e.fence, Update::AttemptBegins))
                .collect();
            let mut begun = self.update_many(begins, now_ms).await?.into_iter();
            let mut out = Vec::with_capacity(claimed.len());
            for entry in claimed {
                let begun = if entry.landing_possible {
                    None
                } else {
                    match begun.next() {
                        Some(Ok(b)) => Some(b),
                        // Taken meanwhile: left to the drainer, whose own update is
                        // fenced out in turn.
                        Some(Err(e)) if e.kind() == JournalErrorKind::Fenced => None,
                        Some(Err(e)) => return Err(e),
                        None => None,
                    }
                };
                out.push(Claimed { entry, begun });
            }
            Ok(out)
        })
    }

    /// Applies a drainer's update to entry `id` if its fence is still `fence` and it is
    /// in flight; returns the entry as updated, or [`JournalErrorKind::Fenced`] when
    /// another drainer or an operator took it meanwhile.
    fn update(
        &self,
        id: EntryId,
        fence: u64,
        update: Update,
        now_ms: i64,
    ) -> JournalFuture<'_, Entry>;

    /// [`JournalStore::update`] of several entries, each as if alone (one fenced out
    /// does not stop the others), in one commit where the backend can: a drainer writes
    /// a whole claim's attempts, and then their outcomes, at once (one fsync for many).
    fn update_many(
        &self,
        updates: Vec<(EntryId, u64, Update)>,
        now_ms: i64,
    ) -> JournalFuture<'_, Vec<Result<Entry, JournalError>>> {
        Box::pin(async move {
            let mut results = Vec::with_capacity(updates.len());
            for (id, fence, update) in updates {
                results.push(self.update(id, fence, update, now_ms).await);
            }
            Ok(results)
        })
    }

    /// A drainer's store round: writes `outcomes` ([`JournalStore::update_many`], when
    /// there are any) and then, when `claim` gives room, claims up to that many
    /// ([`JournalStore::claim_to_send`] at `now_ms` for `lease_ms`), the claim seeing
    /// what the outcomes freed; in one commit where the backend can. Each part's
    /// result, `None` for a part not asked for.
    fn update_and_claim(
        &self,
        outcomes: Vec<(EntryId, u64, Update)>,
        now_ms: i64,
        lease_ms: i64,
        claim: Option<usize>,
    ) -> Pin<Box<dyn Future<Output = UpdatedAndClaimed> + Send + '_>> {
        Box::pin(async move {
            // Queued in this order, so that a store grouping its commits writes both in
            // one.
            let write = async {
                if outcomes.is_empty() {
                    None
                } else {
                    Some(self.update_many(outcomes, now_ms).await)
                }
            };
            let claim = async {
                match claim {
                    Some(room) => Some(self.claim_to_send(now_ms, lease_ms, room).await),
                    None => None,
                }
            };
            futures_util::future::join(write, claim).await
        })
    }

    /// The entry `id`, if there is one.
    fn get(&self, id: EntryId) -> JournalFuture<'_, Option<Entry>>;

    /// Up to `limit` entries with an id above `after`, lowest first, of `state` only when
    /// given.
    fn list(
        &self,
        state: Option<EntryState>,
        after: EntryId,
        limit: usize,
    ) -> JournalFuture<'_, Vec<Entry>>;

    /// How many entries are in each state.
    fn counts(&self) -> JournalFuture<'_, Counts>;

    /// The earliest `next_attempt_ms` of a pending entry, or `lease_until_ms` of one in
    /// flight: when a drainer has work next (`None`: nothing open).
    fn next_due(&self) -> JournalFuture<'_, Option<i64>>;

    /// An operator's decision about entry `id` (any state but final): raises its fence
    /// (a drainer holding it can no longer write), and makes it pending and due at
    /// `now_ms`, or applied, or refused, with `note` as its last error. A final entry is
    /// refused with [`JournalErrorKind::Final`].
    fn resolve(
        &self,
        id: EntryId,
        resolution: Resolution,
        note: String,
        now_ms: i64,
    ) -> JournalFuture<'_, Entry>;
}

/// What [`JournalStore::update_and_claim`] wrote (when it had outcomes) and claimed (when
/// it had room).
pub type UpdatedAndClaimed = (
    Option<Result<Vec<Result<Entry, JournalError>>, JournalError>>,
    Option<Result<Vec<Claimed>, JournalError>>,
);

/// An entry a drainer claimed with [`JournalStore::claim_to_send`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The entry as claimed, before its attempt began.
    pub entry: Entry,
    /// The entry with its next attempt recorded as begun, when the claim's commit did
    /// that too: the drainer sends it at once.
    pub begun: Option<Entry>,
}

/// A journal store's failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalError {
    kind: JournalErrorKind,
    message: String,
}

/// The kinds of [`JournalError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JournalErrorKind {
    /// Another drainer claimed the entry, or an operator resolved it: this drainer's
    /// update is refused.
    Fenced,
    /// The entry is applied or refused: nothing changes it any more.
    Final,
    /// No entry has that id.
    NotFound,
    /// The stored data is damaged, or of a newer format than this SDK reads.
    Corrupt,
    /// Reading or writing failed (file system, database connection).
    Io,
}

impl JournalError {
    /// An error of `kind`; `message` names the problem and holds no personal data.
    pub fn new(kind: JournalErrorKind, message: impl Into<String>) -> Self {
        JournalError {
            kind,
            message: message.into(),
        }
    }

    /// Its kind.
    pub fn kind(&self) -> JournalErrorKind {
        self.kind
    }

    /// Another drainer or an operator took the entry.
    pub fn fenced(id: EntryId) -> Self {
        JournalError::new(
            JournalErrorKind::Fenced,
            format!("journal entry {id} was claimed again or resolved meanwhile"),
        )
    }

    /// No entry `id`.
    pub fn not_found(id: EntryId) -> Self {
        JournalError::new(JournalErrorKind::NotFound, format!("no journal entry {id}"))
    }

    /// Entry `id` is final.
    pub fn final_entry(id: EntryId, state: EntryState) -> Self {
        JournalError::new(
            JournalErrorKind::Final,
            format!("journal entry {id} is {state}: it can no longer change"),
        )
    }
}

impl fmt::Display for JournalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for JournalError {}

/// Applies an operator's resolution to `entry` (shared by the stores).
pub fn resolve_entry(
    entry: &mut Entry,
    resolution: &Resolution,
    note: String,
    now_ms: i64,
) -> Result<(), JournalError> {
    if entry.state.is_final() {
        return Err(JournalError::final_entry(entry.id, entry.state));
    }
    entry.fence += 1;
    entry.updated_ms = now_ms;
    entry.last_error = Some(note);
    match resolution {
        Resolution::RetryNow => {
            entry.state = EntryState::Pending;
            entry.next_attempt_ms = now_ms;
            entry.lease_until_ms = 0;
            entry.confirming_refusal = false;
        }
        Resolution::Applied => {
            entry.state = EntryState::Applied;
            entry.unknown_since_ms = None;
        }
        Resolution::Refused => {
            entry.state = EntryState::Refused;
            entry.unknown_since_ms = None;
            entry.result = Some(
                serde_json::json!({"code": null, "message": "resolved as refused by an operator"})
                    .to_string(),
            );
        }
    }
    Ok(())
}
