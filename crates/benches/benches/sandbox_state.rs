//! What `--state FILE` costs a call, at a small and a large state, side by side with the
//! in-memory sandbox in one run: milliseconds per signed 3.1 call (`wk.user.add`, a new
//! member each), sequential on one keep-alive connection, against four sandboxes (in
//! memory and with a state file, each holding 1,000 and 100,000 members). Floors: the
//! 100,000 figure with a state file within 2x of the 1,000 figure, and within 5x of the
//! in-memory sandbox. Then the start-up of a sandbox from the 100,000-member state file,
//! timed in a child process with its memory (RSS), and the files' sizes.
//!
//! ```sh
//! cargo bench -p gree-ump-benches --bench sandbox_state
//! ```
//!
//! The members are loaded through `Controls::apply` (the gateway's state operations
//! without HTTP), so that with a state file each one is saved as a call's change is.
//! A plain `cargo test` build passes no `--bench` argument and runs a tiny version.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gree_ump::Client;
use gree_ump::endpoints::{CreateMemberArgs, CreateMemberRequest};
use gree_ump::generated::routes::AnyRequest;
use gree_ump::runtime::tokens::MemoryTokenStore;
use gree_ump_sandbox::{Sandbox, SandboxConfig, SandboxHandle};

const CHILD_ENV: &str = "SANDBOX_STATE_CHILD";

fn create(phone: String) -> CreateMemberRequest {
    CreateMemberRequest::new(CreateMemberArgs {
        project_id: "18756".into(),
        nickname: "会员".into(),
        phone,
    })
}

/// Loads `count` members into the sandbox; how long it took.
fn load(sandbox: &SandboxHandle, count: usize) -> Duration {
    let started = Instant::now();
    for n in 0..count {
        sandbox
            .control()
            .apply(AnyRequest::CreateMember(create(format!("135{n:08}"))))
            .expect("a member");
    }
    started.elapsed()
}

/// Milliseconds per signed 3.1 call, `calls` of them one after another.
async fn per_call(sandbox: &SandboxHandle, calls: usize) -> f64 {
    let client = Client::builder()
        .base_url(sandbox.base_url())
        .app_id(sandbox.app_id())
        .app_secret(sandbox.app_secret())
        .token_store(Arc::new(MemoryTokenStore::new()))
        .build()
        .expect("client");
    // The token and the connection first: the calls measured are business calls only.
    client
        .members()
        .create_member(create("13900000000".into()))
        .await
        .expect("a member");
    let started = Instant::now();
    for n in 0..calls {
        client
            .members()
            .create_member(create(format!("139{:08}", n + 1)))
            .await
            .expect("a member");
    }
    started.elapsed().as_secs_f64() * 1e3 / calls as f64
}

/// The process's resident memory, in MiB (Linux; 0 elsewhere).
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn size_mib(path: &Path) -> f64 {
    std::fs::metadata(path).map_or(0.0, |m| m.len() as f64 / (1024.0 * 1024.0))
}

/// The child: starts a sandbox from the state file, and prints how long it took and the
/// memory it holds.
fn child(path: &str, rt: &tokio::runtime::Runtime) {
    let before = rss_mib();
    let started = Instant::now();
    let sandbox = rt
        .block_on(Sandbox::start(
            SandboxConfig::default().with_state_file(path),
        ))
        .expect("the sandbox starts from its state file");
    let took = started.elapsed();
    println!(
        "start-up from the state file: {:.0} ms, RSS {:.0} MiB ({:.0} MiB before the start)",
        took.as_secs_f64() * 1e3,
        rss_mib(),
        before
    );
    rt.block_on(sandbox.shutdown());
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    if let Ok(path) = std::env::var(CHILD_ENV) {
        child(&path, &rt);
        return;
    }
    let quick = !std::env::args().any(|a| a == "--bench");
    let (small, large, calls) = if quick {
        (50, 400, 20)
    } else {
        (1_000, 100_000, 500)
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut figures = Vec::new();
    for members in [small, large] {
        for with_state in [false, true] {
            let path = dir.path().join(format!("state-{members}.json"));
            let mut config = SandboxConfig::default();
            if with_state {
                config = config.with_state_file(&path);
            }
            let sandbox = rt.block_on(Sandbox::start(config)).expect("sandbox");
            let loading = load(&sandbox, members);
            let ms = rt.block_on(per_call(&sandbox, calls));
            let kind = if with_state { "--state" } else { "memory" };
            println!(
                "{members} members, {kind}: {ms:.3} ms per 3.1 call (loading the members: {:.1} s, {:.0} µs each)",
                loading.as_secs_f64(),
                loading.as_secs_f64() * 1e6 / members as f64
            );
            figures.push(ms);
            rt.block_on(sandbox.shutdown());
            if with_state {
                println!(
                    "  state file {:.1} MiB, change log {:.2} MiB",
                    size_mib(&path),
                    size_mib(&gree_ump_sandbox_log(&path))
                );
            }
        }
    }
    let [memory_small, state_small, memory_large, state_large] = figures[..] else {
        unreachable!("four figures")
    };
    println!(
        "with --state: {large} members / {small} members = {:.2} (floor: at most 2); \
         {large} members with --state / in memory = {:.2} (floor: at most 5); \
         {small} members with --state / in memory = {:.2}; in memory {large} / {small} = {:.2}",
        state_large / state_small,
        state_large / memory_large,
        state_small / memory_small,
        memory_large / memory_small,
    );
    // Start-up and memory at the large state, in a process of its own.
    let path = dir.path().join(format!("state-{large}.json"));
    let out = std::process::Command::new(std::env::current_exe().expect("this bench"))
        .env(CHILD_ENV, &path)
        .output()
        .expect("the child runs");
    print!("{large} members: {}", String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The change log beside a state file (`FILE.log`).
fn gree_ump_sandbox_log(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".log");
    name.into()
}
