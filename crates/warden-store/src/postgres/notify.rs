//! Announcing inserted jobs to the other processes on the database (`NOTIFY` after
//! commit, coalesced) and listening for theirs (`LISTEN`).

use std::{collections::BTreeSet, time::Duration};

use sqlx::{PgPool, postgres::PgListener};
use tokio::sync::mpsc;

use super::PgStore;
use crate::{StoreError, store::Result};

/// Sends `NOTIFY` for queues that received jobs, coalescing: while one notification is
/// in flight, the next ones accumulate and go out together. A `NOTIFY` serialises the
/// commits of notifying transactions, so it is kept out of the insert transactions (whose
/// throughput it halved) and issued at most once per round trip. Ends with the store.
pub(super) async fn notifier(
    pool: PgPool,
    mut queues: mpsc::UnboundedReceiver<String>,
    origin: u64,
) {
    let mut pending = BTreeSet::new();
    while let Some(first) = queues.recv().await {
        pending.insert(first);
        while let Ok(q) = queues.try_recv() {
            pending.insert(q);
        }
        let names: Vec<String> = std::mem::take(&mut pending).into_iter().collect();
        let notify = sqlx::query(include_str!("job_insert_notify.sql"))
            .bind(&names)
            .bind(origin.to_string());
        if let Err(e) = notify.execute(&pool).await {
            tracing::warn!(error = %e, "announcing new jobs failed; other processes will find them by polling");
        }
    }
}

/// The channel on which inserts announce their queues.
const JOB_INSERT_CHANNEL: &str = "warden_job_insert";

impl PgStore {
    /// Tells other processes (after commit) that these queues received jobs.
    pub(super) fn announce<'q>(&self, queues: impl Iterator<Item = &'q warden_core::QueueName>) {
        for q in queues {
            // The notifier lives as long as the pool; a send fails only at shutdown.
            let _ = self.inserted.send(q.as_str().to_owned());
        }
    }
}

pub(super) async fn job_insert_subscribe(
    store: &PgStore,
) -> Result<Option<mpsc::UnboundedReceiver<String>>> {
    let mut listener = PgListener::connect_with(&store.pool)
        .await
        .map_err(StoreError::unavailable)?;
    listener
        .listen(JOB_INSERT_CHANNEL)
        .await
        .map_err(StoreError::unavailable)?;
    let (tx, rx) = mpsc::unbounded_channel();
    let own = store.origin.to_string();
    tokio::spawn(async move {
        loop {
            // `recv` reconnects by itself after a lost connection; notifications sent
            // meanwhile are lost, which the producers' polling covers.
            match listener.recv().await {
                Ok(n) => {
                    let (queue, from) = n.payload().split_once(' ').unwrap_or((n.payload(), ""));
                    if from == own && !tx.is_closed() {
                        continue; // Our own insert: its scheduler already woke the producer.
                    }
                    if tx.send(queue.to_owned()).is_err() {
                        return; // The subscriber is gone.
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "listening for new jobs failed; retrying in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
    Ok(Some(rx))
}
