//! Retries where they are safe: reads, and writes carrying an idempotency key (re-sent with
//! the same key). Writes without a key are never repeated automatically.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::endpoint::{Endpoint, Idempotency};
use crate::error::{AppliedEarlier, Error, Outcome};
use crate::error_code::ApiErrorCode;

/// How often and how patiently a call is repeated after a transient failure.
///
/// A failure is transient when it is a transport error (including timeouts), an HTTP 5xx
/// or 429 without an API answer, or an error code the spec marks retryable (busy). The
/// delay before attempt `n + 1` is drawn uniformly from `[0, min(max_backoff,
/// initial_backoff · 2ⁿ⁻¹)]` ("full jitter"), so many clients that failed together do not
/// come back together. No pause is longer than [`RetryPolicy::MAX_PAUSE`], whatever the
/// policy says, and any value is accepted (`Duration::MAX` included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 means no retry.
    pub max_attempts: u32,
    /// The ceiling of the first pause; it doubles with each further attempt.
    pub initial_backoff: Duration,
    /// The most any one pause can be (and never more than [`RetryPolicy::MAX_PAUSE`]).
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// No retry at all.
    pub const NONE: RetryPolicy = RetryPolicy {
        max_attempts: 1,
        initial_backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
    };

    /// Whether a call of this idempotency class may be repeated after `error`.
    pub fn should_retry<C: ApiErrorCode>(
        &self,
        idempotency: Idempotency,
        attempt: u32,
        error: &Error<C>,
    ) -> bool {
        attempt < self.max_attempts
            && matches!(idempotency, Idempotency::Read | Idempotency::Keyed)
            && error.is_transient()
            // Token failures are paced by the token manager (it pauses after a failed
            // token call): repeating the call at once would only meet that pause.
            && !matches!(error, Error::Token(_))
    }

    /// The longest pause between two attempts, whatever the policy says: a call
    /// without a timeout and a policy of `Duration::MAX` would otherwise wait for
    /// centuries, which to its caller is a hang. Ten minutes is already far beyond what
    /// a platform's busy spell or a restart takes.
    pub const MAX_PAUSE: Duration = Duration::from_secs(600);

    /// The pause before the attempt after `attempt` (1-based). Never panics: any
    /// durations, any attempt number.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(20);
        let ceiling = self
            .initial_backoff
            .saturating_mul(1u32 << exp)
            .min(self.max_backoff)
            .min(Self::MAX_PAUSE);
        // At most MAX_PAUSE in ns (6·10¹¹), so the +1 cannot overflow; checked anyway,
        // as the ceiling once was `Duration::MAX` here and `u64::MAX + 1` panicked.
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        match nanos.checked_add(1) {
            None => Duration::from_nanos(jitter()),
            Some(1) => Duration::ZERO,
            Some(span) => Duration::from_nanos(jitter() % span),
        }
    }
}

impl Default for RetryPolicy {
    /// Three attempts, pauses of up to 200 ms then 400 ms.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// Per-call options of [`Client::send_with`](super::Client::send_with).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallOptions {
    /// Overrides the client's retry policy for this call.
    pub retry: Option<RetryPolicy>,
    /// The request was sent before, by an earlier call, and that attempt may have reached
    /// the platform (its reply was lost): a "key already used" answer, even to this call's
    /// first attempt, means that attempt applied it ([`Error::AppliedEarlier`]). Only
    /// meaningful for keyed writes re-sent unchanged, under the same key.
    pub resending: bool,
    /// The most time this call may take, retries and their pauses included: each request
    /// gets at most what is left (and at most the client's own request timeout), and no
    /// retry starts that could not finish in time. The token the call needs is waited for
    /// without this bound: the token work is shared with every other call (and bounded by
    /// its own timeouts), and cutting an obtain short would waste a unit of its budget.
    pub timeout: Option<Duration>,
}

impl CallOptions {
    /// See [`CallOptions::timeout`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Uses `policy` instead of the client's retry policy for this call
    /// ([`RetryPolicy::NONE`]: a single attempt).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = Some(policy);
        self
    }

    /// See [`CallOptions::resending`].
    pub fn resending(mut self, resending: bool) -> Self {
        self.resending = resending;
        self
    }
}

/// What earlier attempts of one keyed call tell about a later answer.
///
/// A keyed write repeated with the same key can only be answered "key already used"
/// ([`Outcome::KeyInUse`]: category `conflict` on a keyed endpoint) because a write under
/// that key is in effect. If an earlier attempt of this call may have reached the platform,
/// that write is this call's own, so the answer means "applied", never "refused".
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Attempts {
    /// Attempts made so far.
    pub made: u32,
    /// Some attempt (of this call, or of the earlier call it re-sends) may have landed.
    pub may_have_landed: bool,
}

impl Attempts {
    /// Records the outcome of one attempt, and turns a "key already used" answer into
    /// [`Error::AppliedEarlier`] when an earlier attempt may have landed.
    pub(super) fn settle<E: Endpoint, T>(
        &mut self,
        request: &E,
        result: Result<T, Error<E::Code>>,
    ) -> Result<T, Error<E::Code>> {
        self.made += 1;
        // What the answer proves is read where every surface reads it (Error::outcome).
        let key_in_use = matches!(&result, Err(e) if e.outcome() == Outcome::KeyInUse);
        match result {
            Err(Error::Api(answer))
                if key_in_use
                    && self.may_have_landed
                    && E::INFO.idempotency == Idempotency::Keyed =>
            {
                Err(Error::AppliedEarlier(Box::new(AppliedEarlier {
                    method: E::INFO.method,
                    key: request.idempotency_key().map(str::to_owned),
                    attempts: self.made,
                    answer,
                })))
            }
            Err(e) => {
                self.may_have_landed |= e.may_have_been_applied();
                Err(e)
            }
            ok => ok,
        }
    }
}

/// A cheap, well-spread random number for jitter (splitmix64 over a shared counter seeded
/// by the clock): no need for a cryptographic generator here.
fn jitter() -> u64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut seed = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    if seed == 0 {
        seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        STATE.store(seed, Ordering::Relaxed);
    }
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_and_grows() {
        let p = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
        };
        for attempt in 1..12 {
            let ceiling = Duration::from_millis(100 * (1 << (attempt - 1)).min(10));
            for _ in 0..50 {
                assert!(p.backoff(attempt) <= ceiling.min(Duration::from_secs(1)));
            }
        }
        // Jitter: not every draw is the same.
        let draws: std::collections::BTreeSet<_> = (0..20).map(|_| p.backoff(4)).collect();
        assert!(draws.len() > 10);
        assert_eq!(RetryPolicy::NONE.backoff(1), Duration::ZERO);
    }
}
