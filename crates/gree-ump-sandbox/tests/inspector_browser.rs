//! The inspector in a real browser: headless Chromium driven through WebDriver
//! (chromedriver), by a minimal WebDriver client over reqwest (a handful of endpoints:
//! smaller than a WebDriver crate and its dependencies).
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium
//! chromium-driver`; CI installs them). Without them the test is skipped with a notice,
//! except under `CI=true`, where it fails. Every wait is a bounded poll (30 s), never a
//! fixed sleep: the machine may be slow.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use gree_ump::Client;
use gree_ump::endpoints::{CreateMemberArgs, CreateMemberRequest, QueryMemberRequest};
use gree_ump_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

/// How long a condition may take to hold.
const PATIENCE: Duration = Duration::from_secs(30);
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The first of `names` found as a file on PATH or as an absolute path.
fn find(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    names.iter().find_map(|name| {
        let direct = PathBuf::from(name);
        if direct.is_absolute() {
            return direct.is_file().then_some(direct);
        }
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// chromedriver, killed (by its own handle) when the test ends, however it ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A WebDriver session.
struct Browser {
    http: reqwest::Client,
    session: String,
}

impl Browser {
    async fn start(driver: &str, chromium: &PathBuf) -> Browser {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        // chromedriver answers /status once it listens.
        poll("chromedriver to answer", || {
            let http = http.clone();
            async move {
                let status = http.get(format!("{driver}/status")).send().await.ok()?;
                let v: Value = status.json().await.ok()?;
                v["value"]["ready"].as_bool().filter(|r| *r)
            }
        })
        .await;
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1280,900"],
            },
        }}});
        let reply: Value = http
            .post(format!("{driver}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("session JSON");
        let id = reply["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {reply}"));
        Browser {
            http,
            session: format!("{driver}/session/{id}"),
        }
    }

    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}{path}", self.session));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let reply: Value = req
            .send()
            .await
            .expect("WebDriver call")
            .json()
            .await
            .expect("WebDriver JSON");
        if let Some(error) = reply["value"]["error"].as_str() {
            panic!("WebDriver {path}: {error}: {}", reply["value"]["message"]);
        }
        reply["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.send(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    /// The element a CSS selector finds (the first).
    async fn find(&self, css: &str) -> String {
        let v = self
            .send(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_owned()
    }

    async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.send(
            reqwest::Method::POST,
            &format!("/element/{el}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Clears a field and types `text` into it, as a user would.
    async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.send(
            reqwest::Method::POST,
            &format!("/element/{el}/clear"),
            Some(json!({})),
        )
        .await;
        self.send(
            reqwest::Method::POST,
            &format!("/element/{el}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Runs a script in the page; its return value.
    async fn eval(&self, script: &str) -> Value {
        self.send(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Waits until `script` returns something other than null or false.
    async fn wait_for(&self, what: &str, script: &str) -> Value {
        poll(what, || async {
            let v = self.eval(script).await;
            (!v.is_null() && v != json!(false)).then_some(v)
        })
        .await
    }

    async fn quit(self) {
        let _ = self.http.delete(&self.session).send().await;
    }
}

/// Polls `check` every 100 ms until it gives a value; fails after [`PATIENCE`].
async fn poll<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(Instant::now() < deadline, "waited {PATIENCE:?} for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inspector_in_a_browser() {
    let started = Instant::now();
    let chromium = find(&["chromium", "chromium-browser", "google-chrome"]);
    let chromedriver = find(&["chromedriver"]);
    let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
        let message = "the browser test needs chromium and chromedriver \
                       (apt-get install chromium chromium-driver)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{message}");
        }
        // Straight to stderr: the test harness captures `eprintln!` of a passing test,
        // and a skip must be seen.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED the_inspector_in_a_browser: {message}"
        );
        return;
    };

    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let base = sandbox.base_url().to_owned();
    let client = Client::builder()
        .base_url(&base)
        .app_id(sandbox.app_id())
        .app_secret(sandbox.app_secret())
        .token_store(Arc::new(gree_ump::runtime::tokens::MemoryTokenStore::new()))
        .build()
        .unwrap();
    let phone = "13800000077";
    let open_id = client
        .members()
        .create_member(CreateMemberRequest::new(CreateMemberArgs {
            project_id: "18756".into(),
            nickname: "浏览器 browser".into(),
            phone: phone.into(),
        }))
        .await
        .expect("a member");

    let port = free_port();
    let _driver = Driver(
        Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts"),
    );
    let browser = Browser::start(&format!("http://127.0.0.1:{port}"), &chromium).await;

    // The member the signed call created is listed; its page shows its phone.
    browser.goto(&format!("{base}/__sandbox/ui")).await;
    let listed = browser
        .wait_for(
            "the member list",
            "return document.querySelector('#members') && document.querySelector('#members').textContent",
        )
        .await;
    assert!(listed.as_str().unwrap().contains(&open_id), "{listed}");
    browser
        .click(&format!("a[href='/__sandbox/ui/members/{open_id}']"))
        .await;
    let profile = browser
        .wait_for(
            "the member page",
            "return document.querySelector('#profile') && document.querySelector('#profile').textContent",
        )
        .await;
    assert!(profile.as_str().unwrap().contains(phone), "{profile}");

    // A fault added through the form fails the next call with it (110004, a business
    // error the client neither retries nor re-sends with the other verb as it does 1001).
    browser.goto(&format!("{base}/__sandbox/ui/controls")).await;
    browser
        .wait_for(
            "the fault form",
            "return document.querySelector('#fault-form') !== null",
        )
        .await;
    browser
        .click("#fault-method option[value='wk.user.info.query']")
        .await;
    browser.click("#fault-kind option:nth-child(2)").await;
    assert_eq!(
        browser
            .eval("return document.querySelector('#fault-kind').value")
            .await,
        "reject"
    );
    browser.type_into("#fault-code", "110004").await;
    browser.click("#add-fault").await;
    let faults = browser
        .wait_for(
            "the fault to be listed",
            "var t = document.querySelector('#faults'); return t && t.textContent.includes('reject') && t.textContent",
        )
        .await;
    assert!(
        faults.as_str().unwrap().contains("wk.user.info.query"),
        "{faults}"
    );
    let refused = client
        .members()
        .query_member(QueryMemberRequest::new().open_id(&open_id))
        .await
        .expect_err("the injected fault");
    assert_eq!(refused.code().map(|c| c.code()), Some(110004), "{refused}");

    // The clock advanced from the page: the page shows the new time.
    let before = sandbox.control().now_ms();
    browser.type_into("#advance-s", "86400").await;
    browser.click("#advance").await;
    let shown = browser
        .wait_for(
            "the advanced clock",
            &format!(
                "var n = document.querySelector('#now-ms'); return n && Number(n.textContent) >= {} && Number(n.textContent)",
                before + 86_400_000
            ),
        )
        .await;
    let shown = shown.as_i64().expect("ms");
    let now = sandbox.control().now_ms();
    assert!(shown <= now && now - shown < 60_000, "{shown} vs {now}");
    let text = browser
        .eval("return document.querySelector('#now').textContent")
        .await;
    assert_eq!(
        text.as_str().unwrap(),
        gree_ump_sandbox::clock::beijing_text(shown)
    );

    // The log shows a new call without a reload.
    browser.goto(&format!("{base}/__sandbox/ui/requests")).await;
    browser
        .wait_for(
            "the live view to connect",
            "var l = document.querySelector('#live'); return l && l.textContent.includes('on')",
        )
        .await;
    let last = browser
        .eval("var r = document.querySelector('#requests tbody tr'); window.__sameDocument = true; return r ? Number(r.dataset.id) : 0")
        .await
        .as_u64()
        .unwrap_or(0);
    // A fresh token is obtained (the clock moved a day) and the member queried.
    client
        .members()
        .query_member(QueryMemberRequest::new().phone(phone))
        .await
        .expect("the member");
    let newest = browser
        .wait_for(
            "a new row",
            &format!(
                "var r = document.querySelector('#requests tbody tr'); return r && Number(r.dataset.id) > {last} && r.textContent"
            ),
        )
        .await;
    assert!(
        newest.as_str().unwrap().contains("wk.user.info.query"),
        "{newest}"
    );
    assert_eq!(
        browser.eval("return window.__sameDocument === true").await,
        true,
        "the page was reloaded"
    );

    browser.quit().await;
    sandbox.shutdown().await;
    eprintln!("the browser test took {:?}", started.elapsed());
}
