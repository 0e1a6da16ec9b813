//! [`Yuan`]: an exact decimal amount of money that never passes through `f64`, and
//! [`Fen`]: an exact whole number of fen (分, hundredths of a yuan).
//!
//! The platform sends amounts as JSON numbers (`1000.4`, `1424.54`) and sometimes as
//! strings (`"125.2"`). A `Yuan` keeps the decimal digits and the number of decimals
//! exactly as written, so what was received is what is sent back, byte for byte
//! (`1000.40` stays `1000.40`), and comparisons are numeric (`1.0 == 1.00`).
//!
//! # Two decimals
//!
//! The platform's money has at most two decimals: its smallest unit is the fen (the
//! coupon amounts of 5.1 and 5.5 are given in fen). What a caller writes is held to that:
//! [`Yuan::parse`] rejects `1000.405` with an error saying it has 3 decimals. What the
//! platform sends is not (errata E71): decoding accepts any number of decimals and keeps
//! the exact text, so a reply is never refused for one odd amount and the amount is
//! re-sent byte for byte; only computing with it reports the problem ([`Yuan::to_fen`]
//! and the arithmetic give `None`, [`Fen::try_from`] a [`ToFenError`] naming it).
//!
//! # Arithmetic
//!
//! Computing with money is computing in fen, checked: [`Yuan::checked_add`],
//! [`Yuan::checked_sub`], [`Fen::checked_add`], [`Fen::checked_sub`] return `None` on an
//! overflow of `i64` fen (or, for `Yuan`, an operand that is not a whole number of fen);
//! nothing panics or wraps. There is deliberately no `+` operator and no `Sum` into a bare
//! `Yuan` or `Fen` (either would have to panic or wrap on overflow): an iterator of amounts
//! sums into an `Option`, as `std` sums an iterator of `Option`s:
//!
//! ```
//! use openplatform_runtime::wire::{Fen, Yuan};
//!
//! let lines: Vec<Yuan> = vec!["125.2".parse().unwrap(), "0.05".parse().unwrap()];
//! let total: Option<Yuan> = lines.iter().sum();
//! assert_eq!(total.unwrap().to_string(), "125.25");
//! let none: Option<Fen> = [Fen::MAX, Fen::new(1)].into_iter().sum();
//! assert_eq!(none, None); // overflow is reported, never wrapped
//! ```
//!
//! # Serde
//!
//! `Fen` is a JSON integer; it decodes from an integer or a numeric string (`"100"`,
//! `"100.0"`) like the other integers of [`tolerant`](super::tolerant).
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
use std::iter::Sum;
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer};
use serde::ser::{self, Serialize, Serializer};
use serde_json::value::RawValue;

use super::tolerant::Tolerant;
use super::{excerpt, json_excerpt};

/// The most significant digits a [`Yuan`] parsed or decoded from text may have (what
/// fits an `i128`).
pub const MAX_DIGITS: usize = 38;

/// The most decimals a [`Yuan`] decoded from text may have (bounds what an exponent such
/// as `1e-99999` could otherwise make [`Display`](fmt::Display) print). Decimals beyond
/// the second must be zeros for [`Yuan::parse`] (see [`FEN_DECIMALS`]).
pub const MAX_SCALE: u32 = 1000;

/// The decimals of the platform's money: a yuan is 100 fen. [`Yuan::parse`] rejects an
/// amount that needs more.
pub const FEN_DECIMALS: u32 = 2;

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

    /// Parses an amount of the platform's money: a decimal in JSON-number grammar (an
    /// optional `-`, digits without leading zeros, an optional fraction and an optional
    /// exponent: `1.5e3` is normalised to the plain decimal `1500`) that is a whole number
    /// of fen. The text is kept as written (`1000.40` stays `1000.40`).
    ///
    /// Rejected, with an error naming the input: empty text, spaces, a leading `+`,
    /// leading zeros (`01`), `.5`, `1.`, `NaN`, `Infinity`, more than [`MAX_DIGITS`]
    /// significant digits, and more than two decimals: `1000.405` is refused with "it
    /// has 3 decimals; the platform's money has at most 2". Zeros after the second
    /// decimal are not counted (`1.230` is 1.23 yuan and accepted).
    ///
    /// Decoding from JSON is more tolerant (errata E71): it accepts what the platform
    /// sends, any number of decimals included, and keeps it exactly.
    ///
    /// ```
    /// use openplatform_runtime::wire::Yuan;
    ///
    /// assert_eq!(Yuan::parse("1000.40").unwrap().to_string(), "1000.40");
    /// let err = Yuan::parse("1000.405").unwrap_err();
    /// assert_eq!(err.decimals(), Some(3));
    /// assert!(err.to_string().contains("has 3 decimals; the platform's money has at most 2"));
    /// // What the platform sends decodes, exactly, but is not a whole number of fen.
    /// let odd: Yuan = serde_json::from_str("1000.405").unwrap();
    /// assert_eq!(serde_json::to_string(&odd).unwrap(), "1000.405");
    /// assert_eq!(odd.to_fen(), None);
    /// ```
    pub fn parse(s: &str) -> Result<Yuan, ParseYuanError> {
        let y = Yuan::parse_any_scale(s)?;
        let decimals = y.significant_decimals();
        if decimals > FEN_DECIMALS {
            return Err(ParseYuanError::new(
                s,
                Reason::TooManyDecimals {
                    decimals,
                    written: y.scale,
                },
            ));
        }
        Ok(y)
    }

    /// [`Yuan::parse`] without the two-decimal rule (up to [`MAX_SCALE`] decimals): what
    /// decoding accepts from the wire.
    pub(crate) fn parse_any_scale(s: &str) -> Result<Yuan, ParseYuanError> {
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
    /// [`Fen::try_from`] says why not.
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

    /// `self + rhs`, computed in fen: `None` when either is not a whole number of fen
    /// within `i64` ([`Yuan::to_fen`]) or the sum overflows `i64` fen. The result has two
    /// decimals, as [`Yuan::from_fen`] writes it: `1000.4 + 0.1` is `1000.50`.
    ///
    /// ```
    /// use openplatform_runtime::wire::Yuan;
    ///
    /// let a: Yuan = "1000.4".parse().unwrap();
    /// let b: Yuan = "0.1".parse().unwrap();
    /// assert_eq!(a.checked_add(b).unwrap().to_string(), "1000.50");
    /// assert_eq!(Yuan::from_fen(i64::MAX).checked_add(Yuan::from_fen(1)), None);
    /// ```
    #[must_use = "this returns the result of the operation, without modifying the original"]
    pub fn checked_add(self, rhs: Yuan) -> Option<Yuan> {
        Some(Yuan::from_fen(self.to_fen()?.checked_add(rhs.to_fen()?)?))
    }

    /// `self − rhs`, computed in fen: `None` as for [`Yuan::checked_add`]. The result has
    /// two decimals: `1000.4 − 0.4` is `1000.00`.
    #[must_use = "this returns the result of the operation, without modifying the original"]
    pub fn checked_sub(self, rhs: Yuan) -> Option<Yuan> {
        Some(Yuan::from_fen(self.to_fen()?.checked_sub(rhs.to_fen()?)?))
    }

    /// The decimals the value needs, zeros at the end not counted: `1000.40` → 1,
    /// `1000.405` → 3, `12` → 0, `1.5e-3` → 4. More than [`FEN_DECIMALS`] means the
    /// amount is not a whole number of fen.
    pub fn significant_decimals(&self) -> u32 {
        if self.digits == 0 {
            return 0;
        }
        // At most 38 iterations: a non-zero u128 has fewer trailing zeros than that.
        let (mut d, mut n) = (self.digits, self.scale);
        while n > 0 && d.is_multiple_of(10) {
            d /= 10;
            n -= 1;
        }
        n
    }

    /// The text for an error message: at most 80 characters, whatever the scale (a
    /// huge one is written `12e-5000` rather than with 5000 zeros).
    fn short_text(&self) -> String {
        if self.scale > 60 {
            let sign = if self.negative { "-" } else { "" };
            format!("{sign}{}e-{}", self.digits, self.scale)
        } else {
            super::shorten(&self.to_string()).into_owned()
        }
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

    /// Decodes the text of one JSON value: a number, a string holding a decimal (trimmed;
    /// any number of decimals, errata E71), `null` or `""` (→ `None`); anything else is an
    /// error naming the value.
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
            return Yuan::parse_any_scale(inner)
                .map(Some)
                .map_err(|e| e.to_string());
        }
        if t.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            return Yuan::parse_any_scale(t)
                .map(Some)
                .map_err(|e| e.to_string());
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
    /// [`Tolerant`] or `Option` for absent values.
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

/// Sums amounts in fen: `Some(total)` when every amount is a whole number of fen within
/// `i64` and the exact total fits `i64` fen, `None` otherwise. The total is exact whatever
/// the order (it is accumulated in `i128`), has two decimals, and is `Some(0.00)` for no
/// amounts. A bare `Yuan` is deliberately not `Sum` (it would have to panic or wrap).
impl Sum<Yuan> for Option<Yuan> {
    fn sum<I: Iterator<Item = Yuan>>(iter: I) -> Self {
        let mut total = FenTotal::default();
        for y in iter {
            total.add(y.to_fen()?)?;
        }
        total.get().map(Yuan::from)
    }
}

/// As `Sum<Yuan>`.
impl<'a> Sum<&'a Yuan> for Option<Yuan> {
    fn sum<I: Iterator<Item = &'a Yuan>>(iter: I) -> Self {
        iter.copied().sum()
    }
}

/// An exact running total of fen: `i128` cannot overflow before 2^64 amounts have been
/// added, and is checked all the same.
#[derive(Default)]
struct FenTotal(i128);

impl FenTotal {
    fn add(&mut self, fen: i64) -> Option<()> {
        self.0 = self.0.checked_add(i128::from(fen))?;
        Some(())
    }

    fn get(&self) -> Option<Fen> {
        i64::try_from(self.0).ok().map(Fen)
    }
}

// ---------------------------------------------------------------------------------------
// Fen

/// An exact whole number of fen (分, hundredths of a yuan), the unit of the document's
/// coupon amounts (`minimum_fee`): a JSON integer on the wire.
///
/// Arithmetic is checked ([`Fen::checked_add`], [`Fen::checked_sub`], and `Sum` into
/// `Option<Fen>`); conversions to [`Yuan`] are exact both ways where the amount allows:
///
/// ```
/// use openplatform_runtime::wire::{Fen, Yuan};
///
/// let min = Fen::new(10_000);
/// assert_eq!(Yuan::from(min).to_string(), "100.00");
/// assert_eq!(Fen::try_from("1000.4".parse::<Yuan>().unwrap()), Ok(Fen::new(100_040)));
/// assert_eq!(serde_json::to_string(&min).unwrap(), "10000");
/// assert_eq!(serde_json::from_str::<Fen>("\"10000\"").unwrap(), min);
/// assert_eq!(min.checked_sub(Fen::new(1)), Some(Fen::new(9_999)));
/// assert_eq!(Fen::MIN.checked_sub(Fen::new(1)), None);
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fen(i64);

impl Fen {
    /// Zero fen.
    pub const ZERO: Fen = Fen(0);
    /// The least amount: `i64::MIN` fen.
    pub const MIN: Fen = Fen(i64::MIN);
    /// The greatest amount: `i64::MAX` fen (92 233 720 368 547 758.07 yuan).
    pub const MAX: Fen = Fen(i64::MAX);

    /// `fen` fen: `Fen::new(100)` is one yuan.
    pub const fn new(fen: i64) -> Fen {
        Fen(fen)
    }

    /// The number of fen.
    pub const fn get(self) -> i64 {
        self.0
    }

    /// The same amount in yuan, with two decimals: `100040` fen → `1000.40`.
    pub fn to_yuan(self) -> Yuan {
        Yuan::from_fen(self.0)
    }

    /// `self + rhs`, `None` on overflow.
    #[must_use = "this returns the result of the operation, without modifying the original"]
    pub const fn checked_add(self, rhs: Fen) -> Option<Fen> {
        match self.0.checked_add(rhs.0) {
            Some(v) => Some(Fen(v)),
            None => None,
        }
    }

    /// `self − rhs`, `None` on overflow.
    #[must_use = "this returns the result of the operation, without modifying the original"]
    pub const fn checked_sub(self, rhs: Fen) -> Option<Fen> {
        match self.0.checked_sub(rhs.0) {
            Some(v) => Some(Fen(v)),
            None => None,
        }
    }

    /// Whether the amount is below zero.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }
}

/// `Some(total)` when the exact total fits `i64`, `None` otherwise (whatever the order:
/// it is accumulated in `i128`); `Some(Fen::ZERO)` for no amounts. A bare `Fen` is
/// deliberately not `Sum`.
impl Sum<Fen> for Option<Fen> {
    fn sum<I: Iterator<Item = Fen>>(iter: I) -> Self {
        let mut total = FenTotal::default();
        for f in iter {
            total.add(f.0)?;
        }
        total.get()
    }
}

/// As `Sum<Fen>`.
impl<'a> Sum<&'a Fen> for Option<Fen> {
    fn sum<I: Iterator<Item = &'a Fen>>(iter: I) -> Self {
        iter.copied().sum()
    }
}

impl fmt::Display for Fen {
    /// The number of fen, as an integer: `100040`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fen({})", self.0)
    }
}

impl From<i64> for Fen {
    fn from(fen: i64) -> Self {
        Fen(fen)
    }
}

impl From<i32> for Fen {
    fn from(fen: i32) -> Self {
        Fen(i64::from(fen))
    }
}

impl From<u32> for Fen {
    fn from(fen: u32) -> Self {
        Fen(i64::from(fen))
    }
}

impl TryFrom<i128> for Fen {
    type Error = std::num::TryFromIntError;

    fn try_from(fen: i128) -> Result<Self, Self::Error> {
        i64::try_from(fen).map(Fen)
    }
}

impl From<Fen> for i64 {
    fn from(fen: Fen) -> Self {
        fen.0
    }
}

impl From<Fen> for Yuan {
    /// Exact, with two decimals: `Fen::new(5)` → `0.05`.
    fn from(fen: Fen) -> Self {
        fen.to_yuan()
    }
}

impl TryFrom<Yuan> for Fen {
    type Error = ToFenError;

    /// Exact: the amount when it is a whole number of fen within `i64`, otherwise an
    /// error saying which of the two it is not.
    fn try_from(yuan: Yuan) -> Result<Self, Self::Error> {
        if let Some(fen) = yuan.to_fen() {
            return Ok(Fen(fen));
        }
        let decimals = yuan.significant_decimals();
        Err(if decimals > FEN_DECIMALS {
            ToFenError::TooManyDecimals { yuan, decimals }
        } else {
            ToFenError::OutOfRange { yuan }
        })
    }
}

impl TryFrom<&Yuan> for Fen {
    type Error = ToFenError;

    fn try_from(yuan: &Yuan) -> Result<Self, Self::Error> {
        Fen::try_from(*yuan)
    }
}

impl Serialize for Fen {
    /// A JSON integer.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for Fen {
    /// A JSON integer or a numeric string (`"100"`, `"100.0"`, `"1e3"` when whole), as the
    /// tolerant integers decode. `null` and `""` are errors here; use
    /// [`Tolerant`] or `Option` for absent values.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Fen::deserialize_tolerant(deserializer)?.ok_or_else(|| {
            de::Error::custom("expected an amount in fen (an integer), found null or \"\"")
        })
    }
}

/// Why a [`Yuan`] is not a [`Fen`]: it needs more than two decimals, or it is beyond
/// `i64` fen. The message names the amount.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToFenError {
    /// Not a whole number of fen: `decimals` (more than two) are needed.
    TooManyDecimals {
        /// The amount.
        yuan: Yuan,
        /// The decimals it needs (zeros at the end not counted).
        decimals: u32,
    },
    /// A whole number of fen, but beyond `i64` (about ±92 trillion yuan).
    OutOfRange {
        /// The amount.
        yuan: Yuan,
    },
}

impl fmt::Display for ToFenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToFenError::TooManyDecimals { yuan, decimals } => write!(
                f,
                "{} yuan is not a whole number of fen: it has {decimals} decimals; \
                 the platform's money has at most {FEN_DECIMALS}",
                yuan.short_text()
            ),
            ToFenError::OutOfRange { yuan } => write!(
                f,
                "{} yuan is out of range for fen (an i64: -92233720368547758.08 to 92233720368547758.07 yuan)",
                yuan.short_text()
            ),
        }
    }
}

impl std::error::Error for ToFenError {}

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
    /// More than [`FEN_DECIMALS`] decimals needed (`decimals`), `written` as written.
    TooManyDecimals {
        decimals: u32,
        written: u32,
    },
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

    /// `Some(n)` when the text is a valid decimal refused only because it needs `n`
    /// decimals, more than the platform's two (`"1000.405"` → `Some(3)`).
    pub fn decimals(&self) -> Option<u32> {
        match self.reason {
            Reason::TooManyDecimals { decimals, .. } => Some(decimals),
            _ => None,
        }
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
            Reason::TooManyDecimals { decimals, written } => {
                write!(f, "it has {decimals} decimals")?;
                if written != decimals {
                    f.write_str(" (not counting the zeros at the end)")?;
                }
                write!(
                    f,
                    "; the platform's money has at most {FEN_DECIMALS} (a whole number of fen)"
                )
            }
        }
    }
}

impl std::error::Error for ParseYuanError {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// As decoding reads text: any number of decimals.
    fn y(s: &str) -> Yuan {
        Yuan::parse_any_scale(s).unwrap()
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
    fn parse_rejects_more_than_two_decimals_naming_the_problem() {
        let err = Yuan::parse("1000.405").unwrap_err();
        assert_eq!(err.decimals(), Some(3));
        assert_eq!(
            err.to_string(),
            "invalid yuan amount \"1000.405\": it has 3 decimals; \
             the platform's money has at most 2 (a whole number of fen)"
        );
        assert_eq!(err.input(), "\"1000.405\"");
        let err = Yuan::parse("1.2340").unwrap_err();
        assert_eq!(err.decimals(), Some(3));
        assert!(
            err.to_string()
                .contains("it has 3 decimals (not counting the zeros at the end)"),
            "{err}"
        );
        for (bad, n) in [
            ("0.001", 3),
            ("-0.005", 3),
            ("1.5e-3", 4),
            ("1e-3", 3),
            ("0.000000000000000000000000000000000000000000001", 45),
            ("1e-1000", 1000),
        ] {
            let err = Yuan::parse(bad).unwrap_err();
            assert_eq!(err.decimals(), Some(n), "{bad}");
            assert!(bad.parse::<Yuan>().is_err());
            assert!(Yuan::try_from(bad).is_err());
            // Decoding keeps it, exactly.
            assert_eq!(y(bad).significant_decimals(), n);
        }
        // Syntax errors are not decimal errors.
        assert_eq!(Yuan::parse("1.").unwrap_err().decimals(), None);
        assert_eq!(Yuan::parse("1e-1001").unwrap_err().decimals(), None);
        // Zeros after the second decimal are not counted; the text is kept.
        for ok in [
            "1.230",
            "1000.4000",
            "0.000",
            "-0.0",
            "1.5e-1",
            "12",
            "1e3",
            "0e-900",
        ] {
            let v = Yuan::parse(ok).unwrap();
            assert_eq!(v, y(ok));
            assert_eq!(v.to_string(), y(ok).to_string());
            assert!(v.to_fen().is_some(), "{ok}");
        }
        assert_eq!(y("1000.40").significant_decimals(), 1);
        assert_eq!(y("12").significant_decimals(), 0);
        assert_eq!(y("0.00").significant_decimals(), 0);
        assert_eq!(
            Yuan::from_decimal_parts(5, u32::MAX).significant_decimals(),
            u32::MAX
        );
    }

    #[test]
    fn decode_keeps_more_than_two_decimals_and_arithmetic_reports_them() {
        // Errata E71: the platform's text is accepted and kept byte for byte.
        for text in ["1000.405", "\"1000.405\"", "0.001", "1.2345e1"] {
            let v: Yuan = serde_json::from_str(text).unwrap();
            assert_eq!(v.to_fen(), None, "{text}");
            assert_eq!(v.checked_add(Yuan::ZERO), None);
            assert_eq!(Yuan::ZERO.checked_sub(v), None);
            assert_eq!([Yuan::from_fen(1), v].iter().sum::<Option<Yuan>>(), None);
            let err = Fen::try_from(v).unwrap_err();
            assert!(matches!(err, ToFenError::TooManyDecimals { .. }), "{err:?}");
        }
        let v: Yuan = serde_json::from_str("1000.405").unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), "1000.405");
        assert_eq!(
            Fen::try_from(&v).unwrap_err().to_string(),
            "1000.405 yuan is not a whole number of fen: it has 3 decimals; \
             the platform's money has at most 2"
        );
        let tolerant = crate::wire::tolerant::option::<_, Yuan>(
            &mut serde_json::Deserializer::from_str(r#""1000.405""#),
        )
        .unwrap()
        .unwrap();
        assert_eq!(tolerant.to_string(), "1000.405");
    }

    #[test]
    fn checked_arithmetic() {
        let a = Yuan::parse("1000.4").unwrap();
        let b = Yuan::parse("0.1").unwrap();
        assert_eq!(a.checked_add(b).unwrap().to_string(), "1000.50");
        assert_eq!(a.checked_sub(b).unwrap().to_string(), "1000.30");
        assert_eq!(b.checked_sub(a).unwrap().to_string(), "-1000.30");
        assert_eq!(a.checked_sub(a).unwrap().to_string(), "0.00");
        assert_eq!(
            y("1.230").checked_add(y("1e2")).unwrap().to_string(),
            "101.23"
        );
        let max = Yuan::from_fen(i64::MAX);
        let min = Yuan::from_fen(i64::MIN);
        let cent = Yuan::from_fen(1);
        assert_eq!(max.checked_add(cent), None);
        assert_eq!(min.checked_sub(cent), None);
        assert_eq!(max.checked_sub(cent), Some(Yuan::from_fen(i64::MAX - 1)));
        assert_eq!(min.checked_add(max), Some(Yuan::from_fen(-1)));
        assert_eq!(Yuan::ZERO.checked_sub(min), None);
        // Beyond i64 fen: no arithmetic, and the error says why.
        let huge = y("99999999999999999.99");
        assert_eq!(huge.checked_add(Yuan::ZERO), None);
        let err = Fen::try_from(huge).unwrap_err();
        assert_eq!(err, ToFenError::OutOfRange { yuan: huge });
        assert!(
            err.to_string()
                .starts_with("99999999999999999.99 yuan is out of range for fen"),
            "{err}"
        );
        let long = Yuan::from_decimal_parts(5, 5000);
        let msg = Fen::try_from(long).unwrap_err().to_string();
        assert!(
            msg.starts_with("5e-5000 yuan is not a whole number of fen"),
            "{msg}"
        );

        let f = Fen::new(100_040);
        assert_eq!(f.checked_add(Fen::new(-40)), Some(Fen::new(100_000)));
        assert_eq!(f.checked_sub(Fen::new(100_041)), Some(Fen::new(-1)));
        assert!(Fen::new(-1).is_negative() && !Fen::ZERO.is_negative());
        assert_eq!(Fen::MAX.checked_add(Fen::new(1)), None);
        assert_eq!(Fen::MIN.checked_sub(Fen::new(1)), None);
        assert_eq!(Fen::ZERO.checked_sub(Fen::MIN), None);
    }

    #[test]
    fn sums_are_exact_or_none() {
        let amounts: Vec<Yuan> = ["1000.4", "0.1", "-0.5", "7"]
            .iter()
            .map(|s| y(s))
            .collect();
        let total: Option<Yuan> = amounts.iter().sum();
        assert_eq!(total.unwrap().to_string(), "1007.00");
        let total: Option<Yuan> = amounts.into_iter().sum();
        assert_eq!(total, Some(Yuan::from_fen(100_700)));
        assert_eq!(
            std::iter::empty::<Yuan>().sum::<Option<Yuan>>(),
            Some(Yuan::from_fen(0))
        );
        assert_eq!(
            std::iter::empty::<Fen>().sum::<Option<Fen>>(),
            Some(Fen::ZERO)
        );
        // Overflow is None, never a wrapped total.
        assert_eq!([Fen::MAX, Fen::new(1)].iter().sum::<Option<Fen>>(), None);
        assert_eq!(
            [Fen::MIN, Fen::new(-1)].into_iter().sum::<Option<Fen>>(),
            None
        );
        // The exact total is what counts, whatever the order: a passing excursion
        // beyond i64 is fine.
        assert_eq!(
            [Fen::MAX, Fen::MAX, Fen::MIN, Fen::MIN]
                .into_iter()
                .sum::<Option<Fen>>(),
            Some(Fen::new(-2))
        );
        let max = Yuan::from_fen(i64::MAX);
        assert_eq!([max, max].iter().sum::<Option<Yuan>>(), None);
        assert_eq!(
            [max, Yuan::from_fen(1), Yuan::from_fen(-2)]
                .iter()
                .sum::<Option<Yuan>>(),
            Some(Yuan::from_fen(i64::MAX - 1))
        );
        // Many maxima: the running total goes far beyond i64 without a panic.
        assert_eq!(
            std::iter::repeat_n(Fen::MAX, 10_000).sum::<Option<Fen>>(),
            None
        );
    }

    #[test]
    fn fen_conversions_and_wire() {
        for n in [0, 1, -1, 5, 100, 100_040, i64::MAX, i64::MIN] {
            let f = Fen::new(n);
            assert_eq!(f.get(), n);
            assert_eq!(i64::from(f), n);
            assert_eq!(Fen::from(n), f);
            let yuan = Yuan::from(f);
            assert_eq!(yuan, f.to_yuan());
            assert_eq!(yuan.scale(), 2);
            assert_eq!(Fen::try_from(yuan), Ok(f));
            assert_eq!(Fen::try_from(&yuan), Ok(f));
            // Through the text, as a caller would write it.
            assert_eq!(
                Fen::try_from(Yuan::parse(&yuan.to_string()).unwrap()),
                Ok(f)
            );
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, n.to_string());
            assert_eq!(serde_json::from_str::<Fen>(&json).unwrap(), f);
            assert_eq!(serde_json::from_str::<Fen>(&format!("\"{n}\"")).unwrap(), f);
            assert_eq!(f.to_string(), n.to_string());
        }
        assert_eq!(Yuan::from(Fen::new(5)).to_string(), "0.05");
        assert_eq!(Yuan::from(Fen::new(-100_040)).to_string(), "-1000.40");
        assert_eq!(Fen::from(7i32), Fen::new(7));
        assert_eq!(Fen::from(7u32), Fen::new(7));
        assert_eq!(Fen::try_from(1i128 << 70).ok(), None);
        assert_eq!(format!("{:?}", Fen::new(-3)), "Fen(-3)");
        assert!(Fen::new(-3) < Fen::ZERO);
        assert_eq!(Fen::default(), Fen::ZERO);
        for (json, want) in [("\" 100 \"", 100), ("100.0", 100), ("\"1e3\"", 1000)] {
            assert_eq!(
                serde_json::from_str::<Fen>(json).unwrap(),
                Fen::new(want),
                "{json}"
            );
        }
        for (json, needle) in [
            ("100.5", "100.5"),
            ("\"12元\"", "\"12元\""),
            ("null", "null"),
            ("\"\"", "null or \"\""),
            ("9223372036854775808", "9223372036854775808"),
            ("true", "true"),
        ] {
            let err = serde_json::from_str::<Fen>(json).unwrap_err().to_string();
            assert!(err.contains(needle), "{json}: {err}");
        }
        let err = serde_json::from_str::<Fen>("9223372036854775808")
            .unwrap_err()
            .to_string();
        assert!(err.contains("out of range for Fen"), "{err}");
        // Absent values, tolerantly.
        let mut d = serde_json::Deserializer::from_str("\"\"");
        assert_eq!(Fen::deserialize_tolerant(&mut d).unwrap(), None);
        assert_eq!(crate::wire::query_value(&Fen::new(100)), "100");
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
            if let Ok(v) = Yuan::parse_any_scale(&s) {
                let _ = (v.to_string(), v.to_fen(), v.cmp(&Yuan::ZERO));
                let _ = (v.checked_add(v), v.checked_sub(v), Fen::try_from(v));
                assert_eq!(Yuan::parse(&s).is_ok(), v.significant_decimals() <= 2);
            }
            let _ = serde_json::from_str::<Yuan>(&s);
        }
    }
}
