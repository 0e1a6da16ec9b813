//! Orders and returns.

use serde_json::{Value, json};

use crate::common::{PHONE, TestClient};

fn order(order_no: &str, amount: f64, score: i64) -> Value {
    json!({"phone": PHONE, "order_no": order_no, "order_amount": amount, "order_score": score,
           "consume_date": "2021-08-24 00:00:00"})
}

fn refund(order_no: &str, parent: &str, amount: &str) -> String {
    // The amount is written verbatim: exact decimals on the wire.
    format!(
        r#"{{"phone":"{PHONE}","order_no":"{order_no}","parent_order_no":"{parent}","order_amount":{amount},"consume_date":"2021-08-25 10:00:00"}}"#
    )
}

#[tokio::test]
async fn order_credits_points_and_replays_by_order_no() {
    let c = TestClient::ready().await;
    let open_id = c.member(PHONE).await;
    let a = c.call("wk.user.order.add", order("o-1", 1000.4, 100)).await;
    let id = a.expect_ok().as_i64().unwrap();
    assert_eq!(c.balance(&open_id), 100);
    let again = c.call("wk.user.order.add", order("o-1", 1000.4, 100)).await;
    assert_eq!(again.expect_ok().as_i64(), Some(id));
    assert_eq!(c.balance(&open_id), 100);
    c.call("wk.user.order.add", order("o-1", 1000.4, 101))
        .await
        .expect_err(1001);

    // The document's own example (item_info_list as a string of string values).
    let body = r#"{"order_no": "test-order-no101", "item_info_list": "[{\"item_no\": \"123124\", \"item_name\": \"商品名称\", \"item_price\": \"125.2\", \"add_score\": \"100\", \"active_score\": \"120\", \"use_score\": \"20\", \"deduction_money\": \"120\", \"item_num\": \"120\"}]", "phone": "13800000000", "order_amount": 1000, "order_score": 5, "fin_entity_info": "[{\"fin_entity\": \"6812728783716537794\"}]", "consume_date": "2021-08-24 00:00:00"}"#;
    c.call_text("wk.user.order.add", body).await.expect_ok();
    // 100 + 5 earned − 20 spent.
    assert_eq!(c.balance(&open_id), 85);
}

#[tokio::test]
async fn order_errors() {
    let c = TestClient::ready().await;
    c.member(PHONE).await;
    let mut body = order("o-1", 10.0, 1);
    body.as_object_mut().unwrap().remove("phone");
    c.call("wk.user.order.add", body.clone())
        .await
        .expect_err(110002);
    body["phone"] = json!("12345");
    c.call("wk.user.order.add", body.clone())
        .await
        .expect_err(120001);
    body["phone"] = json!("13900000000");
    c.call("wk.user.order.add", body.clone())
        .await
        .expect_err(110004);
    body["phone"] = json!(PHONE);
    // Without order_score (as 4.1's own example): accepted, and it earns nothing (E75).
    body.as_object_mut().unwrap().remove("order_score");
    let before = c.balance(PHONE);
    c.call("wk.user.order.add", body.clone()).await.expect_ok();
    assert_eq!(c.balance(PHONE), before);
    // An order_score that is not an integer is still refused.
    body["order_score"] = json!("many");
    body["order_no"] = json!("o-1b");
    c.call("wk.user.order.add", body.clone())
        .await
        .expect_err(1001);
    // Points spent beyond the balance: 150003.
    let spend = json!({"phone": PHONE, "order_no": "o-2", "order_amount": 10, "order_score": 1,
                       "consume_date": "2021-08-24 00:00:00",
                       "item_info_list": [{"item_no": "1", "use_score": "5"}]});
    c.call("wk.user.order.add", spend).await.expect_err(150003);
    // Three decimals are not money.
    c.call_text(
        "wk.user.order.add",
        &format!(r#"{{"phone":"{PHONE}","order_no":"o-3","order_amount":1.005,"order_score":1,"consume_date":"2021-08-24 00:00:00"}}"#),
    )
    .await
    .expect_err(1001);
}

#[tokio::test]
async fn partial_then_whole_return() {
    let c = TestClient::ready().await;
    let open_id = c.member(PHONE).await;
    c.call("wk.user.order.add", order("o-1", 200.0, 100))
        .await
        .expect_ok();
    assert_eq!(c.balance(&open_id), 100);

    // 50.50 of 200 yuan: 25 points (rounded down) taken back.
    let a = c
        .call_text("wk.user.refund.order.part", &refund("r-1", "o-1", "50.50"))
        .await;
    let rid = a.expect_ok().as_i64().unwrap();
    assert_eq!(c.balance(&open_id), 75);
    // Replay.
    let a = c
        .call_text("wk.user.refund.order.part", &refund("r-1", "o-1", "50.50"))
        .await;
    assert_eq!(a.expect_ok().as_i64(), Some(rid));
    assert_eq!(c.balance(&open_id), 75);
    // More than is left: 150007.
    c.call_text("wk.user.refund.order.part", &refund("r-2", "o-1", "150"))
        .await
        .expect_err(150007);
    // The whole return takes back the rest.
    c.call_text(
        "wk.user.refund.order.complete",
        &refund("r-3", "o-1", "149.50"),
    )
    .await
    .expect_ok();
    assert_eq!(c.balance(&open_id), 0);
    c.call_text("wk.user.refund.order.part", &refund("r-4", "o-1", "1"))
        .await
        .expect_err(150007);
    // Unknown parent order: 120002.
    c.call_text(
        "wk.user.refund.order.complete",
        &refund("r-5", "o-404", "1"),
    )
    .await
    .expect_err(120002);
    let ledger = c.sandbox.control().ledger(&open_id).unwrap();
    assert_eq!(ledger.growth_value, 0);
}

#[tokio::test]
async fn return_needs_the_points_back() {
    let c = TestClient::ready().await;
    let open_id = c.member(PHONE).await;
    c.call("wk.user.order.add", order("o-1", 100.0, 60))
        .await
        .expect_ok();
    c.change(&open_id, "event_subtract", 50, "spend")
        .await
        .expect_ok();
    c.call_text(
        "wk.user.refund.order.complete",
        &refund("r-1", "o-1", "100"),
    )
    .await
    .expect_err(150009);
    // Partial with explicit item scores.
    let body = format!(
        r#"{{"phone":"{PHONE}","order_no":"r-2","parent_order_no":"o-1","order_amount":10,"consume_date":"2021-08-25 10:00:00","item_info_list":"[{{\"item_no\":\"1\",\"add_score\":\"6\",\"active_score\":\"4\"}}]"}}"#
    );
    c.call_text("wk.user.refund.order.part", &body)
        .await
        .expect_ok();
    assert_eq!(c.balance(&open_id), 0);
}
