//! The PostgreSQL backend: for several warden processes sharing one database.
//!
//! Claims use `FOR UPDATE SKIP LOCKED` and commit at once; completions are fenced by the
//! lease token; batches travel as arrays (`UNNEST`), so a batch is one round trip.
//! Principals, keys and the audit trail are in `access`; the `/cron/run` history, named
//! locks and scheduler health in `ops`.

mod access;
mod ops;

use std::{collections::HashMap, time::Duration};

use jiff::Timestamp;
use sqlx::{
    Connection, PgPool, Postgres, Row, Transaction,
    postgres::{PgConnectOptions, PgListener, PgPoolOptions},
};
use tokio::sync::mpsc;
use uuid::Uuid;
use warden_core::{JobId, ScheduleId, Scope};

use crate::{
    StoreError,
    convert::micros,
    ledger::{self, LedgerTx},
    migrations,
    model::*,
    rows::{
        claimed_from_row, due_schedule_from_row, job_from_row, job_summary_from_row,
        occurrence_from_row, run_from_row, run_summary_from_row, schedule_from_row,
        schedule_summary_from_row,
    },
    store::{Result, Store},
};

/// Sends `NOTIFY` for queues that received jobs, coalescing: while one notification is
/// in flight, the next ones accumulate and go out together. A `NOTIFY` serialises the
/// commits of notifying transactions, so it is kept out of the insert transactions (whose
/// throughput it halved) and issued at most once per round trip. Ends with the store.
async fn notifier(pool: PgPool, mut queues: mpsc::UnboundedReceiver<String>, origin: u64) {
    let mut pending = std::collections::BTreeSet::new();
    while let Some(first) = queues.recv().await {
        pending.insert(first);
        while let Ok(q) = queues.try_recv() {
            pending.insert(q);
        }
        let names: Vec<String> = std::mem::take(&mut pending).into_iter().collect();
        let notify = sqlx::query(include_str!("job_insert_notify.sql"))
            .bind(&names)
            .bind(origin.to_string());
        if let Err(e) = notify.execute(&pool).await {
            tracing::warn!(error = %e, "announcing new jobs failed; other processes will find them by polling");
        }
    }
}

/// The channel on which inserts announce their queues.
const JOB_INSERT_CHANNEL: &str = "warden_job_insert";

/// A store on a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    /// Queues that received jobs, for the notifier (see [`notifier`]).
    inserted: mpsc::UnboundedSender<String>,
    /// Tags this store's notices, so its own listener ignores them (its scheduler has
    /// already woken its producers).
    origin: u64,
}

impl PgStore {
    /// Connects with a pool of `max_connections`.
    pub async fn connect(options: PgConnectOptions, max_connections: u32) -> Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(StoreError::unavailable)?;
        let (inserted, queues) = mpsc::unbounded_channel();
        let origin = rand::random::<u64>();
        tokio::spawn(notifier(pool.clone(), queues, origin));
        Ok(Self {
            pool,
            inserted,
            origin,
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Tells other processes (after commit) that these queues received jobs.
    fn announce<'q>(&self, queues: impl Iterator<Item = &'q warden_core::QueueName>) {
        for q in queues {
            // The notifier lives as long as the pool; a send fails only at shutdown.
            let _ = self.inserted.send(q.as_str().to_owned());
        }
    }

    /// The claim under owner limits (`maxConcurrent`). Counting an owner's running jobs
    /// in a snapshot is not enough: two claims (two queues, two processes) would each see
    /// the same room. So it runs in a transaction that first takes, in one global order,
    /// the advisory lock of each limited owner it may claim for; a concurrent claim for
    /// the same owner waits for the commit, and its statement (READ COMMITTED: a fresh
    /// snapshot) then counts the jobs just claimed. Claims for other owners, and the
    /// unlimited claim, do not wait.
    async fn claim_limited(&self, p: ClaimParams) -> Result<Vec<ClaimedJob>> {
        let mut tx = self.pool.begin().await?;
        let keys: Vec<i64> = sqlx::query_scalar(include_str!("job_claim_limited_owners.sql"))
            .bind(p.queue.as_str())
            .bind(i64::from(p.limit))
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
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| claimed_from_row(r, p.lease_token))
            .collect()
    }

    /// Runs a scoped `UPDATE … WHERE id = ANY($1) … RETURNING id` on jobs with its audit
    /// records, in one transaction.
    async fn update_jobs(
        &self,
        sql: &'static str,
        ids: Vec<JobId>,
        scope: Scope,
        now: Timestamp,
        audit: Vec<AuditRecord>,
        quota: Option<ActiveQuota>,
    ) -> Result<Vec<JobId>> {
        let ids: Vec<Uuid> = ids.iter().map(JobId::as_uuid).collect();
        let mut tx = self.pool.begin().await?;
        lock_quota(&mut tx, quota.as_ref()).await?;
        let done: Vec<Uuid> = sqlx::query_scalar(sql)
            .bind(&ids)
            .bind(micros(now))
            .bind(scope.owner())
            .fetch_all(&mut *tx)
            .await?;
        let done: Vec<JobId> = done.into_iter().map(JobId::from_uuid).collect();
        enforce_quota(&mut tx, quota.as_ref(), done.len()).await?;
        access::audit_insert(&mut tx, &done.audited(audit)).await?;
        tx.commit().await?;
        Ok(done)
    }

    async fn insert_jobs(
        tx: &mut Transaction<'static, Postgres>,
        jobs: &[NewJob],
    ) -> Result<Vec<InsertedJob>> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let mut ids = Vec::with_capacity(jobs.len());
        let (mut kinds, mut queues, mut prios, mut states, mut payloads) =
            (vec![], vec![], vec![], vec![], vec![]);
        let (
            mut max_attempts,
            mut timeouts,
            mut run_ats,
            mut created,
            mut owners,
            mut schedules,
            mut keys,
            mut scheduled,
        ) = (
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
        );
        for j in jobs {
            ids.push(j.id.as_uuid());
            kinds.push(j.kind.as_str().to_owned());
            queues.push(j.queue.as_str().to_owned());
            prios.push(j.priority.rank());
            states.push(j.initial_state().as_str());
            payloads.push(j.payload.as_bytes().to_vec());
            max_attempts.push(j.max_attempts.get());
            timeouts.push(j.timeout.as_millis());
            run_ats.push(micros(j.run_at));
            created.push(micros(j.created_at));
            owners.push(j.owner.clone());
            schedules.push(j.schedule_id.map(|s| s.as_uuid()));
            keys.push(j.idempotency_key.clone());
            scheduled.push(j.scheduled_at.map(micros));
        }
        let inserted: Vec<Uuid> = sqlx::query_scalar(include_str!("job_insert_many.sql"))
            .bind(&ids)
            .bind(&kinds)
            .bind(&queues)
            .bind(&prios)
            .bind(&states)
            .bind(&payloads)
            .bind(&max_attempts)
            .bind(&timeouts)
            .bind(&run_ats)
            .bind(&created)
            .bind(&owners)
            .bind(&schedules)
            .bind(&keys)
            .bind(&scheduled)
            .fetch_all(&mut **tx)
            .await?;
        if inserted.len() == jobs.len() {
            return Ok(ids
                .into_iter()
                .map(|id| InsertedJob {
                    id: JobId::from_uuid(id),
                    existing: false,
                })
                .collect());
        }
        // Some keys already existed: look up the jobs that hold them.
        let inserted: std::collections::HashSet<Uuid> = inserted.into_iter().collect();
        let (mut os, mut qs, mut ks) = (vec![], vec![], vec![]);
        for j in jobs.iter().filter(|j| !inserted.contains(&j.id.as_uuid())) {
            if let Some(key) = &j.idempotency_key {
                os.push(j.owner.clone());
                qs.push(j.queue.as_str().to_owned());
                ks.push(key.clone());
            }
        }
        let existing: HashMap<(String, String, String), Uuid> =
            sqlx::query(include_str!("job_find_idempotent.sql"))
                .bind(&os)
                .bind(&qs)
                .bind(&ks)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .map(|r| {
                    let key = (r.get("owner"), r.get("queue"), r.get("idempotency_key"));
                    (key, r.get("id"))
                })
                .collect();
        jobs.iter()
            .map(|j| {
                if inserted.contains(&j.id.as_uuid()) {
                    return Ok(InsertedJob {
                        id: j.id,
                        existing: false,
                    });
                }
                let key = (
                    j.owner.clone(),
                    j.queue.as_str().to_owned(),
                    j.idempotency_key.clone().unwrap_or_default(),
                );
                existing
                    .get(&key)
                    .map(|id| InsertedJob {
                        id: JobId::from_uuid(*id),
                        existing: true,
                    })
                    .ok_or_else(|| {
                        StoreError::Conflict(format!("job {} was neither inserted nor found", j.id))
                    })
            })
            .collect()
    }
}

impl Store for PgStore {
    async fn migrate(&self) -> Result<()> {
        migrations::migrator(migrations::Backend::Postgres)
            .run(&self.pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))
    }

    async fn ready(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(StoreError::unavailable)?;
        conn.ping().await.map_err(StoreError::unavailable)?;
        let applied: Vec<i64> = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| {
            StoreError::Migration(format!("no migration record ({e}); run `warden migrate`"))
        })?;
        migrations::check_applied(&applied)
    }

    async fn job_insert_checked(
        &self,
        jobs: Vec<NewJob>,
        audit: Vec<AuditRecord>,
        quota: Option<ActiveQuota>,
    ) -> Result<Vec<InsertedJob>> {
        let mut tx = self.pool.begin().await?;
        lock_quota(&mut tx, quota.as_ref()).await?;
        let out = Self::insert_jobs(&mut tx, &jobs).await?;
        let created = out.iter().filter(|j| !j.existing).count();
        enforce_quota(&mut tx, quota.as_ref(), created).await?;
        access::audit_insert(&mut tx, &out.audited(audit)).await?;
        tx.commit().await?;
        self.announce(jobs.iter().map(|j| &j.queue));
        Ok(out)
    }

    async fn job_get(&self, id: JobId, scope: Scope) -> Result<Job> {
        let row = sqlx::query(include_str!("job_get.sql"))
            .bind(id.as_uuid())
            .bind(scope.owner())
            .fetch_one(&self.pool)
            .await?;
        job_from_row(&row)
    }

    async fn job_list(&self, filter: JobFilter) -> Result<Vec<JobSummary>> {
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
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(job_summary_from_row).collect()
    }

    async fn job_claim_many(&self, p: ClaimParams) -> Result<Vec<ClaimedJob>> {
        if p.owner_limits {
            return self.claim_limited(p).await;
        }
        // The hot path: one statement, no transaction, no lock.
        let rows = bind_claim(sqlx::query(include_str!("job_claim_many.sql")), &p)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| claimed_from_row(r, p.lease_token))
            .collect()
    }

    async fn job_heartbeat_many(&self, p: HeartbeatParams) -> Result<Vec<JobId>> {
        if p.jobs.is_empty() {
            return Ok(Vec::new());
        }
        let (ids, tokens): (Vec<Uuid>, Vec<Uuid>) =
            p.jobs.iter().map(|(id, t)| (id.as_uuid(), *t)).unzip();
        let held: Vec<Uuid> = sqlx::query_scalar(include_str!("job_heartbeat_many.sql"))
            .bind(&ids)
            .bind(&tokens)
            .bind(micros(p.lease_until))
            .fetch_all(&self.pool)
            .await?;
        Ok(held.into_iter().map(JobId::from_uuid).collect())
    }

    async fn job_complete_many(&self, mut completions: Vec<Completion>) -> Result<Vec<JobId>> {
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
            outcomes.push(c.result.run_outcome());
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
            .fetch_all(&self.pool)
            .await?;
        Ok(done.into_iter().map(JobId::from_uuid).collect())
    }

    async fn job_cancel_many(
        &self,
        ids: Vec<JobId>,
        scope: Scope,
        now: Timestamp,
        audit: Vec<AuditRecord>,
    ) -> Result<Vec<JobId>> {
        self.update_jobs(
            include_str!("job_cancel_many.sql"),
            ids,
            scope,
            now,
            audit,
            None,
        )
        .await
    }

    async fn job_retry_many(
        &self,
        ids: Vec<JobId>,
        scope: Scope,
        now: Timestamp,
        audit: Vec<AuditRecord>,
        quota: Option<ActiveQuota>,
    ) -> Result<Vec<JobId>> {
        let done = self
            .update_jobs(
                include_str!("job_retry_many.sql"),
                ids,
                scope,
                now,
                audit,
                quota,
            )
            .await?;
        let queues: Vec<String> =
            sqlx::query_scalar("SELECT DISTINCT queue FROM jobs WHERE id = ANY($1)")
                .bind(done.iter().map(JobId::as_uuid).collect::<Vec<_>>())
                .fetch_all(&self.pool)
                .await?;
        for q in queues {
            let _ = self.inserted.send(q);
        }
        Ok(done)
    }

    async fn job_rescue_many(&self, p: RescueParams) -> Result<Vec<RescuedJob>> {
        let rows = sqlx::query(include_str!("job_rescue_many.sql"))
            .bind(micros(p.now))
            .bind(i64::from(p.limit))
            .fetch_all(&self.pool)
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

    async fn queue_count_many(&self) -> Result<Vec<QueueCount>> {
        let rows = sqlx::query(include_str!("queue_count_many.sql"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(QueueCount {
                    queue: r.try_get("queue")?,
                    state: crate::convert::state(r.try_get("state")?)?,
                    count: r.try_get("n")?,
                })
            })
            .collect()
    }

    async fn queue_set_paused(
        &self,
        queue: warden_core::QueueName,
        paused: bool,
        now: Timestamp,
        audit: Vec<AuditRecord>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(include_str!("queue_set_paused.sql"))
            .bind(queue.as_str())
            .bind(paused)
            .bind(micros(now))
            .execute(&mut *tx)
            .await?;
        access::audit_insert(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn queue_paused_many(&self) -> Result<Vec<String>> {
        Ok(sqlx::query_scalar(include_str!("queue_paused_many.sql"))
            .fetch_all(&self.pool)
            .await?)
    }

    async fn job_next_run_at(&self, queue: &warden_core::QueueName) -> Result<Option<Timestamp>> {
        let us: Option<i64> = sqlx::query_scalar(include_str!("job_next_run_at.sql"))
            .bind(queue.as_str())
            .fetch_one(&self.pool)
            .await?;
        crate::convert::opt_from_micros(us)
    }

    async fn run_list_by_job(&self, job_id: JobId, scope: Scope) -> Result<Vec<RunSummary>> {
        let rows = sqlx::query(include_str!("run_list_by_job.sql"))
            .bind(job_id.as_uuid())
            .bind(scope.owner())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(run_summary_from_row).collect()
    }

    async fn run_get(&self, id: i64, scope: Scope) -> Result<Run> {
        let row = sqlx::query(include_str!("run_get.sql"))
            .bind(id)
            .bind(scope.owner())
            .fetch_one(&self.pool)
            .await?;
        run_from_row(&row)
    }

    async fn run_list_by_schedule(
        &self,
        schedule_id: ScheduleId,
        scope: Scope,
        before: Option<i64>,
        page: Page,
    ) -> Result<Vec<RunSummary>> {
        let rows = sqlx::query(include_str!("run_list_by_schedule.sql"))
            .bind(schedule_id.as_uuid())
            .bind(scope.owner())
            .bind(before)
            .bind(page.limit())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(run_summary_from_row).collect()
    }

    async fn schedule_insert_checked(
        &self,
        s: Schedule,
        audit: Vec<AuditRecord>,
        quota: Option<ActiveQuota>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        lock_quota(&mut tx, quota.as_ref()).await?;
        bind_schedule(sqlx::query(include_str!("schedule_insert.sql")), &s)
            .execute(&mut *tx)
            .await?;
        enforce_quota(&mut tx, quota.as_ref(), 1).await?;
        access::audit_insert(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn schedule_update(
        &self,
        s: Schedule,
        scope: Scope,
        audit: Vec<AuditRecord>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = bind_schedule(sqlx::query(include_str!("schedule_update.sql")), &s)
            .bind(scope.owner())
            .execute(&mut *tx)
            .await?;
        found(done.rows_affected())?;
        access::audit_insert(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn schedule_get(&self, id: ScheduleId, scope: Scope) -> Result<Schedule> {
        let row = sqlx::query(include_str!("schedule_get.sql"))
            .bind(id.as_uuid())
            .bind(scope.owner())
            .fetch_one(&self.pool)
            .await?;
        schedule_from_row(&row)
    }

    async fn schedule_list(&self, page: Page, scope: Scope) -> Result<Vec<ScheduleSummary>> {
        let rows = sqlx::query(include_str!("schedule_list.sql"))
            .bind(page.limit())
            .bind(scope.owner())
            .bind(page.after)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(schedule_summary_from_row).collect()
    }

    async fn schedule_set_paused(
        &self,
        id: ScheduleId,
        scope: Scope,
        paused: bool,
        now: Timestamp,
        audit: Vec<AuditRecord>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(include_str!("schedule_set_paused.sql"))
            .bind(id.as_uuid())
            .bind(paused)
            .bind(micros(now))
            .bind(scope.owner())
            .execute(&mut *tx)
            .await?;
        found(done.rows_affected())?;
        access::audit_insert(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn schedule_delete(
        &self,
        id: ScheduleId,
        scope: Scope,
        audit: Vec<AuditRecord>,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(include_str!("schedule_delete.sql"))
            .bind(id.as_uuid())
            .bind(scope.owner())
            .execute(&mut *tx)
            .await?;
        found(done.rows_affected())?;
        access::audit_insert(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn schedule_due_many(&self, now: Timestamp, limit: u32) -> Result<Vec<DueSchedule>> {
        let rows = sqlx::query(include_str!("schedule_due_many.sql"))
            .bind(micros(now))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(due_schedule_from_row).collect()
    }

    async fn schedule_next_fire_at(&self) -> Result<Option<Timestamp>> {
        let us: Option<i64> = sqlx::query_scalar(include_str!("schedule_next_fire_at.sql"))
            .fetch_one(&self.pool)
            .await?;
        crate::convert::opt_from_micros(us)
    }

    async fn occurrence_record_many(&self, batch: OccurrenceBatch) -> Result<Vec<Occurrence>> {
        let mut tx = PgLedger(self.pool.begin().await?);
        let queues: Vec<_> = batch
            .items
            .iter()
            .filter_map(|i| i.job.as_ref())
            .map(|j| j.queue.clone())
            .collect();
        let recorded = ledger::record(&mut tx, batch).await?;
        tx.0.commit().await?;
        if recorded.iter().any(|o| o.job_id.is_some()) {
            self.announce(queues.iter());
        }
        Ok(recorded)
    }

    async fn job_insert_subscribe(&self) -> Result<Option<mpsc::UnboundedReceiver<String>>> {
        let mut listener = PgListener::connect_with(&self.pool)
            .await
            .map_err(StoreError::unavailable)?;
        listener
            .listen(JOB_INSERT_CHANNEL)
            .await
            .map_err(StoreError::unavailable)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let own = self.origin.to_string();
        tokio::spawn(async move {
            loop {
                // `recv` reconnects by itself after a lost connection; notifications sent
                // meanwhile are lost, which the producers' polling covers.
                match listener.recv().await {
                    Ok(n) => {
                        let (queue, from) =
                            n.payload().split_once(' ').unwrap_or((n.payload(), ""));
                        if from == own && !tx.is_closed() {
                            continue; // Our own insert: its scheduler already woke the producer.
                        }
                        if tx.send(queue.to_owned()).is_err() {
                            return; // The subscriber is gone.
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "listening for new jobs failed; retrying in 1 s");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        Ok(Some(rx))
    }

    async fn occurrence_list(
        &self,
        schedule_id: ScheduleId,
        scope: Scope,
        page: OccurrencePage,
    ) -> Result<Vec<Occurrence>> {
        let rows = sqlx::query(include_str!("occurrence_list.sql"))
            .bind(schedule_id.as_uuid())
            .bind(page.limit())
            .bind(scope.owner())
            .bind(page.after.map(micros))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(occurrence_from_row).collect()
    }
}

/// The occurrence ledger's statements inside one PostgreSQL transaction.
struct PgLedger(Transaction<'static, Postgres>);

impl LedgerTx for PgLedger {
    async fn advance(&mut self, batch: &OccurrenceBatch) -> Result<bool> {
        let moved = sqlx::query(include_str!("schedule_advance.sql"))
            .bind(batch.schedule_id.as_uuid())
            .bind(micros(batch.expected_next_fire_at))
            .bind(batch.new_next_fire_at.map(micros))
            .bind(micros(batch.now))
            .execute(&mut *self.0)
            .await?;
        Ok(moved.rows_affected() == 1)
    }

    async fn active_jobs(&mut self, batch: &OccurrenceBatch) -> Result<Vec<JobId>> {
        let ids: Vec<Uuid> = sqlx::query_scalar(include_str!("schedule_active_jobs.sql"))
            .bind(batch.schedule_id.as_uuid())
            .fetch_all(&mut *self.0)
            .await?;
        Ok(ids.into_iter().map(JobId::from_uuid).collect())
    }

    async fn cancel(&mut self, ids: &[JobId], now: Timestamp) -> Result<()> {
        let ids: Vec<Uuid> = ids.iter().map(JobId::as_uuid).collect();
        sqlx::query(include_str!("job_cancel_many.sql"))
            .bind(&ids)
            .bind(micros(now))
            .bind(None::<String>)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn insert_occurrence(&mut self, o: &Occurrence) -> Result<bool> {
        let inserted = sqlx::query(include_str!("occurrence_insert.sql"))
            .bind(o.schedule_id.as_uuid())
            .bind(micros(o.scheduled_at))
            .bind(o.outcome.as_str())
            .bind(o.job_id.map(|j| j.as_uuid()))
            .bind(micros(o.recorded_at))
            .execute(&mut *self.0)
            .await?;
        Ok(inserted.rows_affected() == 1)
    }

    async fn insert_job(&mut self, job: &NewJob) -> Result<()> {
        PgStore::insert_jobs(&mut self.0, std::slice::from_ref(job))
            .await
            .map(drop)
    }

    async fn active_count(&mut self, quota: &ActiveQuota) -> Result<i64> {
        // The owner's quota lock (taken again within one transaction is a no-op wait):
        // an insert of the owner's on another connection cannot slip past the count.
        lock_quota(&mut self.0, Some(quota)).await?;
        Ok(
            sqlx::query_scalar(include_str!("principal_active_count.sql"))
                .bind(&quota.owner)
                .fetch_one(&mut *self.0)
                .await?,
        )
    }

    async fn set_blocked(&mut self, id: ScheduleId, reason: Option<&str>) -> Result<bool> {
        let changed = sqlx::query(include_str!("schedule_set_blocked.sql"))
            .bind(id.as_uuid())
            .bind(reason)
            .execute(&mut *self.0)
            .await?;
        Ok(changed.rows_affected() == 1)
    }

    async fn insert_audit(&mut self, record: &AuditRecord) -> Result<()> {
        access::audit_insert(&mut self.0, std::slice::from_ref(record)).await
    }
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

/// Binds a schedule's 20 columns in the order of `schedule_insert.sql`.
fn bind_schedule<'q>(
    q: sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>,
    s: &'q Schedule,
) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    q.bind(s.id.as_uuid())
        .bind(&s.name)
        .bind(&s.owner)
        .bind(s.cron.expr())
        .bind(s.cron.tz_name())
        .bind(s.cron.dst().gap.as_str())
        .bind(s.cron.dst().fold.as_str())
        .bind(s.template.kind.as_str())
        .bind(s.template.queue.as_str())
        .bind(s.template.priority.rank())
        .bind(s.template.payload.as_bytes())
        .bind(s.template.max_attempts.get())
        .bind(s.template.timeout.as_millis())
        .bind(s.paused)
        .bind(s.overlap.as_str())
        .bind(s.missed.as_str())
        .bind(s.catch_up.as_duration().as_millis() as i64)
        .bind(s.next_fire_at.map(micros))
        .bind(micros(s.created_at))
        .bind(micros(s.updated_at))
}

/// Takes the quota owner's transaction lock, so concurrent writes for one owner are
/// counted one after the other (see [`enforce_quota`]).
async fn lock_quota(
    tx: &mut Transaction<'static, Postgres>,
    quota: Option<&ActiveQuota>,
) -> Result<()> {
    if let Some(q) = quota {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))")
            .bind(&q.owner)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// After a write that made `created` objects active, under the owner's lock: refuses
/// (the transaction is then rolled back) if the owner is now over its quota. Counting
/// after the write lets a replay that created nothing (an idempotency key) pass.
async fn enforce_quota(
    tx: &mut Transaction<'static, Postgres>,
    quota: Option<&ActiveQuota>,
    created: usize,
) -> Result<()> {
    let Some(q) = quota.filter(|_| created > 0) else {
        return Ok(());
    };
    let active: i64 = sqlx::query_scalar(include_str!("principal_active_count.sql"))
        .bind(&q.owner)
        .fetch_one(&mut **tx)
        .await?;
    if active > i64::from(q.max) {
        return Err(StoreError::QuotaExceeded {
            active: active - created as i64,
            max: q.max,
        });
    }
    Ok(())
}

/// `NotFound` when a scoped change touched no row.
fn found(rows: u64) -> Result<()> {
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Adds `search_path=<schema>` to a PostgreSQL URL's connection options, so every
/// connection works inside `schema` (used for isolated test and benchmark databases).
pub fn url_with_search_path(url: &str, schema: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}
