//! No library code: this package holds the workspace's benchmarks (`benches/`), so that
//! criterion is a dev-dependency of this unpublished package only, never of the
//! published crates (Cargo needs a library or binary target in every package).
//!
//! ```sh
//! cargo bench -p gree-ump-benches --bench signing      # signing a 4 KiB body vs a bare MD5
//! cargo bench -p gree-ump-benches --bench call         # client call vs hand-written reqwest call
//! cargo bench -p gree-ump-benches --bench call_paired  # the same, interleaved rounds
//! cargo bench -p gree-ump-benches --bench sandbox_paired # sandbox vs a bare axum handler, interleaved
//! cargo bench -p gree-ump-benches --bench throughput   # the same, criterion, one after the other
//! python3 scripts/bench-ratios.py                      # the ratios, against the floors
//! ```
//!
//! The sandbox figure to quote is `sandbox_paired`'s: the median, over 41 interleaved
//! rounds, of the sandbox's throughput as a fraction of a bare axum handler's answering
//! the same bytes (goal: at least 0.8). It replaces `throughput`'s, whose two criterion
//! functions run one after the other and swing by ±12–15% between runs. Like
//! `call_paired`, it runs 3 tiny rounds as a smoke test when built by `cargo test`.
