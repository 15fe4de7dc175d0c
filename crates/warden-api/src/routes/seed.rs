//! `POST /api/jobs/schedule`: the endpoint of seed 000, accepting exactly its body —
//! `{"type": "immediate" | "delayed" | "cron", "jobType", "data", "queueName"}` — plus
//! `delayMs` or `runAt` for `delayed`, `cron` and `timezone` for `cron`, and optional
//! `priority` and `idempotencyKey` (and `name` for a cron schedule).

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use warden_core::Permission;
use warden_store::Store;

use super::{
    created,
    jobs::{NewJobBody, default_queue},
    schedules::ScheduleBody,
};
use crate::{AppState, auth::Caller, error::ApiError, extract::AppJson};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(crate) struct SeedBody {
    #[serde(rename = "type")]
    kind: String,
    job_type: String,
    #[serde(default)]
    data: Value,
    #[serde(default = "default_queue")]
    queue_name: String,
    delay_ms: Option<i64>,
    run_at: Option<String>,
    cron: Option<String>,
    timezone: Option<String>,
    priority: Option<String>,
    idempotency_key: Option<String>,
    /// The schedule's name (`cron` only); default `JOBTYPE-<uuid>`.
    name: Option<String>,
}

fn not_for(field: &str, kind: &str) -> ApiError {
    ApiError::bad_request(format!(
        "invalid `{field}`: not accepted with `\"type\": \"{kind}\"`"
    ))
}

pub(crate) async fn schedule_job<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppJson(b): AppJson<SeedBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
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
            Ok(created(json!({"jobId": inserted[0].id})))
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
            Ok(created(json!({"scheduleId": id})))
        }
        other => Err(ApiError::bad_request(format!(
            "invalid `type`: {other:?}; expected immediate, delayed or cron"
        ))),
    }
}
