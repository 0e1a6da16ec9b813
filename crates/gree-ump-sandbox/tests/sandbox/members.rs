//! Members, levels, member codes.

use std::time::Duration;

use serde_json::json;

use crate::common::{PHONE, TestClient};

#[tokio::test]
async fn create_and_query_by_open_id_or_phone() {
    let c = TestClient::ready().await;
    let a = c
        .call(
            "wk.user.info.add",
            json!({
                "outer_user_id": "out001", "q_id": "qId=123", "project_id": "18756",
                "nickname": "张三", "realname": "张达三", "phone": PHONE, "gender": 1,
                "birthday": "1994-09-28", "country": "中国", "province": "广东", "city": "深圳",
                "id_card": "350322198209116378", "company_name": "格力集团", "remark": "备注",
            }),
        )
        .await;
    let open_id = a.expect_ok().as_str().unwrap().to_owned();
    assert_eq!(open_id.len(), 32);

    for body in [json!({"open_id": open_id}), json!({"phone": PHONE})] {
        let a = c.call("wk.user.info.query", body).await;
        let m = a.expect_ok();
        assert_eq!(m["open_id"], open_id.as_str());
        assert_eq!(m["nickname"], "张三");
        assert_eq!(m["realname"], "张达三");
        assert_eq!(m["gender"], 1);
        assert_eq!(m["birthday"], "1994-09-28");
        // The examples' wire shape: level_num, project_id as a number.
        assert_eq!(m["level_num"], 1);
        assert_eq!(m["level_name"], "一级会员");
        assert_eq!(m["project_id"], 18756);
        assert_eq!(m["score"], 0);
        assert_eq!(m["next_level_growth_value"], 300);
        assert_eq!(m["next_level_num"], 2);
        assert_eq!(m["is_max_level"], 0);
        assert_eq!(m["phone"], PHONE);
        assert!(m["register_time"].as_i64().unwrap() > 0);
    }
    // The generated client type decodes it.
    let info: gree_ump::models::MemberInfo = serde_json::from_value(
        c.call("wk.user.info.query", json!({"phone": PHONE}))
            .await
            .data()
            .clone(),
    )
    .unwrap();
    assert_eq!(info.level_number, Some(1));
    assert_eq!(info.project_id.as_deref(), Some("18756"));

    // Registering the phone again answers the same member.
    let again = c.member(PHONE).await;
    assert_eq!(again, open_id);
}

#[tokio::test]
async fn member_errors() {
    let c = TestClient::ready().await;
    c.call("wk.user.info.query", json!({}))
        .await
        .expect_err(110002);
    c.call("wk.user.info.query", json!({"open_id": "", "phone": null}))
        .await
        .expect_err(110002);
    c.call("wk.user.info.query", json!({"phone": "13999999999"}))
        .await
        .expect_err(110004);
    c.call(
        "wk.user.info.add",
        json!({"project_id": "1", "nickname": "n"}),
    )
    .await
    .expect_err(110001);
    c.call(
        "wk.user.info.add",
        json!({"project_id": "1", "nickname": "n", "phone": " "}),
    )
    .await
    .expect_err(110001);
    // A field the spec requires: nickname.
    let a = c
        .call(
            "wk.user.info.add",
            json!({"project_id": "1", "phone": PHONE}),
        )
        .await;
    a.expect_err(1001);
    assert!(a.message().contains("nickname"), "{}", a.message());
    c.call(
        "wk.user.info.add",
        json!({"project_id": "1", "nickname": "n", "phone": "12345"}),
    )
    .await
    .expect_err(1001);
    c.call(
        "wk.user.info.add",
        json!({"project_id": "1", "nickname": "n", "phone": PHONE, "gender": "x"}),
    )
    .await
    .expect_err(1001);
}

#[tokio::test]
async fn levels_follow_growth_value() {
    let c = TestClient::ready().await;
    let open_id = c.member(PHONE).await;
    let level = |growth: i64| {
        let c = &c;
        let open_id = open_id.clone();
        async move {
            assert!(c.sandbox.control().set_growth_value(&open_id, growth));
            c.call("wk.user.info.query", json!({"open_id": open_id}))
                .await
                .expect_ok()
                .clone()
        }
    };
    let m = level(299).await;
    assert_eq!(
        (m["level_num"].as_i64(), m["rights"].is_null()),
        (Some(1), true)
    );
    let m = level(300).await;
    assert_eq!(m["level_num"], 2);
    assert_eq!(m["next_level_num"], 3);
    assert_eq!(m["next_level_growth_value"], 1000);
    let rights: serde_json::Value = serde_json::from_str(m["rights"].as_str().unwrap()).unwrap();
    assert_eq!(rights[0]["name"], "免费停车");
    let m = level(50_000).await;
    assert_eq!(m["level_num"], 7);
    assert_eq!(m["is_max_level"], 1);
    assert_eq!(m["next_level_num"], 7);

    // Points credited grow the growth value.
    c.sandbox.control().set_growth_value(&open_id, 0);
    c.change(&open_id, "event_add", 300, "g1").await.expect_ok();
    let m = c
        .call("wk.user.info.query", json!({"open_id": open_id}))
        .await;
    assert_eq!(m.data()["growth_value"], 300);
    assert_eq!(m.data()["level_num"], 2);
}

#[tokio::test]
async fn level_list_is_paged() {
    let c = TestClient::ready().await;
    let a = c.call("wk.user.level.list", json!({})).await;
    let rows = a.expect_ok().as_array().unwrap();
    assert_eq!(rows.len(), 7);
    assert_eq!(
        rows[0],
        json!({"level_name": "一级会员", "level_number": 1, "id": 76})
    );
    assert_eq!(
        (
            a.json["pageNo"].as_i64(),
            a.json["pageSize"].as_i64(),
            a.json["totalCount"].as_i64()
        ),
        (Some(1), Some(10), Some(7))
    );
    let a = c
        .call("wk.user.level.list", json!({"page_no": 3, "page_size": 3}))
        .await;
    assert_eq!(a.expect_ok().as_array().unwrap().len(), 1);
    assert_eq!(a.data()[0]["level_number"], 7);
    assert_eq!(a.json["totalCount"], 7);
    let a = c
        .call("wk.user.level.list", json!({"page_no": 4, "page_size": 3}))
        .await;
    assert_eq!(a.expect_ok().as_array().unwrap().len(), 0);
    c.call("wk.user.level.list", json!({"page_no": 0}))
        .await
        .expect_err(1001);
    c.call("wk.user.level.list", json!({"page_size": -1}))
        .await
        .expect_err(1001);
}

#[tokio::test]
async fn member_code_expires() {
    let c = TestClient::ready().await;
    let open_id = c.member(PHONE).await;
    let code = c
        .call("wk.user.code.generate", json!({"open_id": PHONE}))
        .await
        .expect_ok()
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(code.len(), 20);
    assert!(code.bytes().all(|b| b.is_ascii_digit()));
    let a = c.call("wk.user.code.parsing", json!({"code": code})).await;
    assert_eq!(a.expect_ok()["open_id"], open_id.as_str());
    // Scannable again until it expires.
    c.call("wk.user.code.parsing", json!({"code": code}))
        .await
        .expect_ok();

    c.sandbox.control().advance(Duration::from_secs(61));
    let a = c.call("wk.user.code.parsing", json!({"code": code})).await;
    a.expect_err(110006);
    assert!(a.message().starts_with("会员码已失效"));
    c.call("wk.user.code.parsing", json!({"code": "123"}))
        .await
        .expect_err(110006);
    c.call("wk.user.code.parsing", json!({}))
        .await
        .expect_err(1001);
    c.call("wk.user.code.generate", json!({"open_id": "nobody"}))
        .await
        .expect_err(110004);
}
