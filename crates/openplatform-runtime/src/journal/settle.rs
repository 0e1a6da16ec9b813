//! The settle rules: from an entry and the platform's answer to the entry's next state.
//! Pure functions (no I/O, no clock), so every schedule of answers can be enumerated in
//! a test.
//!
//! The rules are those of the points recovery protocol (`gree_ump::recovery`), kept in
//! the store instead of a future:
//! - a success applies the entry;
//! - "key already used" after an attempt that may have landed is that attempt having
//!   applied it (keyed writes); on a first attempt, another write holds the key;
//! - a refusal after an attempt that may have landed is confirmed by one more attempt
//!   after the attempt lifetime (the earlier attempt can land no later than that);
//! - an unknown outcome is re-sent after a capped backoff, without limit, unless the
//!   write is never re-sent (then an operator decides), or its outcome has been unknown
//!   longer than the platform can be trusted to remember a repeat (then a probe, where
//!   the write has one, or an operator);
//! - a write settled by a probe is probed, after the attempt lifetime, before any
//!   re-send.

use std::time::Duration;

use super::entry::{Entry, Settlement};
use crate::endpoint::Settle;
use crate::error::{Error, Outcome};
use crate::error_code::ApiErrorCode;

/// How the drainer paces and bounds its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct SettlePolicy {
    /// After an attempt that may have landed, how long before it certainly never will
    /// (the document states no bound; well above a call's timeout): a refusal is
    /// confirmed, and a probe is trusted, only after it. Default 120 s.
    pub attempt_lifetime: Duration,
    /// The pause before the first re-send; doubled per attempt. Default 1 s.
    pub backoff_base: Duration,
    /// The longest pause between attempts. Default 5 min.
    pub backoff_cap: Duration,
    /// How long an outcome may stay unknown before a re-send can no longer be trusted to
    /// be recognised as a repeat (the document states no window for `change_id` or an
    /// order number): then the write is probed where it has a probe, or waits for an
    /// operator. Default 24 h.
    pub reconcile_after: Duration,
}

impl Default for SettlePolicy {
    fn default() -> Self {
        SettlePolicy {
            attempt_lifetime: Duration::from_secs(120),
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(300),
            reconcile_after: Duration::from_secs(24 * 3600),
        }
    }
}

impl SettlePolicy {
    /// The pause after `attempts` attempts: `backoff_base` doubled per attempt, at most
    /// `backoff_cap`.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(30);
        self.backoff_base
            .saturating_mul(1u32 << doublings)
            .min(self.backoff_cap)
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// What one attempt's result says, from the runtime's one reading of an error
/// ([`Error::outcome`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptAnswer {
    /// Applied by this attempt: the platform's `data` as JSON, if any.
    Applied {
        /// The `data`.
        data: Option<String>,
    },
    /// The platform answered that the write's key is in effect.
    KeyInUse {
        /// What it said.
        error: String,
    },
    /// A definitive refusal: this attempt applied nothing.
    Refused {
        /// The code, when the platform gave one.
        code: Option<i64>,
        /// What it said (scrubbed of secrets and personal data by the runtime).
        message: String,
    },
    /// It may have been applied: no answer proves what happened.
    Unknown {
        /// Why.
        error: String,
    },
    /// It never left the process, and may later (no token yet, the network down).
    NotSent {
        /// Why.
        error: String,
    },
    /// It can never be sent as it is (the request is invalid by the spec's rules).
    Invalid {
        /// Why.
        error: String,
    },
}

impl AttemptAnswer {
    /// Classifies one attempt's result: `data` of a success, or the error.
    pub fn of<C: ApiErrorCode>(result: Result<Option<String>, &Error<C>>) -> AttemptAnswer {
        let error = match result {
            Ok(data) => return AttemptAnswer::Applied { data },
            Err(e) => e,
        };
        let text = error.to_string();
        match error.outcome() {
            Outcome::KeyInUse | Outcome::AppliedEarlier => AttemptAnswer::KeyInUse { error: text },
            // A refusal the platform may lift (a rate limit answered as an error code):
            // nothing applied, worth another attempt.
            Outcome::Refused if error.is_transient() => AttemptAnswer::NotSent { error: text },
            // The credentials were refused, not the write (a token the platform stopped
            // accepting even after the client's one refresh): nothing applied, and the
            // write was never judged. Refusing it for good would drop a sale's write over
            // a token; it waits, visible as pending with this error, until a token works.
            Outcome::Refused if is_credential_refusal(error) => {
                AttemptAnswer::NotSent { error: text }
            }
            Outcome::Refused => AttemptAnswer::Refused {
                code: error.code().map(|c| c.code()),
                message: text,
            },
            Outcome::NotSent if matches!(error, Error::Request(_)) => {
                AttemptAnswer::Invalid { error: text }
            }
            Outcome::NotSent => AttemptAnswer::NotSent { error: text },
            _ => AttemptAnswer::Unknown { error: text },
        }
    }
}

/// An error answer of category `auth`: the caller's credentials, not its request.
fn is_credential_refusal<C: ApiErrorCode>(error: &Error<C>) -> bool {
    matches!(error, Error::Api(e) if e.category() == crate::error_code::ErrorCategory::Auth)
}

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeAnswer {
    /// The write is in effect; the `data` a success would have carried, if known.
    InEffect {
        /// The `data`.
        data: Option<String>,
    },
    /// The write is not in effect (and, the attempt lifetime having passed, never will
    /// be by an earlier attempt): it can be sent again.
    NotInEffect,
    /// Part of it is in effect: an operator decides.
    Partly {
        /// What was found.
        what: String,
    },
    /// The probe could not tell (its own call failed).
    Unknown {
        /// Why.
        error: String,
    },
}

/// What to do with a claimed entry before sending it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Before {
    /// Send it.
    Send,
    /// Probe it first.
    Probe,
    /// Leave it pending until then (ms).
    WaitUntil(i64),
    /// It needs an operator, for this reason.
    Attention(String),
}

/// The step before an attempt of `entry`, settled by `settle`, at `now_ms`.
pub fn before_attempt(entry: &Entry, settle: Settle, policy: &SettlePolicy, now_ms: i64) -> Before {
    if !entry.landing_possible {
        return Before::Send;
    }
    let lifetime_over = entry
        .last_attempt_ms
        .map_or(now_ms, |t| t.saturating_add(ms(policy.attempt_lifetime)));
    let unknown_too_long = entry
        .unknown_since_ms
        .is_some_and(|t| now_ms.saturating_sub(t) >= ms(policy.reconcile_after));
    match settle {
        Settle::Never => Before::Attention(
            "an attempt may have reached the platform, and this write is never sent again \
             by itself: check the platform, then resolve the entry"
                .into(),
        ),
        Settle::Probe if now_ms < lifetime_over => Before::WaitUntil(lifetime_over),
        Settle::Probe => Before::Probe,
        _ if unknown_too_long => Before::Attention(format!(
            "the outcome has been unknown for {} h or more, longer than the platform can be \
             trusted to recognise a repeat: check the platform, then resolve the entry",
            policy.reconcile_after.as_secs() / 3600
        )),
        _ => Before::Send,
    }
}

/// What a probe's answer makes of the entry: `None` to send it now (not in effect).
pub fn after_probe(
    entry: &Entry,
    answer: ProbeAnswer,
    policy: &SettlePolicy,
    now_ms: i64,
) -> Option<Settlement> {
    match answer {
        ProbeAnswer::InEffect { data } => Some(Settlement::Applied { result: data }),
        ProbeAnswer::NotInEffect => None,
        ProbeAnswer::Partly { what } => Some(Settlement::Attention {
            error: format!("a probe found the write in effect in part: {what}"),
        }),
        ProbeAnswer::Unknown { error } => Some(Settlement::Retry {
            next_attempt_ms: now_ms.saturating_add(ms(policy.backoff(entry.attempts))),
            landing_possible: true,
            confirming_refusal: entry.confirming_refusal,
            error: format!("the probe failed: {error}"),
        }),
    }
}

/// What an attempt's answer makes of the entry. `entry` is as it stood before the
/// attempt began (`landed_before`: whether an earlier attempt may have landed, false
/// after a probe found it not in effect).
pub fn after_attempt(
    entry: &Entry,
    landed_before: bool,
    settle: Settle,
    answer: AttemptAnswer,
    policy: &SettlePolicy,
    now_ms: i64,
) -> Settlement {
    let attempts = entry.attempts.saturating_add(1);
    let retry =
        |landing_possible: bool, confirming_refusal: bool, error: String, pause: Duration| {
            Settlement::Retry {
                next_attempt_ms: now_ms.saturating_add(ms(pause)),
                landing_possible,
                confirming_refusal,
                error,
            }
        };
    match answer {
        AttemptAnswer::Applied { data } => Settlement::Applied { result: data },
        AttemptAnswer::KeyInUse { error } => match settle {
            Settle::Keyed { .. } if landed_before => Settlement::Applied { result: None },
            Settle::Keyed { .. } => Settlement::Attention {
                error: format!(
                    "the write's key was already in effect at its first attempt (another \
                     write holds it, or an earlier run of this one): {error}"
                ),
            },
            _ => Settlement::Refused {
                result: refusal(None, &error),
            },
        },
        AttemptAnswer::Refused { code, message } => {
            if landed_before && !entry.confirming_refusal {
                // An earlier attempt may still land: ask once more after it cannot.
                retry(
                    true,
                    true,
                    format!(
                        "refused, to be confirmed once an earlier attempt cannot land: {message}"
                    ),
                    policy.attempt_lifetime,
                )
            } else {
                Settlement::Refused {
                    result: refusal(code, &message),
                }
            }
        }
        AttemptAnswer::Unknown { error } => match settle {
            Settle::Never => Settlement::Attention {
                error: format!(
                    "the outcome is unknown and this write is never sent again by itself: {error}"
                ),
            },
            _ => retry(true, false, error, policy.backoff(attempts)),
        },
        AttemptAnswer::NotSent { error } => retry(
            landed_before,
            entry.confirming_refusal,
            error,
            policy.backoff(attempts),
        ),
        AttemptAnswer::Invalid { error } if landed_before => Settlement::Attention {
            error: format!(
                "an earlier attempt may have landed, and the request is now invalid: {error}"
            ),
        },
        AttemptAnswer::Invalid { error } => Settlement::Refused {
            result: refusal(None, &error),
        },
    }
}

/// A refusal as the entry's result: `{"code":…,"message":…}`.
pub fn refusal(code: Option<i64>, message: &str) -> String {
    serde_json::json!({ "code": code, "message": message }).to_string()
}

#[cfg(test)]
mod tests {
    //! Every schedule of fates an attempt can meet, for each settle path, against a
    //! model platform: the write is applied at most once, and the entry ends applied
    //! exactly when the platform holds it, refused only when it does not.

    use super::*;
    use crate::journal::entry::{Entry, EntryState, NewEntry, Update};

    /// What becomes of one attempt.
    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Fate {
        /// Processed and answered.
        Answered,
        /// Processed, the reply lost.
        ReplyLost,
        /// Not processed, answered busy.
        Busy,
        /// Never left the process.
        NotSent,
    }

    const FATES: [Fate; 4] = [Fate::Answered, Fate::ReplyLost, Fate::Busy, Fate::NotSent];

    /// The model platform: whether the write is in effect, and whether the business
    /// rules accept it (a debit the member can afford).
    struct Platform {
        applied: u32,
        accepts: bool,
        conflict_code: i64,
    }

    impl Platform {
        /// Processes one attempt; the answer it would give.
        fn process(&mut self, settle: Settle) -> AttemptAnswer {
            match settle {
                Settle::Keyed { .. } if self.applied > 0 => AttemptAnswer::KeyInUse {
                    error: format!("error {}", self.conflict_code),
                },
                // An identical repeat answers the first answer.
                Settle::Identical if self.applied > 0 => AttemptAnswer::Applied {
                    data: Some("1".into()),
                },
                _ if self.accepts => {
                    self.applied += 1;
                    AttemptAnswer::Applied {
                        data: Some("1".into()),
                    }
                }
                _ => AttemptAnswer::Refused {
                    code: Some(150_008),
                    message: "not enough points".into(),
                },
            }
        }
    }

    fn policy() -> SettlePolicy {
        SettlePolicy {
            attempt_lifetime: Duration::from_secs(120),
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(60),
            reconcile_after: Duration::from_secs(24 * 3600),
        }
    }

    /// Runs the entry through `fates` (then answered attempts until it settles, at most
    /// a few), as a drainer would; returns the entry's final state.
    fn run(settle: Settle, accepts: bool, fates: &[Fate]) -> (EntryState, u32) {
        let policy = policy();
        let mut platform = Platform {
            applied: 0,
            accepts,
            conflict_code: 150_002,
        };
        let mut entry = Entry::recorded(
            1,
            NewEntry {
                method: "m".into(),
                body: "{}".into(),
                order_keys: vec![],
                created_ms: 0,
            },
        );
        let mut now = 0;
        let mut fates = fates
            .iter()
            .copied()
            .chain(std::iter::repeat(Fate::Answered));
        for _ in 0..12 {
            now = now.max(entry.next_attempt_ms);
            entry.claim(now, 60_000);
            let mut landed_before = entry.landing_possible;
            match before_attempt(&entry, settle, &policy, now) {
                Before::Send => {}
                Before::WaitUntil(t) => {
                    entry.apply(
                        &Update::Settle(Settlement::Retry {
                            next_attempt_ms: t,
                            landing_possible: true,
                            confirming_refusal: entry.confirming_refusal,
                            error: "wait".into(),
                        }),
                        now,
                    );
                    continue;
                }
                Before::Attention(error) => {
                    entry.apply(&Update::Settle(Settlement::Attention { error }), now);
                    break;
                }
                Before::Probe => {
                    let answer = if platform.applied > 0 {
                        ProbeAnswer::InEffect { data: None }
                    } else {
                        ProbeAnswer::NotInEffect
                    };
                    match after_probe(&entry, answer, &policy, now) {
                        Some(s) => {
                            entry.apply(&Update::Settle(s), now);
                            if entry.state != EntryState::Pending {
                                break;
                            }
                            continue;
                        }
                        None => landed_before = false,
                    }
                }
            }
            let before = entry.clone();
            entry.apply(&Update::AttemptBegins, now);
            let answer = match fates.next().unwrap_or(Fate::Answered) {
                Fate::Answered => platform.process(settle),
                Fate::ReplyLost => {
                    platform.process(settle);
                    AttemptAnswer::Unknown {
                        error: "lost".into(),
                    }
                }
                Fate::Busy => AttemptAnswer::Unknown {
                    error: "busy".into(),
                },
                Fate::NotSent => AttemptAnswer::NotSent {
                    error: "down".into(),
                },
            };
            let settlement = after_attempt(&before, landed_before, settle, answer, &policy, now);
            entry.apply(&Update::Settle(settlement), now);
            if entry.state != EntryState::Pending {
                break;
            }
        }
        (entry.state, platform.applied)
    }

    fn schedules(len: usize) -> Vec<Vec<Fate>> {
        let mut all = vec![vec![]];
        for _ in 0..len {
            all = all
                .into_iter()
                .flat_map(|s| {
                    FATES.iter().map(move |f| {
                        let mut s = s.clone();
                        s.push(*f);
                        s
                    })
                })
                .collect();
        }
        all
    }

    #[test]
    fn every_schedule_settles_once_and_truly() {
        let settles = [
            Settle::Keyed {
                conflict_code: 150_002,
            },
            Settle::Identical,
            Settle::Probe,
            Settle::Never,
        ];
        let mut explored = 0;
        for settle in settles {
            for accepts in [true, false] {
                for fates in schedules(4) {
                    let (state, applied) = run(settle, accepts, &fates);
                    explored += 1;
                    let what = format!("{settle:?} accepts={accepts} {fates:?}");
                    assert!(applied <= 1, "applied twice: {what}");
                    match state {
                        EntryState::Applied => assert_eq!(applied, 1, "{what}"),
                        EntryState::Refused => assert_eq!(applied, 0, "{what}"),
                        EntryState::Attention => {
                            assert_eq!(
                                settle,
                                Settle::Never,
                                "only a write never re-sent waits for an operator here: {what}"
                            );
                        }
                        other => {
                            panic!("unsettled ({other:?}) after the platform answered: {what}")
                        }
                    }
                }
            }
        }
        assert_eq!(explored, 4 * 2 * 256);
    }

    #[test]
    fn a_key_in_use_at_the_first_attempt_needs_an_operator() {
        let mut platform_has_it = Entry::recorded(
            1,
            NewEntry {
                method: "m".into(),
                body: "{}".into(),
                order_keys: vec![],
                created_ms: 0,
            },
        );
        platform_has_it.claim(0, 1);
        let settlement = after_attempt(
            &platform_has_it,
            false,
            Settle::Keyed {
                conflict_code: 150_002,
            },
            AttemptAnswer::KeyInUse {
                error: "150002".into(),
            },
            &policy(),
            0,
        );
        assert!(
            matches!(settlement, Settlement::Attention { .. }),
            "{settlement:?}"
        );
    }

    #[test]
    fn an_old_unknown_outcome_is_not_re_sent_blindly() {
        let mut entry = Entry::recorded(
            1,
            NewEntry {
                method: "m".into(),
                body: "{}".into(),
                order_keys: vec![],
                created_ms: 0,
            },
        );
        entry.apply(&Update::AttemptBegins, 0);
        let day = 24 * 3600 * 1000;
        let keyed = Settle::Keyed {
            conflict_code: 150_002,
        };
        assert_eq!(
            before_attempt(&entry, keyed, &policy(), day - 1),
            Before::Send
        );
        assert!(matches!(
            before_attempt(&entry, keyed, &policy(), day),
            Before::Attention(_)
        ));
        assert_eq!(
            before_attempt(&entry, Settle::Probe, &policy(), day),
            Before::Probe
        );
        assert_eq!(
            before_attempt(&entry, Settle::Probe, &policy(), 1_000),
            Before::WaitUntil(120_000),
            "a probe waits until the attempt cannot land"
        );
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let p = policy();
        assert_eq!(p.backoff(1), Duration::from_secs(1));
        assert_eq!(p.backoff(3), Duration::from_secs(4));
        assert_eq!(p.backoff(100), Duration::from_secs(60));
        assert_eq!(p.backoff(u32::MAX), Duration::from_secs(60));
    }
}
