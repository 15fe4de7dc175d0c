//! The JSON shapes of jobs, schedules, runs, occurrences, keys, principals, queues and
//! audit events in API answers (camelCase, as the seed's `jobType` / `queueName`).
//!
//! Each shape is a typed struct deriving both `Serialize` and `ToSchema`, so the OpenAPI
//! document describes exactly what handlers send. Fields whose values come from a closed
//! set (states, priorities, roles, policies) document that set, taken from the domain
//! enum's own list where it has one.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;
use utoipa::{
    ToSchema,
    openapi::{
        Object, ObjectBuilder, Type,
        schema::{ArrayBuilder, SchemaType},
    },
};
use uuid::Uuid;
use warden_core::{
    JobState, OccurrenceOutcome, Priority, Role,
    redact::{redact_json, redact_text},
};
use warden_store::{
    ApiKeyRecord, AuditEvent, CronRun, Job, Limits, Occurrence, PrincipalRecord, Run, Schedule,
};

/// A run's output as shown to a role that sees payloads redacted: sensitive keys, and
/// sensitive `name: value` pairs inside its strings (the body excerpt).
fn redact_output(value: Value) -> Value {
    fn strings(value: Value) -> Value {
        match value {
            Value::String(s) => Value::String(redact_text(&s)),
            Value::Array(items) => Value::Array(items.into_iter().map(strings).collect()),
            Value::Object(map) => {
                Value::Object(map.into_iter().map(|(k, v)| (k, strings(v))).collect())
            }
            other => other,
        }
    }
    strings(redact_json(value))
}

/// An error message as shown to a role that may (`redacted`) see payloads redacted.
fn error_text(error: Option<&str>, redacted: bool) -> Option<String> {
    error.map(|e| {
        if redacted {
            redact_text(e)
        } else {
            e.to_owned()
        }
    })
}

fn data(payload: Value, redacted: bool) -> Value {
    if redacted {
        redact_json(payload)
    } else {
        payload
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A string schema limited to `values`.
fn one_of_strings<'a>(values: impl IntoIterator<Item = &'a str>) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .build()
}

pub(crate) fn priority_schema() -> Object {
    one_of_strings(Priority::ALL.map(Priority::as_str))
}

pub(crate) fn job_state_schema() -> Object {
    one_of_strings(JobState::ALL.map(JobState::as_str))
}

pub(crate) fn role_schema() -> Object {
    one_of_strings(Role::ALL.map(Role::as_str))
}

pub(crate) fn occurrence_outcome_schema() -> Object {
    one_of_strings(OccurrenceOutcome::ALL.map(OccurrenceOutcome::as_str))
}

/// The values `OverlapPolicy::from_str` accepts (checked by a test below).
pub(crate) const OVERLAP_VALUES: [&str; 3] = ["allow", "forbid", "replace"];
/// The values `MissedPolicy::from_str` accepts.
pub(crate) const MISSED_VALUES: [&str; 3] = ["skip", "latest", "all"];
/// The values `GapPolicy::from_str` accepts.
pub(crate) const GAP_VALUES: [&str; 2] = ["shift", "skip"];
/// The values `FoldPolicy::from_str` accepts.
pub(crate) const FOLD_VALUES: [&str; 3] = ["first", "last", "both"];

pub(crate) fn overlap_schema() -> Object {
    one_of_strings(OVERLAP_VALUES)
}

pub(crate) fn missed_schema() -> Object {
    one_of_strings(MISSED_VALUES)
}

pub(crate) fn gap_schema() -> Object {
    one_of_strings(GAP_VALUES)
}

pub(crate) fn fold_schema() -> Object {
    one_of_strings(FOLD_VALUES)
}

/// `Option<String>` limited to a closed set: the set, or `null`.
fn nullable(schema: Object) -> Object {
    let Object {
        enum_values,
        schema_type,
        ..
    } = schema;
    let mut values = enum_values.unwrap_or_default();
    values.push(Value::Null);
    let types = match schema_type {
        SchemaType::Type(t) => vec![t, Type::Null],
        SchemaType::Array(mut ts) => {
            ts.push(Type::Null);
            ts
        }
        SchemaType::AnyValue => return ObjectBuilder::new().build(),
    };
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter(types))
        .enum_values(Some(values))
        .build()
}

pub(crate) fn nullable_priority_schema() -> Object {
    nullable(priority_schema())
}

pub(crate) fn nullable_overlap_schema() -> Object {
    nullable(overlap_schema())
}

pub(crate) fn nullable_missed_schema() -> Object {
    nullable(missed_schema())
}

pub(crate) fn nullable_gap_schema() -> Object {
    nullable(gap_schema())
}

pub(crate) fn nullable_fold_schema() -> Object {
    nullable(fold_schema())
}

/// Any JSON value: a job's `data`.
pub(crate) fn any_value_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::AnyValue)
        .description(Some("Any JSON value (the job's payload)."))
        .build()
}

/// A job as lists show it: everything but its payload, which only
/// `GET /api/v1/jobs/{id}` shows (a page of large payloads would amplify memory).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = JobSummary)]
pub struct JobSummaryView {
    pub id: Uuid,
    pub job_type: String,
    pub queue_name: String,
    #[schema(schema_with = priority_schema)]
    pub priority: &'static str,
    #[schema(schema_with = job_state_schema)]
    pub state: &'static str,
    /// Attempts started so far.
    pub attempt: i32,
    pub max_attempts: i32,
    pub run_at: Timestamp,
    pub timeout_ms: u64,
    pub idempotency_key: Option<String>,
    /// The principal that owns the job.
    pub owner: String,
    /// The schedule that enqueued the job, if any.
    pub schedule_id: Option<Uuid>,
    pub created_at: Timestamp,
    pub attempted_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// For roles that see payloads redacted, with sensitive `name: value` pairs redacted.
    pub last_error: Option<String>,
}

impl JobSummaryView {
    pub fn new<P>(j: &Job<P>, redacted: bool) -> Self {
        Self {
            id: j.id.as_uuid(),
            job_type: j.kind.as_str().to_owned(),
            queue_name: j.queue.as_str().to_owned(),
            priority: j.priority.as_str(),
            state: j.state.as_str(),
            attempt: j.attempt,
            max_attempts: j.max_attempts,
            run_at: j.run_at,
            timeout_ms: millis(j.timeout.as_duration()),
            idempotency_key: j.idempotency_key.clone(),
            owner: j.owner.clone(),
            schedule_id: j.schedule_id.map(|s| s.as_uuid()),
            created_at: j.created_at,
            attempted_at: j.attempted_at,
            finished_at: j.finished_at,
            last_error: error_text(j.last_error.as_deref(), redacted),
        }
    }
}

/// A job, with its payload.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Job)]
pub struct JobView {
    #[serde(flatten)]
    pub job: JobSummaryView,
    /// The payload; for roles that see payloads redacted, sensitive-looking keys at any
    /// depth read `[REDACTED]`.
    #[schema(schema_with = any_value_schema)]
    pub data: Value,
}

impl JobView {
    pub fn new(j: &Job, redacted: bool) -> Self {
        Self {
            job: JobSummaryView::new(j, redacted),
            data: data(j.payload.to_json(), redacted),
        }
    }
}

/// A schedule's daylight-saving policy.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = DstPolicy)]
pub struct DstView {
    /// A civil fire time that a spring-forward skips: `shift` fires after the gap,
    /// `skip` does not fire.
    #[schema(schema_with = gap_schema)]
    pub gap: &'static str,
    /// A civil fire time that a fall-back repeats: fire at the `first`, the `last` or
    /// `both`.
    #[schema(schema_with = fold_schema)]
    pub fold: &'static str,
}

/// A cron schedule and the job it enqueues, as lists show it: everything but the job's
/// payload, which only the single-schedule routes show.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ScheduleSummary)]
pub struct ScheduleSummaryView {
    pub id: Uuid,
    pub name: String,
    pub owner: String,
    pub cron: String,
    /// IANA time zone.
    pub timezone: String,
    pub dst: DstView,
    pub job_type: String,
    pub queue_name: String,
    #[schema(schema_with = priority_schema)]
    pub priority: &'static str,
    pub max_attempts: i32,
    pub timeout_ms: u64,
    pub paused: bool,
    #[schema(schema_with = overlap_schema)]
    pub overlap: &'static str,
    #[schema(schema_with = missed_schema)]
    pub missed: &'static str,
    pub catch_up_secs: u64,
    pub next_fire_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Why its latest occurrences were recorded `skipped:forbidden` (its owner is
    /// disabled, the job is outside the owner's `allowedJobTypes` or `allowedPriorities`,
    /// or the owner's `maxActive` is reached); `null` while its occurrences may run.
    pub blocked: Option<String>,
}

impl ScheduleSummaryView {
    pub fn new<P>(s: &Schedule<P>) -> Self {
        let t = &s.template;
        let dst = s.cron.dst();
        Self {
            id: s.id.as_uuid(),
            name: s.name.clone(),
            owner: s.owner.clone(),
            cron: s.cron.expr().to_owned(),
            timezone: s.cron.tz_name().to_owned(),
            dst: DstView {
                gap: dst.gap.as_str(),
                fold: dst.fold.as_str(),
            },
            job_type: t.kind.as_str().to_owned(),
            queue_name: t.queue.as_str().to_owned(),
            priority: t.priority.as_str(),
            max_attempts: t.max_attempts.get(),
            timeout_ms: millis(t.timeout.as_duration()),
            paused: s.paused,
            overlap: s.overlap.as_str(),
            missed: s.missed.as_str(),
            catch_up_secs: s.catch_up.as_duration().as_secs(),
            next_fire_at: s.next_fire_at,
            created_at: s.created_at,
            updated_at: s.updated_at,
            blocked: s.blocked.clone(),
        }
    }
}

/// A cron schedule and the job it enqueues, with the job's payload.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Schedule)]
pub struct ScheduleView {
    #[serde(flatten)]
    pub schedule: ScheduleSummaryView,
    /// The job's payload, redacted as a job's is.
    #[schema(schema_with = any_value_schema)]
    pub data: Value,
}

impl ScheduleView {
    pub fn new(s: &Schedule, redacted: bool) -> Self {
        Self {
            schedule: ScheduleSummaryView::new(s),
            data: data(s.template.payload.to_json(), redacted),
        }
    }
}

/// One attempt of a job, as lists show it: without the handler's report, which only
/// `GET /api/v1/runs/{id}` shows.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = RunSummary)]
pub struct RunSummaryView {
    /// The run's id (increasing in the order runs were recorded).
    pub id: i64,
    pub job_id: Uuid,
    pub attempt: i32,
    pub worker: String,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub duration_ms: i64,
    /// `succeeded`, `retry`, `dead`, `cancelled`, or `lost` (the lease expired).
    pub outcome: String,
    /// For roles that see payloads redacted, with sensitive `name: value` pairs redacted.
    pub error: Option<String>,
}

impl RunSummaryView {
    /// `redacted`: the caller's role sees payloads redacted, so the error is too (an HTTP
    /// job's error can quote a response body holding `access_token` or `password`).
    pub fn new<O>(r: &Run<O>, redacted: bool) -> Self {
        Self {
            id: r.id,
            job_id: r.job_id.as_uuid(),
            attempt: r.attempt,
            worker: r.worker.clone(),
            started_at: r.started_at,
            finished_at: r.finished_at,
            duration_ms: r.duration_ms,
            outcome: r.outcome.clone(),
            error: error_text(r.error.as_deref(), redacted),
        }
    }
}

/// One attempt of a job, with the handler's report.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Run)]
pub struct RunView {
    #[serde(flatten)]
    pub run: RunSummaryView,
    /// What the handler reported about this attempt; for a `warden.http` job the redacted
    /// call record (method, URL, status, headers of interest, duration, body excerpt of at
    /// most 4 KiB). `null` when the handler reported nothing. For roles that see payloads
    /// redacted, sensitive keys and `name: value` pairs in its strings are redacted.
    pub output: Option<serde_json::Value>,
}

impl RunView {
    pub fn new(r: &Run, redacted: bool) -> Self {
        // Written by the engine as JSON; a row that is not (written by hand) shows none.
        let output = r
            .output
            .as_deref()
            .and_then(|b| serde_json::from_slice(b).ok());
        Self {
            run: RunSummaryView::new(r, redacted),
            output: if redacted {
                output.map(redact_output)
            } else {
                output
            },
        }
    }
}

/// One row of a schedule's occurrence ledger.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Occurrence)]
pub struct OccurrenceView {
    pub schedule_id: Uuid,
    pub scheduled_at: Timestamp,
    #[schema(schema_with = occurrence_outcome_schema)]
    pub outcome: &'static str,
    /// The job enqueued for it (`ran` only).
    pub job_id: Option<Uuid>,
    pub recorded_at: Timestamp,
}

impl OccurrenceView {
    pub fn new(o: &Occurrence) -> Self {
        Self {
            schedule_id: o.schedule_id.as_uuid(),
            scheduled_at: o.scheduled_at,
            outcome: o.outcome.as_str(),
            job_id: o.job_id.map(|j| j.as_uuid()),
            recorded_at: o.recorded_at,
        }
    }
}

/// A schedule's next fire time, in UTC and in the schedule's zone.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FireTime {
    pub utc: Timestamp,
    /// RFC 9557 (RFC 3339 with the zone's name), e.g.
    /// `2030-01-01T09:00:00+01:00[Europe/Paris]`.
    pub local: String,
}

/// An API key as listed: never the key, never its hash.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ApiKey)]
pub struct ApiKeyView {
    pub id: Uuid,
    pub name: String,
    /// The principal the key acts as.
    pub principal: String,
    #[schema(schema_with = role_schema)]
    pub role: &'static str,
    /// The key's first characters (`wdn_` + 8), to recognise it.
    pub prefix: String,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    /// The key this one replaced, when made by a rotation.
    pub rotated_from: Option<Uuid>,
}

impl ApiKeyView {
    pub fn new(k: &ApiKeyRecord) -> Self {
        Self {
            id: k.id,
            name: k.name.clone(),
            principal: k.principal_id.clone(),
            role: k.role.as_str(),
            prefix: k.prefix.clone(),
            created_at: k.created_at,
            expires_at: k.expires_at,
            revoked_at: k.revoked_at,
            last_used_at: k.last_used_at,
            rotated_from: k.rotated_from,
        }
    }
}

/// A key as listed, as a JSON value (`warden keys list --json` prints these).
pub fn api_key(k: &ApiKeyRecord) -> Value {
    serde_json::to_value(ApiKeyView::new(k)).unwrap_or(Value::Null)
}

/// A newly issued key: the listed fields plus the key itself, shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = IssuedApiKey)]
pub struct IssuedKeyView {
    #[serde(flatten)]
    pub listed: ApiKeyView,
    /// The key. It is not stored and is not shown again.
    pub key: String,
    pub note: &'static str,
}

// The schema of `warden_store::Limits`, which is what is sent and read (the store crate
// has no utoipa); a test below checks that the two name the same fields.
/// Per-principal limits (seed 004). An absent field means "no limit".
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(as = Limits)]
#[expect(
    dead_code,
    reason = "a schema only: the values are `warden_store::Limits`"
)]
pub(crate) struct LimitsSchema {
    /// Job types this principal may schedule.
    allowed_job_types: Option<Vec<String>>,
    #[schema(schema_with = allowed_priorities_schema)]
    allowed_priorities: Option<Vec<String>>,
    /// Most jobs not yet finished plus schedules this principal may own at once.
    #[schema(maximum = 2147483647)]
    max_active: Option<u32>,
    /// Most of this principal's jobs running at once.
    #[schema(maximum = 2147483647)]
    max_concurrent: Option<u32>,
}

fn allowed_priorities_schema() -> utoipa::openapi::schema::Array {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(priority_schema())
        .description(Some("Priorities this principal may use."))
        .build()
}

/// A principal: whether it is disabled, and its limits.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Principal)]
pub struct PrincipalView {
    pub id: String,
    /// A disabled principal is refused at once, with every key it holds.
    pub disabled: bool,
    #[schema(value_type = LimitsSchema)]
    pub limits: Limits,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl PrincipalView {
    pub fn new(p: &PrincipalRecord) -> Self {
        Self {
            id: p.id.clone(),
            disabled: p.disabled,
            limits: p.limits.clone(),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

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

/// One entry of the audit trail.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = AuditEvent)]
pub struct AuditEventView {
    /// The position in the trail (the `before` cursor).
    pub id: i64,
    pub at: Timestamp,
    pub principal: Option<String>,
    /// The key id (or the environment key's name) that authenticated; never the key.
    pub key_id: Option<String>,
    /// `resource.verb`, e.g. `job.create`, `auth.failure`.
    pub action: String,
    pub target: Option<String>,
    /// `ok`, `denied`, `unauthenticated`, `not_found`, `invalid`, `limited`, `failed`.
    pub outcome: String,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// Warden's own id of the request (the answer's `X-Request-Id`).
    pub request_id: Option<String>,
    /// The `X-Request-Id` the client sent, if any: chosen by the client, so it correlates
    /// only with the client's own records.
    pub client_request_id: Option<String>,
    pub detail: Option<String>,
}

impl AuditEventView {
    pub fn new(e: &AuditEvent) -> Self {
        let r = &e.record;
        Self {
            id: e.id,
            at: r.at,
            principal: r.principal_id.clone(),
            key_id: r.key_id.clone(),
            action: r.action.clone(),
            target: r.target.clone(),
            outcome: r.outcome.clone(),
            client_ip: r.client_ip.clone(),
            user_agent: r.user_agent.clone(),
            request_id: r.request_id.clone(),
            client_request_id: r.client_request_id.clone(),
            detail: r.detail.clone(),
        }
    }
}

/// A job just created (or found again by its idempotency key).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobCreated {
    pub job_id: Uuid,
    /// Whether the idempotency key named a job that already existed.
    pub existing: bool,
}

/// The jobs of a batch, in the order given.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BatchCreated {
    pub jobs: Vec<JobCreated>,
}

/// A job id.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobRef {
    pub job_id: Uuid,
}

/// A schedule id.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleRef {
    pub schedule_id: Uuid,
}

/// What `POST /api/jobs/schedule` made: a job (`immediate`, `delayed`) or a schedule
/// (`cron`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(untagged)]
pub enum SeedCreated {
    Job(JobRef),
    Schedule(ScheduleRef),
}

/// A job's new state after a cancel or a retry.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobStateChanged {
    pub job_id: Uuid,
    #[schema(schema_with = job_state_schema)]
    pub state: &'static str,
}

/// A schedule paused or resumed.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SchedulePaused {
    pub schedule_id: Uuid,
    pub paused: bool,
}

/// A queue paused or resumed.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QueuePaused {
    pub queue: String,
    pub paused: bool,
}

/// A schedule deleted.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleDeleted {
    pub schedule_id: Uuid,
    pub deleted: bool,
}

/// A key revoked.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyRevoked {
    pub key_id: Uuid,
    pub revoked: bool,
}

#[cfg(test)]
mod tests {
    use std::{collections::BTreeSet, str::FromStr};

    use serde_json::json;
    use utoipa::PartialSchema;
    use warden_core::{FoldPolicy, GapPolicy, MissedPolicy, OverlapPolicy};

    use super::*;

    fn parses_all<T: FromStr>(values: &[&str]) -> bool {
        values.iter().all(|v| v.parse::<T>().is_ok())
    }

    #[test]
    fn documented_policy_values_are_the_accepted_ones() {
        assert!(parses_all::<OverlapPolicy>(&OVERLAP_VALUES));
        assert!(parses_all::<MissedPolicy>(&MISSED_VALUES));
        assert!(parses_all::<GapPolicy>(&GAP_VALUES));
        assert!(parses_all::<FoldPolicy>(&FOLD_VALUES));
        for policy in [
            OverlapPolicy::Allow,
            OverlapPolicy::Forbid,
            OverlapPolicy::Replace,
        ] {
            assert!(OVERLAP_VALUES.contains(&policy.as_str()));
        }
        for policy in [MissedPolicy::Skip, MissedPolicy::Latest, MissedPolicy::All] {
            assert!(MISSED_VALUES.contains(&policy.as_str()));
        }
        for policy in [GapPolicy::Shift, GapPolicy::Skip] {
            assert!(GAP_VALUES.contains(&policy.as_str()));
        }
        for policy in [FoldPolicy::First, FoldPolicy::Last, FoldPolicy::Both] {
            assert!(FOLD_VALUES.contains(&policy.as_str()));
        }
    }

    /// Whether `value` matches a pattern of the form `^[CLASS]{1,N}$` (the only form the
    /// name patterns take), read from the pattern itself.
    fn matches_name_pattern(pattern: &str, value: &str) -> bool {
        let class = &pattern[pattern.find('[').unwrap() + 1..pattern.find(']').unwrap()];
        let max: usize = pattern[pattern.find(',').unwrap() + 1..pattern.find('}').unwrap()]
            .parse()
            .unwrap();
        let allowed = |c: char| {
            let b = class.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if i + 2 < b.len() && b[i + 1] == b'-' {
                    if (b[i] as char..=b[i + 2] as char).contains(&c) {
                        return true;
                    }
                    i += 3;
                } else {
                    if b[i] as char == c {
                        return true;
                    }
                    i += 1;
                }
            }
            false
        };
        (1..=max).contains(&value.chars().count()) && value.chars().all(allowed)
    }

    #[test]
    fn documented_name_patterns_are_what_the_parsers_accept() {
        let schema = serde_json::to_value(crate::routes::jobs::NewJobBody::schema()).unwrap();
        type Parses = fn(&str) -> bool;
        let cases: [(&str, usize, Parses); 2] = [
            ("jobType", 128, |v| warden_core::JobKind::parse(v).is_ok()),
            ("queueName", 64, |v| {
                warden_core::QueueName::parse(v).is_ok()
            }),
        ];
        for (field, max, parses) in cases {
            let pattern = schema["properties"][field]["pattern"].as_str().unwrap();
            let mut samples: Vec<String> = (0u8..128).map(|b| char::from(b).to_string()).collect();
            samples.extend(["", "é", "send-email", "a b"].map(str::to_owned));
            samples.extend([max - 1, max, max + 1].map(|n| "a".repeat(n)));
            for v in samples {
                assert_eq!(
                    matches_name_pattern(pattern, &v),
                    parses(&v),
                    "{field} {pattern}: {v:?}"
                );
            }
        }
    }

    #[test]
    fn the_limits_schema_names_the_fields_of_limits() {
        let full = Limits {
            allowed_job_types: Some(vec![]),
            allowed_priorities: Some(vec![]),
            max_active: Some(1),
            max_concurrent: Some(1),
        };
        let sent: BTreeSet<String> = serde_json::to_value(full)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        let schema = serde_json::to_value(LimitsSchema::schema()).unwrap();
        let documented: BTreeSet<String> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(sent, documented);
        assert_eq!(schema["additionalProperties"], json!(false));
    }
}

/// Jobs of one queue in one state.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Backlog)]
pub struct BacklogView {
    pub queue: String,
    pub state: String,
    pub count: i64,
}

/// Whether scheduling is alive.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = SchedulerHealth)]
pub struct SchedulerHealthView {
    /// `true` when no tick (internal loop or `/cron/run`, of any process) happened within
    /// `lateAfterSecs`, or an occurrence is overdue by more than that.
    pub late: bool,
    /// Why it is late (empty when it is not).
    pub reasons: Vec<String>,
    pub now: Timestamp,
    pub last_tick_at: Option<Timestamp>,
    pub seconds_since_tick: Option<i64>,
    pub late_after_secs: u64,
    /// The earliest occurrence not yet accounted for, when it is overdue.
    pub oldest_overdue_occurrence: Option<Timestamp>,
    /// Jobs by queue and state, across every owner.
    pub backlog: Vec<BacklogView>,
    /// When the oldest job waiting to run became due.
    pub oldest_waiting_job_at: Option<Timestamp>,
    pub oldest_waiting_job_age_secs: Option<f64>,
}

/// One `/cron/run` call.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = CronRun)]
pub struct CronRunView {
    /// The record's id (the `cron_run_id` of the call's answer; the `before` cursor).
    pub id: i64,
    pub at: Timestamp,
    /// `ok`, `failed`, `busy`, `unauthorized`, `forbidden` or `limited`.
    pub outcome: String,
    pub duration_ms: i64,
    pub fired: i64,
    pub skipped: i64,
    pub missed: i64,
    pub dispatched: i64,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// The call's `X-Request-Id` (the caller's when it sent one).
    pub request_id: Option<String>,
    /// Why it failed or was refused.
    pub detail: Option<String>,
}

impl CronRunView {
    pub fn new(r: &CronRun) -> Self {
        let c = &r.record;
        Self {
            id: r.id,
            at: c.at,
            outcome: c.outcome.clone(),
            duration_ms: c.duration_ms,
            fired: c.fired,
            skipped: c.skipped,
            missed: c.missed,
            dispatched: c.dispatched,
            client_ip: c.client_ip.clone(),
            user_agent: c.user_agent.clone(),
            request_id: c.request_id.clone(),
            detail: c.detail.clone(),
        }
    }
}
