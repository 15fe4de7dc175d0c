//! `/api/v1/principals`: list, get, and set a principal's `disabled` flag and limits
//! (admin only). Disabling a principal refuses it at once, with every key it holds.

use axum::{Json, extract::State};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;
use warden_core::{Permission, PrincipalId};
use warden_store::{Limits, Page, PrincipalRecord, Store, StoreError};

use super::{PageQuery, ok, page};
use crate::{
    AppState,
    auth::Caller,
    error::ApiError,
    extract::{AppJson, AppPath, AppQuery},
    views,
};

pub(crate) async fn list_principals<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppQuery(q): AppQuery<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::PrincipalsRead)?;
    let limit = q.limit();
    let list = state
        .store
        .principal_list(Page { limit, after: None }, q.after)
        .await?;
    let next = (list.len() == limit as usize)
        .then(|| list.last().map(|p| p.id.clone()))
        .flatten();
    Ok(page(list.iter().map(views::principal).collect(), next))
}

pub(crate) async fn get_principal<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::PrincipalsRead)?;
    let p = state.store.principal_get(&id).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::not_found("principal"),
        e => e.into(),
    })?;
    Ok(ok(views::principal(&p)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PrincipalBody {
    #[serde(default)]
    disabled: bool,
    #[serde(default)]
    limits: Limits,
}

/// `PUT /api/v1/principals/{id}`: creates the principal or replaces its flag and limits.
pub(crate) async fn put_principal<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
    AppJson(b): AppJson<PrincipalBody>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::PrincipalsWrite)?;
    let id = PrincipalId::parse(&id).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let now = Timestamp::now();
    let created_at = match state.store.principal_get(id.as_str()).await {
        Ok(p) => p.created_at,
        Err(StoreError::NotFound) => now,
        Err(e) => return Err(e.into()),
    };
    let record = PrincipalRecord {
        id: id.to_string(),
        disabled: b.disabled,
        limits: b.limits,
        created_at,
        updated_at: now,
    };
    let mut audit =
        caller
            .audit_context()
            .record(now, "principal.update", Some(id.to_string()), "ok");
    audit.detail = Some(format!("disabled={}", record.disabled));
    state
        .store
        .principal_upsert(record.clone(), vec![audit])
        .await?;
    Ok(ok(views::principal(&record)))
}
