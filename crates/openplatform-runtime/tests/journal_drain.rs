//! The drainer's use of its store: how many store rounds a drain costs. A commit's fixed
//! cost (an fsync on SQLite) was most of the journal's, so the outcomes of calls that
//! finish one by one must share the commits of the claims, not take one each.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openplatform_runtime::clock::{Clock, SystemClock};
use openplatform_runtime::endpoint::{JournalInfo, Settle};
use openplatform_runtime::journal::{
    AttemptAnswer, Claimed, Counts, Dispatch, DispatchFuture, DrainPolicy, Drainer, Entry, EntryId,
    EntryState, JournalError, JournalFuture, JournalStore, MemoryJournal, NewEntry, ProbeAnswer,
    Resolution, Update,
};

/// The memory journal, counting the calls that write outcomes.
#[derive(Debug, Default)]
struct Counting {
    inner: MemoryJournal,
    update_many: AtomicUsize,
    updated: AtomicUsize,
}

impl JournalStore for Counting {
    fn append(&self, entry: NewEntry) -> JournalFuture<'_, Entry> {
        self.inner.append(entry)
    }
    fn claim(&self, now_ms: i64, lease_ms: i64, limit: usize) -> JournalFuture<'_, Vec<Entry>> {
        self.inner.claim(now_ms, lease_ms, limit)
    }
    fn claim_to_send(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> JournalFuture<'_, Vec<Claimed>> {
        self.inner.claim_to_send(now_ms, lease_ms, limit)
    }
    fn update(
        &self,
        id: EntryId,
        fence: u64,
        update: Update,
        now_ms: i64,
    ) -> JournalFuture<'_, Entry> {
        self.inner.update(id, fence, update, now_ms)
    }
    fn update_many(
        &self,
        updates: Vec<(EntryId, u64, Update)>,
        now_ms: i64,
    ) -> JournalFuture<'_, Vec<Result<Entry, JournalError>>> {
        self.update_many.fetch_add(1, Ordering::SeqCst);
        self.updated.fetch_add(updates.len(), Ordering::SeqCst);
        self.inner.update_many(updates, now_ms)
    }
    fn get(&self, id: EntryId) -> JournalFuture<'_, Option<Entry>> {
        self.inner.get(id)
    }
    fn list(
        &self,
        state: Option<EntryState>,
        after: EntryId,
        limit: usize,
    ) -> JournalFuture<'_, Vec<Entry>> {
        self.inner.list(state, after, limit)
    }
    fn counts(&self) -> JournalFuture<'_, Counts> {
        self.inner.counts()
    }
    fn next_due(&self) -> JournalFuture<'_, Option<i64>> {
        self.inner.next_due()
    }
    fn resolve(
        &self,
        id: EntryId,
        resolution: Resolution,
        note: String,
        now_ms: i64,
    ) -> JournalFuture<'_, Entry> {
        self.inner.resolve(id, resolution, note, now_ms)
    }
}

/// Appends `count` writes, each of its own member (`member:0`, `member:1`, …).
async fn append_members(store: &dyn JournalStore, count: usize) {
    for n in 0..count {
        store
            .append(NewEntry {
                method: "m".into(),
                body: "{}".into(),
                order_keys: vec![format!("member:{n}")],
                created_ms: 0,
            })
            .await
            .unwrap();
    }
}

/// A platform that applies every write, each call taking a little longer than the one
/// before (by its entry id), so that calls finish one at a time.
struct Staggered;

impl Dispatch for Staggered {
    fn journal_info(&self, _method: &str) -> Option<JournalInfo> {
        Some(JournalInfo {
            settle: Settle::Identical,
            probe: None,
            order_keys: &[],
            after_keys: &[],
        })
    }
    fn send<'a>(&'a self, entry: &'a Entry, _: Duration) -> DispatchFuture<'a, AttemptAnswer> {
        // At most 7 ms: below the time the drainer holds an outcome for company.
        let delay = Duration::from_millis(u64::try_from(entry.id % 8).unwrap_or(0));
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            AttemptAnswer::Applied { data: None }
        })
    }
    fn probe<'a>(&'a self, _: &'a Entry, _: Duration) -> DispatchFuture<'a, ProbeAnswer> {
        Box::pin(async { unreachable!("an identical re-send needs no probe") })
    }
}

/// 96 writes of 96 members, 16 under way at a time, calls finishing one by one: the
/// outcomes ride with the claims, a batch at a time, rather than one store round each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_share_the_claims_commits() {
    let store = Arc::new(Counting::default());
    append_members(store.as_ref(), 96).await;
    let mut policy = DrainPolicy::default();
    policy.concurrency = 16;
    policy.idle_poll = Duration::from_millis(50);
    let drainer = Drainer::new(
        store.clone(),
        Arc::new(Staggered),
        Arc::new(SystemClock),
        policy,
    );
    let all_applied = async {
        while store.counts().await.unwrap().applied < 96 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), drainer.run(all_applied))
        .await
        .expect("drained within 30 s");
    assert_eq!(
        store.updated.load(Ordering::SeqCst),
        96,
        "every outcome written once"
    );
    let rounds = store.update_many.load(Ordering::SeqCst);
    // Claims come a window (16) at a time, one window ahead of the calls: 7 claims, and
    // a few writes alone at the end, when nothing more is claimed. One round per call
    // would be 96.
    assert!(
        rounds <= 24,
        "{rounds} store rounds wrote the 96 outcomes: they should share the claims' rounds"
    );
}

/// A platform whose calls never end, noting which entries were sent.
#[derive(Default)]
struct Stuck {
    sent: Mutex<Vec<EntryId>>,
}

impl Dispatch for Stuck {
    fn journal_info(&self, _method: &str) -> Option<JournalInfo> {
        Staggered.journal_info("m")
    }
    fn send<'a>(&'a self, entry: &'a Entry, _: Duration) -> DispatchFuture<'a, AttemptAnswer> {
        self.sent.lock().unwrap().push(entry.id);
        Box::pin(std::future::pending())
    }
    fn probe<'a>(&'a self, _: &'a Entry, _: Duration) -> DispatchFuture<'a, ProbeAnswer> {
        Box::pin(async { unreachable!("an identical re-send needs no probe") })
    }
}

/// The drainer claims a window ahead of its calls. Stopped, it gives back what it
/// claimed and never sent: pending, due at once, and with no attempt that may have
/// landed (else it would wait for its lease, and then be probed as if sent). What was
/// sent stays in flight: its outcome is unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_drainer_gives_back_unsent_what_it_claimed_ahead() {
    let store = Arc::new(MemoryJournal::new());
    append_members(store.as_ref(), 6).await;
    let mut policy = DrainPolicy::default();
    policy.concurrency = 2;
    let dispatch = Arc::new(Stuck::default());
    let drainer = Drainer::new(
        store.clone(),
        dispatch.clone(),
        Arc::new(SystemClock),
        policy,
    );
    let claimed_ahead = async {
        while store.counts().await.unwrap().in_flight < 4 || dispatch.sent.lock().unwrap().len() < 2
        {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(30), drainer.run(claimed_ahead))
        .await
        .expect("claimed within 30 s");
    let sent = dispatch.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 2, "two calls at a time: {sent:?}");
    let now = SystemClock.now_ms();
    let mut given_back = 0;
    for id in 1..=6 {
        let entry = store.get(id).await.unwrap().unwrap();
        if sent.contains(&id) {
            assert_eq!(entry.state, EntryState::InFlight, "{entry:?}");
            assert!(entry.landing_possible, "{entry:?}");
        } else if entry.attempts > 0 {
            given_back += 1;
            assert_eq!(entry.state, EntryState::Pending, "{entry:?}");
            assert!(!entry.landing_possible, "never sent: {entry:?}");
            assert!(entry.next_attempt_ms <= now, "due at once: {entry:?}");
            assert_eq!(entry.unknown_since_ms, None, "{entry:?}");
        } else {
            assert_eq!(entry.state, EntryState::Pending, "never claimed: {entry:?}");
        }
    }
    assert!(given_back >= 2, "a window was claimed ahead and given back");
    let again = store.claim(now, 60_000, 10).await.unwrap();
    assert_eq!(
        again.len(),
        4,
        "the unsent ones are claimable at once: {again:?}"
    );
}
