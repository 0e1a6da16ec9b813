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
    /// Every category, in declaration order. The generator's list of the names a spec
    /// may use (`category:` of an error) is tested against this one.
    pub const ALL: &'static [ErrorCategory] = &[
        ErrorCategory::Busy,
        ErrorCategory::InvalidRequest,
        ErrorCategory::NotFound,
        ErrorCategory::Conflict,
        ErrorCategory::Limit,
        ErrorCategory::Auth,
        ErrorCategory::Business,
        ErrorCategory::Unknown,
    ];

    /// The category's name in a spec (`invalid_request`).
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
    /// The kind of failure the code reports (the spec's `category`; `Unknown` for codes
    /// the document does not list).
    fn category(&self) -> ErrorCategory;
    /// Whether repeating the identical call can succeed.
    fn is_retryable(&self) -> bool;
}

#[cfg(test)]
mod tests {
    use super::ErrorCategory;

    /// `ALL` lists every variant: a new one fails to compile here until it is added.
    #[test]
    fn all_is_complete() {
        for c in ErrorCategory::ALL {
            match c {
                ErrorCategory::Busy
                | ErrorCategory::InvalidRequest
                | ErrorCategory::NotFound
                | ErrorCategory::Conflict
                | ErrorCategory::Limit
                | ErrorCategory::Auth
                | ErrorCategory::Business
                | ErrorCategory::Unknown => {}
            }
        }
        let count = |c: ErrorCategory| match c {
            ErrorCategory::Busy => 0,
            ErrorCategory::InvalidRequest => 1,
            ErrorCategory::NotFound => 2,
            ErrorCategory::Conflict => 3,
            ErrorCategory::Limit => 4,
            ErrorCategory::Auth => 5,
            ErrorCategory::Business => 6,
            ErrorCategory::Unknown => 7,
        };
        let indices: Vec<usize> = ErrorCategory::ALL.iter().map(|c| count(*c)).collect();
        assert_eq!(indices, (0..8).collect::<Vec<_>>());
    }
}
