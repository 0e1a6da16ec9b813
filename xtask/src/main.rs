//! `cargo xtask regenerate` writes the generated modules; `cargo xtask check` fails when
//! they are stale or a spec is invalid.

use std::path::PathBuf;
use std::process::ExitCode;

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
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n  regenerate   write crates/*/src/generated from api-spec/*.yaml\n  check        fail if a spec is invalid or generated code is stale"
            );
            ExitCode::FAILURE
        }
    }
}
