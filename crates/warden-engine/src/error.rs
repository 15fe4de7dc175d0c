//! `EngineError`: why the engine refused or failed an operation.

use warden_core::ParseError;
use warden_store::StoreError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A value did not parse (the message names the field).
    #[error(transparent)]
    Invalid(#[from] ParseError),
    /// The job type has no registered handler: it would never run.
    #[error("invalid `jobType`: {kind:?} has no registered handler; expected one of: {known}")]
    UnknownJobType { kind: String, known: String },
    /// The queue is not declared in the engine's configuration.
    #[error("invalid `queueName`: {queue:?} is not a declared queue; expected one of: {known}")]
    UnknownQueue { queue: String, known: String },
    /// The job type is warden's own (say `warden.http`, the jobs file's calls): no caller
    /// creates or retries its jobs or schedules, whatever its role. The message names
    /// the type only, never what its payload would refer to.
    #[error(
        "invalid `jobType`: {kind:?} is internal to warden: only warden itself creates its jobs and schedules (for `warden.http`, from the jobs file), never a request; to run a jobs-file call now, an admin triggers its schedule (POST /api/v1/schedules/{{id}}/trigger)"
    )]
    InternalJobType { kind: String },
    /// A per-principal limit forbids this (`allowedJobTypes`, `allowedPriorities`).
    #[error("not allowed by `{limit}`: {detail}")]
    NotAllowed { limit: &'static str, detail: String },
    /// A per-principal quota is used up (`maxActive`).
    #[error("quota `{limit}` reached: {detail}")]
    QuotaExceeded { limit: &'static str, detail: String },
    /// No such object, or not one the actor may reach.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change conflicts with what exists (e.g. a schedule name already used).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The object is not in a state that allows this (e.g. retrying a running job).
    #[error("{0}")]
    WrongState(String),
    /// The configuration is inconsistent (the message names the key).
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("storage failed")]
    Store(#[from] StoreError),
}
