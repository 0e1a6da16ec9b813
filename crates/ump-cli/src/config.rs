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
use std::sync::Arc;

use clap::ArgMatches;
use gree_ump::TokenStore;
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

/// The settings of one invocation.
#[derive(Debug)]
pub struct Settings {
    pub base_url: Option<String>,
    pub preset: Option<String>,
    pub app_id: String,
    pub app_secret: String,
    pub token_store: Option<String>,
    pub redis_key_prefix: String,
    /// A file store directory that other users can write, or another user owns, is
    /// refused unless this is set (`UMP_TOKEN_STORE_SHARED_DIR=yes`, or
    /// `token_store_shared_directory = true`): they could plant the store's files.
    pub shared_token_directory: bool,
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

/// `yes`/`no` (and `true`/`false`, `1`/`0`).
fn yes(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" => Some(true),
        "no" | "false" | "0" => Some(false),
        _ => None,
    }
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

fn read_secret(path: &Path) -> Result<String, CliError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::failed(format!(
            "cannot read the app secret file {}: {e}",
            path.display()
        ))
    })?;
    let secret = text.trim().to_string();
    if secret.is_empty() {
        return Err(CliError::failed(format!(
            "the app secret file {} is empty",
            path.display()
        )));
    }
    Ok(secret)
}

impl Settings {
    /// Flags, environment, config file, in that order.
    pub fn resolve(m: &ArgMatches) -> Result<Settings, CliError> {
        let file = read_file(m)?;
        let base_url = flag(m, "base-url").or_else(|| env("UMP_BASE_URL"));
        let preset = flag(m, "preset").or_else(|| env("UMP_PRESET"));
        // A URL or a preset from a higher layer hides both of a lower one.
        let (base_url, preset) = if base_url.is_some() || preset.is_some() {
            (base_url, preset)
        } else {
            (file.base_url, file.preset)
        };
        if base_url.is_none() && preset.is_none() {
            return Err(CliError::failed(
                "no platform: set --base-url or --preset (test, production), UMP_BASE_URL or UMP_PRESET, or base_url in the config file",
            ));
        }
        let app_id = flag(m, "app-id")
            .or_else(|| env("UMP_APP_ID"))
            .or(file.app_id)
            .ok_or_else(|| {
                CliError::failed("no app id: set --app-id, UMP_APP_ID or app_id in the config file")
            })?;
        let secret_file = flag(m, "app-secret-file").map(PathBuf::from);
        let app_secret = match (
            secret_file,
            env("UMP_APP_SECRET"),
            env("UMP_APP_SECRET_FILE"),
        ) {
            (Some(p), _, _) => read_secret(&p)?,
            (None, Some(s), _) => s,
            (None, None, Some(p)) => read_secret(Path::new(&p))?,
            (None, None, None) => match &file.app_secret_file {
                Some(p) => read_secret(p)?,
                None => {
                    return Err(CliError::failed(
                        "no app secret: set --app-secret-file, UMP_APP_SECRET, UMP_APP_SECRET_FILE or app_secret_file in the config file",
                    ));
                }
            },
        };
        Ok(Settings {
            base_url,
            preset,
            app_id,
            app_secret,
            token_store: flag(m, "token-store")
                .or_else(|| env("UMP_TOKEN_STORE"))
                .or(file.token_store),
            redis_key_prefix: env("UMP_REDIS_KEY_PREFIX")
                .or(file.redis_key_prefix)
                .unwrap_or_default(),
            shared_token_directory: match env("UMP_TOKEN_STORE_SHARED_DIR") {
                Some(v) => yes(&v).ok_or_else(|| {
                    CliError::failed("UMP_TOKEN_STORE_SHARED_DIR: expected yes or no")
                })?,
                None => file.token_store_shared_directory.unwrap_or(false),
            },
        })
    }

    /// The token store the settings name; `None`: the SDK's default file store.
    pub async fn store(&self) -> Result<Option<Arc<dyn TokenStore>>, CliError> {
        let Some(spec) = self.token_store.as_deref() else {
            return Ok(None);
        };
        if spec == "file" {
            return Ok(None);
        }
        if let Some(dir) = spec.strip_prefix("file:") {
            let store = gree_ump::FileTokenStore::builder(dir)
                .allow_shared_directory(self.shared_token_directory)
                .open()
                .map_err(|e| CliError::failed(shared_hint(format!("token store {dir}: {e}"))))?;
            return Ok(Some(Arc::new(store)));
        }
        if spec.starts_with("redis://") || spec.starts_with("rediss://") {
            let store = gree_ump::RedisTokenStore::connect(spec, self.redis_key_prefix.clone())
                .await
                .map_err(|e| CliError::failed(format!("Redis token store: {e}")))?;
            return Ok(Some(Arc::new(store)));
        }
        Err(CliError::failed(format!(
            "token store `{}`: expected file, file:DIR or redis://host:port/db",
            if spec.contains('@') {
                "(a URL with a password)"
            } else {
                spec
            }
        )))
    }

    /// The client.
    /// The client of these settings; `adjust` adds the command line's own options.
    pub async fn client(
        &self,
        adjust: impl FnOnce(ClientBuilder<gree_ump::Client>) -> ClientBuilder<gree_ump::Client>,
    ) -> Result<gree_ump::Client, CliError> {
        let mut b = gree_ump::Client::builder()
            .app_id(&self.app_id)
            .app_secret(&self.app_secret);
        b = match (&self.base_url, &self.preset) {
            (Some(url), _) => b.base_url(url),
            (None, Some(p)) => b.preset(p),
            (None, None) => b,
        };
        if let Some(store) = self.store().await? {
            b = b.token_store(store);
        }
        adjust(b.allow_shared_token_directory(self.shared_token_directory))
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
