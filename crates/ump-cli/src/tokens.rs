//! `ump tokens status | refresh | clear-pending | forget-obtain`: the token state the
//! services share, read from their store; no secret is ever shown.

use clap::{Arg, ArgAction, ArgMatches, Command};
use gree_ump::runtime::tokens::{ClearOutcome, ForgetOutcome};

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
        .subcommand(
            Command::new("forget-obtain")
                .about("Gives back today's token-issuing unit (2.1) of a call that issued nothing the platform still honours")
                .long_about(
                    "Gives back one unit of today's token-issuing budget (2.1), so that the next call may make it again.\n\n\
                     Use it when today's 2.1 was refused (a wrong app secret or app id: `ump tokens status` shows the failure \
                     and its code), or when the platform forgot the tokens it issued (a sandbox reset). The SDK keeps a refused \
                     call counted because the document limits the calls, not the successes, and does not say whether a refused \
                     one counts. The risk: a second 2.1 the same day, which the platform may refuse as over its limit (then the \
                     service stays without a token until the platform's midnight, as it would anyway). Makes no platform call.",
                )
                .arg(yes()),
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
        Some(("forget-obtain", _)) if ctx.options.dry_run => {
            ctx.output.document(&serde_json::json!({
                "dry_run": true,
                "would": "give back one unit of today's token-issuing budget (2.1)",
                "obtain": status.obtain,
                "last_failure": status.last_failure,
                "key": status.key,
            }))?;
            Ok(Outcome)
        }
        Some(("forget-obtain", sub)) => {
            if !sub.get_flag("yes") {
                let why = status.last_failure.as_ref().map_or_else(
                    || "no failed token call is recorded".to_owned(),
                    |f| {
                        format!(
                            "the last failed token call: {} (code {}), {}",
                            f.kind,
                            f.code.map_or_else(|| "none".to_owned(), |c| c.to_string()),
                            f.message
                        )
                    },
                );
                return Err(CliError::usage(format!(
                    "this gives back one of today's token-issuing units ({} of {} used) for {}; {why}. \
                     Do it only if that call issued nothing the platform still honours (refused, or the \
                     platform was reset): a second 2.1 today may be refused by the platform. Re-run with --yes",
                    status.obtain.used, status.obtain.limit, status.key
                )));
            }
            let outcome = tokens
                .forget_obtain()
                .await
                .map_err(|e| CliError::failed(format!("cannot give the unit back: {e}")))?;
            match outcome {
                ForgetOutcome::GaveBack {
                    used_before,
                    used_now,
                } => ctx.output.document(&serde_json::json!({
                    "gave_back": true,
                    "obtain_used_before": used_before,
                    "obtain_used_now": used_now,
                    "key": status.key,
                }))?,
                ForgetOutcome::NothingSpent => ctx.output.document(&serde_json::json!({
                    "gave_back": false,
                    "reason": "no token-issuing call is counted today",
                }))?,
                ForgetOutcome::MayBeInFlight { marker } => {
                    return Err(CliError::usage(format!(
                        "a token-issuing call of instance {} may still be in flight; wait for it \
                         (or clear its marker with `ump tokens clear-pending` once it is gone)",
                        marker.instance
                    )));
                }
                other => return Err(CliError::failed(format!("unexpected outcome: {other:?}"))),
            }
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
        _ => Err(CliError::usage(
            "tokens: status, refresh, clear-pending or forget-obtain",
        )),
    }
}
