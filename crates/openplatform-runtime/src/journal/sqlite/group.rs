//! Group commit: the write operations that arrive while the connection is busy are
//! committed together, in one transaction and so one fsync.
//!
//! A commit with `synchronous=FULL` costs an fsync (1 to 4 ms measured on the CI
//! machines), whatever it holds; the rows it writes cost microseconds. A drainer's claim
//! and its previous pass's outcomes, and the submissions of many tills, each waited for
//! an fsync of their own; now those that queue up while one commit runs share the next.
//! Each operation runs in a savepoint of its own, so one that fails leaves nothing behind
//! and does not stop the others; each gets its answer only after the commit.

use std::path::Path;
use std::sync::{Mutex, PoisonError};

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

/// The operations waiting for a commit, in arrival order.
pub(super) type Queue = Mutex<Vec<Box<dyn Queued>>>;

/// With the connection held: commits up to [`MAX_GROUP`] waiting operations in one
/// transaction and answers them. Each operation's caller runs this after queueing it,
/// so every operation is committed by its own call or an earlier one.
pub(super) fn commit_waiting(conn: &mut Connection, queue: &Queue, path: &Path) {
    let mut jobs: Vec<Box<dyn Queued>> = {
        let mut waiting = queue.lock().unwrap_or_else(PoisonError::into_inner);
        let n = waiting.len().min(MAX_GROUP);
        waiting.drain(..n).collect()
    };
    if jobs.is_empty() {
        return;
    }
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
        queue.lock().unwrap().push(Box::new(job));
        answer
    }

    #[test]
    fn one_failed_operation_leaves_nothing_and_the_others_commit() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (n INTEGER)").unwrap();
        let queue = Queue::default();
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
        commit_waiting(&mut conn, &queue, Path::new("j.sqlite3"));
        assert_eq!(first.blocking_recv().unwrap().unwrap(), 1);
        let error = failing.blocking_recv().unwrap().unwrap_err();
        assert!(
            error.to_string().contains("cannot failing: a damaged row"),
            "{error}"
        );
        assert_eq!(last.blocking_recv().unwrap().unwrap(), 3);
        let rows: Vec<i64> = conn
            .prepare("SELECT n FROM t ORDER BY n")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            rows,
            vec![1, 3],
            "the failed operation's write was rolled back"
        );
        assert!(queue.lock().unwrap().is_empty(), "all three in one commit");
    }

    #[test]
    fn a_group_is_bounded_and_the_rest_wait_for_the_next_commit() {
        let mut conn = Connection::open_in_memory().unwrap();
        let queue = Queue::default();
        let answers: Vec<_> = (0..MAX_GROUP + 3)
            .map(|n| queue_job(&queue, "n", move |_| Ok(n as i64)))
            .collect();
        commit_waiting(&mut conn, &queue, Path::new("j.sqlite3"));
        assert_eq!(queue.lock().unwrap().len(), 3, "the rest wait");
        commit_waiting(&mut conn, &queue, Path::new("j.sqlite3"));
        for (n, answer) in answers.into_iter().enumerate() {
            assert_eq!(answer.blocking_recv().unwrap().unwrap(), n as i64);
        }
    }
}
