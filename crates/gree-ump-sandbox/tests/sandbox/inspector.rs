//! The inspector's pages and the request log over HTTP, without a browser: escaping,
//! pagination, filters, redaction, bad parameters, the forms.

use serde_json::{Value, json};

use crate::common::{PHONE, TestClient};

/// GETs a path of the sandbox: status and body.
async fn get(c: &TestClient, path: &str) -> (u16, String) {
    let res = c
        .http
        .get(format!("{}{path}", c.sandbox.base_url()))
        .send()
        .await
        .expect("GET");
    (res.status().as_u16(), res.text().await.expect("body"))
}

async fn log(c: &TestClient, query: &str) -> Value {
    let (status, body) = get(c, &format!("/__sandbox/requests?{query}")).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("JSON")
}

#[tokio::test]
async fn a_nickname_is_escaped_everywhere() {
    let c = TestClient::ready().await;
    let nick = "<script>alert('x')</script>";
    let open_id = c
        .call(
            "wk.user.info.add",
            json!({"project_id": "18756", "nickname": nick, "phone": PHONE}),
        )
        .await
        .expect_ok()
        .as_str()
        .unwrap()
        .to_owned();
    for path in [
        "/__sandbox/ui".to_owned(),
        format!("/__sandbox/ui/members/{open_id}"),
        format!("/__sandbox/ui/members/{PHONE}"),
        "/__sandbox/ui/requests".to_owned(),
        "/__sandbox/ui/requests/2".to_owned(),
    ] {
        let (status, page) = get(&c, &path).await;
        assert_eq!(status, 200, "{path}: {page}");
        assert!(!page.contains("<script>alert"), "{path}: {page}");
    }
    let (_, page) = get(&c, &format!("/__sandbox/ui/members/{open_id}")).await;
    assert!(
        page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"),
        "{page}"
    );
    // Labels in both languages, the spec's words.
    assert!(page.contains("用户手机号 <span class=\"en\">Mobile phone number</span>"));
    // The query string of a search is escaped back into its input too.
    let (status, page) = get(&c, "/__sandbox/ui?q=%22%3E%3Cb%3E").await;
    assert_eq!(status, 200);
    assert!(page.contains("value=\"&quot;&gt;&lt;b&gt;\""), "{page}");
    assert!(!page.contains("\"><b>"), "{page}");
}

#[tokio::test]
async fn members_are_searched_and_paged() {
    let c = TestClient::ready().await;
    for i in 0..45 {
        c.member(&format!("139{i:08}")).await;
    }
    let rows = |page: &str| page.matches("/__sandbox/ui/members/").count();
    let (_, first) = get(&c, "/__sandbox/ui").await;
    assert!(first.contains("45 位会员 members"), "{first}");
    assert_eq!(rows(&first), 20);
    assert!(first.contains("1 / 3"));
    let (_, last) = get(&c, "/__sandbox/ui?page=3").await;
    assert_eq!(rows(&last), 5);
    let (_, beyond) = get(&c, "/__sandbox/ui?page=9").await;
    assert_eq!(rows(&beyond), 0);
    let (_, found) = get(&c, "/__sandbox/ui?q=1390000004").await;
    // 13900000040..44: five phones.
    assert!(found.contains("5 位会员 members"), "{found}");
    assert!(found.contains("13900000042"));
    assert!(!found.contains("13900000039"));
    for bad in ["page=0", "page=abc", "page=-2"] {
        let (status, page) = get(&c, &format!("/__sandbox/ui?{bad}")).await;
        assert_eq!(status, 400, "{bad}");
        assert!(page.contains("id=\"error\""), "{page}");
    }
    let (status, _) = get(&c, "/__sandbox/ui/members/nobody").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_log_records_and_filters_every_call() {
    let c = TestClient::ready().await;
    let open_id = c.member(PHONE).await;
    c.call("wk.user.info.query", json!({"open_id": "no-such-member"}))
        .await;
    c.sandbox
        .control()
        .inject_fault("wk.user.info.query", gree_ump_sandbox::Fault::Busy, 1);
    c.call("wk.user.info.query", json!({"open_id": open_id}))
        .await
        .expect_err(500);

    let all = log(&c, "").await;
    assert_eq!(all["total"], 4, "{all}");
    let methods: Vec<&str> = all["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["method"].as_str().unwrap())
        .collect();
    assert_eq!(
        methods,
        [
            "wk.user.info.query",
            "wk.user.info.query",
            "wk.user.info.add",
            "dss.auth.token.query"
        ]
    );
    let faulted = &all["requests"][0];
    assert_eq!(faulted["fault"], json!({"kind": "busy"}));
    assert_eq!(faulted["code"], 500);
    assert_eq!(faulted["outcome"], "error");

    let queries = log(&c, "method=wk.user.info.query").await;
    assert_eq!(queries["total"], 2);
    let ok = log(&c, "code=200").await;
    assert_eq!(ok["total"], 2);
    // The registration (its body names the phone, its reply the open_id) and the
    // faulted query (its body names the open_id).
    let by_member = log(&c, &format!("member={open_id}")).await;
    assert_eq!(by_member["total"], 2, "{by_member}");
    let by_phone = log(&c, &format!("member={PHONE}")).await;
    assert_eq!(by_phone["total"], 1, "{by_phone}");
    let (status, body) = get(&c, "/__sandbox/requests?code=abc").await;
    assert_eq!(status, 400, "{body}");

    // The HTML view applies the same filters and links each request.
    let (_, page) = get(&c, "/__sandbox/ui/requests?method=wk.user.info.query").await;
    assert!(page.contains("<span id=\"total\">2</span>"), "{page}");
    let id = faulted["id"].as_u64().unwrap();
    assert!(page.contains(&format!("href=\"/__sandbox/ui/requests/{id}\"")));
    let (status, detail) = get(&c, &format!("/__sandbox/ui/requests/{id}")).await;
    assert_eq!(status, 200);
    assert!(detail.contains("busy"), "{detail}");
    for (path, want) in [
        ("/__sandbox/ui/requests/999999", 404),
        ("/__sandbox/ui/requests/x", 400),
        ("/__sandbox/ui/requests?page=0", 400),
        ("/__sandbox/ui/requests?code=1.5", 400),
        ("/__sandbox/ui/requests/events?code=x", 400),
    ] {
        assert_eq!(get(&c, path).await.0, want, "{path}");
    }
}

#[tokio::test]
async fn no_page_shows_a_secret() {
    let mut c = TestClient::ready().await;
    c.refresh().await.expect_ok();
    c.member(PHONE).await;
    c.call("wk.sms.verify.send", json!({"target": PHONE}))
        .await
        .expect_ok();
    let code = c.sandbox.control().last_sms_code(PHONE).unwrap();
    c.call(
        "wk.sms.verify.judge",
        json!({"phone": PHONE, "verify_code": code}),
    )
    .await
    .expect_ok();
    let access = c.access_token.clone().unwrap();
    let refresh = c.refresh_token.clone().unwrap();
    let secret = c.sandbox.app_secret().to_owned();
    let all = log(&c, "limit=10000").await;
    let mut paths = vec![
        "/__sandbox/requests".to_owned(),
        "/__sandbox/ui/requests".to_owned(),
        "/__sandbox/ui".to_owned(),
        "/__sandbox/ui/controls".to_owned(),
    ];
    for r in all["requests"].as_array().unwrap() {
        paths.push(format!("/__sandbox/ui/requests/{}", r["id"]));
    }
    assert!(paths.len() >= 9, "{paths:?}");
    for path in &paths {
        let (status, page) = get(&c, path).await;
        assert_eq!(status, 200, "{path}");
        for value in [&access, &refresh, &secret] {
            assert!(!page.contains(value.as_str()), "{path} shows {value}");
        }
        // The SMS code is shown on the controls page (the sandbox's own SMS inbox),
        // never in the log.
        if path.contains("requests") {
            assert!(
                !page.contains(&format!("\"{code}\"")),
                "{path} shows the code"
            );
            assert!(!page.contains(&format!("&quot;{code}&quot;")), "{path}");
        }
    }
    // Each signed call's signature is redacted.
    let judge = &all["requests"][0];
    assert_eq!(judge["method"], "wk.sms.verify.judge");
    let query: Vec<(String, String)> = serde_json::from_value(judge["query"].clone()).unwrap();
    for (k, v) in &query {
        if k == "sign" || k == "access_token" {
            assert_eq!(v, "[REDACTED]");
        }
    }
    assert!(judge["body"].as_str().unwrap().contains("[REDACTED]"));
}

#[tokio::test]
async fn forms_drive_the_controls() {
    let c = TestClient::ready().await;
    let post = |path: &'static str, form: &'static str| {
        let req = c
            .http
            .post(format!("{}{path}", c.sandbox.base_url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form);
        async move {
            let res = req.send().await.expect("POST");
            // reqwest follows the 303 to the controls page.
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    // A form of another site is refused (the browser says where it comes from).
    let res = c
        .http
        .post(format!("{}/__sandbox/ui/reset", c.sandbox.base_url()))
        .header("origin", "https://elsewhere.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("confirm=yes")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert_eq!(
        c.sandbox.control().token_calls().obtain_issued,
        1,
        "not reset"
    );
    let (status, page) = post(
        "/__sandbox/ui/faults",
        "method=wk.user.info.add&kind=reject&code=1002&times=2",
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("{&quot;kind&quot;:&quot;reject&quot;,&quot;code&quot;:1002}"));
    c.call(
        "wk.user.info.add",
        json!({"project_id": "1", "nickname": "n", "phone": PHONE}),
    )
    .await
    .expect_err(1002);
    let (status, _) = post("/__sandbox/ui/faults/clear", "").await;
    assert_eq!(status, 200);
    assert!(c.sandbox.control().faults().is_empty());
    let (status, page) = post("/__sandbox/ui/faults", "method=*&kind=reject").await;
    assert_eq!(status, 400);
    assert!(page.contains("a reject fault needs code"), "{page}");

    // Before the clock moves past the access token's expiry.
    c.member(PHONE).await;
    let before = c.sandbox.control().now_ms();
    let (status, _) = post("/__sandbox/ui/clock", "advance_s=86400").await;
    assert_eq!(status, 200);
    let moved = c.sandbox.control().now_ms() - before;
    assert!((86_400_000..86_460_000).contains(&moved), "{moved}");
    let (status, page) = post("/__sandbox/ui/clock", "set=2030-01-02%2003:04:05").await;
    assert_eq!(status, 200);
    assert!(page.contains("2030-01-02 03:04:0"), "{page}");
    assert_eq!(post("/__sandbox/ui/clock", "set=soon").await.0, 400);
    assert_eq!(
        post("/__sandbox/ui/clock", "set=1&advance_s=1").await.0,
        400
    );

    assert_eq!(post("/__sandbox/ui/reset", "").await.0, 400);
    assert!(c.sandbox.control().ledger(PHONE).is_some());
    assert_eq!(post("/__sandbox/ui/reset", "confirm=yes").await.0, 200);
    assert!(c.sandbox.control().ledger(PHONE).is_none());

    let res = c
        .http
        .get(format!("{}/__sandbox/ui/state.json", c.sandbox.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"gree-ump-sandbox-state.json\""
    );
    let state: Value = res.json().await.unwrap();
    assert!(state["members"].is_object(), "{state}");
}

/// Every page links the API reference, which lists every endpoint of the OpenAPI
/// document the sandbox serves and links the document itself.
#[tokio::test]
async fn the_api_reference_lists_the_served_document() {
    let c = TestClient::ready().await;
    let (status, members) = get(&c, "/__sandbox/ui").await;
    assert_eq!(status, 200);
    assert!(members.contains("href=\"/__sandbox/ui/api\""), "{members}");
    let (status, page) = get(&c, "/__sandbox/ui/api").await;
    assert_eq!(status, 200, "{page}");
    let (_, json) = get(&c, "/__sandbox/openapi.json").await;
    let doc: Value = serde_json::from_str(&json).expect("the served document");
    let mut listed = 0;
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let method = op["x-method"].as_str().unwrap();
            assert!(
                page.contains(&format!("id=\"{method}\"")),
                "{method} missing"
            );
            listed += 1;
        }
    }
    assert_eq!(listed, 21);
    assert!(page.contains("href=\"/__sandbox/openapi.json\""));
}
