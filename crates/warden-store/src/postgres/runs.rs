//! The run history on PostgreSQL: one row per attempt.

use warden_core::{JobId, Scope};

use super::PgStore;
use crate::{
    model::*,
    rows::{run_from_row, run_summary_from_row},
    store::Result,
};

pub(super) async fn run_list_by_job(
    store: &PgStore,
    job_id: JobId,
    scope: Scope,
) -> Result<Vec<RunSummary>> {
    let rows = sqlx::query(include_str!("run_list_by_job.sql"))
        .bind(job_id.as_uuid())
        .bind(scope.owner())
        .fetch_all(&store.pool)
        .await?;
    rows.iter().map(run_summary_from_row).collect()
}

pub(super) async fn run_get(store: &PgStore, id: i64, scope: Scope) -> Result<Run> {
    let row = sqlx::query(include_str!("run_get.sql"))
        .bind(id)
        .bind(scope.owner())
        .fetch_one(&store.pool)
        .await?;
    run_from_row(&row)
}

pub(super) async fn run_list_by_schedule(
    store: &PgStore,
    f: ScheduleRunFilter,
) -> Result<Vec<RunSummary>> {
    let rows = sqlx::query(include_str!("run_list_by_schedule.sql"))
        .bind(f.schedule_id.as_uuid())
        .bind(f.scope.owner())
        .bind(f.before)
        .bind(
            Page {
                limit: f.limit,
                after: None,
            }
            .limit(),
        )
        .fetch_all(&store.pool)
        .await?;
    rows.iter().map(run_summary_from_row).collect()
}
