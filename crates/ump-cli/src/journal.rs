//! `ump journal status | list | show | retry | resolve | drain`: the services' write
//! journal, read and settled from the command line. The journal is the services' own
//! file (`--journal`, `UMP_JOURNAL`, or the SDK's default beside the token store), so
//! an operator sees and settles exactly what the tills recorded.
//!
//! `list` never prints a request's body or order keys (phones, names): `show ID` does,
//! for the one entry an operator asked about.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Arg, ArgAction, ArgMatches, Command};
use gree_ump::config::Settings;
use gree_ump::journal::Journal;
use gree_ump::runtime::journal::{Entry, EntryState, JournalStore, Resolution};

use crate::output::Output;
use crate::run::{CliError, Exit, Outcome};

pub fn command() -> Command {
    let id = || {
        Arg::new("id")
            .required(true)
            .value_parser(clap::value_parser!(i64))
            .help("The entry's number (`ump journal list`)")
    };
    let yes = || {
        Arg::new("yes")
            .long("yes")
            .action(ArgAction::SetTrue)
            .help("Confirms the step, after reading what it does")
    };
    let states = ["pending", "in_flight", "applied", "refused", "attention"];
    Command::new("journal")
        .about("The services' write journal: what is recorded, settled, pending or waiting for an operator")
        .subcommand_required(true)
        .subcommand(Command::new("status").about(
            "Entries per state, the oldest open one's age, the journal's file",
        ))
        .subcommand(
            Command::new("list")
                .about("Entries, oldest first: number, method, state, attempts, next attempt, last error (no personal data)")
                .arg(
                    Arg::new("state")
                        .long("state")
                        .value_parser(states)
                        .help("Only entries in this state"),
                )
                .arg(
                    Arg::new("after")
                        .long("after")
                        .value_parser(clap::value_parser!(i64))
                        .default_value("0")
                        .help("Only entries numbered above this"),
                )
                .arg(
                    Arg::new("limit")
                        .long("limit")
                        .value_parser(clap::value_parser!(usize))
                        .default_value("100")
                        .help("At most this many"),
                ),
        )
        .subcommand(
            Command::new("show")
                .about("One entry whole, its request body (personal data) and result included")
                .arg(id()),
        )
        .subcommand(
            Command::new("retry")
                .about("Sends a pending or attention entry again now, through its settle path")
                .long_about(
                    "Makes the entry due now. Its settle path runs again: a keyed write is re-sent under its key, a \
                     probed write is probed first, and a write that is never re-sent by itself (an SMS) IS sent again: \
                     check the platform first. Needs --yes.",
                )
                .arg(id())
                .arg(yes()),
        )
        .subcommand(
            Command::new("resolve")
                .about("Settles an entry by hand, after checking the platform: --as applied or --as refused")
                .long_about(
                    "Records what you found on the platform: `--as applied` (the write is in effect) or `--as refused` \
                     (it is not, and must never be sent). A drainer holding the entry can no longer write it. Later writes \
                     to the same member or order proceed. Needs --yes; nothing is sent.",
                )
                .arg(id())
                .arg(
                    Arg::new("as")
                        .long("as")
                        .required(true)
                        .value_parser(["applied", "refused"])
                        .help("What the platform holds"),
                )
                .arg(
                    Arg::new("note")
                        .long("note")
                        .help("Why (kept as the entry's last error)"),
                )
                .arg(yes()),
        )
        .subcommand(
            Command::new("drain")
                .about("Settles what is due now, with progress on a terminal; exits when nothing is left to do now")
                .arg(
                    Arg::new("max-seconds")
                        .long("max-seconds")
                        .value_parser(clap::value_parser!(u64))
                        .default_value("300")
                        .help("Stops after this long even if entries are still due"),
                ),
        )
}

/// The journal's settings: `--journal` or `UMP_JOURNAL` (a SQLite file or a PostgreSQL
/// URL), `UMP_JOURNAL_NAMESPACE`; else the SDK's default file.
fn journal_settings(m: &ArgMatches) -> Settings {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let mut settings = Settings::default();
    settings.journal = m
        .get_one::<String>("journal")
        .cloned()
        .or_else(|| env("UMP_JOURNAL"));
    settings.journal_namespace = env("UMP_JOURNAL_NAMESPACE");
    settings
}

/// The journal the settings name, opened (see [`Settings::open_journal_store`]).
pub(crate) async fn open_journal(
    m: &ArgMatches,
) -> Result<(Arc<dyn JournalStore>, String), CliError> {
    let settings = journal_settings(m);
    let name = settings.journal_name();
    let store = settings
        .open_journal_store()
        .await
        .map_err(|e| CliError::failed(format!("cannot open the journal: {e}")))?;
    Ok((store, name))
}

/// One entry as `list` shows it: no body, no order keys (personal data).
fn summary(e: &Entry) -> serde_json::Value {
    serde_json::json!({
        "id": e.id,
        "method": e.method,
        "state": e.state.as_str(),
        "attempts": e.attempts,
        "next_attempt_ms": (e.state == EntryState::Pending).then_some(e.next_attempt_ms),
        "created_ms": e.created_ms,
        "last_error": e.last_error,
    })
}

/// Runs `ump journal …`. Only `drain` talks to the platform: the other commands read and
/// write the journal file alone, so they need no credentials (`client` is `None`).
pub async fn run(
    output: &Output,
    dry_run: bool,
    client: Option<&gree_ump::Client>,
    global: &ArgMatches,
    m: &ArgMatches,
) -> Result<Outcome, CliError> {
    let (store, name) = open_journal(global).await?;
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    };
    let failed = |e: gree_ump::runtime::journal::JournalError| {
        CliError::failed(format!("journal {name}: {e}"))
    };
    match m.subcommand() {
        Some(("status", _)) => {
            let counts = store.counts().await.map_err(failed)?;
            output.document(&serde_json::json!({
                "journal": name,
                "pending": counts.pending,
                "in_flight": counts.in_flight,
                "applied": counts.applied,
                "refused": counts.refused,
                "attention": counts.attention,
                "oldest_open_age_s": counts.oldest_open_created_ms.map(|t| now().saturating_sub(t).max(0) / 1000),
            }))?;
            Ok(Outcome)
        }
        Some(("list", sub)) => {
            let state = sub
                .get_one::<String>("state")
                .and_then(|s| EntryState::from_name(s));
            let after = sub.get_one::<i64>("after").copied().unwrap_or(0);
            let limit = sub.get_one::<usize>("limit").copied().unwrap_or(100);
            let entries = store.list(state, after, limit).await.map_err(failed)?;
            let list: Vec<serde_json::Value> = entries.iter().map(summary).collect();
            output.document(&list)?;
            Ok(Outcome)
        }
        Some(("show", sub)) => {
            let id = *sub.get_one::<i64>("id").expect("required");
            let entry = store
                .get(id)
                .await
                .map_err(failed)?
                .ok_or_else(|| CliError::usage(format!("no journal entry {id} in {name}")))?;
            let mut doc = summary(&entry);
            doc["body"] = serde_json::Value::String(entry.body.clone());
            doc["result"] = entry
                .result
                .as_deref()
                .and_then(|r| serde_json::from_str(r).ok())
                .unwrap_or(serde_json::Value::Null);
            doc["landing_possible"] = entry.landing_possible.into();
            output.document(&doc)?;
            Ok(Outcome)
        }
        Some((verb @ ("retry" | "resolve"), sub)) => {
            let id = *sub.get_one::<i64>("id").expect("required");
            // `--as` exists on `resolve` only: clap panics when another command asks for it.
            let resolution = if verb == "retry" {
                Resolution::RetryNow
            } else if sub.get_one::<String>("as").map(String::as_str) == Some("applied") {
                Resolution::Applied
            } else {
                Resolution::Refused
            };
            let entry = store
                .get(id)
                .await
                .map_err(failed)?
                .ok_or_else(|| CliError::usage(format!("no journal entry {id} in {name}")))?;
            if entry.state.is_final() {
                return Err(CliError::usage(format!(
                    "journal entry {id} is {}: it can no longer change",
                    entry.state
                )));
            }
            if !sub.get_flag("yes") || dry_run {
                let would = match resolution {
                    Resolution::RetryNow => {
                        "make it due now: its settle path runs again (a write never re-sent by itself is sent again)"
                    }
                    Resolution::Applied => {
                        "record it as applied on the platform: it is never sent again"
                    }
                    _ => {
                        "record it as refused: it is never sent again, and nothing of it is in effect"
                    }
                };
                return Err(CliError::usage(format!(
                    "this would {would} (entry {id}, {}, {}, {} attempts; last: {}). Check the platform, then re-run with --yes",
                    entry.method,
                    entry.state,
                    entry.attempts,
                    entry.last_error.as_deref().unwrap_or("none")
                )));
            }
            // `--note` exists on `resolve` only (clap panics on `get_one` of an unknown id).
            let note = sub
                .try_get_one::<String>("note")
                .ok()
                .flatten()
                .cloned()
                .unwrap_or_else(|| format!("{verb} by an operator (ump journal {verb})"));
            let done = store
                .resolve(id, resolution, note, now())
                .await
                .map_err(failed)?;
            output.document(&summary(&done))?;
            Ok(Outcome)
        }
        Some(("drain", sub)) => {
            let max =
                Duration::from_secs(sub.get_one::<u64>("max-seconds").copied().unwrap_or(300));
            let client = client
                .ok_or_else(|| CliError::failed("journal drain needs the platform's settings"))?;
            drain(output, client, store, max).await
        }
        _ => Err(CliError::usage(
            "journal: which command? (ump journal --help)",
        )),
    }
}

/// Passes until nothing is due now (or `max` passes); a progress bar on a terminal.
async fn drain(
    output: &Output,
    client: &gree_ump::Client,
    store: Arc<dyn JournalStore>,
    max: Duration,
) -> Result<Outcome, CliError> {
    let journal = Journal::new(client.clone(), store.clone());
    let failed =
        |e: gree_ump::runtime::journal::JournalError| CliError::failed(format!("journal: {e}"));
    let start = store.counts().await.map_err(failed)?;
    let open = start.pending + start.in_flight;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(open);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} settled · {per_sec} · ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let started = Instant::now();
    let mut settled = 0u64;
    loop {
        let pass = journal.drain_once().await.map_err(failed)?;
        settled += (pass.settled + pass.attention) as u64;
        if let Some(bar) = &bar {
            bar.set_position(settled.min(open));
        }
        if pass.claimed == 0 || started.elapsed() >= max {
            break;
        }
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let end = store.counts().await.map_err(failed)?;
    output.document(&serde_json::json!({
        "settled_now": settled,
        "pending": end.pending + end.in_flight,
        "applied": end.applied,
        "refused": end.refused,
        "attention": end.attention,
        "seconds": started.elapsed().as_secs_f64(),
    }))?;
    if end.attention > 0 || end.pending + end.in_flight > 0 {
        return Err(CliError {
            exit: Exit::Unknown,
            message: format!(
                "{} entries still pending and {} waiting for an operator: `ump journal list --state attention`",
                end.pending + end.in_flight,
                end.attention
            ),
        });
    }
    Ok(Outcome)
}
