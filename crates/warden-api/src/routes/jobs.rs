//! `/api/v1/jobs`: create (one or a batch), get, list, cancel, retry, and a job's runs.

use std::time::Duration;

use axum::{Json, extract::State, http::StatusCode};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};
use warden_core::{JobId, ParseError, Permission, Priority, QueueName};
use warden_engine::JobRequest;
use warden_store::{JobFilter, Store};

use super::{PageQuery, created, ok, page};
use crate::{
    AppState,
    auth::Caller,
    error::ApiError,
    extract::{AppJson, AppPath, AppQuery},
    views,
};

/// A job to create. Unknown fields (`owner`, `state`, …) are refused, never applied.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct NewJobBody {
    pub(crate) job_type: String,
    #[serde(default)]
    pub(crate) data: Value,
    #[serde(default = "default_queue")]
    pub(crate) queue_name: String,
    #[serde(default)]
    pub(crate) priority: Option<String>,
    /// RFC 3339; or `delayMs`; neither means now.
    pub(crate) run_at: Option<String>,
    pub(crate) delay_ms: Option<i64>,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) max_attempts: Option<i64>,
    pub(crate) timeout_ms: Option<i64>,
}

pub(crate) fn default_queue() -> String {
    "default".into()
}

pub(crate) fn parse_priority(p: Option<&str>) -> Result<Priority, ApiError> {
    p.map(|p| p.parse::<Priority>())
        .transpose()
        .map(Option::unwrap_or_default)
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

/// When to run: `runAt` (RFC 3339) or `delayMs` from now, not both.
pub(crate) fn parse_when(
    run_at: Option<&str>,
    delay_ms: Option<i64>,
) -> Result<Option<Timestamp>, ApiError> {
    let bad = |e: ParseError| ApiError::bad_request(e.to_string());
    match (run_at, delay_ms) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "give either `runAt` or `delayMs`, not both",
        )),
        (Some(at), None) => at.parse::<Timestamp>().map(Some).map_err(|_| {
            bad(ParseError::new(
                "runAt",
                "is not an RFC 3339 time",
                "e.g. 2030-01-01T09:00:00Z",
            ))
        }),
        (None, Some(ms)) => {
            if !(0..=366 * 24 * 3600 * 1000).contains(&ms) {
                return Err(bad(ParseError::new(
                    "delayMs",
                    format!("{ms} is out of range"),
                    "0 to 31622400000 milliseconds (366 days)",
                )));
            }
            Timestamp::now()
                .checked_add(Duration::from_millis(ms as u64))
                .map(Some)
                .map_err(|_| ApiError::bad_request("invalid `delayMs`"))
        }
        (None, None) => Ok(None),
    }
}

impl NewJobBody {
    pub(crate) fn into_request(self) -> Result<JobRequest, ApiError> {
        let mut r = JobRequest::new(&self.job_type, self.data, &self.queue_name)
            .priority(parse_priority(self.priority.as_deref())?);
        r.run_at = parse_when(self.run_at.as_deref(), self.delay_ms)?;
        r.idempotency_key = self.idempotency_key;
        r.max_attempts = self.max_attempts;
        r.timeout_ms = self.timeout_ms;
        Ok(r)
    }
}

/// `POST /api/v1/jobs`: 201 `{"jobId", "existing"}` (`existing` when the idempotency key
/// named a job that already existed).
pub(crate) async fn create_job<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppJson(body): AppJson<NewJobBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Permission::JobsWrite)?;
    let inserted = state
        .scheduler
        .add_many_as(&caller.actor(), vec![body.into_request()?])
        .await?;
    let job = inserted[0];
    Ok(created(json!({"jobId": job.id, "existing": job.existing})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BatchBody {
    jobs: Vec<NewJobBody>,
}

/// `POST /api/v1/jobs/batch`: up to 1000 jobs, all or none.
pub(crate) async fn create_jobs<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppJson(body): AppJson<BatchBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Permission::JobsWrite)?;
    if body.jobs.is_empty() || body.jobs.len() > 1000 {
        return Err(ApiError::bad_request(
            "`jobs` must hold 1 to 1000 jobs; split larger batches",
        ));
    }
    let requests = body
        .jobs
        .into_iter()
        .enumerate()
        .map(|(i, j)| {
            j.into_request().map_err(|mut e| {
                e.message = format!("jobs[{i}]: {}", e.message);
                e
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let inserted = state
        .scheduler
        .add_many_as(&caller.actor(), requests)
        .await?;
    let jobs: Vec<Value> = inserted
        .iter()
        .map(|j| json!({"jobId": j.id, "existing": j.existing}))
        .collect();
    Ok(created(json!({"jobs": jobs})))
}

fn job_id(s: &str) -> Result<JobId, ApiError> {
    s.parse::<JobId>()
        .map_err(|_| ApiError::bad_request("invalid job id: expected a UUID"))
}

pub(crate) async fn get_job<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::JobsRead)?;
    let job = state
        .store
        .job_get(job_id(&id)?, caller.principal.scope())
        .await
        .map_err(|e| match e {
            warden_store::StoreError::NotFound => ApiError::not_found("job"),
            e => e.into(),
        })?;
    Ok(ok(views::job(
        &job,
        caller.principal.role.redacts_payloads(),
    )))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JobListQuery {
    queue: Option<String>,
    state: Option<String>,
    schedule: Option<String>,
    limit: Option<u32>,
    after: Option<String>,
}

/// `GET /api/v1/jobs?queue=&state=&schedule=&limit=&after=`: in creation order.
pub(crate) async fn list_jobs<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppQuery(q): AppQuery<JobListQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::JobsRead)?;
    let bad = |e: ParseError| ApiError::bad_request(e.to_string());
    let limit = PageQuery {
        limit: q.limit,
        after: None,
    }
    .limit();
    let mut filter = JobFilter::new(caller.principal.scope());
    filter.queue = q
        .queue
        .as_deref()
        .map(QueueName::parse)
        .transpose()
        .map_err(bad)?;
    filter.state = q
        .state
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(bad)?;
    filter.schedule_id = q
        .schedule
        .as_deref()
        .map(|s| s.parse())
        .transpose()
        .map_err(|_| ApiError::bad_request("invalid `schedule`: expected a schedule id"))?;
    filter.after = q.after.as_deref().map(job_id).transpose()?;
    filter.limit = limit;
    let jobs = state.store.job_list(filter).await?;
    let next = (jobs.len() == limit as usize)
        .then(|| jobs.last().map(|j| j.id.to_string()))
        .flatten();
    let redacted = caller.principal.role.redacts_payloads();
    Ok(page(
        jobs.iter().map(|j| views::job(j, redacted)).collect(),
        next,
    ))
}

/// `POST /api/v1/jobs/{id}/cancel`: 409 when the job is already finished.
pub(crate) async fn cancel_job<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::JobsWrite)?;
    let id = job_id(&id)?;
    let actor = caller.actor();
    let done = state.scheduler.cancel_jobs_as(&actor, vec![id]).await?;
    finished_or_missing(
        &state,
        &caller,
        id,
        done.is_empty(),
        "cancelled: it has already finished",
    )
    .await?;
    Ok(ok(json!({"jobId": id, "state": "cancelled"})))
}

/// `POST /api/v1/jobs/{id}/retry`: a dead (or cancelled) job runs again.
pub(crate) async fn retry_job<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::JobsWrite)?;
    let id = job_id(&id)?;
    let done = state
        .scheduler
        .retry_jobs_as(&caller.actor(), vec![id])
        .await?;
    finished_or_missing(
        &state,
        &caller,
        id,
        done.is_empty(),
        "retried: only dead or cancelled jobs can be",
    )
    .await?;
    Ok(ok(json!({"jobId": id, "state": "available"})))
}

/// After a change that touched nothing: 404 if the job is not the caller's to see, else
/// 409 saying why.
async fn finished_or_missing<S: Store>(
    state: &AppState<S>,
    caller: &Caller,
    id: JobId,
    untouched: bool,
    why: &str,
) -> Result<(), ApiError> {
    if !untouched {
        return Ok(());
    }
    match state.store.job_get(id, caller.principal.scope()).await {
        Ok(job) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "wrong_state",
            format!("job {id} is `{}` and cannot be {why}", job.state.as_str()),
        )),
        Err(warden_store::StoreError::NotFound) => Err(ApiError::not_found("job")),
        Err(e) => Err(e.into()),
    }
}

/// `GET /api/v1/jobs/{id}/runs`: one record per attempt, oldest first.
pub(crate) async fn list_job_runs<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::JobsRead)?;
    let id = job_id(&id)?;
    let scope = caller.principal.scope();
    // The job itself must be visible, so an unknown id is a 404, not an empty list.
    state
        .store
        .job_get(id, scope.clone())
        .await
        .map_err(|e| match e {
            warden_store::StoreError::NotFound => ApiError::not_found("job"),
            e => e.into(),
        })?;
    let runs = state.store.run_list_by_job(id, scope).await?;
    Ok(ok(Value::Array(runs.iter().map(views::run).collect())))
}
