//! The sandbox's clock: the system clock plus an offset that tests move.
//!
//! It keeps running (never frozen): a client signs each request with its own clock, and
//! a frozen server clock would push every timestamp out of the 3 s window within
//! seconds. Setting or advancing only changes the offset. Every reply carries a `Date`
//! header from this clock, so a client that measures clock skew (as the runtime does)
//! follows the sandbox's time after a jump.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use openplatform_runtime::clock::{Clock, SystemClock};

/// The sandbox's notion of "now" (milliseconds since the Unix epoch).
#[derive(Debug)]
pub struct SandboxClock {
    base: Arc<dyn Clock>,
    offset_ms: AtomicI64,
}

impl SandboxClock {
    /// A clock at the system time, or starting at `start_ms` and running from there.
    pub fn new(start_ms: Option<i64>) -> Self {
        Self::with_base(Arc::new(SystemClock), start_ms)
    }

    /// A clock over another base clock (for tests of the sandbox itself).
    pub fn with_base(base: Arc<dyn Clock>, start_ms: Option<i64>) -> Self {
        let offset = start_ms.map_or(0, |start| start.saturating_sub(base.now_ms()));
        SandboxClock {
            base,
            offset_ms: AtomicI64::new(offset),
        }
    }

    /// Makes "now" `now_ms`; the clock keeps running from there.
    pub fn set_ms(&self, now_ms: i64) {
        let offset = now_ms.saturating_sub(self.base.now_ms());
        self.offset_ms.store(offset, Ordering::SeqCst);
    }

    /// Moves the clock by `delta_ms` (negative moves it back).
    pub fn advance_ms(&self, delta_ms: i64) {
        // fetch_update never fails with a closure that always returns Some.
        let _ = self
            .offset_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |o| {
                Some(o.saturating_add(delta_ms))
            });
    }

    /// Sets how far the sandbox's time is from the system's (a restored state file).
    pub fn set_offset_ms(&self, offset_ms: i64) {
        self.offset_ms.store(offset_ms, Ordering::SeqCst);
    }

    /// How far the sandbox's time is from the system's.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::SeqCst)
    }
}

impl Clock for SandboxClock {
    fn now_ms(&self) -> i64 {
        self.base.now_ms().saturating_add(self.offset_ms())
    }
}

/// An instant as an HTTP `Date` header (IMF-fixdate, always GMT).
pub fn http_date(now_ms: i64) -> String {
    let at = chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default();
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// An instant as the document writes times: `yyyy-MM-dd HH:mm:ss`, Beijing time.
pub fn beijing_text(now_ms: i64) -> String {
    openplatform_runtime::wire::BeijingDateTime::from_timestamp_ms(now_ms)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// The Beijing calendar date of an instant, `yyyy-MM-dd`.
pub fn beijing_date_text(now_ms: i64) -> String {
    openplatform_runtime::wire::BeijingDateTime::from_timestamp_ms(now_ms)
        .map(|t| t.date().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use openplatform_runtime::clock::ManualClock;

    #[test]
    fn set_and_advance_move_the_offset_only() {
        let base = Arc::new(ManualClock::new(1_000_000));
        let clock = SandboxClock::with_base(base.clone(), Some(5_000_000));
        assert_eq!(clock.now_ms(), 5_000_000);
        base.advance_ms(10);
        assert_eq!(clock.now_ms(), 5_000_010);
        clock.advance_ms(7_200_000);
        assert_eq!(clock.now_ms(), 12_200_010);
        clock.set_ms(42);
        assert_eq!(clock.now_ms(), 42);
    }

    #[test]
    fn formats() {
        assert_eq!(http_date(784_111_777_000), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(beijing_text(1_624_261_529_000), "2021-06-21 15:45:29");
        assert_eq!(beijing_date_text(1_624_261_529_000), "2021-06-21");
    }
}
