//! `GET /api/v1/health/scheduler`: is scheduling alive — the last tick (of the internal loop
//! or `/cron/run`, from any process), overdue occurrences, the backlog and the oldest
//! waiting job; and `GET /api/v1/cron-runs`: the record of every `/cron/run` call.
//! Both for admins and viewers (they span every owner).

use axum::{Json, extract::State};
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use utoipa::IntoParams;
use warden_core::Permission;
use warden_store::Store;

use super::{MAX_PAGE, ok, page};
use crate::{
    AppState,
    auth::Caller,
    envelope::{Data, Page},
    error::ApiError,
    extract::AppQuery,
    openapi::{BadRequest, Forbidden},
    views::{BacklogView, CronRunView, SchedulerHealthView},
};

/// `GET /api/v1/health/scheduler`.
#[utoipa::path(
    get,
    path = "/api/v1/health/scheduler",
    tag = "health",
    responses(
        (status = 200, description = "The scheduler's health; `late: true` when scheduling has stopped or fallen behind (the status is 200 either way: read `late`).", body = Data<SchedulerHealthView>),
        (status = 403, response = Forbidden),
    )
)]
pub(crate) async fn get_scheduler_health<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
) -> Result<Json<Data<SchedulerHealthView>>, ApiError> {
    caller.require(Permission::SchedulerRead)?;
    let now = Timestamp::now();
    let late_after = state.late_after;
    let threshold = SignedDuration::try_from(late_after).unwrap_or(SignedDuration::MAX);
    let last_tick = state.store.tick_last().await?;
    let next_fire = state.store.schedule_next_fire_at().await?;
    let oldest_waiting = state.store.job_oldest_waiting(now).await?;
    // Cached for a few seconds and shared with /metrics: no GROUP BY per probe.
    let backlog = state.scheduler.job_counts().await?;

    let age = |at: Timestamp| now.duration_since(at).max(SignedDuration::ZERO);
    let mut reasons = Vec::new();
    // The last tick is the latest any process recorded, by its own clock: one that is
    // ahead would hide a stall for as long, so a tick from the future is reported.
    let skew = SignedDuration::from_secs(5);
    match last_tick {
        None => reasons.push("no scheduler tick has been recorded yet".to_owned()),
        Some(at) if at.duration_since(now) > skew => reasons.push(format!(
            "the last tick was recorded {} s in the future: a warden process's clock is ahead, so a stall could not be seen; fix the clocks (NTP)",
            at.duration_since(now).as_secs()
        )),
        Some(at) if age(at) > threshold => reasons.push(format!(
            "no scheduler tick for {} s (threshold {} s)",
            age(at).as_secs(),
            late_after.as_secs()
        )),
        Some(_) => {}
    }
    let overdue = next_fire.filter(|at| age(*at) > threshold);
    if let Some(at) = overdue {
        reasons.push(format!(
            "an occurrence due at {at} is still not accounted for ({} s overdue)",
            age(at).as_secs()
        ));
    }
    Ok(ok(SchedulerHealthView {
        late: !reasons.is_empty(),
        reasons,
        now,
        last_tick_at: last_tick,
        seconds_since_tick: last_tick.map(|at| age(at).as_secs()),
        late_after_secs: late_after.as_secs(),
        oldest_overdue_occurrence: overdue,
        backlog: backlog
            .iter()
            .map(|c| BacklogView {
                queue: c.queue.to_string(),
                state: c.state.as_str().to_owned(),
                count: c.count,
            })
            .collect(),
        oldest_waiting_job_at: oldest_waiting,
        oldest_waiting_job_age_secs: oldest_waiting.map(|at| age(at).as_secs_f64()),
    }))
}

/// `?before=&limit=` on the cron-run list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct CronRunQuery {
    /// Cursor: records older than this id (the `nextCursor` of the previous page).
    before: Option<i64>,
    /// Page size: 100 by default, at most 500.
    limit: Option<u32>,
}

/// `GET /api/v1/cron-runs`: newest first.
#[utoipa::path(
    get,
    path = "/api/v1/cron-runs",
    tag = "health",
    params(CronRunQuery),
    responses(
        (status = 200, description = "A page of `/cron/run` calls, refused ones included, newest first.", body = Page<CronRunView>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
    )
)]
pub(crate) async fn list_cron_runs<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppQuery(q): AppQuery<CronRunQuery>,
) -> Result<Json<Page<CronRunView>>, ApiError> {
    caller.require(Permission::SchedulerRead)?;
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let runs = state.store.cron_run_list(q.before, limit).await?;
    let next = (runs.len() == limit as usize)
        .then(|| runs.last().map(|r| r.id.to_string()))
        .flatten();
    Ok(page(runs.iter().map(CronRunView::new).collect(), next))
}
