//! The API's routes, one file per resource. Each handler states the permission it needs
//! (`caller.require(…)`) and goes through the engine or the store with the caller's scope.

pub(crate) mod audit;
pub(crate) mod cron_run;
pub(crate) mod jobs;
pub(crate) mod keys;
pub(crate) mod principals;
pub(crate) mod queues;
pub(crate) mod runs;
pub(crate) mod scheduler;
pub(crate) mod schedules;
pub(crate) mod seed;

use axum::{Json, http::StatusCode};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::envelope::{Data, Page};

/// The largest page a list returns.
pub(crate) const MAX_PAGE: u32 = 500;

/// `?limit=&after=` on lists.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// Page size: 100 by default, at most 500.
    pub(crate) limit: Option<u32>,
    /// Cursor: the `nextCursor` of the previous page.
    pub(crate) after: Option<String>,
}

impl PageQuery {
    /// The page size: default 100, at most [`MAX_PAGE`].
    pub(crate) fn limit(&self) -> u32 {
        self.limit.unwrap_or(100).clamp(1, MAX_PAGE)
    }
}

/// `{"ok": true, "data": …}`.
pub(crate) fn ok<T>(data: T) -> Json<Data<T>> {
    Json(Data::new(data))
}

/// 201 with `{"ok": true, "data": …}`.
pub(crate) fn created<T>(data: T) -> (StatusCode, Json<Data<T>>) {
    (StatusCode::CREATED, ok(data))
}

/// A page of items with the cursor of the next page (`null` on the last).
pub(crate) fn page<T>(items: Vec<T>, next: Option<String>) -> Json<Page<T>> {
    Json(Page::new(items, next))
}

/// A 201 answer.
pub(crate) type Created<T> = (StatusCode, Json<Data<T>>);
