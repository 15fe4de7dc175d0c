//! Liveness and readiness probes (public: no credentials).

use axum::{Json, extract::State, http::StatusCode};
use serde::Serialize;
use utoipa::ToSchema;
use warden_store::{Store, StoreError};

use crate::{
    AppState,
    envelope::{False, True},
};

/// The process serves requests, or the store is ready.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Health {
    ok: True,
    /// `up` (`/healthz`) or `ready` (`/readyz`).
    status: &'static str,
}

/// The store is not ready.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct NotReady {
    ok: False,
    /// `not ready`.
    status: &'static str,
    /// Why (never a connection string or a credential).
    reason: String,
}

/// `GET /healthz`: 200 while the process serves requests.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    responses((status = 200, description = "The process serves requests.", body = Health))
)]
pub(crate) async fn get_healthz() -> Json<Health> {
    Json(Health {
        ok: True,
        status: "up",
    })
}

/// `GET /readyz`: 200 when the store answers and every migration is applied, else 503
/// with the reason (never a connection string or a credential).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    responses(
        (status = 200, description = "The store answers and every migration is applied.", body = Health),
        (status = 503, description = "The store is unreachable or not migrated.", body = NotReady),
    )
)]
pub(crate) async fn get_readyz<S: Store>(
    State(state): State<AppState<S>>,
) -> Result<Json<Health>, (StatusCode, Json<NotReady>)> {
    match state.store.ready().await {
        Ok(()) => Ok(Json(Health {
            ok: True,
            status: "ready",
        })),
        Err(e) => {
            let reason = match &e {
                StoreError::Migration(m) => m.clone(),
                StoreError::Unavailable(_) => "the database is unreachable".to_owned(),
                _ => "the database check failed".to_owned(),
            };
            tracing::warn!(error = ?e, "readiness check failed");
            Err((
                StatusCode::SERVICE_UNAVAILABLE,
                Json(NotReady {
                    ok: False,
                    status: "not ready",
                    reason,
                }),
            ))
        }
    }
}
