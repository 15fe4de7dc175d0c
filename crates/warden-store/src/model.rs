//! The values that cross the `Store` seam: parameters in, rows out.

pub use crate::model_access::*;
pub use crate::model_ops::*;

use jiff::Timestamp;
use uuid::Uuid;
use warden_core::{
    CronSpec, JobId, JobKind, JobState, JobTimeout, MaxAttempts, MissedPolicy, OccurrenceOutcome,
    OverlapPolicy, Payload, Plan, PrincipalId, Priority, QueueName, RunOutcome, ScheduleId, Scope,
    schedule::CatchUpWindow,
};

/// A job to insert.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub id: JobId,
    pub kind: JobKind,
    pub queue: QueueName,
    pub priority: Priority,
    pub payload: Payload,
    /// When it may first run; at or before `created_at` means "now" (state `available`).
    pub run_at: Timestamp,
    pub max_attempts: MaxAttempts,
    pub timeout: JobTimeout,
    /// A second insert with the same key in the same queue returns the first job.
    pub idempotency_key: Option<String>,
    /// The principal that owns the job.
    pub owner: PrincipalId,
    /// The schedule whose occurrence made this job, if any.
    pub schedule_id: Option<ScheduleId>,
    pub created_at: Timestamp,
    /// The instant of the schedule occurrence that made this job (the ledger's
    /// `scheduled_at`); `None` for a job not made by an occurrence.
    pub scheduled_at: Option<Timestamp>,
}

impl NewJob {
    /// The state the job starts in.
    pub fn initial_state(&self) -> JobState {
        if self.run_at > self.created_at {
            JobState::Scheduled
        } else {
            JobState::Available
        }
    }
}

/// The result of inserting one job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InsertedJob {
    pub id: JobId,
    /// True when an existing job with the same idempotency key was returned instead.
    pub existing: bool,
}

/// A job as stored. `P` is what holds the payload: [`Payload`] when one job is read,
/// `()` in lists ([`JobSummary`]).
#[derive(Debug, Clone)]
pub struct Job<P = Payload> {
    pub id: JobId,
    pub kind: JobKind,
    pub queue: QueueName,
    pub priority: Priority,
    pub state: JobState,
    pub payload: P,
    /// Attempts started so far.
    pub attempt: i32,
    pub max_attempts: i32,
    pub run_at: Timestamp,
    pub timeout: JobTimeout,
    pub idempotency_key: Option<String>,
    pub owner: PrincipalId,
    pub schedule_id: Option<ScheduleId>,
    pub created_at: Timestamp,
    pub attempted_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_expires_at: Option<Timestamp>,
}

/// A job as lists return it: without its payload. A list never reads payloads, so a page
/// of jobs with large payloads costs no more memory than one of small ones.
pub type JobSummary = Job<()>;

/// Which jobs to list: those in `scope`, in id (creation) order, after `after`.
#[derive(Debug, Clone)]
pub struct JobFilter {
    pub scope: Scope,
    pub queue: Option<QueueName>,
    pub state: Option<JobState>,
    pub schedule_id: Option<ScheduleId>,
    /// Cursor: only jobs with a greater id.
    pub after: Option<JobId>,
    /// At most this many, oldest first; 0 means 100.
    pub limit: u32,
}

impl JobFilter {
    /// Every job in `scope`, first page.
    pub fn new(scope: Scope) -> Self {
        Self {
            scope,
            queue: None,
            state: None,
            schedule_id: None,
            after: None,
            limit: 0,
        }
    }
}

/// Claim up to `limit` due jobs of `queue` for `worker`.
#[derive(Debug, Clone)]
pub struct ClaimParams {
    pub queue: QueueName,
    pub worker: String,
    pub limit: u32,
    pub now: Timestamp,
    /// Jobs due by this instant are claimed (`now`, or a little later: a producer holds a
    /// job claimed before its `run_at` and starts it then, so that a job due at an instant
    /// does not wait for the claim's round trip after it). Only jobs created by `now` are
    /// taken: a claim that reaches the database late must not take jobs inserted after it
    /// was decided (the queue paused, or an owner limit noticed, since).
    pub due_by: Timestamp,
    pub lease_until: Timestamp,
    /// Fencing token written on every claimed job; completions must present it.
    pub lease_token: Uuid,
    /// Apply per-principal concurrency limits (`maxConcurrent`). Set when any principal
    /// has one; without it the claim takes the cheaper plain path.
    pub owner_limits: bool,
}

/// A job handed to a worker by a claim.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: JobId,
    pub kind: JobKind,
    pub priority: Priority,
    pub payload: Payload,
    /// This attempt's number (1 for the first run).
    pub attempt: i32,
    pub max_attempts: i32,
    pub timeout: JobTimeout,
    pub owner: PrincipalId,
    pub created_at: Timestamp,
    pub run_at: Timestamp,
    /// The instant of the schedule occurrence that made the job, the same for every
    /// attempt; `None` for a job not made by an occurrence.
    pub scheduled_at: Option<Timestamp>,
    pub lease_token: Uuid,
}

/// How an attempt ended, as the store records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompletionResult {
    Succeeded,
    /// Back to `retryable`, claimable again at `run_at`.
    Retry {
        run_at: Timestamp,
        error: String,
    },
    Dead {
        error: String,
    },
    Cancelled {
        reason: String,
    },
    /// The attempt was interrupted (the worker shut down) before it ended: back to
    /// `retryable`, claimable at once in its old place, and the attempt does not count
    /// against `max_attempts` (the next claim reuses its number). A completion of the
    /// same attempt that carries a real outcome wins over a release.
    Released {
        error: String,
    },
}

impl CompletionResult {
    pub fn state(&self) -> JobState {
        match self {
            Self::Succeeded => JobState::Succeeded,
            Self::Retry { .. } | Self::Released { .. } => JobState::Retryable,
            Self::Dead { .. } => JobState::Dead,
            Self::Cancelled { .. } => JobState::Cancelled,
        }
    }

    /// The run record's outcome.
    pub fn run_outcome(&self) -> RunOutcome {
        match self {
            Self::Succeeded => RunOutcome::Succeeded,
            Self::Retry { .. } => RunOutcome::Retry,
            Self::Dead { .. } => RunOutcome::Dead,
            Self::Cancelled { .. } => RunOutcome::Cancelled,
            Self::Released { .. } => RunOutcome::Released,
        }
    }

    pub fn error(&self) -> Option<&str> {
        match self {
            Self::Succeeded => None,
            Self::Retry { error, .. } | Self::Dead { error } | Self::Released { error } => {
                Some(error)
            }
            Self::Cancelled { reason } => Some(reason),
        }
    }
}

/// The end of one attempt. Applied only if `lease_token` is still the job's token.
#[derive(Debug, Clone)]
pub struct Completion {
    pub id: JobId,
    pub lease_token: Uuid,
    pub attempt: i32,
    pub worker: String,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub result: CompletionResult,
    /// What the handler reported about the attempt (JSON), kept in the run row.
    pub output: Option<Vec<u8>>,
}

/// Extend the leases of jobs a worker still holds.
#[derive(Debug, Clone)]
pub struct HeartbeatParams {
    /// (job, lease token) pairs.
    pub jobs: Vec<(JobId, Uuid)>,
    pub lease_until: Timestamp,
}

/// Return running jobs whose lease expired before `now`.
#[derive(Debug, Clone)]
pub struct RescueParams {
    pub now: Timestamp,
    pub limit: u32,
}

/// A job the rescuer returned (or buried, when its attempts were used up).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RescuedJob {
    pub id: JobId,
    pub state: JobState,
}

/// A due schedule as the store read it back: decoded, or the row that did not decode.
pub type DueSchedule = std::result::Result<Schedule, BrokenSchedule>;

/// A schedule row that does not decode (a time zone this build does not know, a row
/// edited by hand, …). It is returned beside the others, so one bad row cannot hold up
/// every schedule; the caller reports it.
#[derive(Debug)]
pub struct BrokenSchedule {
    pub id: ScheduleId,
    /// The cursor as stored, when that column itself decodes.
    pub next_fire_at: Option<Timestamp>,
    pub error: crate::StoreError,
}

/// Insert jobs (see [`Store::job_insert_many`](crate::Store::job_insert_many)).
#[derive(Debug, Clone)]
pub struct JobInsertParams {
    pub jobs: Vec<NewJob>,
    /// Written only for the jobs actually created.
    pub audit: Vec<AuditRecord>,
    /// Refuse, writing nothing, when the owner would have more active jobs plus
    /// schedules than this allows.
    pub quota: Option<ActiveQuota>,
}

impl JobInsertParams {
    /// `jobs`, without audit records or quota.
    pub fn new(jobs: Vec<NewJob>) -> Self {
        Self {
            jobs,
            audit: Vec::new(),
            quota: None,
        }
    }
}

/// Cancel jobs (see [`Store::job_cancel_many`](crate::Store::job_cancel_many)).
#[derive(Debug, Clone)]
pub struct JobCancelParams {
    pub ids: Vec<JobId>,
    pub scope: Scope,
    pub now: Timestamp,
    /// Written only for the jobs actually cancelled.
    pub audit: Vec<AuditRecord>,
}

/// Retry jobs (see [`Store::job_retry_many`](crate::Store::job_retry_many)).
#[derive(Debug, Clone)]
pub struct JobRetryParams {
    pub ids: Vec<JobId>,
    pub scope: Scope,
    pub now: Timestamp,
    /// Written only for the jobs actually retried.
    pub audit: Vec<AuditRecord>,
    /// Retried jobs are active again: refuse, writing nothing, past this quota.
    pub quota: Option<ActiveQuota>,
}

/// Pause or resume a queue (see [`Store::queue_set_paused`](crate::Store::queue_set_paused)).
#[derive(Debug, Clone)]
pub struct QueueSetPausedParams {
    pub queue: QueueName,
    pub paused: bool,
    pub now: Timestamp,
    pub audit: Vec<AuditRecord>,
}

/// Insert a schedule (see [`Store::schedule_insert`](crate::Store::schedule_insert)).
#[derive(Debug, Clone)]
pub struct ScheduleInsertParams {
    pub schedule: Schedule,
    pub audit: Vec<AuditRecord>,
    /// A schedule is active: refuse, writing nothing, past this quota.
    pub quota: Option<ActiveQuota>,
}

impl ScheduleInsertParams {
    /// `schedule`, without audit records or quota.
    pub fn new(schedule: Schedule) -> Self {
        Self {
            schedule,
            audit: Vec::new(),
            quota: None,
        }
    }
}

/// Pause or resume a schedule (see
/// [`Store::schedule_set_paused`](crate::Store::schedule_set_paused)).
#[derive(Debug, Clone)]
pub struct ScheduleSetPausedParams {
    pub id: ScheduleId,
    pub scope: Scope,
    pub paused: bool,
    pub now: Timestamp,
    pub audit: Vec<AuditRecord>,
}

/// A schedule as lists return it: without its job's payload.
pub type ScheduleSummary = Schedule<()>;

/// One row of the run history: one attempt of a job. `O` holds the handler's report: the
/// report itself when one run is read, `()` in lists ([`RunSummary`]).
#[derive(Debug, Clone)]
pub struct Run<O = Option<Vec<u8>>> {
    /// Increasing in the order runs were recorded.
    pub id: i64,
    pub job_id: JobId,
    pub attempt: i32,
    pub worker: String,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub duration_ms: i64,
    /// succeeded, retry, dead, cancelled, released (interrupted by a shutdown; not
    /// counted as an attempt), or lost (the lease expired).
    pub outcome: RunOutcome,
    pub error: Option<String>,
    /// What the handler reported about the attempt (JSON), when it reported anything.
    pub output: O,
}

/// A run as lists return it: without the handler's report (up to 16 KiB each).
pub type RunSummary = Run<()>;

/// Counts of jobs per (queue, state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueCount {
    pub queue: QueueName,
    pub state: JobState,
    pub count: i64,
}

/// The job a schedule enqueues at each occurrence (`P` as in [`Job`]).
#[derive(Debug, Clone)]
pub struct JobTemplate<P = Payload> {
    pub kind: JobKind,
    pub queue: QueueName,
    pub priority: Priority,
    pub payload: P,
    pub max_attempts: MaxAttempts,
    pub timeout: JobTimeout,
}

/// A schedule as stored (also the insert parameter); `P` holds its job's payload, as in
/// [`Job`].
#[derive(Debug, Clone)]
pub struct Schedule<P = Payload> {
    pub id: ScheduleId,
    /// Unique per owner.
    pub name: String,
    pub owner: PrincipalId,
    pub cron: CronSpec,
    pub template: JobTemplate<P>,
    pub paused: bool,
    pub overlap: OverlapPolicy,
    pub missed: MissedPolicy,
    pub catch_up: CatchUpWindow,
    /// The first occurrence not yet recorded in the ledger; `None` when it never fires again.
    pub next_fire_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Why its latest fires were recorded `skipped:forbidden` (its owner is disabled, or
    /// the job is outside the owner's limits); `None` once a fire runs again. Set only by
    /// the ledger: inserts and updates leave it alone.
    pub blocked: Option<String>,
}

/// Record due occurrences of one schedule and advance its cursor, atomically.
///
/// Fails with `StoreError::Conflict` (and writes nothing) when the schedule's cursor is
/// no longer `expected_next_fire_at`: another enqueuer got there first.
#[derive(Debug, Clone)]
pub struct OccurrenceBatch {
    pub schedule_id: ScheduleId,
    pub expected_next_fire_at: Timestamp,
    pub new_next_fire_at: Option<Timestamp>,
    pub overlap: OverlapPolicy,
    pub now: Timestamp,
    /// Oldest first. A `Plan::Run` item carries the job to insert.
    pub items: Vec<OccurrenceItem>,
    /// Why the owner may not run these occurrences (disabled, or the template is outside
    /// its limits), decided by the caller: every one that would run is recorded
    /// `skipped:forbidden` instead.
    pub forbidden: Option<String>,
    /// The owner's `maxActive`: checked in the transaction before each job is inserted;
    /// an occurrence over it is recorded `skipped:forbidden`.
    pub quota: Option<ActiveQuota>,
    /// Written once when the schedule becomes blocked, or blocked for another reason (not
    /// for each skipped occurrence); its `detail` is set to the reason.
    pub blocked_audit: AuditRecord,
}

impl OccurrenceBatch {
    /// Whether the outcomes follow from the plan alone, with nothing to decide inside the
    /// transaction: overlap allowed, the owner not refused, and no `maxActive` to count.
    /// Such batches can be recorded together (`Store::occurrence_record_plain`).
    pub fn is_plain(&self) -> bool {
        self.overlap == OverlapPolicy::Allow && self.forbidden.is_none() && self.quota.is_none()
    }
}

#[derive(Debug, Clone)]
pub struct OccurrenceItem {
    pub scheduled_at: Timestamp,
    pub plan: Plan,
    pub job: Option<NewJob>,
}

/// One row of the occurrence ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub schedule_id: ScheduleId,
    pub scheduled_at: Timestamp,
    pub outcome: OccurrenceOutcome,
    pub job_id: Option<JobId>,
    pub recorded_at: Timestamp,
}

/// Which runs of a schedule's jobs to list: those in `scope`, newest first, older than
/// `before` (a run id) when paging.
#[derive(Debug, Clone)]
pub struct ScheduleRunFilter {
    pub schedule_id: ScheduleId,
    pub scope: Scope,
    pub before: Option<i64>,
    /// At most this many; 0 means 100.
    pub limit: u32,
}

/// Paging for lists: at most `limit` (0 means 100) rows, after the cursor `after` (the
/// last id of the previous page) when the list is in id order.
#[derive(Debug, Clone, Copy, Default)]
pub struct Page {
    pub limit: u32,
    pub after: Option<Uuid>,
}

/// Paging for a schedule's occurrence ledger, which is in `scheduled_at` order: at most
/// `limit` (0 means 100) occurrences scheduled after `after` (the last `scheduled_at` of
/// the previous page).
#[derive(Debug, Clone, Copy, Default)]
pub struct OccurrencePage {
    pub limit: u32,
    pub after: Option<Timestamp>,
}

impl OccurrencePage {
    pub(crate) fn limit(self) -> i64 {
        Page {
            limit: self.limit,
            after: None,
        }
        .limit()
    }
}

impl Page {
    pub(crate) fn limit(self) -> i64 {
        if self.limit == 0 {
            100
        } else {
            i64::from(self.limit.min(10_000))
        }
    }
}
