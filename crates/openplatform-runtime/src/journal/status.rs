//! What a submitter learns of its write: the entry's status, waited for within a
//! deadline.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;

use super::entry::{Entry, EntryId, EntryState};
use super::store::{JournalError, JournalStore};

/// Where a submitted write stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Status {
    /// In effect on the platform, once: the platform's `data` as JSON, when known (an
    /// earlier attempt's reply may have been lost with the data).
    Applied {
        /// The `data`.
        data: Option<String>,
    },
    /// Refused by the platform: nothing of it is in effect, nothing will be.
    Refused {
        /// The platform's code, when it gave one.
        code: Option<i64>,
        /// What it said.
        message: String,
    },
    /// Not settled yet: the journal keeps trying.
    Pending {
        /// Attempts made so far.
        attempts: u32,
        /// When the next attempt is due (ms since 1970), when waiting.
        next_attempt_ms: Option<i64>,
        /// Why the last attempt did not settle it.
        last_error: Option<String>,
    },
    /// Needs an operator (`ump journal`): see why.
    Attention {
        /// Why.
        error: String,
    },
}

impl Status {
    /// The status of `entry`.
    pub fn of(entry: &Entry) -> Status {
        match entry.state {
            EntryState::Applied => Status::Applied {
                data: entry.result.clone(),
            },
            EntryState::Refused => {
                let parsed: Option<serde_json::Value> = entry
                    .result
                    .as_deref()
                    .and_then(|r| serde_json::from_str(r).ok());
                Status::Refused {
                    code: parsed.as_ref().and_then(|v| v["code"].as_i64()),
                    message: parsed
                        .as_ref()
                        .and_then(|v| v["message"].as_str().map(str::to_owned))
                        .unwrap_or_default(),
                }
            }
            EntryState::Attention => Status::Attention {
                error: entry.last_error.clone().unwrap_or_default(),
            },
            EntryState::Pending | EntryState::InFlight => Status::Pending {
                attempts: entry.attempts,
                next_attempt_ms: (entry.state == EntryState::Pending)
                    .then_some(entry.next_attempt_ms),
                last_error: entry.last_error.clone(),
            },
        }
    }

    /// Whether waiting longer can change it (pending).
    pub fn is_pending(&self) -> bool {
        matches!(self, Status::Pending { .. })
    }
}

/// Waits until entry `id` is applied, refused or needs attention, or `timeout` passes
/// (`None`: no limit), and returns its status then: pending when the time ran out.
/// Woken by `settled` when a drainer of this process settles something; otherwise it
/// looks again every `poll` (a drainer in another process).
pub async fn wait_for(
    store: &Arc<dyn JournalStore>,
    settled: &Notify,
    id: EntryId,
    timeout: Option<Duration>,
    poll: Duration,
) -> Result<Status, JournalError> {
    let deadline = timeout.and_then(|t| tokio::time::Instant::now().checked_add(t));
    loop {
        let notified = settled.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let entry = store
            .get(id)
            .await?
            .ok_or_else(|| JournalError::not_found(id))?;
        let status = Status::of(&entry);
        if !status.is_pending() {
            return Ok(status);
        }
        let now = tokio::time::Instant::now();
        if deadline.is_some_and(|d| d <= now) {
            return Ok(status);
        }
        let wake = deadline.map_or(now + poll, |d| d.min(now + poll));
        futures_util::future::select(notified, Box::pin(tokio::time::sleep_until(wake))).await;
    }
}
