//! Points changes (3.3) applied exactly once, whatever the network does, as one call.
//!
//! ## The protocol: re-send the same change under the same `change_id`
//!
//! A change whose outcome is unknown (timeout, connection lost, busy, a garbled reply) is
//! sent again, unchanged, under the **same** `change_id`, until an answer is definitive:
//!
//! - success: applied now, by this attempt (the statement id is known);
//! - 150002 "key already used" after an attempt that may have landed: applied by that
//!   earlier attempt (its statement id was lost with its reply);
//! - 150002 on a first attempt: the key is in effect, by an earlier run of this same
//!   change or by another change; which one, no answer tells
//!   ([`PointsChangeOutcome::KeyInUse`]): settle it with [`resolve_points_change`] when
//!   this change was sent before;
//! - a refusal (150003, 110004…): nothing of this call is in effect — reported only once
//!   no earlier attempt can still land (see A3);
//! - nothing could be sent (no token, a spent token budget): [`PointsChangeOutcome::NotSent`];
//! - attempts spent: [`PointsChangeOutcome::Unresolved`]; call [`resolve_points_change`]
//!   later with the same request. Never re-send it under another `change_id` yourself.
//!
//! **Guarantee.** Every attempt of one logical change carries one `change_id`, and the
//! platform applies at most one write per `change_id`; so at most one attempt is ever
//! applied — however late an attempt arrives, and in whatever order. No second effect is
//! ever produced under a new `change_id`, because none is ever minted. The outcome is
//! read from answers that cannot be wrong about the past: success and "key already used"
//! both prove that one attempt is in effect.
//!
//! **Why not the rollback of 3.4.1** (roll back by `change_id`, then re-apply under a
//! new id)? A rollback that reaches the platform before a delayed original is answered
//! "not found" (1005), and the document keeps no tombstone: the original lands later and
//! the re-application doubles it. Only a bound on every attempt's lifetime would close
//! that window, and the document states none; the same-key protocol needs none for
//! success. A 150002 on a rollback proves nothing about the change either (the rollback
//! key may have been used before), which is why this module no longer rolls back.
//!
//! **Assumptions** (what the platform must guarantee; the document's words in brackets):
//! - A1. `change_id` is unique for all time: a second write under it is never applied
//!   and is answered 150002 (用于平台幂等性保证; 150002 唯一标识已存在), also when the two
//!   attempts arrive at the same time (an atomic uniqueness check).
//! - A2. The key is checked before the business rules, so an attempt under a key that
//!   is in effect is answered 150002, not "insufficient points" (idempotency first).
//! - A3. Only for refusals: an attempt not applied within [`Recovery::attempt_lifetime`]
//!   of being sent is never applied (the document states no bound; choose one well above
//!   the client's request timeout). A refusal that follows an attempt that may have
//!   landed is confirmed by one more attempt after that lifetime.
//! - A4. The caller's `change_id` is fresh: never used by another change. A key used
//!   before answers 150002 on the first attempt, which is reported as
//!   [`PointsChangeOutcome::KeyInUse`], never as a refusal: an operator re-sending a
//!   change an earlier run applied gets exactly that answer.
//!
//! [`ChangeProtocol`] is the protocol as a state machine without I/O: [`change_points_reliably`]
//! drives it over HTTP, and the workspace's schedule-exploring test drives it over the
//! sandbox's ledger through every interleaving of attempts and their fates.
//!
//! ## Orders, returns, coupon verification (4.1–4.3, 5.4)
//!
//! They carry no idempotency key; their natural key identifies a duplicate (errata E70):
//! `order_no` (4.1), the return's own `order_no` (4.2, 4.3), `order_no` with the coupon
//! codes (5.4), and the *identical* request again answers the first answer. So
//! [`settle_write`] settles a lost reply the same way: it re-sends the identical request
//! (the same value, every field as first sent — build `consume_date` and
//! `verification_time` once, outside the call, never from the clock per attempt) while
//! the outcome is unknown. Its guarantee rests on A1–A3 with the natural key in place of
//! `change_id` and "the first answer again" in place of 150002; the document itself
//! promises neither, which is why these endpoints are never repeated automatically.

use std::time::Duration;

use openplatform_runtime::{CallOptions, Outcome, RetryPolicy};

use crate::endpoints::{
    AddOrderRequest, ChangePointsRequest, RefundOrderPartiallyRequest, RefundOrderRequest,
    VerifyCouponsRequest,
};
use crate::{Client, Endpoint, Error, ErrorCode};

/// How [`change_points_reliably`] repeats a change whose outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovery {
    /// Pause between attempts whose answer was not definitive.
    pub poll_interval: Duration,
    /// Attempts in all before giving up with [`PointsChangeOutcome::Unresolved`].
    pub max_attempts: u32,
    /// The longest an attempt can take to be applied after it was sent (assumption A3 of
    /// the module docs). Used only to confirm a refusal that follows an attempt that may
    /// have landed: the change is sent once more after this long.
    pub attempt_lifetime: Duration,
}

impl Default for Recovery {
    /// 10 attempts 1 s apart; an attempt lifetime of 120 s, four times the client's
    /// default request timeout (30 s).
    fn default() -> Self {
        Recovery {
            poll_interval: Duration::from_secs(1),
            max_attempts: 10,
            attempt_lifetime: Duration::from_secs(120),
        }
    }
}

/// Who applied a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppliedBy {
    /// The attempt whose success reply came back: the statement id is known.
    ThisAttempt,
    /// An earlier attempt whose reply was lost (a later one was answered 150002): the
    /// statement id is not known, and the document has no call to look it up.
    EarlierAttempt,
}

/// What happened to a points change, as far as the platform's answers prove.
///
/// Exhaustive on purpose (as [`WriteOutcome`] and the journal's `Outcome`): these are
/// every fate the platform's answers can prove, and the `match` on them is where a till
/// decides what to tell its customer, so a new outcome must fail to compile there (a
/// major version) rather than fall into a wildcard.
///
/// ```
/// # use gree_ump::recovery::PointsChangeOutcome;
/// fn tell(outcome: &PointsChangeOutcome) -> &'static str {
///     match outcome {
///         PointsChangeOutcome::Applied { .. } => "points changed",
///         PointsChangeOutcome::Refused(_) => "refused: nothing changed",
///         PointsChangeOutcome::KeyInUse { .. } => "already done under this key",
///         PointsChangeOutcome::NotSent(_) => "not sent: nothing changed",
///         PointsChangeOutcome::Unresolved { .. } => "pending: resolve it later",
///     }
/// }
/// ```
#[derive(Debug)]
pub enum PointsChangeOutcome {
    /// The change is in effect, exactly once, under `change_id` (the request's own).
    Applied {
        /// The request's `change_id`, under which the change is in effect.
        change_id: String,
        /// The points statement id (`statement_id` of the 3.3 reply); known only when
        /// [`AppliedBy::ThisAttempt`].
        statement_id: Option<String>,
        /// Which attempt applied it.
        by: AppliedBy,
        /// Attempts made.
        attempts: u32,
    },
    /// The platform refused the change with a definitive answer (150003 insufficient
    /// points, 110004 no such member…): nothing of this change is in effect, and nothing
    /// can land later.
    Refused(Error),
    /// The first attempt was answered "key already used" (150002): the key is in effect,
    /// by an earlier run of this same change or by another change, and this call
    /// applied nothing. If this change was sent before, settle it with
    /// [`resolve_points_change`] (which reports it applied); never re-send it under a
    /// new `change_id` unless you know the key belongs to another change.
    KeyInUse {
        /// The request's `change_id`, which is in use.
        change_id: String,
        /// The platform's answer.
        error: Error,
    },
    /// No attempt left the process (no token could be had, a spent token budget, a
    /// connection never made): nothing of this change is in effect, nothing can land.
    NotSent(Error),
    /// The outcome is still unknown after the attempts. Keep the request and call
    /// [`resolve_points_change`] with it later; do not send it under another id.
    Unresolved {
        /// The request's `change_id`: resolve it under this id, never another.
        change_id: String,
        /// The failure of the last attempt.
        last_error: Error,
    },
}

/// What one attempt's answer says, for [`ChangeProtocol`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Success: applied by this attempt.
    Applied {
        /// The statement id the reply carried, if any.
        statement_id: Option<String>,
    },
    /// "Key already used" (150002).
    KeyAlreadyUsed,
    /// A definitive refusal of this attempt.
    Refused,
    /// No definitive answer, and the attempt may have been applied (lost or garbled
    /// reply, timeout after sending, busy, 5xx).
    Unknown,
    /// No answer, and the attempt certainly did not reach the platform (connection
    /// refused, no token for now), or it was answered in a way that applied nothing and
    /// may pass later (429).
    NotSent,
    /// Nothing was sent, and repeating cannot help before someone acts (a spent token
    /// budget, a token call the policy does not allow, a request refused before sending).
    CannotSend,
}

impl Answer {
    /// Classifies a call's result.
    pub fn of<T>(
        result: &Result<T, Error>,
        statement_id: impl FnOnce(&T) -> Option<String>,
    ) -> Self {
        match result {
            Ok(reply) => Answer::Applied {
                statement_id: statement_id(reply),
            },
            // What the error proves is read in one place (the runtime's Error::outcome);
            // here only whether repeating can help is added.
            Err(e) => match e.outcome() {
                Outcome::AppliedEarlier | Outcome::KeyInUse => Answer::KeyAlreadyUsed,
                Outcome::Refused | Outcome::NotSent if e.is_transient() => Answer::NotSent,
                Outcome::Refused => Answer::Refused,
                Outcome::NotSent => Answer::CannotSend,
                _ => Answer::Unknown,
            },
        }
    }
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send the same request again, under the same `change_id`, after this pause.
    SendAfter(Duration),
    /// The protocol is over.
    Done(Verdict),
}

/// The protocol's conclusion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The change is in effect, exactly once.
    Applied {
        /// The statement id; known only when [`AppliedBy::ThisAttempt`].
        statement_id: Option<String>,
        /// Which attempt applied it.
        by: AppliedBy,
    },
    /// Nothing of the change is in effect, and nothing can land later.
    Refused,
    /// The first answer was "key already used": the key is in effect, by another change
    /// or by an earlier run of this one; this call applied nothing.
    KeyInUse,
    /// No attempt was ever sent: nothing can land.
    NotSent,
    /// The attempts are spent and an attempt may still have been applied: resolve later
    /// with [`ChangeProtocol::resending`].
    Unresolved,
}

/// The same-key protocol of the module docs, without I/O: feed it each attempt's
/// [`Answer`], do what the [`Step`] says.
#[derive(Debug, Clone)]
pub struct ChangeProtocol {
    recovery: Recovery,
    attempts: u32,
    /// Some attempt (of this call, or before it, when resolving) may have been applied.
    may_have_landed: bool,
    /// The lifetime was waited out since the last attempt that may have landed.
    waited_out: bool,
}

impl ChangeProtocol {
    /// A change sent for the first time.
    pub fn new(recovery: Recovery) -> Self {
        ChangeProtocol {
            recovery,
            attempts: 0,
            may_have_landed: false,
            waited_out: false,
        }
    }

    /// A change sent before, whose outcome was left unknown (resolving it).
    pub fn resending(recovery: Recovery) -> Self {
        ChangeProtocol {
            may_have_landed: true,
            ..ChangeProtocol::new(recovery)
        }
    }

    /// Attempts answered so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The next step after an attempt's answer.
    pub fn on_answer(&mut self, answer: Answer) -> Step {
        self.attempts += 1;
        let more = self.attempts < self.recovery.max_attempts.max(1);
        match answer {
            Answer::Applied { statement_id } => Step::Done(Verdict::Applied {
                statement_id,
                by: AppliedBy::ThisAttempt,
            }),
            // A1: the key is in effect. If one of our attempts may have landed, it is ours
            // (A4); otherwise another change holds the key and ours never can.
            Answer::KeyAlreadyUsed if self.may_have_landed => Step::Done(Verdict::Applied {
                statement_id: None,
                by: AppliedBy::EarlierAttempt,
            }),
            Answer::KeyAlreadyUsed => Step::Done(Verdict::KeyInUse),
            // A2: no attempt is in effect now. Final unless an earlier one can still land.
            Answer::Refused if !self.may_have_landed || self.waited_out => {
                Step::Done(Verdict::Refused)
            }
            Answer::Refused => {
                // A3: once the lifetime has passed, ask once more: 150002 (it landed
                // meanwhile) or the refusal again (it never will).
                self.waited_out = true;
                Step::SendAfter(self.recovery.attempt_lifetime)
            }
            Answer::Unknown => {
                self.may_have_landed = true;
                self.waited_out = false;
                self.again(more)
            }
            Answer::NotSent => self.again(more),
            // Repeating cannot help: settle later what may have landed.
            Answer::CannotSend if self.may_have_landed => Step::Done(Verdict::Unresolved),
            Answer::CannotSend => Step::Done(Verdict::NotSent),
        }
    }

    fn again(&self, more: bool) -> Step {
        match (more, self.may_have_landed) {
            (true, _) => Step::SendAfter(self.recovery.poll_interval),
            (false, true) => Step::Done(Verdict::Unresolved),
            // Nothing was ever sent: nothing can land.
            (false, false) => Step::Done(Verdict::NotSent),
        }
    }
}

/// Applies a points change exactly once: sends it, and while the outcome is unknown sends
/// it again under the same `change_id` (see the module docs for the guarantee and its
/// assumptions).
pub async fn change_points_reliably(
    client: &Client,
    request: ChangePointsRequest,
    recovery: Recovery,
) -> PointsChangeOutcome {
    drive(client, request, ChangeProtocol::new(recovery)).await
}

/// Settles a change left [`PointsChangeOutcome::Unresolved`] (or any change sent before
/// whose reply was lost): sends the same request again, knowing an earlier attempt may
/// have landed, so that 150002 reads as applied. The request must be the original,
/// unchanged.
pub async fn resolve_points_change(
    client: &Client,
    request: ChangePointsRequest,
    recovery: Recovery,
) -> PointsChangeOutcome {
    drive(client, request, ChangeProtocol::resending(recovery)).await
}

async fn drive(
    client: &Client,
    request: ChangePointsRequest,
    mut protocol: ChangeProtocol,
) -> PointsChangeOutcome {
    loop {
        // One attempt per call: the protocol, not the client's retry policy, repeats.
        let result = client
            .runtime()
            .send_with(&request, CallOptions::default().retry(RetryPolicy::NONE))
            .await;
        let answer = Answer::of(&result, |r| {
            r.data.as_ref().and_then(|d| d.statement_id.clone())
        });
        let step = protocol.on_answer(answer);
        match (step, result) {
            (Step::SendAfter(pause), Err(e)) => {
                tracing::warn!(change_id = %request.change_id, error = %e, pause_ms = pause.as_millis() as u64, "points change not settled; re-sending under the same change_id");
                tokio::time::sleep(pause).await;
            }
            // The protocol never asks to re-send after a success.
            (Step::SendAfter(pause), Ok(_)) => tokio::time::sleep(pause).await,
            (Step::Done(Verdict::Applied { statement_id, by }), _) => {
                return PointsChangeOutcome::Applied {
                    change_id: request.change_id,
                    statement_id,
                    by,
                    attempts: protocol.attempts(),
                };
            }
            (Step::Done(Verdict::Refused), Err(e)) => return PointsChangeOutcome::Refused(e),
            (Step::Done(Verdict::KeyInUse), Err(error)) => {
                return PointsChangeOutcome::KeyInUse {
                    change_id: request.change_id,
                    error,
                };
            }
            (Step::Done(Verdict::NotSent), Err(e)) => return PointsChangeOutcome::NotSent(e),
            (Step::Done(Verdict::Unresolved), Err(last_error)) => {
                return PointsChangeOutcome::Unresolved {
                    change_id: request.change_id,
                    last_error,
                };
            }
            // A success is always Applied.
            (Step::Done(_), Ok(reply)) => {
                return PointsChangeOutcome::Applied {
                    change_id: request.change_id,
                    statement_id: reply.data.and_then(|d| d.statement_id),
                    by: AppliedBy::ThisAttempt,
                    attempts: protocol.attempts(),
                };
            }
        }
    }
}

/// Writes whose lost reply is settled by re-sending the identical request (errata E70):
/// 4.1 orders, 4.2 and 4.3 returns, 5.4 coupon verification.
pub trait SettledByResend: Endpoint<Code = ErrorCode> + sealed::Sealed {}

mod sealed {
    pub trait Sealed {}
}

macro_rules! settled_by_resend {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl SettledByResend for $t {}
    )*};
}
settled_by_resend!(
    AddOrderRequest,
    RefundOrderRequest,
    RefundOrderPartiallyRequest,
    VerifyCouponsRequest
);

/// What happened to an order, a return or a verification sent with [`settle_write`].
///
/// Exhaustive on purpose (see [`PointsChangeOutcome`]):
///
/// ```
/// # use gree_ump::recovery::WriteOutcome;
/// fn tell<T>(outcome: &WriteOutcome<T>) -> &'static str {
///     match outcome {
///         WriteOutcome::Applied { .. } => "recorded",
///         WriteOutcome::Refused(_) => "refused: nothing changed",
///         WriteOutcome::NotSent(_) => "not sent: nothing changed",
///         WriteOutcome::Unresolved { .. } => "pending: settle it later",
///     }
/// }
/// ```
#[derive(Debug)]
pub enum WriteOutcome<T> {
    /// In effect, once. `data` is the answer's (the platform's order id for 4.1–4.3;
    /// none for 5.4), the same whichever attempt applied it.
    Applied {
        /// The answer's `data`; `None` when the reply carried none.
        data: Option<T>,
        /// Attempts made.
        attempts: u32,
    },
    /// Refused with a definitive answer: nothing is in effect, nothing can land later.
    Refused(Error),
    /// No attempt left the process (no token, a spent token budget…): nothing is in
    /// effect, nothing can land later.
    NotSent(Error),
    /// Still unknown after the attempts: call [`settle_write`] again later with the
    /// same request.
    Unresolved {
        /// The failure of the last attempt.
        last_error: Error,
    },
}

/// Sends an order, a return or a coupon verification, and while its outcome is unknown
/// re-sends the identical request (see the module docs). `request` is sent as it is at
/// every attempt: byte for byte the same body.
pub async fn settle_write<E: SettledByResend>(
    client: &Client,
    request: &E,
    recovery: Recovery,
) -> WriteOutcome<E::Data> {
    // The same protocol as points changes: an identical repeat answers the first answer
    // (Answer::Applied) where a keyed change answers 150002.
    let mut protocol = ChangeProtocol::new(recovery);
    loop {
        let result = client
            .runtime()
            .send_with(request, CallOptions::default().retry(RetryPolicy::NONE))
            .await;
        match (protocol.on_answer(Answer::of(&result, |_| None)), result) {
            (_, Ok(reply)) => {
                return WriteOutcome::Applied {
                    data: reply.data,
                    attempts: protocol.attempts(),
                };
            }
            (Step::SendAfter(pause), Err(e)) => {
                tracing::warn!(method = E::INFO.method, error = %e, pause_ms = pause.as_millis() as u64, "write not settled; re-sending the identical request");
                tokio::time::sleep(pause).await;
            }
            (Step::Done(Verdict::Unresolved), Err(last_error)) => {
                return WriteOutcome::Unresolved { last_error };
            }
            (Step::Done(Verdict::NotSent), Err(e)) => return WriteOutcome::NotSent(e),
            // No conflict code exists for these endpoints: a "key used" answer can only
            // be the platform refusing other content under the key.
            (Step::Done(_), Err(e)) => return WriteOutcome::Refused(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick() -> Recovery {
        Recovery {
            poll_interval: Duration::from_millis(1),
            max_attempts: 3,
            attempt_lifetime: Duration::from_secs(5),
        }
    }

    #[test]
    fn key_used_means_applied_only_after_a_possible_landing() {
        let mut p = ChangeProtocol::new(quick());
        assert_eq!(
            p.on_answer(Answer::KeyAlreadyUsed),
            Step::Done(Verdict::KeyInUse)
        );
        let mut p = ChangeProtocol::new(quick());
        assert_eq!(
            p.on_answer(Answer::NotSent),
            Step::SendAfter(quick().poll_interval)
        );
        assert_eq!(
            p.on_answer(Answer::KeyAlreadyUsed),
            Step::Done(Verdict::KeyInUse)
        );
        let mut p = ChangeProtocol::new(quick());
        assert_eq!(
            p.on_answer(Answer::Unknown),
            Step::SendAfter(quick().poll_interval)
        );
        assert_eq!(
            p.on_answer(Answer::KeyAlreadyUsed),
            Step::Done(Verdict::Applied {
                statement_id: None,
                by: AppliedBy::EarlierAttempt
            })
        );
        let mut p = ChangeProtocol::resending(quick());
        assert!(matches!(
            p.on_answer(Answer::KeyAlreadyUsed),
            Step::Done(Verdict::Applied { .. })
        ));
    }

    #[test]
    fn a_refusal_after_a_possible_landing_waits_out_the_lifetime() {
        let mut p = ChangeProtocol::new(quick());
        p.on_answer(Answer::Unknown);
        assert_eq!(
            p.on_answer(Answer::Refused),
            Step::SendAfter(quick().attempt_lifetime)
        );
        // Another unknown attempt re-opens the window.
        assert_eq!(
            p.on_answer(Answer::Unknown),
            Step::Done(Verdict::Unresolved)
        );
        let mut p = ChangeProtocol::new(Recovery {
            max_attempts: 10,
            ..quick()
        });
        p.on_answer(Answer::Unknown);
        p.on_answer(Answer::Refused);
        assert_eq!(p.on_answer(Answer::Refused), Step::Done(Verdict::Refused));
    }

    /// The verdict of a first attempt answered `body` (HTTP 200), as
    /// [`change_points_reliably`] reaches it: the typed call's result, its answer, the
    /// protocol's step.
    fn first_answer(body: &str) -> (Answer, Step) {
        let result = openplatform_runtime::decode_response::<ChangePointsRequest>(
            &crate::PROTOCOL,
            200,
            body.as_bytes(),
        );
        let answer = Answer::of(&result, |r| {
            r.data.as_ref().and_then(|d| d.statement_id.clone())
        });
        let step = ChangeProtocol::new(quick()).on_answer(answer.clone());
        (answer, step)
    }

    /// A reply with the success code and a statement id reports the change applied,
    /// whatever its flag says (errata E79); a reply whose flag and code disagree with
    /// nothing else to tell is unknown, and is sent again under the same key.
    #[test]
    fn the_success_code_with_a_result_is_applied_whatever_the_flag() {
        for body in [
            r#"{"success":false,"error_code":200,"data":{"statement_id":"S-9"}}"#,
            r#"{"success":"false","errorCode":"200","data":{"statement_id":"S-9"}}"#,
            r#"{"success":true,"error_code":200,"data":{"statement_id":"S-9"}}"#,
        ] {
            let (answer, step) = first_answer(body);
            assert_eq!(
                answer,
                Answer::Applied {
                    statement_id: Some("S-9".into())
                },
                "{body}"
            );
            assert!(
                matches!(step, Step::Done(Verdict::Applied { .. })),
                "{body}: {step:?}"
            );
        }
        for body in [
            r#"{"success":false,"error_code":200}"#,
            r#"{"success":false,"error_code":200,"data":null}"#,
            r#"{"success":false,"data":{"statement_id":"S-9"}}"#,
        ] {
            let (answer, step) = first_answer(body);
            assert_eq!(answer, Answer::Unknown, "{body}");
            assert_eq!(step, Step::SendAfter(quick().poll_interval), "{body}");
        }
        let (answer, step) =
            first_answer(r#"{"success":false,"error_code":150003,"error_message":"积分不足"}"#);
        assert_eq!(answer, Answer::Refused);
        assert_eq!(step, Step::Done(Verdict::Refused));
    }

    /// 150002 on a first attempt proves the key is in effect (by an earlier run of this
    /// change, or by another change), never that this change is not.
    #[test]
    fn key_used_on_a_first_attempt_is_not_a_refusal() {
        let (answer, step) = first_answer(
            r#"{"success":false,"error_code":150002,"error_message":"唯一标识已存在,请更换"}"#,
        );
        assert_eq!(answer, Answer::KeyAlreadyUsed);
        assert_eq!(step, Step::Done(Verdict::KeyInUse));
    }

    #[test]
    fn attempts_spent() {
        let mut p = ChangeProtocol::new(quick());
        p.on_answer(Answer::Unknown);
        p.on_answer(Answer::NotSent);
        assert_eq!(
            p.on_answer(Answer::NotSent),
            Step::Done(Verdict::Unresolved)
        );
        let mut p = ChangeProtocol::new(quick());
        p.on_answer(Answer::NotSent);
        p.on_answer(Answer::NotSent);
        assert_eq!(p.on_answer(Answer::NotSent), Step::Done(Verdict::NotSent));
    }

    /// A spent budget is not repeated in vain: nothing sent is over at once, and an
    /// attempt that may have landed is left to be settled later.
    #[test]
    fn what_cannot_be_sent_is_not_repeated() {
        let mut p = ChangeProtocol::new(quick());
        assert_eq!(
            p.on_answer(Answer::CannotSend),
            Step::Done(Verdict::NotSent)
        );
        let mut p = ChangeProtocol::new(quick());
        p.on_answer(Answer::Unknown);
        assert_eq!(
            p.on_answer(Answer::CannotSend),
            Step::Done(Verdict::Unresolved)
        );
    }
}
