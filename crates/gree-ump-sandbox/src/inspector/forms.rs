//! The inspector's HTML forms: faults, clock, reset. Each answers a redirect to the
//! controls page when it worked (so reloading does not post again), or a 400 page
//! saying what was wrong.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveDateTime;

use super::fields::Fields;
use super::html::error_page;
use crate::controls::Controls;
use crate::faults::{ANY_METHOD, Fault};

/// The fault kinds the form offers, as [`Fault`] names them in JSON.
pub(crate) const FAULT_KINDS: &[&str] = &[
    "busy",
    "reject",
    "http_status",
    "drop_after_commit",
    "malformed",
    "slow",
    "slow_after_commit",
    "commit_after_timeout",
];

const BACK: &str = "/__sandbox/ui/controls";

/// What only forms ask of their fields.
trait Required {
    fn required<T: std::str::FromStr>(&self, name: &str, kind: &str) -> Result<T, String>;
}

impl Required for Fields {
    fn required<T: std::str::FromStr>(&self, name: &str, kind: &str) -> Result<T, String> {
        self.number(name)?
            .ok_or_else(|| format!("a {kind} fault needs {name}"))
    }
}

fn bad(message: &str) -> Response {
    error_page(StatusCode::BAD_REQUEST, message)
}

/// The fault a form describes, with its method and count.
fn fault_of(f: &Fields) -> Result<(String, Fault, u32), String> {
    let method = f.get("method").ok_or("the method is missing")?;
    if method != ANY_METHOD && gree_ump::generated::routes::AnyRequest::endpoint(method).is_none() {
        return Err(format!("unknown method {method}"));
    }
    let kind = f.get("kind").ok_or("the fault kind is missing")?;
    let fault = match kind {
        "busy" => Fault::Busy,
        "drop_after_commit" => Fault::DropAfterCommit,
        "malformed" => Fault::Malformed,
        "reject" => Fault::Reject {
            code: f.required("code", kind)?,
        },
        "http_status" => Fault::HttpStatus {
            status: f.required("status", kind)?,
        },
        "slow" => Fault::Slow {
            delay_ms: f.required("delay_ms", kind)?,
        },
        "slow_after_commit" => Fault::SlowAfterCommit {
            delay_ms: f.required("delay_ms", kind)?,
        },
        "commit_after_timeout" => Fault::CommitAfterTimeout {
            delay_ms: f.required("delay_ms", kind)?,
        },
        other => return Err(format!("unknown fault kind {other}")),
    };
    let times = f.number::<u32>("times")?.unwrap_or(1);
    Ok((method.to_owned(), fault, times))
}

pub(crate) fn add_fault(c: &Controls, body: &Bytes) -> Response {
    match fault_of(&Fields::parse(body.as_ref())) {
        Ok((method, fault, times)) => {
            c.inject_fault(&method, fault, times);
            Redirect::to(BACK).into_response()
        }
        Err(e) => bad(&e),
    }
}

pub(crate) fn clear_faults(c: &Controls) -> Response {
    c.clear_faults();
    Redirect::to(BACK).into_response()
}

/// A time as the form takes it: milliseconds, or `yyyy-MM-dd HH:mm:ss` Beijing time.
fn instant(text: &str) -> Result<i64, String> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").map_err(|_| {
        format!("set must be milliseconds or yyyy-MM-dd HH:mm:ss (Beijing), got {text:?}")
    })?;
    // Beijing is UTC+8 all year.
    Ok(naive.and_utc().timestamp_millis() - 8 * 3_600_000)
}

pub(crate) fn move_clock(c: &Controls, body: &Bytes) -> Response {
    let f = Fields::parse(body.as_ref());
    let result = match (f.number::<i64>("advance_s"), f.get("set")) {
        (Err(e), _) => Err(e),
        (Ok(Some(s)), None) => s
            .checked_mul(1000)
            .map(|ms| c.advance_ms(ms))
            .ok_or_else(|| format!("advance_s is out of range: {s}")),
        (Ok(None), Some(at)) => instant(at).map(|ms| c.set_time_ms(ms)),
        _ => Err("send exactly one of advance_s, set".to_owned()),
    };
    match result {
        Ok(()) => Redirect::to(BACK).into_response(),
        Err(e) => bad(&e),
    }
}

pub(crate) fn reset(c: &Controls, body: &Bytes) -> Response {
    if Fields::parse(body.as_ref()).get("confirm") != Some("yes") {
        return bad("tick the confirmation box to reset the sandbox");
    }
    c.reset();
    Redirect::to(BACK).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(s: &str) -> Fields {
        Fields::parse(s.as_bytes())
    }

    #[test]
    fn faults_from_forms() {
        let (m, f, n) = fault_of(&fields("method=*&kind=reject&code=1002&times=3")).unwrap();
        assert_eq!((m.as_str(), f, n), ("*", Fault::Reject { code: 1002 }, 3));
        let (_, f, n) = fault_of(&fields("method=wk.user.info.add&kind=busy&code=")).unwrap();
        assert_eq!((f, n), (Fault::Busy, 1));
        for bad in [
            "",
            "method=no.such&kind=busy",
            "method=*&kind=nope",
            "method=*&kind=reject",
            "method=*&kind=http_status&status=99999",
            "method=*&kind=slow&delay_ms=-1",
            "method=*&kind=busy&times=x",
        ] {
            assert!(fault_of(&fields(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn instants() {
        assert_eq!(instant("1700000000000"), Ok(1_700_000_000_000));
        assert_eq!(instant("2021-06-21 15:45:29"), Ok(1_624_261_529_000));
        assert!(instant("tomorrow").is_err());
    }
}
