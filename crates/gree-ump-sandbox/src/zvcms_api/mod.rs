//! The zvcms open API (`communal.user.coupons-vertify`, 优惠券核销) on the same server:
//! `POST {base}/api/v2` (the zvcms spec's `protocol.path`), beside the UMP gateway.
//!
//! - Served only when [`SandboxConfig::zvcms`](crate::SandboxConfig::zvcms) is set
//!   ([`ZvcmsConfig`]: the `OpenId`, `GrantCode` and [`Signer`] it accepts); otherwise the
//!   path is HTTP 404 like any unknown path. The zvcms signature scheme is not published,
//!   so the sandbox has none of its own: the `Token` is checked by recomputing it with
//!   the configured signer, the same trait object a `zvcms::Client` signs with (the same
//!   seam on both sides).
//! - The envelope is checked first (module `envelope`), then `Action` is dispatched through the
//!   zvcms crate's generated route table (`AnyRequest::decode` + `validate`), as the UMP
//!   gateway uses gree-ump's.
//! - Coupons: [`state::zvcms_coupons`](crate::state::zvcms_coupons), apart from UMP's (errata E21 of
//!   `api-spec/zvcms.yaml`); test controls put them in
//!   ([`Controls::zvcms_add_coupon`](crate::Controls::zvcms_add_coupon)).
//! - Replies: HTTP 200, the document's envelope. Success as its example,
//!   `{"status":"true","code":"0","message":"","data":{…}}`; a business refusal (unknown
//!   coupon, another customer's, used) `{"status":true,"code":"2001",…}` as its
//!   business-error example; a refusal of the call itself (envelope, credentials,
//!   signature, action, parameters) `{"status":false,"code":"1003",…}` as its system-error
//!   example. The document names no code (errata E15): the codes are the sandbox's, listed
//!   in the crate README.
//! - Faults and the timestamp window of the UMP side do not apply here.

pub mod controls;
mod envelope;

use std::fmt;
use std::sync::Arc;

use ::zvcms::generated::routes::AnyRequest;
use openplatform_runtime::Signer;
use serde_json::{Value, json};

use crate::state::World;

/// The call is not a well-formed envelope, or its `Params` break the spec's rules.
pub const INVALID_PARAMS: i64 = 1001;
/// `OpenId` or `GrantCode` is not the configured one.
pub const UNKNOWN_CREDENTIALS: i64 = 1002;
/// The `Token` is not what the configured signer computes.
pub const BAD_SIGNATURE: i64 = 1003;
/// `Action` is not a method of the zvcms spec.
pub const UNKNOWN_ACTION: i64 = 1004;

/// What the zvcms side of a sandbox accepts.
#[derive(Clone)]
#[non_exhaustive]
pub struct ZvcmsConfig {
    /// The `OpenId` (密钥Id) accepted.
    pub open_id: String,
    /// The `GrantCode` (授权code) accepted; never in `Debug`.
    pub grant_code: String,
    /// Recomputes each request's `Token`; give the sandbox the signer the client uses.
    pub signer: Arc<dyn Signer>,
}

impl ZvcmsConfig {
    /// Accepts `open_id` and `grant_code`, Tokens as `signer` computes them.
    pub fn new(
        open_id: impl Into<String>,
        grant_code: impl Into<String>,
        signer: Arc<dyn Signer>,
    ) -> Self {
        ZvcmsConfig {
            open_id: open_id.into(),
            grant_code: grant_code.into(),
            signer,
        }
    }
}

impl fmt::Debug for ZvcmsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZvcmsConfig")
            .field("open_id", &self.open_id)
            .field("grant_code", &"[REDACTED]")
            .field("signer", &self.signer)
            .finish()
    }
}

/// A refusal: `status` false for the call itself, true for a business refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZvcmsError {
    /// The reply's `status` (the document's business errors say `true`).
    pub status: bool,
    /// The reply's `code`.
    pub code: i64,
    /// The reply's `message`.
    pub message: String,
}

impl ZvcmsError {
    pub(crate) fn system(code: i64, message: impl Into<String>) -> Self {
        ZvcmsError {
            status: false,
            code,
            message: message.into(),
        }
    }

    pub(crate) fn business(code: i64, message: impl Into<String>) -> Self {
        ZvcmsError {
            status: true,
            code,
            message: message.into(),
        }
    }
}

/// Processes one zvcms call: the reply body.
pub(crate) fn process(config: &ZvcmsConfig, world: &mut World, body: &[u8]) -> Vec<u8> {
    let reply = match answer(config, world, body) {
        Ok(data) => json!({"status": "true", "code": "0", "message": "", "data": data}),
        Err(e) => json!({"status": e.status, "code": e.code.to_string(), "message": e.message}),
    };
    serde_json::to_vec(&reply).unwrap_or_default()
}

fn answer(config: &ZvcmsConfig, world: &mut World, body: &[u8]) -> Result<Value, ZvcmsError> {
    let call = envelope::verify(body, config)?;
    let request = AnyRequest::decode(&call.action, call.params.as_bytes())
        .ok_or_else(|| {
            ZvcmsError::system(UNKNOWN_ACTION, format!("未知接口: Action {}", call.action))
        })?
        .map_err(|e| ZvcmsError::system(INVALID_PARAMS, format!("参数错误: {e}")))?;
    request
        .validate()
        .map_err(|e| ZvcmsError::system(INVALID_PARAMS, format!("参数错误: {e}")))?;
    match request {
        AnyRequest::VerifyCoupons(r) => world.zvcms.verify(&r),
        // An action added to the spec but not to the sandbox.
        other => Err(ZvcmsError::system(
            UNKNOWN_ACTION,
            format!("{} is not emulated", other.info().method),
        )),
    }
}
