// Every required field must be given: leaving `change_id` (the idempotency key) out of
// the arguments is a compile error, not a request refused at run time.
use gree_ump::endpoints::{ChangePointsArgs, ChangePointsRequest};

fn main() {
    let _ = ChangePointsRequest::new(ChangePointsArgs {
        open_id: "oid-1".into(),
        score: 100,
        out_biz_no: "order-1".into(),
        change_reason: "购物".into(),
        change_event: "event_add".into(),
    });
}
