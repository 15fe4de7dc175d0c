//! `/api/v1/schedules`: create, list, get, replace, pause, resume, trigger now, delete,
//! the next fire times, and the occurrence ledger.

use std::time::Duration;

use axum::{Json, extract::State};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use warden_core::{DstPolicy, ParseError, Permission, ScheduleId};
use warden_engine::{CronRequest, JobRequest};
use warden_store::{OccurrencePage, Store, StoreError};

use super::{
    Created, PageQuery, created,
    jobs::{default_queue, parse_priority},
    ok, page,
};
use crate::{
    AppState,
    auth::Caller,
    envelope::{Data, Page},
    error::ApiError,
    extract::{AppJson, AppPath, AppQuery},
    openapi::{BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType},
    views::{
        FireTime, JobRef, OccurrenceView, ScheduleDeleted, SchedulePaused, ScheduleSummaryView,
        ScheduleView, any_value_schema, nullable_fold_schema, nullable_gap_schema,
        nullable_missed_schema, nullable_overlap_schema, nullable_priority_schema,
    },
};

/// What to do with fire times that daylight-saving changes skip or repeat.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewDstPolicy)]
pub(crate) struct DstBody {
    /// A fire time a spring-forward skips: `shift` (default) fires after the gap,
    /// `skip` does not fire.
    #[schema(schema_with = nullable_gap_schema)]
    gap: Option<String>,
    /// A fire time a fall-back repeats: fire at the `first` (default), the `last` or
    /// `both`.
    #[schema(schema_with = nullable_fold_schema)]
    fold: Option<String>,
}

/// A schedule to create or the full replacement of one. Unknown fields are refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(
    as = NewSchedule,
    example = json!({"name": "nightly-report", "cron": "0 3 * * *", "timezone": "Europe/Paris", "jobType": "warden.noop", "missed": "latest"})
)]
pub(crate) struct ScheduleBody {
    /// Unique among the owner's schedules: 1 to 200 printable characters.
    #[schema(min_length = 1, max_length = 200)]
    pub(crate) name: String,
    /// A cron expression (5 to 7 fields, or a nickname such as `@daily`).
    pub(crate) cron: String,
    /// IANA time zone (default `UTC`).
    pub(crate) timezone: Option<String>,
    #[schema(nullable)]
    pub(crate) dst: Option<DstBody>,
    /// The job type each occurrence enqueues.
    #[schema(pattern = r"^[A-Za-z0-9._:-]{1,128}$")]
    pub(crate) job_type: String,
    /// The payload of each job (default `null`).
    #[serde(default)]
    #[schema(schema_with = any_value_schema)]
    pub(crate) data: Value,
    /// A declared queue (default `default`).
    #[serde(default = "default_queue")]
    #[schema(pattern = r"^[A-Za-z0-9._:-]{1,64}$")]
    pub(crate) queue_name: String,
    #[schema(schema_with = nullable_priority_schema)]
    pub(crate) priority: Option<String>,
    /// Attempts before a job is dead (default 5).
    #[schema(minimum = 1, maximum = 100)]
    pub(crate) max_attempts: Option<i64>,
    /// How long one attempt may run, 1 ms to 24 h (default 300000).
    #[schema(minimum = 1, maximum = 86_400_000)]
    pub(crate) timeout_ms: Option<i64>,
    /// `allow`, `forbid` (default) or `replace`.
    #[schema(schema_with = nullable_overlap_schema)]
    pub(crate) overlap: Option<String>,
    /// `skip`, `latest` (default) or `all`.
    #[schema(schema_with = nullable_missed_schema)]
    pub(crate) missed: Option<String>,
    /// How far back `missed: all` catches up, at most 604800 (7 days; default 3600).
    #[schema(maximum = 604_800)]
    pub(crate) catch_up_secs: Option<u64>,
    #[serde(default)]
    pub(crate) paused: bool,
}

impl ScheduleBody {
    pub(crate) fn into_request(self) -> Result<CronRequest, ApiError> {
        let bad = |e: ParseError| ApiError::bad_request(e.to_string());
        let mut r = CronRequest::new(&self.name, &self.cron, &self.job_type);
        if let Some(tz) = self.timezone {
            r.timezone = tz;
        }
        let dst = self.dst.unwrap_or_default();
        r.dst = DstPolicy {
            gap: dst
                .gap
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(bad)?
                .unwrap_or_default(),
            fold: dst
                .fold
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(bad)?
                .unwrap_or_default(),
        };
        let mut job = JobRequest::new(&self.job_type, self.data, &self.queue_name)
            .priority(parse_priority(self.priority.as_deref())?);
        job.max_attempts = self.max_attempts;
        job.timeout_ms = self.timeout_ms;
        r.job = job;
        if let Some(o) = self.overlap {
            r.overlap = o.parse().map_err(bad)?;
        }
        if let Some(m) = self.missed {
            r.missed = m.parse().map_err(bad)?;
        }
        if let Some(secs) = self.catch_up_secs {
            r.catch_up = Duration::from_secs(secs);
        }
        r.paused = self.paused;
        Ok(r)
    }
}

fn schedule_id(s: &str) -> Result<ScheduleId, ApiError> {
    s.parse::<ScheduleId>()
        .map_err(|_| ApiError::bad_request("invalid schedule id: expected a UUID"))
}

fn missing(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::not_found("schedule"),
        e => e.into(),
    }
}

/// `POST /api/v1/schedules`: 201 with the schedule.
#[utoipa::path(
    post,
    path = "/api/v1/schedules",
    tag = "schedules",
    request_body = ScheduleBody,
    responses(
        (status = 201, description = "The schedule was created.", body = Data<ScheduleView>,
            links(
                ("GetSchedule" = (operation_id = "get_schedule", parameters(("id" = "$response.body#/data/id")))),
                ("UpdateSchedule" = (operation_id = "update_schedule", parameters(("id" = "$response.body#/data/id")))),
                ("DeleteSchedule" = (operation_id = "delete_schedule", parameters(("id" = "$response.body#/data/id")))),
                ("PauseSchedule" = (operation_id = "pause_schedule", parameters(("id" = "$response.body#/data/id")))),
                ("ResumeSchedule" = (operation_id = "resume_schedule", parameters(("id" = "$response.body#/data/id")))),
                ("TriggerSchedule" = (operation_id = "trigger_schedule", parameters(("id" = "$response.body#/data/id")))),
                ("NextFireTimes" = (operation_id = "next_fire_times", parameters(("id" = "$response.body#/data/id")))),
                ("ListOccurrences" = (operation_id = "list_occurrences", parameters(("id" = "$response.body#/data/id")))),
            )
        ),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub(crate) async fn create_schedule<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppJson(body): AppJson<ScheduleBody>,
) -> Result<Created<ScheduleView>, ApiError> {
    caller.require(Permission::SchedulesWrite)?;
    let id = state
        .scheduler
        .add_cron_as(&caller.actor(), body.into_request()?)
        .await?;
    let s = state
        .store
        .schedule_get(id, caller.principal.scope())
        .await?;
    Ok(created(ScheduleView::new(&s, false)))
}

/// `GET /api/v1/schedules?limit=&after=`: in creation order.
#[utoipa::path(
    get,
    path = "/api/v1/schedules",
    tag = "schedules",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of the caller's schedules (every owner's for roles that see all), oldest first, without the job payloads (`GET /api/v1/schedules/{id}` has the payload).", body = Page<ScheduleSummaryView>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
    )
)]
pub(crate) async fn list_schedules<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppQuery(q): AppQuery<PageQuery>,
) -> Result<Json<Page<ScheduleSummaryView>>, ApiError> {
    caller.require(Permission::SchedulesRead)?;
    let limit = q.limit();
    let after = q
        .after
        .as_deref()
        .map(schedule_id)
        .transpose()?
        .map(|s| s.as_uuid());
    let list = state
        .store
        .schedule_list(
            warden_store::Page { limit, after },
            caller.principal.scope(),
        )
        .await?;
    let next = (list.len() == limit as usize)
        .then(|| list.last().map(|s| s.id.to_string()))
        .flatten();
    Ok(page(
        list.iter().map(ScheduleSummaryView::new).collect(),
        next,
    ))
}

/// `GET /api/v1/schedules/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/schedules/{id}",
    tag = "schedules",
    params(("id" = Uuid, Path, description = "The schedule's id.")),
    responses(
        (status = 200, description = "The schedule.", body = Data<ScheduleView>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(crate) async fn get_schedule<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<Data<ScheduleView>>, ApiError> {
    caller.require(Permission::SchedulesRead)?;
    let s = state
        .store
        .schedule_get(schedule_id(&id)?, caller.principal.scope())
        .await
        .map_err(missing)?;
    Ok(ok(ScheduleView::new(
        &s,
        caller.principal.role.redacts_payloads(),
    )))
}

/// `PUT /api/v1/schedules/{id}`: replaces the definition; the next fire time is
/// recomputed from now and the ledger is kept.
#[utoipa::path(
    put,
    path = "/api/v1/schedules/{id}",
    tag = "schedules",
    params(("id" = Uuid, Path, description = "The schedule's id.")),
    request_body = ScheduleBody,
    responses(
        (status = 200, description = "The schedule as replaced.", body = Data<ScheduleView>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub(crate) async fn update_schedule<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
    AppJson(body): AppJson<ScheduleBody>,
) -> Result<Json<Data<ScheduleView>>, ApiError> {
    caller.require(Permission::SchedulesWrite)?;
    let s = state
        .scheduler
        .update_schedule_as(&caller.actor(), schedule_id(&id)?, body.into_request()?)
        .await?;
    Ok(ok(ScheduleView::new(&s, false)))
}

async fn set_paused<S: Store>(
    state: AppState<S>,
    caller: Caller,
    id: String,
    paused: bool,
) -> Result<Json<Data<SchedulePaused>>, ApiError> {
    caller.require(Permission::SchedulesWrite)?;
    let id = schedule_id(&id)?;
    state
        .scheduler
        .set_schedule_paused_as(&caller.actor(), id, paused)
        .await?;
    Ok(ok(SchedulePaused {
        schedule_id: id.as_uuid(),
        paused,
    }))
}

/// `POST /api/v1/schedules/{id}/pause`: no more occurrences run until it is resumed
/// (they are recorded as `skipped:paused`).
#[utoipa::path(
    post,
    path = "/api/v1/schedules/{id}/pause",
    tag = "schedules",
    params(("id" = Uuid, Path, description = "The schedule's id.")),
    responses(
        (status = 200, description = "The schedule is paused.", body = Data<SchedulePaused>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(crate) async fn pause_schedule<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<Data<SchedulePaused>>, ApiError> {
    set_paused(state, caller, id, true).await
}

/// `POST /api/v1/schedules/{id}/resume`.
#[utoipa::path(
    post,
    path = "/api/v1/schedules/{id}/resume",
    tag = "schedules",
    params(("id" = Uuid, Path, description = "The schedule's id.")),
    responses(
        (status = 200, description = "The schedule runs again.", body = Data<SchedulePaused>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(crate) async fn resume_schedule<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<Data<SchedulePaused>>, ApiError> {
    set_paused(state, caller, id, false).await
}

/// `POST /api/v1/schedules/{id}/trigger`: runs the schedule's job now (201 with its id).
#[utoipa::path(
    post,
    path = "/api/v1/schedules/{id}/trigger",
    tag = "schedules",
    params(("id" = Uuid, Path, description = "The schedule's id.")),
    responses(
        (status = 201, description = "A job was enqueued now.", body = Data<JobRef>,
            links(
                ("GetJob" = (operation_id = "get_job", parameters(("id" = "$response.body#/data/jobId")))),
            )
        ),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    )
)]
pub(crate) async fn trigger_schedule<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> Result<Created<JobRef>, ApiError> {
    caller.require(Permission::SchedulesWrite)?;
    let job = state
        .scheduler
        .trigger_schedule_as(&caller.actor(), schedule_id(&id)?)
        .await?;
    Ok(created(JobRef {
        job_id: job.as_uuid(),
    }))
}

/// `DELETE /api/v1/schedules/{id}`: the schedule and its ledger; jobs it enqueued stay.
#[utoipa::path(
    delete,
    path = "/api/v1/schedules/{id}",
    tag = "schedules",
    params(("id" = Uuid, Path, description = "The schedule's id.")),
    responses(
        (status = 200, description = "The schedule is deleted.", body = Data<ScheduleDeleted>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(crate) async fn delete_schedule<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<Data<ScheduleDeleted>>, ApiError> {
    caller.require(Permission::SchedulesWrite)?;
    let id = schedule_id(&id)?;
    state
        .scheduler
        .delete_schedule_as(&caller.actor(), id)
        .await?;
    Ok(ok(ScheduleDeleted {
        schedule_id: id.as_uuid(),
        deleted: true,
    }))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct NextQuery {
    /// How many fire times: 5 by default, at most 100.
    n: Option<usize>,
}

/// `GET /api/v1/schedules/{id}/next?n=5`: the next fire times (at most 100).
#[utoipa::path(
    get,
    path = "/api/v1/schedules/{id}/next",
    tag = "schedules",
    params(("id" = Uuid, Path, description = "The schedule's id."), NextQuery),
    responses(
        (status = 200, description = "The next fire times from now, soonest first.", body = Data<Vec<FireTime>>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(crate) async fn next_fire_times<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
    AppQuery(q): AppQuery<NextQuery>,
) -> Result<Json<Data<Vec<FireTime>>>, ApiError> {
    caller.require(Permission::SchedulesRead)?;
    let s = state
        .store
        .schedule_get(schedule_id(&id)?, caller.principal.scope())
        .await
        .map_err(missing)?;
    let n = q.n.unwrap_or(5).clamp(1, 100);
    let times = s
        .cron
        .upcoming(Timestamp::now(), n)
        .into_iter()
        .map(|t| FireTime {
            utc: t,
            local: t.to_zoned(s.cron.time_zone().clone()).to_string(),
        })
        .collect();
    Ok(ok(times))
}

/// `?limit=&after=` on a schedule's occurrences: the cursor is a time, not an id.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct OccurrenceQuery {
    /// Page size: 100 by default, at most 500.
    limit: Option<u32>,
    /// Cursor: the `nextCursor` of the previous page (the last `scheduledAt` it held).
    after: Option<String>,
}

/// `GET /api/v1/schedules/{id}/occurrences?limit=&after=`: the ledger, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/schedules/{id}/occurrences",
    tag = "schedules",
    params(("id" = Uuid, Path, description = "The schedule's id."), OccurrenceQuery),
    responses(
        (status = 200, description = "A page of the schedule's occurrences, oldest first.", body = Page<OccurrenceView>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(crate) async fn list_occurrences<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
    AppQuery(q): AppQuery<OccurrenceQuery>,
) -> Result<Json<Page<OccurrenceView>>, ApiError> {
    caller.require(Permission::SchedulesRead)?;
    let id = schedule_id(&id)?;
    let after = q
        .after
        .as_deref()
        .map(|a| {
            a.parse::<Timestamp>().map_err(|_| {
                ApiError::bad_request(
                    "invalid `after`: expected the `nextCursor` of the previous page (an RFC 3339 time)",
                )
            })
        })
        .transpose()?;
    let scope = caller.principal.scope();
    state
        .store
        .schedule_get(id, scope.clone())
        .await
        .map_err(missing)?;
    let limit = PageQuery {
        limit: q.limit,
        after: None,
    }
    .limit();
    let list = state
        .store
        .occurrence_list(id, scope, OccurrencePage { limit, after })
        .await?;
    let next = (list.len() == limit as usize)
        .then(|| list.last().map(|o| o.scheduled_at.to_string()))
        .flatten();
    Ok(page(list.iter().map(OccurrenceView::new).collect(), next))
}
