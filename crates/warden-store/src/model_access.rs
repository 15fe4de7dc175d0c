//! The values of access control that cross the `Store` seam: principals, API keys and
//! audit records.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use warden_core::{AuditAction, AuditOutcome, PrincipalId, Priority, Role};

/// Per-principal limits (seed 004). `None` means "no limit".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Limits {
    /// Job types this principal may schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_job_types: Option<Vec<String>>,
    /// Priorities this principal may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_priorities: Option<Vec<Priority>>,
    /// Most jobs not yet finished plus schedules this principal may own at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_active: Option<u32>,
    /// Most of this principal's jobs running at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
}

/// A principal as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalRecord {
    pub id: PrincipalId,
    /// A disabled principal is refused at once, with every key it holds.
    pub disabled: bool,
    pub limits: Limits,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// An API key as stored: never the key itself, only its keyed hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: Uuid,
    pub principal_id: PrincipalId,
    pub name: String,
    pub role: Role,
    /// The key's first characters (`wdn_` + 8), to recognise it in a list.
    pub prefix: String,
    /// HMAC-SHA-256 of the key with the server secret, hex.
    pub hash: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    /// The key this one replaced, when made by a rotation.
    pub rotated_from: Option<Uuid>,
}

impl ApiKeyRecord {
    /// Whether the key may be used at `now` (not revoked, not expired).
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| now < e)
    }
}

/// A key found by its hash, with its principal.
#[derive(Debug, Clone)]
pub struct KeyLookup {
    pub key: ApiKeyRecord,
    pub principal: PrincipalRecord,
}

/// Replace a key: the old one keeps working until `old_expires_at`.
#[derive(Debug, Clone)]
pub struct KeyRotation {
    pub old_id: Uuid,
    pub old_expires_at: Timestamp,
    /// Must name the old key's principal and role (the store checks).
    pub new_key: ApiKeyRecord,
}

/// At most `max` active jobs (not finished) plus schedules for `owner`; `adding` is how
/// many the insert adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveQuota {
    pub owner: PrincipalId,
    pub max: u32,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub at: Timestamp,
    pub principal_id: Option<PrincipalId>,
    /// The key id (or the env key's name) that authenticated, never the key.
    pub key_id: Option<String>,
    /// What was attempted, `resource.verb` (`job.create`, `auth.failure`, …).
    pub action: AuditAction,
    pub target: Option<String>,
    pub outcome: AuditOutcome,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// Warden's own id of the request that made the record.
    pub request_id: Option<String>,
    /// The client's `X-Request-Id`, when it sent a plain one; the client chooses it, so it
    /// correlates only with the client's own records.
    pub client_request_id: Option<String>,
    /// Extra context; never a secret.
    pub detail: Option<String>,
}

/// An audit record with its position in the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: i64,
    pub record: AuditRecord,
}

/// Which audit events to list: newest first, before `before_id` when paging.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub principal_id: Option<PrincipalId>,
    pub action: Option<AuditAction>,
    pub outcome: Option<AuditOutcome>,
    pub target: Option<String>,
    pub since: Option<Timestamp>,
    pub before_id: Option<i64>,
    /// 0 means 100.
    pub limit: u32,
}

/// Who is acting, for the audit records of the changes they make (never a key or token).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditContext {
    pub principal_id: Option<PrincipalId>,
    pub key_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// Warden's own request id.
    pub request_id: Option<String>,
    /// The client's `X-Request-Id`, if it sent one.
    pub client_request_id: Option<String>,
}

impl AuditContext {
    /// A record of `action` on `target` with `outcome`, by this actor, at `at`.
    pub fn record(
        &self,
        at: Timestamp,
        action: AuditAction,
        target: Option<String>,
        outcome: AuditOutcome,
    ) -> AuditRecord {
        AuditRecord {
            at,
            principal_id: self.principal_id.clone(),
            key_id: self.key_id.clone(),
            action,
            target,
            outcome,
            client_ip: self.client_ip.clone(),
            user_agent: self.user_agent.clone(),
            request_id: self.request_id.clone(),
            client_request_id: self.client_request_id.clone(),
            detail: None,
        }
    }
}

/// What a write returns, as far as its audit records go: each backend writes
/// `result.audited(audit)` with the write, in its transaction. A job write keeps only the
/// records of the jobs it changed or created (the others describe changes that did not
/// happen: a job already finished, one found by its idempotency key); any other write
/// keeps them all.
pub(crate) trait Audited {
    fn audited(&self, audit: Vec<AuditRecord>) -> Vec<AuditRecord> {
        audit
    }
}

impl Audited for () {}

/// The jobs a cancel or retry changed.
impl Audited for Vec<warden_core::JobId> {
    fn audited(&self, audit: Vec<AuditRecord>) -> Vec<AuditRecord> {
        audit_of(audit, self)
    }
}

/// The jobs an insert created (not those found by their idempotency key).
impl Audited for Vec<crate::model::InsertedJob> {
    fn audited(&self, audit: Vec<AuditRecord>) -> Vec<AuditRecord> {
        let created: Vec<_> = self.iter().filter(|j| !j.existing).map(|j| j.id).collect();
        audit_of(audit, &created)
    }
}

/// The records among `audit` whose target is one of `changed`.
fn audit_of(audit: Vec<AuditRecord>, changed: &[warden_core::JobId]) -> Vec<AuditRecord> {
    let changed: Vec<String> = changed.iter().map(ToString::to_string).collect();
    audit
        .into_iter()
        .filter(|r| r.target.as_ref().is_some_and(|t| changed.contains(t)))
        .collect()
}
