//! The client against the hand-written reqwest call, interleaved: rounds of N calls of
//! each, alternating, so that the machine's drift (other processes, CPU frequency) falls
//! on both alike. Prints the median of the per-round ratios (floor: 1.10).
//! Run: `cargo bench -p gree-ump-benches --bench call_paired`.
//!
//! To count instructions instead (repeatable on a busy machine), run the built bench
//! with `CALL_PAIRED_ONLY=client` or `=hand` and `CALL_PAIRED_CALLS=N` under
//! `valgrind --tool=callgrind`: the difference of two counts at different N, divided
//! by the difference of N, is one call's count.
//!
//! The criterion bench `call` measures the two one after the other; on a busy 2-core
//! machine its ratio swings by ±15% from run to run, this one by a few percent.

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use support::{Setup, hand_written, sdk_call};

const ROUNDS: usize = 41;
const CALLS_PER_ROUND: usize = 300;

fn main() {
    // `cargo bench` passes `--bench`; a plain `cargo test` build passes nothing and runs
    // this quickly as a smoke test.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (rounds, calls) = if quick {
        (3, 10)
    } else {
        (ROUNDS, CALLS_PER_ROUND)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let Setup {
        base,
        client,
        http,
        request,
    } = support::setup(&rt);
    // `CALL_PAIRED_ONLY=client|hand N`: run one contender N times and nothing else, for
    // a profiler (callgrind counts the instructions of each alone).
    if let Ok(only) = std::env::var("CALL_PAIRED_ONLY") {
        let n: usize = std::env::var("CALL_PAIRED_CALLS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1000);
        rt.block_on(async {
            for _ in 0..n {
                if only == "hand" {
                    black_box(hand_written(&http, &base, &request).await);
                } else {
                    black_box(sdk_call(&client, &request).await);
                }
            }
        });
        return;
    }
    let mut ratios = Vec::with_capacity(rounds);
    let (mut hand_total, mut client_total) = (Duration::ZERO, Duration::ZERO);
    rt.block_on(async {
        for round in 0..rounds {
            // Alternate which goes first, so neither always follows the other.
            let mut hand = Duration::ZERO;
            let mut ours = Duration::ZERO;
            for turn in 0..2 {
                let started = Instant::now();
                if (turn + round) % 2 == 0 {
                    for _ in 0..calls {
                        black_box(hand_written(&http, &base, &request).await);
                    }
                    hand += started.elapsed();
                } else {
                    for _ in 0..calls {
                        black_box(sdk_call(&client, &request).await);
                    }
                    ours += started.elapsed();
                }
            }
            hand_total += hand;
            client_total += ours;
            ratios.push(ours.as_secs_f64() / hand.as_secs_f64());
        }
    });
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    let per_call = |d: Duration| d.as_secs_f64() * 1e6 / (rounds * calls) as f64;
    println!(
        "query_member, {rounds} rounds of {calls} calls each, interleaved: hand-written reqwest \
         {:.1} µs/call, gree_ump client {:.1} µs/call; median ratio {median:.3} \
         (min {:.3}, max {:.3}; floor 1.10)",
        per_call(hand_total),
        per_call(client_total),
        ratios[0],
        ratios[ratios.len() - 1],
    );
}
