//! The document's recovery protocol for points changes (3.3 with 3.4.1) as one call.
//!
//! A points change (3.3) whose reply is lost leaves the caller not knowing whether the
//! points moved. The document's answer (3.4.1): roll the change back by its `change_id`
//! alone, repeating the rollback until the answer is definitive. A successful rollback
//! means the change had happened and is now undone; "not found" (1005, or 150004) means it
//! never happened. Either way the change is then certainly *not* in effect, and it can be
//! applied again under a new `change_id`.
//!
//! [`change_points_reliably`] runs that protocol and returns a [`PointsChangeOutcome`]:
//! the caller learns whether the points moved, exactly once, or must resolve the change
//! later — never a silent double credit, never a silent loss.
//!
//! ## Limits (read before relying on it)
//! - A rollback that reaches the platform *before* a delayed original change request is
//!   answered "not found"; if the delayed change is processed afterwards, it stands and
//!   the re-applied change doubles it. The protocol cannot exclude this; the pause before
//!   the first rollback ([`Recovery::settle_delay`]) makes it unlikely.
//! - A rollback refused for lack of points (150009: the member already spent them) proves
//!   the change happened; it is reported as applied without a statement id.
//! - When polling ends without a definitive answer the outcome is
//!   [`PointsChangeOutcome::Unresolved`]: keep the `change_id` and call
//!   [`resolve_points_change`] later. Do not re-send the change yourself.

use std::time::Duration;

use openplatform_runtime::{CallOptions, RetryPolicy};

use crate::endpoints::{ChangePointsRequest, RollbackPointsRequest};
use crate::{Client, Error, ErrorCode};

/// How [`change_points_reliably`] polls and re-applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovery {
    /// Pause before the first rollback, so that a slow original request lands first.
    pub settle_delay: Duration,
    /// Pause between rollback attempts whose answer is not definitive.
    pub poll_interval: Duration,
    /// Rollback attempts before giving up with [`PointsChangeOutcome::Unresolved`].
    pub max_polls: u32,
    /// How many times a change that is certainly not in effect is applied again under a
    /// new `change_id` (`0`: report [`PointsChangeOutcome::NotApplied`] instead).
    pub max_reapply: u32,
}

impl Default for Recovery {
    fn default() -> Self {
        Recovery {
            settle_delay: Duration::from_millis(500),
            poll_interval: Duration::from_secs(1),
            max_polls: 10,
            max_reapply: 2,
        }
    }
}

/// What happened to a points change, as far as the platform's answers prove.
#[derive(Debug)]
#[non_exhaustive]
pub enum PointsChangeOutcome {
    /// The change is in effect, once. `change_id` is the one under which it was applied
    /// (the original, or a re-application's); `statement_id` is the platform's id of the
    /// change, absent only when a rollback proved the change without returning it.
    Applied {
        change_id: String,
        statement_id: Option<String>,
        reapplied: u32,
    },
    /// The change is certainly not in effect (it never happened, or it was rolled back),
    /// and it was not applied again.
    NotApplied {
        change_id: String,
        rolled_back: bool,
    },
    /// The platform refused the change with a definitive answer (150003 insufficient
    /// points, 110004 no such member…): nothing moved.
    Refused(Error),
    /// The outcome of `change_id` is still unknown after polling. Keep the id and call
    /// [`resolve_points_change`] later.
    Unresolved {
        change_id: String,
        last_error: Error,
    },
}

/// What a rollback by `change_id` alone proved.
enum Settled {
    /// The change had happened and is now undone (or was undone by an earlier poll).
    RolledBack,
    /// The change never happened.
    NeverHappened,
    /// The change happened and cannot be undone (the points are spent).
    Stands,
}

/// Applies a points change exactly once, following the document's recovery protocol when
/// the outcome of an attempt is unknown (timeout, connection lost, busy, a garbled reply).
/// See the module documentation for the semantics and their limits.
pub async fn change_points_reliably(
    client: &Client,
    request: ChangePointsRequest,
    recovery: Recovery,
) -> PointsChangeOutcome {
    let original_id = request.change_id.clone();
    let mut request = request;
    let mut reapplied = 0;
    loop {
        // Never retried blindly: an unknown outcome goes through the rollback protocol.
        let attempt = client
            .runtime()
            .send_with(&request, CallOptions::default().retry(RetryPolicy::NONE))
            .await;
        let error = match attempt {
            Ok(reply) => {
                return PointsChangeOutcome::Applied {
                    change_id: request.change_id,
                    statement_id: reply.data.and_then(|d| d.statement_id),
                    reapplied,
                };
            }
            Err(e) if !outcome_unknown(&e) => return PointsChangeOutcome::Refused(e),
            Err(e) => e,
        };
        tracing::warn!(change_id = %request.change_id, error = %error, "points change outcome unknown; rolling back by change_id");
        tokio::time::sleep(recovery.settle_delay).await;
        let rolled_back = match settle(client, &request, recovery).await {
            Ok(Settled::Stands) => {
                return PointsChangeOutcome::Applied {
                    change_id: request.change_id,
                    statement_id: None,
                    reapplied,
                };
            }
            Ok(Settled::RolledBack) => true,
            Ok(Settled::NeverHappened) => false,
            Err(last_error) => {
                return PointsChangeOutcome::Unresolved {
                    change_id: request.change_id,
                    last_error,
                };
            }
        };
        if reapplied >= recovery.max_reapply {
            return PointsChangeOutcome::NotApplied {
                change_id: request.change_id,
                rolled_back,
            };
        }
        reapplied += 1;
        request.change_id = format!("{original_id}-r{reapplied}");
    }
}

/// Settles a change whose outcome is unknown by rolling it back by `change_id` alone:
/// afterwards it is certainly not in effect (`NotApplied`) or proven to stand (`Applied`).
pub async fn resolve_points_change(
    client: &Client,
    change: &ChangePointsRequest,
    recovery: Recovery,
) -> PointsChangeOutcome {
    match settle(client, change, recovery).await {
        Ok(Settled::Stands) => PointsChangeOutcome::Applied {
            change_id: change.change_id.clone(),
            statement_id: None,
            reapplied: 0,
        },
        Ok(Settled::RolledBack) => PointsChangeOutcome::NotApplied {
            change_id: change.change_id.clone(),
            rolled_back: true,
        },
        Ok(Settled::NeverHappened) => PointsChangeOutcome::NotApplied {
            change_id: change.change_id.clone(),
            rolled_back: false,
        },
        Err(last_error) => PointsChangeOutcome::Unresolved {
            change_id: change.change_id.clone(),
            last_error,
        },
    }
}

/// Whether an error leaves the change's outcome open. A busy answer (500) is included: the
/// document does not say that a busy gateway applied nothing.
fn outcome_unknown(e: &Error) -> bool {
    e.outcome_unknown() || e.is_transient()
}

async fn settle(
    client: &Client,
    change: &ChangePointsRequest,
    recovery: Recovery,
) -> Result<Settled, Error> {
    // 3.4.1 recovery path: change_id is the original change's; statement_id is not sent.
    let mut rollback = RollbackPointsRequest::new(&change.open_id, change.score, &change.change_id);
    rollback.rollback_activity_score = change.activity_score;
    let polls = recovery.max_polls.max(1);
    let mut poll = 1;
    loop {
        let answer = client
            .runtime()
            .send_with(&rollback, CallOptions::default().retry(RetryPolicy::NONE))
            .await;
        match answer {
            Ok(_) => return Ok(Settled::RolledBack),
            Err(e) => match e.code() {
                // Errata E34: 1005 (the 3.4.1 example) or 150004 mean "no such change".
                Some(ErrorCode::ChangeNotFound | ErrorCode::PointStatementNotFound) => {
                    return Ok(Settled::NeverHappened);
                }
                // The rollback's own key exists: an earlier poll rolled it back.
                Some(ErrorCode::ChangeIdExists) => return Ok(Settled::RolledBack),
                Some(ErrorCode::InsufficientPointsForRollback) => return Ok(Settled::Stands),
                // Not definitive: ask again, until the polls are spent.
                _ if outcome_unknown(&e) && poll < polls => {}
                _ => return Err(e),
            },
        }
        poll += 1;
        tokio::time::sleep(recovery.poll_interval).await;
    }
}
