//! The journal in a SQLite file: durable, and shared by the processes of one host (see
//! [`SqliteJournal`]).

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::{
    Connection, ErrorCode, OpenFlags, OptionalExtension, Row, Transaction, TransactionBehavior,
    params,
};

use super::entry::{Counts, Entry, EntryId, EntryState, NewEntry, Resolution, Update};
use super::memory::ClaimChooser;
use super::store::{
    Claimed, JournalError, JournalErrorKind, JournalFuture, JournalStore, resolve_entry,
};

mod group;

/// The schema this SDK writes and reads. A change of the tables raises it, with a
/// migration of the older versions; a file of a higher version was written by a newer
/// SDK and is refused rather than misread.
const SCHEMA_VERSION: i64 = 2;

/// How long one attempt waits for another connection's transaction (SQLite's busy
/// handler).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long an operation keeps trying while the database is locked, in all. SQLite can
/// answer "busy" without waiting (another process recovering the WAL after a crash), so
/// the operation is retried, not only the lock awaited.
const BUSY_GIVE_UP: Duration = Duration::from_secs(60);
/// The pause between two attempts of a locked operation.
const BUSY_PAUSE: Duration = Duration::from_millis(20);

/// The entries that are not final, as SQL: the condition of the partial index
/// `entries_open` and of the queries below, which read the open entries only. Written out
/// in each (SQLite uses a partial index only for a query whose condition has the index's
/// very terms); the tests check it against [`EntryState::is_final`] and the schema and
/// the queries against it.
///
/// Comparisons, not `state IN (…)`: SQLite evaluates a list of more than two constants
/// by building a temporary b-tree, once per statement, and every update of an entry
/// evaluates the index's condition. With `IN` lists here and in the `CHECK` of `state`,
/// a streaming drain of 2,000 entries cost the store 592M instructions; with
/// comparisons, 267M (callgrind).
#[cfg(test)]
const OPEN_CONDITION: &str = "state <> 'applied' AND state <> 'refused'";

// The queries of the open entries name their index (INDEXED BY): without statistics the
// planner prefers `entries_state` and then sorts, and with it a query that could not
// use the index would fail rather than read the whole history.

/// What the claim rule looks at, of every open entry, in id order.
const CLAIM_VIEW: &str = "SELECT id, order_keys, state, next_attempt_ms, lease_until_ms \
     FROM entries INDEXED BY entries_open \
     WHERE state <> 'applied' AND state <> 'refused' ORDER BY id";
/// When the oldest open entry was submitted.
const OLDEST_OPEN: &str = "SELECT MIN(created_ms) FROM entries INDEXED BY entries_open \
     WHERE state <> 'applied' AND state <> 'refused'";
/// Entries of one state from an id on (after the columns), through `entries_state`.
const LIST_STATE: &str = "FROM entries WHERE state = ?1 AND id >= ?2 ORDER BY id LIMIT ?3";
/// When a drainer has work next; MIN skips the NULL of the entries in attention.
const NEXT_DUE: &str = "SELECT MIN(CASE state WHEN 'pending' THEN next_attempt_ms \
     WHEN 'in_flight' THEN lease_until_ms END) FROM entries INDEXED BY entries_open \
     WHERE state <> 'applied' AND state <> 'refused'";

/// The table of the schema's version. STRICT: a value of the wrong type is an error when
/// it is written, never a surprise when it is read.
const META_SCHEMA: &str = "
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value TEXT
) STRICT;
";

/// The entries' table and indexes of schema version 2. Version 1 differed in the
/// conditions only (`IN` lists, see [`OPEN_CONDITION`]); [`migrate_from_1`] rebuilds it.
const ENTRIES_SCHEMA: &str = "
CREATE TABLE entries (
    -- AUTOINCREMENT: an id is never given twice, even after the highest entry is gone.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    method TEXT NOT NULL,
    body TEXT NOT NULL,
    order_keys TEXT NOT NULL,
    state TEXT NOT NULL
        CHECK (state = 'pending' OR state = 'in_flight' OR state = 'applied'
            OR state = 'refused' OR state = 'attention'),
    attempts INTEGER NOT NULL CHECK (attempts >= 0),
    landing_possible INTEGER NOT NULL CHECK (landing_possible IN (0, 1)),
    confirming_refusal INTEGER NOT NULL CHECK (confirming_refusal IN (0, 1)),
    fence INTEGER NOT NULL CHECK (fence >= 0),
    lease_until_ms INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    last_attempt_ms INTEGER,
    unknown_since_ms INTEGER,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    last_error TEXT,
    result TEXT
) STRICT;
-- The open entries in id order: what a claim reads, without the settled history.
CREATE INDEX entries_open ON entries (id)
    WHERE state <> 'applied' AND state <> 'refused';
-- Listing one state from an id on, and counting per state.
CREATE INDEX entries_state ON entries (state, id);
";

/// Every column of `entries`, in the order [`entry_from_row`] reads them.
const COLUMNS: &str = "id, method, body, order_keys, state, attempts, landing_possible, \
     confirming_refusal, fence, lease_until_ms, next_attempt_ms, last_attempt_ms, \
     unknown_since_ms, created_ms, updated_ms, last_error, result";

/// A [`JournalStore`] in a SQLite file: durable, shared by the processes of one host.
///
/// One file holds the whole journal: a table `meta` (the schema version) and a table
/// `entries`, one row per [`Entry`] and one column per field (the order keys as a JSON
/// array of strings, the booleans as 0 or 1, an absent value as NULL). SQLite keeps two
/// files beside it while it is open, `<file>-wal` and `<file>-shm`: they are part of the
/// journal (a copy of the file alone can miss the latest writes; back it up with
/// SQLite's `.backup`, or while no process has it open).
///
/// - **Durable.** The file is in WAL mode with `synchronous=FULL`: an operation returns
///   after its commit reached the disk, so a receipt given after
///   [`append`](JournalStore::append) survives a crash or a power cut.
/// - **Shared.** Every operation that writes is one `BEGIN IMMEDIATE` transaction, which
///   SQLite grants to one connection at a time: a claim reads the open entries, chooses
///   and marks its own inside it, so two processes never claim one entry. An operation
///   waits for another connection's transaction (5 s at a time, up to 60 s in all)
///   before it fails. SQLite's locks hold between the processes of one host on a local
///   file system, not on a network file system.
/// - **Private.** The file is created owner-only (`0o600`; SQLite gives the `-wal` and
///   `-shm` files the same mode) and never opened through a symbolic link: the bodies
///   hold personal data. Error messages name the file and the operation, never a body.
/// - **Versioned.** A file of a newer schema version (written by a newer SDK), or one
///   that is not a journal, is refused with [`JournalErrorKind::Corrupt`], never changed.
///
/// Each `SqliteJournal` has one connection, used by one operation at a time on Tokio's
/// blocking threads (in place when there is no Tokio runtime); open one per process and
/// share it (`Arc`). An operation whose future is dropped (a timeout) still runs to its
/// commit or rollback on its thread: a claim made so is found again when its lease ends.
///
/// ```no_run
/// # fn main() -> Result<(), openplatform_runtime::journal::JournalError> {
/// use openplatform_runtime::journal::SqliteJournal;
/// let journal = SqliteJournal::open("/var/lib/my-mall/ump-journal.sqlite")?;
/// # Ok(()) }
/// ```
pub struct SqliteJournal {
    path: Arc<PathBuf>,
    conn: Arc<Mutex<Connection>>,
    /// The write operations waiting for the next commit (see [`group`]).
    waiting: Arc<group::Queue>,
}

/// The path only: the connection has nothing to show, and the entries hold personal
/// data.
impl fmt::Debug for SqliteJournal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteJournal")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteJournal {
    /// Opens the journal in file `path`, creating it (owner-only, `0o600`) and its tables
    /// if it does not exist; its directory must exist. Blocks while it opens (and while
    /// another process holds the file's write lock): call it at start-up, or in
    /// `spawn_blocking`.
    ///
    /// Refused with [`JournalErrorKind::Corrupt`]: a file that is not a SQLite database,
    /// a database of something else, one damaged, or one of a newer schema version than
    /// this SDK reads. A symbolic link at `path` is refused ([`JournalErrorKind::Io`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, JournalError> {
        let path = path.as_ref().to_path_buf();
        prepare_file(&path)?;
        // No CREATE: the file exists now, made private above; were it removed meanwhile,
        // SQLite would create it with the default mode.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_NOFOLLOW;
        let mut conn = Connection::open_with_flags(&path, flags)
            .map_err(|e| Failure::Sql(e).into_error(&path, "open"))?;
        retrying_while_busy(&mut conn, set_up).map_err(|e| e.into_error(&path, "open"))?;
        Ok(SqliteJournal {
            path: Arc::new(path),
            conn: Arc::new(Mutex::new(conn)),
            waiting: Arc::default(),
        })
    }

    /// The journal's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `work` on the connection on a blocking thread, again while the database is
    /// locked by another connection (up to [`BUSY_GIVE_UP`]); failures name the file
    /// and `op`.
    fn run<T, F>(&self, op: String, work: F) -> JournalFuture<'_, T>
    where
        T: Send + 'static,
        F: FnMut(&mut Connection) -> Result<T, Failure> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let path = Arc::clone(&self.path);
        Box::pin(blocking(self.path.as_path(), move || {
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            retrying_while_busy(&mut conn, work).map_err(|e| e.into_error(&path, &op))
        }))
    }

    /// Runs write operation `work` inside a write transaction on a blocking thread,
    /// committed with the other write operations waiting by then (see [`group`]); its
    /// answer comes after the commit. Failures name the file and `op`.
    fn write<T, F>(&self, op: String, work: F) -> JournalFuture<'_, T>
    where
        T: Send + 'static,
        F: FnMut(&Connection) -> Result<T, Failure> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        let waiting = Arc::clone(&self.waiting);
        let path = Arc::clone(&self.path);
        Box::pin(async move {
            // Queued when first polled, never before: a future never polled writes
            // nothing.
            let (job, answer) = group::Job::new(op, work);
            if waiting.push(Box::new(job)) {
                let leader = group::Leader::new(conn, waiting, Arc::clone(&path));
                match tokio::runtime::Handle::try_current() {
                    // Not awaited: the leader answers each operation as its group
                    // commits, this one among them.
                    Ok(handle) => drop(handle.spawn_blocking(move || leader.run())),
                    Err(_) => leader.run(),
                }
            }
            answer.await.unwrap_or_else(|_| {
                Err(Failure::Io("its commit was abandoned".into()).into_error(&path, "write"))
            })
        })
    }
}

impl JournalStore for SqliteJournal {
    fn append(&self, new: NewEntry) -> JournalFuture<'_, Entry> {
        self.write("record an entry".into(), move |tx| insert(tx, new.clone()))
    }

    fn append_many(&self, entries: Vec<NewEntry>) -> JournalFuture<'_, Vec<Entry>> {
        let count = entries.len();
        self.write(format!("record {count} entries"), move |tx| {
            entries.iter().map(|new| insert(tx, new.clone())).collect()
        })
    }

    fn claim(&self, now_ms: i64, lease_ms: i64, limit: usize) -> JournalFuture<'_, Vec<Entry>> {
        self.write("claim entries".into(), move |tx| {
            let claimed = claim_in(tx, now_ms, lease_ms, limit, false)?;
            Ok(claimed.into_iter().map(|c| c.entry).collect())
        })
    }

    fn claim_to_send(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> JournalFuture<'_, Vec<Claimed>> {
        self.write("claim entries to send".into(), move |tx| {
            claim_in(tx, now_ms, lease_ms, limit, true)
        })
    }

    fn update(
        &self,
        id: EntryId,
        fence: u64,
        update: Update,
        now_ms: i64,
    ) -> JournalFuture<'_, Entry> {
        self.write(format!("update entry {id}"), move |tx| {
            Ok(update_in(tx, id, fence, &update, now_ms)??)
        })
    }

    fn update_many(
        &self,
        updates: Vec<(EntryId, u64, Update)>,
        now_ms: i64,
    ) -> JournalFuture<'_, Vec<Result<Entry, JournalError>>> {
        let count = updates.len();
        self.write(format!("update {count} entries"), move |tx| {
            let mut results = Vec::with_capacity(updates.len());
            for (id, fence, update) in &updates {
                results.push(update_in(tx, *id, *fence, update, now_ms)?);
            }
            Ok(results)
        })
    }

    fn get(&self, id: EntryId) -> JournalFuture<'_, Option<Entry>> {
        self.run(format!("read entry {id}"), move |conn| read_entry(conn, id))
    }

    fn list(
        &self,
        state: Option<EntryState>,
        after: EntryId,
        limit: usize,
    ) -> JournalFuture<'_, Vec<Entry>> {
        self.run("list entries".into(), move |conn| {
            // As the memory journal: from `after + 1` on, saturating.
            let from = after.saturating_add(1);
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let mut entries = Vec::new();
            let mut push = |row: &Row<'_>| -> Result<(), Failure> {
                entries.push(entry_from_row(row)?);
                Ok(())
            };
            match state {
                Some(state) => {
                    let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} {LIST_STATE}"))?;
                    let mut rows = stmt.query(params![state.as_str(), from, limit])?;
                    while let Some(row) = rows.next()? {
                        push(row)?;
                    }
                }
                None => {
                    let mut stmt = conn.prepare(&format!(
                        "SELECT {COLUMNS} FROM entries WHERE id >= ?1 ORDER BY id LIMIT ?2"
                    ))?;
                    let mut rows = stmt.query(params![from, limit])?;
                    while let Some(row) = rows.next()? {
                        push(row)?;
                    }
                }
            }
            Ok(entries)
        })
    }

    fn counts(&self) -> JournalFuture<'_, Counts> {
        self.run("count entries".into(), |conn| {
            // One read transaction: both queries see the same commit.
            let tx = conn.transaction()?;
            let mut counts = Counts::default();
            {
                let mut stmt = tx.prepare("SELECT state, COUNT(*) FROM entries GROUP BY state")?;
                let mut rows = stmt.query([])?;
                while let Some(row) = rows.next()? {
                    let name: String = row.get(0)?;
                    // COUNT is never negative.
                    let n = u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0);
                    let state = EntryState::from_name(&name).ok_or_else(|| {
                        Failure::Corrupt("an entry has a state this SDK does not know".into())
                    })?;
                    *counts.of_mut(state) = n;
                }
            }
            counts.oldest_open_created_ms = tx.query_row(OLDEST_OPEN, [], |row| row.get(0))?;
            tx.commit()?;
            Ok(counts)
        })
    }

    fn next_due(&self) -> JournalFuture<'_, Option<i64>> {
        self.run("find when an entry is due".into(), |conn| {
            Ok(conn.query_row(NEXT_DUE, [], |row| row.get(0))?)
        })
    }

    fn resolve(
        &self,
        id: EntryId,
        resolution: Resolution,
        note: String,
        now_ms: i64,
    ) -> JournalFuture<'_, Entry> {
        self.write(format!("resolve entry {id}"), move |tx| {
            let mut entry = read_entry(tx, id)?.ok_or_else(|| JournalError::not_found(id))?;
            resolve_entry(&mut entry, &resolution, note.clone(), now_ms)?;
            write_entry(tx, &entry)?;
            Ok(entry)
        })
    }
}

/// Records one new entry inside a write transaction.
fn insert(tx: &Connection, new: NewEntry) -> Result<Entry, Failure> {
    let mut entry = Entry::recorded(0, new);
    let fence = fence_to_sql(&entry)?;
    // Cached: every submission runs it, and compiling it cost more than running it.
    tx.prepare_cached(
        "INSERT INTO entries (method, body, order_keys, state, attempts, \
         landing_possible, confirming_refusal, fence, lease_until_ms, next_attempt_ms, \
         last_attempt_ms, unknown_since_ms, created_ms, updated_ms, last_error, result) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
        entry.method,
        entry.body,
        keys_json(&entry.order_keys),
        entry.state.as_str(),
        entry.attempts,
        entry.landing_possible,
        entry.confirming_refusal,
        fence,
        entry.lease_until_ms,
        entry.next_attempt_ms,
        entry.last_attempt_ms,
        entry.unknown_since_ms,
        entry.created_ms,
        entry.updated_ms,
        entry.last_error,
        entry.result,
    ])?;
    entry.id = tx.last_insert_rowid();
    Ok(entry)
}

/// Why an operation failed, before it is told with the file and the operation.
enum Failure {
    /// From SQLite (busy ones are retried).
    Sql(rusqlite::Error),
    /// Still locked after [`BUSY_GIVE_UP`], after waiting this long.
    Busy(rusqlite::Error, Duration),
    /// The stored data is not what this SDK writes (no stored text in the message).
    Corrupt(String),
    /// The file cannot be used as SQLite is set up here.
    Io(String),
    /// The journal's own answer (fenced, not found, final), as the memory journal gives it.
    Journal(JournalError),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Failure::Sql(e)
    }
}

impl From<JournalError> for Failure {
    fn from(e: JournalError) -> Self {
        Failure::Journal(e)
    }
}

impl Failure {
    /// The error to give, naming the file and the operation. SQLite's messages name
    /// tables, columns and constraints, never a bound value, so no body gets in.
    fn into_error(self, path: &Path, op: &str) -> JournalError {
        let path = path.display();
        match self {
            Failure::Journal(e) => e,
            Failure::Corrupt(what) => JournalError::new(
                JournalErrorKind::Corrupt,
                format!("journal {path}: cannot {op}: {what}"),
            ),
            Failure::Io(what) => JournalError::new(
                JournalErrorKind::Io,
                format!("journal {path}: cannot {op}: {what}"),
            ),
            Failure::Busy(e, waited) => JournalError::new(
                JournalErrorKind::Io,
                format!(
                    "journal {path}: cannot {op}: the database stayed locked by other \
                     connections for {} s ({e})",
                    waited.as_secs()
                ),
            ),
            Failure::Sql(e) => match e.sqlite_error_code() {
                Some(ErrorCode::NotADatabase) => JournalError::new(
                    JournalErrorKind::Corrupt,
                    format!(
                        "journal {path}: cannot {op}: it is not a SQLite database ({e}); a \
                         journal needs a file of its own"
                    ),
                ),
                Some(ErrorCode::DatabaseCorrupt) => JournalError::new(
                    JournalErrorKind::Corrupt,
                    format!("journal {path}: cannot {op}: the database is damaged ({e})"),
                ),
                _ if is_bad_value(&e) => JournalError::new(
                    JournalErrorKind::Corrupt,
                    format!("journal {path}: cannot {op}: a stored value is damaged ({e})"),
                ),
                _ => JournalError::new(
                    JournalErrorKind::Io,
                    format!("journal {path}: cannot {op}: {e}"),
                ),
            },
        }
    }
}

/// A value read back that is not of the type this SDK wrote. Their messages name the
/// column and the types, not the value.
fn is_bad_value(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::FromSqlConversionFailure(..)
            | rusqlite::Error::IntegralValueOutOfRange(..)
            | rusqlite::Error::InvalidColumnType(..)
            | rusqlite::Error::Utf8Error(..)
    )
}

fn is_busy(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
}

/// Runs `work`, again (after [`BUSY_PAUSE`]) while SQLite answers that the database is
/// locked, until [`BUSY_GIVE_UP`] has passed. Each attempt rolls back whole (its
/// transaction is dropped), so a retry starts afresh.
fn retrying_while_busy<T>(
    conn: &mut Connection,
    mut work: impl FnMut(&mut Connection) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let start = Instant::now();
    loop {
        let left = BUSY_GIVE_UP.saturating_sub(start.elapsed());
        conn.busy_timeout(left.min(BUSY_TIMEOUT))?;
        match work(conn) {
            Err(Failure::Sql(e)) if is_busy(&e) => {
                if start.elapsed() + BUSY_PAUSE >= BUSY_GIVE_UP {
                    return Err(Failure::Busy(e, start.elapsed()));
                }
                std::thread::sleep(BUSY_PAUSE);
            }
            done => return done,
        }
    }
}

/// Runs blocking work off the async executor when there is a Tokio runtime, and in place
/// otherwise.
async fn blocking<T, F>(path: &Path, work: F) -> Result<T, JournalError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, JournalError> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle.spawn_blocking(work).await.map_err(|e| {
            JournalError::new(
                JournalErrorKind::Io,
                format!("journal {}: the worker thread failed: {e}", path.display()),
            )
        })?,
        Err(_) => work(),
    }
}

/// A write transaction, granted to one connection of the file at a time: what it reads
/// stays true until it commits.
fn immediate(conn: &mut Connection) -> Result<Transaction<'_>, Failure> {
    Ok(conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
}

/// Creates the file owner-only if it is not there, refusing a symbolic link or anything
/// but a regular file, before SQLite opens it.
fn prepare_file(path: &Path) -> Result<(), JournalError> {
    let io_error = |action: &str, e: &io::Error| {
        JournalError::new(
            JournalErrorKind::Io,
            format!("journal {}: cannot {action}: {e}", path.display()),
        )
    };
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: a FIFO planted at the path must not block the open.
        options
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    #[cfg(not(unix))]
    if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(symlink_error(path));
    }
    let file = options.open(path).map_err(|e| {
        if fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            symlink_error(path)
        } else {
            io_error("open", &e)
        }
    })?;
    let meta = file.metadata().map_err(|e| io_error("inspect", &e))?;
    if !meta.is_file() {
        return Err(JournalError::new(
            JournalErrorKind::Corrupt,
            format!(
                "journal {}: cannot open: not a regular file",
                path.display()
            ),
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = format_args!("{mode:o}"),
                "journal file is open to other users and holds personal data; consider chmod 600"
            );
        }
    }
    Ok(())
}

fn symlink_error(path: &Path) -> JournalError {
    JournalError::new(
        JournalErrorKind::Io,
        format!(
            "journal {}: cannot open: it is a symbolic link, which the journal never follows; \
             open the file by its own path, or remove the link if you did not put it there",
            path.display()
        ),
    )
}

/// The schema checked (before anything is written: a file that is not ours is left as
/// it was), then WAL mode and full syncs, then the schema created in an empty file.
fn set_up(conn: &mut Connection) -> Result<(), Failure> {
    check_schema(conn)?;
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Failure::Io(format!(
            "SQLite cannot use WAL mode for it (journal_mode stays {mode}): the journal needs \
             a file on a local file system"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Each operation of a group commit runs in a savepoint, whose undo journal SQLite
    // otherwise keeps in a temporary file: creating, writing and removing it took 2.5 of
    // the 3.3 ms that 64 updates took (measured on the development box).
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Checked again under the write lock: another process may have created the schema
    // since.
    let tx = immediate(conn)?;
    match check_schema(&tx)? {
        None => {
            tx.execute_batch(META_SCHEMA)?;
            tx.execute_batch(ENTRIES_SCHEMA)?;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?1)",
                [SCHEMA_VERSION.to_string()],
            )?;
        }
        Some(1) => migrate_from_1(&tx)?,
        Some(_) => {}
    }
    tx.commit()?;
    Ok(())
}

/// Rebuilds a version 1 file's entries (inside the caller's write transaction): the
/// same rows and ids, and the id sequence kept (an id is never given twice), under
/// version 2's conditions. Processes of an older SDK must stop first: their queries
/// name the old partial index's condition, and fail against the new one.
fn migrate_from_1(tx: &Connection) -> Result<(), Failure> {
    let sequence: Option<i64> = tx
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'entries'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    tx.execute_batch(
        "DROP INDEX IF EXISTS entries_open;
         DROP INDEX IF EXISTS entries_state;
         ALTER TABLE entries RENAME TO entries_v1;",
    )?;
    tx.execute_batch(ENTRIES_SCHEMA)?;
    tx.execute_batch(&format!(
        "INSERT INTO entries ({COLUMNS}) SELECT {COLUMNS} FROM entries_v1 ORDER BY id;
         DROP TABLE entries_v1;
         DELETE FROM sqlite_sequence WHERE name = 'entries';"
    ))?;
    if let Some(sequence) = sequence {
        tx.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('entries', ?1)",
            [sequence],
        )?;
    }
    tx.execute(
        "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
        [SCHEMA_VERSION.to_string()],
    )?;
    tracing::info!(
        from = 1,
        to = SCHEMA_VERSION,
        "journal file migrated to the current schema"
    );
    Ok(())
}

/// The schema version of the file (`None`: it is empty), one this SDK writes or
/// migrates, or why it cannot be used: not a database, a database of something else, or
/// of another schema version.
fn check_schema(conn: &Connection) -> Result<Option<i64>, Failure> {
    let tables: Vec<String> = {
        let mut stmt = conn.prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        )?;
        stmt.query_map([], |row| row.get(0))?
            .collect::<Result<_, _>>()?
    };
    if tables.is_empty() {
        return Ok(None);
    }
    let has = |name: &str| tables.iter().any(|t| t == name);
    if !has("meta") {
        return Err(Failure::Corrupt(
            "it is a SQLite database of something else (it has tables and no journal schema \
             version); a journal needs a file of its own"
                .into(),
        ));
    }
    let version: Option<Option<String>> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    let version = version
        .flatten()
        .and_then(|v| v.trim().parse::<i64>().ok())
        .ok_or_else(|| {
            Failure::Corrupt(format!(
                "its schema version is missing or not a number; this SDK reads schema version \
                 {SCHEMA_VERSION}"
            ))
        })?;
    if version > SCHEMA_VERSION {
        return Err(Failure::Corrupt(format!(
            "it has schema version {version}, written by a newer SDK, and this SDK reads \
             schema version {SCHEMA_VERSION}: use the newer SDK (the file was left as it was)"
        )));
    }
    if version < 1 {
        return Err(Failure::Corrupt(format!(
            "it has schema version {version}, which no SDK wrote; this SDK reads schema \
             version {SCHEMA_VERSION}"
        )));
    }
    if !has("entries") {
        return Err(Failure::Corrupt(format!(
            "it has schema version {version} and no entries table"
        )));
    }
    Ok(Some(version))
}

fn keys_json(keys: &[String]) -> String {
    // A list of strings always encodes.
    serde_json::to_string(keys).unwrap_or_else(|_| "[]".to_owned())
}

/// The order keys of entry `id`, or why they are damaged (without their text: a key
/// names a member or an order).
fn keys_from_json(id: EntryId, json: &str) -> Result<Vec<String>, Failure> {
    serde_json::from_str(json).map_err(|_| {
        Failure::Corrupt(format!(
            "entry {id} is damaged: its order keys are not a JSON array of strings"
        ))
    })
}

fn state_from_name(id: EntryId, name: &str) -> Result<EntryState, Failure> {
    EntryState::from_name(name).ok_or_else(|| {
        Failure::Corrupt(format!(
            "entry {id} is damaged: its state is not one this SDK knows"
        ))
    })
}

/// An entry as the claim rule sees it: id, order keys, state and times; the rest is
/// left empty.
fn claim_view_from_row(row: &Row<'_>) -> Result<Entry, Failure> {
    let id: EntryId = row.get(0)?;
    let order_keys = keys_from_json(id, &row.get::<_, String>(1)?)?;
    let state = state_from_name(id, &row.get::<_, String>(2)?)?;
    Ok(Entry {
        id,
        method: String::new(),
        body: String::new(),
        order_keys,
        state,
        attempts: 0,
        landing_possible: false,
        confirming_refusal: false,
        fence: 0,
        lease_until_ms: row.get(4)?,
        next_attempt_ms: row.get(3)?,
        last_attempt_ms: None,
        unknown_since_ms: None,
        created_ms: 0,
        updated_ms: 0,
        last_error: None,
        result: None,
    })
}

/// A row of [`COLUMNS`].
fn entry_from_row(row: &Row<'_>) -> Result<Entry, Failure> {
    let id: EntryId = row.get(0)?;
    Ok(Entry {
        id,
        method: row.get(1)?,
        body: row.get(2)?,
        order_keys: keys_from_json(id, &row.get::<_, String>(3)?)?,
        state: state_from_name(id, &row.get::<_, String>(4)?)?,
        attempts: row.get(5)?,
        landing_possible: row.get(6)?,
        confirming_refusal: row.get(7)?,
        fence: u64::try_from(row.get::<_, i64>(8)?).map_err(|_| {
            Failure::Corrupt(format!("entry {id} is damaged: its fence is negative"))
        })?,
        lease_until_ms: row.get(9)?,
        next_attempt_ms: row.get(10)?,
        last_attempt_ms: row.get(11)?,
        unknown_since_ms: row.get(12)?,
        created_ms: row.get(13)?,
        updated_ms: row.get(14)?,
        last_error: row.get(15)?,
        result: row.get(16)?,
    })
}

fn read_entry(conn: &Connection, id: EntryId) -> Result<Option<Entry>, Failure> {
    // Cached: the drainer reads and writes entries many times a second, and preparing a
    // statement cost more than running it.
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM entries WHERE id = ?1"))?;
    let mut rows = stmt.query([id])?;
    match rows.next()? {
        Some(row) => entry_from_row(row).map(Some),
        None => Ok(None),
    }
}

/// Claims up to `limit` entries inside a write transaction (see
/// [`JournalStore::claim`]); with `begin`, also begins the attempt of each one whose
/// earlier attempts cannot have landed (see [`JournalStore::claim_to_send`]).
fn claim_in(
    tx: &Connection,
    now_ms: i64,
    lease_ms: i64,
    limit: usize,
    begin: bool,
) -> Result<Vec<Claimed>, Failure> {
    // What the claim rule looks at, of every open entry, read in id order only as far as
    // needed (the rule looks at no entry after the last one it chooses); the bodies of
    // the chosen ones only are read.
    let chosen = {
        let mut stmt = tx.prepare_cached(CLAIM_VIEW)?;
        let mut rows = stmt.query([])?;
        let mut chooser = ClaimChooser::new(now_ms, limit);
        while let Some(row) = rows.next()? {
            if !chooser.offer(&claim_view_from_row(row)?) {
                break;
            }
        }
        chooser.chosen
    };
    let mut claimed = Vec::with_capacity(chosen.len());
    for id in chosen {
        let mut entry = read_entry(tx, id)?
            .ok_or_else(|| Failure::Corrupt(format!("entry {id} vanished inside a transaction")))?;
        entry.claim(now_ms, lease_ms);
        let begun = (begin && !entry.landing_possible).then(|| {
            let mut begun = entry.clone();
            begun.apply(&Update::AttemptBegins, now_ms);
            begun
        });
        write_entry(tx, begun.as_ref().unwrap_or(&entry))?;
        claimed.push(Claimed { entry, begun });
    }
    Ok(claimed)
}

/// One drainer update inside a transaction: the entry as updated, or why it was refused
/// (not found, fenced out); the outer error is the database's.
fn update_in(
    conn: &Connection,
    id: EntryId,
    fence: u64,
    update: &Update,
    now_ms: i64,
) -> Result<Result<Entry, JournalError>, Failure> {
    let Some(mut entry) = read_entry(conn, id)? else {
        return Ok(Err(JournalError::not_found(id)));
    };
    if let Err(e) = entry.apply_fenced(fence, update, now_ms) {
        return Ok(Err(e));
    }
    write_entry(conn, &entry)?;
    Ok(Ok(entry))
}

/// Writes what a claim, an update or a resolution can change (the request and when it
/// was submitted never change).
fn write_entry(conn: &Connection, entry: &Entry) -> Result<(), Failure> {
    let fence = fence_to_sql(entry)?;
    conn.prepare_cached(
        "UPDATE entries SET state = ?2, attempts = ?3, landing_possible = ?4, \
         confirming_refusal = ?5, fence = ?6, lease_until_ms = ?7, next_attempt_ms = ?8, \
         last_attempt_ms = ?9, unknown_since_ms = ?10, updated_ms = ?11, last_error = ?12, \
         result = ?13 WHERE id = ?1",
    )?
    .execute(params![
        entry.id,
        entry.state.as_str(),
        entry.attempts,
        entry.landing_possible,
        entry.confirming_refusal,
        fence,
        entry.lease_until_ms,
        entry.next_attempt_ms,
        entry.last_attempt_ms,
        entry.unknown_since_ms,
        entry.updated_ms,
        entry.last_error,
        entry.result,
    ])?;
    Ok(())
}

/// SQLite's integers are signed: a fence above `i64::MAX` (never reached, one claim at a
/// time) cannot be stored.
fn fence_to_sql(entry: &Entry) -> Result<i64, Failure> {
    i64::try_from(entry.fence)
        .map_err(|_| Failure::Corrupt(format!("entry {} has a fence too high to store", entry.id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_states_are_the_states_that_are_not_final() {
        let not_final: Vec<String> = EntryState::ALL
            .into_iter()
            .filter(|s| s.is_final())
            .map(|s| format!("state <> '{s}'"))
            .collect();
        assert_eq!(OPEN_CONDITION, not_final.join(" AND "));
        assert!(
            ENTRIES_SCHEMA.contains(&format!("WHERE {OPEN_CONDITION};")),
            "the partial index has the queries' very condition"
        );
        for state in EntryState::ALL {
            assert!(
                ENTRIES_SCHEMA.contains(&format!("state = '{state}'")),
                "{state}"
            );
        }
    }

    /// The claims, `next_due` and the oldest open entry read the open entries through the
    /// partial index, not the whole history.
    #[test]
    fn open_entries_are_read_through_the_partial_index() {
        let dir = tempfile::tempdir().unwrap();
        let journal = SqliteJournal::open(dir.path().join("j.sqlite")).unwrap();
        let conn = journal.conn.lock().unwrap();
        let plan = |sql: &str, params: &[&dyn rusqlite::ToSql]| -> String {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let rows = stmt
                .query_map(params, |row| row.get::<_, String>(3))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            rows.join("; ")
        };
        for sql in [CLAIM_VIEW, OLDEST_OPEN, NEXT_DUE] {
            assert!(sql.contains(OPEN_CONDITION), "{sql}");
            let plan = plan(sql, &[]);
            assert!(plan.contains("entries_open"), "{sql}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{sql}: {plan}");
        }
        let plan = plan(
            &format!("SELECT {COLUMNS} {LIST_STATE}"),
            params!["refused", 5, 9],
        );
        assert!(plan.contains("entries_state"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}
