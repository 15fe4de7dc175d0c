//! `GET /api/v1/queues`: every declared queue with its concurrency, and (for roles that
//! see every owner) its job counts by state.

use std::collections::BTreeMap;

use axum::{Json, extract::State};
use serde_json::{Value, json};
use warden_core::Permission;
use warden_store::Store;

use super::ok;
use crate::{AppState, auth::Caller, error::ApiError};

pub(crate) async fn list_queues<S: Store>(
    State(state): State<AppState<S>>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    caller.require(Permission::QueuesRead)?;
    // Counts span every owner, so only roles that see every owner get them.
    let mut counts: BTreeMap<String, BTreeMap<&'static str, i64>> = BTreeMap::new();
    let with_counts = caller.principal.role.sees_all();
    if with_counts {
        for c in state.store.queue_count_many().await? {
            counts
                .entry(c.queue)
                .or_default()
                .insert(c.state.as_str(), c.count);
        }
    }
    let queues: Vec<Value> = state
        .scheduler
        .config()
        .queues
        .iter()
        .map(|q| {
            let mut v = json!({"name": q.name.as_str(), "concurrency": q.concurrency});
            if with_counts {
                v["counts"] = json!(counts.remove(q.name.as_str()).unwrap_or_default());
            }
            v
        })
        .collect();
    Ok(ok(Value::Array(queues)))
}
