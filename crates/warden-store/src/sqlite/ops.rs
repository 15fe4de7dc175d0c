//! The `/cron/run` history, named locks and scheduler health on SQLite: writes on the
//! writer's connection (rusqlite), reads on the read pool.

use jiff::Timestamp;
use rusqlite::{Connection, params};

use super::{
    SqliteStore,
    writer::{Write, Written},
    writes::execute,
};
use crate::{
    StoreError,
    convert::{micros, opt_from_micros},
    model::*,
    rows_ops::cron_run_from_row,
    store::Result,
    store_ops::OpsStore,
};

/// A write to the cron-run history, the locks or the scheduler state.
pub(super) enum OpsWrite {
    CronRunInsert(Box<CronRunRecord>),
    LockAcquire {
        name: String,
        holder: String,
        now: Timestamp,
        until: Timestamp,
    },
    LockRelease {
        name: String,
        holder: String,
    },
    TickRecord(Timestamp),
}

pub(super) fn perform(conn: &Connection, write: OpsWrite) -> Result<Written> {
    Ok(match write {
        OpsWrite::CronRunInsert(r) => {
            let id = conn
                .prepare_cached(include_str!("cron_run_insert.sql"))?
                .query_row(
                    params![
                        micros(r.at),
                        r.outcome,
                        r.duration_ms,
                        r.fired,
                        r.skipped,
                        r.missed,
                        r.dispatched,
                        r.client_ip,
                        r.user_agent,
                        r.request_id,
                        r.detail
                    ],
                    |row| row.get(0),
                )?;
            Written::Id(id)
        }
        OpsWrite::LockAcquire {
            name,
            holder,
            now,
            until,
        } => {
            let params = params![name, holder, micros(now), micros(until)];
            Written::Flag(execute(conn, include_str!("lock_acquire.sql"), params)? == 1)
        }
        OpsWrite::LockRelease { name, holder } => {
            let params = params![name, holder];
            Written::Flag(execute(conn, include_str!("lock_release.sql"), params)? == 1)
        }
        OpsWrite::TickRecord(at) => {
            let params = params![LAST_TICK, micros(at)];
            execute(conn, include_str!("tick_record.sql"), params)?;
            Written::Done
        }
    })
}

impl SqliteStore {
    async fn ops_flag(&self, write: OpsWrite) -> Result<bool> {
        match self.writer.call(Write::Ops(write)).await? {
            Written::Flag(v) => Ok(v),
            _ => Err(StoreError::Corrupt(
                "the SQLite writer answered with the wrong kind".into(),
            )),
        }
    }
}

impl OpsStore for SqliteStore {
    async fn cron_run_insert(&self, record: CronRunRecord) -> Result<i64> {
        let write = Write::Ops(OpsWrite::CronRunInsert(Box::new(record)));
        match self.writer.call(write).await? {
            Written::Id(id) => Ok(id),
            _ => Err(StoreError::Corrupt(
                "the SQLite writer answered with the wrong kind".into(),
            )),
        }
    }

    async fn cron_run_list(&self, before: Option<i64>, limit: u32) -> Result<Vec<CronRun>> {
        let rows = sqlx::query(include_str!("cron_run_list.sql"))
            .bind(before)
            .bind(cron_run_limit(limit))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(cron_run_from_row).collect()
    }

    async fn lock_acquire(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool> {
        self.ops_flag(OpsWrite::LockAcquire {
            name: name.to_owned(),
            holder: holder.to_owned(),
            now,
            until,
        })
        .await
    }

    async fn lock_release(&self, name: &str, holder: &str) -> Result<bool> {
        self.ops_flag(OpsWrite::LockRelease {
            name: name.to_owned(),
            holder: holder.to_owned(),
        })
        .await
    }

    async fn tick_record(&self, at: Timestamp) -> Result<()> {
        self.done(Write::Ops(OpsWrite::TickRecord(at))).await
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
