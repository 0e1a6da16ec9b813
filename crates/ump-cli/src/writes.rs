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
                ctx.output.document(&Report {
                    outcome: "applied",
                    meaning,
                    change_id: &change_id,
                    statement_id,
                    attempts: Some(attempts),
                })?;
                Ok(Outcome)
            }
            PointsChangeOutcome::Refused(e) => {
                let mut err = CliError::of_call(&e, false);
                err.exit = Exit::Refused;
                err.message = format!(
                    "{}\nThe points change {change_id} is not in effect, and no attempt of it can land later.",
                    err.message.trim_end_matches("\nNothing was changed.")
                );
                Err(err)
            }
            PointsChangeOutcome::Unresolved { last_error, .. } => Err(CliError {
                exit: Exit::Unknown,
                message: format!(
                    "after {} attempts the outcome of points change {change_id} is still unknown ({last_error}).\n\
                     Do not send it under another change_id. Run the same command again with --resume (same flags, same --change-id) to settle it.",
                    plan.max_attempts
                ),
            }),
            other => Err(CliError::failed(format!("unexpected outcome: {other:?}"))),
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
    let applied = |ctx: &Ctx, meaning: &str| {
        ctx.output.document(&Report {
            outcome: "applied",
            meaning: meaning.to_string(),
            change_id: &change_id,
            statement_id: None,
            attempts: None,
        })
    };
    match ctx.client.runtime().send(&request).await {
        Ok(reply) => {
            ctx.output.document(&reply.into_data())?;
            Ok(Outcome)
        }
        Err(e) if e.applied_earlier() => {
            applied(
                ctx,
                "The rollback is in effect, once: an earlier attempt applied it and its reply was lost.",
            )?;
            Ok(Outcome)
        }
        // Resumed: the key was used by the attempt whose outcome was unknown.
        Err(e) if resume && e.code() == Some(ErrorCode::ChangeIdExists) => {
            applied(
                ctx,
                "The rollback is in effect, once: the earlier attempt applied it.",
            )?;
            Ok(Outcome)
        }
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
