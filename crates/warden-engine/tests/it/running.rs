//! Running jobs end to end: success, retries then death, timeouts, panics, rescue of a job
//! whose worker died, stale completions, priority order and graceful shutdown.
//!
//! Tests wait on signals (a handler's channel, `wait_completed`, a drop guard), never on
//! a fixed sleep.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};
use warden_core::Scope;

use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use tokio::sync::mpsc;
use uuid::Uuid;
use warden_core::{JobState, Priority, QueueName};
use warden_engine::{
    Engine, EngineConfig, JobRequest, MAX_OUTPUT_BYTES, Outcome, QueueConfig, Registry, Reported,
};
use warden_store::{ClaimParams, Completion, CompletionResult, Store};
use warden_testkit::{TestDb, backend_tests};

use crate::support::{assert_runs, fast_config, recording_registry, scheduler_on};

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
        engine.stats().wait_completed(1).await;
        assert_eq!(state_of(&*store, id).await, JobState::Succeeded);
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
        engine.stats().wait_completed(3).await;
        assert_eq!(state_of(&*store, id).await, JobState::Dead);
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

backend_tests!(
    a_handlers_report_is_kept_in_the_run_history,
    |db: TestDb| async move {
        let mut registry = Registry::new();
        registry
            .register("report", |ctx, size: usize| async move {
                let outcome = if ctx.attempt == 1 {
                    Outcome::Retry {
                        after: Some(Duration::ZERO),
                        error: "first try".into(),
                    }
                } else {
                    Outcome::Done
                };
                Ok::<_, String>(Reported {
                    outcome,
                    output: json!({"attempt": ctx.attempt, "body": "x".repeat(size)}),
                })
            })
            .unwrap();
        let store = Arc::new(db.store().clone());
        let engine = Engine::start(store.clone(), registry, fast_config()).unwrap();
        let small = engine
            .scheduler()
            .add("report", json!(10), "default")
            .await
            .unwrap();
        let huge = engine
            .scheduler()
            .add("report", json!(MAX_OUTPUT_BYTES), "default")
            .await
            .unwrap();
        engine.stats().wait_completed(4).await;
        engine.shutdown().await;

        let output = |r: &warden_store::Run| -> serde_json::Value {
            serde_json::from_slice(r.output.as_deref().expect("a report")).unwrap()
        };
        // Lists carry no outputs: each run is read whole.
        let full_runs = |job| {
            let store = store.clone();
            async move {
                let mut runs = Vec::new();
                for r in store.run_list_by_job(job, Scope::All).await.unwrap() {
                    runs.push(store.run_get(r.id, Scope::All).await.unwrap());
                }
                runs
            }
        };
        let runs = full_runs(small).await;
        assert_eq!(
            runs.iter().map(output).collect::<Vec<_>>(),
            [
                json!({"attempt": 1, "body": "xxxxxxxxxx"}),
                json!({"attempt": 2, "body": "xxxxxxxxxx"})
            ]
        );
        // A report over the cap is replaced by a note, not stored whole.
        let runs = full_runs(huge).await;
        assert_eq!(runs.len(), 2);
        for run in &runs {
            let note = output(run);
            assert!(
                note["omitted"].as_str().unwrap().contains("at most 16384"),
                "{note}"
            );
            assert!(run.output.as_ref().unwrap().len() < 200);
        }
    }
);

/// Sends on its channel when dropped: a handler holding one reports that its future
/// was dropped (stopped), not merely that it stopped making progress.
struct DropSignal(mpsc::UnboundedSender<()>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

backend_tests!(a_timeout_stops_the_work, |db: TestDb| async move {
    let (dropped_tx, mut dropped) = mpsc::unbounded_channel();
    let mut registry = Registry::new();
    registry
        .register("stuck", move |_, _: serde_json::Value| {
            let guard = DropSignal(dropped_tx.clone());
            async move {
                let _guard = guard;
                std::future::pending::<()>().await
            }
        })
        .unwrap();
    let store = Arc::new(db.store().clone());
    let engine = Engine::start(store.clone(), registry, fast_config()).unwrap();
    let req = JobRequest::new("stuck", json!({}), "default")
        .timeout(Duration::from_millis(100))
        .max_attempts(1);
    let id = engine.scheduler().add_job(req).await.unwrap().id;
    tokio::time::timeout(Duration::from_secs(10), dropped.recv())
        .await
        .expect("the handler's future was dropped at its timeout");
    engine.stats().wait_completed(1).await;
    let job = store.job_get(id, Scope::All).await.unwrap();
    assert_eq!(job.state, JobState::Dead);
    assert!(
        job.last_error
            .as_deref()
            .unwrap()
            .contains("timed out after 100 ms"),
        "{:?}",
        job.last_error
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
        engine.stats().wait_completed(2).await;
        assert_eq!(state_of(&*store, id).await, JobState::Succeeded);
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
        let scheduler = scheduler_on(&store, &registry, &fast_config());
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
                due_by: now,
                lease_until: now.checked_add(SignedDuration::from_millis(300)).unwrap(),
                lease_token: Uuid::new_v4(),
                owner_limits: false,
            })
            .await
            .unwrap()
            .remove(0);
        let engine = Engine::start(store.clone(), registry, fast_config()).unwrap();
        assert_eq!(rx.recv().await, Some(1), "the rescued job ran again");
        engine.stats().wait_completed(1).await;
        assert_eq!(state_of(&*store, id).await, JobState::Succeeded);
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
            output: None,
        };
        assert!(
            store
                .job_complete_many(vec![stale])
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(state_of(&*store, id).await, JobState::Succeeded);
        assert_runs(&*store, id, &[(1, "lost"), (2, "succeeded")]).await;
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
    let scheduler = scheduler_on(&store, &registry, &config);
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
        let finish_short = Arc::new(tokio::sync::Notify::new());
        let mut registry = Registry::new();
        let (tx, finish) = (started_tx.clone(), finish_short.clone());
        registry
            .register("short", move |_, _: serde_json::Value| {
                let (tx, finish) = (tx.clone(), finish.clone());
                async move {
                    let _ = tx.send("short");
                    finish.notified().await;
                }
            })
            .unwrap();
        let tx = started_tx.clone();
        registry
            .register("long", move |_, _: serde_json::Value| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send("long");
                    std::future::pending::<()>().await
                }
            })
            .unwrap();
        let store = Arc::new(db.store().clone());
        let engine = Engine::start(store.clone(), registry, fast_config()).unwrap();
        let short = engine
            .scheduler()
            .add("short", json!({}), "default")
            .await
            .unwrap();
        let long = engine
            .scheduler()
            .add("long", json!({}), "default")
            .await
            .unwrap();
        started.recv().await.unwrap();
        started.recv().await.unwrap();
        // Both run when the shutdown starts; the short one ends within the grace period.
        engine.shutdown_token().cancel();
        finish_short.notify_one();
        engine.shutdown().await;
        assert_eq!(state_of(&*store, short).await, JobState::Succeeded);
        let released = store.job_get(long, Scope::All).await.unwrap();
        assert_eq!(
            (released.state, released.attempt),
            (JobState::Retryable, 0),
            "released for another worker, not left running, and its attempt not spent"
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

backend_tests!(
    a_job_released_on_its_last_attempt_runs_again_within_its_attempts,
    |db: TestDb| async move {
        let store = Arc::new(db.store().clone());
        let config = EngineConfig {
            shutdown_grace: Duration::ZERO,
            ..fast_config()
        };
        // First process: the job hangs and the process shuts down under it.
        let (attempts_tx, mut attempts) = mpsc::unbounded_channel();
        let mut hangs = Registry::new();
        let tx = attempts_tx.clone();
        hangs
            .register("once", move |ctx, _: serde_json::Value| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send((ctx.attempt, ctx.max_attempts));
                    std::future::pending::<()>().await
                }
            })
            .unwrap();
        let engine = Engine::start(store.clone(), hangs, config.clone()).unwrap();
        let id = engine
            .scheduler()
            .add_job(JobRequest::new("once", json!({}), "default").max_attempts(1))
            .await
            .unwrap()
            .id;
        assert_eq!(attempts.recv().await, Some((1, 1)));
        engine.shutdown().await;
        let job = store.job_get(id, Scope::All).await.unwrap();
        assert_eq!((job.state, job.attempt), (JobState::Retryable, 0));

        // Second process: the job's one attempt is still there, and it is the last.
        let mut works = Registry::new();
        works
            .register("once", move |ctx, _: serde_json::Value| {
                let tx = attempts_tx.clone();
                async move {
                    let _ = tx.send((ctx.attempt, ctx.max_attempts));
                }
            })
            .unwrap();
        let engine = Engine::start(store.clone(), works, config).unwrap();
        assert_eq!(attempts.recv().await, Some((1, 1)), "one attempt, not two");
        engine.stats().wait_completed(1).await;
        engine.shutdown().await;
        let job = store.job_get(id, Scope::All).await.unwrap();
        assert_eq!((job.state, job.attempt), (JobState::Succeeded, 1));
        assert_runs(&*store, id, &[(1, "released"), (1, "succeeded")]).await;
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
    // Once the engine listens, a job inserted elsewhere is either found by the producer's
    // first claim or announced to it; without the notification it would wait 60 s.
    assert!(
        engine.stats().wait_listening().await,
        "PostgreSQL announces new jobs"
    );
    // Another process: its own connection pool to the same database.
    let other_store = Arc::new(db.location().open().await.unwrap());
    let other = scheduler_on(&other_store, &registry, &config);
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
