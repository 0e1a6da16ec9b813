//! [`Yuan`]: an exact decimal amount of money that never passes through `f64`.
//!
//! The platform sends amounts as JSON numbers (`1000.4`, `1424.54`) and sometimes as
//! strings (`"125.2"`). A `Yuan` keeps the decimal digits and the number of decimals
//! exactly as written, so what was received is what is sent back, byte for byte
//! (`1000.40` stays `1000.40`), and comparisons are numeric (`1.0 == 1.00`).
//!
//! # Serde
//!
//! `Yuan` serializes as a JSON **number** with its exact text and deserializes from a
//! JSON number or a JSON string holding a decimal. Both directions go through
//! [`serde_json::value::RawValue`], which is how exact numbers are read and written
//! without turning on serde_json's global `arbitrary_precision` feature.
//!
//! **Limitation:** that only works with serde_json's own serializers and deserializers
//! (`serde_json::from_str`/`from_slice`/`from_reader`/`from_value`, `to_string`/`to_vec`/
//! `to_value`). With another data format, or when serde has buffered the value first
//! (an `#[serde(untagged)]` enum, or a struct nested inside a `#[serde(flatten)]`
//! field), decoding fails with an error. Known fields of a struct that *also* has a
//! `#[serde(flatten)]` map are not buffered and decode exactly. `from_value` and
//! `to_value` work but go through `serde_json::Number`, so trailing zeros are lost
//! there (`1000.40` becomes `1000.4`; the amount is unchanged).

use std::cmp::Ordering;
use std::fmt::{self, Write as _};
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer};
use serde::ser::{self, Serialize, Serializer};
use serde_json::value::RawValue;

use super::{excerpt, json_excerpt};

/// The most significant digits a [`Yuan`] parsed from text may have (what fits an `i128`).
pub const MAX_DIGITS: usize = 38;

/// The most decimals a [`Yuan`] parsed from text may have (bounds what an exponent such
/// as `1e-99999` could otherwise make [`Display`](fmt::Display) print).
pub const MAX_SCALE: u32 = 1000;

/// An exact decimal amount of yuan (元): a mantissa and a number of decimals.
///
/// ```
/// use openplatform_runtime::wire::Yuan;
///
/// let a: Yuan = "1000.40".parse().unwrap();
/// assert_eq!(a.to_string(), "1000.40");
/// assert_eq!(a.to_fen(), Some(100_040));
/// assert_eq!(a, Yuan::from_fen(100_040));
/// assert_eq!(serde_json::to_string(&a).unwrap(), "1000.40");
/// ```
#[derive(Clone, Copy)]
pub struct Yuan {
    /// The sign as written; may be set on a zero (`-0.0`) so the text round-trips.
    negative: bool,
    /// The absolute value of the mantissa (at most 2^127, so [`Yuan::mantissa`] fits).
    digits: u128,
    /// Digits after the decimal point.
    scale: u32,
}

impl Yuan {
    /// Zero yuan (`0`).
    pub const ZERO: Yuan = Yuan {
        negative: false,
        digits: 0,
        scale: 0,
    };

    /// Parses a decimal in JSON-number grammar: an optional `-`, digits without leading
    /// zeros, an optional fraction and an optional exponent (`1.5e3`, normalised to the
    /// plain decimal `1500`).
    ///
    /// Rejected, with an error naming the input: empty text, spaces, a leading `+`,
    /// leading zeros (`01`), `.5`, `1.`, `NaN`, `Infinity`, more than [`MAX_DIGITS`]
    /// significant digits, more than [`MAX_SCALE`] decimals.
    pub fn parse(s: &str) -> Result<Yuan, ParseYuanError> {
        let fail = |reason| Err(ParseYuanError::new(s, reason));
        let b = s.as_bytes();
        if b.is_empty() {
            return fail(Reason::Empty);
        }
        let mut i = 0;
        let negative = b[0] == b'-';
        if negative {
            i = 1;
        }
        let int_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let int_part = &s[int_start..i];
        if int_part.is_empty() {
            return fail(match s[i..].chars().next() {
                None => Reason::NoDigits,
                Some('.') => Reason::NoIntegerDigits,
                Some('+') if i == 0 => Reason::PlusSign,
                Some(c) if c.is_whitespace() => Reason::Unexpected(c, i),
                Some(_) => Reason::NotANumber,
            });
        }
        if int_part.len() > 1 && int_part.starts_with('0') {
            return fail(Reason::LeadingZero);
        }
        let mut frac = "";
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return fail(Reason::NoFractionDigits);
            }
            frac = &s[start..i];
        }
        let mut exp: i64 = 0;
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            let exp_negative = match b.get(i) {
                Some(b'-') => {
                    i += 1;
                    true
                }
                Some(b'+') => {
                    i += 1;
                    false
                }
                _ => false,
            };
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                // Saturates far beyond any usable exponent; the range check below rejects it.
                exp = (exp * 10 + i64::from(b[i] - b'0')).min(1_000_000_000);
                i += 1;
            }
            if i == start {
                return fail(Reason::NoExponentDigits);
            }
            if exp_negative {
                exp = -exp;
            }
        }
        if let Some(c) = s[i..].chars().next() {
            return fail(Reason::Unexpected(c, i));
        }

        // value = (int_part frac) × 10^(exp − frac.len())
        let all = format!("{int_part}{frac}");
        let significant = all.trim_start_matches('0');
        let scale = frac.len() as i64 - exp;
        if significant.is_empty() {
            // Zero: keep the decimals as written (`0.00`), none for a positive exponent.
            let scale = scale.max(0);
            if scale > i64::from(MAX_SCALE) {
                return fail(Reason::ScaleTooLarge);
            }
            return Ok(Yuan {
                negative,
                digits: 0,
                scale: scale as u32,
            });
        }
        let zeros = if scale < 0 { -scale } else { 0 };
        if significant.len() as i64 + zeros > MAX_DIGITS as i64 {
            return fail(Reason::TooManyDigits);
        }
        if scale > i64::from(MAX_SCALE) {
            return fail(Reason::ScaleTooLarge);
        }
        let Ok(mantissa) = significant.parse::<u128>() else {
            return fail(Reason::TooManyDigits);
        };
        let Some(digits) = pow10(zeros as u32).and_then(|p| mantissa.checked_mul(p)) else {
            return fail(Reason::TooManyDigits);
        };
        Ok(Yuan {
            negative,
            digits,
            scale: scale.max(0) as u32,
        })
    }

    /// An amount in fen (分, hundredths of a yuan), with two decimals: `100040` → `1000.40`.
    pub fn from_fen(fen: i64) -> Yuan {
        Yuan {
            negative: fen < 0,
            digits: u128::from(fen.unsigned_abs()),
            scale: 2,
        }
    }

    /// The amount in fen, when it is a whole number of fen that fits an `i64`:
    /// `1000.4` → `Some(100040)`, `1.230` → `Some(123)`, `0.005` → `None`.
    pub fn to_fen(&self) -> Option<i64> {
        let fen = if self.scale <= 2 {
            self.digits.checked_mul(pow10(2 - self.scale)?)?
        } else {
            let drop = self.scale - 2;
            match pow10(drop) {
                Some(p) if self.digits.is_multiple_of(p) => self.digits / p,
                Some(_) => return None,
                // 10^drop exceeds any mantissa: only zero divides evenly.
                None if self.digits == 0 => 0,
                None => return None,
            }
        };
        let fen = i128::try_from(fen).ok()?;
        i64::try_from(if self.negative { -fen } else { fen }).ok()
    }

    /// `mantissa × 10^-scale`: `from_decimal_parts(100040, 2)` is `1000.40`.
    ///
    /// Unlike [`Yuan::parse`], no bound is put on `scale`: a huge scale prints that many
    /// digits.
    pub fn from_decimal_parts(mantissa: i128, scale: u32) -> Yuan {
        Yuan {
            negative: mantissa < 0,
            digits: mantissa.unsigned_abs(),
            scale,
        }
    }

    /// The decimal digits as an integer, with the sign: `1000.40` → `100040`.
    pub fn mantissa(&self) -> i128 {
        // `digits` is at most 2^127: the wrapping negation maps 2^127 to i128::MIN exactly.
        let m = self.digits as i128;
        if self.negative { m.wrapping_neg() } else { m }
    }

    /// The number of decimals as written: `1000.40` → `2`, `-3` → `0`.
    pub fn scale(&self) -> u32 {
        self.scale
    }

    /// The exact text, as [`Display`](fmt::Display) writes it.
    pub fn as_string(&self) -> String {
        self.to_string()
    }

    /// Whether the amount is zero (whatever its sign or decimals).
    pub fn is_zero(&self) -> bool {
        self.digits == 0
    }

    /// Whether the amount is below zero (`-0.0` is not).
    pub fn is_negative(&self) -> bool {
        self.negative && self.digits != 0
    }

    /// The value when it is a whole number: `10.00` → `Some(10)`, `10.5` → `None`.
    pub fn to_integer(&self) -> Option<i128> {
        let whole = match pow10(self.scale) {
            Some(p) if self.digits.is_multiple_of(p) => self.digits / p,
            Some(_) => return None,
            None if self.digits == 0 => 0,
            None => return None,
        };
        let whole = i128::try_from(whole).ok()?;
        Some(if self.negative { -whole } else { whole })
    }

    /// Decodes the text of one JSON value: a number, a string holding a decimal (trimmed),
    /// `null` or `""` (→ `None`); anything else is an error naming the value.
    pub(crate) fn from_json_text(text: &str) -> Result<Option<Yuan>, String> {
        let t = text.trim();
        if t == "null" {
            return Ok(None);
        }
        if t.starts_with('"') {
            let inner: String = serde_json::from_str(t)
                .map_err(|e| format!("invalid JSON string {}: {e}", json_excerpt(t)))?;
            let inner = inner.trim();
            if inner.is_empty() || inner.eq_ignore_ascii_case("null") {
                return Ok(None);
            }
            return Yuan::parse(inner).map(Some).map_err(|e| e.to_string());
        }
        if t.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            return Yuan::parse(t).map(Some).map_err(|e| e.to_string());
        }
        Err(format!(
            "expected a yuan amount (a number or a string holding a decimal), found {}",
            json_excerpt(t)
        ))
    }

    /// Sign (−1, 0, 1) of the value; zero whatever the written sign.
    fn signum(&self) -> i8 {
        match (self.digits, self.negative) {
            (0, _) => 0,
            (_, true) => -1,
            (_, false) => 1,
        }
    }

    /// For a non-zero value: the mantissa without trailing zeros, its digit count and
    /// the decimal exponent of its leading digit plus one (`123.4` → (1234, 4, 3)).
    fn normalized(&self) -> (u128, u32, i64) {
        let mut d = self.digits;
        let mut scale = i64::from(self.scale);
        while d != 0 && d.is_multiple_of(10) {
            d /= 10;
            scale -= 1;
        }
        let n = digit_count(d);
        (d, n, i64::from(n) - scale)
    }
}

fn pow10(n: u32) -> Option<u128> {
    10u128.checked_pow(n)
}

fn digit_count(mut d: u128) -> u32 {
    let mut n = 1;
    while d >= 10 {
        d /= 10;
        n += 1;
    }
    n
}

/// Compares the absolute values of two non-zero amounts.
fn cmp_magnitude(a: &Yuan, b: &Yuan) -> Ordering {
    let (da, na, ea) = a.normalized();
    let (db, nb, eb) = b.normalized();
    if ea != eb {
        return ea.cmp(&eb);
    }
    // Same leading position: compare the digit sequences aligned on the left. A
    // multiplication that overflows makes that side larger than any u128.
    match na.cmp(&nb) {
        Ordering::Equal => da.cmp(&db),
        Ordering::Less => match pow10(nb - na).and_then(|p| da.checked_mul(p)) {
            Some(x) => x.cmp(&db),
            None => Ordering::Greater,
        },
        Ordering::Greater => match pow10(na - nb).and_then(|p| db.checked_mul(p)) {
            Some(x) => da.cmp(&x),
            None => Ordering::Less,
        },
    }
}

impl Ord for Yuan {
    fn cmp(&self, other: &Self) -> Ordering {
        let (sa, sb) = (self.signum(), other.signum());
        if sa != sb || sa == 0 {
            return sa.cmp(&sb);
        }
        let m = cmp_magnitude(self, other);
        if sa < 0 { m.reverse() } else { m }
    }
}

impl PartialOrd for Yuan {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Yuan {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Yuan {}

impl Hash for Yuan {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Equal values have the same normalized form.
        let sign = self.signum();
        sign.hash(state);
        if sign != 0 {
            let (d, _, e) = self.normalized();
            d.hash(state);
            e.hash(state);
        }
    }
}

impl Default for Yuan {
    fn default() -> Self {
        Yuan::ZERO
    }
}

impl fmt::Display for Yuan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negative {
            f.write_char('-')?;
        }
        let digits = self.digits.to_string();
        let scale = self.scale as usize;
        if scale == 0 {
            f.write_str(&digits)
        } else if digits.len() <= scale {
            f.write_str("0.")?;
            for _ in digits.len()..scale {
                f.write_char('0')?;
            }
            f.write_str(&digits)
        } else {
            let (int, frac) = digits.split_at(digits.len() - scale);
            f.write_str(int)?;
            f.write_char('.')?;
            f.write_str(frac)
        }
    }
}

impl fmt::Debug for Yuan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Yuan({self})")
    }
}

impl FromStr for Yuan {
    type Err = ParseYuanError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Yuan::parse(s)
    }
}

impl TryFrom<&str> for Yuan {
    type Error = ParseYuanError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Yuan::parse(s)
    }
}

impl From<i64> for Yuan {
    /// A whole number of yuan (not fen): `12` → `12`.
    fn from(yuan: i64) -> Self {
        Yuan::from_decimal_parts(i128::from(yuan), 0)
    }
}

impl From<i32> for Yuan {
    /// A whole number of yuan (not fen): `12` → `12`.
    fn from(yuan: i32) -> Self {
        Yuan::from_decimal_parts(i128::from(yuan), 0)
    }
}

impl From<u32> for Yuan {
    /// A whole number of yuan (not fen): `12` → `12`.
    fn from(yuan: u32) -> Self {
        Yuan::from_decimal_parts(i128::from(yuan), 0)
    }
}

impl Serialize for Yuan {
    /// A JSON number with the exact text (serde_json serializers only; see the module docs).
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let raw = RawValue::from_string(self.to_string()).map_err(ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Yuan {
    /// A JSON number or a JSON string holding a decimal (serde_json deserializers only;
    /// see the module docs). `null` and `""` are errors here; use
    /// [`Tolerant`](super::Tolerant) or `Option` for absent values.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        match Yuan::from_json_text(raw.get()) {
            Ok(Some(y)) => Ok(y),
            Ok(None) => Err(de::Error::custom(format!(
                "expected a yuan amount, found {}",
                json_excerpt(raw.get())
            ))),
            Err(msg) => Err(de::Error::custom(msg)),
        }
    }
}

/// Why a text is not a [`Yuan`]: names the input and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseYuanError {
    input: String,
    reason: Reason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    Empty,
    NoDigits,
    NoIntegerDigits,
    PlusSign,
    NotANumber,
    LeadingZero,
    NoFractionDigits,
    NoExponentDigits,
    Unexpected(char, usize),
    TooManyDigits,
    ScaleTooLarge,
}

impl ParseYuanError {
    fn new(input: &str, reason: Reason) -> Self {
        ParseYuanError {
            input: excerpt(input),
            reason,
        }
    }

    /// The rejected text, quoted, shortened to 80 characters at most.
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl fmt::Display for ParseYuanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid yuan amount {}: ", self.input)?;
        match self.reason {
            Reason::Empty => f.write_str("empty text"),
            Reason::NoDigits => f.write_str("no digits"),
            Reason::NoIntegerDigits => f.write_str("a digit is required before the decimal point"),
            Reason::PlusSign => f.write_str("a leading '+' is not allowed"),
            Reason::NotANumber => f.write_str("not a decimal number"),
            Reason::LeadingZero => f.write_str("leading zeros are not allowed"),
            Reason::NoFractionDigits => f.write_str("a digit is required after the decimal point"),
            Reason::NoExponentDigits => f.write_str("the exponent has no digits"),
            Reason::Unexpected(c, at) => {
                write!(f, "unexpected character {c:?} at byte {at}")?;
                if c.is_whitespace() {
                    f.write_str(" (spaces are not allowed)")?;
                }
                Ok(())
            }
            Reason::TooManyDigits => write!(f, "more than {MAX_DIGITS} significant digits"),
            Reason::ScaleTooLarge => write!(f, "more than {MAX_SCALE} decimals"),
        }
    }
}

impl std::error::Error for ParseYuanError {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn y(s: &str) -> Yuan {
        Yuan::parse(s).unwrap()
    }

    const EXACT: &[&str] = &[
        "1000.4",
        "1000.40",
        "1424.54",
        "0.1",
        "1205.52",
        "-0.5",
        "99999999999999999.99",
        "0",
        "-0",
        "0.00",
        "-0.0",
        "1",
        "-3",
        "125",
        "100",
        "3733288246799497770",
        "0.001",
        "0.000000000000000000000000000000000000000000001",
        "12345678901234567890123456789012345678",
        "-12345678901234567890123456789012345678",
        "1234567890123456789012345678901234567.8",
        "0.12345678901234567890123456789012345678",
    ];

    #[test]
    fn display_round_trips_byte_exact() {
        for s in EXACT {
            assert_eq!(y(s).to_string(), *s, "{s}");
            assert_eq!(y(s).as_string(), *s, "{s}");
        }
    }

    #[test]
    fn serde_round_trips_byte_exact() {
        for s in EXACT {
            let v: Yuan = serde_json::from_str(s).unwrap();
            assert_eq!(serde_json::to_string(&v).unwrap(), *s, "{s}");
            // Also through an owned (reader) deserializer and a Vec.
            let v: Yuan = serde_json::from_reader(s.as_bytes()).unwrap();
            assert_eq!(v.to_string(), *s);
            let list: Vec<Yuan> = serde_json::from_str(&format!("[{s}, {s}]")).unwrap();
            assert_eq!(serde_json::to_string(&list).unwrap(), format!("[{s},{s}]"));
        }
    }

    #[test]
    fn exponents_normalise_to_plain_decimals() {
        for (input, plain) in [
            ("1e3", "1000"),
            ("1E3", "1000"),
            ("1.5e3", "1500"),
            ("1.50e1", "15.0"),
            ("1e-2", "0.01"),
            ("12.5E-1", "1.25"),
            ("-1.5e+2", "-150"),
            ("0e5", "0"),
            ("0.00e1", "0.0"),
            ("0e-3", "0.000"),
            ("1e37", "10000000000000000000000000000000000000"),
        ] {
            assert_eq!(y(input).to_string(), plain, "{input}");
        }
        assert!(Yuan::parse("1e38").is_err());
        assert!(Yuan::parse("1e999999999999999999999").is_err());
        assert!(Yuan::parse("1e-1001").is_err());
        assert!(Yuan::parse("0e-99999999999").is_err());
        assert_eq!(y("1e-1000").scale(), 1000);
    }

    #[test]
    fn rejects_bad_text_naming_it() {
        for bad in [
            "",
            "1e",
            "--1",
            "abc",
            "01",
            "NaN",
            "nan",
            "Infinity",
            "-",
            "+1",
            " 1",
            "1 ",
            "1.",
            ".5",
            "1.5.2",
            "0x10",
            "1e+",
            "1,000",
            "１",
            "00",
            "-01",
            "1e1.5",
            "\"1\"",
            "123456789012345678901234567890123456789", // 39 digits
        ] {
            let err = Yuan::parse(bad).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(&format!("{bad:?}")), "{msg}");
            assert!(msg.starts_with("invalid yuan amount"), "{msg}");
            assert!(bad.parse::<Yuan>().is_err());
        }
        assert!(
            Yuan::parse("01")
                .unwrap_err()
                .to_string()
                .contains("leading zeros")
        );
        assert!(Yuan::parse("+1").unwrap_err().to_string().contains("'+'"));
        assert!(
            Yuan::parse(" 1")
                .unwrap_err()
                .to_string()
                .contains("spaces")
        );
        let long = "9".repeat(500);
        let msg = Yuan::parse(&long).unwrap_err().to_string();
        assert!(msg.len() < 200, "{msg}");
    }

    #[test]
    fn fen_conversions() {
        assert_eq!(Yuan::from_fen(100_040).to_string(), "1000.40");
        assert_eq!(Yuan::from_fen(-5).to_string(), "-0.05");
        assert_eq!(Yuan::from_fen(0).to_string(), "0.00");
        assert_eq!(Yuan::from_fen(i64::MIN).to_fen(), Some(i64::MIN));
        assert_eq!(Yuan::from_fen(i64::MAX).to_fen(), Some(i64::MAX));
        assert_eq!(y("1000.4").to_fen(), Some(100_040));
        assert_eq!(y("1000.40").to_fen(), Some(100_040));
        assert_eq!(y("1.230").to_fen(), Some(123));
        assert_eq!(y("0.005").to_fen(), None);
        assert_eq!(y("-0.5").to_fen(), Some(-50));
        assert_eq!(y("7").to_fen(), Some(700));
        assert_eq!(y("0e-900").to_fen(), Some(0));
        assert_eq!(y("1e-900").to_fen(), None);
        assert_eq!(y("99999999999999999.99").to_fen(), None); // overflows i64
        assert_eq!(y("92233720368547758.07").to_fen(), Some(i64::MAX));
        assert_eq!(y("92233720368547758.08").to_fen(), None);
    }

    #[test]
    fn decimal_parts() {
        let a = Yuan::from_decimal_parts(100_040, 2);
        assert_eq!(a.to_string(), "1000.40");
        assert_eq!(a.mantissa(), 100_040);
        assert_eq!(a.scale(), 2);
        let b = y("-1424.54");
        assert_eq!((b.mantissa(), b.scale()), (-142_454, 2));
        let min = Yuan::from_decimal_parts(i128::MIN, 0);
        assert_eq!(min.mantissa(), i128::MIN);
        assert_eq!(min.to_string(), i128::MIN.to_string());
        let max = Yuan::from_decimal_parts(i128::MAX, 3);
        assert_eq!(max.mantissa(), i128::MAX);
        assert!(min < max);
        assert!(Yuan::from_decimal_parts(i128::MAX, 0) > Yuan::from_decimal_parts(9, 0));
        assert!(Yuan::from_decimal_parts(9, 0) < Yuan::from_decimal_parts(i128::MAX, 0));
        assert_eq!(
            Yuan::from_decimal_parts(5, u32::MAX).cmp(&Yuan::ZERO),
            Ordering::Greater
        );
        assert_eq!(Yuan::from_decimal_parts(5, u32::MAX).to_fen(), None);
    }

    #[test]
    fn numeric_equality_order_and_hash() {
        assert_eq!(y("1.0"), y("1.00"));
        assert_eq!(y("1"), y("1.000"));
        assert_eq!(y("0"), y("-0.00"));
        assert_eq!(y("1e2"), y("100.0"));
        assert_ne!(y("1.01"), y("1.1"));
        assert!(y("1.01") < y("1.1"));
        assert!(y("-1.1") < y("-1.01"));
        assert!(y("-1") < y("0"));
        assert!(y("0.5") < y("1"));
        assert!(y("99.99") < y("100"));
        assert!(y("100") > y("99.999999999"));
        assert!(y("1000.4") > y("999.99"));
        let set: HashSet<Yuan> = ["1.0", "1.00", "1", "0", "-0.0", "2.50", "2.5"]
            .iter()
            .map(|s| y(s))
            .collect();
        assert_eq!(set.len(), 3);
        assert_eq!(format!("{:?}", y("1000.4")), "Yuan(1000.4)");
        assert!(y("-0.0").is_zero() && !y("-0.0").is_negative());
        assert_eq!(y("10.00").to_integer(), Some(10));
        assert_eq!(y("10.5").to_integer(), None);
    }

    #[test]
    fn order_matches_exact_rational_order() {
        // Compare against a brute-force alignment in i128 (scales kept small).
        let samples = [
            "0",
            "-0",
            "0.1",
            "0.10",
            "-0.1",
            "1",
            "1.5",
            "-1.5",
            "10",
            "9.99",
            "100.001",
            "0.009",
            "-0.009",
            "123456",
            "123456.0001",
            "-99999.9999",
        ];
        for a in samples {
            for b in samples {
                let (x, z) = (y(a), y(b));
                let s = x.scale().max(z.scale());
                let ax = x.mantissa() * 10i128.pow(s - x.scale());
                let bz = z.mantissa() * 10i128.pow(s - z.scale());
                assert_eq!(x.cmp(&z), ax.cmp(&bz), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn decode_tolerates_strings_but_names_bad_values() {
        let v: Yuan = serde_json::from_str(r#""125.2""#).unwrap();
        assert_eq!(v.to_string(), "125.2");
        let v: Yuan = serde_json::from_str(r#"" 125.20 ""#).unwrap();
        assert_eq!(v.to_string(), "125.20");
        for (json, needle) in [
            (r#""abc""#, "\"abc\""),
            (r#""01""#, "\"01\""),
            ("true", "true"),
            ("null", "null"),
            (r#""""#, "\"\""),
            ("[1]", "[1]"),
        ] {
            let err = serde_json::from_str::<Yuan>(json).unwrap_err().to_string();
            assert!(err.contains(needle), "{json}: {err}");
        }
        // Through a Value deserializer the amount is kept (the text may normalise).
        let v: Yuan = serde_json::from_value(serde_json::json!("1000.40")).unwrap();
        assert_eq!(v.to_string(), "1000.40");
    }

    #[test]
    fn generated_decimals_round_trip() {
        // A small deterministic generator (xorshift) over many shapes of decimals.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let mut s = String::new();
            if next() % 3 == 0 {
                s.push('-');
            }
            let int_len = (next() % 20) as usize;
            if int_len == 0 {
                s.push('0');
            } else {
                s.push(char::from(b'1' + (next() % 9) as u8));
                for _ in 1..int_len {
                    s.push(char::from(b'0' + (next() % 10) as u8));
                }
            }
            let frac_len = (next() % 12) as usize;
            if frac_len > 0 {
                s.push('.');
                for _ in 0..frac_len {
                    s.push(char::from(b'0' + (next() % 10) as u8));
                }
            }
            let v = y(&s);
            assert_eq!(v.to_string(), s);
            let json = serde_json::to_string(&v).unwrap();
            assert_eq!(json, s);
            let back: Yuan = serde_json::from_str(&json).unwrap();
            assert_eq!(back.to_string(), s);
            let quoted: Yuan = serde_json::from_str(&format!("\"{s}\"")).unwrap();
            assert_eq!(quoted.to_string(), s);
            // (The mantissa of `-0.00` is 0: only the sign of a zero is lost.)
            if !v.is_zero() {
                assert_eq!(
                    Yuan::from_decimal_parts(v.mantissa(), v.scale()).to_string(),
                    s
                );
            }
            assert_eq!(Yuan::from_decimal_parts(v.mantissa(), v.scale()), v);
            if frac_len <= 2 && int_len <= 16 {
                let fen = v.to_fen().unwrap();
                assert_eq!(Yuan::from_fen(fen), v);
            }
            // Padding with a zero keeps the value.
            let padded = if frac_len == 0 {
                format!("{s}.0")
            } else {
                format!("{s}0")
            };
            assert_eq!(y(&padded), v);
        }
    }

    #[test]
    fn arbitrary_text_never_panics() {
        let alphabet = ['0', '1', '9', '-', '+', '.', 'e', 'E', ' ', 'a', '元'];
        let mut state: u64 = 42;
        for _ in 0..20_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let len = (state >> 60) as usize;
            let s: String = (0..len)
                .map(|i| alphabet[((state >> (i * 4)) % alphabet.len() as u64) as usize])
                .collect();
            if let Ok(v) = Yuan::parse(&s) {
                let _ = (v.to_string(), v.to_fen(), v.cmp(&Yuan::ZERO));
            }
            let _ = serde_json::from_str::<Yuan>(&s);
        }
    }
}
