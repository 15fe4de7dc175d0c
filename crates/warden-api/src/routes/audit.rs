//! `GET /api/v1/audit`: the audit trail, newest first, with filters (admin only).

use axum::{Json, extract::State};
use jiff::Timestamp;
use serde::Deserialize;
use utoipa::IntoParams;
use warden_core::{ParseError, Permission, PrincipalId};
use warden_store::{AuditFilter, Store};

use super::{MAX_PAGE, page};
use crate::{
    AppState,
    auth::Caller,
    envelope::Page,
    error::ApiError,
    extract::AppQuery,
    openapi::{BadRequest, Forbidden},
    views::AuditEventView,
};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// Only events of this principal.
    principal: Option<String>,
    /// Only this action, e.g. `job.create`.
    action: Option<String>,
    /// Only this outcome, e.g. `denied`.
    outcome: Option<String>,
    /// Only events about this target.
    target: Option<String>,
    /// Only events at or after this time (RFC 3339).
    #[param(format = DateTime)]
    since: Option<String>,
    /// Cursor: events older than this id (the `nextCursor` of the previous page).
    before: Option<i64>,
    /// Page size: 100 by default, at most 500.
    limit: Option<u32>,
}

/// `GET /api/v1/audit`: newest first.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "audit",
    params(AuditQuery),
    responses(
        (status = 200, description = "A page of the audit trail, newest first.", body = Page<AuditEventView>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
    )
)]
pub(crate) async fn list_audit<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppQuery(q): AppQuery<AuditQuery>,
) -> Result<Json<Page<AuditEventView>>, ApiError> {
    caller.require(Permission::AuditRead)?;
    let since = q
        .since
        .as_deref()
        .map(|s| s.parse::<Timestamp>())
        .transpose()
        .map_err(|_| ApiError::bad_request("invalid `since`: expected an RFC 3339 time"))?;
    // An action or outcome that does not exist is a mistake to report, not an empty page.
    let invalid = |e: ParseError| ApiError::bad_request(e.to_string());
    let principal_id = q
        .principal
        .as_deref()
        .map(PrincipalId::parse)
        .transpose()
        .map_err(invalid)?;
    let action = q
        .action
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(invalid)?;
    let outcome = q
        .outcome
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(invalid)?;
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let events = state
        .store
        .audit_list(AuditFilter {
            principal_id,
            action,
            outcome,
            target: q.target,
            since,
            before_id: q.before,
            limit,
        })
        .await?;
    let next = (events.len() == limit as usize)
        .then(|| events.last().map(|e| e.id.to_string()))
        .flatten();
    Ok(page(events.iter().map(AuditEventView::new).collect(), next))
}
