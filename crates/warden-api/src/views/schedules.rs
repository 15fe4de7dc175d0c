//! The views of schedules (as listed, with their job's payload), their occurrences and
//! next fire times, and the answers of the schedule routes.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;
use warden_store::{Occurrence, Schedule};

use super::{
    millis,
    redaction::data,
    schema::{
        any_value_schema, fold_schema, gap_schema, missed_schema, occurrence_outcome_schema,
        overlap_schema, priority_schema,
    },
};

/// A schedule's daylight-saving policy.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = DstPolicy)]
pub struct DstView {
    /// A civil fire time that a spring-forward skips: `shift` fires after the gap,
    /// `skip` does not fire.
    #[schema(schema_with = gap_schema)]
    pub gap: &'static str,
    /// A civil fire time that a fall-back repeats: fire at the `first`, the `last` or
    /// `both`.
    #[schema(schema_with = fold_schema)]
    pub fold: &'static str,
}

/// A cron schedule and the job it enqueues, as lists show it: everything but the job's
/// payload, which only the single-schedule routes show.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ScheduleSummary)]
pub struct ScheduleSummaryView {
    pub id: Uuid,
    pub name: String,
    pub owner: String,
    pub cron: String,
    /// IANA time zone.
    pub timezone: String,
    pub dst: DstView,
    pub job_type: String,
    pub queue_name: String,
    #[schema(schema_with = priority_schema)]
    pub priority: &'static str,
    pub max_attempts: i32,
    pub timeout_ms: u64,
    pub paused: bool,
    #[schema(schema_with = overlap_schema)]
    pub overlap: &'static str,
    #[schema(schema_with = missed_schema)]
    pub missed: &'static str,
    pub catch_up_secs: u64,
    pub next_fire_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Why its latest occurrences were recorded `skipped:forbidden` (its owner is
    /// disabled, the job is outside the owner's `allowedJobTypes` or `allowedPriorities`,
    /// or the owner's `maxActive` is reached); `null` while its occurrences may run.
    pub blocked: Option<String>,
}

impl ScheduleSummaryView {
    pub fn new<P>(s: &Schedule<P>) -> Self {
        let t = &s.template;
        let dst = s.cron.dst();
        Self {
            id: s.id.as_uuid(),
            name: s.name.clone(),
            owner: s.owner.to_string(),
            cron: s.cron.expr().to_owned(),
            timezone: s.cron.tz_name().to_owned(),
            dst: DstView {
                gap: dst.gap.as_str(),
                fold: dst.fold.as_str(),
            },
            job_type: t.kind.as_str().to_owned(),
            queue_name: t.queue.as_str().to_owned(),
            priority: t.priority.as_str(),
            max_attempts: t.max_attempts.get(),
            timeout_ms: millis(t.timeout.as_duration()),
            paused: s.paused,
            overlap: s.overlap.as_str(),
            missed: s.missed.as_str(),
            catch_up_secs: s.catch_up.as_duration().as_secs(),
            next_fire_at: s.next_fire_at,
            created_at: s.created_at,
            updated_at: s.updated_at,
            blocked: s.blocked.clone(),
        }
    }
}

/// A cron schedule and the job it enqueues, with the job's payload.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Schedule)]
pub struct ScheduleView {
    #[serde(flatten)]
    pub schedule: ScheduleSummaryView,
    /// The job's payload, redacted as a job's is.
    #[schema(schema_with = any_value_schema)]
    pub data: Value,
}

impl ScheduleView {
    pub fn new(s: &Schedule, redacted: bool) -> Self {
        Self {
            schedule: ScheduleSummaryView::new(s),
            data: data(s.template.payload.to_json(), redacted),
        }
    }
}

/// One row of a schedule's occurrence ledger.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Occurrence)]
pub struct OccurrenceView {
    pub schedule_id: Uuid,
    pub scheduled_at: Timestamp,
    #[schema(schema_with = occurrence_outcome_schema)]
    pub outcome: &'static str,
    /// The job enqueued for it (`ran` only).
    pub job_id: Option<Uuid>,
    pub recorded_at: Timestamp,
}

impl OccurrenceView {
    pub fn new(o: &Occurrence) -> Self {
        Self {
            schedule_id: o.schedule_id.as_uuid(),
            scheduled_at: o.scheduled_at,
            outcome: o.outcome.as_str(),
            job_id: o.job_id.map(|j| j.as_uuid()),
            recorded_at: o.recorded_at,
        }
    }
}

/// A schedule's next fire time, in UTC and in the schedule's zone.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FireTime {
    pub utc: Timestamp,
    /// RFC 9557 (RFC 3339 with the zone's name), e.g.
    /// `2030-01-01T09:00:00+01:00[Europe/Paris]`.
    pub local: String,
}

/// A schedule id.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleRef {
    pub schedule_id: Uuid,
}

/// A schedule paused or resumed.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchedulePaused {
    pub schedule_id: Uuid,
    pub paused: bool,
}

/// A schedule deleted.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleDeleted {
    pub schedule_id: Uuid,
    pub deleted: bool,
}
