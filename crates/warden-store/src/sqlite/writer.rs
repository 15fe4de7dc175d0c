//! The SQLite writer: one task owns the only write connection and commits in groups.
//!
//! # Model
//! SQLite allows one writer at a time and a durable commit costs an fsync. So every write
//! (insert, claim, heartbeat, completion, rescue, ledger, schedule change) is sent to
//! this task, which takes everything queued (up to `MAX_GROUP`), runs each write inside
//! its own `SAVEPOINT` of one `BEGIN IMMEDIATE … COMMIT`, and answers every caller only
//! after the commit: many writes, one fsync.
//!
//! # Failure
//! A write that fails is rolled back to its savepoint and answered with its error; the
//! others in the group are unaffected. If the commit itself fails, the whole group is
//! rolled back and every caller gets the error, so nobody is told "done" for a write that
//! is not durable.

use sqlx::{Connection, SqliteConnection, sqlite::SqliteConnectOptions};
use tokio::sync::{mpsc, oneshot};
use warden_core::{JobId, ScheduleId};

use super::writes;
use crate::{StoreError, model::*};

type Result<T> = std::result::Result<T, StoreError>;

/// Most writes committed together.
const MAX_GROUP: usize = 256;

/// A write to perform.
pub(super) enum Write {
    InsertJobs(Vec<NewJob>),
    Claim(ClaimParams),
    Heartbeat(HeartbeatParams),
    Complete(Vec<Completion>),
    Cancel(Vec<JobId>, jiff::Timestamp),
    Rescue(RescueParams),
    ScheduleInsert(Box<Schedule>),
    SchedulePaused(ScheduleId, bool, jiff::Timestamp),
    ScheduleDelete(ScheduleId),
    RecordOccurrences(OccurrenceBatch),
}

/// What a write returns.
pub(super) enum Written {
    Inserted(Vec<InsertedJob>),
    Claimed(Vec<ClaimedJob>),
    Ids(Vec<JobId>),
    Rescued(Vec<RescuedJob>),
    Occurrences(Vec<Occurrence>),
    Done,
}

type Request = (Write, oneshot::Sender<Result<Written>>);

/// A handle to the writer task; the task ends when the last handle is dropped.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    tx: mpsc::UnboundedSender<Request>,
}

impl Writer {
    pub(super) async fn spawn(options: &SqliteConnectOptions) -> Result<Self> {
        let conn = SqliteConnection::connect_with(options)
            .await
            .map_err(StoreError::Unavailable)?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(conn, rx));
        Ok(Self { tx })
    }

    pub(super) async fn call(&self, write: Write) -> Result<Written> {
        let (reply, answer) = oneshot::channel();
        self.tx.send((write, reply)).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

fn gone() -> StoreError {
    StoreError::Unavailable(sqlx::Error::WorkerCrashed)
}

async fn run(mut conn: SqliteConnection, mut rx: mpsc::UnboundedReceiver<Request>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while rx.recv_many(&mut group, MAX_GROUP).await > 0 {
        // Writes that are about to be sent (a claim and the completions of the jobs that
        // just finished, say) get a moment to join this group and share its commit.
        tokio::task::yield_now().await;
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(r) => group.push(r),
                Err(_) => break,
            }
        }
        commit_group(&mut conn, &mut group).await;
    }
    let _ = conn.close().await;
}

async fn commit_group(conn: &mut SqliteConnection, group: &mut Vec<Request>) {
    if let Err(e) = exec(conn, "BEGIN IMMEDIATE").await {
        let msg = e.to_string();
        for (_, reply) in group.drain(..) {
            let _ = reply.send(Err(failed("begin", &msg)));
        }
        return;
    }
    let mut answers = Vec::with_capacity(group.len());
    if group.len() == 1 {
        // Alone in its group, a write needs no savepoint: a failure rolls back the group.
        let (write, reply) = group.pop().expect("one write");
        let result = perform(conn, write).await;
        if result.is_err() {
            let _ = exec(conn, "ROLLBACK").await;
            let _ = reply.send(result);
            return;
        }
        answers.push((reply, result));
    }
    for (write, reply) in group.drain(..) {
        let result = match exec(conn, "SAVEPOINT w").await {
            Ok(()) => {
                let result = perform(conn, write).await;
                let undo = if result.is_err() {
                    exec(conn, "ROLLBACK TO w").await
                } else {
                    Ok(())
                };
                match undo.and(exec(conn, "RELEASE w").await) {
                    Ok(()) => result,
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        answers.push((reply, result));
    }
    match exec(conn, "COMMIT").await {
        Ok(()) => {
            for (reply, result) in answers {
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            let _ = exec(conn, "ROLLBACK").await;
            let msg = e.to_string();
            for (reply, _) in answers {
                let _ = reply.send(Err(failed("commit", &msg)));
            }
        }
    }
}

fn failed(step: &str, msg: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Protocol(format!("group {step} failed: {msg}")))
}

async fn exec(conn: &mut SqliteConnection, sql: &'static str) -> Result<()> {
    sqlx::query(sql)
        .execute(&mut *conn)
        .await
        .map(drop)
        .map_err(StoreError::from)
}

async fn perform(conn: &mut SqliteConnection, write: Write) -> Result<Written> {
    Ok(match write {
        Write::InsertJobs(jobs) => Written::Inserted(writes::insert_jobs(conn, &jobs).await?),
        Write::Claim(p) => Written::Claimed(writes::claim(conn, p).await?),
        Write::Heartbeat(p) => Written::Ids(writes::heartbeat(conn, p).await?),
        Write::Complete(c) => Written::Ids(writes::complete(conn, c).await?),
        Write::Cancel(ids, now) => Written::Ids(writes::cancel(conn, &ids, now).await?),
        Write::Rescue(p) => Written::Rescued(writes::rescue(conn, p).await?),
        Write::ScheduleInsert(s) => {
            writes::schedule_insert(conn, *s).await?;
            Written::Done
        }
        Write::SchedulePaused(id, paused, now) => {
            writes::schedule_set_paused(conn, id, paused, now).await?;
            Written::Done
        }
        Write::ScheduleDelete(id) => {
            writes::schedule_delete(conn, id).await?;
            Written::Done
        }
        Write::RecordOccurrences(batch) => {
            Written::Occurrences(writes::record_occurrences(conn, batch).await?)
        }
    })
}
