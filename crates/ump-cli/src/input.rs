//! Flags → the typed request: each flag's text becomes its field's JSON value (checked for
//! its kind here, so a bad value names its flag), and the object is decoded into the
//! request through its generated `Deserialize` (the `server` feature of gree-ump).
//!
//! The object is assembled as JSON text from raw values, never through `f64`, so money
//! and long numbers reach the request exactly as typed.

use clap::ArgMatches;
use gree_ump::wire::Yuan;
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
fn value(f: &Field, text: &str) -> Result<Box<RawValue>, CliError> {
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
        Kind::Integer => {
            let n: i64 = text
                .trim()
                .parse()
                .map_err(|_| bad(format!("{} is not a whole number", shown(text))))?;
            if !f.values.is_empty() && !f.values.iter().any(|(v, _, _)| *v == n) {
                let allowed: Vec<String> = f
                    .values
                    .iter()
                    .map(|(v, name, _)| format!("{v} ({name})"))
                    .collect();
                return Err(bad(format!("{n} is not one of {}", allowed.join(", "))));
            }
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
    };
    RawValue::from_string(raw).map_err(|e| bad(e.to_string()))
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
    use super::redact_quoted;

    #[test]
    fn quoted_parts_are_hidden() {
        assert_eq!(
            redact_quoted("invalid value: string \"13800000000\", expected x at `phone`"),
            "invalid value: string \"…\", expected x at `phone`"
        );
    }
}
