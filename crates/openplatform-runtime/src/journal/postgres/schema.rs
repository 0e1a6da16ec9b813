//! The journal's tables in PostgreSQL, and the statements on them.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use deadpool_postgres::Transaction;

use super::{Failed, Params, column, entry_from_row};
use crate::journal::entry::{Change, Counts, Entry, EntryId, EntryState, NewEntry, UnknownSince};
use crate::journal::store::{JournalError, JournalErrorKind};

/// The schema this SDK writes and reads. A change of the tables raises it, with a
/// migration of the older versions; tables of a higher version were written by a newer
/// SDK and are refused rather than misread.
pub(super) const SCHEMA_VERSION: i64 = 1;

/// Every column of the entries table, in the order `entry_from_row` reads them.
const COLUMNS: &str = "id, method, body, order_keys, state, attempts, landing_possible, \
     confirming_refusal, fence, lease_until_ms, next_attempt_ms, last_attempt_ms, \
     unknown_since_ms, created_ms, updated_ms, last_error, result";

/// [`COLUMNS`] of the row an `UPDATE … AS e` wrote.
const RETURNED: &str = "e.id, e.method, e.body, e.order_keys, e.state, e.attempts, \
     e.landing_possible, e.confirming_refusal, e.fence, e.lease_until_ms, e.next_attempt_ms, \
     e.last_attempt_ms, e.unknown_since_ms, e.created_ms, e.updated_ms, e.last_error, e.result";

/// The most attempts a row holds (its check): where a `u32` count saturates.
const MAX_ATTEMPTS: i64 = 4_294_967_295;

/// The states that are not final, as SQL: the condition of the partial index of the open
/// entries and of the queries that read them (PostgreSQL uses a partial index for a
/// query whose condition implies the index's).
const OPEN: &str = "state IN ('pending', 'in_flight', 'attention')";

/// The names of one journal's tables, the key of its set-up lock, and its statements.
#[derive(Debug, Clone)]
pub(super) struct Tables {
    namespace: String,
    entries: String,
    meta: String,
    /// The advisory lock creating the tables takes, so two hosts starting at once do not
    /// both create them.
    setup_lock: i64,
    /// Written once: every operation runs some, and a drainer runs many a second.
    sql: Arc<Statements>,
}

/// The statements on one journal's entries table.
#[derive(Debug)]
struct Statements {
    insert: String,
    by_tokens: String,
    open_view: String,
    lock: String,
    claim: String,
    change: String,
    existing: String,
    write: String,
    get: String,
    list_state: String,
    list_all: String,
    count_states: String,
    oldest_open: String,
    next_due: String,
}

impl Statements {
    fn of(entries: &str) -> Statements {
        Statements {
            insert: format!(
                "INSERT INTO {entries} (submission, method, body, order_keys, state, attempts, \
                 landing_possible, confirming_refusal, fence, lease_until_ms, next_attempt_ms, \
                 last_attempt_ms, unknown_since_ms, created_ms, updated_ms, last_error, result) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                 $16, $17) RETURNING id"
            ),
            by_tokens: format!(
                "SELECT {COLUMNS} FROM {entries} WHERE submission = ANY($1) ORDER BY id"
            ),
            open_view: format!(
                "SELECT id, order_keys, state, next_attempt_ms, lease_until_ms FROM {entries} \
                 WHERE {OPEN} AND id > $1 ORDER BY id LIMIT $2"
            ),
            lock: format!(
                "SELECT {COLUMNS} FROM {entries} WHERE id = ANY($1) ORDER BY id FOR UPDATE"
            ),
            // A claim of the chosen entries that are claimable now, in one statement: the
            // lock skips rows another transaction holds, and the claimable condition is
            // part of the statement (checked again on the newest version of a row another
            // claimer committed meanwhile), so a row another host claimed since the view
            // was read does not count against the limit. (Checked in Rust after a lock
            // by id only, as before, such rows took places of the limit and the claim
            // came back with less.)
            // The claim is `Entry::claim`, and with $5 the attempt begun
            // (`Update::AttemptBegins`) of the entries no earlier attempt can have
            // reached; it returns the rows as written and, after them, the four fields
            // beginning the attempt changed, as they were.
            claim: format!(
                "WITH c AS (SELECT id, attempts, landing_possible, last_attempt_ms, \
                 unknown_since_ms FROM {entries} WHERE id = ANY($1) AND \
                 ((state = 'pending' AND next_attempt_ms <= $2) \
                 OR (state = 'in_flight' AND lease_until_ms <= $2)) \
                 ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) \
                 UPDATE {entries} AS e SET state = 'in_flight', fence = e.fence + 1, \
                 lease_until_ms = $4, updated_ms = $2, \
                 attempts = CASE WHEN $5 AND NOT e.landing_possible \
                 THEN LEAST(e.attempts + 1, {MAX_ATTEMPTS}) ELSE e.attempts END, \
                 last_attempt_ms = CASE WHEN $5 AND NOT e.landing_possible \
                 THEN $2 ELSE e.last_attempt_ms END, \
                 unknown_since_ms = CASE WHEN $5 AND NOT e.landing_possible \
                 THEN COALESCE(e.unknown_since_ms, $2) ELSE e.unknown_since_ms END, \
                 landing_possible = e.landing_possible OR $5 \
                 FROM c WHERE e.id = c.id \
                 RETURNING {RETURNED}, c.attempts, c.landing_possible, c.last_attempt_ms, \
                 c.unknown_since_ms"
            ),
            // Drainers' updates of any number of rows in one statement, each written only
            // while its drainer holds the row (in flight under its fence): a `Change` per
            // row, as `Change::apply_to` applies it. No lock and no read first: the
            // statement is the check (a read, a lock and a write cost three round trips
            // and three statements per batch of outcomes).
            change: format!(
                "UPDATE {entries} AS e SET state = COALESCE(v.state, e.state), \
                 attempts = LEAST(e.attempts + v.attempts_added, {MAX_ATTEMPTS}), \
                 landing_possible = COALESCE(v.landing_possible, e.landing_possible), \
                 confirming_refusal = COALESCE(v.confirming_refusal, e.confirming_refusal), \
                 next_attempt_ms = COALESCE(v.next_attempt_ms, e.next_attempt_ms), \
                 last_attempt_ms = COALESCE(v.last_attempt_ms, e.last_attempt_ms), \
                 unknown_since_ms = CASE v.unknown WHEN 0 THEN e.unknown_since_ms \
                 WHEN 1 THEN NULL ELSE COALESCE(e.unknown_since_ms, v.unknown_at) END, \
                 updated_ms = v.updated_ms, \
                 last_error = COALESCE(v.last_error, e.last_error), \
                 result = CASE WHEN v.set_result THEN v.result ELSE e.result END \
                 FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], \
                 $5::boolean[], $6::boolean[], $7::bigint[], $8::bigint[], $9::int[], \
                 $10::bigint[], $11::bigint[], $12::text[], $13::boolean[], $14::text[]) \
                 AS v(id, fence, state, attempts_added, landing_possible, confirming_refusal, \
                 next_attempt_ms, last_attempt_ms, unknown, unknown_at, updated_ms, \
                 last_error, set_result, result) \
                 WHERE e.id = v.id AND e.fence = v.fence AND e.state = 'in_flight' \
                 RETURNING {RETURNED}"
            ),
            existing: format!("SELECT id FROM {entries} WHERE id = ANY($1)"),
            // What a claim, an update or a resolution can change (the request and when it
            // was submitted never change), of any number of rows in one statement: a
            // statement per row cost a round trip per row (a claim of 16 took 18).
            write: format!(
                "UPDATE {entries} AS e SET state = v.state, attempts = v.attempts, \
                 landing_possible = v.landing_possible, \
                 confirming_refusal = v.confirming_refusal, fence = v.fence, \
                 lease_until_ms = v.lease_until_ms, next_attempt_ms = v.next_attempt_ms, \
                 last_attempt_ms = v.last_attempt_ms, unknown_since_ms = v.unknown_since_ms, \
                 updated_ms = v.updated_ms, last_error = v.last_error, result = v.result \
                 FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::boolean[], \
                 $5::boolean[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[], \
                 $10::bigint[], $11::bigint[], $12::text[], $13::text[]) \
                 AS v(id, state, attempts, landing_possible, confirming_refusal, fence, \
                 lease_until_ms, next_attempt_ms, last_attempt_ms, unknown_since_ms, \
                 updated_ms, last_error, result) \
                 WHERE e.id = v.id"
            ),
            get: format!("SELECT {COLUMNS} FROM {entries} WHERE id = $1"),
            list_state: format!(
                "SELECT {COLUMNS} FROM {entries} WHERE state = $1 AND id > $2 ORDER BY id LIMIT $3"
            ),
            list_all: format!("SELECT {COLUMNS} FROM {entries} WHERE id > $1 ORDER BY id LIMIT $2"),
            count_states: format!("SELECT state, COUNT(*) FROM {entries} GROUP BY state"),
            oldest_open: format!("SELECT MIN(created_ms) FROM {entries} WHERE {OPEN}"),
            next_due: format!(
                "SELECT MIN(CASE state WHEN 'pending' THEN next_attempt_ms \
                 WHEN 'in_flight' THEN lease_until_ms END) FROM {entries} WHERE {OPEN}"
            ),
        }
    }
}

impl Tables {
    /// The tables of `namespace`, which must be a plain SQL name (checked: it is written
    /// into the statements).
    pub(super) fn new(namespace: &str) -> Result<Self, JournalError> {
        let plain = !namespace.is_empty()
            && namespace.len() <= 40
            && namespace
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !namespace.starts_with(|c: char| c.is_ascii_digit());
        if !plain {
            return Err(JournalError::new(
                JournalErrorKind::Io,
                format!(
                    "journal namespace {namespace:?} is not a plain name: use lowercase ASCII \
                     letters, digits and `_`, starting with a letter or `_`, at most 40"
                ),
            ));
        }
        let entries = format!("{namespace}_entries");
        Ok(Tables {
            namespace: namespace.to_owned(),
            sql: Arc::new(Statements::of(&entries)),
            entries,
            meta: format!("{namespace}_meta"),
            setup_lock: lock_key("setup", namespace),
        })
    }

    pub(super) fn namespace(&self) -> &str {
        &self.namespace
    }

    /// Creates the tables if they are not there; refuses tables of a newer schema or of
    /// something else, changing nothing.
    pub(super) async fn set_up(&self, tx: &Transaction<'_>) -> Result<(), Failed> {
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&self.setup_lock])
            .await?;
        let exists = |name: &str| {
            let name = name.to_owned();
            async move {
                let row = tx
                    .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
                    .await?;
                column::<bool>(&row, 0, None)
            }
        };
        let (has_meta, has_entries) = (exists(&self.meta).await?, exists(&self.entries).await?);
        if !has_meta {
            if has_entries {
                return Err(corrupt(format!(
                    "table {} exists without {}: it is not a journal this SDK wrote; choose \
                     another namespace",
                    self.entries, self.meta
                )));
            }
            tx.batch_execute(&self.schema()).await?;
            tx.execute(
                &format!(
                    "INSERT INTO {} (key, value) VALUES ('schema_version', $1)",
                    self.meta
                ),
                &[&SCHEMA_VERSION.to_string()],
            )
            .await?;
            return Ok(());
        }
        let version: Option<String> = tx
            .query_opt(
                &format!(
                    "SELECT value FROM {} WHERE key = 'schema_version'",
                    self.meta
                ),
                &[],
            )
            .await?
            .map(|row| column(&row, 0, None))
            .transpose()?;
        let version = version
            .and_then(|v| v.trim().parse::<i64>().ok())
            .ok_or_else(|| {
                corrupt(format!(
                    "table {} has no schema version this SDK can read; this SDK reads schema \
                     version {SCHEMA_VERSION}",
                    self.meta
                ))
            })?;
        if version > SCHEMA_VERSION {
            return Err(corrupt(format!(
                "its tables have schema version {version}, written by a newer SDK, and this \
                 SDK reads schema version {SCHEMA_VERSION}: use the newer SDK (the tables \
                 were left as they were)"
            )));
        }
        if version < SCHEMA_VERSION || !has_entries {
            return Err(corrupt(format!(
                "its tables have schema version {version} and {} entries table, which no \
                 SDK wrote; this SDK reads schema version {SCHEMA_VERSION}",
                if has_entries { "an" } else { "no" }
            )));
        }
        Ok(())
    }

    /// The tables of schema version 1. The checks make a value of the wrong kind an
    /// error when it is written, never a surprise when it is read.
    fn schema(&self) -> String {
        let (entries, meta, ns) = (&self.entries, &self.meta, &self.namespace);
        format!(
            "
CREATE TABLE {meta} (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE {entries} (
    -- An identity: an id is never given twice. Ids grow in the order the appends took
    -- them, which for one caller's successive appends is the order of submission.
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Names one submission: an append whose commit's answer was lost finds its entry by
    -- it, rather than record the write twice.
    submission TEXT NOT NULL UNIQUE,
    method TEXT NOT NULL,
    body TEXT NOT NULL,
    order_keys TEXT[] NOT NULL,
    state TEXT NOT NULL
        CHECK (state IN ('pending', 'in_flight', 'applied', 'refused', 'attention')),
    attempts BIGINT NOT NULL CHECK (attempts >= 0 AND attempts <= 4294967295),
    landing_possible BOOLEAN NOT NULL,
    confirming_refusal BOOLEAN NOT NULL,
    fence BIGINT NOT NULL CHECK (fence >= 0),
    lease_until_ms BIGINT NOT NULL,
    next_attempt_ms BIGINT NOT NULL,
    last_attempt_ms BIGINT,
    unknown_since_ms BIGINT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL,
    last_error TEXT,
    result TEXT
);
-- The open entries in id order: what a claim reads, without the settled history.
CREATE INDEX {ns}_open ON {entries} (id) WHERE {OPEN};
-- Listing one state from an id on, and counting per state.
CREATE INDEX {ns}_state ON {entries} (state, id);
"
        )
    }

    /// Records `new` under submission `token`.
    pub(super) async fn insert(
        &self,
        tx: &Transaction<'_>,
        new: NewEntry,
        token: &str,
    ) -> Result<Entry, Failed> {
        let mut entry = Entry::recorded(0, new);
        let statement = tx.prepare_cached(&self.sql.insert).await?;
        let (attempts, fence) = (i64::from(entry.attempts), fence_to_sql(&entry)?);
        let params: &Params<'_> = &[
            &token,
            &entry.method,
            &entry.body,
            &entry.order_keys,
            &entry.state.as_str(),
            &attempts,
            &entry.landing_possible,
            &entry.confirming_refusal,
            &fence,
            &entry.lease_until_ms,
            &entry.next_attempt_ms,
            &entry.last_attempt_ms,
            &entry.unknown_since_ms,
            &entry.created_ms,
            &entry.updated_ms,
            &entry.last_error,
            &entry.result,
        ];
        let row = tx.query_one(&statement, params).await?;
        entry.id = column(&row, 0, None)?;
        Ok(entry)
    }

    /// The entries recorded under submissions `tokens` (those whose commit happened), in
    /// id order.
    pub(super) async fn by_tokens(
        &self,
        tx: &Transaction<'_>,
        tokens: &[String],
    ) -> Result<Vec<Entry>, Failed> {
        let statement = tx.prepare_cached(&self.sql.by_tokens).await?;
        let tokens = tokens.to_vec();
        tx.query(&statement, &[&tokens])
            .await?
            .iter()
            .map(entry_from_row)
            .collect()
    }

    /// Up to `limit` open entries with an id above `after`, in id order, as the claim
    /// rule sees them: id, order keys, state and times (the rest left empty).
    pub(super) async fn open_view(
        &self,
        tx: &Transaction<'_>,
        after: EntryId,
        limit: i64,
    ) -> Result<Vec<Entry>, Failed> {
        let statement = tx.prepare_cached(&self.sql.open_view).await?;
        let rows = tx.query(&statement, &[&after, &limit]).await?;
        rows.iter()
            .map(|row| {
                let id: EntryId = column(row, 0, None)?;
                let state: String = column(row, 2, Some(id))?;
                let state = EntryState::from_name(&state).ok_or_else(|| {
                    corrupt(format!(
                        "entry {id} is damaged: its state is not one this SDK knows"
                    ))
                })?;
                Ok(Entry {
                    id,
                    method: String::new(),
                    body: String::new(),
                    order_keys: column(row, 1, Some(id))?,
                    state,
                    attempts: 0,
                    landing_possible: false,
                    confirming_refusal: false,
                    fence: 0,
                    lease_until_ms: column(row, 4, Some(id))?,
                    next_attempt_ms: column(row, 3, Some(id))?,
                    last_attempt_ms: None,
                    unknown_since_ms: None,
                    created_ms: 0,
                    updated_ms: 0,
                    last_error: None,
                    result: None,
                })
            })
            .collect()
    }

    /// The entries `ids` that exist, locked for this transaction, in id order.
    pub(super) async fn lock_entries(
        &self,
        tx: &Transaction<'_>,
        ids: &[EntryId],
    ) -> Result<Vec<Entry>, Failed> {
        let statement = tx.prepare_cached(&self.sql.lock).await?;
        let ids = ids.to_vec();
        tx.query(&statement, &[&ids])
            .await?
            .iter()
            .map(entry_from_row)
            .collect()
    }

    /// Claims up to `limit` of the entries `ids` that are claimable at `now_ms`, lowest
    /// first, leaving out the rows another transaction holds: each as claimed and, with
    /// `begin`, as begun (see `Statements::claim`).
    pub(super) async fn claim(
        &self,
        tx: &Transaction<'_>,
        ids: &[EntryId],
        now_ms: i64,
        lease_until_ms: i64,
        limit: i64,
        begin: bool,
    ) -> Result<Vec<(Entry, Option<Entry>)>, Failed> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let statement = tx.prepare_cached(&self.sql.claim).await?;
        let ids = ids.to_vec();
        let params: &Params<'_> = &[&ids, &now_ms, &limit, &lease_until_ms, &begin];
        let mut claimed = tx
            .query(&statement, params)
            .await?
            .iter()
            .map(|row| {
                let written = entry_from_row(row)?;
                let id = Some(written.id);
                let landed_before: bool = column(row, 18, id)?;
                if !begin || landed_before {
                    return Ok((written, None));
                }
                let mut claimed = written.clone();
                claimed.attempts = u32::try_from(column::<i64>(row, 17, id)?).map_err(|_| {
                    corrupt(format!(
                        "entry {} is damaged: its attempt count is out of range",
                        written.id
                    ))
                })?;
                claimed.landing_possible = false;
                claimed.last_attempt_ms = column(row, 19, id)?;
                claimed.unknown_since_ms = column(row, 20, id)?;
                Ok((claimed, Some(written)))
            })
            .collect::<Result<Vec<_>, Failed>>()?;
        claimed.sort_by_key(|(entry, _)| entry.id);
        Ok(claimed)
    }

    /// Applies `changes` (entry id, fence, change; each id once) to the rows their
    /// drainers still hold, in one statement: the rows as written, in no particular order.
    pub(super) async fn change(
        &self,
        tx: &Transaction<'_>,
        changes: &[(EntryId, u64, Change)],
    ) -> Result<Vec<Entry>, Failed> {
        if changes.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = changes.iter().map(|c| c.0).collect();
        // A fence above what a row can hold matches no row: fenced.
        let fences: Vec<i64> = changes
            .iter()
            .map(|c| i64::try_from(c.1).unwrap_or(-1))
            .collect();
        let states: Vec<Option<&str>> = changes
            .iter()
            .map(|c| c.2.state.map(EntryState::as_str))
            .collect();
        let added: Vec<i64> = changes
            .iter()
            .map(|c| i64::from(c.2.attempts_added))
            .collect();
        let landing: Vec<Option<bool>> = changes.iter().map(|c| c.2.landing_possible).collect();
        let confirming: Vec<Option<bool>> =
            changes.iter().map(|c| c.2.confirming_refusal).collect();
        let next: Vec<Option<i64>> = changes.iter().map(|c| c.2.next_attempt_ms).collect();
        let last_attempt: Vec<Option<i64>> = changes.iter().map(|c| c.2.last_attempt_ms).collect();
        let (unknown, unknown_at): (Vec<i32>, Vec<Option<i64>>) = changes
            .iter()
            .map(|c| match c.2.unknown_since {
                UnknownSince::Keep => (0, None),
                UnknownSince::Clear => (1, None),
                UnknownSince::SetIfNone(t) => (2, Some(t)),
            })
            .unzip();
        let updated: Vec<i64> = changes.iter().map(|c| c.2.updated_ms).collect();
        let errors: Vec<Option<&str>> = changes.iter().map(|c| c.2.last_error.as_deref()).collect();
        let set_result: Vec<bool> = changes.iter().map(|c| c.2.result.is_some()).collect();
        let results: Vec<Option<&str>> = changes
            .iter()
            .map(|c| c.2.result.as_ref().and_then(|r| r.as_deref()))
            .collect();
        let statement = tx.prepare_cached(&self.sql.change).await?;
        let params: &Params<'_> = &[
            &ids,
            &fences,
            &states,
            &added,
            &landing,
            &confirming,
            &next,
            &last_attempt,
            &unknown,
            &unknown_at,
            &updated,
            &errors,
            &set_result,
            &results,
        ];
        tx.query(&statement, params)
            .await?
            .iter()
            .map(entry_from_row)
            .collect()
    }

    /// Which of `ids` exist.
    pub(super) async fn existing(
        &self,
        tx: &Transaction<'_>,
        ids: &[EntryId],
    ) -> Result<Vec<EntryId>, Failed> {
        let statement = tx.prepare_cached(&self.sql.existing).await?;
        let ids = ids.to_vec();
        tx.query(&statement, &[&ids])
            .await?
            .iter()
            .map(|row| column(row, 0, None))
            .collect()
    }

    /// Writes what a claim, an update or a resolution changed of `entries`, in one
    /// statement.
    pub(super) async fn write(
        &self,
        tx: &Transaction<'_>,
        entries: &[&Entry],
    ) -> Result<(), Failed> {
        if entries.is_empty() {
            return Ok(());
        }
        let column = |f: &dyn Fn(&Entry) -> i64| entries.iter().map(|e| f(e)).collect::<Vec<i64>>();
        let ids = column(&|e| e.id);
        let states: Vec<&str> = entries.iter().map(|e| e.state.as_str()).collect();
        let attempts = column(&|e| i64::from(e.attempts));
        let landing: Vec<bool> = entries.iter().map(|e| e.landing_possible).collect();
        let confirming: Vec<bool> = entries.iter().map(|e| e.confirming_refusal).collect();
        let fences = entries
            .iter()
            .map(|e| fence_to_sql(e))
            .collect::<Result<Vec<i64>, Failed>>()?;
        let leases = column(&|e| e.lease_until_ms);
        let next = column(&|e| e.next_attempt_ms);
        let last_attempt: Vec<Option<i64>> = entries.iter().map(|e| e.last_attempt_ms).collect();
        let unknown: Vec<Option<i64>> = entries.iter().map(|e| e.unknown_since_ms).collect();
        let updated = column(&|e| e.updated_ms);
        let errors: Vec<Option<&str>> = entries.iter().map(|e| e.last_error.as_deref()).collect();
        let results: Vec<Option<&str>> = entries.iter().map(|e| e.result.as_deref()).collect();
        let statement = tx.prepare_cached(&self.sql.write).await?;
        let params: &Params<'_> = &[
            &ids,
            &states,
            &attempts,
            &landing,
            &confirming,
            &fences,
            &leases,
            &next,
            &last_attempt,
            &unknown,
            &updated,
            &errors,
            &results,
        ];
        tx.execute(&statement, params).await?;
        Ok(())
    }

    pub(super) async fn get(
        &self,
        tx: &Transaction<'_>,
        id: EntryId,
    ) -> Result<Option<Entry>, Failed> {
        let statement = tx.prepare_cached(&self.sql.get).await?;
        tx.query_opt(&statement, &[&id])
            .await?
            .map(|row| entry_from_row(&row))
            .transpose()
    }

    pub(super) async fn list(
        &self,
        tx: &Transaction<'_>,
        state: Option<EntryState>,
        after: EntryId,
        limit: usize,
    ) -> Result<Vec<Entry>, Failed> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match state {
            Some(state) => {
                let statement = tx.prepare_cached(&self.sql.list_state).await?;
                tx.query(&statement, &[&state.as_str(), &after, &limit])
                    .await?
            }
            None => {
                let statement = tx.prepare_cached(&self.sql.list_all).await?;
                tx.query(&statement, &[&after, &limit]).await?
            }
        };
        rows.iter().map(entry_from_row).collect()
    }

    pub(super) async fn counts(&self, tx: &Transaction<'_>) -> Result<Counts, Failed> {
        // Both queries in one snapshot.
        tx.batch_execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        let mut counts = Counts::default();
        let statement = tx.prepare_cached(&self.sql.count_states).await?;
        for row in tx.query(&statement, &[]).await? {
            let name: String = column(&row, 0, None)?;
            let n: i64 = column(&row, 1, None)?;
            let state = EntryState::from_name(&name)
                .ok_or_else(|| corrupt("an entry has a state this SDK does not know".to_owned()))?;
            *counts.of_mut(state) = u64::try_from(n).unwrap_or(0);
        }
        let statement = tx.prepare_cached(&self.sql.oldest_open).await?;
        counts.oldest_open_created_ms = column(&tx.query_one(&statement, &[]).await?, 0, None)?;
        Ok(counts)
    }

    pub(super) async fn next_due(&self, tx: &Transaction<'_>) -> Result<Option<i64>, Failed> {
        let statement = tx.prepare_cached(&self.sql.next_due).await?;
        column(&tx.query_one(&statement, &[]).await?, 0, None)
    }
}

fn corrupt(message: String) -> Failed {
    Failed::Final(JournalError::new(JournalErrorKind::Corrupt, message))
}

/// PostgreSQL's integers are signed: a fence above `i64::MAX` (never reached, one claim
/// at a time) cannot be stored.
fn fence_to_sql(entry: &Entry) -> Result<i64, Failed> {
    i64::try_from(entry.fence)
        .map_err(|_| corrupt(format!("entry {} has a fence too high to store", entry.id)))
}

/// A stable advisory lock key for `what` of `namespace` (FNV-1a: the same on every host
/// and every build, unlike std's hasher).
fn lock_key(what: &str, namespace: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in format!("gree-ump journal {what} {namespace}").bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

/// A token naming one submission, unique across processes and hosts: 128 bits from the
/// process's random hasher keys, the time and a counter.
pub(super) fn submission_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let half = |salt: u64| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(salt);
        h.write_u128(nanos);
        h.write_u64(n);
        h.write_u32(std::process::id());
        h.finish()
    };
    format!("{:016x}{:016x}", half(1), half(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_is_a_plain_name() {
        for good in ["ump_journal", "_j", "gree_ump_journal2"] {
            assert!(Tables::new(good).is_ok(), "{good}");
        }
        for bad in ["", "Ump", "2j", "a-b", "a;drop table x", &"x".repeat(41)] {
            let error = Tables::new(bad).unwrap_err().to_string();
            assert!(error.contains("not a plain name"), "{bad}: {error}");
        }
    }

    #[test]
    fn lock_keys_differ_by_namespace_and_purpose_and_never_change() {
        assert_ne!(lock_key("setup", "a"), lock_key("setup", "b"));
        assert_ne!(lock_key("claim", "a"), lock_key("setup", "a"));
        // Hosts of different builds and versions must agree on the key: a change here
        // would let an old and a new host create the tables at once.
        assert_eq!(lock_key("claim", "ump_journal"), 6_284_412_488_905_388_032);
    }

    #[test]
    fn submission_tokens_do_not_repeat() {
        let tokens: std::collections::HashSet<String> =
            (0..10_000).map(|_| submission_token()).collect();
        assert_eq!(tokens.len(), 10_000);
    }
}
