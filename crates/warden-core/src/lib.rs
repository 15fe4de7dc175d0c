//! Warden's domain types: values that parse instead of validate, and carry no I/O.
//!
//! Everything that enters warden (from the in-process API, the CLI, the jobs file or HTTP)
//! becomes one of these types first, so the rest of the code cannot hold invalid data.
//!
//! # Layout
//! - [`error`]: [`ParseError`], which names the field, the problem and what is accepted.
//! - [`ids`]: time-ordered identifiers (`JobId`, `ScheduleId`).
//! - [`job`]: `JobKind`, `QueueName`, `Priority`, `JobState` and its legal transitions,
//!   bounded `Payload`, `JobTimeout`, `MaxAttempts`.
//! - [`retry`]: exponential backoff with jitter.
//! - [`cron`]: `CronSpec` (5/6 fields, IANA zone, DST policy) and its fire-time iterator.
//! - [`schedule`]: overlap and missed-run policies, occurrence outcomes.
//! - [`outcome`]: what a handler returns.
//! - [`clock`]: the injected `Clock`.
//! - [`auth`]: roles, permissions, principals and scopes.
//! - [`audit`]: the audit trail's actions and outcomes.
//! - [`vocab`]: [`vocabulary!`], how every closed set of words (states, outcomes,
//!   actions, error codes) gets one string form, parse and serde.
//! - [`redact`]: which names hold secrets, and hiding their values in JSON and text
//!   (shared by the API's views and the HTTP executor).

pub mod audit;
pub mod auth;
pub mod clock;
pub mod cron;
pub mod error;
pub mod ids;
pub mod job;
pub mod outcome;
pub mod redact;
pub mod retry;
pub mod schedule;
pub mod vocab;

pub use audit::{AuditAction, AuditOutcome};
pub use auth::{Credential, Permission, Principal, PrincipalId, Role, Scope};
pub use clock::{Clock, ManualClock, SystemClock};
pub use cron::{CronSpec, DstPolicy, FoldPolicy, GapPolicy};
pub use error::ParseError;
pub use ids::{JobId, ScheduleId};
pub use job::{JobKind, JobState, JobTimeout, MaxAttempts, Payload, Priority, QueueName};
pub use outcome::{CronRunOutcome, Outcome, RunOutcome};
pub use retry::RetryPolicy;
pub use schedule::{
    CatchUpWindow, MissedPolicy, OccurrenceOutcome, OverlapPolicy, Plan, PlanInput,
    plan_occurrences, resolve_overlap,
};

/// Timestamps are `jiff::Timestamp` (UTC instants) everywhere in warden.
pub use jiff::Timestamp;
