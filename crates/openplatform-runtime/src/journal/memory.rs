//! A journal in this process's memory: **for tests only**. Everything it holds is lost
//! when the process ends, which is exactly what a journal exists to prevent.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Mutex, PoisonError};

use super::entry::{Counts, Entry, EntryId, EntryState, NewEntry, Resolution, Update};
use super::store::{JournalError, JournalFuture, JournalStore, resolve_entry};

/// A [`JournalStore`] in memory, for tests: lost with the process.
#[derive(Debug, Default)]
pub struct MemoryJournal {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    entries: BTreeMap<EntryId, Entry>,
    last_id: EntryId,
}

impl MemoryJournal {
    /// An empty journal.
    pub fn new() -> Self {
        MemoryJournal::default()
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut Inner) -> Result<T, JournalError>,
    ) -> Result<T, JournalError> {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The claim rule over entries in id order (shared with the SQLite store): each open
/// entry holds back the later ones that share an order key with it, claimed or not. A
/// key written `~kind:value` is one the entry follows without holding it
/// ([`NewEntry::order_keys`]): it waits for earlier entries holding that key, and holds
/// back only later entries that hold it.
pub(crate) fn choose_claims<'a>(
    open: impl Iterator<Item = &'a Entry>,
    now_ms: i64,
    limit: usize,
) -> Vec<EntryId> {
    let mut chooser = ClaimChooser::new(now_ms, limit);
    for entry in open {
        if !chooser.offer(entry) {
            break;
        }
    }
    chooser.chosen
}

/// [`choose_claims`] one entry at a time, so that a store can stop reading once it has
/// chosen enough: the rule needs only the entries before the last one chosen.
pub(crate) struct ClaimChooser {
    now_ms: i64,
    limit: usize,
    /// Keys held by an earlier open entry, and keys an earlier open entry follows.
    held: HashSet<String>,
    followed: HashSet<String>,
    /// The ids chosen, in id order.
    pub(crate) chosen: Vec<EntryId>,
}

impl ClaimChooser {
    pub(crate) fn new(now_ms: i64, limit: usize) -> Self {
        ClaimChooser {
            now_ms,
            limit,
            held: HashSet::new(),
            followed: HashSet::new(),
            chosen: Vec::new(),
        }
    }

    /// Considers the next open entry (in id order); whether to go on (fewer than
    /// `limit` chosen).
    pub(crate) fn offer(&mut self, entry: &Entry) -> bool {
        if self.chosen.len() >= self.limit {
            return false;
        }
        let free = entry.order_keys.iter().all(|k| match k.strip_prefix('~') {
            Some(key) => !self.held.contains(key),
            None => !self.held.contains(k.as_str()) && !self.followed.contains(k.as_str()),
        });
        if free && entry.claimable(self.now_ms) {
            self.chosen.push(entry.id);
        }
        if entry.holds_back() {
            for k in &entry.order_keys {
                match k.strip_prefix('~') {
                    Some(key) => self.followed.insert(key.to_owned()),
                    None => self.held.insert(k.clone()),
                };
            }
        }
        self.chosen.len() < self.limit
    }
}

impl JournalStore for MemoryJournal {
    fn append(&self, new: NewEntry) -> JournalFuture<'_, Entry> {
        let result = self.with(|inner| {
            inner.last_id += 1;
            let entry = Entry::recorded(inner.last_id, new);
            inner.entries.insert(entry.id, entry.clone());
            Ok(entry)
        });
        Box::pin(async move { result })
    }

    fn claim(&self, now_ms: i64, lease_ms: i64, limit: usize) -> JournalFuture<'_, Vec<Entry>> {
        let result = self.with(|inner| {
            let ids = choose_claims(
                inner.entries.values().filter(|e| !e.state.is_final()),
                now_ms,
                limit,
            );
            Ok(ids
                .into_iter()
                .filter_map(|id| {
                    let entry = inner.entries.get_mut(&id)?;
                    entry.claim(now_ms, lease_ms);
                    Some(entry.clone())
                })
                .collect())
        });
        Box::pin(async move { result })
    }

    fn update(
        &self,
        id: EntryId,
        fence: u64,
        update: Update,
        now_ms: i64,
    ) -> JournalFuture<'_, Entry> {
        let result = self.with(|inner| {
            let entry = inner
                .entries
                .get_mut(&id)
                .ok_or_else(|| JournalError::not_found(id))?;
            entry.apply_fenced(fence, &update, now_ms)?;
            Ok(entry.clone())
        });
        Box::pin(async move { result })
    }

    fn get(&self, id: EntryId) -> JournalFuture<'_, Option<Entry>> {
        let result = self.with(|inner| Ok(inner.entries.get(&id).cloned()));
        Box::pin(async move { result })
    }

    fn list(
        &self,
        state: Option<EntryState>,
        after: EntryId,
        limit: usize,
    ) -> JournalFuture<'_, Vec<Entry>> {
        let result = self.with(|inner| {
            Ok(inner
                .entries
                .range(after.saturating_add(1)..)
                .map(|(_, e)| e)
                .filter(|e| state.is_none_or(|s| e.state == s))
                .take(limit)
                .cloned()
                .collect())
        });
        Box::pin(async move { result })
    }

    fn counts(&self) -> JournalFuture<'_, Counts> {
        let result = self.with(|inner| {
            let mut counts = Counts::default();
            for e in inner.entries.values() {
                counts.add(e.state, e.created_ms);
            }
            Ok(counts)
        });
        Box::pin(async move { result })
    }

    fn next_due(&self) -> JournalFuture<'_, Option<i64>> {
        let result = self.with(|inner| {
            Ok(inner
                .entries
                .values()
                .filter_map(|e| match e.state {
                    EntryState::Pending => Some(e.next_attempt_ms),
                    EntryState::InFlight => Some(e.lease_until_ms),
                    _ => None,
                })
                .min())
        });
        Box::pin(async move { result })
    }

    fn resolve(
        &self,
        id: EntryId,
        resolution: Resolution,
        note: String,
        now_ms: i64,
    ) -> JournalFuture<'_, Entry> {
        let result = self.with(|inner| {
            let entry = inner
                .entries
                .get_mut(&id)
                .ok_or_else(|| JournalError::not_found(id))?;
            resolve_entry(entry, &resolution, note, now_ms)?;
            Ok(entry.clone())
        });
        Box::pin(async move { result })
    }
}
