//! Claiming ahead: a producer of short jobs holds more claimed jobs than it has slots,
//! gives back the ones it never started when it shuts down, loses none when it crashes
//! (their leases pass and they are rescued), and leaves work for another process on the
//! same queue.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::json;
use warden_core::{JobId, JobState, QueueName, Scope};
use warden_engine::{Engine, EngineConfig, EngineHandle, JobRequest, QueueConfig, Registry};
use warden_store::Store;
use warden_testkit::{TestDb, backend_tests, eventually};

use crate::support::fast_config;

async fn running_count(store: &impl Store) -> i64 {
    store
        .queue_count_many()
        .await
        .unwrap()
        .iter()
        .filter(|c| c.state == JobState::Running)
        .map(|c| c.count)
        .sum()
}

backend_tests!(
    jobs_held_ahead_are_released_unstarted_on_shutdown,
    |db: TestDb| async move {
        let store = Arc::new(db.store().clone());
        let config = EngineConfig {
            queues: vec![QueueConfig::new(QueueName::parse("default").unwrap(), 1)],
            shutdown_grace: std::time::Duration::ZERO,
            ..fast_config()
        };
        // Short jobs first, so the producer learns that jobs are short beside a claim, then
        // jobs that never end: the first one takes the only slot.
        let engine = Engine::start(store.clone(), quick_and_hanging(), config).unwrap();
        let hanging = hold_ahead(&engine, &*store, 30).await;
        engine.shutdown().await;
        assert_eq!(running_count(&*store).await, 0, "nothing is left leased");
        let mut not_started = 0;
        for id in hanging {
            let job = store.job_get(id, Scope::All).await.unwrap();
            assert_eq!(job.attempt, 0, "a released attempt is not spent: {job:?}");
            let runs = store.run_list_by_job(id, Scope::All).await.unwrap();
            if let Some(run) = runs.first() {
                assert_eq!(run.outcome.as_str(), "released");
                if run
                    .error
                    .as_deref()
                    .is_some_and(|e| e.contains("not started"))
                {
                    not_started += 1;
                }
            }
        }
        assert!(not_started >= 1, "held jobs are released as not started");
    }
);

/// On an engine whose one slot runs [`quick_and_hanging`]: runs 20 quick jobs (so the
/// producer learns that jobs are short beside a claim), then adds `n` hanging ones and
/// waits until more than one is claimed (the first takes the slot, the others are held
/// ahead). Their ids.
async fn hold_ahead<S: Store>(engine: &EngineHandle<S>, store: &S, n: usize) -> Vec<JobId> {
    let s = engine.scheduler();
    learn_jobs_are_short(engine).await;
    let mut ids = Vec::new();
    for _ in 0..n {
        let job = JobRequest::new("hang", json!({}), "default");
        ids.push(s.add_job(job).await.unwrap().id);
    }
    eventually("jobs are claimed ahead of the one slot", || async {
        running_count(store).await > 1
    })
    .await;
    ids
}

/// Runs 20 `quick` jobs on the default queue, so that its producer learns that jobs are
/// short beside a claim (and may hold the most ahead).
async fn learn_jobs_are_short<S: Store>(engine: &EngineHandle<S>) {
    for _ in 0..20 {
        engine
            .scheduler()
            .add_job(JobRequest::new("quick", json!({}), "default"))
            .await
            .unwrap();
    }
    engine.stats().wait_completed(20).await;
}

/// A registry whose `quick` jobs return at once and whose `hang` jobs never end.
fn quick_and_hanging() -> Registry {
    let mut registry = Registry::new();
    registry
        .register("quick", |_, _: serde_json::Value| async {})
        .unwrap();
    registry
        .register("hang", |_, _: serde_json::Value| {
            std::future::pending::<()>()
        })
        .unwrap();
    registry
}

// A process that dies holding jobs claimed ahead (no shutdown, nothing released): their
// leases pass, the rescuer of the next process returns them, and every one of them runs.
backend_tests!(
    jobs_held_ahead_by_a_process_that_crashed_are_rescued_and_run,
    |db: TestDb| async move {
        const HELD: usize = 30;
        let location = db.location().clone();
        let config = EngineConfig {
            queues: vec![QueueConfig::new(QueueName::parse("default").unwrap(), 1)],
            lease: Duration::from_secs(1),
            heartbeat_interval: Duration::from_millis(300),
            ..fast_config()
        };
        // The process that crashes: its own runtime and store (as its own process would
        // have), dropped while it holds the jobs.
        let crashing = config.clone();
        let ids = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            let (engine, ids) = runtime.block_on(async move {
                let store = Arc::new(location.open().await.unwrap());
                let engine = Engine::start(store.clone(), quick_and_hanging(), crashing).unwrap();
                let ids = hold_ahead(&engine, &*store, HELD).await;
                (engine, ids)
            });
            // The crash: every task stops where it is. The handle is leaked so that not
            // even its drop runs.
            drop(runtime);
            std::mem::forget(engine);
            ids
        })
        .join()
        .unwrap();
        let store = Arc::new(db.store().clone());
        assert!(
            running_count(&*store).await > 1,
            "the crashed process held jobs"
        );

        // The next process: here `hang` returns at once.
        let mut registry = Registry::new();
        registry
            .register("hang", |_, _: serde_json::Value| async {})
            .unwrap();
        let engine = Engine::start(store.clone(), registry, config).unwrap();
        for id in &ids {
            eventually("a job the crashed process held runs", || async {
                store.job_get(*id, Scope::All).await.unwrap().state == JobState::Succeeded
            })
            .await;
        }
        engine.shutdown().await;
    }
);

// Two processes on one queue (on PostgreSQL, two pools on one database; on SQLite, the one
// store a process has), each claiming ahead: neither takes the whole queue, both run a
// fair share of it.
backend_tests!(
    two_processes_claiming_ahead_on_one_queue_share_it,
    |db: TestDb| async move {
        const JOBS: usize = 2000;
        let store_a = Arc::new(db.store().clone());
        let store_b = if db.database_url().is_some() {
            Arc::new(db.location().open().await.unwrap())
        } else {
            store_a.clone()
        };
        let ran: Arc<Mutex<HashMap<&'static str, usize>>> = Arc::default();
        let registry = |engine: &'static str| {
            let ran = ran.clone();
            let mut registry = Registry::new();
            registry
                .register("work", move |_, _: serde_json::Value| {
                    *ran.lock().unwrap().entry(engine).or_default() += 1;
                    // Long enough beside a claim that one process cannot drain the queue
                    // before the other claims.
                    tokio::time::sleep(Duration::from_millis(2))
                })
                .unwrap();
            registry
        };
        let config = |worker: &str| EngineConfig {
            queues: vec![QueueConfig::new(QueueName::parse("default").unwrap(), 4)],
            worker_id: worker.into(),
            claim_batch: 1000,
            run_cron: false,
            ..fast_config()
        };
        let a = Engine::start(store_a, registry("a"), config("engine-a")).unwrap();
        let b = Engine::start(store_b, registry("b"), config("engine-b")).unwrap();
        let jobs = (0..JOBS)
            .map(|_| JobRequest::new("work", json!({}), "default"))
            .collect();
        a.scheduler().add_many(jobs).await.unwrap();
        eventually("every job ran", || async {
            ran.lock().unwrap().values().sum::<usize>() >= JOBS
        })
        .await;
        a.shutdown().await;
        b.shutdown().await;
        let ran = ran.lock().unwrap().clone();
        for engine in ["a", "b"] {
            let share = ran.get(engine).copied().unwrap_or(0);
            assert!(
                share >= JOBS / 4,
                "engine {engine} ran {share} of {JOBS} jobs: {ran:?}"
            );
        }
    }
);

// A producer that claims ahead has more free places than one claim fills (here 4 slots and
// 64 held per slot, against claims of 100). With nothing due it must still wait between
// claims, for a wake-up or its poll: a claim that comes back short says the queue is empty
// (a producer that took its free places as a reason to claim again claimed without pause,
// two claims at a time, a few hundred a second, from every idle queue).
backend_tests!(
    an_idle_producer_that_claims_ahead_does_not_claim_without_pause,
    |db: TestDb| async move {
        let store = Arc::new(db.store().clone());
        let config = EngineConfig {
            run_cron: false,
            ..fast_config()
        };
        assert!(config.prefetch_per_slot * 4 > config.claim_batch as usize);
        let engine = Engine::start(store.clone(), quick_and_hanging(), config.clone()).unwrap();
        let s = engine.scheduler();
        learn_jobs_are_short(&engine).await;
        // Then nothing is due until one job two seconds on: ten polls' worth.
        let idle = Duration::from_secs(2);
        let before = engine.stats().snapshot().claims;
        let later = jiff::Timestamp::now() + idle;
        s.add_job(JobRequest::new("quick", json!({}), "default").run_at(later))
            .await
            .unwrap();
        engine.stats().wait_completed(21).await;
        let claims = engine.stats().snapshot().claims - before;
        // Each queue claims once per poll (200 ms) or wake-up, and its claim-ahead of the
        // delayed job; a few more for timing's sake.
        let polls = (idle.as_millis() / config.poll_interval.as_millis()) as u64;
        let queues = config.queues.len() as u64;
        assert!(
            claims <= queues * (polls + 5),
            "{claims} claims in {idle:?} with nothing due"
        );
        engine.shutdown().await;
    }
);
