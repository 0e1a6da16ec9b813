//! `ump`: the operator's command line for the Gree UMP member open platform.
//!
//! ```text
//! ump [--base-url URL | --preset test|production] [--app-id ID] [--app-secret-file FILE]
//!     [--token-store file|file:DIR|redis://…] [--output json|table] [--jsonl] [--dry-run]
//!     [--allow-obtain] [--timeout SECONDS] <group> <command> [flags]
//! ump tokens status|refresh|clear-pending
//! ump sandbox [sandbox flags]
//! ump completions bash|zsh|fish
//! ```
//!
//! The endpoint commands are generated from the spec (`src/generated`); the code here is
//! configuration (`config`), output (`output`), the token commands (`tokens`) and the
//! safe paths of keyed writes (`writes`).

mod config;
// Checked in as generated (`cargo xtask check` compares it byte for byte).
#[rustfmt::skip]
mod generated;
mod import;
mod input;
mod journal;
mod output;
mod run;
mod schema;
mod tokens;
mod writes;

use std::process::ExitCode;

use clap::{Arg, ArgAction, ArgMatches, Command};

use crate::output::{Format, Output};
use crate::run::{CliError, Ctx, Options};

/// The help headings of the options every command takes, listed after the command's
/// own: where to connect, and what to print.
const CONNECTION: &str = "Connection options (every command)";
const OUTPUT: &str = "Output options (every command)";

const EXIT_CODES: &str = "Exit codes: 0 done (or the reader closed the output, as `| head` does); 1 failed, nothing changed: the request was not sent \
(configuration, token store, token budget, connection refused) or a read got no usable answer, as the \
message says; 2 usage (a flag, a value, a missing confirmation, such as --allow-obtain); 3 refused by \
the platform: its answer proves nothing changed; 4 outcome unknown: the request may have been applied, \
or its key is already used: check, or settle with --resume, before repeating it; 5 applied, but the \
output could not be written: stderr says what was applied, do not repeat it.";

fn cli() -> Command {
    let global = |id: &'static str, help: &'static str| {
        Arg::new(id)
            .long(id)
            .global(true)
            .help(help)
            .help_heading(CONNECTION)
    };
    let mut cmd = Command::new("ump")
        .about("The Gree UMP member open platform (格力地产会员开放平台) from the command line")
        .after_help(EXIT_CODES)
        .subcommand_required(true)
        .arg_required_else_help(true)
        .arg(global("base-url", "The platform's base URL [env: UMP_BASE_URL]").value_name("URL"))
        .arg(global("preset", "A preset base URL: test or production [env: UMP_PRESET]").value_name("NAME"))
        .arg(global("app-id", "The app id [env: UMP_APP_ID]").value_name("ID"))
        .arg(
            global("app-secret-file", "A file holding the app secret [env: UMP_APP_SECRET_FILE, or UMP_APP_SECRET itself]")
                .value_name("FILE"),
        )
        .arg(
            global("token-store", "The services' token store: file (the SDK's default), file:DIR, redis://host:port/db [env: UMP_TOKEN_STORE]")
                .value_name("STORE"),
        )
        .arg(global("config", "The config file [env: UMP_CONFIG; default ~/.config/ump/config.toml]").value_name("FILE"))
        .arg(
            global("journal", "The services' write journal: a SQLite file, or postgres://USER@HOST/DB [env: UMP_JOURNAL; default: a file beside the SDK's token store]")
                .value_name("FILE"),
        )
        .arg(
            Arg::new("output").help_heading(OUTPUT)
                .long("output")
                .short('o')
                .global(true)
                .value_parser(["json", "table"])
                .default_value("json")
                .help("JSON (one document per call) or a readable table"),
        )
        .arg(Arg::new("jsonl").help_heading(OUTPUT).long("jsonl").global(true).action(ArgAction::SetTrue).help("One JSON document per line (streams)"))
        .arg(
            Arg::new("dry-run").help_heading(OUTPUT)
                .long("dry-run")
                .global(true)
                .action(ArgAction::SetTrue)
                .help("Print the signed request it would send, secrets redacted; send nothing"),
        )
        .arg(
            Arg::new("allow-obtain").help_heading(CONNECTION)
                .long("allow-obtain")
                .global(true)
                .action(ArgAction::SetTrue)
                .help("Allow spending the day's only token-issuing call (2.1) when the store holds no usable tokens (or the platform refused its refresh token)"),
        )
        .arg(
            global("timeout", "The longest one attempt of a call may take, in seconds [default: the SDK's, 30]")
                .value_name("SECONDS")
                .value_parser(clap::value_parser!(u64).range(1..=3600)),
        );
    for group in schema::groups(generated::GROUPS) {
        cmd = cmd.subcommand(group);
    }
    cmd.subcommand(tokens::command())
        .subcommand(journal::command())
        .subcommand(import::command())
        .subcommand(
            Command::new("sandbox")
                .about("Runs the local sandbox of the platform (the flags of gree-ump-sandbox; --help for them)")
                .disable_help_flag(true)
                .arg(Arg::new("args").num_args(0..).trailing_var_arg(true).allow_hyphen_values(true)),
        )
        .subcommand(
            Command::new("completions")
                .about("Prints shell completions")
                .arg(Arg::new("shell").required(true).value_parser(["bash", "zsh", "fish"])),
        )
}

async fn run(m: &ArgMatches) -> Result<(), CliError> {
    let output = Output {
        format: match m.get_one::<String>("output").map(String::as_str) {
            Some("table") => Format::Table,
            _ => Format::Json,
        },
        jsonl: m.get_flag("jsonl"),
    };
    match m.subcommand() {
        Some(("completions", sub)) => {
            let shell = match sub.get_one::<String>("shell").map(String::as_str) {
                Some("zsh") => clap_complete::Shell::Zsh,
                Some("fish") => clap_complete::Shell::Fish,
                _ => clap_complete::Shell::Bash,
            };
            clap_complete::generate(shell, &mut cli(), "ump", &mut std::io::stdout());
            Ok(())
        }
        // The journal's commands but `drain` read its file alone: no credentials needed.
        Some(("journal", sub)) if !matches!(sub.subcommand(), Some(("drain", _))) => {
            journal::run(&output, m.get_flag("dry-run"), None, m, sub)
                .await
                .map(|_| ())
        }
        Some((name, sub)) => {
            let settings = config::Settings::resolve(m)?;
            let allow_obtain = m.get_flag("allow-obtain");
            let timeout = m.get_one::<u64>("timeout").copied();
            let client = settings
                .client(|b| {
                    // The token manager holds the --allow-obtain guard too: its fallback
                    // after a refused refresh token would reach 2.1 past the check below.
                    let b = b.token_policy(gree_ump::TokenPolicy {
                        allow_obtain,
                        ..gree_ump::TokenPolicy::default()
                    });
                    match timeout {
                        Some(s) => b.timeout(Some(std::time::Duration::from_secs(s))),
                        None => b,
                    }
                })
                .await?;
            let ctx = Ctx {
                client,
                options: Options {
                    dry_run: m.get_flag("dry-run"),
                    allow_obtain,
                },
                output,
            };
            if name == "tokens" {
                return tokens::run(&ctx, sub).await.map(|_| ());
            }
            if name == "import" {
                return import::run(&ctx.output, ctx.options.dry_run, &ctx.client, m, sub)
                    .await
                    .map(|_| ());
            }
            if name == "journal" {
                return journal::run(&ctx.output, ctx.options.dry_run, Some(&ctx.client), m, sub)
                    .await
                    .map(|_| ());
            }
            if sub.subcommand().is_none() {
                return Err(CliError::usage(format!(
                    "{name}: which command? (ump {name} --help)"
                )));
            }
            generated::run(&ctx, m).await.map(|_| ())
        }
        None => Err(CliError::usage("which command? (ump --help)")),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    // The sandbox parses its own flags (the same as its binary's).
    if args.get(1).map(String::as_str) == Some("sandbox") {
        return gree_ump_sandbox::cli::main(args.into_iter().skip(2));
    }
    let m = match cli().try_get_matches_from(&args) {
        Ok(m) => m,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error[failed]: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(&m)) {
        Ok(()) => ExitCode::SUCCESS,
        // `ump … | head`: the reader has what it wanted.
        Err(e) if e.exit == run::Exit::OutputClosed => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            e.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn help(args: &[&str]) -> String {
        let e = cli().try_get_matches_from(args).expect_err("help");
        assert_eq!(e.kind(), clap::error::ErrorKind::DisplayHelp);
        e.render().to_string()
    }

    /// A command's help lists its own fields first, then the options every command takes
    /// under their own headings: where to connect, and what to print.
    #[test]
    fn a_commands_help_lists_its_own_flags_before_the_shared_ones() {
        for args in [
            ["ump", "members", "create", "--help"],
            ["ump", "coupons", "give", "--help"],
        ] {
            let text = help(&args);
            let at = |needle: &str| {
                text.find(needle)
                    .unwrap_or_else(|| panic!("{args:?}: no {needle:?} in\n{text}"))
            };
            let own = at("Options:");
            let connection = at(CONNECTION);
            let output = at(OUTPUT);
            assert!(own < connection && connection < output, "{text}");
            for flag in [
                "--base-url",
                "--preset",
                "--app-id",
                "--token-store",
                "--timeout",
            ] {
                assert!(
                    at(flag) > connection && at(flag) < output,
                    "{flag}:\n{text}"
                );
            }
            for flag in ["--output", "--jsonl", "--dry-run"] {
                assert!(at(flag) > output, "{flag}:\n{text}");
            }
            // The command's own options are listed before any shared one.
            let own_options = &text[own..connection];
            assert!(own_options.contains("  --"), "its own flags first:\n{text}");
        }
        let text = help(&["ump", "members", "create", "--help"]);
        let own = &text[text.find("Options:").unwrap()..text.find(CONNECTION).unwrap()];
        assert!(own.contains("--phone"), "{own}");
    }
}
