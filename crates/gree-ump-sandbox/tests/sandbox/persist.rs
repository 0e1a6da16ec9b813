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
            "format version 99; this sandbox reads versions 1 and 2",
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

/// The phones of the members the sandbox holds.
fn member_phones(c: &TestClient) -> Vec<String> {
    let dump = c.sandbox.control().dump();
    let mut phones: Vec<String> = dump["members"]["by_phone"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    phones.sort();
    phones
}

/// A call appends its change to the log beside the file; the file itself (the whole
/// state) is not rewritten per call. Killed without a shutdown, the sandbox comes back
/// with every acknowledged change; a last line cut short by the crash is dropped.
#[tokio::test]
async fn a_call_appends_its_change_and_the_state_file_stays_as_it_was() {
    let dir = temp_dir("log");
    let path = dir.join("state.json");
    let log = dir.join("state.json.log");
    let config = SandboxConfig::default().with_state_file(&path);
    let mut c = TestClient::start_with(config.clone()).await;
    c.obtain().await.expect_ok();
    let snapshot = std::fs::read(&path).unwrap();
    let log_before = std::fs::read(&log).unwrap().len();
    for n in 0..30 {
        c.member(&format!("1390000{n:04}")).await;
    }
    assert_eq!(
        std::fs::read(&path).unwrap(),
        snapshot,
        "the state file is not rewritten per call"
    );
    let logged = std::fs::read(&log).unwrap();
    let lines = logged[log_before..].iter().filter(|b| **b == b'\n').count();
    assert!(lines >= 30, "one line per call at least: {lines}");
    assert!(
        logged.len() - log_before < 30 * 2_000,
        "a line holds the call's change, not the state: {} bytes",
        logged.len() - log_before
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&log).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the log holds phones and tokens");
    }
    let phones = member_phones(&c);
    assert_eq!(phones.len(), 30);

    // Killed mid-write: a last line without its newline, never acknowledged.
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(br#"{"changes":[["members.by_phone","13999999999","#)
        .unwrap();
    let c = restart(c, &config, false).await;
    assert_eq!(
        member_phones(&c),
        phones,
        "every acknowledged member, no more"
    );
    c.sandbox.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A damaged line in the middle of the log stops the start, naming the log and the
/// line; neither file is touched.
#[tokio::test]
async fn a_damaged_log_line_stops_the_start_naming_it() {
    let dir = temp_dir("log-damaged");
    let path = dir.join("state.json");
    let log = dir.join("state.json.log");
    let config = SandboxConfig::default().with_state_file(&path);
    let mut c = TestClient::start_with(config.clone()).await;
    c.obtain().await.expect_ok();
    c.member(PHONE).await;
    c.sandbox.shutdown().await;
    let mut text = String::from_utf8(std::fs::read(&log).unwrap()).unwrap();
    let header_end = text.find('\n').unwrap() + 1;
    text.insert_str(
        header_end,
        "{\"changes\": [[\"members.by_phone\", 13800000000\n",
    );
    std::fs::write(&log, &text).unwrap();
    let state = std::fs::read(&path).unwrap();

    let err = Sandbox::start(config.clone())
        .await
        .expect_err("a damaged log stops the start");
    let message = err.to_string();
    assert!(message.contains(&log.display().to_string()), "{message}");
    assert!(message.contains("line 2 is damaged"), "{message}");
    assert!(!message.contains("13800000000"), "{message}");
    assert_eq!(std::fs::read(&log).unwrap(), text.as_bytes(), "untouched");
    assert_eq!(std::fs::read(&path).unwrap(), state, "untouched");

    // A line naming a map the state does not have: the same.
    let mut text = String::from_utf8(std::fs::read(&log).unwrap()).unwrap();
    text.replace_range(
        header_end..,
        "{\"changes\": [[\"members.lost\", \"k\", 1]]}\n",
    );
    std::fs::write(&log, &text).unwrap();
    let err = Sandbox::start(config).await.expect_err("an unknown map");
    assert!(err.to_string().contains("line 2 names no map"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A file of version 1 (written before the change log) is read as it is, and the
/// sandbox goes on with a log beside it.
#[tokio::test]
async fn a_version_1_file_is_read_and_kept_going_with_a_log() {
    let dir = temp_dir("v1");
    let path = dir.join("state.json");
    let config = SandboxConfig::default().with_state_file(&path);
    let mut c = TestClient::start_with(config.clone()).await;
    c.obtain().await.expect_ok();
    c.member(PHONE).await;
    let tokens = (c.access_token.clone(), c.refresh_token.clone());
    c.sandbox.shutdown().await;
    // Started again, the sandbox writes the whole state: the member is in the file.
    Sandbox::start(config.clone())
        .await
        .unwrap()
        .shutdown()
        .await;
    // As version 1 wrote it: no log, no generation.
    let mut v1: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    v1["version"] = json!(1);
    v1.as_object_mut().unwrap().remove("log_generation");
    std::fs::write(&path, serde_json::to_vec_pretty(&v1).unwrap()).unwrap();
    std::fs::remove_file(dir.join("state.json.log")).unwrap();

    let mut c = TestClient::start_with(config.clone()).await;
    (c.access_token, c.refresh_token) = tokens;
    assert_eq!(member_phones(&c), vec![PHONE.to_string()]);
    c.member("13900000001").await;
    let c = restart(c, &config, false).await;
    assert_eq!(member_phones(&c).len(), 2);
    let now: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(now["version"], json!(2), "written in the current version");
    c.sandbox.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}

/// 2,000 random writes (new members, credits and debits, some refused), enough for
/// the log to outgrow the state several times: after a kill, the state read back (the
/// last snapshot, and the log after it) is the state the sandbox held.
#[tokio::test]
async fn random_writes_across_compactions_come_back_after_a_kill() {
    use gree_ump::endpoints::{
        ChangePointsArgs, ChangePointsRequest, CreateMemberArgs, CreateMemberRequest,
    };
    use gree_ump::generated::routes::AnyRequest;
    let dir = temp_dir("random");
    let path = dir.join("state.json");
    let config = SandboxConfig::default()
        .with_state_file(&path)
        .with_id_seed(11);
    let sandbox = Sandbox::start(config.clone()).await.unwrap();
    let first_size = std::fs::metadata(&path).unwrap().len();
    let mut seed: u64 = 0x0123_4567_89ab_cdef;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let mut members: Vec<String> = Vec::new();
    let (mut applied, mut refused) = (0, 0);
    for step in 0..2_000u64 {
        let request = if members.is_empty() || next(4) == 0 {
            AnyRequest::CreateMember(CreateMemberRequest::new(CreateMemberArgs {
                project_id: "18756".into(),
                nickname: format!("会员{step}"),
                phone: format!("137{:08}", next(100_000_000)),
            }))
        } else {
            let member = &members[usize::try_from(next(members.len() as u64)).unwrap()];
            let (event, score) = if next(3) == 0 {
                ("event_reduce", i64::try_from(next(80)).unwrap() + 1)
            } else {
                ("event_add", i64::try_from(next(50)).unwrap() + 1)
            };
            AnyRequest::ChangePoints(ChangePointsRequest::new(ChangePointsArgs {
                open_id: member.clone(),
                score,
                out_biz_no: format!("biz-{step}"),
                change_reason: "随机".into(),
                change_event: event.into(),
                change_id: format!("chg-{step}"),
            }))
        };
        let created = matches!(request, AnyRequest::CreateMember(_));
        match sandbox.control().apply(request) {
            Ok(reply) => {
                applied += 1;
                if created && let Some(open_id) = reply.data.as_str() {
                    members.push(open_id.to_owned());
                }
            }
            Err(_) => refused += 1,
        }
    }
    assert!(
        applied > 1_000 && refused > 0,
        "{applied} applied, {refused} refused"
    );
    let before = sandbox.control().dump();
    assert!(
        std::fs::metadata(&path).unwrap().len() > first_size * 10,
        "the log was compacted into the state file"
    );
    drop(sandbox);

    let sandbox = Sandbox::start(config).await.unwrap();
    let after = sandbox.control().dump();
    for part in [
        "members", "points", "orders", "coupons", "sms", "ids", "tokens",
    ] {
        assert_eq!(after[part], before[part], "{part} after a kill");
    }
    sandbox.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
