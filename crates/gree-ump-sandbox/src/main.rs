//! `gree-ump-sandbox`: serves a sandbox on 127.0.0.1 until Ctrl-C (flags: see
//! [`gree_ump_sandbox::cli`]).

use std::process::ExitCode;

fn main() -> ExitCode {
    gree_ump_sandbox::cli::main(std::env::args().skip(1))
}
