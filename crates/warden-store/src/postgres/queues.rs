//! Queues on PostgreSQL: job counts by state, and pausing a queue for every process.

use sqlx::Row;
use warden_core::QueueName;

use super::PgStore;
use crate::{convert::micros, model::*, store::Result};

pub(super) async fn queue_count_many(store: &PgStore) -> Result<Vec<QueueCount>> {
    let rows = sqlx::query(include_str!("queue_count_many.sql"))
        .fetch_all(&store.pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(QueueCount {
                queue: QueueName::parse(r.try_get("queue")?)?,
                state: crate::convert::state(r.try_get("state")?)?,
                count: r.try_get("n")?,
            })
        })
        .collect()
}

pub(super) async fn queue_set_paused(store: &PgStore, p: QueueSetPausedParams) -> Result<()> {
    store
        .audited(p.audit, async |tx| {
            sqlx::query(include_str!("queue_set_paused.sql"))
                .bind(p.queue.as_str())
                .bind(p.paused)
                .bind(micros(p.now))
                .execute(tx)
                .await?;
            Ok(())
        })
        .await
}

pub(super) async fn queue_paused_many(store: &PgStore) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(include_str!("queue_paused_many.sql"))
        .fetch_all(&store.pool)
        .await?)
}
