//! The `gree-ump-sandbox` command line, as a library function so that other binaries
//! (`ump sandbox`) run the sandbox with the same flags:
//!
//! ```text
//! gree-ump-sandbox [--port N] [--app-id ID] [--app-secret SECRET] [--no-timestamp-check]
//!                  [--strict-timestamps] [--replay-identical-keys] [--state FILE]
//!                  [--rotate-refresh-tokens]
//!                  [--invalid-token-answer spec-code|generic|expired-phrase|english-phrase]
//!                  [--verbs lenient|document|document-405]
//! ```

use std::process::ExitCode;

use crate::{InvalidTokenAnswer, Sandbox, SandboxConfig, TimestampScope, VerbReading};

/// The flags, as `--help` prints them.
pub const USAGE: &str =
    "usage: gree-ump-sandbox [--port N] [--app-id ID] [--app-secret SECRET] [--no-timestamp-check]
                        [--strict-timestamps] [--replay-identical-keys] [--state FILE]
                        [--rotate-refresh-tokens]
                        [--invalid-token-answer spec-code|generic|expired-phrase|english-phrase]
                        [--verbs lenient|document|document-405]

Serves an emulator of the Gree UMP open platform on 127.0.0.1 (port 0: any free port).
Calls: POST {base}/gw/gateway/{method}/v1   Test controls: {base}/__sandbox/";

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<SandboxConfig>, String> {
    let mut config = SandboxConfig::default();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--port" => {
                let v = value("--port")?;
                config.port = v
                    .parse()
                    .map_err(|_| format!("--port: not a port number: {v}"))?;
            }
            "--app-id" => config.app_id = value("--app-id")?,
            "--app-secret" => config.app_secret = value("--app-secret")?,
            "--no-timestamp-check" => config.timestamp_tolerance_ms = None,
            // Errata E73: the window applies to 2.1/2.2 only unless asked for everywhere.
            "--strict-timestamps" => config.timestamp_scope = TimestampScope::EveryCall,
            // Errata E69: off by default, as the document answers any reuse with 150002.
            "--replay-identical-keys" => config.replay_identical_keys = true,
            "--rotate-refresh-tokens" => config.rotate_refresh_tokens = true,
            // Errata E02, E85: how an invalid access token is answered.
            "--invalid-token-answer" => {
                config.invalid_token_answer = match value("--invalid-token-answer")?.as_str() {
                    "spec-code" => InvalidTokenAnswer::SpecCode,
                    "generic" => InvalidTokenAnswer::GenericParameterError,
                    "expired-phrase" => InvalidTokenAnswer::ExpiredPhrase,
                    "english-phrase" => InvalidTokenAnswer::EnglishPhrase,
                    other => {
                        return Err(format!(
                            "--invalid-token-answer: {other:?} is not one of spec-code, generic, expired-phrase, english-phrase"
                        ));
                    }
                }
            }
            // Errata E01: which verbs the gateway takes.
            "--verbs" => {
                config.verbs = match value("--verbs")?.as_str() {
                    "lenient" => VerbReading::Lenient,
                    "document" => VerbReading::Document,
                    "document-405" => VerbReading::DocumentHttp405,
                    other => {
                        return Err(format!(
                            "--verbs: {other:?} is not one of lenient, document, document-405"
                        ));
                    }
                }
            }
            // The state is loaded from FILE at start and saved there after every change.
            "--state" => config.state_file = Some(value("--state")?.into()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Some(config))
}

/// Runs the sandbox binary with `args` (without the program name) until Ctrl-C: what
/// `gree-ump-sandbox` and `ump sandbox` both do.
pub fn main(args: impl Iterator<Item = String>) -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt.block_on(serve(args)),
        Err(e) => {
            eprintln!("gree-ump-sandbox: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: impl Iterator<Item = String>) -> ExitCode {
    let config = match parse_args(args) {
        Ok(Some(c)) => c,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let sandbox = match Sandbox::start(config).await {
        Ok(s) => s,
        Err(e) => {
            // Cannot listen, or the state file cannot be used (the message names it).
            eprintln!("gree-ump-sandbox: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The secret is printed on purpose: this is a local sandbox, and the user needs it.
    println!("gree-ump-sandbox listening on {}", sandbox.base_url());
    println!("port: {}", sandbox.addr().port());
    println!("app_id: {}", sandbox.app_id());
    println!("app_secret: {}", sandbox.app_secret());
    println!(
        "calls: POST {}/gw/gateway/{{method}}/v1",
        sandbox.base_url()
    );
    println!("test controls: {}/__sandbox/", sandbox.base_url());
    if let Some(path) = &sandbox.control().config().state_file {
        println!("state file: {} (saved after every change)", path.display());
    }
    if tokio::signal::ctrl_c().await.is_err() {
        eprintln!("gree-ump-sandbox: cannot wait for Ctrl-C; stopping");
    }
    sandbox.shutdown().await;
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<SandboxConfig>, String> {
        parse_args(args.iter().map(|a| (*a).to_owned()))
    }

    #[test]
    fn the_timestamp_window_flags() {
        let default = parse(&[]).unwrap().unwrap();
        assert_eq!(default.timestamp_scope, TimestampScope::TokenCalls);
        assert_eq!(default.timestamp_tolerance_ms, Some(3_000));
        let strict = parse(&["--strict-timestamps"]).unwrap().unwrap();
        assert_eq!(strict.timestamp_scope, TimestampScope::EveryCall);
        let off = parse(&["--no-timestamp-check"]).unwrap().unwrap();
        assert_eq!(off.timestamp_tolerance_ms, None);
        assert!(parse(&["--strict"]).unwrap_err().contains("--strict"));
        let state = parse(&["--state", "/tmp/s.json"]).unwrap().unwrap();
        assert_eq!(state.state_file, Some("/tmp/s.json".into()));
        assert!(
            parse(&["--state"])
                .unwrap_err()
                .contains("--state needs a value")
        );
    }
}
