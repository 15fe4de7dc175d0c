//! The owner's quota of active jobs plus schedules (`maxActive`) on PostgreSQL: a write
//! that makes objects active takes the owner's transaction lock first and counts after
//! itself, so concurrent writes for one owner cannot pass the quota together.

use sqlx::PgConnection;

use crate::{StoreError, model::ActiveQuota, store::Result};

/// Takes the quota owner's transaction lock, so concurrent writes for one owner are
/// counted one after the other (see [`enforce`]).
pub(super) async fn lock(tx: &mut PgConnection, quota: Option<&ActiveQuota>) -> Result<()> {
    if let Some(q) = quota {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))")
            .bind(q.owner.as_str())
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// After a write that made `created` objects active, under the owner's lock: refuses
/// (the transaction is then rolled back) if the owner is now over its quota. Counting
/// after the write lets a replay that created nothing (an idempotency key) pass.
pub(super) async fn enforce(
    tx: &mut PgConnection,
    quota: Option<&ActiveQuota>,
    created: usize,
) -> Result<()> {
    let Some(q) = quota.filter(|_| created > 0) else {
        return Ok(());
    };
    let active: i64 = sqlx::query_scalar(include_str!("principal_active_count.sql"))
        .bind(q.owner.as_str())
        .fetch_one(&mut *tx)
        .await?;
    if active > i64::from(q.max) {
        return Err(StoreError::QuotaExceeded {
            active: active - created as i64,
            max: q.max,
        });
    }
    Ok(())
}
