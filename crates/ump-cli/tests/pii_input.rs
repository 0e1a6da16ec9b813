//! Personal data off the command line: every `pii` flag of `ump` also reads its value
//! from a file or stdin (`--phone-file -`), so that the value never appears in
//! `/proc/PID/cmdline`, which every user of the host can read. The built binary against a
//! sandbox on 127.0.0.1.

use std::io::Write as _;
use std::process::Stdio;

use gree_ump_sandbox::{Sandbox, SandboxConfig, SandboxHandle};

mod support;
use serde_json::Value;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `ump args…` with `stdin` as its input, off the async runtime.
async fn ump(sandbox: &SandboxHandle, dir: &std::path::Path, args: &[&str], stdin: &str) -> Run {
    let mut c = support::ump(sandbox, dir);
    c.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let input = stdin.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        let mut child = c.spawn().expect("ump runs");
        let mut pipe = child.stdin.take().expect("stdin");
        let _ = pipe.write_all(input.as_bytes());
        drop(pipe);
        child.wait_with_output().expect("ump ends")
    })
    .await
    .expect("the runner");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_values_come_from_a_file_or_stdin() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let phone_file = dir.path().join("phone");
    std::fs::write(&phone_file, "13955550177\n").unwrap();
    let phone_path = phone_file.to_str().unwrap();

    // The phone from a file, the nickname from stdin: neither is an argument.
    let created = ump(
        &sandbox,
        dir.path(),
        &[
            "--allow-obtain",
            "members",
            "create",
            "--project-id",
            "18756",
            "--nickname-file",
            "-",
            "--phone-file",
            phone_path,
        ],
        "文件昵称\n",
    )
    .await;
    assert_eq!(created.code, 0, "{}{}", created.stdout, created.stderr);
    let open_id: Value = serde_json::from_str(&created.stdout).unwrap();

    let found = ump(
        &sandbox,
        dir.path(),
        &["members", "query", "--phone-file", "-"],
        "13955550177",
    )
    .await;
    assert_eq!(found.code, 0, "{}", found.stderr);
    let member: Value = serde_json::from_str(&found.stdout).unwrap();
    assert_eq!(member["open_id"], open_id, "{member}");
    assert_eq!(
        member["nickname"], "文件昵称",
        "the trailing newline is dropped"
    );

    // Two values cannot both come from stdin; both ways at once is refused; an empty
    // file is refused; an unreadable file names the flag and the path.
    for (args, stdin, says) in [
        (
            vec![
                "members",
                "create",
                "--project-id",
                "1",
                "--nickname-file",
                "-",
                "--phone-file",
                "-",
            ],
            "x",
            "stdin is read by",
        ),
        (
            vec![
                "members",
                "query",
                "--phone",
                "13955550177",
                "--phone-file",
                phone_path,
            ],
            "",
            "cannot be used with",
        ),
        (
            vec!["members", "query", "--phone-file", "-"],
            "",
            "stdin is empty",
        ),
        (
            vec!["members", "query", "--phone-file", "/nonexistent/phone"],
            "",
            "--phone-file: cannot read /nonexistent/phone",
        ),
    ] {
        let run = ump(&sandbox, dir.path(), &args, stdin).await;
        assert_ne!(run.code, 0, "{args:?}");
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("13955550177"), "{}", run.stderr);
    }

    // The help says why.
    let help = ump(&sandbox, dir.path(), &["members", "query", "--help"], "").await;
    assert!(
        help.stdout.contains("--phone-file") && help.stdout.contains("/proc/PID/cmdline"),
        "{}",
        help.stdout
    );
}
