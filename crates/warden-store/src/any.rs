//! `AnyStore`: the backend chosen at start from the command line or environment.

use std::{fmt, path::PathBuf, str::FromStr};

use jiff::Timestamp;
use sqlx::postgres::PgConnectOptions;
use uuid::Uuid;
use warden_core::{JobId, QueueName, ScheduleId, Scope};

use crate::{
    PgStore, SqliteStore,
    model::*,
    store::{Result, Store},
    store_access::AccessStore,
    store_ops::OpsStore,
};

/// Where the data lives: a SQLite file in a data directory (the default) or PostgreSQL.
#[derive(Clone)]
pub enum StoreLocation {
    SqliteDir(PathBuf),
    Postgres(Box<PgConnectOptions>),
}

impl fmt::Debug for StoreLocation {
    // PgConnectOptions may hold a password: show only where, never credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SqliteDir(dir) => write!(f, "sqlite:{}", dir.join("warden.db").display()),
            Self::Postgres(o) => write!(
                f,
                "postgres://{}:{}/{}",
                o.get_host(),
                o.get_port(),
                o.get_database().unwrap_or("")
            ),
        }
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A `--database-url` that could not be used. Never repeats the URL (it may hold a password).
#[derive(Debug, thiserror::Error)]
#[error(
    "invalid `--database-url` / WARDEN_DATABASE_URL: {0}; expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE, or leave it unset to use SQLite in the data directory"
)]
pub struct DatabaseUrlError(String);

impl StoreLocation {
    /// Chooses PostgreSQL when `database_url` is given, else SQLite in `data_dir`.
    pub fn choose(
        database_url: Option<&str>,
        data_dir: PathBuf,
    ) -> std::result::Result<Self, DatabaseUrlError> {
        match database_url {
            None => Ok(Self::SqliteDir(data_dir)),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                PgConnectOptions::from_str(url)
                    .map(|o| Self::Postgres(Box::new(o)))
                    .map_err(|e| {
                        // sqlx's message may quote the URL; keep only its kind.
                        let kind = match e {
                            sqlx::Error::Configuration(_) => "the URL does not parse",
                            _ => "the URL is not usable",
                        };
                        DatabaseUrlError(kind.into())
                    })
            }
            Some(_) => Err(DatabaseUrlError(
                "only postgres:// URLs are supported".into(),
            )),
        }
    }

    /// Opens the store (without migrating).
    pub async fn open(&self) -> Result<AnyStore> {
        match self {
            Self::SqliteDir(dir) => Ok(AnyStore::Sqlite(SqliteStore::open_in_dir(dir).await?)),
            Self::Postgres(options) => Ok(AnyStore::Postgres(
                PgStore::connect((**options).clone(), 16).await?,
            )),
        }
    }
}

/// One of the backends, chosen at start.
#[derive(Debug, Clone)]
pub enum AnyStore {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl AnyStore {
    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

macro_rules! delegate {
    ($self:ident, $method:ident ( $($arg:ident),* )) => {
        match $self {
            AnyStore::Sqlite(s) => s.$method($($arg),*).await,
            AnyStore::Postgres(s) => s.$method($($arg),*).await,
        }
    };
}

impl Store for AnyStore {
    async fn migrate(&self) -> Result<()> {
        delegate!(self, migrate())
    }
    async fn ready(&self) -> Result<()> {
        delegate!(self, ready())
    }
    async fn job_insert_many(&self, params: JobInsertParams) -> Result<Vec<InsertedJob>> {
        delegate!(self, job_insert_many(params))
    }
    async fn job_get(&self, id: JobId, scope: Scope) -> Result<Job> {
        delegate!(self, job_get(id, scope))
    }
    async fn job_list(&self, filter: JobFilter) -> Result<Vec<JobSummary>> {
        delegate!(self, job_list(filter))
    }
    async fn job_claim_many(&self, params: ClaimParams) -> Result<Vec<ClaimedJob>> {
        delegate!(self, job_claim_many(params))
    }
    async fn job_heartbeat_many(&self, params: HeartbeatParams) -> Result<Vec<JobId>> {
        delegate!(self, job_heartbeat_many(params))
    }
    async fn job_complete_many(&self, completions: Vec<Completion>) -> Result<Vec<JobId>> {
        delegate!(self, job_complete_many(completions))
    }
    async fn job_cancel_many(&self, params: JobCancelParams) -> Result<Vec<JobId>> {
        delegate!(self, job_cancel_many(params))
    }
    async fn job_retry_many(&self, params: JobRetryParams) -> Result<Vec<JobId>> {
        delegate!(self, job_retry_many(params))
    }
    async fn job_rescue_many(&self, params: RescueParams) -> Result<Vec<RescuedJob>> {
        delegate!(self, job_rescue_many(params))
    }
    async fn queue_count_many(&self) -> Result<Vec<QueueCount>> {
        delegate!(self, queue_count_many())
    }
    async fn queue_set_paused(&self, params: QueueSetPausedParams) -> Result<()> {
        delegate!(self, queue_set_paused(params))
    }
    async fn queue_paused_many(&self) -> Result<Vec<String>> {
        delegate!(self, queue_paused_many())
    }
    async fn job_next_run_at(&self, queue: &QueueName) -> Result<Option<Timestamp>> {
        delegate!(self, job_next_run_at(queue))
    }
    async fn run_list_by_job(&self, job_id: JobId, scope: Scope) -> Result<Vec<RunSummary>> {
        delegate!(self, run_list_by_job(job_id, scope))
    }
    async fn run_get(&self, id: i64, scope: Scope) -> Result<Run> {
        delegate!(self, run_get(id, scope))
    }
    async fn run_list_by_schedule(&self, filter: ScheduleRunFilter) -> Result<Vec<RunSummary>> {
        delegate!(self, run_list_by_schedule(filter))
    }
    async fn schedule_insert(&self, params: ScheduleInsertParams) -> Result<()> {
        delegate!(self, schedule_insert(params))
    }
    async fn schedule_update(
        &self,
        schedule: Schedule,
        scope: Scope,
        audit: Vec<AuditRecord>,
    ) -> Result<()> {
        delegate!(self, schedule_update(schedule, scope, audit))
    }
    async fn schedule_get(&self, id: ScheduleId, scope: Scope) -> Result<Schedule> {
        delegate!(self, schedule_get(id, scope))
    }
    async fn schedule_list(&self, page: Page, scope: Scope) -> Result<Vec<ScheduleSummary>> {
        delegate!(self, schedule_list(page, scope))
    }
    async fn schedule_set_paused(&self, params: ScheduleSetPausedParams) -> Result<()> {
        delegate!(self, schedule_set_paused(params))
    }
    async fn schedule_delete(
        &self,
        id: ScheduleId,
        scope: Scope,
        audit: Vec<AuditRecord>,
    ) -> Result<()> {
        delegate!(self, schedule_delete(id, scope, audit))
    }
    async fn schedule_due_many(
        &self,
        now: Timestamp,
        ahead_until: Timestamp,
        limit: u32,
    ) -> Result<Vec<DueSchedule>> {
        delegate!(self, schedule_due_many(now, ahead_until, limit))
    }
    async fn schedule_next_fire_at(&self) -> Result<Option<Timestamp>> {
        delegate!(self, schedule_next_fire_at())
    }
    async fn occurrence_record_many(&self, batch: OccurrenceBatch) -> Result<Vec<Occurrence>> {
        delegate!(self, occurrence_record_many(batch))
    }

    async fn occurrence_record_plain(
        &self,
        batches: Vec<OccurrenceBatch>,
    ) -> Result<Vec<Option<Vec<Occurrence>>>> {
        delegate!(self, occurrence_record_plain(batches))
    }
    async fn job_insert_subscribe(
        &self,
    ) -> Result<Option<tokio::sync::mpsc::UnboundedReceiver<String>>> {
        delegate!(self, job_insert_subscribe())
    }
    async fn occurrence_list(
        &self,
        schedule_id: ScheduleId,
        scope: Scope,
        page: OccurrencePage,
    ) -> Result<Vec<Occurrence>> {
        delegate!(self, occurrence_list(schedule_id, scope, page))
    }
}

impl AccessStore for AnyStore {
    async fn principal_upsert(&self, p: PrincipalRecord, audit: Vec<AuditRecord>) -> Result<()> {
        delegate!(self, principal_upsert(p, audit))
    }
    async fn principal_get(&self, id: &str) -> Result<PrincipalRecord> {
        delegate!(self, principal_get(id))
    }
    async fn principal_list(
        &self,
        page: Page,
        after: Option<String>,
    ) -> Result<Vec<PrincipalRecord>> {
        delegate!(self, principal_list(page, after))
    }
    async fn principal_limited_any(&self) -> Result<bool> {
        delegate!(self, principal_limited_any())
    }
    async fn principal_active_count(&self, owner: &str) -> Result<i64> {
        delegate!(self, principal_active_count(owner))
    }
    async fn api_key_insert(&self, key: ApiKeyRecord, audit: Vec<AuditRecord>) -> Result<()> {
        delegate!(self, api_key_insert(key, audit))
    }
    async fn api_key_find(&self, hash: &str) -> Result<Option<KeyLookup>> {
        delegate!(self, api_key_find(hash))
    }
    async fn api_key_get(&self, id: Uuid) -> Result<ApiKeyRecord> {
        delegate!(self, api_key_get(id))
    }
    async fn api_key_list(&self, principal_id: Option<String>) -> Result<Vec<ApiKeyRecord>> {
        delegate!(self, api_key_list(principal_id))
    }
    async fn api_key_revoke(
        &self,
        id: Uuid,
        now: Timestamp,
        audit: Vec<AuditRecord>,
    ) -> Result<()> {
        delegate!(self, api_key_revoke(id, now, audit))
    }
    async fn api_key_rotate(&self, rotation: KeyRotation, audit: Vec<AuditRecord>) -> Result<()> {
        delegate!(self, api_key_rotate(rotation, audit))
    }
    async fn api_key_touch_many(&self, ids: Vec<Uuid>, now: Timestamp) -> Result<()> {
        delegate!(self, api_key_touch_many(ids, now))
    }
    async fn audit_insert_many(&self, records: Vec<AuditRecord>) -> Result<()> {
        delegate!(self, audit_insert_many(records))
    }
    async fn audit_list(&self, filter: AuditFilter) -> Result<Vec<AuditEvent>> {
        delegate!(self, audit_list(filter))
    }

    async fn secret_check_ensure(&self, check: String, now: Timestamp) -> Result<String> {
        delegate!(self, secret_check_ensure(check, now))
    }
}

impl OpsStore for AnyStore {
    async fn cron_run_insert(&self, record: CronRunRecord) -> Result<i64> {
        delegate!(self, cron_run_insert(record))
    }
    async fn cron_run_list(&self, before: Option<i64>, limit: u32) -> Result<Vec<CronRun>> {
        delegate!(self, cron_run_list(before, limit))
    }
    async fn lock_acquire(&self, params: LockAcquireParams) -> Result<bool> {
        delegate!(self, lock_acquire(params))
    }
    async fn lock_release(&self, name: &str, holder: &str) -> Result<bool> {
        delegate!(self, lock_release(name, holder))
    }
    async fn tick_record(&self, at: Timestamp) -> Result<()> {
        delegate!(self, tick_record(at))
    }
    async fn tick_last(&self) -> Result<Option<Timestamp>> {
        delegate!(self, tick_last())
    }
    async fn job_oldest_waiting(&self, now: Timestamp) -> Result<Option<Timestamp>> {
        delegate!(self, job_oldest_waiting(now))
    }
}
