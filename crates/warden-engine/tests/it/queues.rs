//! Paused queues: nothing is claimed from them, in this process or another sharing the
//! database, until they are resumed.

use std::{sync::Arc, time::Duration};

use serde_json::json;
use warden_core::{QueueName, Scope};
use warden_engine::{Actor, Engine};
use warden_store::{JobFilter, Store};
use warden_testkit::{TestDb, backend_tests};

use crate::support::{fast_config, recording_registry};

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
        assert_eq!(waiting[0].state.as_str(), "available");
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
            .queue_set_paused(q.clone(), true, jiff::Timestamp::now(), vec![])
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while engine.scheduler().queue_paused(&q) != Some(true) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the pause was not followed"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        store
            .queue_set_paused(q.clone(), false, jiff::Timestamp::now(), vec![])
            .await
            .unwrap();
        while engine.scheduler().queue_paused(&q) != Some(false) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the resume was not followed"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        engine.shutdown().await;
    }
);
