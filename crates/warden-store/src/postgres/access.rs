//! Principals, API keys and the audit trail on PostgreSQL.

use jiff::Timestamp;
use sqlx::{PgConnection, Row};
use uuid::Uuid;
use warden_core::{AuditAction, AuditOutcome, PrincipalId};

use super::{PgStore, found};
use crate::{
    StoreError,
    convert::micros,
    model::*,
    rows_access::{api_key_from_row, audit_from_row, limits_json, principal_from_row},
    store::Result,
    store_access::AccessStore,
};

/// Appends audit records on `conn` (inside the caller's transaction). One statement.
pub(super) async fn audit_insert(conn: &mut PgConnection, records: &[AuditRecord]) -> Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let mut cols: [Vec<Option<String>>; 10] = Default::default();
    let mut at = Vec::with_capacity(records.len());
    for r in records {
        at.push(micros(r.at));
        let values = [
            r.principal_id.as_ref().map(|p| p.as_str().to_owned()),
            r.key_id.clone(),
            Some(r.action.as_str().to_owned()),
            r.target.clone(),
            Some(r.outcome.as_str().to_owned()),
            r.client_ip.clone(),
            r.user_agent.clone(),
            r.request_id.clone(),
            r.client_request_id.clone(),
            r.detail.clone(),
        ];
        for (col, v) in cols.iter_mut().zip(values) {
            col.push(v);
        }
    }
    let mut q = sqlx::query(include_str!("audit_insert_many.sql")).bind(at);
    for col in cols {
        q = q.bind(col);
    }
    q.execute(conn).await?;
    Ok(())
}

async fn insert_key(conn: &mut PgConnection, k: &ApiKeyRecord) -> Result<()> {
    sqlx::query(include_str!("principal_ensure.sql"))
        .bind(k.principal_id.as_str())
        .bind(micros(k.created_at))
        .execute(&mut *conn)
        .await?;
    sqlx::query(include_str!("api_key_insert.sql"))
        .bind(k.id)
        .bind(k.principal_id.as_str())
        .bind(&k.name)
        .bind(k.role.as_str())
        .bind(&k.prefix)
        .bind(&k.hash)
        .bind(micros(k.created_at))
        .bind(k.expires_at.map(micros))
        .bind(k.revoked_at.map(micros))
        .bind(k.last_used_at.map(micros))
        .bind(k.rotated_from)
        .execute(conn)
        .await?;
    Ok(())
}

/// Limits the old key's life and inserts the new one (same principal and role).
async fn api_key_rotate(conn: &mut PgConnection, rotation: &KeyRotation) -> Result<()> {
    let old = sqlx::query(include_str!("api_key_shorten.sql"))
        .bind(rotation.old_id)
        .bind(micros(rotation.old_expires_at))
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    let (principal, role): (String, String) = (old.try_get(0)?, old.try_get(1)?);
    let new = &rotation.new_key;
    if principal != new.principal_id.as_str() || role != new.role.as_str() {
        return Err(StoreError::Conflict(
            "a rotated key must keep its principal and role".into(),
        ));
    }
    insert_key(conn, new).await
}

impl AccessStore for PgStore {
    async fn principal_upsert(&self, p: PrincipalRecord, audit: Vec<AuditRecord>) -> Result<()> {
        self.audited(audit, async |tx| {
            sqlx::query(include_str!("principal_upsert.sql"))
                .bind(p.id.as_str())
                .bind(p.disabled)
                .bind(limits_json(&p.limits))
                .bind(micros(p.created_at))
                .bind(micros(p.updated_at))
                .bind(p.limits.max_concurrent.map(i64::from))
                .execute(tx)
                .await?;
            Ok(())
        })
        .await
    }

    async fn principal_get(&self, id: &str) -> Result<PrincipalRecord> {
        let row = sqlx::query(include_str!("principal_get.sql"))
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        principal_from_row(&row)
    }

    async fn principal_list(
        &self,
        page: Page,
        after: Option<String>,
    ) -> Result<Vec<PrincipalRecord>> {
        let rows = sqlx::query(include_str!("principal_list.sql"))
            .bind(page.limit())
            .bind(after)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(principal_from_row).collect()
    }

    async fn principal_limited_any(&self) -> Result<bool> {
        Ok(
            sqlx::query_scalar(include_str!("principal_limited_any.sql"))
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn principal_active_count(&self, owner: &str) -> Result<i64> {
        Ok(
            sqlx::query_scalar(include_str!("principal_active_count.sql"))
                .bind(owner)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn api_key_insert(&self, key: ApiKeyRecord, audit: Vec<AuditRecord>) -> Result<()> {
        self.audited(audit, async |tx| insert_key(tx, &key).await)
            .await
    }

    async fn api_key_find(&self, hash: &str) -> Result<Option<KeyLookup>> {
        let row = sqlx::query(include_str!("api_key_find.sql"))
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(KeyLookup {
                key: api_key_from_row(&r)?,
                principal: principal_from_row(&r)?,
            })
        })
        .transpose()
    }

    async fn api_key_get(&self, id: Uuid) -> Result<ApiKeyRecord> {
        let row = sqlx::query(include_str!("api_key_get.sql"))
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        api_key_from_row(&row)
    }

    async fn api_key_list(&self, principal_id: Option<String>) -> Result<Vec<ApiKeyRecord>> {
        let rows = sqlx::query(include_str!("api_key_list.sql"))
            .bind(principal_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(api_key_from_row).collect()
    }

    async fn api_key_revoke(
        &self,
        id: Uuid,
        now: Timestamp,
        audit: Vec<AuditRecord>,
    ) -> Result<()> {
        self.audited(audit, async |tx| {
            let done = sqlx::query(include_str!("api_key_revoke.sql"))
                .bind(id)
                .bind(micros(now))
                .execute(tx)
                .await?;
            found(done.rows_affected())
        })
        .await
    }

    async fn api_key_rotate(&self, rotation: KeyRotation, audit: Vec<AuditRecord>) -> Result<()> {
        self.audited(audit, async |tx| api_key_rotate(tx, &rotation).await)
            .await
    }

    async fn api_key_touch_many(&self, ids: Vec<Uuid>, now: Timestamp) -> Result<()> {
        sqlx::query(include_str!("api_key_touch.sql"))
            .bind(ids)
            .bind(micros(now))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn audit_insert_many(&self, records: Vec<AuditRecord>) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        audit_insert(&mut conn, &records).await
    }

    async fn audit_list(&self, f: AuditFilter) -> Result<Vec<AuditEvent>> {
        let rows = sqlx::query(include_str!("audit_list.sql"))
            .bind(f.principal_id.as_ref().map(PrincipalId::as_str))
            .bind(f.action.map(AuditAction::as_str))
            .bind(f.outcome.map(AuditOutcome::as_str))
            .bind(f.target)
            .bind(f.since.map(micros))
            .bind(f.before_id)
            .bind(
                Page {
                    limit: f.limit,
                    after: None,
                }
                .limit(),
            )
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(audit_from_row).collect()
    }

    async fn secret_check_ensure(&self, check: String, now: Timestamp) -> Result<String> {
        sqlx::query(include_str!("secret_check_insert.sql"))
            .bind(check)
            .bind(micros(now))
            .execute(&self.pool)
            .await?;
        Ok(sqlx::query_scalar(include_str!("secret_check_get.sql"))
            .fetch_one(&self.pool)
            .await?)
    }
}
