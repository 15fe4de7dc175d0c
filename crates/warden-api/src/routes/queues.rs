//! `GET /api/v1/queues`: every declared queue with its concurrency, and (for roles that
//! see every owner) its job counts by state; `POST /api/v1/queues/{name}/pause|resume`
//! (admin) stops and restarts claiming from a queue in every process.

use std::collections::BTreeMap;

use axum::{Json, extract::State};
use warden_core::Permission;
use warden_engine::EngineError;
use warden_store::Store;

use super::ok;
use crate::error::ErrorCode;
use crate::{
    AppState,
    auth::Caller,
    envelope::Data,
    error::ApiError,
    extract::AppPath,
    openapi::{BadRequest, Forbidden, NotFound},
    views::{QueuePaused, QueueView},
};

/// `GET /api/v1/queues`.
#[utoipa::path(
    get,
    path = "/api/v1/queues",
    tag = "queues",
    responses(
        (status = 200, description = "Every declared queue; `counts` only for roles that see every owner.", body = Data<Vec<QueueView>>),
        (status = 403, response = Forbidden),
    )
)]
pub(crate) async fn list_queues<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
) -> Result<Json<Data<Vec<QueueView>>>, ApiError> {
    caller.require(Permission::QueuesRead)?;
    // Counts span every owner, so only roles that see every owner get them.
    let mut counts: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    let with_counts = caller.principal.role.sees_all();
    if with_counts {
        for c in state.store.queue_count_many().await? {
            counts
                .entry(c.queue.to_string())
                .or_default()
                .insert(c.state.as_str().to_owned(), c.count);
        }
    }
    let queues = state
        .scheduler
        .config()
        .queues
        .iter()
        .map(|q| QueueView {
            name: q.name.as_str().to_owned(),
            concurrency: u64::try_from(q.concurrency).unwrap_or(u64::MAX),
            counts: with_counts.then(|| counts.remove(q.name.as_str()).unwrap_or_default()),
        })
        .collect();
    Ok(ok(queues))
}

async fn set_paused<S: Store>(
    state: AppState<S>,
    caller: Caller,
    name: String,
    paused: bool,
) -> Result<Json<Data<QueuePaused>>, ApiError> {
    caller.require(Permission::QueuesWrite)?;
    state
        .scheduler
        .set_queue_paused_as(&caller.actor(), &name, paused)
        .await
        .map_err(|e| match e {
            // The path names the queue: an undeclared one is not found.
            EngineError::UnknownQueue { queue, known } => ApiError::new(
                ErrorCode::NotFound,
                format!("queue {queue:?} is not declared; declared queues: {known}"),
            ),
            e => e.into(),
        })?;
    Ok(ok(QueuePaused {
        queue: name,
        paused,
    }))
}

/// `POST /api/v1/queues/{name}/pause`: no process claims from the queue until resumed.
#[utoipa::path(
    post,
    path = "/api/v1/queues/{name}/pause",
    tag = "queues",
    params(("name" = String, Path, description = "A declared queue.")),
    responses(
        (status = 200, description = "The queue is paused; running jobs finish.", body = Data<QueuePaused>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(crate) async fn pause_queue<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(name): AppPath<String>,
) -> Result<Json<Data<QueuePaused>>, ApiError> {
    set_paused(state, caller, name, true).await
}

/// `POST /api/v1/queues/{name}/resume`.
#[utoipa::path(
    post,
    path = "/api/v1/queues/{name}/resume",
    tag = "queues",
    params(("name" = String, Path, description = "A declared queue.")),
    responses(
        (status = 200, description = "The queue is claimed from again.", body = Data<QueuePaused>),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
    )
)]
pub(crate) async fn resume_queue<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
    AppPath(name): AppPath<String>,
) -> Result<Json<Data<QueuePaused>>, ApiError> {
    set_paused(state, caller, name, false).await
}
