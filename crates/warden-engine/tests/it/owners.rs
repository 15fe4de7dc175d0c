//! Owners sharing a queue: one owner's failing work does not starve another's.

use std::{sync::Arc, time::Duration};

use serde_json::json;
use tokio::sync::mpsc;
use warden_core::{JobId, JobState, QueueName, Scope};
use warden_engine::{Engine, EngineConfig, JobContext, JobRequest, QueueConfig, Registry};
use warden_store::Store;
use warden_testkit::{TestDb, backend_tests};

use crate::support::{fast_config, scheduler_on};

/// A handler start: whose job, and which attempt.
#[derive(Debug)]
struct Start {
    owner: String,
    attempt: i32,
}

backend_tests!(
    errors_in_one_owners_jobs_do_not_hold_up_anothers,
    |db: TestDb| async move {
        const ALICE_JOBS: usize = 10;
        const ATTEMPTS: i32 = 8;
        const BOB_JOBS: usize = 10;
        const CONCURRENCY: usize = 2;
        // Two slots: if alice's retries went ahead of bob's jobs, bob would wait for all
        // of her attempts.
        let config = EngineConfig {
            queues: vec![QueueConfig::new(
                QueueName::parse("default").unwrap(),
                CONCURRENCY,
            )],
            run_cron: false,
            // Leases long enough that a loaded machine (CI runs every test at once) cannot
            // let one pass: a rescued attempt would leave the count of written attempts
            // short, and this test is about fairness between owners, not about leases.
            lease: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(5),
            ..fast_config()
        };
        // `work` fails alice's jobs, by an error on odd attempts and a panic on even
        // ones, and succeeds bob's; it reports every start.
        let (tx, mut starts) = mpsc::unbounded_channel();
        let mut registry = Registry::new();
        registry
            .register("work", move |ctx: JobContext, _: serde_json::Value| {
                let _ = tx.send(Start {
                    owner: ctx.owner.to_string(),
                    attempt: ctx.attempt,
                });
                async move {
                    match (ctx.owner.as_str(), ctx.attempt % 2) {
                        ("alice", 1) => Err(format!("alice's upstream is down ({})", ctx.id)),
                        ("alice", _) => panic!("alice's handler crashed"),
                        _ => Ok(()),
                    }
                }
            })
            .unwrap();
        // Both owners' jobs wait in the queue before the engine starts, alice's ahead of
        // bob's: the order is settled by the store, not by how fast this test runs.
        let store = Arc::new(db.store().clone());
        let scheduler = scheduler_on(&store, &registry, &config);
        let add = |owner: &'static str, n: usize, attempts: i32| {
            let requests = (0..n)
                .map(|_| {
                    JobRequest::new("work", json!({}), "default")
                        .owner(owner)
                        .max_attempts(attempts.into())
                })
                .collect();
            let scheduler = &scheduler;
            async move {
                scheduler
                    .add_many(requests)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|j| j.id)
                    .collect::<Vec<JobId>>()
            }
        };
        let alice = add("alice", ALICE_JOBS, ATTEMPTS).await;
        let bob = add("bob", BOB_JOBS, 1).await;
        let engine = Engine::start(store.clone(), registry, config).unwrap();

        // Alice's first attempts run first; her retries, due after their backoff, wait
        // behind bob's jobs. So bob's jobs all start after about one attempt of each of
        // alice's jobs (give or take the jobs in the slots as the claims interleave).
        // Starved, bob would wait for all of alice's attempts.
        let (mut bob_started, mut alice_before) = (0, 0);
        tokio::time::timeout(Duration::from_secs(30), async {
            while bob_started < BOB_JOBS {
                let s = starts.recv().await.unwrap();
                match s.owner.as_str() {
                    "bob" => {
                        assert_eq!(s.attempt, 1, "bob's job failed");
                        bob_started += 1;
                    }
                    _ => alice_before += 1,
                }
            }
        })
        .await
        .unwrap_or_else(|_| panic!("only {bob_started} of bob's {BOB_JOBS} jobs started"));
        let bound = ALICE_JOBS + 2 * CONCURRENCY;
        assert!(
            alice_before <= bound,
            "alice's jobs started {alice_before} times before bob's were all started (at most {bound})"
        );

        // Every attempt ends: bob's succeed, alice's are retried until they die.
        let total = (ALICE_JOBS * ATTEMPTS as usize + BOB_JOBS) as u64;
        tokio::time::timeout(
            Duration::from_secs(60),
            engine.stats().wait_completed(total),
        )
        .await
        .expect("every attempt was written");
        let stats = engine.stats().snapshot();
        engine.shutdown().await;
        assert_eq!((stats.completed, stats.stale, stats.rescued), (total, 0, 0));
        while let Ok(s) = starts.try_recv() {
            assert_eq!(s.owner, "alice", "bob's job ran again");
        }

        for id in bob {
            let job = store.job_get(id, Scope::All).await.unwrap();
            assert_eq!((job.state, job.attempt), (JobState::Succeeded, 1));
            let runs = store.run_list_by_job(id, Scope::All).await.unwrap();
            assert_eq!(runs.len(), 1);
            assert_eq!(runs[0].outcome, warden_core::RunOutcome::Succeeded);
        }
        let mut expected = vec!["retry"; ATTEMPTS as usize - 1];
        expected.push("dead");
        for id in alice {
            let job = store.job_get(id, Scope::All).await.unwrap();
            assert_eq!((job.state, job.attempt), (JobState::Dead, ATTEMPTS));
            let runs = store.run_list_by_job(id, Scope::All).await.unwrap();
            assert_eq!(
                runs.iter().map(|r| r.outcome.as_str()).collect::<Vec<_>>(),
                expected,
                "job {id}"
            );
            let errors: Vec<&str> = runs.iter().map(|r| r.error.as_deref().unwrap()).collect();
            assert!(errors[0].contains("upstream is down"), "{errors:?}");
            assert!(errors[1].contains("panicked"), "{errors:?}");
        }
    }
);
