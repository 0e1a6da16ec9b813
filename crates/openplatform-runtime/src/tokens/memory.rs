//! The in-memory token store: state for one process, lost when it exits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{BudgetKind, BudgetTake, StoreError, StoreFuture, TokenRecord, TokenStore};

/// Token state in this process only. Clones share the same state.
///
/// **What a restart costs:** everything. A restarted process has no refresh token, so its
/// first call spends the token-issuing call, which a platform may allow once a day (UMP
/// does): a second restart on the same day is then locked out until the platform's
/// midnight. Use it
/// for tests, or for a process that is certain to start at most once a day. The client's
/// default is a [`FileTokenStore`](super::FileTokenStore) in the user's state directory;
/// several instances or hosts should share a [`FileTokenStore`](super::FileTokenStore)
/// (one host) or a `RedisTokenStore`.
#[derive(Debug, Clone, Default)]
pub struct MemoryTokenStore {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    records: HashMap<String, TokenRecord>,
    locks: HashMap<String, (String, Instant)>,
    budgets: HashMap<(String, BudgetKind, i64), u32>,
    notes: HashMap<(String, String), String>,
}

/// Days of budget counts kept per key and kind: today, and a few either side of it for
/// clocks that disagree. Only the oldest beyond this many are dropped, never the day
/// just counted, so a far-off day asked once cannot make the store forget today.
const BUDGET_DAYS_KEPT: usize = 8;

/// The longest lease the store records (a `Duration::MAX` lease would overflow
/// `Instant`); a century is forever for a refresh lock.
const MAX_LEASE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

fn lease_end(now: Instant, lease: Duration) -> Instant {
    // Where the platform's `Instant` cannot reach a century ahead, the longest lease it
    // can hold (a day, then an hour): `now + a day` unchecked would panic there too.
    [
        lease.min(MAX_LEASE),
        Duration::from_secs(24 * 3600),
        Duration::from_secs(3600),
    ]
    .into_iter()
    .find_map(|d| now.checked_add(d))
    .unwrap_or(now)
}

impl MemoryTokenStore {
    /// An empty store (no record, no budget counted).
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the maps half-written (every
        // operation is a single insert or remove), so a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn ready<'a, T: Send + 'a>(value: Result<T, StoreError>) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

impl TokenStore for MemoryTokenStore {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<TokenRecord>> {
        ready(Ok(self.state().records.get(key).cloned()))
    }

    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: Option<u64>,
        record: &'a TokenRecord,
    ) -> StoreFuture<'a, bool> {
        let mut state = self.state();
        let current = state.records.get(key).map(|r| r.version);
        let wrote = current == expected;
        if wrote {
            state.records.insert(key.to_owned(), record.clone());
        }
        ready(Ok(wrote))
    }

    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        lease: Duration,
    ) -> StoreFuture<'a, bool> {
        let mut state = self.state();
        let now = Instant::now();
        let free = match state.locks.get(key) {
            None => true,
            Some((_, until)) => *until <= now,
        };
        if free {
            state
                .locks
                .insert(key.to_owned(), (owner.to_owned(), lease_end(now, lease)));
        }
        ready(Ok(free))
    }

    fn renew_lock<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        lease: Duration,
    ) -> StoreFuture<'a, bool> {
        let mut state = self.state();
        let now = Instant::now();
        let held = match state.locks.get_mut(key) {
            Some((o, until)) if o == owner && *until > now => {
                *until = lease_end(now, lease);
                true
            }
            _ => false,
        };
        ready(Ok(held))
    }

    fn unlock<'a>(&'a self, key: &'a str, owner: &'a str) -> StoreFuture<'a, ()> {
        let mut state = self.state();
        if state.locks.get(key).is_some_and(|(o, _)| o == owner) {
            state.locks.remove(key);
        }
        ready(Ok(()))
    }

    fn take_budget<'a>(
        &'a self,
        key: &'a str,
        kind: BudgetKind,
        day: i64,
        limit: u32,
    ) -> StoreFuture<'a, BudgetTake> {
        let mut state = self.state();
        prune_days(&mut state.budgets, key, kind, day);
        let used = state
            .budgets
            .entry((key.to_owned(), kind, day))
            .or_default();
        let take = if *used < limit {
            *used += 1;
            BudgetTake::Granted { used: *used }
        } else {
            BudgetTake::Exhausted { used: *used }
        };
        ready(Ok(take))
    }

    fn budget_used<'a>(&'a self, key: &'a str, kind: BudgetKind, day: i64) -> StoreFuture<'a, u32> {
        let used = self
            .state()
            .budgets
            .get(&(key.to_owned(), kind, day))
            .copied()
            .unwrap_or(0);
        ready(Ok(used))
    }

    fn give_back_budget<'a>(
        &'a self,
        key: &'a str,
        kind: BudgetKind,
        day: i64,
    ) -> StoreFuture<'a, ()> {
        let mut state = self.state();
        if let Some(used) = state.budgets.get_mut(&(key.to_owned(), kind, day)) {
            *used = used.saturating_sub(1);
        }
        ready(Ok(()))
    }

    fn load_note<'a>(&'a self, key: &'a str, name: &'a str) -> StoreFuture<'a, Option<String>> {
        let note = self
            .state()
            .notes
            .get(&(key.to_owned(), name.to_owned()))
            .cloned();
        ready(Ok(note))
    }

    fn store_note<'a>(
        &'a self,
        key: &'a str,
        name: &'a str,
        value: Option<&'a str>,
    ) -> StoreFuture<'a, ()> {
        let mut state = self.state();
        let slot = (key.to_owned(), name.to_owned());
        match value {
            Some(v) => state.notes.insert(slot, v.to_owned()),
            None => state.notes.remove(&slot),
        };
        ready(Ok(()))
    }
}

/// Drops the oldest days of `key`'s `kind` beyond [`BUDGET_DAYS_KEPT`], never `day`.
fn prune_days(
    budgets: &mut HashMap<(String, BudgetKind, i64), u32>,
    key: &str,
    kind: BudgetKind,
    day: i64,
) {
    let mut days: Vec<i64> = budgets
        .keys()
        .filter(|(k, c, d)| k == key && *c == kind && *d != day)
        .map(|(_, _, d)| *d)
        .collect();
    if days.len() < BUDGET_DAYS_KEPT {
        return;
    }
    days.sort_unstable();
    let excess = days.len() + 1 - BUDGET_DAYS_KEPT;
    for d in days.into_iter().take(excess) {
        budgets.remove(&(key.to_owned(), kind, d));
    }
}
