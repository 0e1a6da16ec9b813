//! A store wrapper whose operations fail or hang when told to: for tests of what the
//! manager does when its store has a full disk, is unreachable, or never answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use super::{BudgetKind, BudgetTake, StoreError, StoreFuture, TokenRecord, TokenStore};

/// What a [`FaultyStore`]'s operations suffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum StoreFault {
    /// Every operation goes to the wrapped store.
    None = 0,
    /// Writes of the record fail (a full disk, a Redis gone read-only).
    FailRecordWrites = 1,
    /// Every operation fails at once (a refused connection).
    FailAll = 2,
    /// Every operation waits forever (a hung mount, a FIFO at the record path, a Redis
    /// that accepts connections and never answers).
    HangAll = 3,
}

/// Wraps a store; see [`StoreFault`]. Clones share the wrapped store and the fault.
#[derive(Debug, Clone)]
pub struct FaultyStore<S> {
    inner: S,
    fault: Arc<AtomicU8>,
    failed: Arc<AtomicU64>,
}

impl<S: TokenStore> FaultyStore<S> {
    /// Wraps `inner`, with no fault yet ([`StoreFault::None`]).
    pub fn new(inner: S) -> Self {
        FaultyStore {
            inner,
            fault: Arc::new(AtomicU8::new(StoreFault::None as u8)),
            failed: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Switches the fault; operations already hanging keep hanging.
    pub fn set(&self, fault: StoreFault) {
        self.fault.store(fault as u8, Ordering::SeqCst);
    }

    /// How many operations failed or hung because of a fault.
    pub fn faulted(&self) -> u64 {
        self.failed.load(Ordering::SeqCst)
    }

    /// The wrapped store, to inspect or seed it past the fault.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn fault(&self) -> StoreFault {
        match self.fault.load(Ordering::SeqCst) {
            1 => StoreFault::FailRecordWrites,
            2 => StoreFault::FailAll,
            3 => StoreFault::HangAll,
            _ => StoreFault::None,
        }
    }

    /// `work()`, unless the fault applies to it (then `work` is never called: stores may
    /// do their work when called rather than when polled).
    fn run<'a, T: Send + 'a>(
        &self,
        write: bool,
        work: impl FnOnce() -> StoreFuture<'a, T>,
    ) -> StoreFuture<'a, T> {
        let fault = self.fault();
        let applies = match fault {
            StoreFault::None => false,
            StoreFault::FailRecordWrites => write,
            StoreFault::FailAll | StoreFault::HangAll => true,
        };
        if !applies {
            return work();
        }
        self.failed.fetch_add(1, Ordering::SeqCst);
        if fault == StoreFault::HangAll {
            return Box::pin(async {
                loop {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
            });
        }
        Box::pin(std::future::ready(Err(StoreError::io(
            "test fault: the store is unavailable",
        ))))
    }
}

impl<S: TokenStore> TokenStore for FaultyStore<S> {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<TokenRecord>> {
        self.run(false, || self.inner.load(key))
    }

    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: Option<u64>,
        record: &'a TokenRecord,
    ) -> StoreFuture<'a, bool> {
        self.run(true, || self.inner.compare_and_set(key, expected, record))
    }

    fn try_lock<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        lease: Duration,
    ) -> StoreFuture<'a, bool> {
        self.run(false, || self.inner.try_lock(key, owner, lease))
    }

    fn unlock<'a>(&'a self, key: &'a str, owner: &'a str) -> StoreFuture<'a, ()> {
        self.run(false, || self.inner.unlock(key, owner))
    }

    fn take_budget<'a>(
        &'a self,
        key: &'a str,
        kind: BudgetKind,
        day: i64,
        limit: u32,
    ) -> StoreFuture<'a, BudgetTake> {
        self.run(false, || self.inner.take_budget(key, kind, day, limit))
    }

    fn budget_used<'a>(&'a self, key: &'a str, kind: BudgetKind, day: i64) -> StoreFuture<'a, u32> {
        self.run(false, || self.inner.budget_used(key, kind, day))
    }

    fn give_back_budget<'a>(
        &'a self,
        key: &'a str,
        kind: BudgetKind,
        day: i64,
    ) -> StoreFuture<'a, ()> {
        self.run(false, || self.inner.give_back_budget(key, kind, day))
    }

    fn renew_lock<'a>(
        &'a self,
        key: &'a str,
        owner: &'a str,
        lease: Duration,
    ) -> StoreFuture<'a, bool> {
        self.run(false, || self.inner.renew_lock(key, owner, lease))
    }

    fn load_note<'a>(&'a self, key: &'a str, name: &'a str) -> StoreFuture<'a, Option<String>> {
        self.run(false, || self.inner.load_note(key, name))
    }

    fn store_note<'a>(
        &'a self,
        key: &'a str,
        name: &'a str,
        value: Option<&'a str>,
    ) -> StoreFuture<'a, ()> {
        self.run(false, || self.inner.store_note(key, name, value))
    }
}
