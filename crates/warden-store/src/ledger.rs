//! Recording cron occurrences: the one algorithm both backends run inside a transaction.
//!
//! # Invariants
//! - The schedule's cursor moves only from the value the enqueuer read (optimistic check,
//!   first statement of the transaction). On PostgreSQL that statement also locks the
//!   schedule row, so racing enqueuers serialise and the loser writes nothing.
//! - Each occurrence is inserted under the primary key (schedule id, instant) with
//!   `ON CONFLICT DO NOTHING`; its job is inserted only when its ledger row is new. So an
//!   occurrence is stored once and runs at most once, whatever the number of triggers.
//! - Overlap is decided against the schedule's active jobs *inside* the transaction.
//! - The owner's controls hold at every fire: when the caller says the owner may not run
//!   the schedule's job now (`forbidden`), or the owner's `maxActive` (counted inside the
//!   transaction, under the owner's lock on PostgreSQL) has no room, the occurrence is
//!   recorded `skipped:forbidden` and no job is inserted. The schedule keeps the reason
//!   (`blocked`) until a fire runs again; the audit trail gets one record each time the
//!   reason changes, not one per skipped occurrence.

use jiff::Timestamp;
use warden_core::{JobId, OccurrenceOutcome, Plan, ScheduleId, resolve_overlap};

use crate::{
    StoreError,
    model::{ActiveQuota, AuditRecord, NewJob, Occurrence, OccurrenceBatch},
};

type Result<T> = std::result::Result<T, StoreError>;

/// The statements [`record`] needs, implemented by each backend's transaction.
pub(crate) trait LedgerTx {
    /// Moves the cursor if it is still where the batch expects; false otherwise.
    async fn advance(&mut self, batch: &OccurrenceBatch) -> Result<bool>;
    async fn active_jobs(&mut self, batch: &OccurrenceBatch) -> Result<Vec<JobId>>;
    async fn cancel(&mut self, ids: &[JobId], now: Timestamp) -> Result<()>;
    /// Inserts the ledger row; false when it already existed.
    async fn insert_occurrence(&mut self, occurrence: &Occurrence) -> Result<bool>;
    async fn insert_job(&mut self, job: &NewJob) -> Result<()>;
    /// The owner's active jobs and schedules (after taking the owner's quota lock, where
    /// the backend has one).
    async fn active_count(&mut self, quota: &ActiveQuota) -> Result<i64>;
    /// Sets the schedule's `blocked` reason; false when it already was that.
    async fn set_blocked(&mut self, id: ScheduleId, reason: Option<&str>) -> Result<bool>;
    async fn insert_audit(&mut self, record: &AuditRecord) -> Result<()>;
}

pub(crate) async fn record<T: LedgerTx>(
    tx: &mut T,
    batch: OccurrenceBatch,
) -> Result<Vec<Occurrence>> {
    if !tx.advance(&batch).await? {
        return Err(StoreError::Conflict(
            "the schedule's occurrences were recorded by another enqueuer".into(),
        ));
    }
    let mut active = tx.active_jobs(&batch).await?;
    let mut recorded = Vec::with_capacity(batch.items.len());
    // The schedule's `blocked` reason as the recorded fires leave it (`None` inside: a
    // fire ran; untouched when no fire was decided either way).
    let mut blocked: Option<Option<String>> = None;
    for item in &batch.items {
        let (mut outcome, mut cancel_active) = match &batch.forbidden {
            Some(_) if item.plan == Plan::Run => (OccurrenceOutcome::SkippedForbidden, false),
            _ => resolve_overlap(item.plan, batch.overlap, !active.is_empty()),
        };
        let mut reason = batch.forbidden.clone();
        if outcome == OccurrenceOutcome::Ran
            && let Some(quota) = &batch.quota
        {
            // The jobs a `replace` cancels make room.
            let freed = if cancel_active { active.len() } else { 0 };
            let count = tx.active_count(quota).await? - freed as i64;
            if count >= i64::from(quota.max) {
                (outcome, cancel_active) = (OccurrenceOutcome::SkippedForbidden, false);
                reason = Some(format!(
                    "quota `maxActive` reached: the owner has {count} active jobs and schedules and may have at most {}",
                    quota.max
                ));
            }
        }
        if cancel_active {
            tx.cancel(&active, batch.now).await?;
            active.clear();
        }
        let job = item
            .job
            .as_ref()
            .filter(|_| outcome == OccurrenceOutcome::Ran);
        let occurrence = Occurrence {
            schedule_id: batch.schedule_id,
            scheduled_at: item.scheduled_at,
            outcome,
            job_id: job.map(|j| j.id),
            recorded_at: batch.now,
        };
        if !tx.insert_occurrence(&occurrence).await? {
            continue; // Already in the ledger: it must not fire twice.
        }
        match outcome {
            OccurrenceOutcome::Ran => blocked = Some(None),
            OccurrenceOutcome::SkippedForbidden => blocked = Some(reason),
            _ => {}
        }
        if let Some(job) = job {
            tx.insert_job(job).await?;
            active.push(job.id);
        }
        recorded.push(occurrence);
    }
    if let Some(reason) = blocked
        && tx.set_blocked(batch.schedule_id, reason.as_deref()).await?
        && let Some(reason) = reason
    {
        let mut record = batch.blocked_audit.clone();
        record.detail = Some(reason);
        tx.insert_audit(&record).await?;
    }
    Ok(recorded)
}
