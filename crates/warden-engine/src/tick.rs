//! One scheduler tick on demand (what `/cron/run` runs): account for every due occurrence,
//! then hand the jobs due now to this process's workers, within a time budget.
//!
//! # Model
//! A [`Ticker`] shares the engine's store, clock, stats and wake-ups, and keeps its own cron
//! enqueuer (so a schedule that fails is set aside between calls, as in the loop). A tick:
//!
//! 1. runs the enqueuer until no occurrence is due (each pass records at most
//!    5000 schedules × 1000 occurrences, and those whose overlap is `allow` up to the
//!    lookahead ahead), counting what was fired, skipped and missed;
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
//! # The locked tick of `/cron/run`
//! [`Ticker::tick_locked`] is what `/cron/run` runs once the API has checked the caller:
//!
//! 1. take the store lock [`CRON_RUN_LOCK`] with a TTL, so calls are single-flight
//!    across every process sharing the database; held → `Busy`, nothing ticks;
//! 2. tick (above) within the budget, in a task of its own, so that a panic in the tick
//!    still releases the lock;
//! 3. release the lock (a failure to release is logged: the lock expires with its TTL);
//! 4. write the call's `cron_runs` row (outcome `ok`, `busy` or `failed`, duration,
//!    counts, and the caller's address, user agent and request id from [`CronCall`]).
//!
//! The API records the calls it refuses before step 1 itself (through
//! [`record_cron_run`], with [`CronCall::record`]), and answers from [`LockedRun`].
//!
//! # Failure
//! Occurrences are keyed by (schedule, instant) in the store, so two ticks at once (two
//! calls, two processes, a lock that expired under a slow tick, or the call and the loop)
//! never fire an occurrence twice. A holder that crashes leaves the lock until its TTL.
//! The caller must not drop [`Ticker::tick_locked`]'s future between the lock and the
//! record (the API runs it in a task of its own, away from client hang-ups and request
//! timeouts): the lock would stay held for its whole TTL and the call go unrecorded.

use std::{
    net::IpAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use jiff::{SignedDuration, Timestamp};
use warden_core::{CronRunOutcome, OccurrenceOutcome};
use warden_store::{CronRunRecord, LockAcquireParams, Store};

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

/// The store lock that makes `/cron/run` single-flight across processes.
pub const CRON_RUN_LOCK: &str = "cron:run";

/// A `/cron/run` call, for its `cron_runs` row: when it started and who made it.
#[derive(Debug, Clone)]
pub struct CronCall {
    /// When the call arrived (its record's duration runs from here).
    pub started: Instant,
    pub client_ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    /// Warden's id of the request.
    pub request_id: Option<String>,
}

impl CronCall {
    /// The call's `cron_runs` row: `outcome`, the time since [`Self::started`], the
    /// report's counts, and `detail` (why it failed or was refused; empty for none, and
    /// never a token).
    pub fn record(
        &self,
        outcome: CronRunOutcome,
        report: TickReport,
        detail: &str,
    ) -> CronRunRecord {
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        CronRunRecord {
            at: Timestamp::now(),
            outcome,
            duration_ms: i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX),
            fired: count(report.fired),
            skipped: count(report.skipped),
            missed: count(report.missed),
            dispatched: count(report.dispatched),
            client_ip: self.client_ip.map(|ip| ip.to_string()),
            user_agent: self.user_agent.clone(),
            request_id: self.request_id.clone(),
            detail: (!detail.is_empty()).then(|| detail.to_owned()),
        }
    }
}

/// Why a locked tick did not run (or did not finish).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRun {
    /// Another call (of any process) holds [`CRON_RUN_LOCK`]; nothing ran.
    Busy,
    /// The lock could not be taken (the store is unreachable), or the tick failed or
    /// panicked; logged.
    Failed,
}

/// What [`Ticker::tick_locked`] did. Its `cron_runs` row is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockedRun {
    /// The tick's report, or why there is none.
    pub result: Result<TickReport, NotRun>,
    /// The id of the call's `cron_runs` row (0 when it could not be written: logged).
    pub record_id: i64,
    /// The recorded duration, from [`CronCall::started`].
    pub duration_ms: i64,
}

/// Writes a `cron_runs` row; its id, or 0 when it could not be written (logged: the
/// call's answer still goes out).
pub async fn record_cron_run<S: Store>(store: &S, record: CronRunRecord) -> i64 {
    match store.cron_run_insert(record).await {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(error = ?e, "could not write the cron_runs record");
            0
        }
    }
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

impl<S: Store> Ticker<S> {
    /// `/cron/run`'s tick: takes [`CRON_RUN_LOCK`] for at most `lock_ttl`, ticks within
    /// `budget`, releases the lock and writes the call's `cron_runs` row; see the module
    /// documentation. Never fails: a failure is logged, recorded and reported as
    /// [`NotRun::Failed`].
    pub async fn tick_locked(
        &self,
        call: &CronCall,
        budget: Duration,
        lock_ttl: Duration,
    ) -> LockedRun {
        let store = &self.shared.store;
        let holder = uuid::Uuid::now_v7().to_string();
        let now = Timestamp::now();
        let ttl = SignedDuration::try_from(lock_ttl).unwrap_or_default();
        let until = now.saturating_add(ttl).unwrap_or(now);
        let not_run = |why, detail: &str| {
            let outcome = match why {
                NotRun::Busy => CronRunOutcome::Busy,
                NotRun::Failed => CronRunOutcome::Failed,
            };
            (
                Err(why),
                call.record(outcome, TickReport::default(), detail),
            )
        };
        let acquire = LockAcquireParams {
            name: CRON_RUN_LOCK.to_owned(),
            holder: holder.clone(),
            now,
            until,
        };
        let (result, record) = match store.lock_acquire(acquire).await {
            Ok(true) => {
                let result = self.tick_in_task(budget).await;
                if let Err(e) = store.lock_release(CRON_RUN_LOCK, &holder).await {
                    // It expires with its TTL; until then calls are answered busy.
                    tracing::warn!(error = ?e, "could not release the cron lock");
                }
                match result {
                    Ok(report) => (Ok(report), call.record(CronRunOutcome::Ok, report, "")),
                    Err(e) => {
                        tracing::error!(error = %e, "the cron tick failed");
                        not_run(NotRun::Failed, "the tick failed; see the server log")
                    }
                }
            }
            Ok(false) => not_run(NotRun::Busy, "another call holds the lock"),
            Err(e) => {
                tracing::error!(error = ?e, "could not take the cron lock");
                not_run(
                    NotRun::Failed,
                    "the store could not be reached to take the lock",
                )
            }
        };
        let duration_ms = record.duration_ms;
        LockedRun {
            result,
            record_id: record_cron_run(&**store, record).await,
            duration_ms,
        }
    }

    /// [`Self::tick`] in a task of its own, so that a panic is an error here (and the
    /// caller still releases its lock).
    async fn tick_in_task(&self, budget: Duration) -> Result<TickReport, String> {
        let ticker = self.clone();
        match tokio::spawn(async move { ticker.tick(budget).await }).await {
            Ok(Ok(report)) => Ok(report),
            Ok(Err(e)) => Err(format!("{e:?}")),
            Err(e) => Err(format!("the tick panicked: {e}")),
        }
    }
}
