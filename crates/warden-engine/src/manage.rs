//! Operations on existing jobs and schedules — cancel, retry, pause, resume, update,
//! trigger, delete — each within the actor's scope and audited with the change.
//!
//! Resume, trigger and retry create or re-arm work, so they are checked as a create is
//! (see [`crate::controls`]): against the actor's limits and the owner's current record.
//! Internal job types are never retried through them, and triggered only by an actor
//! allowed to ([`InternalTypes::Trigger`]).

use std::collections::HashMap;

use warden_core::{AuditAction, JobId, JobKind, PrincipalId, Priority, ScheduleId};
use warden_store::{ActiveQuota, NewJob, PrincipalRecord, Schedule, Store, StoreError};

use crate::{
    Actor, CronRequest, EngineError, Scheduler,
    actor::InternalTypes,
    controls::{owner_record, owner_refusal},
};
use warden_store::{JobCancelParams, JobInsertParams, JobRetryParams, ScheduleSetPausedParams};

/// `NotFound` for an object out of scope is the same answer as for one that does not
/// exist, so its existence is not revealed.
fn not_found(what: &'static str) -> impl Fn(StoreError) -> EngineError {
    move |e| match e {
        StoreError::NotFound => EngineError::NotFound(what),
        e => e.into(),
    }
}

impl<S: Store> Scheduler<S> {
    /// Cancels jobs that are not finished; returns those cancelled (finished or
    /// out-of-scope ones are left alone).
    pub async fn cancel_jobs_as(
        &self,
        actor: &Actor,
        ids: Vec<JobId>,
    ) -> Result<Vec<JobId>, EngineError> {
        let now = self.shared.clock.now();
        let audit = actor.records(
            now,
            AuditAction::JobCancel,
            ids.iter().map(JobId::to_string),
        );
        Ok(self
            .shared
            .store
            .job_cancel_many(JobCancelParams {
                ids,
                scope: actor.scope.clone(),
                now,
                audit,
            })
            .await?)
    }

    /// Refuses to re-arm work of `kind` at `priority` for `owner` (resume, trigger, retry)
    /// when the actor's limits or the owner's record (`owner`) would refuse to create it.
    fn check_rearm(
        &self,
        actor: &Actor,
        owner: Option<&PrincipalRecord>,
        kind: &JobKind,
        priority: Priority,
    ) -> Result<(), EngineError> {
        actor.check_allowed(kind.as_str(), priority)?;
        match owner_refusal(owner, kind.as_str(), priority) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The schedule, if the actor reaches it.
    async fn schedule_in_scope(
        &self,
        actor: &Actor,
        id: ScheduleId,
    ) -> Result<Schedule, EngineError> {
        self.shared
            .store
            .schedule_get(id, actor.scope.clone())
            .await
            .map_err(not_found("schedule"))
    }

    /// [`check_rearm`](Self::check_rearm) for a schedule's job; returns its owner's record.
    async fn check_rearm_schedule(
        &self,
        actor: &Actor,
        schedule: &Schedule,
    ) -> Result<Option<PrincipalRecord>, EngineError> {
        let owner = owner_record(&*self.shared.store, &schedule.owner).await?;
        let t = &schedule.template;
        self.check_rearm(actor, owner.as_ref(), &t.kind, t.priority)?;
        Ok(owner)
    }

    /// Makes dead or cancelled jobs available again; returns those retried. Refused, and
    /// none retried, if one is of an internal type or one its owner may no longer create.
    pub async fn retry_jobs_as(
        &self,
        actor: &Actor,
        ids: Vec<JobId>,
    ) -> Result<Vec<JobId>, EngineError> {
        let mut owners: HashMap<PrincipalId, Option<PrincipalRecord>> = HashMap::new();
        for id in &ids {
            let job = match self.shared.store.job_get(*id, actor.scope.clone()).await {
                Ok(job) => job,
                // Out of scope or gone: the store leaves it alone too.
                Err(StoreError::NotFound) => continue,
                Err(e) => return Err(e.into()),
            };
            if actor.internal != InternalTypes::Create && self.is_internal(job.kind.as_str()) {
                return Err(EngineError::InternalJobType {
                    kind: job.kind.as_str().to_owned(),
                });
            }
            if !owners.contains_key(&job.owner) {
                let record = owner_record(&*self.shared.store, &job.owner).await?;
                owners.insert(job.owner.clone(), record);
            }
            let owner = owners.get(&job.owner).and_then(Option::as_ref);
            self.check_rearm(actor, owner, &job.kind, job.priority)?;
        }
        let now = self.shared.clock.now();
        let audit = actor.records(now, AuditAction::JobRetry, ids.iter().map(JobId::to_string));
        let retried = self
            .shared
            .store
            .job_retry_many(JobRetryParams {
                ids,
                scope: actor.scope.clone(),
                now,
                audit,
                quota: actor.quota(),
            })
            .await
            .map_err(crate::scheduler::quota_error)?;
        for q in self.shared.wakers.queues.values() {
            q.notify_one();
        }
        Ok(retried)
    }

    /// Pauses (occurrences recorded `skipped:paused`) or resumes a schedule.
    pub async fn set_schedule_paused_as(
        &self,
        actor: &Actor,
        id: ScheduleId,
        paused: bool,
    ) -> Result<(), EngineError> {
        if !paused {
            // Resuming re-arms the schedule: its owner must still be allowed its job.
            let schedule = self.schedule_in_scope(actor, id).await?;
            self.check_rearm_schedule(actor, &schedule).await?;
        }
        let now = self.shared.clock.now();
        let action = if paused {
            AuditAction::SchedulePause
        } else {
            AuditAction::ScheduleResume
        };
        let audit = actor.records(now, action, [id.to_string()]);
        self.shared
            .store
            .schedule_set_paused(ScheduleSetPausedParams {
                id,
                scope: actor.scope.clone(),
                paused,
                now,
                audit,
            })
            .await
            .map_err(not_found("schedule"))?;
        self.shared.wakers.cron.notify_one();
        Ok(())
    }

    /// Pauses a schedule: its occurrences are recorded `skipped:paused` until resumed.
    pub async fn pause_schedule(&self, id: ScheduleId) -> Result<(), EngineError> {
        self.set_schedule_paused_as(&Actor::system(), id, true)
            .await
    }

    pub async fn resume_schedule(&self, id: ScheduleId) -> Result<(), EngineError> {
        self.set_schedule_paused_as(&Actor::system(), id, false)
            .await
    }

    /// Deletes a schedule and its ledger; its jobs are kept.
    pub async fn delete_schedule_as(
        &self,
        actor: &Actor,
        id: ScheduleId,
    ) -> Result<(), EngineError> {
        let now = self.shared.clock.now();
        let audit = actor.records(now, AuditAction::ScheduleDelete, [id.to_string()]);
        self.shared
            .store
            .schedule_delete(id, actor.scope.clone(), audit)
            .await
            .map_err(not_found("schedule"))?;
        self.shared.wakers.cron.notify_one();
        Ok(())
    }

    pub async fn delete_schedule(&self, id: ScheduleId) -> Result<(), EngineError> {
        self.delete_schedule_as(&Actor::system(), id).await
    }

    /// Replaces a schedule's definition; its next occurrence is recomputed from now and
    /// its ledger is kept.
    pub async fn update_schedule_as(
        &self,
        actor: &Actor,
        id: ScheduleId,
        mut request: CronRequest,
    ) -> Result<Schedule, EngineError> {
        let existing = self.schedule_in_scope(actor, id).await?;
        request.job.owner = existing.owner.to_string();
        self.check_create(actor, &request.job.job_type, request.job.priority)?;
        let mut schedule = self.prepare_schedule(request)?;
        schedule.id = existing.id;
        schedule.owner = existing.owner;
        schedule.created_at = existing.created_at;
        let audit = actor.records(
            schedule.updated_at,
            AuditAction::ScheduleUpdate,
            [id.to_string()],
        );
        self.shared
            .store
            .schedule_update(schedule.clone(), actor.scope.clone(), audit)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => EngineError::Conflict(
                    "another schedule of this owner already has this `name`".into(),
                ),
                e => not_found("schedule")(e),
            })?;
        self.shared.wakers.cron.notify_one();
        Ok(schedule)
    }

    /// Runs a schedule's job now, outside its cron times (the ledger is not touched).
    pub async fn trigger_schedule_as(
        &self,
        actor: &Actor,
        id: ScheduleId,
    ) -> Result<JobId, EngineError> {
        let schedule = self.schedule_in_scope(actor, id).await?;
        // An internal type's call runs now only for an actor allowed to trigger it.
        let kind = schedule.template.kind.as_str();
        if actor.internal == InternalTypes::Refused && self.is_internal(kind) {
            return Err(EngineError::InternalJobType {
                kind: kind.to_owned(),
            });
        }
        // The schedule may predate the owner's current state and limits: check them now,
        // and count the job against the owner's `maxActive` (whoever triggers it).
        let owner = self.check_rearm_schedule(actor, &schedule).await?;
        let t = schedule.template;
        let quota = owner
            .as_ref()
            .and_then(|r| {
                Some(ActiveQuota {
                    owner: schedule.owner.clone(),
                    max: r.limits.max_active?,
                })
            })
            .or_else(|| actor.quota());
        let now = self.shared.clock.now();
        let job = NewJob {
            id: JobId::new(),
            kind: t.kind,
            queue: t.queue,
            priority: t.priority,
            payload: t.payload,
            run_at: now,
            max_attempts: t.max_attempts,
            timeout: t.timeout,
            idempotency_key: None,
            owner: schedule.owner,
            schedule_id: Some(id),
            created_at: now,
            // Not an occurrence: `${NOW}` is the trigger's time, the job's creation.
            scheduled_at: None,
        };
        let (job_id, queue) = (job.id, job.queue.clone());
        // The target is the job created: the store writes only the records of jobs it
        // inserted (with the schedule as target, this record was silently dropped).
        let mut audit = actor.records(now, AuditAction::ScheduleTrigger, [job_id.to_string()]);
        if let Some(r) = audit.first_mut() {
            r.detail = Some(format!("schedule {id}"));
        }
        self.shared
            .store
            .job_insert_many(JobInsertParams {
                jobs: vec![job],
                audit,
                quota,
            })
            .await
            .map_err(crate::scheduler::quota_error)?;
        self.wake_queue(&queue);
        Ok(job_id)
    }
}
