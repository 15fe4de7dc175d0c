//! Claiming ahead: a producer of short jobs holds more claimed jobs than it has slots,
//! and gives back the ones it never started when it shuts down.

use std::sync::Arc;

use serde_json::json;
use warden_core::{JobState, QueueName, Scope};
use warden_engine::{Engine, EngineConfig, JobRequest, QueueConfig, Registry};
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
        let mut registry = Registry::new();
        // Short jobs first, so the producer learns that jobs are short beside a claim...
        registry
            .register("quick", |_, _: serde_json::Value| async {})
            .unwrap();
        // ...then jobs that never end: the first one takes the only slot.
        registry
            .register("hang", |_, _: serde_json::Value| {
                std::future::pending::<()>()
            })
            .unwrap();
        let engine = Engine::start(store.clone(), registry, config).unwrap();
        let s = engine.scheduler();
        for _ in 0..20 {
            s.add_job(JobRequest::new("quick", json!({}), "default"))
                .await
                .unwrap();
        }
        engine.stats().wait_completed(20).await;
        let mut hanging = Vec::new();
        for _ in 0..30 {
            let job = JobRequest::new("hang", json!({}), "default");
            hanging.push(s.add_job(job).await.unwrap().id);
        }
        // One slot, yet more than one job is claimed: the rest are held ahead.
        eventually("jobs are claimed ahead of the one slot", || async {
            running_count(&*store).await > 1
        })
        .await;
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
