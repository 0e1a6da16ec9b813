//! The rules that protect the daily budgets, kept in the store beside the tokens, so that
//! every process sharing the store and every restart of one follows them.
//!
//! A rule kept in one process's memory protects nothing from a supervisor that restarts
//! the process: a service crash-looping through a platform incident that answers every
//! call "invalid token" spent one refresh per start, and after 20 starts it was locked
//! out until the platform's midnight. Two notes hold what a restart must not forget:
//!
//! - **The rejection note** ([`REJECTED_NOTE`]): "the platform rejected an access token,
//!   a token call was made because of it, and no token has been accepted since". While
//!   it stands, a rejection leads to no further token call (a token found in the store
//!   is still adopted); only the token's own expiry does. It is written before the token
//!   call (a crash mid-call cannot lose it) and removed when the platform accepts any
//!   token again. Worst case, a rejection that is not an incident (the platform revoked
//!   a token, then its replacement at once) leaves the service on its refreshes by
//!   expiry: at most one access token's lifetime (2 h) without a valid token.
//! - **The last failure** (the `last-failure` note of [`super::status`]): when, how many
//!   in a row across every instance, with which code. Before any token call the manager
//!   reads it and waits out the pause it implies, judged on the platform's clock: 5 s
//!   after one failure, doubling, at most 5 minutes.
//! - **The refused refresh token** ([`REFUSED_REFRESH_NOTE`]): the platform refused this
//!   refresh token (by its fingerprint) at this time, so many times in a row. While its
//!   pause lasts (30 minutes, doubling, at most 4 hours) the manager does not send it
//!   again and goes to the token-issuing call at once, as after a refusal; after the
//!   pause it is tried once more, as an incident may have caused the refusal (each try
//!   costs a unit of the day's 20, so at most about 7 a day). A token call that succeeds
//!   removes the note.
//!
//! A note from the future (a clock that jumped back, a damaged store) never pauses longer
//! than its own pause; a damaged note pauses nothing (the budget counts still bound every
//! call).
//!
//! Notes hold no secret: a token is named by a fingerprint (a hash of it, cut short),
//! enough to tell two tokens apart, useless to call with.

use std::time::Duration;

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use super::Secret;

/// The store note of the rejection rule (see the module docs).
pub(super) const REJECTED_NOTE: &str = "rejected";
/// The store note of the refused refresh token (see the module docs).
pub(super) const REFUSED_REFRESH_NOTE: &str = "refused-refresh";

/// The pause after the first failed token call; it doubles with each further failure.
pub(super) const FAILURE_BACKOFF: Duration = Duration::from_secs(5);
/// The longest pause between token calls after ordinary failures.
pub(super) const MAX_FAILURE_BACKOFF: Duration = Duration::from_secs(300);
/// The pause before a refresh token the platform refused is sent again.
const REFUSED_REFRESH_BACKOFF: Duration = Duration::from_secs(30 * 60);
/// The longest such pause.
const MAX_REFUSED_REFRESH_BACKOFF: Duration = Duration::from_secs(4 * 3600);

/// A short, one-way name of a token for the store's notes.
pub(super) fn fingerprint(token: &Secret) -> String {
    let mut hasher = Md5::new();
    hasher.update(b"gree-ump token fingerprint\0");
    hasher.update(token.expose().as_bytes());
    let digest = hasher.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The pause after `in_a_row` failures, starting at `first`, doubling, at most `max`.
pub(super) fn backoff(first: Duration, max: Duration, in_a_row: u32) -> Duration {
    let doublings = in_a_row.saturating_sub(1).min(16);
    first.saturating_mul(1u32 << doublings).min(max)
}

/// The pause the stored last failure imposes at `now_ms`: `None` once it is over.
pub(super) fn failure_pause_left(at_ms: i64, in_a_row: u32, now_ms: i64) -> Option<Duration> {
    pause_left(
        backoff(FAILURE_BACKOFF, MAX_FAILURE_BACKOFF, in_a_row),
        at_ms,
        now_ms,
    )
}

/// What is left at `now_ms` of `pause` counted from `at_ms`, never more than `pause`.
fn pause_left(pause: Duration, at_ms: i64, now_ms: i64) -> Option<Duration> {
    let pause_ms = i64::try_from(pause.as_millis()).unwrap_or(i64::MAX);
    let elapsed = now_ms.saturating_sub(at_ms).max(0);
    let left = pause_ms.saturating_sub(elapsed).clamp(0, pause_ms);
    (left > 0).then(|| Duration::from_millis(u64::try_from(left).unwrap_or(0)))
}

/// The stored form of the refused-refresh note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct RefusedRefresh {
    /// The refused refresh token's fingerprint.
    pub token: String,
    /// When it was last refused (ms, platform clock).
    pub at_ms: i64,
    /// How many times in a row, each after the previous pause.
    pub in_a_row: u32,
    /// The platform's code of the refusal.
    pub code: i64,
}

impl RefusedRefresh {
    pub(super) fn to_note(&self) -> String {
        // A struct of a string and integers always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    pub(super) fn from_note(note: &str) -> Option<Self> {
        serde_json::from_str(note).ok()
    }

    /// What is left at `now_ms` of the pause before `sending` (a refresh token's
    /// fingerprint) may be sent again: `None` when it is another token, or the pause is
    /// over.
    pub(super) fn pause_left(&self, sending: &str, now_ms: i64) -> Option<Duration> {
        if self.token != sending {
            return None;
        }
        pause_left(
            backoff(
                REFUSED_REFRESH_BACKOFF,
                MAX_REFUSED_REFRESH_BACKOFF,
                self.in_a_row,
            ),
            self.at_ms,
            now_ms,
        )
    }
}

/// The stored form of the rejection note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Rejection {
    /// When the rejection was noted (ms, platform clock).
    pub since_ms: i64,
    /// The instance that noted it.
    pub instance: String,
}

impl Rejection {
    pub(super) fn to_note(&self) -> String {
        // A struct of a string and an integer always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_tell_tokens_apart_and_hide_them() {
        let a = fingerprint(&Secret::new("at-secret-1"));
        let b = fingerprint(&Secret::new("at-secret-2"));
        assert_ne!(a, b);
        assert_eq!(a, fingerprint(&Secret::new("at-secret-1")));
        assert_eq!(a.len(), 16);
        assert!(!a.contains("secret"));
    }

    #[test]
    fn backoff_doubles_and_saturates() {
        let s = Duration::from_secs;
        assert_eq!(backoff(s(5), s(300), 0), s(5));
        assert_eq!(backoff(s(5), s(300), 1), s(5));
        assert_eq!(backoff(s(5), s(300), 2), s(10));
        assert_eq!(backoff(s(5), s(300), 7), s(300));
        assert_eq!(backoff(s(5), s(300), u32::MAX), s(300));
        assert_eq!(
            backoff(Duration::MAX, Duration::MAX, u32::MAX),
            Duration::MAX
        );
    }

    #[test]
    fn stored_pauses_are_bounded_whatever_the_clock() {
        let min = 60_000;
        // Ordinary failure: 5 s.
        assert_eq!(
            failure_pause_left(0, 1, 1_000),
            Some(Duration::from_secs(4))
        );
        assert_eq!(failure_pause_left(0, 1, 5_000), None);
        // The refused refresh token, about to be sent again: 30 min, then 60.
        let refused = RefusedRefresh {
            token: "r".into(),
            at_ms: 0,
            in_a_row: 1,
            code: 1002,
        };
        assert_eq!(
            refused.pause_left("r", 29 * min),
            Some(Duration::from_secs(60))
        );
        assert_eq!(refused.pause_left("r", 30 * min), None);
        let twice = RefusedRefresh {
            in_a_row: 2,
            ..refused.clone()
        };
        assert!(twice.pause_left("r", 59 * min).is_some());
        // Another refresh token: no pause.
        assert_eq!(refused.pause_left("s", 1), None);
        assert_eq!(RefusedRefresh::from_note(&refused.to_note()), Some(refused));
        assert_eq!(RefusedRefresh::from_note("{"), None);
        // A failure from the future pauses no longer than its pause.
        assert_eq!(
            failure_pause_left(i64::MAX, u32::MAX, i64::MIN),
            Some(MAX_FAILURE_BACKOFF)
        );
        assert_eq!(failure_pause_left(i64::MIN, 1, i64::MAX), None);
    }
}
