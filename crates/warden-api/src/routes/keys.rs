//! `/api/v1/keys`: issue (the key is in the answer, once), list (never the key), revoke,
//! rotate. Admin only.

use axum::{Json, extract::State, http::StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;
use warden_core::{Permission, PrincipalId, Role};
use warden_store::{Store, StoreError};

use super::{created, ok};
use crate::{
    AppState,
    auth::Caller,
    error::ApiError,
    extract::{AppJson, AppPath, AppQuery},
    keys::{IssueError, IssuedKey, issue_key, parse_duration, rotate_key},
    views,
};

impl From<IssueError> for ApiError {
    fn from(e: IssueError) -> Self {
        match e {
            IssueError::Invalid(p) => ApiError::bad_request(p.to_string()),
            IssueError::Dead => ApiError::new(StatusCode::CONFLICT, "wrong_state", e.to_string()),
            IssueError::Store(StoreError::NotFound) => ApiError::not_found("key"),
            IssueError::Store(s) => s.into(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewKeyBody {
    name: String,
    role: String,
    /// The principal the key acts as; default: the key's name.
    principal: Option<String>,
    /// e.g. `90d`; default: never.
    expires: Option<String>,
}

fn issued(k: IssuedKey) -> Value {
    let mut v = views::api_key(&k.record);
    v["key"] = Value::String(secrecy::ExposeSecret::expose_secret(&k.secret).to_owned());
    v["note"] = Value::String("store this key now: it is not shown again".into());
    v
}

fn key_id(s: &str) -> Result<Uuid, ApiError> {
    s.parse()
        .map_err(|_| ApiError::bad_request("invalid key id: expected a UUID"))
}

pub(crate) async fn create_key<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppJson(b): AppJson<NewKeyBody>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Permission::KeysWrite)?;
    let bad = |e: warden_core::ParseError| ApiError::bad_request(e.to_string());
    let role = Role::parse(&b.role).map_err(bad)?;
    let principal = PrincipalId::parse(b.principal.as_deref().unwrap_or(&b.name)).map_err(bad)?;
    let expires = b
        .expires
        .as_deref()
        .map(|e| parse_duration("expires", e))
        .transpose()
        .map_err(bad)?;
    let key = issue_key(
        state.store.as_ref(),
        &state.auth.hasher,
        &b.name,
        role,
        &principal,
        expires,
        Some(&caller.audit_context()),
    )
    .await?;
    Ok(created(issued(key)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyListQuery {
    principal: Option<String>,
}

pub(crate) async fn list_keys<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppQuery(q): AppQuery<KeyListQuery>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::KeysRead)?;
    let keys = state.store.api_key_list(q.principal).await?;
    Ok(ok(Value::Array(keys.iter().map(views::api_key).collect())))
}

pub(crate) async fn revoke_key<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::KeysWrite)?;
    let id = key_id(&id)?;
    let now = jiff::Timestamp::now();
    let record = caller
        .audit_context()
        .record(now, "key.revoke", Some(id.to_string()), "ok");
    state
        .store
        .api_key_revoke(id, now, vec![record])
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("key"),
            e => e.into(),
        })?;
    Ok(ok(json!({"keyId": id, "revoked": true})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RotateBody {
    /// How long the old key keeps working, e.g. `24h` (the default).
    overlap: Option<String>,
}

pub(crate) async fn rotate<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require(Permission::KeysWrite)?;
    // The body is optional: none means the default overlap.
    let body: RotateBody = if body.iter().all(u8::is_ascii_whitespace) {
        RotateBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("the JSON body could not be read: {e}")))?
    };
    let overlap = body.overlap.unwrap_or_else(|| "24h".into());
    let overlap =
        parse_duration("overlap", &overlap).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let key = rotate_key(
        state.store.as_ref(),
        &state.auth.hasher,
        key_id(&id)?,
        overlap,
        Some(&caller.audit_context()),
    )
    .await?;
    Ok(created(issued(key)))
}
