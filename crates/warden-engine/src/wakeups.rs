//! Wakes this process's producers when another process (sharing a PostgreSQL database)
//! inserts jobs, so pick-up does not wait for the next poll. Without a subscription
//! (SQLite) or when it fails, producers still find new work by polling.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;
use warden_core::QueueName;
use warden_store::Store;

use crate::{scheduler::Shared, stats::EngineStats};

pub(crate) async fn forward<S: Store>(
    shared: Arc<Shared<S>>,
    stats: Arc<EngineStats>,
    shutdown: CancellationToken,
) {
    let mut inserted = match shared.store.job_insert_subscribe().await {
        Ok(Some(rx)) => rx,
        Ok(None) => return stats.set_listening(false),
        Err(e) => {
            tracing::warn!(error = ?e, "cannot subscribe to new-job notifications; producers will poll");
            return stats.set_listening(false);
        }
    };
    stats.set_listening(true);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            queue = inserted.recv() => {
                let Some(queue) = queue else { return };
                if let Some(wake) = QueueName::parse(&queue).ok().and_then(|q| shared.wakers.queues.get(&q)) {
                    wake.notify_one();
                }
            }
        }
    }
}
