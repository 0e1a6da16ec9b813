//! Settings from the environment: the one loader the SDK, the `ump` command line and the
//! quickstart share, so a service, an operator's shell and a first run read the same
//! variables the same way.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let client = gree_ump::config::load_from_env().await?.build()?;
//! # Ok(()) }
//! ```
//!
//! | Variable | What it sets | Precedence |
//! | --- | --- | --- |
//! | `UMP_BASE_URL` | the platform's base URL | hides `UMP_PRESET` |
//! | `UMP_PRESET` | a base URL the document names: `test` or `production` | |
//! | `UMP_APP_ID` | the app id | |
//! | `UMP_APP_SECRET` | the app secret itself | hides `UMP_APP_SECRET_FILE` |
//! | `UMP_APP_SECRET_FILE` | a file holding the app secret (one line) | |
//! | `UMP_TOKEN_STORE` | `file` (the default store), `file:DIR`, or `redis://host:port/db` (feature `redis`) | |
//! | `UMP_REDIS_KEY_PREFIX` | the prefix of every Redis key (`my-mall:ump:`); `:` is added to one ending with no separator, and keys written under it without one are adopted | |
//! | `UMP_TOKEN_STORE_SHARED_DIR` | `yes`: accept a token directory other users can write | |
//! | `UMP_JOURNAL` | the write journal: a SQLite file (feature `sqlite`; default: `journal.sqlite3` beside the default token store), or `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` (feature `postgres`) | |
//! | `UMP_JOURNAL_NAMESPACE` | the prefix of the PostgreSQL journal's tables (default `ump_journal`) | |
//!
//! An empty variable counts as unset. Layers combine with [`Settings::or`]: `ump` puts
//! its flags above the environment and its config file below it; a base URL or preset of
//! a higher layer hides both of a lower one, and so does an app secret or secret file.
//! Errors name the variable or the file, never a value.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::Client;
use crate::runtime::ClientBuilder;
use crate::runtime::tokens::{Secret, TokenStore};

/// Why settings could not be loaded or used; names the variable or file, never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// One layer of settings (the environment, a config file, flags); each field unset
/// (`None`) or set.
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct Settings {
    /// The platform's base URL.
    pub base_url: Option<String>,
    /// A base URL the document names (`test`, `production`).
    pub preset: Option<String>,
    /// The app id.
    pub app_id: Option<String>,
    /// The app secret itself.
    pub app_secret: Option<Secret>,
    /// A file holding the app secret.
    pub app_secret_file: Option<PathBuf>,
    /// `file`, `file:DIR` or `redis://host:port/db` (may hold a password: never shown).
    pub token_store: Option<String>,
    /// The prefix of every Redis key.
    pub redis_key_prefix: Option<String>,
    /// Accept a token store directory other users can write.
    pub shared_token_directory: Option<bool>,
    /// The write journal: a SQLite file, or a PostgreSQL URL (may hold a password: never
    /// shown).
    pub journal: Option<String>,
    /// The prefix of the PostgreSQL journal's tables.
    pub journal_namespace: Option<String>,
}

/// The secret and a Redis URL's password stay out.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("base_url", &self.base_url)
            .field("preset", &self.preset)
            .field("app_id", &self.app_id)
            .field("app_secret", &self.app_secret)
            .field("app_secret_file", &self.app_secret_file)
            .field("token_store", &self.token_store.as_deref().map(store_kind))
            .field("redis_key_prefix", &self.redis_key_prefix)
            .field("shared_token_directory", &self.shared_token_directory)
            .field("journal", &self.journal.as_deref().map(journal_shown))
            .field("journal_namespace", &self.journal_namespace)
            .finish()
    }
}

/// What a token store setting names, without what it holds (a URL's password).
fn store_kind(spec: &str) -> &'static str {
    match spec {
        "file" => "file",
        s if s.starts_with("file:") => "file:DIR",
        s if s.starts_with("redis://") || s.starts_with("rediss://") => "redis://…",
        _ => "(not a token store)",
    }
}

impl Settings {
    /// The layer of the environment (see the [module](self)'s table).
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::from_vars(|name| std::env::var(name).ok())
    }

    /// The layer of variables `var` gives (the environment, in [`Settings::from_env`]).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let app_secret = var("UMP_APP_SECRET").map(Secret::new);
        let shared_token_directory = match var("UMP_TOKEN_STORE_SHARED_DIR") {
            Some(v) => Some(yes_or_no(&v).ok_or_else(|| {
                ConfigError("UMP_TOKEN_STORE_SHARED_DIR: expected yes or no".into())
            })?),
            None => None,
        };
        let token_store = var("UMP_TOKEN_STORE");
        if let Some(spec) = &token_store {
            check_store(spec).map_err(|why| ConfigError(format!("UMP_TOKEN_STORE: {why}")))?;
        }
        Ok(Settings {
            base_url: var("UMP_BASE_URL"),
            preset: var("UMP_PRESET"),
            app_id: var("UMP_APP_ID"),
            // The secret itself hides a file of a lower rank, as in `or`.
            app_secret_file: match app_secret {
                Some(_) => None,
                None => var("UMP_APP_SECRET_FILE").map(PathBuf::from),
            },
            app_secret,
            token_store,
            redis_key_prefix: var("UMP_REDIS_KEY_PREFIX"),
            shared_token_directory,
            journal: var("UMP_JOURNAL"),
            journal_namespace: var("UMP_JOURNAL_NAMESPACE"),
        })
    }

    /// These settings over `lower`: each field unset here is taken from `lower`. A base
    /// URL or preset set here hides both of `lower`'s, and an app secret or secret file
    /// set here hides both of `lower`'s.
    pub fn or(self, lower: Settings) -> Settings {
        let (base_url, preset) = if self.base_url.is_some() || self.preset.is_some() {
            (self.base_url, self.preset)
        } else {
            (lower.base_url, lower.preset)
        };
        let (app_secret, app_secret_file) =
            if self.app_secret.is_some() || self.app_secret_file.is_some() {
                (self.app_secret, self.app_secret_file)
            } else {
                (lower.app_secret, lower.app_secret_file)
            };
        Settings {
            base_url,
            preset,
            app_id: self.app_id.or(lower.app_id),
            app_secret,
            app_secret_file,
            token_store: self.token_store.or(lower.token_store),
            redis_key_prefix: self.redis_key_prefix.or(lower.redis_key_prefix),
            shared_token_directory: self.shared_token_directory.or(lower.shared_token_directory),
            journal: self.journal.or(lower.journal),
            journal_namespace: self.journal_namespace.or(lower.journal_namespace),
        }
    }

    /// The write journal the settings name, as messages show it: the file, or the
    /// PostgreSQL URL without its password.
    pub fn journal_name(&self) -> String {
        match self.journal.as_deref() {
            Some(spec) => journal_shown(spec),
            None => crate::runtime::journal::default_path(crate::PROTOCOL.api).map_or_else(
                || "(no default journal file here: set UMP_JOURNAL)".to_owned(),
                |p| p.display().to_string(),
            ),
        }
    }

    /// The write journal the settings name, opened: a PostgreSQL URL connects (the
    /// tables created if needed), a file opens (created if needed), and without
    /// `UMP_JOURNAL` the default file beside the default token store (its directory
    /// created, owner-only). Fails naming the journal (never a password) and why.
    #[cfg(feature = "journal")]
    pub async fn open_journal_store(
        &self,
    ) -> Result<Arc<dyn crate::runtime::journal::JournalStore>, ConfigError> {
        match self.journal.as_deref() {
            Some(url) if is_postgres_url(url) => self.postgres_journal(url).await,
            Some(file) => sqlite_journal(PathBuf::from(file)).await,
            None => {
                let path = crate::runtime::journal::default_path(crate::PROTOCOL.api).ok_or_else(
                    || {
                        ConfigError(
                            "no per-user state directory is known here: set UMP_JOURNAL".into(),
                        )
                    },
                )?;
                if let Some(dir) = path.parent() {
                    create_private_dir(dir).map_err(|e| {
                        ConfigError(format!("journal: cannot create {}: {e}", dir.display()))
                    })?;
                }
                sqlite_journal(path).await
            }
        }
    }

    #[cfg(feature = "postgres")]
    async fn postgres_journal(
        &self,
        url: &str,
    ) -> Result<Arc<dyn crate::runtime::journal::JournalStore>, ConfigError> {
        let mut builder = crate::runtime::journal::PostgresJournal::builder(url);
        if let Some(namespace) = &self.journal_namespace {
            builder = builder.namespace(namespace.as_str());
        }
        let journal = builder
            .connect()
            .await
            .map_err(|e| ConfigError(format!("journal {}: {e}", journal_shown(url))))?;
        Ok(Arc::new(journal))
    }

    #[cfg(all(feature = "journal", not(feature = "postgres")))]
    async fn postgres_journal(
        &self,
        url: &str,
    ) -> Result<Arc<dyn crate::runtime::journal::JournalStore>, ConfigError> {
        Err(ConfigError(format!(
            "journal {}: a PostgreSQL journal, and this build of gree-ump has no `postgres` feature",
            journal_shown(url)
        )))
    }

    /// The app secret: set, or read from its file (one line; surrounding white space
    /// dropped).
    pub fn secret(&self) -> Result<Secret, ConfigError> {
        if let Some(secret) = &self.app_secret {
            return Ok(secret.clone());
        }
        let Some(path) = &self.app_secret_file else {
            return Err(ConfigError(
                "no app secret: set UMP_APP_SECRET or UMP_APP_SECRET_FILE".into(),
            ));
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError(format!(
                "cannot read the app secret file {}: {e}",
                path.display()
            ))
        })?;
        let secret = text.trim();
        if secret.is_empty() {
            return Err(ConfigError(format!(
                "the app secret file {} is empty",
                path.display()
            )));
        }
        Ok(Secret::new(secret.to_owned()))
    }

    /// The token store the settings name, opened (Redis: connected); `None` for the
    /// SDK's default file store.
    pub async fn open_token_store(&self) -> Result<Option<Arc<dyn TokenStore>>, ConfigError> {
        let Some(spec) = self.token_store.as_deref() else {
            return Ok(None);
        };
        check_store(spec).map_err(|why| ConfigError(format!("token store: {why}")))?;
        if spec == "file" {
            return Ok(None);
        }
        if let Some(dir) = spec.strip_prefix("file:") {
            let store = crate::FileTokenStore::builder(dir)
                .allow_shared_directory(self.shared_token_directory.unwrap_or(false))
                .open()
                .map_err(|e| ConfigError(format!("token store {dir}: {e}")))?;
            return Ok(Some(Arc::new(store)));
        }
        self.redis_store(spec).await
    }

    #[cfg(feature = "redis")]
    async fn redis_store(&self, url: &str) -> Result<Option<Arc<dyn TokenStore>>, ConfigError> {
        let prefix = self.redis_key_prefix.clone().unwrap_or_default();
        let store = crate::RedisTokenStore::connect(url, prefix)
            .await
            .map_err(|e| ConfigError(format!("Redis token store: {e}")))?;
        Ok(Some(Arc::new(store)))
    }

    #[cfg(not(feature = "redis"))]
    async fn redis_store(&self, _: &str) -> Result<Option<Arc<dyn TokenStore>>, ConfigError> {
        Err(ConfigError(
            "the token store is Redis, and this build of gree-ump has no `redis` feature".into(),
        ))
    }

    /// A client builder of these settings (the token store opened): add what else you
    /// set in code, then `build()`. Fails naming what is missing: the platform, the app
    /// id, the secret.
    pub async fn client_builder(&self) -> Result<ClientBuilder<Client>, ConfigError> {
        let mut builder = Client::builder();
        builder = match (&self.base_url, &self.preset) {
            (Some(url), _) => builder.base_url(url),
            (None, Some(preset)) => builder.preset(preset),
            (None, None) => {
                return Err(ConfigError(
                    "no platform: set UMP_BASE_URL, or UMP_PRESET (test, production)".into(),
                ));
            }
        };
        let Some(app_id) = &self.app_id else {
            return Err(ConfigError("no app id: set UMP_APP_ID".into()));
        };
        builder = builder
            .app_id(app_id)
            .app_secret(self.secret()?.expose())
            .allow_shared_token_directory(self.shared_token_directory.unwrap_or(false));
        if let Some(store) = self.open_token_store().await? {
            builder = builder.token_store(store);
        }
        Ok(builder)
    }
}

/// A client builder from the environment alone (see the [module](self)'s table), as
/// `aws_config::load_from_env` is for AWS.
pub async fn load_from_env() -> Result<ClientBuilder<Client>, ConfigError> {
    Settings::from_env()?.client_builder().await
}

/// `yes`/`no` (and `true`/`false`, `1`/`0`).
fn yes_or_no(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" => Some(true),
        "no" | "false" | "0" => Some(false),
        _ => None,
    }
}

/// Whether `spec` names a token store; why not, without the value (a URL may hold a
/// password).
/// `postgres://` or `postgresql://`.
fn is_postgres_url(spec: &str) -> bool {
    spec.starts_with("postgres://") || spec.starts_with("postgresql://")
}

/// A journal setting as messages show it: a file as it is, a URL without its password.
fn journal_shown(spec: &str) -> String {
    if !is_postgres_url(spec) {
        return spec.to_owned();
    }
    let Some((scheme, rest)) = spec.split_once("://") else {
        return spec.to_owned();
    };
    // The user info ends at the last `@` before the path.
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or("");
            format!("{scheme}://{user}@{}", &rest[at + 1..])
        }
        None => spec.to_owned(),
    }
}

#[cfg(feature = "sqlite")]
async fn sqlite_journal(
    path: PathBuf,
) -> Result<Arc<dyn crate::runtime::journal::JournalStore>, ConfigError> {
    let shown = path.display().to_string();
    // Opening blocks (the file's lock): off the async workers.
    let opened =
        tokio::task::spawn_blocking(move || crate::runtime::journal::SqliteJournal::open(&path))
            .await
            .map_err(|e| ConfigError(format!("journal {shown}: the opening thread failed: {e}")))?;
    let journal = opened.map_err(|e| ConfigError(format!("journal {shown}: {e}")))?;
    Ok(Arc::new(journal))
}

#[cfg(all(feature = "journal", not(feature = "sqlite")))]
async fn sqlite_journal(
    path: PathBuf,
) -> Result<Arc<dyn crate::runtime::journal::JournalStore>, ConfigError> {
    Err(ConfigError(format!(
        "journal {}: a SQLite journal, and this build of gree-ump has no `sqlite` feature",
        path.display()
    )))
}

/// The SDK's own state directory: created if missing, owner-only.
#[cfg(feature = "journal")]
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn check_store(spec: &str) -> Result<(), &'static str> {
    match store_kind(spec) {
        "(not a token store)" => Err("expected file, file:DIR or redis://host:port/db"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn the_environment_layer_and_its_precedence() {
        let s = Settings::from_vars(vars(&[
            ("UMP_BASE_URL", "http://127.0.0.1:9"),
            ("UMP_PRESET", "test"),
            ("UMP_APP_ID", "app"),
            ("UMP_APP_SECRET", "s3cr3t-env"),
            ("UMP_APP_SECRET_FILE", "/nonexistent"),
            ("UMP_TOKEN_STORE", "redis://:pa55word@127.0.0.1:6379/0"),
            ("UMP_REDIS_KEY_PREFIX", ""),
        ]))
        .unwrap();
        assert_eq!(s.app_secret_file, None, "the secret hides the file");
        assert_eq!(s.redis_key_prefix, None, "empty counts as unset");
        let shown = format!("{s:?}");
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("pa55word"),
            "{shown}"
        );
        // Flags over the environment over a file.
        let flags = Settings {
            preset: Some("production".into()),
            app_secret_file: Some("/run/secret".into()),
            ..Settings::default()
        };
        let file = Settings {
            app_id: Some("file-app".into()),
            redis_key_prefix: Some("mall:".into()),
            ..Settings::default()
        };
        let merged = flags.or(s).or(file);
        assert_eq!(merged.base_url, None, "a preset above hides the URL below");
        assert_eq!(merged.preset.as_deref(), Some("production"));
        assert_eq!(merged.app_id.as_deref(), Some("app"));
        assert!(
            merged.app_secret.is_none(),
            "a secret file above hides the secret below"
        );
        assert_eq!(merged.app_secret_file, Some(PathBuf::from("/run/secret")));
        assert_eq!(merged.redis_key_prefix.as_deref(), Some("mall:"));
    }

    #[test]
    fn errors_name_the_variable_never_the_value() {
        let e = Settings::from_vars(vars(&[("UMP_TOKEN_STORE_SHARED_DIR", "s3cr3t")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "UMP_TOKEN_STORE_SHARED_DIR: expected yes or no"
        );
        let e =
            Settings::from_vars(vars(&[("UMP_TOKEN_STORE", "mysql://u:pa55@h/db")])).unwrap_err();
        assert!(e.to_string().starts_with("UMP_TOKEN_STORE: "), "{e}");
        assert!(!e.to_string().contains("pa55"), "{e}");
    }

    #[tokio::test]
    async fn a_client_builder_needs_the_platform_the_app_and_the_secret() {
        let missing = |pairs: &[(&str, &str)]| {
            let s = Settings::from_vars(vars(pairs)).unwrap();
            async move { s.client_builder().await.err().unwrap().to_string() }
        };
        assert!(missing(&[]).await.contains("UMP_BASE_URL"));
        assert!(
            missing(&[("UMP_PRESET", "test")])
                .await
                .contains("UMP_APP_ID")
        );
        let no_secret = missing(&[("UMP_PRESET", "test"), ("UMP_APP_ID", "a")]).await;
        assert!(no_secret.contains("UMP_APP_SECRET"), "{no_secret}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "  s3cr3t-file\n").unwrap();
        let s = Settings::from_vars(vars(&[
            ("UMP_BASE_URL", "http://127.0.0.1:9"),
            ("UMP_APP_ID", "a"),
            ("UMP_APP_SECRET_FILE", file.to_str().unwrap()),
            (
                "UMP_TOKEN_STORE",
                &format!("file:{}", dir.path().join("t").display()),
            ),
        ]))
        .unwrap();
        assert_eq!(s.secret().unwrap().expose(), "s3cr3t-file");
        s.client_builder().await.unwrap().build().unwrap();
    }

    #[test]
    fn a_journal_url_is_shown_without_its_password() {
        assert_eq!(
            journal_shown("postgres://pos:pa55@word@db.internal:5432/mall?sslmode=disable"),
            "postgres://pos@db.internal:5432/mall?sslmode=disable"
        );
        assert_eq!(
            journal_shown("postgresql://db.internal/mall"),
            "postgresql://db.internal/mall"
        );
        assert_eq!(
            journal_shown("/var/lib/pos/j.sqlite3"),
            "/var/lib/pos/j.sqlite3"
        );
        let settings = Settings::from_vars(vars(&[
            ("UMP_JOURNAL", "postgres://pos:s3cr3t@db/mall"),
            ("UMP_JOURNAL_NAMESPACE", "mall_journal"),
        ]))
        .unwrap();
        assert_eq!(settings.journal_name(), "postgres://pos@db/mall");
        assert!(!format!("{settings:?}").contains("s3cr3t"), "{settings:?}");
        assert_eq!(settings.journal_namespace.as_deref(), Some("mall_journal"));
    }

    #[cfg(all(feature = "sqlite", feature = "journal"))]
    #[tokio::test]
    async fn the_journal_setting_opens_a_sqlite_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("j.sqlite3");
        let settings =
            Settings::from_vars(vars(&[("UMP_JOURNAL", file.to_str().unwrap())])).unwrap();
        let store = settings.open_journal_store().await.unwrap();
        assert_eq!(store.counts().await.unwrap().pending, 0);
        assert!(file.exists());
    }

    #[cfg(all(feature = "journal", not(feature = "postgres")))]
    #[tokio::test]
    async fn a_postgres_journal_without_the_feature_is_named_and_refused() {
        let settings =
            Settings::from_vars(vars(&[("UMP_JOURNAL", "postgres://u:s3cr3t@db/mall")])).unwrap();
        let e = settings.open_journal_store().await.unwrap_err().to_string();
        assert!(e.contains("no `postgres` feature"), "{e}");
        assert!(!e.contains("s3cr3t"), "{e}");
    }
}
