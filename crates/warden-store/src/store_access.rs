//! `AccessStore`: principals, API keys and the audit trail — the durable half of
//! authentication and accountability. Every [`Store`](crate::Store) is one.

use std::future::Future;

use jiff::Timestamp;
use uuid::Uuid;

use crate::{
    model::{
        ApiKeyRecord, AuditEvent, AuditFilter, AuditRecord, KeyLookup, KeyRotation, Page,
        PrincipalRecord,
    },
    store::Result,
};

/// Durable principals, API keys and audit records.
pub trait AccessStore: Send + Sync + 'static {
    /// Creates the principal, or updates its `disabled` flag and limits.
    fn principal_upsert(
        &self,
        principal: PrincipalRecord,
        audit: Vec<AuditRecord>,
    ) -> impl Future<Output = Result<()>> + Send;

    fn principal_get(&self, id: &str) -> impl Future<Output = Result<PrincipalRecord>> + Send;

    /// Principals in id order, after `after` when paging.
    fn principal_list(
        &self,
        page: Page,
        after: Option<String>,
    ) -> impl Future<Output = Result<Vec<PrincipalRecord>>> + Send;

    /// Whether any principal has a concurrency limit (so claims must apply limits).
    fn principal_limited_any(&self) -> impl Future<Output = Result<bool>> + Send;

    /// Jobs not yet finished plus schedules owned by `owner` (for the `maxActive` quota).
    fn principal_active_count(&self, owner: &str) -> impl Future<Output = Result<i64>> + Send;

    /// Stores a new key, creating its principal (enabled, no limits) if it does not exist.
    fn api_key_insert(
        &self,
        key: ApiKeyRecord,
        audit: Vec<AuditRecord>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The key with this hash and its principal, whatever their state (the caller decides
    /// whether a revoked, expired or disabled key may pass).
    fn api_key_find(&self, hash: &str) -> impl Future<Output = Result<Option<KeyLookup>>> + Send;

    fn api_key_get(&self, id: Uuid) -> impl Future<Output = Result<ApiKeyRecord>> + Send;

    /// Keys, newest first, of one principal or of all.
    fn api_key_list(
        &self,
        principal_id: Option<String>,
    ) -> impl Future<Output = Result<Vec<ApiKeyRecord>>> + Send;

    /// Revokes a key at `now`. `NotFound` if there is no such key.
    fn api_key_revoke(
        &self,
        id: Uuid,
        now: Timestamp,
        audit: Vec<AuditRecord>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Inserts the new key and limits the old one's life to `old_expires_at`, in one
    /// transaction. `NotFound` if the old key does not exist or is revoked.
    fn api_key_rotate(
        &self,
        rotation: KeyRotation,
        audit: Vec<AuditRecord>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Records that these keys were used at `now`.
    fn api_key_touch_many(
        &self,
        ids: Vec<Uuid>,
        now: Timestamp,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Appends records that describe no change of their own (refusals, failures).
    fn audit_insert_many(
        &self,
        records: Vec<AuditRecord>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The trail, newest first.
    fn audit_list(
        &self,
        filter: AuditFilter,
    ) -> impl Future<Output = Result<Vec<AuditEvent>>> + Send;

    /// Records `check` as the check value of the server secret (an HMAC of a fixed label
    /// under the secret, never the secret) unless one is stored, and returns the stored
    /// one: `check` itself on the first call on a database, the first caller's after.
    fn secret_check_ensure(
        &self,
        check: String,
        now: Timestamp,
    ) -> impl Future<Output = Result<String>> + Send;
}
