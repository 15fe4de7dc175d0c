//! The producer of one queue: claims batches within the queue's concurrency (and, for
//! short jobs, a little ahead of it: see [`crate::prefetch`]), runs each job in its own
//! task under the job's timeout, keeps the leases alive, and hands the outcomes to the
//! completer.
//!
//! # Lease model
//! A claim gives every job of the batch a lease (owner, token, expiry). Every
//! `heartbeat_interval` the producer extends the leases of the jobs it still runs or
//! holds, in one statement; a job missing from the answer was cancelled or rescued
//! elsewhere, so its task is aborted (or, held, it is dropped). The heartbeat runs beside
//! the loop, not in it: with thousands of jobs held for a cron instant, its statement
//! takes a few hundred milliseconds on PostgreSQL, and a loop waiting on it started the
//! held jobs that late. Its answer is applied only to the attempts it asked about (job
//! and lease token: a job that finished and was claimed again while it was in flight is
//! a new attempt, which the answer must not stop). Outcomes carry the token: one from a
//! worker that lost its lease is ignored by the store.
//!
//! # Shutdown
//! On the shutdown signal the producer stops claiming, releases the jobs it holds claimed
//! but not started (and those of claims still in flight), lets running jobs finish within
//! `shutdown_grace` (still heartbeating), then aborts the rest and releases them back to
//! the queue as `retryable` so they run again soon, without waiting for their lease to
//! expire. A released attempt does not count against the job's `max_attempts`: it was
//! interrupted, not failed.
//!
//! Only a task that the abort actually stopped is released. A task may end an instant
//! before the abort, its outcome already sent to the completer; releasing it too would
//! give one attempt two outcomes (a succeeded job sent back to `retryable`). So after
//! aborting, the producer joins every task and releases exactly those that ended
//! cancelled.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use jiff::{SignedDuration, Timestamp};
use tokio::{
    sync::{Notify, mpsc},
    task::{AbortHandle, Id, JoinSet},
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use warden_core::{JobId, Outcome};
use warden_store::{ClaimParams, ClaimedJob, Completion, CompletionResult, HeartbeatParams, Store};

use crate::{
    QueueConfig,
    prefetch::{EARLY_CLAIM, Holding, Pace},
    registry::JobContext,
    scheduler::Shared,
    stats::EngineStats,
};

/// At most this many claims of one producer are in flight: while one answer is being
/// turned into running jobs, the next claim is already on its way, so the database (the
/// SQLite writer especially) always has work and claims share commits with completions.
const MAX_CLAIMS_IN_FLIGHT: usize = 2;

/// A claim's answer, with what the producer needs to account for it.
struct Claimed {
    /// The slots it reserved.
    limit: usize,
    /// Its round trip.
    took: Duration,
    /// When the leases it took expire.
    lease_until: Timestamp,
    result: Result<Vec<ClaimedJob>, warden_store::StoreError>,
}

/// Claims up to `limit` due jobs of `queue`, with a fresh lease token.
async fn claim<S: Store>(
    shared: Arc<Shared<S>>,
    queue: warden_core::QueueName,
    limit: usize,
) -> Claimed {
    let began = Instant::now();
    let now = shared.clock.now();
    let lease =
        SignedDuration::try_from(shared.config.lease).unwrap_or(SignedDuration::from_secs(30));
    let params = ClaimParams {
        queue,
        worker: shared.config.worker_id.clone(),
        limit: limit as u32,
        now,
        due_by: now
            .saturating_add(SignedDuration::try_from(EARLY_CLAIM).unwrap_or_default())
            .unwrap_or(now),
        lease_until: now.saturating_add(lease).unwrap_or(now),
        lease_token: Uuid::new_v4(),
        owner_limits: shared.owner_limits.load(Ordering::Relaxed),
    };
    let lease_until = params.lease_until;
    let result = shared.store.job_claim_many(params).await;
    Claimed {
        limit,
        took: began.elapsed(),
        lease_until,
        result,
    }
}

/// A heartbeat's answer, with what it asked.
struct Heartbeat {
    /// The attempts (job and lease token) whose lease it asked to extend.
    asked: HashSet<(JobId, Uuid)>,
    /// The lease it asked for.
    lease_until: Timestamp,
    /// Those of them whose lease it extended.
    held: Result<HashSet<JobId>, warden_store::StoreError>,
}

/// What the producer remembers about a job it runs.
struct RunningJob {
    id: JobId,
    token: Uuid,
    attempt: i32,
    max_attempts: i32,
    started_at: Timestamp,
    abort: AbortHandle,
}

pub(crate) struct Producer<S> {
    pub(crate) shared: Arc<Shared<S>>,
    pub(crate) queue: QueueConfig,
    pub(crate) wake: Arc<Notify>,
    pub(crate) completions: mpsc::UnboundedSender<Completion>,
    pub(crate) stats: Arc<EngineStats>,
    /// Set while the queue is paused: no claims (running jobs finish as usual).
    pub(crate) paused: Arc<AtomicBool>,
}

impl<S: Store> Producer<S> {
    pub(crate) async fn run(self, shutdown: CancellationToken) {
        let config = &self.shared.config;
        let concurrency = self.queue.concurrency;
        let ahead_cap = concurrency.saturating_mul(config.prefetch_per_slot);
        let mut tasks = JoinSet::new();
        let mut running: HashMap<Id, RunningJob> = HashMap::new();
        // Jobs claimed ahead of free slots, and how far ahead to claim.
        let mut holding = Holding::default();
        let mut pace = Pace::default();
        // Claims in flight, and the jobs they may bring when they answer.
        let mut claims: JoinSet<Claimed> = JoinSet::new();
        let mut reserved = 0usize;
        let mut heartbeat = tokio::time::interval(config.heartbeat_interval);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.tick().await;
        // The heartbeat in flight (at most one).
        let mut beating: JoinSet<Heartbeat> = JoinSet::new();
        let mut want_claim = true;
        // The last claim could not take every free slot (one batch at most) while the queue
        // has a backlog: a second one may go at once, without waiting for the first one's
        // answer.
        let mut more_free = false;
        // Whether the last answer was a full batch (there is a backlog; at start, assume so).
        let mut last_full = true;
        let mut idle_for = config.poll_interval;
        loop {
            if shutdown.is_cancelled() {
                break;
            }
            // Reap every task that already ended, so the claim below sees all free slots.
            while let Some(done) = tasks.try_join_next_with_id() {
                self.finished(done, &mut running, &mut pace);
            }
            let paused = self.paused.load(Ordering::Relaxed);
            if paused && !holding.is_empty() {
                self.release_unstarted(
                    holding.take_all(),
                    "the queue was paused before the job started",
                );
            }
            // Held jobs that came due join the ready ones even when every slot is busy, so
            // the wait below is never for a time already past.
            holding.promote(self.shared.clock.now());
            self.start_held(&mut holding, &mut tasks, &mut running);
            let wanted = concurrency + pace.ahead(concurrency, ahead_cap);
            let held = running.len() + holding.len() + reserved;
            let free = wanted.saturating_sub(held);
            // Under load, claim in batches: wait for a quarter of what the producer holds
            // (at most one claim batch) to free up rather than make one round trip per
            // finished job.
            let min_claim = (wanted / 4).clamp(1, config.claim_batch as usize);
            if (want_claim || more_free)
                && !paused
                && free > 0
                && (free >= min_claim || held == 0)
                && claims.len() < MAX_CLAIMS_IN_FLIGHT
            {
                let limit = free.min(config.claim_batch as usize);
                reserved += limit;
                // This claim answers every wake-up so far; a wake-up while it is in flight
                // asks for another after it. Were `want_claim` left set when the free slots
                // exceed a batch (with a large claim-ahead allowance, always), an empty queue
                // would be claimed from without pause, two claims at a time: each answer
                // that brings fewer jobs than asked says the queue had no more.
                want_claim = false;
                more_free = last_full && limit < free;
                self.stats.add_claim();
                claims.spawn(claim(self.shared.clone(), self.queue.name.clone(), limit));
                continue;
            }
            // Held jobs claimed before they were due start at their `run_at`.
            if let Some(at) = holding.next_due_at() {
                idle_for = idle_for.min(crate::until(at, self.shared.clock.now()));
            }
            let sleep = tokio::time::sleep(idle_for);
            idle_for = config.poll_interval;
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                Some(answer) = claims.join_next(), if !claims.is_empty() => {
                    let Ok(answer) = answer else {
                        // A claim task cannot panic short of a bug; forget its reservation.
                        if claims.is_empty() {
                            reserved = 0;
                        }
                        continue;
                    };
                    reserved -= answer.limit;
                    // A full answer asks for more below; a short one says there is no more.
                    more_free = false;
                    match answer.result {
                        Ok(jobs) => {
                            pace.claim_answered(answer.took);
                            // A full batch means more may be waiting: claim again at once
                            // (as after a wake-up that came while the claim was in flight).
                            last_full = jobs.len() == answer.limit;
                            want_claim |= last_full;
                            let none = jobs.is_empty();
                            self.stats.add_claimed(jobs.len());
                            // Started at the top of the loop, which first releases them
                            // if the queue was paused while the claim was in flight.
                            holding.hold(jobs, answer.lease_until, self.shared.clock.now());
                            if none && claims.is_empty() && running.is_empty() && holding.is_empty() {
                                idle_for = self.idle_wait().await;
                            }
                        }
                        Err(e) => {
                            tracing::error!(error = ?e, queue.name = %self.queue.name, "claiming jobs failed");
                            want_claim = false;
                            idle_for = crate::jitter(config.poll_interval);
                        }
                    }
                }
                Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                    self.finished(done, &mut running, &mut pace);
                    want_claim = true;
                }
                _ = self.wake.notified() => want_claim = true,
                Some(beat) = beating.join_next(), if !beating.is_empty() => {
                    if let Ok(beat) = beat {
                        self.heartbeat_answered(beat, &mut running, &mut holding);
                    }
                }
                _ = heartbeat.tick(), if beating.is_empty() && (!running.is_empty() || !holding.is_empty()) => {
                    beating.spawn(self.heartbeat(&running, &holding));
                }
                _ = sleep => want_claim = true,
            }
        }
        // Jobs not started, held or brought by claims still in flight, go back at once.
        while let Some(answer) = claims.join_next().await {
            if let Ok(Claimed {
                result: Ok(jobs),
                lease_until,
                ..
            }) = answer
            {
                holding.hold(jobs, lease_until, self.shared.clock.now());
            }
        }
        self.release_unstarted(
            holding.take_all(),
            "warden shut down before the job started",
        );
        // A heartbeat in flight may say a running job's lease is lost: stop it now rather
        // than let it run through the grace period beside another process's attempt.
        if let Some(Ok(beat)) = beating.join_next().await {
            self.heartbeat_answered(beat, &mut running, &mut holding);
        }
        self.drain(tasks, running).await;
    }

    /// Starts held jobs while slots are free.
    fn start_held(
        &self,
        holding: &mut Holding,
        tasks: &mut JoinSet<Duration>,
        running: &mut HashMap<Id, RunningJob>,
    ) {
        while running.len() < self.queue.concurrency && !holding.is_empty() {
            let (job, expired) = holding.next(self.shared.clock.now());
            if expired > 0 {
                tracing::warn!(
                    jobs = expired,
                    queue.name = %self.queue.name,
                    "claimed jobs not started: their leases passed while they waited (heartbeats failing?); the rescuer returns them"
                );
            }
            let Some(job) = job else { break };
            self.spawn(job, tasks, running);
        }
    }

    /// Sends claimed jobs that never started back to the queue; the attempt is not counted.
    fn release_unstarted(&self, jobs: Vec<ClaimedJob>, why: &str) {
        let now = self.shared.clock.now();
        for job in jobs {
            let _ = self.completions.send(Completion {
                id: job.id,
                lease_token: job.lease_token,
                attempt: job.attempt,
                worker: self.shared.config.worker_id.clone(),
                started_at: now,
                finished_at: now,
                result: CompletionResult::Released {
                    error: format!("not started: {why}"),
                },
                output: None,
            });
        }
    }

    /// How long to sleep when the queue has nothing due: until the next delayed job can
    /// be claimed ([`EARLY_CLAIM`] before it is due), at most the poll interval.
    async fn idle_wait(&self) -> Duration {
        let poll = crate::jitter(self.shared.config.poll_interval);
        match self.shared.store.job_next_run_at(&self.queue.name).await {
            Ok(Some(at)) => crate::until(at, self.shared.clock.now())
                .saturating_sub(EARLY_CLAIM)
                .min(poll),
            _ => poll,
        }
    }

    fn spawn(
        &self,
        job: ClaimedJob,
        tasks: &mut JoinSet<Duration>,
        running: &mut HashMap<Id, RunningJob>,
    ) {
        let started_at = self.shared.clock.now();
        crate::instruments::job_started(job.run_at, started_at);
        let (id, token, attempt, max_attempts) =
            (job.id, job.lease_token, job.attempt, job.max_attempts);
        let shared = self.shared.clone();
        let completions = self.completions.clone();
        let queue = self.queue.name.clone();
        let abort = tasks.spawn(async move {
            // From when the task runs, not when it was spawned: under load a task waits
            // for a thread, and that wait is not the job's (counted in, no-op jobs looked
            // milliseconds long, and the producer held fewer ahead than they need).
            let began = Instant::now();
            let completion = execute(&shared, job, queue, started_at).await;
            // The completer outlives every producer; a send can only fail at process exit.
            let _ = completions.send(completion);
            began.elapsed()
        });
        running.insert(
            abort.id(),
            RunningJob {
                id,
                token,
                attempt,
                max_attempts,
                started_at,
                abort,
            },
        );
    }

    /// A job task ended: forget it, and turn a panic into a retry.
    fn finished(
        &self,
        done: Result<(Id, Duration), tokio::task::JoinError>,
        running: &mut HashMap<Id, RunningJob>,
        pace: &mut Pace,
    ) {
        let (task_id, panicked) = match done {
            Ok((id, took)) => {
                pace.job_ran(took);
                (id, false)
            }
            Err(e) => (e.id(), e.is_panic()),
        };
        let Some(job) = running.remove(&task_id) else {
            return;
        };
        if panicked {
            tracing::error!(job.id = %job.id, "handler panicked");
            let outcome = Outcome::Retry {
                after: None,
                error: "the handler panicked".into(),
            };
            let _ = self.completions.send(self.completion(&job, outcome));
        }
    }

    /// A heartbeat of the running and held jobs: extends their leases; its answer goes to
    /// [`Self::heartbeat_answered`].
    fn heartbeat(
        &self,
        running: &HashMap<Id, RunningJob>,
        holding: &Holding,
    ) -> impl Future<Output = Heartbeat> + Send + 'static {
        let now = self.shared.clock.now();
        let lease = SignedDuration::try_from(self.shared.config.lease)
            .unwrap_or(SignedDuration::from_secs(30));
        let jobs: Vec<(JobId, Uuid)> = running
            .values()
            .map(|j| (j.id, j.token))
            .chain(holding.leases())
            .collect();
        let asked = jobs.iter().copied().collect();
        let lease_until = now.saturating_add(lease).unwrap_or(now);
        let shared = self.shared.clone();
        async move {
            let params = HeartbeatParams { jobs, lease_until };
            let held = shared.store.job_heartbeat_many(params).await;
            Heartbeat {
                asked,
                lease_until,
                held: held.map(|h| h.into_iter().collect()),
            }
        }
    }

    /// Applies a heartbeat's answer to the attempts it asked about: stops those whose lease
    /// it could not extend, drops such held ones, and moves the others' lease. Attempts
    /// started or claimed while it was in flight (the same job claimed again included: a
    /// new token) were not asked about, and are left alone.
    fn heartbeat_answered(
        &self,
        beat: Heartbeat,
        running: &mut HashMap<Id, RunningJob>,
        holding: &mut Holding,
    ) {
        let held = match beat.held {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!(error = ?e, "extending leases failed; will retry at the next heartbeat");
                return;
            }
        };
        running.retain(|_, job| {
            // A task that already ended just completed its job (which cleared the
            // lease); it is reaped on the next turn, not lost.
            let keep = !beat.asked.contains(&(job.id, job.token))
                || held.contains(&job.id)
                || job.abort.is_finished();
            if !keep {
                tracing::warn!(job.id = %job.id, "lease lost (job cancelled or rescued elsewhere); stopping it");
                job.abort.abort();
            }
            keep
        });
        let dropped = holding.extended(&beat.asked, &held, beat.lease_until);
        if dropped > 0 {
            tracing::info!(
                jobs = dropped,
                "claimed jobs cancelled or rescued elsewhere before they started; dropped"
            );
        }
    }

    /// Shutdown: wait for running jobs up to the grace period, then release the rest.
    async fn drain(&self, mut tasks: JoinSet<Duration>, mut running: HashMap<Id, RunningJob>) {
        let grace = tokio::time::sleep(self.shared.config.shutdown_grace);
        tokio::pin!(grace);
        let mut heartbeat = tokio::time::interval(self.shared.config.heartbeat_interval);
        heartbeat.tick().await;
        // Timings no longer matter: nothing more is claimed.
        let mut pace = Pace::default();
        let mut none_held = Holding::default();
        while !tasks.is_empty() {
            tokio::select! {
                Some(done) = tasks.join_next_with_id() => self.finished(done, &mut running, &mut pace),
                _ = heartbeat.tick() => {
                    let beat = self.heartbeat(&running, &none_held).await;
                    self.heartbeat_answered(beat, &mut running, &mut none_held);
                }
                _ = &mut grace => break,
            }
        }
        for job in running.values() {
            job.abort.abort();
        }
        while let Some(done) = tasks.join_next_with_id().await {
            match done {
                // Stopped by the abort: it sent no outcome, so it is released.
                Err(e) if e.is_cancelled() => {
                    let Some(job) = running.remove(&e.id()) else {
                        continue; // Aborted earlier by a lost lease: not ours to release.
                    };
                    tracing::warn!(job.id = %job.id, "job still running at the end of the shutdown grace period; released");
                    let release = CompletionResult::Released {
                        error: "interrupted: warden shut down before the job finished".into(),
                    };
                    let _ = self.completions.send(self.completion_with(&job, release));
                }
                // It ended on its own (its outcome is sent) or panicked (retried).
                done => self.finished(done, &mut running, &mut pace),
            }
        }
    }

    fn completion(&self, job: &RunningJob, outcome: Outcome) -> Completion {
        let now = self.shared.clock.now();
        let result = to_result(
            &self.shared.config.retry,
            outcome,
            job.attempt,
            job.max_attempts,
            now,
        );
        self.completion_with(job, result)
    }

    fn completion_with(&self, job: &RunningJob, result: CompletionResult) -> Completion {
        Completion {
            id: job.id,
            lease_token: job.token,
            attempt: job.attempt,
            worker: self.shared.config.worker_id.clone(),
            started_at: job.started_at,
            finished_at: self.shared.clock.now(),
            result,
            output: None,
        }
    }
}

/// Runs one job under its timeout and says how it ended.
async fn execute<S>(
    shared: &Shared<S>,
    job: ClaimedJob,
    queue: warden_core::QueueName,
    started_at: Timestamp,
) -> Completion {
    let ctx = JobContext {
        id: job.id,
        kind: job.kind.clone(),
        queue,
        priority: job.priority,
        attempt: job.attempt,
        max_attempts: job.max_attempts,
        owner: job.owner.clone(),
        run_at: job.run_at,
        scheduled_at: job.scheduled_at.unwrap_or(job.created_at),
    };
    let span = tracing::info_span!("job", job.id = %job.id, job.kind = %job.kind, job.attempt = job.attempt);
    let run = shared.registry.call(ctx, job.payload.as_bytes());
    // Dropping the handler's future at the deadline stops the work at its next await.
    let (outcome, output) = match tokio::time::timeout(job.timeout.as_duration(), run).await {
        Ok(attempt) => (attempt.outcome, attempt.output),
        Err(_) => (
            Outcome::Retry {
                after: None,
                error: format!("timed out after {} ms", job.timeout.as_millis()),
            },
            None,
        ),
    };
    let finished_at = shared.clock.now();
    span.in_scope(|| match &outcome {
        Outcome::Done => tracing::debug!("job succeeded"),
        Outcome::Retry { error, .. } | Outcome::Fail { error } => {
            tracing::warn!(error = %error, "job failed")
        }
        Outcome::Cancel { reason } => tracing::info!(reason = %reason, "job cancelled itself"),
    });
    let result = to_result(
        &shared.config.retry,
        outcome,
        job.attempt,
        job.max_attempts,
        finished_at,
    );
    Completion {
        id: job.id,
        lease_token: job.lease_token,
        attempt: job.attempt,
        worker: shared.config.worker_id.clone(),
        started_at,
        finished_at,
        result,
        output,
    }
}

/// The job's next state from a handler's outcome: retries back off, then the job dies.
fn to_result(
    retry: &warden_core::RetryPolicy,
    outcome: Outcome,
    attempt: i32,
    max_attempts: i32,
    now: Timestamp,
) -> CompletionResult {
    match outcome {
        Outcome::Done => CompletionResult::Succeeded,
        Outcome::Retry { error, .. } if attempt >= max_attempts => CompletionResult::Dead {
            error: format!("{error} (attempt {attempt} of {max_attempts}; giving up)"),
        },
        Outcome::Retry { after, error } => {
            let wait = after.unwrap_or_else(|| retry.backoff(attempt));
            let wait = SignedDuration::try_from(wait).unwrap_or(SignedDuration::from_secs(3600));
            CompletionResult::Retry {
                run_at: now.saturating_add(wait).unwrap_or(now),
                error,
            }
        }
        Outcome::Fail { error } => CompletionResult::Dead { error },
        Outcome::Cancel { reason } => CompletionResult::Cancelled { reason },
    }
}

#[cfg(test)]
mod tests {
    use warden_core::SystemClock;

    use super::*;
    use crate::{EngineConfig, Registry};

    /// At the end of the grace period one job's task has just ended (its outcome sent,
    /// not yet collected) and another still runs: only the second is released. Before,
    /// the first could be released too, and its release raced its real outcome.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutdown_releases_only_the_jobs_it_stopped() {
        let db = warden_testkit::TestDb::sqlite().await;
        let config = EngineConfig {
            shutdown_grace: Duration::ZERO,
            ..EngineConfig::default()
        };
        let queue = config.queues[0].clone();
        let shared = Arc::new(crate::engine::shared(
            Arc::new(db.store().clone()),
            Registry::new(),
            config,
            Arc::new(SystemClock),
        ));
        // The race is decided by an unbiased select: repeat so that a wrong release
        // cannot slip through by luck.
        for _ in 0..20 {
            let (tx, mut rx) = mpsc::unbounded_channel();
            let producer = Producer {
                shared: shared.clone(),
                queue: queue.clone(),
                wake: Arc::new(Notify::new()),
                completions: tx.clone(),
                stats: Arc::default(),
                paused: Arc::default(),
            };
            let (mut tasks, mut running) = (JoinSet::new(), HashMap::new());
            let now = shared.clock.now();
            let job = |abort: AbortHandle| RunningJob {
                id: JobId::new(),
                token: Uuid::new_v4(),
                attempt: 1,
                max_attempts: 1,
                started_at: now,
                abort,
            };
            let (sent_tx, sent) = tokio::sync::oneshot::channel();
            let finished = tasks.spawn(async move {
                let job = sent.await.unwrap();
                let _ = tx.send(job);
                Duration::ZERO
            });
            let finished = job(finished);
            let _ = sent_tx.send(producer.completion_with(&finished, CompletionResult::Succeeded));
            let stuck = job(tasks.spawn(std::future::pending::<Duration>()));
            let (finished_id, stuck_id) = (finished.id, stuck.id);
            while !finished.abort.is_finished() {
                tokio::task::yield_now().await;
            }
            running.insert(finished.abort.id(), finished);
            running.insert(stuck.abort.id(), stuck);

            producer.drain(tasks, running).await;
            drop(producer);
            let mut sent = Vec::new();
            while let Some(c) = rx.recv().await {
                sent.push((c.id, c.result));
            }
            sent.sort_by_key(|(id, _)| *id == stuck_id);
            assert_eq!(
                sent,
                [
                    (finished_id, CompletionResult::Succeeded),
                    (
                        stuck_id,
                        CompletionResult::Released {
                            error: "interrupted: warden shut down before the job finished".into()
                        }
                    )
                ]
            );
        }
    }

    #[test]
    fn retries_back_off_until_attempts_run_out() {
        let policy = warden_core::RetryPolicy {
            base: Duration::from_secs(10),
            max: Duration::from_secs(100),
        };
        let now: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
        let retry = |attempt| {
            to_result(
                &policy,
                Outcome::Retry {
                    after: None,
                    error: "x".into(),
                },
                attempt,
                3,
                now,
            )
        };
        match retry(2) {
            CompletionResult::Retry { run_at, .. } => {
                let wait = run_at.duration_since(now);
                assert!(
                    wait >= SignedDuration::from_secs(10) && wait <= SignedDuration::from_secs(20),
                    "{wait:?}"
                );
            }
            other => panic!("expected a retry, got {other:?}"),
        }
        assert!(
            matches!(retry(3), CompletionResult::Dead { error } if error.contains("giving up"))
        );
        let explicit = to_result(
            &policy,
            Outcome::Retry {
                after: Some(Duration::from_secs(5)),
                error: "x".into(),
            },
            1,
            3,
            now,
        );
        assert_eq!(
            explicit,
            CompletionResult::Retry {
                run_at: "2030-01-01T00:00:05Z".parse().unwrap(),
                error: "x".into()
            }
        );
        assert_eq!(
            to_result(&policy, Outcome::Fail { error: "e".into() }, 1, 3, now),
            CompletionResult::Dead { error: "e".into() }
        );
        assert_eq!(
            to_result(&policy, Outcome::Done, 1, 3, now),
            CompletionResult::Succeeded
        );
    }
}
