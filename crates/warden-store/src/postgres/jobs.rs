//! Jobs on PostgreSQL: reads, claims (plain and under owner limits), heartbeats,
//! completions, cancel, retry and rescue.

use std::collections::BTreeSet;

use jiff::Timestamp;
use sqlx::{Postgres, Row};
use uuid::Uuid;
use warden_core::{JobId, QueueName, RunOutcome, Scope};

use super::{PgStore, quota};
use crate::{
    convert::micros,
    model::*,
    rows::{claimed_from_row, job_from_row, job_summary_from_row},
    store::Result,
};

pub(super) async fn job_get(store: &PgStore, id: JobId, scope: Scope) -> Result<Job> {
    let row = sqlx::query(include_str!("job_get.sql"))
        .bind(id.as_uuid())
        .bind(scope.owner())
        .fetch_one(&store.pool)
        .await?;
    job_from_row(&row)
}

pub(super) async fn job_list(store: &PgStore, filter: JobFilter) -> Result<Vec<JobSummary>> {
    let rows = sqlx::query(include_str!("job_list.sql"))
        .bind(filter.queue.as_ref().map(|q| q.as_str()))
        .bind(filter.state.map(|s| s.as_str()))
        .bind(filter.schedule_id.map(|s| s.as_uuid()))
        .bind(
            Page {
                limit: filter.limit,
                after: None,
            }
            .limit(),
        )
        .bind(filter.scope.owner())
        .bind(filter.after.map(|id| id.as_uuid()))
        .fetch_all(&store.pool)
        .await?;
    rows.iter().map(job_summary_from_row).collect()
}

pub(super) async fn job_claim_many(store: &PgStore, p: ClaimParams) -> Result<Vec<ClaimedJob>> {
    if p.owner_limits {
        return claim_limited(store, p).await;
    }
    // The hot path: one statement, no transaction, no lock.
    let rows = bind_claim(sqlx::query(include_str!("job_claim_many.sql")), &p)
        .bind(micros(p.due_by))
        .fetch_all(&store.pool)
        .await?;
    rows.iter()
        .map(|r| claimed_from_row(r, p.lease_token))
        .collect()
}

pub(super) async fn job_heartbeat_many(store: &PgStore, p: HeartbeatParams) -> Result<Vec<JobId>> {
    if p.jobs.is_empty() {
        return Ok(Vec::new());
    }
    let (ids, tokens): (Vec<Uuid>, Vec<Uuid>) =
        p.jobs.iter().map(|(id, t)| (id.as_uuid(), *t)).unzip();
    let held: Vec<Uuid> = sqlx::query_scalar(include_str!("job_heartbeat_many.sql"))
        .bind(&ids)
        .bind(&tokens)
        .bind(micros(p.lease_until))
        .fetch_all(&store.pool)
        .await?;
    Ok(held.into_iter().map(JobId::from_uuid).collect())
}

pub(super) async fn job_complete_many(
    store: &PgStore,
    mut completions: Vec<Completion>,
) -> Result<Vec<JobId>> {
    if completions.is_empty() {
        return Ok(Vec::new());
    }
    // A fixed lock order keeps concurrent completers and the rescuer from deadlocking.
    completions.sort_by_key(|c| c.id);
    let n = completions.len();
    let (mut ids, mut tokens, mut states, mut outcomes, mut run_ats, mut errors) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        vec![],
        vec![],
        vec![],
        vec![],
    );
    let (mut attempts, mut workers, mut started, mut finished, mut outputs) =
        (vec![], vec![], vec![], vec![], vec![]);
    for c in &completions {
        ids.push(c.id.as_uuid());
        tokens.push(c.lease_token);
        states.push(c.result.state().as_str());
        outcomes.push(c.result.run_outcome().as_str());
        run_ats.push(match &c.result {
            CompletionResult::Retry { run_at, .. } => Some(micros(*run_at)),
            _ => None,
        });
        errors.push(c.result.error().map(str::to_owned));
        attempts.push(c.attempt);
        workers.push(c.worker.clone());
        started.push(micros(c.started_at));
        finished.push(micros(c.finished_at));
        outputs.push(c.output.clone());
    }
    let done: Vec<Uuid> = sqlx::query_scalar(include_str!("job_complete_many.sql"))
        .bind(&ids)
        .bind(&tokens)
        .bind(&states)
        .bind(&outcomes)
        .bind(&run_ats)
        .bind(&errors)
        .bind(&attempts)
        .bind(&workers)
        .bind(&started)
        .bind(&finished)
        .bind(&outputs)
        .bind(RunOutcome::Released.as_str())
        .fetch_all(&store.pool)
        .await?;
    Ok(done.into_iter().map(JobId::from_uuid).collect())
}

pub(super) async fn job_cancel_many(store: &PgStore, p: JobCancelParams) -> Result<Vec<JobId>> {
    let JobCancelParams {
        ids,
        scope,
        now,
        audit,
    } = p;
    let p = JobRetryParams {
        ids,
        scope,
        now,
        audit,
        quota: None,
    };
    let changed = update_jobs(store, include_str!("job_cancel_many.sql"), p).await?;
    Ok(changed.ids)
}

pub(super) async fn job_retry_many(store: &PgStore, p: JobRetryParams) -> Result<Vec<JobId>> {
    let changed = update_jobs(store, include_str!("job_retry_many.sql"), p).await?;
    // Retried jobs are available again: wake the other processes' producers.
    store.announce(changed.queues.iter());
    Ok(changed.ids)
}

pub(super) async fn job_rescue_many(store: &PgStore, p: RescueParams) -> Result<Vec<RescuedJob>> {
    let rows = sqlx::query(include_str!("job_rescue_many.sql"))
        .bind(micros(p.now))
        .bind(i64::from(p.limit))
        .bind(RunOutcome::Lost.as_str())
        .fetch_all(&store.pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(RescuedJob {
                id: JobId::from_uuid(r.try_get("id")?),
                state: crate::convert::state(r.try_get("state")?)?,
            })
        })
        .collect()
}

pub(super) async fn job_next_run_at(
    store: &PgStore,
    queue: &warden_core::QueueName,
) -> Result<Option<Timestamp>> {
    let us: Option<i64> = sqlx::query_scalar(include_str!("job_next_run_at.sql"))
        .bind(queue.as_str())
        .fetch_one(&store.pool)
        .await?;
    crate::convert::opt_from_micros(us)
}

/// The claim under owner limits (`maxConcurrent`). Counting an owner's running jobs
/// in a snapshot is not enough: two claims (two queues, two processes) would each see
/// the same room. So it runs in a transaction that first takes, in one global order,
/// the advisory lock of each limited owner it may claim for; a concurrent claim for
/// the same owner waits for the commit, and its statement (READ COMMITTED: a fresh
/// snapshot) then counts the jobs just claimed. Claims for other owners, and the
/// unlimited claim, do not wait.
async fn claim_limited(store: &PgStore, p: ClaimParams) -> Result<Vec<ClaimedJob>> {
    let mut tx = store.pool.begin().await?;
    let keys: Vec<i64> = sqlx::query_scalar(include_str!("job_claim_limited_owners.sql"))
        .bind(p.queue.as_str())
        .bind(i64::from(p.limit))
        .bind(micros(p.due_by))
        .bind(micros(p.now))
        .fetch_all(&mut *tx)
        .await?;
    if !keys.is_empty() {
        sqlx::query(include_str!("job_claim_lock_owners.sql"))
            .bind(&keys)
            .execute(&mut *tx)
            .await?;
    }
    let rows = bind_claim(sqlx::query(include_str!("job_claim_limited.sql")), &p)
        .bind(&keys)
        .bind(micros(p.due_by))
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    rows.iter()
        .map(|r| claimed_from_row(r, p.lease_token))
        .collect()
}

/// The jobs a cancel or retry changed, and their queues (from its `RETURNING`: no
/// second round trip to learn which queues to announce).
struct Changed {
    ids: Vec<JobId>,
    queues: BTreeSet<QueueName>,
}

impl Audited for Changed {
    fn audited(&self, audit: Vec<AuditRecord>) -> Vec<AuditRecord> {
        self.ids.audited(audit)
    }
}

/// Runs a scoped `UPDATE … WHERE id = ANY($1) … RETURNING id, queue` on jobs (cancel,
/// retry) within the owner's quota (none for a cancel), with its audit records, in one
/// transaction.
async fn update_jobs(store: &PgStore, sql: &'static str, p: JobRetryParams) -> Result<Changed> {
    let ids: Vec<Uuid> = p.ids.iter().map(JobId::as_uuid).collect();
    let quota = p.quota.as_ref();
    store
        .audited(p.audit, async |tx| {
            quota::lock(tx, quota).await?;
            let rows: Vec<(Uuid, String)> = sqlx::query_as(sql)
                .bind(&ids)
                .bind(micros(p.now))
                .bind(p.scope.owner())
                .fetch_all(&mut *tx)
                .await?;
            quota::enforce(tx, quota, rows.len()).await?;
            let mut changed = Changed {
                ids: Vec::with_capacity(rows.len()),
                queues: BTreeSet::new(),
            };
            for (id, queue) in rows {
                changed.ids.push(JobId::from_uuid(id));
                changed.queues.insert(QueueName::parse(&queue)?);
            }
            Ok(changed)
        })
        .await
}

/// Binds a claim's six parameters ($1 to $6), in the order of both claim statements.
fn bind_claim<'q>(
    q: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    p: &'q ClaimParams,
) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    q.bind(p.queue.as_str())
        .bind(i64::from(p.limit))
        .bind(micros(p.now))
        .bind(&p.worker)
        .bind(p.lease_token)
        .bind(micros(p.lease_until))
}
