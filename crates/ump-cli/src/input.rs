//! Flags → the typed request: each flag's text becomes its field's JSON value (checked for
//! its kind here, so a bad value names its flag), and the object is decoded into the
//! request through its generated `Deserialize` (the `server` feature of gree-ump).
//!
//! The object is assembled as JSON text from raw values, never through `f64`, so money
//! and long numbers reach the request exactly as typed.

use clap::ArgMatches;
use gree_ump::wire::{BeijingDate, BeijingDateTime, Yuan};
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::run::CliError;
use crate::schema::{Command, Field, Kind};

/// The request of `command` from its parsed flags.
pub fn request<R: DeserializeOwned>(
    command: &Command,
    matches: &ArgMatches,
) -> Result<R, CliError> {
    let mut object: Vec<(&str, Box<RawValue>)> = Vec::new();
    let mut stdin_read_by: Option<&str> = None;
    for f in command.fields {
        if let Some(text) = matches.get_one::<String>(f.id) {
            object.push((f.wire, value(f, text)?));
        } else if let Some(file) = f.file_flag
            && let Some(path) = matches.get_one::<String>(file)
        {
            let text = read_value(file, path, &mut stdin_read_by)?;
            object.push((f.wire, value(f, &text)?));
        }
    }
    let mut json = String::from("{");
    for (i, (wire, raw)) in object.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&quoted(wire));
        json.push(':');
        json.push_str(raw.get());
    }
    json.push('}');
    serde_json::from_str(&json).map_err(|e| {
        // serde's text names the field (`missing field`, `invalid value … for phone`); it
        // may quote a value, so a sensitive command's value is not repeated.
        let names_value = command.fields.iter().any(|f| f.sensitive);
        CliError::usage(if names_value {
            format!(
                "the flags do not make a valid {} request ({})",
                command.method,
                redact_quoted(&e.to_string())
            )
        } else {
            format!(
                "the flags do not make a valid {} request: {e}",
                command.method
            )
        })
    })
}

/// The value a `--…-file PATH` flag names: the file's text, or stdin's for `-` (which
/// one flag only can read), without one trailing newline. Errors name the flag and the
/// path, never the text.
fn read_value(
    file: &'static str,
    path: &str,
    stdin_read_by: &mut Option<&'static str>,
) -> Result<String, CliError> {
    use std::io::Read as _;
    let mut text = String::new();
    if path == "-" {
        if let Some(other) = stdin_read_by {
            return Err(CliError::usage(format!(
                "--{file} -: stdin is read by --{other} already; give one of them a file"
            )));
        }
        *stdin_read_by = Some(file);
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::failed(format!("--{file}: cannot read stdin: {e}")))?;
    } else {
        text = std::fs::read_to_string(path)
            .map_err(|e| CliError::failed(format!("--{file}: cannot read {path}: {e}")))?;
    }
    let value = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    if value.is_empty() {
        return Err(CliError::usage(format!(
            "--{file}: {} is empty",
            if path == "-" { "stdin" } else { path }
        )));
    }
    Ok(value.to_owned())
}

/// One flag's JSON value.
pub(crate) fn value(f: &Field, text: &str) -> Result<Box<RawValue>, CliError> {
    let bad = |why: String| CliError::usage(format!("--{}: {why}", f.flag));
    let shown = |t: &str| {
        if f.sensitive {
            "the value".to_string()
        } else {
            format!("`{t}`")
        }
    };
    let raw = match f.kind {
        Kind::Text => quoted(text),
        Kind::Integer if !f.values.is_empty() => {
            let n = enum_value(f.values, text).ok_or_else(|| {
                let allowed: Vec<String> = f
                    .values
                    .iter()
                    .map(|(v, name, label)| format!("{v} or {name} ({label})"))
                    .collect();
                bad(format!(
                    "{} is not one of {}",
                    shown(text),
                    allowed.join(", ")
                ))
            })?;
            n.to_string()
        }
        Kind::Integer => {
            let n: i64 = text
                .trim()
                .parse()
                .map_err(|_| bad(format!("{} is not a whole number", shown(text))))?;
            n.to_string()
        }
        Kind::Bool => match text.trim() {
            "true" => "true".into(),
            "false" => "false".into(),
            _ => return Err(bad(format!("{} is not true or false", shown(text)))),
        },
        Kind::Yuan => {
            let yuan = Yuan::parse(text.trim()).map_err(|e| bad(e.to_string()))?;
            // The exact decimal as a JSON string: the request reads it without a float.
            quoted(&yuan.to_string())
        }
        Kind::Json => {
            let raw = RawValue::from_string(text.trim().to_string())
                .map_err(|e| bad(format!("not JSON: {e}")))?;
            return Ok(raw);
        }
        Kind::DateTime => {
            let t = BeijingDateTime::parse_exact(text).map_err(|_| {
                bad(format!(
                    "{} is not a Beijing date and time yyyy-MM-dd HH:mm:ss (for example \
                     2026-12-07 10:00:00)",
                    shown(text)
                ))
            })?;
            quoted(&t.to_string())
        }
        Kind::Date => {
            let d = BeijingDate::parse_exact(text).map_err(|_| {
                bad(format!(
                    "{} is not a date yyyy-MM-dd (for example 2026-12-07)",
                    shown(text)
                ))
            })?;
            quoted(&d.to_string())
        }
        Kind::Millis => match text.trim().parse::<i64>() {
            Ok(ms) => ms.to_string(),
            Err(_) => BeijingDateTime::parse_exact(text)
                .map(|t| t.timestamp_ms().to_string())
                .map_err(|_| {
                    bad(format!(
                        "{} is neither milliseconds since 1970 nor a Beijing date and time \
                         yyyy-MM-dd HH:mm:ss (for example 2026-12-07 10:00:00)",
                        shown(text)
                    ))
                })?,
        },
    };
    RawValue::from_string(raw).map_err(|e| bad(e.to_string()))
}

/// The code an enum flag's `text` names: the code itself, the value's name as the help
/// lists it (any case, with or without `-` and `_`: `OrderAmountOff`,
/// `order-amount-off`, `all`), or its Chinese label (`订单满减`).
fn enum_value(values: &[(i64, &str, &str)], text: &str) -> Option<i64> {
    let text = text.trim();
    let folded = |t: &str| -> String {
        t.chars()
            .filter(|c| *c != '-' && *c != '_')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let wanted = folded(text);
    let code = text.parse::<i64>().ok();
    values
        .iter()
        .find(|(v, name, label)| Some(*v) == code || folded(name) == wanted || *label == text)
        .map(|(v, _, _)| *v)
}

/// A JSON string literal of `text`.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

/// Replaces every double-quoted part of serde's text, which may be a value (backquoted
/// parts are field names and stay).
fn redact_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut inside: Option<char> = None;
    for c in text.chars() {
        match inside {
            Some(q) if c == q => {
                out.push('…');
                out.push(c);
                inside = None;
            }
            Some(_) => {}
            None if c == '"' => {
                out.push(c);
                inside = Some(c);
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{enum_value, redact_quoted, value};
    use crate::generated::GROUPS;
    use crate::schema::{Field, Kind};

    #[test]
    fn quoted_parts_are_hidden() {
        assert_eq!(
            redact_quoted("invalid value: string \"13800000000\", expected x at `phone`"),
            "invalid value: string \"…\", expected x at `phone`"
        );
    }

    /// Every enum flag takes its values' codes, names (as the help lists them, in any
    /// case and with `-` or `_`) and Chinese labels; anything else is refused naming
    /// the flag and the accepted forms.
    #[test]
    fn enum_flags_take_codes_names_and_labels() {
        let coupon = [
            (0, "OrderAmountOff", "订单满减"),
            (1, "OrderFreeShipping", "订单免运费"),
        ];
        for text in [
            "1",
            "OrderFreeShipping",
            "order-free-shipping",
            "ORDER_FREE_SHIPPING",
            "订单免运费",
            " 1 ",
        ] {
            assert_eq!(enum_value(&coupon, text), Some(1), "{text}");
        }
        assert_eq!(enum_value(&coupon, "Order"), None);
        assert_eq!(enum_value(&coupon, "7"), None);
        let mut enums = 0;
        for command in GROUPS.iter().flat_map(|g| g.commands) {
            for f in command.fields.iter().filter(|f| !f.values.is_empty()) {
                enums += 1;
                for (code, name, label) in f.values {
                    for text in [
                        code.to_string(),
                        name.to_string(),
                        name.to_lowercase(),
                        label.to_string(),
                    ] {
                        let raw =
                            value(f, &text).unwrap_or_else(|e| panic!("--{} {text}: {e}", f.flag));
                        assert_eq!(raw.get(), code.to_string(), "--{} {text}", f.flag);
                    }
                }
                let refused = value(f, "no-such-value").expect_err("refused");
                assert!(
                    refused.message.contains(&format!("--{}", f.flag)),
                    "{}",
                    refused.message
                );
                assert!(
                    refused.message.contains(f.values[0].1),
                    "names the forms: {}",
                    refused.message
                );
            }
        }
        assert!(enums >= 5, "the spec's enum flags: {enums}");
    }

    fn flag(kind: Kind) -> Field {
        Field {
            id: "when",
            flag: "when",
            wire: "when",
            kind,
            ty: "",
            required: true,
            sensitive: false,
            file_flag: None,
            doc: "",
            gloss: "",
            example: None,
            values: &[],
        }
    }

    /// Dates and times are taken exactly in the form the help gives, in Beijing time; a
    /// bare date, a `T` or an offset is refused naming the flag and the form, never sent
    /// as midnight or converted from another zone.
    #[test]
    fn dates_and_times_are_parsed_strictly_in_the_documented_form() {
        let dt = flag(Kind::DateTime);
        assert_eq!(
            value(&dt, "2026-12-07 10:00:00").unwrap().get(),
            r#""2026-12-07 10:00:00""#
        );
        for wrong in [
            "2026-12-07",
            "2026/12/07 10:00",
            "2026-12-07T10:00:00Z",
            "2026-12-07T10:00:00",
            "2026-12-07 10:00",
            "2026-02-30 10:00:00",
            "2026-12-07 24:00:00",
        ] {
            let e = value(&dt, wrong).expect_err(wrong);
            assert!(e.message.starts_with("--when: "), "{}", e.message);
            assert!(e.message.contains("yyyy-MM-dd HH:mm:ss"), "{}", e.message);
        }
        let date = flag(Kind::Date);
        assert_eq!(value(&date, "2026-12-07").unwrap().get(), r#""2026-12-07""#);
        for wrong in ["2026-12-07 10:00:00", "2026/12/07", "2026-13-01"] {
            let e = value(&date, wrong).expect_err(wrong);
            assert!(e.message.contains("yyyy-MM-dd"), "{}", e.message);
        }
        // Milliseconds, or a Beijing date and time turned into them.
        let ms = flag(Kind::Millis);
        assert_eq!(value(&ms, "1765072800000").unwrap().get(), "1765072800000");
        assert_eq!(
            value(&ms, "2025-12-07 10:00:00").unwrap().get(),
            "1765072800000",
            "10:00 in Beijing is 02:00 UTC"
        );
        let e = value(&ms, "2025-12-07").expect_err("a bare date");
        assert!(
            e.message.contains("milliseconds since 1970"),
            "{}",
            e.message
        );
    }
}
