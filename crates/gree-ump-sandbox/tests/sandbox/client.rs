//! The SDK's own client against the sandbox: the two sides agree on the wire.

use std::time::Duration;

use gree_ump::Client;
use gree_ump::endpoints::{
    ChangePointsArgs, ChangePointsRequest, CreateMemberArgs, CreateMemberRequest,
    ListLevelsRequest, QueryMemberRequest, RollbackPointsArgs, RollbackPointsRequest,
};
use gree_ump_sandbox::{Fault, Sandbox, SandboxConfig};

#[tokio::test]
async fn sdk_client_round_trip() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let client = Client::builder()
        .base_url(sandbox.base_url())
        .app_id(sandbox.app_id())
        .app_secret(sandbox.app_secret())
        .token_store(std::sync::Arc::new(
            gree_ump::runtime::tokens::MemoryTokenStore::new(),
        ))
        .build()
        .unwrap();

    let open_id = client
        .members()
        .create_member(CreateMemberRequest::new(CreateMemberArgs {
            project_id: "18756".into(),
            nickname: "张三".into(),
            phone: "13800000000".into(),
        }))
        .await
        .unwrap();
    let member = client
        .members()
        .query_member(QueryMemberRequest::new().phone("13800000000"))
        .await
        .unwrap();
    assert_eq!(member.open_id.as_deref(), Some(open_id.as_str()));
    assert_eq!(member.level_number, Some(1));

    let levels = client
        .members()
        .list_levels(ListLevelsRequest::new())
        .await
        .unwrap();
    assert_eq!(levels.page.total_count, Some(7));
    assert_eq!(levels.into_data().len(), 7);

    let change = ChangePointsRequest::new(ChangePointsArgs {
        open_id: open_id.clone(),
        score: 100,
        out_biz_no: "order-1".into(),
        change_reason: "购物".into(),
        change_event: "event_add".into(),
        change_id: "chg-1".into(),
    });
    let statement = client.points().change_points(change.clone()).await.unwrap();
    assert!(statement.statement_id.is_some());

    // Two hours later the client refreshes its token by itself, following the sandbox
    // clock through the Date header.
    sandbox.control().advance(Duration::from_secs(7_300));
    let mut next = change;
    next.change_id = "chg-1b".to_owned();
    let again = client.points().change_points(next).await.unwrap();
    assert_ne!(again.statement_id, statement.statement_id);
    // The sandbox counts per Beijing day, and two hours on may be the next day: the
    // client's own count spans both.
    let calls = sandbox.control().token_calls();
    assert_eq!(calls.refresh_issued, 1, "{calls:?}");
    assert_eq!(client.runtime().tokens().calls_made(), (1, 1));

    // A lost reply: the client reports an unknown outcome; the 3.4.1 recovery path
    // rolls the change back.
    sandbox
        .control()
        .inject_fault("wk.user.event.score.change", Fault::DropAfterCommit, 5);
    let lost = ChangePointsRequest::new(ChangePointsArgs {
        open_id: open_id.clone(),
        score: 5,
        out_biz_no: "order-2".into(),
        change_reason: "购物".into(),
        change_event: "event_add".into(),
        change_id: "chg-2".into(),
    });
    let err = client.points().change_points(lost).await.unwrap_err();
    assert!(err.outcome_unknown(), "{err}");
    sandbox.control().clear_faults();
    assert_eq!(sandbox.control().ledger(&open_id).unwrap().score, 205);
    client
        .points()
        .rollback_points(RollbackPointsRequest::new(RollbackPointsArgs {
            open_id: open_id.clone(),
            rollback_score: 5,
            change_id: "chg-2".into(),
        }))
        .await
        .unwrap();
    assert_eq!(sandbox.control().ledger(&open_id).unwrap().score, 200);
    sandbox.shutdown().await;
}
