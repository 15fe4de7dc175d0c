//! Liveness and readiness probes.

use axum::{Json, extract::State, http::StatusCode};
use serde_json::{Value, json};
use warden_store::{Store, StoreError};

use crate::AppState;

/// `GET /healthz`: 200 while the process serves requests.
pub(crate) async fn get_healthz() -> Json<Value> {
    Json(json!({"ok": true, "status": "up"}))
}

/// `GET /readyz`: 200 when the store answers and every migration is applied, else 503
/// with the reason (never a connection string or a credential).
pub(crate) async fn get_readyz<S: Store>(
    State(state): State<AppState<S>>,
) -> (StatusCode, Json<Value>) {
    match state.store.ready().await {
        Ok(()) => (StatusCode::OK, Json(json!({"ok": true, "status": "ready"}))),
        Err(e) => {
            let reason = match &e {
                StoreError::Migration(m) => m.clone(),
                StoreError::Unavailable(_) => "the database is unreachable".to_owned(),
                _ => "the database check failed".to_owned(),
            };
            tracing::warn!(error = ?e, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"ok": false, "status": "not ready", "reason": reason})),
            )
        }
    }
}
