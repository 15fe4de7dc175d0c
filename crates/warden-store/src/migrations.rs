//! Versioned migrations per backend, embedded in the binary (`migrations/{sqlite,postgres}`).
//!
//! To add one: write `NNNN_name.sql` for both backends and append a line to [`MIGRATIONS`].

use sqlx::{
    SqlSafeStr,
    migrate::{Migration, MigrationType, Migrator},
};

use crate::StoreError;

/// (version, name, SQLite SQL, PostgreSQL SQL), in order.
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../migrations/sqlite/0001_init.sql"),
        include_str!("../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "access",
        include_str!("../migrations/sqlite/0002_access.sql"),
        include_str!("../migrations/postgres/0002_access.sql"),
    ),
    (
        3,
        "runs_queues",
        include_str!("../migrations/sqlite/0003_runs_queues.sql"),
        include_str!("../migrations/postgres/0003_runs_queues.sql"),
    ),
    (
        4,
        "owner_concurrency",
        include_str!("../migrations/sqlite/0004_owner_concurrency.sql"),
        include_str!("../migrations/postgres/0004_owner_concurrency.sql"),
    ),
    (
        5,
        "owner_idempotency",
        include_str!("../migrations/sqlite/0005_owner_idempotency.sql"),
        include_str!("../migrations/postgres/0005_owner_idempotency.sql"),
    ),
    (
        6,
        "cron_runs",
        include_str!("../migrations/sqlite/0006_cron_runs.sql"),
        include_str!("../migrations/postgres/0006_cron_runs.sql"),
    ),
    (
        7,
        "owner_controls",
        include_str!("../migrations/sqlite/0007_owner_controls.sql"),
        include_str!("../migrations/postgres/0007_owner_controls.sql"),
    ),
    (
        8,
        "request_ids_secret_check",
        include_str!("../migrations/sqlite/0008_request_ids_secret_check.sql"),
        include_str!("../migrations/postgres/0008_request_ids_secret_check.sql"),
    ),
    (
        9,
        "job_scheduled_at",
        include_str!("../migrations/sqlite/0009_job_scheduled_at.sql"),
        include_str!("../migrations/postgres/0009_job_scheduled_at.sql"),
    ),
];

#[derive(Clone, Copy)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

pub(crate) fn migrator(backend: Backend) -> Migrator {
    Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|&(version, name, sqlite, postgres)| {
                let sql = match backend {
                    Backend::Sqlite => sqlite,
                    Backend::Postgres => postgres,
                };
                Migration::new(
                    version,
                    name.into(),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    )
}

/// Fails unless every known migration is in `applied`.
pub(crate) fn check_applied(applied: &[i64]) -> Result<(), StoreError> {
    let missing: Vec<i64> = MIGRATIONS
        .iter()
        .map(|m| m.0)
        .filter(|v| !applied.contains(v))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(StoreError::Migration(format!(
            "migrations {missing:?} are not applied; run `warden migrate`"
        )))
    }
}
