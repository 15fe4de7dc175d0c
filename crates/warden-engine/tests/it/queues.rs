//! Paused queues: nothing is claimed from them, in this process or another sharing the
//! database, until they are resumed.

use std::{sync::Arc, time::Duration};

use serde_json::json;
use warden_core::{QueueName, Scope};
use warden_engine::{Actor, Engine};
use warden_store::{JobFilter, Store};
use warden_testkit::{TestDb, backend_tests, eventually};

use crate::support::{fast_config, limit_alice_to_one_at_a_time, recording_registry};
use warden_store::QueueSetPausedParams;

backend_tests!(
    a_paused_queue_claims_nothing_until_resumed,
    |db: TestDb| async move {
        let (registry, mut rx) = recording_registry();
        let store = Arc::new(db.store().clone());
        let engine = Engine::start(store.clone(), registry, fast_config()).unwrap();
        let scheduler = engine.scheduler();
        let actor = Actor::system();
        scheduler
            .set_queue_paused_as(&actor, "COMMUNICATIONS", true)
            .await
            .unwrap();
        scheduler
            .add("record", json!({"n": 1}), "COMMUNICATIONS")
            .await
            .unwrap();
        scheduler
            .add("record", json!({"n": 2}), "default")
            .await
            .unwrap();
        // The other queue is not held up.
        assert_eq!(rx.recv().await, Some(2));
        // A negative can only be shown by waiting: several poll intervals (200 ms) pass
        // and the paused queue's job is still waiting.
        assert!(
            tokio::time::timeout(Duration::from_millis(700), rx.recv())
                .await
                .is_err()
        );
        let waiting = store
            .job_list(JobFilter {
                queue: Some(QueueName::parse("COMMUNICATIONS").unwrap()),
                ..JobFilter::new(Scope::All)
            })
            .await
            .unwrap();
        // Waiting, its attempt not spent: `available`, or `retryable` when a claim in
        // flight as the queue was paused took it (claims take jobs due soon, and the
        // producer releases what they bring once paused).
        assert!(
            matches!(waiting[0].state.as_str(), "available" | "retryable")
                && waiting[0].attempt == 0,
            "{:?}",
            waiting[0]
        );
        let err = scheduler
            .set_queue_paused_as(&actor, "nope", true)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("`queueName`"), "{err}");
        scheduler
            .set_queue_paused_as(&actor, "COMMUNICATIONS", false)
            .await
            .unwrap();
        assert_eq!(rx.recv().await, Some(1));
        engine.shutdown().await;
    }
);

backend_tests!(
    a_pause_made_by_another_process_is_followed,
    |db: TestDb| async move {
        let (registry, _rx) = recording_registry();
        let store = Arc::new(db.store().clone());
        let engine = Engine::start(store.clone(), registry, fast_config()).unwrap();
        let q = QueueName::parse("default").unwrap();
        assert_eq!(engine.scheduler().queue_paused(&q), Some(false));
        // Another process pauses the queue through the shared database.
        store
            .queue_set_paused(QueueSetPausedParams {
                queue: q.clone(),
                paused: true,
                now: jiff::Timestamp::now(),
                audit: vec![],
            })
            .await
            .unwrap();
        eventually("the pause is followed", || async {
            engine.scheduler().queue_paused(&q) == Some(true)
        })
        .await;
        store
            .queue_set_paused(QueueSetPausedParams {
                queue: q.clone(),
                paused: false,
                now: jiff::Timestamp::now(),
                audit: vec![],
            })
            .await
            .unwrap();
        eventually("the resume is followed", || async {
            engine.scheduler().queue_paused(&q) == Some(false)
        })
        .await;
        engine.shutdown().await;
    }
);

backend_tests!(
    a_principal_at_its_concurrency_waits_and_others_run,
    |db: TestDb| async move {
        use warden_engine::{JobContext, JobRequest, Registry};
        let store = Arc::new(db.store().clone());
        limit_alice_to_one_at_a_time(&*store).await;
        // `hold` reports who started and runs until its owner's release arrives.
        let (started_tx, mut started) = tokio::sync::mpsc::unbounded_channel();
        let alice = Arc::new(tokio::sync::Semaphore::new(0));
        let bob = Arc::new(tokio::sync::Semaphore::new(0));
        let mut registry = Registry::new();
        let (a, b) = (alice.clone(), bob.clone());
        registry
            .register("hold", move |ctx: JobContext, _: serde_json::Value| {
                let tx = started_tx.clone();
                let gate = if ctx.owner == "alice" {
                    a.clone()
                } else {
                    b.clone()
                };
                async move {
                    let _ = tx.send(ctx.owner.to_string());
                    gate.acquire().await.unwrap().forget();
                }
            })
            .unwrap();
        let engine = Engine::start(store.clone(), registry, fast_config()).unwrap();
        // The engine learns that a limit exists from its watch of the store.
        eventually("the limit is noticed", || async {
            engine.scheduler().owner_limits_active()
        })
        .await;
        let s = engine.scheduler();
        for owner in ["alice", "alice", "bob"] {
            s.add_job(JobRequest::new("hold", json!({}), "default").owner(owner))
                .await
                .unwrap();
        }
        let mut first_two = vec![started.recv().await.unwrap(), started.recv().await.unwrap()];
        first_two.sort();
        assert_eq!(
            first_two,
            ["alice", "bob"],
            "bob is not held up by alice's limit"
        );
        // Alice's second job waits while her first runs.
        assert!(
            tokio::time::timeout(Duration::from_millis(700), started.recv())
                .await
                .is_err()
        );
        alice.add_permits(1);
        assert_eq!(started.recv().await.as_deref(), Some("alice"));
        alice.add_permits(1);
        bob.add_permits(1);
        engine.stats().wait_completed(3).await;
        engine.shutdown().await;
    }
);
