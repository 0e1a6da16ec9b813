//! The quickstart (`examples/quickstart.rs`) is the first code a user copies, so it must
//! show the safe path of every write that has one: no write that the generated client
//! calls "Not idempotent" and gives a way to apply exactly once is sent bare, where a
//! lost reply would leave it unknown or, retried by hand, applied twice. The SMS calls
//! have none (a second SMS reaches the customer, who is there and asks again).

use std::path::Path;

/// The client methods whose docs say "Not idempotent" and name a way to apply them
/// exactly once that re-sends or probes, read from the generated client.
fn unsafe_writes(client_rs: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut doc = String::new();
    for line in client_rs.lines().map(str::trim) {
        if let Some(text) = line.strip_prefix("///") {
            doc.push_str(text);
        } else if let Some(rest) = line.strip_prefix("pub fn ") {
            if doc.contains("Not idempotent")
                && doc.contains("To apply it exactly once")
                && !doc.contains("never re-sent")
            {
                names.push(rest.split(['(', '<']).next().unwrap_or_default().to_owned());
            }
            doc.clear();
        } else if !line.starts_with("#[") {
            doc.clear();
        }
    }
    names
}

#[test]
fn the_quickstart_sends_no_unsafe_write_bare() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let client = std::fs::read_to_string(root.join("../gree-ump/src/generated/client.rs"))
        .expect("generated client");
    let quickstart =
        std::fs::read_to_string(root.join("examples/quickstart.rs")).expect("quickstart");
    let writes = unsafe_writes(&client);
    for expected in [
        "create_member",
        "add_order",
        "refund_order",
        "verify_coupons",
        "give_coupons",
    ] {
        assert!(
            writes.iter().any(|w| w == expected),
            "{expected} not found in {writes:?}"
        );
    }
    let bare: Vec<&String> = writes
        .iter()
        .filter(|w| quickstart.contains(&format!(".{w}(")))
        .collect();
    assert!(
        bare.is_empty(),
        "the quickstart sends these writes bare: {bare:?} (use recovery::settle_write or the journal)"
    );
}
