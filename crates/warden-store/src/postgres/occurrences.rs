//! The occurrence ledger on PostgreSQL: recording a schedule's occurrences in one
//! transaction (the algorithm is `crate::ledger`; here are its statements), and reading
//! the ledger back.

use jiff::Timestamp;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;
use warden_core::{JobId, ScheduleId, Scope};

use super::{PgStore, access, job_insert::insert_jobs, quota};
use crate::{
    convert::micros,
    ledger::{self, LedgerTx},
    model::*,
    rows::occurrence_from_row,
    store::Result,
};

pub(super) async fn occurrence_record_many(
    store: &PgStore,
    batch: OccurrenceBatch,
) -> Result<Vec<Occurrence>> {
    let mut tx = PgLedger(store.pool.begin().await?);
    let queues: Vec<_> = batch
        .items
        .iter()
        .filter_map(|i| i.job.as_ref())
        .map(|j| j.queue.clone())
        .collect();
    let recorded = ledger::record(&mut tx, batch).await?;
    tx.0.commit().await?;
    if recorded.iter().any(|o| o.job_id.is_some()) {
        store.announce(queues.iter());
    }
    Ok(recorded)
}

pub(super) async fn occurrence_list(
    store: &PgStore,
    schedule_id: ScheduleId,
    scope: Scope,
    page: OccurrencePage,
) -> Result<Vec<Occurrence>> {
    let rows = sqlx::query(include_str!("occurrence_list.sql"))
        .bind(schedule_id.as_uuid())
        .bind(page.limit())
        .bind(scope.owner())
        .bind(page.after.map(micros))
        .fetch_all(&store.pool)
        .await?;
    rows.iter().map(occurrence_from_row).collect()
}

/// The occurrence ledger's statements inside one PostgreSQL transaction.
struct PgLedger(Transaction<'static, Postgres>);

impl LedgerTx for PgLedger {
    async fn advance(&mut self, batch: &OccurrenceBatch) -> Result<bool> {
        let moved = sqlx::query(include_str!("schedule_advance.sql"))
            .bind(batch.schedule_id.as_uuid())
            .bind(micros(batch.expected_next_fire_at))
            .bind(batch.new_next_fire_at.map(micros))
            .bind(micros(batch.now))
            .execute(&mut *self.0)
            .await?;
        Ok(moved.rows_affected() == 1)
    }

    async fn active_jobs(&mut self, batch: &OccurrenceBatch) -> Result<Vec<JobId>> {
        let ids: Vec<Uuid> = sqlx::query_scalar(include_str!("schedule_active_jobs.sql"))
            .bind(batch.schedule_id.as_uuid())
            .fetch_all(&mut *self.0)
            .await?;
        Ok(ids.into_iter().map(JobId::from_uuid).collect())
    }

    async fn cancel(&mut self, ids: &[JobId], now: Timestamp) -> Result<()> {
        let ids: Vec<Uuid> = ids.iter().map(JobId::as_uuid).collect();
        sqlx::query(include_str!("job_cancel_many.sql"))
            .bind(&ids)
            .bind(micros(now))
            .bind(None::<String>)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn insert_occurrence(&mut self, o: &Occurrence) -> Result<bool> {
        let inserted = sqlx::query(include_str!("occurrence_insert.sql"))
            .bind(o.schedule_id.as_uuid())
            .bind(micros(o.scheduled_at))
            .bind(o.outcome.as_str())
            .bind(o.job_id.map(|j| j.as_uuid()))
            .bind(micros(o.recorded_at))
            .execute(&mut *self.0)
            .await?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn insert_job(&mut self, job: &NewJob) -> Result<()> {
        insert_jobs(&mut self.0, std::slice::from_ref(job))
            .await
            .map(drop)
    }

    async fn active_count(&mut self, quota: &ActiveQuota) -> Result<i64> {
        // The owner's quota lock (taken again within one transaction is a no-op wait):
        // an insert of the owner's on another connection cannot slip past the count.
        quota::lock(&mut self.0, Some(quota)).await?;
        Ok(
            sqlx::query_scalar(include_str!("principal_active_count.sql"))
                .bind(quota.owner.as_str())
                .fetch_one(&mut *self.0)
                .await?,
        )
    }

    async fn set_blocked(&mut self, id: ScheduleId, reason: Option<&str>) -> Result<bool> {
        let changed = sqlx::query(include_str!("schedule_set_blocked.sql"))
            .bind(id.as_uuid())
            .bind(reason)
            .execute(&mut *self.0)
            .await?;
        Ok(changed.rows_affected() == 1)
    }

    async fn insert_audit(&mut self, record: &AuditRecord) -> Result<()> {
        access::audit_insert(&mut self.0, std::slice::from_ref(record)).await
    }
}
