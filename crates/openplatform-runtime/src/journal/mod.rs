//! A durable journal of writes: every write it records is applied exactly once, in
//! order per member or order, across crashes, restarts and platform outages.
//!
//! A till cannot wait for the platform. A write is recorded first (durably: the receipt
//! leaves after the commit), and settled after, in the background, by a drainer: sent,
//! and while its outcome is unknown (a lost reply, a busy answer, an outage) sent again
//! or probed, the way its spec's `journal.settle` says, until the platform's answer
//! settles it. Nothing leaves the journal before it is applied or refused: an entry the
//! drainer cannot settle alone waits in [`EntryState::Attention`] for an operator.
//!
//! This module is the protocol-independent part: the entries and their states
//! ([`entry`]), the store seam ([`JournalStore`]) and its backends, the settle rules and
//! the drainer. The SDK of an API (`gree_ump::journal`) adds what is vendor knowledge:
//! how a stored request is sent and how a write is probed.
//!
//! ## What holds in every schedule
//!
//! - **Recorded before sent.** An attempt is counted in the store before it leaves
//!   ([`Update::AttemptBegins`]), so a process killed between sending and hearing the
//!   answer leaves an entry that knows an attempt may have landed.
//! - **One holder at a time.** A claim is a lease with a fencing number: a drainer that
//!   lost its lease (a paused or killed process) can no longer write the entry, and the
//!   next claim finds it as the last holder left it.
//! - **Submission order per thing.** A write is claimed only when no earlier write that
//!   names one of its order keys (a member, an order…) is still open.
//! - **Settled by the platform's answers only**, under the spec's settle path (see
//!   [`Settle`](crate::Settle)).

mod drain;
pub mod entry;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
pub mod settle;
#[cfg(feature = "sqlite")]
mod sqlite;
mod status;
mod store;

#[cfg(any(test, feature = "test-util"))]
pub mod conformance;

pub use drain::{Dispatch, DispatchFuture, DrainPolicy, Drainer, Pass};
pub use entry::{Counts, Entry, EntryId, EntryState, NewEntry, Resolution, Settlement, Update};
pub use memory::MemoryJournal;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresJournal, PostgresJournalBuilder};
pub use settle::{AttemptAnswer, ProbeAnswer, SettlePolicy};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteJournal;
pub use status::{Status, wait_for};
pub use store::{
    Claimed, JournalError, JournalErrorKind, JournalFuture, JournalStore, UpdatedAndClaimed,
    resolve_entry,
};

/// The journal file the SDK and `ump` use when none is given: `journal.sqlite3` in the
/// API's directory of the user's state directory, beside the default token store
/// (`~/.local/state/gree-ump/journal.sqlite3` on Linux). `None` where the system knows
/// no such directory.
pub fn default_path(api: &str) -> Option<std::path::PathBuf> {
    let base = dirs::state_dir().or_else(dirs::data_local_dir)?;
    Some(base.join(api).join("journal.sqlite3"))
}
