//! The in-process API ("internal scheduler"): Rust code that embeds warden schedules work
//! here, without HTTP.
//!
//! ```ignore
//! let id = scheduler.add("send-email", json!({"to": "a@example.com"}), "COMMUNICATIONS").await?;
//! scheduler.add_in("send-reminder", json!({}), "COMMUNICATIONS", Duration::from_secs(3600)).await?;
//! scheduler.add_cron(CronRequest::new("nightly-report", "0 3 * * *", "generate-report")).await?;
//! ```
//!
//! Every request is parsed completely before anything is written: an unknown job type,
//! an undeclared queue, a payload over the limit or a bad cron expression is refused with
//! an error naming the field, and a batch with one bad job inserts none.

use std::{
    collections::HashMap,
    sync::{Arc, atomic::AtomicBool},
    time::Duration,
};

use jiff::{SignedDuration, Timestamp};
use serde_json::Value;
use tokio::sync::Notify;
use warden_core::{
    AuditAction, Clock, CronSpec, DstPolicy, JobId, JobKind, JobTimeout, MaxAttempts, MissedPolicy,
    OverlapPolicy, ParseError, Payload, PrincipalId, Priority, QueueName, ScheduleId,
    schedule::CatchUpWindow,
};
use warden_store::{InsertedJob, JobTemplate, NewJob, QueueCount, Schedule, Store, StoreError};

use crate::{
    Actor, EngineConfig, EngineError, Registry, actor::InternalTypes, counts::CountsCache,
};
use warden_store::{JobInsertParams, ScheduleInsertParams};

/// The owner recorded when none is given (work scheduled by the embedding program).
pub const SYSTEM_OWNER: &str = "system";

/// One job to schedule. Built with [`JobRequest::new`] and the builder methods.
#[derive(Debug, Clone)]
pub struct JobRequest {
    pub job_type: String,
    pub data: Value,
    pub queue: String,
    pub priority: Priority,
    /// When to run; `None`, or an instant already past, means now.
    pub run_at: Option<Timestamp>,
    pub idempotency_key: Option<String>,
    pub max_attempts: Option<i64>,
    pub timeout_ms: Option<i64>,
    pub owner: String,
}

impl JobRequest {
    pub fn new(job_type: &str, data: Value, queue: &str) -> Self {
        Self {
            job_type: job_type.into(),
            data,
            queue: queue.into(),
            priority: Priority::default(),
            run_at: None,
            idempotency_key: None,
            max_attempts: None,
            timeout_ms: None,
            owner: SYSTEM_OWNER.into(),
        }
    }

    pub fn priority(mut self, priority: Priority) -> Self {
        self.priority = priority;
        self
    }

    pub fn run_at(mut self, at: Timestamp) -> Self {
        self.run_at = Some(at);
        self
    }

    /// A second job with the same key in the same queue is not created; the first is returned.
    pub fn idempotency_key(mut self, key: &str) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    pub fn max_attempts(mut self, n: i64) -> Self {
        self.max_attempts = Some(n);
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout_ms = Some(i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX));
        self
    }

    pub fn owner(mut self, owner: &str) -> Self {
        self.owner = owner.into();
        self
    }
}

/// A cron schedule to create.
#[derive(Debug, Clone)]
pub struct CronRequest {
    /// Unique per owner.
    pub name: String,
    pub cron: String,
    /// IANA zone; default `UTC`.
    pub timezone: String,
    pub dst: DstPolicy,
    /// The job each occurrence enqueues (`run_at` is ignored).
    pub job: JobRequest,
    pub overlap: OverlapPolicy,
    pub missed: MissedPolicy,
    pub catch_up: Duration,
    pub paused: bool,
}

impl CronRequest {
    /// A schedule named `name` that enqueues `job_type` (empty payload, queue `default`).
    pub fn new(name: &str, cron: &str, job_type: &str) -> Self {
        Self {
            name: name.into(),
            cron: cron.into(),
            timezone: "UTC".into(),
            dst: DstPolicy::default(),
            job: JobRequest::new(job_type, Value::Object(Default::default()), "default"),
            overlap: OverlapPolicy::default(),
            missed: MissedPolicy::default(),
            catch_up: CatchUpWindow::default().as_duration(),
            paused: false,
        }
    }
}

/// The engine's answer to a store refusing an insert over the owner's quota.
pub(crate) fn quota_error(e: StoreError) -> EngineError {
    match e {
        StoreError::QuotaExceeded { active, max } => EngineError::QuotaExceeded {
            limit: "maxActive",
            detail: format!(
                "this principal has {active} active jobs and schedules and may have at most {max}; wait for jobs to finish or delete schedules"
            ),
        },
        e => e.into(),
    }
}

/// Wake-ups for the engine's services when work arrives or schedules change.
#[derive(Debug, Default)]
pub(crate) struct Wakers {
    pub(crate) queues: HashMap<QueueName, Arc<Notify>>,
    /// Whether each queue is paused (kept in step with the store by `queues::watch`).
    pub(crate) paused: HashMap<QueueName, Arc<AtomicBool>>,
    pub(crate) cron: Arc<Notify>,
}

pub(crate) struct Shared<S> {
    pub(crate) store: Arc<S>,
    pub(crate) registry: Registry,
    pub(crate) config: EngineConfig,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) wakers: Wakers,
    /// Whether some principal has a concurrency limit, so claims must apply limits
    /// (kept in step with the store by `queues::watch`).
    pub(crate) owner_limits: AtomicBool,
    /// Job counts by queue and state, shared by their readers.
    pub(crate) counts: CountsCache,
}

/// The handle through which work is scheduled. Cheap to clone.
pub struct Scheduler<S> {
    pub(crate) shared: Arc<Shared<S>>,
}

impl<S> Clone for Scheduler<S> {
    fn clone(&self) -> Self {
        Self {
            shared: self.shared.clone(),
        }
    }
}

fn check_name(name: &str) -> Result<String, ParseError> {
    if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(ParseError::new(
            "name",
            "is empty, too long or has control characters",
            "1 to 200 printable characters",
        ));
    }
    Ok(name.to_owned())
}

fn check_key(key: &str) -> Result<String, ParseError> {
    if key.is_empty() || key.len() > 255 || key.chars().any(char::is_control) {
        return Err(ParseError::new(
            "idempotencyKey",
            "is empty, too long or has control characters",
            "1 to 255 printable characters",
        ));
    }
    Ok(key.to_owned())
}

impl<S: Store> Scheduler<S> {
    pub(crate) fn new(shared: Arc<Shared<S>>) -> Self {
        Self { shared }
    }

    pub fn store(&self) -> &S {
        &self.shared.store
    }

    pub fn config(&self) -> &EngineConfig {
        &self.shared.config
    }

    /// Jobs by queue and state (pairs with no job are absent), as counted in the store at
    /// most [`EngineConfig::job_counts_max_age`] ago: every reader of this scheduler
    /// shares one count per interval.
    pub async fn job_counts(&self) -> Result<Arc<[QueueCount]>, EngineError> {
        Ok(self.shared.counts.get(self.shared.store.as_ref()).await?)
    }

    /// How many times [`Self::job_counts`] has counted in the store.
    pub fn job_counts_queries(&self) -> u64 {
        self.shared.counts.queries()
    }

    /// Schedules `job_type` with `data` on `queue`, to run now.
    pub async fn add(
        &self,
        job_type: &str,
        data: Value,
        queue: &str,
    ) -> Result<JobId, EngineError> {
        Ok(self
            .add_job(JobRequest::new(job_type, data, queue))
            .await?
            .id)
    }

    /// Schedules a job to run at `at`.
    pub async fn add_at(
        &self,
        job_type: &str,
        data: Value,
        queue: &str,
        at: Timestamp,
    ) -> Result<JobId, EngineError> {
        Ok(self
            .add_job(JobRequest::new(job_type, data, queue).run_at(at))
            .await?
            .id)
    }

    /// Schedules a job to run after `delay`.
    pub async fn add_in(
        &self,
        job_type: &str,
        data: Value,
        queue: &str,
        delay: Duration,
    ) -> Result<JobId, EngineError> {
        let delay = SignedDuration::try_from(delay).map_err(|_| {
            ParseError::new("delayMs", "is too large", "a delay of at most a few years")
        })?;
        let at = self.shared.clock.now().checked_add(delay).map_err(|_| {
            ParseError::new("delayMs", "is too large", "a delay of at most a few years")
        })?;
        self.add_at(job_type, data, queue, at).await
    }

    /// Schedules one job with every option.
    pub async fn add_job(&self, request: JobRequest) -> Result<InsertedJob, EngineError> {
        Ok(self.add_many(vec![request]).await?.remove(0))
    }

    /// Schedules several jobs in one transaction: all are checked first, and none is
    /// inserted if any is refused. Results are in input order.
    pub async fn add_many(
        &self,
        requests: Vec<JobRequest>,
    ) -> Result<Vec<InsertedJob>, EngineError> {
        self.add_many_as(&Actor::system(), requests).await
    }

    /// [`add_many`](Self::add_many) on behalf of `actor`: the jobs are owned by the actor
    /// (whatever `owner` the requests name), checked against its limits and quota, and
    /// audited with the insert.
    pub async fn add_many_as(
        &self,
        actor: &Actor,
        requests: Vec<JobRequest>,
    ) -> Result<Vec<InsertedJob>, EngineError> {
        let now = self.shared.clock.now();
        let jobs = requests
            .into_iter()
            .map(|r| {
                let r = actor.own(r);
                self.check_create(actor, &r.job_type, r.priority)?;
                self.prepare(r, now)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let queues: Vec<QueueName> = jobs.iter().map(|j| j.queue.clone()).collect();
        let audit = actor.records(
            now,
            AuditAction::JobCreate,
            jobs.iter().map(|j| j.id.to_string()),
        );
        let inserted = self
            .shared
            .store
            .job_insert_many(JobInsertParams {
                jobs,
                audit,
                quota: actor.quota(),
            })
            .await
            .map_err(quota_error)?;
        for q in queues {
            self.wake_queue(&q);
        }
        Ok(inserted)
    }

    /// Creates a cron schedule. Its first occurrence is the first fire time after now.
    pub async fn add_cron(&self, request: CronRequest) -> Result<ScheduleId, EngineError> {
        self.add_cron_as(&Actor::system(), request).await
    }

    /// [`add_cron`](Self::add_cron) on behalf of `actor` (owned by it, within its limits
    /// and quota, audited).
    pub async fn add_cron_as(
        &self,
        actor: &Actor,
        mut request: CronRequest,
    ) -> Result<ScheduleId, EngineError> {
        request.job = actor.own(request.job);
        self.check_create(actor, &request.job.job_type, request.job.priority)?;
        let schedule = self.prepare_schedule(request)?;
        let id = schedule.id;
        let audit = actor.records(
            schedule.created_at,
            AuditAction::ScheduleCreate,
            [id.to_string()],
        );
        self.shared
            .store
            .schedule_insert(ScheduleInsertParams { schedule, audit, quota: actor.quota() })
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => EngineError::Conflict(
                    "a schedule with this `name` already exists for this owner; choose another name or update the existing schedule".into(),
                ),
                e => quota_error(e),
            })?;
        self.shared.wakers.cron.notify_one();
        Ok(id)
    }

    /// Refuses what `actor` may not create: an internal job type (unless the actor is
    /// trusted with them), or a type or priority outside the actor's limits.
    pub(crate) fn check_create(
        &self,
        actor: &Actor,
        job_type: &str,
        priority: Priority,
    ) -> Result<(), EngineError> {
        if actor.internal != InternalTypes::Create && self.is_internal(job_type) {
            return Err(EngineError::InternalJobType {
                kind: job_type.to_owned(),
            });
        }
        actor.check_allowed(job_type, priority)
    }

    /// Whether `job_type` is registered as internal.
    pub(crate) fn is_internal(&self, job_type: &str) -> bool {
        JobKind::parse(job_type).is_ok_and(|k| self.shared.registry.is_internal(&k))
    }

    /// Parses a schedule request into a schedule to store (first fire time after now).
    pub(crate) fn prepare_schedule(&self, request: CronRequest) -> Result<Schedule, EngineError> {
        let now = self.shared.clock.now();
        let cron = CronSpec::parse(&request.cron, &request.timezone, request.dst)?;
        let template = self.prepare(request.job.clone(), now)?;
        let schedule = Schedule {
            id: ScheduleId::new(),
            name: check_name(&request.name)?,
            owner: template.owner.clone(),
            next_fire_at: cron.next_after(now),
            cron,
            template: JobTemplate {
                kind: template.kind,
                queue: template.queue,
                priority: template.priority,
                payload: template.payload,
                max_attempts: template.max_attempts,
                timeout: template.timeout,
            },
            paused: request.paused,
            overlap: request.overlap,
            missed: request.missed,
            catch_up: CatchUpWindow::new(request.catch_up)?,
            created_at: now,
            updated_at: now,
            blocked: None,
        };
        Ok(schedule)
    }

    /// Parses a request into a job to insert, checking the allowlist and the queue.
    pub(crate) fn prepare(&self, r: JobRequest, now: Timestamp) -> Result<NewJob, EngineError> {
        let kind = JobKind::parse(&r.job_type)?;
        if !self.shared.registry.contains(&kind) {
            return Err(EngineError::UnknownJobType {
                kind: r.job_type,
                known: self.shared.registry.kinds(),
            });
        }
        let queue = QueueName::parse(&r.queue)?;
        if self.shared.config.queue(&queue).is_none() {
            return Err(EngineError::UnknownQueue {
                queue: r.queue,
                known: self.shared.config.queue_names(),
            });
        }
        let payload = Payload::from_json(&r.data, self.shared.config.max_payload_bytes)?;
        let max_attempts = r
            .max_attempts
            .map(MaxAttempts::new)
            .transpose()?
            .unwrap_or_default();
        let timeout = r
            .timeout_ms
            .map(JobTimeout::from_millis)
            .transpose()?
            .unwrap_or_default();
        let owner = PrincipalId::parse(&r.owner).map_err(|e| e.for_field("owner"))?;
        Ok(NewJob {
            id: JobId::new(),
            kind,
            queue,
            priority: r.priority,
            payload,
            // A past `run_at` means now: kept as is, it would sort ahead of older jobs of
            // the same priority (claims go by priority, then run_at) and count its age
            // from the past in the pick-up metric.
            run_at: r.run_at.map_or(now, |at| at.max(now)),
            max_attempts,
            timeout,
            idempotency_key: r.idempotency_key.as_deref().map(check_key).transpose()?,
            owner,
            schedule_id: None,
            created_at: now,
            scheduled_at: None,
        })
    }

    pub(crate) fn wake_queue(&self, queue: &QueueName) {
        if let Some(n) = self.shared.wakers.queues.get(queue) {
            n.notify_one();
        }
    }
}
