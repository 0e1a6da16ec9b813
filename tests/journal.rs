//! The write journal against the sandbox: every write settled once whatever the network
//! does, in submission order per member or order, through a restart, and within the
//! caller's deadline at the till.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gree_ump::endpoints::*;
use gree_ump::journal::{Journal, Outcome};
use gree_ump::models::{
    CouponCategory, CouponGrant, CouponGrantArgs, CouponValidityType, ParamsType,
};
use gree_ump::runtime::journal::{DrainPolicy, EntryState, JournalStore, MemoryJournal};
use gree_ump::runtime::tokens::{MemoryTokenStore, TokenStore};
use gree_ump::wire::{BeijingDateTime, TimestampMs, Yuan};
use gree_ump::{Client, ErrorCode};
use gree_ump_sandbox::{Fault, Sandbox, SandboxConfig, SandboxHandle};

/// Timings short enough for a test: an attempt is taken to be unable to land 300 ms
/// after it began (the sandbox answers or drops at once).
fn quick() -> DrainPolicy {
    let mut policy = DrainPolicy::default();
    policy.settle.attempt_lifetime = Duration::from_millis(300);
    policy.settle.backoff_base = Duration::from_millis(20);
    policy.settle.backoff_cap = Duration::from_millis(200);
    policy.lease = Duration::from_secs(10);
    policy.call_timeout = Duration::from_secs(5);
    policy.idle_poll = Duration::from_millis(50);
    policy
}

struct Env {
    sandbox: SandboxHandle,
    tokens: Arc<dyn TokenStore>,
    store: Arc<dyn JournalStore>,
}

impl Env {
    async fn start() -> Env {
        Env {
            sandbox: Sandbox::start(SandboxConfig::default()).await.unwrap(),
            tokens: Arc::new(MemoryTokenStore::new()),
            store: Arc::new(MemoryJournal::new()),
        }
    }

    /// A client and its journal: what one process of a till has (a new one stands for a
    /// restarted process: new client, same token store, same journal store).
    fn process(&self) -> (Client, Journal) {
        let client = Client::builder()
            .base_url(self.sandbox.base_url())
            .app_id(self.sandbox.app_id())
            .app_secret(self.sandbox.app_secret())
            .token_store(self.tokens.clone())
            .build()
            .unwrap();
        let journal = Journal::builder(client.clone(), self.store.clone())
            .policy(quick())
            .build();
        (client, journal)
    }

    async fn member(&self, client: &Client, phone: &str) -> String {
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

    fn score(&self, open_id: &str) -> i64 {
        self.sandbox.control().ledger(open_id).unwrap().score
    }

    fn ledger(&self, open_id: &str) -> Vec<i64> {
        self.sandbox
            .control()
            .ledger(open_id)
            .unwrap()
            .entries
            .iter()
            .map(|e| e.amount)
            .collect()
    }
}

/// A credit (`score` ≥ 0) or a debit (`score` < 0) of `score.abs()` points.
fn change(open_id: &str, score: i64, id: &str) -> ChangePointsRequest {
    ChangePointsRequest::new(ChangePointsArgs {
        open_id: open_id.into(),
        score: score.abs(),
        out_biz_no: format!("biz-{id}"),
        change_reason: "购物".into(),
        change_event: if score >= 0 {
            "event_add"
        } else {
            "event_subtract"
        }
        .into(),
        change_id: id.into(),
    })
}

fn yuan(text: &str) -> Yuan {
    Yuan::parse(text).unwrap()
}

/// Waits (bounded) for an outcome that is not pending.
async fn settled<E: gree_ump::journal::JournalWrite>(
    receipt: &gree_ump::journal::Receipt<E>,
) -> Outcome<E::Data> {
    receipt
        .outcome()
        .timeout(Duration::from_secs(30))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_are_applied_once_through_lost_replies_and_busy_answers() {
    let env = Env::start().await;
    let (client, journal) = env.process();
    let open_id = env.member(&client, "13800000001").await;
    let _drainer = journal.start();
    let control = env.sandbox.control();
    // The first credit's reply is lost after the commit, the second is answered busy
    // twice, the order's reply is lost, the refund waits for its order.
    control.inject_fault("wk.user.event.score.change", Fault::DropAfterCommit, 1);
    let credit = journal.submit(&change(&open_id, 100, "c-1")).await.unwrap();
    let first = settled(&credit).await;
    assert!(matches!(first, Outcome::Applied { .. }), "{first:?}");
    control.inject_fault("wk.user.event.score.change", Fault::Busy, 2);
    let second = journal.submit(&change(&open_id, 50, "c-2")).await.unwrap();
    assert!(matches!(
        settled(&second).await,
        Outcome::Applied { data: Some(_) }
    ));
    control.inject_fault("wk.user.order.add", Fault::DropAfterCommit, 1);
    let order = journal
        .submit(
            &AddOrderRequest::new(AddOrderArgs {
                consume_date: BeijingDateTime::now(),
                order_amount: yuan("200.00"),
                order_no: "o-1".into(),
                order_score: 20,
            })
            .open_id(&open_id),
        )
        .await
        .unwrap();
    let refund = journal
        .submit(
            &RefundOrderRequest::new(RefundOrderArgs {
                consume_date: BeijingDateTime::now(),
                order_amount: yuan("200.00"),
                order_no: "r-1".into(),
                parent_order_no: "o-1".into(),
            })
            .open_id(&open_id),
        )
        .await
        .unwrap();
    let order_id = settled(&order).await;
    assert!(
        matches!(order_id, Outcome::Applied { data: Some(id) } if id > 0),
        "{order_id:?}"
    );
    assert!(matches!(settled(&refund).await, Outcome::Applied { .. }));
    assert_eq!(
        env.ledger(&open_id),
        [100, 50, 20, -20],
        "each write once, in order"
    );
    let counts = journal.store().counts().await.unwrap();
    assert_eq!(
        (counts.applied, counts.pending, counts.attention),
        (4, 0, 0)
    );
}

/// A debit submitted after its credit waits for it, even while the credit is retried:
/// sent at once it would be refused (150008, not enough points).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_members_writes_keep_their_order_while_others_proceed() {
    let env = Env::start().await;
    let (client, journal) = env.process();
    let member = env.member(&client, "13800000002").await;
    let other = env.member(&client, "13800000003").await;
    env.sandbox
        .control()
        .inject_fault("wk.user.event.score.change", Fault::Busy, 3);
    let credit = journal.submit(&change(&member, 100, "k-1")).await.unwrap();
    let debit = journal.submit(&change(&member, -80, "k-2")).await.unwrap();
    let elsewhere = journal.submit(&change(&other, 5, "k-3")).await.unwrap();
    // One pass: the credit and the other member's change are claimed; the debit waits.
    let pass = journal.drain_once().await.unwrap();
    assert_eq!(pass.claimed, 2, "{pass:?}");
    let _drainer = journal.start();
    assert!(matches!(settled(&credit).await, Outcome::Applied { .. }));
    let debited = settled(&debit).await;
    assert!(matches!(debited, Outcome::Applied { .. }), "{debited:?}");
    assert!(matches!(settled(&elsewhere).await, Outcome::Applied { .. }));
    assert_eq!(env.ledger(&member), [100, -80]);
    assert_eq!(env.score(&member), 20);
}

/// The platform refuses the access token on an attempt and on the client's retry after
/// its refresh (1002 twice): the credentials were refused, not the write, so the entry
/// stays pending and is applied once a token works, never refused for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_never_refuses_the_write() {
    let env = Env::start().await;
    let (client, journal) = env.process();
    let member = env.member(&client, "13800000009").await;
    env.sandbox.control().inject_fault(
        "wk.user.event.score.change",
        Fault::Reject { code: 1002 },
        2,
    );
    let receipt = journal.submit(&change(&member, 12, "t-1")).await.unwrap();
    journal.drain_once().await.unwrap();
    let after_one = receipt.outcome().timeout(Duration::ZERO).await.unwrap();
    assert!(
        matches!(after_one, Outcome::Pending { .. }),
        "a token refusal leaves the write pending: {after_one:?}"
    );
    let _drainer = journal.start();
    let outcome = settled(&receipt).await;
    assert!(matches!(outcome, Outcome::Applied { .. }), "{outcome:?}");
    assert_eq!(env.ledger(&member), [12]);
}

/// Slow calls hold up their own entries only: while two calls wait on a slow platform,
/// a write submitted after them is sent and settled (a drainer that works in batches
/// would wait for the slowest call of each batch).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_call_holds_up_its_own_entry_only() {
    let env = Env::start().await;
    let (client, journal) = env.process();
    let slow_a = env.member(&client, "13800000021").await;
    let slow_b = env.member(&client, "13800000022").await;
    let quick_one = env.member(&client, "13800000023").await;
    env.sandbox.control().inject_fault(
        "wk.user.event.score.change",
        Fault::Slow { delay_ms: 8_000 },
        2,
    );
    let _drainer = journal.start();
    let first = journal.submit(&change(&slow_a, 1, "s-1")).await.unwrap();
    // Each slow write claimed on its own, as writes arrive at a till.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = journal.submit(&change(&slow_b, 1, "s-2")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let third = journal.submit(&change(&quick_one, 1, "s-3")).await.unwrap();
    let outcome = third
        .outcome()
        .timeout(Duration::from_secs(4))
        .await
        .unwrap();
    assert!(
        matches!(outcome, Outcome::Applied { .. }),
        "settled while the slow calls are out: {outcome:?} after {:?}",
        started.elapsed()
    );
    for slow in [&first, &second] {
        let now = slow.outcome().timeout(Duration::ZERO).await.unwrap();
        assert!(matches!(now, Outcome::Pending { .. }), "still out: {now:?}");
    }
    assert!(matches!(settled(&first).await, Outcome::Applied { .. }));
    assert!(matches!(settled(&second).await, Outcome::Applied { .. }));
    assert_eq!(env.ledger(&quick_one), [1]);
}

/// A process dies after its attempt landed and before it heard the answer; the next
/// process settles the entry from what the store kept: once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_process_settles_what_the_last_one_left() {
    let env = Env::start().await;
    let (client, first) = env.process();
    let open_id = env.member(&client, "13800000004").await;
    env.sandbox
        .control()
        .inject_fault("wk.user.event.score.change", Fault::DropAfterCommit, 1);
    let receipt = first.submit(&change(&open_id, 30, "r-1")).await.unwrap();
    first.drain_once().await.unwrap();
    let left = first.store().get(receipt.id).await.unwrap().unwrap();
    assert_eq!(left.state, EntryState::Pending);
    assert!(left.landing_possible, "{left:?}");
    drop(first);
    // The next process: a new client and journal on the same stores.
    let (_, second) = env.process();
    let _drainer = second.start();
    let again = second.receipt::<ChangePointsRequest>(receipt.id);
    let outcome = settled(&again).await;
    assert!(
        matches!(outcome, Outcome::Applied { data: None }),
        "applied by the lost attempt: {outcome:?}"
    );
    assert_eq!(env.ledger(&open_id), [30]);
}

/// At the till: a debit the member cannot afford, the platform busy once. The caller
/// hears within its deadline: refused, or pending while the refusal is confirmed (an
/// earlier attempt may still land), never after the two minutes that confirmation takes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_till_hears_within_its_deadline() {
    let env = Env::start().await;
    let (client, _) = env.process();
    let open_id = env.member(&client, "13800000005").await;
    let mut policy = quick();
    policy.settle.attempt_lifetime = Duration::from_secs(120);
    let journal = Journal::builder(client, env.store.clone())
        .policy(policy)
        .build();
    let _drainer = journal.start();
    env.sandbox
        .control()
        .inject_fault("wk.user.event.score.change", Fault::Busy, 1);
    let started = Instant::now();
    let receipt = journal
        .submit(&change(&open_id, -500, "t-1"))
        .await
        .unwrap();
    let outcome = receipt
        .outcome()
        .timeout(Duration::from_secs(1))
        .await
        .unwrap();
    let took = started.elapsed();
    match &outcome {
        Outcome::Refused { code, .. } => assert_eq!(*code, Some(ErrorCode::InsufficientPoints)),
        Outcome::Pending { last_error, .. } => {
            assert!(
                last_error.is_some(),
                "the pending outcome says why: {outcome:?}"
            );
        }
        other => panic!("expected refused or pending, got {other:?}"),
    }
    // One second of deadline; the bound allows for a loaded machine, far below 120 s.
    assert!(took < Duration::from_secs(10), "answered after {took:?}");
    assert_eq!(env.score(&open_id), 0);
}

/// 3.1 and 5.2 are probed before a re-send; 6.1 is never re-sent; a key another write
/// holds waits for an operator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_write_is_settled_its_own_way() {
    let env = Env::start().await;
    let (client, journal) = env.process();
    let control = env.sandbox.control();
    let _drainer = journal.start();

    // 3.1: the reply is lost; a 3.2 query by phone finds the member.
    control.inject_fault("wk.user.info.add", Fault::DropAfterCommit, 1);
    let created = journal
        .submit(&CreateMemberRequest::new(CreateMemberArgs {
            project_id: "18756".into(),
            nickname: "李四".into(),
            phone: "13800000006".into(),
        }))
        .await
        .unwrap();
    let Outcome::Applied {
        data: Some(open_id),
    } = settled(&created).await
    else {
        panic!("3.1 settled by its probe");
    };
    assert_eq!(env.score(&open_id), 0, "one member");

    // 5.2: the reply is lost; 5.5 lists the coupon.
    client
        .coupons()
        .add_coupon_template(
            AddCouponTemplateRequest::new(AddCouponTemplateArgs {
                third_coupon_id: "tpl-j".into(),
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
    control.inject_fault("wk.coupon.give", Fault::DropAfterCommit, 1);
    let grant = journal
        .submit(&GiveCouponsRequest::new(GiveCouponsArgs {
            coupon_set: vec![CouponGrant::new(CouponGrantArgs {
                open_id: open_id.clone(),
                coupon_number: "J-1".into(),
                params_type: ParamsType::OpenId,
            })],
            number: 1,
            create_time: TimestampMs(control.now_ms()),
            third_coupon_id: "tpl-j".into(),
        }))
        .await
        .unwrap();
    assert!(matches!(
        settled(&grant).await,
        Outcome::Applied { data: None }
    ));
    let coupons = control.dump()["coupons"]["coupons"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(coupons, 1, "one coupon granted");

    // 6.1: the reply is lost; never re-sent, an operator decides.
    control.inject_fault("wk.sms.verify.send", Fault::DropAfterCommit, 1);
    let sms = journal
        .submit(&SendSmsCodeRequest::new("13800000006"))
        .await
        .unwrap();
    assert!(matches!(settled(&sms).await, Outcome::Attention { .. }));

    // A change_id another change holds, at the first attempt: an operator decides.
    journal.submit(&change(&open_id, 10, "dup")).await.unwrap();
    let dup = journal.submit(&change(&open_id, 99, "dup")).await.unwrap();
    let outcome = settled(&dup).await;
    assert!(matches!(outcome, Outcome::Attention { .. }), "{outcome:?}");
    assert_eq!(env.ledger(&open_id), [10]);
}

#[tokio::test]
async fn an_invalid_write_is_not_recorded() {
    let env = Env::start().await;
    let (_, journal) = env.process();
    let invalid = journal.submit(&change("", 10, "x")).await;
    assert!(invalid.is_err(), "{invalid:?}");
    assert_eq!(journal.store().counts().await.unwrap().pending, 0);
}

/// Writes decoded from JSON (what `ump import` reads): a batch recorded in one go in the
/// order given and applied; a body that is not the request is refused naming the field,
/// never the value; a method that is not a write is named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_decoded_from_json_are_recorded_in_order_and_told_when_wrong() {
    use gree_ump::journal::{DecodedWrite, SubmitError};
    let env = Env::start().await;
    let (_, journal) = env.process();
    let member = DecodedWrite::decode(
        "wk.user.info.add",
        r#"{"project_id": "18756", "nickname": "张三", "phone": "13800000031"}"#,
    )
    .unwrap();
    let order = DecodedWrite::decode(
        "wk.user.order.add",
        r#"{"phone": "13800000031", "consume_date": "2026-12-01 10:00:00",
            "order_amount": "88.00", "order_no": "imp-1", "order_score": 8}"#,
    )
    .unwrap();
    assert_eq!(order.method(), "wk.user.order.add");
    let ids = journal.submit_decoded(&[member, order]).await.unwrap();
    assert!(ids[0] < ids[1], "in the order given: {ids:?}");
    let _drainer = journal.start();
    for id in ids {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let entry = journal.store().get(id).await.unwrap().unwrap();
            if entry.state == EntryState::Applied {
                break;
            }
            assert!(Instant::now() < deadline, "not applied: {entry:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let orders = env.sandbox.control().dump()["orders"].to_string();
    assert!(
        orders.contains("imp-1"),
        "the order is on the platform: {orders}"
    );

    let wrong = DecodedWrite::decode(
        "wk.user.order.add",
        r#"{"phone": "13800000031", "consume_date": "yesterday 13800000099",
            "order_amount": "88.00", "order_no": "imp-2", "order_score": 8}"#,
    )
    .unwrap_err();
    let text = wrong.to_string();
    assert!(matches!(wrong, SubmitError::Undecodable { .. }), "{text}");
    assert!(text.contains("consume_date"), "names the field: {text}");
    assert!(!text.contains("13800000099"), "never the value: {text}");
    let not_a_write = DecodedWrite::decode("wk.user.info.query", "{}").unwrap_err();
    assert!(
        not_a_write
            .to_string()
            .contains("is not a write the journal takes"),
        "{not_a_write}"
    );
}
