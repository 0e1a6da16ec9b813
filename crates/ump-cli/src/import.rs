//! `ump import FILE`: writes from a file of JSON lines, through the write journal, each
//! applied exactly once, resumable after a kill.
//!
//! A line is `{"endpoint": "wk.user.info.add", "request": {…}}`: a write's method and its
//! request's wire fields, as the document names them.
//!
//! **A line is identified by what it asks**: its method and its request as the journal
//! stores it (the same request always encodes to the same bytes). Before submitting, the
//! import reads what the journal already holds; a line whose write is there (recorded by
//! an earlier run that was killed, or by a till) is not submitted again, whatever its
//! position. A line number or a file checksum would not survive an edit of the file (a
//! line fixed after it was refused, lines appended), and a progress file written beside
//! the journal could lag its commit by one line after a kill. Two identical lines are one
//! write: their keys (change id, order number, phone) would make them one on the
//! platform too.

use std::collections::{HashMap, HashSet};
use std::io::{IsTerminal, Read};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Arg, ArgMatches, Command};
use gree_ump::journal::{DecodedWrite, Journal};
use gree_ump::runtime::journal::{Entry, EntryId, EntryState, JournalStore};
use md5::{Digest, Md5};

use crate::output::Output;
use crate::run::{CliError, Exit, Outcome};

/// How often the settling lines' own entries are read in full.
const FULL_READ: Duration = Duration::from_secs(5);

/// How many writes the import's drainer keeps under way (the SDK's default is 8, for a
/// till's trickle).
const CONCURRENCY: usize = 32;

/// How many lines one commit records: 100,000 lines cost 400 fsyncs, not 100,000.
const BATCH: usize = 256;

/// How many malformed lines and refusals the summary lists one by one (all are counted).
const LISTED: usize = 100;

pub fn command() -> Command {
    Command::new("import")
        .about("Applies the writes of a file of JSON lines through the journal, each exactly once; run it again to resume")
        .long_about(
            "Applies the writes of a file of JSON lines through the services' write journal, \
             each exactly once. A line is {\"endpoint\": METHOD, \"request\": {WIRE FIELDS}}, \
             for example {\"endpoint\": \"wk.user.info.add\", \"request\": {\"project_id\": \
             \"18756\", \"nickname\": \"张三\", \"phone\": \"13800000000\"}}.\n\n\
             A line is identified by its method and request: a write the journal already \
             holds (an earlier run was stopped or killed) is not submitted again, so running \
             the same file again resumes it (what a killed run had under way waits for its \
             lease, --lease). A malformed line is reported with its number and \
             the rest goes on. Progress shows on a terminal; otherwise counts are printed \
             every few seconds. The summary lists what was applied, refused (with the \
             platform's reasons) and pending.",
        )
        .arg(
            Arg::new("file")
                .required(true)
                .value_name("FILE")
                .help("The file of JSON lines, or - for standard input"),
        )
        .arg(
            Arg::new("lease")
                .long("lease")
                .value_name("SECONDS")
                .value_parser(clap::value_parser!(u64).range(2..=3600))
                .default_value("20")
                .help("How long a claim holds a write: what a rerun waits, at most, for the writes a killed run had under way"),
        )
        .arg(
            Arg::new("attempt-lifetime")
                .long("attempt-lifetime")
                .value_name("SECONDS")
                .value_parser(clap::value_parser!(u64).range(1..=3600))
                .default_value("120")
                .help("How long a sent write may still land on the platform: a write whose reply was lost (a killed run) is looked up only after this"),
        )
        .arg(
            Arg::new("wait")
                .long("wait")
                .value_name("SECONDS")
                .value_parser(clap::value_parser!(u64))
                .default_value("600")
                .help("How long to wait for the writes to settle after the last is recorded"),
        )
}

/// One line's write, decoded: its line number and what identifies it.
struct Line {
    number: usize,
    write: DecodedWrite,
    identity: [u8; 16],
}

/// What identifies a write: its method and its body as stored.
fn identity(method: &str, body: &str) -> [u8; 16] {
    let mut hash = Md5::new();
    hash.update(method.as_bytes());
    hash.update([0]);
    hash.update(body.as_bytes());
    hash.finalize().into()
}

/// Runs `ump import`.
pub async fn run(
    output: &Output,
    dry_run: bool,
    client: &gree_ump::Client,
    global: &ArgMatches,
    m: &ArgMatches,
) -> Result<Outcome, CliError> {
    let file = m.get_one::<String>("file").map_or("-", String::as_str);
    let wait = Duration::from_secs(m.get_one::<u64>("wait").copied().unwrap_or(600));
    let text = read_input(file)?;
    let (store, name) = crate::journal::open_journal(global).await?;
    let failed = |e: gree_ump::runtime::journal::JournalError| {
        CliError::failed(format!("journal {name}: {e}"))
    };

    // Every line decoded first: a malformed one is told by its number, and the rest goes on.
    let mut lines = Vec::new();
    let mut malformed = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let number = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        match decode_line(raw) {
            Ok(write) => {
                let identity = identity(write.method(), write.body());
                lines.push(Line {
                    number,
                    write,
                    identity,
                });
            }
            Err(why) => {
                eprintln!("line {number}: {why}");
                malformed.push(serde_json::json!({"line": number, "error": why}));
            }
        }
    }

    // What the journal holds already: the writes of earlier runs are not submitted again.
    let mut recorded: HashMap<[u8; 16], EntryId> = HashMap::new();
    let mut after = 0;
    loop {
        let page = store.list(None, after, 1000).await.map_err(failed)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for entry in &page {
            recorded
                .entry(identity(&entry.method, &entry.body))
                .or_insert(entry.id);
        }
    }

    if dry_run {
        // What a run would do, and nothing more: no line recorded, nothing sent.
        let new: HashSet<[u8; 16]> = lines
            .iter()
            .map(|l| l.identity)
            .filter(|i| !recorded.contains_key(i))
            .collect();
        output.document(&serde_json::json!({
            "journal": name,
            "dry_run": true,
            "lines": lines.len() + malformed.len(),
            "would_submit": new.len(),
            "recorded_before": lines.len() - lines.iter().filter(|l| new.contains(&l.identity)).count(),
            "malformed": malformed.len(),
            "malformed_lines": malformed.iter().take(LISTED).collect::<Vec<_>>(),
        }))?;
        if !malformed.is_empty() {
            return Err(CliError::usage(format!(
                "{} not a write (see \"malformed_lines\")",
                count(malformed.len(), "line")
            )));
        }
        return Ok(Outcome);
    }

    let mut policy = gree_ump::runtime::journal::DrainPolicy::default();
    policy.concurrency = CONCURRENCY;
    let lease = Duration::from_secs(m.get_one::<u64>("lease").copied().unwrap_or(20));
    policy.lease = lease;
    policy.settle.attempt_lifetime =
        Duration::from_secs(m.get_one::<u64>("attempt-lifetime").copied().unwrap_or(120));
    // One call may take most of the lease, never all of it.
    policy.call_timeout = (lease * 2 / 5).max(Duration::from_secs(1));
    let journal = Journal::builder(client.clone(), store.clone())
        .policy(policy)
        .build();
    let _drainer = journal.start();
    let progress = Progress::new(lines.len() as u64);
    let started = Instant::now();
    // Each line's entry; lines of one write share it. Recorded a batch at a time (one
    // commit each), in file order: writes to one member keep the file's order.
    let mut entry_of_line: Vec<(usize, EntryId)> = Vec::with_capacity(lines.len());
    let found_before: HashSet<[u8; 16]> = recorded.keys().copied().collect();
    let mut submitted = 0u64;
    let mut batch: Vec<&Line> = Vec::with_capacity(BATCH);
    let mut in_batch: HashSet<[u8; 16]> = HashSet::new();
    let mut waiting: Vec<(usize, [u8; 16])> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        waiting.push((line.number, line.identity));
        if !recorded.contains_key(&line.identity) && in_batch.insert(line.identity) {
            batch.push(line);
        }
        if batch.len() < BATCH && i + 1 < lines.len() {
            continue;
        }
        if !batch.is_empty() {
            let writes: Vec<DecodedWrite> = batch.iter().map(|l| l.write.clone()).collect();
            let ids = journal.submit_decoded(&writes).await.map_err(|e| {
                let first = batch.first().map_or(0, |l| l.number);
                CliError::failed(format!(
                    "lines {first} to {}: nothing of them was recorded: {e}; run the import again to resume",
                    batch.last().map_or(first, |l| l.number)
                ))
            })?;
            for (line, id) in batch.iter().zip(ids) {
                recorded.insert(line.identity, id);
                submitted += 1;
            }
            batch.clear();
            in_batch.clear();
        }
        for (number, identity) in waiting.drain(..) {
            if let Some(id) = recorded.get(&identity) {
                entry_of_line.push((number, *id));
            }
        }
        progress.recorded(entry_of_line.len() as u64);
    }
    let resumed = lines
        .iter()
        .filter(|l| found_before.contains(&l.identity))
        .count();
    entry_of_line.sort_unstable();
    // Until every line's write is settled, or `wait` passes.
    let ids: Vec<EntryId> = {
        let mut ids: Vec<EntryId> = entry_of_line.iter().map(|(_, id)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    };
    let settle_started = Instant::now();
    let base = store.counts().await.map_err(failed)?;
    let mut last_read = Instant::now() - FULL_READ;
    let entries = loop {
        // Progress from the journal's counts (one query); the lines' own entries, which
        // decide the end, read in full only now and then (100,000 rows a read).
        let counts = store.counts().await.map_err(failed)?;
        let open_anywhere = counts.pending + counts.in_flight;
        let timed_out = settle_started.elapsed() >= wait;
        if open_anywhere == 0 || timed_out || last_read.elapsed() >= FULL_READ {
            last_read = Instant::now();
            let entries = entries_by_id(&store, &ids).await.map_err(failed)?;
            let open = entries
                .values()
                .filter(|e| !e.state.is_final() && e.state != EntryState::Attention)
                .count();
            if open == 0 || timed_out {
                break entries;
            }
        }
        let settled_now = (counts.applied + counts.refused + counts.attention)
            .saturating_sub(base.applied + base.refused + base.attention);
        progress.settled(settled_now, counts.refused.saturating_sub(base.refused));
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    progress.finish();

    let summary = Summary::of(&entry_of_line, &entries);
    let document = serde_json::json!({
        "journal": name,
        "lines": lines.len() + malformed.len(),
        "submitted_now": submitted,
        "recorded_before": resumed,
        "applied": summary.applied,
        "refused": summary.refused.len(),
        "pending": summary.pending,
        "attention": summary.attention,
        "malformed": malformed.len(),
        "refusals": summary.refused.iter().take(LISTED).collect::<Vec<_>>(),
        "malformed_lines": malformed.iter().take(LISTED).collect::<Vec<_>>(),
        "seconds": started.elapsed().as_secs_f64(),
    });
    output.document(&document)?;
    // One verdict for the words and the exit code: anything not settled first (it may
    // still land), then refusals, then lines that were never writes.
    if summary.pending + summary.attention > 0 {
        return Err(CliError {
            exit: Exit::Unknown,
            message: format!(
                "{} still pending and {} waiting for an operator: run the import again to wait for them, or see `ump journal list --state attention`",
                count(summary.pending, "line"),
                summary.attention
            ),
        });
    }
    if !summary.refused.is_empty() {
        return Err(CliError {
            exit: Exit::Refused,
            message: format!(
                "{} refused by the platform (see \"refusals\"); the others were applied",
                count(summary.refused.len(), "line")
            ),
        });
    }
    if !malformed.is_empty() {
        return Err(CliError::usage(format!(
            "{} not a write (see \"malformed_lines\"); the others were applied",
            count(malformed.len(), "line")
        )));
    }
    Ok(Outcome)
}

/// `n` things, in words: "1 line", "2 lines".
fn count(n: usize, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// The whole input: the file, or standard input for `-`.
fn read_input(file: &str) -> Result<String, CliError> {
    if file == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::failed(format!("cannot read standard input: {e}")))?;
        return Ok(text);
    }
    std::fs::read_to_string(file).map_err(|e| CliError::usage(format!("cannot read {file}: {e}")))
}

/// One line as a write, or why not (naming the field, never a value).
fn decode_line(raw: &str) -> Result<DecodedWrite, String> {
    let value: serde_json::Value = serde_json::from_str(raw).map_err(|e| {
        format!(
            "not JSON ({})",
            gree_ump::runtime::error::without_values(&e.to_string())
        )
    })?;
    let Some(object) = value.as_object() else {
        return Err("not a JSON object: expected {\"endpoint\": METHOD, \"request\": {…}}".into());
    };
    let method = object
        .get("endpoint")
        .and_then(serde_json::Value::as_str)
        .ok_or("no \"endpoint\" (the write's method, e.g. wk.user.info.add)")?;
    let request = object
        .get("request")
        .filter(|r| r.is_object())
        .ok_or("no \"request\" object (the request's wire fields)")?;
    DecodedWrite::decode(method, &request.to_string()).map_err(|e| e.to_string())
}

/// The entries `ids`, read a page at a time.
async fn entries_by_id(
    store: &Arc<dyn JournalStore>,
    ids: &[EntryId],
) -> Result<HashMap<EntryId, Entry>, gree_ump::runtime::journal::JournalError> {
    let mut out = HashMap::with_capacity(ids.len());
    let Some(&first) = ids.first() else {
        return Ok(out);
    };
    let wanted: std::collections::HashSet<EntryId> = ids.iter().copied().collect();
    let mut after = first - 1;
    while out.len() < wanted.len() {
        let page = store.list(None, after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for entry in page {
            if wanted.contains(&entry.id) {
                out.insert(entry.id, entry);
            }
        }
    }
    Ok(out)
}

/// What the lines came to.
struct Summary {
    applied: usize,
    pending: usize,
    attention: usize,
    refused: Vec<serde_json::Value>,
}

impl Summary {
    fn of(lines: &[(usize, EntryId)], entries: &HashMap<EntryId, Entry>) -> Summary {
        let mut summary = Summary {
            applied: 0,
            pending: 0,
            attention: 0,
            refused: Vec::new(),
        };
        for (line, id) in lines {
            match entries.get(id).map(|e| e.state) {
                Some(EntryState::Applied) => summary.applied += 1,
                Some(EntryState::Refused) => {
                    let result: serde_json::Value = entries[id]
                        .result
                        .as_deref()
                        .and_then(|r| serde_json::from_str(r).ok())
                        .unwrap_or_default();
                    summary.refused.push(serde_json::json!({
                        "line": line,
                        "entry": id,
                        "code": result["code"],
                        "message": result["message"],
                    }));
                }
                Some(EntryState::Attention) => summary.attention += 1,
                _ => summary.pending += 1,
            }
        }
        summary
    }
}

/// Progress: a bar on a terminal (stderr), else a line of counts every few seconds.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: u64,
    started: Instant,
    last_line: std::sync::Mutex<Instant>,
}

impl Progress {
    fn new(total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} lines · {per_sec} · ETA {eta} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.set_message("recording");
            bar
        });
        Progress {
            bar,
            total,
            started: Instant::now(),
            last_line: std::sync::Mutex::new(Instant::now()),
        }
    }

    /// `done` lines recorded.
    fn recorded(&self, done: u64) {
        match &self.bar {
            Some(bar) => bar.set_position(done),
            None => self.plain(
                &format!("{done}/{} lines recorded", self.total),
                done == self.total,
            ),
        }
    }

    /// Writes settled (and of them refused) since the import began recording.
    fn settled(&self, settled: u64, refused: u64) {
        let text = format!("{settled} writes settled, {refused} refused");
        match &self.bar {
            Some(bar) => bar.set_message(format!("recorded; {text}")),
            None => self.plain(&format!("all lines recorded; {text}"), false),
        }
    }

    /// A line of counts, at most every 2 s (and the last one always).
    fn plain(&self, text: &str, last: bool) {
        let mut at = self
            .last_line
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last || at.elapsed() >= Duration::from_secs(2) {
            *at = Instant::now();
            let secs = self.started.elapsed().as_secs_f64().max(0.001);
            eprintln!("import: {text} ({:.0} s)", secs);
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
