//! Where the document may be read two ways, the client survives the other reading too:
//! each test runs against the sandbox configured for one reading (or a stub where the
//! sandbox has none), so a change that breaks one fails here.
//!
//! The readings (errata E02, E69, E73, E85): an invalid access token answered with 1002,
//! with 1001 and a Chinese or English token phrase, or with the gateway's generic
//! `1001 请求参数不合法`; timestamps checked on every call, with network latency; a
//! reused `change_id` with an identical body replayed as success.

use std::sync::Arc;

use gree_ump::endpoints::*;
use gree_ump::recovery::{PointsChangeOutcome, Recovery, change_points_reliably};
use gree_ump::runtime::clock::{Clock, ManualClock};
use gree_ump::runtime::tokens::{BudgetKind, MemoryTokenStore};
use gree_ump::{Client, ErrorCode};
use gree_ump_sandbox::config::{DEFAULT_APP_ID, DEFAULT_APP_SECRET};
use gree_ump_sandbox::{
    Fault, InvalidTokenAnswer, Sandbox, SandboxConfig, SandboxHandle, TimestampScope,
};
use workspace_tests::stub_platform::{
    OBTAIN, OK_LEVELS, REFRESH, Seen, Stub, error_reply, token_reply,
};

fn client_for(sandbox: &SandboxHandle) -> Client {
    Client::builder()
        .base_url(sandbox.base_url())
        .app_id(sandbox.app_id())
        .app_secret(sandbox.app_secret())
        .token_store(Arc::new(MemoryTokenStore::new()))
        .build()
        .unwrap()
}

async fn member(client: &Client, phone: &str) -> String {
    client
        .members()
        .create_member(CreateMemberRequest::new(CreateMemberArgs {
            project_id: "18756".into(),
            nickname: "张三".into(),
            phone: phone.into(),
        }))
        .await
        .unwrap()
}

fn change(open_id: &str, change_id: &str) -> ChangePointsRequest {
    ChangePointsRequest::new(ChangePointsArgs {
        open_id: open_id.into(),
        score: 10,
        out_biz_no: format!("biz-{change_id}"),
        change_reason: "购物".into(),
        change_event: "event_add".into(),
        change_id: change_id.into(),
    })
}

// ------------------------------------------------------- the invalid-token answer

/// Every reading of the invalid-token answer: the platform revokes the access tokens
/// before their expiry; the next calls (200 at once) recover after one refresh, and a
/// points change sent then is applied once, never reported refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reading_of_an_invalid_token_answer_recovers_after_one_refresh() {
    for answer in [
        InvalidTokenAnswer::SpecCode,
        InvalidTokenAnswer::ExpiredPhrase,
        InvalidTokenAnswer::EnglishPhrase,
        InvalidTokenAnswer::GenericParameterError,
    ] {
        let sandbox = Sandbox::start(SandboxConfig::default().with_invalid_token_answer(answer))
            .await
            .unwrap();
        let client = client_for(&sandbox);
        let open_id = member(&client, "13800000001").await;
        sandbox.control().revoke_access_tokens();
        let calls = (0..200).map(|_| {
            let client = client.clone();
            async move { client.members().list_levels(ListLevelsRequest::new()).await }
        });
        let results = futures_util::future::join_all(calls).await;
        let ok = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(
            ok,
            200,
            "{answer:?}: {:?}",
            results.iter().find(|r| r.is_err())
        );
        assert_eq!(
            sandbox.control().token_calls().refresh_issued,
            1,
            "{answer:?}"
        );
        sandbox.control().revoke_access_tokens();
        let outcome =
            change_points_reliably(&client, change(&open_id, "chg-1"), Recovery::default()).await;
        assert!(
            matches!(outcome, PointsChangeOutcome::Applied { .. }),
            "{answer:?}: {outcome:?}"
        );
        assert_eq!(
            sandbox.control().ledger(&open_id).unwrap().entries.len(),
            1,
            "{answer:?}"
        );
        sandbox.shutdown().await;
    }
}

/// A genuinely bad parameter answered with the generic 1001: at most one refresh for the
/// token, and the answer reported as it is (`InvalidParameter`).
#[tokio::test]
async fn a_bad_parameter_answered_1001_costs_at_most_one_refresh_and_is_reported() {
    let stub = Stub::start(bad_parameter_platform).await;
    let clock = Arc::new(ManualClock::new(START));
    let client = stub_client(&stub, clock.clone());
    for _ in 0..5 {
        let err = bad_call(&client).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidParameter), "{err}");
    }
    assert_eq!(stub.refresh_calls(), 1, "one speculation, then refuted");
    client
        .members()
        .list_levels(ListLevelsRequest::new())
        .await
        .expect("good calls work");
}

/// 2024-05-01 00:00:30 Beijing.
const START: i64 = 1_714_492_830_000;

/// Issues tokens; answers 1001 to any business call whose body contains `bad`, and
/// success to every other one.
fn bad_parameter_platform(seen: &Seen<'_>) -> (u16, String) {
    match seen.method {
        OBTAIN => (200, token_reply("at-first", Some("rt-1"), 7200)),
        REFRESH => (200, token_reply("at-refreshed", None, 7200)),
        _ if String::from_utf8_lossy(seen.body).contains("bad") => {
            (200, error_reply(1001, "请求参数不合法"))
        }
        _ => (200, OK_LEVELS.to_owned()),
    }
}

fn stub_client(stub: &Stub, clock: Arc<ManualClock>) -> Client {
    Client::builder()
        .base_url(stub.base_url())
        .app_id(DEFAULT_APP_ID)
        .app_secret(DEFAULT_APP_SECRET)
        .token_store(Arc::new(MemoryTokenStore::new()))
        .clock(clock)
        .retry_policy(gree_ump::RetryPolicy::NONE)
        .build()
        .unwrap()
}

async fn bad_call(client: &Client) -> Result<gree_ump::models::MemberInfo, gree_ump::Error> {
    client
        .members()
        .query_member(QueryMemberRequest::new().open_id("bad"))
        .await
}

/// A simulated day with a bad parameter sent every minute, beside good calls: the day's
/// refreshes stay within 20, every good call works (never locked out), and every bad
/// call is reported `InvalidParameter`.
#[tokio::test]
async fn a_day_of_bad_parameters_every_minute_never_locks_the_service_out() {
    let stub = Stub::start(bad_parameter_platform).await;
    let clock = Arc::new(ManualClock::new(START));
    let client = stub_client(&stub, clock.clone());
    let day_end = START - 30_000 + 86_400_000;
    let mut minutes = 0;
    while clock.now_ms() + 60_000 < day_end {
        let err = bad_call(&client).await.unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidParameter), "{err}");
        client
            .members()
            .list_levels(ListLevelsRequest::new())
            .await
            .unwrap_or_else(|e| panic!("minute {minutes}: a good call failed: {e}"));
        clock.advance_ms(60_000);
        minutes += 1;
    }
    let used = client
        .runtime()
        .tokens()
        .budget_used_today(BudgetKind::Refresh)
        .await
        .unwrap();
    eprintln!(
        "{minutes} minutes with a bad parameter each: {} refreshes sent, {used} counted",
        stub.refresh_calls()
    );
    assert!(stub.refresh_calls() <= 20, "{}", stub.refresh_calls());
    assert!(minutes > 1_400);
}

// ------------------------------------------------------------- the other readings

/// Timestamps checked on every call (not only 2.1 and 2.2), with 200 ms of latency
/// before each call is processed: every endpoint group still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamps_checked_on_every_call_with_latency() {
    let sandbox =
        Sandbox::start(SandboxConfig::default().with_timestamp_scope(TimestampScope::EveryCall))
            .await
            .unwrap();
    sandbox
        .control()
        .inject_fault("*", Fault::Slow { delay_ms: 200 }, u32::MAX);
    let client = client_for(&sandbox);
    let open_id = member(&client, "13800000002").await;
    client
        .members()
        .list_levels(ListLevelsRequest::new())
        .await
        .unwrap();
    let outcome =
        change_points_reliably(&client, change(&open_id, "chg-ts"), Recovery::default()).await;
    assert!(
        matches!(outcome, PointsChangeOutcome::Applied { .. }),
        "{outcome:?}"
    );
    sandbox.shutdown().await;
}

/// A platform that replays an identical request under a used `change_id` as success
/// (instead of the document's 150002): a change whose reply was lost is applied once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_key_is_applied_once() {
    let sandbox = Sandbox::start(SandboxConfig::default().with_replay_identical_keys(true))
        .await
        .unwrap();
    let client = client_for(&sandbox);
    let open_id = member(&client, "13800000003").await;
    sandbox
        .control()
        .inject_fault("wk.user.event.score.change", Fault::DropAfterCommit, 1);
    let outcome =
        change_points_reliably(&client, change(&open_id, "chg-replay"), Recovery::default()).await;
    assert!(
        matches!(outcome, PointsChangeOutcome::Applied { .. }),
        "{outcome:?}"
    );
    assert_eq!(sandbox.control().ledger(&open_id).unwrap().entries.len(), 1);
    sandbox.shutdown().await;
}

/// Reading of the ambiguous code is the spec's: 1001 is listed, 1002 decides alone.
#[test]
fn the_spec_lists_the_ambiguous_code() {
    assert_eq!(gree_ump::PROTOCOL.ambiguous_token_codes, &[1001]);
    assert_eq!(gree_ump::PROTOCOL.invalid_token_codes, &[1002]);
}

/// A platform that rotates refresh tokens: each refresh answers a new refresh token and
/// revokes the one it was called with. Two processes sharing a store, taking turns over
/// seven expiries (one Beijing day) and a revocation, always refresh with the newest one: one 2.1 in all,
/// and no call fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_tokens_that_rotate_are_followed_by_every_process() {
    let start = 1_714_525_200_000; // 2024-05-01 09:00 Beijing
    let sandbox = Sandbox::start(
        SandboxConfig::default()
            .with_start_time_ms(start)
            .with_rotating_refresh_tokens(true),
    )
    .await
    .unwrap();
    sandbox.control().set_time_ms(start);
    let clock = Arc::new(ManualClock::new(start));
    let store = Arc::new(MemoryTokenStore::new());
    let process = || {
        Client::builder()
            .base_url(sandbox.base_url())
            .app_id(sandbox.app_id())
            .app_secret(sandbox.app_secret())
            .token_store(store.clone())
            .clock(clock.clone())
            .build()
            .unwrap()
    };
    let processes = [process(), process()];
    for round in 0..7 {
        let client = &processes[round % 2];
        client
            .members()
            .list_levels(ListLevelsRequest::new())
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        // Past the token's expiry, on both clocks.
        clock.advance_ms(2 * 3_600_000 + 60_000);
        sandbox.control().set_time_ms(clock.now_ms());
    }
    // A revocation: the rejection is refreshed with the newest refresh token.
    sandbox.control().revoke_access_tokens();
    processes[1]
        .members()
        .list_levels(ListLevelsRequest::new())
        .await
        .expect("refreshed after the revocation");
    let calls = sandbox.control().token_calls();
    assert_eq!(calls.obtain_calls, 1, "{calls:?}");
    assert_eq!(
        calls.refresh_calls, calls.refresh_issued,
        "none refused: {calls:?}"
    );
    assert!(calls.refresh_issued >= 6, "each expiry rotated: {calls:?}");
    sandbox.shutdown().await;
}
