//! Signing a 4 KiB body against a bare MD5 of the same bytes (the floor: signing keeps at
//! least 90% of bare MD5 throughput). Run: `cargo bench -p gree-ump-benches --bench signing`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use md5::{Digest, Md5};
use openplatform_runtime::ump_md5;

fn body() -> Vec<u8> {
    let mut body = br#"{"open_id":"25c56912e05847c0b09f03ca7e52b796","items":""#.to_vec();
    while body.len() < 4096 - 2 {
        body.extend_from_slice(b"x");
    }
    body.extend_from_slice(b"\"}");
    body
}

fn signing(c: &mut Criterion) {
    let body = body();
    assert_eq!(body.len(), 4096);
    let secret = b"0123456789abcdef0123456789abcdef";
    let params = [
        ("access_token", "atB1ABA5C50C41C5FEE3E911EC8020C32C"),
        ("timestamp", "1637650800000"),
    ];
    let mut group = c.benchmark_group("sign_4KiB");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("bare_md5", |b| {
        b.iter(|| {
            let mut h = Md5::new();
            h.update(black_box(&body));
            black_box(h.finalize())
        })
    });
    group.bench_function("ump_sign", |b| {
        b.iter(|| {
            black_box(ump_md5::sign_sorted(
                black_box(&params),
                black_box(&body),
                secret,
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, signing);
criterion_main!(benches);
