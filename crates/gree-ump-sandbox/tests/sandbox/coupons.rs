//! Coupon templates, grants, status, verification, listing.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{PHONE, TestClient};

async fn template(c: &TestClient, third_id: &str, extra: Value) -> i64 {
    let mut body = json!({"third_coupon_id": third_id, "coupon_category": 0, "name": "满100减10",
                          "discount_fee": 1000, "coupon_type": 0, "fixed_term": 10,
                          "rules": "满100元才能使用", "minimum_fee": 10000,
                          "stores": "[{\"id\":\"1\",\"name\":\"唐家湾\"}]"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    c.call("wk.coupon.template.add", body)
        .await
        .expect_ok()
        .as_i64()
        .unwrap()
}

async fn give(c: &TestClient, third_id: &str, grants: Value, number: i64) -> crate::common::Answer {
    c.call(
        "wk.coupon.give",
        json!({"number": number, "coupon_set": grants.to_string(), "create_time": c.now(),
               "third_coupon_id": third_id}),
    )
    .await
}

fn verify(c: &TestClient, codes: &str, order_no: &str, amount: f64) -> Value {
    json!({"order_no": order_no, "verification_time": c.now(), "open_id": PHONE,
           "order_amount": amount, "third_coupon_codes": codes})
}

#[tokio::test]
async fn template_give_and_list() {
    let c = TestClient::ready().await;
    let open_id = c.member(PHONE).await;
    let tid = template(&c, "tpl-1", json!({})).await;
    assert_eq!(
        template(&c, "tpl-1", json!({})).await,
        tid,
        "same request, same template"
    );
    c.call(
        "wk.coupon.template.add",
        json!({"third_coupon_id": "tpl-1", "coupon_category": 0, "name": "other", "discount_fee": 1,
               "coupon_type": 0, "fixed_term": 1, "rules": "r"}),
    )
    .await
    .expect_err(1001);

    let a = give(
        &c,
        "tpl-1",
        json!([{"open_id": PHONE, "params_type": "2", "coupon_number": "A1"},
               {"open_id": open_id, "params_type": "1", "coupon_number": "A2"}]),
        1,
    )
    .await;
    let given = a.expect_ok().as_array().unwrap().clone();
    assert_eq!(given.len(), 2);
    for g in &given {
        // A 19-digit JSON number, as in the document's example.
        let code = g["code"].as_i64().unwrap();
        assert_eq!(code.to_string().len(), 19);
        assert_eq!(g["open_id"], open_id.as_str());
    }
    // The client type decodes them (codes kept exactly as text).
    let typed: Vec<gree_ump::models::GivenCoupon> = serde_json::from_value(json!(given)).unwrap();
    assert_eq!(
        typed[0].code.as_deref(),
        Some(given[0]["code"].to_string().as_str())
    );

    // Giving A1 again to the same member answers the same coupon.
    let again = give(
        &c,
        "tpl-1",
        json!([{"open_id": PHONE, "params_type": "2", "coupon_number": "A1"}]),
        1,
    )
    .await;
    assert_eq!(again.expect_ok()[0]["code"], given[0]["code"]);

    give(
        &c,
        "tpl-404",
        json!([{"open_id": PHONE, "params_type": "2", "coupon_number": "B1"}]),
        1,
    )
    .await
    .expect_err(130004);
    give(
        &c,
        "tpl-1",
        json!([{"open_id": "13900000000", "params_type": "2", "coupon_number": "B1"}]),
        1,
    )
    .await
    .expect_err(110004);

    // number 3: codes B1, B1-2, B1-3.
    let a = give(
        &c,
        "tpl-1",
        json!([{"open_id": PHONE, "params_type": "2", "coupon_number": "B1"}]),
        3,
    )
    .await;
    assert_eq!(a.expect_ok().as_array().unwrap().len(), 3);

    let list = |page_no: i64, page_size: i64, status: Option<i64>| {
        let mut body = json!({"open_id": open_id, "page_no": page_no, "page_size": page_size});
        if let Some(s) = status {
            body["status"] = json!(s);
        }
        c.call("wk.coupon.user.list", body)
    };
    let a = list(1, 2, None).await;
    assert_eq!(a.expect_ok().as_array().unwrap().len(), 2);
    assert_eq!(
        (a.json["totalCount"].as_i64(), a.json["pageSize"].as_i64()),
        (Some(5), Some(2))
    );
    let a = list(3, 2, None).await;
    let row = &a.expect_ok()[0];
    assert_eq!(row["coupon_info_id"], tid);
    assert_eq!(row["status"], 1);
    assert_eq!(row["minimum_fee"], 10000);
    assert_eq!(row["fixed_term"], 10);
    assert_eq!(row["stores"], "[{\"id\":\"1\",\"name\":\"唐家湾\"}]");
    assert_eq!(
        row["end_time"].as_i64().unwrap() - row["begin_time"].as_i64().unwrap(),
        10 * 86_400_000
    );
    let typed: gree_ump::models::UserCoupon = serde_json::from_value(row.clone()).unwrap();
    assert_eq!(typed.stores.unwrap()[0].name.as_deref(), Some("唐家湾"));
    // Default page size 15.
    let a = c
        .call("wk.coupon.user.list", json!({"open_id": PHONE}))
        .await;
    assert_eq!(
        (a.json["pageNo"].as_i64(), a.json["pageSize"].as_i64()),
        (Some(1), Some(15))
    );
    let m = c.call("wk.user.info.query", json!({"phone": PHONE})).await;
    assert_eq!(m.data()["coupon_num"], 5);
}

#[tokio::test]
async fn verification_transitions() {
    let c = TestClient::ready().await;
    c.member(PHONE).await;
    template(&c, "tpl", json!({})).await;
    give(
        &c,
        "tpl",
        json!([{"open_id": PHONE, "params_type": "2", "coupon_number": "C1"},
               {"open_id": PHONE, "params_type": "2", "coupon_number": "C2"},
               {"open_id": PHONE, "params_type": "2", "coupon_number": "C3"}]),
        1,
    )
    .await
    .expect_ok();

    // Below the minimum spend (100 yuan): 130003.
    c.call("wk.coupon.verification", verify(&c, "C1", "ord-1", 99.99))
        .await
        .expect_err(130003);
    // Unknown code among known ones: 130002, nothing used.
    c.call(
        "wk.coupon.verification",
        verify(&c, "C1, X9", "ord-1", 150.0),
    )
    .await
    .expect_err(130002);
    // Two at once (the description's ", " separator).
    let both = verify(&c, "C1, C2", "ord-1", 150.0);
    let a = c.call("wk.coupon.verification", both.clone()).await;
    assert!(a.expect_ok().is_null());
    // The identical verification again (a re-send after a lost reply): accepted (E70).
    c.call("wk.coupon.verification", both.clone())
        .await
        .expect_ok();
    // The same order at another verification_time is not a re-send: already used.
    let mut later = both;
    later["verification_time"] = json!(c.now() + 1_000);
    c.call("wk.coupon.verification", later)
        .await
        .expect_err(130003);
    // On another order: already used.
    let a = c
        .call("wk.coupon.verification", verify(&c, "C1", "ord-2", 150.0))
        .await;
    a.expect_err(130003);
    assert!(a.message().contains("used"));

    // Status sync: used is final; C3 → in use → valid → cancelled (final).
    let sync = |code: &str, status: i64| {
        c.call(
            "wk.coupon.sync.status",
            json!({"third_coupon_code": code, "open_id": PHONE, "status": status}),
        )
    };
    sync("C1", 1).await.expect_err(130003);
    sync("C1", 2).await.expect_ok();
    assert_eq!(sync("C3", 3).await.expect_ok(), "C3");
    sync("C3", 1).await.expect_ok();
    sync("C3", 0).await.expect_ok();
    sync("C3", 1).await.expect_err(130003);
    c.call("wk.coupon.verification", verify(&c, "C3", "ord-3", 150.0))
        .await
        .expect_err(130003);
    sync("C404", 1).await.expect_err(130002);
    sync("C3", 9).await.expect_err(1001);

    let used = c
        .call(
            "wk.coupon.user.list",
            json!({"open_id": PHONE, "status": 2}),
        )
        .await;
    assert_eq!(used.json["totalCount"], 2);
    assert_eq!(used.data()[0]["use_order_no"], "ord-1");
}

#[tokio::test]
async fn coupons_expire_and_start_with_the_clock() {
    let mut c = TestClient::ready().await;
    c.member(PHONE).await;
    template(&c, "days", json!({"fixed_term": 1})).await;
    let now = c.now();
    template(
        &c,
        "later",
        json!({"coupon_type": 1, "begin_time": now + 3_600_000, "end_time": now + 7_200_000}),
    )
    .await;
    give(
        &c,
        "days",
        json!([{"open_id": PHONE, "params_type": "2", "coupon_number": "D1"}]),
        1,
    )
    .await
    .expect_ok();
    give(
        &c,
        "later",
        json!([{"open_id": PHONE, "params_type": "2", "coupon_number": "L1"}]),
        1,
    )
    .await
    .expect_ok();

    let a = c
        .call("wk.coupon.verification", verify(&c, "L1", "o", 150.0))
        .await;
    a.expect_err(130003);
    let listed = c
        .call("wk.coupon.user.list", json!({"open_id": PHONE}))
        .await;
    let l1 = listed
        .data()
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["third_coupon_code"] == "L1")
        .unwrap()
        .clone();
    assert_eq!(l1["status"], 4, "not started");

    c.sandbox.control().advance(Duration::from_secs(3_601));
    c.call("wk.coupon.verification", verify(&c, "L1", "o", 150.0))
        .await
        .expect_ok();

    c.sandbox.control().advance(Duration::from_secs(86_400));
    c.refresh().await.expect_ok();
    c.call("wk.coupon.verification", verify(&c, "D1", "o2", 150.0))
        .await
        .expect_err(130003);
    let expired = c
        .call(
            "wk.coupon.user.list",
            json!({"open_id": PHONE, "status": 3}),
        )
        .await;
    assert_eq!(expired.json["totalCount"], 1);
    assert_eq!(expired.data()[0]["third_coupon_code"], "D1");
    let valid = c
        .call(
            "wk.coupon.user.list",
            json!({"open_id": PHONE, "status": 1}),
        )
        .await;
    assert_eq!(valid.json["totalCount"], 0);
}

#[tokio::test]
async fn template_rules_and_stock() {
    let c = TestClient::ready().await;
    c.member(PHONE).await;
    c.member("13900000000").await;
    // coupon_type 1 without its period: the spec's required_if rule.
    c.call(
        "wk.coupon.template.add",
        json!({"third_coupon_id": "x", "coupon_category": 0, "name": "n", "discount_fee": 1,
               "coupon_type": 1, "rules": "r"}),
    )
    .await
    .expect_err(1001);
    // A discount of 120 %.
    c.call(
        "wk.coupon.template.add",
        json!({"third_coupon_id": "x", "coupon_category": 2, "name": "n", "discount_fee": 120,
               "coupon_type": 0, "fixed_term": 3, "rules": "r"}),
    )
    .await
    .expect_err(1001);
    template(&c, "one-each", json!({"quantity": 2, "claim_number": 1})).await;
    give(
        &c,
        "one-each",
        json!([{"open_id": PHONE, "params_type": "2", "coupon_number": "S1"}]),
        1,
    )
    .await
    .expect_ok();
    give(
        &c,
        "one-each",
        json!([{"open_id": PHONE, "params_type": "2", "coupon_number": "S2"}]),
        1,
    )
    .await
    .expect_err(130001);
    give(
        &c,
        "one-each",
        json!([{"open_id": "13900000000", "params_type": "2", "coupon_number": "S3"}]),
        1,
    )
    .await
    .expect_ok();
    template(&c, "stock", json!({"quantity": 1})).await;
    give(
        &c,
        "stock",
        json!([{"open_id": PHONE, "params_type": "2", "coupon_number": "T1"}]),
        2,
    )
    .await
    .expect_err(130001);
}

#[tokio::test]
async fn user_list_over_get() {
    let c = TestClient::ready().await;
    c.member(PHONE).await;
    template(&c, "tpl", json!({})).await;
    give(
        &c,
        "tpl",
        json!([{"open_id": PHONE, "params_type": "2", "coupon_number": "G1"}]),
        1,
    )
    .await
    .expect_ok();
    let at = c.access_token.clone().unwrap();
    let resp = c
        .send_raw(
            reqwest::Method::GET,
            "wk.coupon.user.list",
            &[
                ("access_token", &at),
                ("open_id", PHONE),
                ("page_size", "15"),
                ("status", "1"),
            ],
            c.now(),
            "",
            c.sandbox.app_secret(),
        )
        .await
        .unwrap();
    let a = TestClient::answer(resp).await;
    assert_eq!(a.json["totalCount"], 1);
    assert_eq!(a.expect_ok()[0]["third_coupon_code"], "G1");
}
