//! End to end: the generated client (`gree_ump::Client`) against the sandbox, in process,
//! over HTTP on loopback.
//!
//! Every one of the 21 endpoints is called through its typed method with a success case
//! (asserting the returned data and the state change, read through the sandbox's
//! controls) and at least one documented error (asserting the typed `ErrorCode`). Then
//! paging through the `_stream` methods, the points recovery protocol
//! (`gree_ump::recovery`) under injected faults, and the token flow (one obtain, one
//! refresh after expiry or revocation).
//!
//! Codes the typed client cannot provoke because it refuses the request before sending
//! it (110001 empty phone, 110002 neither open_id nor phone, 140003 empty SMS target) are
//! asserted as `Error::Request` instead: nothing reaches the platform.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use gree_ump::endpoints::*;
use gree_ump::models::{
    CouponCategory, CouponGrant, CouponGrantArgs, CouponStatus, CouponStatusFilter,
    CouponValidityType, OrderItem, ParamsType, PartialRollbackItem, PartialRollbackItemArgs,
    ScoreType,
};
use gree_ump::recovery::{
    AppliedBy, PointsChangeOutcome, Recovery, change_points_reliably, resolve_points_change,
};
use gree_ump::runtime::tokens::{BudgetKind, MemoryTokenStore};
use gree_ump::runtime::{Error as RuntimeError, TokenError};
use gree_ump::wire::{BeijingDateTime, TimestampMs, Yuan};
use gree_ump::{Client, Error, ErrorCode};
use gree_ump_sandbox::{Fault, Sandbox, SandboxConfig, SandboxHandle};
use serde_json::Value;

const PHONE: &str = "13800000000";
const OTHER_PHONE: &str = "13900000000";
/// An open_id no member has.
const NOBODY: &str = "00000000000000000000000000000000";

// ------------------------------------------------------------------------------ helpers

/// A sandbox and a client of it.
struct Env {
    sandbox: SandboxHandle,
    client: Client,
}

impl Env {
    async fn start() -> Self {
        Self::start_with(SandboxConfig::default()).await
    }

    async fn start_with(config: SandboxConfig) -> Self {
        let sandbox = Sandbox::start(config).await.expect("the sandbox starts");
        let client = client_of(&sandbox, sandbox.app_id());
        Env { sandbox, client }
    }

    /// A started sandbox with one registered member; returns its open_id.
    async fn with_member() -> (Self, String) {
        let env = Self::start().await;
        let open_id = env.member(PHONE).await;
        (env, open_id)
    }

    async fn member(&self, phone: &str) -> String {
        self.client
            .members()
            .create_member(CreateMemberRequest::new(CreateMemberArgs {
                project_id: "18756".into(),
                nickname: "张三".into(),
                phone: phone.into(),
            }))
            .await
            .expect("the member is registered")
    }

    /// The member's balance, read from the sandbox's state.
    fn balance(&self, member: &str) -> i64 {
        self.sandbox
            .control()
            .ledger(member)
            .expect("the member exists")
            .score
    }

    /// The signed amounts of the member's ledger, oldest first.
    fn ledger_amounts(&self, member: &str) -> Vec<i64> {
        self.sandbox
            .control()
            .ledger(member)
            .expect("the member exists")
            .entries
            .iter()
            .map(|e| e.amount)
            .collect()
    }

    fn dump(&self) -> Value {
        self.sandbox.control().dump()
    }

    fn now(&self) -> TimestampMs {
        TimestampMs(self.sandbox.control().now_ms())
    }

    /// Credits `score` points by a 3.3 change.
    async fn credit(&self, open_id: &str, score: i64, change_id: &str) -> String {
        self.client
            .points()
            .change_points(ChangePointsRequest::new(ChangePointsArgs {
                open_id: open_id.into(),
                score,
                out_biz_no: format!("biz-{change_id}"),
                change_reason: "测试".into(),
                change_event: "event_add".into(),
                change_id: change_id.into(),
            }))
            .await
            .expect("the credit is applied")
            .statement_id
            .expect("a statement id")
    }

    /// Debits `score` points by a 3.3 change.
    async fn debit(&self, open_id: &str, score: i64, change_id: &str) {
        self.client
            .points()
            .change_points(ChangePointsRequest::new(ChangePointsArgs {
                open_id: open_id.into(),
                score,
                out_biz_no: format!("biz-{change_id}"),
                change_reason: "测试".into(),
                change_event: "event_subtract".into(),
                change_id: change_id.into(),
            }))
            .await
            .expect("the debit is applied");
    }

    async fn order(&self, open_id: &str, order_no: &str, amount: &str, score: i64) -> i64 {
        self.client
            .orders()
            .add_order(
                AddOrderRequest::new(AddOrderArgs {
                    consume_date: now_beijing(),
                    order_amount: yuan(amount),
                    order_no: order_no.into(),
                    order_score: score,
                })
                .open_id(open_id),
            )
            .await
            .expect("the order is recorded")
    }

    /// A template valid 30 days after receipt, 10 yuan off from 100 yuan.
    async fn template(&self, third_id: &str) -> i64 {
        self.template_with(third_id, |t| t).await
    }

    async fn template_with(
        &self,
        third_id: &str,
        adjust: impl FnOnce(AddCouponTemplateRequest) -> AddCouponTemplateRequest,
    ) -> i64 {
        self.client
            .coupons()
            .add_coupon_template(adjust(template_request(third_id)))
            .await
            .expect("the template is created")
    }

    async fn give(&self, third_id: &str, open_id: &str, coupon_number: &str) -> String {
        let given = self
            .client
            .coupons()
            .give_coupons(GiveCouponsRequest::new(GiveCouponsArgs {
                coupon_set: vec![CouponGrant::new(CouponGrantArgs {
                    open_id: open_id.into(),
                    coupon_number: coupon_number.into(),
                    params_type: ParamsType::OpenId,
                })],
                number: 1,
                create_time: self.now(),
                third_coupon_id: third_id.into(),
            }))
            .await
            .expect("the coupon is given");
        given[0].code.clone().expect("a coupon code")
    }

    fn coupon_status(&self, third_code: &str) -> i64 {
        self.dump()["coupons"]["coupons"]
            .as_array()
            .expect("coupons")
            .iter()
            .find(|c| c["third_coupon_code"] == third_code)
            .and_then(|c| c["status"].as_i64())
            .expect("the coupon exists")
    }

    fn tokens(&self) -> gree_ump_sandbox::TokenCallCounts {
        self.sandbox.control().token_calls()
    }
}

fn client_of(sandbox: &SandboxHandle, app_id: &str) -> Client {
    Client::builder()
        .base_url(sandbox.base_url())
        .app_id(app_id)
        .app_secret(sandbox.app_secret())
        .token_store(std::sync::Arc::new(MemoryTokenStore::new()))
        .build()
        .expect("the client builds")
}

fn yuan(text: &str) -> Yuan {
    Yuan::parse(text).expect("an amount")
}

fn now_beijing() -> BeijingDateTime {
    BeijingDateTime::now()
}

fn template_request(third_id: &str) -> AddCouponTemplateRequest {
    AddCouponTemplateRequest::new(AddCouponTemplateArgs {
        third_coupon_id: third_id.into(),
        coupon_category: CouponCategory::OrderAmountOff,
        name: "满100减10".into(),
        discount_fee: 1_000,
        coupon_type: CouponValidityType::DaysAfterReceipt,
        rules: "满100元可用".into(),
    })
    .fixed_term(30)
    .minimum_fee(10_000)
}

/// The typed platform error code of a failed call.
#[track_caller]
fn code_of<T: std::fmt::Debug>(result: Result<T, Error>) -> ErrorCode {
    match result {
        Ok(value) => panic!("expected an API error, got {value:?}"),
        Err(e) => e
            .code()
            .unwrap_or_else(|| panic!("expected an API error, got {e:?}")),
    }
}

/// Asserts the call was refused before any traffic.
#[track_caller]
fn assert_refused_locally<T: std::fmt::Debug>(result: Result<T, Error>) {
    match result {
        Err(RuntimeError::Request(_)) => {}
        other => panic!("expected a request error, got {other:?}"),
    }
}

/// Fast polling for the recovery protocol (the defaults wait 1 s between attempts).
fn quick_recovery() -> Recovery {
    Recovery {
        poll_interval: Duration::from_millis(10),
        max_attempts: 5,
        attempt_lifetime: Duration::from_millis(200),
    }
}

// --------------------------------------------------------------------------- 2. auth

#[tokio::test]
async fn obtain_token_is_made_by_the_client_once_and_stored() {
    let env = Env::start().await;
    env.member(PHONE).await;
    assert_eq!(env.tokens().obtain_issued, 1);
    let tokens = env.client.runtime().tokens();
    let stored = tokens
        .store()
        .load(tokens.key())
        .await
        .unwrap()
        .expect("the token pair is stored");
    assert_eq!(stored.version, 1);
    // Later calls use it: no second 2.1.
    env.member(OTHER_PHONE).await;
    assert_eq!(env.tokens().obtain_calls, 1);
}

/// Finding 15 of the token issue: a 2.1 sent by hand spent the day's only call and stored
/// nothing. The token calls are the manager's alone: by hand they are refused before any
/// traffic, and the client's own calls go on.
#[tokio::test]
async fn hand_sent_token_calls_are_refused_and_spend_nothing() {
    let env = Env::start().await;
    for result in [
        env.client
            .runtime()
            .send(&ObtainTokenRequest::new())
            .await
            .map(|_| ()),
        env.client
            .runtime()
            .send(&RefreshAccessTokenRequest::new())
            .await
            .map(|_| ()),
    ] {
        match result {
            Err(RuntimeError::Request(e)) => {
                assert!(e.to_string().contains("token call"), "{e}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    assert_eq!(env.tokens().obtain_calls, 0);
    env.member(PHONE).await;
    assert_eq!(env.tokens().obtain_issued, 1);
}

/// Finding 14 of the token issue: 110005 on the client's own 2.1 surfaced as a bare
/// number. It is the typed code, through `code()`.
#[tokio::test]
async fn obtain_token_with_an_unknown_app_id_is_app_not_found_110005() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let client = client_of(&sandbox, "not-an-app");
    let result = client
        .members()
        .query_member(QueryMemberRequest::new().phone(PHONE))
        .await;
    match &result {
        Err(RuntimeError::Token(TokenError::CallFailed { code, .. })) => {
            assert_eq!(*code, Some(110_005))
        }
        other => panic!("expected a failed token call, got {other:?}"),
    }
    assert_eq!(code_of(result), ErrorCode::AppNotFound);
    assert_eq!(sandbox.control().token_calls().obtain_issued, 0);
}

#[tokio::test]
async fn refresh_access_token_issues_a_new_access_token() {
    let env = Env::start().await;
    env.member(PHONE).await; // the client obtains its token pair
    env.sandbox.control().revoke_access_tokens();
    env.member(OTHER_PHONE).await; // rejected once, refreshed once, retried
    let calls = env.tokens();
    assert_eq!((calls.obtain_issued, calls.refresh_issued), (1, 1));
}

#[tokio::test]
async fn refresh_access_token_while_the_platform_is_busy_is_system_busy_500() {
    let env = Env::start().await;
    env.member(PHONE).await;
    env.sandbox.control().revoke_access_tokens();
    env.sandbox
        .control()
        .inject_fault("dss.auth.token.refresh", Fault::Busy, 1);
    let result = env
        .client
        .members()
        .query_member(QueryMemberRequest::new().phone(PHONE))
        .await;
    let err = result.as_ref().unwrap_err();
    assert!(err.is_transient(), "busy is worth a retry: {err:?}");
    assert_eq!(code_of(result), ErrorCode::SystemBusy);
    assert_eq!(env.tokens().refresh_issued, 0);
}

// ------------------------------------------------------------------------ 3. members

#[tokio::test]
async fn create_member_registers_once_per_phone() {
    let env = Env::start().await;
    let open_id = env
        .client
        .members()
        .create_member(
            CreateMemberRequest::new(CreateMemberArgs {
                project_id: "18756".into(),
                nickname: "张三".into(),
                phone: PHONE.into(),
            })
            .realname("张三丰")
            .email("zs@example.com"),
        )
        .await
        .unwrap();
    assert_eq!(open_id.len(), 32, "{open_id}");
    let dump = env.dump();
    let stored = &dump["members"]["by_open_id"][&open_id];
    assert_eq!(stored["profile"]["phone"], PHONE);
    assert_eq!(stored["profile"]["realname"], "张三丰");
    assert_eq!(stored["score"], 0);

    // The same phone again answers the same member: no twin.
    let again = env.member(PHONE).await;
    assert_eq!(again, open_id);
    assert_eq!(
        env.dump()["members"]["by_open_id"]
            .as_object()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn create_member_with_a_malformed_phone_is_invalid_parameter_1001() {
    let env = Env::start().await;
    let result = env
        .client
        .members()
        .create_member(CreateMemberRequest::new(CreateMemberArgs {
            project_id: "18756".into(),
            nickname: "张三".into(),
            phone: "12345".into(),
        }))
        .await;
    assert_eq!(code_of(result), ErrorCode::InvalidParameter);
    // 110001 (empty phone) is refused by the client before sending.
    assert_refused_locally(
        env.client
            .members()
            .create_member(CreateMemberRequest::new(CreateMemberArgs {
                project_id: "18756".into(),
                nickname: "张三".into(),
                phone: " ".into(),
            }))
            .await,
    );
    assert!(
        env.dump()["members"]["by_open_id"]
            .as_object()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn query_member_by_phone_or_open_id_returns_profile_level_and_balance() {
    let (env, open_id) = Env::with_member().await;
    env.credit(&open_id, 350, "chg-1").await;
    let by_phone = env
        .client
        .members()
        .query_member(QueryMemberRequest::new().phone(PHONE))
        .await
        .unwrap();
    assert_eq!(by_phone.open_id.as_deref(), Some(open_id.as_str()));
    assert_eq!(by_phone.phone.as_deref(), Some(PHONE));
    assert_eq!(by_phone.nickname.as_deref(), Some("张三"));
    assert_eq!(by_phone.score, Some(350));
    assert_eq!(by_phone.growth_value, Some(350));
    assert_eq!(by_phone.level_number, Some(2), "300 growth reaches level 2");
    assert_eq!(by_phone.next_level_growth_value, Some(1_000));
    assert!(by_phone.rights.as_ref().is_some_and(|r| !r.is_empty()));
    let by_open_id = env
        .client
        .members()
        .query_member(QueryMemberRequest::new().open_id(&open_id))
        .await
        .unwrap();
    assert_eq!(by_open_id, by_phone);
}

#[tokio::test]
async fn query_member_of_an_unknown_phone_is_member_not_found_110004() {
    let (env, _) = Env::with_member().await;
    let result = env
        .client
        .members()
        .query_member(QueryMemberRequest::new().phone(OTHER_PHONE))
        .await;
    assert_eq!(code_of(result), ErrorCode::MemberNotFound);
    // 110002 (neither open_id nor phone) is refused by the client before sending.
    assert_refused_locally(
        env.client
            .members()
            .query_member(QueryMemberRequest::new())
            .await,
    );
}

#[tokio::test]
async fn generate_member_code_then_parse_member_code_finds_the_member() {
    let (env, open_id) = Env::with_member().await;
    let code = env
        .client
        .members()
        .generate_member_code(GenerateMemberCodeRequest::new(&open_id))
        .await
        .unwrap();
    assert_eq!(code.len(), 20, "{code}");
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
    assert_eq!(env.dump()["members"]["codes"][&code]["open_id"], open_id);
    let member = env
        .client
        .members()
        .parse_member_code(ParseMemberCodeRequest::new(&code))
        .await
        .unwrap();
    assert_eq!(member.open_id.as_deref(), Some(open_id.as_str()));
}

#[tokio::test]
async fn generate_member_code_for_an_unknown_member_is_member_not_found_110004() {
    let env = Env::start().await;
    let result = env
        .client
        .members()
        .generate_member_code(GenerateMemberCodeRequest::new(NOBODY))
        .await;
    assert_eq!(code_of(result), ErrorCode::MemberNotFound);
}

#[tokio::test]
async fn parse_member_code_after_its_lifetime_is_member_code_expired_110006() {
    let (env, open_id) = Env::with_member().await;
    let code = env
        .client
        .members()
        .generate_member_code(GenerateMemberCodeRequest::new(&open_id))
        .await
        .unwrap();
    env.sandbox.control().advance(Duration::from_secs(61));
    let expired = env
        .client
        .members()
        .parse_member_code(ParseMemberCodeRequest::new(&code))
        .await;
    assert_eq!(code_of(expired), ErrorCode::MemberCodeExpired);
    let unknown = env
        .client
        .members()
        .parse_member_code(ParseMemberCodeRequest::new("12345678901234567890"))
        .await;
    assert_eq!(code_of(unknown), ErrorCode::MemberCodeExpired);
}

#[tokio::test]
async fn list_levels_pages_and_streams_the_seven_levels() {
    let env = Env::start().await;
    let page = env
        .client
        .members()
        .list_levels(ListLevelsRequest::new().page_size(3).page_no(2))
        .await
        .unwrap();
    assert_eq!(page.page.total_count, Some(7));
    let numbers: Vec<_> = page.into_data().iter().map(|l| l.level_number).collect();
    assert_eq!(numbers, [Some(4), Some(5), Some(6)]);

    let all: Vec<_> = env
        .client
        .members()
        .list_levels_stream(ListLevelsRequest::new().page_size(2))
        .try_collect()
        .await
        .unwrap();
    let numbers: Vec<_> = all.iter().filter_map(|l| l.level_number).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(all[0].level_name.as_deref(), Some("一级会员"));
    assert_eq!(all[0].id, Some(76));
}

#[tokio::test]
async fn list_levels_with_page_number_zero_is_invalid_parameter_1001() {
    let env = Env::start().await;
    let result = env
        .client
        .members()
        .list_levels(ListLevelsRequest::new().page_no(0))
        .await;
    assert_eq!(code_of(result), ErrorCode::InvalidParameter);
}

// ------------------------------------------------------------------------- 3. points

#[tokio::test]
async fn change_points_credits_and_debits_once_per_change_id() {
    let (env, open_id) = Env::with_member().await;
    let change = ChangePointsRequest::new(ChangePointsArgs {
        open_id: open_id.clone(),
        score: 100,
        out_biz_no: "order-1".into(),
        change_reason: "购物".into(),
        change_event: "event_add".into(),
        change_id: "chg-1".into(),
    })
    .activity_score(20);
    let first = env
        .client
        .points()
        .change_points(change.clone())
        .await
        .unwrap();
    let statement = first.statement_id.clone().expect("a statement id");
    assert_eq!(env.balance(&open_id), 120);

    // A new call under the same change_id, even identical, is answered 150002 (the
    // document's reused key): no second credit. Nothing was lost before it, so it is a
    // refusal of this call, not "applied by an earlier attempt".
    let again = env.client.points().change_points(change).await;
    assert_eq!(code_of(again), ErrorCode::ChangeIdExists);
    assert_eq!(env.balance(&open_id), 120);

    env.debit(&open_id, 70, "chg-2").await;
    assert_eq!(env.balance(&open_id), 50);
    let ledger = env.sandbox.control().ledger(&open_id).unwrap();
    assert_eq!(ledger.growth_value, 120, "spending does not lower growth");
    assert_eq!(env.ledger_amounts(&open_id), [120, -70]);
    assert_eq!(ledger.entries[0].statement_id, statement);
}

#[tokio::test]
async fn change_points_refusals_are_typed_and_move_nothing() {
    let (env, open_id) = Env::with_member().await;
    env.credit(&open_id, 100, "chg-1").await;
    let points = env.client.points();
    let change = |score: i64, event: &str, change_id: &str| {
        ChangePointsRequest::new(ChangePointsArgs {
            open_id: open_id.clone(),
            score,
            out_biz_no: "order-1".into(),
            change_reason: "购物".into(),
            change_event: event.into(),
            change_id: change_id.into(),
        })
    };

    // 150002: the same change_id for another change.
    let reused = points.change_points(change(5, "event_add", "chg-1")).await;
    assert_eq!(code_of(reused), ErrorCode::ChangeIdExists);
    // 150001: an event the platform has no rule for.
    let unknown_event = points
        .change_points(change(5, "event_bonus", "chg-2"))
        .await;
    assert_eq!(code_of(unknown_event), ErrorCode::PointRuleNotConfigured);
    // 150008: a debit above the balance.
    let overdraft = points
        .change_points(change(101, "event_subtract", "chg-3"))
        .await;
    assert_eq!(code_of(overdraft), ErrorCode::InsufficientPoints);
    // 110004: no such member.
    let nobody = points
        .change_points(ChangePointsRequest::new(ChangePointsArgs {
            open_id: NOBODY.into(),
            score: 5,
            out_biz_no: "order-1".into(),
            change_reason: "购物".into(),
            change_event: "event_add".into(),
            change_id: "chg-4".into(),
        }))
        .await;
    assert_eq!(code_of(nobody), ErrorCode::MemberNotFound);

    assert_eq!(env.ledger_amounts(&open_id), [100]);
    // A refused change leaves its change_id free.
    env.credit(&open_id, 5, "chg-3").await;
    assert_eq!(env.balance(&open_id), 105);
}

#[tokio::test]
async fn rollback_points_by_statement_restores_the_balance() {
    let (env, open_id) = Env::with_member().await;
    let statement = env.credit(&open_id, 100, "chg-1").await;
    let rollback = RollbackPointsRequest::new(RollbackPointsArgs {
        open_id: open_id.clone(),
        rollback_score: 40,
        change_id: "rb-1".into(),
    })
    .statement_id(&statement);
    let first = env
        .client
        .points()
        .rollback_points(rollback.clone())
        .await
        .unwrap();
    let rb_statement = first.statement_id.expect("a statement id");
    assert_ne!(rb_statement, statement);
    assert_eq!(env.balance(&open_id), 60);
    // Its own change_id is its key: a second call under it is 150002, nothing moves.
    let again = env.client.points().rollback_points(rollback).await;
    assert_eq!(code_of(again), ErrorCode::ChangeIdExists);
    assert_eq!(env.ledger_amounts(&open_id), [100, -40]);
    let dump = env.dump();
    assert_eq!(dump["points"]["changes"]["chg-1"]["rolled_back_score"], 40);
}

#[tokio::test]
async fn rollback_points_refusals_are_typed_and_move_nothing() {
    let (env, open_id) = Env::with_member().await;
    let statement = env.credit(&open_id, 100, "chg-1").await;
    let points = env.client.points();

    // 150004: no statement with that id.
    let unknown_statement = points
        .rollback_points(
            RollbackPointsRequest::new(RollbackPointsArgs {
                open_id: open_id.clone(),
                rollback_score: 10,
                change_id: "rb-1".into(),
            })
            .statement_id("SP0"),
        )
        .await;
    assert_eq!(
        code_of(unknown_statement),
        ErrorCode::PointStatementNotFound
    );
    // 1005: the recovery path (no statement id) for a change that never happened.
    let never = points
        .rollback_points(RollbackPointsRequest::new(RollbackPointsArgs {
            open_id: open_id.clone(),
            rollback_score: 10,
            change_id: "chg-never".into(),
        }))
        .await;
    assert_eq!(code_of(never), ErrorCode::ChangeNotFound);
    // 110004: no such member.
    let nobody = points
        .rollback_points(
            RollbackPointsRequest::new(RollbackPointsArgs {
                open_id: NOBODY.into(),
                rollback_score: 10,
                change_id: "rb-2".into(),
            })
            .statement_id(&statement),
        )
        .await;
    assert_eq!(code_of(nobody), ErrorCode::MemberNotFound);
    // 150009: the credited points are spent.
    env.debit(&open_id, 80, "chg-2").await;
    let spent = points
        .rollback_points(
            RollbackPointsRequest::new(RollbackPointsArgs {
                open_id: open_id.clone(),
                rollback_score: 100,
                change_id: "rb-3".into(),
            })
            .statement_id(&statement),
        )
        .await;
    assert_eq!(code_of(spent), ErrorCode::InsufficientPointsForRollback);

    assert_eq!(env.ledger_amounts(&open_id), [100, -80]);
}

#[tokio::test]
async fn rollback_points_partially_takes_back_the_items_points() {
    let (env, open_id) = Env::with_member().await;
    env.client
        .points()
        .change_points(
            ChangePointsRequest::new(ChangePointsArgs {
                open_id: open_id.clone(),
                score: 100,
                out_biz_no: "order-9".into(),
                change_reason: "购物".into(),
                change_event: "event_add".into(),
                change_id: "chg-1".into(),
            })
            .order_amount(yuan("200.00")),
        )
        .await
        .unwrap();
    let items = vec![
        PartialRollbackItem::new(PartialRollbackItemArgs {
            order_no: "order-9".into(),
            item_no: "sku-1".into(),
            total_price: yuan("60.00"),
        })
        .base_score(30),
    ];
    let request = RollbackPointsPartiallyRequest::new(RollbackPointsPartiallyArgs {
        open_id: open_id.clone(),
        change_id: "prb-1".into(),
        parent_order_no: "order-9".into(),
        items,
    });
    let done = env
        .client
        .points()
        .rollback_points_partially(request.clone())
        .await
        .unwrap();
    assert!(done.statement_id.is_some());
    assert_eq!(env.balance(&open_id), 70);
    // Keyed on change_id: a second call under it is 150002, nothing moves.
    let again = env.client.points().rollback_points_partially(request).await;
    assert_eq!(code_of(again), ErrorCode::ChangeIdExists);
    assert_eq!(env.ledger_amounts(&open_id), [100, -30]);
    assert_eq!(
        env.dump()["points"]["orders"][format!("{open_id}/order-9")]["reversed"],
        30
    );
}

#[tokio::test]
async fn rollback_points_partially_refusals_are_typed_and_move_nothing() {
    let (env, open_id) = Env::with_member().await;
    env.credit(&open_id, 100, "chg-1").await; // out_biz_no "biz-chg-1"
    let points = env.client.points();
    let item = |score: i64| {
        vec![
            PartialRollbackItem::new(PartialRollbackItemArgs {
                order_no: "x".into(),
                item_no: "sku-1".into(),
                total_price: yuan("1.00"),
            })
            .base_score(score),
        ]
    };

    // 1005: neither the order nor the change_id is known.
    let unknown = points
        .rollback_points_partially(RollbackPointsPartiallyRequest::new(
            RollbackPointsPartiallyArgs {
                open_id: open_id.clone(),
                change_id: "prb-1".into(),
                parent_order_no: "no-such-order".into(),
                items: item(10),
            },
        ))
        .await;
    assert_eq!(code_of(unknown), ErrorCode::ChangeNotFound);
    // 150007: more than the order earned.
    let too_much = points
        .rollback_points_partially(RollbackPointsPartiallyRequest::new(
            RollbackPointsPartiallyArgs {
                open_id: open_id.clone(),
                change_id: "prb-2".into(),
                parent_order_no: "biz-chg-1".into(),
                items: item(101),
            },
        ))
        .await;
    assert_eq!(code_of(too_much), ErrorCode::RefundPointRatioExceeded);
    // 110004: no such member.
    let nobody = points
        .rollback_points_partially(RollbackPointsPartiallyRequest::new(
            RollbackPointsPartiallyArgs {
                open_id: NOBODY.into(),
                change_id: "prb-3".into(),
                parent_order_no: "biz-chg-1".into(),
                items: item(10),
            },
        ))
        .await;
    assert_eq!(code_of(nobody), ErrorCode::MemberNotFound);
    assert_eq!(env.ledger_amounts(&open_id), [100]);
}

#[tokio::test]
async fn list_point_records_pages_filters_and_streams_the_ledger_newest_first() {
    let (env, open_id) = Env::with_member().await;
    for i in 1..=25 {
        env.credit(&open_id, i, &format!("chg-{i}")).await;
    }
    env.debit(&open_id, 7, "chg-debit").await;

    let page = env
        .client
        .points()
        .list_point_records(ListPointRecordsRequest::new(ListPointRecordsArgs {
            open_id: open_id.clone(),
            score_type: ScoreType::All,
            page_size: 10,
            page_no: 1,
        }))
        .await
        .unwrap();
    assert_eq!(page.page.total_count, Some(26));
    let first = page.into_data();
    assert_eq!(first.len(), 10);
    assert_eq!(first[0].amount, Some(-7), "newest first");
    assert_eq!(first[1].amount, Some(25));

    let all: Vec<_> = env
        .client
        .points()
        .list_point_records_stream(ListPointRecordsRequest::new(ListPointRecordsArgs {
            open_id: open_id.clone(),
            score_type: ScoreType::All,
            page_size: 10,
            page_no: 1,
        }))
        .try_collect()
        .await
        .unwrap();
    let mut expected = env.ledger_amounts(&open_id);
    expected.reverse();
    let amounts: Vec<_> = all.iter().filter_map(|r| r.amount).collect();
    assert_eq!(amounts, expected, "every page, in order, once");

    let expenses: Vec<_> = env
        .client
        .points()
        .list_point_records_stream(ListPointRecordsRequest::new(ListPointRecordsArgs {
            open_id: open_id.clone(),
            score_type: ScoreType::Expense,
            page_size: 10,
            page_no: 1,
        }))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(expenses.len(), 1);
    assert_eq!(expenses[0].amount, Some(-7));
    assert!(expenses[0].create_time.is_some());
}

#[tokio::test]
async fn list_point_records_of_an_unknown_member_is_member_not_found_110004() {
    let env = Env::start().await;
    let result = env
        .client
        .points()
        .list_point_records(ListPointRecordsRequest::new(ListPointRecordsArgs {
            open_id: NOBODY.into(),
            score_type: ScoreType::All,
            page_size: 10,
            page_no: 1,
        }))
        .await;
    assert_eq!(code_of(result), ErrorCode::MemberNotFound);
    // The stream yields the error, then ends.
    let items: Vec<_> = env
        .client
        .points()
        .list_point_records_stream(ListPointRecordsRequest::new(ListPointRecordsArgs {
            open_id: NOBODY.into(),
            score_type: ScoreType::All,
            page_size: 10,
            page_no: 1,
        }))
        .collect()
        .await;
    assert_eq!(items.len(), 1);
    assert_eq!(
        items.into_iter().next().unwrap().unwrap_err().code(),
        Some(ErrorCode::MemberNotFound)
    );
}

// ------------------------------------------------------------------------- 4. orders

#[tokio::test]
async fn add_order_credits_the_order_score_once_per_order_no() {
    let (env, open_id) = Env::with_member().await;
    env.credit(&open_id, 50, "chg-1").await;
    let items = vec![OrderItem::new().item_no("sku-1").use_score(20)];
    let request = AddOrderRequest::new(AddOrderArgs {
        consume_date: now_beijing(),
        order_amount: yuan("1000.40"),
        order_no: "ord-1".into(),
        order_score: 100,
    })
    .phone(PHONE)
    .item_info_list(items);
    let id = env
        .client
        .orders()
        .add_order(request.clone())
        .await
        .unwrap();
    assert!(id > 0);
    assert_eq!(env.balance(&open_id), 130, "50 − 20 used + 100 earned");
    let order = &env.dump()["orders"]["orders"]["ord-1"];
    assert_eq!(order["amount_fen"], 100_040);
    assert_eq!(order["open_id"], open_id.as_str());
    // The same order again: the same id, no second credit.
    let again = env.client.orders().add_order(request).await.unwrap();
    assert_eq!(again, id);
    assert_eq!(env.ledger_amounts(&open_id), [50, -20, 100]);
}

#[tokio::test]
async fn add_order_refusals_are_typed_and_move_nothing() {
    let (env, open_id) = Env::with_member().await;
    let orders = env.client.orders();
    let order = |no: &str| {
        AddOrderRequest::new(AddOrderArgs {
            consume_date: now_beijing(),
            order_amount: yuan("10.00"),
            order_no: no.into(),
            order_score: 10,
        })
    };

    // 120001: a malformed phone.
    let bad_phone = orders.add_order(order("ord-1").phone("123")).await;
    assert_eq!(code_of(bad_phone), ErrorCode::OrderInvalidPhone);
    // 110004: no such member.
    let nobody = orders.add_order(order("ord-2").phone(OTHER_PHONE)).await;
    assert_eq!(code_of(nobody), ErrorCode::MemberNotFound);
    // 150003: points used above the balance (see the report: not in 4.1's error list).
    let overspent = orders
        .add_order(
            order("ord-3")
                .open_id(&open_id)
                .item_info_list(vec![OrderItem::new().use_score(1)]),
        )
        .await;
    assert_eq!(code_of(overspent), ErrorCode::PointPoolInsufficient);
    // 110002 is refused by the client before sending.
    assert_refused_locally(orders.add_order(order("ord-4")).await);

    assert!(env.ledger_amounts(&open_id).is_empty());
    assert!(
        env.dump()["orders"]["orders"]
            .as_object()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn refund_order_takes_back_the_orders_points() {
    let (env, open_id) = Env::with_member().await;
    env.order(&open_id, "ord-1", "200.00", 100).await;
    let refund = RefundOrderRequest::new(RefundOrderArgs {
        consume_date: now_beijing(),
        order_amount: yuan("200.00"),
        order_no: "ret-1".into(),
        parent_order_no: "ord-1".into(),
    })
    .open_id(&open_id);
    let id = env
        .client
        .orders()
        .refund_order(refund.clone())
        .await
        .unwrap();
    assert!(id > 0);
    assert_eq!(env.balance(&open_id), 0);
    let dump = env.dump();
    assert_eq!(dump["orders"]["orders"]["ord-1"]["fully_refunded"], true);
    assert_eq!(dump["orders"]["refunds"]["ret-1"]["points_taken_back"], 100);
    // The same return again: the same id, nothing more taken back.
    assert_eq!(env.client.orders().refund_order(refund).await.unwrap(), id);
    assert_eq!(env.ledger_amounts(&open_id), [100, -100]);
}

#[tokio::test]
async fn refund_order_refusals_are_typed_and_move_nothing() {
    let (env, open_id) = Env::with_member().await;
    env.order(&open_id, "ord-1", "200.00", 100).await;
    let orders = env.client.orders();
    let refund = |no: &str, parent: &str| {
        RefundOrderRequest::new(RefundOrderArgs {
            consume_date: now_beijing(),
            order_amount: yuan("200.00"),
            order_no: no.into(),
            parent_order_no: parent.into(),
        })
        .open_id(&open_id)
    };

    // 120002: no such order.
    let unknown = orders.refund_order(refund("ret-1", "ord-404")).await;
    assert_eq!(code_of(unknown), ErrorCode::OrderNotFound);
    // 120001: a malformed phone.
    let bad_phone = orders
        .refund_order(
            RefundOrderRequest::new(RefundOrderArgs {
                consume_date: now_beijing(),
                order_amount: yuan("1.00"),
                order_no: "ret-2".into(),
                parent_order_no: "ord-1".into(),
            })
            .phone("1"),
        )
        .await;
    assert_eq!(code_of(bad_phone), ErrorCode::OrderInvalidPhone);
    // 150009: the order's points are spent.
    env.debit(&open_id, 90, "chg-1").await;
    let spent = orders.refund_order(refund("ret-3", "ord-1")).await;
    assert_eq!(code_of(spent), ErrorCode::InsufficientPointsForRollback);
    assert_eq!(env.ledger_amounts(&open_id), [100, -90]);
    // 150007: an order wholly returned takes no more returns.
    env.credit(&open_id, 90, "chg-2").await;
    orders.refund_order(refund("ret-4", "ord-1")).await.unwrap();
    let twice = orders.refund_order(refund("ret-5", "ord-1")).await;
    assert_eq!(code_of(twice), ErrorCode::RefundPointRatioExceeded);
    assert_eq!(env.balance(&open_id), 0);
}

#[tokio::test]
async fn refund_order_partially_takes_back_points_in_proportion() {
    let (env, open_id) = Env::with_member().await;
    env.order(&open_id, "ord-1", "200.00", 100).await;
    let part = RefundOrderPartiallyRequest::new(RefundOrderPartiallyArgs {
        consume_date: now_beijing(),
        order_amount: yuan("50.00"),
        order_no: "ret-1".into(),
        parent_order_no: "ord-1".into(),
    })
    .open_id(&open_id);
    env.client
        .orders()
        .refund_order_partially(part)
        .await
        .unwrap();
    assert_eq!(
        env.balance(&open_id),
        75,
        "a quarter of the amount, a quarter of the points"
    );
    // The return that completes the amount settles the rest.
    let rest = RefundOrderPartiallyRequest::new(RefundOrderPartiallyArgs {
        consume_date: now_beijing(),
        order_amount: yuan("150.00"),
        order_no: "ret-2".into(),
        parent_order_no: "ord-1".into(),
    })
    .open_id(&open_id);
    env.client
        .orders()
        .refund_order_partially(rest)
        .await
        .unwrap();
    assert_eq!(env.balance(&open_id), 0);
    assert_eq!(env.ledger_amounts(&open_id), [100, -25, -75]);
    assert_eq!(
        env.dump()["orders"]["orders"]["ord-1"]["refunded_fen"],
        20_000
    );
}

#[tokio::test]
async fn refund_order_partially_beyond_the_order_amount_is_refund_ratio_exceeded_150007() {
    let (env, open_id) = Env::with_member().await;
    env.order(&open_id, "ord-1", "200.00", 100).await;
    let orders = env.client.orders();
    let too_much = orders
        .refund_order_partially(
            RefundOrderPartiallyRequest::new(RefundOrderPartiallyArgs {
                consume_date: now_beijing(),
                order_amount: yuan("200.01"),
                order_no: "ret-1".into(),
                parent_order_no: "ord-1".into(),
            })
            .open_id(&open_id),
        )
        .await;
    assert_eq!(code_of(too_much), ErrorCode::RefundPointRatioExceeded);
    let unknown = orders
        .refund_order_partially(
            RefundOrderPartiallyRequest::new(RefundOrderPartiallyArgs {
                consume_date: now_beijing(),
                order_amount: yuan("1.00"),
                order_no: "ret-2".into(),
                parent_order_no: "ord-404".into(),
            })
            .open_id(&open_id),
        )
        .await;
    assert_eq!(code_of(unknown), ErrorCode::OrderNotFound);
    assert_eq!(env.ledger_amounts(&open_id), [100]);
}

// ------------------------------------------------------------------------ 5. coupons

#[tokio::test]
async fn add_coupon_template_creates_once_per_third_coupon_id() {
    let env = Env::start().await;
    let id = env.template("tpl-1").await;
    assert!(id > 0);
    let template = &env.dump()["coupons"]["templates"][id.to_string()];
    assert_eq!(template["request"]["third_coupon_id"], "tpl-1");
    assert_eq!(template["request"]["minimum_fee"], 10_000);
    // The same request again: the same template.
    assert_eq!(env.template("tpl-1").await, id);
    assert_eq!(
        env.dump()["coupons"]["templates"]
            .as_object()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn add_coupon_template_with_an_invalid_discount_is_invalid_parameter_1001() {
    let env = Env::start().await;
    let mut discount = template_request("tpl-1");
    discount.coupon_category = CouponCategory::OrderDiscount;
    discount.discount_fee = 150; // a discount is 1–99
    let result = env.client.coupons().add_coupon_template(discount).await;
    assert_eq!(code_of(result), ErrorCode::InvalidParameter);
    // The same third_coupon_id with other content.
    env.template("tpl-2").await;
    let changed = env
        .client
        .coupons()
        .add_coupon_template(template_request("tpl-2").minimum_fee(1))
        .await;
    assert_eq!(code_of(changed), ErrorCode::InvalidParameter);
    // A rule of the spec (fixed_term when coupon_type is 0) is checked before sending.
    let mut no_term = template_request("tpl-3");
    no_term.fixed_term = None;
    assert_refused_locally(env.client.coupons().add_coupon_template(no_term).await);
    assert_eq!(
        env.dump()["coupons"]["templates"]
            .as_object()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn give_coupons_issues_one_coupon_per_grant_and_number() {
    let (env, open_id) = Env::with_member().await;
    let other = env.member(OTHER_PHONE).await;
    env.template("tpl-1").await;
    let given = env
        .client
        .coupons()
        .give_coupons(GiveCouponsRequest::new(GiveCouponsArgs {
            coupon_set: vec![
                CouponGrant::new(CouponGrantArgs {
                    open_id: open_id.clone(),
                    coupon_number: "C-1".into(),
                    params_type: ParamsType::OpenId,
                }),
                CouponGrant::new(CouponGrantArgs {
                    open_id: OTHER_PHONE.into(),
                    coupon_number: "C-2".into(),
                    params_type: ParamsType::Phone,
                }),
            ],
            number: 2,
            create_time: env.now(),
            third_coupon_id: "tpl-1".into(),
        }))
        .await
        .unwrap();
    assert_eq!(given.len(), 4);
    for g in &given {
        assert!(g.code.as_ref().is_some_and(|c| c.len() == 19), "{g:?}");
    }
    let owners: Vec<_> = given.iter().filter_map(|g| g.open_id.as_deref()).collect();
    assert_eq!(owners, [&open_id, &open_id, &other, &other]);
    let dump = env.dump();
    let codes: Vec<_> = dump["coupons"]["coupons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["third_coupon_code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes, ["C-1", "C-1-2", "C-2", "C-2-2"]);
    let member = env
        .client
        .members()
        .query_member(QueryMemberRequest::new().open_id(&open_id))
        .await
        .unwrap();
    assert_eq!(member.coupon_num, Some(2));
}

#[tokio::test]
async fn give_coupons_refusals_are_typed_and_issue_nothing() {
    let (env, open_id) = Env::with_member().await;
    env.template_with("tpl-1", |t| t.quantity(1)).await;
    let coupons = env.client.coupons();
    let give = |template: &str, member: &str, number: &str| {
        GiveCouponsRequest::new(GiveCouponsArgs {
            coupon_set: vec![CouponGrant::new(CouponGrantArgs {
                open_id: member.into(),
                coupon_number: number.into(),
                params_type: ParamsType::OpenId,
            })],
            number: 1,
            create_time: env.now(),
            third_coupon_id: template.into(),
        })
    };

    // 130004: no such template.
    let unknown = coupons.give_coupons(give("tpl-404", &open_id, "C-1")).await;
    assert_eq!(code_of(unknown), ErrorCode::CouponTemplateNotFound);
    // 110004: no such member.
    let nobody = coupons.give_coupons(give("tpl-1", NOBODY, "C-1")).await;
    assert_eq!(code_of(nobody), ErrorCode::MemberNotFound);
    assert!(
        env.dump()["coupons"]["coupons"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // 130001: out of stock (quantity 1).
    coupons
        .give_coupons(give("tpl-1", &open_id, "C-1"))
        .await
        .unwrap();
    let out_of_stock = coupons.give_coupons(give("tpl-1", &open_id, "C-2")).await;
    assert_eq!(code_of(out_of_stock), ErrorCode::CouponCreateFailed);
    assert_eq!(
        env.dump()["coupons"]["coupons"].as_array().unwrap().len(),
        1
    );
}

#[tokio::test]
async fn sync_coupon_status_changes_the_status_until_it_is_final() {
    let (env, open_id) = Env::with_member().await;
    env.template("tpl-1").await;
    env.give("tpl-1", &open_id, "C-1").await;
    let coupons = env.client.coupons();
    let code = coupons
        .sync_coupon_status(SyncCouponStatusRequest::new(SyncCouponStatusArgs {
            third_coupon_code: "C-1".into(),
            open_id: open_id.clone(),
            status: CouponStatus::InUse,
        }))
        .await
        .unwrap();
    assert_eq!(code, "C-1");
    assert_eq!(env.coupon_status("C-1"), CouponStatus::InUse.code());
    coupons
        .sync_coupon_status(SyncCouponStatusRequest::new(SyncCouponStatusArgs {
            third_coupon_code: "C-1".into(),
            open_id: open_id.clone(),
            status: CouponStatus::Used,
        }))
        .await
        .unwrap();
    assert_eq!(env.coupon_status("C-1"), CouponStatus::Used.code());

    // 130003: a used coupon cannot change.
    let final_state = coupons
        .sync_coupon_status(SyncCouponStatusRequest::new(SyncCouponStatusArgs {
            third_coupon_code: "C-1".into(),
            open_id: open_id.clone(),
            status: CouponStatus::Valid,
        }))
        .await;
    assert_eq!(code_of(final_state), ErrorCode::CouponStatusUpdateFailed);
    assert_eq!(env.coupon_status("C-1"), CouponStatus::Used.code());
}

#[tokio::test]
async fn sync_coupon_status_of_a_coupon_the_member_does_not_hold_is_coupon_not_found_130002() {
    let (env, open_id) = Env::with_member().await;
    let other = env.member(OTHER_PHONE).await;
    env.template("tpl-1").await;
    env.give("tpl-1", &other, "C-1").await;
    let coupons = env.client.coupons();
    let not_mine = coupons
        .sync_coupon_status(SyncCouponStatusRequest::new(SyncCouponStatusArgs {
            third_coupon_code: "C-1".into(),
            open_id: open_id.clone(),
            status: CouponStatus::Invalid,
        }))
        .await;
    assert_eq!(code_of(not_mine), ErrorCode::CouponNotFound);
    let unknown = coupons
        .sync_coupon_status(SyncCouponStatusRequest::new(SyncCouponStatusArgs {
            third_coupon_code: "C-404".into(),
            open_id: other.clone(),
            status: CouponStatus::Invalid,
        }))
        .await;
    assert_eq!(code_of(unknown), ErrorCode::CouponNotFound);
    assert_eq!(env.coupon_status("C-1"), CouponStatus::Valid.code());
}

#[tokio::test]
async fn verify_coupons_uses_every_listed_coupon_on_the_order() {
    let (env, open_id) = Env::with_member().await;
    env.template("tpl-1").await;
    env.give("tpl-1", &open_id, "C-1").await;
    env.give("tpl-1", &open_id, "C-2").await;
    let verify = VerifyCouponsRequest::new(VerifyCouponsArgs {
        open_id: open_id.clone(),
        order_no: "ord-1".into(),
        third_coupon_codes: vec!["C-1".to_owned(), "C-2".to_owned()],
        verification_time: env.now(),
        order_amount: yuan("150.00"),
    })
    .verifier_name("收银员");
    env.client
        .coupons()
        .verify_coupons(verify.clone())
        .await
        .unwrap();
    let dump = env.dump();
    for c in dump["coupons"]["coupons"].as_array().unwrap() {
        assert_eq!(c["status"], CouponStatus::Used.code());
        assert_eq!(c["use_order_no"], "ord-1");
    }
    // A retried verification of the same order succeeds without change.
    env.client.coupons().verify_coupons(verify).await.unwrap();
}

#[tokio::test]
async fn verify_coupons_refusals_are_typed_and_use_nothing() {
    let (env, open_id) = Env::with_member().await;
    env.template("tpl-1").await;
    env.give("tpl-1", &open_id, "C-1").await;
    env.give("tpl-1", &open_id, "C-2").await;
    let coupons = env.client.coupons();
    let verify = |codes: &[&str], order: &str, amount: &str| {
        VerifyCouponsRequest::new(VerifyCouponsArgs {
            open_id: open_id.clone(),
            order_no: order.into(),
            third_coupon_codes: (codes.iter().map(|c| (*c).to_owned()).collect::<Vec<_>>()),
            verification_time: env.now(),
            order_amount: yuan(amount),
        })
    };

    // 130002: one of the codes is unknown; none is used.
    let unknown = coupons
        .verify_coupons(verify(&["C-1", "C-404"], "ord-1", "150.00"))
        .await;
    assert_eq!(code_of(unknown), ErrorCode::CouponNotFound);
    // 130003: below the template's minimum spend.
    let too_small = coupons
        .verify_coupons(verify(&["C-1"], "ord-1", "99.99"))
        .await;
    assert_eq!(code_of(too_small), ErrorCode::CouponStatusUpdateFailed);
    assert_eq!(env.coupon_status("C-1"), CouponStatus::Valid.code());
    // 130003: used already, on another order.
    coupons
        .verify_coupons(verify(&["C-1"], "ord-1", "150.00"))
        .await
        .unwrap();
    let reused = coupons
        .verify_coupons(verify(&["C-2", "C-1"], "ord-2", "150.00"))
        .await;
    assert_eq!(code_of(reused), ErrorCode::CouponStatusUpdateFailed);
    assert_eq!(
        env.coupon_status("C-2"),
        CouponStatus::Valid.code(),
        "all or none"
    );
}

#[tokio::test]
async fn list_user_coupons_pages_filters_and_streams_newest_first() {
    let (env, open_id) = Env::with_member().await;
    env.template("tpl-1").await;
    let mut platform_codes = Vec::new();
    for i in 1..=7 {
        platform_codes.push(env.give("tpl-1", &open_id, &format!("C-{i}")).await);
        env.sandbox.control().advance(Duration::from_millis(10));
    }
    env.client
        .coupons()
        .verify_coupons(VerifyCouponsRequest::new(VerifyCouponsArgs {
            open_id: open_id.clone(),
            order_no: "ord-1".into(),
            third_coupon_codes: vec!["C-3".to_owned()],
            verification_time: env.now(),
            order_amount: yuan("100.00"),
        }))
        .await
        .unwrap();

    let page = env
        .client
        .coupons()
        .list_user_coupons(ListUserCouponsRequest::new(&open_id).page_size(3))
        .await
        .unwrap();
    assert_eq!(page.page.total_count, Some(7));
    let first = page.into_data();
    assert_eq!(
        first[0].third_coupon_code.as_deref(),
        Some("C-7"),
        "newest first"
    );
    assert_eq!(
        first[0].coupon_code.as_deref(),
        Some(platform_codes[6].as_str())
    );
    assert_eq!(first[0].name.as_deref(), Some("满100减10"));
    assert_eq!(first[0].status, Some(CouponStatus::Valid));

    let all: Vec<_> = env
        .client
        .coupons()
        .list_user_coupons_stream(ListUserCouponsRequest::new(&open_id).page_size(3))
        .try_collect()
        .await
        .unwrap();
    let codes: Vec<_> = all
        .iter()
        .filter_map(|c| c.third_coupon_code.as_deref())
        .collect();
    assert_eq!(codes, ["C-7", "C-6", "C-5", "C-4", "C-3", "C-2", "C-1"]);

    let used: Vec<_> = env
        .client
        .coupons()
        .list_user_coupons_stream(
            ListUserCouponsRequest::new(&open_id)
                .page_size(3)
                .status(CouponStatusFilter::Used),
        )
        .try_collect()
        .await
        .unwrap();
    assert_eq!(used.len(), 1);
    assert_eq!(used[0].third_coupon_code.as_deref(), Some("C-3"));
    assert_eq!(used[0].use_order_no.as_deref(), Some("ord-1"));
    assert_eq!(used[0].status, Some(CouponStatus::Used));
}

#[tokio::test]
async fn list_user_coupons_of_an_unknown_member_is_member_not_found_110004() {
    let env = Env::start().await;
    let result = env
        .client
        .coupons()
        .list_user_coupons(ListUserCouponsRequest::new(NOBODY))
        .await;
    assert_eq!(code_of(result), ErrorCode::MemberNotFound);
}

// ---------------------------------------------------------------------------- 6. sms

#[tokio::test]
async fn sms_code_sent_then_verified_once() {
    let env = Env::start().await;
    let sent = env
        .client
        .sms()
        .send_sms_code(SendSmsCodeRequest::new(PHONE))
        .await
        .unwrap();
    assert!(sent);
    let code = env
        .sandbox
        .control()
        .last_sms_code(PHONE)
        .expect("the code was recorded");
    assert_eq!(code.len(), 4);
    env.client
        .sms()
        .verify_sms_code(VerifySmsCodeRequest::new(VerifySmsCodeArgs {
            phone: PHONE.into(),
            verify_code: code.clone(),
        }))
        .await
        .expect("the right code verifies");
    assert!(env.sandbox.control().last_sms(PHONE).unwrap().used);
    // 140005: a code verifies once.
    let again = env
        .client
        .sms()
        .verify_sms_code(VerifySmsCodeRequest::new(VerifySmsCodeArgs {
            phone: PHONE.into(),
            verify_code: code.clone(),
        }))
        .await;
    assert_eq!(code_of(again), ErrorCode::SmsCodeMismatch);
}

#[tokio::test]
async fn send_sms_code_refusals_are_typed() {
    let mut config = SandboxConfig::default();
    config.sms_daily_limit = 2;
    let env = Env::start_with(config).await;
    let sms = env.client.sms();
    // 140002: a malformed phone.
    let bad = sms.send_sms_code(SendSmsCodeRequest::new("1380000")).await;
    assert_eq!(code_of(bad), ErrorCode::SmsInvalidPhone);
    // 140004: beyond the daily limit; the previous code stays.
    sms.send_sms_code(SendSmsCodeRequest::new(PHONE))
        .await
        .unwrap();
    sms.send_sms_code(SendSmsCodeRequest::new(PHONE))
        .await
        .unwrap();
    let before = env.sandbox.control().last_sms(PHONE).unwrap();
    let third = sms.send_sms_code(SendSmsCodeRequest::new(PHONE)).await;
    assert_eq!(code_of(third), ErrorCode::SmsDailyLimitExceeded);
    assert_eq!(env.sandbox.control().last_sms(PHONE).unwrap(), before);
    // 140003 (empty target) is refused by the client before sending.
    assert_refused_locally(sms.send_sms_code(SendSmsCodeRequest::new("")).await);
}

#[tokio::test]
async fn verify_sms_code_refusals_are_typed_and_keep_the_code_usable() {
    let env = Env::start().await;
    let sms = env.client.sms();
    // 140005: nothing was sent.
    let nothing = sms
        .verify_sms_code(VerifySmsCodeRequest::new(VerifySmsCodeArgs {
            phone: PHONE.into(),
            verify_code: "1234".into(),
        }))
        .await;
    assert_eq!(code_of(nothing), ErrorCode::SmsCodeMismatch);
    sms.send_sms_code(SendSmsCodeRequest::new(PHONE))
        .await
        .unwrap();
    let code = env.sandbox.control().last_sms_code(PHONE).unwrap();
    let wrong = if code == "0000" { "1111" } else { "0000" };
    // 140005: a wrong code.
    let mismatch = sms
        .verify_sms_code(VerifySmsCodeRequest::new(VerifySmsCodeArgs {
            phone: PHONE.into(),
            verify_code: wrong.into(),
        }))
        .await;
    assert_eq!(code_of(mismatch), ErrorCode::SmsCodeMismatch);
    // 140002: a malformed phone.
    let bad_phone = sms
        .verify_sms_code(VerifySmsCodeRequest::new(VerifySmsCodeArgs {
            phone: "12".into(),
            verify_code: code.clone(),
        }))
        .await;
    assert_eq!(code_of(bad_phone), ErrorCode::SmsInvalidPhone);
    // The right code still verifies.
    sms.verify_sms_code(VerifySmsCodeRequest::new(VerifySmsCodeArgs {
        phone: PHONE.into(),
        verify_code: code.clone(),
    }))
    .await
    .expect("the right code verifies");
}

// ------------------------------------------------------------------ busy answers (500)

#[tokio::test]
async fn a_busy_answer_is_retried_for_reads_and_reported_for_unkeyed_writes() {
    let (env, open_id) = Env::with_member().await;
    env.sandbox
        .control()
        .inject_fault("wk.user.info.query", Fault::Busy, 1);
    let member = env
        .client
        .members()
        .query_member(QueryMemberRequest::new().open_id(&open_id))
        .await
        .unwrap();
    assert_eq!(member.open_id.as_deref(), Some(open_id.as_str()));

    env.sandbox
        .control()
        .inject_fault("wk.user.order.add", Fault::Busy, 1);
    let order = AddOrderRequest::new(AddOrderArgs {
        consume_date: now_beijing(),
        order_amount: yuan("10.00"),
        order_no: "ord-1".into(),
        order_score: 10,
    })
    .open_id(&open_id);
    let busy = env.client.orders().add_order(order).await;
    assert_eq!(code_of(busy), ErrorCode::SystemBusy);
    assert!(env.sandbox.control().faults().is_empty());
    assert!(env.ledger_amounts(&open_id).is_empty(), "never re-sent");
}

// ---------------------------------------------------------------- recovery (3.3 + 3.4.1)

#[tokio::test]
async fn reliable_change_after_a_dropped_reply_is_applied_exactly_once() {
    let (env, open_id) = Env::with_member().await;
    env.sandbox
        .control()
        .inject_fault("wk.user.event.score.change", Fault::DropAfterCommit, 1);
    let change = ChangePointsRequest::new(ChangePointsArgs {
        open_id: open_id.clone(),
        score: 100,
        out_biz_no: "order-1".into(),
        change_reason: "购物".into(),
        change_event: "event_add".into(),
        change_id: "chg-1".into(),
    });
    let outcome = change_points_reliably(&env.client, change, quick_recovery()).await;
    match outcome {
        PointsChangeOutcome::Applied {
            change_id,
            statement_id,
            by,
            attempts,
        } => {
            // The re-send under the same key was answered 150002: the first attempt applied it.
            assert_eq!(change_id, "chg-1");
            assert_eq!(by, AppliedBy::EarlierAttempt);
            assert_eq!(statement_id, None);
            assert_eq!(attempts, 2);
        }
        other => panic!("expected Applied, got {other:?}"),
    }
    assert_eq!(
        env.ledger_amounts(&open_id),
        [100],
        "credited once, never rolled back"
    );
}

#[tokio::test]
async fn reliable_change_after_a_busy_answer_is_applied_exactly_once() {
    let (env, open_id) = Env::with_member().await;
    env.sandbox
        .control()
        .inject_fault("wk.user.event.score.change", Fault::Busy, 1);
    let change = ChangePointsRequest::new(ChangePointsArgs {
        open_id: open_id.clone(),
        score: 100,
        out_biz_no: "order-1".into(),
        change_reason: "购物".into(),
        change_event: "event_add".into(),
        change_id: "chg-1".into(),
    });
    let outcome = change_points_reliably(&env.client, change, quick_recovery()).await;
    assert!(
        matches!(
            &outcome,
            PointsChangeOutcome::Applied {
                by: AppliedBy::ThisAttempt,
                statement_id: Some(_),
                attempts: 2,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(env.ledger_amounts(&open_id), [100]);
}

/// A key used before by a 10-point rollback, then a new change under
/// it loses its reply. The change is in effect once: 190, not 290.
#[tokio::test]
async fn a_change_under_a_key_a_rollback_used_is_applied_once() {
    let (env, open_id) = Env::with_member().await;
    let statement = env.credit(&open_id, 100, "chg-0").await;
    env.client
        .points()
        .rollback_points(
            RollbackPointsRequest::new(RollbackPointsArgs {
                open_id: open_id.clone(),
                rollback_score: 10,
                change_id: "K".into(),
            })
            .statement_id(&statement),
        )
        .await
        .unwrap();
    env.sandbox
        .control()
        .inject_fault("wk.user.event.score.change", Fault::DropAfterCommit, 1);
    let change = ChangePointsRequest::new(ChangePointsArgs {
        open_id: open_id.clone(),
        score: 100,
        out_biz_no: "order-2".into(),
        change_reason: "购物".into(),
        change_event: "event_add".into(),
        change_id: "K".into(),
    });
    let outcome = change_points_reliably(&env.client, change, quick_recovery()).await;
    assert!(
        matches!(
            &outcome,
            PointsChangeOutcome::Applied {
                by: AppliedBy::EarlierAttempt,
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(env.balance(&open_id), 190);
}

#[tokio::test]
async fn reliable_change_refused_by_the_platform_is_reported_and_not_repeated() {
    let (env, open_id) = Env::with_member().await;
    let overdraft = ChangePointsRequest::new(ChangePointsArgs {
        open_id: open_id.clone(),
        score: 1,
        out_biz_no: "order-1".into(),
        change_reason: "购物".into(),
        change_event: "event_subtract".into(),
        change_id: "chg-1".into(),
    });
    match change_points_reliably(&env.client, overdraft, quick_recovery()).await {
        PointsChangeOutcome::Refused(e) => {
            assert_eq!(e.code(), Some(ErrorCode::InsufficientPoints))
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    let nobody = ChangePointsRequest::new(ChangePointsArgs {
        open_id: NOBODY.into(),
        score: 1,
        out_biz_no: "order-1".into(),
        change_reason: "购物".into(),
        change_event: "event_add".into(),
        change_id: "chg-2".into(),
    });
    match change_points_reliably(&env.client, nobody, quick_recovery()).await {
        PointsChangeOutcome::Refused(e) => assert_eq!(e.code(), Some(ErrorCode::MemberNotFound)),
        other => panic!("expected Refused, got {other:?}"),
    }
    // A key another change holds, on the first attempt: the key is in use (by that
    // change, or an earlier run of this one: no answer tells which), nothing moves.
    env.credit(&open_id, 5, "chg-3").await;
    let taken = ChangePointsRequest::new(ChangePointsArgs {
        open_id: open_id.clone(),
        score: 50,
        out_biz_no: "order-9".into(),
        change_reason: "购物".into(),
        change_event: "event_add".into(),
        change_id: "chg-3".into(),
    });
    match change_points_reliably(&env.client, taken, quick_recovery()).await {
        PointsChangeOutcome::KeyInUse { change_id, error } => {
            assert_eq!(change_id, "chg-3");
            assert_eq!(error.code(), Some(ErrorCode::ChangeIdExists));
        }
        other => panic!("expected KeyInUse, got {other:?}"),
    }
    assert_eq!(env.ledger_amounts(&open_id), [5]);
}

/// A refusal after an attempt that may have landed (here a busy answer) is final only
/// when confirmed after the attempt lifetime (assumption A3).
#[tokio::test]
async fn a_refusal_after_a_busy_answer_is_confirmed_after_the_attempt_lifetime() {
    let (env, open_id) = Env::with_member().await;
    env.sandbox
        .control()
        .inject_fault("wk.user.event.score.change", Fault::Busy, 1);
    let debit = ChangePointsRequest::new(ChangePointsArgs {
        open_id: open_id.clone(),
        score: 50,
        out_biz_no: "order-1".into(),
        change_reason: "购物".into(),
        change_event: "event_subtract".into(),
        change_id: "d-1".into(),
    });
    let started = std::time::Instant::now();
    let outcome = change_points_reliably(&env.client, debit, quick_recovery()).await;
    match outcome {
        PointsChangeOutcome::Refused(e) => {
            assert_eq!(e.code(), Some(ErrorCode::InsufficientPoints))
        }
        other => panic!("expected Refused, got {other:?}"),
    }
    // Busy, refused, then the lifetime waited out before the confirming attempt.
    assert!(started.elapsed() >= quick_recovery().attempt_lifetime);
    assert_eq!(env.balance(&open_id), 0);
}

#[tokio::test]
async fn reliable_change_is_unresolved_while_the_platform_stays_busy_and_resolved_later() {
    let (env, open_id) = Env::with_member().await;
    let control = env.sandbox.control();
    control.inject_fault("wk.user.event.score.change", Fault::DropAfterCommit, 1);
    control.inject_fault("wk.user.event.score.change", Fault::Busy, 4);
    let change = ChangePointsRequest::new(ChangePointsArgs {
        open_id: open_id.clone(),
        score: 100,
        out_biz_no: "order-1".into(),
        change_reason: "购物".into(),
        change_event: "event_add".into(),
        change_id: "chg-1".into(),
    });
    let outcome = change_points_reliably(&env.client, change.clone(), quick_recovery()).await;
    match outcome {
        PointsChangeOutcome::Unresolved {
            change_id,
            last_error,
        } => {
            assert_eq!(change_id, "chg-1");
            assert_eq!(last_error.code(), Some(ErrorCode::SystemBusy));
        }
        other => panic!("expected Unresolved, got {other:?}"),
    }
    assert_eq!(env.balance(&open_id), 100, "the lost change stands");

    // Later, with the platform back: the same request, re-sent, settles it as applied.
    let later = resolve_points_change(&env.client, change, quick_recovery()).await;
    assert!(
        matches!(
            &later,
            PointsChangeOutcome::Applied {
                by: AppliedBy::EarlierAttempt,
                attempts: 1,
                ..
            }
        ),
        "{later:?}"
    );
    assert_eq!(env.ledger_amounts(&open_id), [100]);
}

#[tokio::test]
async fn resolving_a_change_that_never_landed_applies_it_once() {
    let (env, open_id) = Env::with_member().await;
    let change = ChangePointsRequest::new(ChangePointsArgs {
        open_id: open_id.clone(),
        score: 100,
        out_biz_no: "order-1".into(),
        change_reason: "购物".into(),
        change_event: "event_add".into(),
        change_id: "chg-1".into(),
    });
    let outcome = resolve_points_change(&env.client, change, quick_recovery()).await;
    assert!(
        matches!(
            &outcome,
            PointsChangeOutcome::Applied {
                by: AppliedBy::ThisAttempt,
                statement_id: Some(_),
                ..
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(env.ledger_amounts(&open_id), [100]);
}

// ------------------------------------------------------------------------ token flow

#[tokio::test]
async fn tokens_are_obtained_once_for_many_concurrent_calls() {
    let (env, open_id) = Env::with_member().await;
    let calls = (0..16).map(|_| async {
        env.client
            .members()
            .query_member(QueryMemberRequest::new().open_id(&open_id))
            .await
    });
    for result in futures_util::future::join_all(calls).await {
        result.unwrap();
    }
    let counts = env.tokens();
    assert_eq!((counts.obtain_calls, counts.refresh_calls), (1, 0));
    assert_eq!(env.client.runtime().tokens().calls_made(), (1, 0));
}

#[tokio::test]
async fn after_three_hours_the_access_token_is_refreshed_once() {
    let (env, open_id) = Env::with_member().await;
    // The sandbox counts token calls per Beijing day, and three hours on may be the next
    // day (the test runs at any hour): the obtain is counted before the jump.
    assert_eq!(env.tokens().obtain_calls, 1);
    env.sandbox
        .control()
        .advance(Duration::from_secs(3 * 3_600));
    let calls = (0..8).map(|_| async {
        env.client
            .members()
            .query_member(QueryMemberRequest::new().open_id(&open_id))
            .await
    });
    for result in futures_util::future::join_all(calls).await {
        result.unwrap();
    }
    env.client
        .points()
        .list_point_records(ListPointRecordsRequest::new(ListPointRecordsArgs {
            open_id: open_id.clone(),
            score_type: ScoreType::All,
            page_size: 10,
            page_no: 1,
        }))
        .await
        .unwrap();
    let counts = env.tokens();
    assert_eq!(
        (counts.refresh_calls, counts.refresh_issued),
        (1, 1),
        "{counts:?}"
    );
    // No second obtain, on either day: the client made one of each.
    assert_eq!(env.client.runtime().tokens().calls_made(), (1, 1));
}

#[tokio::test]
async fn a_revoked_access_token_is_refreshed_once_and_the_call_retried() {
    let (env, open_id) = Env::with_member().await;
    env.sandbox.control().revoke_access_tokens();
    let member = env
        .client
        .members()
        .query_member(QueryMemberRequest::new().open_id(&open_id))
        .await
        .unwrap();
    assert_eq!(member.open_id.as_deref(), Some(open_id.as_str()));
    let counts = env.tokens();
    assert_eq!((counts.obtain_calls, counts.refresh_calls), (1, 1));

    // Concurrent callers rejected together still cost one refresh.
    env.sandbox.control().revoke_access_tokens();
    let calls = (0..8).map(|_| async {
        env.client
            .members()
            .query_member(QueryMemberRequest::new().open_id(&open_id))
            .await
    });
    for result in futures_util::future::join_all(calls).await {
        result.unwrap();
    }
    let counts = env.tokens();
    assert_eq!(
        (counts.obtain_calls, counts.refresh_calls),
        (1, 2),
        "{counts:?}"
    );
}

#[tokio::test]
async fn an_unkeyed_write_rejected_for_its_token_is_retried_and_applied_once() {
    let (env, open_id) = Env::with_member().await;
    env.sandbox.control().revoke_access_tokens();
    env.order(&open_id, "ord-1", "100.00", 10).await;
    assert_eq!(env.ledger_amounts(&open_id), [10]);
    assert_eq!(env.tokens().refresh_issued, 1);
}

#[tokio::test]
async fn with_every_token_revoked_the_day_is_lost_without_a_second_obtain_then_the_next_day_works()
{
    let (env, open_id) = Env::with_member().await;
    // The client's clock moves with the sandbox's (a Date header a day ahead is beyond
    // the skew bound and never moves the budget day by itself).
    let clock = Arc::new(gree_ump::runtime::clock::ManualClock::new(
        env.sandbox.control().now_ms(),
    ));
    let client = Client::builder()
        .base_url(env.sandbox.base_url())
        .app_id(env.sandbox.app_id())
        .app_secret(env.sandbox.app_secret())
        .token_store(env.client.runtime().tokens().store().clone())
        .clock(clock.clone())
        .build()
        .unwrap();
    env.sandbox.control().revoke_all_tokens();
    let query = || async {
        client
            .members()
            .query_member(QueryMemberRequest::new().open_id(&open_id))
            .await
    };
    // The refused refresh token, and why no new pair could be had: the day's 2.1 is spent.
    let err = query().await.unwrap_err();
    assert!(
        matches!(
            &err,
            RuntimeError::Token(TokenError::RefreshTokenRefused { then, .. })
                if matches!(**then, TokenError::BudgetExhausted {
                    kind: BudgetKind::Obtain,
                    ..
                })
        ),
        "{err:?}"
    );
    let counts = env.tokens();
    assert_eq!(
        (counts.obtain_calls, counts.refresh_calls),
        (1, 1),
        "the refused refresh, and no second 2.1 call: {counts:?}"
    );

    // After Beijing midnight the budget is back, and the client obtains a new pair.
    env.sandbox
        .control()
        .advance(Duration::from_secs(24 * 3_600));
    clock.advance_ms(24 * 3_600_000);
    let member = query().await.unwrap();
    assert_eq!(member.open_id.as_deref(), Some(open_id.as_str()));
    assert_eq!(env.tokens().obtain_issued, 1, "one 2.1 call on the new day");
}

/// A client whose token policy does not allow the token-issuing call never makes it: not
/// with an empty store, and not as the fallback after the platform refuses the stored
/// refresh token (its access token revoked too).
#[tokio::test]
async fn a_client_not_allowed_to_obtain_never_calls_2_1() {
    let sandbox = Sandbox::start(SandboxConfig::default())
        .await
        .expect("the sandbox starts");
    let store = Arc::new(MemoryTokenStore::new());
    let client = |allow_obtain: bool| {
        Client::builder()
            .base_url(sandbox.base_url())
            .app_id(sandbox.app_id())
            .app_secret(sandbox.app_secret())
            .token_store(store.clone())
            .token_policy(gree_ump::TokenPolicy {
                allow_obtain,
                ..gree_ump::TokenPolicy::default()
            })
            .build()
            .expect("the client builds")
    };
    let not_allowed = |r: Result<Vec<_>, Error>| match r {
        Err(RuntimeError::Token(e)) if e.obtain_not_allowed() => {}
        other => panic!("expected ObtainNotAllowed, got {other:?}"),
    };
    let levels = ListLevelsRequest::new;
    not_allowed(
        client(false)
            .members()
            .list_levels(levels())
            .await
            .map(|p| p.into_data()),
    );
    assert_eq!(sandbox.control().token_calls().obtain_calls, 0);
    client(true)
        .members()
        .list_levels(levels())
        .await
        .expect("obtained, then listed");
    assert_eq!(sandbox.control().token_calls().obtain_calls, 1);
    sandbox.control().revoke_all_tokens();
    not_allowed(
        client(false)
            .members()
            .list_levels(levels())
            .await
            .map(|p| p.into_data()),
    );
    let calls = sandbox.control().token_calls();
    assert_eq!(calls.obtain_calls, 1, "no second 2.1");
    assert_eq!(calls.refresh_calls, 1, "the refused refresh");
}
