//! The generator's error: what `regenerate` and `check` can fail with.
//!
//! A typed error (with `thiserror` for the `Display` and `source` boilerplate) rather
//! than `String`, so tests and callers can tell an invalid spec (with every problem and
//! its YAML place, [`SpecErrors`]) from stale generated code, a generator bug or an I/O
//! failure, and the I/O cause stays reachable through `source()`. The texts are the
//! ones the `String`s carried.

use std::fmt;
use std::io;

use crate::validate::SpecErrors;

/// Why generating, writing or checking generated code failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A spec does not parse or does not validate: every problem, with its place.
    #[error("{0}")]
    Spec(#[from] SpecErrors),
    /// The tokens for a generated file do not parse as Rust: a bug of the generator.
    #[error("generated {file} is not valid Rust (generator bug): {source}")]
    InvalidRust {
        file: String,
        #[source]
        source: syn::Error,
    },
    /// `api-spec/` holds no `*.yaml`.
    #[error("no spec (*.yaml) in {dir}")]
    NoSpec { dir: String },
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot create {path}: {source}")]
    Create {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: io::Error,
    },
    /// Checked-in generated files differ from what the specs generate: one line per file.
    #[error(
        "generated code is out of date with api-spec/:\n{report}run `cargo xtask regenerate` and commit the result"
    )]
    Stale { report: String },
    /// More than one spec failed: each failure, in spec order.
    #[error("{}", Joined(.0))]
    Several(Vec<Error>),
}

impl Error {
    pub(crate) fn read(path: impl fmt::Display, source: io::Error) -> Self {
        Error::Read {
            path: path.to_string(),
            source,
        }
    }
}

/// The failures one after the other, as `check` prints them (a spec's report ends with
/// a newline).
struct Joined<'a>(&'a [Error]);

impl fmt::Display for Joined<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|e| write!(f, "{e}"))
    }
}
