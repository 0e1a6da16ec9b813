//! Paging always terminates: a `_stream` stops on a short page,
//! on a page equal to the one before, and at the page bound (`max_pages`), whether or
//! not the replies carry `totalCount` — here a `totalCount` that always says "more".
//!
//! Against a tiny local server (127.0.0.1) that answers 3.8 (`wk.user.level.list`) in
//! one of three ways, and counts the pages asked for.

mod hostile;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::Uri;
use gree_ump::endpoints::ListLevelsRequest;
use serde_json::{Value, json};

/// Generous: a walk that does not stop runs into it instead of hanging the test.
const WAIT: Duration = Duration::from_secs(60);
const PAGE_SIZE: usize = 3;

#[derive(Clone, Copy, Debug)]
enum Server {
    /// Every page full, with items of its own: only the bound stops the walk.
    AlwaysFull,
    /// The same full page whatever page is asked for (a server ignoring `page_no`).
    SamePage,
    /// Pages 1 and 2 full, page 3 short, then full pages again: a walk that reads past
    /// the short page shows it.
    ShortThird,
}

/// The page number of a 3.8 call: from the query (it is a GET, errata E01) or the body.
fn page_no(uri: &Uri, body: &[u8]) -> u64 {
    let from_query = uri.query().and_then(|q| {
        q.split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == "page_no")
            .and_then(|(_, v)| v.parse().ok())
    });
    let from_body = || {
        serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v["page_no"].as_u64())
    };
    from_query.or_else(from_body).unwrap_or(1)
}

fn level(page: u64, i: usize) -> Value {
    let id = page * 100 + i as u64;
    json!({"level_name": format!("等级{id}"), "level_number": id, "id": id})
}

/// A local platform answering 2.1 with tokens and 3.8 as `server` says; returns its
/// URL and the number of 3.8 calls it answered.
async fn platform(server: Server, total_count: Option<i64>) -> (String, Arc<AtomicUsize>) {
    let pages = Arc::new(AtomicUsize::new(0));
    let counted = pages.clone();
    let app = axum::Router::new().fallback(move |uri: Uri, body: Bytes| {
        let pages = counted.clone();
        async move {
            if hostile::method_of(&uri) == hostile::OBTAIN {
                return hostile::token_reply("paging", 0);
            }
            pages.fetch_add(1, Ordering::SeqCst);
            let asked = page_no(&uri, &body);
            let (page, size) = match server {
                Server::AlwaysFull => (asked, PAGE_SIZE),
                Server::SamePage => (1, PAGE_SIZE),
                Server::ShortThird if asked == 3 => (asked, PAGE_SIZE - 1),
                Server::ShortThird => (asked, PAGE_SIZE),
            };
            let items: Vec<Value> = (0..size).map(|i| level(page, i)).collect();
            let mut reply = json!({
                "success": true, "error_code": 200, "error_message": "",
                "data": items, "pageNo": asked, "pageSize": PAGE_SIZE,
            });
            if let Some(total) = total_count {
                reply["totalCount"] = json!(total);
            }
            reply.to_string()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), pages)
}

fn client(base_url: &str) -> gree_ump::Client {
    gree_ump::Client::builder()
        .base_url(base_url)
        .app_id("paging-app")
        .app_secret("paging-secret")
        .token_store(Arc::new(gree_ump::MemoryTokenStore::new()))
        .build()
        .unwrap()
}

/// Walks 3.8 with `max_pages`; returns the items read and the pages the server answered.
async fn walk(server: Server, total_count: Option<i64>, max_pages: Option<u32>) -> (usize, usize) {
    let (url, pages) = platform(server, total_count).await;
    let client = client(&url);
    let request = ListLevelsRequest::new().page_size(PAGE_SIZE as i32);
    let mut stream = client.members().list_levels_stream(request);
    if let Some(max) = max_pages {
        stream = stream.max_pages(max);
    }
    let Ok(items) = tokio::time::timeout(WAIT, stream.try_collect()).await else {
        panic!(
            "{server:?} (totalCount {total_count:?}): the walk did not end within {WAIT:?} \
             ({} pages)",
            pages.load(Ordering::SeqCst)
        );
    };
    let items = items.expect("every page decodes");
    (items.len(), pages.load(Ordering::SeqCst))
}

/// Without `totalCount`, and with one that always announces more.
const TOTALS: [Option<i64>; 2] = [None, Some(1_000_000)];

#[tokio::test]
async fn full_pages_forever_stop_at_the_page_bound() {
    for total in TOTALS {
        let (items, pages) = walk(Server::AlwaysFull, total, Some(5)).await;
        assert_eq!(pages, 5, "totalCount {total:?}");
        assert_eq!(items, 5 * PAGE_SIZE, "totalCount {total:?}");
    }
}

#[tokio::test]
async fn a_repeated_page_ends_the_walk() {
    for total in TOTALS {
        let (items, pages) = walk(Server::SamePage, total, None).await;
        assert_eq!(
            pages, 2,
            "totalCount {total:?}: the repeat is seen on page 2"
        );
        assert_eq!(
            items, PAGE_SIZE,
            "totalCount {total:?}: the repeat is not yielded"
        );
    }
}

#[tokio::test]
async fn a_short_page_ends_the_walk() {
    for total in TOTALS {
        let (items, pages) = walk(Server::ShortThird, total, None).await;
        assert_eq!(
            pages, 3,
            "totalCount {total:?}: nothing is asked after the short page"
        );
        assert_eq!(items, 3 * PAGE_SIZE - 1, "totalCount {total:?}");
    }
}

#[tokio::test]
async fn the_default_page_bound_is_the_runtime_constant() {
    // Documented bound; a walk of full pages without one would never end.
    assert_eq!(openplatform_runtime::DEFAULT_MAX_PAGES, 10_000);
    // A bound of 0 is read as 1: one page.
    let (items, pages) = walk(Server::AlwaysFull, None, Some(0)).await;
    assert_eq!((items, pages), (PAGE_SIZE, 1));
}
