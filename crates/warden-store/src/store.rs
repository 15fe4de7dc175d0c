//! The `Store` trait: every durable operation warden performs, batch-first.
//!
//! Methods are named noun + verb and take params structs; a single insert is a batch of
//! one. Each backend implements the same SQL under the same query names
//! (`sqlite/*.sql`, `postgres/*.sql`), and the conformance suite in `tests/` runs every
//! method against both.

use std::future::Future;

use jiff::Timestamp;
use tokio::sync::mpsc;
use warden_core::{JobId, QueueName, ScheduleId, Scope};

use crate::{
    StoreError,
    model::{
        AuditRecord, ClaimParams, ClaimedJob, Completion, DueSchedule, HeartbeatParams,
        InsertedJob, Job, JobCancelParams, JobFilter, JobInsertParams, JobRetryParams, JobSummary,
        Occurrence, OccurrenceBatch, OccurrencePage, Page, QueueCount, QueueSetPausedParams,
        RescueParams, RescuedJob, Run, RunSummary, Schedule, ScheduleInsertParams,
        ScheduleRunFilter, ScheduleSetPausedParams, ScheduleSummary,
    },
    store_access::AccessStore,
    store_ops::OpsStore,
};

pub type Result<T> = std::result::Result<T, StoreError>;

/// Durable storage for jobs, runs, schedules and the occurrence ledger (and, through
/// [`AccessStore`], principals, API keys and the audit trail; through [`OpsStore`], the
/// `/cron/run` history, named locks and scheduler health).
///
/// # Scope and audit
/// Methods that read or change one principal's objects take a [`Scope`]: an object out of
/// scope is `NotFound`, exactly as one that does not exist, so isolation holds in the
/// query itself. Methods that change something on a principal's behalf take the
/// `audit` records describing the change and write them in the same transaction.
pub trait Store: AccessStore + OpsStore {
    /// Applies pending migrations (idempotent; safe to run from several processes).
    fn migrate(&self) -> impl Future<Output = Result<()>> + Send;

    /// Ok when the database answers and every migration this binary knows is applied.
    fn ready(&self) -> impl Future<Output = Result<()>> + Send;

    /// Inserts jobs in one transaction. Jobs whose (queue, idempotency key) already exists
    /// are not inserted: the existing job's id is returned with `existing = true`.
    /// The result is in input order.
    ///
    /// Of the `audit` records, only those whose target is a job actually inserted are
    /// written (a job returned by its idempotency key was not created now). With a
    /// `quota`, refused with `QuotaExceeded` (and nothing written) when the insert would
    /// give the quota's owner more active jobs plus schedules than it allows; the count
    /// and the insert are one atomic step, so concurrent inserts cannot pass it together.
    fn job_insert_many(
        &self,
        params: JobInsertParams,
    ) -> impl Future<Output = Result<Vec<InsertedJob>>> + Send;

    fn job_get(&self, id: JobId, scope: Scope) -> impl Future<Output = Result<Job>> + Send;

    fn job_list(&self, filter: JobFilter) -> impl Future<Output = Result<Vec<JobSummary>>> + Send;

    /// Claims due jobs (`available`, or `scheduled`/`retryable` whose `run_at` has come),
    /// highest priority then oldest `run_at` first, and commits the claim at once:
    /// state `running`, attempt + 1, lease owner, token and expiry set.
    fn job_claim_many(
        &self,
        params: ClaimParams,
    ) -> impl Future<Output = Result<Vec<ClaimedJob>>> + Send;

    /// Extends leases; returns the jobs still held (a job missing from the answer was
    /// rescued, cancelled or completed elsewhere: its worker should stop).
    fn job_heartbeat_many(
        &self,
        params: HeartbeatParams,
    ) -> impl Future<Output = Result<Vec<JobId>>> + Send;

    /// Records attempt outcomes and their run rows in one transaction. A completion counts
    /// only if the job is `running` with the same lease token; the ids that counted are
    /// returned, the others (stale workers) are ignored.
    fn job_complete_many(
        &self,
        completions: Vec<Completion>,
    ) -> impl Future<Output = Result<Vec<JobId>>> + Send;

    /// Cancels jobs that are not finished (a running job's lease is revoked, so its
    /// worker's completion is ignored). Returns the ids cancelled. Of the `audit`
    /// records, only those whose target is a cancelled job are written.
    fn job_cancel_many(
        &self,
        params: JobCancelParams,
    ) -> impl Future<Output = Result<Vec<JobId>>> + Send;

    /// Makes `dead` (or `cancelled`) jobs `available` again at `now`, with one more
    /// attempt allowed if they had used theirs up. Returns the ids retried; as for
    /// cancel, only the audit records of retried jobs are written.
    /// Retried jobs are active again, so `quota` applies (atomically, as for inserts).
    fn job_retry_many(
        &self,
        params: JobRetryParams,
    ) -> impl Future<Output = Result<Vec<JobId>>> + Send;

    /// Returns running jobs whose lease expired to `retryable` (or `dead` when their
    /// attempts are used up) and records a `lost` run for each.
    fn job_rescue_many(
        &self,
        params: RescueParams,
    ) -> impl Future<Output = Result<Vec<RescuedJob>>> + Send;

    /// Job counts by queue and state.
    fn queue_count_many(&self) -> impl Future<Output = Result<Vec<QueueCount>>> + Send;

    /// Pauses or resumes a queue for every process: a paused queue is not claimed from.
    fn queue_set_paused(
        &self,
        params: QueueSetPausedParams,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The paused queues.
    fn queue_paused_many(&self) -> impl Future<Output = Result<Vec<String>>> + Send;

    /// The earliest `run_at` in `queue` among waiting (`scheduled`/`retryable`) jobs, to sleep until.
    fn job_next_run_at(
        &self,
        queue: &QueueName,
    ) -> impl Future<Output = Result<Option<Timestamp>>> + Send;

    /// Run history of one job, oldest attempt first.
    fn run_list_by_job(
        &self,
        job_id: JobId,
        scope: Scope,
    ) -> impl Future<Output = Result<Vec<RunSummary>>> + Send;

    /// One run record, if its job is in scope.
    fn run_get(&self, id: i64, scope: Scope) -> impl Future<Output = Result<Run>> + Send;

    /// The runs of a schedule's jobs, newest first, older than `before` when paging.
    fn run_list_by_schedule(
        &self,
        filter: ScheduleRunFilter,
    ) -> impl Future<Output = Result<Vec<RunSummary>>> + Send;

    /// Inserts a schedule. `Conflict` when the owner already has one with this name;
    /// `QuotaExceeded` past the `quota` (checked atomically, as for
    /// [`job_insert_many`](Self::job_insert_many)).
    fn schedule_insert(
        &self,
        params: ScheduleInsertParams,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Replaces a schedule's definition (name, cron, template, policies, cursor);
    /// `id`, `owner` and `created_at` are kept.
    fn schedule_update(
        &self,
        schedule: Schedule,
        scope: Scope,
        audit: Vec<AuditRecord>,
    ) -> impl Future<Output = Result<()>> + Send;

    fn schedule_get(
        &self,
        id: ScheduleId,
        scope: Scope,
    ) -> impl Future<Output = Result<Schedule>> + Send;

    /// Schedules in id order, after `page.after` when paging.
    fn schedule_list(
        &self,
        page: Page,
        scope: Scope,
    ) -> impl Future<Output = Result<Vec<ScheduleSummary>>> + Send;

    /// Pauses or resumes. Occurrences of a paused schedule are recorded `skipped:paused`.
    fn schedule_set_paused(
        &self,
        params: ScheduleSetPausedParams,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Deletes a schedule and its ledger; its jobs are kept.
    fn schedule_delete(
        &self,
        id: ScheduleId,
        scope: Scope,
        audit: Vec<AuditRecord>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Schedules with an occurrence due at or before `now`, or, for those whose overlap
    /// is `allow` (their fires can be recorded ahead of time), at or before `ahead_until`;
    /// earliest cursor first. Each row is decoded on its own: one that does not decode is
    /// returned as `Err` ([`BrokenSchedule`]) beside the others instead of failing the
    /// whole read.
    fn schedule_due_many(
        &self,
        now: Timestamp,
        ahead_until: Timestamp,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<DueSchedule>>> + Send;

    /// The earliest pending occurrence of any schedule, to sleep until.
    fn schedule_next_fire_at(&self) -> impl Future<Output = Result<Option<Timestamp>>> + Send;

    /// Records occurrences (see [`OccurrenceBatch`]), inserting jobs for the ones that run
    /// and applying the overlap policy, all in one transaction.
    fn occurrence_record_many(
        &self,
        batch: OccurrenceBatch,
    ) -> impl Future<Output = Result<Vec<Occurrence>>> + Send;

    /// Records plain batches ([`OccurrenceBatch::is_plain`]: their outcomes follow from
    /// their plans) of many schedules in one transaction, with set-based statements. Per
    /// batch, in order: the occurrences recorded, or `None` when the schedule's cursor had
    /// moved (another enqueuer recorded them; nothing is written for it). Any failure
    /// fails the whole call and records nothing: record the batches one by one with
    /// [`Self::occurrence_record_many`] to find the one that fails.
    fn occurrence_record_plain(
        &self,
        batches: Vec<OccurrenceBatch>,
    ) -> impl Future<Output = Result<Vec<Option<Vec<Occurrence>>>>> + Send;

    /// Subscribes to "jobs were inserted into queue Q" (announced after commit) from every process sharing the
    /// database, so producers wake at once instead of at their next poll. `None` when the
    /// backend needs none (SQLite serves one process, whose scheduler wakes its producers
    /// directly). The subscription ends when the receiver is dropped.
    fn job_insert_subscribe(
        &self,
    ) -> impl Future<Output = Result<Option<mpsc::UnboundedReceiver<String>>>> + Send;

    /// The ledger of one schedule, oldest first, a page at a time.
    fn occurrence_list(
        &self,
        schedule_id: ScheduleId,
        scope: Scope,
        page: OccurrencePage,
    ) -> impl Future<Output = Result<Vec<Occurrence>>> + Send;
}
