//! `--state FILE`: a restart in the middle of a flow keeps members, ledgers, coupons,
//! tokens and the day's token counts; a bad file stops the start and is left untouched.

use std::path::PathBuf;

use gree_ump_sandbox::{Sandbox, SandboxConfig};
use serde_json::{Value, json};

use crate::common::{PHONE, TestClient};

/// A fresh directory of this test's own under the system's temporary directory.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "gree-ump-sandbox-{name}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A new sandbox on the same state file, with the tokens the client had.
async fn restart(c: TestClient, config: &SandboxConfig, clean: bool) -> TestClient {
    let TestClient {
        sandbox,
        access_token,
        refresh_token,
        ..
    } = c;
    if clean {
        sandbox.shutdown().await;
    } else {
        // No shutdown: every acknowledged change must be on disk already.
        drop(sandbox);
    }
    let mut c = TestClient::start_with(config.clone()).await;
    c.access_token = access_token;
    c.refresh_token = refresh_token;
    c
}

async fn coupon_codes(c: &TestClient, open_id: &str) -> Vec<String> {
    let a = c
        .call(
            "wk.coupon.user.list",
            json!({"open_id": open_id, "page_no": 1, "page_size": 50}),
        )
        .await;
    a.expect_ok()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["third_coupon_code"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_restart_in_the_middle_of_a_flow_keeps_the_state() {
    for clean in [true, false] {
        let dir = temp_dir("restart");
        let config = SandboxConfig::default().with_state_file(dir.join("state.json"));
        let mut c = TestClient::start_with(config.clone()).await;
        c.obtain().await.expect_ok();
        let open_id = c.member(PHONE).await;
        c.change(&open_id, "event_add", 100, "chg-1")
            .await
            .expect_ok();
        c.call(
            "wk.coupon.template.add",
            json!({"third_coupon_id": "tpl-1", "coupon_category": 0, "name": "满100减10",
                   "discount_fee": 1000, "coupon_type": 0, "fixed_term": 10,
                   "rules": "满100元才能使用", "minimum_fee": 10000,
                   "stores": "[{\"id\":\"1\",\"name\":\"唐家湾\"}]"}),
        )
        .await
        .expect_ok();
        c.call(
            "wk.coupon.give",
            json!({"number": 1, "create_time": c.now(), "third_coupon_id": "tpl-1",
                   "coupon_set": json!([{"open_id": open_id, "params_type": "1",
                                         "coupon_number": "A1"}]).to_string()}),
        )
        .await
        .expect_ok();
        c.refresh().await.expect_ok();
        c.call("wk.sms.verify.send", json!({"target": PHONE}))
            .await
            .expect_ok();
        let code = c.sandbox.control().last_sms_code(PHONE).unwrap();
        let counts = c.sandbox.control().token_calls();
        let ledger = c.sandbox.control().ledger(&open_id).unwrap();
        let before = c.sandbox.control().dump();
        let clock_offset = c.sandbox.control().dump()["now_ms"].as_i64().unwrap()
            - gree_ump::runtime::clock::Clock::now_ms(&gree_ump::runtime::clock::SystemClock);

        let mut c = restart(c, &config, clean).await;
        let when = if clean {
            "after shutdown"
        } else {
            "after a drop"
        };

        // Everything, as the dump shows it.
        let after = c.sandbox.control().dump();
        for part in [
            "members", "points", "orders", "coupons", "sms", "ids", "tokens",
        ] {
            assert_eq!(after[part], before[part], "{when}: {part}");
        }
        // Members and ledgers.
        let after = c
            .sandbox
            .control()
            .ledger(PHONE)
            .expect("the member is back");
        assert_eq!(after.open_id, open_id, "{when}");
        assert_eq!(after.score, 100, "{when}");
        assert_eq!(
            serde_json::to_value(&after.entries).unwrap(),
            serde_json::to_value(&ledger.entries).unwrap(),
            "{when}"
        );
        // The day's token counts, and the tokens themselves.
        assert_eq!(c.sandbox.control().token_calls(), counts, "{when}");
        let a = c
            .call("wk.user.info.query", json!({"open_id": open_id}))
            .await;
        assert_eq!(a.expect_ok()["score"], 100, "{when}");
        c.obtain()
            .await
            .expect_err(gree_ump_sandbox::error::TOKEN_DAILY_LIMIT_CODE);
        // Coupons.
        assert_eq!(coupon_codes(&c, &open_id).await, ["A1"], "{when}");
        // Idempotency keys: the used change_id is still used.
        c.change(&open_id, "event_add", 100, "chg-1")
            .await
            .expect_err(150002);
        // The SMS code sent before the restart verifies after it.
        c.call(
            "wk.sms.verify.judge",
            json!({"phone": PHONE, "verify_code": code}),
        )
        .await
        .expect_ok();
        // The flow goes on: new ids do not collide with old ones.
        c.change(&open_id, "event_add", 5, "chg-2")
            .await
            .expect_ok();
        assert_eq!(c.balance(&open_id), 105);
        let statements: Vec<String> = c
            .sandbox
            .control()
            .ledger(&open_id)
            .unwrap()
            .entries
            .iter()
            .map(|e| e.statement_id.clone())
            .collect();
        let mut unique = statements.clone();
        unique.dedup();
        assert_eq!(unique.len(), statements.len(), "{when}: {statements:?}");
        // The clock's offset is kept (here: none moved it).
        let offset_after = c.sandbox.control().dump()["now_ms"].as_i64().unwrap()
            - gree_ump::runtime::clock::Clock::now_ms(&gree_ump::runtime::clock::SystemClock);
        assert!((offset_after - clock_offset).abs() < 60_000, "{when}");
        c.sandbox.shutdown().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[tokio::test]
async fn the_moved_clock_and_a_reset_are_kept() {
    let dir = temp_dir("clock");
    let config = SandboxConfig::default().with_state_file(dir.join("state.json"));
    let mut c = TestClient::start_with(config.clone()).await;
    c.obtain().await.expect_ok();
    c.sandbox.control().advance_ms(3 * 86_400_000);
    let day = c.sandbox.control().token_calls().beijing_day;
    let c = restart(c, &config, true).await;
    assert_eq!(c.sandbox.control().token_calls().beijing_day, day);
    c.sandbox.control().reset();
    let c = restart(c, &config, true).await;
    assert_eq!(
        c.sandbox.control().dump()["members"]["by_open_id"],
        json!({})
    );
    assert_eq!(c.sandbox.control().token_calls().obtain_calls, 0);
    c.sandbox.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn a_corrupt_or_foreign_file_stops_the_start_and_is_left_untouched() {
    let dir = temp_dir("corrupt");
    let path = dir.join("state.json");
    // A valid file to spoil.
    let sandbox = Sandbox::start(SandboxConfig::default().with_state_file(&path))
        .await
        .unwrap();
    sandbox.shutdown().await;
    let valid: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let mut other_version = valid.clone();
    other_version["version"] = json!(99);
    let text = valid.to_string();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (text.as_bytes()[..text.len() / 2].to_vec(), "ends early"),
        (b"not json at all".to_vec(), "not valid JSON"),
        (Vec::new(), "ends early"),
        (
            serde_json::to_vec(&other_version).unwrap(),
            "format version 99; this sandbox reads version 1",
        ),
        (b"{\"members\": {}}".to_vec(), "not a sandbox state file"),
    ];
    for (bytes, expected) in cases {
        std::fs::write(&path, &bytes).unwrap();
        let err = Sandbox::start(SandboxConfig::default().with_state_file(&path))
            .await
            .expect_err("a bad state file stops the start");
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains(expected), "{text}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "the file is untouched"
        );
    }
    // A directory that does not exist: the start fails, naming the file.
    let missing = dir.join("no-such-dir").join("state.json");
    let err = Sandbox::start(SandboxConfig::default().with_state_file(&missing))
        .await
        .expect_err("an unwritable state file stops the start");
    assert!(err.to_string().contains("cannot be written"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
