//! `cargo xtask regenerate` writes the generated modules; `cargo xtask check` fails when
//! they are stale or a spec is invalid; `cargo xtask audit-doc PATH` compares a vendor
//! document with its spec.

use std::path::PathBuf;
use std::process::ExitCode;

mod spec_diff;

fn workspace_root() -> PathBuf {
    // xtask/ lives directly under the workspace root.
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn main() -> ExitCode {
    let root = workspace_root();
    let command = std::env::args().nth(1).unwrap_or_default();
    match command.as_str() {
        "regenerate" => match xtask::regenerate(&root) {
            Ok(written) if written.is_empty() => {
                println!("generated code is up to date");
                ExitCode::SUCCESS
            }
            Ok(written) => {
                for p in written {
                    println!("wrote {p}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        "check" => match xtask::check(&root) {
            Ok(n) => {
                println!("specs valid; {n} generated files up to date");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        "audit-doc" => audit_doc(&root, std::env::args().skip(2).collect()),
        "diff" => spec_diff::run(&root, std::env::args().skip(2).collect()),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: cargo xtask <command>

  regenerate              write crates/*/src/generated from api-spec/*.yaml
  check                   fail if a spec is invalid or generated code is stale
  audit-doc PATH [--spec FILE] [--verbose]
                          report every difference between a vendor document (text form)
                          and its spec that no erratum's `covers` explains; exit 1 if any
  diff OLD NEW [--version X.Y.Z] [--changelog FILE]
  diff REV [--version X.Y.Z] [--changelog FILE]
                          the change to the generated API between two specs (a file, or
                          REV:PATH for a git revision; REV alone compares every spec at REV
                          with the working tree), each change with its semver class, the
                          verdict and a drafted CHANGELOG entry (inserted into FILE)";

/// `audit-doc PATH [--spec FILE] [--verbose]`.
fn audit_doc(root: &std::path::Path, args: Vec<String>) -> ExitCode {
    let mut doc = None;
    let mut spec = None;
    let mut verbose = false;
    let mut args = args.into_iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--spec" => match args.next() {
                Some(s) => spec = Some(PathBuf::from(s)),
                None => return usage("--spec needs a file"),
            },
            "--verbose" | "-v" => verbose = true,
            _ if a.starts_with('-') => return usage(&format!("unknown option {a}")),
            _ if doc.is_none() => doc = Some(PathBuf::from(a)),
            _ => return usage(&format!("unexpected argument {a}")),
        }
    }
    let Some(doc) = doc else {
        return usage("audit-doc needs the document's PATH");
    };
    let spec = match spec.map_or_else(|| xtask::audited_spec(root), Ok) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let read = |p: &std::path::Path| {
        std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))
    };
    let (spec_text, doc_text) = match (read(&spec), read(&doc)) {
        (Ok(s), Ok(d)) => (s, d),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let shown = |p: &std::path::Path| {
        p.strip_prefix(root)
            .unwrap_or(p)
            .to_string_lossy()
            .replace('\\', "/")
    };
    match xtask::audit::audit(&shown(&spec), &spec_text, &shown(&doc), &doc_text) {
        Ok(report) => {
            print!("{}", report.render(verbose));
            if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

pub(crate) fn usage(problem: &str) -> ExitCode {
    eprintln!("error: {problem}\n\n{USAGE}");
    ExitCode::from(2)
}
