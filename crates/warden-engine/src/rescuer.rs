//! The rescuer: returns running jobs whose lease expired, so a job whose worker died is
//! never lost (at-least-once). Any process may run it: the claim of expired jobs uses
//! `SKIP LOCKED` on PostgreSQL, and the job's lease token changes, so the dead worker's
//! late completion (if it ever comes) is ignored.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use warden_store::{RescueParams, RescuedJob, Store};

use crate::{EngineError, scheduler::Shared, stats::EngineStats};

pub(crate) struct Rescuer<S> {
    pub(crate) shared: Arc<Shared<S>>,
    pub(crate) stats: Arc<EngineStats>,
}

impl<S: Store> Rescuer<S> {
    /// One pass: rescue up to 1000 expired jobs and wake the producers.
    pub(crate) async fn run_once(&self) -> Result<Vec<RescuedJob>, EngineError> {
        let rescued = self
            .shared
            .store
            .job_rescue_many(RescueParams {
                now: self.shared.clock.now(),
                limit: 1000,
            })
            .await?;
        if !rescued.is_empty() {
            tracing::warn!(
                jobs.rescued = rescued.len(),
                "returned jobs whose lease expired"
            );
            self.stats.add_rescued(rescued.len());
            crate::instruments::runs_lost(rescued.len());
            for n in self.shared.wakers.queues.values() {
                n.notify_one();
            }
        }
        Ok(rescued)
    }

    pub(crate) async fn run(self, shutdown: CancellationToken) {
        loop {
            if let Err(e) = self.run_once().await {
                tracing::error!(error = ?e, "rescuer pass failed");
            }
            let wait = crate::jitter(self.shared.config.rescue_interval);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }
}
