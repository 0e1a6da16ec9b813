//! The verbs of 3.8, 5.4 and 5.5 (errata E01): the document marks them GET while its
//! general rule and every example send a JSON body by POST. Every endpoint is called,
//! streams too, against the sandbox taking each reading (POST and GET both taken; only
//! the document's verbs, refused with 1001 naming the verb; only the document's verbs,
//! refused with HTTP 405), by a client that starts with POST and by one that starts
//! with the document's verbs. What the client learns costs one refused call per
//! endpoint, once: kept for the client's life and, through the token store, for the
//! next process.

use std::sync::Arc;

use futures_util::StreamExt;
use gree_ump::endpoints::*;
use gree_ump::models::{
    CouponCategory, CouponGrant, CouponGrantArgs, CouponStatus, CouponValidityType, ParamsType,
    PartialRollbackItem, PartialRollbackItemArgs, ScoreType,
};
use gree_ump::runtime::tokens::{MemoryTokenStore, TokenStore};
use gree_ump::wire::{BeijingDateTime, TimestampMs, Yuan};
use gree_ump::{Client, ErrorCode};
use gree_ump_sandbox::{Sandbox, SandboxConfig, SandboxHandle, VerbReading};
use workspace_tests::stub_platform::{OBTAIN, OK_LEVELS, Seen, Stub, error_reply, token_reply};

const READINGS: [VerbReading; 3] = [
    VerbReading::Lenient,
    VerbReading::Document,
    VerbReading::DocumentHttp405,
];

fn client(sandbox: &SandboxHandle, store: Arc<dyn TokenStore>, document_first: bool) -> Client {
    Client::builder()
        .base_url(sandbox.base_url())
        .app_id(sandbox.app_id())
        .app_secret(sandbox.app_secret())
        .token_store(store)
        .send_document_verbs(document_first)
        .build()
        .unwrap()
}

fn yuan(text: &str) -> Yuan {
    Yuan::parse(text).unwrap()
}

/// Every business endpoint once or more, with its success asserted on the reply and on
/// the sandbox's state; the streams of 3.8 and 5.5 page by page. `tag` keeps the keys of
/// one tour apart from another's on the same sandbox.
async fn tour(sandbox: &SandboxHandle, client: &Client, tag: &str) {
    let control = sandbox.control();
    let phone = format!(
        "139{:08}",
        tag.len() * 1000 + tag.bytes().map(usize::from).sum::<usize>()
    );
    // 3.1, 3.2
    let open_id = client
        .members()
        .create_member(CreateMemberRequest::new(CreateMemberArgs {
            project_id: "18756".into(),
            nickname: "张三".into(),
            phone: phone.clone(),
        }))
        .await
        .unwrap_or_else(|e| panic!("{tag}: 3.1: {e:?}"));
    let found = client
        .members()
        .query_member(QueryMemberRequest::new().phone(&phone))
        .await
        .unwrap_or_else(|e| panic!("{tag}: 3.2: {e:?}"));
    assert_eq!(found.open_id.as_deref(), Some(open_id.as_str()));
    // 3.3, 3.4.1, 3.4.2, 3.5
    let statement = client
        .points()
        .change_points(
            ChangePointsRequest::new(ChangePointsArgs {
                open_id: open_id.clone(),
                score: 100,
                out_biz_no: format!("{tag}-order-9"),
                change_reason: "购物".into(),
                change_event: "event_add".into(),
                change_id: format!("{tag}-chg-1"),
            })
            .order_amount(yuan("200.00")),
        )
        .await
        .unwrap_or_else(|e| panic!("{tag}: 3.3: {e:?}"))
        .statement_id
        .expect("a statement id");
    client
        .points()
        .rollback_points(
            RollbackPointsRequest::new(RollbackPointsArgs {
                open_id: open_id.clone(),
                rollback_score: 10,
                change_id: format!("{tag}-rb-1"),
            })
            .statement_id(&statement),
        )
        .await
        .unwrap_or_else(|e| panic!("{tag}: 3.4.1: {e:?}"));
    client
        .points()
        .rollback_points_partially(RollbackPointsPartiallyRequest::new(
            RollbackPointsPartiallyArgs {
                open_id: open_id.clone(),
                change_id: format!("{tag}-prb-1"),
                parent_order_no: format!("{tag}-order-9"),
                items: vec![
                    PartialRollbackItem::new(PartialRollbackItemArgs {
                        order_no: format!("{tag}-order-9"),
                        item_no: "sku-1".into(),
                        total_price: yuan("60.00"),
                    })
                    .base_score(30),
                ],
            },
        ))
        .await
        .unwrap_or_else(|e| panic!("{tag}: 3.4.2: {e:?}"));
    assert_eq!(control.ledger(&open_id).unwrap().score, 60, "{tag}");
    let records = client
        .points()
        .list_point_records(ListPointRecordsRequest::new(ListPointRecordsArgs {
            open_id: open_id.clone(),
            score_type: ScoreType::All,
            page_size: 10,
            page_no: 1,
        }))
        .await
        .unwrap_or_else(|e| panic!("{tag}: 3.5: {e:?}"));
    assert_eq!(records.page.total_count, Some(3), "{tag}");
    // 3.6, 3.7
    let code = client
        .members()
        .generate_member_code(GenerateMemberCodeRequest::new(&open_id))
        .await
        .unwrap_or_else(|e| panic!("{tag}: 3.6: {e:?}"));
    client
        .members()
        .parse_member_code(ParseMemberCodeRequest::new(&code))
        .await
        .unwrap_or_else(|e| panic!("{tag}: 3.7: {e:?}"));
    // 3.8, marked GET: a page, then the stream of every page.
    let levels = client
        .members()
        .list_levels(ListLevelsRequest::new().page_size(3).page_no(2))
        .await
        .unwrap_or_else(|e| panic!("{tag}: 3.8: {e:?}"));
    assert_eq!(levels.page.total_count, Some(7), "{tag}");
    assert_eq!(levels.into_data().len(), 3, "{tag}");
    let streamed: Vec<_> = client
        .members()
        .list_levels_stream(ListLevelsRequest::new().page_size(2))
        .collect()
        .await;
    assert_eq!(streamed.len(), 7, "{tag}: 3.8's stream");
    assert!(streamed.iter().all(Result::is_ok), "{tag}: {streamed:?}");
    // 4.1, 4.2, 4.3
    let order = |no: &str, amount: &str| AddOrderArgs {
        consume_date: BeijingDateTime::now(),
        order_amount: yuan(amount),
        order_no: format!("{tag}-{no}"),
        order_score: 100,
    };
    for no in ["ord-1", "ord-2"] {
        client
            .orders()
            .add_order(AddOrderRequest::new(order(no, "200.00")).open_id(&open_id))
            .await
            .unwrap_or_else(|e| panic!("{tag}: 4.1: {e:?}"));
    }
    client
        .orders()
        .refund_order(
            RefundOrderRequest::new(RefundOrderArgs {
                consume_date: BeijingDateTime::now(),
                order_amount: yuan("200.00"),
                order_no: format!("{tag}-ret-1"),
                parent_order_no: format!("{tag}-ord-1"),
            })
            .open_id(&open_id),
        )
        .await
        .unwrap_or_else(|e| panic!("{tag}: 4.2: {e:?}"));
    client
        .orders()
        .refund_order_partially(
            RefundOrderPartiallyRequest::new(RefundOrderPartiallyArgs {
                consume_date: BeijingDateTime::now(),
                order_amount: yuan("50.00"),
                order_no: format!("{tag}-ret-2"),
                parent_order_no: format!("{tag}-ord-2"),
            })
            .open_id(&open_id),
        )
        .await
        .unwrap_or_else(|e| panic!("{tag}: 4.3: {e:?}"));
    assert_eq!(control.ledger(&open_id).unwrap().score, 60 + 75, "{tag}");
    // 5.1, 5.2, 5.3
    let template = format!("{tag}-tpl");
    client
        .coupons()
        .add_coupon_template(
            AddCouponTemplateRequest::new(AddCouponTemplateArgs {
                third_coupon_id: template.clone(),
                coupon_category: CouponCategory::OrderAmountOff,
                name: "满100减10".into(),
                discount_fee: 1_000,
                coupon_type: CouponValidityType::DaysAfterReceipt,
                rules: "满100元可用".into(),
            })
            .fixed_term(30)
            .minimum_fee(10_000),
        )
        .await
        .unwrap_or_else(|e| panic!("{tag}: 5.1: {e:?}"));
    for n in 1..=4 {
        client
            .coupons()
            .give_coupons(GiveCouponsRequest::new(GiveCouponsArgs {
                coupon_set: vec![CouponGrant::new(CouponGrantArgs {
                    open_id: open_id.clone(),
                    coupon_number: format!("{tag}-C-{n}"),
                    params_type: ParamsType::OpenId,
                })],
                number: 1,
                create_time: TimestampMs(control.now_ms()),
                third_coupon_id: template.clone(),
            }))
            .await
            .unwrap_or_else(|e| panic!("{tag}: 5.2: {e:?}"));
    }
    client
        .coupons()
        .sync_coupon_status(SyncCouponStatusRequest::new(SyncCouponStatusArgs {
            third_coupon_code: format!("{tag}-C-4"),
            open_id: open_id.clone(),
            status: CouponStatus::InUse,
        }))
        .await
        .unwrap_or_else(|e| panic!("{tag}: 5.3: {e:?}"));
    // 5.4, marked GET: a write, at the till. Every field, optional ones too, must
    // travel and arrive whichever verb carries it.
    client
        .coupons()
        .verify_coupons(
            VerifyCouponsRequest::new(VerifyCouponsArgs {
                open_id: open_id.clone(),
                order_no: format!("{tag}-ord-3"),
                third_coupon_codes: vec![format!("{tag}-C-1"), format!("{tag}-C-2")],
                verification_time: TimestampMs(control.now_ms()),
                order_amount: yuan("150.50"),
            })
            .verifier_name("收银员 & 李四")
            .verifier_id(154_824)
            .store_id(12_457),
        )
        .await
        .unwrap_or_else(|e| panic!("{tag}: 5.4: {e:?}"));
    let dump = control.dump();
    let used: Vec<&serde_json::Value> = dump["coupons"]["coupons"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["use_order_no"] == format!("{tag}-ord-3").as_str())
        .collect();
    assert_eq!(used.len(), 2, "{tag}: 5.4 used both coupons");
    assert!(
        used.iter()
            .all(|c| c["status"] == CouponStatus::Used.code())
    );
    // 5.5, marked GET: a filtered page, then the stream.
    let unused = client
        .coupons()
        .list_user_coupons(
            ListUserCouponsRequest::new(&open_id)
                .status(gree_ump::models::CouponStatusFilter::Valid)
                .page_size(10),
        )
        .await
        .unwrap_or_else(|e| panic!("{tag}: 5.5: {e:?}"));
    assert_eq!(unused.into_data().len(), 1, "{tag}: one valid coupon left");
    let all: Vec<_> = client
        .coupons()
        .list_user_coupons_stream(ListUserCouponsRequest::new(&open_id).page_size(1))
        .collect()
        .await;
    assert_eq!(all.len(), 4, "{tag}: 5.5's stream");
    assert!(all.iter().all(Result::is_ok), "{tag}: {all:?}");
    // 6.1, 6.2
    assert!(
        client
            .sms()
            .send_sms_code(SendSmsCodeRequest::new(&phone))
            .await
            .unwrap_or_else(|e| panic!("{tag}: 6.1: {e:?}"))
    );
    let sms = control.last_sms_code(&phone).expect("a code was sent");
    client
        .sms()
        .verify_sms_code(VerifySmsCodeRequest::new(VerifySmsCodeArgs {
            phone: phone.clone(),
            verify_code: sms,
        }))
        .await
        .unwrap_or_else(|e| panic!("{tag}: 6.2: {e:?}"));
}

/// What a reading costs a client that starts with POST, and one that starts with the
/// document's verbs: the refused calls, one per endpoint marked GET at most.
fn refusals_expected(reading: VerbReading, document_first: bool) -> u64 {
    match (reading, document_first) {
        (VerbReading::Lenient, _) | (_, true) => 0,
        _ => 3,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_works_under_every_reading_of_the_verbs() {
    for reading in READINGS {
        for document_first in [false, true] {
            let sandbox = Sandbox::start(SandboxConfig::default().with_verbs(reading))
                .await
                .unwrap();
            let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
            let tag = format!("{reading:?}-{document_first}");
            let first = client(&sandbox, store.clone(), document_first);
            tour(&sandbox, &first, &format!("{tag}-a")).await;
            let expected = refusals_expected(reading, document_first);
            assert_eq!(
                sandbox.control().verb_refusals(),
                expected,
                "{tag}: one refused call per endpoint marked GET, however often it is called"
            );
            // The client's clone, and the next process on the same store: learnt once.
            tour(&sandbox, &first.clone(), &format!("{tag}-b")).await;
            let next = client(&sandbox, store.clone(), document_first);
            tour(&sandbox, &next, &format!("{tag}-c")).await;
            assert_eq!(
                sandbox.control().verb_refusals(),
                expected,
                "{tag}: what was learnt is kept for the client's life and in the store"
            );
        }
    }
}

/// A platform that changes its mind: a client that learnt GET from one gateway follows
/// another that takes POST only, at one refused call per endpoint again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_that_goes_back_to_post_is_followed() {
    // The GET-only gateway teaches the client GET.
    let get_only = Sandbox::start(SandboxConfig::default().with_verbs(VerbReading::Document))
        .await
        .unwrap();
    let store: Arc<dyn TokenStore> = Arc::new(MemoryTokenStore::new());
    let levels = ListLevelsRequest::new().page_size(10);
    let learner = client(&get_only, store.clone(), false);
    learner.members().list_levels(levels.clone()).await.unwrap();
    assert_eq!(get_only.control().verb_refusals(), 1);
    let dry = learner.runtime().dry_run(&levels).await.unwrap();
    assert_eq!(dry.verb, "GET", "the dry run shows the verb learnt");
    assert!(dry.body.is_empty(), "a GET has no body: {dry:?}");
    assert!(dry.url.contains("page_size=10"), "{}", dry.url);

    // A gateway that wants POST for what the document marks GET refuses a GET naming
    // POST; this sandbox's document reading does the reverse, so a stub stands for it:
    // every GET is refused with 1001 naming POST, every POST answered.
    let (log, seen) = recorder();
    let stub = Stub::start(move |call| {
        log(call);
        if call.method == OBTAIN {
            return (200, token_reply("AT-1", Some("RT-1"), 7200));
        }
        if call.verb == "GET" {
            return (200, error_reply(1001, "请求方式 GET 不支持, 请使用 POST"));
        }
        (200, OK_LEVELS.to_owned())
    })
    .await;
    let follower = stub_client(&stub.base_url(), true);
    for _ in 0..5 {
        follower
            .members()
            .list_levels(levels.clone())
            .await
            .unwrap();
    }
    let gets = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(v, _)| v == "GET")
        .count();
    assert_eq!(gets, 1, "one refused GET, then POST for good");
}

type Log = Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// A closure that records each call's verb and method, and the record.
fn recorder() -> (impl Fn(&Seen<'_>) + Send + Sync + 'static, Log) {
    let log: Log = Arc::default();
    let writer = log.clone();
    (
        move |s: &Seen<'_>| {
            writer
                .lock()
                .unwrap()
                .push((s.verb.to_owned(), s.method.to_owned()));
        },
        log,
    )
}

fn stub_client(base_url: &str, document_first: bool) -> Client {
    Client::builder()
        .base_url(base_url)
        .app_id("app")
        .app_secret("secret")
        .token_store(Arc::new(MemoryTokenStore::new()))
        .send_document_verbs(document_first)
        .build()
        .unwrap()
}

/// A refusal is believed only when it names the other verb and the request did not send
/// that word itself; an endpoint with one verb never changes; a refusal of the re-send is
/// the answer (never a loop).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_refusal_that_names_the_verb_moves_an_endpoint() {
    let (log, seen) = recorder();
    let stub = Stub::start(move |call| {
        log(call);
        let refusal = |message: &str| (200, error_reply(1001, message));
        match call.method {
            OBTAIN => (200, token_reply("AT-1", Some("RT-1"), 7200)),
            // A parameter error quoting the staff name, which says GET.
            "wk.coupon.verification" => refusal("verifier_name GET is not allowed"),
            "wk.user.info.query" => refusal("请求方式 POST 不支持, 请使用 GET"),
            // Both verbs refused for 5.5: the re-send's refusal is the answer.
            _ if call.verb == "POST" => refusal("请求方式 POST 不支持, 请使用 GET"),
            _ => refusal("请求方式 GET 不支持, 请使用 POST"),
        }
    })
    .await;
    let client = stub_client(&stub.base_url(), false);
    let verify = client
        .coupons()
        .verify_coupons(
            VerifyCouponsRequest::new(VerifyCouponsArgs {
                open_id: "oid".into(),
                order_no: "o-1".into(),
                third_coupon_codes: vec!["C-1".into()],
                verification_time: TimestampMs(1_700_000_000_000),
                order_amount: yuan("1.00"),
            })
            .verifier_name("GET"),
        )
        .await;
    assert_eq!(
        verify.unwrap_err().code(),
        Some(ErrorCode::InvalidParameter)
    );
    let query = client
        .members()
        .query_member(QueryMemberRequest::new().phone("13800000000"))
        .await;
    assert_eq!(query.unwrap_err().code(), Some(ErrorCode::InvalidParameter));
    let coupons = client
        .coupons()
        .list_user_coupons(ListUserCouponsRequest::new("oid"))
        .await;
    assert_eq!(
        coupons.unwrap_err().code(),
        Some(ErrorCode::InvalidParameter)
    );
    let seen = seen.lock().unwrap();
    let count = |method: &str| seen.iter().filter(|(_, m)| m == method).count();
    assert_eq!(count("wk.coupon.verification"), 1, "an echo moves nothing");
    assert_eq!(count("wk.user.info.query"), 1, "3.2 has one verb");
    assert_eq!(count("wk.coupon.user.list"), 2, "one re-send, never a loop");
}
