//! Error-code classification shared by every generated error enum.

use std::fmt;

/// What kind of failure an error code reports: lets callers branch without listing codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCategory {
    /// The platform is overloaded; try again later.
    Busy,
    /// The request was malformed or violated a rule.
    InvalidRequest,
    /// What the request refers to does not exist.
    NotFound,
    /// The request conflicts with existing state (a reused idempotency key…).
    Conflict,
    /// A quota or limit was reached.
    Limit,
    /// The caller's identity or credentials were refused.
    Auth,
    /// A business rule refused the request (insufficient points, expired code…).
    Business,
    /// The code is not in the document.
    Unknown,
}

impl ErrorCategory {
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCategory::Busy => "busy",
            ErrorCategory::InvalidRequest => "invalid_request",
            ErrorCategory::NotFound => "not_found",
            ErrorCategory::Conflict => "conflict",
            ErrorCategory::Limit => "limit",
            ErrorCategory::Auth => "auth",
            ErrorCategory::Business => "business",
            ErrorCategory::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ErrorCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Implemented by every generated error-code enum.
pub trait ApiErrorCode: Copy + fmt::Debug + fmt::Display + Send + Sync + 'static {
    /// The typed code for a wire code; codes the document does not list map to an
    /// `Unknown(code)` variant.
    fn from_code(code: i64) -> Self;
    /// The wire code.
    fn code(&self) -> i64;
    /// The document's message for this code; `None` for unknown codes.
    fn message(&self) -> Option<&'static str>;
    fn category(&self) -> ErrorCategory;
    /// Whether repeating the identical call can succeed.
    fn is_retryable(&self) -> bool;
}
