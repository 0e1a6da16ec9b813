//! What an operator sees of a key's token state: the record's expiries (never its
//! tokens), today's budgets, the pending-obtain marker and the last failed token call.
//!
//! Everything here is read from the store, so any process that shares the store (an
//! operator's command line beside the services) sees the same state. None of these types
//! holds a secret: their `Debug` and their JSON (`serde::Serialize`) are safe to print.

use serde::{Deserialize, Serialize};

use super::BudgetKind;

/// The token state of one store key, as [`TokenManager::status`](super::TokenManager::status)
/// reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct TokenStatus {
    /// The store key ([`TokenManager::key`](super::TokenManager::key)).
    pub key: String,
    /// The stored record's expiries and version; `None`: no record is stored.
    pub record: Option<RecordStatus>,
    /// Today's (platform day) token-issuing calls.
    pub obtain: BudgetStatus,
    /// Today's refresh calls.
    pub refresh: BudgetStatus,
    /// The platform's day: days since 1970-01-01 in the platform's zone.
    pub platform_day: i64,
    /// When both budgets reset: the platform's next midnight (RFC 3339, its zone).
    pub budget_resets_at: String,
    /// The pending-obtain marker, if one is stored.
    pub pending_obtain: Option<PendingObtain>,
    /// The last failed token call, if no token call succeeded since.
    pub last_failure: Option<LastFailure>,
}

/// The stored record, without its tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RecordStatus {
    /// When the access token expires (ms since the Unix epoch, platform clock).
    pub access_expires_at_ms: i64,
    /// When the refresh token expires (ms since the Unix epoch, platform clock).
    pub refresh_expires_at_ms: i64,
    /// The record's write count.
    pub version: u64,
    /// Whether the access token has not expired yet (platform clock).
    pub access_valid_now: bool,
    /// Whether the refresh token can still be used for a refresh: it expires more than a
    /// minute from now (the margin the manager keeps).
    pub refresh_valid_now: bool,
}

/// One daily budget: calls counted today, and the day's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct BudgetStatus {
    /// Calls counted today by every instance sharing the store.
    pub used: u32,
    /// The day's limit (the smaller of the policy's and the spec's; `u32::MAX`: none).
    pub limit: u32,
}

impl BudgetStatus {
    /// Calls left today (never below zero).
    pub fn remaining(&self) -> u32 {
        self.limit.saturating_sub(self.used)
    }
}

/// A token-issuing call marked as started and not known to have ended: the instance that
/// made it has not yet stored its tokens or reported its failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct PendingObtain {
    /// The instance that started the call (`host/pid/start-id`, to find its logs).
    pub instance: String,
    /// Its host.
    pub host: String,
    /// Its process id on that host.
    pub pid: u32,
    /// The platform day the call was counted on.
    pub day: i64,
    /// When the call started (ms since the Unix epoch, platform clock).
    pub started_at_ms: i64,
    /// Whether the call may still be in flight, judged by the reader: a process of this
    /// host is in flight while it runs (where the OS tells), any other until the longest
    /// a token call can take has passed since it started.
    pub may_be_in_flight: bool,
}

/// The last token call to the platform that failed, with no successful one since: why a
/// service may be locked out. Written into the store by the instance that made the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LastFailure {
    /// When it failed (ms since the Unix epoch, platform clock).
    pub at_ms: i64,
    /// Which token call failed.
    pub kind: BudgetKind,
    /// The error's text (scrubbed of every token the instance knew, and cut to at most
    /// [`LAST_FAILURE_MAX_MESSAGE`] bytes).
    pub message: String,
    /// How many token calls failed in a row, across every instance sharing the store.
    pub in_a_row: u32,
    /// The platform's error code, when it answered with one.
    pub code: Option<i64>,
    /// Whether the platform refused the refresh token itself in that attempt: it is then
    /// sent again only after a long pause (see the manager's budget rules).
    pub refresh_token_refused: bool,
}

/// The longest [`LastFailure::message`] stored, in bytes.
pub const LAST_FAILURE_MAX_MESSAGE: usize = 2_000;

/// The outcome of [`TokenManager::clear_pending_obtain`](super::TokenManager::clear_pending_obtain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "marker", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ClearOutcome {
    /// The marker was removed.
    Cleared(PendingObtain),
    /// No (readable) marker is stored.
    NothingPending,
    /// The marked call may still be in flight: the marker was left in place (clear it
    /// with `force` once you know that process is gone).
    MayBeInFlight(PendingObtain),
}

/// The outcome of [`TokenManager::forget_obtain`](super::TokenManager::forget_obtain).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ForgetOutcome {
    /// One unit of today's token-issuing budget was given back.
    GaveBack {
        /// Token-issuing calls counted today before.
        used_before: u32,
        /// Token-issuing calls counted today now.
        used_now: u32,
    },
    /// No token-issuing call is counted today: nothing to give back.
    NothingSpent,
    /// A token-issuing call may still be in flight: nothing was changed.
    MayBeInFlight {
        /// Its marker.
        marker: PendingObtain,
    },
}

/// The outcome of an operator-requested refresh
/// ([`TokenManager::refresh_now`](super::TokenManager::refresh_now)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct RefreshOutcome {
    /// When the new access token expires (ms since the Unix epoch, platform clock).
    pub access_expires_at_ms: i64,
    /// Refresh calls counted today, this one included.
    pub refresh_used_today: u32,
    /// The day's refresh limit.
    pub refresh_limit: u32,
}

/// The store note of the last failed token call.
pub(super) const LAST_FAILURE_NOTE: &str = "last-failure";

/// The stored form of [`LastFailure`] (JSON; no secret).
#[derive(Serialize, Deserialize)]
struct StoredFailure {
    at_ms: i64,
    kind: String,
    message: String,
    in_a_row: u32,
    // Added later: notes written before have neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<i64>,
    #[serde(default)]
    refresh_token_refused: bool,
}

impl LastFailure {
    pub(super) fn to_note(&self) -> String {
        let stored = StoredFailure {
            at_ms: self.at_ms,
            kind: self.kind.as_str().to_owned(),
            message: self.message.clone(),
            in_a_row: self.in_a_row,
            code: self.code,
            refresh_token_refused: self.refresh_token_refused,
        };
        // A struct of strings and integers always serializes.
        serde_json::to_string(&stored).unwrap_or_default()
    }

    /// The failure of a note; a damaged note is none (it only ever explains).
    pub(super) fn from_note(note: &str) -> Option<Self> {
        let stored: StoredFailure = serde_json::from_str(note).ok()?;
        let kind = match stored.kind.as_str() {
            "obtain" => BudgetKind::Obtain,
            "refresh" => BudgetKind::Refresh,
            _ => return None,
        };
        Some(LastFailure {
            at_ms: stored.at_ms,
            kind,
            message: cut(stored.message, LAST_FAILURE_MAX_MESSAGE),
            in_a_row: stored.in_a_row,
            code: stored.code,
            refresh_token_refused: stored.refresh_token_refused,
        })
    }
}

/// `text` cut to at most `max` bytes, at a character boundary, marked when cut.
pub(super) fn cut(mut text: String, max: usize) -> String {
    const MORE: &str = "…";
    if text.len() <= max {
        return text;
    }
    let mut end = max.saturating_sub(MORE.len());
    while end > 0 && !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    text.push_str(MORE);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_note_round_trip_and_damaged_notes() {
        let f = LastFailure {
            at_ms: 1_700_000_000_000,
            kind: BudgetKind::Refresh,
            message: "token refresh call failed: busy".into(),
            in_a_row: 3,
            code: Some(500),
            refresh_token_refused: true,
        };
        assert_eq!(LastFailure::from_note(&f.to_note()), Some(f));
        for bad in [
            "",
            "{",
            "[]",
            r#"{"at_ms":1,"kind":"other","message":"","in_a_row":1}"#,
        ] {
            assert_eq!(LastFailure::from_note(bad), None, "{bad}");
        }
        // A note of an earlier version (no code, no refusal flag) still reads.
        let old =
            LastFailure::from_note(r#"{"at_ms":1,"kind":"obtain","message":"m","in_a_row":2}"#)
                .unwrap();
        assert_eq!((old.code, old.refresh_token_refused), (None, false));
    }

    #[test]
    fn cut_keeps_char_boundaries() {
        assert_eq!(cut("abc".into(), 3), "abc");
        let long = "令牌".repeat(1_000);
        for max in [0, 1, 2, 3, 4, 5, 100, 2_000] {
            let c = cut(long.clone(), max);
            assert!(c.len() <= max.max("…".len()), "{max}: {}", c.len());
        }
    }

    #[test]
    fn serializes_kind_as_its_short_name() {
        let f = LastFailure {
            at_ms: 1,
            kind: BudgetKind::Obtain,
            message: "m".into(),
            in_a_row: 1,
            code: None,
            refresh_token_refused: false,
        };
        let json = serde_json::to_value(&f).unwrap();
        assert_eq!(json["kind"], "obtain");
        let outcome = serde_json::to_value(ClearOutcome::NothingPending).unwrap();
        assert_eq!(outcome["outcome"], "nothing_pending");
    }
}
