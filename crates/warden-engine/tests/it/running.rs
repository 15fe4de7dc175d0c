//! Running jobs end to end: success, retries then death, timeouts, panics, rescue of a job
//! whose worker died, stale completions, priority order and graceful shutdown.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};
use warden_core::Scope;

use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use tokio::sync::mpsc;
use uuid::Uuid;
use warden_core::{JobState, Outcome, Priority, QueueName};
use warden_engine::{Engine, EngineConfig, JobRequest, QueueConfig, Registry};
use warden_store::{ClaimParams, Completion, CompletionResult, Store};
use warden_testkit::{TestDb, backend_tests};

use crate::support::{eventually, fast_config, recording_registry};

async fn state_of(store: &impl Store, id: warden_core::JobId) -> JobState {
    store.job_get(id, Scope::All).await.unwrap().state
}

backend_tests!(
    a_scheduled_job_runs_once_and_succeeds,
    |db: TestDb| async move {
        let (registry, mut rx) = recording_registry();
        let store = Arc::new(db.store().clone());
        let engine = Engine::start(store.clone(), registry, fast_config()).unwrap();
        let id = engine
            .scheduler()
            .add("record", json!({"n": 7}), "COMMUNICATIONS")
            .await
            .unwrap();
        assert_eq!(rx.recv().await, Some(7));
        eventually("job succeeded", || async {
            state_of(&*store, id).await == JobState::Succeeded
        })
        .await;
        let runs = store.run_list_by_job(id, Scope::All).await.unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(
            (runs[0].attempt, runs[0].outcome.as_str()),
            (1, "succeeded")
        );
        engine.shutdown().await;
        assert!(rx.try_recv().is_err(), "ran more than once");
    }
);

backend_tests!(
    failing_jobs_retry_with_backoff_then_die,
    |db: TestDb| async move {
        let calls = Arc::new(AtomicUsize::new(0));
        let mut registry = Registry::new();
        let c = calls.clone();
        registry
            .register("flaky", move |ctx, _: serde_json::Value| {
                let c = c.clone();
                async move {
                    c.fetch_add(1, Ordering::SeqCst);
                    Err::<(), _>(format!("smtp down (attempt {})", ctx.attempt))
                }
            })
            .unwrap();
        let store = Arc::new(db.store().clone());
        let engine = Engine::start(store.clone(), registry, fast_config()).unwrap();
        let id = engine
            .scheduler()
            .add_job(JobRequest::new("flaky", json!({}), "default").max_attempts(3))
            .await
            .unwrap()
            .id;
        eventually("job dead", || async {
            state_of(&*store, id).await == JobState::Dead
        })
        .await;
        engine.shutdown().await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        let runs = store.run_list_by_job(id, Scope::All).await.unwrap();
        assert_eq!(
            runs.iter().map(|r| r.outcome.as_str()).collect::<Vec<_>>(),
            ["retry", "retry", "dead"]
        );
        assert!(runs[2].error.as_deref().unwrap().contains("attempt 3"));
        // Backoff: each retry waited before the next attempt started.
        assert!(runs[1].started_at >= runs[0].finished_at);
    }
);

backend_tests!(a_timeout_stops_the_work, |db: TestDb| async move {
    let finished = Arc::new(AtomicBool::new(false));
    let mut registry = Registry::new();
    let f = finished.clone();
    registry
        .register("slow", move |_, _: serde_json::Value| {
            let f = f.clone();
            async move {
                tokio::time::sleep(Duration::from_secs(3)).await;
                f.store(true, Ordering::SeqCst);
            }
        })
        .unwrap();
    let store = Arc::new(db.store().clone());
    let engine = Engine::start(store.clone(), registry, fast_config()).unwrap();
    let req = JobRequest::new("slow", json!({}), "default")
        .timeout(Duration::from_millis(100))
        .max_attempts(1);
    let id = engine.scheduler().add_job(req).await.unwrap().id;
    eventually("job dead", || async {
        state_of(&*store, id).await == JobState::Dead
    })
    .await;
    let job = store.job_get(id, Scope::All).await.unwrap();
    assert!(
        job.last_error
            .as_deref()
            .unwrap()
            .contains("timed out after 100 ms"),
        "{:?}",
        job.last_error
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !finished.load(Ordering::SeqCst),
        "the handler kept running after its timeout"
    );
    engine.shutdown().await;
});

backend_tests!(
    a_panicking_handler_is_retried_not_lost,
    |db: TestDb| async move {
        let mut registry = Registry::new();
        registry
            .register("panics", |ctx, _: serde_json::Value| async move {
                if ctx.attempt == 1 {
                    panic!("boom");
                }
            })
            .unwrap();
        let store = Arc::new(db.store().clone());
        let engine = Engine::start(store.clone(), registry, fast_config()).unwrap();
        let id = engine
            .scheduler()
            .add("panics", json!({}), "default")
            .await
            .unwrap();
        eventually("job succeeded", || async {
            state_of(&*store, id).await == JobState::Succeeded
        })
        .await;
        let runs = store.run_list_by_job(id, Scope::All).await.unwrap();
        assert_eq!(
            runs.iter().map(|r| r.outcome.as_str()).collect::<Vec<_>>(),
            ["retry", "succeeded"]
        );
        assert!(runs[0].error.as_deref().unwrap().contains("panicked"));
        engine.shutdown().await;
    }
);

backend_tests!(
    a_job_whose_worker_died_runs_again_and_the_stale_completion_is_ignored,
    |db: TestDb| async move {
        let (registry, mut rx) = recording_registry();
        let store = Arc::new(db.store().clone());
        let scheduler = Engine::scheduler(
            store.clone(),
            registry.clone(),
            fast_config(),
            Arc::new(warden_core::SystemClock),
        )
        .unwrap();
        let id = scheduler
            .add("record", json!({"n": 1}), "default")
            .await
            .unwrap();
        // A worker claims the job with a short lease, then dies: it never renews it.
        let now = Timestamp::now();
        let dead_worker = store
            .job_claim_many(ClaimParams {
                queue: QueueName::parse("default").unwrap(),
                worker: "dead-worker".into(),
                limit: 1,
                now,
                lease_until: now.checked_add(SignedDuration::from_millis(300)).unwrap(),
                lease_token: Uuid::new_v4(),
            })
            .await
            .unwrap()
            .remove(0);
        let engine = Engine::start(store.clone(), registry, fast_config()).unwrap();
        assert_eq!(rx.recv().await, Some(1), "the rescued job ran again");
        eventually("job succeeded", || async {
            state_of(&*store, id).await == JobState::Succeeded
        })
        .await;
        // The dead worker comes back and reports: it no longer holds the lease.
        let stale = Completion {
            id,
            lease_token: dead_worker.lease_token,
            attempt: 1,
            worker: "dead-worker".into(),
            started_at: now,
            finished_at: Timestamp::now(),
            result: CompletionResult::Dead {
                error: "late".into(),
            },
        };
        assert!(
            store
                .job_complete_many(vec![stale])
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(state_of(&*store, id).await, JobState::Succeeded);
        let runs = store.run_list_by_job(id, Scope::All).await.unwrap();
        assert_eq!(
            runs.iter()
                .map(|r| (r.attempt, r.outcome.as_str()))
                .collect::<Vec<_>>(),
            [(1, "lost"), (2, "succeeded")]
        );
        assert_eq!(engine.stats().snapshot().rescued, 1);
        engine.shutdown().await;
    }
);

backend_tests!(higher_priorities_run_first, |db: TestDb| async move {
    let (registry, mut rx) = recording_registry();
    let store = Arc::new(db.store().clone());
    let config = EngineConfig {
        queues: vec![QueueConfig::new(QueueName::parse("default").unwrap(), 1)],
        ..fast_config()
    };
    let scheduler = Engine::scheduler(
        store.clone(),
        registry.clone(),
        config.clone(),
        Arc::new(warden_core::SystemClock),
    )
    .unwrap();
    for (n, p) in [
        (4, Priority::Low),
        (2, Priority::High),
        (3, Priority::Medium),
        (1, Priority::Critical),
    ] {
        scheduler
            .add_job(JobRequest::new("record", json!({"n": n}), "default").priority(p))
            .await
            .unwrap();
    }
    let engine = Engine::start(store.clone(), registry, config).unwrap();
    let mut order = Vec::new();
    for _ in 0..4 {
        order.push(rx.recv().await.unwrap());
    }
    assert_eq!(order, [1, 2, 3, 4]);
    engine.shutdown().await;
});

backend_tests!(
    shutdown_lets_short_jobs_finish_and_releases_long_ones,
    |db: TestDb| async move {
        let (started_tx, mut started) = mpsc::unbounded_channel::<&'static str>();
        let started_tx = Arc::new(started_tx);
        let mut registry = Registry::new();
        let tx = started_tx.clone();
        registry
            .register("sleep", move |_, data: serde_json::Value| {
                let tx = tx.clone();
                async move {
                    let ms = data["ms"].as_u64().unwrap();
                    let _ = tx.send(if ms < 500 { "short" } else { "long" });
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Outcome::Done
                }
            })
            .unwrap();
        let store = Arc::new(db.store().clone());
        let engine = Engine::start(store.clone(), registry, fast_config()).unwrap();
        let short = engine
            .scheduler()
            .add("sleep", json!({"ms": 200}), "default")
            .await
            .unwrap();
        let long = engine
            .scheduler()
            .add("sleep", json!({"ms": 60_000}), "default")
            .await
            .unwrap();
        started.recv().await.unwrap();
        started.recv().await.unwrap();
        engine.shutdown().await;
        assert_eq!(state_of(&*store, short).await, JobState::Succeeded);
        let released = store.job_get(long, Scope::All).await.unwrap();
        assert_eq!(
            released.state,
            JobState::Retryable,
            "released for another worker, not left running"
        );
        assert!(
            released
                .last_error
                .as_deref()
                .unwrap()
                .contains("shut down")
        );
    }
);

/// PostgreSQL only: a job inserted by another process (here, a scheduler that shares no
/// in-process wake-up with the engine) wakes the engine's producer through LISTEN/NOTIFY,
/// long before its 60-second poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_inserted_by_another_process_is_picked_up_without_polling() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (registry, mut rx) = recording_registry();
    let store = Arc::new(db.store().clone());
    let config = EngineConfig {
        poll_interval: Duration::from_secs(60),
        ..fast_config()
    };
    let engine = Engine::start(store.clone(), registry.clone(), config.clone()).unwrap();
    // Let the engine go idle (its first claims find nothing) and subscribe.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Another process: its own connection pool to the same database.
    let other_store = Arc::new(db.location().open().await.unwrap());
    let other = Engine::scheduler(
        other_store,
        registry,
        config,
        Arc::new(warden_core::SystemClock),
    )
    .unwrap();
    other
        .add("record", json!({"n": 5}), "default")
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("woken by the notification, not the poll");
    assert_eq!(got, Some(5));
    engine.shutdown().await;
}
