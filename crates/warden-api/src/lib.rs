//! Warden's HTTP surface. For now: health and readiness; the authenticated REST API
//! arrives with its own issue.
//!
//! # Layout
//! - [`router`]: the only router constructor, shared by `warden serve` and tests.
//! - `health`: `GET /healthz` (the process is up) and `GET /readyz` (the store answers
//!   and its migrations are applied).

mod health;

use std::sync::Arc;

use axum::{Router, routing::get};
use warden_store::Store;

/// What the handlers need.
pub struct AppState<S> {
    pub store: Arc<S>,
}

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
        }
    }
}

/// Routes that answer without credentials. Every other route (none yet) will sit behind
/// authentication: deny by default.
pub const PUBLIC_ROUTES: &[&str] = &["/healthz", "/readyz"];

/// Builds the router.
pub fn router<S: Store>(state: AppState<S>) -> Router {
    Router::new()
        .route("/healthz", get(health::get_healthz))
        .route("/readyz", get(health::get_readyz::<S>))
        .with_state(state)
}
