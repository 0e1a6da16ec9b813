//! The sandbox's throughput for a signed member query (3.2) against a bare axum handler
//! that returns the same reply bytes, both measured in the same run under the same load.
//!
//! The load generator is a reqwest client on a multi-thread runtime keeping
//! [`CONCURRENCY`] requests in flight over loopback; one iteration is [`REQUESTS`]
//! requests. Every request is built the same way for both servers (a fresh timestamp, an
//! MD5 signature, the access token in the query, the JSON body), so the client's work is
//! identical and the difference is the server's: the sandbox checks the signature, the
//! timestamp and the token, decodes and validates the request, looks the member up and
//! builds its reply; the bare handler only answers fixed bytes.
//!
//! Floor: the sandbox serves at least half of the bare handler's requests per second.
//! The two functions run one after the other and share the machine with the load
//! generator: measure on an otherwise idle machine, as load from other processes during
//! one of them skews the ratio.
//!
//! ```sh
//! cargo bench -p gree-ump-benches --bench throughput
//! python3 scripts/bench-ratios.py
//! ```

mod sandbox_load;

use std::time::Duration;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use sandbox_load::load;
use tokio::runtime::Runtime;

/// Requests in flight at any time.
const CONCURRENCY: usize = 64;
/// Requests per measured iteration.
const REQUESTS: usize = 2_048;

fn throughput(c: &mut Criterion) {
    let rt = Runtime::new().expect("a multi-thread runtime");
    let http = sandbox_load::client(CONCURRENCY);

    let (sandbox, sandbox_target, bare_target) = rt.block_on(sandbox_load::targets(&http));

    let mut group = c.benchmark_group("sandbox_throughput");
    group.throughput(Throughput::Elements(REQUESTS as u64));
    // Iterations take tens of milliseconds: the same number of them in every sample.
    group.sampling_mode(SamplingMode::Flat);
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(3));
    group.measurement_time(Duration::from_secs(20));
    group.bench_function("bare_axum", |b| {
        b.to_async(&rt)
            .iter(|| load(&http, &bare_target, REQUESTS, CONCURRENCY));
    });
    group.bench_function("sandbox_member_query", |b| {
        b.to_async(&rt)
            .iter(|| load(&http, &sandbox_target, REQUESTS, CONCURRENCY));
    });
    group.finish();

    rt.block_on(sandbox.shutdown());
}

criterion_group!(benches, throughput);
criterion_main!(benches);
