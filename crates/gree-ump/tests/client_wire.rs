//! The client against a minimal wire-checking server on 127.0.0.1: for every endpoint, the
//! path, verb, query parameters, body and signature; tokens obtained once, refreshed once
//! for 1,000 concurrent callers, an invalid-token answer refreshed and retried once; no
//! secret in any error or debug text.
//!
//! The server is deliberately dumb (no state): the sandbox crate emulates the platform.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use gree_ump::endpoints::*;
use gree_ump::models::*;
use gree_ump::runtime::clock::{Clock, ManualClock};
use gree_ump::runtime::tokens::MemoryTokenStore;
use gree_ump::runtime::{Error, TokenError};
use gree_ump::{Client, Endpoint};
use serde_json::{Value, json};

const APP_ID: &str = "app-wire-test";
const SECRET: &str = "wire-test-secret-XYZ";
/// A fixed, plausible start time (2026-11-23 10:00 Beijing) for the manual clock.
const T0: i64 = 1_795_399_200_000;

#[derive(Debug, Clone)]
struct Seen {
    verb: Method,
    path: String,
    query: BTreeMap<String, String>,
    body: Bytes,
}

#[derive(Default)]
struct Server {
    seen: Mutex<Vec<Seen>>,
    obtains: AtomicU32,
    refreshes: AtomicU32,
    tokens_issued: AtomicU32,
    /// Business calls answered with the invalid-token error, counting down.
    reject_tokens: AtomicU32,
    /// Business calls answered "busy" (error 500), counting down.
    busy: AtomicU32,
    /// Answer every business call with this body instead.
    canned: Mutex<Option<(u16, String)>>,
    clock: Option<Arc<ManualClock>>,
    /// Refuse (1001) timestamps more than 3 s off the server's clock, as 2.1/2.2 do.
    check_timestamps: bool,
    refused_timestamps: AtomicU32,
    /// Business calls wait this long before answering.
    delay_ms: std::sync::atomic::AtomicU64,
}

fn http_date(ms: i64) -> HeaderValue {
    let t = chrono::DateTime::from_timestamp_millis(ms).unwrap();
    HeaderValue::from_str(&t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()).unwrap()
}

async fn handle(
    State(server): State<Arc<Server>>,
    verb: Method,
    uri: Uri,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let query: BTreeMap<String, String> =
        reqwest::Url::parse(&format!("http://x/?{}", query.unwrap_or_default()))
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
    let path = uri.path().to_owned();
    server.seen.lock().unwrap().push(Seen {
        verb,
        path: path.clone(),
        query: query.clone(),
        body: body.clone(),
    });
    let method = path
        .strip_prefix("/gw/gateway/")
        .and_then(|p| p.strip_suffix("/v1"))
        .unwrap_or_default();
    let reply = |v: Value| {
        let mut r = (StatusCode::OK, v.to_string()).into_response();
        if let Some(clock) = &server.clock {
            // The platform's clock is the manual one: no skew to correct.
            r.headers_mut().insert("date", http_date(clock.now_ms()));
        }
        r
    };
    if let (true, Some(clock)) = (server.check_timestamps, &server.clock) {
        let ts: i64 = query
            .get("timestamp")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        if (ts - clock.now_ms()).abs() > 3_000 {
            server.refused_timestamps.fetch_add(1, Ordering::SeqCst);
            return reply(json!({"success": false, "error_code": 1001,
                "error_message": "请求参数不合法"}));
        }
    }
    match method {
        "dss.auth.token.query" => {
            server.obtains.fetch_add(1, Ordering::SeqCst);
            let n = server.tokens_issued.fetch_add(1, Ordering::SeqCst);
            reply(json!({"success": true, "data": {
                "access_token": format!("at-secret-{n}"),
                "refresh_token": "rt-secret-0",
                "expire_in": 7200
            }}))
        }
        "dss.auth.token.refresh" => {
            server.refreshes.fetch_add(1, Ordering::SeqCst);
            assert_eq!(
                query.get("refresh_token").map(String::as_str),
                Some("rt-secret-0")
            );
            let n = server.tokens_issued.fetch_add(1, Ordering::SeqCst);
            reply(json!({"success": true, "data": {
                "access_token": format!("at-secret-{n}"), "expire_in": 7200
            }}))
        }
        _ => {
            let delay = server.delay_ms.load(Ordering::SeqCst);
            if delay > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
            }
            if server
                .reject_tokens
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return reply(json!({"success": false, "error_code": 1002,
                    "error_message": "access_token无效"}));
            }
            if server
                .busy
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return reply(json!({"success": false, "error_code": 500,
                    "error_message": "系统繁忙, 请稍后再试"}));
            }
            if let Some((status, body)) = server.canned.lock().unwrap().clone() {
                return (StatusCode::from_u16(status).unwrap(), body).into_response();
            }
            reply(json!({"success": true, "error_code": 200, "data": minimal_data(method)}))
        }
    }
}

/// The smallest `data` of each method's type: a success without data is an error for
/// every endpoint the spec gives data (`EndpointInfo::data_required`).
fn minimal_data(method: &str) -> Value {
    match method {
        "wk.user.info.add" | "wk.user.code.generate" | "wk.coupon.sync.status" => json!("x"),
        "wk.user.order.add"
        | "wk.user.refund.order.complete"
        | "wk.user.refund.order.part"
        | "wk.coupon.template.add" => json!(1),
        "wk.sms.verify.send" | "wk.sms.verify.judge" => json!(true),
        "wk.user.score.record"
        | "wk.user.level.list"
        | "wk.coupon.give"
        | "wk.coupon.user.list" => {
            json!([])
        }
        "wk.coupon.verification" => Value::Null,
        _ => json!({}),
    }
}

async fn start(server: Arc<Server>) -> String {
    let app = axum::Router::new().fallback(handle).with_state(server);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn client(base: &str, clock: Option<Arc<ManualClock>>) -> Client {
    let mut b = Client::builder()
        .base_url(base)
        .app_id(APP_ID)
        .app_secret(SECRET)
        .token_store(Arc::new(MemoryTokenStore::new()));
    if let Some(clock) = clock {
        b = b.clock(clock);
    }
    b.build().unwrap()
}

/// Checks the last business request the server saw against the typed request sent.
fn check_wire<E: Endpoint>(server: &Server, request: &E) {
    let seen = server
        .seen
        .lock()
        .unwrap()
        .last()
        .cloned()
        .expect("a request");
    let info = E::INFO;
    assert_eq!(seen.path, format!("/gw/gateway/{}/v1", info.method));
    assert_eq!(seen.verb.as_str(), info.verb.as_str(), "{}", info.method);
    let keys: Vec<&str> = seen.query.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["access_token", "sign", "timestamp"],
        "{}",
        info.method
    );
    assert!(seen.query["access_token"].starts_with("at-secret-"));
    let ts: i64 = seen.query["timestamp"].parse().expect("numeric timestamp");
    let now = chrono::Utc::now().timestamp_millis();
    assert!(
        (ts - now).abs() < 5_000,
        "timestamp {ts} is not now ({now})"
    );
    let params: Vec<(&str, &str)> = seen
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert!(
        openplatform_runtime::ump_md5::verify(
            &params,
            "sign",
            &seen.body,
            SECRET.as_bytes(),
            &seen.query["sign"]
        ),
        "{}: signature does not verify",
        info.method
    );
    let body: Value = serde_json::from_slice(&seen.body).expect("a JSON body");
    assert_eq!(
        body,
        serde_json::to_value(request).unwrap(),
        "{}",
        info.method
    );
}

macro_rules! wire_case {
    ($server:expr, $client:expr, $group:ident . $method:ident($req:expr)) => {{
        let request = $req;
        $client
            .$group()
            .$method(request.clone())
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", stringify!($method)));
        check_wire(&$server, &request);
    }};
}

fn dt(s: &str) -> openplatform_runtime::wire::BeijingDateTime {
    s.parse().unwrap()
}

fn yuan(s: &str) -> openplatform_runtime::wire::Yuan {
    s.parse().unwrap()
}

#[tokio::test]
async fn every_business_endpoint_is_sent_as_the_spec_says() {
    let server = Arc::new(Server::default());
    let base = start(server.clone()).await;
    let c = client(&base, None);

    wire_case!(
        server,
        c,
        members.create_member(
            CreateMemberRequest::new(CreateMemberArgs {
                project_id: "P001".into(),
                nickname: "小明".into(),
                phone: "13800000000".into()
            })
            .realname("王小明")
        )
    );
    wire_case!(
        server,
        c,
        members.query_member(QueryMemberRequest::new().phone("13800000000"))
    );
    wire_case!(
        server,
        c,
        points.change_points(ChangePointsRequest::new(ChangePointsArgs {
            open_id: "oid-1".into(),
            score: 100,
            out_biz_no: "biz-1".into(),
            change_reason: "购物".into(),
            change_event: "order".into(),
            change_id: "chg-1".into()
        }))
    );
    wire_case!(
        server,
        c,
        points.rollback_points(RollbackPointsRequest::new(RollbackPointsArgs {
            open_id: "oid-1".into(),
            rollback_score: 100,
            change_id: "chg-1".into()
        }))
    );
    wire_case!(
        server,
        c,
        points.rollback_points_partially(RollbackPointsPartiallyRequest::new(
            RollbackPointsPartiallyArgs {
                open_id: "oid-1".into(),
                change_id: "chg-2".into(),
                parent_order_no: "ord-1".into(),
                items: vec![PartialRollbackItem::new(PartialRollbackItemArgs {
                    order_no: "ord-1".into(),
                    item_no: "sku-1".into(),
                    total_price: yuan("10.50")
                })]
            }
        ))
    );
    wire_case!(
        server,
        c,
        points.list_point_records(ListPointRecordsRequest::new(ListPointRecordsArgs {
            open_id: "oid-1".into(),
            score_type: ScoreType::from_code(1),
            page_size: 10,
            page_no: 1
        }))
    );
    wire_case!(
        server,
        c,
        members.generate_member_code(GenerateMemberCodeRequest::new("oid-1"))
    );
    wire_case!(
        server,
        c,
        members.parse_member_code(ParseMemberCodeRequest::new("code-1"))
    );
    wire_case!(server, c, members.list_levels(ListLevelsRequest::new()));
    wire_case!(
        server,
        c,
        orders.add_order(
            AddOrderRequest::new(AddOrderArgs {
                consume_date: (dt("2021-09-27 10:00:00")),
                order_amount: yuan("1000.4"),
                order_no: "ord-1".into(),
                order_score: 1000
            })
            .open_id("oid-1")
        )
    );
    wire_case!(
        server,
        c,
        orders.refund_order(
            RefundOrderRequest::new(RefundOrderArgs {
                consume_date: (dt("2021-09-28 10:00:00")),
                order_amount: yuan("1000.4"),
                order_no: "ref-1".into(),
                parent_order_no: "ord-1".into()
            })
            .open_id("oid-1")
        )
    );
    wire_case!(
        server,
        c,
        orders.refund_order_partially(
            RefundOrderPartiallyRequest::new(RefundOrderPartiallyArgs {
                consume_date: (dt("2021-09-28 10:00:00")),
                order_amount: yuan("10.5"),
                order_no: "ref-2".into(),
                parent_order_no: "ord-1".into()
            })
            .open_id("oid-1")
        )
    );
    wire_case!(
        server,
        c,
        coupons.add_coupon_template(
            AddCouponTemplateRequest::new(AddCouponTemplateArgs {
                third_coupon_id: "tpl-1".into(),
                coupon_category: CouponCategory::from_code(1),
                name: "满100减10".into(),
                discount_fee: 1000,
                coupon_type: CouponValidityType::from_code(1),
                rules: "rules".into()
            })
            .begin_time(dt("2021-10-01 00:00:00"))
            .end_time(dt("2021-12-31 23:59:59"))
        )
    );
    wire_case!(
        server,
        c,
        coupons.give_coupons(GiveCouponsRequest::new(GiveCouponsArgs {
            coupon_set: vec![CouponGrant::new(CouponGrantArgs {
                open_id: "oid-1".into(),
                coupon_number: "2".into(),
                params_type: ParamsType::from_code(1)
            })],
            number: 1,
            create_time: openplatform_runtime::wire::TimestampMs::from(T0),
            third_coupon_id: "tpl-1".into()
        }))
    );
    wire_case!(
        server,
        c,
        coupons.sync_coupon_status(SyncCouponStatusRequest::new(SyncCouponStatusArgs {
            third_coupon_code: "code-1".into(),
            open_id: "oid-1".into(),
            status: CouponStatus::from_code(1)
        }))
    );
    wire_case!(
        server,
        c,
        coupons.verify_coupons(VerifyCouponsRequest::new(VerifyCouponsArgs {
            open_id: "oid-1".into(),
            order_no: "ord-1".into(),
            third_coupon_codes: vec!["code-1".to_owned(), "code-2".to_owned()],
            verification_time: openplatform_runtime::wire::TimestampMs::from(T0),
            order_amount: yuan("99.9")
        }))
    );
    wire_case!(
        server,
        c,
        coupons.list_user_coupons(ListUserCouponsRequest::new("oid-1"))
    );
    wire_case!(
        server,
        c,
        sms.send_sms_code(SendSmsCodeRequest::new("13800000000"))
    );
    wire_case!(
        server,
        c,
        sms.verify_sms_code(VerifySmsCodeRequest::new(VerifySmsCodeArgs {
            phone: "13800000000".into(),
            verify_code: "123456".into()
        }))
    );

    // 19 business calls on one token: the token was obtained once, never refreshed.
    assert_eq!(server.obtains.load(Ordering::SeqCst), 1);
    assert_eq!(server.refreshes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn token_calls_are_signed_with_their_own_credential() {
    let server = Arc::new(Server::default());
    let base = start(server.clone()).await;
    let c = client(&base, None);
    c.members()
        .query_member(QueryMemberRequest::new().open_id("x"))
        .await
        .unwrap();
    let seen = server.seen.lock().unwrap().clone();
    let obtain = &seen[0];
    assert_eq!(obtain.path, "/gw/gateway/dss.auth.token.query/v1");
    let keys: Vec<&str> = obtain.query.keys().map(String::as_str).collect();
    assert_eq!(keys, ["app_id", "sign", "timestamp"]);
    assert_eq!(obtain.query["app_id"], APP_ID);
    let params: Vec<(&str, &str)> = obtain
        .query
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert!(openplatform_runtime::ump_md5::verify(
        &params,
        "sign",
        &obtain.body,
        SECRET.as_bytes(),
        &obtain.query["sign"]
    ));
    // The document's token calls carry only query parameters: no body.
    assert!(obtain.body.is_empty(), "{:?}", obtain.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_calls_on_an_expired_token_refresh_once() {
    let clock = Arc::new(ManualClock::new(T0));
    let server = Arc::new(Server {
        clock: Some(clock.clone()),
        ..Server::default()
    });
    let base = start(server.clone()).await;
    let c = client(&base, Some(clock.clone()));
    c.members()
        .query_member(QueryMemberRequest::new().open_id("x"))
        .await
        .unwrap();
    assert_eq!(server.obtains.load(Ordering::SeqCst), 1);
    // Three hours later the 2-hour access token is expired; the refresh token is not.
    clock.advance_ms(3 * 3_600_000);
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move {
                c.members()
                    .query_member(QueryMemberRequest::new().open_id(format!("o{i}")))
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(server.refreshes.load(Ordering::SeqCst), 1);
    assert_eq!(server.obtains.load(Ordering::SeqCst), 1);
    assert_eq!(c.runtime().tokens().calls_made(), (1, 1));
}

#[tokio::test]
async fn an_invalid_token_answer_refreshes_once_and_retries_once() {
    let clock = Arc::new(ManualClock::new(T0));
    let server = Arc::new(Server {
        clock: Some(clock.clone()),
        ..Server::default()
    });
    let base = start(server.clone()).await;
    let c = client(&base, Some(clock));
    server.reject_tokens.store(1, Ordering::SeqCst);
    c.members()
        .query_member(QueryMemberRequest::new().open_id("x"))
        .await
        .expect("the retry with the refreshed token succeeds");
    assert_eq!(server.refreshes.load(Ordering::SeqCst), 1);
    let calls = server.seen.lock().unwrap().len();
    assert_eq!(calls, 4, "obtain, rejected call, refresh, retried call");

    // A platform that keeps rejecting: one more refresh, one retry, then the error.
    server.reject_tokens.store(100, Ordering::SeqCst);
    let err = c
        .members()
        .query_member(QueryMemberRequest::new().open_id("x"))
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Api(e) if e.raw_code == 1002), "{err}");
    assert_eq!(server.refreshes.load(Ordering::SeqCst), 2);
    assert_eq!(server.seen.lock().unwrap().len(), calls + 3);
}

#[tokio::test]
async fn paged_endpoints_stream_every_item() {
    // 25 records in pages of 10: 10, 10, 5, with totalCount 25.
    let (base, calls) = page_server(Pages::Finite(25)).await;
    let c = client(&base, None);
    let items: Vec<_> = c
        .points()
        .list_point_records_stream(ListPointRecordsRequest::new(ListPointRecordsArgs {
            open_id: "oid".into(),
            score_type: ScoreType::from_code(1),
            page_size: 10,
            page_no: 1,
        }))
        .collect()
        .await;
    assert_eq!(items.len(), 25);
    assert!(items.iter().all(Result::is_ok));
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

/// How a test page server answers page `n` of 10 (a server that always
/// answers a full page without `totalCount` once made `_stream` run forever).
#[derive(Clone, Copy)]
enum Pages {
    /// This many records in all, in pages of 10 (the last one short), with `totalCount`.
    Finite(i64),
    /// Distinct full pages, with this `totalCount` if any.
    Endless(Option<i64>),
    /// The same full page whatever the page number.
    Same,
}

async fn page_server(mode: Pages) -> (String, Arc<AtomicU32>) {
    async fn pages(
        State((mode, calls)): State<(Pages, Arc<AtomicU32>)>,
        uri: Uri,
        body: Bytes,
    ) -> Response {
        if uri.path().contains("dss.auth.token.query") {
            return json!({"success": true, "data": {"access_token": "at-secret-0",
                "refresh_token": "rt-secret-0", "expire_in": 7200}})
            .to_string()
            .into_response();
        }
        calls.fetch_add(1, Ordering::SeqCst);
        let req: Value = serde_json::from_slice(&body).unwrap();
        let page = match mode {
            Pages::Same => 1,
            Pages::Finite(_) | Pages::Endless(_) => req["pageNo"].as_i64().unwrap_or(1),
        };
        let first = (page - 1) * 10;
        let n = match mode {
            Pages::Finite(total) => (total - first).clamp(0, 10),
            _ => 10,
        };
        let rows: Vec<Value> = (first..first + n).map(|id| json!({"id": id})).collect();
        let mut reply = json!({"success": true, "data": rows, "pageNo": page, "pageSize": 10});
        if let Pages::Finite(total) | Pages::Endless(Some(total)) = mode {
            reply["totalCount"] = json!(total);
        }
        reply.to_string().into_response()
    }
    let calls = Arc::new(AtomicU32::new(0));
    let app = axum::Router::new()
        .fallback(pages)
        .with_state((mode, calls.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), calls)
}

/// Paging always terminates: on a repeated page, and at the page bound whether or not
/// the server states a (wrong) `totalCount`. The short page is
/// `paged_endpoints_stream_every_item`. Read with the stream's own methods: no stream
/// crate needed.
#[tokio::test]
async fn paging_always_terminates() {
    let request = || {
        ListPointRecordsRequest::new(ListPointRecordsArgs {
            open_id: "oid".into(),
            score_type: ScoreType::from_code(1),
            page_size: 10,
            page_no: 1,
        })
    };
    // A server ignoring the page number: the second page repeats the first, the walk ends.
    let (base, calls) = page_server(Pages::Same).await;
    let c = client(&base, None);
    let items = c
        .points()
        .list_point_records_stream(request())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(items.len(), 10);
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // Full distinct pages forever, with no totalCount or with one far too large: the page
    // bound ends the walk.
    for total in [None, Some(i64::MAX)] {
        let (base, calls) = page_server(Pages::Endless(total)).await;
        let c = client(&base, None);
        let mut stream = c.points().list_point_records_stream(request()).max_pages(7);
        let mut n = 0;
        while let Some(item) = stream.next().await {
            item.unwrap();
            n += 1;
        }
        assert_eq!(n, 70, "{total:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 7, "{total:?}");
    }
    assert_eq!(gree_ump::runtime::DEFAULT_MAX_PAGES, 10_000);
}

/// Every kind of error, and the client itself, printed with Display and Debug: no secret.
#[tokio::test]
async fn no_error_or_debug_text_contains_a_secret() {
    let server = Arc::new(Server::default());
    let base = start(server.clone()).await;
    let c = client(&base, None);
    let mut texts = vec![format!("{c:?}")];
    let mut record = |e: &gree_ump::Error| {
        texts.push(e.to_string());
        texts.push(format!("{e:?}"));
    };
    // An API error (the token travelled in the URL of that call).
    c.members()
        .query_member(QueryMemberRequest::new().open_id("x"))
        .await
        .unwrap();
    *server.canned.lock().unwrap() = Some((
        200,
        json!({"success": false,
        "error_code": 150003, "error_message": "积分不足"})
        .to_string(),
    ));
    let e = c
        .members()
        .query_member(QueryMemberRequest::new().open_id("x"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(gree_ump::ErrorCode::from_code(150003)));
    record(&e);
    // A decode error and an HTTP error.
    *server.canned.lock().unwrap() = Some((200, "{\"success\":tru".into()));
    let e = c
        .members()
        .query_member(QueryMemberRequest::new().open_id("x"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Decode(_)), "{e}");
    record(&e);
    *server.canned.lock().unwrap() = Some((502, "<html>bad gateway</html>".into()));
    let e = c
        .members()
        .query_member(QueryMemberRequest::new().open_id("x"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Http(ref h) if h.status == 502), "{e}");
    record(&e);
    // A transport error: the URL with the token in its query must not be printed.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let c2 = client(&format!("http://{dead}"), None);
    let e = c2
        .members()
        .query_member(QueryMemberRequest::new().open_id("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Token(TokenError::CallFailed { .. })),
        "{e}"
    );
    record(&e);
    // A request refused before sending.
    let e = c
        .members()
        .query_member(QueryMemberRequest::new())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Request(_)), "{e}");
    record(&e);
    texts.push(format!("{:?}", c.runtime().tokens()));
    for text in &texts {
        for secret in [SECRET, "at-secret", "rt-secret"] {
            assert!(!text.contains(secret), "{secret} leaked in: {text}");
        }
        // No signature either: 32 lowercase hex digits in a row.
        assert!(
            !text.as_bytes().windows(32).any(|w| w
                .iter()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())),
            "a signature-like value in: {text}"
        );
    }
}

fn business_calls(server: &Server) -> usize {
    server
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| !s.path.contains("dss.auth"))
        .count()
}

#[tokio::test]
async fn reads_and_keyed_writes_are_retried_unsafe_writes_never() {
    use openplatform_runtime::{CallOptions, RetryPolicy};
    let server = Arc::new(Server::default());
    let base = start(server.clone()).await;
    let policy = RetryPolicy {
        max_attempts: 3,
        initial_backoff: std::time::Duration::from_millis(1),
        max_backoff: std::time::Duration::from_millis(5),
    };
    let c: Client = Client::builder()
        .base_url(&base)
        .app_id(APP_ID)
        .app_secret(SECRET)
        .token_store(Arc::new(MemoryTokenStore::new()))
        .retry_policy(policy)
        .build()
        .unwrap();
    // A read: two busy answers, then success on the third attempt.
    server.busy.store(2, Ordering::SeqCst);
    c.members()
        .query_member(QueryMemberRequest::new().open_id("x"))
        .await
        .expect("third attempt succeeds");
    assert_eq!(business_calls(&server), 3);
    // A keyed write re-sends the same change_id.
    server.busy.store(1, Ordering::SeqCst);
    c.points()
        .change_points(ChangePointsRequest::new(ChangePointsArgs {
            open_id: "o".into(),
            score: 5,
            out_biz_no: "b".into(),
            change_reason: "r".into(),
            change_event: "event_add".into(),
            change_id: "chg-9".into(),
        }))
        .await
        .unwrap();
    let seen = server.seen.lock().unwrap().clone();
    let bodies: Vec<Value> = seen[seen.len() - 2..]
        .iter()
        .map(|s| serde_json::from_slice(&s.body).unwrap())
        .collect();
    assert_eq!(bodies[0], bodies[1]);
    assert_eq!(bodies[0]["change_id"], "chg-9");
    // An unsafe write: one attempt, the busy error is returned.
    let before = business_calls(&server);
    server.busy.store(1, Ordering::SeqCst);
    let err = c
        .sms()
        .send_sms_code(SendSmsCodeRequest::new("13800000000"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(gree_ump::ErrorCode::from_code(500)));
    assert_eq!(business_calls(&server), before + 1);
    // Per call: no retry for this read.
    server.busy.store(1, Ordering::SeqCst);
    let err = c
        .runtime()
        .send_with(
            &QueryMemberRequest::new().open_id("x"),
            CallOptions::default().retry(RetryPolicy::NONE),
        )
        .await
        .unwrap_err();
    assert!(err.is_transient());
    // Attempts are bounded: a platform busy for good is reported after 3.
    let before = business_calls(&server);
    server.busy.store(100, Ordering::SeqCst);
    assert!(
        c.members()
            .query_member(QueryMemberRequest::new().open_id("x"))
            .await
            .is_err()
    );
    assert_eq!(business_calls(&server), before + 3);
    server.busy.store(0, Ordering::SeqCst);
}

#[tokio::test]
async fn a_skewed_clock_is_corrected_and_the_refused_call_resent_once() {
    // The platform's clock is 5 minutes ahead of ours and refuses stale timestamps.
    let platform_clock = Arc::new(ManualClock::new(
        chrono::Utc::now().timestamp_millis() + 300_000,
    ));
    let server = Arc::new(Server {
        clock: Some(platform_clock.clone()),
        check_timestamps: true,
        ..Server::default()
    });
    let base = start(server.clone()).await;
    let store = Arc::new(MemoryTokenStore::new());
    let on_store = || {
        Client::builder()
            .base_url(base.as_str())
            .app_id(APP_ID)
            .app_secret(SECRET)
            .token_store(store.clone())
            .build()
            .unwrap()
    };
    // The day's one token-issuing call is refused for its timestamp: it is not re-sent,
    // as the budget has no unit for a second one (the platform counts calls).
    let c = on_store();
    let err = c
        .members()
        .query_member(QueryMemberRequest::new().open_id("x"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Token(_)), "{err:?}");
    assert_eq!(server.refused_timestamps.load(Ordering::SeqCst), 1);
    assert_eq!(c.runtime().tokens().calls_made(), (1, 0));
    let offset = c.runtime().clock_offset_ms();
    assert!((offset - 300_000).abs() < 2_000, "offset {offset}");
    // The measured offset is kept in the store: once an operator gave the refused call's
    // unit back, the next process starts corrected and its call is accepted at once.
    c.runtime().tokens().forget_obtain().await.unwrap();
    let c = on_store();
    c.members()
        .query_member(QueryMemberRequest::new().open_id("x"))
        .await
        .expect("the new process starts from the stored offset");
    assert_eq!(server.refused_timestamps.load(Ordering::SeqCst), 1);
    assert_eq!(c.runtime().tokens().calls_made(), (1, 0));
    // The platform's clock jumps again (within the 10-minute bound): the business call is
    // refused once, then re-sent.
    platform_clock.advance_ms(180_000);
    c.members()
        .query_member(QueryMemberRequest::new().open_id("x"))
        .await
        .expect("re-sent after the correction");
    assert_eq!(server.refused_timestamps.load(Ordering::SeqCst), 2);
}

/// `success: true` without `data` once became `Ok("")`, `Ok(0)`, an all-`None`
/// struct. Now it is a typed error naming the method, for every endpoint with data; only
/// the endpoint the spec gives no data (5.4) succeeds without it.
#[tokio::test]
async fn a_success_without_data_is_a_typed_error_never_a_default() {
    use openplatform_runtime::DecodeErrorKind;
    let server = Arc::new(Server::default());
    let base = start(server.clone()).await;
    let c = client(&base, None);
    for body in [
        r#"{"success":true,"error_code":200}"#,
        r#"{"success":true,"error_code":null,"data":null}"#,
        r#"{"success":true,"data":""}"#,
    ] {
        *server.canned.lock().unwrap() = Some((200, body.to_owned()));
        let missing = |e: Error<gree_ump::ErrorCode>, method: &str| match e {
            Error::Decode(d) => {
                assert_eq!(d.kind, DecodeErrorKind::MissingData, "{body}");
                assert_eq!(d.method, method);
                assert!(d.to_string().contains(method), "{d}");
            }
            other => panic!("{body}: {other:?}"),
        };
        missing(
            c.members()
                .create_member(CreateMemberRequest::new(CreateMemberArgs {
                    project_id: "1".into(),
                    nickname: "n".into(),
                    phone: "13800000000".into(),
                }))
                .await
                .unwrap_err(),
            "wk.user.info.add",
        );
        missing(
            c.members()
                .query_member(QueryMemberRequest::new().open_id("o"))
                .await
                .unwrap_err(),
            "wk.user.info.query",
        );
        missing(
            c.points()
                .change_points(ChangePointsRequest::new(ChangePointsArgs {
                    open_id: "o".into(),
                    score: 5,
                    out_biz_no: "b".into(),
                    change_reason: "r".into(),
                    change_event: "event_add".into(),
                    change_id: "chg-1".into(),
                }))
                .await
                .unwrap_err(),
            "wk.user.event.score.change",
        );
        missing(
            c.sms()
                .verify_sms_code(VerifySmsCodeRequest::new(VerifySmsCodeArgs {
                    phone: "13800000000".into(),
                    verify_code: "1234".into(),
                }))
                .await
                .unwrap_err(),
            "wk.sms.verify.judge",
        );
    }
    // 5.4 has no data: its success is `()`.
    *server.canned.lock().unwrap() = Some((200, r#"{"success":true,"data":null}"#.to_owned()));
    let verify = VerifyCouponsRequest::new(VerifyCouponsArgs {
        open_id: "o".into(),
        order_no: "order-1".into(),
        third_coupon_codes: vec!["c1".to_owned()],
        verification_time: openplatform_runtime::wire::TimestampMs::from(T0),
        order_amount: yuan("1"),
    });
    c.coupons()
        .verify_coupons(verify)
        .await
        .expect("no data needed");
}

/// Per-call options on the typed API, on the same client.
#[tokio::test]
async fn per_call_timeout_and_retry_apply_to_one_call() {
    use openplatform_runtime::RetryPolicy;
    use std::time::{Duration, Instant};
    let server = Arc::new(Server::default());
    let base = start(server.clone()).await;
    let c = client(&base, None);
    let query = || QueryMemberRequest::new().open_id("o");
    c.members()
        .query_member(query())
        .await
        .expect("warm: token obtained");

    // A slow platform: the call's timeout cuts it short, the client's 30 s does not.
    server.delay_ms.store(3_000, Ordering::SeqCst);
    let started = Instant::now();
    let err = c
        .members()
        .query_member(query())
        .timeout(Duration::from_millis(300))
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(took < Duration::from_millis(2_500), "{took:?}");
    match &err {
        Error::Transport(t) => assert!(t.is_timeout(), "{t}"),
        other => panic!("{other:?}"),
    }
    server.delay_ms.store(0, Ordering::SeqCst);

    // Retries stop at the deadline: a policy of a thousand attempts with pauses of up to
    // 20 ms (10 s on average in all) ends within the call's 300 ms, well before its last
    // attempt. (The pauses are jittered, so the count of attempts varies; the bound does
    // not.)
    let many_retries = RetryPolicy {
        max_attempts: 1_000,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(20),
    };
    server.busy.store(100_000, Ordering::SeqCst);
    let before = business_calls(&server);
    let started = Instant::now();
    let err = c
        .members()
        .query_member(query())
        .retry(many_retries)
        .timeout(Duration::from_millis(300))
        .await
        .unwrap_err();
    let took = started.elapsed();
    // The last attempt's answer, or, when the deadline fell while it was in flight (a
    // slow scheduler under load), its timeout.
    let cut_short = matches!(&err, Error::Transport(t) if t.is_timeout());
    assert!(
        err.code() == Some(gree_ump::ErrorCode::from_code(500)) || cut_short,
        "{err:?}"
    );
    let attempts = business_calls(&server) - before;
    assert!((2..1_000).contains(&attempts), "{attempts} attempts");
    assert!(took < Duration::from_millis(1_500), "{took:?}");

    // No retry for this call only; the client's policy still retries the next one.
    let before = business_calls(&server);
    c.members()
        .query_member(query())
        .retry(RetryPolicy::NONE)
        .await
        .unwrap_err();
    assert_eq!(business_calls(&server), before + 1);
    server.busy.store(1, Ordering::SeqCst);
    c.members()
        .query_member(query())
        .await
        .expect("retried once");
    server.busy.store(0, Ordering::SeqCst);

    // The same token served every call: options never need a second client.
    assert_eq!(server.obtains.load(Ordering::SeqCst), 1);
}
