//! Time: a replaceable clock, and the correction for the skew between our clock and the
//! platform's, measured from the `Date` header of its replies.
//!
//! The platform refuses timestamps more than a few seconds off its own clock, so a host
//! whose clock drifts would fail every call; and token expiry and the daily budgets are
//! judged on the platform's day, not ours.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, FixedOffset, TimeZone};

/// A source of the current time in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now, in milliseconds since 1970-01-01 UTC (negative before).
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

/// A clock that moves only when told: for tests (expire tokens, cross midnight).
#[derive(Debug, Default)]
pub struct ManualClock {
    now_ms: AtomicI64,
}

impl ManualClock {
    /// A clock standing at `now_ms` (milliseconds since the Unix epoch).
    pub fn new(now_ms: i64) -> Self {
        ManualClock {
            now_ms: AtomicI64::new(now_ms),
        }
    }

    /// Sets the time to `now_ms` (milliseconds since the Unix epoch); may go backwards.
    pub fn set_ms(&self, now_ms: i64) {
        self.now_ms.store(now_ms, Ordering::SeqCst);
    }

    /// Moves the time by `delta_ms` milliseconds (negative: backwards).
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

/// The largest clock correction applied by default: 10 minutes.
///
/// Why this bound: a host synchronised by NTP is within a second of true time, and a host
/// whose clock drifted a few minutes is the case the correction exists for. A `Date`
/// header further off than 10 minutes is far more likely a proxy, a cache or a hostile
/// server than the platform, and applying it would move the budget day (so a +1-day
/// header could grant a second day's budget on the same platform day) and every expiry.
/// Within the bound the damage is limited: the budget day can be wrong only for calls in
/// the 10 minutes around the platform's midnight. A host more than 10 minutes off must fix its
/// clock (or raise the bound with `ClientBuilder::max_clock_skew`); the rejected readings
/// are logged at warn.
pub const DEFAULT_MAX_SKEW_MS: i64 = 10 * 60 * 1_000;

/// A clock corrected by the offset last measured against the platform.
///
/// `now_ms() = local.now_ms() + offset`, where the offset is updated from each reply's
/// `Date` header (see [`SkewCorrectedClock::observe_date_header`]) and never leaves
/// `±max_skew_ms`.
#[derive(Debug)]
pub struct SkewCorrectedClock {
    local: Arc<dyn Clock>,
    offset_ms: AtomicI64,
    max_skew_ms: i64,
    /// Whether a `Date` header has set the offset (an adopted one does not count).
    observed: AtomicBool,
    /// Whether the last `Date` header was beyond the bound: a warning is logged when that
    /// starts, not for every reply while it lasts (a sandbox whose clock was moved a day
    /// answered 24 calls of one run with 24 identical warnings).
    beyond_bound: AtomicBool,
}

impl SkewCorrectedClock {
    /// `local` corrected by at most [`DEFAULT_MAX_SKEW_MS`] either way; no offset yet.
    pub fn new(local: Arc<dyn Clock>) -> Self {
        Self::with_bound(local, DEFAULT_MAX_SKEW_MS)
    }

    /// A clock whose correction never exceeds `max_skew_ms` either way (negative values
    /// count as 0: no correction at all).
    pub fn with_bound(local: Arc<dyn Clock>, max_skew_ms: i64) -> Self {
        SkewCorrectedClock {
            local,
            offset_ms: AtomicI64::new(0),
            max_skew_ms: max_skew_ms.max(0),
            observed: AtomicBool::new(false),
            beyond_bound: AtomicBool::new(false),
        }
    }

    /// The largest correction this clock applies.
    pub fn max_skew_ms(&self) -> i64 {
        self.max_skew_ms
    }

    /// The offset currently applied (platform minus local), in milliseconds.
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }

    /// Whether a reply's `Date` header has set the offset yet.
    pub fn has_observed(&self) -> bool {
        self.observed.load(Ordering::Relaxed)
    }

    /// Starts from an offset measured earlier (by another process sharing the token
    /// store), until a reply's `Date` header says otherwise. Ignored once a header was
    /// observed, or beyond the bound. Returns whether it was applied.
    pub fn adopt_offset_ms(&self, offset_ms: i64) -> bool {
        if self.has_observed() || offset_ms.saturating_abs() > self.max_skew_ms {
            return false;
        }
        self.offset_ms.store(offset_ms, Ordering::Relaxed);
        true
    }

    /// The uncorrected local time.
    pub fn local_now_ms(&self) -> i64 {
        self.local.now_ms()
    }

    /// Updates the offset from an HTTP `Date` header (RFC 7231 IMF-fixdate, e.g.
    /// `Sun, 06 Nov 1994 08:49:37 GMT`) received at local time `received_local_ms`.
    /// Returns the offset now applied; an unparsable header, or one that would move the
    /// clock by more than the bound, changes nothing (the latter is logged at warn).
    ///
    /// Callers pass only headers of replies that are plausibly the platform's (a decoded
    /// envelope), never those of a proxy's error page.
    pub fn observe_date_header(&self, date: &str, received_local_ms: i64) -> i64 {
        let Some(server_ms) = parse_http_date_ms(date) else {
            return self.offset_ms();
        };
        // The server's true time lies in [date, date + 1 s): take the middle.
        let measured = server_ms
            .saturating_add(500)
            .saturating_sub(received_local_ms);
        if measured.saturating_abs() > self.max_skew_ms {
            if self.beyond_bound.swap(true, Ordering::Relaxed) {
                tracing::debug!(
                    measured_ms = measured,
                    bound_ms = self.max_skew_ms,
                    "ignoring a Date header beyond the clock-skew bound (still)"
                );
            } else {
                tracing::warn!(
                    measured_ms = measured,
                    bound_ms = self.max_skew_ms,
                    "ignoring Date headers beyond the clock-skew bound (warned once until \
                     one is within it again)"
                );
            }
            return self.offset_ms();
        }
        // Read first: every reply passes here, and a store would write the shared line.
        if self.beyond_bound.load(Ordering::Relaxed) {
            self.beyond_bound.store(false, Ordering::Relaxed);
        }
        let applied = if measured.abs() <= SKEW_DEADBAND_MS {
            0
        } else {
            measured
        };
        self.offset_ms.store(applied, Ordering::Relaxed);
        self.observed.store(true, Ordering::Relaxed);
        applied
    }
}

impl Clock for SkewCorrectedClock {
    fn now_ms(&self) -> i64 {
        self.local.now_ms().saturating_add(self.offset_ms())
    }
}

/// Parses an HTTP date (IMF-fixdate; `GMT` is accepted as +00:00) to epoch milliseconds.
pub fn parse_http_date_ms(date: &str) -> Option<i64> {
    // An HTTP date is about 29 bytes; anything much longer is not one.
    if date.len() > 64 {
        return None;
    }
    let date = date.trim();
    if let Some(ms) = imf_fixdate_ms(date) {
        return Some(ms);
    }
    DateTime::parse_from_rfc2822(date)
        .ok()
        .map(|d| d.timestamp_millis())
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` exactly (IMF-fixdate, what servers send), parsed by
/// position: every reply carries one, and chrono's RFC 2822 parser costs about a
/// microsecond (measured). Anything else, including a weekday that does not match the
/// date, is `None`, and the caller asks chrono, so what is accepted does not change.
fn imf_fixdate_ms(date: &str) -> Option<i64> {
    use chrono::{Datelike, NaiveDate, NaiveTime};
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    const WEEKDAYS: [&[u8; 3]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
    let b = date.as_bytes();
    if b.len() != 29 || &b[3..5] != b", " || &b[25..] != b" GMT" {
        return None;
    }
    let number = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let spaced = [7, 11, 16].iter().all(|&i| b[i] == b' ') && b[19] == b':' && b[22] == b':';
    if !spaced {
        return None;
    }
    let month = MONTHS.iter().position(|m| m[..] == b[8..11])?;
    let day = NaiveDate::from_ymd_opt(
        i32::try_from(number(12..16)?).ok()?,
        u32::try_from(month + 1).ok()?,
        number(5..7)?,
    )?;
    let weekday = day.weekday().num_days_from_monday() as usize;
    if WEEKDAYS.get(weekday)?[..] != b[..3] {
        return None;
    }
    let time = NaiveTime::from_hms_opt(number(17..19)?, number(20..22)?, number(23..25)?)?;
    Some(day.and_time(time).and_utc().timestamp_millis())
}

pub use crate::wire::beijing;

const DAY_MS: i64 = 86_400_000;
const BEIJING_OFFSET_S: i32 = 8 * 3_600;

/// The calendar day of an instant in the zone `utc_offset_s` seconds east of UTC, as days
/// since 1970-01-01 (of that zone): the day a platform's daily limits count in.
pub fn local_day(now_ms: i64, utc_offset_s: i32) -> i64 {
    now_ms
        .saturating_add(i64::from(utc_offset_s).saturating_mul(1000))
        .div_euclid(DAY_MS)
}

/// The instant the next day begins in the zone `utc_offset_s` seconds east of UTC (the
/// next local midnight), in that zone.
pub fn next_local_midnight(now_ms: i64, utc_offset_s: i32) -> DateTime<FixedOffset> {
    let offset_ms = i64::from(utc_offset_s).saturating_mul(1000);
    let next_ms = local_day(now_ms, utc_offset_s)
        .saturating_add(1)
        .saturating_mul(DAY_MS)
        .saturating_sub(offset_ms);
    let zone =
        FixedOffset::east_opt(utc_offset_s).unwrap_or_else(|| chrono::Offset::fix(&chrono::Utc));
    zone.timestamp_millis_opt(next_ms)
        .single()
        .unwrap_or_else(|| {
            zone.timestamp_millis_opt(0)
                .single()
                .unwrap_or_default_fixed()
        })
}

/// The Beijing calendar day of an instant, as days since 1970-01-01 (Beijing): the wire
/// types' zone ([`local_day`] with +08:00).
pub fn beijing_day(now_ms: i64) -> i64 {
    local_day(now_ms, BEIJING_OFFSET_S)
}

/// The instant the Beijing day after `now_ms` begins (the next Beijing midnight).
pub fn next_beijing_midnight(now_ms: i64) -> DateTime<FixedOffset> {
    next_local_midnight(now_ms, BEIJING_OFFSET_S)
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

    /// Counts the warnings logged on this thread.
    struct Warnings(Arc<std::sync::atomic::AtomicUsize>);

    impl tracing::Subscriber for Warnings {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            if *event.metadata().level() == tracing::Level::WARN {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    /// A `Date` header beyond the bound is warned about once while it lasts, and again
    /// when it comes back after a header within the bound.
    #[test]
    fn a_date_beyond_the_bound_is_warned_once_per_episode() {
        let warnings = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let subscriber = Warnings(warnings.clone());
        tracing::subscriber::with_default(subscriber, || {
            let clock = SkewCorrectedClock::with_bound(Arc::new(SystemClock), 60_000);
            let local = 784_111_777_000;
            let a_day_later = "Mon, 07 Nov 1994 08:49:37 GMT";
            let in_time = "Sun, 06 Nov 1994 08:49:37 GMT";
            for _ in 0..24 {
                clock.observe_date_header(a_day_later, local);
            }
            assert_eq!(warnings.load(Ordering::Relaxed), 1, "once for 24 replies");
            clock.observe_date_header(in_time, local);
            clock.observe_date_header(a_day_later, local);
            clock.observe_date_header(a_day_later, local);
            assert_eq!(warnings.load(Ordering::Relaxed), 2, "again after it ended");
        });
    }

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
    fn a_date_beyond_the_bound_is_ignored() {
        // Finding 4 of the token issue: a year-2100 header moved the clock by 73 years.
        let local = Arc::new(ManualClock::new(1_700_000_000_000));
        let clock = SkewCorrectedClock::new(local.clone());
        clock.observe_date_header("Fri, 01 Jan 2100 00:00:00 GMT", local.now_ms());
        assert_eq!(clock.offset_ms(), 0);
        // +1 day: beyond the bound as well.
        let tomorrow = chrono::DateTime::from_timestamp_millis(1_700_000_000_000 + 86_400_000)
            .unwrap()
            .to_rfc2822();
        clock.observe_date_header(&tomorrow, local.now_ms());
        assert_eq!(clock.offset_ms(), 0);
        // +2 minutes: applied.
        let soon = chrono::DateTime::from_timestamp_millis(1_700_000_000_000 + 120_000)
            .unwrap()
            .to_rfc2822();
        clock.observe_date_header(&soon, local.now_ms());
        assert_eq!(clock.offset_ms(), 120_500);
    }

    #[test]
    fn extreme_instants_do_not_panic() {
        for ms in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX - 1, i64::MAX] {
            let _ = beijing_day(ms);
            let _ = next_beijing_midnight(ms);
            let clock = SkewCorrectedClock::new(Arc::new(ManualClock::new(ms)));
            clock.observe_date_header("Sun, 06 Nov 1994 08:49:37 GMT", ms);
            let _ = clock.now_ms();
        }
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

#[cfg(test)]
mod imf_fixdate_tests {
    use super::{DateTime, imf_fixdate_ms};

    /// The position parser gives chrono's value for every IMF-fixdate, and passes on
    /// (to chrono) what it does not read.
    #[test]
    fn agrees_with_chrono() {
        for text in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Tue, 01 Dec 2026 15:12:26 GMT",
            "Mon, 01 Dec 2026 15:12:26 GMT",
            "Tue, 31 Nov 2026 15:12:26 GMT",
            "Tue, 01 Dec 2026 24:00:00 GMT",
            "Tue, 01 Dec 2026 23:59:60 GMT",
            "Tue, 01 Dec 2026 15:12:26 UTC",
            "Tue,  1 Dec 2026 15:12:26 GMT",
            "Tue, 01 Dek 2026 15:12:26 GMT",
            "Thu, 29 Feb 2024 00:00:00 GMT",
        ] {
            let chrono = DateTime::parse_from_rfc2822(text)
                .ok()
                .map(|d| d.timestamp_millis());
            if let Some(ms) = imf_fixdate_ms(text) {
                assert_eq!(Some(ms), chrono, "{text}");
            }
            assert_eq!(super::parse_http_date_ms(text), chrono, "{text}");
        }
        assert_eq!(
            imf_fixdate_ms("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777_000)
        );
    }
}
