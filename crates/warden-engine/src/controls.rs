//! A principal's controls at every point where work is created or re-armed.
//!
//! # Model
//! A principal's record (disabled or not, `allowedJobTypes`, `allowedPriorities`,
//! `maxActive`) is checked when the principal creates a job, but work is also created
//! later and on its behalf: a schedule fires, an admin triggers or resumes its schedule,
//! a job of its is retried. Each of those checks the *owner's* record as it is now:
//!
//! - create (job or schedule): the actor's limits (the actor owns what it creates);
//! - resume, trigger, retry: the actor's limits and the owner's record — refused with the
//!   same `NotAllowed` (403) as a create;
//! - a schedule's fire: the owner's record; a fire it may not run is recorded
//!   `skipped:forbidden` (see `warden_store` `ledger`), never silently dropped.
//!
//! An owner with no record (the embedding program's `system`, the jobs file's `config`)
//! has no limits. Internal job types (see [`crate::Registry::register_internal`]) are
//! separate: they depend on who acts, not on whom work is for ([`crate::Actor`]).

use warden_core::{PrincipalId, Priority};
use warden_store::{Limits, PrincipalRecord, Store, StoreError};

use crate::EngineError;

/// The owner's record, `None` when it has none (no limits then).
pub(crate) async fn owner_record<S: Store>(
    store: &S,
    owner: &PrincipalId,
) -> Result<Option<PrincipalRecord>, EngineError> {
    match store.principal_get(owner.as_str()).await {
        Ok(p) => Ok(Some(p)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Why the owner (per its `record`) may not have a job of `job_type` at `priority` now.
pub(crate) fn owner_refusal(
    record: Option<&PrincipalRecord>,
    job_type: &str,
    priority: Priority,
) -> Option<EngineError> {
    let record = record?;
    if record.disabled {
        return Some(EngineError::NotAllowed {
            limit: "disabled",
            detail: format!(
                "the owner {:?} is disabled; an admin enables it again before its work may run",
                record.id
            ),
        });
    }
    limits_refusal(&record.limits, job_type, priority)
}

/// Why `limits` do not allow a job of `job_type` at `priority`, if they do not.
pub(crate) fn limits_refusal(
    limits: &Limits,
    job_type: &str,
    priority: Priority,
) -> Option<EngineError> {
    if let Some(types) = &limits.allowed_job_types
        && !types.iter().any(|t| t == job_type)
    {
        return Some(EngineError::NotAllowed {
            limit: "allowedJobTypes",
            detail: format!(
                "job type {job_type:?} is not among this principal's allowed job types ({})",
                types.join(", ")
            ),
        });
    }
    if let Some(prios) = &limits.allowed_priorities
        && !prios.contains(&priority)
    {
        let names: Vec<&str> = prios.iter().map(|p| p.as_str()).collect();
        return Some(EngineError::NotAllowed {
            limit: "allowedPriorities",
            detail: format!(
                "priority {:?} is not among this principal's allowed priorities ({})",
                priority.as_str(),
                names.join(", ")
            ),
        });
    }
    None
}
