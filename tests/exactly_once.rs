//! Keyed writes whose reply is lost after the platform committed them, through the
//! plain client methods (with their default retries): the retry is answered 150002 (the
//! document's reused key, errata E69), and the caller is told the truth — the write was
//! applied by an earlier attempt, once — never a refusal.

use gree_ump::endpoints::*;
use gree_ump::models::{PartialRollbackItem, PartialRollbackItemArgs};
use gree_ump::wire::Yuan;
use gree_ump::{Client, Error, ErrorCode};
use gree_ump_sandbox::{Fault, Sandbox, SandboxConfig, SandboxHandle};

const PHONE: &str = "13800000000";

struct Env {
    sandbox: SandboxHandle,
    client: Client,
    open_id: String,
}

impl Env {
    async fn start() -> Self {
        Self::start_with(None).await
    }

    /// With the client's request timeout set (`None`: the default).
    async fn start_with(timeout: Option<std::time::Duration>) -> Self {
        let sandbox = Sandbox::start(SandboxConfig::default())
            .await
            .expect("the sandbox starts");
        let mut builder = Client::builder()
            .base_url(sandbox.base_url())
            .app_id(sandbox.app_id())
            .app_secret(sandbox.app_secret())
            // A sandbox of this test only: its tokens die with it.
            .token_store(std::sync::Arc::new(
                gree_ump::runtime::tokens::MemoryTokenStore::new(),
            ));
        if timeout.is_some() {
            builder = builder.timeout(timeout);
        }
        let client = builder.build().expect("the client builds");
        let open_id = client
            .members()
            .create_member(CreateMemberRequest::new(CreateMemberArgs {
                project_id: "18756".into(),
                nickname: "张三".into(),
                phone: PHONE.into(),
            }))
            .await
            .expect("the member is registered");
        Env {
            sandbox,
            client,
            open_id,
        }
    }

    fn balance(&self) -> i64 {
        self.sandbox.control().ledger(&self.open_id).unwrap().score
    }

    fn entries(&self) -> usize {
        self.sandbox
            .control()
            .ledger(&self.open_id)
            .unwrap()
            .entries
            .len()
    }

    /// The next call of `method` commits and loses its reply.
    fn drop_next(&self, method: &str) {
        self.sandbox
            .control()
            .inject_fault(method, Fault::DropAfterCommit, 1);
    }
}

fn yuan(text: &str) -> Yuan {
    Yuan::parse(text).expect("an amount")
}

/// The error says "applied by an earlier attempt": not a refusal, not unknown.
#[track_caller]
fn assert_applied_earlier(e: &Error, key: &str) {
    assert!(e.applied_earlier(), "expected applied-earlier, got {e:?}");
    assert!(!e.is_refusal(), "{e}");
    assert!(!e.outcome_unknown(), "{e}");
    assert_eq!(e.code(), None, "not an API refusal: {e}");
    match e {
        Error::AppliedEarlier(a) => {
            assert_eq!(a.key.as_deref(), Some(key));
            assert!(a.attempts >= 2, "{a:?}");
            assert_eq!(a.answer.code, ErrorCode::ChangeIdExists);
        }
        other => panic!("expected Error::AppliedEarlier, got {other:?}"),
    }
    assert!(e.to_string().contains("earlier attempt"), "{e}");
}

#[tokio::test]
async fn a_change_whose_reply_was_lost_is_reported_applied_by_an_earlier_attempt() {
    let env = Env::start().await;
    env.drop_next("wk.user.event.score.change");
    let change = ChangePointsRequest::new(ChangePointsArgs {
        open_id: env.open_id.clone(),
        score: 100,
        out_biz_no: "o-1".into(),
        change_reason: "购物".into(),
        change_event: "event_add".into(),
        change_id: "chg-1".into(),
    });
    let e = env.client.points().change_points(change).await.unwrap_err();
    assert_applied_earlier(&e, "chg-1");
    assert_eq!(env.balance(), 100, "credited once");
    assert_eq!(env.entries(), 1);
}

#[tokio::test]
async fn a_reused_key_on_the_first_attempt_stays_a_refusal() {
    let env = Env::start().await;
    let change = ChangePointsRequest::new(ChangePointsArgs {
        open_id: env.open_id.clone(),
        score: 100,
        out_biz_no: "o-1".into(),
        change_reason: "购物".into(),
        change_event: "event_add".into(),
        change_id: "chg-1".into(),
    });
    env.client
        .points()
        .change_points(change.clone())
        .await
        .unwrap();
    // Nothing of this call was lost before the answer: the key was used by another call.
    let e = env.client.points().change_points(change).await.unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::ChangeIdExists), "{e:?}");
    assert!(!e.applied_earlier());
    assert_eq!(env.balance(), 100);
}

#[tokio::test]
async fn a_rollback_whose_reply_was_lost_is_reported_applied_by_an_earlier_attempt() {
    let env = Env::start().await;
    let change = ChangePointsRequest::new(ChangePointsArgs {
        open_id: env.open_id.clone(),
        score: 100,
        out_biz_no: "o-1".into(),
        change_reason: "购物".into(),
        change_event: "event_add".into(),
        change_id: "chg-1".into(),
    });
    let statement = env
        .client
        .points()
        .change_points(change)
        .await
        .unwrap()
        .statement_id
        .unwrap();
    // 3.4.1 normal path: a statement id and a fresh key.
    env.drop_next("wk.user.event.score.rollback");
    let rollback = RollbackPointsRequest::new(RollbackPointsArgs {
        open_id: env.open_id.clone(),
        rollback_score: 40,
        change_id: "rb-1".into(),
    })
    .statement_id(&statement);
    let e = env
        .client
        .points()
        .rollback_points(rollback)
        .await
        .unwrap_err();
    assert_applied_earlier(&e, "rb-1");
    assert_eq!(env.balance(), 60, "rolled back once");
    // 3.4.1 recovery path: by the change's own key.
    env.drop_next("wk.user.event.score.rollback");
    let recovery = RollbackPointsRequest::new(RollbackPointsArgs {
        open_id: env.open_id.clone(),
        rollback_score: 60,
        change_id: "chg-1".into(),
    });
    let e = env
        .client
        .points()
        .rollback_points(recovery)
        .await
        .unwrap_err();
    assert_applied_earlier(&e, "chg-1");
    assert_eq!(env.balance(), 0);
    assert_eq!(env.entries(), 3);
}

#[tokio::test]
async fn a_partial_rollback_whose_reply_was_lost_is_reported_applied_by_an_earlier_attempt() {
    let env = Env::start().await;
    let change = ChangePointsRequest::new(ChangePointsArgs {
        open_id: env.open_id.clone(),
        score: 100,
        out_biz_no: "order-9".into(),
        change_reason: "购物".into(),
        change_event: "event_add".into(),
        change_id: "chg-1".into(),
    })
    .order_amount(yuan("200.00"));
    env.client.points().change_points(change).await.unwrap();
    env.drop_next("wk.user.event.score.rollback.part");
    let items = vec![
        PartialRollbackItem::new(PartialRollbackItemArgs {
            order_no: "order-9".into(),
            item_no: "sku-1".into(),
            total_price: yuan("60.00"),
        })
        .base_score(30),
    ];
    let request = RollbackPointsPartiallyRequest::new(RollbackPointsPartiallyArgs {
        open_id: env.open_id.clone(),
        change_id: "prb-1".into(),
        parent_order_no: "order-9".into(),
        items,
    });
    let e = env
        .client
        .points()
        .rollback_points_partially(request)
        .await
        .unwrap_err();
    assert_applied_earlier(&e, "prb-1");
    assert_eq!(env.balance(), 70, "taken back once");
}

/// The original is held past the client's timeout and commits after
/// recovery began. Re-sent under the same key, exactly one of the two attempts applies.
#[tokio::test]
async fn an_original_landing_after_the_timeout_is_not_doubled_by_recovery() {
    use gree_ump::recovery::{AppliedBy, PointsChangeOutcome, Recovery, change_points_reliably};
    use std::time::Duration;

    let env = Env::start_with(Some(Duration::from_millis(500))).await;
    let client = &env.client;
    env.sandbox.control().inject_fault(
        "wk.user.event.score.change",
        Fault::CommitAfterTimeout { delay_ms: 2_000 },
        1,
    );
    let change = ChangePointsRequest::new(ChangePointsArgs {
        open_id: env.open_id.clone(),
        score: 100,
        out_biz_no: "o-1".into(),
        change_reason: "购物".into(),
        change_event: "event_add".into(),
        change_id: "chg-1".into(),
    });
    let recovery = Recovery {
        poll_interval: Duration::from_millis(10),
        ..Recovery::default()
    };
    let outcome = change_points_reliably(client, change, recovery).await;
    assert!(
        matches!(&outcome, PointsChangeOutcome::Applied { change_id, by, .. }
            if change_id == "chg-1" && matches!(by, AppliedBy::ThisAttempt | AppliedBy::EarlierAttempt)),
        "{outcome:?}"
    );
    // Let the held original land.
    tokio::time::sleep(Duration::from_millis(3_000)).await;
    assert_eq!(env.balance(), 100, "credited once");
    assert_eq!(env.entries(), 1);
}

// ------------------------------------------- orders, returns, coupon verification (E70)

mod natural_keys {
    use super::*;
    use gree_ump::models::{
        CouponCategory, CouponGrant, CouponGrantArgs, CouponStatus, CouponValidityType, ParamsType,
    };
    use gree_ump::recovery::{Recovery, WriteOutcome, settle_write};
    use gree_ump::wire::{BeijingDateTime, TimestampMs};
    use std::time::Duration;

    fn quick() -> Recovery {
        Recovery {
            poll_interval: Duration::from_millis(10),
            max_attempts: 5,
            attempt_lifetime: Duration::from_millis(200),
        }
    }

    /// Fixed once, outside the call: the re-send must be identical.
    fn consume_date() -> BeijingDateTime {
        BeijingDateTime::now()
    }

    #[track_caller]
    fn applied<T: std::fmt::Debug>(outcome: WriteOutcome<T>) -> Option<T> {
        match outcome {
            WriteOutcome::Applied { data, attempts } => {
                assert_eq!(attempts, 2, "the lost attempt, then the identical re-send");
                data
            }
            other => panic!("expected Applied, got {other:?}"),
        }
    }

    async fn ordered(env: &Env, order_no: &str) -> i64 {
        let order = AddOrderRequest::new(AddOrderArgs {
            consume_date: consume_date(),
            order_amount: yuan("200.00"),
            order_no: order_no.into(),
            order_score: 100,
        })
        .open_id(&env.open_id);
        env.client.orders().add_order(order).await.unwrap()
    }

    #[tokio::test]
    async fn an_order_whose_reply_was_lost_is_settled_once() {
        let env = Env::start().await;
        let order = AddOrderRequest::new(AddOrderArgs {
            consume_date: consume_date(),
            order_amount: yuan("200.00"),
            order_no: "ord-1".into(),
            order_score: 100,
        })
        .open_id(&env.open_id);
        env.drop_next("wk.user.order.add");
        let id = applied(settle_write(&env.client, &order, quick()).await);
        assert!(id.is_some_and(|id| id > 0), "{id:?}");
        assert_eq!(env.balance(), 100, "credited once");
        assert_eq!(env.entries(), 1);
        // A re-send that is not identical (another consume_date) is another order under
        // a used number: refused, nothing moves.
        let mut later = order;
        later.consume_date = BeijingDateTime::from_timestamp_ms(0).unwrap();
        match settle_write(&env.client, &later, quick()).await {
            WriteOutcome::Refused(e) => assert_eq!(e.code(), Some(ErrorCode::InvalidParameter)),
            other => panic!("expected Refused, got {other:?}"),
        }
        assert_eq!(env.balance(), 100);
    }

    #[tokio::test]
    async fn a_whole_return_whose_reply_was_lost_is_settled_once() {
        let env = Env::start().await;
        ordered(&env, "ord-1").await;
        let refund = RefundOrderRequest::new(RefundOrderArgs {
            consume_date: consume_date(),
            order_amount: yuan("200.00"),
            order_no: "ret-1".into(),
            parent_order_no: "ord-1".into(),
        })
        .open_id(&env.open_id);
        env.drop_next("wk.user.refund.order.complete");
        assert!(applied(settle_write(&env.client, &refund, quick()).await).is_some());
        assert_eq!(env.balance(), 0, "taken back once");
        assert_eq!(env.entries(), 2);
    }

    #[tokio::test]
    async fn a_partial_return_whose_reply_was_lost_is_settled_once() {
        let env = Env::start().await;
        ordered(&env, "ord-1").await;
        let part = RefundOrderPartiallyRequest::new(RefundOrderPartiallyArgs {
            consume_date: consume_date(),
            order_amount: yuan("50.00"),
            order_no: "ret-1".into(),
            parent_order_no: "ord-1".into(),
        })
        .open_id(&env.open_id);
        env.drop_next("wk.user.refund.order.part");
        assert!(applied(settle_write(&env.client, &part, quick()).await).is_some());
        assert_eq!(env.balance(), 75, "a quarter taken back, once");
        assert_eq!(env.entries(), 2);
    }

    #[tokio::test]
    async fn a_verification_whose_reply_was_lost_is_settled_once() {
        let env = Env::start().await;
        let coupons = env.client.coupons();
        coupons
            .add_coupon_template(
                AddCouponTemplateRequest::new(AddCouponTemplateArgs {
                    third_coupon_id: "tpl-1".into(),
                    coupon_category: CouponCategory::OrderAmountOff,
                    name: "满100减10".into(),
                    discount_fee: 1_000,
                    coupon_type: CouponValidityType::DaysAfterReceipt,
                    rules: "满100元可用".into(),
                })
                .fixed_term(30),
            )
            .await
            .unwrap();
        let now = TimestampMs(env.sandbox.control().now_ms());
        coupons
            .give_coupons(GiveCouponsRequest::new(GiveCouponsArgs {
                coupon_set: vec![CouponGrant::new(CouponGrantArgs {
                    open_id: env.open_id.clone(),
                    coupon_number: "C-1".into(),
                    params_type: ParamsType::OpenId,
                })],
                number: 1,
                create_time: now,
                third_coupon_id: "tpl-1".into(),
            }))
            .await
            .unwrap();
        let verify = VerifyCouponsRequest::new(VerifyCouponsArgs {
            open_id: env.open_id.clone(),
            order_no: "ord-1".into(),
            third_coupon_codes: vec!["C-1".to_owned()],
            verification_time: now,
            order_amount: yuan("150.00"),
        });
        env.drop_next("wk.coupon.verification");
        applied(settle_write(&env.client, &verify, quick()).await);
        let dump = env.sandbox.control().dump();
        let coupon = &dump["coupons"]["coupons"][0];
        assert_eq!(coupon["status"], CouponStatus::Used.code());
        assert_eq!(coupon["use_order_no"], "ord-1");
        // The same coupon on another order is not applied: 130003, which the spec marks
        // busy (retryable), so the outcome stays honest-unknown rather than "applied".
        let mut other = verify;
        other.order_no = "ord-2".to_owned();
        match settle_write(&env.client, &other, quick()).await {
            WriteOutcome::Unresolved { last_error } | WriteOutcome::Refused(last_error) => {
                assert_eq!(last_error.code(), Some(ErrorCode::CouponStatusUpdateFailed))
            }
            other => panic!("expected no application, got {other:?}"),
        }
        let dump = env.sandbox.control().dump();
        assert_eq!(dump["coupons"]["coupons"][0]["use_order_no"], "ord-1");
    }
}
