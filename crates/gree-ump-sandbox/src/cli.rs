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

use clap::{Arg, ArgAction, Command};

use crate::{InvalidTokenAnswer, Sandbox, SandboxConfig, TimestampScope, VerbReading};

/// The readings of `--invalid-token-answer`: the flag's values and what they mean, one
/// table for the parser and the help.
const INVALID_TOKEN_ANSWERS: [(&str, InvalidTokenAnswer); 4] = [
    ("spec-code", InvalidTokenAnswer::SpecCode),
    ("generic", InvalidTokenAnswer::GenericParameterError),
    ("expired-phrase", InvalidTokenAnswer::ExpiredPhrase),
    ("english-phrase", InvalidTokenAnswer::EnglishPhrase),
];

/// The readings of `--verbs`, likewise.
const VERB_READINGS: [(&str, VerbReading); 3] = [
    ("lenient", VerbReading::Lenient),
    ("document", VerbReading::Document),
    ("document-405", VerbReading::DocumentHttp405),
];

/// The value of `flag` read through `table` (clap has checked it is one of its names).
fn reading<T: Copy>(m: &clap::ArgMatches, flag: &str, table: &[(&str, T)]) -> Option<T> {
    let name = m.get_one::<String>(flag)?;
    table.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
}

/// The command line: its flags and `--help`.
fn command() -> Command {
    let flag = |id: &'static str, help: &'static str| {
        Arg::new(id).long(id).action(ArgAction::SetTrue).help(help)
    };
    Command::new("gree-ump-sandbox")
        .about(
            "Serves an emulator of the Gree UMP open platform on 127.0.0.1.\n\
             Calls: POST {base}/gw/gateway/{method}/v1   Test controls: {base}/__sandbox/",
        )
        .arg(
            Arg::new("port")
                .long("port")
                .value_name("N")
                .value_parser(clap::value_parser!(u16))
                .help("The port to listen on (0: any free port) [default: 0]"),
        )
        .arg(Arg::new("app-id").long("app-id").value_name("ID").help("The app id it accepts"))
        .arg(
            Arg::new("app-secret")
                .long("app-secret")
                .value_name("SECRET")
                .help("The app secret it accepts (a local sandbox's: printed at start)"),
        )
        .arg(flag("no-timestamp-check", "Accept any request timestamp"))
        // Errata E73: the window applies to 2.1/2.2 only unless asked for everywhere.
        .arg(flag(
            "strict-timestamps",
            "Apply the timestamp window to every call, not only the token calls (errata E73)",
        ))
        // Errata E69: off by default, as the document answers any reuse with 150002.
        .arg(flag(
            "replay-identical-keys",
            "Answer a repeat of a keyed write with the first answer rather than 150002 (errata E69)",
        ))
        .arg(flag(
            "rotate-refresh-tokens",
            "Issue a new refresh token on each refresh (errata E86)",
        ))
        // Errata E02, E85: how an invalid access token is answered.
        .arg(
            Arg::new("invalid-token-answer")
                .long("invalid-token-answer")
                .value_name("READING")
                .value_parser(INVALID_TOKEN_ANSWERS.map(|(name, _)| name))
                .help("How an invalid access token is answered (errata E02, E85) [default: spec-code]"),
        )
        // Errata E01: which verbs the gateway takes.
        .arg(
            Arg::new("verbs")
                .long("verbs")
                .value_name("READING")
                .value_parser(VERB_READINGS.map(|(name, _)| name))
                .help("Which HTTP verbs the gateway takes (errata E01) [default: lenient]"),
        )
        // The state is loaded from FILE at start and saved there after every change.
        .arg(
            Arg::new("state")
                .long("state")
                .value_name("FILE")
                .value_parser(clap::value_parser!(std::path::PathBuf))
                .help("Load the state from FILE at start and save it there after every change"),
        )
}

/// The configuration the flags give; `Err` for `--help` (exit 0) and usage errors
/// (exit 2), clap's message ready to print.
fn parse_args(args: impl Iterator<Item = String>) -> Result<SandboxConfig, clap::Error> {
    let m = command()
        .try_get_matches_from(std::iter::once("gree-ump-sandbox".to_owned()).chain(args))?;
    let mut config = SandboxConfig::default();
    if let Some(port) = m.get_one::<u16>("port") {
        config.port = *port;
    }
    if let Some(id) = m.get_one::<String>("app-id") {
        config.app_id = id.clone();
    }
    if let Some(secret) = m.get_one::<String>("app-secret") {
        config.app_secret = secret.clone();
    }
    if m.get_flag("no-timestamp-check") {
        config.timestamp_tolerance_ms = None;
    }
    if m.get_flag("strict-timestamps") {
        config.timestamp_scope = TimestampScope::EveryCall;
    }
    config.replay_identical_keys |= m.get_flag("replay-identical-keys");
    config.rotate_refresh_tokens |= m.get_flag("rotate-refresh-tokens");
    if let Some(answer) = reading(&m, "invalid-token-answer", &INVALID_TOKEN_ANSWERS) {
        config.invalid_token_answer = answer;
    }
    if let Some(verbs) = reading(&m, "verbs", &VERB_READINGS) {
        config.verbs = verbs;
    }
    if let Some(state) = m.get_one::<std::path::PathBuf>("state") {
        config.state_file = Some(state.clone());
    }
    Ok(config)
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
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
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
    let base = sandbox.base_url();
    let mut banner = format!(
        "gree-ump-sandbox listening on {base}\nport: {}\napp_id: {}\napp_secret: {}\n\
         calls: POST {base}/gw/gateway/{{method}}/v1\ntest controls: {base}/__sandbox/\n\
         inspector: {base}/__sandbox/ui\n",
        sandbox.addr().port(),
        sandbox.app_id(),
        sandbox.app_secret(),
    );
    if let Some(path) = &sandbox.control().config().state_file {
        banner.push_str(&format!(
            "state file: {} (saved after every change)\n",
            path.display()
        ));
    }
    // Written, not `println!`: with its output closed (`| head -1`, a supervisor that
    // stopped reading) `println!` panicked on the broken pipe and the sandbox exited.
    // The sandbox serves without anyone reading its banner.
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
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

    fn parse(args: &[&str]) -> Result<SandboxConfig, String> {
        parse_args(args.iter().map(|a| (*a).to_owned())).map_err(|e| e.to_string())
    }

    #[test]
    fn the_timestamp_window_flags() {
        let default = parse(&[]).unwrap();
        assert_eq!(default.timestamp_scope, TimestampScope::TokenCalls);
        assert_eq!(default.timestamp_tolerance_ms, Some(3_000));
        let strict = parse(&["--strict-timestamps"]).unwrap();
        assert_eq!(strict.timestamp_scope, TimestampScope::EveryCall);
        let off = parse(&["--no-timestamp-check"]).unwrap();
        assert_eq!(off.timestamp_tolerance_ms, None);
        assert!(parse(&["--strict"]).unwrap_err().contains("--strict"));
        let state = parse(&["--state", "/tmp/s.json"]).unwrap();
        assert_eq!(state.state_file, Some("/tmp/s.json".into()));
        let state = parse(&["--state=/tmp/t.json"]).unwrap();
        assert_eq!(state.state_file, Some("/tmp/t.json".into()));
        assert!(parse(&["--state"]).unwrap_err().contains("--state"));
    }

    #[test]
    fn help_and_each_reading() {
        command().debug_assert();
        let help = parse_args(["--help".to_owned()].into_iter()).expect_err("help");
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
        assert!(
            help.to_string().contains("--invalid-token-answer"),
            "{help}"
        );
        assert_eq!(
            parse(&["--verbs", "document-405"]).unwrap().verbs,
            VerbReading::DocumentHttp405
        );
        assert_eq!(
            parse(&["--invalid-token-answer", "english-phrase"])
                .unwrap()
                .invalid_token_answer,
            InvalidTokenAnswer::EnglishPhrase
        );
        for (name, verbs) in VERB_READINGS {
            assert_eq!(parse(&["--verbs", name]).unwrap().verbs, verbs, "{name}");
        }
        for (name, answer) in INVALID_TOKEN_ANSWERS {
            let config = parse(&["--invalid-token-answer", name]).unwrap();
            assert_eq!(config.invalid_token_answer, answer, "{name}");
        }
        assert!(
            parse(&["--verbs", "loose"])
                .unwrap_err()
                .contains("lenient")
        );
        assert_eq!(parse(&["--port", "8089"]).unwrap().port, 8089);
        assert!(parse(&["--port", "x"]).unwrap_err().contains("--port"));
    }
}
