//! 6.1–6.2: SMS verification codes.
//!
//! Nothing is sent: the code is kept for inspection (`Controls::last_sms_code`,
//! `GET /__sandbox/sms/{phone}`).
//!
//! - 6.1: an empty target is 140003, a target that is not 11 digits starting with 1 is
//!   140002; at most `sms_daily_limit` codes (10 by default) per phone per Beijing day,
//!   then 140004 (超出每天最大发送次数). Codes have four digits (the 6.2 example `4586`)
//!   and live `sms_code_ttl_ms` (5 minutes by default). A new code replaces the previous
//!   one.
//! - 6.2: a malformed phone is 140002; a wrong, expired, already used or never sent code
//!   is 140005 (验证码验证不通过). A code verifies once. Wrong attempts are not limited.

use gree_ump::ErrorCode;
use gree_ump::endpoints::{SendSmsCodeRequest, VerifySmsCodeRequest};
use openplatform_runtime::clock::beijing_day;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::tracked::Tracked;
use super::{Reply, World, is_valid_phone};
use crate::error::{ApiError, ApiResult};

/// The last code sent to a phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentCode {
    /// The phone it was sent to (6.1 `target`, trimmed).
    pub phone: String,
    /// The four-digit code.
    pub code: String,
    /// When it was sent, sandbox time in ms since the epoch.
    pub sent_ms: i64,
    /// When it stops verifying (`sent_ms` + `sms_code_ttl_ms`).
    pub expires_ms: i64,
    /// Whether a 6.2 call verified it already (a code verifies once).
    pub used: bool,
}

/// The SMS history of one phone.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct PhoneSms {
    pub beijing_day: i64,
    pub sent_today: u32,
    pub sent_total: u64,
    pub last: Option<SentCode>,
}

/// The SMS history of every phone.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct SmsBook {
    pub(crate) phones: Tracked<String, PhoneSms>,
}

impl SmsBook {
    pub(crate) fn last_code(&self, phone: &str) -> Option<SentCode> {
        self.phones.get(phone.trim()).and_then(|p| p.last.clone())
    }
}

impl World {
    /// 6.1 `wk.sms.verify.send`: `data` is true.
    pub fn send_sms_code(&mut self, req: &SendSmsCodeRequest, now_ms: i64) -> ApiResult<Reply> {
        let phone = req.target.trim();
        if phone.is_empty() {
            return Err(ApiError::of(ErrorCode::SmsTargetRequired));
        }
        if !is_valid_phone(phone) {
            return Err(ApiError::with(ErrorCode::SmsInvalidPhone, phone));
        }
        let limit = self.config.sms_daily_limit;
        let ttl = self.config.sms_code_ttl_ms;
        let today = beijing_day(now_ms);
        let entry = self.sms.phones.entry(phone.to_owned()).or_default();
        if entry.beijing_day != today {
            entry.beijing_day = today;
            entry.sent_today = 0;
        }
        if entry.sent_today >= limit {
            return Err(ApiError::with(
                ErrorCode::SmsDailyLimitExceeded,
                format!("{limit} per day"),
            ));
        }
        let code = self.ids.sms_code();
        let entry = self.sms.phones.entry(phone.to_owned()).or_default();
        entry.sent_today = entry.sent_today.saturating_add(1);
        entry.sent_total = entry.sent_total.saturating_add(1);
        entry.last = Some(SentCode {
            phone: phone.to_owned(),
            code,
            sent_ms: now_ms,
            expires_ms: now_ms.saturating_add(ttl),
            used: false,
        });
        Ok(Reply::data(json!(true)))
    }

    /// 6.2 `wk.sms.verify.judge`: `data` is true.
    pub fn verify_sms_code(&mut self, req: &VerifySmsCodeRequest, now_ms: i64) -> ApiResult<Reply> {
        let phone = req.phone.trim();
        if !is_valid_phone(phone) {
            return Err(ApiError::with(ErrorCode::SmsInvalidPhone, phone));
        }
        let mismatch = |why: &str| ApiError::with(ErrorCode::SmsCodeMismatch, why);
        let sent = self
            .sms
            .phones
            .get_mut(phone)
            .and_then(|p| p.last.as_mut())
            .ok_or_else(|| mismatch("no code was sent to this phone"))?;
        if sent.used {
            return Err(mismatch("code already used"));
        }
        if now_ms >= sent.expires_ms {
            return Err(mismatch("code expired"));
        }
        if sent.code != req.verify_code.trim() {
            return Err(mismatch("wrong code"));
        }
        sent.used = true;
        Ok(Reply::data(json!(true)))
    }
}
