//! The views of API keys: as listed (never the key, never its hash), as issued (the key,
//! shown once), and revoked.

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;
use warden_store::ApiKeyRecord;

use super::schema::role_schema;

/// An API key as listed: never the key, never its hash.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ApiKey)]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    /// The principal the key acts as.
    pub principal: String,
    #[schema(schema_with = role_schema)]
    pub role: &'static str,
    /// The key's first characters (`wdn_` + 8), to recognise it.
    pub prefix: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    /// The key this one replaced, when made by a rotation.
    pub rotated_from: Option<Uuid>,
}

impl ApiKeyView {
    pub fn new(k: &ApiKeyRecord) -> Self {
        Self {
            id: k.id,
            name: k.name.clone(),
            principal: k.principal_id.to_string(),
            role: k.role.as_str(),
            prefix: k.prefix.clone(),
            created_at: k.created_at,
            expires_at: k.expires_at,
            revoked_at: k.revoked_at,
            last_used_at: k.last_used_at,
            rotated_from: k.rotated_from,
        }
    }
}

/// A key as listed, as a JSON value (`warden keys list --json` prints these).
pub fn api_key(k: &ApiKeyRecord) -> Value {
    serde_json::to_value(ApiKeyView::new(k)).unwrap_or(Value::Null)
}

/// A newly issued key: the listed fields plus the key itself, shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = IssuedApiKey)]
pub struct IssuedKeyView {
    #[serde(flatten)]
    pub listed: ApiKeyView,
    /// The key. It is not stored and is not shown again.
    pub key: String,
    pub note: &'static str,
}

/// A key revoked.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyRevoked {
    pub key_id: Uuid,
    pub revoked: bool,
}
