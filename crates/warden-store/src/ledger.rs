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
//!
//! # Plain batches, recorded together
//! Most schedules need none of those decisions: overlap is allowed, the owner is not
//! refused and has no `maxActive` to count ([`OccurrenceBatch::is_plain`]). Their
//! occurrences follow from the plan alone, so [`record_plain`] records any number of them
//! in one transaction with set-based statements: every cursor moved in one statement (the
//! ones that moved are the ones recorded here), every ledger row inserted in one (the new
//! ones are returned), and the jobs of the new `ran` rows in one. The invariants above hold
//! as they are: the cursor check, the ledger's key, and a job only for a new row. This is
//! what keeps ten thousand schedules firing every second on time: one transaction (one
//! fsync, a few round trips) per tick instead of one per schedule.

use std::collections::HashSet;

use jiff::Timestamp;
use warden_core::{JobId, OccurrenceOutcome, Plan, ScheduleId, resolve_overlap};

use crate::{
    StoreError,
    model::{ActiveQuota, AuditRecord, NewJob, Occurrence, OccurrenceBatch},
};

type Result<T> = std::result::Result<T, StoreError>;

/// A ledger row's key: (schedule, instant).
pub(crate) type OccurrenceKey = (ScheduleId, Timestamp);

/// A schedule's cursor move, made only if the cursor is still at `expected`.
#[derive(Debug, Clone)]
pub(crate) struct CursorMove {
    pub id: ScheduleId,
    pub expected: Timestamp,
    pub new: Option<Timestamp>,
    pub now: Timestamp,
    /// Also clears the schedule's `blocked` reason (a plain batch that runs a fire).
    pub clear_blocked: bool,
}

impl CursorMove {
    fn of(batch: &OccurrenceBatch, clear_blocked: bool) -> Self {
        Self {
            id: batch.schedule_id,
            expected: batch.expected_next_fire_at,
            new: batch.new_next_fire_at,
            now: batch.now,
            clear_blocked,
        }
    }
}

/// The statements [`record`] and [`record_plain`] need, implemented by each backend's
/// transaction.
pub(crate) trait LedgerTx {
    /// Moves each cursor that is still where its move expects; returns the schedules
    /// whose cursor moved.
    async fn advance(&mut self, moves: &[CursorMove]) -> Result<HashSet<ScheduleId>>;
    async fn active_jobs(&mut self, batch: &OccurrenceBatch) -> Result<Vec<JobId>>;
    async fn cancel(&mut self, ids: &[JobId], now: Timestamp) -> Result<()>;
    /// Inserts the ledger rows that are not there yet; returns the keys of those inserted.
    async fn insert_occurrences(
        &mut self,
        occurrences: &[Occurrence],
    ) -> Result<HashSet<OccurrenceKey>>;
    async fn insert_jobs(&mut self, jobs: &[NewJob]) -> Result<()>;
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
    if !tx
        .advance(&[CursorMove::of(&batch, false)])
        .await?
        .contains(&batch.schedule_id)
    {
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
        if tx
            .insert_occurrences(std::slice::from_ref(&occurrence))
            .await?
            .is_empty()
        {
            continue; // Already in the ledger: it must not fire twice.
        }
        match outcome {
            OccurrenceOutcome::Ran => blocked = Some(None),
            OccurrenceOutcome::SkippedForbidden => blocked = Some(reason),
            _ => {}
        }
        if let Some(job) = job {
            tx.insert_jobs(std::slice::from_ref(job)).await?;
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

/// Records plain batches ([`OccurrenceBatch::is_plain`]) together; see the module
/// documentation. Per batch, in order: the occurrences recorded, or `None` when its cursor
/// had moved (another enqueuer recorded them). Any failed statement fails the whole call.
pub(crate) async fn record_plain<T: LedgerTx>(
    tx: &mut T,
    batches: &[OccurrenceBatch],
) -> Result<Vec<Option<Vec<Occurrence>>>> {
    if let Some(b) = batches.iter().find(|b| !b.is_plain()) {
        return Err(StoreError::Conflict(format!(
            "schedule {} needs decisions in the transaction: record it alone",
            b.schedule_id
        )));
    }
    let mut moves: Vec<CursorMove> = batches
        .iter()
        .map(|b| CursorMove::of(b, b.items.iter().any(|i| i.plan == Plan::Run)))
        .collect();
    // One order for every enqueuer (PostgreSQL also locks the rows in id order first).
    moves.sort_by_key(|m| m.id);
    let moved = tx.advance(&moves).await?;
    let occurrences: Vec<Occurrence> = batches
        .iter()
        .filter(|b| moved.contains(&b.schedule_id))
        .flat_map(|b| {
            b.items.iter().map(|item| {
                let outcome = match item.plan {
                    Plan::Run => OccurrenceOutcome::Ran,
                    Plan::Record(outcome) => outcome,
                };
                Occurrence {
                    schedule_id: b.schedule_id,
                    scheduled_at: item.scheduled_at,
                    outcome,
                    job_id: item
                        .job
                        .as_ref()
                        .map(|j| j.id)
                        .filter(|_| item.plan == Plan::Run),
                    recorded_at: b.now,
                }
            })
        })
        .collect();
    let inserted = tx.insert_occurrences(&occurrences).await?;
    let jobs: Vec<NewJob> = batches
        .iter()
        .filter(|b| moved.contains(&b.schedule_id))
        .flat_map(|b| b.items.iter().map(move |item| (b.schedule_id, item)))
        .filter(|(id, item)| item.plan == Plan::Run && inserted.contains(&(*id, item.scheduled_at)))
        .filter_map(|(_, item)| item.job.clone())
        .collect();
    tx.insert_jobs(&jobs).await?;
    let mut recorded: std::collections::HashMap<ScheduleId, Vec<Occurrence>> = Default::default();
    for o in occurrences {
        if inserted.contains(&(o.schedule_id, o.scheduled_at)) {
            recorded.entry(o.schedule_id).or_default().push(o);
        }
    }
    Ok(batches
        .iter()
        .map(|b| {
            moved
                .contains(&b.schedule_id)
                .then(|| recorded.remove(&b.schedule_id).unwrap_or_default())
        })
        .collect())
}
