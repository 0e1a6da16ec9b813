//! The speculative refresh: an answer that may mean a token the platform stopped
//! accepting, without saying so.
//!
//! The document names no code for an invalid token, and answers every other parameter
//! error with its generic 1001. A platform that revokes a token before its expiry and
//! answers 1001 would fail every call until the token's own expiry; reading every 1001
//! as a rejection would spend a refresh per bad request. So a 1001 (the protocol's
//! `ambiguous_token_codes`) on a call that carried an access token earns one refresh and
//! one retry of the same request, only:
//! - once per access token (the store's `speculation` note names the last token
//!   speculated on, by fingerprint);
//! - not within an hour of a refuted speculation (the retry with the new token was
//!   answered the same: the request itself is wrong, and is reported as it is);
//! - while the day's remaining refreshes exceed what the rest of the day's expiries
//!   need (one per token lifetime until the platform's midnight, plus one);
//! - never while the store's rejection note stands (see the budget rules).
//!
//! Worst case, a bad parameter sent every minute all day: one speculation an hour at
//! most, and never below the refreshes the day's expiries need, so the day stays within
//! its 20 refreshes and the service is never locked out.

use serde::{Deserialize, Serialize};

use super::super::rules::fingerprint;
use super::{Need, Secret, TokenError, TokenIssuer, TokenManager};
use crate::clock::next_local_midnight;
use crate::tokens::BudgetKind;

/// The store note of the last speculation.
const SPECULATION_NOTE: &str = "speculation";
/// How long a refuted speculation holds further ones back.
const REFUTED_PAUSE_MS: i64 = 3_600_000;

/// Whether a speculation may be made.
enum Allowed {
    Yes,
    No,
    /// One was made for this very token already.
    AlreadyMade,
}

/// The stored form of the speculation note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Speculation {
    /// The fingerprint of the token speculated on.
    token: String,
    /// When (ms, platform clock).
    at_ms: i64,
    /// Whether the retry with the new token was answered the same.
    refuted: bool,
}

impl TokenManager {
    /// A new access token for a retry after an ambiguous answer to a call made with
    /// `failed`, or `None` when the rules above withhold one (the caller then reports the
    /// platform's answer as it is). Errors of the store or the budget are `None` too: the
    /// platform's answer is the one to report.
    pub async fn speculative_refresh(
        &self,
        issuer: &impl TokenIssuer,
        failed: &Secret,
    ) -> Option<Secret> {
        // A newer token (another caller's speculation, a refresh elsewhere) is used
        // without a call.
        if let Some(newer) = self.newer_token(failed).await {
            return Some(newer);
        }
        match self.speculation_allowed(failed).await {
            Ok(Allowed::Yes) => {}
            Ok(Allowed::No) => return None,
            Ok(Allowed::AlreadyMade) => {
                // Another caller speculated on this token: its new token comes once its
                // refresh, which holds the process's gate, is done.
                drop(self.gate.lock().await);
                return self.newer_token(failed).await;
            }
            Err(e) => {
                tracing::debug!(error = %e, "no speculative refresh: the token store failed");
                return None;
            }
        }
        tracing::info!(
            "an ambiguous answer to a call with the access token: one speculative refresh"
        );
        match self.after_rejection(issuer, failed).await {
            Ok(token) => token,
            Err(e) => {
                tracing::debug!(error = %e, "the speculative refresh did not happen");
                None
            }
        }
    }

    /// The retry with the speculative token was answered the same: the request itself
    /// is wrong. Holds further speculation back for an hour.
    pub async fn speculation_refuted(&self) {
        let Ok(Some(note)) = self
            .op(
                "read speculation",
                self.store.load_note(&self.key, SPECULATION_NOTE),
            )
            .await
        else {
            return;
        };
        let Ok(mut speculation) = serde_json::from_str::<Speculation>(&note) else {
            return;
        };
        speculation.refuted = true;
        speculation.at_ms = self.clock.now_ms();
        self.write_speculation(&speculation).await;
    }

    /// A valid token other than `failed`, held in memory or stored, if there is one.
    async fn newer_token(&self, failed: &Secret) -> Option<Secret> {
        let now = self.clock.now_ms();
        let need = Need::Rejected(failed);
        if let Some(cached) = self
            .cached()
            .filter(|c| self.satisfies(&c.record, need, now))
        {
            return Some(cached.record.access_token);
        }
        let stored = self.op("load", self.store.load(&self.key)).await.ok()??;
        self.satisfies(&stored, need, now)
            .then(|| self.adopt(&stored, now))
    }

    async fn speculation_allowed(&self, failed: &Secret) -> Result<Allowed, TokenError> {
        let now = self.clock.now_ms();
        let token = fingerprint(failed);
        let last = self
            .op(
                "read speculation",
                self.store.load_note(&self.key, SPECULATION_NOTE),
            )
            .await?
            .and_then(|n| serde_json::from_str::<Speculation>(&n).ok());
        // First: one was made for this very token (its refresh may be in flight, and
        // the rejection note it wrote must not hide its result).
        if last.as_ref().is_some_and(|l| l.token == token) {
            return Ok(Allowed::AlreadyMade);
        }
        // The rejection rules: a token issued for a rejection and not accepted since, or
        // the store's rejection note, make no token call.
        if self.is_unproven(failed) {
            return Ok(Allowed::No);
        }
        if self.rejection_in_store().await? {
            return Ok(Allowed::No);
        }
        if let Some(last) = &last {
            let since = now.saturating_sub(last.at_ms);
            if last.refuted && (0..REFUTED_PAUSE_MS).contains(&since) {
                return Ok(Allowed::No);
            }
        }
        // Keep what the rest of the day's expiries need, and one more.
        let used = self.budget_used_today(BudgetKind::Refresh).await?;
        let remaining = self.policy.refresh_daily_limit.saturating_sub(used);
        let until_midnight = next_local_midnight(now, self.utc_offset_s)
            .timestamp_millis()
            .saturating_sub(now)
            .max(0);
        let lifetime = self.nominal_lifetime_ms.max(1);
        let needed = until_midnight.saturating_add(lifetime - 1) / lifetime + 1;
        if i64::from(remaining) <= needed {
            return Ok(Allowed::No);
        }
        self.write_speculation(&Speculation {
            token,
            at_ms: now,
            refuted: false,
        })
        .await;
        Ok(Allowed::Yes)
    }

    async fn write_speculation(&self, speculation: &Speculation) {
        let note = serde_json::to_string(speculation).unwrap_or_default();
        if let Err(e) = self
            .op(
                "write speculation",
                self.store
                    .store_note(&self.key, SPECULATION_NOTE, Some(&note)),
            )
            .await
        {
            tracing::warn!(error = %e, "could not note the speculative refresh");
        }
    }
}
