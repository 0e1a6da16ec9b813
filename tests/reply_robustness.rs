//! No reply panics the decoders: arbitrary bytes and mutated replies, through the envelope
//! and every endpoint's typed response decoder, always give `Ok` or a typed error.
//!
//! Bounded (a few thousand cases per property) so it runs in CI; the cargo-fuzz target in
//! `fuzz/` explores the same entry point without a bound.

use gree_ump::PROTOCOL;
use gree_ump::endpoints::QueryMemberRequest;
use openplatform_runtime::{Error, decode_response};
use proptest::prelude::*;
use workspace_tests::decode_as_every_endpoint;

/// Replies in the document's shapes, to mutate.
const SEEDS: &[&str] = &[
    r#"{"success":true,"data":{"access_token":"atB1ABA5C50C41C5FEE3E911EC8020C32C","refresh_token":"rt5ED02D25F23917092218565B9DDAF657","expire_in":7200}}"#,
    r#"{"success":true,"data":{"birthday":"1994-09-28","gender":1,"open_id":null,"level_num":1,"register_time":1624874660000,"score":0,"rights":"[{\"id\":1,\"name\":\"免费停车\"}]","project_id":18756,"nickname":"李大哥"},"errorCode":null,"errorMessage":null,"pageSize":null,"pageNo":null,"totalCount":null}"#,
    r#"{"success":true,"error_code":200,"error_message":"","data":{"statement_id":"SP016244316351097643"}}"#,
    r#"{"success":false,"error_code":1005,"error_message":"未查询到该订单","data":null}"#,
    r#"{"success":true,"data":[{"id":1,"score":10,"score_type":1,"create_time":"2021-06-23 10:00:00","order_amount":1000.4}],"pageNo":1,"pageSize":10,"totalCount":1}"#,
    r#"{"success":true,"data":{"coupon_code":["5408676771509321001","5408676771509321002"]}}"#,
    r#"{"success":true,"error_code":null,"data":[{"level_number":1,"level_name":"一级会员","growth_value":0}]}"#,
];

/// Fragments that stress decoders when spliced in.
const SPLICES: &[&str] = &[
    "null",
    "\"\"",
    "\"x\"",
    "-1",
    "1e400",
    "18446744073709551616",
    "1.5",
    "true",
    "[]",
    "{}",
    "\"\\ud800\"",
    "[[[[[[[[",
    "}}}}",
    ",",
    ":",
    "\"2021-13-45 25:61:61\"",
    "NaN",
];

fn mutate(seed: &str, ops: &[(u8, usize, usize)]) -> Vec<u8> {
    let mut bytes = seed.as_bytes().to_vec();
    for &(op, at, pick) in ops {
        let at = if bytes.is_empty() {
            0
        } else {
            at % bytes.len()
        };
        match op % 4 {
            0 => bytes.truncate(at),
            1 => {
                let s = SPLICES[pick % SPLICES.len()].as_bytes();
                bytes.splice(at..at, s.iter().copied());
            }
            2 => {
                let end = (at + pick % 16).min(bytes.len());
                bytes.drain(at..end);
            }
            _ => {
                if let Some(b) = bytes.get_mut(at) {
                    *b ^= 1 << (pick % 8);
                }
            }
        }
    }
    bytes
}

#[test]
fn the_seeds_are_valid_replies() {
    // A mutation test is only as good as its seeds: they decode as something.
    for seed in SEEDS {
        let ok = decode_as_every_endpoint(200, seed.as_bytes());
        let is_error_reply = seed.contains("\"success\":false");
        assert!(is_error_reply || ok > 0, "no endpoint accepts {seed}");
    }
}

#[test]
fn pathological_bodies_are_typed_errors() {
    let deep = "[".repeat(100_000);
    let bodies: Vec<(u16, Vec<u8>)> = vec![
        (200, Vec::new()),
        (200, b"   ".to_vec()),
        (502, b"<html><body>502 Bad Gateway</body></html>".to_vec()),
        (200, b"<html>oops</html>".to_vec()),
        (200, deep.into_bytes()),
        (200, vec![0xff, 0xfe, 0x00]),
        (200, b"{\"success\":true,\"data\":".to_vec()),
        (200, b"{\"success\":false,\"error_code\":999999}".to_vec()),
        (
            200,
            b"{\"success\":false,\"error_code\":\"9223372036854775808\"}".to_vec(),
        ),
    ];
    for (status, body) in bodies {
        assert_eq!(
            decode_as_every_endpoint(status, &body),
            0,
            "{:?}",
            String::from_utf8_lossy(&body[..body.len().min(60)])
        );
    }
    // A wrong type is a decode error naming the field (endpoints whose data has no `score`
    // keep it in `extra`, tolerantly).
    let e = decode_response::<QueryMemberRequest>(
        &PROTOCOL,
        200,
        b"{\"success\":true,\"data\":{\"score\":\"abc\"}}",
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::Decode(d) if d.reason.contains("score")),
        "{e}"
    );
    // An unknown code is kept, typed as Unknown.
    let e = decode_response::<QueryMemberRequest>(
        &PROTOCOL,
        200,
        b"{\"success\":false,\"error_code\":999999}",
    )
    .unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some(999_999));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(status in 100u16..600, body in proptest::collection::vec(any::<u8>(), 0..512)) {
        decode_as_every_endpoint(status, &body);
    }

    #[test]
    fn mutated_replies_never_panic(
        seed in 0..SEEDS.len(),
        ops in proptest::collection::vec((any::<u8>(), any::<usize>(), any::<usize>()), 1..6),
    ) {
        let body = mutate(SEEDS[seed], &ops);
        decode_as_every_endpoint(200, &body);
    }
}
