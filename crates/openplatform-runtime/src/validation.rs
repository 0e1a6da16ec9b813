//! Errors found in a request before any network traffic.

use std::fmt;

/// A request that cannot be sent, naming what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// A required field is empty.
    EmptyField {
        /// The endpoint method of the request.
        method: &'static str,
        /// The field's wire name (`open_id`).
        field: &'static str,
    },
    /// None of the fields of which at least one is required is set.
    OneOfMissing {
        /// The endpoint method of the request.
        method: &'static str,
        /// The wire names of the fields, one of which must be set.
        fields: &'static [&'static str],
        /// The platform's error code for this rule, where the spec names one (e.g.
        /// 110002 for "open_id or phone").
        code: Option<i64>,
    },
    /// `field` is required because `when` has the value `equals`.
    RequiredIf {
        /// The endpoint method of the request.
        method: &'static str,
        /// The wire name of the missing field.
        field: &'static str,
        /// The wire name of the field whose value requires it.
        when: &'static str,
        /// The value of `when` that requires `field`.
        equals: i64,
    },
    /// `field` is required because `when` does not have the value `equals`.
    RequiredUnless {
        /// The endpoint method of the request.
        method: &'static str,
        /// The wire name of the missing field.
        field: &'static str,
        /// The wire name of the field whose value requires it.
        when: &'static str,
        /// The one value of `when` that makes `field` optional.
        equals: i64,
    },
    /// A list holds fewer than `min` or more than `max` items (while `when_set` is set).
    ItemCount {
        /// The endpoint method of the request.
        method: &'static str,
        /// The list's wire name.
        field: &'static str,
        /// The fewest items allowed; `None`: no lower bound.
        min: Option<u32>,
        /// The most items allowed; `None`: no upper bound.
        max: Option<u32>,
        /// The wire name of the field whose presence makes the bounds apply; `None`: they
        /// always apply.
        when_set: Option<&'static str>,
        /// How many items the list holds.
        found: usize,
    },
    /// A field's value cannot be encoded for the wire.
    Encoding {
        /// The endpoint method of the request.
        method: &'static str,
        /// The field's wire name.
        field: &'static str,
        /// Why the value cannot be encoded.
        reason: String,
    },
    /// A token call (obtain or refresh) sent by hand: the client's token manager alone
    /// makes them, within the daily budgets, and stores what they issue.
    TokenCallByHand {
        /// The token call's endpoint method.
        method: &'static str,
    },
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::EmptyField { method, field } => {
                write!(f, "{method}: required field `{field}` is empty")
            }
            RequestError::OneOfMissing { method, fields, .. } => {
                let names: Vec<String> = fields.iter().map(|f| format!("`{f}`")).collect();
                write!(f, "{method}: one of {} must be set", names.join(" or "))
            }
            RequestError::RequiredIf {
                method,
                field,
                when,
                equals,
            } => write!(
                f,
                "{method}: field `{field}` is required when `{when}` is {equals}"
            ),
            RequestError::RequiredUnless {
                method,
                field,
                when,
                equals,
            } => write!(
                f,
                "{method}: field `{field}` is required unless `{when}` is {equals}"
            ),
            RequestError::ItemCount {
                method,
                field,
                min,
                max,
                when_set,
                found,
            } => {
                let allowed = match (min, max) {
                    (Some(lo), Some(hi)) if lo == hi => format!("exactly {lo}"),
                    (Some(lo), Some(hi)) => format!("{lo} to {hi}"),
                    (Some(lo), None) => format!("at least {lo}"),
                    (None, Some(hi)) => format!("at most {hi}"),
                    (None, None) => "any number of".to_owned(),
                };
                write!(f, "{method}: list `{field}` must hold {allowed} item(s)")?;
                if let Some(w) = when_set {
                    write!(f, " while `{w}` is set")?;
                }
                write!(f, "; it holds {found}")
            }
            RequestError::Encoding {
                method,
                field,
                reason,
            } => write!(f, "{method}: field `{field}` cannot be encoded: {reason}"),
            RequestError::TokenCallByHand { method } => write!(
                f,
                "{method} is a token call: the client makes it by itself, within the day's \
                 budget, and stores its tokens (see `Client::tokens` for their state)"
            ),
        }
    }
}

impl std::error::Error for RequestError {}

/// The check every endpoint makes of its required text fields, in the order given:
/// the first `(wire name, value)` whose value is empty or only whitespace is
/// [`RequestError::EmptyField`].
///
/// ```
/// use openplatform_runtime::RequestError;
/// use openplatform_runtime::validation::require_non_empty;
///
/// assert_eq!(require_non_empty("m", &[("a", "x"), ("b", " ")]),
///     Err(RequestError::EmptyField { method: "m", field: "b" }));
/// assert_eq!(require_non_empty("m", &[("a", "x")]), Ok(()));
/// ```
pub fn require_non_empty(
    method: &'static str,
    fields: &[(&'static str, &str)],
) -> Result<(), RequestError> {
    match fields.iter().find(|(_, value)| value.trim().is_empty()) {
        Some(&(field, _)) => Err(RequestError::EmptyField { method, field }),
        None => Ok(()),
    }
}
