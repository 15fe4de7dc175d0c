//! `AnyStore`: the backend chosen at start from the command line or environment.

use std::{fmt, path::PathBuf, str::FromStr};

use jiff::Timestamp;
use sqlx::postgres::PgConnectOptions;
use warden_core::{JobId, QueueName, ScheduleId};

use crate::{
    PgStore, SqliteStore,
    model::*,
    store::{Result, Store},
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
    async fn job_insert_many(&self, jobs: Vec<NewJob>) -> Result<Vec<InsertedJob>> {
        delegate!(self, job_insert_many(jobs))
    }
    async fn job_get(&self, id: JobId) -> Result<Job> {
        delegate!(self, job_get(id))
    }
    async fn job_list(&self, filter: JobFilter) -> Result<Vec<Job>> {
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
    async fn job_cancel_many(&self, ids: Vec<JobId>, now: Timestamp) -> Result<Vec<JobId>> {
        delegate!(self, job_cancel_many(ids, now))
    }
    async fn job_rescue_many(&self, params: RescueParams) -> Result<Vec<RescuedJob>> {
        delegate!(self, job_rescue_many(params))
    }
    async fn queue_count_many(&self) -> Result<Vec<QueueCount>> {
        delegate!(self, queue_count_many())
    }
    async fn job_next_run_at(&self, queue: &QueueName) -> Result<Option<Timestamp>> {
        delegate!(self, job_next_run_at(queue))
    }
    async fn run_list_by_job(&self, job_id: JobId) -> Result<Vec<Run>> {
        delegate!(self, run_list_by_job(job_id))
    }
    async fn schedule_insert(&self, schedule: Schedule) -> Result<()> {
        delegate!(self, schedule_insert(schedule))
    }
    async fn schedule_get(&self, id: ScheduleId) -> Result<Schedule> {
        delegate!(self, schedule_get(id))
    }
    async fn schedule_list(&self, page: Page) -> Result<Vec<Schedule>> {
        delegate!(self, schedule_list(page))
    }
    async fn schedule_set_paused(
        &self,
        id: ScheduleId,
        paused: bool,
        now: Timestamp,
    ) -> Result<()> {
        delegate!(self, schedule_set_paused(id, paused, now))
    }
    async fn schedule_delete(&self, id: ScheduleId) -> Result<()> {
        delegate!(self, schedule_delete(id))
    }
    async fn schedule_due_many(&self, now: Timestamp, limit: u32) -> Result<Vec<Schedule>> {
        delegate!(self, schedule_due_many(now, limit))
    }
    async fn schedule_next_fire_at(&self) -> Result<Option<Timestamp>> {
        delegate!(self, schedule_next_fire_at())
    }
    async fn occurrence_record_many(&self, batch: OccurrenceBatch) -> Result<Vec<Occurrence>> {
        delegate!(self, occurrence_record_many(batch))
    }
    async fn job_insert_subscribe(
        &self,
    ) -> Result<Option<tokio::sync::mpsc::UnboundedReceiver<String>>> {
        delegate!(self, job_insert_subscribe())
    }
    async fn occurrence_list(
        &self,
        schedule_id: ScheduleId,
        page: Page,
    ) -> Result<Vec<Occurrence>> {
        delegate!(self, occurrence_list(schedule_id, page))
    }
}
