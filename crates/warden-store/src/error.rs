//! `StoreError`: what can go wrong in storage, independent of the backend.
//!
//! Each driver's errors are mapped here in one function (`map_sqlx_error`,
//! `map_rusqlite_error`), so the engine never matches on a driver's error type.

type Source = Box<dyn std::error::Error + Send + Sync>;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The object does not exist (or is not visible to the caller).
    #[error("not found")]
    NotFound,
    /// A uniqueness rule was broken (e.g. a schedule name already used by this owner),
    /// or an optimistic check failed because another process changed the row first.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database could not be reached or is busy; the operation may be retried.
    #[error("database unavailable")]
    Unavailable(#[source] Source),
    /// An insert would pass the owner's quota of active jobs plus schedules.
    #[error("quota exceeded: {active} active of at most {max}")]
    QuotaExceeded { active: i64, max: u32 },
    /// The schema is older or newer than this binary expects.
    #[error("database schema is not migrated: {0}")]
    Migration(String),
    /// Data read back from the database did not parse (a bug or a tampered database).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// Any other database error.
    #[error("database error")]
    Database(#[source] Source),
}

impl StoreError {
    pub(crate) fn unavailable(e: impl Into<Source>) -> Self {
        StoreError::Unavailable(e.into())
    }
}

pub(crate) fn map_sqlx_error(err: sqlx::Error) -> StoreError {
    match &err {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            StoreError::Conflict(db.message().to_owned())
        }
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Tls(_) => StoreError::Unavailable(err.into()),
        // SQLITE_BUSY (5) / SQLITE_LOCKED (6); PostgreSQL serialization failure / deadlock / shutdown.
        sqlx::Error::Database(db)
            if matches!(
                db.code().as_deref(),
                Some("5" | "6" | "40001" | "40P01" | "57P01")
            ) =>
        {
            StoreError::Unavailable(err.into())
        }
        sqlx::Error::Migrate(m) => StoreError::Migration(m.to_string()),
        _ => StoreError::Database(err.into()),
    }
}

pub(crate) fn map_rusqlite_error(err: rusqlite::Error) -> StoreError {
    use rusqlite::{ErrorCode, ffi};
    match &err {
        rusqlite::Error::QueryReturnedNoRows => StoreError::NotFound,
        rusqlite::Error::SqliteFailure(e, msg)
            if matches!(
                e.extended_code,
                ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            ) =>
        {
            StoreError::Conflict(msg.clone().unwrap_or_else(|| "unique constraint".into()))
        }
        rusqlite::Error::SqliteFailure(e, _)
            if matches!(
                e.code,
                ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::CannotOpen
            ) =>
        {
            StoreError::Unavailable(err.into())
        }
        _ => StoreError::Database(err.into()),
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        map_sqlx_error(err)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        map_rusqlite_error(err)
    }
}

impl From<warden_core::ParseError> for StoreError {
    fn from(err: warden_core::ParseError) -> Self {
        StoreError::Corrupt(err.to_string())
    }
}
