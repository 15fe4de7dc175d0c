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
//! # Failure
//! A write that fails is rolled back to its savepoint and answered with its error; the
//! others in the group are unaffected. If the commit itself fails, the whole group is
//! rolled back and every caller gets the error, so nobody is told "done" for a write that
//! is not durable. The thread ends when the last handle to it is dropped.

use std::{path::Path, time::Duration};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};
use warden_core::{JobId, ScheduleId, Scope};

use super::{
    access::{self, AccessWrite},
    ops::{self, OpsWrite},
    writes,
};
use crate::{StoreError, model::*};

type Result<T> = std::result::Result<T, StoreError>;

/// Most writes committed together.
const MAX_GROUP: usize = 256;

/// A write to perform.
pub(super) enum Write {
    InsertJobs(Vec<NewJob>, Option<ActiveQuota>),
    Claim(ClaimParams),
    Heartbeat(HeartbeatParams),
    Complete(Vec<Completion>),
    Cancel(Vec<JobId>, Scope, jiff::Timestamp),
    Retry(Vec<JobId>, Scope, jiff::Timestamp, Option<ActiveQuota>),
    Rescue(RescueParams),
    QueuePaused(warden_core::QueueName, bool, jiff::Timestamp),
    ScheduleInsert(Box<Schedule>, Option<ActiveQuota>),
    ScheduleUpdate(Box<Schedule>, Scope),
    SchedulePaused(ScheduleId, Scope, bool, jiff::Timestamp),
    ScheduleDelete(ScheduleId, Scope),
    RecordOccurrences(Box<OccurrenceBatch>),
    /// Principals, keys, audit records.
    Access(AccessWrite),
    /// Cron-run history, named locks, scheduler state.
    Ops(OpsWrite),
    /// A write and the audit records describing it, committed together.
    Audited(Box<Write>, Vec<AuditRecord>),
}

impl Write {
    /// Adds audit records to a write (none: the write as it is).
    pub(super) fn audited(self, audit: Vec<AuditRecord>) -> Self {
        if audit.is_empty() {
            self
        } else {
            Write::Audited(Box::new(self), audit)
        }
    }
}

/// What a write returns.
pub(super) enum Written {
    Inserted(Vec<InsertedJob>),
    Claimed(Vec<ClaimedJob>),
    Ids(Vec<JobId>),
    Rescued(Vec<RescuedJob>),
    Occurrences(Vec<Occurrence>),
    /// The id of an inserted row.
    Id(i64),
    /// Whether a conditional write took effect.
    Flag(bool),
    Done,
}

type Request = (Write, oneshot::Sender<Result<Written>>);

/// A handle to the writer thread.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    tx: mpsc::UnboundedSender<Request>,
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

    pub(super) async fn call(&self, write: Write) -> Result<Written> {
        let (reply, answer) = oneshot::channel();
        self.tx.send((write, reply)).map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

fn gone() -> StoreError {
    StoreError::unavailable("the SQLite writer thread has stopped")
}

fn run(conn: Connection, mut rx: mpsc::UnboundedReceiver<Request>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = rx.blocking_recv() {
        group.push(first);
        // Writes that are about to be sent (a claim and the completions of the jobs that
        // just finished, say) get a moment to join this group and share its commit.
        for round in 0..2 {
            while group.len() < MAX_GROUP {
                match rx.try_recv() {
                    Ok(r) => group.push(r),
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

fn commit_group(conn: &Connection, group: &mut Vec<Request>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let msg = e.to_string();
        for (_, reply) in group.drain(..) {
            let _ = reply.send(Err(failed("begin", &msg)));
        }
        return;
    }
    let alone = group.len() == 1;
    let mut answers = Vec::with_capacity(group.len());
    for (write, reply) in group.drain(..) {
        // Alone in its group, a write needs no savepoint: a failure rolls back the group.
        let result = if alone {
            perform(conn, write)
        } else {
            in_savepoint(conn, write)
        };
        answers.push((reply, result));
    }
    if alone && answers[0].1.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
        for (reply, result) in answers {
            let _ = reply.send(result);
        }
        return;
    }
    match conn.execute_batch("COMMIT") {
        Ok(()) => {
            for (reply, result) in answers {
                let _ = reply.send(result);
            }
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            let msg = e.to_string();
            for (reply, _) in answers {
                let _ = reply.send(Err(failed("commit", &msg)));
            }
        }
    }
}

fn in_savepoint(conn: &Connection, write: Write) -> Result<Written> {
    conn.execute_batch("SAVEPOINT w")?;
    let result = perform(conn, write);
    if result.is_err() {
        conn.execute_batch("ROLLBACK TO w")?;
    }
    conn.execute_batch("RELEASE w")?;
    result
}

fn failed(step: &str, msg: &str) -> StoreError {
    StoreError::Database(format!("group {step} failed: {msg}").into())
}

/// The jobs an insert created (not those found by their idempotency key).
fn created(jobs: &[InsertedJob]) -> Vec<JobId> {
    jobs.iter().filter(|j| !j.existing).map(|j| j.id).collect()
}

fn perform(conn: &Connection, write: Write) -> Result<Written> {
    Ok(match write {
        Write::InsertJobs(jobs, quota) => {
            let inserted = writes::insert_jobs(conn, &jobs)?;
            writes::enforce_quota(conn, quota.as_ref(), created(&inserted).len())?;
            Written::Inserted(inserted)
        }
        Write::Claim(p) => Written::Claimed(writes::claim(conn, p)?),
        Write::Heartbeat(p) => Written::Ids(writes::heartbeat(conn, p)?),
        Write::Complete(c) => Written::Ids(writes::complete(conn, c)?),
        Write::Cancel(ids, scope, now) => Written::Ids(writes::update_jobs(
            conn,
            include_str!("job_cancel.sql"),
            &ids,
            &scope,
            now,
        )?),
        Write::Retry(ids, scope, now, quota) => {
            let retried =
                writes::update_jobs(conn, include_str!("job_retry.sql"), &ids, &scope, now)?;
            writes::enforce_quota(conn, quota.as_ref(), retried.len())?;
            Written::Ids(retried)
        }
        Write::Rescue(p) => Written::Rescued(writes::rescue(conn, p)?),
        Write::QueuePaused(queue, paused, now) => {
            writes::queue_set_paused(conn, &queue, paused, now)?;
            Written::Done
        }
        Write::ScheduleInsert(s, quota) => {
            writes::schedule_insert(conn, *s)?;
            writes::enforce_quota(conn, quota.as_ref(), 1)?;
            Written::Done
        }
        Write::ScheduleUpdate(s, scope) => {
            writes::schedule_update(conn, *s, &scope)?;
            Written::Done
        }
        Write::SchedulePaused(id, scope, paused, now) => {
            writes::schedule_set_paused(conn, id, &scope, paused, now)?;
            Written::Done
        }
        Write::ScheduleDelete(id, scope) => {
            writes::schedule_delete(conn, id, &scope)?;
            Written::Done
        }
        Write::Access(w) => {
            access::perform(conn, w)?;
            Written::Done
        }
        Write::Ops(w) => ops::perform(conn, w)?,
        Write::Audited(write, records) => {
            let written = perform(conn, *write)?;
            // A job update audits only the jobs it changed.
            // A job write audits only the jobs it changed or created.
            let records = match &written {
                Written::Ids(changed) => crate::model::audit_of(records, changed),
                Written::Inserted(jobs) => crate::model::audit_of(records, &created(jobs)),
                _ => records,
            };
            access::audit_insert(conn, &records)?;
            written
        }
        Write::RecordOccurrences(batch) => {
            Written::Occurrences(writes::record_occurrences(conn, *batch)?)
        }
    })
}
