//! The views of jobs: as listed, with their payload, and the answers of the job routes
//! (created, batch created, state changed) and of the seed's `POST /api/jobs/schedule`.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;
use warden_store::Job;

use super::{
    ScheduleRef, millis,
    redaction::{data, error_text},
    schema::{any_value_schema, job_state_schema, priority_schema},
};

/// A job as lists show it: everything but its payload, which only
/// `GET /api/v1/jobs/{id}` shows (a page of large payloads would amplify memory).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = JobSummary)]
pub struct JobSummaryView {
    pub id: Uuid,
    pub job_type: String,
    pub queue_name: String,
    #[schema(schema_with = priority_schema)]
    pub priority: &'static str,
    #[schema(schema_with = job_state_schema)]
    pub state: &'static str,
    /// Attempts started so far.
    pub attempt: i32,
    pub max_attempts: i32,
    pub run_at: Timestamp,
    pub timeout_ms: u64,
    pub idempotency_key: Option<String>,
    /// The principal that owns the job.
    pub owner: String,
    /// The schedule that enqueued the job, if any.
    pub schedule_id: Option<Uuid>,
    pub created_at: Timestamp,
    pub attempted_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// For roles that see payloads redacted, with sensitive `name: value` pairs redacted.
    pub last_error: Option<String>,
}

impl JobSummaryView {
    pub fn new<P>(j: &Job<P>, redacted: bool) -> Self {
        Self {
            id: j.id.as_uuid(),
            job_type: j.kind.as_str().to_owned(),
            queue_name: j.queue.as_str().to_owned(),
            priority: j.priority.as_str(),
            state: j.state.as_str(),
            attempt: j.attempt,
            max_attempts: j.max_attempts,
            run_at: j.run_at,
            timeout_ms: millis(j.timeout.as_duration()),
            idempotency_key: j.idempotency_key.clone(),
            owner: j.owner.to_string(),
            schedule_id: j.schedule_id.map(|s| s.as_uuid()),
            created_at: j.created_at,
            attempted_at: j.attempted_at,
            finished_at: j.finished_at,
            last_error: error_text(j.last_error.as_deref(), redacted),
        }
    }
}

/// A job, with its payload.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Job)]
pub struct JobView {
    #[serde(flatten)]
    pub job: JobSummaryView,
    /// The payload; for roles that see payloads redacted, sensitive-looking keys at any
    /// depth read `[REDACTED]`.
    #[schema(schema_with = any_value_schema)]
    pub data: Value,
}

impl JobView {
    pub fn new(j: &Job, redacted: bool) -> Self {
        Self {
            job: JobSummaryView::new(j, redacted),
            data: data(j.payload.to_json(), redacted),
        }
    }
}

/// A job just created (or found again by its idempotency key).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobCreated {
    pub job_id: Uuid,
    /// Whether the idempotency key named a job that already existed.
    pub existing: bool,
}

/// The jobs of a batch, in the order given.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchCreated {
    pub jobs: Vec<JobCreated>,
}

/// A job id.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobRef {
    pub job_id: Uuid,
}

/// What `POST /api/jobs/schedule` made: a job (`immediate`, `delayed`) or a schedule
/// (`cron`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum SeedCreated {
    Job(JobRef),
    Schedule(ScheduleRef),
}

/// A job's new state after a cancel or a retry.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobStateChanged {
    pub job_id: Uuid,
    #[schema(schema_with = job_state_schema)]
    pub state: &'static str,
}
