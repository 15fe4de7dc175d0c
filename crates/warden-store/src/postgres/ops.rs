//! The `/cron/run` history, named locks and scheduler health on PostgreSQL.

use jiff::Timestamp;

use super::PgStore;
use crate::{
    convert::{micros, opt_from_micros},
    model::*,
    rows_ops::cron_run_from_row,
    store::Result,
    store_ops::OpsStore,
};

impl OpsStore for PgStore {
    async fn cron_run_insert(&self, r: CronRunRecord) -> Result<i64> {
        Ok(sqlx::query_scalar(include_str!("cron_run_insert.sql"))
            .bind(micros(r.at))
            .bind(r.outcome.as_str())
            .bind(r.duration_ms)
            .bind(r.fired)
            .bind(r.skipped)
            .bind(r.missed)
            .bind(r.dispatched)
            .bind(r.client_ip)
            .bind(r.user_agent)
            .bind(r.request_id)
            .bind(r.detail)
            .fetch_one(&self.pool)
            .await?)
    }

    async fn cron_run_list(&self, before: Option<i64>, limit: u32) -> Result<Vec<CronRun>> {
        let rows = sqlx::query(include_str!("cron_run_list.sql"))
            .bind(before)
            .bind(cron_run_limit(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(cron_run_from_row).collect()
    }

    async fn lock_acquire(&self, p: LockAcquireParams) -> Result<bool> {
        let done = sqlx::query(include_str!("lock_acquire.sql"))
            .bind(&p.name)
            .bind(&p.holder)
            .bind(micros(p.now))
            .bind(micros(p.until))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn lock_release(&self, name: &str, holder: &str) -> Result<bool> {
        let done = sqlx::query(include_str!("lock_release.sql"))
            .bind(name)
            .bind(holder)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn tick_record(&self, at: Timestamp) -> Result<()> {
        sqlx::query(include_str!("tick_record.sql"))
            .bind(LAST_TICK)
            .bind(micros(at))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn tick_last(&self) -> Result<Option<Timestamp>> {
        let us: Option<i64> = sqlx::query_scalar(include_str!("tick_last.sql"))
            .bind(LAST_TICK)
            .fetch_optional(&self.pool)
            .await?;
        opt_from_micros(us)
    }

    async fn job_oldest_waiting(&self, now: Timestamp) -> Result<Option<Timestamp>> {
        let us: Option<i64> = sqlx::query_scalar(include_str!("job_oldest_waiting.sql"))
            .bind(micros(now))
            .fetch_one(&self.pool)
            .await?;
        opt_from_micros(us)
    }
}
