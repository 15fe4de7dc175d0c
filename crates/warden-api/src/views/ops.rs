//! The views of the scheduler's health and of the `/cron/run` records.

use jiff::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;
use warden_store::CronRun;

/// Jobs of one queue in one state.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Backlog)]
pub struct BacklogView {
    pub queue: String,
    pub state: String,
    pub count: i64,
}

/// Whether scheduling is alive.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SchedulerHealth)]
pub struct SchedulerHealthView {
    /// `true` when no tick (internal loop or `/cron/run`, of any process) happened within
    /// `lateAfterSecs`, or an occurrence is overdue by more than that.
    pub late: bool,
    /// Why it is late (empty when it is not).
    pub reasons: Vec<String>,
    pub now: Timestamp,
    pub last_tick_at: Option<Timestamp>,
    pub seconds_since_tick: Option<i64>,
    pub late_after_secs: u64,
    /// The earliest occurrence not yet accounted for, when it is overdue.
    pub oldest_overdue_occurrence: Option<Timestamp>,
    /// Jobs by queue and state, across every owner.
    pub backlog: Vec<BacklogView>,
    /// When the oldest job waiting to run became due.
    pub oldest_waiting_job_at: Option<Timestamp>,
    pub oldest_waiting_job_age_secs: Option<f64>,
}

/// One `/cron/run` call.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CronRun)]
pub struct CronRunView {
    /// The record's id (the `cron_run_id` of the call's answer; the `before` cursor).
    pub id: i64,
    pub at: Timestamp,
    /// `ok`, `failed`, `busy`, `unauthorized`, `forbidden` or `limited`.
    pub outcome: String,
    pub duration_ms: i64,
    pub fired: i64,
    pub skipped: i64,
    pub missed: i64,
    pub dispatched: i64,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// The call's `X-Request-Id` (the caller's when it sent one).
    pub request_id: Option<String>,
    /// Why it failed or was refused.
    pub detail: Option<String>,
}

impl CronRunView {
    pub fn new(r: &CronRun) -> Self {
        let c = &r.record;
        Self {
            id: r.id,
            at: c.at,
            outcome: c.outcome.as_str().to_owned(),
            duration_ms: c.duration_ms,
            fired: c.fired,
            skipped: c.skipped,
            missed: c.missed,
            dispatched: c.dispatched,
            client_ip: c.client_ip.clone(),
            user_agent: c.user_agent.clone(),
            request_id: c.request_id.clone(),
            detail: c.detail.clone(),
        }
    }
}
