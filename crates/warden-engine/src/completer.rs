//! The completer: writes attempt outcomes in batches (group commit).
//!
//! Workers send their `Completion` over a channel; the completer takes whatever has
//! queued up (at most `completer_batch`) and writes it in one statement, fenced by each
//! job's lease token. While one batch is being written the next one accumulates, so the
//! batch size follows the load. If a write fails for good, the jobs' leases expire and
//! the rescuer returns them: an outcome may be lost, a job may not.

use std::{sync::Arc, time::Duration};

use tokio::sync::mpsc;
use warden_store::{Completion, Store, StoreError};

use crate::stats::EngineStats;

pub(crate) struct Completer<S> {
    pub(crate) store: Arc<S>,
    pub(crate) rx: mpsc::UnboundedReceiver<Completion>,
    pub(crate) batch: usize,
    pub(crate) stats: Arc<EngineStats>,
}

impl<S: Store> Completer<S> {
    /// Runs until every sender is dropped and the queue is drained.
    pub(crate) async fn run(mut self) {
        let mut buf = Vec::with_capacity(self.batch);
        while self.rx.recv_many(&mut buf, self.batch).await > 0 {
            // Jobs of one claim tend to finish together: let their tasks run and report
            // before writing, so they share one write instead of trickling in one by one.
            for _ in 0..2 {
                if buf.len() >= self.batch {
                    break;
                }
                tokio::task::yield_now().await;
                while buf.len() < self.batch {
                    match self.rx.try_recv() {
                        Ok(c) => buf.push(c),
                        Err(_) => break,
                    }
                }
            }
            self.write(&buf).await;
            buf.clear();
        }
    }

    async fn write(&self, batch: &[Completion]) {
        const ATTEMPTS: u32 = 5;
        for attempt in 1..=ATTEMPTS {
            match self.store.job_complete_many(batch.to_vec()).await {
                Ok(counted) => {
                    if counted.len() < batch.len() {
                        tracing::info!(
                            jobs.ignored = batch.len() - counted.len(),
                            "ignored completions from workers whose lease had moved on"
                        );
                    }
                    self.stats
                        .add_completed(counted.len(), batch.len() - counted.len());
                    return;
                }
                Err(StoreError::Unavailable(e)) if attempt < ATTEMPTS => {
                    tracing::warn!(error = %e, attempt, "writing completions failed; retrying");
                    tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                }
                Err(e) => {
                    tracing::error!(
                        error = ?e,
                        jobs = batch.len(),
                        "could not write completions; the jobs will be rescued when their leases expire"
                    );
                    return;
                }
            }
        }
    }
}
