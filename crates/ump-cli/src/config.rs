//! Where the client's settings come from, first match wins: flags, then the environment
//! (`UMP_BASE_URL` or `UMP_PRESET`, `UMP_APP_ID`, `UMP_APP_SECRET` or
//! `UMP_APP_SECRET_FILE`, `UMP_TOKEN_STORE`, `UMP_REDIS_KEY_PREFIX`,
//! `UMP_TOKEN_STORE_SHARED_DIR`), then the config file
//! (`--config`, `UMP_CONFIG`, or `$XDG_CONFIG_HOME/ump/config.toml`, i.e.
//! `~/.config/ump/config.toml`). The secret is never a flag: command lines are visible to
//! every user of the machine.
//!
//! The token store is the services' own: by default the same file store the SDK uses
//! (`$XDG_STATE_HOME/gree-ump/tokens`), or `redis://…` with the services' key prefix, so
//! the command line never spends a token call the services need.

use std::path::{Path, PathBuf};

use clap::ArgMatches;
use gree_ump::config;
use gree_ump::runtime::ClientBuilder;
use serde::Deserialize;

use crate::run::CliError;

/// The config file's keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub base_url: Option<String>,
    pub preset: Option<String>,
    pub app_id: Option<String>,
    /// A file holding the app secret (the secret itself never sits in this file).
    pub app_secret_file: Option<PathBuf>,
    /// `file` (the SDK's default store), `file:DIR`, or `redis://host:port/db`.
    pub token_store: Option<String>,
    pub redis_key_prefix: Option<String>,
    /// Accept a token store directory other users can write (see `Settings`).
    pub token_store_shared_directory: Option<bool>,
}

/// The settings of one invocation: the SDK's [`gree_ump::config::Settings`], in layers.
#[derive(Debug)]
pub struct Settings {
    merged: config::Settings,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn flag(m: &ArgMatches, id: &str) -> Option<String> {
    m.get_one::<String>(id).cloned()
}

/// The config file to read: `(path, whether it was asked for)`.
fn file_path(m: &ArgMatches) -> Option<(PathBuf, bool)> {
    if let Some(p) = flag(m, "config").or_else(|| env("UMP_CONFIG")) {
        return Some((PathBuf::from(p), true));
    }
    let base = env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| Path::new(&h).join(".config")))?;
    Some((base.join("ump").join("config.toml"), false))
}

fn read_file(m: &ArgMatches) -> Result<File, CliError> {
    let Some((path, asked)) = file_path(m) else {
        return Ok(File::default());
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !asked => return Ok(File::default()),
        Err(e) => {
            return Err(CliError::failed(format!(
                "cannot read the config file {}: {e}",
                path.display()
            )));
        }
    };
    parse_file(&text, &path)
}

/// The config file's text read as its keys.
///
/// An error names the line and its key, never the line itself: the TOML error's own
/// text quotes the line, and the line with a mistake may be the one holding a secret
/// (`app_secret = "…"` is a mistake: the secret belongs in a file of its own).
fn parse_file(text: &str, path: &Path) -> Result<File, CliError> {
    toml::from_str(text).map_err(|e: toml::de::Error| {
        let at = e.span().map_or(0, |s| s.start.min(text.len()));
        let line_no = text[..at].matches('\n').count() + 1;
        let line = text.lines().nth(line_no - 1).unwrap_or("");
        let key = line.split_once('=').map(|(k, _)| k.trim()).filter(|k| {
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        });
        let key = key.map_or(String::new(), |k| format!(", key `{k}`"));
        CliError::failed(format!(
            "the config file {} is not valid: line {line_no}{key}: {}",
            path.display(),
            without_values(e.message())
        ))
    })
}

/// A TOML or serde message with every quoted part that may be a value hidden: double-
/// and single-quoted parts (strings), and backquoted parts other than key-like words
/// (serde backquotes numbers and characters; names of keys stay).
fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message.trim();
    while let Some(open) = rest.find(['"', '\'', '`']) {
        out.push_str(&rest[..open]);
        let quote = rest[open..].chars().next().unwrap_or('"');
        let inner_start = open + quote.len_utf8();
        let Some(len) = rest[inner_start..].find(quote) else {
            out.push(quote);
            out.push('…');
            return out;
        };
        let inner = &rest[inner_start..inner_start + len];
        let keyword = quote == '`'
            && !inner.is_empty()
            && inner.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        out.push(quote);
        out.push_str(if keyword { inner } else { "…" });
        out.push(quote);
        rest = &rest[inner_start + len + quote.len_utf8()..];
    }
    out.push_str(rest);
    out.replace('\n', "; ")
}

/// Adds the command line's own opt-in to a refusal of a shared store directory (the
/// SDK's text names its API's).
fn shared_hint(text: String) -> String {
    if text.contains("allow_shared_directory") {
        format!(
            "{text}. For ump: UMP_TOKEN_STORE_SHARED_DIR=yes, or token_store_shared_directory = true in the config file"
        )
    } else {
        text
    }
}

impl Settings {
    /// Flags, environment, config file, in that order: the layers of the SDK's loader
    /// (`gree_ump::config`), which reads the environment for the services too.
    pub fn resolve(m: &ArgMatches) -> Result<Settings, CliError> {
        let file = read_file(m)?;
        let mut flags = config::Settings::default();
        flags.base_url = flag(m, "base-url");
        flags.preset = flag(m, "preset");
        flags.app_id = flag(m, "app-id");
        flags.app_secret_file = flag(m, "app-secret-file").map(PathBuf::from);
        flags.token_store = flag(m, "token-store");
        let mut from_file = config::Settings::default();
        from_file.base_url = file.base_url;
        from_file.preset = file.preset;
        from_file.app_id = file.app_id;
        from_file.app_secret_file = file.app_secret_file;
        from_file.token_store = file.token_store;
        from_file.redis_key_prefix = file.redis_key_prefix;
        from_file.shared_token_directory = file.token_store_shared_directory;
        let env = config::Settings::from_env().map_err(|e| CliError::failed(e.to_string()))?;
        let merged = flags.or(env).or(from_file);
        // Missing ones are named with every way to give them, flags and file included.
        if merged.base_url.is_none() && merged.preset.is_none() {
            return Err(CliError::failed(
                "no platform: set --base-url or --preset (test, production), UMP_BASE_URL or UMP_PRESET, or base_url in the config file",
            ));
        }
        if merged.app_id.is_none() {
            return Err(CliError::failed(
                "no app id: set --app-id, UMP_APP_ID or app_id in the config file",
            ));
        }
        if merged.app_secret.is_none() && merged.app_secret_file.is_none() {
            return Err(CliError::failed(
                "no app secret: set --app-secret-file, UMP_APP_SECRET, UMP_APP_SECRET_FILE or app_secret_file in the config file",
            ));
        }
        // Read now: a missing or empty secret file fails before anything else.
        merged
            .secret()
            .map_err(|e| CliError::failed(e.to_string()))?;
        Ok(Settings { merged })
    }

    /// The client of these settings; `adjust` adds the command line's own options.
    pub async fn client(
        &self,
        adjust: impl FnOnce(ClientBuilder<gree_ump::Client>) -> ClientBuilder<gree_ump::Client>,
    ) -> Result<gree_ump::Client, CliError> {
        let builder = self
            .merged
            .client_builder()
            .await
            .map_err(|e| CliError::failed(shared_hint(e.to_string())))?;
        adjust(builder)
            .build()
            .map_err(|e| CliError::failed(shared_hint(format!("cannot configure the client: {e}"))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config file with a mistake on a line holding a secret (a syntax error, a key
    /// that is not one, a value of the wrong type): the error names the file, the line
    /// and the key, never the value.
    #[test]
    fn a_config_error_names_the_line_and_key_never_the_value() {
        for (text, key) in [
            (
                "app_id = \"a\"\napp_secret = \"s3cr3t-Hunter\n",
                "app_secret",
            ),
            (
                "app_id = \"a\"\napp_secret = \"s3cr3t-Hunter\"\n",
                "app_secret",
            ),
            (
                "app_id = \"a\"\napp_secret_file = s3cr3t-Hunter\n",
                "app_secret_file",
            ),
            (
                "app_id = \"a\"\napp_secret_file = \"x\" s3cr3t-Hunter\n",
                "app_secret_file",
            ),
            ("preset = \"test\"\napp_id = 31337313373\n", "app_id"),
            (
                "preset = \"test\"\nredis_key_prefix = 's3cr3t-Hunter\n",
                "redis_key_prefix",
            ),
        ] {
            let e = parse_file(text, Path::new("/etc/ump.toml")).unwrap_err();
            let shown = e.to_string();
            eprintln!("{shown}");
            assert!(
                !shown.contains("s3cr3t") && !shown.contains("31337"),
                "{shown}"
            );
            assert!(shown.contains("/etc/ump.toml"), "{shown}");
            assert!(shown.contains("line 2"), "{shown}");
            assert!(shown.contains(key), "{shown}");
        }
        assert_eq!(
            without_values("invalid type: string \"s3\", expected `u32` at `x`, '1' `2`"),
            "invalid type: string \"…\", expected `…` at `x`, '…' `…`"
        );
        assert_eq!(without_values("cut \"s3cr"), "cut \"…");
    }
}
