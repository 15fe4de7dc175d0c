//! `StoreError`: what can go wrong in storage, independent of the backend.
//!
//! Each backend maps its driver errors here in one function (`map_sqlx_error`), so the
//! engine never matches on `sqlx::Error`.

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
    Unavailable(#[source] sqlx::Error),
    /// The schema is older or newer than this binary expects.
    #[error("database schema is not migrated: {0}")]
    Migration(String),
    /// Data read back from the database did not parse (a bug or a tampered database).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// Any other database error.
    #[error("database error")]
    Database(#[source] sqlx::Error),
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
        | sqlx::Error::Tls(_) => StoreError::Unavailable(err),
        // SQLITE_BUSY (5) / SQLITE_LOCKED (6); PostgreSQL serialization failure / deadlock.
        sqlx::Error::Database(db)
            if matches!(
                db.code().as_deref(),
                Some("5" | "6" | "40001" | "40P01" | "57P01")
            ) =>
        {
            StoreError::Unavailable(err)
        }
        sqlx::Error::Migrate(m) => StoreError::Migration(m.to_string()),
        _ => StoreError::Database(err),
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        map_sqlx_error(err)
    }
}

impl From<warden_core::ParseError> for StoreError {
    fn from(err: warden_core::ParseError) -> Self {
        StoreError::Corrupt(err.to_string())
    }
}
