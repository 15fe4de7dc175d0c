//! The views of runs (one attempt of a job): as listed, and with the handler's report.

use jiff::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;
use warden_store::Run;

use super::redaction::{error_text, redact_output};

/// One attempt of a job, as lists show it: without the handler's report, which only
/// `GET /api/v1/runs/{id}` shows.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RunSummary)]
pub struct RunSummaryView {
    /// The run's id (increasing in the order runs were recorded).
    pub id: i64,
    pub job_id: Uuid,
    pub attempt: i32,
    pub worker: String,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub duration_ms: i64,
    /// `succeeded`, `retry`, `dead`, `cancelled`, or `lost` (the lease expired).
    pub outcome: String,
    /// For roles that see payloads redacted, with sensitive `name: value` pairs redacted.
    pub error: Option<String>,
}

impl RunSummaryView {
    /// `redacted`: the caller's role sees payloads redacted, so the error is too (an HTTP
    /// job's error can quote a response body holding `access_token` or `password`).
    pub fn new<O>(r: &Run<O>, redacted: bool) -> Self {
        Self {
            id: r.id,
            job_id: r.job_id.as_uuid(),
            attempt: r.attempt,
            worker: r.worker.clone(),
            started_at: r.started_at,
            finished_at: r.finished_at,
            duration_ms: r.duration_ms,
            outcome: r.outcome.as_str().to_owned(),
            error: error_text(r.error.as_deref(), redacted),
        }
    }
}

/// One attempt of a job, with the handler's report.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Run)]
pub struct RunView {
    #[serde(flatten)]
    pub run: RunSummaryView,
    /// What the handler reported about this attempt; for a `warden.http` job the redacted
    /// call record (method, URL, status, headers of interest, duration, body excerpt of at
    /// most 4 KiB). `null` when the handler reported nothing. For roles that see payloads
    /// redacted, sensitive keys and `name: value` pairs in its strings are redacted.
    pub output: Option<serde_json::Value>,
}

impl RunView {
    pub fn new(r: &Run, redacted: bool) -> Self {
        // Written by the engine as JSON; a row that is not (written by hand) shows none.
        let output = r
            .output
            .as_deref()
            .and_then(|b| serde_json::from_slice(b).ok());
        Self {
            run: RunSummaryView::new(r, redacted),
            output: if redacted {
                output.map(redact_output)
            } else {
                output
            },
        }
    }
}
