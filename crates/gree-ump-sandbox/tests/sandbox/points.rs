//! Point changes, idempotency, rollbacks, records.

use serde_json::json;

use gree_ump_sandbox::SandboxConfig;

use crate::common::{PHONE, TestClient};

#[tokio::test]
async fn change_is_idempotent_on_change_id() {
    let c = TestClient::ready().await;
    let open_id = c.member(PHONE).await;
    let body = json!({
        "score": 20, "change_reason": "add", "change_event": "event_add", "activity_score": 10,
        "open_id": PHONE, "change_id": "1632654222704", "out_biz_no": "1632654151087",
    });
    let first = c.call("wk.user.event.score.change", body.clone()).await;
    let sid = first.expect_ok()["statement_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(sid.starts_with("SP") && sid.len() == 20, "{sid}");
    assert_eq!(c.balance(&open_id), 30);

    // Any reuse of the change_id, even the identical request (the retry of a change
    // whose reply was lost), is 150002 as the document states: no second credit.
    for replay in [body.clone(), {
        let mut b = body.clone();
        b["open_id"] = json!(open_id);
        b
    }] {
        let again = c.call("wk.user.event.score.change", replay).await;
        again.expect_err(150002);
        assert!(again.message().starts_with("唯一标识已存在"));
    }
    assert_eq!(c.balance(&open_id), 30);
    assert_eq!(
        c.sandbox.control().ledger(&open_id).unwrap().entries.len(),
        1
    );

    // The same change_id for another change: 150002.
    let mut other = body.clone();
    other["score"] = json!(21);
    let a = c.call("wk.user.event.score.change", other).await;
    a.expect_err(150002);
    assert!(a.message().starts_with("唯一标识已存在"));
    assert_eq!(c.balance(&open_id), 30);
}

/// The replay-as-success behaviour of earlier sandbox versions, kept as an explicit option
/// (errata E69): the identical request under a used key answers the first answer.
#[tokio::test]
async fn identical_replay_answers_the_first_answer_only_when_asked() {
    let mut c =
        TestClient::start_with(SandboxConfig::default().with_replay_identical_keys(true)).await;
    c.obtain().await.expect_ok();
    let open_id = c.member(PHONE).await;
    let body = json!({"open_id": open_id, "score": 7, "out_biz_no": "o", "change_reason": "r",
                      "change_event": "event_add", "change_id": "k1"});
    let sid = c
        .call("wk.user.event.score.change", body.clone())
        .await
        .expect_ok()["statement_id"]
        .clone();
    let again = c.call("wk.user.event.score.change", body.clone()).await;
    assert_eq!(again.expect_ok()["statement_id"], sid);
    // Another request under the key stays 150002.
    let mut other = body;
    other["score"] = json!(8);
    c.call("wk.user.event.score.change", other)
        .await
        .expect_err(150002);
    let rb = json!({"open_id": open_id, "rollback_score": 7, "change_id": "k1"});
    let first = c
        .call("wk.user.event.score.rollback", rb.clone())
        .await
        .expect_ok()["statement_id"]
        .clone();
    assert_eq!(
        c.call("wk.user.event.score.rollback", rb).await.expect_ok()["statement_id"],
        first
    );
    assert_eq!(c.balance(&open_id), 0);
}

#[tokio::test]
async fn change_errors_and_balance_checks() {
    let c = TestClient::ready().await;
    let open_id = c.member(PHONE).await;
    c.change(&open_id, "event_subtract", 1, "d0")
        .await
        .expect_err(150008);
    c.change(&open_id, "event_add", 50, "c1").await.expect_ok();
    c.change(&open_id, "event_subtract", 51, "d1")
        .await
        .expect_err(150008);
    // A refused change leaves its change_id free.
    c.change(&open_id, "event_subtract", 50, "d1")
        .await
        .expect_ok();
    assert_eq!(c.balance(&open_id), 0);
    c.change(&open_id, "event_bonus", 5, "e1")
        .await
        .expect_err(150001);
    c.change("nobody", "event_add", 5, "e2")
        .await
        .expect_err(110004);
    c.change(&open_id, "event_add", -5, "e3")
        .await
        .expect_err(1001);
    // Missing required field (change_id).
    c.call(
        "wk.user.event.score.change",
        json!({"open_id": open_id, "score": 1, "out_biz_no": "x", "change_reason": "r", "change_event": "event_add"}),
    )
    .await
    .expect_err(1001);
    // The document's example sends change_id as a number: accepted (tolerant decoding).
    c.call(
        "wk.user.event.score.change",
        json!({"score":20,"change_reason":"add","change_event":"event_add","activity_score":10,"open_id":PHONE,"change_id":1632654222704u64,"out_biz_no":"1632654151087"}),
    )
    .await
    .expect_ok();
}

#[tokio::test]
async fn rollback_by_change_id_of_a_change_that_never_happened() {
    let c = TestClient::ready().await;
    let open_id = c.member(PHONE).await;
    let a = c
        .call(
            "wk.user.event.score.rollback",
            json!({"open_id": open_id, "rollback_score": 20, "change_id": "never-sent"}),
        )
        .await;
    a.expect_err(1005);
    assert_eq!(a.message(), "未查询到该积分变更信息");
    assert_eq!(c.balance(&open_id), 0);
}

#[tokio::test]
async fn rollback_paths() {
    let c = TestClient::ready().await;
    let open_id = c.member(PHONE).await;
    c.change(&open_id, "event_add", 100, "c1").await.expect_ok();
    let sid2 = c.change(&open_id, "event_add", 40, "c2").await.expect_ok()["statement_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(c.balance(&open_id), 140);

    // Recovery path: change_id of the change, no statement_id.
    let recovery = json!({"open_id": open_id, "rollback_score": 100, "change_id": "c1"});
    let a = c
        .call("wk.user.event.score.rollback", recovery.clone())
        .await;
    let rb = a.expect_ok()["statement_id"].as_str().unwrap().to_owned();
    assert_eq!(c.balance(&open_id), 40);
    assert!(rb.starts_with("SP"), "{rb}");
    // Polling again: the rollback's key is used, 150002; no second rollback.
    let a = c.call("wk.user.event.score.rollback", recovery).await;
    a.expect_err(150002);
    assert_eq!(c.balance(&open_id), 40);
    // Nothing left of c1.
    c.call(
        "wk.user.event.score.rollback",
        json!({"open_id": open_id, "rollback_score": 1, "statement_id": c.sandbox.control().ledger(&open_id).unwrap().entries[0].statement_id, "change_id": "r-extra"}),
    )
    .await
    .expect_err(150007);

    // Normal path: statement_id and a fresh change_id; partial amounts allowed.
    let normal =
        json!({"open_id": PHONE, "statement_id": sid2, "rollback_score": 15, "change_id": "r1"});
    c.call("wk.user.event.score.rollback", normal)
        .await
        .expect_ok();
    assert_eq!(c.balance(&open_id), 25);
    // The same rollback key for a different rollback: 150002.
    c.call(
        "wk.user.event.score.rollback",
        json!({"open_id": PHONE, "statement_id": sid2, "rollback_score": 5, "change_id": "r1"}),
    )
    .await
    .expect_err(150002);
    // Unknown statement: 150004.
    c.call(
        "wk.user.event.score.rollback",
        json!({"open_id": PHONE, "statement_id": "SP000", "rollback_score": 5, "change_id": "r2"}),
    )
    .await
    .expect_err(150004);

    // The points were spent: rolling back the credit is 150009.
    c.change(&open_id, "event_subtract", 20, "spend")
        .await
        .expect_ok();
    assert_eq!(c.balance(&open_id), 5);
    c.call(
        "wk.user.event.score.rollback",
        json!({"open_id": PHONE, "statement_id": sid2, "rollback_score": 25, "change_id": "r3"}),
    )
    .await
    .expect_err(150009);
    // Rolling back the debit gives the points back.
    c.call(
        "wk.user.event.score.rollback",
        json!({"open_id": PHONE, "rollback_score": 20, "change_id": "spend"}),
    )
    .await
    .expect_ok();
    assert_eq!(c.balance(&open_id), 25);
    // Growth value went down with the rolled-back credits only.
    assert_eq!(
        c.sandbox.control().ledger(&open_id).unwrap().growth_value,
        25
    );
}

#[tokio::test]
async fn partial_rollback_by_items() {
    let c = TestClient::ready().await;
    let open_id = c.member(PHONE).await;
    c.call(
        "wk.user.event.score.change",
        json!({"open_id": open_id, "score": 20, "activity_score": 10, "out_biz_no": "1632720420715",
               "order_amount": 203, "change_reason": "buy", "change_event": "event_add", "change_id": "buy-1"}),
    )
    .await
    .expect_ok();
    let items = json!([{"order_no": "1632723357482", "base_score": 8, "total_price": 100, "activity_score": 5,
                        "use_score": 0, "item_name": "护手霜", "item_num": 2, "item_no": "5408676771509321001"}]);
    let body = json!({"open_id": PHONE, "change_id": "part-1", "parent_order_no": "1632720420715",
                      "items": items.to_string()});
    let sid = c
        .call("wk.user.event.score.rollback.part", body.clone())
        .await
        .expect_ok()["statement_id"]
        .clone();
    assert_eq!(c.balance(&open_id), 17);
    assert!(sid.is_string());
    // The same key again, identical: 150002, nothing moves.
    c.call("wk.user.event.score.rollback.part", body)
        .await
        .expect_err(150002);
    assert_eq!(c.balance(&open_id), 17);
    // More than the order earned: 150007.
    let too_much = json!([{"order_no": "r2", "item_no": "x", "total_price": 1, "base_score": 18}]);
    c.call(
        "wk.user.event.score.rollback.part",
        json!({"open_id": PHONE, "change_id": "part-2", "parent_order_no": "1632720420715", "items": too_much}),
    )
    .await
    .expect_err(150007);
    // Items without scores: in proportion to the price (103 of 203 yuan of 30 points → 15).
    let by_price = json!([{"order_no": "r3", "item_no": "y", "total_price": 103}]);
    c.call(
        "wk.user.event.score.rollback.part",
        json!({"open_id": PHONE, "change_id": "part-3", "parent_order_no": "1632720420715", "items": by_price}),
    )
    .await
    .expect_ok();
    assert_eq!(c.balance(&open_id), 2);
    // Unknown order and unknown change: 1005.
    c.call(
        "wk.user.event.score.rollback.part",
        json!({"open_id": PHONE, "change_id": "part-4", "parent_order_no": "nope", "items": by_price}),
    )
    .await
    .expect_err(1005);
    // items is required by the spec.
    c.call(
        "wk.user.event.score.rollback.part",
        json!({"open_id": PHONE, "change_id": "part-5", "parent_order_no": "1632720420715"}),
    )
    .await
    .expect_err(1001);
}

#[tokio::test]
async fn records_are_paged_and_filtered() {
    let c = TestClient::ready().await;
    let open_id = c.member(PHONE).await;
    for i in 0..5 {
        c.change(&open_id, "event_add", 10 + i, &format!("in-{i}"))
            .await
            .expect_ok();
    }
    for i in 0..3 {
        c.change(&open_id, "event_subtract", 1 + i, &format!("out-{i}"))
            .await
            .expect_ok();
    }
    let page = |score_type: i64, page_no: i64, page_size: i64| {
        c.call(
            "wk.user.score.record",
            json!({"open_id": open_id, "score_type": score_type, "pageSize": page_size, "pageNo": page_no}),
        )
    };
    let a = page(0, 1, 3).await;
    let rows = a.expect_ok().as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(a.json["totalCount"], 8);
    assert_eq!(a.json["pageNo"], 1);
    assert_eq!(a.json["pageSize"], 3);
    // Newest first: the last debit.
    assert_eq!(rows[0]["amount"], -3);
    assert_eq!(rows[0]["desc"], "test");
    let created = rows[0]["createTime"].as_str().unwrap();
    assert_eq!(created.len(), 19, "{created}");
    let a = page(0, 3, 3).await;
    assert_eq!(a.expect_ok().as_array().unwrap().len(), 2);
    let a = page(1, 1, 50).await;
    assert_eq!(a.json["totalCount"], 5);
    assert!(
        a.data()
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["amount"].as_i64().unwrap() > 0)
    );
    let a = page(2, 1, 50).await;
    assert_eq!(a.json["totalCount"], 3);
    page(7, 1, 50).await.expect_err(1001);
    page(0, 0, 50).await.expect_err(1001);
    // The example's strings for integers are accepted.
    let a = c
        .call(
            "wk.user.score.record",
            json!({"open_id": PHONE, "score_type": "1", "pageSize": "10", "pageNo": "1"}),
        )
        .await;
    assert_eq!(a.json["totalCount"], 5);
    // The generated client type decodes a record.
    let rec: gree_ump::models::PointRecord = serde_json::from_value(a.data()[0].clone()).unwrap();
    assert_eq!(rec.amount, Some(14));
}
