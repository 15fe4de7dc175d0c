//! Counters of what the engine did, for tests, the benchmark and `/cron/run` (Prometheus
//! metrics are recorded apart, through the `metrics` facade: see `instruments`).

use std::sync::{
    OnceLock,
    atomic::{AtomicU64, Ordering},
};

use tokio::sync::Notify;

/// Monotonic counters; read them with [`EngineStats::snapshot`].
#[derive(Debug, Default)]
pub struct EngineStats {
    claimed: AtomicU64,
    claims: AtomicU64,
    completed: AtomicU64,
    stale: AtomicU64,
    rescued: AtomicU64,
    cron_ticks: AtomicU64,
    /// Signalled after each completion batch is written.
    pub(crate) completed_signal: Notify,
    /// Whether new-job notifications from other processes arrive; unset until settled.
    listening: OnceLock<bool>,
    listening_signal: Notify,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Jobs claimed by this process.
    pub claimed: u64,
    /// Claim statements sent by this process's producers (answered or not), for spotting a
    /// producer that claims without pause.
    pub claims: u64,
    /// Outcomes written (they counted: the lease was current).
    pub completed: u64,
    /// Outcomes ignored because the lease had moved on (stale worker).
    pub stale: u64,
    /// Jobs the rescuer of this process returned to the queue or buried.
    pub rescued: u64,
    /// Passes of the cron enqueuer (`run_once`), for spotting a loop that spins.
    pub cron_ticks: u64,
}

impl EngineStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            claimed: self.claimed.load(Ordering::Relaxed),
            claims: self.claims.load(Ordering::Relaxed),
            completed: self.completed.load(Ordering::Relaxed),
            stale: self.stale.load(Ordering::Relaxed),
            rescued: self.rescued.load(Ordering::Relaxed),
            cron_ticks: self.cron_ticks.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn add_claimed(&self, n: usize) {
        self.claimed.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn add_claim(&self) {
        self.claims.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_completed(&self, counted: usize, ignored: usize) {
        self.completed.fetch_add(counted as u64, Ordering::Relaxed);
        self.stale.fetch_add(ignored as u64, Ordering::Relaxed);
        self.completed_signal.notify_waiters();
    }

    pub(crate) fn add_cron_tick(&self) {
        self.cron_ticks.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add_rescued(&self, n: usize) {
        self.rescued.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Records whether this engine receives new-job notifications from other processes.
    pub(crate) fn set_listening(&self, listening: bool) {
        let _ = self.listening.set(listening);
        self.listening_signal.notify_waiters();
    }

    /// Waits until the engine has settled whether it receives new-job notifications
    /// from other processes: `true` once it listens (PostgreSQL), `false` when it cannot
    /// (SQLite needs none; or subscribing failed, and producers poll).
    pub async fn wait_listening(&self) -> bool {
        loop {
            let notified = self.listening_signal.notified();
            if let Some(listening) = self.listening.get() {
                return *listening;
            }
            notified.await;
        }
    }

    /// Waits until at least `n` outcomes have been written in all.
    pub async fn wait_completed(&self, n: u64) {
        loop {
            let notified = self.completed_signal.notified();
            if self.completed.load(Ordering::Relaxed) + self.stale.load(Ordering::Relaxed) >= n {
                return;
            }
            notified.await;
        }
    }
}
