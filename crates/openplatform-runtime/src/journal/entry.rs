//! What the journal keeps of one write: the request as it will be sent, where it stands,
//! and what was learnt of it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The journal's number of an entry: assigned by the store when the write is recorded,
/// increasing in the order writes were submitted (the order writes to one member or
/// order are sent in).
pub type EntryId = i64;

/// Where an entry stands.
///
/// ```text
/// pending ──claim──▶ in flight ──▶ applied | refused          (final)
///    ▲                   │
///    └──── retry ◀───────┴──────▶ attention ──operator──▶ pending | applied | refused
/// ```
///
/// Nothing leaves the journal before it is applied or refused; an entry in `attention`
/// waits for an operator, and holds back the later writes to what it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryState {
    /// Waiting for its next attempt (`next_attempt_ms`), or for an earlier write to
    /// what it names.
    Pending,
    /// Claimed by a drainer until `lease_until_ms`: an attempt or a probe is under way.
    /// A lease that ran out (a killed process) makes it claimable again.
    InFlight,
    /// In effect on the platform, once. Final.
    Applied,
    /// Refused by the platform with a definitive answer: nothing of it is in effect, and
    /// nothing can land later. Final.
    Refused,
    /// Its outcome cannot be settled without a person (a key another write holds, an
    /// unknown outcome of a write that is never re-sent, a probe that found it in part):
    /// see `last_error`.
    Attention,
}

impl EntryState {
    /// Every state, in the order of the diagram.
    pub const ALL: [EntryState; 5] = [
        EntryState::Pending,
        EntryState::InFlight,
        EntryState::Applied,
        EntryState::Refused,
        EntryState::Attention,
    ];

    /// Whether the entry is settled for good (applied or refused).
    pub const fn is_final(self) -> bool {
        matches!(self, EntryState::Applied | EntryState::Refused)
    }

    /// The state's name (`pending`, `in_flight`, `applied`, `refused`, `attention`).
    pub const fn as_str(self) -> &'static str {
        match self {
            EntryState::Pending => "pending",
            EntryState::InFlight => "in_flight",
            EntryState::Applied => "applied",
            EntryState::Refused => "refused",
            EntryState::Attention => "attention",
        }
    }

    /// The state named `name` ([`EntryState::as_str`]).
    pub fn from_name(name: &str) -> Option<EntryState> {
        EntryState::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl fmt::Display for EntryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A write to record: the request exactly as it will be sent, every time.
#[derive(Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// The endpoint's method.
    pub method: String,
    /// The request's JSON body, byte for byte what each attempt sends.
    pub body: String,
    /// `kind:value` of each thing the write names (its spec's `order_keys`): writes
    /// sharing one are sent in the order they were submitted. `~kind:value` for a thing
    /// it follows without holding it (its spec's `after_keys`): it waits for earlier
    /// writes that hold it, and such followers do not wait for each other.
    pub order_keys: Vec<String>,
    /// When it was submitted (ms since 1970, the journal's clock).
    pub created_ms: i64,
}

/// The body holds personal data (phones, names): never in `Debug`.
impl fmt::Debug for NewEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewEntry")
            .field("method", &self.method)
            .field("body", &format_args!("[{} bytes]", self.body.len()))
            .field("order_keys", &self.order_keys.len())
            .field("created_ms", &self.created_ms)
            .finish()
    }
}

/// One recorded write and where it stands.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its number (the order of submission).
    pub id: EntryId,
    /// The endpoint's method.
    pub method: String,
    /// The request's JSON body, as every attempt sends it.
    pub body: String,
    /// `kind:value` of each thing it names.
    pub order_keys: Vec<String>,
    /// Where it stands.
    pub state: EntryState,
    /// Attempts begun (an attempt is counted before it is sent).
    pub attempts: u32,
    /// Whether an attempt may have reached the platform: a "key already used" answer is
    /// then this write applied, a refusal is confirmed after the attempt lifetime, and a
    /// probe decides before a write that has one is sent again.
    pub landing_possible: bool,
    /// A refusal followed an attempt that may have landed: one more attempt after the
    /// attempt lifetime confirms it.
    pub confirming_refusal: bool,
    /// The fencing number: raised by every claim and every operator action. A drainer's
    /// update carries the number of its claim, and is refused once another has claimed.
    pub fence: u64,
    /// Until when a drainer holds it (`in_flight`).
    pub lease_until_ms: i64,
    /// When the next attempt (or probe) is due (`pending`).
    pub next_attempt_ms: i64,
    /// When the last attempt began.
    pub last_attempt_ms: Option<i64>,
    /// Since when its outcome has been unknown (an attempt that may have landed and no
    /// answer that settles it).
    pub unknown_since_ms: Option<i64>,
    /// When it was submitted.
    pub created_ms: i64,
    /// When it last changed.
    pub updated_ms: i64,
    /// Why the last attempt did not settle it, or why it needs attention (no secret).
    pub last_error: Option<String>,
    /// The settled result: the platform's `data` as JSON (applied), or the refusal
    /// (`{"code":…,"message":…}`).
    pub result: Option<String>,
}

/// The body and the result hold personal data: never in `Debug`.
impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("id", &self.id)
            .field("method", &self.method)
            .field("state", &self.state)
            .field("attempts", &self.attempts)
            .field("landing_possible", &self.landing_possible)
            .field("confirming_refusal", &self.confirming_refusal)
            .field("fence", &self.fence)
            .field("next_attempt_ms", &self.next_attempt_ms)
            .field("last_error", &self.last_error)
            .finish_non_exhaustive()
    }
}

impl Entry {
    /// A new entry as a store records it.
    pub fn recorded(id: EntryId, new: NewEntry) -> Entry {
        Entry {
            id,
            method: new.method,
            body: new.body,
            order_keys: new.order_keys,
            state: EntryState::Pending,
            attempts: 0,
            landing_possible: false,
            confirming_refusal: false,
            fence: 0,
            lease_until_ms: 0,
            next_attempt_ms: new.created_ms,
            last_attempt_ms: None,
            unknown_since_ms: None,
            created_ms: new.created_ms,
            updated_ms: new.created_ms,
            last_error: None,
            result: None,
        }
    }

    /// Whether a drainer may claim it at `now_ms` (its own conditions; what it names is
    /// the store's to check): pending and due, or in flight with its lease run out.
    pub fn claimable(&self, now_ms: i64) -> bool {
        match self.state {
            EntryState::Pending => self.next_attempt_ms <= now_ms,
            EntryState::InFlight => self.lease_until_ms <= now_ms,
            _ => false,
        }
    }

    /// Whether it holds back later writes to what it names: until it is final.
    pub fn holds_back(&self) -> bool {
        !self.state.is_final()
    }

    /// This entry claimed at `now_ms` for `lease_ms`: in flight, under a new fence.
    pub fn claim(&mut self, now_ms: i64, lease_ms: i64) {
        self.state = EntryState::InFlight;
        self.fence += 1;
        self.lease_until_ms = now_ms.saturating_add(lease_ms);
        self.updated_ms = now_ms;
    }

    /// Applies a drainer's update if the drainer still holds the entry (in flight under
    /// `fence`): the one check every store makes before writing an update.
    pub fn apply_fenced(
        &mut self,
        fence: u64,
        update: &Update,
        now_ms: i64,
    ) -> Result<(), super::store::JournalError> {
        if self.fence != fence || self.state != EntryState::InFlight {
            return Err(super::store::JournalError::fenced(self.id));
        }
        self.apply(update, now_ms);
        Ok(())
    }

    /// Applies a drainer's update (the store has checked its fence).
    pub fn apply(&mut self, update: &Update, now_ms: i64) {
        update.change(now_ms).apply_to(self);
    }
}

/// What an [`Update`] does to the fields of the entry it is applied to: the one
/// description of it, which [`Entry::apply`] and a store that applies updates in its
/// own query language (PostgreSQL, in one statement for many rows) both follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    /// The new state, or kept.
    pub(crate) state: Option<EntryState>,
    /// Added to the attempts (saturating).
    pub(crate) attempts_added: u32,
    pub(crate) landing_possible: Option<bool>,
    pub(crate) confirming_refusal: Option<bool>,
    pub(crate) next_attempt_ms: Option<i64>,
    pub(crate) last_attempt_ms: Option<i64>,
    pub(crate) unknown_since: UnknownSince,
    pub(crate) last_error: Option<String>,
    /// The new result (which may be none), or kept.
    pub(crate) result: Option<Option<String>>,
    pub(crate) updated_ms: i64,
}

/// What a [`Change`] does to `unknown_since_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnknownSince {
    Keep,
    Clear,
    /// Set to this time unless it is already set.
    SetIfNone(i64),
}

impl Change {
    /// Applies it to `entry`.
    pub(crate) fn apply_to(self, entry: &mut Entry) {
        entry.updated_ms = self.updated_ms;
        if let Some(state) = self.state {
            entry.state = state;
        }
        entry.attempts = entry.attempts.saturating_add(self.attempts_added);
        if let Some(v) = self.landing_possible {
            entry.landing_possible = v;
        }
        if let Some(v) = self.confirming_refusal {
            entry.confirming_refusal = v;
        }
        if let Some(v) = self.next_attempt_ms {
            entry.next_attempt_ms = v;
        }
        if let Some(v) = self.last_attempt_ms {
            entry.last_attempt_ms = Some(v);
        }
        match self.unknown_since {
            UnknownSince::Keep => {}
            UnknownSince::Clear => entry.unknown_since_ms = None,
            UnknownSince::SetIfNone(t) => {
                entry.unknown_since_ms.get_or_insert(t);
            }
        }
        if let Some(error) = self.last_error {
            entry.last_error = Some(error);
        }
        if let Some(result) = self.result {
            entry.result = result;
        }
    }
}

impl Update {
    /// What it does to an entry, applied at `now_ms`.
    pub(crate) fn change(&self, now_ms: i64) -> Change {
        let mut change = Change {
            state: None,
            attempts_added: 0,
            landing_possible: None,
            confirming_refusal: None,
            next_attempt_ms: None,
            last_attempt_ms: None,
            unknown_since: UnknownSince::Keep,
            last_error: None,
            result: None,
            updated_ms: now_ms,
        };
        match self {
            Update::AttemptBegins => {
                change.attempts_added = 1;
                change.landing_possible = Some(true);
                change.last_attempt_ms = Some(now_ms);
                change.unknown_since = UnknownSince::SetIfNone(now_ms);
            }
            Update::Settle(s) => match s {
                Settlement::Applied { result } => {
                    change.state = Some(EntryState::Applied);
                    change.result = Some(result.clone());
                    change.unknown_since = UnknownSince::Clear;
                }
                Settlement::Refused { result } => {
                    change.state = Some(EntryState::Refused);
                    change.result = Some(Some(result.clone()));
                    change.unknown_since = UnknownSince::Clear;
                }
                Settlement::Retry {
                    next_attempt_ms,
                    landing_possible,
                    confirming_refusal,
                    error,
                } => {
                    change.state = Some(EntryState::Pending);
                    change.next_attempt_ms = Some(*next_attempt_ms);
                    change.landing_possible = Some(*landing_possible);
                    change.confirming_refusal = Some(*confirming_refusal);
                    if !landing_possible {
                        change.unknown_since = UnknownSince::Clear;
                    }
                    change.last_error = Some(error.clone());
                }
                Settlement::Attention { error } => {
                    change.state = Some(EntryState::Attention);
                    change.last_error = Some(error.clone());
                }
            },
        }
        change
    }
}

/// What a drainer writes of the entry it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// An attempt is about to be sent: counted, and it may land from now on.
    AttemptBegins,
    /// What the attempt (or probe) settled.
    Settle(Settlement),
}

/// How an attempt or a probe leaves the entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// In effect: the platform's `data` (JSON), when it gave one.
    Applied {
        /// The `data` of the applying answer; `None` when it had none or it was lost.
        result: Option<String>,
    },
    /// Refused for good: the refusal as `{"code":…,"message":…}`.
    Refused {
        /// The refusal.
        result: String,
    },
    /// Pending again, due at `next_attempt_ms`.
    Retry {
        /// When the next attempt or probe is due.
        next_attempt_ms: i64,
        /// Whether an attempt may have landed (kept across restarts).
        landing_possible: bool,
        /// Whether the next attempt confirms a refusal.
        confirming_refusal: bool,
        /// Why it is not settled.
        error: String,
    },
    /// Needs an operator.
    Attention {
        /// Why.
        error: String,
    },
}

/// An operator's decision about an entry (`ump journal resolve` and `retry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Send it again now (from `attention` or `pending`): the operator knows what the
    /// platform holds, or wants the settle path to run again.
    RetryNow,
    /// The operator found it in effect on the platform.
    Applied,
    /// The operator found it not in effect, and it must not be sent again.
    Refused,
}

/// How many entries are in each state, and the oldest not yet final.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Entries per state, in [`EntryState::ALL`]'s order.
    pub pending: u64,
    /// In flight.
    pub in_flight: u64,
    /// Applied.
    pub applied: u64,
    /// Refused.
    pub refused: u64,
    /// Needing attention.
    pub attention: u64,
    /// When the oldest entry that is not final was submitted.
    pub oldest_open_created_ms: Option<i64>,
}

impl Counts {
    /// The count of `state`.
    pub fn of(&self, state: EntryState) -> u64 {
        match state {
            EntryState::Pending => self.pending,
            EntryState::InFlight => self.in_flight,
            EntryState::Applied => self.applied,
            EntryState::Refused => self.refused,
            EntryState::Attention => self.attention,
        }
    }

    /// The count of `state`, to set.
    pub(crate) fn of_mut(&mut self, state: EntryState) -> &mut u64 {
        match state {
            EntryState::Pending => &mut self.pending,
            EntryState::InFlight => &mut self.in_flight,
            EntryState::Applied => &mut self.applied,
            EntryState::Refused => &mut self.refused,
            EntryState::Attention => &mut self.attention,
        }
    }

    /// Adds one entry of `state`.
    pub fn add(&mut self, state: EntryState, created_ms: i64) {
        *self.of_mut(state) += 1;
        if !state.is_final() {
            self.oldest_open_created_ms = Some(
                self.oldest_open_created_ms
                    .map_or(created_ms, |o| o.min(created_ms)),
            );
        }
    }
}
