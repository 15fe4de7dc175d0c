//! Every SQLite write, as a function on the writer's connection. The writer runs each one
//! inside a savepoint of its group transaction, so a failed write leaves nothing behind.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use serde_json::{Value, json};
use sqlx::SqliteConnection;
use warden_core::{JobId, ScheduleId};

use crate::{
    StoreError,
    convert::{hex, micros, state},
    ledger::{self, LedgerTx},
    model::*,
    rows::{Cols, claimed_from_row},
};

type Result<T> = std::result::Result<T, StoreError>;

pub(super) fn ids_json(ids: impl IntoIterator<Item = JobId>) -> String {
    Value::Array(
        ids.into_iter()
            .map(|id| Value::String(id.to_string()))
            .collect(),
    )
    .to_string()
}

pub(super) fn job_ids(rows: &[sqlx::sqlite::SqliteRow]) -> Result<Vec<JobId>> {
    rows.iter()
        .map(|r| r.uuid("id").map(JobId::from_uuid))
        .collect()
}

pub(super) async fn insert_jobs(
    conn: &mut SqliteConnection,
    jobs: &[NewJob],
) -> Result<Vec<InsertedJob>> {
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
    let rows = sqlx::query(include_str!("job_insert_many.sql"))
        .bind(Value::Array(batch).to_string())
        .fetch_all(&mut *conn)
        .await?;
    let inserted: HashSet<JobId> = job_ids(&rows)?.into_iter().collect();
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
    let existing: HashMap<(String, String), JobId> =
        sqlx::query(include_str!("job_find_idempotent.sql"))
            .bind(Value::Array(keys).to_string())
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| {
                Ok((
                    (r.text("queue")?, r.text("idempotency_key")?),
                    JobId::from_uuid(r.uuid("id")?),
                ))
            })
            .collect::<Result<_>>()?;
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

pub(super) async fn claim(conn: &mut SqliteConnection, p: ClaimParams) -> Result<Vec<ClaimedJob>> {
    let rows = sqlx::query(include_str!("job_claim_many.sql"))
        .bind(p.queue.as_str())
        .bind(i64::from(p.limit))
        .bind(micros(p.now))
        .bind(&p.worker)
        .bind(p.lease_token.to_string())
        .bind(micros(p.lease_until))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| claimed_from_row(r, p.lease_token))
        .collect()
}

pub(super) async fn heartbeat(
    conn: &mut SqliteConnection,
    p: HeartbeatParams,
) -> Result<Vec<JobId>> {
    if p.jobs.is_empty() {
        return Ok(Vec::new());
    }
    let held: Vec<Value> = p
        .jobs
        .iter()
        .map(|(id, token)| json!({"id": id.to_string(), "token": token.to_string()}))
        .collect();
    let rows = sqlx::query(include_str!("job_heartbeat_many.sql"))
        .bind(Value::Array(held).to_string())
        .bind(micros(p.lease_until))
        .fetch_all(&mut *conn)
        .await?;
    job_ids(&rows)
}

pub(super) async fn complete(
    conn: &mut SqliteConnection,
    completions: Vec<Completion>,
) -> Result<Vec<JobId>> {
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
    let rows = sqlx::query(include_str!("job_complete_many.sql"))
        .bind(&batch)
        .fetch_all(&mut *conn)
        .await?;
    let done = job_ids(&rows)?;
    sqlx::query(include_str!("run_insert_many.sql"))
        .bind(&batch)
        .bind(ids_json(done.iter().copied()))
        .execute(&mut *conn)
        .await?;
    Ok(done)
}

pub(super) async fn cancel(
    conn: &mut SqliteConnection,
    ids: &[JobId],
    now: Timestamp,
) -> Result<Vec<JobId>> {
    let rows = sqlx::query(include_str!("job_cancel_many.sql"))
        .bind(ids_json(ids.iter().copied()))
        .bind(micros(now))
        .fetch_all(&mut *conn)
        .await?;
    job_ids(&rows)
}

pub(super) async fn rescue(
    conn: &mut SqliteConnection,
    p: RescueParams,
) -> Result<Vec<RescuedJob>> {
    let lost = sqlx::query(include_str!("job_lost_many.sql"))
        .bind(micros(p.now))
        .bind(i64::from(p.limit))
        .fetch_all(&mut *conn)
        .await?;
    if lost.is_empty() {
        return Ok(Vec::new());
    }
    let lost: Vec<Value> = lost
        .iter()
        .map(|r| {
            Ok(json!({
                "id": r.text("id")?,
                "worker": r.opt_text("lease_owner")?.unwrap_or_default(),
                "started_at": r.opt_int("attempted_at")?.unwrap_or(micros(p.now)),
                "attempt": r.int("attempt")?,
            }))
        })
        .collect::<Result<_>>()?;
    let ids: Vec<Value> = lost.iter().map(|l| l["id"].clone()).collect();
    let rows = sqlx::query(include_str!("job_rescue_many.sql"))
        .bind(Value::Array(ids).to_string())
        .bind(micros(p.now))
        .fetch_all(&mut *conn)
        .await?;
    let error: Option<String> = rows.first().map(|r| r.text("last_error")).transpose()?;
    sqlx::query(include_str!("run_insert_lost_many.sql"))
        .bind(Value::Array(lost).to_string())
        .bind(micros(p.now))
        .bind(error)
        .execute(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(RescuedJob {
                id: JobId::from_uuid(r.uuid("id")?),
                state: state(&r.text("state")?)?,
            })
        })
        .collect()
}

pub(super) async fn schedule_insert(conn: &mut SqliteConnection, s: Schedule) -> Result<()> {
    sqlx::query(include_str!("schedule_insert.sql"))
        .bind(s.id.to_string())
        .bind(&s.name)
        .bind(&s.owner)
        .bind(s.cron.expr())
        .bind(s.cron.tz_name())
        .bind(s.cron.dst().gap.as_str())
        .bind(s.cron.dst().fold.as_str())
        .bind(s.template.kind.as_str())
        .bind(s.template.queue.as_str())
        .bind(s.template.priority.rank())
        .bind(s.template.payload.as_bytes())
        .bind(s.template.max_attempts.get())
        .bind(s.template.timeout.as_millis())
        .bind(s.paused)
        .bind(s.overlap.as_str())
        .bind(s.missed.as_str())
        .bind(s.catch_up.as_duration().as_millis() as i64)
        .bind(s.next_fire_at.map(micros))
        .bind(micros(s.created_at))
        .bind(micros(s.updated_at))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(super) async fn schedule_set_paused(
    conn: &mut SqliteConnection,
    id: ScheduleId,
    paused: bool,
    now: Timestamp,
) -> Result<()> {
    let done = sqlx::query(include_str!("schedule_set_paused.sql"))
        .bind(id.to_string())
        .bind(paused)
        .bind(micros(now))
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

pub(super) async fn schedule_delete(conn: &mut SqliteConnection, id: ScheduleId) -> Result<()> {
    let done = sqlx::query(include_str!("schedule_delete.sql"))
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

pub(super) async fn record_occurrences(
    conn: &mut SqliteConnection,
    batch: OccurrenceBatch,
) -> Result<Vec<Occurrence>> {
    ledger::record(&mut SqliteLedger(conn), batch).await
}

/// The occurrence ledger's statements on the writer's connection.
struct SqliteLedger<'c>(&'c mut SqliteConnection);

impl LedgerTx for SqliteLedger<'_> {
    async fn advance(&mut self, batch: &OccurrenceBatch) -> Result<bool> {
        let moved = sqlx::query(include_str!("schedule_advance.sql"))
            .bind(batch.schedule_id.to_string())
            .bind(micros(batch.expected_next_fire_at))
            .bind(batch.new_next_fire_at.map(micros))
            .bind(micros(batch.now))
            .execute(&mut *self.0)
            .await?;
        Ok(moved.rows_affected() == 1)
    }

    async fn active_jobs(&mut self, batch: &OccurrenceBatch) -> Result<Vec<JobId>> {
        let rows = sqlx::query(include_str!("schedule_active_jobs.sql"))
            .bind(batch.schedule_id.to_string())
            .fetch_all(&mut *self.0)
            .await?;
        job_ids(&rows)
    }

    async fn cancel(&mut self, ids: &[JobId], now: Timestamp) -> Result<()> {
        cancel(self.0, ids, now).await.map(drop)
    }

    async fn insert_occurrence(&mut self, o: &Occurrence) -> Result<bool> {
        let inserted = sqlx::query(include_str!("occurrence_insert.sql"))
            .bind(o.schedule_id.to_string())
            .bind(micros(o.scheduled_at))
            .bind(o.outcome.as_str())
            .bind(o.job_id.map(|j| j.to_string()))
            .bind(micros(o.recorded_at))
            .execute(&mut *self.0)
            .await?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn insert_job(&mut self, job: &NewJob) -> Result<()> {
        insert_jobs(self.0, std::slice::from_ref(job))
            .await
            .map(drop)
    }
}
