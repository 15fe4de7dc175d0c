//! Every SQLite write, as a function on the writer's connection (rusqlite, synchronous:
//! the writer runs on its own thread). The writer runs each one inside a savepoint of its
//! group transaction, so a failed write leaves nothing behind.

use std::{
    collections::{HashMap, HashSet},
    future::Future,
    pin::pin,
    task::{Context, Poll, Waker},
};

use jiff::Timestamp;
use rusqlite::{Connection, Params, Row, params};
use serde_json::{Value, json};
use warden_core::{JobId, ScheduleId};

use crate::{
    StoreError,
    convert::{hex, micros, state},
    ledger::{self, LedgerTx},
    model::*,
    rows::{Cols, claimed_from_row},
};

type Result<T> = std::result::Result<T, StoreError>;

fn ids_json(ids: impl IntoIterator<Item = JobId>) -> String {
    Value::Array(
        ids.into_iter()
            .map(|id| Value::String(id.to_string()))
            .collect(),
    )
    .to_string()
}

/// Runs a cached statement and decodes every row it returns.
fn query<T>(
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

fn execute(conn: &Connection, sql: &str, params: impl Params) -> Result<usize> {
    Ok(conn.prepare_cached(sql)?.execute(params)?)
}

fn job_id(row: &Row<'_>) -> Result<JobId> {
    row.uuid("id").map(JobId::from_uuid)
}

pub(super) fn insert_jobs(conn: &Connection, jobs: &[NewJob]) -> Result<Vec<InsertedJob>> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let batch: Vec<Value> = jobs
        .iter()
        .map(|j| {
            json!({
                "id": j.id.to_string(),
                "kind": j.kind.as_str(),
                "queue": j.queue.as_str(),
                "priority": j.priority.rank(),
                "state": j.initial_state().as_str(),
                "payload": hex(j.payload.as_bytes()),
                "max_attempts": j.max_attempts.get(),
                "timeout_ms": j.timeout.as_millis(),
                "run_at": micros(j.run_at),
                "created_at": micros(j.created_at),
                "owner": j.owner,
                "schedule_id": j.schedule_id.map(|s| s.to_string()),
                "idempotency_key": j.idempotency_key,
            })
        })
        .collect();
    let inserted: HashSet<JobId> = query(
        conn,
        include_str!("job_insert_many.sql"),
        [Value::Array(batch).to_string()],
        job_id,
    )?
    .into_iter()
    .collect();
    if inserted.len() == jobs.len() {
        return Ok(jobs
            .iter()
            .map(|j| InsertedJob {
                id: j.id,
                existing: false,
            })
            .collect());
    }
    // Some keys already existed: look up the jobs that hold them.
    let keys: Vec<Value> = jobs
        .iter()
        .filter(|j| !inserted.contains(&j.id))
        .filter_map(|j| {
            j.idempotency_key
                .as_ref()
                .map(|k| json!({"queue": j.queue.as_str(), "key": k}))
        })
        .collect();
    let existing: HashMap<(String, String), JobId> = query(
        conn,
        include_str!("job_find_idempotent.sql"),
        [Value::Array(keys).to_string()],
        |r| Ok(((r.text("queue")?, r.text("idempotency_key")?), job_id(r)?)),
    )?
    .into_iter()
    .collect();
    jobs.iter()
        .map(|j| {
            if inserted.contains(&j.id) {
                return Ok(InsertedJob {
                    id: j.id,
                    existing: false,
                });
            }
            let key = (
                j.queue.as_str().to_owned(),
                j.idempotency_key.clone().unwrap_or_default(),
            );
            existing
                .get(&key)
                .map(|id| InsertedJob {
                    id: *id,
                    existing: true,
                })
                .ok_or_else(|| {
                    StoreError::Conflict(format!("job {} was neither inserted nor found", j.id))
                })
        })
        .collect()
}

pub(super) fn claim(conn: &Connection, p: ClaimParams) -> Result<Vec<ClaimedJob>> {
    let params = params![
        p.queue.as_str(),
        i64::from(p.limit),
        micros(p.now),
        p.worker,
        p.lease_token.to_string(),
        micros(p.lease_until)
    ];
    query(conn, include_str!("job_claim_many.sql"), params, |r| {
        claimed_from_row(r, p.lease_token)
    })
}

pub(super) fn heartbeat(conn: &Connection, p: HeartbeatParams) -> Result<Vec<JobId>> {
    if p.jobs.is_empty() {
        return Ok(Vec::new());
    }
    let held: Vec<Value> = p
        .jobs
        .iter()
        .map(|(id, token)| json!({"id": id.to_string(), "token": token.to_string()}))
        .collect();
    let params = params![Value::Array(held).to_string(), micros(p.lease_until)];
    query(conn, include_str!("job_heartbeat_many.sql"), params, job_id)
}

pub(super) fn complete(conn: &Connection, completions: Vec<Completion>) -> Result<Vec<JobId>> {
    if completions.is_empty() {
        return Ok(Vec::new());
    }
    let batch: Vec<Value> = completions
        .iter()
        .map(|c| {
            json!({
                "id": c.id.to_string(),
                "token": c.lease_token.to_string(),
                "state": c.result.state().as_str(),
                "outcome": c.result.run_outcome(),
                "run_at": match &c.result {
                    CompletionResult::Retry { run_at, .. } => Some(micros(*run_at)),
                    _ => None,
                },
                "error": c.result.error(),
                "attempt": c.attempt,
                "worker": c.worker,
                "started_at": micros(c.started_at),
                "finished_at": micros(c.finished_at),
            })
        })
        .collect();
    let batch = Value::Array(batch).to_string();
    let done = query(
        conn,
        include_str!("job_complete_many.sql"),
        [&batch],
        job_id,
    )?;
    execute(
        conn,
        include_str!("run_insert_many.sql"),
        params![batch, ids_json(done.iter().copied())],
    )?;
    Ok(done)
}

pub(super) fn cancel(conn: &Connection, ids: &[JobId], now: Timestamp) -> Result<Vec<JobId>> {
    let params = params![ids_json(ids.iter().copied()), micros(now)];
    query(conn, include_str!("job_cancel_many.sql"), params, job_id)
}

pub(super) fn rescue(conn: &Connection, p: RescueParams) -> Result<Vec<RescuedJob>> {
    let lost = query(
        conn,
        include_str!("job_lost_many.sql"),
        params![micros(p.now), i64::from(p.limit)],
        |r| {
            Ok(json!({
                "id": r.text("id")?,
                "worker": r.opt_text("lease_owner")?.unwrap_or_default(),
                "started_at": r.opt_int("attempted_at")?.unwrap_or(micros(p.now)),
                "attempt": r.int("attempt")?,
            }))
        },
    )?;
    if lost.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Value> = lost.iter().map(|l| l["id"].clone()).collect();
    let mut error = None;
    let rescued = query(
        conn,
        include_str!("job_rescue_many.sql"),
        params![Value::Array(ids).to_string(), micros(p.now)],
        |r| {
            error = r.opt_text("last_error")?;
            Ok(RescuedJob {
                id: job_id(r)?,
                state: state(&r.text("state")?)?,
            })
        },
    )?;
    execute(
        conn,
        include_str!("run_insert_lost_many.sql"),
        params![Value::Array(lost).to_string(), micros(p.now), error],
    )?;
    Ok(rescued)
}

pub(super) fn schedule_insert(conn: &Connection, s: Schedule) -> Result<()> {
    let params = params![
        s.id.to_string(),
        s.name,
        s.owner,
        s.cron.expr(),
        s.cron.tz_name(),
        s.cron.dst().gap.as_str(),
        s.cron.dst().fold.as_str(),
        s.template.kind.as_str(),
        s.template.queue.as_str(),
        s.template.priority.rank(),
        s.template.payload.as_bytes(),
        s.template.max_attempts.get(),
        s.template.timeout.as_millis(),
        s.paused,
        s.overlap.as_str(),
        s.missed.as_str(),
        s.catch_up.as_duration().as_millis() as i64,
        s.next_fire_at.map(micros),
        micros(s.created_at),
        micros(s.updated_at),
    ];
    execute(conn, include_str!("schedule_insert.sql"), params).map(drop)
}

pub(super) fn schedule_set_paused(
    conn: &Connection,
    id: ScheduleId,
    paused: bool,
    now: Timestamp,
) -> Result<()> {
    let changed = execute(
        conn,
        include_str!("schedule_set_paused.sql"),
        params![id.to_string(), paused, micros(now)],
    )?;
    if changed == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

pub(super) fn schedule_delete(conn: &Connection, id: ScheduleId) -> Result<()> {
    let changed = execute(conn, include_str!("schedule_delete.sql"), [id.to_string()])?;
    if changed == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

pub(super) fn record_occurrences(
    conn: &Connection,
    batch: OccurrenceBatch,
) -> Result<Vec<Occurrence>> {
    run_now(ledger::record(&mut SqliteLedger(conn), batch))
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
    async fn advance(&mut self, batch: &OccurrenceBatch) -> Result<bool> {
        let params = params![
            batch.schedule_id.to_string(),
            micros(batch.expected_next_fire_at),
            batch.new_next_fire_at.map(micros),
            micros(batch.now)
        ];
        Ok(execute(self.0, include_str!("schedule_advance.sql"), params)? == 1)
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
        cancel(self.0, ids, now).map(drop)
    }

    async fn insert_occurrence(&mut self, o: &Occurrence) -> Result<bool> {
        let params = params![
            o.schedule_id.to_string(),
            micros(o.scheduled_at),
            o.outcome.as_str(),
            o.job_id.map(|j| j.to_string()),
            micros(o.recorded_at)
        ];
        Ok(execute(self.0, include_str!("occurrence_insert.sql"), params)? == 1)
    }

    async fn insert_job(&mut self, job: &NewJob) -> Result<()> {
        insert_jobs(self.0, std::slice::from_ref(job)).map(drop)
    }
}
