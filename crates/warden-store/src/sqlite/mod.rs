//! The SQLite backend: the embedded default, one file in the data directory.
//!
//! # Model
//! - WAL journal, `synchronous = FULL` (every commit is fsynced: durable across power
//!   loss, not only process crashes), `busy_timeout` 5 s, foreign keys on — set through
//!   the connect options so every pooled connection has them.
//! - One writer: all writes go through a pool of exactly one connection, so writers
//!   queue in-process instead of fighting over SQLite's lock; reads use a separate pool
//!   and do not block on writes (WAL).
//! - Batches travel as one JSON array parameter (`json_each`), so a batch of jobs,
//!   completions or heartbeats is one statement.
//! - One warden process per database file: several processes sharing work need
//!   PostgreSQL.

use std::{collections::HashMap, path::Path, time::Duration};

use jiff::Timestamp;
use serde_json::{Value, json};
use sqlx::{
    Sqlite, SqlitePool, Transaction,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use warden_core::{JobId, QueueName, ScheduleId};

use crate::{
    StoreError,
    convert::{hex, micros, opt_from_micros, state},
    ledger::{self, LedgerTx},
    migrations,
    model::*,
    rows::{
        Cols, claimed_from_row, job_from_row, occurrence_from_row, run_from_row, schedule_from_row,
    },
    store::{Result, Store},
};

/// A store in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    write: SqlitePool,
    read: SqlitePool,
}

fn ids_json(ids: impl IntoIterator<Item = JobId>) -> String {
    Value::Array(
        ids.into_iter()
            .map(|id| Value::String(id.to_string()))
            .collect(),
    )
    .to_string()
}

fn job_ids(rows: &[sqlx::sqlite::SqliteRow]) -> Result<Vec<JobId>> {
    rows.iter()
        .map(|r| r.uuid("id").map(JobId::from_uuid))
        .collect()
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &Path) -> Result<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(StoreError::Unavailable)?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await
            .map_err(StoreError::Unavailable)?;
        Ok(Self { write, read })
    }

    /// Opens the database `warden.db` in `data_dir`, creating the directory if needed.
    pub async fn open_in_dir(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::Unavailable(sqlx::Error::Io(e)))?;
        Self::open(&data_dir.join("warden.db")).await
    }

    async fn insert_jobs(
        tx: &mut Transaction<'static, Sqlite>,
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
            .fetch_all(&mut **tx)
            .await?;
        let inserted: std::collections::HashSet<JobId> = job_ids(&rows)?.into_iter().collect();
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
                .fetch_all(&mut **tx)
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
}

impl Store for SqliteStore {
    async fn migrate(&self) -> Result<()> {
        migrations::migrator(migrations::Backend::Sqlite)
            .run(&self.write)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))
    }

    async fn ready(&self) -> Result<()> {
        let applied: Vec<i64> = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(&self.read)
        .await
        .map_err(|e| {
            StoreError::Migration(format!("no migration record ({e}); run `warden migrate`"))
        })?;
        migrations::check_applied(&applied)
    }

    async fn job_insert_many(&self, jobs: Vec<NewJob>) -> Result<Vec<InsertedJob>> {
        let mut tx = self.write.begin().await?;
        let out = Self::insert_jobs(&mut tx, &jobs).await?;
        tx.commit().await?;
        Ok(out)
    }

    async fn job_get(&self, id: JobId) -> Result<Job> {
        let row = sqlx::query(include_str!("job_get.sql"))
            .bind(id.to_string())
            .fetch_one(&self.read)
            .await?;
        job_from_row(&row)
    }

    async fn job_list(&self, filter: JobFilter) -> Result<Vec<Job>> {
        let rows = sqlx::query(include_str!("job_list.sql"))
            .bind(filter.queue.as_ref().map(|q| q.as_str().to_owned()))
            .bind(filter.state.map(|s| s.as_str()))
            .bind(filter.schedule_id.map(|s| s.to_string()))
            .bind(
                Page {
                    limit: filter.limit,
                }
                .limit(),
            )
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(job_from_row).collect()
    }

    async fn job_claim_many(&self, p: ClaimParams) -> Result<Vec<ClaimedJob>> {
        let rows = sqlx::query(include_str!("job_claim_many.sql"))
            .bind(p.queue.as_str())
            .bind(i64::from(p.limit))
            .bind(micros(p.now))
            .bind(&p.worker)
            .bind(p.lease_token.to_string())
            .bind(micros(p.lease_until))
            .fetch_all(&self.write)
            .await?;
        rows.iter()
            .map(|r| claimed_from_row(r, p.lease_token))
            .collect()
    }

    async fn job_heartbeat_many(&self, p: HeartbeatParams) -> Result<Vec<JobId>> {
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
            .fetch_all(&self.write)
            .await?;
        job_ids(&rows)
    }

    async fn job_complete_many(&self, completions: Vec<Completion>) -> Result<Vec<JobId>> {
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
        let mut tx = self.write.begin().await?;
        let rows = sqlx::query(include_str!("job_complete_many.sql"))
            .bind(&batch)
            .fetch_all(&mut *tx)
            .await?;
        let done = job_ids(&rows)?;
        sqlx::query(include_str!("run_insert_many.sql"))
            .bind(&batch)
            .bind(ids_json(done.iter().copied()))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(done)
    }

    async fn job_cancel_many(&self, ids: Vec<JobId>, now: Timestamp) -> Result<Vec<JobId>> {
        let rows = sqlx::query(include_str!("job_cancel_many.sql"))
            .bind(ids_json(ids))
            .bind(micros(now))
            .fetch_all(&self.write)
            .await?;
        job_ids(&rows)
    }

    async fn job_rescue_many(&self, p: RescueParams) -> Result<Vec<RescuedJob>> {
        let mut tx = self.write.begin().await?;
        let lost = sqlx::query(include_str!("job_lost_many.sql"))
            .bind(micros(p.now))
            .bind(i64::from(p.limit))
            .fetch_all(&mut *tx)
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
            .fetch_all(&mut *tx)
            .await?;
        let error: Option<String> = rows.first().map(|r| r.text("last_error")).transpose()?;
        sqlx::query(include_str!("run_insert_lost_many.sql"))
            .bind(Value::Array(lost).to_string())
            .bind(micros(p.now))
            .bind(error)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                Ok(RescuedJob {
                    id: JobId::from_uuid(r.uuid("id")?),
                    state: state(&r.text("state")?)?,
                })
            })
            .collect()
    }

    async fn queue_count_many(&self) -> Result<Vec<QueueCount>> {
        let rows = sqlx::query(include_str!("queue_count_many.sql"))
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(QueueCount {
                    queue: r.text("queue")?,
                    state: state(&r.text("state")?)?,
                    count: r.int("n")?,
                })
            })
            .collect()
    }

    async fn job_next_run_at(&self, queue: &QueueName) -> Result<Option<Timestamp>> {
        let us: Option<i64> = sqlx::query_scalar(include_str!("job_next_run_at.sql"))
            .bind(queue.as_str())
            .fetch_one(&self.read)
            .await?;
        opt_from_micros(us)
    }

    async fn run_list_by_job(&self, job_id: JobId) -> Result<Vec<Run>> {
        let rows = sqlx::query(include_str!("run_list_by_job.sql"))
            .bind(job_id.to_string())
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(run_from_row).collect()
    }

    async fn schedule_insert(&self, s: Schedule) -> Result<()> {
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
            .execute(&self.write)
            .await?;
        Ok(())
    }

    async fn schedule_get(&self, id: ScheduleId) -> Result<Schedule> {
        let row = sqlx::query(include_str!("schedule_get.sql"))
            .bind(id.to_string())
            .fetch_one(&self.read)
            .await?;
        schedule_from_row(&row)
    }

    async fn schedule_list(&self, page: Page) -> Result<Vec<Schedule>> {
        let rows = sqlx::query(include_str!("schedule_list.sql"))
            .bind(page.limit())
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(schedule_from_row).collect()
    }

    async fn schedule_set_paused(
        &self,
        id: ScheduleId,
        paused: bool,
        now: Timestamp,
    ) -> Result<()> {
        let done = sqlx::query(include_str!("schedule_set_paused.sql"))
            .bind(id.to_string())
            .bind(paused)
            .bind(micros(now))
            .execute(&self.write)
            .await?;
        if done.rows_affected() == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    async fn schedule_delete(&self, id: ScheduleId) -> Result<()> {
        let done = sqlx::query(include_str!("schedule_delete.sql"))
            .bind(id.to_string())
            .execute(&self.write)
            .await?;
        if done.rows_affected() == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    async fn schedule_due_many(&self, now: Timestamp, limit: u32) -> Result<Vec<Schedule>> {
        let rows = sqlx::query(include_str!("schedule_due_many.sql"))
            .bind(micros(now))
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(schedule_from_row).collect()
    }

    async fn schedule_next_fire_at(&self) -> Result<Option<Timestamp>> {
        let us: Option<i64> = sqlx::query_scalar(include_str!("schedule_next_fire_at.sql"))
            .fetch_one(&self.read)
            .await?;
        opt_from_micros(us)
    }

    async fn occurrence_record_many(&self, batch: OccurrenceBatch) -> Result<Vec<Occurrence>> {
        let mut tx = SqliteLedger(self.write.begin().await?);
        let recorded = ledger::record(&mut tx, batch).await?;
        tx.0.commit().await?;
        Ok(recorded)
    }

    async fn occurrence_list(
        &self,
        schedule_id: ScheduleId,
        page: Page,
    ) -> Result<Vec<Occurrence>> {
        let rows = sqlx::query(include_str!("occurrence_list.sql"))
            .bind(schedule_id.to_string())
            .bind(page.limit())
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(occurrence_from_row).collect()
    }
}

/// The occurrence ledger's statements inside one SQLite transaction.
struct SqliteLedger(Transaction<'static, Sqlite>);

impl LedgerTx for SqliteLedger {
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
        sqlx::query(include_str!("job_cancel_many.sql"))
            .bind(ids_json(ids.iter().copied()))
            .bind(micros(now))
            .execute(&mut *self.0)
            .await?;
        Ok(())
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
        SqliteStore::insert_jobs(&mut self.0, std::slice::from_ref(job))
            .await
            .map(drop)
    }
}
