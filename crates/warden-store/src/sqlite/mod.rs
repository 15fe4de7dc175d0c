//! The SQLite backend: the embedded default, one file in the data directory.
//!
//! # Model
//! - WAL journal, `synchronous = FULL` (every commit is fsynced: durable across power
//!   loss, not only process crashes), `busy_timeout` 5 s, foreign keys on — set through
//!   the connect options so every pooled connection has them.
//! - One writer: every write is a function sent to the writer thread (`writer`), which
//!   owns the only write connection and commits whatever has queued up as one transaction
//!   (one fsync for many writes); reads use a separate pool and do not block on writes
//!   (WAL). The writes themselves are in `writes` (jobs, schedules, the ledger), `access`
//!   and `ops`.
//! - A batch (jobs, completions, heartbeats) is written row by row with one cached
//!   prepared statement (`prepare_cached`), inside the writer's group transaction: each
//!   row costs microseconds in-process, and the group still commits with one fsync.
//! - One warden process per database file: several processes sharing work need
//!   PostgreSQL.

mod access;
mod ops;
mod writer;
mod writes;

use std::{path::Path, time::Duration};

use jiff::Timestamp;
use sqlx::{
    SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};
use warden_core::{JobId, QueueName, ScheduleId, Scope};

use self::writer::Writer;
use crate::{
    StoreError,
    convert::{opt_from_micros, state},
    migrations,
    model::*,
    rows::{
        Cols, due_schedule_from_row, job_from_row, job_summary_from_row, occurrence_from_row,
        run_from_row, run_summary_from_row, schedule_from_row, schedule_summary_from_row,
    },
    store::{Result, Store},
};

/// A store in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: Writer,
    read: SqlitePool,
    /// For the migration connection; boxed to keep the store small.
    options: Box<SqliteConnectOptions>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path`.
    pub async fn open(path: &Path) -> Result<Self> {
        let writer = Writer::spawn(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.clone().read_only(true))
            .await
            .map_err(StoreError::unavailable)?;
        Ok(Self {
            writer,
            read,
            options: Box::new(options),
        })
    }

    /// Opens the database `warden.db` in `data_dir`, creating the directory if needed.
    pub async fn open_in_dir(data_dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(data_dir).map_err(StoreError::unavailable)?;
        Self::open(&data_dir.join("warden.db")).await
    }
}

impl Store for SqliteStore {
    async fn migrate(&self) -> Result<()> {
        // Migrations manage their own transactions: run them on a connection of their own.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with((*self.options).clone())
            .await
            .map_err(StoreError::unavailable)?;
        let result = migrations::migrator(migrations::Backend::Sqlite)
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()));
        pool.close().await;
        result
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

    async fn job_insert_many(&self, p: JobInsertParams) -> Result<Vec<InsertedJob>> {
        let JobInsertParams { jobs, audit, quota } = p;
        self.writer
            .audited(audit, move |c| {
                writes::insert_jobs_checked(c, &jobs, quota.as_ref())
            })
            .await
    }

    async fn job_get(&self, id: JobId, scope: Scope) -> Result<Job> {
        let row = sqlx::query(include_str!("job_get.sql"))
            .bind(id.to_string())
            .bind(scope.owner())
            .fetch_one(&self.read)
            .await?;
        job_from_row(&row)
    }

    async fn job_list(&self, filter: JobFilter) -> Result<Vec<JobSummary>> {
        let rows = sqlx::query(include_str!("job_list.sql"))
            .bind(filter.queue.as_ref().map(|q| q.as_str().to_owned()))
            .bind(filter.state.map(|s| s.as_str()))
            .bind(filter.schedule_id.map(|s| s.to_string()))
            .bind(
                Page {
                    limit: filter.limit,
                    after: None,
                }
                .limit(),
            )
            .bind(filter.scope.owner())
            .bind(filter.after.map(|id| id.to_string()))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(job_summary_from_row).collect()
    }

    async fn job_claim_many(&self, params: ClaimParams) -> Result<Vec<ClaimedJob>> {
        self.writer.call(move |c| writes::claim(c, &params)).await
    }

    async fn job_heartbeat_many(&self, params: HeartbeatParams) -> Result<Vec<JobId>> {
        self.writer
            .call(move |c| writes::heartbeat(c, &params))
            .await
    }

    async fn job_complete_many(&self, completions: Vec<Completion>) -> Result<Vec<JobId>> {
        self.writer
            .call(move |c| writes::complete(c, &completions))
            .await
    }

    async fn job_cancel_many(&self, p: JobCancelParams) -> Result<Vec<JobId>> {
        let JobCancelParams {
            ids,
            scope,
            now,
            audit,
        } = p;
        self.writer
            .audited(audit, move |c| writes::cancel(c, &ids, &scope, now))
            .await
    }

    async fn job_retry_many(&self, p: JobRetryParams) -> Result<Vec<JobId>> {
        let JobRetryParams {
            ids,
            scope,
            now,
            audit,
            quota,
        } = p;
        self.writer
            .audited(audit, move |c| {
                writes::retry(c, &ids, &scope, now, quota.as_ref())
            })
            .await
    }

    async fn job_rescue_many(&self, params: RescueParams) -> Result<Vec<RescuedJob>> {
        self.writer.call(move |c| writes::rescue(c, &params)).await
    }

    async fn queue_count_many(&self) -> Result<Vec<QueueCount>> {
        let rows = sqlx::query(include_str!("queue_count_many.sql"))
            .fetch_all(&self.read)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(QueueCount {
                    queue: QueueName::parse(&r.text("queue")?)?,
                    state: state(&r.text("state")?)?,
                    count: r.int("n")?,
                })
            })
            .collect()
    }

    async fn queue_set_paused(&self, p: QueueSetPausedParams) -> Result<()> {
        let QueueSetPausedParams {
            queue,
            paused,
            now,
            audit,
        } = p;
        self.writer
            .audited(audit, move |c| {
                writes::queue_set_paused(c, &queue, paused, now)
            })
            .await
    }

    async fn queue_paused_many(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(include_str!("queue_paused_many.sql"))
            .fetch_all(&self.read)
            .await?)
    }

    async fn job_next_run_at(&self, queue: &QueueName) -> Result<Option<Timestamp>> {
        let us: Option<i64> = sqlx::query_scalar(include_str!("job_next_run_at.sql"))
            .bind(queue.as_str())
            .fetch_one(&self.read)
            .await?;
        opt_from_micros(us)
    }

    async fn run_list_by_job(&self, job_id: JobId, scope: Scope) -> Result<Vec<RunSummary>> {
        let rows = sqlx::query(include_str!("run_list_by_job.sql"))
            .bind(job_id.to_string())
            .bind(scope.owner())
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(run_summary_from_row).collect()
    }

    async fn run_get(&self, id: i64, scope: Scope) -> Result<Run> {
        let row = sqlx::query(include_str!("run_get.sql"))
            .bind(id)
            .bind(scope.owner())
            .fetch_one(&self.read)
            .await?;
        run_from_row(&row)
    }

    async fn run_list_by_schedule(&self, f: ScheduleRunFilter) -> Result<Vec<RunSummary>> {
        let rows = sqlx::query(include_str!("run_list_by_schedule.sql"))
            .bind(f.schedule_id.to_string())
            .bind(f.scope.owner())
            .bind(f.before)
            .bind(
                Page {
                    limit: f.limit,
                    after: None,
                }
                .limit(),
            )
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(run_summary_from_row).collect()
    }

    async fn schedule_insert(&self, p: ScheduleInsertParams) -> Result<()> {
        let ScheduleInsertParams {
            schedule,
            audit,
            quota,
        } = p;
        self.writer
            .audited(audit, move |c| {
                writes::schedule_insert(c, &schedule, quota.as_ref())
            })
            .await
    }

    async fn schedule_update(
        &self,
        schedule: Schedule,
        scope: Scope,
        audit: Vec<AuditRecord>,
    ) -> Result<()> {
        self.writer
            .audited(audit, move |c| {
                writes::schedule_update(c, &schedule, &scope)
            })
            .await
    }

    async fn schedule_get(&self, id: ScheduleId, scope: Scope) -> Result<Schedule> {
        let row = sqlx::query(include_str!("schedule_get.sql"))
            .bind(id.to_string())
            .bind(scope.owner())
            .fetch_one(&self.read)
            .await?;
        schedule_from_row(&row)
    }

    async fn schedule_list(&self, page: Page, scope: Scope) -> Result<Vec<ScheduleSummary>> {
        let rows = sqlx::query(include_str!("schedule_list.sql"))
            .bind(page.limit())
            .bind(scope.owner())
            .bind(page.after.map(|u| u.to_string()))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(schedule_summary_from_row).collect()
    }

    async fn schedule_set_paused(&self, p: ScheduleSetPausedParams) -> Result<()> {
        let ScheduleSetPausedParams {
            id,
            scope,
            paused,
            now,
            audit,
        } = p;
        self.writer
            .audited(audit, move |c| {
                writes::schedule_set_paused(c, id, &scope, paused, now)
            })
            .await
    }

    async fn schedule_delete(
        &self,
        id: ScheduleId,
        scope: Scope,
        audit: Vec<AuditRecord>,
    ) -> Result<()> {
        self.writer
            .audited(audit, move |c| writes::schedule_delete(c, id, &scope))
            .await
    }

    async fn schedule_due_many(
        &self,
        now: Timestamp,
        ahead_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<DueSchedule>> {
        let rows = sqlx::query(include_str!("schedule_due_many.sql"))
            .bind(crate::convert::micros(now))
            .bind(i64::from(limit))
            .bind(crate::convert::micros(ahead_until.max(now)))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(due_schedule_from_row).collect()
    }

    async fn schedule_next_fire_at(&self) -> Result<Option<Timestamp>> {
        let us: Option<i64> = sqlx::query_scalar(include_str!("schedule_next_fire_at.sql"))
            .fetch_one(&self.read)
            .await?;
        opt_from_micros(us)
    }

    async fn occurrence_record_many(&self, batch: OccurrenceBatch) -> Result<Vec<Occurrence>> {
        self.writer
            .call(move |c| writes::record_occurrences(c, batch))
            .await
    }

    async fn occurrence_record_plain(
        &self,
        batches: Vec<OccurrenceBatch>,
    ) -> Result<Vec<Option<Vec<Occurrence>>>> {
        self.writer
            .call(move |c| writes::record_plain_occurrences(c, &batches))
            .await
    }

    async fn job_insert_subscribe(
        &self,
    ) -> Result<Option<tokio::sync::mpsc::UnboundedReceiver<String>>> {
        Ok(None)
    }

    async fn occurrence_list(
        &self,
        schedule_id: ScheduleId,
        scope: Scope,
        page: OccurrencePage,
    ) -> Result<Vec<Occurrence>> {
        let rows = sqlx::query(include_str!("occurrence_list.sql"))
            .bind(schedule_id.to_string())
            .bind(page.limit())
            .bind(scope.owner())
            .bind(page.after.map(crate::convert::micros))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(occurrence_from_row).collect()
    }
}
