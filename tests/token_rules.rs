//! The rules that protect the day's token budgets hold across restarts, echoed text and
//! clock jumps: they live in the token store, not in one process's memory.
//!
//! Each "process" here is a new client on the same store (a new token manager with
//! nothing in memory), as a supervisor restarting a service, or an `ump` command, makes.
//! The platform is the sandbox where it can play the part, and a stub where it must
//! answer what the sandbox never does.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gree_ump::endpoints::*;
use gree_ump::models::*;
use gree_ump::runtime::clock::{Clock, ManualClock};
use gree_ump::runtime::tokens::{
    BudgetKind, FileTokenStore, ForgetOutcome, MemoryTokenStore, StoreFuture, TokenPolicy,
    TokenRecord, TokenStore,
};
use gree_ump::runtime::wire::{BeijingDateTime, TimestampMs, Yuan};
use gree_ump::runtime::{Error as RuntimeError, TokenError};
use gree_ump::{Client, Error};
use gree_ump_sandbox::config::{DEFAULT_APP_ID, DEFAULT_APP_SECRET};
use gree_ump_sandbox::{Sandbox, SandboxConfig};
use workspace_tests::stub_platform::{
    OBTAIN, OK_LEVELS, REFRESH, Seen, Stub, error_reply, token_reply,
};

#[path = "redis_helpers.rs"]
#[allow(dead_code)] // shared with the suites that use all of it
mod redis_helpers;

const SUITE: &str = "token_rules";

fn client_on(base_url: &str, store: Arc<dyn TokenStore>, clock: Arc<ManualClock>) -> Client {
    Client::builder()
        .base_url(base_url)
        .app_id(DEFAULT_APP_ID)
        .app_secret(DEFAULT_APP_SECRET)
        .token_store(store)
        .clock(clock)
        .retry_policy(gree_ump::RetryPolicy::NONE)
        .build()
        .unwrap()
}

async fn list_levels(client: &Client) -> Result<(), Error> {
    client
        .members()
        .list_levels(ListLevelsRequest::new())
        .await
        .map(|_| ())
}

/// 2024-05-01 09:00 Beijing.
const START: i64 = 1_714_525_200_000;
const MINUTE_MS: i64 = 60_000;

// ------------------------------------------------------ a crash loop through an incident

/// A platform that issues tokens and, while `incident` is set, answers every call
/// (business and token calls alike) with 1002.
async fn incident_platform(incident: Arc<AtomicBool>) -> Arc<Stub> {
    Stub::start(move |seen: &Seen<'_>| {
        if incident.load(Ordering::SeqCst) {
            return (200, error_reply(1002, "access_token无效"));
        }
        match seen.method {
            OBTAIN => (200, token_reply("at-first", Some("rt-1"), 7200)),
            REFRESH => (200, token_reply("at-refreshed", None, 7200)),
            _ => (200, OK_LEVELS.to_owned()),
        }
    })
    .await
}

/// 50 processes start one after another on one store while the platform answers 1002
/// to everything, each making one call; then the platform recovers. At most one refresh
/// is spent in the incident, and the service works afterwards.
async fn crash_loop_through_an_incident(store: Arc<dyn TokenStore>) {
    let incident = Arc::new(AtomicBool::new(false));
    let stub = incident_platform(incident.clone()).await;
    let clock = Arc::new(ManualClock::new(START));
    let first = client_on(&stub.base_url(), store.clone(), clock.clone());
    list_levels(&first).await.expect("healthy platform");
    drop(first);
    incident.store(true, Ordering::SeqCst);
    for start in 0..50 {
        clock.advance_ms(MINUTE_MS / 2);
        let process = client_on(&stub.base_url(), store.clone(), clock.clone());
        let err = list_levels(&process).await.unwrap_err();
        assert!(
            matches!(&err, RuntimeError::Api(_) | RuntimeError::Token(_)),
            "start {start}: {err}"
        );
    }
    let refreshes_in_incident = stub.refresh_calls();
    assert!(
        refreshes_in_incident <= 1,
        "{refreshes_in_incident} refreshes spent during the incident"
    );
    incident.store(false, Ordering::SeqCst);
    let after = client_on(&stub.base_url(), store.clone(), clock.clone());
    list_levels(&after)
        .await
        .expect("the service works after the platform recovered");
    // And once its token expires, a refresh from the day's remaining budget works.
    clock.advance_ms(3 * 60 * MINUTE_MS);
    list_levels(&after)
        .await
        .expect("a refresh after recovery works");
    // The refresh refused in the incident led to the token-issuing call, whose budget
    // the first start had spent: the platform saw one 2.1 that day.
    assert_eq!(stub.obtain_calls(), 1);
    let used = after
        .runtime()
        .tokens()
        .budget_used_today(BudgetKind::Refresh)
        .await
        .unwrap();
    assert!(used <= 2, "{used} refreshes counted");
}

#[tokio::test]
async fn a_crash_loop_through_an_incident_spends_at_most_one_refresh_on_a_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileTokenStore::new(dir.path()).unwrap());
    crash_loop_through_an_incident(store).await;
}

#[tokio::test]
async fn a_crash_loop_through_an_incident_spends_at_most_one_refresh_on_redis() {
    let Some(store) = redis_helpers::redis_store(SUITE, "crash_loop").await else {
        return;
    };
    crash_loop_through_an_incident(Arc::new(store)).await;
}

/// The rejection note is removed by the first token the platform accepts, so a later,
/// real revocation is refreshed again.
#[tokio::test]
async fn an_accepted_token_lifts_the_rejection_rule() {
    let incident = Arc::new(AtomicBool::new(false));
    let stub = incident_platform(incident.clone()).await;
    let clock = Arc::new(ManualClock::new(START));
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
    let client = client_on(&stub.base_url(), store.clone(), clock.clone());
    list_levels(&client).await.unwrap();
    incident.store(true, Ordering::SeqCst);
    list_levels(&client).await.unwrap_err();
    incident.store(false, Ordering::SeqCst);
    let restarted = client_on(&stub.base_url(), store.clone(), clock.clone());
    list_levels(&restarted).await.unwrap();
    assert_eq!(
        store
            .load_note(restarted.runtime().tokens().key(), "rejected")
            .await
            .unwrap(),
        None,
        "the accepted call removed the note"
    );
}

// ------------------------------------------------------------------- echoed text

/// Every string the request sent, quoted back in the message of an error answer with a
/// code that is not the invalid-token code (as "会员码已失效: <code>" does).
fn quoting_platform_answer(seen: &Seen<'_>) -> (u16, String) {
    match seen.method {
        OBTAIN => (200, token_reply("at-1", Some("rt-1"), 7200)),
        REFRESH => (200, token_reply("at-2", None, 7200)),
        _ => {
            let body: serde_json::Value =
                serde_json::from_slice(seen.body).unwrap_or(serde_json::Value::Null);
            let mut quoted = Vec::new();
            collect_strings(&body, &mut quoted);
            (
                200,
                error_reply(110006, &format!("会员码已失效: {}", quoted.join(", "))),
            )
        }
    }
}

fn collect_strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}

/// `request` with every string leaf that can carry free text replaced by `phrase`: each
/// leaf is tried in turn, and kept replaced when the request type still accepts it.
fn with_phrase<R: serde::Serialize + serde::de::DeserializeOwned>(request: &R, phrase: &str) -> R {
    let mut value = serde_json::to_value(request).unwrap();
    let mut paths = Vec::new();
    string_paths(&value, &mut Vec::new(), &mut paths);
    for path in paths {
        let mut tried = value.clone();
        *pointer(&mut tried, &path) = serde_json::Value::String(phrase.to_owned());
        if serde_json::from_value::<R>(tried.clone()).is_ok() {
            value = tried;
        }
    }
    serde_json::from_value(value).unwrap()
}

fn string_paths(value: &serde_json::Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match value {
        serde_json::Value::String(_) => out.push(at.clone()),
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                at.push(i.to_string());
                string_paths(v, at, out);
                at.pop();
            }
        }
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                at.push(k.clone());
                string_paths(v, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn pointer<'a>(value: &'a mut serde_json::Value, path: &[String]) -> &'a mut serde_json::Value {
    path.iter().fold(value, |v, key| match v {
        serde_json::Value::Array(items) => &mut items[key.parse::<usize>().unwrap()],
        other => &mut other[key.as_str()],
    })
}

fn yuan(text: &str) -> Yuan {
    Yuan::parse(text).unwrap()
}

fn at() -> BeijingDateTime {
    BeijingDateTime::from_ymd_hms(2021, 8, 24, 0, 0, 0).unwrap()
}

/// What each endpoint that takes text sends (every business endpoint but 3.8, which
/// takes none), every text field set to a phrase of the spec's invalid-token list: a
/// nickname, a reason, an order number, a scanned code, a coupon's rules.
#[tokio::test]
async fn phrases_the_platform_quotes_from_the_request_spend_no_refresh() {
    let stub = Stub::start(quoting_platform_answer).await;
    let clock = Arc::new(ManualClock::new(START));
    let client = client_on(
        &stub.base_url(),
        Arc::new(MemoryTokenStore::new()),
        clock.clone(),
    );
    let open_id = "25c56912e05847c0b09f03ca7e52b796";
    let phrases = gree_ump::PROTOCOL.invalid_token_patterns;
    assert!(phrases.len() >= 10);
    let mut sent = 0;
    for phrase in phrases {
        macro_rules! send {
            ($group:ident . $method:ident ($request:expr)) => {{
                let request = with_phrase(&$request, phrase);
                let text = serde_json::to_string(&request).unwrap();
                assert!(text.contains(phrase), "{text}");
                let err = client.$group().$method(request).await.unwrap_err();
                assert!(
                    matches!(&err, RuntimeError::Api(a) if a.raw_code == 110006),
                    "{err}"
                );
                sent += 1;
            }};
        }
        send!(
            members.create_member(CreateMemberRequest::new(CreateMemberArgs {
                project_id: "18756".into(),
                phone: "13800000000".into(),
                nickname: "nick".into(),
            }))
        );
        send!(members.query_member(QueryMemberRequest::new().phone("13800000000")));
        send!(members.parse_member_code(ParseMemberCodeRequest::new("code")));
        send!(members.generate_member_code(GenerateMemberCodeRequest::new(open_id)));
        send!(
            points.change_points(ChangePointsRequest::new(ChangePointsArgs {
                open_id: open_id.into(),
                score: 1,
                out_biz_no: "biz".into(),
                change_reason: "reason".into(),
                change_event: "event".into(),
                change_id: "chg".into(),
            }))
        );
        send!(sms.send_sms_code(SendSmsCodeRequest::new("13800000000")));
        send!(
            sms.verify_sms_code(VerifySmsCodeRequest::new(VerifySmsCodeArgs {
                phone: "13888888888".into(),
                verify_code: "4586".into(),
            }))
        );
        send!(
            points.rollback_points(RollbackPointsRequest::new(RollbackPointsArgs {
                open_id: open_id.into(),
                rollback_score: 20,
                change_id: "chg".into(),
            }))
        );
        send!(
            points.rollback_points_partially(RollbackPointsPartiallyRequest::new(
                RollbackPointsPartiallyArgs {
                    open_id: open_id.into(),
                    change_id: "chg".into(),
                    parent_order_no: "order".into(),
                    items: vec![
                        PartialRollbackItem::new(PartialRollbackItemArgs {
                            order_no: "refund".into(),
                            item_no: "item".into(),
                            total_price: yuan("100"),
                        })
                        .item_name("护手霜"),
                    ],
                }
            ))
        );
        send!(
            points.list_point_records(ListPointRecordsRequest::new(ListPointRecordsArgs {
                open_id: open_id.into(),
                score_type: ScoreType::Income,
                page_size: 10,
                page_no: 1,
            }))
        );
        send!(
            orders.add_order(
                AddOrderRequest::new(AddOrderArgs {
                    consume_date: at(),
                    order_amount: yuan("1000"),
                    order_no: "order".into(),
                    order_score: 100,
                })
                .phone("17875981518")
            )
        );
        send!(
            orders.refund_order(
                RefundOrderRequest::new(RefundOrderArgs {
                    consume_date: at(),
                    order_amount: yuan("10"),
                    order_no: "refund".into(),
                    parent_order_no: "order".into(),
                })
                .phone("17875981518")
            )
        );
        send!(
            orders.refund_order_partially(
                RefundOrderPartiallyRequest::new(RefundOrderPartiallyArgs {
                    consume_date: at(),
                    order_amount: yuan("10"),
                    order_no: "refund".into(),
                    parent_order_no: "order".into(),
                })
                .phone("17875981518")
            )
        );
        send!(
            coupons.add_coupon_template(
                AddCouponTemplateRequest::new(AddCouponTemplateArgs {
                    third_coupon_id: "tpl".into(),
                    coupon_category: CouponCategory::OrderAmountOff,
                    name: "name".into(),
                    discount_fee: 10,
                    coupon_type: CouponValidityType::FixedPeriod,
                    rules: "满200元才能使用".into(),
                })
                .end_time(TimestampMs(1_630_204_939_084))
                .begin_time(TimestampMs(1_629_859_339_082))
            )
        );
        send!(
            coupons.give_coupons(GiveCouponsRequest::new(GiveCouponsArgs {
                coupon_set: vec![CouponGrant::new(CouponGrantArgs {
                    open_id: open_id.into(),
                    coupon_number: "number".into(),
                    params_type: ParamsType::OpenId,
                })],
                number: 1,
                create_time: TimestampMs(1_626_671_161_991),
                third_coupon_id: "tpl".into(),
            }))
        );
        send!(
            coupons.sync_coupon_status(SyncCouponStatusRequest::new(SyncCouponStatusArgs {
                third_coupon_code: "code".into(),
                open_id: open_id.into(),
                status: CouponStatus::Invalid,
            }))
        );
        send!(
            coupons.verify_coupons(VerifyCouponsRequest::new(VerifyCouponsArgs {
                open_id: open_id.into(),
                order_no: "order".into(),
                third_coupon_codes: vec!["code".to_owned()],
                verification_time: TimestampMs(1_632_903_617_000),
                order_amount: yuan("1205.52"),
            }))
        );
        send!(coupons.list_user_coupons(ListUserCouponsRequest::new(open_id)));
    }
    assert_eq!(stub.refresh_calls(), 0, "{sent} answers quoted a phrase");
    assert_eq!(stub.obtain_calls(), 1);
}

/// The other side: a token phrase the request did not send is still proof, with any
/// code (the gateway's parameter-error code with a token message, which the document's
/// global table makes plausible).
#[tokio::test]
async fn a_token_phrase_the_request_did_not_send_is_still_recognised() {
    let rejected = Arc::new(AtomicBool::new(true));
    let flag = rejected.clone();
    let stub = Stub::start(move |seen: &Seen<'_>| match seen.method {
        OBTAIN => (200, token_reply("at-1", Some("rt-1"), 7200)),
        REFRESH => {
            flag.store(false, Ordering::SeqCst);
            (200, token_reply("at-2", None, 7200))
        }
        _ if flag.load(Ordering::SeqCst) => (200, error_reply(1001, "access_token无效(已过期)")),
        _ => (200, OK_LEVELS.to_owned()),
    })
    .await;
    let client = client_on(
        &stub.base_url(),
        Arc::new(MemoryTokenStore::new()),
        Arc::new(ManualClock::new(START)),
    );
    list_levels(&client)
        .await
        .expect("refreshed once, then accepted");
    assert_eq!(stub.refresh_calls(), 1);
    assert!(!rejected.load(Ordering::SeqCst));
}

// ------------------------------------------------- every token call takes a budget unit

/// An HTTP date of `ms` since 1970.
fn http_date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// The server's token calls against the units the store took, in every path a token call
/// can take: first obtain, refresh, a clock correction (a busy answer whose `Date` is 5
/// minutes ahead), a retry after a busy answer, a transport failure.
#[tokio::test]
async fn every_token_call_the_server_receives_took_a_budget_unit() {
    // Answers, in order, for each token call; then success.
    let busy_then_ok = |method: &'static str| {
        let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
        move |seen: &Seen<'_>| {
            if seen.method == method && calls.fetch_add(1, Ordering::SeqCst) == 0 {
                return (200, error_reply(500, "系统繁忙, 请稍后再试"));
            }
            match seen.method {
                OBTAIN => (200, token_reply("at-1", Some("rt-1"), 7200)),
                REFRESH => (200, token_reply("at-2", None, 7200)),
                _ => (200, OK_LEVELS.to_owned()),
            }
        }
    };
    for (path, method, date_ahead) in [
        ("first obtain, busy", OBTAIN, false),
        (
            "first obtain, busy with the Date 5 minutes ahead",
            OBTAIN,
            true,
        ),
        ("refresh, busy", REFRESH, false),
        ("refresh, busy with the Date 5 minutes ahead", REFRESH, true),
    ] {
        let stub = Stub::start(busy_then_ok(method)).await;
        let clock = Arc::new(ManualClock::new(START));
        let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
        let client = client_on(&stub.base_url(), store.clone(), clock.clone());
        if method == REFRESH {
            list_levels(&client).await.unwrap();
            clock.advance_ms(2 * 60 * MINUTE_MS);
        }
        if date_ahead {
            stub.set_date(Some(http_date(clock.now_ms() + 5 * MINUTE_MS)));
        }
        let _ = list_levels(&client).await;
        // Past any pause, the call again (a retry after the busy answer).
        clock.advance_ms(10 * MINUTE_MS);
        stub.set_date(None);
        let _ = list_levels(&client).await;
        let tokens = client.runtime().tokens();
        let counted = (
            tokens.budget_used_today(BudgetKind::Obtain).await.unwrap(),
            tokens.budget_used_today(BudgetKind::Refresh).await.unwrap(),
        );
        assert_eq!(
            counted,
            (stub.obtain_calls(), stub.refresh_calls()),
            "{path}: the store's units against the server's calls"
        );
    }
    // A transport failure: nothing reached a server, nothing is counted.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let client = client_on(
        &format!("http://{dead}"),
        Arc::new(MemoryTokenStore::new()),
        Arc::new(ManualClock::new(START)),
    );
    list_levels(&client).await.unwrap_err();
    assert_eq!(
        client
            .runtime()
            .tokens()
            .budget_used_today(BudgetKind::Obtain)
            .await
            .unwrap(),
        0
    );
}

// ---------------------------------------------- a refused obtain, and the way out

/// A wrong app secret: 2.1 is refused. The unit stays spent (the platform may count a
/// refused call), the failure shows in the status with its code, and the documented way
/// out gives the unit back, after which the corrected service works.
#[tokio::test]
async fn a_refused_obtain_is_shown_and_an_operator_can_give_its_unit_back() {
    let wrong_secret = Arc::new(AtomicBool::new(true));
    let flag = wrong_secret.clone();
    let stub = Stub::start(move |seen: &Seen<'_>| match seen.method {
        OBTAIN if flag.load(Ordering::SeqCst) => (200, error_reply(1001, "签名错误")),
        OBTAIN => (200, token_reply("at-1", Some("rt-1"), 7200)),
        REFRESH => (200, token_reply("at-2", None, 7200)),
        _ => (200, OK_LEVELS.to_owned()),
    })
    .await;
    let clock = Arc::new(ManualClock::new(START));
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
    let client = client_on(&stub.base_url(), store.clone(), clock.clone());
    let err = list_levels(&client).await.unwrap_err();
    assert!(matches!(err, RuntimeError::Token(_)), "{err}");
    let status = client.runtime().tokens().status().await.unwrap();
    let failure = status.last_failure.expect("the refused call is recorded");
    assert_eq!(failure.kind, BudgetKind::Obtain);
    assert_eq!(failure.code, Some(1001));
    assert_eq!(
        status.obtain.used, 1,
        "kept spent: the platform may count it"
    );
    // The secret is fixed: a new process is still refused by the budget...
    wrong_secret.store(false, Ordering::SeqCst);
    clock.advance_ms(MINUTE_MS);
    let fixed = client_on(&stub.base_url(), store.clone(), clock.clone());
    let err = list_levels(&fixed).await.unwrap_err();
    assert!(
        matches!(err, RuntimeError::Token(TokenError::BudgetExhausted { .. })),
        "{err}"
    );
    // ...until an operator gives the unit back.
    let outcome = fixed.runtime().tokens().forget_obtain().await.unwrap();
    assert_eq!(
        outcome,
        ForgetOutcome::GaveBack {
            used_before: 1,
            used_now: 0
        }
    );
    let status = fixed.runtime().tokens().status().await.unwrap();
    assert_eq!(status.last_failure, None);
    list_levels(&fixed).await.expect("works after the way out");
    assert_eq!(stub.obtain_calls(), 2);
    assert_eq!(
        fixed.runtime().tokens().forget_obtain().await.unwrap(),
        ForgetOutcome::GaveBack {
            used_before: 1,
            used_now: 0
        }
    );
}

/// A sandbox reset forgets every token it issued, and its own count of the day's calls.
/// The client's store still counts the day's 2.1: the client says what happened and what
/// to do, and after the documented step it works again, without a second 2.1 where a
/// refresh would do.
#[tokio::test]
async fn a_sandbox_reset_is_explained_and_recovered_from() {
    let sandbox = Sandbox::start(SandboxConfig::default().with_start_time_ms(START))
        .await
        .unwrap();
    sandbox.control().set_time_ms(START);
    let clock = Arc::new(ManualClock::new(START));
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
    let client = client_on(sandbox.base_url(), store.clone(), clock.clone());
    list_levels(&client).await.unwrap();
    sandbox.control().reset();
    sandbox.control().set_time_ms(START);
    let err = list_levels(&client).await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            &err,
            RuntimeError::Token(TokenError::RefreshTokenRefused { .. })
        ),
        "{text}"
    );
    assert!(text.contains("forget-obtain"), "{text}");
    assert!(text.contains("refused the stored refresh token"), "{text}");
    client.runtime().tokens().forget_obtain().await.unwrap();
    let restarted = client_on(sandbox.base_url(), store.clone(), clock.clone());
    list_levels(&restarted).await.expect("works after the step");
    sandbox.shutdown().await;
}

// --------------------------------------------------- a store that restarts empty

/// A store that can lose everything at once, as Redis restarted without persistence.
#[derive(Debug)]
struct Forgetful(std::sync::Mutex<Arc<MemoryTokenStore>>);

impl Forgetful {
    fn inner(&self) -> Arc<MemoryTokenStore> {
        self.0.lock().unwrap().clone()
    }
    fn restart_empty(&self) {
        *self.0.lock().unwrap() = Arc::new(MemoryTokenStore::new());
    }
}

impl TokenStore for Forgetful {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<TokenRecord>> {
        let inner = self.inner();
        Box::pin(async move { inner.load(key).await })
    }
    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: Option<u64>,
        record: &'a TokenRecord,
    ) -> StoreFuture<'a, bool> {
        let inner = self.inner();
        Box::pin(async move { inner.compare_and_set(key, expected, record).await })
    }
    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        lease: Duration,
    ) -> StoreFuture<'a, bool> {
        let inner = self.inner();
        Box::pin(async move { inner.try_lock(key, owner, lease).await })
    }
    fn unlock<'a>(&'a self, key: &'a str, owner: &'a str) -> StoreFuture<'a, ()> {
        let inner = self.inner();
        Box::pin(async move { inner.unlock(key, owner).await })
    }
    fn take_budget<'a>(
        &'a self,
        key: &'a str,
        kind: BudgetKind,
        day: i64,
        limit: u32,
    ) -> StoreFuture<'a, gree_ump::runtime::tokens::BudgetTake> {
        let inner = self.inner();
        Box::pin(async move { inner.take_budget(key, kind, day, limit).await })
    }
    fn budget_used<'a>(&'a self, key: &'a str, kind: BudgetKind, day: i64) -> StoreFuture<'a, u32> {
        let inner = self.inner();
        Box::pin(async move { inner.budget_used(key, kind, day).await })
    }
    fn give_back_budget<'a>(
        &'a self,
        key: &'a str,
        kind: BudgetKind,
        day: i64,
    ) -> StoreFuture<'a, ()> {
        let inner = self.inner();
        Box::pin(async move { inner.give_back_budget(key, kind, day).await })
    }
    fn renew_lock<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        lease: Duration,
    ) -> StoreFuture<'a, bool> {
        let inner = self.inner();
        Box::pin(async move { inner.renew_lock(key, owner, lease).await })
    }
    fn load_note<'a>(&'a self, key: &'a str, name: &'a str) -> StoreFuture<'a, Option<String>> {
        let inner = self.inner();
        Box::pin(async move { inner.load_note(key, name).await })
    }
    fn store_note<'a>(
        &'a self,
        key: &'a str,
        name: &'a str,
        value: Option<&'a str>,
    ) -> StoreFuture<'a, ()> {
        let inner = self.inner();
        Box::pin(async move { inner.store_note(key, name, value).await })
    }
}

/// The store restarts empty while a service holds a valid token: on its next check it
/// writes back the record and the day's counts, so an instance that starts then (and
/// must obtain, its own record being unusable) finds the day's 2.1 spent.
#[tokio::test]
async fn a_store_that_restarts_empty_gets_the_days_counts_back() {
    let sandbox = Sandbox::start(SandboxConfig::default().with_start_time_ms(START))
        .await
        .unwrap();
    sandbox.control().set_time_ms(START);
    let clock = Arc::new(ManualClock::new(START));
    let store = Arc::new(Forgetful(std::sync::Mutex::new(Arc::new(
        MemoryTokenStore::new(),
    ))));
    let policy = TokenPolicy {
        write_back_every: Duration::from_millis(1),
        ..TokenPolicy::default()
    };
    let running = Client::builder()
        .base_url(sandbox.base_url())
        .app_id(DEFAULT_APP_ID)
        .app_secret(DEFAULT_APP_SECRET)
        .token_store(store.clone())
        .clock(clock.clone())
        .token_policy(policy)
        .build()
        .unwrap();
    list_levels(&running).await.unwrap();
    store.restart_empty();
    tokio::time::sleep(Duration::from_millis(5)).await;
    list_levels(&running).await.unwrap();
    let tokens = running.runtime().tokens();
    assert_eq!(
        tokens.budget_used_today(BudgetKind::Obtain).await.unwrap(),
        1,
        "the day's 2.1 is counted again"
    );
    assert_eq!(sandbox.control().token_calls().obtain_calls, 1);
    sandbox.shutdown().await;
}
