//! `GET /api/v1/audit`: the audit trail, newest first, with filters (admin only).

use axum::{Json, extract::State};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;
use warden_core::Permission;
use warden_store::{AuditFilter, Store};

use super::{MAX_PAGE, page};
use crate::{AppState, auth::Caller, error::ApiError, extract::AppQuery, views};

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditQuery {
    principal: Option<String>,
    action: Option<String>,
    outcome: Option<String>,
    target: Option<String>,
    /// RFC 3339.
    since: Option<String>,
    /// Cursor: events older than this id.
    before: Option<i64>,
    limit: Option<u32>,
}

pub(crate) async fn list_audit<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppQuery(q): AppQuery<AuditQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::AuditRead)?;
    let since = q
        .since
        .as_deref()
        .map(|s| s.parse::<Timestamp>())
        .transpose()
        .map_err(|_| ApiError::bad_request("invalid `since`: expected an RFC 3339 time"))?;
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let events = state
        .store
        .audit_list(AuditFilter {
            principal_id: q.principal,
            action: q.action,
            outcome: q.outcome,
            target: q.target,
            since,
            before_id: q.before,
            limit,
        })
        .await?;
    let next = (events.len() == limit as usize)
        .then(|| events.last().map(|e| e.id.to_string()))
        .flatten();
    Ok(page(events.iter().map(views::audit_event).collect(), next))
}
