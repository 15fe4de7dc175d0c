//! The API's routes, one file per resource. Each handler states the permission it needs
//! (`caller.require(…)`) and goes through the engine or the store with the caller's scope.

pub(crate) mod audit;
pub(crate) mod jobs;
pub(crate) mod keys;
pub(crate) mod principals;
pub(crate) mod queues;
pub(crate) mod schedules;
pub(crate) mod seed;

use axum::{Json, http::StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

/// The largest page a list returns.
pub(crate) const MAX_PAGE: u32 = 500;

/// `?limit=&after=` on lists.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageQuery {
    pub(crate) limit: Option<u32>,
    pub(crate) after: Option<String>,
}

impl PageQuery {
    /// The page size: default 100, at most [`MAX_PAGE`].
    pub(crate) fn limit(&self) -> u32 {
        self.limit.unwrap_or(100).clamp(1, MAX_PAGE)
    }
}

/// `{"ok": true, "data": …}`.
pub(crate) fn ok(data: Value) -> Json<Value> {
    Json(json!({"ok": true, "data": data}))
}

/// 201 with `{"ok": true, "data": …}`.
pub(crate) fn created(data: Value) -> (StatusCode, Json<Value>) {
    (StatusCode::CREATED, ok(data))
}

/// A page of items with the cursor of the next page (`null` on the last).
pub(crate) fn page(items: Vec<Value>, next: Option<String>) -> Json<Value> {
    Json(json!({"ok": true, "data": items, "nextCursor": next}))
}
