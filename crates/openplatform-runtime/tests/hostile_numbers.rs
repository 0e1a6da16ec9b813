//! Property tests: no number from the wire, the store, the clock or the user makes the
//! clock, the stores or the token manager panic, and the clock correction never leaves
//! its bound (a negative lifetime and an overflowing skew once did).

use std::sync::Arc;
use std::time::Duration;

use openplatform_runtime::TokenError;
use openplatform_runtime::clock::{
    Clock, DEFAULT_MAX_SKEW_MS, ManualClock, SkewCorrectedClock, beijing_day,
    next_beijing_midnight, parse_http_date_ms,
};
use openplatform_runtime::tokens::{
    MemoryTokenStore, Secret, TokenGrant, TokenIssuer, TokenManager, TokenPolicy, TokenRecord,
    TokenStore,
};
use proptest::prelude::*;

/// An IMF-fixdate for any second of years 1..9999 (as chrono writes it).
fn http_date(secs: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|d| d.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any `Date` header (text, or a real date anywhere in 1..9999) at any local time:
    /// no panic, and the offset applied stays within the bound.
    #[test]
    fn the_clock_offset_never_leaves_its_bound(
        local in any::<i64>(),
        secs in -62_000_000_000i64..253_000_000_000,
        junk in ".{0,80}",
        bound in prop_oneof![Just(DEFAULT_MAX_SKEW_MS), 0i64..i64::MAX, Just(i64::MAX)],
    ) {
        let clock = SkewCorrectedClock::with_bound(Arc::new(ManualClock::new(local)), bound);
        for header in [http_date(secs), Some(junk.clone())].into_iter().flatten() {
            let applied = clock.observe_date_header(&header, local);
            prop_assert!(applied.saturating_abs() <= bound.max(0));
            prop_assert!(clock.offset_ms().saturating_abs() <= bound.max(0));
            let _ = clock.now_ms();
        }
        let _ = parse_http_date_ms(&junk);
    }

    /// A date near the local time is applied exactly (within the deadband and rounding),
    /// one beyond the bound never is.
    #[test]
    fn a_near_date_is_applied_and_a_far_one_is_not(
        local_s in 0i64..4_000_000_000,
        skew_s in -1_200i64..1_200,
    ) {
        let local = local_s * 1000;
        let clock = SkewCorrectedClock::new(Arc::new(ManualClock::new(local)));
        let header = http_date(local_s + skew_s).unwrap();
        let applied = clock.observe_date_header(&header, local);
        let measured = skew_s * 1000 + 500;
        if measured.abs() > DEFAULT_MAX_SKEW_MS {
            prop_assert_eq!(applied, 0);
        } else if measured.abs() > 1_000 {
            prop_assert_eq!(applied, measured);
        }
    }

    /// Calendar arithmetic on any instant.
    #[test]
    fn beijing_days_of_any_instant(ms in any::<i64>()) {
        let _ = beijing_day(ms);
        let _ = next_beijing_midnight(ms);
    }

    /// Records of any version and expiry: validity checks and the stored form.
    #[test]
    fn records_of_any_numbers(
        version in any::<u64>(),
        access in any::<i64>(),
        refresh in any::<i64>(),
        now in any::<i64>(),
        margin in any::<i64>(),
    ) {
        let record = TokenRecord {
            access_token: Secret::new("a"),
            access_expires_at_ms: access,
            refresh_token: Secret::new("r"),
            refresh_expires_at_ms: refresh,
            version,
        };
        let _ = record.access_valid_at(now, margin);
        let _ = record.refresh_valid_at(now, margin);
        let back = TokenRecord::from_json(record.to_json().as_bytes()).unwrap();
        prop_assert_eq!(back, record);
    }

    /// Leases of any length on the memory store.
    #[test]
    fn leases_of_any_length(secs in any::<u64>(), nanos in 0u32..1_000_000_000) {
        let store = MemoryTokenStore::new();
        let lease = Duration::new(secs, nanos);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let _ = store.try_lock("k", "a", lease).await.unwrap();
            let _ = store.renew_lock("k", "a", lease).await.unwrap();
            let _ = store.try_lock("k", "b", lease).await.unwrap();
        });
    }

    /// The manager, fed any expiry, issue time, stored version and clock: no panic, and a
    /// token just issued is used.
    #[test]
    fn the_manager_takes_any_numbers(
        now in any::<i64>(),
        issued in any::<i64>(),
        expires in any::<i64>(),
        stored_version in any::<u64>(),
        stored_expiry in any::<i64>(),
        refresh_expiry in any::<i64>(),
        lifetime_s in any::<u64>(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let store = Arc::new(MemoryTokenStore::new());
            let record = TokenRecord {
                access_token: Secret::new("stored"),
                access_expires_at_ms: stored_expiry,
                refresh_token: Secret::new("stored-refresh"),
                refresh_expires_at_ms: refresh_expiry,
                version: stored_version,
            };
            store.compare_and_set("k", None, &record).await.unwrap();
            let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(now));
            let manager = TokenManager::new(store, "k", TokenPolicy::default(), clock)
                .with_nominal_lifetime(Duration::from_secs(lifetime_s));
            let issuer = Fixed { issued, expires };
            match manager.access_token(&issuer).await {
                Ok(_) => {}
                // Budgets of a day at the edge of time, and the like: errors, not panics.
                Err(TokenError::BudgetExhausted { .. } | TokenError::CallFailed { .. }) => {}
                Err(e) => panic!("unexpected: {e}"),
            }
        });
    }
}

/// Issues tokens with the given numbers.
struct Fixed {
    issued: i64,
    expires: i64,
}

impl Fixed {
    fn grant(&self, access: &str) -> TokenGrant {
        TokenGrant {
            access_token: Secret::new(access),
            access_expires_at_ms: self.expires,
            refresh: Some((Secret::new("new-refresh"), self.expires)),
            issued_at_ms: self.issued,
        }
    }
}

impl TokenIssuer for Fixed {
    async fn obtain(&self) -> Result<TokenGrant, TokenError> {
        Ok(self.grant("obtained"))
    }

    async fn refresh(&self, _refresh_token: &Secret) -> Result<TokenGrant, TokenError> {
        Ok(self.grant("refreshed"))
    }
}
