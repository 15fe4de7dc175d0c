//! Warden's runtime: it fires schedules, claims jobs and runs them.
//!
//! # Layout
//! - [`config`]: `EngineConfig` (queues, batch sizes, leases, intervals) and `validate()`.
//! - [`registry`]: typed handlers by job type; the allowlist of schedulable types.
//! - [`scheduler`]: the in-process API (`add`, `add_at`, `add_in`, `add_cron`, …).
//! - `counts`: job counts by queue and state, cached for their readers (metrics, health).
//! - [`actor`]: on whose behalf an operation runs (scope, limits, audit context).
//! - `controls`: a principal's state and limits, checked wherever work is created or
//!   re-armed (fires, resume, trigger, retry), not only at create.
//! - `manage`: cancel, retry, pause, resume, update, trigger, delete — scoped and audited.
//! - [`engine`]: `Engine::start` wires the services below and `shutdown` stops them.
//! - `producer`: per queue, claims batches within a concurrency limit and runs them.
//! - `completer`: writes outcomes in batches (group commit), fenced by lease token.
//! - `queues`: paused queues, kept in step with the store.
//! - `rescuer`: returns jobs whose lease expired (at-least-once).
//! - [`cron`]: the cron enqueuer, which records every occurrence in the ledger.
//! - `tick`: one scheduler tick on demand (`/cron/run`): cron, then dispatch in a budget;
//!   and the locked tick (single-flight store lock, tick, release, `cron_runs` row).
//! - [`instruments`]: the engine's metrics (names, help, recording), via the `metrics` facade.
//! - `wakeups`: wakes producers when another process inserts jobs (PostgreSQL).
//! - [`error`]: `EngineError`, why an operation was refused.
//!
//! # How a job flows
//! `Scheduler::add` checks the type allowlist, the queue and the payload, inserts the job
//! and wakes the queue's producer. The producer claims a batch (one statement, committed
//! at once, with a lease), runs each job in its own task under the job's timeout, keeps
//! the leases alive with batched heartbeats, and hands each outcome to the completer,
//! which writes them in batches conditional on the lease token. If the process dies,
//! the leases expire and the rescuer (of any process) puts the jobs back.

pub mod actor;
mod completer;
pub mod config;
mod controls;
mod counts;
pub mod cron;
pub mod engine;
pub mod error;
pub mod instruments;
mod manage;
mod prefetch;
mod producer;
mod queues;
pub mod registry;
mod rescuer;
pub mod scheduler;
mod wakeups;

pub use actor::{Actor, InternalTypes};
pub use config::{EngineConfig, QueueConfig};
pub use cron::FailingSchedule;
pub use engine::{Engine, EngineHandle};
pub use error::EngineError;
pub use registry::{IntoOutcome, JobContext, MAX_OUTPUT_BYTES, Registry, Reported};
pub use scheduler::{CronRequest, JobRequest, Scheduler};
pub use stats::{EngineStats, StatsSnapshot};
pub use tick::{CRON_RUN_LOCK, CronCall, LockedRun, NotRun, TickReport, Ticker, record_cron_run};
pub use warden_core::Outcome;

mod stats;
mod tick;

/// The time from `now` to `at`; zero when `at` has passed.
pub(crate) fn until(at: jiff::Timestamp, now: jiff::Timestamp) -> std::time::Duration {
    std::time::Duration::try_from(at.duration_since(now)).unwrap_or_default()
}

/// A duration with ±10% random jitter, so periodic work of many processes spreads out.
pub(crate) fn jitter(d: std::time::Duration) -> std::time::Duration {
    use rand::Rng;
    d.mul_f64(rand::rng().random_range(0.9..1.1))
}
