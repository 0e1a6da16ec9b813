//! The in-memory token store: state for one process, lost when it exits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{BudgetKind, BudgetTake, StoreError, StoreFuture, TokenRecord, TokenStore};

/// Token state in this process only. Clones share the same state.
///
/// Right for a single process that rarely restarts; a restart forgets the tokens and
/// the day's budgets, so services with several instances or frequent restarts should
/// use a persistent, shared store.
#[derive(Debug, Clone, Default)]
pub struct MemoryTokenStore {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    records: HashMap<String, TokenRecord>,
    locks: HashMap<String, (String, Instant)>,
    budgets: HashMap<(String, BudgetKind, i64), u32>,
}

impl MemoryTokenStore {
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
                .insert(key.to_owned(), (owner.to_owned(), now + lease));
        }
        ready(Ok(free))
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
        // Older days are never read again.
        state.budgets.retain(|(_, _, d), _| *d >= day);
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
}
