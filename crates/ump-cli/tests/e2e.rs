//! `ump` end to end: the built binary against a sandbox on 127.0.0.1, with a token store
//! of its own in a temporary directory. At least one command per group, the token
//! commands, every exit code, `--dry-run`, a stream with `--all`, the exactly-once points
//! change through a lost reply, completions and `ump sandbox`.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use gree_ump_sandbox::{Fault, Sandbox, SandboxConfig, SandboxHandle};
use serde_json::Value;

/// A sandbox and the environment `ump` runs in.
struct Env {
    sandbox: SandboxHandle,
    dir: tempfile::TempDir,
}

/// What one `ump` run did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:?}"))
    }

    fn ok(self) -> Self {
        assert_eq!(self.code, 0, "{self:?}");
        self
    }
}

impl Env {
    async fn new() -> Env {
        let sandbox = Sandbox::start(SandboxConfig::default())
            .await
            .expect("the sandbox starts");
        Env {
            sandbox,
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    fn store_dir(&self) -> PathBuf {
        self.dir.path().join("tokens")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ump"));
        for (k, _) in std::env::vars() {
            if k.starts_with("UMP_") {
                c.env_remove(k);
            }
        }
        c.args(args)
            .env("UMP_BASE_URL", self.sandbox.base_url())
            .env("UMP_APP_ID", self.sandbox.app_id())
            .env("UMP_APP_SECRET", self.sandbox.app_secret())
            .env(
                "UMP_TOKEN_STORE",
                format!("file:{}", self.store_dir().display()),
            )
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .env("XDG_STATE_HOME", self.dir.path().join("state"))
            .stdin(Stdio::null());
        c
    }

    /// Runs `ump args…` (off the async runtime, which keeps serving the sandbox).
    async fn ump(&self, args: &[&str]) -> Run {
        let mut c = self.command(args);
        let out = tokio::task::spawn_blocking(move || c.output())
            .await
            .expect("the runner")
            .expect("ump runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Registers a member (spending the day's token call, confirmed); its open_id.
    async fn member(&self, phone: &str) -> String {
        let run = self
            .ump(&[
                "--allow-obtain",
                "members",
                "create",
                "--project-id",
                "18756",
                "--nickname",
                "张三",
                "--phone",
                phone,
            ])
            .await
            .ok();
        run.json().as_str().expect("the open_id").to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_and_the_token_budget_guard() {
    let env = Env::new().await;
    // A fresh store: the call would spend the day's token-issuing call, so it is refused.
    let refused = env
        .ump(&["members", "query", "--phone", "13800000001"])
        .await;
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(
        refused.stderr.contains("--allow-obtain") && refused.stderr.contains("2.1"),
        "{refused:?}"
    );
    assert_eq!(
        env.sandbox.control().token_calls().obtain_calls,
        0,
        "nothing was spent"
    );

    let open_id = env.member("13800000001").await;
    assert_eq!(env.sandbox.control().token_calls().obtain_calls, 1);
    // The stored token serves the next calls: no further token call.
    let info = env
        .ump(&["members", "query", "--phone", "13800000001"])
        .await
        .ok()
        .json();
    assert_eq!(info["open_id"], open_id.as_str(), "{info}");
    let table = env
        .ump(&[
            "--output",
            "table",
            "members",
            "query",
            "--open-id",
            &open_id,
        ])
        .await
        .ok();
    assert!(
        table.stdout.starts_with("field") && table.stdout.contains(&open_id),
        "{table:?}"
    );
    let code = env
        .ump(&["members", "code", "--open-id", &open_id])
        .await
        .ok()
        .json();
    let parsed = env
        .ump(&["members", "parse-code", "--code", code.as_str().unwrap()])
        .await
        .ok()
        .json();
    assert_eq!(parsed["open_id"], open_id.as_str());
    assert_eq!(env.sandbox.control().token_calls().obtain_calls, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_say_refused_unknown_and_usage() {
    let env = Env::new().await;
    let open_id = env.member("13800000002").await;
    // 3: refused, with the typed code and the platform's message.
    let refused = env
        .ump(&["members", "query", "--phone", "13999999999"])
        .await;
    assert_eq!(refused.code, 3, "{refused:?}");
    assert!(
        refused.stderr.contains("MemberNotFound") && refused.stderr.contains("110004"),
        "{refused:?}"
    );
    assert!(refused.stdout.is_empty());
    // 2: usage: a missing required flag, a value that is not a number, money with 3 decimals.
    let missing = env.ump(&["points", "change", "--open-id", &open_id]).await;
    assert_eq!(missing.code, 2, "{missing:?}");
    let nan = env
        .ump(&[
            "points",
            "records",
            "--open-id",
            &open_id,
            "--score-type",
            "x",
            "--page-size",
            "1",
            "--page-no",
            "1",
        ])
        .await;
    assert_eq!(nan.code, 2, "{nan:?}");
    assert!(nan.stderr.contains("--score-type"), "{nan:?}");
    let money = env
        .ump(&[
            "orders",
            "add",
            "--open-id",
            &open_id,
            "--consume-date",
            "2026-12-01 10:00:00",
            "--order-amount",
            "10.005",
            "--order-no",
            "O-1",
            "--order-score",
            "1",
        ])
        .await;
    assert_eq!(money.code, 2, "{money:?}");
    assert!(money.stderr.contains("--order-amount"), "{money:?}");
    // 4: the order was stored and its reply lost: check before repeating.
    env.sandbox
        .control()
        .inject_fault("wk.user.order.add", Fault::DropAfterCommit, 1);
    let lost = env
        .ump(&[
            "orders",
            "add",
            "--open-id",
            &open_id,
            "--consume-date",
            "2026-12-01 10:00:00",
            "--order-amount",
            "1000.40",
            "--order-no",
            "O-2",
            "--order-score",
            "10",
        ])
        .await;
    assert_eq!(lost.code, 4, "{lost:?}");
    assert!(lost.stderr.contains("may have been applied"), "{lost:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_points_change_whose_reply_is_lost_is_applied_once() {
    let env = Env::new().await;
    let open_id = env.member("13800000003").await;
    let before = env
        .sandbox
        .control()
        .ledger(&open_id)
        .expect("a ledger")
        .score;
    env.sandbox
        .control()
        .inject_fault("wk.user.event.score.change", Fault::DropAfterCommit, 1);
    let run = env
        .ump(&[
            "points",
            "change",
            "--open-id",
            &open_id,
            "--score",
            "50",
            "--out-biz-no",
            "till-7",
            "--change-reason",
            "till offline",
            "--change-event",
            "event_add",
            "--change-id",
            "till7-0001",
        ])
        .await
        .ok();
    let report = run.json();
    assert_eq!(report["outcome"], "applied", "{report}");
    assert!(
        report["meaning"].as_str().unwrap().contains("exactly once"),
        "{report}"
    );
    let after = env
        .sandbox
        .control()
        .ledger(&open_id)
        .expect("a ledger")
        .score;
    assert_eq!(after - before, 50, "credited once");
    let records = env
        .ump(&[
            "points",
            "records",
            "--open-id",
            &open_id,
            "--score-type",
            "0",
            "--page-size",
            "10",
            "--page-no",
            "1",
        ])
        .await
        .ok()
        .json();
    assert_eq!(records.as_array().map(Vec::len), Some(1), "{records}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_prints_the_signed_request_and_sends_nothing() {
    let env = Env::new().await;
    let open_id = env.member("13800000004").await;
    let token = std::fs::read_dir(env.store_dir())
        .expect("the store dir")
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .find_map(|t| {
            serde_json::from_str::<Value>(&t).ok()?["access_token"]
                .as_str()
                .map(String::from)
        })
        .expect("a stored access token");
    let ledger = env
        .sandbox
        .control()
        .ledger(&open_id)
        .unwrap()
        .entries
        .len();
    let run = env
        .ump(&[
            "--dry-run",
            "points",
            "change",
            "--open-id",
            &open_id,
            "--score",
            "5",
            "--out-biz-no",
            "b",
            "--change-reason",
            "r",
            "--change-event",
            "event_add",
            "--change-id",
            "dry-1",
        ])
        .await
        .ok();
    let dry = run.json();
    assert_eq!(dry["method"], "wk.user.event.score.change", "{dry}");
    let url = dry["url"].as_str().unwrap();
    assert!(
        url.contains("sign=") && url.contains("/gw/gateway/wk.user.event.score.change/v1"),
        "{url}"
    );
    assert!(
        !run.stdout.contains(&token),
        "the access token is redacted: {}",
        run.stdout
    );
    assert!(
        dry["body"]
            .as_str()
            .unwrap()
            .contains("\"change_id\":\"dry-1\""),
        "{dry}"
    );
    assert_eq!(
        env.sandbox
            .control()
            .ledger(&open_id)
            .unwrap()
            .entries
            .len(),
        ledger,
        "nothing was sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coupons_stream_every_page_with_all() {
    let env = Env::new().await;
    let open_id = env.member("13800000005").await;
    env.ump(&[
        "coupons",
        "add-template",
        "--third-coupon-id",
        "T-1",
        "--coupon-category",
        "0",
        "--name",
        "满100减10",
        "--discount-fee",
        "10",
        "--coupon-type",
        "0",
        "--rules",
        "满100元才能使用",
        "--fixed-term",
        "10",
    ])
    .await
    .ok();
    let now = env.sandbox.control().now_ms().to_string();
    for n in 1..=5 {
        let set = format!(r#"[{{"open_id":"{open_id}","coupon_number":"C-{n}","params_type":1}}]"#);
        env.ump(&[
            "coupons",
            "give",
            "--coupon-set",
            &set,
            "--number",
            "1",
            "--create-time",
            &now,
            "--third-coupon-id",
            "T-1",
        ])
        .await
        .ok();
    }
    let all = env
        .ump(&[
            "coupons",
            "list",
            "--open-id",
            &open_id,
            "--page-size",
            "2",
            "--all",
        ])
        .await
        .ok()
        .json();
    assert_eq!(all.as_array().map(Vec::len), Some(5), "{all}");
    let lines = env
        .ump(&[
            "--jsonl",
            "coupons",
            "list",
            "--open-id",
            &open_id,
            "--page-size",
            "2",
            "--all",
            "--max-pages",
            "2",
        ])
        .await
        .ok();
    assert_eq!(
        lines.stdout.lines().count(),
        4,
        "two pages of two: {lines:?}"
    );
    for line in lines.stdout.lines() {
        serde_json::from_str::<Value>(line).expect("one JSON document per line");
    }
    // The other groups: an SMS code sent and checked.
    env.ump(&["sms", "send", "--target", "13800000005"])
        .await
        .ok();
    let code = env
        .sandbox
        .control()
        .last_sms_code("13800000005")
        .expect("a code");
    env.ump(&[
        "sms",
        "verify",
        "--phone",
        "13800000005",
        "--verify-code",
        &code,
    ])
    .await
    .ok();
    let wrong = env
        .ump(&[
            "sms",
            "verify",
            "--phone",
            "13800000005",
            "--verify-code",
            "0000x",
        ])
        .await;
    assert_eq!(wrong.code, 3, "{wrong:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_commands_show_state_without_secrets() {
    let env = Env::new().await;
    let empty = env.ump(&["tokens", "status"]).await.ok().json();
    assert!(empty["record"].is_null(), "{empty}");
    assert_eq!(empty["obtain"]["used"], 0);
    env.member("13800000006").await;
    let status = env.ump(&["tokens", "status"]).await.ok();
    let s = status.json();
    assert_eq!(s["obtain"]["used"], 1, "{s}");
    assert_eq!(s["obtain"]["limit"], 1);
    assert_eq!(s["refresh"]["limit"], 20);
    assert!(
        s["key"].as_str().unwrap().contains(env.sandbox.app_id()),
        "{s}"
    );
    assert!(
        s["record"]["access_expires_at_ms"].as_i64().is_some(),
        "{s}"
    );
    assert!(
        !status.stdout.contains(env.sandbox.app_secret()),
        "{}",
        status.stdout
    );
    assert!(
        !status.stdout.contains("\"access_token\""),
        "{}",
        status.stdout
    );
    // A refresh needs a confirmation, and then spends one of the day's 20.
    let unconfirmed = env.ump(&["tokens", "refresh"]).await;
    assert_eq!(unconfirmed.code, 2, "{unconfirmed:?}");
    assert!(unconfirmed.stderr.contains("20"), "{unconfirmed:?}");
    assert_eq!(env.sandbox.control().token_calls().refresh_calls, 0);
    let refreshed = env.ump(&["tokens", "refresh", "--yes"]).await.ok().json();
    assert_eq!(refreshed["refresh_used_today"], 1, "{refreshed}");
    assert_eq!(env.sandbox.control().token_calls().refresh_calls, 1);
    let none = env
        .ump(&["tokens", "clear-pending", "--yes"])
        .await
        .ok()
        .json();
    assert_eq!(none["cleared"], false, "{none}");
    // A dry run of a refresh says what it would cost and spends nothing.
    let dry = env
        .ump(&["--dry-run", "tokens", "refresh", "--yes"])
        .await
        .ok()
        .json();
    assert_eq!(dry["dry_run"], true, "{dry}");
    assert_eq!(env.sandbox.control().token_calls().refresh_calls, 1);
}

/// A token store directory others can write is refused (the named one and the default
/// one alike), naming it, the fix and the opt-in; the opt-in accepts it.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_directory_others_can_write_is_refused_unless_opted_in() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new().await;
    let default_dir = env.dir.path().join("state").join("gree-ump").join("tokens");
    for dir in [env.store_dir(), default_dir.clone()] {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    for use_default in [false, true] {
        let dir = if use_default {
            default_dir.clone()
        } else {
            env.store_dir()
        };
        let run = |opt_in: Option<&str>| {
            let mut c = env.command(&["tokens", "status"]);
            if use_default {
                c.env_remove("UMP_TOKEN_STORE");
            }
            if let Some(v) = opt_in {
                c.env("UMP_TOKEN_STORE_SHARED_DIR", v);
            }
            c.output().expect("ump runs")
        };
        let refused = run(None);
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert_ne!(refused.status.code(), Some(0), "{stderr}");
        assert!(stderr.contains(&dir.display().to_string()), "{stderr}");
        assert!(stderr.contains("chmod go-w"), "{stderr}");
        assert!(
            stderr.contains("UMP_TOKEN_STORE_SHARED_DIR=yes"),
            "{stderr}"
        );
        let refused = run(Some("no"));
        assert_ne!(refused.status.code(), Some(0));
        let accepted = run(Some("yes"));
        assert_eq!(
            accepted.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&accepted.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_comes_from_flags_then_environment_then_the_file() {
    let env = Env::new().await;
    let config_dir = env.dir.path().join("config").join("ump");
    std::fs::create_dir_all(&config_dir).unwrap();
    let secret = env.dir.path().join("secret");
    std::fs::write(&secret, format!("{}\n", env.sandbox.app_secret())).unwrap();
    std::fs::write(
        config_dir.join("config.toml"),
        format!(
            "base_url = \"{}\"\napp_id = \"{}\"\napp_secret_file = \"{}\"\ntoken_store = \"file:{}\"\n",
            env.sandbox.base_url(),
            env.sandbox.app_id(),
            secret.display(),
            env.store_dir().display()
        ),
    )
    .unwrap();
    let from_file = |c: &mut Command| {
        for k in [
            "UMP_BASE_URL",
            "UMP_APP_ID",
            "UMP_APP_SECRET",
            "UMP_TOKEN_STORE",
        ] {
            c.env_remove(k);
        }
    };
    let run = |mut c: Command| {
        let out = c.output().expect("ump runs");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    };
    let mut c = env.command(&["tokens", "status"]);
    from_file(&mut c);
    let status = run(c).ok().json();
    assert!(
        status["key"]
            .as_str()
            .unwrap()
            .contains(env.sandbox.app_id()),
        "{status}"
    );
    // A flag beats the file: another app id is another key.
    let mut c = env.command(&["--app-id", "other-app", "tokens", "status"]);
    from_file(&mut c);
    let status = run(c).ok().json();
    assert!(
        status["key"].as_str().unwrap().ends_with("/other-app"),
        "{status}"
    );
    // 1: nothing to run with: no platform anywhere.
    let mut c = env.command(&["tokens", "status"]);
    from_file(&mut c);
    c.env("XDG_CONFIG_HOME", env.dir.path().join("nowhere"));
    let none = run(c);
    assert_eq!(none.code, 1, "{none:?}");
    assert!(none.stderr.contains("no platform"), "{none:?}");
    // An explicit config file that is not there is an error, never silently skipped.
    let mut c = env.command(&["--config", "/nonexistent/ump.toml", "tokens", "status"]);
    from_file(&mut c);
    let missing = run(c);
    assert_eq!(missing.code, 1, "{missing:?}");
    assert!(
        missing.stderr.contains("/nonexistent/ump.toml"),
        "{missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completions_and_help() {
    let env = Env::new().await;
    let bash = env.ump(&["completions", "bash"]).await.ok();
    assert!(
        bash.stdout.contains("ump") && bash.stdout.contains("members"),
        "{}",
        &bash.stdout[..200.min(bash.stdout.len())]
    );
    let help = env.ump(&["points", "change", "--help"]).await.ok();
    // The document's wording and the gloss.
    assert!(
        help.stdout.contains("唯一标识") && help.stdout.contains("--change-id"),
        "{}",
        help.stdout
    );
    let usage = env.ump(&["points"]).await;
    assert_eq!(usage.code, 2, "{usage:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ump_sandbox_serves_the_sandbox() {
    let env = Env::new().await;
    let mut child = env
        .command(&["sandbox", "--port", "0", "--app-id", "rehearsal"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("ump sandbox starts");
    let stdout = child.stdout.take().expect("its stdout");
    let first = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .map(|_| line)
    });
    let line = tokio::time::timeout(Duration::from_secs(60), first)
        .await
        .expect("it prints its address in time")
        .expect("the reader")
        .expect("a line");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        line.starts_with("gree-ump-sandbox listening on http://127.0.0.1:"),
        "{line}"
    );
}
