//! The JSON shapes of jobs, schedules, runs, occurrences, keys, principals, queues and
//! audit events in API answers (camelCase, as the seed's `jobType` / `queueName`).
//!
//! Each shape is a typed struct deriving both `Serialize` and `ToSchema`, so the OpenAPI
//! document describes exactly what handlers send. Fields whose values come from a closed
//! set (states, priorities, roles, policies) document that set, taken from the domain
//! enum's own list where it has one.
//!
//! # Layout
//! One module per resource ([`jobs`], [`schedules`], [`runs`], [`keys`], [`principals`],
//! [`queues`], [`audit`], and [`ops`] for the scheduler's health and the `/cron/run`
//! records); `redaction`: what a role that sees payloads redacted is shown; `schema`:
//! the OpenAPI helpers (closed sets of strings, nullable forms, any value).

pub mod audit;
pub mod jobs;
pub mod keys;
pub mod ops;
pub mod principals;
pub mod queues;
mod redaction;
pub mod runs;
pub mod schedules;
mod schema;

pub use audit::AuditEventView;
pub use jobs::{
    BatchCreated, JobCreated, JobRef, JobStateChanged, JobSummaryView, JobView, SeedCreated,
};
pub use keys::{ApiKeyView, IssuedKeyView, KeyRevoked, api_key};
pub use ops::{BacklogView, CronRunView, SchedulerHealthView};
pub(crate) use principals::LimitsSchema;
pub use principals::PrincipalView;
pub use queues::{QueuePaused, QueueView};
pub use runs::{RunSummaryView, RunView};
pub use schedules::{
    DstView, FireTime, OccurrenceView, ScheduleDeleted, SchedulePaused, ScheduleRef,
    ScheduleSummaryView, ScheduleView,
};
pub(crate) use schema::{
    any_value_schema, job_state_schema, nullable_fold_schema, nullable_gap_schema,
    nullable_missed_schema, nullable_overlap_schema, nullable_priority_schema, role_schema,
};

/// Whole milliseconds, saturating.
fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
