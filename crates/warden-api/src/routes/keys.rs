//! `/api/v1/keys`: issue (the key is in the answer, once), list (never the key), revoke,
//! rotate. Admin only.

use axum::{Json, extract::State};
use jiff::SignedDuration;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use warden_core::{AuditAction, AuditOutcome, Permission, PrincipalId, Role};
use warden_store::{Store, StoreError};

use super::{Created, created, ok};
use crate::error::ErrorCode;
use crate::{
    AppState,
    auth::Caller,
    envelope::Data,
    error::ApiError,
    extract::{AppJson, AppPath, AppQuery},
    keys::{IssueError, IssuedKey, issue_key, parse_duration, rotate_key},
    openapi::{BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType},
    views::{ApiKeyView, IssuedKeyView, KeyRevoked, role_schema},
};

impl From<IssueError> for ApiError {
    fn from(e: IssueError) -> Self {
        match e {
            IssueError::Invalid(p) => ApiError::bad_request(p.to_string()),
            IssueError::Dead => ApiError::new(ErrorCode::WrongState, e.to_string()),
            IssueError::Store(StoreError::NotFound) => ApiError::not_found("key"),
            IssueError::Store(s) => s.into(),
        }
    }
}

/// A key to issue.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(
    as = NewApiKey,
    example = json!({"name": "ci-reader", "role": "viewer", "principal": "ci", "expires": "90d"})
)]
pub(crate) struct NewKeyBody {
    name: String,
    #[schema(schema_with = role_schema)]
    role: String,
    /// The principal the key acts as; default: the key's name.
    principal: Option<String>,
    /// How long the key works, e.g. `90d`, `24h`; default: no expiry.
    expires: Option<String>,
}

fn issued(k: IssuedKey) -> IssuedKeyView {
    IssuedKeyView {
        listed: ApiKeyView::new(&k.record),
        key: secrecy::ExposeSecret::expose_secret(&k.secret).to_owned(),
        note: "store this key now: it is not shown again",
    }
}

/// [`parse_duration`] for a value from a client. `parse_duration` splits off the last
/// byte as the unit, which panics when the last character takes several bytes; no such
/// value is a duration, so every non-ASCII one is refused first, as it would be.
fn client_duration(field: &'static str, value: &str) -> Result<SignedDuration, ApiError> {
    let bad = |e: warden_core::ParseError| ApiError::bad_request(e.to_string());
    if !value.is_ascii() {
        return Err(bad(warden_core::ParseError::new(
            field,
            format!("{:?} is not a positive duration", value.trim()),
            "a whole number with a unit: s, m, h or d (e.g. 90d, 24h)",
        )));
    }
    parse_duration(field, value).map_err(bad)
}

fn key_id(s: &str) -> Result<Uuid, ApiError> {
    s.parse()
        .map_err(|_| ApiError::bad_request("invalid key id: expected a UUID"))
}

/// `POST /api/v1/keys`: issues a key; the answer holds the key, shown this once.
#[utoipa::path(
    post,
    path = "/api/v1/keys",
    tag = "keys",
    request_body = NewKeyBody,
    responses(
        (status = 201, description = "The key was issued.", body = Data<IssuedKeyView>,
            links(
                ("RevokeKey" = (operation_id = "revoke_key", parameters(("id" = "$response.body#/data/id")))),
                ("RotateKey" = (operation_id = "rotate", parameters(("id" = "$response.body#/data/id")))),
            )
        ),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
    )
)]
pub(crate) async fn create_key<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppJson(b): AppJson<NewKeyBody>,
) -> Result<Created<IssuedKeyView>, ApiError> {
    caller.require(Permission::KeysWrite)?;
    let bad = |e: warden_core::ParseError| ApiError::bad_request(e.to_string());
    let role = Role::parse(&b.role).map_err(bad)?;
    let principal =
        PrincipalId::parse_for_key(b.principal.as_deref().unwrap_or(&b.name)).map_err(bad)?;
    let expires = b
        .expires
        .as_deref()
        .map(|e| client_duration("expires", e))
        .transpose()?;
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

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct KeyListQuery {
    /// Only the keys of this principal.
    principal: Option<String>,
}

/// `GET /api/v1/keys?principal=`: every key (never the key itself, nor its hash).
#[utoipa::path(
    get,
    path = "/api/v1/keys",
    tag = "keys",
    params(KeyListQuery),
    responses(
        (status = 200, description = "The keys, revoked and expired ones included.", body = Data<Vec<ApiKeyView>>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
    )
)]
pub(crate) async fn list_keys<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppQuery(q): AppQuery<KeyListQuery>,
) -> Result<Json<Data<Vec<ApiKeyView>>>, ApiError> {
    caller.require(Permission::KeysRead)?;
    let keys = state.store.api_key_list(q.principal).await?;
    Ok(ok(keys.iter().map(ApiKeyView::new).collect()))
}

/// `DELETE /api/v1/keys/{id}`: the key stops working at once.
#[utoipa::path(
    delete,
    path = "/api/v1/keys/{id}",
    tag = "keys",
    params(("id" = Uuid, Path, description = "The key's id.")),
    responses(
        (status = 200, description = "The key is revoked.", body = Data<KeyRevoked>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(crate) async fn revoke_key<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
) -> Result<Json<Data<KeyRevoked>>, ApiError> {
    caller.require(Permission::KeysWrite)?;
    let id = key_id(&id)?;
    let now = jiff::Timestamp::now();
    let record = caller.audit_context().record(
        now,
        AuditAction::KeyRevoke,
        Some(id.to_string()),
        AuditOutcome::Ok,
    );
    state
        .store
        .api_key_revoke(id, now, vec![record])
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("key"),
            e => e.into(),
        })?;
    Ok(ok(KeyRevoked {
        key_id: id,
        revoked: true,
    }))
}

/// How to rotate a key.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = KeyRotation, example = json!({"overlap": "24h"}))]
pub(crate) struct RotateBody {
    /// How long the old key keeps working, e.g. `24h` (the default).
    overlap: Option<String>,
}

/// `POST /api/v1/keys/{id}/rotate`: a new key for the same principal and role; the old
/// one keeps working for the overlap. The body is optional.
#[utoipa::path(
    post,
    path = "/api/v1/keys/{id}/rotate",
    tag = "keys",
    params(("id" = Uuid, Path, description = "The key's id.")),
    request_body(content = Option<RotateBody>, description = "Optional: no body (or `null`) means a 24 h overlap."),
    responses(
        (status = 201, description = "The new key was issued.", body = Data<IssuedKeyView>,
            links(
                ("RevokeKey" = (operation_id = "revoke_key", parameters(("id" = "$response.body#/data/id")))),
                ("RotateKey" = (operation_id = "rotate", parameters(("id" = "$response.body#/data/id")))),
            )
        ),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
    )
)]
pub(crate) async fn rotate<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(id): AppPath<String>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Created<IssuedKeyView>, ApiError> {
    caller.require(Permission::KeysWrite)?;
    let body = body.map_err(crate::extract::body_error)?;
    // The body is optional: none (or `null`) means the default overlap.
    let body: RotateBody = if body.iter().all(u8::is_ascii_whitespace) {
        RotateBody::default()
    } else {
        serde_json::from_slice::<Option<RotateBody>>(&body)
            .map_err(|e| ApiError::bad_request(format!("the JSON body could not be read: {e}")))?
            .unwrap_or_default()
    };
    let overlap = body.overlap.unwrap_or_else(|| "24h".into());
    let overlap = client_duration("overlap", &overlap)?;
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
