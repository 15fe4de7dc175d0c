//! Principals, API keys and the audit trail on SQLite: writes are functions on the
//! writer's connection (rusqlite), reads use the read pool.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;
use warden_core::{AuditAction, AuditOutcome, PrincipalId};

use super::{
    SqliteStore,
    writes::{execute, found},
};
use crate::{
    StoreError,
    convert::micros,
    model::*,
    rows_access::{api_key_from_row, audit_from_row, limits_json, principal_from_row},
    store::Result,
    store_access::AccessStore,
};

fn principal_upsert(conn: &Connection, p: &PrincipalRecord) -> Result<()> {
    let params = params![
        p.id.as_str(),
        p.disabled,
        limits_json(&p.limits),
        micros(p.created_at),
        micros(p.updated_at),
        p.limits.max_concurrent
    ];
    execute(conn, include_str!("principal_upsert.sql"), params).map(drop)
}

fn api_key_revoke(conn: &Connection, id: Uuid, now: Timestamp) -> Result<()> {
    let params = params![id.to_string(), micros(now)];
    found(execute(conn, include_str!("api_key_revoke.sql"), params)?)
}

fn api_key_rotate(conn: &Connection, r: &KeyRotation) -> Result<()> {
    let old: Option<(String, String)> = conn
        .prepare_cached(include_str!("api_key_shorten.sql"))?
        .query_row(
            params![r.old_id.to_string(), micros(r.old_expires_at)],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let (principal, role) = old.ok_or(StoreError::NotFound)?;
    if principal != r.new_key.principal_id.as_str() || role != r.new_key.role.as_str() {
        return Err(StoreError::Conflict(
            "a rotated key must keep its principal and role".into(),
        ));
    }
    insert_key(conn, &r.new_key)
}

fn api_key_touch(conn: &Connection, ids: &[Uuid], now: Timestamp) -> Result<()> {
    let mut touch = conn.prepare_cached(include_str!("api_key_touch.sql"))?;
    for id in ids {
        touch.execute(params![id.to_string(), micros(now)])?;
    }
    Ok(())
}

/// Stores the server secret's check value, unless one is stored.
fn secret_check_insert(conn: &Connection, check: &str, now: Timestamp) -> Result<()> {
    let params = params![check, micros(now)];
    execute(conn, include_str!("secret_check_insert.sql"), params).map(drop)
}

fn insert_key(conn: &Connection, k: &ApiKeyRecord) -> Result<()> {
    execute(
        conn,
        include_str!("principal_ensure.sql"),
        params![k.principal_id.as_str(), micros(k.created_at)],
    )?;
    let params = params![
        k.id.to_string(),
        k.principal_id.as_str(),
        k.name,
        k.role.as_str(),
        k.prefix,
        k.hash,
        micros(k.created_at),
        k.expires_at.map(micros),
        k.revoked_at.map(micros),
        k.last_used_at.map(micros),
        k.rotated_from.map(|u| u.to_string()),
    ];
    execute(conn, include_str!("api_key_insert.sql"), params).map(drop)
}

/// Appends audit records on the writer's connection (inside the current savepoint).
pub(super) fn audit_insert(conn: &Connection, records: &[AuditRecord]) -> Result<()> {
    let mut insert = conn.prepare_cached(include_str!("audit_insert_many.sql"))?;
    for r in records {
        insert.execute(params![
            micros(r.at),
            r.principal_id.as_ref().map(PrincipalId::as_str),
            r.key_id,
            r.action.as_str(),
            r.target,
            r.outcome.as_str(),
            r.client_ip,
            r.user_agent,
            r.request_id,
            r.client_request_id,
            r.detail
        ])?;
    }
    Ok(())
}

impl AccessStore for SqliteStore {
    async fn principal_upsert(&self, p: PrincipalRecord, audit: Vec<AuditRecord>) -> Result<()> {
        self.writer
            .audited(audit, move |c| principal_upsert(c, &p))
            .await
    }

    async fn principal_get(&self, id: &str) -> Result<PrincipalRecord> {
        let row = sqlx::query(include_str!("principal_get.sql"))
            .bind(id)
            .fetch_one(&self.read)
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
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(principal_from_row).collect()
    }

    async fn principal_limited_any(&self) -> Result<bool> {
        Ok(
            sqlx::query_scalar(include_str!("principal_limited_any.sql"))
                .fetch_one(&self.read)
                .await?,
        )
    }

    async fn principal_active_count(&self, owner: &str) -> Result<i64> {
        Ok(
            sqlx::query_scalar(include_str!("principal_active_count.sql"))
                .bind(owner)
                .fetch_one(&self.read)
                .await?,
        )
    }

    async fn api_key_insert(&self, key: ApiKeyRecord, audit: Vec<AuditRecord>) -> Result<()> {
        self.writer
            .audited(audit, move |c| insert_key(c, &key))
            .await
    }

    async fn api_key_find(&self, hash: &str) -> Result<Option<KeyLookup>> {
        let row = sqlx::query(include_str!("api_key_find.sql"))
            .bind(hash)
            .fetch_optional(&self.read)
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
            .bind(id.to_string())
            .fetch_one(&self.read)
            .await?;
        api_key_from_row(&row)
    }

    async fn api_key_list(&self, principal_id: Option<String>) -> Result<Vec<ApiKeyRecord>> {
        let rows = sqlx::query(include_str!("api_key_list.sql"))
            .bind(principal_id)
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(api_key_from_row).collect()
    }

    async fn api_key_revoke(
        &self,
        id: Uuid,
        now: Timestamp,
        audit: Vec<AuditRecord>,
    ) -> Result<()> {
        self.writer
            .audited(audit, move |c| api_key_revoke(c, id, now))
            .await
    }

    async fn api_key_rotate(&self, rotation: KeyRotation, audit: Vec<AuditRecord>) -> Result<()> {
        self.writer
            .audited(audit, move |c| api_key_rotate(c, &rotation))
            .await
    }

    async fn api_key_touch_many(&self, ids: Vec<Uuid>, now: Timestamp) -> Result<()> {
        self.writer.call(move |c| api_key_touch(c, &ids, now)).await
    }

    async fn audit_insert_many(&self, records: Vec<AuditRecord>) -> Result<()> {
        self.writer.audited(records, |_| Ok(())).await
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
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(audit_from_row).collect()
    }

    async fn secret_check_ensure(&self, check: String, now: Timestamp) -> Result<String> {
        self.writer
            .call(move |c| secret_check_insert(c, &check, now))
            .await?;
        Ok(sqlx::query_scalar(include_str!("secret_check_get.sql"))
            .fetch_one(&self.read)
            .await?)
    }
}
