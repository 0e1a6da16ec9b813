//! Group commit: the write operations that arrive while the connection is busy are
//! committed together, in one transaction and so one fsync.
//!
//! A commit with `synchronous=FULL` costs an fsync (1 to 4 ms measured on the CI
//! machines), whatever it holds; the rows it writes cost microseconds. A drainer's claim
//! and its previous pass's outcomes, and the submissions of many tills, each waited for
//! an fsync of their own; now those that queue up while one commit runs share the next.
//! Each operation runs in a savepoint of its own, so one that fails leaves nothing behind
//! and does not stop the others; each gets its answer only after the commit.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::{Failure, immediate, is_busy, retrying_while_busy};
use crate::journal::store::JournalError;

/// The most operations one commit takes: a bigger group would hold the file's write lock
/// (which the other processes wait for) well past one fsync.
const MAX_GROUP: usize = 256;

/// A write operation waiting for a commit.
pub(super) trait Queued: Send {
    /// Runs the operation inside the group's transaction; `Ok(true)` when it succeeded
    /// (its savepoint is kept), `Ok(false)` when it failed (its savepoint is rolled
    /// back; the failure is kept for its caller). A busy database is returned, so the
    /// whole group is tried again.
    fn run(&mut self, conn: &Connection) -> Result<bool, Failure>;

    /// Sends the caller its answer: its own, or `commit_failed` when its work was kept
    /// but the commit failed.
    fn answer(self: Box<Self>, path: &Path, commit_failed: Option<&JournalError>);
}

/// One operation: `work`, the name of what it does (for errors), and its caller.
pub(super) struct Job<T, F> {
    op: String,
    work: F,
    kept: Option<Result<T, Failure>>,
    reply: oneshot::Sender<Result<T, JournalError>>,
}

impl<T, F> Job<T, F> {
    /// `work` named `op`, and where its caller waits for the answer.
    pub(super) fn new(op: String, work: F) -> (Self, oneshot::Receiver<Result<T, JournalError>>) {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            op,
            work,
            kept: None,
            reply,
        };
        (job, answer)
    }
}

impl<T, F> Queued for Job<T, F>
where
    T: Send,
    F: FnMut(&Connection) -> Result<T, Failure> + Send,
{
    fn run(&mut self, conn: &Connection) -> Result<bool, Failure> {
        match (self.work)(conn) {
            Err(Failure::Sql(e)) if is_busy(&e) => Err(Failure::Sql(e)),
            outcome => {
                let ok = outcome.is_ok();
                self.kept = Some(outcome);
                Ok(ok)
            }
        }
    }

    fn answer(self: Box<Self>, path: &Path, commit_failed: Option<&JournalError>) {
        let Job {
            op, kept, reply, ..
        } = *self;
        let answer = match (kept, commit_failed) {
            (Some(Err(failure)), _) => Err(failure.into_error(path, &op)),
            (Some(Ok(value)), None) => Ok(value),
            (_, Some(e)) => Err(e.clone()),
            // Never run and no failure: not reachable (a group runs every job or fails).
            (None, None) => {
                Err(Failure::Io("the operation was not run".into()).into_error(path, &op))
            }
        };
        // A caller that stopped waiting (a timeout) drops its answer; its work stands.
        let _ = reply.send(answer);
    }
}

/// The operations waiting for a commit, in arrival order, and whether a leader is
/// committing them.
#[derive(Default)]
pub(super) struct Queue {
    state: Mutex<Waiting>,
}

#[derive(Default)]
struct Waiting {
    jobs: Vec<Box<dyn Queued>>,
    /// A [`Leader`] runs, and looks at the queue again before it stops.
    leading: bool,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `job`; `true` when no leader runs, and the caller must start one.
    pub(super) fn push(&self, job: Box<dyn Queued>) -> bool {
        let mut waiting = self.lock();
        waiting.jobs.push(job);
        !std::mem::replace(&mut waiting.leading, true)
    }

    /// Up to [`MAX_GROUP`] waiting operations; none when the queue is empty, which
    /// ends the leader's turn (under the same lock, so no operation is left behind).
    fn next_group(&self) -> Vec<Box<dyn Queued>> {
        let mut waiting = self.lock();
        if waiting.jobs.is_empty() {
            waiting.leading = false;
        }
        let n = waiting.jobs.len().min(MAX_GROUP);
        waiting.jobs.drain(..n).collect()
    }
}

/// Commits the waiting operations, group after group, until none wait. One leader runs
/// at a time: the operations that arrive meanwhile wait for its next group rather than
/// wake a thread of their own (a wake-up and a context switch each, which cost more
/// than their rows on the 2-core box).
///
/// Dropped without finishing (a runtime that shuts down drops the blocking task it
/// will not run, or a panic), it ends its turn and drops the waiting operations, whose
/// callers hear that their commit was abandoned, rather than leave them waiting.
pub(super) struct Leader {
    conn: Arc<Mutex<Connection>>,
    queue: Arc<Queue>,
    path: Arc<PathBuf>,
    finished: bool,
}

impl Leader {
    /// The leader of `queue`'s operations on `conn`.
    pub(super) fn new(conn: Arc<Mutex<Connection>>, queue: Arc<Queue>, path: Arc<PathBuf>) -> Self {
        Leader {
            conn,
            queue,
            path,
            finished: false,
        }
    }

    /// Commits groups until the queue is empty. The connection is held for one group at a
    /// time, so reads get their turn between groups.
    pub(super) fn run(mut self) {
        loop {
            let jobs = self.queue.next_group();
            if jobs.is_empty() {
                self.finished = true;
                return;
            }
            let mut conn = self.conn.lock().unwrap_or_else(PoisonError::into_inner);
            commit_group(&mut conn, jobs, &self.path);
        }
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        if !self.finished {
            let abandoned = {
                let mut waiting = self.queue.lock();
                waiting.leading = false;
                std::mem::take(&mut waiting.jobs)
            };
            drop(abandoned);
        }
    }
}

/// Commits `jobs` in one transaction and answers them.
fn commit_group(conn: &mut Connection, mut jobs: Vec<Box<dyn Queued>>, path: &Path) {
    let failed = commit(conn, &mut jobs)
        .err()
        .map(|f| f.into_error(path, &format!("commit {} operations", jobs.len())));
    for job in jobs {
        job.answer(path, failed.as_ref());
    }
}

/// Runs `jobs` in one transaction, each in a savepoint, and commits; again, whole, while
/// the database is locked by another process.
fn commit(conn: &mut Connection, jobs: &mut [Box<dyn Queued>]) -> Result<(), Failure> {
    retrying_while_busy(conn, |conn| {
        let mut tx = immediate(conn)?;
        for job in jobs.iter_mut() {
            let mut savepoint = tx.savepoint()?;
            if !job.run(&savepoint)? {
                savepoint.rollback()?;
            }
            savepoint.commit()?;
        }
        tx.commit()?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue_job(
        queue: &Queue,
        op: &str,
        work: impl FnMut(&Connection) -> Result<i64, Failure> + Send + 'static,
    ) -> oneshot::Receiver<Result<i64, JournalError>> {
        let (job, answer) = Job::new(op.into(), work);
        queue.push(Box::new(job));
        answer
    }

    fn table(conn: &Arc<Mutex<Connection>>) -> Vec<i64> {
        let conn = conn.lock().unwrap();
        let mut stmt = conn.prepare("SELECT n FROM t ORDER BY n").unwrap();
        stmt.query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    fn set_up() -> (Arc<Mutex<Connection>>, Arc<Queue>, Arc<PathBuf>) {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (n INTEGER)").unwrap();
        (
            Arc::new(Mutex::new(conn)),
            Arc::default(),
            Arc::new(PathBuf::from("j.sqlite3")),
        )
    }

    #[test]
    fn one_failed_operation_leaves_nothing_and_the_others_commit() {
        let (conn, queue, path) = set_up();
        let first = queue_job(&queue, "first", |c| {
            c.execute("INSERT INTO t VALUES (1)", [])?;
            Ok(1)
        });
        // Writes, then fails: its write must not reach the commit.
        let failing = queue_job(&queue, "failing", |c| {
            c.execute("INSERT INTO t VALUES (2)", [])?;
            Err(Failure::Corrupt("a damaged row".into()))
        });
        let last = queue_job(&queue, "last", |c| {
            c.execute("INSERT INTO t VALUES (3)", [])?;
            Ok(3)
        });
        Leader::new(conn.clone(), queue.clone(), path).run();
        assert_eq!(first.blocking_recv().unwrap().unwrap(), 1);
        let error = failing.blocking_recv().unwrap().unwrap_err();
        assert!(
            error.to_string().contains("cannot failing: a damaged row"),
            "{error}"
        );
        assert_eq!(last.blocking_recv().unwrap().unwrap(), 3);
        assert_eq!(
            table(&conn),
            vec![1, 3],
            "the failed operation's write was rolled back"
        );
    }

    #[test]
    fn one_leader_at_a_time_commits_everything_in_bounded_groups() {
        let (conn, queue, path) = set_up();
        let (job, first) = Job::new("n".into(), |_: &Connection| Ok(0_i64));
        assert!(
            queue.push(Box::new(job)),
            "the first operation starts a leader"
        );
        let mut answers = vec![first];
        for n in 1..MAX_GROUP as i64 + 3 {
            let (job, answer) = Job::new("n".into(), move |c: &Connection| {
                c.execute("INSERT INTO t VALUES (?1)", [n])?;
                Ok(n)
            });
            assert!(!queue.push(Box::new(job)), "the others wait for it");
            answers.push(answer);
        }
        Leader::new(conn.clone(), queue.clone(), path).run();
        for (n, answer) in answers.into_iter().enumerate() {
            assert_eq!(answer.blocking_recv().unwrap().unwrap(), n as i64);
        }
        assert_eq!(table(&conn).len(), MAX_GROUP + 2);
        let (job, _) = Job::new("n".into(), |_: &Connection| Ok(0_i64));
        assert!(
            queue.push(Box::new(job)),
            "its turn ended with the queue empty"
        );
    }

    #[test]
    fn a_leader_dropped_unrun_fails_the_waiting_operations() {
        let (conn, queue, path) = set_up();
        let answer = queue_job(&queue, "n", |_| Ok(1));
        drop(Leader::new(conn, queue.clone(), path));
        assert!(
            answer.blocking_recv().is_err(),
            "its caller hears, not waits"
        );
        let (job, _) = Job::new("n".into(), |_: &Connection| Ok(0_i64));
        assert!(
            queue.push(Box::new(job)),
            "the next operation starts a leader"
        );
    }
}
