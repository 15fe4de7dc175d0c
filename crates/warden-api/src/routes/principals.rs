//! `/api/v1/principals`: list, get, and set a principal's `disabled` flag and limits
//! (admin only). Disabling a principal refuses it at once, with every key it holds.

use axum::{Json, extract::State};
use jiff::Timestamp;
use serde::Deserialize;
use utoipa::ToSchema;
use warden_core::{AuditAction, AuditOutcome};
use warden_core::{Permission, PrincipalId};
use warden_store::{Limits, PrincipalRecord, Store, StoreError};

use super::{PageQuery, ok, page};
use crate::{
    AppState,
    auth::Caller,
    envelope::{Data, Page},
    error::ApiError,
    extract::{AppJson, AppPath, AppQuery},
    openapi::{BadRequest, Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType},
    views::{LimitsSchema, PrincipalView},
};

/// `GET /api/v1/principals?limit=&after=`: in id order.
#[utoipa::path(
    get,
    path = "/api/v1/principals",
    tag = "principals",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of principals, by id.", body = Page<PrincipalView>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
    )
)]
pub(crate) async fn list_principals<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppQuery(q): AppQuery<PageQuery>,
) -> Result<Json<Page<PrincipalView>>, ApiError> {
    caller.require(Permission::PrincipalsRead)?;
    let limit = q.limit();
    let list = state
        .store
        .principal_list(warden_store::Page { limit, after: None }, q.after)
        .await?;
    let next = (list.len() == limit as usize)
        .then(|| list.last().map(|p| p.id.to_string()))
        .flatten();
    Ok(page(list.iter().map(PrincipalView::new).collect(), next))
}

/// `GET /api/v1/principals/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/principals/{id}",
    tag = "principals",
    params(("id" = String, Path, description = "The principal's id.")),
    responses(
        (status = 200, description = "The principal.", body = Data<PrincipalView>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(crate) async fn get_principal<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<Data<PrincipalView>>, ApiError> {
    caller.require(Permission::PrincipalsRead)?;
    let p = state.store.principal_get(&id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::not_found("principal"),
        e => e.into(),
    })?;
    Ok(ok(PrincipalView::new(&p)))
}

/// A principal's flag and limits, replacing the ones it has.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(
    as = PrincipalSettings,
    example = json!({"disabled": false, "limits": {"allowedPriorities": ["medium", "low"], "maxActive": 100}})
)]
pub(crate) struct PrincipalBody {
    /// Refuses the principal, and every key it holds, at once (default `false`).
    #[serde(default)]
    disabled: bool,
    /// Default: no limits.
    #[serde(default)]
    #[schema(value_type = LimitsSchema)]
    limits: Limits,
}

/// The largest count a limit may hold (the databases store them as 32-bit integers).
const MAX_LIMIT: u32 = i32::MAX.unsigned_abs();

fn check_limits(limits: &Limits) -> Result<(), ApiError> {
    for (field, value) in [
        ("maxActive", limits.max_active),
        ("maxConcurrent", limits.max_concurrent),
    ] {
        if let Some(v) = value.filter(|v| *v > MAX_LIMIT) {
            return Err(ApiError::bad_request(format!(
                "invalid `limits.{field}`: {v} is too large; at most {MAX_LIMIT}"
            )));
        }
    }
    Ok(())
}

/// `PUT /api/v1/principals/{id}`: creates the principal or replaces its flag and limits.
#[utoipa::path(
    put,
    path = "/api/v1/principals/{id}",
    tag = "principals",
    params(("id" = String, Path, description = "The principal's id.")),
    request_body = PrincipalBody,
    responses(
        (status = 200, description = "The principal as stored.", body = Data<PrincipalView>,
            links(
                ("GetPrincipal" = (operation_id = "get_principal", parameters(("id" = "$response.body#/data/id")))),
            )
        ),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub(crate) async fn put_principal<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
    AppJson(b): AppJson<PrincipalBody>,
) -> Result<Json<Data<PrincipalView>>, ApiError> {
    caller.require(Permission::PrincipalsWrite)?;
    let id = PrincipalId::parse(&id).map_err(|e| ApiError::bad_request(e.to_string()))?;
    check_limits(&b.limits)?;
    let now = Timestamp::now();
    let created_at = match state.store.principal_get(id.as_str()).await {
        Ok(p) => p.created_at,
        Err(StoreError::NotFound) => now,
        Err(e) => return Err(e.into()),
    };
    let record = PrincipalRecord {
        id: id.clone(),
        disabled: b.disabled,
        limits: b.limits,
        created_at,
        updated_at: now,
    };
    let mut audit = caller.audit_context().record(
        now,
        AuditAction::PrincipalUpdate,
        Some(id.to_string()),
        AuditOutcome::Ok,
    );
    audit.detail = Some(format!(
        "disabled={} limits={}",
        record.disabled,
        serde_json::to_string(&record.limits).unwrap_or_default()
    ));
    state
        .store
        .principal_upsert(record.clone(), vec![audit])
        .await?;
    Ok(ok(PrincipalView::new(&record)))
}
