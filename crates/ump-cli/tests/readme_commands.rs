//! Every shell command of the workspace README that runs `ump` or `cargo run` is run here
//! against a sandbox, so a wrong example fails CI (the README once passed a change event
//! the platform refuses; `ump journal retry` once panicked). The Chinese README's code
//! blocks are the same bytes (`tests/readme_translation.rs`).
//!
//! Each `ump` command runs on its own copy of a prepared journal (41 applied points
//! credits and, as entry 42, an SMS whose reply was lost and that waits for an operator),
//! with `history.jsonl` in its working directory, so each example meets the state it
//! describes; a command the README repeats runs again on the copy its first run left. A command passes when it exits 0, or 4 where what it reports is "still
//! pending" (a drain leaving the operator's entry): a usage error (2), a refusal (3) or a
//! panic fails. `cargo run … --example X` runs the example `cargo test` built;
//! `cargo run -p PKG -- ARGS` starts that server (on a free port) and waits until it
//! says it listens.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use gree_ump::endpoints::{ChangePointsArgs, ChangePointsRequest, SendSmsCodeRequest};
use gree_ump::journal::Journal;
use gree_ump::runtime::journal::SqliteJournal;
use gree_ump_sandbox::{Fault, Sandbox, SandboxConfig, SandboxHandle};

mod support;

/// The phone the README's examples use.
const PHONE: &str = "13800000000";

/// The shell commands of the README's `sh` blocks that run `ump` or `cargo run`, with
/// their comments cut, each with the number of its block.
fn readme_commands(readme: &str) -> Vec<(usize, String)> {
    let mut commands = Vec::new();
    let (mut in_sh, mut block) = (false, 0);
    for line in readme.lines() {
        let trimmed = line.trim_start();
        if let Some(info) = trimmed.strip_prefix("```") {
            in_sh = !in_sh && matches!(info.trim(), "sh" | "bash" | "shell" | "console");
            block += 1;
            continue;
        }
        if !in_sh {
            continue;
        }
        let command = line.split(" #").next().unwrap_or_default().trim();
        if command.starts_with("ump ") || command.starts_with("cargo run ") {
            commands.push((block, command.to_owned()));
        }
    }
    commands
}

/// Whether `command` starts a server (`cargo run -p PKG -- ARGS`), not an example.
fn is_server(command: &str) -> bool {
    command.starts_with("cargo run ") && command.contains(" -- ") && !command.contains("--example")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `target/debug/examples/NAME`, beside the `ump` this test runs.
fn example(name: &str) -> Option<PathBuf> {
    let ump = Path::new(env!("CARGO_BIN_EXE_ump"));
    let path = ump.parent()?.join("examples").join(name);
    path.is_file().then_some(path)
}

/// `target/debug/NAME`, a binary of another package, beside `ump`.
fn binary(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_BIN_EXE_ump")).parent()?.join(name);
    path.is_file().then_some(path)
}

/// `path` when it was built; `None` (with a notice) when this `cargo test` did not build
/// it, which fails under CI, where `cargo test --workspace` builds every binary.
fn built(path: Option<PathBuf>, command: &str) -> Option<PathBuf> {
    if path.is_none() {
        assert!(
            std::env::var("CI").is_err(),
            "`{command}`: its program was not built (cargo test --workspace builds it)"
        );
        eprintln!("skipped `{command}`: its program was not built by this cargo test");
    }
    path
}

/// Runs a server the README starts (`cargo run -p gree-ump-sandbox -- --port 8080`) on
/// a free port instead of its own, until it says it listens; then stops it.
fn serves(binary: &Path, args: &[String]) -> Result<(), String> {
    use std::io::{BufRead, BufReader};
    let mut args = args.to_vec();
    if let Some(i) = args.iter().position(|a| a == "--port")
        && let Some(port) = args.get_mut(i + 1)
    {
        *port = "0".into();
    }
    let mut child = Command::new(binary)
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let first = BufReader::new(stdout).lines().next();
    let _ = child.kill();
    let _ = child.wait();
    match first {
        Some(Ok(line)) if line.contains("listening on http://127.0.0.1:") => Ok(()),
        other => Err(format!("it did not say it listens: {other:?}")),
    }
}

fn client(sandbox: &SandboxHandle, tokens: &Path) -> gree_ump::Client {
    gree_ump::Client::builder()
        .base_url(sandbox.base_url())
        .app_id(sandbox.app_id())
        .app_secret(sandbox.app_secret())
        .token_store(Arc::new(gree_ump::FileTokenStore::new(tokens).unwrap()))
        .build()
        .unwrap()
}

fn ump(sandbox: &SandboxHandle, dir: &Path, journal: &Path, args: &[String]) -> Command {
    let mut c = support::ump(sandbox, dir);
    c.args(args)
        .current_dir(dir)
        .env("UMP_JOURNAL", journal)
        .stdin(Stdio::null());
    c
}

/// The journal file and its write-ahead log, copied to `to` (SQLite keeps recent commits
/// in `-wal` until a checkpoint).
fn copy_journal(from: &Path, to: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let src = PathBuf::from(format!("{}{suffix}", from.display()));
        if src.exists() {
            std::fs::copy(&src, format!("{}{suffix}", to.display())).unwrap();
        }
    }
}

#[test]
fn the_commands_are_found() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let commands: Vec<String> = readme_commands(&readme)
        .into_iter()
        .map(|(_, c)| c)
        .collect();
    for expected in [
        "cargo run -p gree-ump-sandbox --example quickstart",
        "ump journal retry 42 --yes",
        "ump import history.jsonl",
    ] {
        assert!(
            commands.iter().any(|c| c == expected),
            "{expected}: {commands:#?}"
        );
    }
    assert!(!commands.iter().any(|c| c.contains('#')), "{commands:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_readme_command_runs_against_the_sandbox() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let listed = readme_commands(&readme);
    let commands: Vec<String> = listed.iter().map(|(_, c)| c.clone()).collect();
    // A block that starts a sandbox is a newcomer's: its commands meet a sandbox of their
    // own and an empty token store, as on a first run.
    let newcomer_blocks: Vec<usize> = listed
        .iter()
        .filter(|(_, c)| is_server(c))
        .map(|(b, _)| *b)
        .collect();
    let fresh_sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let fresh_dir = tempfile::tempdir().unwrap();
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let prepared = dir.path().join("prepared.sqlite3");

    // The prepared journal: a member, 41 credits applied, and entry 42, an SMS whose
    // reply is lost, which waits for an operator.
    let tokens = dir.path().join("tokens");
    let open_id = {
        let client = client(&sandbox, &tokens);
        let journal = Journal::new(
            client.clone(),
            Arc::new(SqliteJournal::open(&prepared).unwrap()),
        );
        let open_id = client
            .members()
            .create_member(gree_ump::endpoints::CreateMemberRequest::new(
                gree_ump::endpoints::CreateMemberArgs {
                    project_id: "18756".into(),
                    nickname: "README".into(),
                    phone: PHONE.into(),
                },
            ))
            .await
            .unwrap();
        for i in 1..=41 {
            journal
                .submit(&ChangePointsRequest::new(ChangePointsArgs {
                    open_id: open_id.clone(),
                    score: 1,
                    out_biz_no: format!("readme-{i}"),
                    change_reason: "README".into(),
                    change_event: "event_add".into(),
                    change_id: format!("readme-{i}"),
                }))
                .await
                .unwrap();
        }
        let sms = journal
            .submit(&SendSmsCodeRequest::new(PHONE))
            .await
            .unwrap();
        assert_eq!(sms.id, 42, "the README's entry number");
        open_id
    };
    sandbox
        .control()
        .inject_fault("wk.sms.verify.send", Fault::DropAfterCommit, 1);
    let drained = ump(
        &sandbox,
        dir.path(),
        &prepared,
        &["journal".into(), "drain".into()],
    )
    .output()
    .unwrap();
    assert_eq!(drained.status.code(), Some(4), "{drained:?}");

    // history.jsonl, as the README's import reads it: one request per line.
    let history: String = (1..=3)
        .map(|i| {
            format!(
                "{{\"endpoint\":\"wk.user.event.score.change\",\"request\":{{\"open_id\":\"{open_id}\",\"score\":2,\"out_biz_no\":\"hist-{i}\",\"change_reason\":\"history\",\"change_event\":\"event_add\",\"change_id\":\"hist-{i}\"}}}}\n"
            )
        })
        .collect();
    std::fs::write(dir.path().join("history.jsonl"), history).unwrap();

    let mut ran = 0;
    for (n, command) in commands.iter().enumerate() {
        let words: Vec<String> = command.split_whitespace().map(str::to_owned).collect();
        let started = std::time::Instant::now();
        let output = if words[0] == "ump" {
            // A command the README repeats shows what running it again does (an import
            // after a kill resumes): it runs on the journal its first run left.
            let first = commands.iter().position(|c| c == command).unwrap_or(n);
            let journal = dir.path().join(format!("journal-{first}.sqlite3"));
            if first == n {
                copy_journal(&prepared, &journal);
            }
            let mut c = if newcomer_blocks.contains(&listed[n].0) {
                let journal = fresh_dir.path().join("journal.sqlite3");
                ump(&fresh_sandbox, fresh_dir.path(), &journal, &words[1..])
            } else {
                ump(&sandbox, dir.path(), &journal, &words[1..])
            };
            tokio::task::spawn_blocking(move || c.output())
                .await
                .unwrap()
                .unwrap()
        } else if is_server(command) {
            // A server: `cargo run -p PKG -- ARGS`.
            let package = words
                .iter()
                .position(|w| w == "-p")
                .and_then(|i| words.get(i + 1))
                .unwrap_or_else(|| panic!("`{command}`: which package?"));
            let args: Vec<String> = words
                .iter()
                .skip_while(|w| *w != "--")
                .skip(1)
                .cloned()
                .collect();
            let Some(binary) = built(binary(package), command) else {
                continue;
            };
            let served = tokio::task::spawn_blocking(move || serves(&binary, &args))
                .await
                .unwrap();
            assert!(served.is_ok(), "`{command}`: {served:?}");
            eprintln!("`{command}`: served");
            ran += 1;
            continue;
        } else {
            let name = words
                .iter()
                .position(|w| w == "--example")
                .and_then(|i| words.get(i + 1))
                .unwrap_or_else(|| panic!("`{command}`: only `cargo run … --example NAME` is run"));
            let Some(binary) = built(example(name), command) else {
                continue;
            };
            let mut c = Command::new(binary);
            for (k, _) in std::env::vars() {
                if k.starts_with("UMP_") {
                    c.env_remove(k);
                }
            }
            c.current_dir(dir.path()).stdin(Stdio::null());
            tokio::task::spawn_blocking(move || c.output())
                .await
                .unwrap()
                .unwrap()
        };
        let code = output.status.code();
        eprintln!(
            "`{command}`: exit {code:?} in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let pending_allowed =
            command.starts_with("ump journal drain") || command.starts_with("ump import");
        assert!(
            code == Some(0) || (pending_allowed && code == Some(4)),
            "`{command}` exited {code:?}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        ran += 1;
    }
    assert!(ran >= 8, "ran {ran} of {commands:#?}");
}
