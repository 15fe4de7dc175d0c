//! `GET /api/v1/queues`: every declared queue with its concurrency, and (for roles that
//! see every owner) its job counts by state.

use std::collections::BTreeMap;

use axum::{Json, extract::State};
use warden_core::Permission;
use warden_store::Store;

use super::ok;
use crate::{
    AppState, auth::Caller, envelope::Data, error::ApiError, openapi::Forbidden, views::QueueView,
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
                .entry(c.queue)
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
