//! `Actor`: on whose behalf the engine acts — the objects it may reach (scope), the
//! limits it must respect, and who to name in the audit trail.
//!
//! The in-process API acts as [`Actor::system`]: every object, no limits, no audit (the
//! embedding program is trusted). The HTTP API builds an actor per request from the
//! authenticated principal.

use warden_core::{Priority, Scope};
use warden_store::{AuditContext, AuditRecord, Limits};

use crate::EngineError;

/// On whose behalf an operation runs.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The owner given to what this actor creates; `None` keeps the owner each request
    /// names (the embedding program may act for anyone).
    pub owner: Option<String>,
    /// What the actor may reach.
    pub scope: Scope,
    /// Per-principal limits to enforce on creation.
    pub limits: Limits,
    /// When set, every change is recorded in the audit trail in its own transaction.
    pub audit: Option<AuditContext>,
}

impl Actor {
    /// The embedding program: every object, no limits, not audited.
    pub fn system() -> Self {
        Self {
            owner: None,
            scope: Scope::All,
            limits: Limits::default(),
            audit: None,
        }
    }

    /// The request, owned by this actor (a request cannot choose its owner).
    pub(crate) fn own(&self, mut request: crate::JobRequest) -> crate::JobRequest {
        if let Some(owner) = &self.owner {
            request.owner = owner.clone();
        }
        request
    }

    /// A principal acting through the API: its own objects only (unless its role sees
    /// all), its limits, every change audited.
    pub fn principal(owner: &str, scope: Scope, limits: Limits, audit: AuditContext) -> Self {
        Self {
            owner: Some(owner.to_owned()),
            scope,
            limits,
            audit: Some(audit),
        }
    }

    /// The quota the store must enforce on what this actor creates, if any.
    pub(crate) fn quota(&self) -> Option<warden_store::ActiveQuota> {
        Some(warden_store::ActiveQuota {
            owner: self.owner.clone()?,
            max: self.limits.max_active?,
        })
    }

    /// The audit records for `action` on each target (none when not audited).
    pub(crate) fn records(
        &self,
        now: jiff::Timestamp,
        action: &str,
        targets: impl IntoIterator<Item = String>,
    ) -> Vec<AuditRecord> {
        match &self.audit {
            None => Vec::new(),
            Some(ctx) => targets
                .into_iter()
                .map(|t| ctx.record(now, action, Some(t), "ok"))
                .collect(),
        }
    }

    /// Refuses a job type or priority outside the actor's limits (a 403 at the API).
    pub(crate) fn check_allowed(
        &self,
        job_type: &str,
        priority: Priority,
    ) -> Result<(), EngineError> {
        if let Some(types) = &self.limits.allowed_job_types
            && !types.iter().any(|t| t == job_type)
        {
            return Err(EngineError::NotAllowed {
                limit: "allowedJobTypes",
                detail: format!(
                    "job type {job_type:?} is not among this principal's allowed job types ({})",
                    types.join(", ")
                ),
            });
        }
        if let Some(prios) = &self.limits.allowed_priorities
            && !prios.contains(&priority)
        {
            let names: Vec<&str> = prios.iter().map(|p| p.as_str()).collect();
            return Err(EngineError::NotAllowed {
                limit: "allowedPriorities",
                detail: format!(
                    "priority {:?} is not among this principal's allowed priorities ({})",
                    priority.as_str(),
                    names.join(", ")
                ),
            });
        }
        Ok(())
    }
}
