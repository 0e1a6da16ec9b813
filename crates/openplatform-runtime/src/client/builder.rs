//! Client configuration, checked once at `build()`.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use super::styles::{self, Nonces};
use super::{Client, DEFAULT_MAX_RESPONSE_BYTES, Inner, RetryPolicy};
use crate::clock::{Clock, DEFAULT_MAX_SKEW_MS, SkewCorrectedClock, SystemClock};
use crate::protocol::{ProtocolInfo, SigningScheme};
use crate::signer::Signer;
use crate::tokens::{
    FileTokenStore, MemoryTokenStore, Secret, TokenManager, TokenPolicy, TokenStore,
};

/// Connect timeout of the default HTTP client.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Whole-request timeout (connect, send, wait, read the body) by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds a [`Client`] (or a generated crate's client, `T`, which wraps one). Required: a
/// base URL (or preset), the app id, and the app secret — or, for an API whose signing
/// scheme is [`SigningScheme::Pluggable`], a [`Signer`] instead of the app secret; and the
/// grant code where the envelope carries one ([`EnvelopeStyle::ZvcmsAction`](crate::EnvelopeStyle::ZvcmsAction)).
pub struct ClientBuilder<T = Client> {
    output: PhantomData<fn() -> T>,
    protocol: &'static ProtocolInfo,
    base_url: Option<String>,
    preset: Option<String>,
    app_id: Option<String>,
    app_secret: Option<Secret>,
    signer: Option<Arc<dyn Signer>>,
    grant_code: Option<Secret>,
    http: Option<reqwest::Client>,
    connect_timeout: Duration,
    timeout: Option<Duration>,
    max_response_bytes: usize,
    retry: RetryPolicy,
    store: Option<Arc<dyn TokenStore>>,
    shared_token_directory: bool,
    policy: Option<TokenPolicy>,
    clock: Option<Arc<dyn Clock>>,
    max_clock_skew: Duration,
    adopt_unscoped: bool,
    log_request_bodies: bool,
    document_verbs: bool,
}

impl<T> fmt::Debug for ClientBuilder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("api", &self.protocol.api)
            .field("base_url", &self.base_url.as_deref().map(without_userinfo))
            .field("preset", &self.preset)
            .field("app_id", &self.app_id)
            .field("app_secret", &self.app_secret)
            .field("grant_code", &self.grant_code)
            .field("signer", &self.signer)
            .field("timeout", &self.timeout)
            .field("store", &self.store)
            .field(
                "log_request_bodies_with_personal_data",
                &self.log_request_bodies,
            )
            .finish_non_exhaustive()
    }
}

/// A configuration the client cannot work with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid client configuration: {}", self.0)
    }
}

impl std::error::Error for ConfigError {}

impl<T: From<Client>> ClientBuilder<T> {
    /// A builder for the API described by `protocol` (a generated crate's `PROTOCOL`).
    pub fn for_api(protocol: &'static ProtocolInfo) -> Self {
        ClientBuilder {
            output: PhantomData,
            protocol,
            base_url: None,
            preset: None,
            app_id: None,
            app_secret: None,
            signer: None,
            grant_code: None,
            http: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: Some(DEFAULT_TIMEOUT),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            retry: RetryPolicy::default(),
            store: None,
            shared_token_directory: false,
            policy: None,
            clock: None,
            max_clock_skew: Duration::from_millis(DEFAULT_MAX_SKEW_MS as u64),
            adopt_unscoped: false,
            log_request_bodies: false,
            document_verbs: false,
        }
    }

    /// Any base URL (`http://127.0.0.1:8080`, a proxy with a path prefix…).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// A base URL the document names (`test`, `production`; see `PROTOCOL.base_urls`).
    pub fn preset(mut self, name: impl Into<String>) -> Self {
        self.preset = Some(name.into());
        self
    }

    /// The app id the platform issued (UMP's `app_id`, zvcms's `OpenId`); required.
    pub fn app_id(mut self, app_id: impl Into<String>) -> Self {
        self.app_id = Some(app_id.into());
        self
    }

    /// The app secret. Kept as a [`Secret`]: never printed.
    pub fn app_secret(mut self, secret: impl Into<String>) -> Self {
        self.app_secret = Some(Secret::new(secret.into()));
        self
    }

    /// Your own `reqwest::Client` (TLS, proxy, pool settings). The request timeout of this
    /// builder is still applied per request; its connect timeout is then yours to set.
    ///
    /// Build it with `.redirect(reqwest::redirect::Policy::none())`: reqwest follows
    /// redirects by default and re-sends the request (its access token, signature and
    /// body) to the new address. The SDK cannot see or change that policy; what it does
    /// is never take a redirect, or a reply from another URL than the one it sent, for
    /// an answer ([`HttpError::is_redirect`](crate::HttpError::is_redirect)).
    ///
    /// With the default `rustls-ring` TLS, build it after
    /// [`install_tls_provider`](crate::install_tls_provider) (reqwest panics without a
    /// rustls crypto provider, unless another crate enables reqwest's own `rustls`).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// How long to wait for a connection to open (default
    /// [`DEFAULT_CONNECT_TIMEOUT`]); not applied to a client set with
    /// [`http_client`](Self::http_client).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The whole-request timeout; `None` disables it (not recommended).
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest response body accepted.
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// How transient failures of reads and keyed writes are retried (default: three
    /// attempts); [`RetryPolicy::NONE`] turns retries off.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Where tokens live. Default: a [`FileTokenStore`] in the user's state directory
    /// (`$XDG_STATE_HOME/<api>/tokens`, i.e. `~/.local/state/<api>/tokens` on Linux; the
    /// local data directory elsewhere), so a restart never spends the day's only
    /// token-issuing call again; its location is logged at info. Use a shared store when
    /// several hosts use the same app (`RedisTokenStore`), and
    /// [`MemoryTokenStore`] only where a restart at
    /// most once a day is certain (tests).
    pub fn token_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Accepts a default token store directory that other users can write, or that
    /// another user owns (default: refused, with an error naming the directory and the
    /// fix). See [`FileTokenStoreBuilder::allow_shared_directory`](crate::tokens::FileTokenStoreBuilder::allow_shared_directory);
    /// a store given to [`token_store`](Self::token_store) has its own setting.
    pub fn allow_shared_token_directory(mut self, allow: bool) -> Self {
        self.shared_token_directory = allow;
        self
    }

    /// Adopt a token record that an earlier version stored under the bare app id (before
    /// keys named the API and host). Off by default: with several hosts (test and
    /// production) under one app id, that record may be another host's. Turn it on for
    /// the one host that wrote it; the record is copied to the scoped key once.
    pub fn adopt_unscoped_token_record(mut self, adopt: bool) -> Self {
        self.adopt_unscoped = adopt;
        self
    }

    /// The largest clock correction taken from the platform's `Date` header (default 10
    /// minutes; see [`DEFAULT_MAX_SKEW_MS`]). Headers further off are ignored and logged.
    pub fn max_clock_skew(mut self, bound: Duration) -> Self {
        self.max_clock_skew = bound;
        self
    }

    /// How tokens are renewed and budgeted ([`TokenPolicy`]). Daily limits above those the
    /// document states are lowered to them.
    pub fn token_policy(mut self, policy: TokenPolicy) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Sends the endpoints whose document marks another verb than the spec sends (UMP's
    /// 3.8, 5.4 and 5.5, marked GET: errata E01) with the document's verb from the first
    /// call, their business fields in the signed query. Off by default: they are sent as
    /// the spec says (POST with a JSON body).
    ///
    /// Either way the client follows the platform: a call it refuses for its verb (an
    /// HTTP 405, or its parameter error naming the other verb) is re-sent once with the
    /// other, which that endpoint then keeps for the client's life and, through the token
    /// store, for the next process. Turn this on when the platform is known to want the
    /// document's verbs, to spare each endpoint's first refused call.
    pub fn send_document_verbs(mut self, on: bool) -> Self {
        self.document_verbs = on;
        self
    }

    /// Logs every request body, **personal data unredacted** (phone numbers, ID-card
    /// numbers, names, addresses…), as a DEBUG `tracing` event `request body` (field
    /// `body`) before it is sent. Off by default: without it no log record, error text or
    /// `Debug` output of the SDK carries a request's personal data. Turn it on only where
    /// your logs may hold your customers' personal data (a local debugging session).
    /// Credentials and signatures are still scrubbed from the logged body.
    pub fn log_request_bodies_with_personal_data(mut self, on: bool) -> Self {
        self.log_request_bodies = on;
        self
    }

    /// The local clock (default: the system's). Tests use a manual clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Checks the configuration and builds the client: an error names what is missing or
    /// wrong (no base URL, no app id, a secret or signer the signing scheme does not take…).
    pub fn build(self) -> Result<T, ConfigError> {
        let protocol = self.protocol;
        let base_url = match (self.base_url, self.preset) {
            (Some(url), _) => url,
            (None, Some(preset)) => protocol
                .base_url(&preset)
                .ok_or_else(|| {
                    let names: Vec<&str> = protocol.base_urls.iter().map(|(n, _)| *n).collect();
                    ConfigError(format!(
                        "unknown base URL preset {preset:?}; the document names {}",
                        names.join(", ")
                    ))
                })?
                .to_owned(),
            (None, None) => {
                return Err(ConfigError(
                    "no base URL: set `base_url` or `preset`".into(),
                ));
            }
        };
        // Every message names the URL without its user name and password.
        let shown = without_userinfo(&base_url);
        // Refused rather than redacted everywhere: the platform authenticates by app id
        // and signature, and a password in the URL would travel in every request line a
        // proxy logs. Any `@` counts, before parsing: a password holding `/`, `?` or `#`
        // ends the authority early, and the URL then fails to parse (or parses) with the
        // password in its port, path or query, where no parser sees a password.
        if base_url.contains('@') {
            return Err(ConfigError(format!(
                "base URL {shown:?} carries a user name or password (it holds an `@`); the \
                 platform takes none (it authenticates by app id and signature): remove them \
                 from the URL"
            )));
        }
        let parsed = reqwest::Url::parse(&base_url)
            .map_err(|e| ConfigError(format!("base URL {shown:?} is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(ConfigError(format!(
                "base URL {shown:?} must be http or https"
            )));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(ConfigError(format!(
                "base URL {shown:?} must not carry a query or fragment"
            )));
        }
        let app_id = self
            .app_id
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| ConfigError("app_id is not set".into()))?;
        let app_secret = self.app_secret.filter(|s| !s.expose().is_empty());
        let (app_secret, signer) = match (protocol.signing, app_secret, self.signer) {
            (SigningScheme::UmpMd5, Some(secret), None) => (Some(secret), None),
            (SigningScheme::UmpMd5, None, _) => {
                return Err(ConfigError("app_secret is not set".into()));
            }
            (SigningScheme::UmpMd5, Some(_), Some(_)) => {
                return Err(ConfigError(format!(
                    "{} signs with its own scheme ({:?}); a signer is not used: remove it",
                    protocol.api, protocol.signing
                )));
            }
            (SigningScheme::Pluggable, None, Some(signer)) => (None, Some(signer)),
            (SigningScheme::Pluggable, _, None) => {
                return Err(ConfigError(format!(
                    "{}: no signer is set. Its document does not publish the signing \
                     algorithm, so there is no default: choose one with `.signer(…)` (see \
                     `openplatform_runtime::signer`) and confirm it with the vendor",
                    protocol.api
                )));
            }
            (SigningScheme::Pluggable, Some(_), Some(_)) => {
                return Err(ConfigError(format!(
                    "{} signs with the signer you set: give the secret to the signer, not to \
                     `app_secret`",
                    protocol.api
                )));
            }
        };
        let grant_code = self.grant_code.filter(|g| !g.expose().trim().is_empty());
        // What every style needs of its envelope keys, then what the style itself needs
        // (styles/: one module per style).
        protocol.envelope_keys.check().map_err(|e| {
            ConfigError(format!(
                "{}: {e} (regenerate it from a valid spec)",
                protocol.api
            ))
        })?;
        styles::of(protocol.envelope)
            .check_config(protocol, grant_code.is_some())
            .map_err(ConfigError)?;
        let http = match self.http {
            Some(client) => client,
            // Redirects are never followed: reqwest's default follows up to 10 and
            // re-sends a 307/308 POST, query (access token, signature) and body (phone,
            // ID card), to whatever host the `Location` names.
            None => {
                #[cfg(feature = "rustls-ring")]
                install_tls_provider();
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .connect_timeout(self.connect_timeout)
                    .build()
                    .map_err(|e| ConfigError(format!("HTTP client: {}", e.without_url())))?
            }
        };
        let mut policy = self.policy.unwrap_or_default();
        if let Some(tokens) = &protocol.tokens {
            // Limits the document states are the ceiling; a policy may only be stricter.
            if let Some(limit) = tokens.obtain_daily_limit {
                policy.obtain_daily_limit = policy.obtain_daily_limit.min(limit);
            }
            if let Some(limit) = tokens.refresh_daily_limit {
                policy.refresh_daily_limit = policy.refresh_daily_limit.min(limit);
            }
        }
        let clock = Arc::new(SkewCorrectedClock::with_bound(
            self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            i64::try_from(self.max_clock_skew.as_millis()).unwrap_or(i64::MAX),
        ));
        let store: Arc<dyn TokenStore> = match self.store {
            Some(store) => store,
            // An API without token calls keeps no token state.
            None if protocol.tokens.is_none() => Arc::new(MemoryTokenStore::new()),
            None => default_store(protocol.api, self.shared_token_directory)?,
        };
        // A token call may be sent twice (once more after a clock correction).
        let call_deadline = self
            .timeout
            .map_or(Duration::from_secs(600), |t| t.saturating_mul(2))
            .saturating_add(Duration::from_secs(5));
        let key = TokenManager::store_key(protocol.api, parsed.as_str(), &app_id);
        let mut tokens = TokenManager::new(store, key, policy, clock.clone())
            .with_call_deadline(call_deadline)
            .with_utc_offset(protocol.utc_offset_s)
            .with_unscoped_key(app_id.clone(), self.adopt_unscoped);
        if let Some(t) = &protocol.tokens {
            tokens = tokens.with_nominal_lifetime(Duration::from_secs(t.access_token_lifetime_s));
        }
        Ok(T::from(Client {
            inner: Arc::new(Inner {
                recent: std::sync::Mutex::new(super::Recent::new(
                    [app_secret.clone(), grant_code.clone()]
                        .into_iter()
                        .flatten(),
                )),
                protocol,
                base_url: base_url.trim_end_matches('/').to_owned(),
                app_id,
                app_secret,
                signer,
                grant_code,
                nonces: Nonces::new(),
                http,
                timeout: self.timeout,
                max_response_bytes: self.max_response_bytes,
                retry: self.retry,
                clock,
                tokens,
                log_request_bodies: self.log_request_bodies,
                verbs: super::verbs::Verbs::new(self.document_verbs),
                urls: Default::default(),
            }),
        }))
    }
}

/// The default token store: a file store in the user's state directory. Failing to
/// create it is a configuration error naming the directory: falling back to memory would
/// silently spend the day's token-issuing call on every restart.
fn default_store(api: &str, allow_shared: bool) -> Result<Arc<dyn TokenStore>, ConfigError> {
    let base = dirs::state_dir()
        .or_else(dirs::data_local_dir)
        .ok_or_else(|| {
            ConfigError(
                "no per-user state directory is known on this system for the default token \
                 store: choose one with `token_store(…)`"
                    .into(),
            )
        })?;
    default_store_in(&base, api, allow_shared)
}

/// The default file store, in `base` (the state directory).
fn default_store_in(
    base: &std::path::Path,
    api: &str,
    allow_shared: bool,
) -> Result<Arc<dyn TokenStore>, ConfigError> {
    let dir = base.join(api).join("tokens");
    let store = FileTokenStore::builder(&dir)
        .allow_shared_directory(allow_shared)
        .open()
        .map_err(|e| {
            // The store names its own opt-in; this builder's has another name.
            let opt_in = if e.message().contains("allow_shared_directory") {
                " (the opt-in on this builder: `allow_shared_token_directory(true)`)"
            } else {
                ""
            };
            ConfigError(format!(
                "the default token store cannot be created ({e}){opt_in}; choose one with \
                 `token_store(…)`"
            ))
        })?;
    tracing::info!(dir = %dir.display(), "token state is kept in the default file store");
    Ok(Arc::new(store))
}

/// `url` with everything between the scheme and its last `@` replaced by `[REDACTED]`,
/// for messages and Debug output. Works on text that does not parse as a URL; the last
/// `@`, not the authority's, because a password may hold `/`, `?` or `#`.
pub(crate) fn without_userinfo(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    match url[start..].rfind('@') {
        Some(at) => format!("{}[REDACTED]{}", &url[..start], &url[start + at..]),
        None => url.to_owned(),
    }
}

/// With the `rustls-ring` feature (the default), reqwest takes rustls's process-wide
/// crypto provider, and panics when it builds a client without one: this installs ring's,
/// unless the application installed its own (which stands). [`ClientBuilder::build`]
/// calls it; call it yourself before building a `reqwest::Client` of your own (for
/// [`ClientBuilder::http_client`], say) when nothing else in your build enables reqwest's
/// `rustls` feature. Idempotent and cheap.
#[cfg(feature = "rustls-ring")]
pub fn install_tls_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // An error means another thread installed one meanwhile: that one stands.
        // rustls 0.23.48 deprecates ring's provider (it has no post-quantum key
        // exchange); ring is what this feature is for (no C toolchain for aws-lc-rs), and
        // a user's newer lockfile must not turn that into a warning in their build.
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// A client type whose envelope carries a grant code besides the app id (the generator
/// implements it for the APIs of such a style, `zvcms_action`; the runtime's own generic
/// [`Client`] has it too, and its `build()` checks the code against the protocol). The
/// builder of any other API has no `grant_code` method at all.
pub trait CarriesGrantCode {}

impl CarriesGrantCode for Client {}

/// A client type whose API signs with a signer the user chooses
/// ([`SigningScheme::Pluggable`]): the generator implements it for those APIs, and the
/// runtime's generic [`Client`] has it too. The builder of an API with its own scheme
/// has no `signer` method.
pub trait TakesSigner {}

impl TakesSigner for Client {}

impl<T: From<Client> + TakesSigner> ClientBuilder<T> {
    /// The signer of requests, for an API whose signing scheme is
    /// [`SigningScheme::Pluggable`]: its document does not publish the algorithm, so the
    /// runtime has none and `build()` fails until you choose one. The secret belongs to
    /// the signer (e.g. [`CanonicalSigner::hmac_sha1`](crate::signer::CanonicalSigner::hmac_sha1)),
    /// not to [`app_secret`](Self::app_secret). Confirm the algorithm with the vendor.
    pub fn signer(mut self, signer: Arc<dyn Signer>) -> Self {
        self.signer = Some(signer);
        self
    }
}

impl<T: From<Client> + CarriesGrantCode> ClientBuilder<T> {
    /// The grant (authorisation) code the envelope carries (`zvcms_action`: `GrantCode`).
    /// Kept as a [`Secret`]: never printed.
    pub fn grant_code(mut self, code: impl Into<String>) -> Self {
        self.grant_code = Some(Secret::new(code.into()));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::without_userinfo;

    #[test]
    fn userinfo_is_cut_from_any_text() {
        assert_eq!(
            without_userinfo("https://u:p@h.example/x@y"),
            "https://[REDACTED]@y"
        );
        assert_eq!(
            without_userinfo("http://u:s3cr/et@h.example/"),
            "http://[REDACTED]@h.example/"
        );
        assert_eq!(without_userinfo("u:p@h:bad"), "[REDACTED]@h:bad");
        assert_eq!(without_userinfo("http://h/a"), "http://h/a");
        assert_eq!(without_userinfo(""), "");
    }

    /// The default store refuses a state directory others can write, naming this
    /// builder's opt-in, and takes it with the opt-in.
    #[cfg(unix)]
    #[test]
    fn the_default_store_refuses_a_shared_directory_unless_opted_in() {
        use std::os::unix::fs::PermissionsExt;
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("api").join("tokens");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let text = super::default_store_in(base.path(), "api", false)
            .expect_err("a shared directory is refused")
            .to_string();
        assert!(text.contains(&dir.display().to_string()), "{text}");
        assert!(
            text.contains("allow_shared_token_directory(true)"),
            "{text}"
        );
        assert!(super::default_store_in(base.path(), "api", true).is_ok());
    }
}
