//! Factories and set-ups shared by the conformance tests.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use uuid::Uuid;
use warden_core::{
    CronSpec, DstPolicy, JobId, JobKind, JobTimeout, MaxAttempts, MissedPolicy, OverlapPolicy,
    Payload, PrincipalId, Priority, QueueName, ScheduleId, schedule::CatchUpWindow,
};
use warden_store::{
    ClaimParams, ClaimedJob, JobInsertParams, JobTemplate, NewJob, RescueParams, RescuedJob,
    Schedule, ScheduleInsertParams, Store, StoreError,
};

/// A principal id the test names (valid by construction).
pub(crate) fn pid(id: &str) -> PrincipalId {
    PrincipalId::parse(id).unwrap()
}

pub(crate) fn t0() -> Timestamp {
    "2030-01-01T00:00:00Z".parse().unwrap()
}

pub(crate) fn at(secs: i64) -> Timestamp {
    t0().checked_add(SignedDuration::from_secs(secs)).unwrap()
}

pub(crate) fn job(queue: &str) -> NewJob {
    NewJob {
        id: JobId::new(),
        kind: JobKind::parse("send-email").unwrap(),
        queue: QueueName::parse(queue).unwrap(),
        priority: Priority::Medium,
        payload: Payload::from_json(&json!({"to": "a@example.com"}), 1024).unwrap(),
        run_at: t0(),
        max_attempts: MaxAttempts::new(3).unwrap(),
        timeout: JobTimeout::from_millis(30_000).unwrap(),
        idempotency_key: None,
        owner: pid("user-1"),
        schedule_id: None,
        created_at: t0(),
        scheduled_at: None,
    }
}

pub(crate) fn claim(queue: &str, limit: u32, now: Timestamp) -> ClaimParams {
    ClaimParams {
        queue: QueueName::parse(queue).unwrap(),
        worker: "worker-a".into(),
        limit,
        now,
        due_by: now,
        lease_until: now.checked_add(SignedDuration::from_secs(30)).unwrap(),
        lease_token: Uuid::new_v4(),
        owner_limits: false,
    }
}

pub(crate) fn schedule(name: &str, expr: &str) -> Schedule {
    let cron = CronSpec::parse(expr, "Europe/Paris", DstPolicy::default()).unwrap();
    Schedule {
        id: ScheduleId::new(),
        name: name.into(),
        owner: pid("user-1"),
        next_fire_at: cron.next_after(t0()),
        cron,
        template: JobTemplate {
            kind: JobKind::parse("report").unwrap(),
            queue: QueueName::parse("default").unwrap(),
            priority: Priority::High,
            payload: Payload::from_json(&json!({"k": 1}), 1024).unwrap(),
            max_attempts: MaxAttempts::new(2).unwrap(),
            timeout: JobTimeout::from_millis(1000).unwrap(),
        },
        paused: false,
        overlap: OverlapPolicy::Forbid,
        missed: MissedPolicy::Latest,
        catch_up: CatchUpWindow::new(Duration::from_secs(600)).unwrap(),
        created_at: t0(),
        updated_at: t0(),
        blocked: None,
    }
}

/// The successful end of a claimed attempt, from `started` to `finished`.
pub(crate) fn succeeded(
    c: &warden_store::ClaimedJob,
    started: Timestamp,
    finished: Timestamp,
) -> warden_store::Completion {
    warden_store::Completion {
        id: c.id,
        lease_token: c.lease_token,
        attempt: c.attempt,
        worker: "w".into(),
        started_at: started,
        finished_at: finished,
        result: warden_store::CompletionResult::Succeeded,
        output: None,
    }
}

/// One job in `queue` for each of `owners`, in order.
pub(crate) fn jobs_of(queue: &str, owners: &[&str]) -> Vec<NewJob> {
    owners
        .iter()
        .map(|owner| {
            let mut j = job(queue);
            j.owner = pid(owner);
            j
        })
        .collect()
}

/// `job` with a single attempt: its first failure or lost lease buries it.
pub(crate) fn single_attempt(mut job: NewJob) -> NewJob {
    job.max_attempts = MaxAttempts::new(1).unwrap();
    job
}

/// Inserts `jobs` (all in one queue) and claims them at [`t0`]: their attempts, in claim
/// order.
pub(crate) async fn insert_and_claim<S: Store>(store: &S, jobs: &[&NewJob]) -> Vec<ClaimedJob> {
    let queue = jobs[0].queue.as_str();
    store
        .job_insert_many(JobInsertParams::new(
            jobs.iter().map(|j| (*j).clone()).collect(),
        ))
        .await
        .unwrap();
    let claimed = store
        .job_claim_many(claim(queue, jobs.len() as u32, t0()))
        .await
        .unwrap();
    assert_eq!(claimed.len(), jobs.len(), "every job inserted is claimed");
    claimed
}

/// Inserts `s` (with no audit record) and returns it.
pub(crate) async fn inserted<S: Store>(store: &S, s: Schedule) -> Schedule {
    store
        .schedule_insert(ScheduleInsertParams::new(s.clone()))
        .await
        .unwrap();
    s
}

/// Inserts the every-minute schedule `name`, first due at one minute past [`t0`].
pub(crate) async fn insert_every_minute<S: Store>(store: &S, name: &str) -> Schedule {
    let mut s = schedule(name, "* * * * *");
    s.next_fire_at = Some(at(60));
    inserted(store, s).await
}

/// Returns to their queues (or buries) up to 10 jobs whose lease ran out by `t0 + secs`.
pub(crate) async fn rescue_at<S: Store>(store: &S, secs: i64) -> Vec<RescuedJob> {
    store
        .job_rescue_many(RescueParams {
            now: at(secs),
            limit: 10,
        })
        .await
        .unwrap()
}

/// Asserts that a store call answered with an empty list (and shows what it found if not).
pub(crate) async fn assert_empty<T: std::fmt::Debug>(
    call: impl Future<Output = Result<Vec<T>, StoreError>>,
) {
    let found = call.await.unwrap();
    assert!(found.is_empty(), "expected nothing, found {found:?}");
}
