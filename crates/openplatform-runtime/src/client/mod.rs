//! The client: configuration, and one generic [`Client::send`] for every endpoint.

mod builder;
mod call;
mod decode;
mod dry_run;
mod paging;
mod retry;
mod send;
pub(crate) mod styles;
mod token_calls;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "rustls-ring")]
pub use builder::install_tls_provider;
pub use builder::{
    CarriesGrantCode, ClientBuilder, ConfigError, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT,
    TakesSigner,
};
pub use call::Call;
pub use decode::decode_response;
pub use dry_run::{DryRun, DryRunToken};
pub use paging::{DEFAULT_MAX_PAGES, Items};
pub use retry::{CallOptions, RetryPolicy};

use crate::clock::SkewCorrectedClock;
use crate::envelope::PageInfo;
use crate::protocol::ProtocolInfo;
use crate::signer::Signer;
use crate::tokens::{Secret, TokenManager};

/// The default cap on a response body. Larger replies are refused, not buffered.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// A client of one API (its [`ProtocolInfo`]) for one app. Cheap to clone: clones share
/// the connection pool, the token and the clock correction.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    protocol: &'static ProtocolInfo,
    /// The base URL without a trailing slash.
    base_url: String,
    app_id: String,
    /// For the runtime's own signing schemes; `None` with a pluggable signer.
    app_secret: Option<Secret>,
    /// The user's signer, for `SigningScheme::Pluggable`.
    signer: Option<Arc<dyn Signer>>,
    /// The grant code, for envelopes that carry one (`zvcms_action`).
    grant_code: Option<Secret>,
    nonces: styles::Nonces,
    http: reqwest::Client,
    /// Applied per request, also when the user supplied the `reqwest::Client`.
    timeout: Option<Duration>,
    max_response_bytes: usize,
    retry: RetryPolicy,
    clock: Arc<SkewCorrectedClock>,
    tokens: TokenManager,
    /// Tokens and signatures recently sent (current and previous), scrubbed from every
    /// text a reply produces: a hostile server may quote an earlier request.
    recent: std::sync::Mutex<Recent>,
    /// The user's opt-in to logging request bodies with their personal data
    /// ([`ClientBuilder::log_request_bodies_with_personal_data`]).
    log_request_bodies: bool,
    /// Each method's URL without its query, parsed once (`method_url`).
    urls: std::sync::RwLock<std::collections::HashMap<&'static str, reqwest::Url>>,
}

impl Client {
    /// The URL of `method` without a query: the base URL and the path template, parsed
    /// on the method's first call and cloned after that (parsing on every call cost about
    /// a microsecond, issue 19). A method name is `'static`, so the cache holds at most
    /// one entry per endpoint.
    pub(crate) fn method_url(
        &self,
        method: &'static str,
    ) -> Result<reqwest::Url, crate::error::TransportError> {
        let read = self
            .inner
            .urls
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(url) = read.get(method) {
            return Ok(url.clone());
        }
        drop(read);
        let url = reqwest::Url::parse(&format!(
            "{}{}",
            self.inner.base_url,
            self.inner.protocol.path(method)
        ))
        .map_err(|e| crate::error::TransportError::invalid_url(method, &e))?;
        self.inner
            .urls
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(method, url.clone());
        Ok(url)
    }
}

/// The tokens and signatures sent lately, and the scrubber of them and of the app's
/// credentials, kept up to date as they come and go: building it on every call (some 70
/// values) cost more than the rest of the call (issue 19).
pub(crate) struct Recent {
    secrets: std::collections::VecDeque<Secret>,
    /// Shared with the calls in flight; changed in place when none holds it any more
    /// (`Arc::make_mut`), so a call costs no copy of it.
    scrubber: Arc<crate::redact::Scrubber>,
}

impl Recent {
    /// Knows the app's own credentials from the start.
    pub(crate) fn new(credentials: impl IntoIterator<Item = Secret>) -> Self {
        let mut scrubber = crate::redact::Scrubber::new();
        for c in credentials {
            scrubber.add_shared(c.shared());
        }
        Recent {
            secrets: Default::default(),
            scrubber: Arc::new(scrubber),
        }
    }

    /// Remembers `secret` (once), forgetting the oldest beyond [`RECENT_SECRETS`].
    pub(crate) fn remember(&mut self, secret: Secret) {
        if self.secrets.iter().any(|s| s.expose() == secret.expose()) {
            return;
        }
        let scrubber = Arc::make_mut(&mut self.scrubber);
        scrubber.add_shared(secret.shared());
        self.secrets.push_back(secret);
        while self.secrets.len() > RECENT_SECRETS {
            if let Some(old) = self.secrets.pop_front() {
                scrubber.remove(old.expose());
            }
        }
    }

    /// The scrubber of everything remembered and of the app's credentials.
    pub(crate) fn scrubber(&self) -> Arc<crate::redact::Scrubber> {
        Arc::clone(&self.scrubber)
    }
}

/// How many recent tokens and signatures are remembered for scrubbing.
const RECENT_SECRETS: usize = 64;

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("Client")
            .field("api", &inner.protocol.api)
            .field("base_url", &inner.base_url)
            .field("app_id", &inner.app_id)
            .field("app_secret", &inner.app_secret)
            .field("grant_code", &inner.grant_code)
            .field("signer", &inner.signer)
            .field("timeout", &inner.timeout)
            .field("clock_offset_ms", &inner.clock.offset_ms())
            .field("tokens", &inner.tokens)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts configuring a client of the API described by `protocol` (the generated
    /// crate's `PROTOCOL`).
    pub fn builder(protocol: &'static ProtocolInfo) -> ClientBuilder {
        ClientBuilder::for_api(protocol)
    }

    /// The protocol facts of the API this client calls.
    pub fn protocol(&self) -> &'static ProtocolInfo {
        self.inner.protocol
    }

    /// The base URL requests go to (a preset's, or the one set on the builder).
    pub fn base_url(&self) -> &str {
        &self.inner.base_url
    }

    /// The token manager (for monitoring and operators: calls made, last store error,
    /// [`status`](TokenManager::status) of the shared token state,
    /// [`clear_pending_obtain`](TokenManager::clear_pending_obtain)).
    pub fn tokens(&self) -> &TokenManager {
        &self.inner.tokens
    }

    /// The measured offset of the platform's clock from ours, in milliseconds.
    pub fn clock_offset_ms(&self) -> i64 {
        self.inner.clock.offset_ms()
    }
}

/// A successful reply: its `data` (absent when the platform sent none or `null`) and the
/// paging facts of its envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Response<T> {
    /// The decoded `data`; `None` when the reply had no `data` or `null`.
    pub data: Option<T>,
    /// The paging fields of the envelope (all `None` for unpaged endpoints).
    pub page: PageInfo,
    /// The HTTP status of the reply.
    pub status: u16,
}

impl<T: Default> Response<T> {
    /// The data, or its empty value when the reply had none.
    pub fn into_data(self) -> T {
        self.data.unwrap_or_default()
    }
}
