//! Job counts by queue and state, read from the store at most once per
//! [`EngineConfig::job_counts_max_age`](crate::EngineConfig::job_counts_max_age) and
//! shared by every reader (`/metrics` and the scheduler's health), so neither a scrape
//! nor a health probe runs a `GROUP BY` over the jobs table each time.
//!
//! Readers arriving together wait for one query rather than each running their own; a
//! failed read is not kept (the next reader tries again).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use tokio::{sync::Mutex, time::Instant};
use warden_store::{QueueCount, Store, StoreError};

/// The latest counts and when they were read.
pub(crate) struct CountsCache {
    max_age: Duration,
    latest: Mutex<Option<(Instant, Arc<[QueueCount]>)>>,
    queries: AtomicU64,
}

impl CountsCache {
    pub(crate) fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            latest: Mutex::new(None),
            queries: AtomicU64::new(0),
        }
    }

    /// The counts, read from `store` if the latest are older than the maximum age.
    pub(crate) async fn get<S: Store>(&self, store: &S) -> Result<Arc<[QueueCount]>, StoreError> {
        // Held across the query: concurrent readers wait for it and share its result.
        let mut latest = self.latest.lock().await;
        if let Some((read_at, counts)) = latest.as_ref()
            && read_at.elapsed() < self.max_age
        {
            return Ok(counts.clone());
        }
        self.queries.fetch_add(1, Ordering::Relaxed);
        let counts: Arc<[QueueCount]> = store.queue_count_many().await?.into();
        *latest = Some((Instant::now(), counts.clone()));
        Ok(counts)
    }

    /// How many times the counts were read from the store.
    pub(crate) fn queries(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }
}
