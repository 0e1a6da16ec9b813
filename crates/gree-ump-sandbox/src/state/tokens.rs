//! 2. 授权接口: access and refresh tokens, their lifetimes and the daily budgets.
//!
//! - 2.1 issues an access token (`expire_in` 7200 s) and a refresh token (1 year), at
//!   most once per Beijing day (该接口限制1天仅能调用一次).
//! - 2.2 issues a new access token for a refresh token, at most 20 times per Beijing day.
//! - Issuing new tokens does not revoke older ones: the document says nothing about it,
//!   and the least surprising behaviour is that every token lives its stated lifetime.
//!   `revoke_all` (a test control) simulates the platform forgetting them.
//! - The budgets count issuances; the counters also count every genuine call (signature
//!   and timestamp valid), refused or not, so tests can see how often a client tried.

use std::collections::BTreeMap;

use openplatform_runtime::clock::beijing_day;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::tracked::Tracked;
use super::{Reply, World};
use crate::error::{ApiError, ApiResult};

/// An issued access or refresh token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TokenRecord {
    pub issued_ms: i64,
    pub expires_ms: i64,
    pub revoked: bool,
}

impl TokenRecord {
    fn check(&self, now_ms: i64) -> Result<(), &'static str> {
        if self.revoked {
            Err("revoked")
        } else if now_ms >= self.expires_ms {
            Err("expired")
        } else {
            Ok(())
        }
    }
}

/// How many token calls were made on one Beijing day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCallCounts {
    /// The Beijing day (days since 1970-01-01, Beijing) these counts are for.
    pub beijing_day: i64,
    /// Genuine 2.1 calls today (signature and timestamp valid), refused ones included.
    pub obtain_calls: u32,
    /// 2.1 calls today that issued tokens.
    pub obtain_issued: u32,
    /// Genuine 2.2 calls today, refused ones included.
    pub refresh_calls: u32,
    /// 2.2 calls today that issued an access token.
    pub refresh_issued: u32,
}

/// Every issued token, and the token-call counters. Serialized whole only into the
/// state file (`--state`); [`TokenBook::dump`] shortens the tokens.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct TokenBook {
    pub(crate) access: Tracked<String, TokenRecord>,
    pub(crate) refresh: Tracked<String, TokenRecord>,
    pub(crate) today: TokenCallCounts,
    pub(crate) obtain_total: u64,
    pub(crate) refresh_total: u64,
}

impl TokenBook {
    /// Today's counters (reset at Beijing midnight of the sandbox clock).
    pub(crate) fn counts(&self, now_ms: i64) -> TokenCallCounts {
        let day = beijing_day(now_ms);
        if self.today.beijing_day == day {
            self.today
        } else {
            TokenCallCounts {
                beijing_day: day,
                ..TokenCallCounts::default()
            }
        }
    }

    fn counts_mut(&mut self, now_ms: i64) -> &mut TokenCallCounts {
        self.today = self.counts(now_ms);
        &mut self.today
    }

    /// Checks the access token of a business call.
    pub(crate) fn check_access(&self, token: &str, now_ms: i64) -> ApiResult<()> {
        match self.access.get(token) {
            None => Err(ApiError::invalid_token("access_token", "unknown token")),
            Some(record) => record
                .check(now_ms)
                .map_err(|why| ApiError::invalid_token("access_token", why)),
        }
    }

    /// Marks every token revoked (a test control: the platform forgot them).
    pub(crate) fn revoke_all(&mut self) {
        for record in self.access.values_mut().chain(self.refresh.values_mut()) {
            record.revoked = true;
        }
    }

    /// Marks every access token revoked, keeping refresh tokens (forces a refresh).
    pub(crate) fn revoke_access_tokens(&mut self) {
        for record in self.access.values_mut() {
            record.revoked = true;
        }
    }

    pub(crate) fn dump(&self, now_ms: i64) -> Value {
        // Tokens are credentials: show enough to tell them apart, not to use them.
        let shorten = |m: &BTreeMap<String, TokenRecord>| -> BTreeMap<String, TokenRecord> {
            m.iter()
                .map(|(k, v)| (format!("{}…", k.get(..8).unwrap_or(k)), v.clone()))
                .collect()
        };
        json!({
            "access_tokens": shorten(&self.access),
            "refresh_tokens": shorten(&self.refresh),
            "today": self.counts(now_ms),
            "obtain_total": self.obtain_total,
            "refresh_total": self.refresh_total,
        })
    }
}

impl World {
    /// 2.1 `dss.auth.token.query`, once the app id and signature are checked.
    pub fn obtain_token(&mut self, now_ms: i64) -> ApiResult<Reply> {
        let limit = self.config.obtain_daily_limit;
        let book = &mut self.tokens;
        book.obtain_total = book.obtain_total.saturating_add(1);
        let counts = book.counts_mut(now_ms);
        counts.obtain_calls = counts.obtain_calls.saturating_add(1);
        if counts.obtain_issued >= limit {
            return Err(ApiError::token_daily_limit(limit));
        }
        counts.obtain_issued = counts.obtain_issued.saturating_add(1);
        let access = self.ids.access_token();
        let refresh = self.ids.refresh_token();
        let lifetime_s = self.config.access_token_lifetime_s;
        let access_expiry = now_ms.saturating_add(lifetime_s.saturating_mul(1000));
        let refresh_expiry =
            now_ms.saturating_add(self.config.refresh_token_lifetime_s.saturating_mul(1000));
        self.tokens.access.insert(
            access.clone(),
            TokenRecord {
                issued_ms: now_ms,
                expires_ms: access_expiry,
                revoked: false,
            },
        );
        self.tokens.refresh.insert(
            refresh.clone(),
            TokenRecord {
                issued_ms: now_ms,
                expires_ms: refresh_expiry,
                revoked: false,
            },
        );
        Ok(Reply::data(json!({
            "access_token": access,
            "refresh_token": refresh,
            "expire_in": lifetime_s,
        })))
    }

    /// 2.2 `dss.auth.token.refresh`, once the signature is checked.
    pub fn refresh_token(&mut self, refresh_token: &str, now_ms: i64) -> ApiResult<Reply> {
        let limit = self.config.refresh_daily_limit;
        let book = &mut self.tokens;
        book.refresh_total = book.refresh_total.saturating_add(1);
        let counts = book.counts_mut(now_ms);
        counts.refresh_calls = counts.refresh_calls.saturating_add(1);
        match book.refresh.get(refresh_token) {
            None => {
                return Err(ApiError::invalid_token("refresh_token", "unknown token"));
            }
            Some(record) => record
                .check(now_ms)
                .map_err(|why| ApiError::invalid_token("refresh_token", why))?,
        }
        let counts = book.counts_mut(now_ms);
        if counts.refresh_issued >= limit {
            return Err(ApiError::token_daily_limit(limit));
        }
        counts.refresh_issued = counts.refresh_issued.saturating_add(1);
        let access = self.ids.access_token();
        let lifetime_s = self.config.access_token_lifetime_s;
        self.tokens.access.insert(
            access.clone(),
            TokenRecord {
                issued_ms: now_ms,
                expires_ms: now_ms.saturating_add(lifetime_s.saturating_mul(1000)),
                revoked: false,
            },
        );
        if !self.config.rotate_refresh_tokens {
            return Ok(Reply::data(json!({
                "access_token": access,
                "expire_in": lifetime_s,
            })));
        }
        // The rotating reading: a new refresh token with each refresh, the old one
        // revoked at once (its lifetime starts again).
        if let Some(old) = self.tokens.refresh.get_mut(refresh_token) {
            old.revoked = true;
        }
        let refresh = self.ids.refresh_token();
        self.tokens.refresh.insert(
            refresh.clone(),
            TokenRecord {
                issued_ms: now_ms,
                expires_ms: now_ms
                    .saturating_add(self.config.refresh_token_lifetime_s.saturating_mul(1000)),
                revoked: false,
            },
        );
        Ok(Reply::data(json!({
            "access_token": access,
            "refresh_token": refresh,
            "expire_in": lifetime_s,
        })))
    }
}
