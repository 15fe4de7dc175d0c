//! `Actor`: on whose behalf the engine acts — the objects it may reach (scope), the
//! limits it must respect, and who to name in the audit trail.
//!
//! The in-process API acts as [`Actor::system`]: every object, no limits, no audit (the
//! embedding program is trusted, and alone creates internal job types with the jobs-file
//! sync). The HTTP API builds an actor per request from the
//! authenticated principal.

use warden_core::{AuditAction, AuditOutcome, PrincipalId, Priority, Scope};
use warden_store::{AuditContext, AuditRecord, Limits};

use crate::EngineError;

/// On whose behalf an operation runs.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The owner given to what this actor creates; `None` keeps the owner each request
    /// names (the embedding program may act for anyone).
    pub owner: Option<PrincipalId>,
    /// What the actor may reach.
    pub scope: Scope,
    /// Per-principal limits to enforce on creation.
    pub limits: Limits,
    /// When set, every change is recorded in the audit trail in its own transaction.
    pub audit: Option<AuditContext>,
    /// What it may do with internal job types (see [`crate::Registry::register_internal`]).
    pub internal: InternalTypes,
}

/// What an actor may do with internal job types (warden's own, such as `warden.http`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InternalTypes {
    /// Neither create nor trigger: every API caller, unless said otherwise.
    Refused,
    /// Trigger an existing schedule of one (its call runs now, audited), but never create
    /// one or retry one: admins.
    Trigger,
    /// Create and trigger: the embedding program and the jobs-file sync.
    Create,
}

impl Actor {
    /// The embedding program: every object, no limits, not audited.
    pub fn system() -> Self {
        Self {
            owner: None,
            scope: Scope::All,
            limits: Limits::default(),
            audit: None,
            internal: InternalTypes::Create,
        }
    }

    /// The request, owned by this actor (a request cannot choose its owner).
    pub(crate) fn own(&self, mut request: crate::JobRequest) -> crate::JobRequest {
        if let Some(owner) = &self.owner {
            request.owner = owner.to_string();
        }
        request
    }

    /// A principal acting through the API: its own objects only (unless its role sees
    /// all), its limits, every change audited.
    pub fn principal(
        owner: &PrincipalId,
        scope: Scope,
        limits: Limits,
        audit: AuditContext,
    ) -> Self {
        Self {
            owner: Some(owner.clone()),
            scope,
            limits,
            audit: Some(audit),
            internal: InternalTypes::Refused,
        }
    }

    /// This actor, allowed `internal` with internal job types (an API caller is refused
    /// them unless made so; an admin is given [`InternalTypes::Trigger`]).
    pub fn with_internal(mut self, internal: InternalTypes) -> Self {
        self.internal = internal;
        self
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
        action: AuditAction,
        targets: impl IntoIterator<Item = String>,
    ) -> Vec<AuditRecord> {
        match &self.audit {
            None => Vec::new(),
            Some(ctx) => targets
                .into_iter()
                .map(|t| ctx.record(now, action, Some(t), AuditOutcome::Ok))
                .collect(),
        }
    }

    /// Refuses a job type or priority outside the actor's limits (a 403 at the API).
    pub(crate) fn check_allowed(
        &self,
        job_type: &str,
        priority: Priority,
    ) -> Result<(), EngineError> {
        match crate::controls::limits_refusal(&self.limits, job_type, priority) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
