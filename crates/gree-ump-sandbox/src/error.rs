//! The platform's error answer: an `error_code` and an `error_message`.
//!
//! Messages start with the document's own wording for the code (异常返回码归纳), so a
//! client matching on either the code or the text sees what the platform would send;
//! a short detail after a colon says what exactly was wrong.

use std::fmt;

use gree_ump::ErrorCode;

/// The code answered for an access or refresh token that is unknown, expired or revoked.
///
/// The document names none; the spec's `protocol.invalid_token` decision (errata E02) is
/// 1002, taken from the generated protocol facts so both sides agree.
pub fn invalid_token_code() -> i64 {
    gree_ump::PROTOCOL
        .invalid_token_codes
        .first()
        .copied()
        .unwrap_or(1002)
}

/// The code answered when a token call exceeds its daily budget (2.1: once a day, 2.2:
/// 20 times a day). The document states the limits but no code; 1003 follows the
/// gateway's own numbering (1001, 1002, 1005) and collides with nothing it lists.
pub const TOKEN_DAILY_LIMIT_CODE: i64 = 1003;

/// The message of [`TOKEN_DAILY_LIMIT_CODE`], worded like 140004 (超出每天最大发送次数).
pub const TOKEN_DAILY_LIMIT_MESSAGE: &str = "超出每天最大调用次数";

/// One error answer of the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The reply's `error_code`.
    pub code: i64,
    /// The reply's `error_message`: the document's wording, then a detail.
    pub message: String,
}

impl ApiError {
    /// The document's code with its own message.
    pub fn of(code: ErrorCode) -> Self {
        ApiError {
            code: code.code(),
            message: code.message().unwrap_or_default().to_owned(),
        }
    }

    /// The document's code, its message, then a detail: `请求参数不合法: page_no must be ≥ 1`.
    pub fn with(code: ErrorCode, detail: impl fmt::Display) -> Self {
        let base = code.message().unwrap_or_default();
        ApiError {
            code: code.code(),
            message: format!("{base}: {detail}"),
        }
    }

    /// 1001 请求参数不合法, with a detail.
    pub fn invalid(detail: impl fmt::Display) -> Self {
        Self::with(ErrorCode::InvalidParameter, detail)
    }

    /// The invalid-token answer (see [`invalid_token_code`]); `what` names the token.
    pub fn invalid_token(what: &str, detail: &str) -> Self {
        ApiError {
            code: invalid_token_code(),
            message: format!("{what}无效或已过期: {detail}"),
        }
    }

    /// The daily-budget answer of the token calls.
    pub fn token_daily_limit(limit: u32) -> Self {
        ApiError {
            code: TOKEN_DAILY_LIMIT_CODE,
            message: format!("{TOKEN_DAILY_LIMIT_MESSAGE}: 每天最多 {limit} 次"),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

/// Results of the state operations.
pub type ApiResult<T> = Result<T, ApiError>;
