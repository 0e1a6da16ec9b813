//! Property tests of money arithmetic: `Yuan` and `Fen` addition, subtraction and sums
//! never panic and are exact (checked against `i128` arithmetic in fen), parsing holds the
//! caller to two decimals while decoding keeps any text exactly (errata E71), and the
//! conversions between fen and yuan round-trip.

use openplatform_runtime::wire::{Fen, ToFenError, Yuan};
use proptest::prelude::*;

/// The `i128` result as a `Fen`, when it fits.
fn fits(v: i128) -> Option<Fen> {
    i64::try_from(v).ok().map(Fen::new)
}

/// Any amount a `Yuan` can hold with few decimals: most are whole fen within `i64`, some
/// are beyond it, some need more than two decimals.
fn any_yuan() -> impl Strategy<Value = Yuan> {
    prop_oneof![
        4 => any::<i64>().prop_map(Yuan::from_fen),
        1 => (any::<i128>(), 0u32..6).prop_map(|(m, s)| Yuan::from_decimal_parts(m, s)),
        1 => (-1_000_000_000i128..1_000_000_000, 0u32..6)
            .prop_map(|(m, s)| Yuan::from_decimal_parts(m, s)),
    ]
}

/// Whether a `Yuan` is a whole number of fen (of any size), by `i128` arithmetic.
fn is_whole_fen(y: &Yuan) -> bool {
    y.scale() <= 2 || y.mantissa() % 10i128.pow(y.scale() - 2) == 0
}

/// The amount in fen by `i128` arithmetic, when it is whole fen within `i64`.
fn fen_i64(y: &Yuan) -> Option<i64> {
    if !is_whole_fen(y) {
        return None;
    }
    let (m, s) = (y.mantissa(), y.scale());
    let fen = if s <= 2 {
        m.checked_mul(10i128.pow(2 - s))?
    } else {
        m / 10i128.pow(s - 2)
    };
    i64::try_from(fen).ok()
}

/// A decimal text in JSON grammar with `frac` decimals (`None`: no point).
fn decimal_text(negative: bool, int: u64, frac: Option<String>) -> String {
    let sign = if negative { "-" } else { "" };
    match frac {
        Some(f) => format!("{sign}{int}.{f}"),
        None => format!("{sign}{int}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Fen: add and sub are the exact `i128` result when it fits `i64`, `None` otherwise.
    #[test]
    fn fen_add_and_sub_are_exact_or_none(a in any::<i64>(), b in any::<i64>()) {
        let (x, y) = (Fen::new(a), Fen::new(b));
        prop_assert_eq!(x.checked_add(y), fits(i128::from(a) + i128::from(b)));
        prop_assert_eq!(x.checked_sub(y), fits(i128::from(a) - i128::from(b)));
    }

    /// Yuan: the same, in fen, for every amount; an operand that is not a whole number
    /// of fen within `i64` gives `None`. Results have two decimals.
    #[test]
    fn yuan_add_and_sub_are_exact_or_none(a in any_yuan(), b in any_yuan()) {
        let (fa, fb) = (fen_i64(&a), fen_i64(&b));
        prop_assert_eq!(a.to_fen(), fa);
        let want = |op: fn(i128, i128) -> i128| match (fa, fb) {
            (Some(x), Some(y)) => fits(op(i128::from(x), i128::from(y))),
            _ => None,
        };
        let sum = a.checked_add(b);
        let difference = a.checked_sub(b);
        prop_assert_eq!(sum.map(|v| Fen::try_from(v).unwrap()), want(|x, y| x + y));
        prop_assert_eq!(difference.map(|v| Fen::try_from(v).unwrap()), want(|x, y| x - y));
        for v in sum.iter().chain(difference.iter()) {
            prop_assert_eq!(v.scale(), 2);
        }
        // The error says which: too many decimals, or out of range.
        match Fen::try_from(a) {
            Ok(f) => prop_assert_eq!(Some(f.get()), fa),
            Err(ToFenError::TooManyDecimals { decimals, .. }) => {
                prop_assert!(!is_whole_fen(&a));
                prop_assert!(decimals > 2);
            }
            Err(ToFenError::OutOfRange { .. }) => {
                prop_assert!(is_whole_fen(&a) && fa.is_none());
            }
            Err(e) => prop_assert!(false, "unexpected error {e:?}"),
        }
    }

    /// Sums of any amounts: the exact `i128` total when it fits `i64`, `None` otherwise,
    /// whatever the order; no panic however far the running total goes.
    #[test]
    fn sums_are_exact_or_none(amounts in prop::collection::vec(
        prop_oneof![any::<i64>(), Just(i64::MAX), Just(i64::MIN), -1000i64..1000],
        0..40,
    )) {
        let exact: i128 = amounts.iter().map(|&v| i128::from(v)).sum();
        let fen: Vec<Fen> = amounts.iter().copied().map(Fen::new).collect();
        let yuan: Vec<Yuan> = amounts.iter().copied().map(Yuan::from_fen).collect();
        prop_assert_eq!(fen.iter().sum::<Option<Fen>>(), fits(exact));
        prop_assert_eq!(fen.iter().rev().copied().sum::<Option<Fen>>(), fits(exact));
        let total: Option<Yuan> = yuan.iter().sum();
        prop_assert_eq!(total, fits(exact).map(Yuan::from));
        prop_assert_eq!(yuan.into_iter().sum::<Option<Yuan>>(), fits(exact).map(Yuan::from));
    }

    /// One amount that is not a whole number of fen makes the sum `None`.
    #[test]
    fn a_sub_fen_amount_spoils_the_sum(
        amounts in prop::collection::vec(-1_000_000i64..1_000_000, 0..10),
        odd in 1i128..1000,
        at in 0usize..10,
    ) {
        let mut yuan: Vec<Yuan> = amounts.iter().copied().map(Yuan::from_fen).collect();
        let odd = Yuan::from_decimal_parts(odd * 10 + 1, 3); // x.xx1
        yuan.insert(at.min(yuan.len()), odd);
        prop_assert_eq!(yuan.iter().sum::<Option<Yuan>>(), None);
    }

    /// Fen → Yuan → Fen, and through the yuan's text, for every `i64`.
    #[test]
    fn fen_and_yuan_round_trip(n in any::<i64>()) {
        let f = Fen::new(n);
        let y = Yuan::from(f);
        prop_assert_eq!(Fen::try_from(y), Ok(f));
        prop_assert_eq!(y.to_fen(), Some(n));
        let text = y.to_string();
        let parsed = Yuan::parse(&text).unwrap();
        prop_assert_eq!(parsed.to_string(), text.clone());
        prop_assert_eq!(Fen::try_from(parsed), Ok(f));
        let json = serde_json::to_string(&f).unwrap();
        prop_assert_eq!(&json, &n.to_string());
        prop_assert_eq!(serde_json::from_str::<Fen>(&json).unwrap(), f);
        prop_assert_eq!(serde_json::from_str::<Fen>(&format!("\"{n}\"")).unwrap(), f);
    }

    /// Text with at most two decimals parses, round-trips byte for byte (bare and quoted)
    /// and converts to fen exactly.
    #[test]
    fn two_decimal_text_round_trips(
        negative in any::<bool>(),
        int in 0u64..10_000_000_000_000,
        frac in prop::option::of("[0-9]{1,2}"),
    ) {
        let text = decimal_text(negative, int, frac.clone());
        let y = Yuan::parse(&text).unwrap();
        prop_assert_eq!(y.to_string(), text.clone());
        prop_assert_eq!(serde_json::to_string(&y).unwrap(), text.clone());
        let back: Yuan = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(serde_json::to_string(&back).unwrap(), text.clone());
        let quoted: Yuan = serde_json::from_str(&format!("\"{text}\"")).unwrap();
        prop_assert_eq!(quoted.to_string(), text.clone());
        let digits = format!("{int}{:0<2}", frac.unwrap_or_default());
        let fen: i64 = digits.parse().unwrap();
        prop_assert_eq!(y.to_fen(), Some(if negative { -fen } else { fen }));
    }

    /// Text needing three or more decimals: `Yuan::parse` refuses it saying how many;
    /// decoding accepts it and keeps it byte for byte (E71), and it is not fen.
    #[test]
    fn more_decimals_are_refused_by_parse_and_kept_by_decode(
        negative in any::<bool>(),
        int in 0u64..10_000_000_000_000,
        frac in "[0-9]{2,8}[1-9]",
        zeros in 0usize..3,
    ) {
        let text = decimal_text(negative, int, Some(format!("{frac}{}", "0".repeat(zeros))));
        let err = Yuan::parse(&text).unwrap_err();
        prop_assert_eq!(err.decimals(), Some(frac.len() as u32));
        let msg = err.to_string();
        prop_assert!(msg.contains(&format!("it has {} decimals", frac.len())), "{}", msg);
        prop_assert!(msg.contains("the platform's money has at most 2"), "{}", msg);
        prop_assert!(text.parse::<Yuan>().is_err());
        let decoded: Yuan = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(serde_json::to_string(&decoded).unwrap(), text.clone());
        prop_assert_eq!(decoded.significant_decimals(), frac.len() as u32);
        prop_assert_eq!(decoded.to_fen(), None);
        prop_assert_eq!(decoded.checked_add(Yuan::ZERO), None);
        let is_too_many = matches!(
            Fen::try_from(decoded),
            Err(ToFenError::TooManyDecimals { decimals, .. }) if decimals as usize == frac.len()
        );
        prop_assert!(is_too_many);
    }
}

#[test]
fn the_doc_amount_round_trips_byte_for_byte() {
    for text in ["1000.4", "1000.40", "\"1000.4\""] {
        let y: Yuan = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&y).unwrap(), text.trim_matches('"'));
        assert_eq!(y.to_fen(), Some(100_040));
    }
    let y = Yuan::parse("1000.4").unwrap();
    assert_eq!(serde_json::to_string(&y).unwrap(), "1000.4");
    assert_eq!(
        y.checked_add(Yuan::parse("0.6").unwrap())
            .unwrap()
            .to_string(),
        "1001.00"
    );
}
