//! Prints the size of one call's future (the smaller, the fewer cache misses
//! between calls). `cargo run --release -p gree-ump --example future_size`.
use std::future::IntoFuture;
use std::sync::Arc;

fn main() {
    let client = gree_ump::Client::builder()
        .base_url("http://127.0.0.1:9")
        .app_id("app")
        .app_secret("secret")
        .token_store(Arc::new(gree_ump::MemoryTokenStore::new()))
        .build()
        .expect("a client");
    let request = gree_ump::endpoints::QueryMemberRequest::new().phone("13800000000");
    let call = client.runtime().send(&request);
    println!(
        "Client::send future: {} bytes",
        std::mem::size_of_val(&call)
    );
    // What every level of the call moves up to the one above: the result.
    type Reply = Result<gree_ump::runtime::Response<gree_ump::models::MemberInfo>, gree_ump::Error>;
    println!(
        "query_member result: {} bytes (data {}, error {})",
        std::mem::size_of::<Reply>(),
        std::mem::size_of::<gree_ump::models::MemberInfo>(),
        std::mem::size_of::<gree_ump::Error>()
    );
    let typed = client.members().query_member(request.clone()).into_future();
    println!(
        "typed call future (boxed): {} bytes",
        std::mem::size_of_val(&typed)
    );
}
