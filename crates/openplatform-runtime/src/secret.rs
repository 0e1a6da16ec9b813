//! [`Secret`]: a string that never reaches a log. Its own module because signing, the
//! client and the token stores all hold secrets, and none of them should depend on
//! another for it (the signer imported it from the token stores).

use std::fmt;
use std::sync::Arc;

/// A token (access or refresh) or any other secret string.
///
/// Its `Debug` is redacted and it has no `Display`: reading it takes an explicit
/// [`Secret::expose`], so a token cannot reach a log or an error text by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps `value`; from here on only [`expose`](Self::expose) reads it.
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        Secret(value.into())
    }

    /// The secret value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The shared text, for the runtime's scrubbers (which keep it without a copy).
    pub(crate) fn shared(&self) -> &Arc<str> {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}
