//! Keyed writes and what their outcome means, in an operator's words. A points change goes
//! through gree-ump's exactly-once protocol (`recovery::change_points_reliably`): resent
//! under its own `change_id` while the outcome is unknown, never under another. Every
//! keyed request type needs an implementation here, so a keyed endpoint added to the spec
//! fails to compile until someone decides its safe path.

use std::future::Future;

use gree_ump::endpoints::{
    ChangePointsRequest, RollbackPointsPartiallyRequest, RollbackPointsRequest,
};
use gree_ump::recovery::{self, AppliedBy, PointsChangeOutcome, Recovery};
use gree_ump::{Endpoint, ErrorCode};
use serde::Serialize;

use crate::run::{CliError, Ctx, Exit, Outcome};

/// A keyed write's safe path.
pub trait Keyed: Endpoint<Code = ErrorCode> + Sized {
    /// Sends the write; `resume`: it was sent before and its outcome is unknown.
    fn run(self, ctx: &Ctx, resume: bool) -> impl Future<Output = Result<Outcome, CliError>>;
}

/// The outcome as printed (stdout, JSON).
#[derive(Serialize)]
struct Report<'a> {
    outcome: &'a str,
    meaning: String,
    change_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    statement_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts: Option<u32>,
}

/// Prints an applied write's report; when stdout refuses it, the write is still reported
/// applied, on stderr, with exit 5.
fn applied(ctx: &Ctx, report: &Report<'_>) -> Result<Outcome, CliError> {
    ctx.output.document(report).map(|()| Outcome).map_err(|e| {
        CliError::applied_but_output_failed(
            &format!(
                "{} (change_id {})",
                report.meaning.trim_end_matches('.'),
                report.change_id
            ),
            serde_json::to_string(report).ok(),
            &e,
        )
    })
}

impl Keyed for ChangePointsRequest {
    async fn run(self, ctx: &Ctx, resume: bool) -> Result<Outcome, CliError> {
        let change_id = self.change_id.clone();
        let plan = Recovery::default();
        let outcome = if resume {
            recovery::resolve_points_change(&ctx.client, self, plan).await
        } else {
            recovery::change_points_reliably(&ctx.client, self, plan).await
        };
        match outcome {
            PointsChangeOutcome::Applied {
                statement_id,
                by,
                attempts,
                ..
            } => {
                let meaning = match by {
                    AppliedBy::ThisAttempt => "The points change is in effect, exactly once.".to_string(),
                    AppliedBy::EarlierAttempt => "The points change is in effect, exactly once: an earlier attempt applied it and its reply was lost, so its statement id is not known.".to_string(),
                };
                applied(
                    ctx,
                    &Report {
                        outcome: "applied",
                        meaning,
                        change_id: &change_id,
                        statement_id,
                        attempts: Some(attempts),
                    },
                )
            }
            // Only the platform's refusal proves the change is not in effect.
            PointsChangeOutcome::Refused(e) => {
                let mut err = CliError::of_call(&e, true);
                if err.exit == Exit::Refused {
                    err.message = format!(
                        "{}\nThe points change {change_id} is not in effect, and no attempt of it can land later.",
                        err.message.trim_end_matches("\nNothing was changed.")
                    );
                }
                Err(err)
            }
            PointsChangeOutcome::KeyInUse { error, .. } => Err(CliError {
                exit: Exit::Unknown,
                message: format!(
                    "{}\nThe change_id {change_id} is already used: by this same points change \
                     (an earlier run applied it) or by another change. This run applied nothing. \
                     If this change was sent before, run the same command again with --resume \
                     (same flags, same --change-id): it reports the change applied. Never send \
                     it under a new change_id unless the key belongs to another change.",
                    error
                        .code()
                        .map(|c| format!("{c:?} ({}): {error}", gree_ump::ApiErrorCode::code(&c)))
                        .unwrap_or_else(|| error.to_string())
                ),
            }),
            PointsChangeOutcome::NotSent(e) => Err(CliError::of_call(&e, true)),
            PointsChangeOutcome::Unresolved { last_error, .. } => Err(CliError {
                exit: Exit::Unknown,
                message: format!(
                    "after {} attempts the outcome of points change {change_id} is still unknown ({last_error}).\n\
                     Do not send it under another change_id. Run the same command again with --resume (same flags, same --change-id) to settle it.",
                    plan.max_attempts
                ),
            }),
        }
    }
}

/// A rollback: sent once (the runtime repeats a keyed write under its key while the
/// outcome is unknown, and reports a lost reply's "key already used" as applied).
async fn rollback<R>(
    request: R,
    ctx: &Ctx,
    resume: bool,
    change_id: String,
) -> Result<Outcome, CliError>
where
    R: Endpoint<Code = ErrorCode>,
    R::Data: Serialize + Default,
{
    let report = |meaning: &str| Report {
        outcome: "applied",
        meaning: meaning.to_string(),
        change_id: &change_id,
        statement_id: None,
        attempts: None,
    };
    match ctx.client.runtime().send(&request).await {
        Ok(reply) => {
            let data = reply.into_data();
            ctx.output.document(&data).map(|()| Outcome).map_err(|e| {
                CliError::applied_but_output_failed(
                    &format!("The rollback {change_id} is in effect"),
                    serde_json::to_string(&data).ok(),
                    &e,
                )
            })
        }
        Err(e) if e.applied_earlier() => applied(
            ctx,
            &report(
                "The rollback is in effect, once: an earlier attempt applied it and its reply was lost.",
            ),
        ),
        // Resumed: the key was used by the attempt whose outcome was unknown.
        Err(e) if resume && e.code() == Some(ErrorCode::ChangeIdExists) => applied(
            ctx,
            &report("The rollback is in effect, once: the earlier attempt applied it."),
        ),
        Err(e) => Err(CliError::of_call(&e, true)),
    }
}

impl Keyed for RollbackPointsRequest {
    async fn run(self, ctx: &Ctx, resume: bool) -> Result<Outcome, CliError> {
        let key = self.change_id.clone();
        rollback(self, ctx, resume, key).await
    }
}

impl Keyed for RollbackPointsPartiallyRequest {
    async fn run(self, ctx: &Ctx, resume: bool) -> Result<Outcome, CliError> {
        let key = self.change_id.clone();
        rollback(self, ctx, resume, key).await
    }
}
