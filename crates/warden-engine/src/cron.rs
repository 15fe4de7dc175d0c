//! The cron enqueuer: turns due occurrences of schedules into ledger rows and jobs.
//!
//! # Model
//! Each schedule stores a cursor, `next_fire_at`: its first occurrence not yet in the
//! ledger. A tick takes every schedule whose cursor is due, lists its occurrences from
//! the cursor up to now (so an occurrence slept through is never dropped), decides each
//! one's fate with [`warden_core::schedule::plan_occurrences`] (run, or missed by
//! downtime/deadline, or skipped because paused), and records them with the new cursor.
//! Between ticks the enqueuer sleeps until the earliest cursor — no polling — and is
//! woken early when schedules change.
//!
//! # On time at scale
//! A job cannot start before its row is committed, and committing takes time (an fsync,
//! round trips, and with thousands of schedules due in the same second, thousands of
//! rows). So the enqueuer records ahead of the instant what it can decide ahead:
//!
//! - **Ahead of time.** A schedule whose overlap is `allow` has nothing to decide at the
//!   instant, so its occurrences are recorded up to `cron_lookahead` (default 2 s) before
//!   it, their jobs inserted with `run_at` = the instant. The loop wakes the lookahead
//!   before the earliest cursor; when the tick is done it sets a timer per (queue,
//!   instant) that wakes the queue's producer when the jobs can be claimed (producers
//!   claim jobs due within `EARLY_CLAIM`, 1 s, and hold them), so the jobs are claimed
//!   before their instant and start at it. The ledger's key keeps this exactly once. Schedules
//!   with `forbid` or `replace` depend on what is still running at the instant, so they
//!   are recorded at it, as before. A pause (or an owner's refusal) takes effect for
//!   occurrences not yet recorded: one less than the lookahead away still runs.
//! - **Together.** Most schedules are plain ([`OccurrenceBatch::is_plain`]: overlap
//!   allowed, owner not refused, no quota to count): their outcomes follow from the plan,
//!   so a tick records all of them in one transaction with set-based statements
//!   (`Store::occurrence_record_plain`, up to [`PLAIN_BATCHES_PER_WRITE`] schedules per
//!   transaction). The others are recorded one transaction each
//!   (`Store::occurrence_record_many`), which decides overlap, quotas and blocked
//!   reasons inside it. If a transaction of plain batches fails, its batches are recorded
//!   one by one, so that only the schedule that fails is set aside (below).
//!
//! # Failure
//! If two enqueuers (two processes, or `/cron/run`) tick the same schedule, the cursor
//! check and the ledger's primary key let exactly one record each occurrence; the other
//! gets a conflict and moves on. A crash before commit records nothing, and the next
//! tick (of any process) sees the same cursor again.
//!
//! One schedule that fails — its row does not decode (say, a time zone written by hand
//! that this build does not know), or recording its occurrences fails — must neither stop
//! the others nor make the loop spin on its overdue cursor. So it is set aside:
//!
//! ```text
//!   due ──tick ok──▶ recorded (cursor moves on)
//!    │
//!    └─tick fails──▶ failing { failures: n, retry_at: now + backoff(n) }
//!                      │  skipped, and not logged again, until retry_at
//!                      ├─ retry_at passes, fails again ─▶ n + 1 (one error log)
//!                      └─ retry_at passes, tick ok ────▶ recovered (one info log)
//! ```
//!
//! # Owner controls
//! Each fire follows the owner's record as it is at the tick (see [`crate::controls`]): a
//! disabled owner, or a job type or priority outside its limits, makes every fire that
//! would run `skipped:forbidden`; its `maxActive` is counted inside the recording
//! transaction. The schedule shows the reason (`blocked`) and the audit trail gets one
//! `schedule.blocked` record per new reason, not one per fire.
//!
//! The backoff doubles from 1 s up to 5 min, with jitter. Its cursor is left alone, so
//! once repaired the schedule accounts for what it missed by its missed-run policy:
//! nothing is dropped silently. The loop sleeps until the earliest cursor of the
//! schedules not set aside, or the earliest retry. A tick that fails as a whole (the
//! database is down) backs the loop off the same way, up to [`MAX_SLEEP`].

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use jiff::{SignedDuration, Timestamp};
use tokio_util::sync::CancellationToken;
use warden_core::{
    AuditAction, AuditOutcome, JobId, MissedPolicy, OccurrenceOutcome, OverlapPolicy, Plan,
    PrincipalId, QueueName, RetryPolicy, ScheduleId,
    schedule::{PlanInput, plan_occurrences},
};
use warden_store::{
    ActiveQuota, AuditContext, NewJob, Occurrence, OccurrenceBatch, OccurrenceItem,
    PrincipalRecord, Schedule, Store, StoreError,
};

use crate::{
    EngineError,
    controls::{owner_record, owner_refusal},
    scheduler::Shared,
    stats::EngineStats,
};

/// The owners' records read in one tick, by owner (`None`: no record, no limits).
type Owners = HashMap<PrincipalId, Option<PrincipalRecord>>;

/// Most occurrences of one schedule recorded per tick; the rest follow on the next tick.
const MAX_OCCURRENCES_PER_TICK: usize = 1000;
/// Most schedules handled per tick (the rest follow at once, in the next tick).
const MAX_SCHEDULES_PER_TICK: u32 = 5000;
/// Most plain batches (schedules) recorded in one transaction: large enough that ten
/// thousand schedules due together take a few transactions, small enough that one
/// transaction's row locks and statement arrays stay modest.
const PLAIN_BATCHES_PER_WRITE: usize = 2500;
/// Longest sleep between ticks, so a schedule added by another process is seen.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// Least time between two records of the loop's tick in the store (for the health check,
/// whose default lateness threshold is five minutes).
pub const TICK_RECORD_EVERY: Duration = Duration::from_secs(10);
/// First wait after a failure (of one schedule, or of a whole tick); it doubles after
/// each further failure.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
/// Longest wait before a failing schedule is tried (and reported) again.
const MAX_SCHEDULE_BACKOFF: Duration = Duration::from_secs(300);
/// A failing schedule's wait (before jitter): from [`FIRST_BACKOFF`], doubling, at most
/// [`MAX_SCHEDULE_BACKOFF`].
const SCHEDULE_BACKOFF: RetryPolicy = RetryPolicy {
    base: FIRST_BACKOFF,
    max: MAX_SCHEDULE_BACKOFF,
};
/// A failing loop's wait (before jitter): from [`FIRST_BACKOFF`], doubling, at most
/// [`MAX_SLEEP`].
const LOOP_BACKOFF: RetryPolicy = RetryPolicy {
    base: FIRST_BACKOFF,
    max: MAX_SLEEP,
};

/// The cron enqueuer. `run_once` is what its loop and every tick (`/cron/run` included) call.
pub struct CronEnqueuer<S> {
    shared: Arc<Shared<S>>,
    /// When this enqueuer started: occurrences before it were slept through.
    up_since: Timestamp,
    stats: Arc<EngineStats>,
    /// Schedules set aside after a failure, until their retry time.
    failing: Mutex<HashMap<ScheduleId, FailingSchedule>>,
    /// Whether the last tick read as many due schedules as one tick takes: more may be
    /// due (or due within the lookahead), so the next tick comes at once.
    full: AtomicBool,
}

/// A schedule whose occurrences could not be recorded, set aside until `retry_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailingSchedule {
    pub id: ScheduleId,
    /// Failures in a row; each one was logged once.
    pub failures: u32,
    /// Not tried again (nor logged again) before this instant of the engine's clock.
    pub retry_at: Timestamp,
    /// The last failure.
    pub error: String,
}

impl<S: Store> CronEnqueuer<S> {
    pub(crate) fn new(
        shared: Arc<Shared<S>>,
        stats: Arc<EngineStats>,
        up_since: Timestamp,
    ) -> Self {
        Self {
            shared,
            up_since,
            stats,
            failing: Mutex::default(),
            full: AtomicBool::new(false),
        }
    }

    /// Records every occurrence due at the clock's now; returns what was recorded.
    ///
    /// A schedule that fails (its row does not decode, or recording fails) does not fail
    /// the tick: it is logged and set aside with a backoff (see [`Self::failing`]), and
    /// the other schedules go on. `Err` only when the due schedules cannot be read at all.
    /// On success the recorded occurrences are counted and the tick's time is set in the
    /// metrics (see [`crate::instruments`]).
    pub async fn run_once(&self) -> Result<Vec<Occurrence>, EngineError> {
        let now = self.shared.clock.now();
        let ahead_until = self.ahead_until(now);
        self.stats.add_cron_tick();
        let due = self
            .shared
            .store
            .schedule_due_many(now, ahead_until, MAX_SCHEDULES_PER_TICK)
            .await?;
        self.full.store(
            due.len() >= MAX_SCHEDULES_PER_TICK as usize,
            Ordering::Relaxed,
        );
        let mut seen = HashSet::with_capacity(due.len());
        let mut owners = Owners::new();
        let mut plain = Vec::new();
        let mut alone = Vec::new();
        for entry in due {
            let id = match &entry {
                Ok(s) => s.id,
                Err(broken) => broken.id,
            };
            seen.insert(id);
            if self.set_aside(id, now) {
                continue;
            }
            let planned = match entry {
                Ok(schedule) => {
                    self.plan_schedule(&schedule, now, ahead_until, &mut owners)
                        .await
                }
                Err(broken) => Err(EngineError::Store(broken.error)),
            };
            match planned {
                Ok(Some(batch)) if batch.is_plain() => plain.push(batch),
                Ok(Some(batch)) => alone.push(batch),
                Ok(None) => {}
                Err(e) => self.failed(id, now, &e),
            }
        }
        // Where each schedule's jobs go, to wake those queues' producers.
        let queue_of: HashMap<ScheduleId, QueueName> = plain
            .iter()
            .chain(&alone)
            .filter_map(|b| {
                let job = b.items.iter().find_map(|i| i.job.as_ref())?;
                Some((b.schedule_id, job.queue.clone()))
            })
            .collect();
        let mut recorded = Vec::new();
        for chunk in plain.chunks(PLAIN_BATCHES_PER_WRITE) {
            match self
                .shared
                .store
                .occurrence_record_plain(chunk.to_vec())
                .await
            {
                Ok(results) => {
                    for (batch, result) in chunk.iter().zip(results) {
                        match result {
                            Some(mut r) => {
                                self.recovered(batch.schedule_id);
                                recorded.append(&mut r);
                            }
                            None => {
                                tracing::debug!(schedule.id = %batch.schedule_id, "another enqueuer recorded these occurrences");
                            }
                        }
                    }
                }
                Err(e) => {
                    // Record them one by one, so that the one that fails is set aside alone.
                    tracing::warn!(error = ?e, schedules = chunk.len(), "recording schedules together failed; recording them one by one");
                    alone.extend_from_slice(chunk);
                }
            }
        }
        for batch in alone {
            let id = batch.schedule_id;
            match self.shared.store.occurrence_record_many(batch).await {
                Ok(mut r) => {
                    self.recovered(id);
                    recorded.append(&mut r);
                }
                Err(StoreError::Conflict(_)) => {
                    tracing::debug!(schedule.id = %id, "another enqueuer recorded these occurrences");
                }
                Err(e) => self.failed(id, now, &EngineError::Store(e)),
            }
        }
        // A failing schedule that is no longer due (deleted, or its cursor moved by an
        // update) is forgotten once its retry time has come: it would be retried for
        // nothing, and its past retry time would make the loop wake at once.
        self.failing_map()
            .retain(|id, f| f.retry_at > now || seen.contains(id));
        // From the time now, not the tick's start: the writes above took time.
        self.wake_producers(self.shared.clock.now(), &queue_of, &recorded);
        for o in &recorded {
            if o.outcome == OccurrenceOutcome::Ran {
                tracing::debug!(schedule.id = %o.schedule_id, occurrence.at = %o.scheduled_at, "cron occurrence");
            } else {
                tracing::info!(schedule.id = %o.schedule_id, occurrence.at = %o.scheduled_at, outcome = %o.outcome, "cron occurrence");
            }
        }
        crate::instruments::cron_ticked(now, &recorded);
        Ok(recorded)
    }

    /// The horizon up to which occurrences may be recorded ahead (`now` plus the
    /// configured lookahead).
    fn ahead_until(&self, now: Timestamp) -> Timestamp {
        now.saturating_add(self.lookahead()).unwrap_or(now)
    }

    /// The configured `cron_lookahead`.
    fn lookahead(&self) -> SignedDuration {
        SignedDuration::try_from(self.shared.config.cron_lookahead).unwrap_or_default()
    }

    /// Wakes the producers of the queues that got jobs: at once for jobs due now, and for
    /// jobs recorded ahead when they can be claimed (`EARLY_CLAIM` before their instant;
    /// one timer per queue and instant), so that a producer busy with other work does not
    /// wait for its next poll, and holds the jobs by their instant.
    fn wake_producers(
        &self,
        now: Timestamp,
        queue_of: &HashMap<ScheduleId, QueueName>,
        recorded: &[Occurrence],
    ) {
        let mut wakes: HashSet<(&QueueName, Timestamp)> = HashSet::new();
        let early = SignedDuration::try_from(crate::prefetch::EARLY_CLAIM).unwrap_or_default();
        for o in recorded.iter().filter(|o| o.job_id.is_some()) {
            if let Some(queue) = queue_of.get(&o.schedule_id) {
                let claimable = o.scheduled_at.checked_sub(early).unwrap_or(o.scheduled_at);
                wakes.insert((queue, claimable.max(now)));
            }
        }
        for (queue, at) in wakes {
            let Some(wake) = self.shared.wakers.queues.get(queue).cloned() else {
                continue;
            };
            let until = crate::until(at, now);
            if until.is_zero() {
                wake.notify_one();
            } else {
                tokio::spawn(async move {
                    tokio::time::sleep(until).await;
                    wake.notify_one();
                });
            }
        }
    }

    /// The schedules set aside after a failure, by id.
    pub fn failing(&self) -> Vec<FailingSchedule> {
        let mut out: Vec<_> = self.failing_map().values().cloned().collect();
        out.sort_by_key(|f| f.id);
        out
    }

    /// How long the loop sleeps after a tick: until the earliest cursor of a schedule
    /// that is not set aside, or the earliest retry of one that is, at most a minute.
    pub async fn until_next_tick(&self) -> Result<Duration, EngineError> {
        if self.full.load(Ordering::Relaxed) {
            // The last tick took as many schedules as it may: the rest are due (or due
            // within the lookahead, where waiting for their cursor would lose it).
            return Ok(Duration::ZERO);
        }
        let now = self.shared.clock.now();
        let retry = self
            .failing_map()
            .values()
            .map(|f| f.retry_at)
            .filter(|at| *at > now)
            .min();
        let mut next = self.shared.store.schedule_next_fire_at().await?;
        if retry.is_some() && next.is_some_and(|at| at <= now) {
            // The overdue cursor may be a set-aside schedule's: look past those.
            next = self.next_fire_of_healthy(now).await?;
        }
        // Wake the lookahead before the earliest cursor, to record it ahead of time when
        // its overlap allows; when that time has passed (it does not, or it was just
        // recorded up to the horizon), wake at the cursor itself.
        next = next.map(|at| {
            at.checked_sub(self.lookahead())
                .ok()
                .filter(|early| *early > now)
                .unwrap_or(at)
        });
        let wake = match (next, retry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Ok(wake.map_or(MAX_SLEEP, |at| crate::until(at, now).min(MAX_SLEEP)))
    }

    /// The earliest cursor, within the next [`MAX_SLEEP`], of a schedule not set aside.
    async fn next_fire_of_healthy(&self, now: Timestamp) -> Result<Option<Timestamp>, EngineError> {
        let horizon = now
            .saturating_add(SignedDuration::try_from(MAX_SLEEP).unwrap_or_default())
            .unwrap_or(now);
        let due = self
            .shared
            .store
            .schedule_due_many(horizon, horizon, MAX_SCHEDULES_PER_TICK)
            .await?;
        let failing = self.failing_map();
        Ok(due
            .iter()
            .map(|entry| match entry {
                Ok(s) => (s.id, s.next_fire_at),
                Err(broken) => (broken.id, broken.next_fire_at),
            })
            .filter(|(id, _)| failing.get(id).is_none_or(|f| f.retry_at <= now))
            .filter_map(|(_, at)| at)
            .min())
    }

    fn failing_map(&self) -> std::sync::MutexGuard<'_, HashMap<ScheduleId, FailingSchedule>> {
        self.failing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the schedule is set aside (failed, and its retry time has not come).
    fn set_aside(&self, id: ScheduleId, now: Timestamp) -> bool {
        self.failing_map()
            .get(&id)
            .is_some_and(|f| f.retry_at > now)
    }

    /// Sets a failing schedule aside for a (growing) backoff, and reports it once.
    fn failed(&self, id: ScheduleId, now: Timestamp, error: &EngineError) {
        let mut failing = self.failing_map();
        let failures = failing.get(&id).map_or(1, |f| f.failures.saturating_add(1));
        let wait = crate::jitter(SCHEDULE_BACKOFF.delay(failures));
        let retry_at = now
            .saturating_add(SignedDuration::try_from(wait).unwrap_or_default())
            .unwrap_or(now);
        tracing::error!(
            schedule.id = %id,
            failures,
            retry_in_ms = wait.as_millis() as u64,
            error = ?error,
            "schedule set aside: its occurrences could not be recorded; the others go on"
        );
        failing.insert(
            id,
            FailingSchedule {
                id,
                failures,
                retry_at,
                error: format!("{error:?}"),
            },
        );
    }

    fn recovered(&self, id: ScheduleId) {
        if let Some(f) = self.failing_map().remove(&id) {
            tracing::info!(schedule.id = %id, failures = f.failures, "schedule recovered");
        }
    }

    /// The batch recording `s`'s occurrences due by now (by `ahead_until` when its
    /// overlap is `allow`), or `None` when none is.
    async fn plan_schedule(
        &self,
        s: &Schedule,
        now: Timestamp,
        ahead_until: Timestamp,
        owners: &mut Owners,
    ) -> Result<Option<OccurrenceBatch>, EngineError> {
        let until = if s.overlap == OverlapPolicy::Allow {
            ahead_until
        } else {
            now
        };
        let Some(cursor) = s.next_fire_at.filter(|at| *at <= until) else {
            return Ok(None);
        };
        if !owners.contains_key(&s.owner) {
            let record = owner_record(&*self.shared.store, &s.owner).await?;
            owners.insert(s.owner.clone(), record);
        }
        let owner = owners.get(&s.owner).and_then(Option::as_ref);
        let t = &s.template;
        let forbidden = owner_refusal(owner, t.kind.as_str(), t.priority).map(|e| e.to_string());
        let quota = owner.and_then(|r| {
            Some(ActiveQuota {
                owner: s.owner.clone(),
                max: r.limits.max_active?,
            })
        });
        let blocked_audit = AuditContext {
            principal_id: Some(s.owner.clone()),
            ..AuditContext::default()
        }
        .record(
            now,
            AuditAction::ScheduleBlocked,
            Some(s.id.to_string()),
            AuditOutcome::Denied,
        );
        let mut fires = vec![cursor];
        fires.extend(
            s.cron
                .fires_between(cursor, until, MAX_OCCURRENCES_PER_TICK - 1),
        );
        let last = *fires.last().unwrap_or(&cursor);
        let next = s.cron.next_after(last);
        let truncated = next.is_some_and(|n| n <= until);
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
        // Fires recorded ahead are on time by definition; planned apart, they do not count as
        // "on time" for the missed-run policy of the fires already past (`latest` would
        // otherwise skip the latest missed one for a fire not yet due).
        let (past, ahead): (Vec<_>, Vec<_>) = fires.iter().copied().partition(|at| *at <= now);
        let items = plan_occurrences(&past, &input)
            .into_iter()
            .chain(plan_occurrences(&ahead, &input))
            .map(|(at, plan)| OccurrenceItem {
                scheduled_at: at,
                plan,
                job: (plan == Plan::Run).then(|| job_for(s, now, at)),
            })
            .collect();
        Ok(Some(OccurrenceBatch {
            schedule_id: s.id,
            expected_next_fire_at: cursor,
            new_next_fire_at: next,
            overlap: s.overlap,
            now,
            items,
            forbidden,
            quota,
            blocked_audit,
        }))
    }

    /// Records the tick for the health check, at most every [`TICK_RECORD_EVERY`] (a
    /// schedule firing every second would otherwise cost a write a second). A failure is
    /// logged: the health check then reports the scheduler late, which is the truth seen
    /// from the store.
    async fn record_tick(&self, recorded: &mut Option<Timestamp>) {
        let now = self.shared.clock.now();
        let every = SignedDuration::try_from(TICK_RECORD_EVERY).unwrap_or_default();
        if recorded.is_some_and(|at| now.duration_since(at) < every) {
            return;
        }
        match self.shared.store.tick_record(now).await {
            Ok(()) => *recorded = Some(now),
            Err(e) => tracing::warn!(error = ?e, "could not record the scheduler tick"),
        }
    }

    /// Ticks, then sleeps until the next tick is due (or a wake-up), until shutdown.
    /// A tick that fails as a whole backs off (doubling, jittered, at most [`MAX_SLEEP`])
    /// with one error log per failure, rather than retrying at once.
    pub(crate) async fn run(self, shutdown: CancellationToken) {
        let mut failures = 0u32;
        let mut tick_recorded: Option<Timestamp> = None;
        loop {
            let wait = match self.run_once().await {
                Ok(_) => {
                    self.record_tick(&mut tick_recorded).await;
                    self.until_next_tick().await
                }
                Err(e) => Err(e),
            };
            let wait = match wait {
                Ok(wait) => {
                    failures = 0;
                    wait
                }
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let wait = crate::jitter(LOOP_BACKOFF.delay(failures));
                    tracing::error!(error = ?e, failures, retry_in_ms = wait.as_millis() as u64, "cron tick failed; backing off");
                    wait
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = self.shared.wakers.cron.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}

/// The job of `s`'s occurrence at `at`, created `now`: due at once, or at the instant
/// when recorded ahead of it.
fn job_for(s: &Schedule, now: Timestamp, at: Timestamp) -> NewJob {
    NewJob {
        id: JobId::new(),
        kind: s.template.kind.clone(),
        queue: s.template.queue.clone(),
        priority: s.template.priority,
        payload: s.template.payload.clone(),
        run_at: at.max(now),
        max_attempts: s.template.max_attempts,
        timeout: s.template.timeout,
        idempotency_key: None,
        owner: s.owner.clone(),
        schedule_id: Some(s.id),
        created_at: now,
        scheduled_at: Some(at),
    }
}
