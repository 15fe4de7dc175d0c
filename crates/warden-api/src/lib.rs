//! Warden's HTTP surface: the authenticated REST API, the seed-compatible
//! `POST /api/jobs/schedule`, and the health probes.
//!
//! # Layout
//! - [`router`]: the only router constructor, shared by `warden serve` and tests; every
//!   route is in [`routes_table`], and all but [`PUBLIC_ROUTES`] sit behind authentication.
//! - [`auth`]: credentials → [`auth::Caller`] (deny by default), failures audited.
//! - [`error`]: the `ApiError` envelope; [`request_id`]: `X-Request-Id`.
//! - [`extract`]: extractors whose rejections use the envelope.
//! - `routes/*`: one file per resource; [`views`]: the JSON shapes of answers.
//! - [`keys`]: issuing and rotating API keys (also used by `warden keys`).
//! - [`ratelimit`]: token buckets per client IP and per principal; trusted proxies.
//! - `health`: `GET /healthz`, `GET /readyz`.

pub mod auth;
pub mod error;
pub mod extract;
mod health;
pub mod keys;
pub mod ratelimit;
pub mod request_id;
mod routes;
pub mod views;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{Method, StatusCode},
    middleware,
    routing::{MethodRouter, delete, get, post, put},
};
use tower_http::timeout::TimeoutLayer;
use warden_engine::Scheduler;
use warden_store::{AuditRecord, Store};

pub use auth::AuthConfig;

/// What the handlers need.
pub struct AppState<S> {
    pub store: Arc<S>,
    pub scheduler: Scheduler<S>,
    pub auth: Arc<AuthConfig>,
}

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            scheduler: self.scheduler.clone(),
            auth: self.auth.clone(),
        }
    }
}

impl<S: Store> AppState<S> {
    /// Appends audit records that describe no change (refusals); a failure to write them
    /// is logged, not answered (the request's own answer stands).
    pub(crate) async fn audit(&self, records: Vec<AuditRecord>) {
        if let Err(e) = self.store.audit_insert_many(records).await {
            tracing::error!(error = ?e, "writing the audit trail failed");
        }
    }
}

/// Limits on every request.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Larger bodies are refused with 413.
    pub max_body_bytes: usize,
    /// A request still running after this is answered 408.
    pub request_timeout: Duration,
    pub rate: ratelimit::RateLimitConfig,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            rate: ratelimit::RateLimitConfig::standard(),
        }
    }
}

/// Routes that answer without credentials. Every other route refuses an anonymous call.
pub const PUBLIC_ROUTES: &[&str] = &["/healthz", "/readyz"];

/// Every route: (path, method, handler). The router is built from this table, and the
/// deny-by-default test walks it.
pub fn routes_table<S: Store>() -> Vec<(&'static str, Method, MethodRouter<AppState<S>>)> {
    use routes::*;
    vec![
        ("/healthz", Method::GET, get(health::get_healthz)),
        ("/readyz", Method::GET, get(health::get_readyz::<S>)),
        (
            "/api/jobs/schedule",
            Method::POST,
            post(seed::schedule_job::<S>),
        ),
        ("/api/v1/jobs", Method::POST, post(jobs::create_job::<S>)),
        ("/api/v1/jobs", Method::GET, get(jobs::list_jobs::<S>)),
        (
            "/api/v1/jobs/batch",
            Method::POST,
            post(jobs::create_jobs::<S>),
        ),
        ("/api/v1/jobs/{id}", Method::GET, get(jobs::get_job::<S>)),
        (
            "/api/v1/jobs/{id}/cancel",
            Method::POST,
            post(jobs::cancel_job::<S>),
        ),
        (
            "/api/v1/jobs/{id}/retry",
            Method::POST,
            post(jobs::retry_job::<S>),
        ),
        (
            "/api/v1/jobs/{id}/runs",
            Method::GET,
            get(jobs::list_job_runs::<S>),
        ),
        (
            "/api/v1/schedules",
            Method::POST,
            post(schedules::create_schedule::<S>),
        ),
        (
            "/api/v1/schedules",
            Method::GET,
            get(schedules::list_schedules::<S>),
        ),
        (
            "/api/v1/schedules/{id}",
            Method::GET,
            get(schedules::get_schedule::<S>),
        ),
        (
            "/api/v1/schedules/{id}",
            Method::PUT,
            put(schedules::update_schedule::<S>),
        ),
        (
            "/api/v1/schedules/{id}",
            Method::DELETE,
            delete(schedules::delete_schedule::<S>),
        ),
        (
            "/api/v1/schedules/{id}/pause",
            Method::POST,
            post(schedules::pause_schedule::<S>),
        ),
        (
            "/api/v1/schedules/{id}/resume",
            Method::POST,
            post(schedules::resume_schedule::<S>),
        ),
        (
            "/api/v1/schedules/{id}/trigger",
            Method::POST,
            post(schedules::trigger_schedule::<S>),
        ),
        (
            "/api/v1/schedules/{id}/next",
            Method::GET,
            get(schedules::next_fire_times::<S>),
        ),
        (
            "/api/v1/schedules/{id}/occurrences",
            Method::GET,
            get(schedules::list_occurrences::<S>),
        ),
        ("/api/v1/queues", Method::GET, get(queues::list_queues::<S>)),
        ("/api/v1/keys", Method::POST, post(keys::create_key::<S>)),
        ("/api/v1/keys", Method::GET, get(keys::list_keys::<S>)),
        (
            "/api/v1/keys/{id}",
            Method::DELETE,
            delete(keys::revoke_key::<S>),
        ),
        (
            "/api/v1/keys/{id}/rotate",
            Method::POST,
            post(keys::rotate::<S>),
        ),
        (
            "/api/v1/principals",
            Method::GET,
            get(principals::list_principals::<S>),
        ),
        (
            "/api/v1/principals/{id}",
            Method::GET,
            get(principals::get_principal::<S>),
        ),
        (
            "/api/v1/principals/{id}",
            Method::PUT,
            put(principals::put_principal::<S>),
        ),
        ("/api/v1/audit", Method::GET, get(audit::list_audit::<S>)),
    ]
}

/// Builds the router: public routes as they are, every other route behind the
/// authentication layer; request ids, the per-IP rate limit, the body limit and the
/// timeout on all.
pub fn router<S: Store>(state: AppState<S>, limits: HttpLimits) -> Router {
    let limiters = Arc::new(ratelimit::Limiters::new(&limits.rate));
    let (mut public, mut private) = (Router::new(), Router::new());
    for (path, _, handler) in routes_table::<S>() {
        if PUBLIC_ROUTES.contains(&path) {
            public = public.route(path, handler);
        } else {
            private = private.route(path, handler);
        }
    }
    let private = private.route_layer(middleware::from_fn_with_state(
        state.clone(),
        auth::require_caller::<S>,
    ));
    public
        .merge(private)
        .fallback(|| async {
            error::ApiError::new(
                StatusCode::NOT_FOUND,
                "no_route",
                "no such route; see the README for the API",
            )
        })
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            limiters.clone(),
            ratelimit::limit_by_ip,
        ))
        .layer(axum::Extension(limiters))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(middleware::from_fn(request_id::request_id_layer))
        .with_state(state)
}
