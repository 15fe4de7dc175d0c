//! `/api/v1/schedules`: create, list, get, replace, pause, resume, trigger now, delete,
//! the next fire times, and the occurrence ledger.

use std::time::Duration;

use axum::{Json, extract::State, http::StatusCode};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};
use warden_core::{DstPolicy, ParseError, Permission, ScheduleId};
use warden_engine::{CronRequest, JobRequest};
use warden_store::{Page, Store, StoreError};

use super::{
    PageQuery, created,
    jobs::{default_queue, parse_priority},
    ok, page,
};
use crate::{
    AppState,
    auth::Caller,
    error::ApiError,
    extract::{AppJson, AppPath, AppQuery},
    views,
};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DstBody {
    gap: Option<String>,
    fold: Option<String>,
}

/// A schedule to create or the full replacement of one. Unknown fields are refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct ScheduleBody {
    pub(crate) name: String,
    pub(crate) cron: String,
    pub(crate) timezone: Option<String>,
    pub(crate) dst: Option<DstBody>,
    pub(crate) job_type: String,
    #[serde(default)]
    pub(crate) data: Value,
    #[serde(default = "default_queue")]
    pub(crate) queue_name: String,
    pub(crate) priority: Option<String>,
    pub(crate) max_attempts: Option<i64>,
    pub(crate) timeout_ms: Option<i64>,
    /// `allow`, `forbid` (default) or `replace`.
    pub(crate) overlap: Option<String>,
    /// `skip`, `latest` (default) or `all`.
    pub(crate) missed: Option<String>,
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

pub(crate) async fn create_schedule<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppJson(body): AppJson<ScheduleBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Permission::SchedulesWrite)?;
    let id = state
        .scheduler
        .add_cron_as(&caller.actor(), body.into_request()?)
        .await?;
    let s = state
        .store
        .schedule_get(id, caller.principal.scope())
        .await?;
    Ok(created(views::schedule(&s, false)))
}

pub(crate) async fn list_schedules<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppQuery(q): AppQuery<PageQuery>,
) -> Result<Json<Value>, ApiError> {
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
        .schedule_list(Page { limit, after }, caller.principal.scope())
        .await?;
    let next = (list.len() == limit as usize)
        .then(|| list.last().map(|s| s.id.to_string()))
        .flatten();
    let redacted = caller.principal.role.redacts_payloads();
    Ok(page(
        list.iter().map(|s| views::schedule(s, redacted)).collect(),
        next,
    ))
}

pub(crate) async fn get_schedule<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::SchedulesRead)?;
    let s = state
        .store
        .schedule_get(schedule_id(&id)?, caller.principal.scope())
        .await
        .map_err(missing)?;
    Ok(ok(views::schedule(
        &s,
        caller.principal.role.redacts_payloads(),
    )))
}

/// `PUT /api/v1/schedules/{id}`: replaces the definition; the next fire time is
/// recomputed from now and the ledger is kept.
pub(crate) async fn update_schedule<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
    AppJson(body): AppJson<ScheduleBody>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::SchedulesWrite)?;
    let s = state
        .scheduler
        .update_schedule_as(&caller.actor(), schedule_id(&id)?, body.into_request()?)
        .await?;
    Ok(ok(views::schedule(&s, false)))
}

async fn set_paused<S: Store>(
    state: AppState<S>,
    caller: Caller,
    id: String,
    paused: bool,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::SchedulesWrite)?;
    let id = schedule_id(&id)?;
    state
        .scheduler
        .set_schedule_paused_as(&caller.actor(), id, paused)
        .await?;
    Ok(ok(json!({"scheduleId": id, "paused": paused})))
}

pub(crate) async fn pause_schedule<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<Value>, ApiError> {
    set_paused(state, caller, id, true).await
}

pub(crate) async fn resume_schedule<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<Value>, ApiError> {
    set_paused(state, caller, id, false).await
}

/// `POST /api/v1/schedules/{id}/trigger`: runs the schedule's job now (201 with its id).
pub(crate) async fn trigger_schedule<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Permission::SchedulesWrite)?;
    let job = state
        .scheduler
        .trigger_schedule_as(&caller.actor(), schedule_id(&id)?)
        .await?;
    Ok(created(json!({"jobId": job})))
}

pub(crate) async fn delete_schedule<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::SchedulesWrite)?;
    let id = schedule_id(&id)?;
    state
        .scheduler
        .delete_schedule_as(&caller.actor(), id)
        .await?;
    Ok(ok(json!({"scheduleId": id, "deleted": true})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NextQuery {
    n: Option<usize>,
}

/// `GET /api/v1/schedules/{id}/next?n=5`: the next fire times (at most 100).
pub(crate) async fn next_fire_times<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
    AppQuery(q): AppQuery<NextQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::SchedulesRead)?;
    let s = state
        .store
        .schedule_get(schedule_id(&id)?, caller.principal.scope())
        .await
        .map_err(missing)?;
    let n = q.n.unwrap_or(5).clamp(1, 100);
    let times: Vec<Value> = s
        .cron
        .upcoming(Timestamp::now(), n)
        .into_iter()
        .map(|t| {
            json!({
                "utc": t,
                "local": t.to_zoned(s.cron.time_zone().clone()).to_string(),
            })
        })
        .collect();
    Ok(ok(Value::Array(times)))
}

/// `GET /api/v1/schedules/{id}/occurrences`: the ledger, oldest first.
pub(crate) async fn list_occurrences<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
    AppQuery(q): AppQuery<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::SchedulesRead)?;
    let id = schedule_id(&id)?;
    let scope = caller.principal.scope();
    state
        .store
        .schedule_get(id, scope.clone())
        .await
        .map_err(missing)?;
    let list = state
        .store
        .occurrence_list(
            id,
            scope,
            Page {
                limit: q.limit(),
                after: None,
            },
        )
        .await?;
    Ok(ok(Value::Array(
        list.iter().map(views::occurrence).collect(),
    )))
}
