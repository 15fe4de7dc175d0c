//! One scheduler tick on demand (what `/cron/run` runs): account for every due occurrence,
//! then hand the jobs due now to this process's workers, within a time budget.
//!
//! # Model
//! A [`Ticker`] shares the engine's store, clock, stats and wake-ups, and keeps its own cron
//! enqueuer (so a schedule that fails is set aside between calls, as in the loop). A tick:
//!
//! 1. runs the enqueuer until no occurrence is due (each pass records at most
//!    500 schedules × 1000 occurrences), counting what was fired, skipped and missed;
//! 2. records the tick in the store (the health endpoint's "last tick");
//! 3. wakes every queue's producer, then waits while jobs due at the tick's instant are
//!    still waiting, until none is, the budget is spent, or nothing has been claimed for
//!    [`IDLE_AFTER`] (a paused queue, a concurrency limit or a queue that no process here
//!    serves would otherwise hold the call for its whole budget).
//!
//! `dispatched` is the number of jobs this process's producers claimed during the call.
//! The jobs run on the engine's workers, under their leases and heartbeats; the call does
//! not wait for them to finish.
//!
//! # Failure
//! Occurrences are keyed by (schedule, instant) in the store, so two ticks at once (two
//! calls, two processes, or the call and the loop) never fire an occurrence twice; the
//! single-flight lock of `/cron/run` is the caller's (the API's) business.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use warden_core::OccurrenceOutcome;
use warden_store::Store;

use crate::{EngineError, cron::CronEnqueuer, scheduler::Shared, stats::EngineStats};

/// How long the dispatch wait goes on without a claim before it gives up.
pub(crate) const IDLE_AFTER: Duration = Duration::from_millis(300);
/// How often the dispatch wait looks at the store.
const POLL: Duration = Duration::from_millis(100);

/// What one tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Occurrences that enqueued a job.
    pub fired: u64,
    /// Occurrences skipped (schedule paused, or the previous job still active).
    pub skipped: u64,
    /// Occurrences missed (past their deadline, or due while warden was down).
    pub missed: u64,
    /// Jobs this process claimed while the tick waited.
    pub dispatched: u64,
    /// Whether the budget ran out before every due job was claimed.
    pub budget_spent: bool,
}

/// Runs ticks on demand for a running engine. Cheap to clone.
pub struct Ticker<S> {
    shared: Arc<Shared<S>>,
    stats: Arc<EngineStats>,
    enqueuer: Arc<CronEnqueuer<S>>,
}

impl<S> Clone for Ticker<S> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
            stats: self.stats.clone(),
            enqueuer: self.enqueuer.clone(),
        }
    }
}

impl<S: Store> Ticker<S> {
    pub(crate) fn new(
        shared: Arc<Shared<S>>,
        stats: Arc<EngineStats>,
        enqueuer: CronEnqueuer<S>,
    ) -> Self {
        Self {
            shared,
            stats,
            enqueuer: Arc::new(enqueuer),
        }
    }

    /// Runs one tick; see the module documentation. `Err` when the due schedules or the
    /// waiting jobs cannot be read at all (the store is down).
    pub async fn tick(&self, budget: Duration) -> Result<TickReport, EngineError> {
        let started = Instant::now();
        let claimed_before = self.stats.snapshot().claimed;
        let mut report = TickReport::default();
        loop {
            let recorded = self.enqueuer.run_once().await?;
            for occurrence in &recorded {
                match occurrence.outcome {
                    OccurrenceOutcome::Ran => report.fired += 1,
                    OccurrenceOutcome::SkippedOverlap
                    | OccurrenceOutcome::SkippedPaused
                    | OccurrenceOutcome::SkippedForbidden => report.skipped += 1,
                    OccurrenceOutcome::MissedDeadline | OccurrenceOutcome::MissedDowntime => {
                        report.missed += 1
                    }
                }
            }
            if recorded.is_empty() || started.elapsed() >= budget {
                break;
            }
        }
        let now = self.shared.clock.now();
        self.shared.store.tick_record(now).await?;

        for wake in self.shared.wakers.queues.values() {
            wake.notify_one();
        }
        let mut last_claimed = self.stats.snapshot().claimed;
        let mut last_progress = Instant::now();
        loop {
            if self.shared.store.job_oldest_waiting(now).await?.is_none() {
                break;
            }
            if started.elapsed() >= budget {
                report.budget_spent = true;
                break;
            }
            let claimed = self.stats.snapshot().claimed;
            if claimed != last_claimed {
                (last_claimed, last_progress) = (claimed, Instant::now());
            } else if last_progress.elapsed() >= IDLE_AFTER {
                break;
            }
            tokio::time::sleep(POLL.min(budget.saturating_sub(started.elapsed()))).await;
        }
        report.dispatched = self.stats.snapshot().claimed - claimed_before;
        Ok(report)
    }
}
