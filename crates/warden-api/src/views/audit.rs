//! The view of one entry of the audit trail.

use jiff::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;
use warden_store::AuditEvent;

/// One entry of the audit trail.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AuditEvent)]
pub struct AuditEventView {
    /// The position in the trail (the `before` cursor).
    pub id: i64,
    pub at: Timestamp,
    pub principal: Option<String>,
    /// The key id (or the environment key's name) that authenticated; never the key.
    pub key_id: Option<String>,
    /// `resource.verb`, e.g. `job.create`, `auth.failure`.
    pub action: String,
    pub target: Option<String>,
    /// `ok`, `denied`, `unauthenticated`, `not_found`, `invalid`, `limited`, `failed`.
    pub outcome: String,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// Warden's own id of the request (the answer's `X-Request-Id`).
    pub request_id: Option<String>,
    /// The `X-Request-Id` the client sent, if any: chosen by the client, so it correlates
    /// only with the client's own records.
    pub client_request_id: Option<String>,
    pub detail: Option<String>,
}

impl AuditEventView {
    pub fn new(e: &AuditEvent) -> Self {
        let r = &e.record;
        Self {
            id: e.id,
            at: r.at,
            principal: r.principal_id.as_ref().map(ToString::to_string),
            key_id: r.key_id.clone(),
            action: r.action.as_str().to_owned(),
            target: r.target.clone(),
            outcome: r.outcome.as_str().to_owned(),
            client_ip: r.client_ip.clone(),
            user_agent: r.user_agent.clone(),
            request_id: r.request_id.clone(),
            client_request_id: r.client_request_id.clone(),
            detail: r.detail.clone(),
        }
    }
}
