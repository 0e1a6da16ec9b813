//! The sandbox against a bare axum handler, interleaved: rounds of [`REQUESTS`] signed
//! member queries (3.2, `wk.user.info.query`) against each, alternating which goes first,
//! so that the machine's drift (other processes, CPU frequency) falls on both alike.
//! Prints the median of the per-round ratios `bare time / sandbox time` — the sandbox's
//! throughput as a fraction of bare axum's (goal: at least 0.8) — with min and max.
//!
//! Both servers get the same load from the same reqwest client (keep-alive, loopback,
//! [`CONCURRENCY`] requests in flight), and every request is built the same way for both
//! (a fresh timestamp, an MD5 signature, the access token in the query, the JSON body), so
//! the client's work is identical and the difference is the server's. The bare handler has
//! the same route shape and answers the very bytes the sandbox answers.
//!
//! This is the sandbox figure to quote; it replaces the criterion bench `throughput`,
//! whose two functions run one after the other and swing by ±12–15% between runs.
//!
//! ```sh
//! cargo bench -p gree-ump-benches --bench sandbox_paired
//! ```
//!
//! A plain `cargo test` build passes no `--bench` argument and runs 3 tiny rounds as a
//! smoke test. To count instructions instead, run the built bench under
//! `valgrind --tool=callgrind` with `SANDBOX_PAIRED_ONLY=sandbox` or `=bare` and
//! `SANDBOX_PAIRED_REQUESTS=N` (as `call_paired`'s `CALL_PAIRED_ONLY`).

mod sandbox_load;

use std::time::Duration;

use sandbox_load::load;

const ROUNDS: usize = 41;
/// Requests per contender per round.
const REQUESTS: usize = 1_024;
/// Requests in flight at any time.
const CONCURRENCY: usize = 16;

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let (rounds, requests) = if quick { (3, 32) } else { (ROUNDS, REQUESTS) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a multi-thread runtime");
    let http = sandbox_load::client(CONCURRENCY);

    let (sandbox, sandbox_target, bare_target) = rt.block_on(sandbox_load::targets(&http));

    // `SANDBOX_PAIRED_ONLY=sandbox|bare` and `SANDBOX_PAIRED_REQUESTS=N`: load one server
    // alone, for a profiler (callgrind counts each one's instructions per request).
    if let Ok(only) = std::env::var("SANDBOX_PAIRED_ONLY") {
        let n = std::env::var("SANDBOX_PAIRED_REQUESTS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1_000);
        let target = if only == "bare" {
            &bare_target
        } else {
            &sandbox_target
        };
        rt.block_on(load(&http, target, n, CONCURRENCY));
        rt.block_on(sandbox.shutdown());
        return;
    }
    let mut ratios = Vec::with_capacity(rounds);
    let (mut bare_total, mut sandbox_total) = (Duration::ZERO, Duration::ZERO);
    rt.block_on(async {
        // Warm both: connections pooled, caches filled.
        load(&http, &bare_target, requests, CONCURRENCY).await;
        load(&http, &sandbox_target, requests, CONCURRENCY).await;
        for round in 0..rounds {
            // Alternate which goes first, so neither always follows the other.
            let (bare, ours) = if round % 2 == 0 {
                let bare = load(&http, &bare_target, requests, CONCURRENCY).await;
                (
                    bare,
                    load(&http, &sandbox_target, requests, CONCURRENCY).await,
                )
            } else {
                let ours = load(&http, &sandbox_target, requests, CONCURRENCY).await;
                (load(&http, &bare_target, requests, CONCURRENCY).await, ours)
            };
            bare_total += bare;
            sandbox_total += ours;
            ratios.push(bare.as_secs_f64() / ours.as_secs_f64());
        }
    });
    rt.block_on(sandbox.shutdown());

    ratios.sort_by(f64::total_cmp);
    let median = ratios.get(ratios.len() / 2).copied().unwrap_or(f64::NAN);
    let per_request =
        |d: Duration| d.as_secs_f64() * 1e6 / (rounds.saturating_mul(requests)).max(1) as f64;
    println!(
        "wk.user.info.query, {rounds} rounds of {requests} requests each ({CONCURRENCY} in \
         flight), interleaved: bare axum {:.1} µs/request, sandbox {:.1} µs/request; \
         sandbox throughput as a fraction of bare axum: median {median:.3} (min {:.3}, \
         max {:.3}; goal 0.8)",
        per_request(bare_total),
        per_request(sandbox_total),
        ratios.first().copied().unwrap_or(f64::NAN),
        ratios.last().copied().unwrap_or(f64::NAN),
    );
}
