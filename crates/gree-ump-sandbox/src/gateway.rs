//! One gateway call, from method name, query and body to the reply: routing by the
//! generated route table, the checks of [`auth`](crate::auth), decoding and validation by
//! the generated request types (so a field the spec requires is required here too), and
//! dispatch to the state operations. Nothing here knows HTTP.

use std::borrow::Cow;

use gree_ump::ErrorCode;
use gree_ump::RequestError;
use gree_ump::generated::routes::AnyRequest;
use openplatform_runtime::{Credential, Verb};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::auth::{
    PROTOCOL_PARAMS, TokenParam, check_signature, check_timestamp, required_param, token_param,
};
use crate::config::VerbReading;
use crate::error::{ApiError, ApiResult};
use crate::server::Shared;
use crate::state::{Reply, World};

/// A received gateway call.
#[derive(Debug, Clone)]
pub(crate) struct Call<'a> {
    pub verb: Verb,
    /// The `{method}` of `/gw/gateway/{method}/v1`.
    pub method: &'a str,
    /// The decoded query parameters, in the order received.
    pub query: &'a [(String, String)],
    /// The raw body, exactly as signed.
    pub body: &'a [u8],
}

/// Processes one call against the shared state.
pub(crate) fn process(shared: &Shared, call: &Call<'_>) -> ApiResult<Answer> {
    // A bug, for the test that a panic while processing is answered "busy".
    #[cfg(test)]
    if call.method == PANIC_METHOD {
        panic!("a test's deliberate panic");
    }
    let info = AnyRequest::endpoint(call.method)
        .ok_or_else(|| ApiError::invalid(format!("unknown method {}", call.method)))?;
    if let Some(wanted) = wanted_verb(shared.config.verbs, call.verb, info.doc_verb) {
        shared
            .verb_refusals
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        return Err(ApiError::invalid(format!(
            "请求方式 {} 不支持, 请使用 {}",
            call.verb.as_str(),
            wanted.as_str()
        )));
    }
    check_signature(call.query, call.body, &shared.config.app_secret)?;
    let now = shared.now_ms();
    let wall = now.saturating_sub(shared.clock.offset_ms());
    // Out of the window's scope (errata E73) a timestamp is still required, as
    // milliseconds, but may be anywhere.
    let tolerance = shared
        .config
        .timestamp_tolerance_ms
        .filter(|_| shared.timestamp_scope().applies_to(info.credential));
    check_timestamp(call.query, now, wall, tolerance)?;
    // A business call's body is decoded before the world is locked (decoding needs none
    // of it); its error still comes after the token's, as before.
    let decoded = match info.credential {
        Credential::AccessToken => Some(decode(call)),
        Credential::AppSignature | Credential::RefreshToken => None,
    };
    let mut world = shared.world();
    match info.credential {
        Credential::AppSignature => {
            let app_id = required_param(call.query, token_param(TokenParam::AppId))?;
            if app_id != shared.config.app_id {
                return Err(ApiError::with(ErrorCode::AppNotFound, app_id));
            }
            world.obtain_token(now).map(Answer::Reply)
        }
        Credential::RefreshToken => {
            let token = required_param(call.query, token_param(TokenParam::Refresh))?;
            world.refresh_token(token, now).map(Answer::Reply)
        }
        Credential::AccessToken => {
            let token = required_param(call.query, token_param(TokenParam::Access))?;
            world.tokens.check_access(token, now).map_err(|e| {
                // The reading of the invalid-token answer this sandbox takes (E85).
                let (code, message) = shared.config.invalid_token_answer.code_and_message();
                match shared.config.invalid_token_answer {
                    crate::config::InvalidTokenAnswer::SpecCode => e,
                    _ => ApiError {
                        code,
                        message: message.to_owned(),
                    },
                }
            })?;
            let request = decoded.unwrap_or_else(|| decode(call))?;
            answer(&mut world, request, now)
        }
    }
}

/// The verb to use instead when the gateway refuses `verb` for an endpoint the document
/// marks `doc_verb` (errata E01), under the sandbox's reading of the verbs; `None` when
/// it takes it. Leniently, POST everywhere and GET where the document marks GET.
pub(crate) fn wanted_verb(reading: VerbReading, verb: Verb, doc_verb: Verb) -> Option<Verb> {
    let taken = match reading {
        VerbReading::Lenient => verb == Verb::Post || doc_verb == Verb::Get,
        VerbReading::Document | VerbReading::DocumentHttp405 => verb == doc_verb,
    };
    (!taken).then_some(if verb == Verb::Post {
        Verb::Get
    } else {
        Verb::Post
    })
}

/// The method whose processing panics, in the crate's tests.
#[cfg(test)]
pub(crate) const PANIC_METHOD: &str = "sandbox.test.panic";

/// The body of a business call as JSON: the body, or for a GET without body the
/// business query parameters as an object of strings (the generated types decode
/// numeric strings).
fn business_body<'a>(call: &Call<'a>) -> Cow<'a, [u8]> {
    if call.verb == Verb::Get && call.body.iter().all(u8::is_ascii_whitespace) {
        let map: Map<String, Value> = call
            .query
            .iter()
            .filter(|(n, _)| !PROTOCOL_PARAMS.contains(&n.as_str()))
            .map(|(n, v)| (n.clone(), Value::String(v.clone())))
            .collect();
        Cow::Owned(serde_json::to_vec(&Value::Object(map)).unwrap_or_default())
    } else {
        Cow::Borrowed(call.body)
    }
}

/// Fields whose absence the document answers with a code of their own rather than 1001:
/// the spec's `missing_error`, through the generated route table.
const MISSING_FIELD_CODES: &[(&str, &str, ErrorCode)] = AnyRequest::MISSING_FIELD_ERRORS;

fn decode(call: &Call<'_>) -> ApiResult<AnyRequest> {
    // The document's own examples, where they differ from what the client sends
    // (errata E74–E76): the sandbox accepts them too.
    let body = crate::lenient::normalise(call.method, business_body(call));
    // Business parameters are a JSON object (serde would also read a struct from an
    // array, field by field: `[1,2]` must not pass for `{"open_id":1,"phone":2}`).
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|b| *b != b'{') {
        return Err(ApiError::invalid("body must be a JSON object"));
    }
    for (method, field, code) in MISSING_FIELD_CODES {
        if *method == call.method
            && let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&body)
        {
            let absent = match map.get(*field) {
                None | Some(Value::Null) => true,
                Some(Value::String(s)) => s.trim().is_empty(),
                Some(_) => false,
            };
            if absent {
                return Err(ApiError::of(*code));
            }
        }
    }
    let request = AnyRequest::decode(call.method, &body)
        .ok_or_else(|| ApiError::invalid(format!("unknown method {}", call.method)))?
        .map_err(|e| ApiError::invalid(format!("body: {e}")))?;
    request
        .validate()
        .map_err(|e| request_error(call.method, &e))?;
    Ok(request)
}

/// The platform's answer to a request that breaks a rule of the spec.
fn request_error(method: &str, e: &RequestError) -> ApiError {
    match e {
        // The spec names the code of each one_of rule (open_id or phone: 110002).
        RequestError::OneOfMissing {
            code: Some(code), ..
        } => ApiError::of(ErrorCode::from_code(*code)),
        RequestError::EmptyField { field, .. } => MISSING_FIELD_CODES
            .iter()
            .find(|(m, f, _)| *m == method && f == field)
            .map_or_else(|| ApiError::invalid(e), |(_, _, code)| ApiError::of(*code)),
        _ => ApiError::invalid(e),
    }
}

/// A gateway call's answer: a reply, or a member's `data` (3.2, 3.7) already serialized
/// from the world, which spares building its JSON value.
#[derive(Debug)]
pub(crate) enum Answer {
    Reply(Reply),
    Member(Box<RawValue>),
}

/// [`dispatch`], with the member replies serialized straight from the world.
fn answer(world: &mut World, request: AnyRequest, now: i64) -> ApiResult<Answer> {
    match request {
        AnyRequest::QueryMember(r) => world.query_member_raw(&r, now).map(Answer::Member),
        AnyRequest::ParseMemberCode(r) => world.parse_member_code_raw(&r, now).map(Answer::Member),
        other => dispatch(world, other, now).map(Answer::Reply),
    }
}

pub(crate) fn dispatch(world: &mut World, request: AnyRequest, now: i64) -> ApiResult<Reply> {
    match request {
        AnyRequest::CreateMember(r) => world.create_member(r, now),
        AnyRequest::QueryMember(r) => world.query_member(&r, now),
        AnyRequest::ChangePoints(r) => world.change_points(&r, now),
        AnyRequest::RollbackPoints(r) => world.rollback_points(&r, now),
        AnyRequest::RollbackPointsPartially(r) => world.rollback_points_partially(&r, now),
        AnyRequest::ListPointRecords(r) => world.list_point_records(&r),
        AnyRequest::GenerateMemberCode(r) => world.generate_member_code(&r, now),
        AnyRequest::ParseMemberCode(r) => world.parse_member_code(&r, now),
        AnyRequest::ListLevels(r) => world.list_levels(&r),
        AnyRequest::AddOrder(r) => world.add_order(&r, now),
        AnyRequest::RefundOrder(r) => world.refund_order(&r, now),
        AnyRequest::RefundOrderPartially(r) => world.refund_order_partially(&r, now),
        AnyRequest::AddCouponTemplate(r) => world.add_coupon_template(&r, now),
        AnyRequest::GiveCoupons(r) => world.give_coupons(&r),
        AnyRequest::SyncCouponStatus(r) => world.sync_coupon_status(&r),
        AnyRequest::VerifyCoupons(r) => world.verify_coupons(&r, now),
        AnyRequest::ListUserCoupons(r) => world.list_user_coupons(&r, now),
        AnyRequest::SendSmsCode(r) => world.send_sms_code(&r, now),
        AnyRequest::VerifySmsCode(r) => world.verify_sms_code(&r, now),
        // Token calls are answered before decoding; a method added to the spec but not
        // to the sandbox lands here too.
        other => Err(ApiError::invalid(format!(
            "{} is not emulated",
            other.info().method
        ))),
    }
}

#[cfg(test)]
mod verb_tests {
    use super::*;

    #[test]
    fn each_reading_takes_its_verbs() {
        use Verb::{Get, Post};
        // (reading, sent, document's verb) → the verb asked for instead, if refused.
        let cases = [
            (VerbReading::Lenient, Post, Get, None),
            (VerbReading::Lenient, Get, Get, None),
            (VerbReading::Lenient, Post, Post, None),
            (VerbReading::Lenient, Get, Post, Some(Post)),
            (VerbReading::Document, Post, Get, Some(Get)),
            (VerbReading::Document, Get, Get, None),
            (VerbReading::Document, Get, Post, Some(Post)),
            (VerbReading::DocumentHttp405, Post, Get, Some(Get)),
            (VerbReading::DocumentHttp405, Post, Post, None),
        ];
        for (reading, sent, doc, wanted) in cases {
            assert_eq!(
                wanted_verb(reading, sent, doc),
                wanted,
                "{reading:?} {sent:?} {doc:?}"
            );
        }
    }
}
