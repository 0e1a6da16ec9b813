//! Redaction: what generated `Debug` impls print for sensitive fields, and the scrubbing
//! of every text the runtime produces from what a server sent.

use std::fmt;

/// The `Debug` of a sensitive field (the spec's `sensitive: secret | pii`): its marker
/// when set, `None` when not; never the value.
pub struct Redacted {
    present: bool,
    marker: &'static str,
}

impl Redacted {
    pub fn new(present: bool, marker: &'static str) -> Self {
        Redacted { present, marker }
    }
}

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.present {
            f.write_str(self.marker)
        } else {
            f.write_str("None")
        }
    }
}
