//! The engine's configuration, with defaults and `validate()`.

use std::time::Duration;

use warden_core::{Payload, QueueName, RetryPolicy};

use crate::EngineError;

/// One queue: its name and how many of its jobs may run at once in this process.
#[derive(Debug, Clone)]
pub struct QueueConfig {
    pub name: QueueName,
    /// At most this many jobs of the queue run at once in this process. Default 10.
    pub concurrency: usize,
}

impl QueueConfig {
    pub fn new(name: QueueName, concurrency: usize) -> Self {
        Self { name, concurrency }
    }
}

/// Tuning of the engine. `Default` is a sane production setting.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Declared queues; jobs for any other queue are refused. Default: `default` (10).
    pub queues: Vec<QueueConfig>,
    /// Identifies this process in leases and run records. Default: `hostname-pid`.
    pub worker_id: String,
    /// Most jobs one claim takes. Default 100.
    pub claim_batch: u32,
    /// Most jobs a producer claims ahead of its free slots, per slot of concurrency
    /// (a queue of concurrency 10 holds at most 10 running plus 10 × this many waiting).
    /// The producer claims ahead only as far as its jobs are short beside a claim's round
    /// trip (see the producer's design notes), so slow jobs are never hoarded. Held jobs
    /// (their payloads) are in memory. Default 100: concurrency 10 then holds a thousand,
    /// as much as one claim of the bench's batch of 1000 brings; with no-op jobs it reached
    /// 91–94 % of what concurrency 64 does on PostgreSQL (`warden bench`, same hour; with
    /// 64, 69–84 %; with 10, 56–65 %), 88–98 % on SQLite. At most 1000; 0 claims only for
    /// free slots.
    pub prefetch_per_slot: usize,
    /// How long a claim holds a job before the rescuer may take it back. Default 30 s.
    pub lease: Duration,
    /// How often leases of running jobs are extended. Default 10 s (a third of the lease).
    pub heartbeat_interval: Duration,
    /// How often the rescuer looks for expired leases. Default 5 s.
    pub rescue_interval: Duration,
    /// Longest a producer sleeps without a wake-up before looking again. Default 1 s.
    pub poll_interval: Duration,
    /// Most outcomes written in one completion batch. Default 1000.
    pub completer_batch: usize,
    /// How long running jobs may take to finish at shutdown. Default 30 s.
    pub shutdown_grace: Duration,
    /// How late an occurrence may be enqueued and still count as on time. Default 60 s.
    pub cron_grace: Duration,
    /// How long before their instant the occurrences of schedules whose overlap is
    /// `allow` are recorded, their jobs inserted to run at the instant, so that they are
    /// claimable the moment they are due (see the cron enqueuer's notes). Other overlap
    /// policies depend on what is still running at the instant, so those occurrences are
    /// recorded at it. A pause (or an owner's refusal) applies to occurrences not yet
    /// recorded, so up to this long after it, a recorded one still runs. Default 2 s: ten
    /// thousand schedules due each second take most of a second to record on a loaded
    /// PostgreSQL, and the producers then claim them up to a second before their instant;
    /// with 1 s, a database stall (a checkpoint) made whole seconds late (`warden bench
    /// --cron 10000`: p99 325–465 ms, against 177–182 ms with 2 s, same hour). Zero records
    /// every occurrence at its instant; at most 60 s.
    pub cron_lookahead: Duration,
    /// Largest accepted payload. Default 1 MiB.
    pub max_payload_bytes: usize,
    /// Backoff between attempts.
    pub retry: RetryPolicy,
    /// Whether this process runs the cron enqueuer. Default true.
    pub run_cron: bool,
    /// How long job counts by queue and state (`/metrics`, the scheduler's health) are
    /// reused before the store is counted again. Default 5 s; zero counts every time.
    pub job_counts_max_age: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            queues: vec![QueueConfig::new(QueueName::default_queue(), 10)],
            worker_id: default_worker_id(),
            claim_batch: 100,
            prefetch_per_slot: 100,
            lease: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(10),
            rescue_interval: Duration::from_secs(5),
            poll_interval: Duration::from_secs(1),
            completer_batch: 1000,
            shutdown_grace: Duration::from_secs(30),
            cron_grace: Duration::from_secs(60),
            cron_lookahead: Duration::from_secs(2),
            max_payload_bytes: Payload::DEFAULT_MAX_BYTES,
            retry: RetryPolicy::default(),
            run_cron: true,
            job_counts_max_age: Duration::from_secs(5),
        }
    }
}

fn default_worker_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "warden".into());
    format!("{host}-{}", std::process::id())
}

impl EngineConfig {
    /// Checks the configuration; the error names the key.
    pub fn validate(&self) -> Result<(), EngineError> {
        let bad = |key: &str, why: &str| Err(EngineError::Config(format!("`{key}` {why}")));
        if self.queues.is_empty() {
            return bad("queues", "is empty; declare at least one queue");
        }
        for (i, q) in self.queues.iter().enumerate() {
            if q.concurrency == 0 || q.concurrency > 10_000 {
                return bad("queues.concurrency", "must be between 1 and 10000");
            }
            if self.queues[..i].iter().any(|o| o.name == q.name) {
                return Err(EngineError::Config(format!(
                    "queue {:?} is declared twice",
                    q.name.as_str()
                )));
            }
        }
        if self.claim_batch == 0 || self.claim_batch > 10_000 {
            return bad("claim_batch", "must be between 1 and 10000");
        }
        if self.prefetch_per_slot > 1000 {
            return bad("prefetch_per_slot", "must be between 0 and 1000");
        }
        if self.lease < Duration::from_secs(1) {
            return bad("lease", "must be at least 1 s");
        }
        if self.heartbeat_interval.is_zero() || self.heartbeat_interval >= self.lease {
            return bad(
                "heartbeat_interval",
                "must be positive and shorter than the lease",
            );
        }
        if self.rescue_interval.is_zero() || self.poll_interval.is_zero() {
            return bad("rescue_interval/poll_interval", "must be positive");
        }
        if self.cron_lookahead > Duration::from_secs(60) {
            return bad("cron_lookahead", "must be at most 60 s");
        }
        if self.completer_batch == 0 {
            return bad("completer_batch", "must be positive");
        }
        if self.worker_id.is_empty() {
            return bad("worker_id", "is empty");
        }
        Ok(())
    }

    pub fn queue(&self, name: &QueueName) -> Option<&QueueConfig> {
        self.queues.iter().find(|q| &q.name == name)
    }

    pub(crate) fn queue_names(&self) -> String {
        self.queues
            .iter()
            .map(|q| q.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}
