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
mod verbs;

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
use crate::secret::Secret;
use crate::signer::Signer;
use crate::tokens::TokenManager;

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
    /// The verb each endpoint is sent with, as learnt from the platform.
    verbs: verbs::Verbs,
    /// Each method's URL without its query, parsed once (`method_url`).
    urls: std::sync::RwLock<std::collections::HashMap<&'static str, reqwest::Url>>,
}

impl Client {
    /// The URL of `method` without a query: the base URL and the path template, parsed
    /// on the method's first call and cloned after that (parsing on every call cost about
    /// a microsecond). A method name is `'static`, so the cache holds at most
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
/// values) cost more than the rest of the call (measured).
///
/// Tokens and signatures are kept apart: a call sends the same token again (found at
/// once, the same shared text) and a new signature (never looked for: counting its uses
/// in the scrubber makes a repeated one harmless). Looking each one up among all 64
/// cost a cache miss per entry on every call.
pub(crate) struct Recent {
    /// Newest last.
    tokens: std::collections::VecDeque<Secret>,
    /// Newest last; a signature sent twice is here twice.
    signatures: std::collections::VecDeque<Secret>,
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
            tokens: Default::default(),
            signatures: Default::default(),
            scrubber: Arc::new(scrubber),
        }
    }

    /// Remembers a token (once), forgetting the one sent longest ago beyond
    /// [`RECENT_TOKENS`]: a token sent again becomes the newest, so a refresh token in use
    /// for days never ages out behind the access tokens it obtained.
    pub(crate) fn remember_token(&mut self, token: Secret) {
        let known = self
            .tokens
            .iter()
            .rposition(|t| Arc::ptr_eq(t.shared(), token.shared()) || t.expose() == token.expose());
        match known {
            // Already the newest: the common case, every call.
            Some(i) if i + 1 == self.tokens.len() => {}
            Some(i) => {
                if let Some(t) = self.tokens.remove(i) {
                    self.tokens.push_back(t);
                }
            }
            None => Self::push(&mut self.scrubber, &mut self.tokens, token, RECENT_TOKENS),
        }
    }

    /// Remembers a signature, forgetting the oldest beyond [`RECENT_SIGNATURES`].
    pub(crate) fn remember_signature(&mut self, signature: Secret) {
        Self::push(
            &mut self.scrubber,
            &mut self.signatures,
            signature,
            RECENT_SIGNATURES,
        );
    }

    fn push(
        scrubber: &mut Arc<crate::redact::Scrubber>,
        list: &mut std::collections::VecDeque<Secret>,
        secret: Secret,
        cap: usize,
    ) {
        let scrubber = Arc::make_mut(scrubber);
        scrubber.add_shared(secret.shared());
        list.push_back(secret);
        while list.len() > cap {
            if let Some(old) = list.pop_front() {
                scrubber.remove(old.shared());
            }
        }
    }

    /// The scrubber of everything remembered and of the app's credentials.
    pub(crate) fn scrubber(&self) -> Arc<crate::redact::Scrubber> {
        Arc::clone(&self.scrubber)
    }
}

/// How many recent tokens (access and refresh, current and previous) are remembered for
/// scrubbing.
const RECENT_TOKENS: usize = 16;

/// How many recent signatures are remembered for scrubbing: a server may quote an
/// earlier request's.
const RECENT_SIGNATURES: usize = 64;

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

#[cfg(test)]
mod tests {
    use super::{RECENT_SIGNATURES, RECENT_TOKENS, Recent};
    use crate::secret::Secret;

    fn sig(i: usize) -> Secret {
        Secret::new(format!("{i:032x}"))
    }

    /// A call sends the same token and a new signature: the token outlives any number of
    /// signatures, and exactly the last 64 signatures are kept.
    #[test]
    fn the_current_token_outlives_signatures_and_the_last_signatures_are_kept() {
        let mut recent = Recent::new([Secret::new("app-secret-1")]);
        let token = Secret::new("token-current-0001");
        for i in 0..1_000 {
            recent.remember_token(token.clone());
            recent.remember_signature(sig(i));
        }
        let s = recent.scrubber();
        assert!(s.finds(b"x token-current-0001 y"));
        assert!(s.finds(b"app-secret-1"));
        for i in 1_000 - RECENT_SIGNATURES..1_000 {
            assert!(s.finds(sig(i).expose().as_bytes()), "signature {i}");
        }
        assert!(!s.finds(sig(1_000 - RECENT_SIGNATURES - 1).expose().as_bytes()));
        assert_eq!(
            recent.tokens.len(),
            1,
            "a token sent again is not a new entry"
        );
    }

    /// The same signature sent twice (two identical calls in one millisecond) stays
    /// scrubbed until its last copy ages out.
    #[test]
    fn a_repeated_signature_stays_until_its_last_copy_ages_out() {
        let mut recent = Recent::new([]);
        recent.remember_signature(sig(7));
        for i in 0..RECENT_SIGNATURES / 2 {
            recent.remember_signature(sig(1_000 + i));
        }
        recent.remember_signature(sig(7));
        // The first copy ages out; the second is still among the last 64.
        for i in 0..RECENT_SIGNATURES / 2 + 1 {
            recent.remember_signature(sig(2_000 + i));
        }
        assert!(recent.scrubber().finds(sig(7).expose().as_bytes()));
        for i in 0..RECENT_SIGNATURES {
            recent.remember_signature(sig(3_000 + i));
        }
        assert!(!recent.scrubber().finds(sig(7).expose().as_bytes()));
    }

    /// A token sent again becomes the newest: a refresh token in use outlives any number
    /// of access tokens.
    #[test]
    fn a_token_sent_again_becomes_the_newest() {
        let mut recent = Recent::new([]);
        let refresh = Secret::new("refresh-token-in-use");
        recent.remember_token(refresh.clone());
        for i in 0..10 * RECENT_TOKENS {
            recent.remember_token(Secret::new(format!("access-{i:04}")));
            assert!(
                recent.scrubber().finds(b"refresh-token-in-use"),
                "forgotten after access token {i}"
            );
            if i % (RECENT_TOKENS / 2) == 0 {
                recent.remember_token(refresh.clone());
            }
        }
        assert_eq!(recent.tokens.len(), RECENT_TOKENS);
    }

    /// Tokens age out by tokens, never by signatures: the last 16 distinct ones are kept.
    #[test]
    fn the_last_tokens_are_kept() {
        let mut recent = Recent::new([]);
        let token = |i: usize| Secret::new(format!("token-{i:04}"));
        for i in 0..RECENT_TOKENS + 3 {
            recent.remember_token(token(i));
            recent.remember_token(token(i));
            recent.remember_signature(sig(i));
        }
        let s = recent.scrubber();
        for i in 3..RECENT_TOKENS + 3 {
            assert!(s.finds(token(i).expose().as_bytes()), "token {i}");
        }
        for i in 0..3 {
            assert!(!s.finds(token(i).expose().as_bytes()), "token {i}");
        }
    }
}
