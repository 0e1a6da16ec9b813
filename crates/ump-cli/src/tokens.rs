//! `ump tokens status | refresh | clear-pending`: the token state the services share,
//! read from their store; no secret is ever shown.

use clap::{Arg, ArgAction, ArgMatches, Command};
use gree_ump::runtime::tokens::ClearOutcome;

use crate::run::{CliError, Ctx, Outcome};

pub fn command() -> Command {
    let yes = || {
        Arg::new("yes")
            .long("yes")
            .action(ArgAction::SetTrue)
            .help("Confirms the step, after reading what it costs")
    };
    Command::new("tokens")
        .about("The token record and the day's token budgets the services share")
        .subcommand_required(true)
        .subcommand(Command::new("status").about(
            "Expiry of the tokens, the day's budget use per token call, the last failure, any pending token-issuing call and the store's key; no secret",
        ))
        .subcommand(
            Command::new("refresh")
                .about("Refreshes the access token now (2.2): spends one of the day's refreshes")
                .arg(yes()),
        )
        .subcommand(
            Command::new("clear-pending")
                .about("Removes the marker of a token-issuing call (2.1) whose process crashed, once you verified it did")
                .arg(yes())
                .arg(
                    Arg::new("force")
                        .long("force")
                        .action(ArgAction::SetTrue)
                        .help("Also when the call it marks may still be in flight (another host, within its deadline)"),
                ),
        )
}

pub async fn run(ctx: &Ctx, m: &ArgMatches) -> Result<Outcome, CliError> {
    let tokens = ctx.client.runtime().tokens();
    let status = tokens
        .status()
        .await
        .map_err(|e| CliError::failed(format!("cannot read the token store: {e}")))?;
    match m.subcommand() {
        Some(("status", _)) => {
            ctx.output.document(&status)?;
            Ok(Outcome)
        }
        Some(("refresh", _)) if ctx.options.dry_run => {
            ctx.output.document(&serde_json::json!({
                "dry_run": true,
                "would": "refresh the access token (2.2)",
                "costs": format!("one of today's {} refreshes ({} used)", status.refresh.limit, status.refresh.used),
                "key": status.key,
            }))?;
            Ok(Outcome)
        }
        Some(("clear-pending", _)) if ctx.options.dry_run => {
            ctx.output.document(&serde_json::json!({
                "dry_run": true,
                "would": "remove the pending token-issuing marker",
                "marker": status.pending_obtain,
                "key": status.key,
            }))?;
            Ok(Outcome)
        }
        Some(("refresh", sub)) => {
            if !sub.get_flag("yes") {
                return Err(CliError::usage(format!(
                    "this spends one of today's {} refreshes ({} used, reset at {}) for {}; re-run with --yes",
                    status.refresh.limit, status.refresh.used, status.budget_resets_at, status.key
                )));
            }
            let done = ctx
                .client
                .runtime()
                .refresh_access_token_now()
                .await
                .map_err(|e| CliError::failed(format!("the refresh failed: {e}")))?;
            ctx.output.document(&serde_json::json!({
                "refreshed": true,
                "access_expires_at_ms": done.access_expires_at_ms,
                "refresh_used_today": done.refresh_used_today,
                "refresh_limit": done.refresh_limit,
            }))?;
            Ok(Outcome)
        }
        Some(("clear-pending", sub)) => {
            let Some(pending) = &status.pending_obtain else {
                ctx.output.document(&serde_json::json!({ "cleared": false, "reason": "no token-issuing call is pending" }))?;
                return Ok(Outcome);
            };
            if !sub.get_flag("yes") {
                return Err(CliError::usage(format!(
                    "the marker says instance {} (host {}, pid {}) started a token-issuing call at {} ms. \
                     Clear it only once you verified that process is gone; re-run with --yes",
                    pending.instance, pending.host, pending.pid, pending.started_at_ms
                )));
            }
            let outcome = tokens
                .clear_pending_obtain(sub.get_flag("force"))
                .await
                .map_err(|e| CliError::failed(format!("cannot clear the marker: {e}")))?;
            match outcome {
                ClearOutcome::Cleared(p) => ctx.output.document(&serde_json::json!({ "cleared": true, "instance": p.instance }))?,
                ClearOutcome::NothingPending => {
                    ctx.output.document(&serde_json::json!({ "cleared": false, "reason": "no token-issuing call is pending" }))?
                }
                ClearOutcome::MayBeInFlight(p) => {
                    return Err(CliError::usage(format!(
                        "the call of instance {} may still be in flight; wait, or pass --force once you know it is not",
                        p.instance
                    )));
                }
                other => return Err(CliError::failed(format!("unexpected outcome: {other:?}"))),
            }
            Ok(Outcome)
        }
        _ => Err(CliError::usage("tokens: status, refresh or clear-pending")),
    }
}
