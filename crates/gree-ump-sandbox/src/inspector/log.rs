//! The request log: every gateway call, kept in a bounded in-memory ring.
//!
//! Recording is cheap on purpose: an entry holds the bytes the gateway already has in
//! hand (the raw query, the body and reply as reference-counted `Bytes`) and the outcome
//! it already knows; nothing is parsed, redacted or formatted until a page or the JSON
//! endpoint asks for it. The ring keeps the last [`CAPACITY`] calls; new entries are also
//! broadcast to the live view (server-sent events), and nobody listening costs nothing.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use openplatform_runtime::redact::{Scrubber, redact_json_keys};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::faults::Fault;

/// How many calls the log keeps (the oldest are dropped first).
pub(crate) const CAPACITY: usize = 10_000;

/// The most bytes of bodies, replies and queries the log keeps in all: the oldest
/// entries go first when a run of large calls would exceed it, so memory stays bounded
/// whatever clients send (a body may be 4 MiB).
pub(crate) const BYTE_BUDGET: usize = 64 * 1024 * 1024;

/// The most bytes kept of one body or reply; a longer one is cut (and copied, so the
/// log does not hold the whole buffer alive). The platform's bodies are far smaller.
pub(crate) const KEPT_PER_BODY: usize = 64 * 1024;

/// Keys whose values never leave the log: the credentials and the signature of the
/// query, the tokens of the 2.1/2.2 replies, the SMS code of 6.2. The spec marks the
/// three body fields `sensitive: secret` (a unit test checks this list against it).
pub(crate) const SECRET_KEYS: &[&str] = &[
    "access_token",
    "app_secret",
    "refresh_token",
    "sign",
    "verify_code",
];

/// How a call ended, as the client saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A success envelope.
    Ok,
    /// An error envelope with this code.
    Error(i64),
    /// A bare HTTP status (a fault, or a verb refused with 405).
    Http(u16),
    /// The connection was cut: the client got nothing (the state may have changed).
    Dropped,
    /// The reply was cut in the middle (HTTP 200, invalid JSON).
    Malformed,
}

impl Outcome {
    /// The code a filter matches: the envelope's code (200 for a success), or the
    /// HTTP status of a bare answer; none for a dropped connection.
    pub(crate) fn code(self) -> Option<i64> {
        match self {
            Outcome::Ok => Some(gree_ump::PROTOCOL.success_code.unwrap_or(200)),
            Outcome::Error(code) => Some(code),
            Outcome::Http(status) => Some(i64::from(status)),
            Outcome::Dropped | Outcome::Malformed => None,
        }
    }
}

/// One recorded call.
#[derive(Debug)]
pub(crate) struct Entry {
    pub(crate) id: u64,
    /// Sandbox time when the call arrived.
    pub(crate) at_ms: i64,
    pub(crate) verb: &'static str,
    pub(crate) method: String,
    /// The raw query string (it holds the signature and the credential: redacted when
    /// shown).
    pub(crate) query: String,
    pub(crate) body: Bytes,
    /// The reply the gateway built (for a dropped connection, the one never delivered).
    pub(crate) reply: Bytes,
    pub(crate) outcome: Outcome,
    pub(crate) fault: Option<Fault>,
}

impl Entry {
    /// The bytes it holds, for the budget.
    fn size(&self) -> usize {
        self.query.len() + self.method.len() + self.body.len() + self.reply.len()
    }
}

/// `bytes`, cut to [`KEPT_PER_BODY`] (a copy) when longer; as it is (shared) otherwise.
fn kept(bytes: Bytes) -> Bytes {
    match bytes.get(..KEPT_PER_BODY) {
        Some(head) if bytes.len() > KEPT_PER_BODY => Bytes::copy_from_slice(head),
        _ => bytes,
    }
}

/// What [`RequestLog::record`] takes; the log adds the id.
#[derive(Debug)]
pub(crate) struct NewEntry {
    pub(crate) at_ms: i64,
    pub(crate) verb: &'static str,
    pub(crate) method: String,
    pub(crate) query: String,
    pub(crate) body: Bytes,
    pub(crate) reply: Bytes,
    pub(crate) outcome: Outcome,
    pub(crate) fault: Option<Fault>,
}

/// The ring of recent calls.
#[derive(Debug)]
pub(crate) struct RequestLog {
    inner: Mutex<Inner>,
    next_id: AtomicU64,
    capacity: usize,
    byte_budget: usize,
}

#[derive(Debug)]
struct Inner {
    ring: VecDeque<Arc<Entry>>,
    /// The bytes the ring's entries hold (see [`BYTE_BUDGET`]).
    bytes: usize,
    /// `None` once the sandbox stops: the live views then end, so a graceful shutdown
    /// does not wait for browsers to hang up.
    live: Option<broadcast::Sender<Arc<Entry>>>,
}

impl Default for RequestLog {
    fn default() -> Self {
        RequestLog::with_capacity(CAPACITY)
    }
}

impl RequestLog {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        // A slow live view skips what it missed (it is told it lagged) rather than
        // holding entries back.
        let (live, _) = broadcast::channel(256);
        RequestLog {
            inner: Mutex::new(Inner {
                ring: VecDeque::with_capacity(capacity.min(1024)),
                bytes: 0,
                live: Some(live),
            }),
            next_id: AtomicU64::new(1),
            capacity: capacity.max(1),
            byte_budget: BYTE_BUDGET,
        }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records a call; its id is one more than the previous call's.
    pub(crate) fn record(&self, new: NewEntry) {
        let mut inner = self.inner();
        // The id is taken under the lock, so the ring (and the live view) stay in id
        // order.
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let entry = Arc::new(Entry {
            id,
            at_ms: new.at_ms,
            verb: new.verb,
            method: new.method,
            query: new.query,
            body: kept(new.body),
            reply: kept(new.reply),
            outcome: new.outcome,
            fault: new.fault,
        });
        inner.bytes = inner.bytes.saturating_add(entry.size());
        inner.ring.push_back(entry.clone());
        while inner.ring.len() > self.capacity
            || (inner.bytes > self.byte_budget && inner.ring.len() > 1)
        {
            match inner.ring.pop_front() {
                Some(old) => inner.bytes = inner.bytes.saturating_sub(old.size()),
                None => break,
            }
        }
        if let Some(live) = &inner.live
            && live.receiver_count() > 0
        {
            // Fails only when every receiver left meanwhile: nobody is watching.
            let _ = live.send(entry);
        }
    }

    /// Ends the live views (the sandbox stops).
    pub(crate) fn close(&self) {
        self.inner().live = None;
    }

    /// The entry with this id, if still kept.
    pub(crate) fn get(&self, id: u64) -> Option<Arc<Entry>> {
        let inner = self.inner();
        let ring = &inner.ring;
        let first = ring.front()?.id;
        let index = usize::try_from(id.checked_sub(first)?).ok()?;
        ring.get(index).filter(|e| e.id == id).cloned()
    }

    /// The entries `filter` matches, newest first.
    pub(crate) fn matching(&self, filter: &Filter) -> Vec<Arc<Entry>> {
        let inner = self.inner();
        inner
            .ring
            .iter()
            .rev()
            .filter(|e| filter.matches(e))
            .cloned()
            .collect()
    }

    /// New entries as they are recorded; `None` once the sandbox stops.
    pub(crate) fn subscribe(&self) -> Option<broadcast::Receiver<Arc<Entry>>> {
        self.inner().live.as_ref().map(broadcast::Sender::subscribe)
    }
}

/// Which entries to show: every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Filter {
    pub(crate) method: Option<String>,
    pub(crate) code: Option<i64>,
    /// An open_id or phone: the calls whose query, body or reply contains it.
    pub(crate) member: Option<String>,
}

impl Filter {
    pub(crate) fn matches(&self, e: &Entry) -> bool {
        if self.method.as_deref().is_some_and(|m| m != e.method) {
            return false;
        }
        if self.code.is_some() && self.code != e.outcome.code() {
            return false;
        }
        if let Some(member) = self.member.as_deref() {
            let needle = member.as_bytes();
            return [e.query.as_bytes(), &e.body, &e.reply]
                .iter()
                .any(|hay| contains(hay, needle));
        }
        true
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// An entry as shown: secrets replaced by `[REDACTED]`.
#[derive(Debug, Serialize)]
pub(crate) struct Shown {
    pub(crate) id: u64,
    pub(crate) at_ms: i64,
    pub(crate) at: String,
    pub(crate) verb: &'static str,
    pub(crate) method: String,
    pub(crate) outcome: &'static str,
    pub(crate) code: Option<i64>,
    pub(crate) fault: Option<Fault>,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) body: String,
    pub(crate) reply: String,
}

/// `entry` with its secrets redacted: secret query parameters and JSON keys by name,
/// then the app secret and the call's own credentials wherever else they appear (an
/// error message quoting a token).
pub(crate) fn show(entry: &Entry, app_secret: &str) -> Shown {
    let mut scrubber = Scrubber::new();
    scrubber.add(app_secret);
    let query: Vec<(String, String)> = form_urlencoded::parse(entry.query.as_bytes())
        .into_owned()
        .map(|(k, v)| {
            if SECRET_KEYS.contains(&k.as_str()) {
                scrubber.add(&v);
                (k, openplatform_runtime::redact::MARK.to_owned())
            } else {
                (k, v)
            }
        })
        .collect();
    scrubber.add_sensitive_values(&entry.body, SECRET_KEYS);
    scrubber.add_sensitive_values(&entry.reply, SECRET_KEYS);
    let clean = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        scrubber.scrub(&redact_json_keys(&text, SECRET_KEYS))
    };
    let (outcome, code) = match entry.outcome {
        Outcome::Ok => ("ok", entry.outcome.code()),
        Outcome::Error(_) | Outcome::Http(_) => ("error", entry.outcome.code()),
        Outcome::Dropped => ("dropped", None),
        Outcome::Malformed => ("malformed", None),
    };
    Shown {
        id: entry.id,
        at_ms: entry.at_ms,
        at: crate::clock::beijing_text(entry.at_ms),
        verb: entry.verb,
        method: entry.method.clone(),
        outcome,
        code,
        fault: entry.fault,
        query,
        body: clean(&entry.body),
        reply: clean(&entry.reply),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(method: &str, query: &str, body: &str, reply: &str, outcome: Outcome) -> NewEntry {
        NewEntry {
            at_ms: 1_700_000_000_000,
            verb: "POST",
            method: method.to_owned(),
            query: query.to_owned(),
            body: Bytes::copy_from_slice(body.as_bytes()),
            reply: Bytes::copy_from_slice(reply.as_bytes()),
            outcome,
            fault: None,
        }
    }

    #[test]
    fn the_ring_keeps_the_last_entries_in_order() {
        let log = RequestLog::with_capacity(3);
        for i in 0..5 {
            log.record(new(&format!("m{i}"), "", "", "", Outcome::Ok));
        }
        let all = log.matching(&Filter::default());
        let ids: Vec<u64> = all.iter().map(|e| e.id).collect();
        assert_eq!(ids, vec![5, 4, 3]);
        assert!(log.get(2).is_none());
        assert_eq!(log.get(4).map(|e| e.method.clone()), Some("m3".to_owned()));
        assert!(log.get(6).is_none());
        assert!(log.get(u64::MAX).is_none());
    }

    #[test]
    fn the_ring_keeps_to_its_byte_budget() {
        let mut log = RequestLog::with_capacity(100);
        log.byte_budget = 1_000;
        for _ in 0..10 {
            log.record(new("m", "", &"x".repeat(300), "", Outcome::Ok));
        }
        let ids: Vec<u64> = log
            .matching(&Filter::default())
            .iter()
            .map(|e| e.id)
            .collect();
        // 301 bytes each (method included): three fit in 1,000.
        assert_eq!(ids, vec![10, 9, 8]);
        // A body over the per-body limit is cut.
        log.record(new(
            "m",
            "",
            &"y".repeat(KEPT_PER_BODY + 10),
            "",
            Outcome::Ok,
        ));
        assert_eq!(log.get(11).unwrap().body.len(), KEPT_PER_BODY);
        // A single entry over the budget is still kept (the newest always is).
        assert_eq!(log.matching(&Filter::default()).len(), 1);
    }

    #[test]
    fn filters_combine() {
        let log = RequestLog::default();
        log.record(new("a", "", r#"{"phone":"13800000001"}"#, "", Outcome::Ok));
        log.record(new("a", "", "{}", "", Outcome::Error(1002)));
        log.record(new(
            "b",
            "",
            "{}",
            r#"{"data":"13800000001"}"#,
            Outcome::Http(502),
        ));
        let ids = |f: Filter| -> Vec<u64> { log.matching(&f).iter().map(|e| e.id).collect() };
        let by_method = Filter {
            method: Some("a".into()),
            ..Filter::default()
        };
        assert_eq!(ids(by_method), vec![2, 1]);
        let by_code = Filter {
            code: Some(1002),
            ..Filter::default()
        };
        assert_eq!(ids(by_code), vec![2]);
        let ok = Filter {
            code: Some(200),
            ..Filter::default()
        };
        assert_eq!(ids(ok), vec![1]);
        let member = Filter {
            member: Some("13800000001".into()),
            ..Filter::default()
        };
        assert_eq!(ids(member), vec![3, 1]);
        let both = Filter {
            method: Some("b".into()),
            code: Some(502),
            member: Some("13800000001".into()),
        };
        assert_eq!(ids(both), vec![3]);
    }

    #[test]
    fn secrets_are_redacted() {
        let log = RequestLog::default();
        log.record(new(
            "wk.sms.verify.judge",
            "access_token=tok-abcdef&timestamp=1&sign=SIGNATURE123",
            r#"{"target":"13800000001","verify_code":"4821"}"#,
            r#"{"success":false,"error_message":"tok-abcdef is bad; key s3cr3t-key"}"#,
            Outcome::Error(1002),
        ));
        log.record(new(
            "dss.auth.token.query",
            "app_id=app&timestamp=1&sign=OTHERSIGN",
            "",
            r#"{"data":{"access_token":"AT-0001","refresh_token":"RT-0001"}}"#,
            Outcome::Ok,
        ));
        for entry in log.matching(&Filter::default()) {
            let shown = show(&entry, "s3cr3t-key");
            let text = serde_json::to_string(&shown).unwrap();
            for secret in [
                "tok-abcdef",
                "SIGNATURE123",
                "OTHERSIGN",
                "4821",
                "s3cr3t-key",
                "AT-0001",
                "RT-0001",
            ] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
            assert!(text.contains("[REDACTED]"), "{text}");
        }
        // What is not secret stays.
        let shown = show(&log.get(1).unwrap(), "s3cr3t-key");
        assert!(shown.body.contains("13800000001"), "{}", shown.body);
        assert!(shown.query.contains(&("timestamp".into(), "1".into())));
    }

    /// The spec's `sensitive: secret` fields are all in [`SECRET_KEYS`].
    #[test]
    fn secret_keys_cover_the_spec() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../api-spec/gree-ump.yaml");
        let spec = std::fs::read_to_string(path).expect("the spec");
        let mut wire = None;
        let mut found = 0;
        for line in spec.lines().map(str::trim) {
            if let Some(w) = line.strip_prefix("- wire: ") {
                wire = Some(w.trim());
            } else if line == "sensitive: secret" {
                let w = wire.expect("a field before its sensitivity");
                assert!(SECRET_KEYS.contains(&w), "{w} is secret in the spec");
                found += 1;
            }
        }
        assert!(found >= 3, "{found}");
    }
}
