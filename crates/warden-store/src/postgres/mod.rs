//! The PostgreSQL backend: for several warden processes sharing one database.
//!
//! Claims use `FOR UPDATE SKIP LOCKED` and commit at once; completions are fenced by the
//! lease token; batches travel as arrays (`UNNEST`), so a batch is one round trip.
//!
//! # Layout
//! The `Store` methods below hand each call to the module of its concern:
//! - `job_insert`: the batch insert (idempotency keys, quota); `jobs`: the rest of a
//!   job's life (claims, heartbeats, completions, cancel, retry, rescue) and its reads.
//! - `queues`, `runs`, `schedules`: those resources.
//! - `occurrences`: the occurrence ledger's statements inside one transaction.
//! - `quota`: the owner's quota lock and count.
//! - `notify`: telling other processes about inserted jobs (`NOTIFY` / `LISTEN`).
//! - `access`: principals, keys and the audit trail; `ops`: the `/cron/run` history, named
//!   locks and scheduler health.
//!
//! A write that carries audit records runs through [`PgStore::audited`]: the write and its
//! records in one transaction.

mod access;
mod job_insert;
mod jobs;
mod notify;
mod occurrences;
mod ops;
mod queues;
mod quota;
mod runs;
mod schedules;

use std::time::Duration;

use jiff::Timestamp;
use sqlx::{
    Connection, PgConnection, PgPool,
    postgres::{PgConnectOptions, PgPoolOptions},
};
use tokio::sync::mpsc;
use warden_core::{JobId, ScheduleId, Scope};

use crate::{
    StoreError, migrations,
    model::*,
    store::{Result, Store},
};

/// A store on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Queues that received jobs, for the notifier (see [`notify::notifier`]).
    inserted: mpsc::UnboundedSender<String>,
    /// Tags this store's notices, so its own listener ignores them (its scheduler has
    /// already woken its producers).
    origin: u64,
}

impl PgStore {
    /// Connects with a pool of `max_connections`.
    pub async fn connect(options: PgConnectOptions, max_connections: u32) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(StoreError::unavailable)?;
        let (inserted, queues) = mpsc::unbounded_channel();
        let origin = rand::random::<u64>();
        tokio::spawn(notify::notifier(pool.clone(), queues, origin));
        Ok(Self {
            pool,
            inserted,
            origin,
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs `write` in a transaction, adds the records of `audit` that its result keeps
    /// (see [`Audited`]) and commits: the change and its audit trail are durable together
    /// or not at all. An error anywhere rolls the whole transaction back.
    async fn audited<T: Audited>(
        &self,
        audit: Vec<AuditRecord>,
        write: impl AsyncFnOnce(&mut PgConnection) -> Result<T>,
    ) -> Result<T> {
        let mut tx = self.pool.begin().await?;
        let written = write(&mut tx).await?;
        access::audit_insert(&mut tx, &written.audited(audit)).await?;
        tx.commit().await?;
        Ok(written)
    }
}

impl Store for PgStore {
    async fn migrate(&self) -> Result<()> {
        migrations::migrator(migrations::Backend::Postgres)
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))
    }

    async fn ready(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(StoreError::unavailable)?;
        conn.ping().await.map_err(StoreError::unavailable)?;
        let applied: Vec<i64> = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| {
            StoreError::Migration(format!("no migration record ({e}); run `warden migrate`"))
        })?;
        migrations::check_applied(&applied)
    }

    async fn job_insert_many(&self, params: JobInsertParams) -> Result<Vec<InsertedJob>> {
        job_insert::job_insert_many(self, params).await
    }

    async fn job_get(&self, id: JobId, scope: Scope) -> Result<Job> {
        jobs::job_get(self, id, scope).await
    }

    async fn job_list(&self, filter: JobFilter) -> Result<Vec<JobSummary>> {
        jobs::job_list(self, filter).await
    }

    async fn job_claim_many(&self, p: ClaimParams) -> Result<Vec<ClaimedJob>> {
        jobs::job_claim_many(self, p).await
    }

    async fn job_heartbeat_many(&self, p: HeartbeatParams) -> Result<Vec<JobId>> {
        jobs::job_heartbeat_many(self, p).await
    }

    async fn job_complete_many(&self, completions: Vec<Completion>) -> Result<Vec<JobId>> {
        jobs::job_complete_many(self, completions).await
    }

    async fn job_cancel_many(&self, params: JobCancelParams) -> Result<Vec<JobId>> {
        jobs::job_cancel_many(self, params).await
    }

    async fn job_retry_many(&self, params: JobRetryParams) -> Result<Vec<JobId>> {
        jobs::job_retry_many(self, params).await
    }

    async fn job_rescue_many(&self, p: RescueParams) -> Result<Vec<RescuedJob>> {
        jobs::job_rescue_many(self, p).await
    }

    async fn queue_count_many(&self) -> Result<Vec<QueueCount>> {
        queues::queue_count_many(self).await
    }

    async fn queue_set_paused(&self, params: QueueSetPausedParams) -> Result<()> {
        queues::queue_set_paused(self, params).await
    }

    async fn queue_paused_many(&self) -> Result<Vec<String>> {
        queues::queue_paused_many(self).await
    }

    async fn job_next_run_at(&self, queue: &warden_core::QueueName) -> Result<Option<Timestamp>> {
        jobs::job_next_run_at(self, queue).await
    }

    async fn run_list_by_job(&self, job_id: JobId, scope: Scope) -> Result<Vec<RunSummary>> {
        runs::run_list_by_job(self, job_id, scope).await
    }

    async fn run_get(&self, id: i64, scope: Scope) -> Result<Run> {
        runs::run_get(self, id, scope).await
    }

    async fn run_list_by_schedule(&self, filter: ScheduleRunFilter) -> Result<Vec<RunSummary>> {
        runs::run_list_by_schedule(self, filter).await
    }

    async fn schedule_insert(&self, params: ScheduleInsertParams) -> Result<()> {
        schedules::schedule_insert(self, params).await
    }

    async fn schedule_update(
        &self,
        s: Schedule,
        scope: Scope,
        audit: Vec<AuditRecord>,
    ) -> Result<()> {
        schedules::schedule_update(self, s, scope, audit).await
    }

    async fn schedule_get(&self, id: ScheduleId, scope: Scope) -> Result<Schedule> {
        schedules::schedule_get(self, id, scope).await
    }

    async fn schedule_list(&self, page: Page, scope: Scope) -> Result<Vec<ScheduleSummary>> {
        schedules::schedule_list(self, page, scope).await
    }

    async fn schedule_set_paused(&self, params: ScheduleSetPausedParams) -> Result<()> {
        schedules::schedule_set_paused(self, params).await
    }

    async fn schedule_delete(
        &self,
        id: ScheduleId,
        scope: Scope,
        audit: Vec<AuditRecord>,
    ) -> Result<()> {
        schedules::schedule_delete(self, id, scope, audit).await
    }

    async fn schedule_due_many(
        &self,
        now: Timestamp,
        ahead_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<DueSchedule>> {
        schedules::schedule_due_many(self, now, ahead_until, limit).await
    }

    async fn schedule_next_fire_at(&self) -> Result<Option<Timestamp>> {
        schedules::schedule_next_fire_at(self).await
    }

    async fn occurrence_record_many(&self, batch: OccurrenceBatch) -> Result<Vec<Occurrence>> {
        occurrences::occurrence_record_many(self, batch).await
    }

    async fn occurrence_record_plain(
        &self,
        batches: Vec<OccurrenceBatch>,
    ) -> Result<Vec<Option<Vec<Occurrence>>>> {
        occurrences::occurrence_record_plain(self, batches).await
    }

    async fn job_insert_subscribe(&self) -> Result<Option<mpsc::UnboundedReceiver<String>>> {
        notify::job_insert_subscribe(self).await
    }

    async fn occurrence_list(
        &self,
        schedule_id: ScheduleId,
        scope: Scope,
        page: OccurrencePage,
    ) -> Result<Vec<Occurrence>> {
        occurrences::occurrence_list(self, schedule_id, scope, page).await
    }
}

/// `NotFound` when a scoped change touched no row.
fn found(rows: u64) -> Result<()> {
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Adds `search_path=<schema>` to a PostgreSQL URL's connection options, so every
/// connection works inside `schema` (used for isolated test and benchmark databases).
pub fn url_with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}
