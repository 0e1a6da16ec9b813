//! Who is making a token call: the identity of a manager instance, whether the instance
//! behind a pending-obtain marker can still be running, and the marker itself.
//!
//! The platform allows one token-issuing call a day. If a process dies between sending it
//! and storing the tokens, the day's call is spent and nothing holds its tokens. Before
//! sending, the manager writes a marker into the store (who, when, which day); after a
//! crash, the next instance reads it and reports exactly that, at once, instead of
//! waiting out a lease and then reporting an exhausted budget with no word of why.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use serde::{Deserialize, Serialize};

/// The store note that holds the pending-obtain marker.
pub(super) const PENDING_OBTAIN_NOTE: &str = "pending-obtain";

/// One token manager's identity: `host/pid/start-nanos-counter`, unique per manager, so a
/// restarted process (or a second client in the same process) is another instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Instance {
    pub id: String,
    pub host: String,
    pub pid: u32,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl Instance {
    pub(super) fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let host = this_host();
        let pid = std::process::id();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        Instance {
            id: format!("{host}/{pid}/{nanos:x}-{n}"),
            host,
            pid,
        }
    }
}

/// The host name, for telling "a process of this host" from "another host". Read from
/// the kernel on Linux, else from `HOSTNAME`; `unknown-host` when neither says.
fn this_host() -> String {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let host: String = raw
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .take(64)
        .collect();
    if host.is_empty() {
        "unknown-host".to_owned()
    } else {
        host
    }
}

/// Whether process `pid` of this host runs: `Some` where the OS tells (Linux's `/proc`),
/// `None` elsewhere.
fn process_alive(pid: u32) -> Option<bool> {
    let proc = std::path::Path::new("/proc");
    if !proc.join("self").exists() {
        return None;
    }
    Some(proc.join(pid.to_string()).exists())
}

/// The instances of this process whose token-issuing call is in flight.
static OBTAINING: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Registers an instance's obtain call as in flight until dropped — also when the call's
/// future is dropped mid-way, which is what a crash looks like from inside the process.
pub(super) struct InFlight(String);

impl InFlight {
    pub(super) fn start(instance: &Instance) -> Self {
        OBTAINING
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(instance.id.clone());
        InFlight(instance.id.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        OBTAINING
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.0);
    }
}

/// "Instance `instance` started the token-issuing call of platform day `day` at
/// `started_at_ms`" (platform clock). Written before the call, cleared once its outcome
/// is known to the instance (the tokens stored, or the call failed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct ObtainMarker {
    pub instance: String,
    pub host: String,
    pub pid: u32,
    pub day: i64,
    pub started_at_ms: i64,
}

impl ObtainMarker {
    pub(super) fn new(instance: &Instance, day: i64, started_at_ms: i64) -> Self {
        ObtainMarker {
            instance: instance.id.clone(),
            host: instance.host.clone(),
            pid: instance.pid,
            day,
            started_at_ms,
        }
    }

    pub(super) fn to_note(&self) -> String {
        // A struct of strings and integers always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The marker of a note; a damaged note is no marker (it only ever explains).
    pub(super) fn from_note(note: &str) -> Option<Self> {
        serde_json::from_str(note).ok()
    }

    /// Whether the call it marks may still be in flight at `now_ms`, judged as `me`: an
    /// instance of this process is in flight while registered; a process of this host
    /// while it runs (where the OS tells); any other while `deadline_ms` (the longest a
    /// token call can take) has not passed since it started.
    pub(super) fn may_be_in_flight(&self, me: &Instance, now_ms: i64, deadline_ms: i64) -> bool {
        if self.host == me.host {
            if self.pid == me.pid {
                return OBTAINING
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .contains(&self.instance);
            }
            if let Some(alive) = process_alive(self.pid) {
                return alive;
            }
        }
        now_ms < self.started_at_ms.saturating_add(deadline_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_are_distinct_and_name_this_host() {
        let a = Instance::new();
        let b = Instance::new();
        assert_ne!(a.id, b.id);
        assert_eq!(a.host, b.host);
        assert!(a.id.starts_with(&format!("{}/{}/", a.host, a.pid)));
    }

    #[test]
    fn marker_round_trip_and_damaged_note() {
        let me = Instance::new();
        let m = ObtainMarker::new(&me, 20_000, 1_700_000_000_000);
        assert_eq!(ObtainMarker::from_note(&m.to_note()), Some(m));
        assert_eq!(ObtainMarker::from_note("{"), None);
    }

    #[test]
    fn in_flight_in_this_process_while_registered() {
        let me = Instance::new();
        let other = Instance::new();
        let m = ObtainMarker::new(&other, 1, 0);
        {
            let _guard = InFlight::start(&other);
            assert!(m.may_be_in_flight(&me, i64::MAX, 1));
        }
        // Dropped (the future was dropped mid-call): certainly not in flight.
        assert!(!m.may_be_in_flight(&me, 0, i64::MAX));
    }

    #[test]
    fn another_host_is_judged_by_the_deadline() {
        let me = Instance::new();
        let mut m = ObtainMarker::new(&me, 1, 1_000);
        m.host = "elsewhere".into();
        assert!(m.may_be_in_flight(&me, 1_500, 1_000));
        assert!(!m.may_be_in_flight(&me, 2_000, 1_000));
        assert!(!m.may_be_in_flight(&me, i64::MAX, i64::MAX));
    }
}
