//! A full call through the client against a hand-written reqwest call with the same
//! signing, both against the same loopback server in the same run (the floor: the
//! client's median within 1.10× of the hand-written call).
//! Run: `cargo bench -p gree-ump-benches --bench call`.

mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use support::{Setup, hand_written, sdk_call};

fn call(c: &mut Criterion) {
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
    let mut group = c.benchmark_group("query_member_call");
    group.bench_function("hand_written_reqwest", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(hand_written(&http, &base, &request).await) })
    });
    group.bench_function("gree_ump_client", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(sdk_call(&client, &request).await) })
    });
    group.finish();
}

criterion_group!(benches, call);
criterion_main!(benches);
