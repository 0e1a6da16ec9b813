//! Any bytes, as the reply of every endpoint with any status: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    // The first two bytes pick the HTTP status, the rest is the body.
    let (status, body) = match input {
        [a, b, rest @ ..] => (100 + u16::from_le_bytes([*a, *b]) % 500, rest),
        _ => (200, input),
    };
    workspace_tests::decode_as_every_endpoint(status, body);
});
