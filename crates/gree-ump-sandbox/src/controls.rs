//! Test controls: the clock, faults, inspection, reset. In process through [`Controls`]
//! (`SandboxHandle::control()`), and over HTTP under `/__sandbox/` (unsigned, plain JSON,
//! not the platform's envelope):
//!
//! | method and path | body | does |
//! | --- | --- | --- |
//! | `GET /__sandbox` | | app id, clock, endpoints |
//! | `GET /__sandbox/clock` | | `{now_ms, now, offset_ms}` |
//! | `POST /__sandbox/clock` | `{"set_ms": ms}` or `{"advance_ms": ms}` | moves the clock |
//! | `GET /__sandbox/faults` | | pending fault plans |
//! | `POST /__sandbox/faults` | `{"method": "wk.user.info.add" or "*", "fault": {"kind": …}, "times": 1}` | adds a plan |
//! | `DELETE /__sandbox/faults` | | clears the plans |
//! | `GET /__sandbox/sms/{phone}` | | the last code sent (404 if none) |
//! | `GET /__sandbox/members/{open_id or phone}/ledger` | | balance, growth value, ledger |
//! | `POST /__sandbox/members/{open_id or phone}/growth` | `{"growth_value": n}` | sets the growth value |
//! | `GET /__sandbox/token-calls` | | today's 2.1/2.2 call counters |
//! | `POST /__sandbox/tokens/revoke` | `{"refresh_tokens": false}` | revokes access tokens (and refresh tokens) |
//! | `GET /__sandbox/timestamps` | | `{scope, tolerance_ms}`: where the timestamp window applies |
//! | `POST /__sandbox/timestamps` | `{"scope": "token_calls" or "every_call"}` | sets it (errata E73) |
//! | `GET /__sandbox/state` | | every piece of state as JSON |
//! | `POST /__sandbox/reset` | | back to a fresh start |
//! | `GET /__sandbox/requests?method=&code=&member=&limit=` | | the last gateway calls, newest first, secrets redacted |
//! | `GET /__sandbox/ui` | | the web inspector (HTML; see the crate docs) |
//! | `POST /__sandbox/zvcms/coupons`, `GET /__sandbox/zvcms/coupons/{card_id}` | | zvcms coupons (see [`zvcms_api::controls`](crate::zvcms_api::controls)) |
//! | `GET /__sandbox/openapi.json` | | the OpenAPI 3.1 document of the UMP API (`cargo xtask openapi`) |
//! | `GET /__sandbox/zvcms/openapi.json` | | the zvcms API's, when the sandbox serves it (404 otherwise) |
//!
//! Fault kinds: `drop_after_commit`, `busy`, `slow` (`delay_ms`), `slow_after_commit`
//! (`delay_ms`), `commit_after_timeout` (`delay_ms`), `malformed`, `http_status`
//! (`status`); see [`Fault`].

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gree_ump::generated::routes::AnyRequest;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clock::beijing_text;
use crate::config::{SandboxConfig, TimestampScope};
use crate::error::ApiError;
use crate::faults::{Fault, FaultPlan};
use crate::server::Shared;
use crate::state::Reply;
use crate::state::points::LedgerEntry;
use crate::state::sms::SentCode;
use crate::state::tokens::TokenCallCounts;

/// A member's balance and ledger.
#[derive(Debug, Clone, Serialize)]
pub struct MemberLedger {
    /// The member's open_id.
    pub open_id: String,
    /// The member's phone, as registered (3.1).
    pub phone: String,
    /// Points available.
    pub score: i64,
    /// The growth value, which sets the level (3.2 `growth_value`).
    pub growth_value: i64,
    /// Oldest first.
    pub entries: Vec<LedgerEntry>,
}

/// The test controls of one sandbox. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Controls {
    shared: Arc<Shared>,
}

impl Controls {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Controls { shared }
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// A sandbox without a server: its state, clock and controls in process. With
    /// [`Controls::apply`] a test drives the platform's semantics call by call, in an
    /// order it chooses (the schedule-exploring tests of exactly-once writes).
    pub fn in_process(config: SandboxConfig) -> Self {
        Controls::new(Arc::new(Shared::new(config)))
    }

    /// Processes one business call as the platform does, at the sandbox clock: the same
    /// state operations as the gateway, without HTTP, signature, token or faults.
    pub fn apply(&self, request: AnyRequest) -> Result<Reply, ApiError> {
        let now = self.shared.now_ms();
        let reply = crate::gateway::dispatch(&mut self.shared.world(), request, now);
        self.shared.save();
        reply
    }

    /// The configuration the sandbox was started with.
    pub fn config(&self) -> &SandboxConfig {
        &self.shared.config
    }

    /// The sandbox time, ms since the epoch.
    pub fn now_ms(&self) -> i64 {
        self.shared.now_ms()
    }

    /// Makes the sandbox time `now_ms`; it keeps running from there.
    pub fn set_time_ms(&self, now_ms: i64) {
        self.shared.clock.set_ms(now_ms);
        self.shared.save();
    }

    /// Moves the sandbox clock forward (expire tokens, member codes, coupons, SMS codes;
    /// cross Beijing midnight to reset daily limits).
    pub fn advance(&self, by: Duration) {
        self.advance_ms(i64::try_from(by.as_millis()).unwrap_or(i64::MAX));
    }

    /// Moves the sandbox clock by `delta_ms` (negative: back).
    pub fn advance_ms(&self, delta_ms: i64) {
        self.shared.clock.advance_ms(delta_ms);
        self.shared.save();
    }

    /// The next `times` calls of `method` (`"*"`: any method) suffer `fault`.
    pub fn inject_fault(&self, method: &str, fault: Fault, times: u32) {
        self.shared.faults().push(method, fault, times);
    }

    /// The pending fault plans.
    pub fn faults(&self) -> Vec<FaultPlan> {
        self.shared.faults().plans()
    }

    /// Drops every pending fault plan.
    pub fn clear_faults(&self) {
        self.shared.faults().clear();
    }

    /// The last SMS code "sent" to a phone (6.1), used or not.
    pub fn last_sms_code(&self, phone: &str) -> Option<String> {
        self.last_sms(phone).map(|s| s.code)
    }

    /// The last SMS sent to a phone, with its times.
    pub fn last_sms(&self, phone: &str) -> Option<SentCode> {
        self.shared.world().sms.last_code(phone)
    }

    /// A member's balance and ledger, by open_id or phone.
    pub fn ledger(&self, member: &str) -> Option<MemberLedger> {
        let world = self.shared.world();
        let m = world.members.find(member)?;
        Some(MemberLedger {
            open_id: m.open_id.clone(),
            phone: m.profile.phone.clone(),
            score: m.score,
            growth_value: m.growth_value,
            entries: m.ledger.clone(),
        })
    }

    /// Sets a member's growth value (and so its level); false when there is no such member.
    pub fn set_growth_value(&self, member: &str, growth_value: i64) -> bool {
        let done = self
            .shared
            .world()
            .set_growth_value(member, growth_value)
            .is_ok();
        self.shared.save();
        done
    }

    /// How many calls were refused for their verb since the start (see
    /// [`SandboxConfig::verbs`](crate::SandboxConfig::verbs)): what a client that learns
    /// the verb pays for it.
    pub fn verb_refusals(&self) -> u64 {
        self.shared
            .verb_refusals
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many 2.1/2.2 calls were made today (Beijing day of the sandbox clock).
    pub fn token_calls(&self) -> TokenCallCounts {
        let now = self.now_ms();
        self.shared.world().tokens.counts(now)
    }

    /// Makes the access tokens that 2.1 and 2.2 issue from now on live `lifetime`
    /// (whole seconds, at least 1; the document's value is 7200 s). Tokens already
    /// issued keep their expiry. Lasts until [`Controls::reset`], which goes back to
    /// the configured `access_token_lifetime_s`. For soaks that run a day of short
    /// tokens without restarting the sandbox.
    pub fn set_access_token_lifetime(&self, lifetime: Duration) {
        let seconds = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX).max(1);
        self.shared.world().config.access_token_lifetime_s = seconds;
    }

    /// The lifetime of the access tokens issued from now on.
    pub fn access_token_lifetime(&self) -> Duration {
        let seconds = self.shared.world().config.access_token_lifetime_s;
        Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
    }

    /// Makes the timestamp window apply to 2.1/2.2 only (the default, as the document
    /// says) or to every call (errata E73), until [`Controls::reset`], which goes back to
    /// the configured `timestamp_scope`.
    pub fn set_timestamp_scope(&self, scope: TimestampScope) {
        self.shared.set_timestamp_scope(scope);
    }

    /// Which calls the timestamp window applies to now.
    pub fn timestamp_scope(&self) -> TimestampScope {
        self.shared.timestamp_scope()
    }

    /// Revokes every access token (the next business call gets the invalid-token answer;
    /// refreshing works).
    pub fn revoke_access_tokens(&self) {
        self.shared.world().tokens.revoke_access_tokens();
        self.shared.save();
    }

    /// Revokes every access and refresh token (only 2.1 helps then).
    pub fn revoke_all_tokens(&self) {
        self.shared.world().tokens.revoke_all();
        self.shared.save();
    }

    /// Every piece of state as JSON (tokens shortened).
    pub fn dump(&self) -> Value {
        let now = self.now_ms();
        let mut dump = self.shared.world().dump(now);
        if let Value::Object(map) = &mut dump {
            map.insert("faults".into(), json!(self.faults()));
        }
        dump
    }

    /// Back to a fresh start: no members, tokens, counters or faults; clock at its start.
    /// With a state file, the file is overwritten with the fresh state.
    pub fn reset(&self) {
        self.shared.reset();
        self.shared.save();
    }
}

// ------------------------------------------------------------------------------ HTTP

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/__sandbox", get(info))
        .route("/__sandbox/", get(info))
        .route("/__sandbox/clock", get(clock).post(move_clock))
        .route(
            "/__sandbox/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/__sandbox/sms/{phone}", get(sms))
        .route("/__sandbox/members/{member}/ledger", get(ledger))
        .route("/__sandbox/members/{member}/growth", post(set_growth))
        .route("/__sandbox/token-calls", get(token_calls))
        .route("/__sandbox/tokens/revoke", post(revoke))
        .route(
            "/__sandbox/timestamps",
            get(timestamps).post(set_timestamps),
        )
        .route("/__sandbox/state", get(state))
        .route("/__sandbox/reset", post(reset))
        .route("/__sandbox/openapi.json", get(openapi))
        .route("/__sandbox/zvcms/openapi.json", get(zvcms_openapi))
}

/// The OpenAPI 3.1 document of the UMP API, as `cargo xtask openapi` writes it from
/// api-spec/gree-ump.yaml (the crate's copy: a published crate embeds only its own
/// files; `cargo xtask check` keeps it equal to the one beside the spec).
pub(crate) const OPENAPI_UMP: &str = include_str!("../openapi/gree-ump.openapi.json");
/// The zvcms API's, likewise.
const OPENAPI_ZVCMS: &str = include_str!("../openapi/zvcms.openapi.json");

fn json_text(text: &'static str) -> Response {
    ([("content-type", "application/json")], text).into_response()
}

async fn openapi() -> Response {
    json_text(OPENAPI_UMP)
}

async fn zvcms_openapi(State(shared): State<Arc<Shared>>) -> Response {
    // Described only where it is served: without a zvcms configuration the sandbox has
    // no zvcms endpoint, and a document would list calls that all fail.
    if shared.config.zvcms.is_some() {
        json_text(OPENAPI_ZVCMS)
    } else {
        not_found("the zvcms API is not served (no zvcms configuration)")
    }
}

fn controls(shared: Arc<Shared>) -> Controls {
    Controls::new(shared)
}

pub(crate) fn bad_request(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum_json(&json!({"error": message.into()})),
    )
        .into_response()
}

pub(crate) fn not_found(message: impl Into<String>) -> Response {
    (
        StatusCode::NOT_FOUND,
        axum_json(&json!({"error": message.into()})),
    )
        .into_response()
}

/// A JSON reply (without axum's `json` feature).
pub(crate) fn axum_json<T: Serialize>(value: &T) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    ([("content-type", "application/json")], body).into_response()
}

/// Decodes a control body; an empty body is `{}`. The error is the message for a 400.
pub(crate) fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, String> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| format!("body: {e}"))
}

async fn info(State(shared): State<Arc<Shared>>) -> Response {
    let now = shared.now_ms();
    let methods: Vec<&str> = AnyRequest::ENDPOINTS.iter().map(|e| e.method).collect();
    axum_json(&json!({
        "app_id": shared.config.app_id,
        "now_ms": now,
        "now": beijing_text(now),
        "gateway": gree_ump::PROTOCOL.path_template,
        "methods": methods,
        "controls": [
            "GET /__sandbox/clock", "POST /__sandbox/clock",
            "GET|POST|DELETE /__sandbox/faults", "GET /__sandbox/sms/{phone}",
            "GET /__sandbox/members/{member}/ledger", "POST /__sandbox/members/{member}/growth",
            "GET /__sandbox/token-calls", "POST /__sandbox/tokens/revoke",
            "GET|POST /__sandbox/timestamps",
            "GET /__sandbox/state", "POST /__sandbox/reset",
            "GET /__sandbox/openapi.json", "GET /__sandbox/zvcms/openapi.json",
            "GET /__sandbox/requests", "GET /__sandbox/ui",
            "POST /__sandbox/zvcms/coupons", "GET /__sandbox/zvcms/coupons/{card_id}",
        ],
        // Served only when configured (a Signer is needed to check its Tokens).
        "zvcms": shared.config.zvcms.as_ref().map(|_| ::zvcms::PROTOCOL.path_template),
    }))
}

fn clock_view(c: &Controls) -> Value {
    let now = c.now_ms();
    json!({
        "now_ms": now,
        "now": beijing_text(now),
        "offset_ms": c.shared().clock.offset_ms(),
    })
}

async fn clock(State(shared): State<Arc<Shared>>) -> Response {
    axum_json(&clock_view(&controls(shared)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MoveClock {
    set_ms: Option<i64>,
    advance_ms: Option<i64>,
}

async fn move_clock(State(shared): State<Arc<Shared>>, bytes: Bytes) -> Response {
    let c = controls(shared);
    match body::<MoveClock>(&bytes) {
        Err(e) => bad_request(e),
        Ok(MoveClock {
            set_ms: Some(at),
            advance_ms: None,
        }) => {
            c.set_time_ms(at);
            axum_json(&clock_view(&c))
        }
        Ok(MoveClock {
            set_ms: None,
            advance_ms: Some(by),
        }) => {
            c.advance_ms(by);
            axum_json(&clock_view(&c))
        }
        Ok(_) => bad_request("send exactly one of set_ms, advance_ms"),
    }
}

async fn list_faults(State(shared): State<Arc<Shared>>) -> Response {
    axum_json(&controls(shared).faults())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddFault {
    method: String,
    fault: Fault,
    #[serde(default = "one")]
    times: u32,
}

fn one() -> u32 {
    1
}

async fn add_fault(State(shared): State<Arc<Shared>>, bytes: Bytes) -> Response {
    let c = controls(shared);
    match body::<AddFault>(&bytes) {
        Err(e) => bad_request(e),
        Ok(f) => {
            if f.method != crate::faults::ANY_METHOD && AnyRequest::endpoint(&f.method).is_none() {
                return bad_request(format!("unknown method {}", f.method));
            }
            c.inject_fault(&f.method, f.fault, f.times);
            axum_json(&c.faults())
        }
    }
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> Response {
    let c = controls(shared);
    c.clear_faults();
    axum_json(&c.faults())
}

async fn sms(State(shared): State<Arc<Shared>>, Path(phone): Path<String>) -> Response {
    match controls(shared).last_sms(&phone) {
        Some(sent) => axum_json(&sent),
        None => not_found(format!("no SMS was sent to {phone}")),
    }
}

async fn ledger(State(shared): State<Arc<Shared>>, Path(member): Path<String>) -> Response {
    match controls(shared).ledger(&member) {
        Some(l) => axum_json(&l),
        None => not_found(format!("no member {member}")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetGrowth {
    growth_value: i64,
}

async fn set_growth(
    State(shared): State<Arc<Shared>>,
    Path(member): Path<String>,
    bytes: Bytes,
) -> Response {
    let c = controls(shared);
    match body::<SetGrowth>(&bytes) {
        Err(e) => bad_request(e),
        Ok(g) => {
            if c.set_growth_value(&member, g.growth_value) {
                match c.ledger(&member) {
                    Some(l) => axum_json(&l),
                    None => not_found(format!("no member {member}")),
                }
            } else {
                not_found(format!("no member {member}"))
            }
        }
    }
}

async fn token_calls(State(shared): State<Arc<Shared>>) -> Response {
    axum_json(&controls(shared).token_calls())
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Revoke {
    #[serde(default)]
    refresh_tokens: bool,
}

async fn revoke(State(shared): State<Arc<Shared>>, bytes: Bytes) -> Response {
    let c = controls(shared);
    match body::<Revoke>(&bytes) {
        Err(e) => bad_request(e),
        Ok(r) => {
            if r.refresh_tokens {
                c.revoke_all_tokens();
            } else {
                c.revoke_access_tokens();
            }
            axum_json(&json!({"revoked": true, "refresh_tokens": r.refresh_tokens}))
        }
    }
}

fn timestamps_view(c: &Controls) -> Value {
    json!({
        "scope": c.timestamp_scope(),
        "tolerance_ms": c.shared().config.timestamp_tolerance_ms,
    })
}

async fn timestamps(State(shared): State<Arc<Shared>>) -> Response {
    axum_json(&timestamps_view(&controls(shared)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetTimestamps {
    scope: TimestampScope,
}

async fn set_timestamps(State(shared): State<Arc<Shared>>, bytes: Bytes) -> Response {
    let c = controls(shared);
    match body::<SetTimestamps>(&bytes) {
        Err(e) => bad_request(e),
        Ok(t) => {
            c.set_timestamp_scope(t.scope);
            axum_json(&timestamps_view(&c))
        }
    }
}

async fn state(State(shared): State<Arc<Shared>>) -> Response {
    axum_json(&controls(shared).dump())
}

async fn reset(State(shared): State<Arc<Shared>>) -> Response {
    let c = controls(shared);
    c.reset();
    axum_json(&json!({"reset": true, "clock": clock_view(&c)}))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lifetimes (expiry minus issue, ms) of the access tokens in a dump.
    fn lifetimes(c: &Controls) -> Vec<i64> {
        let dump = c.dump();
        let tokens = dump["tokens"]["access_tokens"].as_object().unwrap();
        let mut lifetimes: Vec<i64> = tokens
            .values()
            .map(|t| t["expires_ms"].as_i64().unwrap() - t["issued_ms"].as_i64().unwrap())
            .collect();
        lifetimes.sort_unstable();
        lifetimes
    }

    #[test]
    fn access_token_lifetime_changes_at_run_time_until_reset() {
        let c =
            Controls::in_process(SandboxConfig::default().with_start_time_ms(1_700_000_000_000));
        assert_eq!(c.access_token_lifetime(), Duration::from_secs(7_200));
        let now = c.now_ms();
        let obtained = c.shared().world().obtain_token(now).unwrap();
        assert_eq!(obtained.data["expire_in"], 7_200);
        c.set_access_token_lifetime(Duration::from_secs(5));
        assert_eq!(c.access_token_lifetime(), Duration::from_secs(5));
        let refresh_token = obtained.data["refresh_token"].as_str().unwrap().to_owned();
        let refreshed = c
            .shared()
            .world()
            .refresh_token(&refresh_token, now)
            .unwrap();
        assert_eq!(refreshed.data["expire_in"], 5);
        // The first token keeps its 2 h; the refreshed one lives 5 s.
        assert_eq!(lifetimes(&c), vec![5_000, 7_200_000]);
        // Sub-second lifetimes are refused as 0 s: at least 1 s.
        c.set_access_token_lifetime(Duration::from_millis(300));
        assert_eq!(c.access_token_lifetime(), Duration::from_secs(1));
        c.reset();
        assert_eq!(c.access_token_lifetime(), Duration::from_secs(7_200));
    }
}
