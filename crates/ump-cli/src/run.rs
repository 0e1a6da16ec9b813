//! Running one endpoint's command: the request from its flags, the dry run, the guard on
//! the day's token budget, the call, and what the outcome means to an operator (exit
//! codes below). The generated dispatch (`crate::generated::run`) calls one of
//! [`Ctx::read`], [`Ctx::write`], [`Ctx::keyed`] and [`Ctx::paged`], as the spec classes
//! the endpoint.

use std::fmt;
use std::io::IsTerminal;
use std::process::ExitCode;

use gree_ump::runtime::tokens::TokenStatus;
use gree_ump::{Endpoint, Paged};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::input;
use crate::output::Output;
use crate::schema::{self, Command};

/// What the process exit code tells an operator (also in `ump --help` and the README).
/// Every code is taken from what the call's answer proves ([`gree_ump::runtime::Outcome`]),
/// never from the kind of command alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: the reader of stdout closed it (`ump … | head`): the output stops there,
    /// quietly, as it does for git and cargo. A write's result that could not be written
    /// is exit 5 instead.
    OutputClosed = 0,
    /// 1: it failed and changed nothing: the request was never sent (configuration,
    /// token store, token budget, connection refused), or a read got no usable answer.
    /// The words say which.
    Failed = 1,
    /// 2: the command line is wrong (a flag, a value, a missing confirmation).
    Usage = 2,
    /// 3: the platform refused: its answer proves this request changed nothing.
    Refused = 3,
    /// 4: the request may or may not have been applied, or its key is already in effect:
    /// check (or settle with --resume) before repeating it.
    Unknown = 4,
    /// 5: the write was applied, but its result could not be written to stdout; stderr
    /// says what was applied. Do not repeat it.
    AppliedOutputFailed = 5,
}

/// A failed command: its exit code and what to tell the operator (no secret in it).
#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    pub message: String,
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.exit {
            Exit::Failed => "failed",
            Exit::Usage => "usage",
            Exit::Refused => "refused",
            Exit::Unknown => "outcome unknown",
            Exit::AppliedOutputFailed => "applied, output failed",
            Exit::OutputClosed => "output closed",
        };
        write!(f, "error[{what}]: {}", self.message)
    }
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        CliError {
            exit: Exit::Usage,
            message: message.into(),
        }
    }

    /// The reader of stdout closed it.
    pub fn output_closed() -> Self {
        CliError {
            exit: Exit::OutputClosed,
            message: "the reader of the output closed it".into(),
        }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        CliError {
            exit: Exit::Failed,
            message: message.into(),
        }
    }

    pub fn unknown_command(group: &str, command: &str) -> Self {
        CliError::usage(format!("no command `{group} {command}`"))
    }

    /// A call's error, as an operator reads it. `write`: whether the call changes state.
    /// The exit code and the words come from what the error proves
    /// ([`gree_ump::runtime::Error::outcome`]): "not sent" only when nothing left the
    /// process, "nothing was changed" only on the platform's refusal.
    pub fn of_call(e: &gree_ump::Error, write: bool) -> Self {
        use gree_ump::runtime::{Error, Outcome};
        let text = e.to_string();
        let code = e
            .code()
            .map(|c| format!("{c:?} ({}): ", gree_ump::ApiErrorCode::code(&c)))
            .unwrap_or_default();
        let (exit, advice) = match (e, e.outcome()) {
            (Error::Request(_), _) => (Exit::Usage, ""),
            (Error::Token(t), _) if t.obtain_not_allowed() => (
                Exit::Usage,
                "\nThe request was not sent. Only the token-issuing call (2.1) would give a \
                 token now (the store holds none, or the platform refused its refresh token), \
                 and it is allowed once a day for every service sharing this store. Check \
                 `ump tokens status`; re-run with --allow-obtain to spend it.",
            ),
            (Error::Token(_), _) => (
                Exit::Failed,
                "\nThe request was not sent (no usable token): nothing was changed.",
            ),
            (_, Outcome::NotSent) => (
                Exit::Failed,
                "\nThe request was not sent: nothing was changed.",
            ),
            (_, Outcome::KeyInUse) => (
                Exit::Unknown,
                "\nThe key is already used, by this same change (sent before, by an earlier \
                 run or another process) or by another write; this run applied nothing. If \
                 this change was sent before, run the same command with --resume (same flags, \
                 same key) to settle it; never send it under a new key unless the key \
                 belongs to another write.",
            ),
            (_, Outcome::Refused) => (Exit::Refused, "\nNothing was changed."),
            (_, Outcome::AppliedEarlier) => (
                Exit::Unknown,
                "\nAn earlier attempt applied it: do not repeat it.",
            ),
            (_, _) if write => (
                Exit::Unknown,
                "\nThe request was sent and may have been applied. Check (query the member, \
                 the order…) before repeating it; a keyed write can be settled with the same \
                 key and --resume.",
            ),
            (_, _) => (
                Exit::Failed,
                "\nThe request was sent and no usable answer came back; a read changes \
                 nothing.",
            ),
        };
        CliError {
            exit,
            message: format!("{code}{text}{advice}"),
        }
    }

    /// A write the platform applied whose result could not be written (`output`): exit 5,
    /// and stderr carries what was applied (`what`, and the result as JSON when it could
    /// be encoded), so the operator neither loses it nor repeats the write.
    pub fn applied_but_output_failed(
        what: &str,
        result: Option<String>,
        output: &CliError,
    ) -> Self {
        let result = result
            .map(|r| format!("\nThe result: {r}"))
            .unwrap_or_default();
        CliError {
            exit: Exit::AppliedOutputFailed,
            message: format!(
                "{what}, but its result could not be written ({}). Do not repeat it.{result}",
                output.message
            ),
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.exit as u8)
    }
}

/// What a command did (its output is already written).
#[derive(Debug)]
pub struct Outcome;

/// The options every endpoint command shares.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub dry_run: bool,
    /// Spending the day's token-issuing call is confirmed.
    pub allow_obtain: bool,
}

/// One invocation's client, options and output.
pub struct Ctx {
    pub client: gree_ump::Client,
    pub options: Options,
    pub output: Output,
}

impl Ctx {
    /// A read: safe to repeat.
    pub async fn read<R>(
        &self,
        command: &Command,
        m: &clap::ArgMatches,
    ) -> Result<Outcome, CliError>
    where
        R: Endpoint<Code = gree_ump::ErrorCode> + DeserializeOwned,
        R::Data: Serialize + Default,
    {
        self.send::<R>(command, m, false).await
    }

    /// A write the platform may apply twice if repeated: sent once.
    pub async fn write<R>(
        &self,
        command: &Command,
        m: &clap::ArgMatches,
    ) -> Result<Outcome, CliError>
    where
        R: Endpoint<Code = gree_ump::ErrorCode> + DeserializeOwned,
        R::Data: Serialize + Default,
    {
        self.send::<R>(command, m, true).await
    }

    /// A keyed write: the exactly-once path of its type (`crate::writes`).
    pub async fn keyed<R>(
        &self,
        command: &Command,
        m: &clap::ArgMatches,
    ) -> Result<Outcome, CliError>
    where
        R: crate::writes::Keyed + DeserializeOwned,
    {
        let request: R = input::request(command, m)?;
        if self.options.dry_run {
            return self.dry_run(&request).await;
        }
        self.guard_tokens().await?;
        request.run(self, m.get_flag(schema::RESUME)).await
    }

    /// A paged read: one page, or with `--all` every page from the one asked for.
    pub async fn paged<R>(
        &self,
        command: &Command,
        m: &clap::ArgMatches,
    ) -> Result<Outcome, CliError>
    where
        R: Paged<Code = gree_ump::ErrorCode> + DeserializeOwned + 'static,
        R::Data: Serialize + Default + Clone,
        R::Item: Serialize,
    {
        if !m.get_flag(schema::ALL) {
            return self.one_page::<R>(command, m).await;
        }
        let request: R = input::request(command, m)?;
        if self.options.dry_run {
            return self.dry_run(&request).await;
        }
        self.guard_tokens().await?;
        let max_pages = m.get_one::<u32>(schema::MAX_PAGES).copied();
        let mut items = self.client.runtime().items(request);
        if let Some(n) = max_pages {
            items = items.max_pages(n);
        }
        let progress = std::io::stderr().is_terminal();
        let mut stream = self.output.stream();
        let mut count: u64 = 0;
        while let Some(item) = items.next().await {
            let item = item.map_err(|e| CliError::of_call(&e, false))?;
            stream.item(&item)?;
            count = count.saturating_add(1);
            if progress && count.is_multiple_of(50) {
                eprint!("\r{count} items…");
            }
        }
        if progress {
            eprintln!("\r{count} items.   ");
        }
        stream.finish()?;
        Ok(Outcome)
    }

    /// One page of a paged read; when pages follow it (the runtime's walk rule), stderr
    /// says so and how to read them, so that a page is never taken for the whole list.
    async fn one_page<R>(
        &self,
        command: &Command,
        m: &clap::ArgMatches,
    ) -> Result<Outcome, CliError>
    where
        R: Paged<Code = gree_ump::ErrorCode> + DeserializeOwned,
        R::Data: Serialize + Default + Clone,
    {
        let Some((request, reply)) = self.call::<R>(command, m, false).await? else {
            return Ok(Outcome);
        };
        let page = reply.page;
        let data = reply.into_data();
        let count = i64::try_from(R::into_items(data.clone()).len()).unwrap_or(i64::MAX);
        self.output.document(&data)?;
        let page_no = request.page_no();
        let before = page
            .full_size(request.page_size())
            .map_or(0, |size| size.saturating_mul(page_no.saturating_sub(1)));
        if page.more_follow(request.page_size(), count, before.saturating_add(count)) {
            let total = page
                .total_count
                .map(|t| format!(" of {t}"))
                .unwrap_or_default();
            eprintln!(
                "page {page_no}: {count} items{total}; more follow: --page-no {}, or --all for every page",
                page_no.saturating_add(1)
            );
        }
        Ok(Outcome)
    }

    /// The request the flags make, sent once: the request and its reply; `None` with
    /// `--dry-run`, when the signed request was printed instead.
    async fn call<R>(
        &self,
        command: &Command,
        m: &clap::ArgMatches,
        write: bool,
    ) -> Result<Option<(R, gree_ump::Response<R::Data>)>, CliError>
    where
        R: Endpoint<Code = gree_ump::ErrorCode> + DeserializeOwned,
    {
        let request: R = input::request(command, m)?;
        if self.options.dry_run {
            self.dry_run(&request).await?;
            return Ok(None);
        }
        self.guard_tokens().await?;
        let reply = self
            .client
            .runtime()
            .send(&request)
            .await
            .map_err(|e| CliError::of_call(&e, write))?;
        Ok(Some((request, reply)))
    }

    async fn send<R>(
        &self,
        command: &Command,
        m: &clap::ArgMatches,
        write: bool,
    ) -> Result<Outcome, CliError>
    where
        R: Endpoint<Code = gree_ump::ErrorCode> + DeserializeOwned,
        R::Data: Serialize + Default,
    {
        let Some((_, reply)) = self.call::<R>(command, m, write).await? else {
            return Ok(Outcome);
        };
        let data = reply.into_data();
        match self.output.document(&data) {
            Err(e) if write => Err(CliError::applied_but_output_failed(
                &format!("{} was applied", R::INFO.method),
                serde_json::to_string(&data).ok(),
                &e,
            )),
            other => other.map(|()| Outcome),
        }
    }

    /// Prints the signed request `send` would send, secrets redacted; sends nothing.
    pub async fn dry_run<R: Endpoint<Code = gree_ump::ErrorCode>>(
        &self,
        request: &R,
    ) -> Result<Outcome, CliError> {
        let dry = self
            .client
            .runtime()
            .dry_run(request)
            .await
            .map_err(|e| CliError::of_call(&e, false))?;
        self.output.document(&dry)?;
        Ok(Outcome)
    }

    /// Refuses a call that would spend the day's token-issuing call unless confirmed, and
    /// says on stderr when it will spend one of the day's refreshes.
    pub async fn guard_tokens(&self) -> Result<(), CliError> {
        let status = self
            .client
            .runtime()
            .tokens()
            .status()
            .await
            .map_err(|e| CliError::failed(format!("cannot read the token store: {e}")))?;
        match needs(&status) {
            Need::Nothing => Ok(()),
            // A spent budget is said as it is, never as a call about to spend it.
            Need::Refresh if status.refresh.remaining() == 0 => Err(CliError::failed(format!(
                "the access token has expired and today's refresh budget is spent ({} of {}); \
                 it resets at {}. The call was not sent (nothing left this process).{}",
                status.refresh.used,
                status.refresh.limit,
                status.budget_resets_at,
                last_failure_text(&status)
            ))),
            Need::Obtain if status.obtain.remaining() == 0 => Err(CliError::failed(format!(
                "the token store {} holds no usable tokens and today's token-issuing call (2.1) \
                 budget is spent ({} of {}); it resets at {}. The call was not sent (nothing left this \
                 process).{} If that call issued \
                 nothing the platform still honours (it was refused, or the platform was \
                 reset), `ump tokens forget-obtain --yes` gives it back.",
                status.key,
                status.obtain.used,
                status.obtain.limit,
                status.budget_resets_at,
                last_failure_text(&status)
            ))),
            Need::Refresh => {
                eprintln!(
                    "note: the access token has expired; this call spends one of today's {} refreshes ({} used)",
                    status.refresh.limit, status.refresh.used
                );
                Ok(())
            }
            Need::Obtain if self.options.allow_obtain => {
                eprintln!(
                    "note: spending today's token-issuing call ({} of {} used), as --allow-obtain says",
                    status.obtain.used, status.obtain.limit
                );
                Ok(())
            }
            Need::Obtain => Err(CliError::usage(format!(
                "the token store {} holds no usable tokens, so this call would spend the \
                 token-issuing call (2.1): {} of {} used today, resets at {}. The services \
                 sharing this store need it too. Check `ump tokens status`; re-run with \
                 --allow-obtain to spend it.",
                status.key, status.obtain.used, status.obtain.limit, status.budget_resets_at
            ))),
        }
    }
}

/// The last failed token call, as a sentence to append (empty when none is recorded).
fn last_failure_text(status: &TokenStatus) -> String {
    status.last_failure.as_ref().map_or_else(String::new, |f| {
        let code = f.code.map_or_else(String::new, |c| format!(" (error {c})"));
        format!(
            " The last failed token call: {}{code}: {}.",
            f.kind, f.message
        )
    })
}

/// Which token call the next business call needs.
enum Need {
    Nothing,
    Refresh,
    Obtain,
}

fn needs(status: &TokenStatus) -> Need {
    match &status.record {
        Some(r) if r.access_valid_now => Need::Nothing,
        Some(r) if r.refresh_valid_now => Need::Refresh,
        _ => Need::Obtain,
    }
}

#[cfg(test)]
mod tests {
    use gree_ump::endpoints::ChangePointsRequest;
    use gree_ump::recovery::Answer;
    use gree_ump::runtime::{Outcome, decode_response};

    use super::{CliError, Exit};

    /// The words and the exit code of each kind of failure: "not sent" only when nothing
    /// left the process, "sent" for a read without a usable answer, "may have been
    /// applied" for such a write, and the token policy's refusal as a missing consent.
    #[test]
    fn each_failure_says_what_it_proves() {
        use gree_ump::runtime::tokens::BudgetKind;
        use gree_ump::runtime::{Error, TokenError, TransportError};
        use std::time::Duration;
        let m = "wk.user.info.query";
        let http = |status: u16| {
            decode_response::<ChangePointsRequest>(&gree_ump::PROTOCOL, status, b"<html/>")
                .expect_err("an HTTP error")
        };
        let budget = Error::Token(TokenError::BudgetExhausted {
            kind: BudgetKind::Refresh,
            used: 20,
            limit: 20,
            resets_at: "2026-12-08T00:00:00+08:00".into(),
        });
        let cases: Vec<(gree_ump::Error, bool, Exit, &str)> = vec![
            (
                Error::Transport(TransportError::deadline_passed(m)),
                false,
                Exit::Failed,
                "was not sent",
            ),
            (
                Error::Transport(TransportError::timed_out(m, Duration::from_secs(1))),
                false,
                Exit::Failed,
                "was sent and no usable answer",
            ),
            (
                Error::Transport(TransportError::timed_out(m, Duration::from_secs(1))),
                true,
                Exit::Unknown,
                "may have been applied",
            ),
            (
                http(502),
                false,
                Exit::Failed,
                "was sent and no usable answer",
            ),
            (http(502), true, Exit::Unknown, "may have been applied"),
            (http(404), true, Exit::Refused, "Nothing was changed"),
            (budget, true, Exit::Failed, "was not sent"),
            (
                Error::Token(TokenError::ObtainNotAllowed),
                false,
                Exit::Usage,
                "--allow-obtain",
            ),
            (
                Error::Token(TokenError::RefreshTokenRefused {
                    code: 1002,
                    then: Box::new(TokenError::ObtainNotAllowed),
                }),
                false,
                Exit::Usage,
                "--allow-obtain",
            ),
        ];
        for (e, write, exit, words) in cases {
            let cli = CliError::of_call(&e, write);
            assert_eq!(cli.exit, exit, "{e:?}");
            assert!(cli.message.contains(words), "{e:?}: {}", cli.message);
            // What left the process is never called "not sent".
            if words.contains("was sent") || words.contains("applied") || exit == Exit::Refused {
                assert!(!cli.message.contains("not sent"), "{e:?}: {}", cli.message);
            }
        }
    }

    /// Every surface reads a reply alike: the typed call's result, the recovery
    /// protocol's answer and the command line's exit code, over every combination of
    /// flag, code and data (the envelope's own table, with each outcome, is in
    /// openplatform-runtime's envelope tests) and the codes with a meaning of their own.
    #[test]
    fn every_surface_reads_a_reply_alike() {
        let flags = [
            Some(r#""success":true"#),
            Some(r#""success":false"#),
            None,
            Some(r#""success":"maybe""#),
        ];
        let codes = [
            None,
            Some(r#""error_code":200"#),
            Some(r#""error_code":150003"#),
            Some(r#""error_code":150002"#),
            Some(r#""error_code":500"#),
            Some(r#""error_code":"E-1""#),
        ];
        let datas = [Some(r#""data":{"statement_id":"S1"}"#), None];
        for f in flags {
            for c in codes {
                for d in datas {
                    let parts: Vec<&str> = [f, c, d].into_iter().flatten().collect();
                    let body = format!("{{{}}}", parts.join(","));
                    let typed = decode_response::<ChangePointsRequest>(
                        &gree_ump::PROTOCOL,
                        200,
                        body.as_bytes(),
                    );
                    let answer = Answer::of(&typed, |r| {
                        r.data.as_ref().and_then(|d| d.statement_id.clone())
                    });
                    // The floor: the success code beside a result is never a refusal.
                    if c == codes[1] && d.is_some() {
                        assert!(
                            !matches!(&typed, Err(e) if e.outcome() == Outcome::Refused),
                            "{body}"
                        );
                    }
                    let e = match typed {
                        Ok(_) => {
                            assert!(matches!(answer, Answer::Applied { .. }), "{body}");
                            continue;
                        }
                        Err(e) => e,
                    };
                    let exit = CliError::of_call(&e, true).exit;
                    let (want_answer, want_exit) = match e.outcome() {
                        Outcome::Refused => (Answer::Refused, Exit::Refused),
                        Outcome::KeyInUse => (Answer::KeyAlreadyUsed, Exit::Unknown),
                        Outcome::Unknown => (Answer::Unknown, Exit::Unknown),
                        other => panic!("a reply cannot prove {other:?}: {body}"),
                    };
                    assert_eq!(answer, want_answer, "{body}");
                    assert_eq!(exit, want_exit, "{body}");
                }
            }
        }
    }
}
