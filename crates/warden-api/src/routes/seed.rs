//! `POST /api/jobs/schedule`: the endpoint of seed 000, accepting exactly its body —
//! `{"type": "immediate" | "delayed" | "cron", "jobType", "data", "queueName"}` — plus
//! `delayMs` or `runAt` for `delayed`, `cron` and `timezone` for `cron`, and optional
//! `priority` and `idempotencyKey` (and `name` for a cron schedule).

use axum::extract::State;
use serde::Deserialize;
use serde_json::Value;
use utoipa::{ToSchema, openapi::Object};
use warden_core::Permission;
use warden_store::Store;

use super::{
    Created, created,
    jobs::{NewJobBody, default_queue},
    schedules::ScheduleBody,
};
use crate::{
    AppState,
    auth::Caller,
    envelope::Data,
    error::ApiError,
    extract::AppJson,
    openapi::{BadRequest, Conflict, Forbidden, PayloadTooLarge, UnsupportedMediaType},
    views::{JobRef, ScheduleRef, SeedCreated, any_value_schema, nullable_priority_schema},
};

fn seed_type_schema() -> Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .enum_values(Some(["immediate", "delayed", "cron"]))
        .build()
}

/// The body of seed 000's endpoint.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(
    as = SeedJob,
    example = json!({"type": "immediate", "jobType": "warden.noop", "data": {"to": "a@example.com"}, "queueName": "default"})
)]
pub(crate) struct SeedBody {
    /// `immediate` runs now, `delayed` at `delayMs` or `runAt`, `cron` on `cron`.
    #[serde(rename = "type")]
    #[schema(schema_with = seed_type_schema)]
    kind: String,
    /// A job type the server has registered.
    #[schema(pattern = r"^[A-Za-z0-9._:-]{1,128}$")]
    job_type: String,
    /// The payload handed to the job (default `null`).
    #[serde(default)]
    #[schema(schema_with = any_value_schema)]
    data: Value,
    /// A declared queue (default `default`).
    #[serde(default = "default_queue")]
    #[schema(pattern = r"^[A-Za-z0-9._:-]{1,64}$")]
    queue_name: String,
    /// `delayed` only: milliseconds from now, 0 to 31622400000 (366 days).
    #[schema(minimum = 0, maximum = 31_622_400_000_i64)]
    delay_ms: Option<i64>,
    /// `delayed` only: when to run, RFC 3339.
    run_at: Option<String>,
    /// `cron` only (required there): a cron expression.
    cron: Option<String>,
    /// `cron` only: IANA time zone (default `UTC`).
    timezone: Option<String>,
    #[schema(schema_with = nullable_priority_schema)]
    priority: Option<String>,
    /// `immediate` and `delayed` only.
    idempotency_key: Option<String>,
    /// The schedule's name (`cron` only); default `JOBTYPE-<uuid>`.
    name: Option<String>,
}

fn not_for(field: &str, kind: &str) -> ApiError {
    ApiError::bad_request(format!(
        "invalid `{field}`: not accepted with `\"type\": \"{kind}\"`"
    ))
}

/// `POST /api/jobs/schedule`: 201 with `{"jobId"}` (`immediate`, `delayed`) or
/// `{"scheduleId"}` (`cron`).
#[utoipa::path(
    post,
    path = "/api/jobs/schedule",
    tag = "seed",
    request_body = SeedBody,
    responses(
        (status = 201, description = "The job or the schedule was created.", body = Data<SeedCreated>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub(crate) async fn schedule_job<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppJson(b): AppJson<SeedBody>,
) -> Result<Created<SeedCreated>, ApiError> {
    match b.kind.as_str() {
        "immediate" | "delayed" => {
            caller.require(Permission::JobsWrite)?;
            if let Some(f) = [
                ("cron", b.cron.is_some()),
                ("timezone", b.timezone.is_some()),
                ("name", b.name.is_some()),
            ]
            .into_iter()
            .find_map(|(f, set)| set.then_some(f))
            {
                return Err(not_for(f, &b.kind));
            }
            let delayed = b.kind == "delayed";
            if delayed != (b.delay_ms.is_some() || b.run_at.is_some()) {
                return Err(ApiError::bad_request(if delayed {
                    "a `delayed` job needs `delayMs` (milliseconds from now) or `runAt` (RFC 3339)"
                } else {
                    "an `immediate` job takes neither `delayMs` nor `runAt`; use `\"type\": \"delayed\"`"
                }));
            }
            let body = NewJobBody {
                job_type: b.job_type,
                data: b.data,
                queue_name: b.queue_name,
                priority: b.priority,
                run_at: b.run_at,
                delay_ms: b.delay_ms,
                idempotency_key: b.idempotency_key,
                max_attempts: None,
                timeout_ms: None,
            };
            let inserted = state
                .scheduler
                .add_many_as(&caller.actor(), vec![body.into_request()?])
                .await?;
            Ok(created(SeedCreated::Job(JobRef {
                job_id: inserted[0].id.as_uuid(),
            })))
        }
        "cron" => {
            caller.require(Permission::SchedulesWrite)?;
            for (f, set) in [
                ("delayMs", b.delay_ms.is_some()),
                ("runAt", b.run_at.is_some()),
                ("idempotencyKey", b.idempotency_key.is_some()),
            ] {
                if set {
                    return Err(not_for(f, "cron"));
                }
            }
            let cron = b.cron.ok_or_else(|| {
                ApiError::bad_request("a `cron` job needs `cron`, e.g. \"0 9 * * MON-FRI\"")
            })?;
            let body = ScheduleBody {
                name: b
                    .name
                    .unwrap_or_else(|| format!("{}-{}", b.job_type, uuid::Uuid::now_v7())),
                cron,
                timezone: b.timezone,
                dst: None,
                job_type: b.job_type,
                data: b.data,
                queue_name: b.queue_name,
                priority: b.priority,
                max_attempts: None,
                timeout_ms: None,
                overlap: None,
                missed: None,
                catch_up_secs: None,
                paused: false,
            };
            let id = state
                .scheduler
                .add_cron_as(&caller.actor(), body.into_request()?)
                .await?;
            Ok(created(SeedCreated::Schedule(ScheduleRef {
                schedule_id: id.as_uuid(),
            })))
        }
        other => Err(ApiError::bad_request(format!(
            "invalid `type`: {other:?}; expected immediate, delayed or cron"
        ))),
    }
}
