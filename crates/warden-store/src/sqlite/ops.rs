//! The `/cron/run` history, named locks and scheduler health on SQLite: writes are
//! functions on the writer's connection (rusqlite), reads use the read pool.

use jiff::Timestamp;
use rusqlite::{Connection, params};

use super::{SqliteStore, writes::execute};
use crate::{
    convert::{micros, opt_from_micros},
    model::*,
    rows_ops::cron_run_from_row,
    store::Result,
    store_ops::OpsStore,
};

fn cron_run_insert(conn: &Connection, r: &CronRunRecord) -> Result<i64> {
    let params = params![
        micros(r.at),
        r.outcome.as_str(),
        r.duration_ms,
        r.fired,
        r.skipped,
        r.missed,
        r.dispatched,
        r.client_ip,
        r.user_agent,
        r.request_id,
        r.detail
    ];
    Ok(conn
        .prepare_cached(include_str!("cron_run_insert.sql"))?
        .query_row(params, |row| row.get(0))?)
}

fn lock_acquire(conn: &Connection, p: &LockAcquireParams) -> Result<bool> {
    let params = params![p.name, p.holder, micros(p.now), micros(p.until)];
    Ok(execute(conn, include_str!("lock_acquire.sql"), params)? == 1)
}

fn lock_release(conn: &Connection, name: &str, holder: &str) -> Result<bool> {
    let params = params![name, holder];
    Ok(execute(conn, include_str!("lock_release.sql"), params)? == 1)
}

fn tick_record(conn: &Connection, at: Timestamp) -> Result<()> {
    let params = params![LAST_TICK, micros(at)];
    execute(conn, include_str!("tick_record.sql"), params).map(drop)
}

impl OpsStore for SqliteStore {
    async fn cron_run_insert(&self, record: CronRunRecord) -> Result<i64> {
        self.writer.call(move |c| cron_run_insert(c, &record)).await
    }

    async fn cron_run_list(&self, before: Option<i64>, limit: u32) -> Result<Vec<CronRun>> {
        let rows = sqlx::query(include_str!("cron_run_list.sql"))
            .bind(before)
            .bind(cron_run_limit(limit))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(cron_run_from_row).collect()
    }

    async fn lock_acquire(&self, p: LockAcquireParams) -> Result<bool> {
        self.writer.call(move |c| lock_acquire(c, &p)).await
    }

    async fn lock_release(&self, name: &str, holder: &str) -> Result<bool> {
        let (name, holder) = (name.to_owned(), holder.to_owned());
        self.writer
            .call(move |c| lock_release(c, &name, &holder))
            .await
    }

    async fn tick_record(&self, at: Timestamp) -> Result<()> {
        self.writer.call(move |c| tick_record(c, at)).await
    }

    async fn tick_last(&self) -> Result<Option<Timestamp>> {
        let us: Option<i64> = sqlx::query_scalar(include_str!("tick_last.sql"))
            .bind(LAST_TICK)
            .fetch_optional(&self.read)
            .await?;
        opt_from_micros(us)
    }

    async fn job_oldest_waiting(&self, now: Timestamp) -> Result<Option<Timestamp>> {
        let us: Option<i64> = sqlx::query_scalar(include_str!("job_oldest_waiting.sql"))
            .bind(micros(now))
            .fetch_one(&self.read)
            .await?;
        opt_from_micros(us)
    }
}
