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

use jiff::Timestamp;
use warden_core::{JobId, OccurrenceOutcome};

use crate::{
    StoreError,
    convert::resolve_overlap,
    model::{NewJob, Occurrence, OccurrenceBatch},
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
    for item in &batch.items {
        let (outcome, cancel_active) =
            resolve_overlap(item.plan, batch.overlap, !active.is_empty());
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
        if let Some(job) = job {
            tx.insert_job(job).await?;
            active.push(job.id);
        }
        recorded.push(occurrence);
    }
    Ok(recorded)
}
