//! No library code: this package holds the workspace's benchmarks (`benches/`), so that
//! criterion is a dev-dependency of this unpublished package only, never of the
//! published crates (Cargo needs a library or binary target in every package).
//!
//! ```sh
//! cargo bench -p gree-ump-benches --bench signing      # signing a 4 KiB body vs a bare MD5
//! cargo bench -p gree-ump-benches --bench call         # client call vs hand-written reqwest call
//! cargo bench -p gree-ump-benches --bench call_paired  # the same, interleaved rounds
//! cargo bench -p gree-ump-benches --bench throughput   # sandbox vs a bare axum handler
//! python3 scripts/bench-ratios.py                      # the ratios, against the floors
//! ```
