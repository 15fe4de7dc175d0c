//! The values of operations that cross the `Store` seam: the history of `/cron/run` and
//! named locks.

use jiff::Timestamp;
use warden_core::CronRunOutcome;

/// One call of /cron/run, refused ones included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronRunRecord {
    pub at: Timestamp,
    pub outcome: CronRunOutcome,
    pub duration_ms: i64,
    pub fired: i64,
    pub skipped: i64,
    pub missed: i64,
    pub dispatched: i64,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    /// Why it failed or was refused; never a token.
    pub detail: Option<String>,
}

/// A cron-run record with its position in the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronRun {
    pub id: i64,
    pub record: CronRunRecord,
}

/// Take a named lock (see [`OpsStore::lock_acquire`](crate::OpsStore::lock_acquire)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockAcquireParams {
    pub name: String,
    /// Who takes it: a fresh value per acquisition (the lock is not re-entrant).
    pub holder: String,
    pub now: Timestamp,
    /// When the lock lapses if not released.
    pub until: Timestamp,
}

/// How many cron runs one listing returns: 0 means 100, and at most 500.
pub(crate) fn cron_run_limit(limit: u32) -> i64 {
    match limit {
        0 => 100,
        n => i64::from(n.min(500)),
    }
}

/// The `scheduler_state` key of the latest scheduler tick.
pub(crate) const LAST_TICK: &str = "last_tick";
