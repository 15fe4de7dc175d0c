//! Operations on existing jobs and schedules — cancel, retry, pause, resume, update,
//! trigger, delete — each within the actor's scope and audited with the change.

use warden_core::{JobId, ScheduleId};
use warden_store::{NewJob, Schedule, Store, StoreError};

use crate::{Actor, CronRequest, EngineError, Scheduler};

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
        let audit = actor.records(now, "job.cancel", ids.iter().map(JobId::to_string));
        Ok(self
            .shared
            .store
            .job_cancel_many(ids, actor.scope.clone(), now, audit)
            .await?)
    }

    /// Makes dead or cancelled jobs available again; returns those retried.
    pub async fn retry_jobs_as(
        &self,
        actor: &Actor,
        ids: Vec<JobId>,
    ) -> Result<Vec<JobId>, EngineError> {
        let now = self.shared.clock.now();
        let audit = actor.records(now, "job.retry", ids.iter().map(JobId::to_string));
        let retried = self
            .shared
            .store
            .job_retry_many(ids, actor.scope.clone(), now, audit, actor.quota())
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
        let now = self.shared.clock.now();
        let action = if paused {
            "schedule.pause"
        } else {
            "schedule.resume"
        };
        let audit = actor.records(now, action, [id.to_string()]);
        self.shared
            .store
            .schedule_set_paused(id, actor.scope.clone(), paused, now, audit)
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
        let audit = actor.records(now, "schedule.delete", [id.to_string()]);
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
        let existing = self
            .shared
            .store
            .schedule_get(id, actor.scope.clone())
            .await
            .map_err(not_found("schedule"))?;
        request.job.owner = existing.owner.clone();
        actor.check_allowed(&request.job.job_type, request.job.priority)?;
        let mut schedule = self.prepare_schedule(request)?;
        schedule.id = existing.id;
        schedule.owner = existing.owner;
        schedule.created_at = existing.created_at;
        let audit = actor.records(schedule.updated_at, "schedule.update", [id.to_string()]);
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
        let schedule = self
            .shared
            .store
            .schedule_get(id, actor.scope.clone())
            .await
            .map_err(not_found("schedule"))?;
        // The schedule may predate the owner's current limits: check them now.
        let t = schedule.template;
        actor.check_allowed(t.kind.as_str(), t.priority)?;
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
        let mut audit = actor.records(now, "schedule.trigger", [id.to_string()]);
        if let Some(r) = audit.first_mut() {
            r.detail = Some(format!("job {job_id}"));
        }
        self.shared
            .store
            .job_insert_checked(vec![job], audit, actor.quota())
            .await
            .map_err(crate::scheduler::quota_error)?;
        self.wake_queue(&queue);
        Ok(job_id)
    }
}
