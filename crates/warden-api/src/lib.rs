//! Warden's HTTP surface: the authenticated REST API, the seed-compatible
//! `POST /api/jobs/schedule`, and the health probes.
//!
//! # Layout
//! - [`router`]: the only router constructor, shared by `warden serve` and tests; every
//!   route is in [`routes_table`], and all but [`PUBLIC_ROUTES`] sit behind authentication.
//! - [`auth`]: credentials → [`auth::Caller`] (deny by default), failures audited.
//! - [`error`]: the `ApiError` envelope; [`request_id`]: `X-Request-Id`.
//! - [`extract`]: extractors whose rejections use the envelope.
//! - `routes/*`: one file per resource, each handler with its `#[utoipa::path]`;
//!   [`views`]: the JSON shapes of answers; [`envelope`]: `{"ok": true, "data": …}`.
//! - [`openapi`]: the OpenAPI 3.1 document, built from [`routes_table`] and served at
//!   `GET /api/v1/openapi.json`; checked in as `openapi.json` beside `Cargo.toml`.
//! - [`keys`]: issuing and rotating API keys (also used by `warden keys`).
//! - [`serve`]: the HTTP/1 server loop of every listener (header deadline, graceful stop);
//!   [`conn_limit`]: caps on connections (total, per address or /64), room made by
//!   shedding idle connections, and an idle timeout.
//! - `refusals`: refused credentials recorded in full up to a few per address and window,
//!   counted beyond.
//! - [`ratelimit`]: token buckets per client IP and per principal; trusted proxies.
//! - `health`: `GET /healthz`, `GET /readyz`.
//! - `routes/cron_run`: `GET|POST /cron/run` for external cron services (own token, rate
//!   limit, then the engine's locked tick, a `cron_runs` record per call), guarded by
//!   [`cron_run`] (its configuration, tokens and limiters); `routes/scheduler`: the
//!   scheduler's health and the cron-run records.
//! - [`metrics`]: the Prometheus recorder and `GET /metrics` (its own token, or its own
//!   address); merged in by [`router_with`].

pub mod auth;
pub mod conn_limit;
pub mod cron_run;
pub mod envelope;
pub mod error;
pub mod extract;
mod health;
pub mod keys;
pub mod metrics;
pub mod openapi;
pub mod ratelimit;
pub mod refusals;
pub mod request_id;
mod routes;
pub mod serve;
pub mod views;

use crate::error::ErrorCode;
use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{Method, StatusCode},
    middleware,
    routing::{MethodRouter, delete, get, post, put},
};
use tower_http::catch_panic::CatchPanicLayer;
use warden_engine::Scheduler;
use warden_store::{AuditRecord, Store};

pub use auth::AuthConfig;

/// What the handlers need.
pub struct AppState<S> {
    pub store: Arc<S>,
    pub scheduler: Scheduler<S>,
    pub auth: Arc<AuthConfig>,
    /// `/cron/run`, when a `CRON_TOKEN` is configured.
    pub cron: Option<Arc<cron_run::CronTrigger<S>>>,
    /// The scheduler is reported late after this long without a tick.
    pub late_after: Duration,
}

/// The default of [`AppState::late_after`]: five minutes.
pub const DEFAULT_LATE_AFTER: Duration = Duration::from_secs(300);

impl<S> Clone for AppState<S> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            scheduler: self.scheduler.clone(),
            auth: self.auth.clone(),
            cron: self.cron.clone(),
            late_after: self.late_after,
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
    /// How refused credentials are recorded (see [`refusals`]).
    pub refusals: refusals::RefusalLimits,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            rate: ratelimit::RateLimitConfig::standard(),
            refusals: refusals::RefusalLimits::default(),
        }
    }
}

/// Routes that answer without credentials. Every other route refuses an anonymous call.
/// `/cron/run` checks its own token (the `CRON_TOKEN`s) in its handler.
pub const PUBLIC_ROUTES: &[&str] = &["/healthz", "/readyz", "/cron/run"];

/// One route: where, the handler, and the handler's OpenAPI description.
pub struct Route<S> {
    pub path: &'static str,
    pub method: Method,
    pub handler: MethodRouter<AppState<S>>,
    /// The handler's `#[utoipa::path]` description (path, methods, operation, schemas).
    pub doc: fn() -> openapi::RouteDoc,
}

/// A table entry: `P` is the `__path_<handler>` type that `#[utoipa::path]` made for the
/// handler, so the route and its description are registered together.
fn route<S, P>(method: Method, path: &'static str, handler: MethodRouter<AppState<S>>) -> Route<S>
where
    P: utoipa::Path + utoipa::__dev::SchemaReferences + for<'t> utoipa::__dev::Tags<'t>,
{
    Route {
        path,
        method,
        handler,
        doc: openapi::doc_of::<P>,
    }
}

/// Every route. The router and the OpenAPI document are built from this table, and the
/// deny-by-default, matrix and OpenAPI tests walk it.
pub fn routes_table<S: Store>() -> Vec<Route<S>> {
    use routes::*;
    vec![
        route::<S, health::__path_get_healthz>(Method::GET, "/healthz", get(health::get_healthz)),
        route::<S, health::__path_get_readyz>(Method::GET, "/readyz", get(health::get_readyz::<S>)),
        route::<S, openapi::__path_get_openapi>(
            Method::GET,
            "/api/v1/openapi.json",
            get(openapi::get_openapi),
        ),
        route::<S, seed::__path_schedule_job>(
            Method::POST,
            "/api/jobs/schedule",
            post(seed::schedule_job::<S>),
        ),
        route::<S, jobs::__path_create_job>(
            Method::POST,
            "/api/v1/jobs",
            post(jobs::create_job::<S>),
        ),
        route::<S, jobs::__path_list_jobs>(Method::GET, "/api/v1/jobs", get(jobs::list_jobs::<S>)),
        route::<S, jobs::__path_create_jobs>(
            Method::POST,
            "/api/v1/jobs/batch",
            post(jobs::create_jobs::<S>),
        ),
        route::<S, jobs::__path_get_job>(Method::GET, "/api/v1/jobs/{id}", get(jobs::get_job::<S>)),
        route::<S, jobs::__path_cancel_job>(
            Method::POST,
            "/api/v1/jobs/{id}/cancel",
            post(jobs::cancel_job::<S>),
        ),
        route::<S, jobs::__path_retry_job>(
            Method::POST,
            "/api/v1/jobs/{id}/retry",
            post(jobs::retry_job::<S>),
        ),
        route::<S, jobs::__path_list_job_runs>(
            Method::GET,
            "/api/v1/jobs/{id}/runs",
            get(jobs::list_job_runs::<S>),
        ),
        route::<S, schedules::__path_create_schedule>(
            Method::POST,
            "/api/v1/schedules",
            post(schedules::create_schedule::<S>),
        ),
        route::<S, schedules::__path_list_schedules>(
            Method::GET,
            "/api/v1/schedules",
            get(schedules::list_schedules::<S>),
        ),
        route::<S, schedules::__path_get_schedule>(
            Method::GET,
            "/api/v1/schedules/{id}",
            get(schedules::get_schedule::<S>),
        ),
        route::<S, schedules::__path_update_schedule>(
            Method::PUT,
            "/api/v1/schedules/{id}",
            put(schedules::update_schedule::<S>),
        ),
        route::<S, schedules::__path_delete_schedule>(
            Method::DELETE,
            "/api/v1/schedules/{id}",
            delete(schedules::delete_schedule::<S>),
        ),
        route::<S, schedules::__path_pause_schedule>(
            Method::POST,
            "/api/v1/schedules/{id}/pause",
            post(schedules::pause_schedule::<S>),
        ),
        route::<S, schedules::__path_resume_schedule>(
            Method::POST,
            "/api/v1/schedules/{id}/resume",
            post(schedules::resume_schedule::<S>),
        ),
        route::<S, schedules::__path_trigger_schedule>(
            Method::POST,
            "/api/v1/schedules/{id}/trigger",
            post(schedules::trigger_schedule::<S>),
        ),
        route::<S, schedules::__path_next_fire_times>(
            Method::GET,
            "/api/v1/schedules/{id}/next",
            get(schedules::next_fire_times::<S>),
        ),
        route::<S, schedules::__path_list_occurrences>(
            Method::GET,
            "/api/v1/schedules/{id}/occurrences",
            get(schedules::list_occurrences::<S>),
        ),
        route::<S, queues::__path_list_queues>(
            Method::GET,
            "/api/v1/queues",
            get(queues::list_queues::<S>),
        ),
        route::<S, queues::__path_pause_queue>(
            Method::POST,
            "/api/v1/queues/{name}/pause",
            post(queues::pause_queue::<S>),
        ),
        route::<S, queues::__path_resume_queue>(
            Method::POST,
            "/api/v1/queues/{name}/resume",
            post(queues::resume_queue::<S>),
        ),
        route::<S, runs::__path_list_runs>(Method::GET, "/api/v1/runs", get(runs::list_runs::<S>)),
        route::<S, runs::__path_get_run>(Method::GET, "/api/v1/runs/{id}", get(runs::get_run::<S>)),
        route::<S, keys::__path_create_key>(
            Method::POST,
            "/api/v1/keys",
            post(keys::create_key::<S>),
        ),
        route::<S, keys::__path_list_keys>(Method::GET, "/api/v1/keys", get(keys::list_keys::<S>)),
        route::<S, keys::__path_revoke_key>(
            Method::DELETE,
            "/api/v1/keys/{id}",
            delete(keys::revoke_key::<S>),
        ),
        route::<S, keys::__path_rotate>(
            Method::POST,
            "/api/v1/keys/{id}/rotate",
            post(keys::rotate::<S>),
        ),
        route::<S, principals::__path_list_principals>(
            Method::GET,
            "/api/v1/principals",
            get(principals::list_principals::<S>),
        ),
        route::<S, principals::__path_get_principal>(
            Method::GET,
            "/api/v1/principals/{id}",
            get(principals::get_principal::<S>),
        ),
        route::<S, principals::__path_put_principal>(
            Method::PUT,
            "/api/v1/principals/{id}",
            put(principals::put_principal::<S>),
        ),
        route::<S, audit::__path_list_audit>(
            Method::GET,
            "/api/v1/audit",
            get(audit::list_audit::<S>),
        ),
        route::<S, routes::cron_run::__path_get_cron_run>(
            Method::GET,
            "/cron/run",
            get(routes::cron_run::get_cron_run::<S>),
        ),
        route::<S, routes::cron_run::__path_post_cron_run>(
            Method::POST,
            "/cron/run",
            post(routes::cron_run::post_cron_run::<S>),
        ),
        route::<S, scheduler::__path_get_scheduler_health>(
            Method::GET,
            "/api/v1/health/scheduler",
            get(scheduler::get_scheduler_health::<S>),
        ),
        route::<S, scheduler::__path_list_cron_runs>(
            Method::GET,
            "/api/v1/cron-runs",
            get(scheduler::list_cron_runs::<S>),
        ),
    ]
}

/// The OpenAPI 3.1 document of [`routes_table`] (the same for every store).
pub fn openapi_document<S: Store>() -> utoipa::openapi::OpenApi {
    openapi::document(&routes_table::<S>())
}

/// axum's method router adds `Allow` to whatever answers a method a route does not take,
/// the authentication's 401 included: a 401 must not tell a stranger which methods exist.
async fn hide_allow_from_strangers(
    mut response: axum::response::Response,
) -> axum::response::Response {
    if response.status() == StatusCode::UNAUTHORIZED {
        response.headers_mut().remove(axum::http::header::ALLOW);
    }
    response
}

async fn method_not_allowed() -> error::ApiError {
    error::ApiError::new(
        ErrorCode::MethodNotAllowed,
        "this route does not answer this method; see the README or /api/v1/openapi.json",
    )
}

/// Builds the router: public routes as they are, every other route behind the
/// authentication layer; request ids, the per-IP rate limit, the body limit and the
/// timeout on all.
pub fn router<S: Store>(state: AppState<S>, limits: HttpLimits) -> Router {
    router_with(state, limits, Router::new())
}

/// [`router`] with `extra` routes (already given their state, e.g. [`metrics::router`])
/// merged in before the shared layers ([`with_limits`]), so they get the same request
/// ids, per-IP rate limit, body limit, timeout and panic handling. `extra` guards its own
/// routes.
pub fn router_with<S: Store>(state: AppState<S>, limits: HttpLimits, extra: Router) -> Router {
    let table = routes_table::<S>();
    let doc = openapi::OpenApiJson(openapi::to_json(&openapi::document(&table)).into());
    let (mut public, mut private) = (Router::new(), Router::new());
    for Route { path, handler, .. } in table {
        if PUBLIC_ROUTES.contains(&path) {
            public = public.route(path, handler);
        } else {
            private = private.route(path, handler);
        }
    }
    // `layer`, not `route_layer`: the authentication also covers the methods a private
    // route does not answer, so a stranger gets 401 whatever the method, never a 405 with
    // `Allow` that tells which routes exist (callers with credentials still get the 405).
    let private = private
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_caller::<S>,
        ));
    let app = public
        .merge(private)
        .with_state(state)
        .merge(extra)
        .fallback(|| async {
            error::ApiError::new(
                ErrorCode::NoRoute,
                "no such route; see the README for the API",
            )
        })
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::Extension(doc));
    // Outside the routing: a layer of `app` would sit inside each route's method router,
    // which adds `Allow` after it.
    Router::new()
        .fallback_service(with_limits(app, &limits))
        .layer(middleware::map_response(hide_allow_from_strangers))
}

/// `router`'s request-level protections on any router: request ids, the per-IP rate
/// limit, the body limit, the timeout and panic handling, and the record of refused
/// credentials ([`refusals`]). Also for the tokenless `/metrics` address, so that it
/// is held to the same limits as the API.
pub fn with_limits(router: Router, limits: &HttpLimits) -> Router {
    let limiters = Arc::new(ratelimit::Limiters::new(&limits.rate));
    let refusals = Arc::new(refusals::RefusalLog::new(limits.refusals.clone()));
    router
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            limiters.clone(),
            ratelimit::limit_by_ip,
        ))
        .layer(axum::Extension(limiters))
        .layer(axum::Extension(refusals))
        .layer(middleware::from_fn_with_state(
            limits.request_timeout,
            error::time_limit,
        ))
        // Inside the request-id layer, so a panic is answered (and logged) with its id.
        .layer(CatchPanicLayer::custom(error::panic_response))
        .layer(middleware::from_fn(request_id::request_id_layer))
}
