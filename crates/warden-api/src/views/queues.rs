//! The views of queues: as declared (with counts for roles that see every owner), and
//! paused or resumed.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

/// A declared queue.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Queue)]
pub struct QueueView {
    pub name: String,
    /// At most this many of the queue's jobs run at once in one process.
    pub concurrency: u64,
    /// Jobs by state, across every owner; only for roles that see every owner.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub counts: Option<BTreeMap<String, i64>>,
}

/// A queue paused or resumed.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueuePaused {
    pub queue: String,
    pub paused: bool,
}
