//! Points are money: 10,000 points changes against the sandbox with 20% of the replies
//! dropped after the change was committed, 10% "busy" answers, and 5% of the requests
//! held past the client's timeout and committed afterwards (usually after the retry
//! already committed under the same key), all through the
//! same-key recovery protocol (`gree_ump::recovery`). At the end every member's balance
//! equals the sum of the changes the caller was told were applied: no double credit,
//! nothing lost, nothing unresolved.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use gree_ump::Client;
use gree_ump::endpoints::{
    ChangePointsArgs, ChangePointsRequest, CreateMemberArgs, CreateMemberRequest,
};
use gree_ump::recovery::{AppliedBy, PointsChangeOutcome, Recovery, change_points_reliably};
use gree_ump::runtime::RetryPolicy;
use gree_ump_sandbox::{Fault, Sandbox, SandboxConfig};

const CHANGES: u64 = 10_000;
const MEMBERS: u64 = 50;
const CONCURRENCY: usize = 32;
const CHANGE_METHOD: &str = "wk.user.event.score.change";
/// The client's request timeout, and how long a held request waits before it commits.
const CLIENT_TIMEOUT: Duration = Duration::from_millis(500);
const HELD_MS: u64 = 1_500;

/// A small deterministic generator (splitmix64): the same faults on every run.
fn mix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[derive(Default)]
struct Tally {
    applied_first_try: AtomicU64,
    applied_after_recovery: AtomicU64,
    refused: AtomicU64,
    unresolved: AtomicU64,
    drops: AtomicU64,
    busy: AtomicU64,
    held: AtomicU64,
    by_earlier_attempt: AtomicU64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_changes_under_faults_lose_nothing_and_double_nothing() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await.unwrap();
    let client: Client = Client::builder()
        .base_url(sandbox.base_url())
        .app_id(sandbox.app_id())
        .app_secret(sandbox.app_secret())
        .token_store(std::sync::Arc::new(
            gree_ump::runtime::tokens::MemoryTokenStore::new(),
        ))
        // The recovery protocol, not blind retries, deals with unknown outcomes.
        .retry_policy(RetryPolicy::NONE)
        .timeout(Some(CLIENT_TIMEOUT))
        .build()
        .unwrap();
    let mut members = Vec::new();
    for m in 0..MEMBERS {
        let phone = format!("139{m:08}");
        let created = client
            .members()
            .create_member(CreateMemberRequest::new(CreateMemberArgs {
                project_id: "P001".into(),
                nickname: format!("member{m}"),
                phone: phone.clone(),
            }))
            .await
            .unwrap();
        members.push(created);
    }
    let members = Arc::new(members);
    // What the caller was told, per member: the sum of the changes reported applied.
    let told: Arc<Vec<AtomicU64>> = Arc::new((0..MEMBERS).map(|_| AtomicU64::new(0)).collect());
    let tally = Arc::new(Tally::default());
    let recovery = Recovery {
        poll_interval: Duration::from_millis(1),
        max_attempts: 20,
        attempt_lifetime: Duration::from_secs(60),
    };
    let started = Instant::now();
    futures_util::stream::iter(0..CHANGES)
        .for_each_concurrent(CONCURRENCY, |i| {
            let (client, members, told, tally) =
                (client.clone(), members.clone(), told.clone(), tally.clone());
            let control = sandbox.control().clone();
            async move {
                let r = mix(i);
                let member = (r % MEMBERS) as usize;
                let score = 1 + (r >> 8) % 100;
                // 20% of the changes lose their reply after the commit, 10% meet a busy
                // platform. A fault applies to the next call of the method, whichever
                // task makes it: the proportions hold, the pairing is random.
                match (r >> 32) % 20 {
                    0..=3 => {
                        tally.drops.fetch_add(1, Ordering::Relaxed);
                        control.inject_fault(CHANGE_METHOD, Fault::DropAfterCommit, 1);
                    }
                    4 | 5 => {
                        tally.busy.fetch_add(1, Ordering::Relaxed);
                        control.inject_fault(CHANGE_METHOD, Fault::Busy, 1);
                    }
                    // Committed after the caller's timeout (the late commit).
                    6 => {
                        tally.held.fetch_add(1, Ordering::Relaxed);
                        control.inject_fault(
                            CHANGE_METHOD,
                            Fault::CommitAfterTimeout { delay_ms: HELD_MS },
                            1,
                        );
                    }
                    _ => {}
                }
                let request = ChangePointsRequest::new(ChangePointsArgs {
                    open_id: members[member].clone(),
                    score: score as i64,
                    out_biz_no: format!("order-{i}"),
                    change_reason: "fault test".into(),
                    change_event: "event_add".into(),
                    change_id: format!("chg-{i}"),
                });
                match change_points_reliably(&client, request, recovery).await {
                    PointsChangeOutcome::Applied { attempts, by, .. } => {
                        told[member].fetch_add(score, Ordering::Relaxed);
                        if by == AppliedBy::EarlierAttempt {
                            tally.by_earlier_attempt.fetch_add(1, Ordering::Relaxed);
                        }
                        let counter = if attempts == 1 {
                            &tally.applied_first_try
                        } else {
                            &tally.applied_after_recovery
                        };
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    PointsChangeOutcome::Refused(e) => {
                        eprintln!("change {i} refused: {e}");
                        tally.refused.fetch_add(1, Ordering::Relaxed);
                    }
                    PointsChangeOutcome::Unresolved { last_error, .. } => {
                        eprintln!("change {i} unresolved: {last_error}");
                        tally.unresolved.fetch_add(1, Ordering::Relaxed);
                    }
                    other => panic!("unexpected outcome {other:?}"),
                }
            }
        })
        .await;
    let elapsed = started.elapsed();
    sandbox.control().clear_faults();
    // Held requests still waiting land now (after their retries): then the ledger is final.
    tokio::time::sleep(Duration::from_millis(HELD_MS * 2)).await;

    let mut total_told = 0;
    for (m, open_id) in members.iter().enumerate() {
        let ledger = sandbox.control().ledger(open_id).expect("member ledger");
        let expected = told[m].load(Ordering::Relaxed);
        total_told += expected;
        assert_eq!(
            ledger.score as u64, expected,
            "member {m}: balance {} but the caller was told {expected}",
            ledger.score
        );
    }
    let t = |c: &AtomicU64| c.load(Ordering::Relaxed);
    eprintln!(
        "{CHANGES} changes in {elapsed:?}: {} applied first try, {} applied after recovery, \
         {} refused, {} unresolved; {} applied by an earlier attempt; faults injected: {} drops, \
         {} busy, {} held past the client timeout; {total_told} points credited in all",
        t(&tally.applied_first_try),
        t(&tally.applied_after_recovery),
        t(&tally.refused),
        t(&tally.unresolved),
        t(&tally.by_earlier_attempt),
        t(&tally.drops),
        t(&tally.busy),
        t(&tally.held),
    );
    assert_eq!(t(&tally.refused), 0);
    assert_eq!(t(&tally.unresolved), 0);
    // Every change ends applied, exactly once (the ledger check above).
    assert_eq!(
        t(&tally.applied_first_try) + t(&tally.applied_after_recovery),
        CHANGES
    );
    assert!(
        t(&tally.applied_after_recovery) > CHANGES / 10,
        "the faults were exercised"
    );
}
