//! The cron enqueuer: turns due occurrences of schedules into ledger rows and jobs.
//!
//! # Model
//! Each schedule stores a cursor, `next_fire_at`: its first occurrence not yet in the
//! ledger. A tick takes every schedule whose cursor is due, lists its occurrences from
//! the cursor up to now (so an occurrence slept through is never dropped), decides each
//! one's fate with [`warden_core::schedule::plan_occurrences`] (run, or missed by
//! downtime/deadline, or skipped because paused), and records them with the new cursor
//! in one transaction (`Store::occurrence_record_many`), which also applies the overlap
//! policy. Between ticks the enqueuer sleeps until the earliest cursor — no polling —
//! and is woken early when schedules change.
//!
//! # Failure
//! If two enqueuers (two processes, or `/cron/run`) tick the same schedule, the cursor
//! check and the ledger's primary key let exactly one record each occurrence; the other
//! gets a conflict and moves on. A crash before commit records nothing, and the next
//! tick (of any process) sees the same cursor again.

use std::{sync::Arc, time::Duration};

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;
use warden_core::{
    JobId, MissedPolicy, Plan,
    schedule::{PlanInput, plan_occurrences},
};
use warden_store::{
    NewJob, Occurrence, OccurrenceBatch, OccurrenceItem, Schedule, Store, StoreError,
};

use crate::{EngineError, scheduler::Shared};

/// Most occurrences of one schedule recorded per tick; the rest follow on the next tick.
const MAX_OCCURRENCES_PER_TICK: usize = 1000;
/// Most schedules handled per tick.
const MAX_SCHEDULES_PER_TICK: u32 = 500;
/// Longest sleep between ticks, so a schedule added by another process is seen.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// The cron enqueuer. `run_once` is what the loop (and `/cron/run`, later) calls.
pub struct CronEnqueuer<S> {
    pub(crate) shared: Arc<Shared<S>>,
    /// When this enqueuer started: occurrences before it were slept through.
    pub(crate) up_since: Timestamp,
}

impl<S: Store> CronEnqueuer<S> {
    /// Records every occurrence due at the clock's now; returns what was recorded.
    pub async fn run_once(&self) -> Result<Vec<Occurrence>, EngineError> {
        let now = self.shared.clock.now();
        let due = self
            .shared
            .store
            .schedule_due_many(now, MAX_SCHEDULES_PER_TICK)
            .await?;
        let mut recorded = Vec::new();
        for schedule in due {
            match self.tick_schedule(&schedule, now).await {
                Ok(mut r) => recorded.append(&mut r),
                Err(EngineError::Store(StoreError::Conflict(_))) => {
                    tracing::debug!(schedule.id = %schedule.id, "another enqueuer recorded these occurrences");
                }
                Err(e) => {
                    tracing::error!(schedule.id = %schedule.id, error = ?e, "recording occurrences failed")
                }
            }
        }
        Ok(recorded)
    }

    async fn tick_schedule(
        &self,
        s: &Schedule,
        now: Timestamp,
    ) -> Result<Vec<Occurrence>, EngineError> {
        let Some(cursor) = s.next_fire_at else {
            return Ok(Vec::new());
        };
        let mut fires = vec![cursor];
        fires.extend(
            s.cron
                .fires_between(cursor, now, MAX_OCCURRENCES_PER_TICK - 1),
        );
        let last = *fires.last().unwrap_or(&cursor);
        let next = s.cron.next_after(last);
        let truncated = next.is_some_and(|n| n <= now);
        // When more due occurrences follow in the next tick, none of these is the latest.
        let missed = if truncated && s.missed == MissedPolicy::Latest {
            MissedPolicy::Skip
        } else {
            s.missed
        };
        let input = PlanInput {
            now,
            up_since: self.up_since,
            grace: self.shared.config.cron_grace,
            paused: s.paused,
            missed,
            catch_up: s.catch_up,
        };
        let items = plan_occurrences(&fires, &input)
            .into_iter()
            .map(|(at, plan)| OccurrenceItem {
                scheduled_at: at,
                plan,
                job: (plan == Plan::Run).then(|| job_for(s, now)),
            })
            .collect();
        let batch = OccurrenceBatch {
            schedule_id: s.id,
            expected_next_fire_at: cursor,
            new_next_fire_at: next,
            overlap: s.overlap,
            now,
            items,
        };
        let recorded = self.shared.store.occurrence_record_many(batch).await?;
        for o in &recorded {
            tracing::info!(schedule.id = %s.id, schedule.name = %s.name, occurrence.at = %o.scheduled_at, outcome = %o.outcome, "cron occurrence");
        }
        if recorded.iter().any(|o| o.job_id.is_some())
            && let Some(n) = self.shared.wakers.queues.get(&s.template.queue)
        {
            n.notify_one();
        }
        Ok(recorded)
    }

    /// Ticks, then sleeps until the earliest cursor (or a wake-up), until shutdown.
    pub(crate) async fn run(self, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.run_once().await {
                tracing::error!(error = ?e, "cron tick failed");
            }
            let wait = match self.shared.store.schedule_next_fire_at().await {
                Ok(Some(at)) => Duration::try_from(at.duration_since(self.shared.clock.now()))
                    .unwrap_or(Duration::ZERO),
                Ok(None) => MAX_SLEEP,
                Err(e) => {
                    tracing::error!(error = ?e, "reading the next fire time failed");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.shared.wakers.cron.notified() => {}
                _ = tokio::time::sleep(wait.min(MAX_SLEEP)) => {}
            }
        }
    }
}

fn job_for(s: &Schedule, now: Timestamp) -> NewJob {
    NewJob {
        id: JobId::new(),
        kind: s.template.kind.clone(),
        queue: s.template.queue.clone(),
        priority: s.template.priority,
        payload: s.template.payload.clone(),
        run_at: now,
        max_attempts: s.template.max_attempts,
        timeout: s.template.timeout,
        idempotency_key: None,
        owner: s.owner.clone(),
        schedule_id: Some(s.id),
        created_at: now,
    }
}
