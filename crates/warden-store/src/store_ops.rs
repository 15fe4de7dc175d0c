//! `OpsStore`: the durable side of operating the scheduler — the `/cron/run` history, named
//! locks shared by every process on the database, and scheduler health. Every
//! [`Store`](crate::Store) is one.

use std::future::Future;

use jiff::Timestamp;

use crate::{
    model::{CronRun, CronRunRecord, LockAcquireParams},
    store::Result,
};

/// Cron-run history, named locks with a time to live, and scheduler health.
pub trait OpsStore: Send + Sync + 'static {
    /// Appends a cron-run record; returns its id (increasing).
    fn cron_run_insert(&self, record: CronRunRecord) -> impl Future<Output = Result<i64>> + Send;

    /// Newest first; `before` is a cursor (ids lower than it); `limit` 0 means 100, capped
    /// at 500.
    fn cron_run_list(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<CronRun>>> + Send;

    /// Takes the lock `name` for `holder` until `until` when it is free or its TTL has
    /// passed (`expires_at <= now`). Returns whether `holder` now holds it. One atomic
    /// statement, so of several processes trying at once exactly one wins.
    ///
    /// The lock is not re-entrant: while it is unexpired, a second acquisition by the same
    /// `holder` is refused like anyone else's (so use a fresh holder per acquisition).
    fn lock_acquire(&self, params: LockAcquireParams) -> impl Future<Output = Result<bool>> + Send;

    /// Releases the lock if `holder` still holds it; returns whether it did.
    fn lock_release(&self, name: &str, holder: &str) -> impl Future<Output = Result<bool>> + Send;

    /// Records a scheduler tick at `at` (keeps the latest: never moves backwards).
    fn tick_record(&self, at: Timestamp) -> impl Future<Output = Result<()>> + Send;

    /// The latest recorded tick, if any.
    fn tick_last(&self) -> impl Future<Output = Result<Option<Timestamp>>> + Send;

    /// The `run_at` of the oldest job waiting to run at `now`: state `scheduled`,
    /// `available` or `retryable` with `run_at <= now`. `None` when nothing waits.
    fn job_oldest_waiting(
        &self,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<Timestamp>>> + Send;
}
