//! The SQLite writer: one thread owns the only write connection and commits in groups.
//!
//! # Model
//! SQLite allows one writer at a time and a durable commit costs an fsync. So every write
//! (insert, claim, heartbeat, completion, rescue, ledger, schedule change) is sent to
//! this thread, which takes everything queued (up to `MAX_GROUP`), runs each write inside
//! its own `SAVEPOINT` of one `BEGIN IMMEDIATE … COMMIT`, and answers every caller only
//! after the commit: many writes, one fsync. The thread calls SQLite synchronously
//! (rusqlite, prepared statements cached), so a statement costs microseconds, not a
//! round trip between tasks.
//!
//! # Calls
//! A write is a function on the writer's connection: [`Writer::call`] sends it and returns
//! the function's own result, typed, once its group is committed;
//! [`Writer::audited`] also writes the audit records describing it, in the same
//! savepoint. Adding a write is one function (in `writes`, `access` or `ops`) and one call.
//! The thread sees a write only as a [`Pending`]: something to run that says whether it
//! failed (for its savepoint) and answers its caller once the group's fate is known.
//!
//! # Failure
//! A write that fails is rolled back to its savepoint and answered with its error; the
//! others in the group are unaffected. If the commit itself fails, the whole group is
//! rolled back and every caller gets the error, so nobody is told "done" for a write that
//! is not durable. The thread ends when the last handle to it is dropped.

use std::{path::Path, time::Duration};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};

use super::access;
use crate::{StoreError, model::AuditRecord, model_access::Audited};

type Result<T> = std::result::Result<T, StoreError>;

/// Most writes committed together.
const MAX_GROUP: usize = 256;

/// A handle to the writer thread.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    tx: mpsc::UnboundedSender<Box<dyn Pending>>,
}

impl Writer {
    /// Opens the write connection to `path` (WAL, `synchronous=FULL`, `busy_timeout` 5 s,
    /// foreign keys) and starts the thread.
    pub(super) fn spawn(path: &Path) -> Result<Self> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(StoreError::unavailable)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.set_prepared_statement_cache_capacity(64);
        let (tx, rx) = mpsc::unbounded_channel();
        std::thread::Builder::new()
            .name("warden-sqlite-writer".into())
            .spawn(move || run(conn, rx))
            .map_err(StoreError::unavailable)?;
        Ok(Self { tx })
    }

    /// Runs `write` on the writer's connection in the next group; returns its result once
    /// the group is committed (or the commit's error: see the module doc).
    pub(super) async fn call<T, F>(&self, write: F) -> Result<T>
    where
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send(Box::new(Call { write, reply }))
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    /// [`call`](Self::call), writing in the same savepoint the records of `audit` that
    /// the write's result keeps (see [`Audited`]).
    pub(super) async fn audited<T, F>(&self, audit: Vec<AuditRecord>, write: F) -> Result<T>
    where
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
        T: Audited + Send + 'static,
    {
        self.call(move |conn| {
            let written = write(conn)?;
            access::audit_insert(conn, &written.audited(audit))?;
            Ok(written)
        })
        .await
    }
}

fn gone() -> StoreError {
    StoreError::unavailable("the SQLite writer thread has stopped")
}

/// A queued write with its result type erased.
trait Pending: Send {
    /// Runs the write on `conn`: whether it succeeded, and its answer to send once the
    /// group's fate is known.
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Answer);

    /// Answers with `error` without running (the write's transaction did not begin).
    fn refuse(self: Box<Self>, error: StoreError);
}

/// Sends a write's answer: its own result, or (`Some`) an error that replaces it.
type Answer = Box<dyn FnOnce(Option<StoreError>) + Send>;

/// A write and the channel its caller waits on.
struct Call<F, T> {
    write: F,
    reply: oneshot::Sender<Result<T>>,
}

impl<F, T> Pending for Call<F, T>
where
    F: FnOnce(&Connection) -> Result<T> + Send,
    T: Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Answer) {
        let Call { write, reply } = *self;
        let result = write(conn);
        let ok = result.is_ok();
        let answer = move |error: Option<StoreError>| {
            // The caller may have gone (a dropped request): nobody to tell.
            let _ = reply.send(error.map_or(result, Err));
        };
        (ok, Box::new(answer))
    }

    fn refuse(self: Box<Self>, error: StoreError) {
        let _ = self.reply.send(Err(error));
    }
}

fn run(conn: Connection, mut rx: mpsc::UnboundedReceiver<Box<dyn Pending>>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = rx.blocking_recv() {
        group.push(first);
        // Writes that are about to be sent (a claim and the completions of the jobs that
        // just finished, say) get a moment to join this group and share its commit.
        for round in 0..2 {
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(w) => group.push(w),
                    Err(_) => break,
                }
            }
            if round == 0 {
                std::thread::yield_now();
            }
        }
        commit_group(&conn, &mut group);
    }
}

fn commit_group(conn: &Connection, group: &mut Vec<Box<dyn Pending>>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let msg = e.to_string();
        for write in group.drain(..) {
            write.refuse(failed("begin", &msg));
        }
        return;
    }
    let alone = group.len() == 1;
    // Each answer, with the error that replaces the write's own result (its savepoint
    // failed), if any.
    let mut answers: Vec<(Answer, Option<StoreError>)> = Vec::with_capacity(group.len());
    for write in group.drain(..) {
        if alone {
            // Alone in its group, a write needs no savepoint: a failure rolls back the group.
            let (ok, answer) = write.run(conn);
            if !ok {
                let _ = conn.execute_batch("ROLLBACK");
                answer(None);
                return;
            }
            answers.push((answer, None));
        } else {
            answers.push(in_savepoint(conn, write));
        }
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => {
            for (answer, error) in answers {
                answer(error);
            }
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            let msg = e.to_string();
            for (answer, _) in answers {
                answer(Some(failed("commit", &msg)));
            }
        }
    }
}

/// Runs `write` inside its own savepoint, so that its failure undoes its statements only.
/// A savepoint statement that fails replaces the write's result with its error.
fn in_savepoint(conn: &Connection, write: Box<dyn Pending>) -> (Answer, Option<StoreError>) {
    if let Err(e) = conn.execute_batch("SAVEPOINT w") {
        let error = StoreError::from(e);
        return (Box::new(move |e| write.refuse(e.unwrap_or(error))), None);
    }
    let (ok, answer) = write.run(conn);
    let undone = if ok {
        Ok(())
    } else {
        conn.execute_batch("ROLLBACK TO w")
    };
    let ended = undone.and_then(|()| conn.execute_batch("RELEASE w"));
    (answer, ended.err().map(StoreError::from))
}

fn failed(step: &str, msg: &str) -> StoreError {
    StoreError::Database(format!("group {step} failed: {msg}").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer on a fresh file with a table `t (v)`; the directory is removed by the
    /// caller's [`Cleanup`].
    async fn writer() -> (Writer, Cleanup) {
        let dir = std::env::temp_dir().join(format!("warden-writer-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let writer = Writer::spawn(&dir.join("w.db")).unwrap();
        writer
            .call(|c| Ok(c.execute_batch("CREATE TABLE t (v INTEGER)")?))
            .await
            .unwrap();
        (writer, Cleanup(dir))
    }

    struct Cleanup(std::path::PathBuf);

    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Inserts `v`, then fails when asked to (after the insert, which must be undone).
    async fn insert(writer: &Writer, v: i64, fail: bool) -> Result<i64> {
        writer
            .call(move |c| {
                c.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
                if fail {
                    return Err(StoreError::Conflict(format!("refused {v}")));
                }
                Ok(v)
            })
            .await
    }

    async fn values(writer: &Writer) -> Vec<i64> {
        writer
            .call(|c| {
                let mut stmt = c.prepare("SELECT v FROM t ORDER BY v")?;
                let rows = stmt.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<std::result::Result<Vec<i64>, _>>()?)
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn each_caller_gets_its_own_result_and_a_failed_write_leaves_nothing() {
        let (w, _dir) = writer().await;
        // Sent together, so most likely one group: the failure is undone by its savepoint.
        let (a, b, c) = tokio::join!(
            insert(&w, 1, false),
            insert(&w, 2, true),
            insert(&w, 3, false)
        );
        assert_eq!(a.unwrap(), 1);
        assert!(matches!(b, Err(StoreError::Conflict(m)) if m == "refused 2"));
        assert_eq!(c.unwrap(), 3);
        // Alone in its group: the failure rolls the group back.
        assert!(insert(&w, 4, true).await.is_err());
        assert_eq!(values(&w).await, [1, 3]);
    }
}
