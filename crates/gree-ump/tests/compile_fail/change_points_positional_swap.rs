// The call that once compiled: six positional values, five of them strings,
// here with `open_id` and `change_id` swapped. It no longer compiles: `new` takes one
// `ChangePointsArgs`, whose fields are named.
use gree_ump::endpoints::ChangePointsRequest;

fn main() {
    let _ = ChangePointsRequest::new("chg-1", 100, "order-1", "购物", "event_add", "oid-1");
}
