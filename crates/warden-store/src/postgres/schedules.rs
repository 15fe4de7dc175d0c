//! Schedules on PostgreSQL: their definitions, pause and delete, and the due ones.

use jiff::Timestamp;
use sqlx::Postgres;
use warden_core::{ScheduleId, Scope};

use super::{PgStore, found, quota};
use crate::{
    convert::micros,
    model::*,
    rows::{due_schedule_from_row, schedule_from_row, schedule_summary_from_row},
    store::Result,
};

pub(super) async fn schedule_insert(store: &PgStore, p: ScheduleInsertParams) -> Result<()> {
    let ScheduleInsertParams {
        schedule: s,
        audit,
        quota,
    } = p;
    store
        .audited(audit, async |tx| {
            quota::lock(tx, quota.as_ref()).await?;
            bind_schedule(sqlx::query(include_str!("schedule_insert.sql")), &s)
                .execute(&mut *tx)
                .await?;
            quota::enforce(tx, quota.as_ref(), 1).await
        })
        .await
}

pub(super) async fn schedule_update(
    store: &PgStore,
    s: Schedule,
    scope: Scope,
    audit: Vec<AuditRecord>,
) -> Result<()> {
    store
        .audited(audit, async |tx| {
            let done = bind_schedule(sqlx::query(include_str!("schedule_update.sql")), &s)
                .bind(scope.owner())
                .execute(tx)
                .await?;
            found(done.rows_affected())
        })
        .await
}

pub(super) async fn schedule_get(
    store: &PgStore,
    id: ScheduleId,
    scope: Scope,
) -> Result<Schedule> {
    let row = sqlx::query(include_str!("schedule_get.sql"))
        .bind(id.as_uuid())
        .bind(scope.owner())
        .fetch_one(&store.pool)
        .await?;
    schedule_from_row(&row)
}

pub(super) async fn schedule_list(
    store: &PgStore,
    page: Page,
    scope: Scope,
) -> Result<Vec<ScheduleSummary>> {
    let rows = sqlx::query(include_str!("schedule_list.sql"))
        .bind(page.limit())
        .bind(scope.owner())
        .bind(page.after)
        .fetch_all(&store.pool)
        .await?;
    rows.iter().map(schedule_summary_from_row).collect()
}

pub(super) async fn schedule_set_paused(store: &PgStore, p: ScheduleSetPausedParams) -> Result<()> {
    store
        .audited(p.audit, async |tx| {
            let done = sqlx::query(include_str!("schedule_set_paused.sql"))
                .bind(p.id.as_uuid())
                .bind(p.paused)
                .bind(micros(p.now))
                .bind(p.scope.owner())
                .execute(tx)
                .await?;
            found(done.rows_affected())
        })
        .await
}

pub(super) async fn schedule_delete(
    store: &PgStore,
    id: ScheduleId,
    scope: Scope,
    audit: Vec<AuditRecord>,
) -> Result<()> {
    store
        .audited(audit, async |tx| {
            let done = sqlx::query(include_str!("schedule_delete.sql"))
                .bind(id.as_uuid())
                .bind(scope.owner())
                .execute(tx)
                .await?;
            found(done.rows_affected())
        })
        .await
}

pub(super) async fn schedule_due_many(
    store: &PgStore,
    now: Timestamp,
    ahead_until: Timestamp,
    limit: u32,
) -> Result<Vec<DueSchedule>> {
    let rows = sqlx::query(include_str!("schedule_due_many.sql"))
        .bind(micros(now))
        .bind(i64::from(limit))
        .bind(micros(ahead_until.max(now)))
        .fetch_all(&store.pool)
        .await?;
    rows.iter().map(due_schedule_from_row).collect()
}

pub(super) async fn schedule_next_fire_at(store: &PgStore) -> Result<Option<Timestamp>> {
    let us: Option<i64> = sqlx::query_scalar(include_str!("schedule_next_fire_at.sql"))
        .fetch_one(&store.pool)
        .await?;
    crate::convert::opt_from_micros(us)
}

/// Binds a schedule's 20 columns in the order of `schedule_insert.sql`.
pub(super) fn bind_schedule<'q>(
    q: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    s: &'q Schedule,
) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    q.bind(s.id.as_uuid())
        .bind(&s.name)
        .bind(s.owner.as_str())
        .bind(s.cron.expr())
        .bind(s.cron.tz_name())
        .bind(s.cron.dst().gap.as_str())
        .bind(s.cron.dst().fold.as_str())
        .bind(s.template.kind.as_str())
        .bind(s.template.queue.as_str())
        .bind(s.template.priority.rank())
        .bind(s.template.payload.as_bytes())
        .bind(s.template.max_attempts.get())
        .bind(s.template.timeout.as_millis())
        .bind(s.paused)
        .bind(s.overlap.as_str())
        .bind(s.missed.as_str())
        .bind(s.catch_up.as_duration().as_millis() as i64)
        .bind(s.next_fire_at.map(micros))
        .bind(micros(s.created_at))
        .bind(micros(s.updated_at))
}
