//! The web inspector at `/__sandbox/ui`: server-rendered pages of the sandbox's members,
//! its request log (live, through server-sent events) and its controls, plus the log as
//! JSON at `/__sandbox/requests` for tests.
//!
//! | path | shows |
//! | --- | --- |
//! | `GET /__sandbox/ui?q=&page=` | members, searched by phone or open_id |
//! | `GET /__sandbox/ui/members/{open_id or phone}` | a member's profile, ledger, orders, coupons |
//! | `GET /__sandbox/ui/requests?method=&code=&member=&page=` | the request log, newest first |
//! | `GET /__sandbox/ui/requests/{id}` | one request and its reply, secrets redacted |
//! | `GET /__sandbox/ui/requests/events?method=&code=&member=` | new requests, as server-sent events |
//! | `GET /__sandbox/ui/controls` | clock, faults, token calls, SMS codes, reset, state |
//! | `GET /__sandbox/ui/state.json` | the state, as a download |
//! | `GET /__sandbox/requests?method=&code=&member=&limit=` | the request log as JSON |

mod api;
mod fields;
mod forms;
pub(crate) mod html;
mod labels;
pub(crate) mod log;
mod pages;

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{CONTENT_DISPOSITION, HOST, ORIGIN};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::controls::{Controls, axum_json, bad_request};
use crate::server::Shared;
use fields::Fields;
use html::error_page;
use log::Filter;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/__sandbox/ui", get(members))
        .route("/__sandbox/ui/", get(members))
        .route("/__sandbox/ui/members/{member}", get(member))
        .route("/__sandbox/ui/requests", get(requests))
        .route("/__sandbox/ui/requests/events", get(events))
        .route("/__sandbox/ui/requests/{id}", get(request))
        .route("/__sandbox/ui/controls", get(controls))
        .route("/__sandbox/ui/api", get(api_reference))
        .route("/__sandbox/ui/state.json", get(state))
        .route("/__sandbox/ui/clock", post(move_clock))
        .route("/__sandbox/ui/faults", post(add_fault))
        .route("/__sandbox/ui/faults/clear", post(clear_faults))
        .route("/__sandbox/ui/reset", post(reset))
        .route("/__sandbox/requests", get(requests_json))
}

/// A page's query parameters ([`Fields`]); unknown ones are ignored, bad values of known
/// ones are a 400 naming them.
struct Params(Fields);

impl std::ops::Deref for Params {
    type Target = Fields;
    fn deref(&self) -> &Fields {
        &self.0
    }
}

impl Params {
    fn parse(raw: Option<&str>) -> Self {
        Params(Fields::parse(raw.unwrap_or_default().as_bytes()))
    }

    /// `page`, from 1 (the default).
    fn page(&self) -> Result<usize, String> {
        match self.number::<usize>("page")? {
            None => Ok(1),
            Some(0) => Err("page counts from 1".to_owned()),
            Some(n) => Ok(n),
        }
    }

    fn filter(&self) -> Result<Filter, String> {
        Ok(Filter {
            method: self.get("method").map(str::to_owned),
            code: self.number("code")?,
            member: self.get("member").map(str::to_owned),
        })
    }
}

fn bad_page(message: &str) -> Response {
    error_page(StatusCode::BAD_REQUEST, message)
}

async fn members(State(shared): State<Arc<Shared>>, RawQuery(q): RawQuery) -> Response {
    let params = Params::parse(q.as_deref());
    match params.page() {
        Ok(page) => pages::members(&shared, params.get("q"), page),
        Err(e) => bad_page(&e),
    }
}

async fn member(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    pages::member(&shared, &id)
}

async fn requests(State(shared): State<Arc<Shared>>, RawQuery(q): RawQuery) -> Response {
    let params = Params::parse(q.as_deref());
    match params.filter().and_then(|f| Ok((f, params.page()?))) {
        Ok((filter, page)) => pages::requests(&shared, &filter, page),
        Err(e) => bad_page(&e),
    }
}

async fn request(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return bad_page(&format!("a request id is a number, got {id:?}"));
    };
    match shared.log.get(id) {
        Some(entry) => pages::request(&shared, &entry),
        None => error_page(
            StatusCode::NOT_FOUND,
            &format!("no request {id} (the log keeps the last {})", log::CAPACITY),
        ),
    }
}

/// New requests that `filter` matches, each as the table row to insert.
async fn events(State(shared): State<Arc<Shared>>, RawQuery(q): RawQuery) -> Response {
    let filter = match Params::parse(q.as_deref()).filter() {
        Ok(f) => f,
        Err(e) => return bad_page(&e),
    };
    let Some(rx) = shared.log.subscribe() else {
        return error_page(StatusCode::SERVICE_UNAVAILABLE, "the sandbox is stopping");
    };
    let secret = shared.config.app_secret.clone();
    let stream = futures_util::stream::unfold((rx, filter, secret), |state| async move {
        let (mut rx, filter, secret) = state;
        loop {
            match rx.recv().await {
                Ok(entry) if filter.matches(&entry) => {
                    let row = pages::request_row(&log::show(&entry, &secret)).into_string();
                    let event = Event::default()
                        .event("request")
                        .id(entry.id.to_string())
                        .data(row);
                    return Some((Ok::<_, Infallible>(event), (rx, filter, secret)));
                }
                // Not shown here, or missed while the view was slow: the page still
                // lists them on reload.
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

async fn api_reference() -> Response {
    api::reference(crate::controls::OPENAPI_UMP)
}

async fn controls(State(shared): State<Arc<Shared>>) -> Response {
    pages::controls(&shared)
}

async fn state(State(shared): State<Arc<Shared>>) -> Response {
    let mut res = axum_json(&Controls::new(shared).dump());
    res.headers_mut().insert(
        CONTENT_DISPOSITION,
        axum::http::HeaderValue::from_static(
            "attachment; filename=\"gree-ump-sandbox-state.json\"",
        ),
    );
    res
}

/// Whether a form post comes from another site: its `Origin` (which browsers send with
/// every POST) is not this server's. A page elsewhere could otherwise post the forms
/// to a sandbox on the developer's machine (reset it, inject faults). Clients without
/// an `Origin` (curl, tests) are not browsers posting across sites, and pass.
fn cross_site(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN) else {
        return false;
    };
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    match (origin.to_str().ok(), host) {
        (Some(origin), Some(host)) => origin != format!("http://{host}"),
        _ => true,
    }
}

fn refused() -> Response {
    error_page(
        StatusCode::FORBIDDEN,
        "a form of another site cannot post to the sandbox",
    )
}

async fn move_clock(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if cross_site(&headers) {
        return refused();
    }
    forms::move_clock(&Controls::new(shared), &body)
}

async fn add_fault(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if cross_site(&headers) {
        return refused();
    }
    forms::add_fault(&Controls::new(shared), &body)
}

async fn clear_faults(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if cross_site(&headers) {
        return refused();
    }
    forms::clear_faults(&Controls::new(shared))
}

async fn reset(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    if cross_site(&headers) {
        return refused();
    }
    forms::reset(&Controls::new(shared), &body)
}

/// The log as JSON, newest first: `{"total": n, "requests": [...]}` (at most `limit`,
/// 100 by default).
async fn requests_json(State(shared): State<Arc<Shared>>, RawQuery(q): RawQuery) -> Response {
    let params = Params::parse(q.as_deref());
    let limit = match params.number::<usize>("limit") {
        Ok(l) => l.unwrap_or(100).clamp(1, log::CAPACITY),
        Err(e) => return bad_request(e),
    };
    let filter = match params.filter() {
        Ok(f) => f,
        Err(e) => return bad_request(e),
    };
    let entries = shared.log.matching(&filter);
    let shown: Vec<log::Shown> = entries
        .iter()
        .take(limit)
        .map(|e| log::show(e, &shared.config.app_secret))
        .collect();
    axum_json(&json!({"total": entries.len(), "requests": shown}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params() {
        let p = Params::parse(Some("page=2&code=1002&method=+a.b+&member=&x=1"));
        assert_eq!(p.page(), Ok(2));
        assert_eq!(
            p.filter(),
            Ok(Filter {
                method: Some("a.b".into()),
                code: Some(1002),
                member: None
            })
        );
        assert_eq!(Params::parse(None).page(), Ok(1));
        for bad in [
            "page=0",
            "page=-1",
            "page=x",
            "page=99999999999999999999999",
        ] {
            assert!(Params::parse(Some(bad)).page().is_err(), "{bad}");
        }
        assert!(Params::parse(Some("code=ok")).filter().is_err());
    }

    #[test]
    fn forms_from_other_sites_are_refused() {
        let headers = |pairs: &[(axum::http::HeaderName, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(k.clone(), axum::http::HeaderValue::from_static(v));
            }
            h
        };
        assert!(!cross_site(&headers(&[(HOST, "127.0.0.1:8080")])));
        assert!(!cross_site(&headers(&[
            (HOST, "127.0.0.1:8080"),
            (ORIGIN, "http://127.0.0.1:8080")
        ])));
        assert!(cross_site(&headers(&[
            (HOST, "127.0.0.1:8080"),
            (ORIGIN, "https://evil.example")
        ])));
        assert!(cross_site(&headers(&[(ORIGIN, "null")])));
    }
}
