//! Several engines on one database, as several processes would run: each has its own
//! connection pool and worker id, and between them every job runs exactly once.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::json;
use warden_core::{JobId, JobState, QueueName, Scope};
use warden_engine::{Engine, EngineConfig, EngineHandle, JobContext, JobRequest, QueueConfig};
use warden_store::{JobFilter, Store};
use warden_testkit::{TestDb, backend_tests, eventually};

use crate::support::{fast_config, limit_alice_to_one_at_a_time};

/// Which engine ran each job, every time it ran.
type Runs = Arc<Mutex<HashMap<JobId, Vec<&'static str>>>>;

/// A registry whose `count` handler records the job's id under `engine`.
fn counting_registry(engine: &'static str, runs: Runs) -> warden_engine::Registry {
    let mut registry = warden_engine::Registry::new();
    registry
        .register("count", move |ctx: JobContext, _: serde_json::Value| {
            runs.lock().unwrap().entry(ctx.id).or_default().push(engine);
            async {}
        })
        .unwrap();
    registry
}

/// Outcomes written by the engines together (counted or stale).
fn written<S: Store>(engines: &[&EngineHandle<S>]) -> u64 {
    engines
        .iter()
        .map(|e| {
            let s = e.stats().snapshot();
            s.completed + s.stale
        })
        .sum()
}

/// Waits, on the engines' completion signals, until `n` outcomes are written between
/// them (two minutes at most).
async fn wait_written<S: Store>(a: &EngineHandle<S>, b: &EngineHandle<S>, n: u64) {
    tokio::time::timeout(Duration::from_secs(120), async {
        while written(&[a, b]) < n {
            let (sa, sb) = (a.stats().snapshot(), b.stats().snapshot());
            tokio::select! {
                _ = a.stats().wait_completed(sa.completed + sa.stale + 1) => {}
                _ = b.stats().wait_completed(sb.completed + sb.stale + 1) => {}
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("only {} of {n} outcomes written", written(&[a, b])));
}

/// PostgreSQL only: two engines, each on a store of its own opened on the same schema
/// (two pools, like two processes), claim side by side from one queue. Small claim
/// batches and a high concurrency make their claims interleave; `SKIP LOCKED` and the
/// lease token must still give each job to exactly one of them, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_sharing_postgres_run_each_job_exactly_once() {
    const JOBS: usize = 2000;
    const BATCH: usize = 250;
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let config = |worker: &str| EngineConfig {
        queues: vec![QueueConfig::new(QueueName::parse("default").unwrap(), 16)],
        worker_id: worker.into(),
        claim_batch: 8,
        run_cron: false,
        ..fast_config()
    };
    let runs: Runs = Arc::default();
    let store_a = Arc::new(db.store().clone());
    let store_b = Arc::new(db.location().open().await.unwrap());
    let a = Engine::start(
        store_a.clone(),
        counting_registry("engine-a", runs.clone()),
        config("engine-a"),
    )
    .unwrap();
    let b = Engine::start(
        store_b,
        counting_registry("engine-b", runs.clone()),
        config("engine-b"),
    )
    .unwrap();
    // Each learns of the other's inserts by notification, not only by polling.
    assert!(a.stats().wait_listening().await);
    assert!(b.stats().wait_listening().await);

    // Both insert, in batches, while both run.
    let mut ids = Vec::with_capacity(JOBS);
    for (i, start) in (0..JOBS).step_by(BATCH).enumerate() {
        let scheduler = if i % 2 == 0 {
            a.scheduler()
        } else {
            b.scheduler()
        };
        let batch = (start..start + BATCH)
            .map(|n| JobRequest::new("count", json!({ "n": n }), "default"))
            .collect();
        ids.extend(
            scheduler
                .add_many(batch)
                .await
                .unwrap()
                .into_iter()
                .map(|j| j.id),
        );
    }

    // Wait, on the engines' completion signals, until every outcome is written.
    wait_written(&a, &b, JOBS as u64).await;
    let (sa, sb) = (a.stats().snapshot(), b.stats().snapshot());
    a.shutdown().await;
    b.shutdown().await;

    // The handlers: every job ran, and once.
    let runs = std::mem::take(&mut *runs.lock().unwrap());
    let twice: Vec<_> = runs.iter().filter(|(_, by)| by.len() > 1).collect();
    assert!(
        twice.is_empty(),
        "{} jobs ran more than once, e.g. {:?}",
        twice.len(),
        &twice[..twice.len().min(5)]
    );
    let missing: Vec<_> = ids.iter().filter(|id| !runs.contains_key(id)).collect();
    assert!(
        missing.is_empty(),
        "{} jobs never ran, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert_eq!(runs.len(), JOBS, "ran jobs that were not inserted");
    let by_a = runs.values().filter(|by| by[0] == "engine-a").count();
    assert!(
        by_a > 0 && by_a < JOBS,
        "both engines took part (engine-a ran {by_a} of {JOBS})"
    );
    // The engines: nothing was claimed twice, rescued or completed stale.
    assert_eq!(sa.claimed + sb.claimed, JOBS as u64);
    assert_eq!(sa.completed + sb.completed, JOBS as u64);
    assert_eq!((sa.stale + sb.stale, sa.rescued + sb.rescued), (0, 0));

    // The store: every job succeeded on its first attempt, with one run record, written
    // by the worker that ran it.
    let jobs = store_a
        .job_list(JobFilter {
            limit: 10_000,
            ..JobFilter::new(Scope::All)
        })
        .await
        .unwrap();
    assert_eq!(jobs.len(), JOBS);
    for job in &jobs {
        assert_eq!(
            (job.state, job.attempt, job.lease_owner.as_deref()),
            (JobState::Succeeded, 1, None),
            "job {}",
            job.id
        );
    }
    for id in &ids {
        let records = store_a.run_list_by_job(*id, Scope::All).await.unwrap();
        let got: Vec<_> = records
            .iter()
            .map(|r| (r.attempt, r.outcome.as_str(), r.worker.as_str()))
            .collect();
        assert_eq!(got, [(1, "succeeded", runs[id][0])], "job {id}");
    }
}

// A principal with `maxConcurrent: 1` has jobs on eight queues, claimed by two engines:
// on PostgreSQL each on a pool of its own (as two processes), on SQLite on the one store a
// process has. Each claim must see the running jobs the other claims committed: at no
// moment do two of the principal's jobs run (the handlers count how many of its jobs run
// at once, across both engines).
backend_tests!(
    max_concurrent_holds_across_queues_and_engines,
    |db: TestDb| async move { max_concurrent_holds(db).await }
);

async fn max_concurrent_holds(db: TestDb) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    const QUEUES: usize = 8;
    const JOBS: usize = 160;
    let store_a = Arc::new(db.store().clone());
    limit_alice_to_one_at_a_time(&*store_a).await;
    let queues: Vec<QueueConfig> = (0..QUEUES)
        .map(|i| QueueConfig::new(QueueName::parse(&format!("q{i}")).unwrap(), 4))
        .collect();
    let config = |worker: &str| EngineConfig {
        queues: queues.clone(),
        worker_id: worker.into(),
        run_cron: false,
        ..fast_config()
    };
    // `hold` counts alice's jobs running now and keeps the highest count seen; each job
    // yields a few times so that others could start beside it.
    let (running, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let registry = {
        let (running, peak) = (running.clone(), peak.clone());
        let mut registry = warden_engine::Registry::new();
        registry
            .register("hold", move |_: JobContext, _: serde_json::Value| {
                let (running, peak) = (running.clone(), peak.clone());
                async move {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    for _ in 0..20 {
                        tokio::task::yield_now().await;
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                }
            })
            .unwrap();
        registry
    };
    let store_b = if db.database_url().is_some() {
        Arc::new(db.location().open().await.unwrap())
    } else {
        store_a.clone()
    };
    let a = Engine::start(store_a.clone(), registry.clone(), config("engine-a")).unwrap();
    let b = Engine::start(store_b, registry, config("engine-b")).unwrap();
    for e in [&a, &b] {
        eventually("the limit is noticed", || async {
            e.scheduler().owner_limits_active()
        })
        .await;
    }
    let requests = (0..JOBS)
        .map(|n| JobRequest::new("hold", json!({}), &format!("q{}", n % QUEUES)).owner("alice"))
        .collect();
    a.scheduler().add_many(requests).await.unwrap();
    wait_written(&a, &b, JOBS as u64).await;
    let (sa, sb) = (a.stats().snapshot(), b.stats().snapshot());
    a.shutdown().await;
    b.shutdown().await;
    assert!(
        sa.claimed > 0 && sb.claimed > 0,
        "both engines took part ({} and {})",
        sa.claimed,
        sb.claimed
    );
    assert_eq!(
        peak.load(Ordering::SeqCst),
        1,
        "alice (maxConcurrent 1) had this many jobs running at once"
    );
}
