//! The journal in PostgreSQL: durable, and shared by the processes of several hosts (see
//! [`PostgresJournal`]).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Transaction};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

use super::entry::{Change, Counts, Entry, EntryId, EntryState, NewEntry, Resolution, Update};
use super::memory::ClaimChooser;
use super::store::{
    Claimed, JournalError, JournalErrorKind, JournalFuture, JournalStore, UpdatedAndClaimed,
    resolve_entry,
};

mod schema;

use schema::Tables;

/// How long an operation keeps trying while PostgreSQL cannot be reached (a restart, a
/// failover) or asks for a retry (a deadlock, a serialization failure), in all, unless
/// the builder says otherwise.
const GIVE_UP: Duration = Duration::from_secs(30);
/// The first pause between two tries; doubled each time up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(50);
const MAX_PAUSE: Duration = Duration::from_secs(1);
/// The most open entries a claim reads at a time: it starts with a few times what it
/// wants and stops once it has chosen enough, so a backlog of a hundred thousand costs a
/// claim a page, not the whole backlog.
const MAX_VIEW_PAGE: i64 = 4096;
/// The most candidates a claim chooses before locking.
const MAX_CANDIDATES: usize = 1024;
/// The connections one `PostgresJournal` opens at most, unless told otherwise.
const DEFAULT_MAX_CONNECTIONS: usize = 8;

/// A [`JournalStore`] in PostgreSQL: durable, shared by the processes of several hosts.
///
/// Two tables hold the journal, named after its namespace (`ump_journal` unless
/// [`PostgresJournalBuilder::namespace`] says otherwise): `<namespace>_meta` (the schema
/// version) and `<namespace>_entries`, one row per [`Entry`]. The SDK creates them on
/// first use, and refuses a database whose tables a newer SDK wrote.
///
/// - **Durable.** An operation returns after its commit: a receipt given after
///   [`append`](JournalStore::append) survives a crash of this host, and of the
///   database server as far as its own settings (`synchronous_commit`, replication)
///   promise.
/// - **Shared.** A claim chooses by the claim rule over the open entries as it reads
///   them, then locks its choice with `SELECT … FOR UPDATE SKIP LOCKED` (a row another
///   host is claiming, or an operator is writing, is left to them) and checks each
///   locked row again. Claims of several hosts run side by side: a stale read only holds
///   back more (a final entry never reopens), so writes to one member or order stay in
///   submission order across hosts. Updates are fenced as in every store: a drainer
///   that lost its lease cannot write.
/// - **Connection loss loses nothing.** A transaction cut off before its commit is
///   rolled back by the server and tried again on a new connection (for up to 30 s). A
///   commit whose answer was lost is ambiguous: an append finds out by its submission
///   token (stored with the entry, unique) and is never recorded twice; a claim or an
///   update is reported as failed, and what it may have written stays claimed until its
///   lease runs out, as after a crash.
/// - **Bounded waits.** Connections are opened with `connect_timeout` 10 s, TCP
///   keepalives, `statement_timeout` 30 s and `idle_in_transaction_session_timeout` 60 s
///   (a host that dies holding the claim lock releases it), unless the URL sets them.
/// - **Private.** Errors name the operation and PostgreSQL's message, never a body, a
///   key or the URL's password; [`fmt::Debug`] shows the host, port, database and
///   namespace only.
///
/// TLS to the database is not built in: the connection is plain TCP (`NoTls`), as on a
/// private network or a Unix socket; a URL asking for `sslmode=require` is refused when
/// it connects.
///
/// ```no_run
/// # async fn run() -> Result<(), openplatform_runtime::journal::JournalError> {
/// use openplatform_runtime::journal::PostgresJournal;
/// let journal = PostgresJournal::builder("postgres://pos@db.internal/mall")
///     .namespace("gree_ump_journal")
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct PostgresJournal {
    pool: Pool,
    /// How long an operation keeps trying (see [`PostgresJournalBuilder::retry_for`]).
    give_up: Duration,
    tables: Tables,
    /// What Debug shows: host, port and database.
    shown: String,
}

impl fmt::Debug for PostgresJournal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresJournal")
            .field("database", &self.shown)
            .field("namespace", &self.tables.namespace())
            .finish()
    }
}

/// How to connect a [`PostgresJournal`]: [`PostgresJournal::builder`].
#[derive(Clone)]
pub struct PostgresJournalBuilder {
    url: String,
    namespace: String,
    max_connections: usize,
    give_up: Duration,
}

impl fmt::Debug for PostgresJournalBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresJournalBuilder")
            .field("namespace", &self.namespace)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

impl PostgresJournalBuilder {
    /// The prefix of the journal's tables (`<namespace>_entries`, `<namespace>_meta`):
    /// lowercase ASCII letters, digits and `_`, starting with a letter or `_`, at most
    /// 40 characters. Default `ump_journal`. Give each API its own (`gree_ump_journal`,
    /// `zvcms_journal`) when they share a database.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// The most connections to open at once (default 8, at least 1).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long an operation keeps trying while the server cannot be reached or asks
    /// for a retry, in all (default 30 s): the connect too. A service that would rather
    /// fail fast and let its supervisor restart it gives less.
    pub fn retry_for(mut self, d: Duration) -> Self {
        self.give_up = d;
        self
    }

    /// Connects, and creates the tables if they are not there. Refused with
    /// [`JournalErrorKind::Corrupt`] when the tables were written by a newer SDK or are
    /// not a journal's, and with [`JournalErrorKind::Io`] when the URL is not a
    /// PostgreSQL URL or the server cannot be reached within 30 s.
    pub async fn connect(self) -> Result<PostgresJournal, JournalError> {
        let tables = Tables::new(&self.namespace)?;
        let mut config: tokio_postgres::Config = self.url.parse().map_err(|_| {
            // Not the parser's message: it may quote the URL, password and all.
            JournalError::new(
                JournalErrorKind::Io,
                "the journal URL is not a PostgreSQL URL \
                 (postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?OPTIONS])",
            )
        })?;
        bound_waits(&mut config);
        let shown = shown(&config);
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                // A connection the server closed is noticed by its task at once; the
                // rest a retry covers, without a round trip per operation.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(self.max_connections)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(self.give_up))
            .create_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(|e| {
                JournalError::new(
                    JournalErrorKind::Io,
                    format!("journal database {shown}: cannot set up its connections: {e}"),
                )
            })?;
        let journal = PostgresJournal {
            pool,
            give_up: self.give_up,
            tables,
            shown,
        };
        let tables = journal.tables.clone();
        journal
            .transaction("set up the journal's tables".into(), move |tx| {
                let tables = tables.clone();
                Box::pin(async move { tables.set_up(tx).await })
            })
            .await?;
        Ok(journal)
    }
}

/// The connection settings that bound every wait, where the URL left them unset.
fn bound_waits(config: &mut tokio_postgres::Config) {
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    if config.get_application_name().is_none() {
        // What an operator sees in `pg_stat_activity`.
        config.application_name("ump-journal");
    }
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(30));
    let options = config.get_options().unwrap_or("").to_owned();
    let mut added = options.clone();
    for (name, value) in [
        ("statement_timeout", "30s"),
        ("idle_in_transaction_session_timeout", "60s"),
    ] {
        if !options.contains(name) {
            added.push_str(&format!(" -c {name}={value}"));
        }
    }
    config.options(added.trim());
}

/// Host(s), port(s) and database, for messages: never the user's password.
fn shown(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    format!(
        "{}:{}/{}",
        hosts.join(","),
        if ports.is_empty() {
            "5432".to_owned()
        } else {
            ports.join(",")
        },
        config.get_dbname().unwrap_or("")
    )
}

/// Why one try of an operation failed.
pub(crate) enum Failed {
    /// Rolled back (the connection was lost before the commit, a deadlock, a
    /// serialization failure): the operation may be tried again.
    Retry(tokio_postgres::Error),
    /// The journal's own answer, or an error trying again will not change.
    Final(JournalError),
}

impl From<JournalError> for Failed {
    fn from(e: JournalError) -> Self {
        Failed::Final(e)
    }
}

impl From<tokio_postgres::Error> for Failed {
    fn from(e: tokio_postgres::Error) -> Self {
        if worth_retrying(&e) {
            Failed::Retry(e)
        } else {
            Failed::Final(io_error(&e))
        }
    }
}

/// A lost connection, or the server asking for the transaction again.
fn worth_retrying(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            *code == SqlState::T_R_SERIALIZATION_FAILURE
                || *code == SqlState::T_R_DEADLOCK_DETECTED
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
                || code.code().starts_with("08")
        }
        // No SQL state: the connection's own I/O failed (retried), or a value did not
        // convert, or the client misused (not retried).
        None => std::error::Error::source(e)
            .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some()),
    }
}

/// PostgreSQL's own message and code, without its detail (which quotes row values).
fn io_error(e: &tokio_postgres::Error) -> JournalError {
    let text = match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    };
    JournalError::new(JournalErrorKind::Io, text)
}

/// The future of one try of an operation's transaction.
type TryFuture<'t, T> = Pin<Box<dyn Future<Output = Result<T, Failed>> + Send + 't>>;

impl PostgresJournal {
    /// How to connect to the database at `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/
    /// DATABASE[?OPTIONS]`, or the `key=value` form).
    pub fn builder(url: impl Into<String>) -> PostgresJournalBuilder {
        PostgresJournalBuilder {
            url: url.into(),
            namespace: "ump_journal".to_owned(),
            max_connections: DEFAULT_MAX_CONNECTIONS,
            give_up: GIVE_UP,
        }
    }

    /// [`PostgresJournal::builder`] with its defaults, connected.
    pub async fn connect(url: impl Into<String>) -> Result<Self, JournalError> {
        Self::builder(url).connect().await
    }

    /// Runs `body` in a transaction, and commits; again on a new connection while the
    /// server cannot be reached or asks for a retry (up to [`GIVE_UP`]). A commit whose
    /// answer is lost is reported as such (the error says its outcome is unknown).
    async fn transaction<T, F>(&self, op: String, body: F) -> Result<T, JournalError>
    where
        T: Send,
        F: for<'t> FnMut(&'t Transaction<'_>) -> TryFuture<'t, T> + Send,
    {
        self.retried(body).await.map_err(|e| self.told(&op, e))
    }

    /// [`PostgresJournal::transaction`] of a body that only reads: a commit whose answer
    /// was lost changed nothing, and is tried again like any cut connection.
    async fn read<T, F>(&self, op: String, body: F) -> Result<T, JournalError>
    where
        T: Send,
        F: for<'t> FnMut(&'t Transaction<'_>) -> TryFuture<'t, T> + Send,
    {
        self.tried(body, true).await.map_err(|e| self.told(&op, e))
    }

    /// [`PostgresJournal::transaction`], telling a lost commit apart.
    async fn retried<T, F>(&self, body: F) -> Result<T, TxError>
    where
        T: Send,
        F: for<'t> FnMut(&'t Transaction<'_>) -> TryFuture<'t, T> + Send,
    {
        self.tried(body, false).await
    }

    /// Tries `body` until it commits, it fails for good, or [`GIVE_UP`] passes; a lost
    /// commit's answer ends it unless the body only `reads`.
    async fn tried<T, F>(&self, mut body: F, reads: bool) -> Result<T, TxError>
    where
        T: Send,
        F: for<'t> FnMut(&'t Transaction<'_>) -> TryFuture<'t, T> + Send,
    {
        let started = tokio::time::Instant::now();
        let mut pause = FIRST_PAUSE;
        loop {
            let failed = match self.try_once(&mut body).await {
                Ok(value) => return Ok(value),
                Err(Tried::Failed(Failed::Final(e))) => return Err(TxError::Final(e)),
                Err(Tried::CommitLost(e)) if reads => io_error(&e),
                Err(Tried::CommitLost(e)) => return Err(TxError::CommitLost(e)),
                Err(Tried::Failed(Failed::Retry(e))) => io_error(&e),
                Err(Tried::NoConnection(e)) => e,
            };
            if started.elapsed() + pause >= self.give_up {
                return Err(TxError::Final(JournalError::new(
                    JournalErrorKind::Io,
                    format!(
                        "still failing after {} s: {failed}",
                        started.elapsed().as_secs()
                    ),
                )));
            }
            tracing::debug!(error = %failed, "journal database: trying again");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }

    /// `e` as the caller hears it: naming the database and the operation.
    fn told(&self, op: &str, e: TxError) -> JournalError {
        let e = match e {
            TxError::Final(e) => e,
            TxError::CommitLost(e) => JournalError::new(
                JournalErrorKind::Io,
                format!(
                    "the connection was lost during the commit, whose outcome is unknown ({})",
                    io_error(&e)
                ),
            ),
        };
        match e.kind() {
            // The journal's own answers (fenced, not found, final) are told as they are.
            JournalErrorKind::Fenced | JournalErrorKind::NotFound | JournalErrorKind::Final => e,
            kind => JournalError::new(
                kind,
                format!("journal database {}: cannot {op}: {e}", self.shown),
            ),
        }
    }

    async fn try_once<T, F>(&self, body: &mut F) -> Result<T, Tried>
    where
        F: for<'t> FnMut(&'t Transaction<'_>) -> TryFuture<'t, T>,
    {
        let mut client = self.pool.get().await.map_err(|e| {
            Tried::NoConnection(JournalError::new(
                JournalErrorKind::Io,
                format!("cannot connect: {e}"),
            ))
        })?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| Tried::Failed(e.into()))?;
        let value = body(&tx).await.map_err(Tried::Failed)?;
        match tx.commit().await {
            Ok(()) => Ok(value),
            Err(e) if e.is_closed() || (e.code().is_none() && worth_retrying(&e)) => {
                Err(Tried::CommitLost(e))
            }
            Err(e) => Err(Tried::Failed(e.into())),
        }
    }
}

/// How [`PostgresJournal::retried`] failed.
enum TxError {
    /// For good (or after [`GIVE_UP`]).
    Final(JournalError),
    /// The commit was sent and its answer lost: it may have happened.
    CommitLost(tokio_postgres::Error),
}

/// One try's end, for [`PostgresJournal::retried`].
enum Tried {
    Failed(Failed),
    /// The commit was sent and its answer lost.
    CommitLost(tokio_postgres::Error),
    /// No connection could be had: nothing was sent.
    NoConnection(JournalError),
}

impl JournalStore for PostgresJournal {
    fn append(&self, new: NewEntry) -> JournalFuture<'_, Entry> {
        Box::pin(async move {
            let mut entries = self.append_many(vec![new]).await?;
            entries.pop().ok_or_else(|| {
                JournalError::new(JournalErrorKind::Io, "the append recorded nothing")
            })
        })
    }

    fn append_many(&self, entries: Vec<NewEntry>) -> JournalFuture<'_, Vec<Entry>> {
        Box::pin(async move {
            if entries.is_empty() {
                return Ok(Vec::new());
            }
            // Name each submission, so that a commit whose answer was lost is found
            // rather than recorded again.
            let tokens: Vec<String> = entries.iter().map(|_| schema::submission_token()).collect();
            let count = entries.len();
            let op = if count == 1 {
                "record an entry".to_owned()
            } else {
                format!("record {count} entries")
            };
            let tables = self.tables.clone();
            let started = tokio::time::Instant::now();
            loop {
                let (t, e, k) = (tables.clone(), entries.clone(), tokens.clone());
                let inserted = self
                    .retried(move |tx| {
                        let (tables, entries, tokens) = (t.clone(), e.clone(), k.clone());
                        Box::pin(async move {
                            let mut out = Vec::with_capacity(entries.len());
                            for (new, token) in entries.into_iter().zip(&tokens) {
                                out.push(tables.insert(tx, new, token).await?);
                            }
                            Ok(out)
                        })
                    })
                    .await;
                match inserted {
                    Ok(recorded) => return Ok(recorded),
                    Err(TxError::CommitLost(lost)) if started.elapsed() < self.give_up => {
                        // Recorded by the lost commit (all of them: one transaction)? Then
                        // those are the entries; if not, recorded now (the tokens are
                        // unique: never both).
                        let (t, k) = (tables.clone(), tokens.clone());
                        let found = self
                            .read("find entries by their submission".into(), move |tx| {
                                let (tables, tokens) = (t.clone(), k.clone());
                                Box::pin(async move { tables.by_tokens(tx, &tokens).await })
                            })
                            .await?;
                        if found.len() == count {
                            return Ok(found);
                        }
                        if !found.is_empty() {
                            return Err(self.told(
                                &op,
                                TxError::Final(JournalError::new(
                                    JournalErrorKind::Corrupt,
                                    format!(
                                        "{} of the {count} entries of one transaction are recorded",
                                        found.len()
                                    ),
                                )),
                            ));
                        }
                        tracing::debug!(error = %io_error(&lost), "journal database: a lost commit did not record the entries; recording them again");
                    }
                    Err(e) => return Err(self.told(&op, e)),
                }
            }
        })
    }

    fn claim(&self, now_ms: i64, lease_ms: i64, limit: usize) -> JournalFuture<'_, Vec<Entry>> {
        Box::pin(async move {
            let claimed = self
                .claim_to_send_inner(now_ms, lease_ms, limit, false)
                .await?;
            Ok(claimed.into_iter().map(|c| c.entry).collect())
        })
    }

    fn claim_to_send(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
    ) -> JournalFuture<'_, Vec<Claimed>> {
        Box::pin(self.claim_to_send_inner(now_ms, lease_ms, limit, true))
    }

    fn update(
        &self,
        id: EntryId,
        fence: u64,
        update: Update,
        now_ms: i64,
    ) -> JournalFuture<'_, Entry> {
        Box::pin(async move {
            let mut results = self.update_many(vec![(id, fence, update)], now_ms).await?;
            results
                .pop()
                .unwrap_or_else(|| Err(JournalError::not_found(id)))
        })
    }

    fn update_many(
        &self,
        updates: Vec<(EntryId, u64, Update)>,
        now_ms: i64,
    ) -> JournalFuture<'_, Vec<Result<Entry, JournalError>>> {
        let tables = self.tables.clone();
        let count = updates.len();
        Box::pin(async move {
            if updates.is_empty() {
                return Ok(Vec::new());
            }
            let changes = changes_of(&updates, now_ms);
            self.transaction(format!("update {count} entries"), move |tx| {
                let (tables, changes) = (tables.clone(), changes.clone());
                Box::pin(async move { write_changes(&tables, tx, &changes).await })
            })
            .await
        })
    }

    fn update_and_claim(
        &self,
        outcomes: Vec<(EntryId, u64, Update)>,
        now_ms: i64,
        lease_ms: i64,
        claim: Option<usize>,
    ) -> Pin<Box<dyn Future<Output = UpdatedAndClaimed> + Send + '_>> {
        Box::pin(async move {
            let room = claim.filter(|&n| n > 0);
            match (outcomes.is_empty(), room) {
                (true, None) => (None, claim.map(|_| Ok(Vec::new()))),
                (true, Some(room)) => (
                    None,
                    Some(self.claim_to_send_inner(now_ms, lease_ms, room, true).await),
                ),
                (false, None) => (
                    Some(self.update_many(outcomes, now_ms).await),
                    claim.map(|_| Ok(Vec::new())),
                ),
                (false, Some(room)) => {
                    // One transaction: a commit and its fsync, rather than two, and the
                    // outcomes' statement and the claim's first read sent together
                    // (queued on one connection, answered in one round trip).
                    let tables = self.tables.clone();
                    let changes = changes_of(&outcomes, now_ms);
                    let count = changes.len();
                    let done = self
                        .transaction(
                            format!("update {count} entries and claim more"),
                            move |tx| {
                                let (tables, changes) = (tables.clone(), changes.clone());
                                Box::pin(async move {
                                    let (written, claimed) = futures_util::future::join(
                                        write_changes(&tables, tx, &changes),
                                        claim_in(&tables, tx, now_ms, lease_ms, room, true),
                                    )
                                    .await;
                                    Ok((written?, claimed?))
                                })
                            },
                        )
                        .await;
                    match done {
                        Ok((written, claimed)) => (Some(Ok(written)), Some(Ok(claimed))),
                        Err(e) => (Some(Err(e.clone())), Some(Err(e))),
                    }
                }
            }
        })
    }

    fn get(&self, id: EntryId) -> JournalFuture<'_, Option<Entry>> {
        let tables = self.tables.clone();
        Box::pin(self.read(format!("read entry {id}"), move |tx| {
            let tables = tables.clone();
            Box::pin(async move { tables.get(tx, id).await })
        }))
    }

    fn list(
        &self,
        state: Option<EntryState>,
        after: EntryId,
        limit: usize,
    ) -> JournalFuture<'_, Vec<Entry>> {
        let tables = self.tables.clone();
        Box::pin(self.read("list entries".into(), move |tx| {
            let tables = tables.clone();
            Box::pin(async move { tables.list(tx, state, after, limit).await })
        }))
    }

    fn counts(&self) -> JournalFuture<'_, Counts> {
        let tables = self.tables.clone();
        Box::pin(self.read("count entries".into(), move |tx| {
            let tables = tables.clone();
            Box::pin(async move { tables.counts(tx).await })
        }))
    }

    fn next_due(&self) -> JournalFuture<'_, Option<i64>> {
        let tables = self.tables.clone();
        Box::pin(self.read("find when an entry is due".into(), move |tx| {
            let tables = tables.clone();
            Box::pin(async move { tables.next_due(tx).await })
        }))
    }

    fn resolve(
        &self,
        id: EntryId,
        resolution: Resolution,
        note: String,
        now_ms: i64,
    ) -> JournalFuture<'_, Entry> {
        let tables = self.tables.clone();
        Box::pin(self.transaction(format!("resolve entry {id}"), move |tx| {
            let (tables, resolution, note) = (tables.clone(), resolution.clone(), note.clone());
            Box::pin(async move {
                let mut entry = tables
                    .lock_entries(tx, &[id])
                    .await?
                    .pop()
                    .ok_or_else(|| JournalError::not_found(id))?;
                resolve_entry(&mut entry, &resolution, note, now_ms)?;
                tables.write(tx, &[&entry]).await?;
                Ok(entry)
            })
        }))
    }
}

impl PostgresJournal {
    /// See [`JournalStore::claim_to_send`]; with `begin` false, a plain claim.
    async fn claim_to_send_inner(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: usize,
        begin: bool,
    ) -> Result<Vec<Claimed>, JournalError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let tables = self.tables.clone();
        self.transaction("claim entries".into(), move |tx| {
            let tables = tables.clone();
            Box::pin(async move { claim_in(&tables, tx, now_ms, lease_ms, limit, begin).await })
        })
        .await
    }
}

/// The drainers' updates as changes to write (see [`Update::change`]).
fn changes_of(updates: &[(EntryId, u64, Update)], now_ms: i64) -> Vec<(EntryId, u64, Change)> {
    updates
        .iter()
        .map(|(id, fence, update)| (*id, *fence, update.change(now_ms)))
        .collect()
}

/// [`JournalStore::update_many`] in `tx`.
async fn write_changes(
    tables: &Tables,
    tx: &Transaction<'_>,
    changes: &[(EntryId, u64, Change)],
) -> Result<Vec<Result<Entry, JournalError>>, Failed> {
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<EntryId> = changes.iter().map(|c| c.0).collect();
    ids.sort_unstable();
    ids.dedup();
    // One statement for the batch when each entry is in it once (a drainer's batch);
    // otherwise one per update, in their order, each seeing the ones before.
    let outcome: Vec<Option<Entry>> = if ids.len() == changes.len() {
        let mut written: HashMap<EntryId, Entry> = tables
            .change(tx, changes)
            .await?
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
        changes.iter().map(|c| written.remove(&c.0)).collect()
    } else {
        let mut outcome = Vec::with_capacity(changes.len());
        for change in changes {
            outcome.push(tables.change(tx, std::slice::from_ref(change)).await?.pop());
        }
        outcome
    };
    // Not written: fenced (another holds it, or it is not in flight), or not there.
    let missing: Vec<EntryId> = changes
        .iter()
        .zip(&outcome)
        .filter(|(_, o)| o.is_none())
        .map(|(c, _)| c.0)
        .collect();
    let existing: HashSet<EntryId> = if missing.is_empty() {
        HashSet::new()
    } else {
        tables.existing(tx, &missing).await?.into_iter().collect()
    };
    Ok(changes
        .iter()
        .zip(outcome)
        .map(|(c, o)| match o {
            Some(entry) => Ok(entry),
            None if existing.contains(&c.0) => Err(JournalError::fenced(c.0)),
            None => Err(JournalError::not_found(c.0)),
        })
        .collect())
}

/// [`JournalStore::claim_to_send`] in `tx` (with `begin` false, a plain claim).
async fn claim_in(
    tables: &Tables,
    tx: &Transaction<'_>,
    now_ms: i64,
    lease_ms: i64,
    limit: usize,
    begin: bool,
) -> Result<Vec<Claimed>, Failed> {
    // The candidates, by the claim rule over the open entries as this statement sees
    // them, read a page at a time from the oldest. A view older than another claimer's
    // commit only holds back more (an entry it sees open may be final by now; one it
    // sees final is final for good), and the claim checks what it chose again. Four
    // times as many as wanted: drainers of other hosts read the same view and lock some
    // of them first (with twice, the crash test of four hosts took twice as long, its
    // drainers idling on claims that found nothing).
    let candidates = limit.saturating_mul(4).min(MAX_CANDIDATES);
    let mut chooser = ClaimChooser::new(now_ms, candidates);
    let mut after = 0;
    // The first page holds what the other drainers have in flight too (four hosts of 16
    // calls each: 64 rows ahead of the first due one), so that one page is usually
    // enough: with twice the candidates, most claims of the bench read two pages.
    let mut page_size = (candidates as i64 * 2 + 64).clamp(128, MAX_VIEW_PAGE);
    'pages: loop {
        let page = tables.open_view(tx, after, page_size).await?;
        let full = page.len() as i64 == page_size;
        for entry in &page {
            after = entry.id;
            if !chooser.offer(entry) {
                break 'pages;
            }
        }
        if !full {
            break;
        }
        page_size = (page_size * 2).min(MAX_VIEW_PAGE);
    }
    let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
    Ok(tables
        .claim(
            tx,
            &chooser.chosen,
            now_ms,
            now_ms.saturating_add(lease_ms),
            limit_sql,
            begin,
        )
        .await?
        .into_iter()
        .map(|(entry, begun)| Claimed { entry, begun })
        .collect())
}

/// Parameters as PostgreSQL's client takes them.
pub(crate) type Params<'a> = [&'a (dyn ToSql + Sync)];

/// A row of [`schema::COLUMNS`].
pub(crate) fn entry_from_row(row: &Row) -> Result<Entry, Failed> {
    let id: EntryId = column(row, 0, None)?;
    let id_ = Some(id);
    let damaged = |what: &str| {
        Failed::Final(JournalError::new(
            JournalErrorKind::Corrupt,
            format!("entry {id} is damaged: {what}"),
        ))
    };
    let state: String = column(row, 4, id_)?;
    Ok(Entry {
        id,
        method: column(row, 1, id_)?,
        body: column(row, 2, id_)?,
        order_keys: column(row, 3, id_)?,
        state: EntryState::from_name(&state)
            .ok_or_else(|| damaged("its state is not one this SDK knows"))?,
        attempts: u32::try_from(column::<i64>(row, 5, id_)?)
            .map_err(|_| damaged("its attempt count is out of range"))?,
        landing_possible: column(row, 6, id_)?,
        confirming_refusal: column(row, 7, id_)?,
        fence: u64::try_from(column::<i64>(row, 8, id_)?)
            .map_err(|_| damaged("its fence is negative"))?,
        lease_until_ms: column(row, 9, id_)?,
        next_attempt_ms: column(row, 10, id_)?,
        last_attempt_ms: column(row, 11, id_)?,
        unknown_since_ms: column(row, 12, id_)?,
        created_ms: column(row, 13, id_)?,
        updated_ms: column(row, 14, id_)?,
        last_error: column(row, 15, id_)?,
        result: column(row, 16, id_)?,
    })
}

/// Column `i` of `row`, or why it is damaged: a value not of the type this SDK wrote
/// (the message names the column's position and the types, never the value).
pub(crate) fn column<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    i: usize,
    id: Option<EntryId>,
) -> Result<T, Failed> {
    row.try_get(i).map_err(|e| {
        let entry = id.map_or_else(|| "an entry".to_owned(), |id| format!("entry {id}"));
        Failed::Final(JournalError::new(
            JournalErrorKind::Corrupt,
            format!("{entry} is damaged: column {i} has a value of another type ({e})"),
        ))
    })
}
