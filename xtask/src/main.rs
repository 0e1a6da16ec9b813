//! `cargo xtask regenerate` writes the generated modules (and the OpenAPI documents);
//! `cargo xtask openapi` writes the OpenAPI documents alone; `cargo xtask check` fails when
//! they are stale or a spec is invalid; `cargo xtask audit-doc PATH` compares a vendor
//! document with its spec.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Arg, ArgAction, Command};

mod spec_diff;

fn workspace_root() -> PathBuf {
    // xtask/ lives directly under the workspace root.
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn main() -> ExitCode {
    let m = match cli().try_get_matches() {
        Ok(m) => m,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let root = workspace_root();
    match m.subcommand() {
        Some(("regenerate", _)) => match xtask::regenerate(&root) {
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
        Some(("openapi", _)) => match xtask::write_openapi(&root) {
            Ok(written) if written.is_empty() => {
                println!("OpenAPI documents are up to date");
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
        Some(("check", _)) => match xtask::check(&root) {
            Ok(n) => {
                println!("specs valid; {n} generated files up to date");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Some(("audit-doc", a)) => audit_doc(
            &root,
            a.get_one::<PathBuf>("path").cloned().unwrap_or_default(),
            a.get_one::<PathBuf>("spec").cloned(),
            a.get_flag("verbose"),
        ),
        Some(("diff", a)) => {
            let specs: Vec<String> = a
                .get_many::<String>("specs")
                .map(|v| v.cloned().collect())
                .unwrap_or_default();
            spec_diff::run(
                &root,
                specs,
                a.get_one::<String>("version").cloned(),
                a.get_one::<String>("changelog").cloned(),
            )
        }
        Some(("doc-audit", a)) => doc_audit(
            &root,
            a.get_one::<PathBuf>("doc-dir").cloned(),
            a.get_many::<String>("crate")
                .map(|v| v.cloned().collect())
                .unwrap_or_else(|| vec!["gree_ump".to_owned()]),
            a.get_many::<String>("private")
                .map(|v| v.cloned().collect())
                .unwrap_or_else(|| vec!["openplatform_runtime".to_owned()]),
        ),
        _ => {
            let _ = cli().print_help();
            ExitCode::from(2)
        }
    }
}

/// The commands and their flags; `--help` on each.
fn cli() -> Command {
    Command::new("xtask")
        .bin_name("cargo xtask")
        .about("The workspace's maintenance commands: the generator, its checks, the vendor document's audit")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(
            Command::new("regenerate")
                .about("Write crates/*/src/generated (and the CLI's tables) from api-spec/*.yaml"),
        )
        .subcommand(Command::new("openapi").about(
            "Write the OpenAPI 3.1 document of each spec: api-spec/*.openapi.json (and the \
             sandbox's copies)",
        ))
        .subcommand(
            Command::new("check")
                .about("Fail if a spec is invalid or generated code is stale (what CI runs)"),
        )
        .subcommand(
            Command::new("audit-doc")
                .about(
                    "Report every difference between a vendor document (text form) and its \
                     spec that no erratum's `covers` explains; exit 1 if any",
                )
                .arg(
                    Arg::new("path")
                        .value_name("PATH")
                        .required(true)
                        .value_parser(clap::value_parser!(PathBuf))
                        .help("The vendor document, as text"),
                )
                .arg(
                    Arg::new("spec")
                        .long("spec")
                        .value_name("FILE")
                        .value_parser(clap::value_parser!(PathBuf))
                        .help("The spec to audit against [default: the one spec whose `audit` key describes a document layout]"),
                )
                .arg(
                    Arg::new("verbose")
                        .long("verbose")
                        .short('v')
                        .action(ArgAction::SetTrue)
                        .help("Also list the differences the errata explain"),
                ),
        )
        .subcommand(
            Command::new("doc-audit")
                .about(
                    "Read the HTML of `cargo doc` back: no two items with the same opening \
                     sentence, no link into a crate users do not see, no link shown as text; \
                     exit 1 if any",
                )
                .arg(
                    Arg::new("doc-dir")
                        .long("doc-dir")
                        .value_name("DIR")
                        .value_parser(clap::value_parser!(PathBuf))
                        .help("Where cargo doc wrote [default: $CARGO_TARGET_DIR/doc, else target/doc]"),
                )
                .arg(
                    Arg::new("crate")
                        .long("crate")
                        .value_name("NAME")
                        .action(ArgAction::Append)
                        .help("A crate to audit, as its doc directory is named [default: gree_ump]"),
                )
                .arg(
                    Arg::new("private")
                        .long("private")
                        .value_name("NAME")
                        .action(ArgAction::Append)
                        .help("A crate whose pages must not be linked to [default: openplatform_runtime]"),
                ),
        )
        .subcommand(
            Command::new("diff")
                .about(
                    "The change to the generated API between two specs, each change with its \
                     semver class, the verdict and a drafted CHANGELOG entry",
                )
                .arg(
                    Arg::new("specs")
                        .value_name("OLD NEW | REV")
                        .num_args(1..=2)
                        .required(true)
                        .help(
                            "Two specs (a file, or REV:PATH for a git revision), or one git \
                             revision alone: every spec at REV against the working tree",
                        ),
                )
                .arg(
                    Arg::new("version")
                        .long("version")
                        .value_name("X.Y.Z")
                        .help("The version the change is measured from [default: the workspace's]"),
                )
                .arg(
                    Arg::new("changelog")
                        .long("changelog")
                        .value_name("FILE")
                        .help("Insert the drafted entry into FILE"),
                ),
        )
}

/// `doc-audit [--doc-dir DIR] [--crate NAME]… [--private NAME]…`.
fn doc_audit(
    root: &std::path::Path,
    dir: Option<PathBuf>,
    crates: Vec<String>,
    private: Vec<String>,
) -> ExitCode {
    let dir = dir.unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .filter(|d| !d.is_empty())
            .map_or_else(|| root.join("target"), PathBuf::from)
            .join("doc")
    });
    let mut defects = 0;
    for krate in &crates {
        match xtask::doc_audit::audit(&dir, krate, &private) {
            Ok(findings) => {
                for f in &findings {
                    println!("{f}");
                }
                defects += findings.len();
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if defects == 0 {
        println!(
            "docs of {}: no pasted summary, no page out of reach, no link shown as text",
            crates.join(", ")
        );
        ExitCode::SUCCESS
    } else {
        eprintln!("error: {defects} defects in the docs");
        ExitCode::FAILURE
    }
}

/// `audit-doc PATH [--spec FILE] [--verbose]`.
fn audit_doc(
    root: &std::path::Path,
    doc: PathBuf,
    spec: Option<PathBuf>,
    verbose: bool,
) -> ExitCode {
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

#[cfg(test)]
mod tests {
    use super::cli;

    /// Every command answers `--help` with its flags (exit 0), and a wrong flag with a
    /// usage error naming it (exit 2), as cargo's own commands do.
    #[test]
    fn every_command_takes_help_and_names_a_wrong_flag() {
        cli().debug_assert();
        for command in ["regenerate", "openapi", "check", "audit-doc", "diff"] {
            let e = cli()
                .try_get_matches_from(["xtask", command, "--help"])
                .expect_err("help");
            assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp, "{command}");
            assert!(!e.use_stderr(), "{command}: help goes to stdout, exit 0");
            let wrong = cli()
                .try_get_matches_from(["xtask", command, "--no-such-flag"])
                .expect_err("a wrong flag");
            assert!(wrong.use_stderr(), "{command}");
            assert!(wrong.to_string().contains("--no-such-flag"), "{wrong}");
        }
        let diff = cli()
            .try_get_matches_from(["xtask", "diff", "HEAD~1", "--version", "0.1.0"])
            .expect("diff REV --version");
        let (_, d) = diff.subcommand().expect("diff");
        assert_eq!(
            d.get_one::<String>("version").map(String::as_str),
            Some("0.1.0")
        );
    }
}
