//! Paused queues: a paused queue's producer claims nothing (jobs already running finish
//! as usual). Pausing is stored, so it holds for every process sharing the database and
//! across restarts; each process keeps its flags in step with the store every poll
//! interval, and the process that pauses or resumes applies it at once.
//!
//! The same watch follows whether any principal has a concurrency limit
//! (`maxConcurrent`): while one does, claims take the limit-aware path, which skips owners
//! at their limit so they hold nobody else up.

use std::{collections::HashSet, sync::atomic::Ordering};

use tokio_util::sync::CancellationToken;
use warden_core::{AuditAction, QueueName};
use warden_store::Store;

use crate::{Actor, EngineError, Scheduler, scheduler::Shared};
use warden_store::QueueSetPausedParams;

/// Sets each queue's flag from the stored paused set; wakes the producers of queues
/// that were resumed.
fn apply<S>(shared: &Shared<S>, paused: &HashSet<String>) {
    for (queue, flag) in &shared.wakers.paused {
        let now = paused.contains(queue.as_str());
        if flag.swap(now, Ordering::Relaxed)
            && !now
            && let Some(wake) = shared.wakers.queues.get(queue)
        {
            wake.notify_one();
        }
    }
}

/// Keeps the paused flags in step with the store until shutdown.
pub(crate) async fn watch<S: Store>(
    shared: std::sync::Arc<Shared<S>>,
    shutdown: CancellationToken,
) {
    loop {
        match shared.store.queue_paused_many().await {
            Ok(paused) => apply(&shared, &paused.into_iter().collect()),
            Err(e) => {
                tracing::warn!(error = %e, "reading paused queues failed; keeping the last known state")
            }
        }
        match shared.store.principal_limited_any().await {
            Ok(limited) => shared.owner_limits.store(limited, Ordering::Relaxed),
            Err(e) => {
                tracing::warn!(error = %e, "reading principal limits failed; keeping the last known state")
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(crate::jitter(shared.config.poll_interval)) => {}
        }
    }
}

impl<S: Store> Scheduler<S> {
    /// Pauses or resumes `queue` (which must be declared), for every process.
    pub async fn set_queue_paused_as(
        &self,
        actor: &Actor,
        queue: &str,
        paused: bool,
    ) -> Result<(), EngineError> {
        let name = QueueName::parse(queue)?;
        let Some(flag) = self.shared.wakers.paused.get(&name) else {
            return Err(EngineError::UnknownQueue {
                queue: queue.to_owned(),
                known: self.shared.config.queue_names(),
            });
        };
        let now = self.shared.clock.now();
        let action = if paused {
            AuditAction::QueuePause
        } else {
            AuditAction::QueueResume
        };
        let audit = actor.records(now, action, [name.as_str().to_owned()]);
        self.shared
            .store
            .queue_set_paused(QueueSetPausedParams {
                queue: name.clone(),
                paused,
                now,
                audit,
            })
            .await?;
        flag.store(paused, Ordering::Relaxed);
        if !paused {
            self.wake_queue(&name);
        }
        Ok(())
    }

    /// Whether claims apply per-principal concurrency limits (some principal has one), as
    /// this process last saw it.
    pub fn owner_limits_active(&self) -> bool {
        self.shared.owner_limits.load(Ordering::Relaxed)
    }

    /// Whether `queue` is paused, as this process last saw it.
    pub fn queue_paused(&self, queue: &QueueName) -> Option<bool> {
        self.shared
            .wakers
            .paused
            .get(queue)
            .map(|f| f.load(Ordering::Relaxed))
    }
}
