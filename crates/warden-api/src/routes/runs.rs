//! `/api/v1/runs`: run records (one per attempt) by job or by schedule, and one by id.

use axum::{Json, extract::State};
use serde::Deserialize;
use utoipa::IntoParams;
use warden_core::{JobId, Permission, ScheduleId};
use warden_store::{ScheduleRunFilter, Store, StoreError};

use super::{MAX_PAGE, ok, page};
use crate::{
    AppState,
    auth::Caller,
    envelope::{Data, Page},
    error::ApiError,
    extract::{AppPath, AppQuery},
    openapi::{BadRequest, Forbidden, NotFound},
    views::{RunSummaryView, RunView},
};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct RunListQuery {
    /// The runs of this job (oldest first). Give `job` or `schedule`.
    #[param(value_type = Option<Uuid>)]
    job: Option<String>,
    /// The runs of this schedule's jobs (newest first).
    #[param(value_type = Option<Uuid>)]
    schedule: Option<String>,
    /// Cursor for `schedule`: the `nextCursor` of the previous page (a run id).
    before: Option<i64>,
    /// Page size for `schedule`: 100 by default, at most 500.
    limit: Option<u32>,
}

fn not_found(what: &'static str) -> impl Fn(StoreError) -> ApiError {
    move |e| match e {
        StoreError::NotFound => ApiError::not_found(what),
        e => e.into(),
    }
}

/// `GET /api/v1/runs?job=ID` or `?schedule=ID&before=&limit=`.
#[utoipa::path(
    get,
    path = "/api/v1/runs",
    tag = "runs",
    params(RunListQuery),
    responses(
        (status = 200, description = "Runs of the job (oldest first) or of the schedule's jobs (newest first, paged), without outputs (`GET /api/v1/runs/{id}` has the output).", body = Page<RunSummaryView>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(crate) async fn list_runs<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppQuery(q): AppQuery<RunListQuery>,
) -> Result<Json<Page<RunSummaryView>>, ApiError> {
    caller.require(Permission::JobsRead)?;
    let scope = caller.principal.scope();
    let redacted = caller.principal.role.redacts_payloads();
    match (q.job.as_deref(), q.schedule.as_deref()) {
        (Some(job), None) => {
            let id: JobId = job
                .parse()
                .map_err(|_| ApiError::bad_request("invalid `job`: expected a job id (UUID)"))?;
            state
                .store
                .job_get(id, scope.clone())
                .await
                .map_err(not_found("job"))?;
            let runs = state.store.run_list_by_job(id, scope).await?;
            Ok(page(
                runs.iter()
                    .map(|r| RunSummaryView::new(r, redacted))
                    .collect(),
                None,
            ))
        }
        (None, Some(schedule)) => {
            let id: ScheduleId = schedule.parse().map_err(|_| {
                ApiError::bad_request("invalid `schedule`: expected a schedule id (UUID)")
            })?;
            state
                .store
                .schedule_get(id, scope.clone())
                .await
                .map_err(not_found("schedule"))?;
            let limit = q.limit.unwrap_or(100).clamp(1, MAX_PAGE);
            let runs = state
                .store
                .run_list_by_schedule(ScheduleRunFilter {
                    schedule_id: id,
                    scope,
                    before: q.before,
                    limit,
                })
                .await?;
            let next = (runs.len() == limit as usize)
                .then(|| runs.last().map(|r| r.id.to_string()))
                .flatten();
            Ok(page(
                runs.iter()
                    .map(|r| RunSummaryView::new(r, redacted))
                    .collect(),
                next,
            ))
        }
        _ => Err(ApiError::bad_request(
            "give exactly one of `job` (a job id) or `schedule` (a schedule id)",
        )),
    }
}

/// `GET /api/v1/runs/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/runs/{id}",
    tag = "runs",
    params(("id" = i64, Path, description = "The run's id.")),
    responses(
        (status = 200, description = "The run.", body = Data<RunView>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(crate) async fn get_run<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<Data<RunView>>, ApiError> {
    caller.require(Permission::JobsRead)?;
    let id: i64 = id
        .parse()
        .ok()
        .filter(|i| *i > 0)
        .ok_or_else(|| ApiError::bad_request("invalid run id: expected a positive integer"))?;
    let run = state
        .store
        .run_get(id, caller.principal.scope())
        .await
        .map_err(not_found("run"))?;
    Ok(ok(RunView::new(
        &run,
        caller.principal.role.redacts_payloads(),
    )))
}
