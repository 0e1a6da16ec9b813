//! The behaviour every [`JournalStore`] must have, as a test suite any store can run: the
//! stores of this crate run it in their tests, and the next backend (a user's own, or
//! PostgreSQL) is held to it too (enable the feature `test-util`).
//!
//! ```no_run
//! # async fn f() {
//! use openplatform_runtime::journal::{MemoryJournal, conformance};
//! conformance::check_journal(&MemoryJournal::new()).await;
//! # }
//! ```
//!
//! Each check needs an **empty** store (it reasons about every entry in it): pass a
//! fresh one. It panics (like `assert!`) at the first broken rule, naming it.

use std::collections::HashSet;
use std::sync::Arc;

use super::entry::{EntryState, NewEntry, Resolution, Settlement, Update};
use super::store::{JournalErrorKind, JournalStore};

const LEASE: i64 = 30_000;

fn new(method: &str, keys: &[&str], created_ms: i64) -> NewEntry {
    NewEntry {
        method: method.to_owned(),
        body: format!(r#"{{"n":"{method}","手机":"13800000000"}}"#),
        order_keys: keys.iter().map(|k| (*k).to_owned()).collect(),
        created_ms,
    }
}

fn retry(next_attempt_ms: i64) -> Update {
    Update::Settle(Settlement::Retry {
        next_attempt_ms,
        landing_possible: true,
        confirming_refusal: false,
        error: "busy".into(),
    })
}

fn applied() -> Update {
    Update::Settle(Settlement::Applied {
        result: Some(r#""ok""#.into()),
    })
}

/// Runs every check on `store`, which must be empty.
pub async fn check_journal(store: &dyn JournalStore) {
    let t = 1_000_000;
    // Appending: increasing ids, the body byte for byte, pending and due at once.
    let a = store
        .append(new("a", &["member:1"], t))
        .await
        .expect("append");
    let b = store
        .append(new("b", &["member:1", "order:9"], t + 1))
        .await
        .expect("append");
    let c = store
        .append(new("c", &["member:2"], t + 2))
        .await
        .expect("append");
    let d = store
        .append(new("d", &["order:9"], t + 3))
        .await
        .expect("append");
    let e = store.append(new("e", &[], t + 4)).await.expect("append");
    assert!(
        a.id < b.id && b.id < c.id && c.id < d.id && d.id < e.id,
        "ids increase"
    );
    let got = store.get(a.id).await.expect("get").expect("the entry");
    assert_eq!(
        got.body,
        new("a", &[], 0).body,
        "the body is kept byte for byte"
    );
    assert_eq!(got.state, EntryState::Pending);
    assert_eq!(got.next_attempt_ms, t, "due when submitted");
    assert!(store.get(e.id + 1000).await.expect("get").is_none());

    // Claims: the first of each order key only; an entry naming none is free.
    assert!(
        store
            .claim(t - 1, LEASE, 10)
            .await
            .expect("claim")
            .is_empty(),
        "nothing is due before it was submitted"
    );
    let claimed = store.claim(t + 10, LEASE, 10).await.expect("claim");
    let ids: Vec<i64> = claimed.iter().map(|e| e.id).collect();
    assert_eq!(
        ids,
        vec![a.id, c.id, e.id],
        "b waits for a (member:1), d for b (order:9)"
    );
    assert!(
        claimed
            .iter()
            .all(|e| e.state == EntryState::InFlight && e.fence == 1)
    );
    assert!(
        store
            .claim(t + 10, LEASE, 10)
            .await
            .expect("claim")
            .is_empty(),
        "claimed entries are held"
    );

    // An attempt, then a retry later: pending, held back, and it still holds b back.
    let a1 = store
        .update(a.id, 1, Update::AttemptBegins, t + 11)
        .await
        .expect("update");
    assert_eq!((a1.attempts, a1.landing_possible), (1, true));
    assert_eq!(a1.last_attempt_ms, Some(t + 11));
    let a2 = store
        .update(a.id, 1, retry(t + 5_000), t + 12)
        .await
        .expect("update");
    assert_eq!(a2.state, EntryState::Pending);
    assert!(a2.landing_possible, "kept across the retry");
    assert_eq!(
        store
            .update(a.id, 1, applied(), t + 13)
            .await
            .map_err(|e| e.kind()),
        Err(JournalErrorKind::Fenced),
        "a pending entry takes no drainer update"
    );
    assert!(
        store
            .claim(t + 100, LEASE, 10)
            .await
            .expect("claim")
            .is_empty(),
        "a is not due, b waits for it"
    );
    assert_eq!(
        store.next_due().await.expect("next_due"),
        Some(t + 1),
        "the earliest due entry, held back or not (b)"
    );

    // a applied: b is next for member:1, and d still waits for b (order:9).
    let a3 = store.claim(t + 5_000, LEASE, 10).await.expect("claim");
    assert_eq!(a3.iter().map(|e| e.id).collect::<Vec<_>>(), vec![a.id]);
    assert_eq!(a3[0].fence, 2, "a claim raises the fence");
    let done = store
        .update(a.id, 2, applied(), t + 5_001)
        .await
        .expect("update");
    assert_eq!(done.state, EntryState::Applied);
    assert_eq!(done.result.as_deref(), Some(r#""ok""#));
    assert_eq!(
        store
            .update(a.id, 2, retry(0), t + 5_002)
            .await
            .map_err(|e| e.kind()),
        Err(JournalErrorKind::Fenced),
        "a final entry takes no update"
    );
    let next = store.claim(t + 5_002, LEASE, 10).await.expect("claim");
    assert_eq!(next.iter().map(|e| e.id).collect::<Vec<_>>(), vec![b.id]);

    // b needs attention: it still holds d back.
    store
        .update(
            b.id,
            1,
            Update::Settle(Settlement::Attention {
                error: "key in use".into(),
            }),
            t + 5_003,
        )
        .await
        .expect("update");
    assert!(
        store
            .claim(t + 5_004, LEASE, 10)
            .await
            .expect("claim")
            .is_empty(),
        "an entry in attention holds back what follows it (d)"
    );

    // A lease that ran out: claimable again under a higher fence; the old holder is fenced.
    let c_again = store.claim(t + 10 + LEASE, LEASE, 10).await.expect("claim");
    assert!(
        c_again.iter().any(|x| x.id == c.id && x.fence == 2),
        "an expired lease is claimable: {c_again:?}"
    );
    assert_eq!(
        store
            .update(c.id, 1, applied(), t + 10 + LEASE)
            .await
            .map_err(|e| e.kind()),
        Err(JournalErrorKind::Fenced),
        "the first holder's update is refused"
    );
    store
        .update(c.id, 2, applied(), t + 10 + LEASE)
        .await
        .expect("the new holder's update");

    // Operators: retry b now (a higher fence), then refuse it; a final entry is final.
    let b2 = store
        .resolve(
            b.id,
            Resolution::RetryNow,
            "checked by hand".into(),
            t + 50_000,
        )
        .await
        .expect("resolve");
    assert_eq!(
        (b2.state, b2.next_attempt_ms),
        (EntryState::Pending, t + 50_000)
    );
    assert_eq!(b2.last_error.as_deref(), Some("checked by hand"));
    let b3 = store
        .resolve(
            b.id,
            Resolution::Refused,
            "not on the platform".into(),
            t + 50_001,
        )
        .await
        .expect("resolve");
    assert_eq!(b3.state, EntryState::Refused);
    assert_eq!(
        store
            .resolve(b.id, Resolution::Applied, "x".into(), t + 50_002)
            .await
            .map_err(|e| e.kind()),
        Err(JournalErrorKind::Final)
    );
    assert_eq!(
        store
            .resolve(e.id + 1000, Resolution::Applied, "x".into(), 0)
            .await
            .map_err(|e| e.kind()),
        Err(JournalErrorKind::NotFound)
    );
    // An operator's decision fences out a drainer that holds the entry.
    let d1 = store.claim(t + 50_002, LEASE, 10).await.expect("claim");
    let d1 = d1
        .iter()
        .find(|x| x.id == d.id)
        .expect("d is free now b is final");
    store
        .resolve(
            d.id,
            Resolution::Applied,
            "found on the platform".into(),
            t + 50_003,
        )
        .await
        .expect("resolve");
    assert_eq!(
        store
            .update(d.id, d1.fence, retry(0), t + 50_004)
            .await
            .map_err(|e| e.kind()),
        Err(JournalErrorKind::Fenced)
    );

    // Listing and counting.
    let all = store.list(None, 0, 100).await.expect("list");
    assert_eq!(all.len(), 5);
    let page = store.list(None, a.id, 2).await.expect("list");
    assert_eq!(
        page.iter().map(|x| x.id).collect::<Vec<_>>(),
        vec![b.id, c.id],
        "after an id, a limit"
    );
    let applied_ones = store
        .list(Some(EntryState::Applied), 0, 100)
        .await
        .expect("list");
    assert_eq!(
        applied_ones.iter().map(|x| x.id).collect::<Vec<_>>(),
        vec![a.id, c.id, d.id]
    );
    let counts = store.counts().await.expect("counts");
    assert_eq!(counts.applied, 3);
    assert_eq!(counts.refused, 1);
    assert_eq!(counts.in_flight, 1, "e is still held");
    assert_eq!(counts.oldest_open_created_ms, Some(t + 4));

    // Keys followed without holding them (`~kind:value`): followers wait for an
    // earlier holder, not for each other; a later holder waits for them.
    let t2 = t + 20_000_000;
    let tpl = store
        .append(new("template", &["template:7"], t2))
        .await
        .expect("append");
    let g1 = store
        .append(new("grant", &["~template:7", "member:a"], t2))
        .await
        .expect("append");
    let g2 = store
        .append(new("grant", &["~template:7", "member:b"], t2))
        .await
        .expect("append");
    let tpl2 = store
        .append(new("template", &["template:7"], t2))
        .await
        .expect("append");
    let ids = |v: Vec<super::entry::Entry>| v.iter().map(|x| x.id).collect::<Vec<_>>();
    let first = ids(store.claim(t2, LEASE, 100).await.expect("claim"));
    assert!(
        first.contains(&tpl.id) && !first.contains(&g1.id),
        "grants wait for their template: {first:?}"
    );
    store
        .update(tpl.id, 1, applied(), t2)
        .await
        .expect("update");
    let second = ids(store.claim(t2 + 1, LEASE, 100).await.expect("claim"));
    assert!(
        second.contains(&g1.id) && second.contains(&g2.id),
        "followers run side by side: {second:?}"
    );
    assert!(
        !second.contains(&tpl2.id),
        "a later holder waits for the followers"
    );
    store
        .update(g1.id, 1, applied(), t2 + 2)
        .await
        .expect("update");
    store
        .update(g2.id, 1, applied(), t2 + 2)
        .await
        .expect("update");
    assert!(ids(store.claim(t2 + 3, LEASE, 100).await.expect("claim")).contains(&tpl2.id));

    // The claim limit.
    for n in 0..5 {
        store
            .append(new("many", &[], t + 100 + n))
            .await
            .expect("append");
    }
    assert_eq!(
        store
            .claim(t + 10_000_000, LEASE, 3)
            .await
            .expect("claim")
            .len(),
        3,
        "at most `limit`"
    );

    check_claim_to_send(store, t + 30_000_000).await;
    check_append_many(store, t + 40_000_000).await;
    check_update_and_claim(store, t + 50_000_000).await;
}

/// [`JournalStore::update_and_claim`]: the outcomes are written, fenced each as alone,
/// and the claim after them sees what they freed (a later write to the same member).
async fn check_update_and_claim(store: &dyn JournalStore, t: i64) {
    for open in store
        .claim(t, LEASE, usize::MAX)
        .await
        .expect("claim the rest")
    {
        store
            .update(open.id, open.fence, applied(), t)
            .await
            .expect("settle the rest");
    }
    let first = store
        .append(new("first", &["member:u1"], t))
        .await
        .expect("append");
    let second = store
        .append(new("second", &["member:u1"], t))
        .await
        .expect("append");
    let mut held = Vec::new();
    for e in store.claim(t, LEASE, 100).await.expect("claim") {
        assert_ne!(e.id, second.id, "the second waits for the first");
        if e.id == first.id {
            held.push(e);
        } else {
            // Left over by earlier checks: out of the way.
            store
                .update(e.id, e.fence, applied(), t)
                .await
                .expect("settle the rest");
        }
    }
    assert_eq!(held.len(), 1, "the first is claimed");
    let (written, claimed) = store
        .update_and_claim(
            vec![
                (first.id, held[0].fence, applied()),
                (first.id + 1_000_000, 1, applied()),
            ],
            t + 1,
            LEASE,
            Some(10),
        )
        .await;
    let written = written.expect("outcomes written").expect("the round");
    assert_eq!(written.len(), 2);
    let applied_first = written[0].as_ref().expect("the first applied");
    assert_eq!(applied_first.state, EntryState::Applied);
    assert_eq!(applied_first.result.as_deref(), Some(r#""ok""#));
    assert_eq!(
        written[1].as_ref().map(|_| ()).unwrap_err().kind(),
        JournalErrorKind::NotFound
    );
    let claimed = claimed.expect("claimed").expect("the round");
    // (Entries of earlier checks may be due too.)
    let freed = claimed
        .iter()
        .find(|c| c.entry.id == second.id)
        .expect("the claim saw the first applied");
    let begun = freed.begun.as_ref().expect("its attempt begins");
    assert_eq!(
        &store.get(second.id).await.expect("get").expect("second"),
        begun
    );
    // A stale fence is refused, and nothing is claimed without room.
    let (written, claimed) = store
        .update_and_claim(
            vec![(second.id, freed.entry.fence - 1, applied())],
            t + 2,
            LEASE,
            None,
        )
        .await;
    assert!(claimed.is_none());
    let written = written.expect("outcomes written").expect("the round");
    assert_eq!(
        written[0].as_ref().map(|_| ()).unwrap_err().kind(),
        JournalErrorKind::Fenced
    );
    assert_eq!(
        store
            .get(second.id)
            .await
            .expect("get")
            .expect("second")
            .state,
        EntryState::InFlight
    );
}

/// [`JournalStore::claim_to_send`]: an entry no earlier attempt can have reached is
/// claimed with its attempt begun; one that an attempt may have reached is claimed only.
async fn check_claim_to_send(store: &dyn JournalStore, t: i64) {
    // Settle everything still open first: this check reasons about its own entries.
    for open in store
        .claim(t, LEASE, usize::MAX)
        .await
        .expect("claim the rest")
    {
        store
            .update(open.id, open.fence, applied(), t)
            .await
            .expect("settle the rest");
    }
    let fresh = store
        .append(new("fresh", &["member:s1"], t))
        .await
        .expect("append");
    let tried = store
        .append(new("tried", &["member:s2"], t))
        .await
        .expect("append");
    let first = store.claim(t, LEASE, 10).await.expect("claim");
    let held = first.iter().find(|e| e.id == tried.id).expect("tried");
    store
        .update(tried.id, held.fence, Update::AttemptBegins, t)
        .await
        .expect("begin");
    store
        .update(tried.id, held.fence, retry(t + 1), t)
        .await
        .expect("retry");
    let again = first.iter().find(|e| e.id == fresh.id).expect("fresh");
    store
        .update(
            fresh.id,
            again.fence,
            Update::Settle(Settlement::Retry {
                next_attempt_ms: t + 1,
                landing_possible: false,
                confirming_refusal: false,
                error: "not sent".into(),
            }),
            t,
        )
        .await
        .expect("retry without an attempt");
    let fresh_before = store.get(fresh.id).await.expect("get").expect("fresh");
    assert!(!fresh_before.landing_possible, "no attempt of it was sent");

    let claimed = store.claim_to_send(t + 1, LEASE, 10).await.expect("claim");
    assert_eq!(claimed.len(), 2, "both are due: {claimed:?}");
    for c in &claimed {
        assert_eq!(c.entry.state, EntryState::InFlight, "claimed: {c:?}");
        assert_eq!(
            c.entry.attempts,
            store_attempts_before(c.entry.id, fresh.id)
        );
        let stored = store.get(c.entry.id).await.expect("get").expect("entry");
        if c.entry.id == fresh.id {
            let begun = c.begun.as_ref().expect("the fresh entry's attempt begins");
            assert_eq!(begun.attempts, 1, "its attempt is counted");
            assert!(begun.landing_possible, "and may land from now on");
            assert_eq!(begun.fence, c.entry.fence, "under the claim's fence");
            assert_eq!(&stored, begun, "as stored, in the claim's commit");
        } else {
            assert!(
                c.begun.is_none(),
                "an entry an attempt may have reached is decided by the drainer: {c:?}"
            );
            assert_eq!(stored, c.entry, "claimed only");
        }
    }
}

/// Several writes recorded at once: ids ascending in the order given, above every
/// earlier entry's, each kept as given.
async fn check_append_many(store: &dyn JournalStore, t: i64) {
    let before = store.list(None, 0, 10_000).await.expect("list");
    let highest = before.iter().map(|e| e.id).max().unwrap_or(0);
    assert!(
        store
            .append_many(Vec::new())
            .await
            .expect("append nothing")
            .is_empty(),
        "nothing given, nothing recorded"
    );
    let batch: Vec<NewEntry> = (0..5)
        .map(|n| new(&format!("many-{n}"), &["member:many"], t + n))
        .collect();
    let recorded = store.append_many(batch.clone()).await.expect("append_many");
    assert_eq!(recorded.len(), 5, "one entry per write");
    for (n, (entry, given)) in recorded.iter().zip(&batch).enumerate() {
        assert!(entry.id > highest, "above every earlier entry");
        if n > 0 {
            assert!(
                entry.id > recorded[n - 1].id,
                "ids ascend in the order given"
            );
        }
        assert_eq!(entry.body, given.body);
        assert_eq!(entry.state, EntryState::Pending);
        let stored = store.get(entry.id).await.expect("get").expect("recorded");
        assert_eq!(&stored, entry, "as returned");
    }
}

/// How many attempts [`check_claim_to_send`]'s entries had when claimed.
fn store_attempts_before(id: i64, fresh: i64) -> u32 {
    if id == fresh { 0 } else { 1 }
}

/// Claims from many tasks at once (a multi-thread runtime): every entry is claimed by
/// exactly one, and entries naming one key are never held by two at once. `store` must
/// be empty.
pub async fn check_journal_shared(store: Arc<dyn JournalStore>) {
    let t = 2_000_000;
    for n in 0..60 {
        let key = format!("member:{}", n % 6);
        store
            .append(new("shared", &[&key], t + n))
            .await
            .expect("append");
    }
    let tasks: Vec<_> = (0..12)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.claim(t + 1_000, LEASE, 4).await })
        })
        .collect();
    let mut claimed = Vec::new();
    for task in tasks {
        claimed.extend(task.await.expect("the task").expect("claim"));
    }
    let ids: HashSet<i64> = claimed.iter().map(|e| e.id).collect();
    assert_eq!(ids.len(), claimed.len(), "no entry claimed twice");
    let keys: HashSet<&String> = claimed.iter().flat_map(|e| &e.order_keys).collect();
    assert_eq!(keys.len(), claimed.len(), "one entry per key at a time");
    assert_eq!(claimed.len(), 6, "the first of each of the six members");

    // Updates from many tasks at once, half of them fenced out: each is decided alone
    // (a backend that commits several together must not let one's refusal undo or
    // block another's write).
    let tasks: Vec<_> = claimed
        .iter()
        .enumerate()
        .map(|(n, entry)| {
            let store = store.clone();
            let (id, fence) = (entry.id, entry.fence);
            let fence = if n % 2 == 0 { fence } else { fence + 7 };
            tokio::spawn(async move { store.update(id, fence, applied(), t + 2_000).await })
        })
        .collect();
    for (n, task) in tasks.into_iter().enumerate() {
        let result = task.await.expect("the task");
        if n % 2 == 0 {
            assert_eq!(result.expect("held").state, EntryState::Applied);
        } else {
            assert_eq!(
                result.expect_err("fenced").kind(),
                JournalErrorKind::Fenced,
                "a stale fence is refused"
            );
        }
    }
    for (n, entry) in claimed.iter().enumerate() {
        let stored = store.get(entry.id).await.expect("get").expect("entry");
        let want = if n % 2 == 0 {
            EntryState::Applied
        } else {
            EntryState::InFlight
        };
        assert_eq!(stored.state, want, "each update decided alone: {stored:?}");
    }

    // Appends from many tasks at once: each recorded, under an id of its own.
    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let store = store.clone();
            tokio::spawn(async move { store.append(new("burst", &[], t + 3_000 + n)).await })
        })
        .collect();
    let mut ids = HashSet::new();
    for task in tasks {
        let entry = task.await.expect("the task").expect("append");
        let stored = store.get(entry.id).await.expect("get").expect("recorded");
        assert_eq!(stored.created_ms, entry.created_ms, "the entry as appended");
        ids.insert(entry.id);
    }
    assert_eq!(ids.len(), 40, "one id per append");
}
