//! `/api/v1/jobs`: create (one or a batch), get, list, cancel, retry, and a job's runs.

use std::time::Duration;

use axum::{Json, extract::State};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use warden_core::{JobId, ParseError, Permission, Priority, QueueName};
use warden_engine::JobRequest;
use warden_store::{JobFilter, Store};

use super::{Created, PageQuery, created, ok, page};
use crate::error::ErrorCode;
use crate::{
    AppState,
    auth::Caller,
    envelope::{Data, Page},
    error::ApiError,
    extract::{AppJson, AppPath, AppQuery},
    openapi::{BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType},
    views::{
        BatchCreated, JobCreated, JobStateChanged, JobSummaryView, JobView, RunSummaryView,
        any_value_schema, job_state_schema, nullable_priority_schema,
    },
};

/// A job to create. Unknown fields (`owner`, `state`, …) are refused, never applied.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(
    as = NewJob,
    example = json!({"jobType": "warden.noop", "queueName": "default", "data": {"to": "a@example.com"}, "delayMs": 60000})
)]
pub(crate) struct NewJobBody {
    /// A job type the server has registered.
    #[schema(pattern = r"^[A-Za-z0-9._:-]{1,128}$")]
    pub(crate) job_type: String,
    /// The payload handed to the job (default `null`).
    #[serde(default)]
    #[schema(schema_with = any_value_schema)]
    pub(crate) data: Value,
    /// A declared queue (default `default`).
    #[serde(default = "default_queue")]
    #[schema(pattern = r"^[A-Za-z0-9._:-]{1,64}$")]
    pub(crate) queue_name: String,
    /// Default `medium`.
    #[serde(default)]
    #[schema(schema_with = nullable_priority_schema)]
    pub(crate) priority: Option<String>,
    /// When to run, RFC 3339; or `delayMs`; neither means now.
    pub(crate) run_at: Option<String>,
    /// Milliseconds from now, 0 to 31622400000 (366 days).
    #[schema(minimum = 0, maximum = 31_622_400_000_i64)]
    pub(crate) delay_ms: Option<i64>,
    /// A second job with the same key (per owner) is not created: the first is answered.
    pub(crate) idempotency_key: Option<String>,
    /// Attempts before the job is dead (default 5).
    #[schema(minimum = 1, maximum = 100)]
    pub(crate) max_attempts: Option<i64>,
    /// How long one attempt may run, 1 ms to 24 h (default 300000).
    #[schema(minimum = 1, maximum = 86_400_000)]
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
#[utoipa::path(
    post,
    path = "/api/v1/jobs",
    tag = "jobs",
    request_body = NewJobBody,
    responses(
        (status = 201, description = "The job was created (or found by its idempotency key).", body = Data<JobCreated>,
            links(
                ("GetJob" = (operation_id = "get_job", parameters(("id" = "$response.body#/data/jobId")))),
                ("CancelJob" = (operation_id = "cancel_job", parameters(("id" = "$response.body#/data/jobId")))),
                ("RetryJob" = (operation_id = "retry_job", parameters(("id" = "$response.body#/data/jobId")))),
                ("ListJobRuns" = (operation_id = "list_job_runs", parameters(("id" = "$response.body#/data/jobId")))),
            )
        ),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub(crate) async fn create_job<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppJson(body): AppJson<NewJobBody>,
) -> Result<Created<JobCreated>, ApiError> {
    caller.require(Permission::JobsWrite)?;
    let inserted = state
        .scheduler
        .add_many_as(&caller.actor(), vec![body.into_request()?])
        .await?;
    let job = inserted[0];
    Ok(created(JobCreated {
        job_id: job.id.as_uuid(),
        existing: job.existing,
    }))
}

/// Jobs to create together: all or none.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(
    as = NewJobBatch,
    example = json!({"jobs": [{"jobType": "warden.noop"}, {"jobType": "warden.noop", "priority": "high"}]})
)]
pub(crate) struct BatchBody {
    /// 1 to 1000 jobs.
    #[schema(min_items = 1, max_items = 1000)]
    jobs: Vec<NewJobBody>,
}

/// `POST /api/v1/jobs/batch`: up to 1000 jobs, all or none.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/batch",
    tag = "jobs",
    request_body = BatchBody,
    responses(
        (status = 201, description = "Every job was created (or found by its idempotency key), in the order given.", body = Data<BatchCreated>,
            links(
                ("GetFirstJob" = (operation_id = "get_job", parameters(("id" = "$response.body#/data/jobs/0/jobId")))),
            )
        ),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub(crate) async fn create_jobs<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppJson(body): AppJson<BatchBody>,
) -> Result<Created<BatchCreated>, ApiError> {
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
    let jobs = inserted
        .iter()
        .map(|j| JobCreated {
            job_id: j.id.as_uuid(),
            existing: j.existing,
        })
        .collect();
    Ok(created(BatchCreated { jobs }))
}

fn job_id(s: &str) -> Result<JobId, ApiError> {
    s.parse::<JobId>()
        .map_err(|_| ApiError::bad_request("invalid job id: expected a UUID"))
}

/// `GET /api/v1/jobs/{id}`: one job; for roles that see payloads redacted, sensitive
/// fields of `data` read `[REDACTED]`.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}",
    tag = "jobs",
    params(("id" = Uuid, Path, description = "The job's id.")),
    responses(
        (status = 200, description = "The job.", body = Data<JobView>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(crate) async fn get_job<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<Data<JobView>>, ApiError> {
    caller.require(Permission::JobsRead)?;
    let job = state
        .store
        .job_get(job_id(&id)?, caller.principal.scope())
        .await
        .map_err(|e| match e {
            warden_store::StoreError::NotFound => ApiError::not_found("job"),
            e => e.into(),
        })?;
    Ok(ok(JobView::new(
        &job,
        caller.principal.role.redacts_payloads(),
    )))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct JobListQuery {
    /// Only jobs of this queue.
    #[param(pattern = r"^[A-Za-z0-9._:-]{1,64}$")]
    queue: Option<String>,
    /// Only jobs in this state.
    #[param(schema_with = job_state_schema)]
    state: Option<String>,
    /// Only jobs enqueued by this schedule (its id).
    #[param(value_type = Option<Uuid>)]
    schedule: Option<String>,
    /// Page size: 100 by default, at most 500.
    limit: Option<u32>,
    /// Cursor: the `nextCursor` of the previous page (a job id).
    #[param(value_type = Option<Uuid>)]
    after: Option<String>,
}

/// `GET /api/v1/jobs?queue=&state=&schedule=&limit=&after=`: in creation order.
#[utoipa::path(
    get,
    path = "/api/v1/jobs",
    tag = "jobs",
    params(JobListQuery),
    responses(
        (status = 200, description = "A page of the caller's jobs (every owner's for roles that see all), oldest first, without payloads (`GET /api/v1/jobs/{id}` has the payload).", body = Page<JobSummaryView>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
    )
)]
pub(crate) async fn list_jobs<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppQuery(q): AppQuery<JobListQuery>,
) -> Result<Json<Page<JobSummaryView>>, ApiError> {
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
        jobs.iter()
            .map(|j| JobSummaryView::new(j, redacted))
            .collect(),
        next,
    ))
}

/// `POST /api/v1/jobs/{id}/cancel`: 409 when the job is already finished.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/cancel",
    tag = "jobs",
    params(("id" = Uuid, Path, description = "The job's id.")),
    responses(
        (status = 200, description = "The job is cancelled.", body = Data<JobStateChanged>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    )
)]
pub(crate) async fn cancel_job<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<Data<JobStateChanged>>, ApiError> {
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
    Ok(ok(JobStateChanged {
        job_id: id.as_uuid(),
        state: warden_core::JobState::Cancelled.as_str(),
    }))
}

/// `POST /api/v1/jobs/{id}/retry`: a dead (or cancelled) job runs again.
#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/retry",
    tag = "jobs",
    params(("id" = Uuid, Path, description = "The job's id.")),
    responses(
        (status = 200, description = "The job is available to run again.", body = Data<JobStateChanged>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
    )
)]
pub(crate) async fn retry_job<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<Data<JobStateChanged>>, ApiError> {
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
    Ok(ok(JobStateChanged {
        job_id: id.as_uuid(),
        state: warden_core::JobState::Available.as_str(),
    }))
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
            ErrorCode::WrongState,
            format!("job {id} is `{}` and cannot be {why}", job.state.as_str()),
        )),
        Err(warden_store::StoreError::NotFound) => Err(ApiError::not_found("job")),
        Err(e) => Err(e.into()),
    }
}

/// `GET /api/v1/jobs/{id}/runs`: one record per attempt, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}/runs",
    tag = "jobs",
    params(("id" = Uuid, Path, description = "The job's id.")),
    responses(
        (status = 200, description = "The job's runs, oldest first, without outputs (`GET /api/v1/runs/{id}` has the output).", body = Data<Vec<RunSummaryView>>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(crate) async fn list_job_runs<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<Data<Vec<RunSummaryView>>>, ApiError> {
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
    let redacted = caller.principal.role.redacts_payloads();
    Ok(ok(runs
        .iter()
        .map(|r| RunSummaryView::new(r, redacted))
        .collect()))
}

#[cfg(test)]
mod tests {
    use utoipa::PartialSchema;

    use super::*;

    /// Whether `value` matches a pattern of the form `^[CLASS]{1,N}$` (the only form the
    /// name patterns take), read from the pattern itself.
    fn matches_name_pattern(pattern: &str, value: &str) -> bool {
        let class = &pattern[pattern.find('[').unwrap() + 1..pattern.find(']').unwrap()];
        let max: usize = pattern[pattern.find(',').unwrap() + 1..pattern.find('}').unwrap()]
            .parse()
            .unwrap();
        let allowed = |c: char| {
            let b = class.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if i + 2 < b.len() && b[i + 1] == b'-' {
                    if (b[i] as char..=b[i + 2] as char).contains(&c) {
                        return true;
                    }
                    i += 3;
                } else {
                    if b[i] as char == c {
                        return true;
                    }
                    i += 1;
                }
            }
            false
        };
        (1..=max).contains(&value.chars().count()) && value.chars().all(allowed)
    }

    #[test]
    fn documented_name_patterns_are_what_the_parsers_accept() {
        let schema = serde_json::to_value(NewJobBody::schema()).unwrap();
        type Parses = fn(&str) -> bool;
        let cases: [(&str, usize, Parses); 2] = [
            ("jobType", 128, |v| warden_core::JobKind::parse(v).is_ok()),
            ("queueName", 64, |v| {
                warden_core::QueueName::parse(v).is_ok()
            }),
        ];
        for (field, max, parses) in cases {
            let pattern = schema["properties"][field]["pattern"].as_str().unwrap();
            let mut samples: Vec<String> = (0u8..128).map(|b| char::from(b).to_string()).collect();
            samples.extend(["", "é", "send-email", "a b"].map(str::to_owned));
            samples.extend([max - 1, max, max + 1].map(|n| "a".repeat(n)));
            for v in samples {
                assert_eq!(
                    matches_name_pattern(pattern, &v),
                    parses(&v),
                    "{field} {pattern}: {v:?}"
                );
            }
        }
    }
}
