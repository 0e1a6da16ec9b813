//! Time: a replaceable clock, and the correction for the skew between our clock and the
//! platform's, measured from the `Date` header of its replies.
//!
//! The platform refuses timestamps more than a few seconds off its own clock, so a host
//! whose clock drifts would fail every call; and token expiry and the daily budgets are
//! judged on the platform's day, not ours.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, FixedOffset, TimeZone};

/// A source of the current time in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + fmt::Debug {
    fn now_ms(&self) -> i64;
}

/// The operating system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
        }
    }
}

/// A clock that moves only when told: for tests (expire tokens, cross Beijing midnight).
#[derive(Debug, Default)]
pub struct ManualClock {
    now_ms: AtomicI64,
}

impl ManualClock {
    pub fn new(now_ms: i64) -> Self {
        ManualClock {
            now_ms: AtomicI64::new(now_ms),
        }
    }

    pub fn set_ms(&self, now_ms: i64) {
        self.now_ms.store(now_ms, Ordering::SeqCst);
    }

    pub fn advance_ms(&self, delta_ms: i64) {
        self.now_ms.fetch_add(delta_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

/// A `Date` header has whole seconds, so a single reading is uncertain by one second;
/// offsets within this bound are noise and are not applied (they would only jitter).
const SKEW_DEADBAND_MS: i64 = 1_000;

/// A clock corrected by the offset last measured against the platform.
///
/// `now_ms() = local.now_ms() + offset`, where the offset is updated from each reply's
/// `Date` header (see [`SkewCorrectedClock::observe_date_header`]).
#[derive(Debug)]
pub struct SkewCorrectedClock {
    local: Arc<dyn Clock>,
    offset_ms: AtomicI64,
}

impl SkewCorrectedClock {
    pub fn new(local: Arc<dyn Clock>) -> Self {
        SkewCorrectedClock {
            local,
            offset_ms: AtomicI64::new(0),
        }
    }

    /// The offset currently applied (platform minus local), in milliseconds.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// The uncorrected local time.
    pub fn local_now_ms(&self) -> i64 {
        self.local.now_ms()
    }

    /// Updates the offset from an HTTP `Date` header (RFC 7231 IMF-fixdate, e.g.
    /// `Sun, 06 Nov 1994 08:49:37 GMT`) received at local time `received_local_ms`.
    /// Returns the offset now applied; an unparsable header changes nothing.
    pub fn observe_date_header(&self, date: &str, received_local_ms: i64) -> i64 {
        let Some(server_ms) = parse_http_date_ms(date) else {
            return self.offset_ms();
        };
        // The server's true time lies in [date, date + 1 s): take the middle.
        let measured = server_ms + 500 - received_local_ms;
        let applied = if measured.abs() <= SKEW_DEADBAND_MS {
            0
        } else {
            measured
        };
        self.offset_ms.store(applied, Ordering::Relaxed);
        applied
    }
}

impl Clock for SkewCorrectedClock {
    fn now_ms(&self) -> i64 {
        self.local.now_ms() + self.offset_ms()
    }
}

/// Parses an HTTP date (IMF-fixdate; `GMT` is accepted as +00:00) to epoch milliseconds.
pub fn parse_http_date_ms(date: &str) -> Option<i64> {
    DateTime::parse_from_rfc2822(date.trim())
        .ok()
        .map(|d| d.timestamp_millis())
}

pub use crate::wire::beijing;

const DAY_MS: i64 = 86_400_000;
const BEIJING_OFFSET_MS: i64 = 8 * 3_600_000;

/// The Beijing calendar day of an instant, as days since 1970-01-01 (Beijing).
pub fn beijing_day(now_ms: i64) -> i64 {
    (now_ms + BEIJING_OFFSET_MS).div_euclid(DAY_MS)
}

/// The instant the Beijing day after `now_ms` begins (the next Beijing midnight).
pub fn next_beijing_midnight(now_ms: i64) -> DateTime<FixedOffset> {
    let next_ms = (beijing_day(now_ms) + 1) * DAY_MS - BEIJING_OFFSET_MS;
    beijing()
        .timestamp_millis_opt(next_ms)
        .single()
        .unwrap_or_else(|| {
            beijing()
                .timestamp_millis_opt(0)
                .single()
                .unwrap_or_default_fixed()
        })
}

trait UnwrapOrDefaultFixed {
    fn unwrap_or_default_fixed(self) -> DateTime<FixedOffset>;
}

impl UnwrapOrDefaultFixed for Option<DateTime<FixedOffset>> {
    fn unwrap_or_default_fixed(self) -> DateTime<FixedOffset> {
        self.unwrap_or_else(|| DateTime::<chrono::Utc>::default().with_timezone(&beijing()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_imf_fixdate() {
        assert_eq!(
            parse_http_date_ms("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777_000)
        );
        assert_eq!(parse_http_date_ms("yesterday"), None);
    }

    #[test]
    fn skew_beyond_deadband_is_applied() {
        let local = Arc::new(ManualClock::new(784_111_777_000 - 10_000));
        let clock = SkewCorrectedClock::new(local.clone());
        let applied = clock.observe_date_header("Sun, 06 Nov 1994 08:49:37 GMT", local.now_ms());
        assert_eq!(applied, 10_500);
        assert_eq!(clock.now_ms(), 784_111_777_500);
        // Within the uncertainty of a whole-second header: no correction.
        let applied = clock.observe_date_header("Sun, 06 Nov 1994 08:49:27 GMT", local.now_ms());
        assert_eq!(applied, 0);
    }

    #[test]
    fn beijing_midnight() {
        // 2024-01-01T15:59:59.999Z is 23:59:59.999 in Beijing.
        let ms = 1_704_124_799_999;
        assert_eq!(beijing_day(ms) + 1, beijing_day(ms + 1));
        let next = next_beijing_midnight(ms);
        assert_eq!(next.to_rfc3339(), "2024-01-02T00:00:00+08:00");
    }
}
