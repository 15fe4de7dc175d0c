//! What a handler says about one attempt; the engine turns it into the job's next state.

use std::time::Duration;

/// The result of one attempt of a job.
///
/// A handler returning `Err` is treated as [`Outcome::Retry`] with the retry policy's
/// backoff; these variants let it be explicit instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The job is done.
    Done,
    /// Try again: after `after`, or after the retry policy's backoff when `None`.
    /// When the attempts are used up the job becomes `dead`.
    Retry {
        after: Option<Duration>,
        error: String,
    },
    /// Failed for good: the job becomes `dead` now, whatever attempts remain.
    Fail { error: String },
    /// The job decided it should not run: it becomes `cancelled`.
    Cancel { reason: String },
}

impl Outcome {
    /// Its name in a run's output record: `done`, `retry`, `fail` or `cancel`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Done => "done",
            Self::Retry { .. } => "retry",
            Self::Fail { .. } => "fail",
            Self::Cancel { .. } => "cancel",
        }
    }

    /// The error or reason it carries, if any.
    pub fn message(&self) -> Option<&str> {
        match self {
            Self::Done => None,
            Self::Retry { error, .. } | Self::Fail { error } => Some(error),
            Self::Cancel { reason } => Some(reason),
        }
    }
}

crate::vocabulary! {
    /// How one attempt ended, as its run record says (`job_runs.outcome`, the `outcome`
    /// label of `warden_runs_total`).
    pub enum RunOutcome: "outcome", "a run outcome" {
        Succeeded = "succeeded",
        /// Failed; the job will be tried again.
        Retry = "retry",
        /// Failed for good, or its attempts are used up.
        Dead = "dead",
        Cancelled = "cancelled",
        /// Interrupted by a shutdown; the attempt does not count.
        Released = "released",
        /// Its lease expired (the worker died or stalled) and the rescuer took it back.
        Lost = "lost",
    }
}

crate::vocabulary! {
    /// How one call of `/cron/run` ended (`cron_runs.outcome`, the `outcome` label of
    /// `warden_cron_runs_total`).
    pub enum CronRunOutcome: "outcome", "a /cron/run outcome" {
        /// The tick ran.
        Ok = "ok",
        /// The tick failed.
        Failed = "failed",
        /// Another call (of any process) held the lock.
        Busy = "busy",
        /// No valid token.
        Unauthorized = "unauthorized",
        /// The caller's address is not allowed.
        Forbidden = "forbidden",
        /// Over the call rate or the time budget.
        Limited = "limited",
    }
}
