//! Inserting jobs on PostgreSQL: a batch in one statement, idempotency keys honoured,
//! within the owner's quota.

use std::collections::{HashMap, HashSet};

use sqlx::{PgConnection, Row};
use uuid::Uuid;
use warden_core::JobId;

use super::{PgStore, quota};
use crate::{StoreError, convert::micros, model::*, store::Result};

pub(super) async fn job_insert_many(
    store: &PgStore,
    p: JobInsertParams,
) -> Result<Vec<InsertedJob>> {
    let JobInsertParams { jobs, audit, quota } = p;
    let inserted = store
        .audited(audit, async |tx| {
            quota::lock(tx, quota.as_ref()).await?;
            let inserted = insert_jobs(tx, &jobs).await?;
            let created = inserted.iter().filter(|j| !j.existing).count();
            quota::enforce(tx, quota.as_ref(), created).await?;
            Ok(inserted)
        })
        .await?;
    store.announce(jobs.iter().map(|j| &j.queue));
    Ok(inserted)
}

/// Inserts `jobs` in one statement (arrays, `UNNEST`); a job whose idempotency key is
/// taken is not inserted, and the job holding the key is returned instead.
pub(super) async fn insert_jobs(
    tx: &mut PgConnection,
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
        owners.push(j.owner.as_str().to_owned());
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
        .fetch_all(&mut *tx)
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
    let inserted: HashSet<Uuid> = inserted.into_iter().collect();
    let (mut os, mut qs, mut ks) = (vec![], vec![], vec![]);
    for j in jobs.iter().filter(|j| !inserted.contains(&j.id.as_uuid())) {
        if let Some(key) = &j.idempotency_key {
            os.push(j.owner.as_str().to_owned());
            qs.push(j.queue.as_str().to_owned());
            ks.push(key.clone());
        }
    }
    let existing: HashMap<(String, String, String), Uuid> =
        sqlx::query(include_str!("job_find_idempotent.sql"))
            .bind(&os)
            .bind(&qs)
            .bind(&ks)
            .fetch_all(&mut *tx)
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
                j.owner.as_str().to_owned(),
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
