//! The occurrence ledger on PostgreSQL: recording a schedule's occurrences in one
//! transaction (the algorithm is `crate::ledger`; here are its statements), and reading
//! the ledger back.

use std::collections::HashSet;

use jiff::Timestamp;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;
use warden_core::{JobId, ScheduleId, Scope};

use super::{PgStore, access, job_insert::insert_jobs, quota};
use crate::{
    convert::{from_micros, micros},
    ledger::{self, CursorMove, LedgerTx, OccurrenceKey},
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

pub(super) async fn occurrence_record_plain(
    store: &PgStore,
    batches: Vec<OccurrenceBatch>,
) -> Result<Vec<Option<Vec<Occurrence>>>> {
    let mut tx = PgLedger(store.pool.begin().await?);
    let recorded = ledger::record_plain(&mut tx, &batches).await?;
    tx.0.commit().await?;
    // One announcement per queue that got a job, not one per job.
    let queues: HashSet<_> = batches
        .iter()
        .zip(&recorded)
        .filter(|(_, r)| {
            r.as_ref()
                .is_some_and(|r| r.iter().any(|o| o.job_id.is_some()))
        })
        .filter_map(|(b, _)| b.items.iter().find_map(|i| i.job.as_ref()))
        .map(|j| &j.queue)
        .collect();
    store.announce(queues.into_iter());
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
    async fn advance(&mut self, moves: &[CursorMove]) -> Result<HashSet<ScheduleId>> {
        if moves.is_empty() {
            return Ok(HashSet::new());
        }
        let ids: Vec<Uuid> = moves.iter().map(|m| m.id.as_uuid()).collect();
        let expected: Vec<i64> = moves.iter().map(|m| micros(m.expected)).collect();
        let new: Vec<Option<i64>> = moves.iter().map(|m| m.new.map(micros)).collect();
        let now: Vec<i64> = moves.iter().map(|m| micros(m.now)).collect();
        let clear: Vec<bool> = moves.iter().map(|m| m.clear_blocked).collect();
        let moved: Vec<Uuid> = sqlx::query_scalar(include_str!("schedule_advance.sql"))
            .bind(&ids)
            .bind(&expected)
            .bind(&new)
            .bind(&now)
            .bind(&clear)
            .fetch_all(&mut *self.0)
            .await?;
        Ok(moved.into_iter().map(ScheduleId::from_uuid).collect())
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

    async fn insert_occurrences(
        &mut self,
        occurrences: &[Occurrence],
    ) -> Result<HashSet<OccurrenceKey>> {
        if occurrences.is_empty() {
            return Ok(HashSet::new());
        }
        let schedules: Vec<Uuid> = occurrences
            .iter()
            .map(|o| o.schedule_id.as_uuid())
            .collect();
        let at: Vec<i64> = occurrences.iter().map(|o| micros(o.scheduled_at)).collect();
        let outcomes: Vec<&str> = occurrences.iter().map(|o| o.outcome.as_str()).collect();
        let jobs: Vec<Option<Uuid>> = occurrences
            .iter()
            .map(|o| o.job_id.map(|j| j.as_uuid()))
            .collect();
        let recorded: Vec<i64> = occurrences.iter().map(|o| micros(o.recorded_at)).collect();
        let rows: Vec<(Uuid, i64)> = sqlx::query_as(include_str!("occurrence_insert.sql"))
            .bind(&schedules)
            .bind(&at)
            .bind(&outcomes)
            .bind(&jobs)
            .bind(&recorded)
            .fetch_all(&mut *self.0)
            .await?;
        rows.into_iter()
            .map(|(id, at)| Ok((ScheduleId::from_uuid(id), from_micros(at)?)))
            .collect()
    }

    async fn insert_jobs(&mut self, jobs: &[NewJob]) -> Result<()> {
        insert_jobs(&mut self.0, jobs).await.map(drop)
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
