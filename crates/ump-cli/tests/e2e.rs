//! `ump` end to end: the built binary against a sandbox on 127.0.0.1, with a token store
//! of its own in a temporary directory. At least one command per group, the token
//! commands, every exit code, `--dry-run`, a stream with `--all`, the exactly-once points
//! change through a lost reply, completions and `ump sandbox`.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use gree_ump_sandbox::{Fault, Sandbox, SandboxConfig, SandboxHandle, VerbReading};
use serde_json::Value;

mod support;

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
        Env::with(SandboxConfig::default()).await
    }

    async fn with(config: SandboxConfig) -> Env {
        let sandbox = Sandbox::start(config).await.expect("the sandbox starts");
        Env {
            sandbox,
            dir: tempfile::tempdir().expect("a temp dir"),
        }
    }

    fn store_dir(&self) -> PathBuf {
        self.dir.path().join("tokens")
    }

    fn command(&self, args: &[&str]) -> Command {
        // store_dir() is dir/tokens, where support::ump keeps the tokens.
        let mut c = support::ump(&self.sandbox, self.dir.path());
        c.args(args).stdin(Stdio::null());
        c
    }

    /// Runs `ump args…` (off the async runtime, which keeps serving the sandbox).
    async fn ump(&self, args: &[&str]) -> Run {
        self.ump_with(args, &[]).await
    }

    /// [`Env::ump`] with environment variables of its own (set last: they win).
    async fn ump_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let mut c = self.command(args);
        for (k, v) in vars {
            c.env(k, v);
        }
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

/// A sandbox whose standard output is closed (`ump sandbox | head -1`, or a supervisor
/// that stopped reading) keeps serving: printing its banner once made it panic on the
/// broken pipe and exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_with_its_output_closed_keeps_serving() {
    let env = Env::new().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let mut child = env
        .command(&["sandbox", "--port", &port.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("ump sandbox starts");
    // Nobody reads: every line it prints meets a broken pipe.
    drop(child.stdout.take());
    let url = format!("http://127.0.0.1:{port}/__sandbox/");
    gree_ump::runtime::install_tls_provider();
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let answered = loop {
        if let Some(status) = child.try_wait().expect("its status") {
            panic!("the sandbox exited ({status}) when its output was closed");
        }
        if http
            .get(&url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            break true;
        }
        if std::time::Instant::now() > deadline {
            break false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(answered, "the sandbox answered at {url}");
    // Still there a while later (the banner is printed after the server starts).
    tokio::time::sleep(Duration::from_secs(1)).await;
    let status = child.try_wait().expect("its status");
    let again = http
        .get(&url)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success());
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        status.is_none(),
        "the sandbox exited ({status:?}) when its output was closed"
    );
    assert!(again, "the sandbox still answers at {url}");
}

/// A wrong app secret: the day's 2.1 is refused and stays counted. `ump tokens status`
/// shows the failure and its code, and `ump tokens forget-obtain --yes` is the documented
/// way out: after it, the corrected service works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_is_shown_and_forget_obtain_is_the_way_out() {
    let env = Env::new().await;
    let wrong = env
        .ump_with(
            &["--allow-obtain", "members", "levels"],
            &[("UMP_APP_SECRET", "wrong-secret")],
        )
        .await;
    assert_ne!(wrong.code, 0, "{wrong:?}");
    assert!(!wrong.stderr.contains("wrong-secret"), "{wrong:?}");
    let status = env.ump(&["tokens", "status"]).await.ok().json();
    assert_eq!(status["obtain"]["used"], 1, "{status}");
    let failure = &status["last_failure"];
    assert_eq!(failure["kind"], "obtain", "{status}");
    assert!(
        failure["code"].is_i64(),
        "the refusal's code is shown: {status}"
    );
    // The fixed secret alone does not help: the day's 2.1 is counted. Said as it is
    // (never "spending today's token-issuing call (1 of 1 used)"), with the way out.
    let still = env.ump(&["--allow-obtain", "members", "levels"]).await;
    assert_eq!(still.code, 1, "{still:?}");
    assert!(!still.stderr.contains("spending"), "{still:?}");
    assert!(
        still.stderr.contains("is spent") && still.stderr.contains("forget-obtain --yes"),
        "{still:?}"
    );
    // The step asks for confirmation, naming the failure and the risk.
    let ask = env.ump(&["tokens", "forget-obtain"]).await;
    assert_eq!(ask.code, 2, "{ask:?}");
    assert!(
        ask.stderr.contains("--yes") && ask.stderr.contains("obtain"),
        "{ask:?}"
    );
    let done = env
        .ump(&["tokens", "forget-obtain", "--yes"])
        .await
        .ok()
        .json();
    assert_eq!(done["gave_back"], true, "{done}");
    assert_eq!(done["obtain_used_now"], 0, "{done}");
    env.ump(&["--allow-obtain", "members", "levels"]).await.ok();
    assert_eq!(env.sandbox.control().token_calls().obtain_issued, 1);
}

/// Notes a disagreement (and goes on, so one run shows every row that is wrong).
macro_rules! check {
    ($wrong:ident, $cond:expr, $($fmt:tt)+) => {
        if !$cond {
            $wrong.push(format!("line {}: {}: {}", line!(), stringify!($cond), format!($($fmt)+)));
        }
    };
    ($wrong:ident, $cond:expr) => {
        check!($wrong, $cond, "")
    };
}

macro_rules! check_eq {
    ($wrong:ident, $a:expr, $b:expr, $($fmt:tt)+) => {
        check!($wrong, $a == $b, "{:?} != {:?}: {}", $a, $b, format!($($fmt)+))
    };
    ($wrong:ident, $a:expr, $b:expr) => {
        check_eq!($wrong, $a, $b, "")
    };
}

impl Env {
    /// Runs `ump args…` with its stdout sent to `stdout` (a file that refuses writes).
    async fn ump_to(&self, args: &[&str], stdout: std::fs::File) -> Run {
        let mut c = self.command(args);
        c.stdout(Stdio::from(stdout));
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

    fn score(&self, open_id: &str) -> i64 {
        self.sandbox
            .control()
            .ledger(open_id)
            .expect("a ledger")
            .score
    }
}

/// `ump points change` of `score` points (`event_add` or `event_subtract`) under `change_id`.
fn change_args<'a>(
    open_id: &'a str,
    score: &'a str,
    event: &'a str,
    change_id: &'a str,
) -> Vec<&'a str> {
    vec![
        "points",
        "change",
        "--open-id",
        open_id,
        "--score",
        score,
        "--out-biz-no",
        "till-9",
        "--change-reason",
        "till",
        "--change-event",
        event,
        "--change-id",
        change_id,
    ]
}

/// What each exit code's words may never say when the ledger shows otherwise.
fn claims_not_sent(run: &Run) -> bool {
    let text = run.stderr.to_lowercase();
    text.contains("not sent") || text.contains("before anything was sent")
}

/// For each scenario, the exit code and the words agree with the sandbox's ledger: what
/// was applied is never called refused or not sent, "not in effect" only follows the
/// platform's refusal, and a key already in use points to --resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_exit_code_and_its_words_match_the_ledger() {
    let env = Env::new().await;
    // Every disagreement, not only the first.
    let mut wrong: Vec<String> = Vec::new();
    let open_id = env.member("13800000021").await;
    let start = env.score(&open_id);

    // Applied: 0, the ledger moved once.
    let applied = env
        .ump(&change_args(&open_id, "50", "event_add", "x-1"))
        .await
        .ok();
    check_eq!(wrong, applied.json()["outcome"], "applied", "{applied:?}");
    check_eq!(wrong, env.score(&open_id), start + 50);

    // The same change sent again under its key: the key is in use (by this change or
    // another), never "not in effect"; --resume settles it as applied.
    let again = env
        .ump(&change_args(&open_id, "50", "event_add", "x-1"))
        .await;
    check_eq!(wrong, again.code, 4, "{again:?}");
    check!(
        wrong,
        again.stderr.contains("already used") && again.stderr.contains("--resume"),
        "{again:?}"
    );
    check!(wrong, !again.stderr.contains("not in effect"), "{again:?}");
    check_eq!(wrong, env.score(&open_id), start + 50, "still once");
    let mut resume = change_args(&open_id, "50", "event_add", "x-1");
    resume.push("--resume");
    let resumed = env.ump(&resume).await.ok();
    check_eq!(wrong, resumed.json()["outcome"], "applied", "{resumed:?}");
    check_eq!(wrong, env.score(&open_id), start + 50, "still once");

    // Refused: 3, and the platform's answer proves nothing moved.
    let refused = env
        .ump(&change_args(&open_id, "100000", "event_subtract", "x-2"))
        .await;
    check_eq!(wrong, refused.code, 3, "{refused:?}");
    check!(
        wrong,
        refused.stderr.contains("InsufficientPoints") && refused.stderr.contains("not in effect"),
        "{refused:?}"
    );
    check_eq!(wrong, env.score(&open_id), start + 50);

    // Output that cannot be written after an applied write: 5, and stderr says applied.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let lost_output = env
        .ump_to(&change_args(&open_id, "7", "event_add", "x-3"), full)
        .await;
    check_eq!(wrong, lost_output.code, 5, "{lost_output:?}");
    check!(
        wrong,
        lost_output.stderr.contains("in effect") && lost_output.stderr.contains("x-3"),
        "{lost_output:?}"
    );
    check!(wrong, !claims_not_sent(&lost_output), "{lost_output:?}");
    check_eq!(wrong, env.score(&open_id), start + 57, "applied once");

    // Unknown: 4 for a points change the platform answered "busy" at every attempt
    // (busy does not promise nothing was applied); --resume settles it, once.
    env.sandbox
        .control()
        .inject_fault("wk.user.event.score.change", Fault::Busy, 10);
    let busy = env
        .ump(&change_args(&open_id, "3", "event_add", "x-4"))
        .await;
    check_eq!(wrong, busy.code, 4, "{busy:?}");
    check!(
        wrong,
        busy.stderr.contains("still unknown") && busy.stderr.contains("--resume"),
        "{busy:?}"
    );
    check!(wrong, !claims_not_sent(&busy), "{busy:?}");
    check!(wrong, !busy.stderr.contains("not in effect"), "{busy:?}");
    check_eq!(
        wrong,
        env.score(&open_id),
        start + 57,
        "busy applied nothing"
    );
    let mut settle = change_args(&open_id, "3", "event_add", "x-4");
    settle.push("--resume");
    let settled = env.ump(&settle).await;
    check_eq!(wrong, settled.code, 0, "{settled:?}");
    check_eq!(wrong, env.score(&open_id), start + 60, "applied once");

    // Unknown: 4 for a write whose answer never came (a proxy's 502): it may have been
    // applied; the words do not say either way.
    env.sandbox
        .control()
        .inject_fault("wk.user.order.add", Fault::HttpStatus { status: 502 }, 1);
    let unknown = env
        .ump(&[
            "orders",
            "add",
            "--open-id",
            &open_id,
            "--consume-date",
            "2026-12-01 10:00:00",
            "--order-amount",
            "10.00",
            "--order-no",
            "O-21",
            "--order-score",
            "1",
        ])
        .await;
    check_eq!(wrong, unknown.code, 4, "{unknown:?}");
    check!(
        wrong,
        unknown.stderr.contains("may have been applied"),
        "{unknown:?}"
    );
    check!(wrong, !claims_not_sent(&unknown), "{unknown:?}");
    // (The proxy answered before the platform processed it: "may" was all it could say.)
    check_eq!(
        wrong,
        env.score(&open_id),
        start + 60,
        "the order was not applied"
    );

    // A write without a key whose output cannot be written: 5, with its result (the new
    // member's open_id) on stderr, so it is neither lost nor created twice.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let created = env
        .ump_to(
            &[
                "members",
                "create",
                "--project-id",
                "18756",
                "--nickname",
                "李四",
                "--phone",
                "13800000023",
            ],
            full,
        )
        .await;
    check_eq!(wrong, created.code, 5, "{created:?}");
    let new_member = env
        .ump(&["members", "query", "--phone", "13800000023"])
        .await;
    check_eq!(
        wrong,
        new_member.code,
        0,
        "the member exists: {new_member:?}"
    );
    if new_member.code == 0 {
        let open_id = new_member.json()["open_id"]
            .as_str()
            .unwrap_or("?")
            .to_string();
        check!(
            wrong,
            created.stderr.contains("was applied") && created.stderr.contains(&open_id),
            "{created:?}"
        );
    }

    // A read answered 502 on every attempt: 1, and the words say it was sent.
    env.sandbox
        .control()
        .inject_fault("wk.user.info.query", Fault::HttpStatus { status: 502 }, 3);
    let bad_gateway = env
        .ump(&["members", "query", "--phone", "13800000021"])
        .await;
    check_eq!(wrong, bad_gateway.code, 1, "{bad_gateway:?}");
    check!(
        wrong,
        env.sandbox.control().faults().is_empty(),
        "three sends"
    );
    check!(wrong, !claims_not_sent(&bad_gateway), "{bad_gateway:?}");
    check!(
        wrong,
        bad_gateway.stderr.contains("was sent"),
        "{bad_gateway:?}"
    );

    // A read that times out on every attempt: 1, sent, no answer.
    env.sandbox
        .control()
        .inject_fault("wk.user.info.query", Fault::Slow { delay_ms: 2500 }, 3);
    let slow = env
        .ump(&[
            "--timeout",
            "1",
            "members",
            "query",
            "--phone",
            "13800000021",
        ])
        .await;
    check_eq!(wrong, slow.code, 1, "{slow:?}");
    check!(wrong, !claims_not_sent(&slow), "{slow:?}");
    check!(wrong, slow.stderr.contains("was sent"), "{slow:?}");
    env.sandbox.control().clear_faults();

    // Connection refused: 1, and now "not sent" is the truth.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = closed.local_addr().expect("its address").port();
    drop(closed);
    let base = format!("http://127.0.0.1:{port}");
    let refused_conn = env
        .ump(&[
            "--base-url",
            &base,
            "--allow-obtain",
            "members",
            "query",
            "--phone",
            "13800000021",
        ])
        .await;
    check_eq!(wrong, refused_conn.code, 1, "{refused_conn:?}");
    check!(
        wrong,
        refused_conn.stderr.contains("not sent"),
        "{refused_conn:?}"
    );

    // The help lists every code with the meaning the words above give.
    let help = env.ump(&["--help"]).await.ok();
    check!(
        wrong,
        !help.stdout.contains("1 failed before anything was sent"),
        "{}",
        help.stdout
    );
    check!(wrong, help.stdout.contains("5 applied"), "{}", help.stdout);
    check_eq!(wrong, env.score(&open_id), start + 60);
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

/// A local token-budget failure during a points change: 1 (nothing was sent), not 3
/// (refused by the platform), and quickly: repeating cannot help before the budget resets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_token_budget_is_a_failure_before_sending_not_a_refusal() {
    let env = Env::new().await;
    env.sandbox
        .control()
        .set_access_token_lifetime(Duration::from_secs(1));
    let open_id = env.member("13800000022").await;
    let start = env.score(&open_id);
    // The day's 20 refreshes, spent.
    for _ in 0..20 {
        env.ump(&["tokens", "refresh", "--yes"]).await.ok();
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let started = std::time::Instant::now();
    let run = env
        .ump(&change_args(&open_id, "5", "event_add", "b-1"))
        .await;
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stderr.contains("budget") && run.stderr.contains("not sent"),
        "{run:?}"
    );
    assert!(!run.stderr.contains("refused"), "{run:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no attempts repeated in vain"
    );
    assert_eq!(env.score(&open_id), start);
}

/// Without --allow-obtain no path reaches 2.1: an expired access token and a refresh
/// token the platform has revoked leave only the token-issuing call, which the token
/// manager's fallback must not make without consent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_refresh_token_never_spends_the_days_obtain_without_consent() {
    use gree_ump::runtime::clock::ManualClock;
    let env = Env::new().await;
    let control = env.sandbox.control();
    let day_ms = 86_400_000;
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis(),
    )
    .expect("an i64");
    // Yesterday, a service sharing the store obtained its tokens.
    control.set_time_ms(now_ms - day_ms);
    let yesterday = std::sync::Arc::new(ManualClock::new(now_ms - day_ms));
    let store = gree_ump::FileTokenStore::new(env.store_dir()).expect("the store");
    let service = gree_ump::Client::builder()
        .base_url(env.sandbox.base_url())
        .app_id(env.sandbox.app_id())
        .app_secret(env.sandbox.app_secret())
        .token_store(std::sync::Arc::new(store))
        .clock(yesterday)
        .build()
        .expect("a client");
    service
        .runtime()
        .send(&gree_ump::endpoints::ListLevelsRequest::new())
        .await
        .expect("the levels");
    assert_eq!(control.token_calls().obtain_calls, 1);
    // Today: its access token has expired, and the platform revoked the refresh token.
    control.set_time_ms(now_ms);
    control.revoke_all_tokens();
    assert_eq!(control.token_calls().obtain_calls, 0, "a new day");
    let run = env.ump(&["members", "levels"]).await;
    assert_eq!(
        control.token_calls().obtain_calls,
        0,
        "2.1 not spent: {run:?}"
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.stderr.contains("--allow-obtain") && run.stderr.contains("2.1"),
        "{run:?}"
    );
    // With consent it is spent, once: after the pause the store keeps after a failed
    // token call (the refused refresh), which holds back every process sharing it.
    tokio::time::sleep(Duration::from_millis(5500)).await;
    env.ump(&["--allow-obtain", "members", "levels"]).await.ok();
    assert_eq!(control.token_calls().obtain_calls, 1);
}

/// A platform that takes 3.8, 5.4 and 5.5 by GET only (errata E01), refusing POST with
/// 1001 or with HTTP 405: every `ump` command is a fresh process, and the verb learnt by
/// the first one reaches the next through the token store, so each endpoint pays one
/// refused call in all. Streams and `--dry-run` follow the verb.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_follow_a_platform_that_takes_the_documents_verbs() {
    for reading in [VerbReading::Document, VerbReading::DocumentHttp405] {
        let env = Env::with(SandboxConfig::default().with_verbs(reading)).await;
        let open_id = env.member("13800000006").await;
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
        for n in 1..=3 {
            let set =
                format!(r#"[{{"open_id":"{open_id}","coupon_number":"C-{n}","params_type":1}}]"#);
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
        let list = [
            "coupons",
            "list",
            "--open-id",
            &open_id,
            "--page-size",
            "1",
            "--all",
        ];
        let all = env.ump(&list).await.ok().json();
        assert_eq!(all.as_array().map(Vec::len), Some(3), "{reading:?}: {all}");
        env.ump(&[
            "coupons",
            "verify",
            "--open-id",
            &open_id,
            "--order-no",
            "ord-1",
            "--third-coupon-codes",
            "C-1",
            "--verification-time",
            &now,
            "--order-amount",
            "150.00",
        ])
        .await
        .ok();
        let levels = env.ump(&["members", "levels", "--all"]).await.ok().json();
        assert_eq!(
            levels.as_array().map(Vec::len),
            Some(7),
            "{reading:?}: {levels}"
        );
        assert_eq!(
            env.sandbox.control().verb_refusals(),
            3,
            "{reading:?}: one refused call per endpoint marked GET"
        );
        // The next processes start with what the first ones learnt.
        env.ump(&list).await.ok();
        env.ump(&["members", "levels"]).await.ok();
        let dry = env
            .ump(&["--dry-run", "coupons", "list", "--open-id", &open_id])
            .await
            .ok()
            .json();
        assert_eq!(dry["verb"], "GET", "{reading:?}: {dry}");
        assert_eq!(env.sandbox.control().verb_refusals(), 3, "{reading:?}");
        let used = env.sandbox.control().dump()["coupons"]["coupons"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["use_order_no"] == "ord-1")
            .count();
        assert_eq!(used, 1, "{reading:?}: 5.4 by GET used the coupon");
    }
}

/// `ump journal`: what the services recorded, seen and settled from the command line:
/// status and list without personal data, show with it, resolve guarded by --yes, and
/// drain settling what is due (the words and exit codes from the journal's states).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_commands_show_and_settle_what_the_services_recorded() {
    use gree_ump::endpoints::{ChangePointsArgs, ChangePointsRequest, SendSmsCodeRequest};
    use gree_ump::journal::Journal;
    use gree_ump::runtime::journal::SqliteJournal;

    let env = Env::new().await;
    let open_id = env.member("13800000007").await;
    let file = env.dir.path().join("journal.sqlite3");
    let file_text = file.display().to_string();
    // A service records two writes: a points credit, and an SMS whose reply is lost
    // (never re-sent by itself: it waits for an operator).
    {
        let client = gree_ump::Client::builder()
            .base_url(env.sandbox.base_url())
            .app_id(env.sandbox.app_id())
            .app_secret(env.sandbox.app_secret())
            .token_store(std::sync::Arc::new(
                gree_ump::FileTokenStore::new(env.store_dir()).unwrap(),
            ))
            .build()
            .unwrap();
        let journal = Journal::new(
            client,
            std::sync::Arc::new(SqliteJournal::open(&file).unwrap()),
        );
        journal
            .submit(&ChangePointsRequest::new(ChangePointsArgs {
                open_id: open_id.clone(),
                score: 7,
                out_biz_no: "cli-1".into(),
                change_reason: "cli".into(),
                change_event: "event_add".into(),
                change_id: "cli-1".into(),
            }))
            .await
            .unwrap();
        journal
            .submit(&SendSmsCodeRequest::new("13800000007"))
            .await
            .unwrap();
    }
    let journal_env = [("UMP_JOURNAL", file_text.as_str())];
    // Reading the journal needs no credentials: an operator's shell may have none.
    let status = env
        .ump_with(
            &["journal", "status"],
            &[
                ("UMP_JOURNAL", file_text.as_str()),
                ("UMP_APP_ID", ""),
                ("UMP_APP_SECRET", ""),
                ("UMP_BASE_URL", ""),
            ],
        )
        .await
        .ok()
        .json();
    assert_eq!(status["pending"], 2, "{status}");
    let list = env.ump_with(&["journal", "list"], &journal_env).await.ok();
    assert!(
        !list.stdout.contains("13800000007"),
        "list shows no personal data: {}",
        list.stdout
    );
    assert!(!list.stdout.contains(&open_id), "{}", list.stdout);
    env.sandbox
        .control()
        .inject_fault("wk.sms.verify.send", Fault::DropAfterCommit, 1);
    let drained = env.ump_with(&["journal", "drain"], &journal_env).await;
    assert_eq!(
        drained.code, 4,
        "an entry waits for an operator: {drained:?}"
    );
    assert!(
        drained
            .stderr
            .contains("ump journal list --state attention"),
        "{drained:?}"
    );
    assert_eq!(env.score(&open_id), 7, "the credit was applied");
    let attention = env
        .ump_with(&["journal", "list", "--state", "attention"], &journal_env)
        .await
        .ok()
        .json();
    let id = attention[0]["id"].as_i64().expect("the SMS entry");
    assert_eq!(attention[0]["method"], "wk.sms.verify.send", "{attention}");
    let show = env
        .ump_with(&["journal", "show", &id.to_string()], &journal_env)
        .await
        .ok()
        .json();
    assert!(
        show["body"].as_str().unwrap().contains("13800000007"),
        "show has the body: {show}"
    );
    // Resolving needs --yes, and says what it would do.
    let unconfirmed = env
        .ump_with(
            &["journal", "resolve", &id.to_string(), "--as", "applied"],
            &journal_env,
        )
        .await;
    assert_eq!(unconfirmed.code, 2, "{unconfirmed:?}");
    assert!(unconfirmed.stderr.contains("--yes"), "{unconfirmed:?}");
    let resolved = env
        .ump_with(
            &[
                "journal",
                "resolve",
                &id.to_string(),
                "--as",
                "applied",
                "--yes",
            ],
            &journal_env,
        )
        .await
        .ok()
        .json();
    assert_eq!(resolved["state"], "applied", "{resolved}");
    let status = env
        .ump_with(&["journal", "status"], &journal_env)
        .await
        .ok()
        .json();
    assert_eq!(
        (status["applied"].as_i64(), status["attention"].as_i64()),
        (Some(2), Some(0)),
        "{status}"
    );
    let again = env.ump_with(&["journal", "drain"], &journal_env).await;
    assert_eq!(again.code, 0, "nothing left: {again:?}");
}

/// `ump … | head`: a reader that closes stdout early ends a read quietly, with exit 0
/// (not "Broken pipe" and exit 1); a write whose result cannot be written still says
/// on stderr what was applied (exit 5).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_output_ends_a_read_quietly() {
    let env = Env::new().await;
    env.member("13800000077").await;
    let run = |args: &[&str]| {
        let mut c = env.command(args);
        c.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().expect("ump runs");
        // The reader is gone before anything is written.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("ump ends");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) =
        tokio::task::block_in_place(|| run(&["members", "query", "--phone", "13800000077"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.is_empty(), "quietly: {stderr}");
    let (code, stderr) = tokio::task::block_in_place(|| {
        run(&[
            "members",
            "create",
            "--project-id",
            "18756",
            "--nickname",
            "李四",
            "--phone",
            "13800000078",
        ])
    });
    assert_eq!(code, 5, "{stderr}");
    assert!(stderr.contains("Do not repeat it"), "{stderr}");
}

/// A page that is not the last says so on stderr, with how to read the rest (the
/// runtime's walk rule decides); the last page says nothing. Stdout is the page alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_is_not_the_last_says_so() {
    let env = Env::new().await;
    let open_id = env.member("13800000079").await;
    for n in 0..3 {
        env.ump(&[
            "points",
            "change",
            "--open-id",
            &open_id,
            "--score",
            "5",
            "--out-biz-no",
            &format!("page-{n}"),
            "--change-reason",
            "paging",
            "--change-event",
            "event_add",
            "--change-id",
            &format!("page-{n}"),
        ])
        .await
        .ok();
    }
    let page = |no: &'static str| {
        let open_id = open_id.clone();
        let env = &env;
        async move {
            env.ump(&[
                "points",
                "records",
                "--open-id",
                &open_id,
                "--score-type",
                "all",
                "--page-size",
                "2",
                "--page-no",
                no,
            ])
            .await
            .ok()
        }
    };
    let first = page("1").await;
    assert_eq!(first.json().as_array().map(Vec::len), Some(2), "{first:?}");
    assert!(
        first.stderr.contains("more follow: --page-no 2, or --all"),
        "{first:?}"
    );
    let last = page("2").await;
    assert_eq!(last.json().as_array().map(Vec::len), Some(1), "{last:?}");
    assert!(!last.stderr.contains("more follow"), "{last:?}");
}

/// `ump journal` on a PostgreSQL journal (`UMP_JOURNAL=postgres://…`): what a service on
/// another host recorded is seen and drained from here, and the URL's password is shown
/// nowhere. Needs `POSTGRES_URL` (skipped with a notice without a server; fails under CI).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_commands_work_on_a_postgres_journal() {
    use gree_ump::endpoints::{ChangePointsArgs, ChangePointsRequest};
    use gree_ump::journal::Journal;
    use gree_ump::runtime::journal::PostgresJournal;

    let url = std::env::var("POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let namespace = format!("cli_{}", std::process::id());
    let journal = match PostgresJournal::builder(url.as_str())
        .namespace(namespace.as_str())
        .retry_for(Duration::from_secs(2))
        .connect()
        .await
    {
        Ok(journal) => journal,
        Err(e) if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") => {
            panic!("CI is set but the PostgreSQL server of POSTGRES_URL cannot be reached: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED journal_commands_work_on_a_postgres_journal: no PostgreSQL: {e}");
            return;
        }
    };
    let env = Env::new().await;
    let open_id = env.member("13800000008").await;
    let client = gree_ump::Client::builder()
        .base_url(env.sandbox.base_url())
        .app_id(env.sandbox.app_id())
        .app_secret(env.sandbox.app_secret())
        .token_store(std::sync::Arc::new(
            gree_ump::FileTokenStore::new(env.store_dir()).unwrap(),
        ))
        .build()
        .unwrap();
    Journal::new(client, std::sync::Arc::new(journal))
        .submit(&ChangePointsRequest::new(ChangePointsArgs {
            open_id: open_id.clone(),
            score: 9,
            out_biz_no: "pg-1".into(),
            change_reason: "cli".into(),
            change_event: "event_add".into(),
            change_id: "pg-1".into(),
        }))
        .await
        .unwrap();
    // The same server under a password the URL carries (trust authentication ignores
    // it): it must show nowhere.
    let with_password = url.replacen("://postgres@", "://postgres:pa55-secret@", 1);
    let journal_env = [
        ("UMP_JOURNAL", with_password.as_str()),
        ("UMP_JOURNAL_NAMESPACE", namespace.as_str()),
    ];
    let status = env
        .ump_with(&["journal", "status"], &journal_env)
        .await
        .ok();
    assert!(!status.stdout.contains("pa55"), "{}", status.stdout);
    let status = status.json();
    assert_eq!(status["pending"], 1, "{status}");
    let drained = env.ump_with(&["journal", "drain"], &journal_env).await;
    assert_eq!(drained.code, 0, "{drained:?}");
    assert!(!drained.stderr.contains("pa55") && !drained.stdout.contains("pa55"));
    assert_eq!(env.score(&open_id), 9, "applied once");
    let status = env
        .ump_with(&["journal", "status"], &journal_env)
        .await
        .ok()
        .json();
    assert_eq!(status["applied"], 1, "{status}");
    let (raw, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    raw.batch_execute(&format!(
        "DROP TABLE {namespace}_entries; DROP TABLE {namespace}_meta;"
    ))
    .await
    .unwrap();
}

/// `ump import`: a file of member, order and points lines (`IMPORT_LINES`, default
/// 6,000 in a debug build's test; the note's figure is 100,000) imported into the sandbox through the journal,
/// killed with SIGKILL twice (while recording, then while draining) and run again to the
/// end: the sandbox ends with exactly the file's effects, and the journal holds each line
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_applies_each_line_once_across_two_kills() {
    let asked: usize = std::env::var("IMPORT_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6_000);
    // Three lines a round: at least as many lines as asked.
    let rounds = asked.div_ceil(3);
    let lines = rounds * 3;
    let env = Env::new().await;
    // Members that exist before the import, for the points lines (which name an open id).
    let existing: Vec<String> = {
        let mut out = Vec::new();
        for m in 0..20 {
            out.push(env.member(&format!("1370000{m:04}")).await);
        }
        out
    };
    let file = env.dir.path().join("import.jsonl");
    let mut text = String::new();
    for i in 0..rounds {
        let phone = format!("136{i:08}");
        text.push_str(
            &serde_json::json!({"endpoint": "wk.user.info.add", "request": {
                "project_id": "18756", "nickname": "导入", "phone": phone}})
            .to_string(),
        );
        text.push('\n');
        text.push_str(
            &serde_json::json!({"endpoint": "wk.user.order.add", "request": {
                "phone": phone, "consume_date": "2026-12-01 10:00:00",
                "order_amount": "20.00", "order_no": format!("imp-{i}"), "order_score": 2}})
            .to_string(),
        );
        text.push('\n');
        text.push_str(
            &serde_json::json!({"endpoint": "wk.user.event.score.change", "request": {
                "open_id": existing[i % existing.len()], "score": 1,
                "out_biz_no": format!("imp-p-{i}"), "change_reason": "导入",
                "change_event": "event_add", "change_id": format!("imp-p-{i}")}})
            .to_string(),
        );
        text.push('\n');
    }
    std::fs::write(&file, &text).unwrap();
    let journal_file = env.dir.path().join("import-journal.sqlite3");
    let journal_text = journal_file.display().to_string();
    let file_text = file.display().to_string();
    // Opened once, before the import: each opening takes the file's write lock.
    let watcher = gree_ump::runtime::journal::SqliteJournal::open(&journal_file).unwrap();
    let count_entries = || async {
        use gree_ump::runtime::journal::JournalStore;
        let counts = watcher.counts().await.unwrap();
        let all =
            counts.pending + counts.in_flight + counts.applied + counts.refused + counts.attention;
        (all, counts.applied)
    };
    // --dry-run says what a run would do, and records and sends nothing.
    let dry = env
        .ump_with(
            &["import", &file_text, "--dry-run"],
            &[("UMP_JOURNAL", &journal_text)],
        )
        .await
        .ok()
        .json();
    assert_eq!(dry["would_submit"], lines, "{dry}");
    assert_eq!(
        count_entries().await,
        (0, 0),
        "nothing recorded by a dry run"
    );

    // Killed twice: while recording, and while applying.
    let started = std::time::Instant::now();
    let mut kills = Vec::new();
    for until in [lines as u64 / 3, lines as u64] {
        let mut child = env
            .command(&[
                "import",
                &file_text,
                "--lease",
                "3",
                "--attempt-lifetime",
                "2",
            ])
            .env("UMP_JOURNAL", &journal_text)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        loop {
            let (recorded, applied) = count_entries().await;
            // The first run is killed a third of the way into recording, the second
            // halfway through applying (its drain keeps pace with its recording).
            let reached = if until < lines as u64 {
                recorded >= until
            } else {
                applied >= until / 2
            };
            if reached {
                break;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the import ended before it was killed: {status}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        kills.push(count_entries().await);
    }
    let last = env
        .ump_with(
            // The sandbox commits before it answers: a lost reply's write cannot land
            // later, so the lookups need not wait the real platform's two minutes.
            &[
                "import",
                &file_text,
                "--lease",
                "3",
                "--attempt-lifetime",
                "2",
            ],
            &[("UMP_JOURNAL", &journal_text)],
        )
        .await;
    assert_eq!(last.code, 0, "{last:?}");
    let summary = last.json();
    let took = started.elapsed();
    println!(
        "ump import: {lines} lines, killed at (recorded, applied) {kills:?}, then resumed: \
         {} recorded by the last run, {} found recorded; {took:?} in all",
        summary["submitted_now"], summary["recorded_before"]
    );
    assert_eq!(summary["applied"], lines, "{summary}");
    assert_eq!(
        summary["submitted_now"].as_u64().unwrap() + summary["recorded_before"].as_u64().unwrap(),
        lines as u64
    );
    let (recorded, applied) = count_entries().await;
    assert_eq!(
        (recorded, applied),
        (lines as u64, lines as u64),
        "each line once"
    );

    // Exactly the file's effects on the platform.
    let dump = env.sandbox.control().dump();
    let phones: std::collections::HashSet<String> = dump["members"]
        .to_string()
        .split('"')
        .filter(|s| s.len() == 11 && s.starts_with("136"))
        .map(str::to_owned)
        .collect();
    let imported_members = (0..rounds)
        .filter(|i| phones.contains(&format!("136{i:08}")))
        .count();
    assert_eq!(imported_members, rounds, "every member created");
    for (m, open_id) in existing.iter().enumerate() {
        let ledger: Vec<i64> = env
            .sandbox
            .control()
            .ledger(open_id)
            .unwrap()
            .entries
            .iter()
            .map(|e| e.amount)
            .collect();
        let expected = (0..rounds).filter(|i| i % existing.len() == m).count();
        assert_eq!(
            ledger,
            vec![1; expected],
            "member {m}: each points line once"
        );
    }
    let orders: std::collections::HashSet<String> = dump["orders"]
        .to_string()
        .split('"')
        .filter(|s| s.starts_with("imp-"))
        .map(str::to_owned)
        .collect();
    let imported_orders = (0..rounds)
        .filter(|i| orders.contains(&format!("imp-{i}")))
        .count();
    assert_eq!(imported_orders, rounds, "every order once");
}

/// The import's progress: a bar on a terminal (run through `script`, which gives it
/// one), and plain counts when its output is a pipe.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_shows_a_bar_on_a_terminal_and_counts_in_a_pipe() {
    if Command::new("script").arg("--version").output().is_err() {
        assert!(
            std::env::var("CI").is_err(),
            "CI is set but `script` (util-linux) is missing"
        );
        eprintln!("SKIPPED: no `script` here to give the import a terminal");
        return;
    }
    let env = Env::new().await;
    let file = env.dir.path().join("small.jsonl");
    let text: String = (0..600)
        .map(|i| {
            format!(
                "{}\n",
                serde_json::json!({"endpoint": "wk.user.info.add", "request": {
                    "project_id": "18756", "nickname": "n", "phone": format!("135{i:08}")}})
            )
        })
        .collect();
    std::fs::write(&file, text).unwrap();
    let journal = env.dir.path().join("tty.sqlite3").display().to_string();
    // Through a pseudo-terminal: the bar's template ("lines ·") is drawn.
    let mut ump = env.command(&["import", &file.display().to_string()]);
    ump.env("UMP_JOURNAL", &journal);
    let command_line = format!(
        "{} --allow-obtain import {}",
        env!("CARGO_BIN_EXE_ump"),
        file.display()
    );
    let mut script = Command::new("script");
    script.args(["-qefc", &command_line, "/dev/null"]);
    for (k, v) in ump.get_envs() {
        match v {
            Some(v) => script.env(k, v),
            None => script.env_remove(k),
        };
    }
    let out = tokio::task::spawn_blocking(move || script.output())
        .await
        .unwrap()
        .unwrap();
    let terminal = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{terminal}");
    assert!(
        terminal.contains("lines ·"),
        "a bar on a terminal: {terminal}"
    );
    assert!(
        !terminal.contains("import: "),
        "no plain counts there: {terminal}"
    );
    // Piped: counts, no bar.
    let file2 = env.dir.path().join("small2.jsonl");
    std::fs::write(
        &file2,
        std::fs::read_to_string(&file)
            .unwrap()
            .replace("\"135", "\"134"),
    )
    .unwrap();
    let piped = env
        .ump_with(
            &["import", &file2.display().to_string()],
            &[("UMP_JOURNAL", &journal)],
        )
        .await
        .ok();
    assert!(
        piped.stderr.contains("import: 600/600 lines recorded"),
        "{piped:?}"
    );
    assert!(
        !piped.stderr.contains("lines ·"),
        "no bar in a pipe: {piped:?}"
    );
}
