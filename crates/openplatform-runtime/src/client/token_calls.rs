//! The token calls (the spec's `protocol.tokens`), made by the client for its manager.

use bytes::Bytes;
use serde_json::Value;

use super::Client;
use super::decode::DataRule;
use super::send::CredentialParam;
use crate::clock::Clock;
use crate::endpoint::Verb;
use crate::error::{Error, Sent, TokenError};
use crate::error_code::{ApiErrorCode, ErrorCategory};
use crate::protocol::TokenProtocol;
use crate::secret::Secret;
use crate::tokens::{BudgetKind, RefreshOutcome, TokenGrant, TokenIssuer};

/// An error-code type for the token calls, whose codes only travel as numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RawCode(i64);

impl std::fmt::Display for RawCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl ApiErrorCode for RawCode {
    fn from_code(code: i64) -> Self {
        RawCode(code)
    }
    fn code(&self) -> i64 {
        self.0
    }
    fn message(&self) -> Option<&'static str> {
        None
    }
    fn category(&self) -> ErrorCategory {
        ErrorCategory::Unknown
    }
    fn is_retryable(&self) -> bool {
        false
    }
}

impl Client {
    fn token_protocol(&self) -> Result<&'static TokenProtocol, TokenError> {
        self.inner
            .protocol
            .tokens
            .as_ref()
            .ok_or(TokenError::NotConfigured(
                "this API declares no token calls",
            ))
    }

    async fn token_call(
        &self,
        kind: BudgetKind,
        credential: CredentialParam<'_>,
    ) -> Result<TokenGrant, TokenError> {
        let tokens = self.token_protocol()?;
        let method = match kind {
            BudgetKind::Obtain => tokens.obtain_method,
            BudgetKind::Refresh => tokens.refresh_method,
        };
        // A process that has not heard the platform yet starts from the clock offset
        // another one measured: a token call refused for its timestamp cannot always be
        // re-sent (the day's one token-issuing call).
        if !self.inner.clock.has_observed()
            && let Some(offset) = self.inner.tokens.stored_clock_offset().await
            && self.inner.clock.adopt_offset_ms(offset)
        {
            tracing::debug!(offset_ms = offset, "starting from the stored clock offset");
        }
        let offset_at_start = self.inner.clock.offset_ms();
        let result = self.token_exchange(kind, method, credential).await;
        if self.skew_changed(offset_at_start) {
            self.inner
                .tokens
                .store_clock_offset(self.inner.clock.offset_ms())
                .await;
        }
        result
    }

    /// [`Client::token_call`]'s exchanges: the call, and its one re-send after a clock
    /// correction when the budget has a unit for it.
    async fn token_exchange(
        &self,
        kind: BudgetKind,
        method: &'static str,
        credential: CredentialParam<'_>,
    ) -> Result<TokenGrant, TokenError> {
        let tokens = self.token_protocol()?;
        // A server may quote the request in its error text: the refresh token is masked.
        let masked = |text: String| match credential {
            CredentialParam::RefreshToken(t) if !t.expose().is_empty() => {
                text.replace(t.expose(), "[REDACTED]")
            }
            _ => text,
        };
        // Whether an earlier exchange of this call got a reply (it reached the platform).
        let mut reached = false;
        let mut resent = false;
        let (data, sent_at) = loop {
            // Expiry is counted from when the request left, on the platform's clock.
            let sent_at = self.inner.clock.now_ms();
            let offset_before = self.inner.clock.offset_ms();
            // The document's token calls carry only query parameters: no body, and the
            // signature covers the empty body.
            let reply = match self
                .exchange(method, Verb::Post, credential, &[], Bytes::new(), None)
                .await
            {
                Ok(reply) => reply,
                Err(e) => {
                    if resent && e.sent() == Sent::No {
                        // The re-send never left: its own unit goes back (the first
                        // attempt's stays: that one reached the platform).
                        self.inner.tokens.give_back_unit(kind).await;
                    }
                    return Err(TokenError::CallFailed {
                        kind,
                        code: None,
                        reason: masked(e.to_string()),
                        sent: if reached { Sent::Maybe } else { e.sent() },
                        transport: Some(e),
                    });
                }
            };
            reached = true;
            // The body holds tokens: never kept in an error.
            let decoded =
                self.decode_raw_reply::<Value, RawCode>(method, &reply, true, DataRule::default());
            // The platform refused the call while our clock turned out to be off by more
            // than it tolerates (`clock_tolerance_ms`): the stale timestamp is the likely
            // cause. Re-send once with the corrected clock; the re-send is another call
            // to the platform, so it takes its own unit of the day's budget, or is not
            // made (the platform counts calls, not successes).
            if matches!(decoded, Err(Error::Api(_))) && !resent && self.skew_changed(offset_before)
            {
                match self.inner.tokens.take_resend_unit(kind).await {
                    Ok(()) => {
                        resent = true;
                        tracing::info!(
                            method,
                            "clock skew corrected; re-sending the token call once"
                        );
                        continue;
                    }
                    Err(budget) => tracing::warn!(
                        method,
                        error = %budget,
                        "clock skew corrected, but no budget unit is left for a re-send"
                    ),
                }
            }
            match decoded {
                Ok(response) => break (response.data, sent_at),
                // The platform says the refresh token itself is invalid: only a new pair
                // helps. Every other failure (busy, bad timestamp, a limit) is not that.
                Err(Error::Api(e))
                    if kind == BudgetKind::Refresh
                        && self
                            .inner
                            .protocol
                            .is_invalid_token(e.raw_code, e.message.as_deref()) =>
                {
                    return Err(TokenError::CredentialRejected {
                        kind,
                        code: e.raw_code,
                    });
                }
                Err(e) => {
                    return Err(TokenError::CallFailed {
                        kind,
                        code: e.code().map(|c| c.0),
                        reason: masked(e.to_string()),
                        sent: Sent::Maybe,
                        transport: None,
                    });
                }
            }
        };
        let grant = grant_from(tokens, kind, data.as_ref(), sent_at)?;
        // Issued tokens are known secrets from now on, before their first use.
        self.remember_token(&grant.access_token);
        if let Some((refresh, _)) = &grant.refresh {
            self.remember_token(refresh);
        }
        Ok(grant)
    }
}

/// The longest access-token lifetime believed: a reply claiming more (`expire_in` of
/// `i64::MAX`) is hostile or broken, and a token must be refreshed within the year its
/// refresh token lives anyway.
const MAX_LIFETIME_S: i64 = 366 * 24 * 3600;

/// Reads the token data of a reply by the keys the spec names.
fn grant_from(
    tokens: &TokenProtocol,
    kind: BudgetKind,
    data: Option<&Value>,
    sent_at: i64,
) -> Result<TokenGrant, TokenError> {
    let missing = |what: &str| TokenError::CallFailed {
        kind,
        code: None,
        reason: format!("the reply carries no {what}"),
        sent: Sent::Maybe,
        transport: None,
    };
    let data = data.ok_or_else(|| missing("data"))?;
    let text = |key: &str| {
        data.get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(Secret::new)
    };
    let access = text(tokens.access_token_key).ok_or_else(|| missing(tokens.access_token_key))?;
    let lifetime_s = match data.get(tokens.expires_in_key) {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|s| *s > 0)
    .unwrap_or_else(|| i64::try_from(tokens.access_token_lifetime_s).unwrap_or(MAX_LIFETIME_S))
    .min(MAX_LIFETIME_S);
    let refresh_lifetime_ms = i64::try_from(tokens.refresh_token_lifetime_s)
        .unwrap_or(i64::MAX)
        .saturating_mul(1000);
    let refresh =
        text(tokens.refresh_token_key).map(|t| (t, sent_at.saturating_add(refresh_lifetime_ms)));
    if kind == BudgetKind::Obtain && refresh.is_none() {
        return Err(missing(tokens.refresh_token_key));
    }
    Ok(TokenGrant {
        access_token: access,
        access_expires_at_ms: sent_at.saturating_add(lifetime_s.saturating_mul(1000)),
        refresh,
        issued_at_ms: sent_at,
    })
}

impl Client {
    /// An operator-requested refresh of the access token
    /// ([`TokenManager::refresh_now`](crate::tokens::TokenManager::refresh_now)): one unit
    /// of the day's refresh budget, spent exactly as the client's own refreshes spend it
    /// (same lock, same accounting, same store write). Never makes the token-issuing
    /// call: without a usable refresh token it fails with [`TokenError::NotConfigured`].
    pub async fn refresh_access_token_now(&self) -> Result<RefreshOutcome, TokenError> {
        self.token_protocol()?;
        self.inner.tokens.refresh_now(self).await
    }
}

impl TokenIssuer for Client {
    async fn obtain(&self) -> Result<TokenGrant, TokenError> {
        self.token_call(BudgetKind::Obtain, CredentialParam::AppId)
            .await
    }

    async fn refresh(&self, refresh_token: &Secret) -> Result<TokenGrant, TokenError> {
        self.token_call(
            BudgetKind::Refresh,
            CredentialParam::RefreshToken(refresh_token),
        )
        .await
    }
}
