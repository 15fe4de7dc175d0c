//! The SQLite writes of jobs, schedules and the ledger, each a function on the writer's
//! connection (rusqlite, synchronous: the writer runs on its own thread) that the store
//! sends with `Writer::call`. The writer runs each one inside a savepoint of its group
//! transaction, so a failed write leaves nothing behind.
//!
//! A batch is a loop over one cached prepared statement: on the writer's thread a
//! statement costs a few microseconds, less than packing the batch into JSON for SQLite
//! to unpack again.

use std::{
    collections::HashSet,
    future::Future,
    pin::pin,
    task::{Context, Poll, Waker},
};

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Params, Row, params};
use warden_core::{JobId, RunOutcome, ScheduleId, Scope};

use crate::{
    StoreError,
    convert::{micros, state},
    ledger::{self, CursorMove, LedgerTx, OccurrenceKey},
    model::*,
    rows::{Cols, claimed_from_row},
};

type Result<T> = std::result::Result<T, StoreError>;

/// Runs a cached statement and decodes every row it returns.
pub(super) fn query<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    mut f: impl FnMut(&Row<'_>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(f(row)?);
    }
    Ok(out)
}

pub(super) fn execute(conn: &Connection, sql: &str, params: impl Params) -> Result<usize> {
    Ok(conn.prepare_cached(sql)?.execute(params)?)
}

fn job_id(row: &Row<'_>) -> Result<JobId> {
    row.uuid("id").map(JobId::from_uuid)
}

pub(super) fn insert_jobs(conn: &Connection, jobs: &[NewJob]) -> Result<Vec<InsertedJob>> {
    let mut insert = conn.prepare_cached(include_str!("job_insert_many.sql"))?;
    let mut find = conn.prepare_cached(include_str!("job_find_idempotent.sql"))?;
    jobs.iter()
        .map(|j| {
            let inserted = insert.execute(params![
                j.id.to_string(),
                j.kind.as_str(),
                j.queue.as_str(),
                j.priority.rank(),
                j.initial_state().as_str(),
                j.payload.as_bytes(),
                j.max_attempts.get(),
                j.timeout.as_millis(),
                micros(j.run_at),
                micros(j.created_at),
                j.owner.as_str(),
                j.schedule_id.map(|s| s.to_string()),
                j.idempotency_key,
                j.scheduled_at.map(micros),
            ])?;
            if inserted == 1 {
                return Ok(InsertedJob {
                    id: j.id,
                    existing: false,
                });
            }
            // The key is taken: return the job that holds it.
            let existing = find
                .query_row(
                    params![j.queue.as_str(), j.idempotency_key, j.owner.as_str()],
                    |r| r.get::<_, String>(0),
                )
                .optional()?
                .ok_or_else(|| {
                    StoreError::Conflict(format!("job {} was neither inserted nor found", j.id))
                })?;
            let id = existing.parse::<JobId>()?;
            Ok(InsertedJob { id, existing: true })
        })
        .collect()
}

/// Inserts `jobs`, refused (nothing written) when `quota`'s owner would be over it.
pub(super) fn insert_jobs_checked(
    conn: &Connection,
    jobs: &[NewJob],
    quota: Option<&ActiveQuota>,
) -> Result<Vec<InsertedJob>> {
    let inserted = insert_jobs(conn, jobs)?;
    enforce_quota(conn, quota, inserted.iter().filter(|j| !j.existing).count())?;
    Ok(inserted)
}

/// After a write that made `created` objects active: refuses (so the caller's savepoint
/// rolls the write back) if the quota's owner is now over it. Counting after the write
/// lets a replay that created nothing (an idempotency key) pass at the limit. One writer:
/// no other write interleaves.
pub(super) fn enforce_quota(
    conn: &Connection,
    quota: Option<&ActiveQuota>,
    created: usize,
) -> Result<()> {
    let Some(q) = quota.filter(|_| created > 0) else {
        return Ok(());
    };
    let active: i64 = conn
        .prepare_cached(include_str!("principal_active_count.sql"))?
        .query_row([q.owner.as_str()], |r| r.get(0))?;
    if active > i64::from(q.max) {
        return Err(StoreError::QuotaExceeded {
            active: active - created as i64,
            max: q.max,
        });
    }
    Ok(())
}

pub(super) fn claim(conn: &Connection, p: &ClaimParams) -> Result<Vec<ClaimedJob>> {
    let params = params![
        p.queue.as_str(),
        i64::from(p.limit),
        micros(p.now),
        p.worker,
        p.lease_token.to_string(),
        micros(p.lease_until),
        micros(p.due_by)
    ];
    let sql = if p.owner_limits {
        include_str!("job_claim_limited.sql")
    } else {
        include_str!("job_claim_many.sql")
    };
    query(conn, sql, params, |r| claimed_from_row(r, p.lease_token))
}

pub(super) fn heartbeat(conn: &Connection, p: &HeartbeatParams) -> Result<Vec<JobId>> {
    let mut extend = conn.prepare_cached(include_str!("job_heartbeat_many.sql"))?;
    let mut held = Vec::with_capacity(p.jobs.len());
    for (id, token) in &p.jobs {
        if extend.execute(params![
            id.to_string(),
            token.to_string(),
            micros(p.lease_until)
        ])? == 1
        {
            held.push(*id);
        }
    }
    Ok(held)
}

pub(super) fn complete(conn: &Connection, completions: &[Completion]) -> Result<Vec<JobId>> {
    let mut finish = conn.prepare_cached(include_str!("job_complete_many.sql"))?;
    let mut record = conn.prepare_cached(include_str!("run_insert.sql"))?;
    let mut counted = Vec::with_capacity(completions.len());
    // Real outcomes first: a release racing a worker's outcome for the same attempt is
    // then fenced out (the token is cleared), as on PostgreSQL.
    let released = |c: &&Completion| matches!(c.result, CompletionResult::Released { .. });
    let (releases, outcomes): (Vec<&Completion>, Vec<&Completion>) =
        completions.iter().partition(released);
    for c in outcomes.into_iter().chain(releases) {
        let state = c.result.state();
        let run_at = match &c.result {
            CompletionResult::Retry { run_at, .. } => Some(micros(*run_at)),
            _ => None,
        };
        let finished_at = state.is_terminal().then(|| micros(c.finished_at));
        let error = c.result.error();
        let changed = finish.execute(params![
            c.id.to_string(),
            c.lease_token.to_string(),
            state.as_str(),
            run_at,
            finished_at,
            error,
            i64::from(matches!(c.result, CompletionResult::Released { .. }))
        ])?;
        if changed == 1 {
            record.execute(params![
                c.id.to_string(),
                c.attempt,
                c.worker,
                micros(c.started_at),
                micros(c.finished_at),
                c.result.run_outcome().as_str(),
                error,
                c.output
            ])?;
            counted.push(c.id);
        }
    }
    Ok(counted)
}

/// Runs a scoped per-job `UPDATE` (cancel, retry) over `ids`; returns those it changed.
fn update_jobs(
    conn: &Connection,
    sql: &str,
    ids: &[JobId],
    scope: &Scope,
    now: Timestamp,
) -> Result<Vec<JobId>> {
    let mut update = conn.prepare_cached(sql)?;
    let mut changed = Vec::with_capacity(ids.len());
    for id in ids {
        if update.execute(params![id.to_string(), micros(now), scope.owner()])? == 1 {
            changed.push(*id);
        }
    }
    Ok(changed)
}

pub(super) fn cancel(
    conn: &Connection,
    ids: &[JobId],
    scope: &Scope,
    now: Timestamp,
) -> Result<Vec<JobId>> {
    update_jobs(conn, include_str!("job_cancel_many.sql"), ids, scope, now)
}

/// Retries `ids`, refused (nothing written) when `quota`'s owner would be over it.
pub(super) fn retry(
    conn: &Connection,
    ids: &[JobId],
    scope: &Scope,
    now: Timestamp,
    quota: Option<&ActiveQuota>,
) -> Result<Vec<JobId>> {
    let retried = update_jobs(conn, include_str!("job_retry_many.sql"), ids, scope, now)?;
    enforce_quota(conn, quota, retried.len())?;
    Ok(retried)
}

pub(super) fn rescue(conn: &Connection, p: &RescueParams) -> Result<Vec<RescuedJob>> {
    let lost = query(
        conn,
        include_str!("job_rescue_many_lost.sql"),
        params![micros(p.now), i64::from(p.limit)],
        |r| {
            Ok((
                job_id(r)?,
                r.opt_text("lease_owner")?.unwrap_or_default(),
                r.opt_int("attempted_at")?,
                r.int("attempt")?,
            ))
        },
    )?;
    let mut rescue = conn.prepare_cached(include_str!("job_rescue_many.sql"))?;
    let mut record = conn.prepare_cached(include_str!("run_insert.sql"))?;
    let mut rescued = Vec::with_capacity(lost.len());
    for (id, worker, started_at, attempt) in lost {
        let (new_state, error): (String, Option<String>) = rescue
            .query_row(params![id.to_string(), micros(p.now)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        let started_at = started_at.unwrap_or(micros(p.now));
        record.execute(params![
            id.to_string(),
            attempt,
            worker,
            started_at,
            micros(p.now),
            RunOutcome::Lost.as_str(),
            error,
            None::<Vec<u8>>
        ])?;
        rescued.push(RescuedJob {
            id,
            state: state(&new_state)?,
        });
    }
    Ok(rescued)
}

pub(super) fn queue_set_paused(
    conn: &Connection,
    queue: &warden_core::QueueName,
    paused: bool,
    now: Timestamp,
) -> Result<()> {
    let params = params![queue.as_str(), paused, micros(now)];
    execute(conn, include_str!("queue_set_paused.sql"), params).map(drop)
}

/// Inserts `s`, refused (nothing written) when `quota`'s owner would be over it.
pub(super) fn schedule_insert(
    conn: &Connection,
    s: &Schedule,
    quota: Option<&ActiveQuota>,
) -> Result<()> {
    let params = rusqlite::params_from_iter(schedule_params(s, None));
    execute(conn, include_str!("schedule_insert.sql"), params)?;
    enforce_quota(conn, quota, 1)
}

pub(super) fn schedule_update(conn: &Connection, s: &Schedule, scope: &Scope) -> Result<()> {
    let params = rusqlite::params_from_iter(schedule_params(s, Some(scope.owner())));
    found(execute(conn, include_str!("schedule_update.sql"), params)?)
}

/// A schedule's 20 columns in the order of `schedule_insert.sql`, plus the scope's owner
/// as the 21st for `schedule_update.sql`.
fn schedule_params(s: &Schedule, scope: Option<Option<&str>>) -> Vec<rusqlite::types::Value> {
    use rusqlite::types::Value;
    let text = |v: &str| Value::Text(v.to_owned());
    let mut v = vec![
        text(&s.id.to_string()),
        text(&s.name),
        text(s.owner.as_str()),
        text(s.cron.expr()),
        text(s.cron.tz_name()),
        text(s.cron.dst().gap.as_str()),
        text(s.cron.dst().fold.as_str()),
        text(s.template.kind.as_str()),
        text(s.template.queue.as_str()),
        Value::Integer(s.template.priority.rank().into()),
        Value::Blob(s.template.payload.as_bytes().to_vec()),
        Value::Integer(s.template.max_attempts.get().into()),
        Value::Integer(s.template.timeout.as_millis()),
        Value::Integer(s.paused.into()),
        text(s.overlap.as_str()),
        text(s.missed.as_str()),
        Value::Integer(s.catch_up.as_duration().as_millis() as i64),
        s.next_fire_at
            .map_or(Value::Null, |t| Value::Integer(micros(t))),
        Value::Integer(micros(s.created_at)),
        Value::Integer(micros(s.updated_at)),
    ];
    if let Some(owner) = scope {
        v.push(owner.map_or(Value::Null, text));
    }
    v
}

/// `NotFound` when a scoped change touched no row.
pub(super) fn found(changed: usize) -> Result<()> {
    if changed == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

pub(super) fn schedule_set_paused(
    conn: &Connection,
    id: ScheduleId,
    scope: &Scope,
    paused: bool,
    now: Timestamp,
) -> Result<()> {
    let params = params![id.to_string(), paused, micros(now), scope.owner()];
    found(execute(
        conn,
        include_str!("schedule_set_paused.sql"),
        params,
    )?)
}

pub(super) fn schedule_delete(conn: &Connection, id: ScheduleId, scope: &Scope) -> Result<()> {
    let params = params![id.to_string(), scope.owner()];
    found(execute(conn, include_str!("schedule_delete.sql"), params)?)
}

pub(super) fn record_occurrences(
    conn: &Connection,
    batch: OccurrenceBatch,
) -> Result<Vec<Occurrence>> {
    run_now(ledger::record(&mut SqliteLedger(conn), batch))
}

pub(super) fn record_plain_occurrences(
    conn: &Connection,
    batches: &[OccurrenceBatch],
) -> Result<Vec<Option<Vec<Occurrence>>>> {
    run_now(ledger::record_plain(&mut SqliteLedger(conn), batches))
}

/// Drives a future whose every await is ready at once (the ledger over synchronous
/// statements) to completion on this thread.
fn run_now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(out) => out,
        Poll::Pending => unreachable!("the SQLite ledger statements never wait"),
    }
}

/// The occurrence ledger's statements on the writer's connection.
struct SqliteLedger<'c>(&'c Connection);

impl LedgerTx for SqliteLedger<'_> {
    async fn advance(&mut self, moves: &[CursorMove]) -> Result<HashSet<ScheduleId>> {
        let mut stmt = self
            .0
            .prepare_cached(include_str!("schedule_advance.sql"))?;
        let mut moved = HashSet::with_capacity(moves.len());
        for m in moves {
            let params = params![
                m.id.to_string(),
                micros(m.expected),
                m.new.map(micros),
                micros(m.now),
                m.clear_blocked
            ];
            if stmt.execute(params)? == 1 {
                moved.insert(m.id);
            }
        }
        Ok(moved)
    }

    async fn active_jobs(&mut self, batch: &OccurrenceBatch) -> Result<Vec<JobId>> {
        query(
            self.0,
            include_str!("schedule_active_jobs.sql"),
            [batch.schedule_id.to_string()],
            job_id,
        )
    }

    async fn cancel(&mut self, ids: &[JobId], now: Timestamp) -> Result<()> {
        cancel(self.0, ids, &Scope::All, now).map(drop)
    }

    async fn insert_occurrences(
        &mut self,
        occurrences: &[Occurrence],
    ) -> Result<HashSet<OccurrenceKey>> {
        let mut stmt = self
            .0
            .prepare_cached(include_str!("occurrence_insert.sql"))?;
        let mut inserted = HashSet::with_capacity(occurrences.len());
        for o in occurrences {
            let params = params![
                o.schedule_id.to_string(),
                micros(o.scheduled_at),
                o.outcome.as_str(),
                o.job_id.map(|j| j.to_string()),
                micros(o.recorded_at)
            ];
            if stmt.execute(params)? == 1 {
                inserted.insert((o.schedule_id, o.scheduled_at));
            }
        }
        Ok(inserted)
    }

    async fn insert_jobs(&mut self, jobs: &[NewJob]) -> Result<()> {
        insert_jobs(self.0, jobs).map(drop)
    }

    async fn active_count(&mut self, quota: &ActiveQuota) -> Result<i64> {
        // One writer: no other write interleaves, so no lock is needed.
        Ok(self
            .0
            .prepare_cached(include_str!("principal_active_count.sql"))?
            .query_row([quota.owner.as_str()], |r| r.get(0))?)
    }

    async fn set_blocked(&mut self, id: ScheduleId, reason: Option<&str>) -> Result<bool> {
        let params = params![id.to_string(), reason];
        Ok(execute(self.0, include_str!("schedule_set_blocked.sql"), params)? == 1)
    }

    async fn insert_audit(&mut self, record: &AuditRecord) -> Result<()> {
        super::access::audit_insert(self.0, std::slice::from_ref(record))
    }
}
