//! Leases of running jobs: heartbeats keep a job that outlives its lease from being
//! rescued (and so run twice) by the rescuer.

use std::{
    cell::Cell,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use tokio::sync::{Semaphore, mpsc};
use warden_core::{JobState, QueueName, Scope};
use warden_engine::{Engine, EngineConfig, JobContext, JobRequest, QueueConfig, Registry};
use warden_store::Store;
use warden_testkit::{TestDb, backend_tests, eventually};

use crate::support::{assert_runs, fast_config};

backend_tests!(
    a_job_longer_than_its_lease_is_kept_alive_by_heartbeats,
    |db: TestDb| async move {
        // The shortest lease `validate` accepts, renewed often, and a rescuer that looks
        // for expired leases many times while the job runs.
        let lease = Duration::from_secs(1);
        let config = EngineConfig {
            queues: vec![QueueConfig::new(QueueName::parse("default").unwrap(), 2)],
            worker_id: "long-runner".into(),
            lease,
            heartbeat_interval: Duration::from_millis(150),
            rescue_interval: Duration::from_millis(50),
            run_cron: false,
            ..fast_config()
        };
        // `long` reports its start, then runs until the test releases it.
        let (started_tx, mut started) = mpsc::unbounded_channel();
        let release = Arc::new(Semaphore::new(0));
        let calls = Arc::new(AtomicUsize::new(0));
        let mut registry = Registry::new();
        let (gate, count) = (release.clone(), calls.clone());
        registry
            .register("long", move |ctx: JobContext, _: serde_json::Value| {
                count.fetch_add(1, Ordering::SeqCst);
                let _ = started_tx.send(ctx.attempt);
                let gate = gate.clone();
                async move {
                    gate.acquire().await.unwrap().forget();
                }
            })
            .unwrap();
        let store = Arc::new(db.store().clone());
        let engine = Engine::start(store.clone(), registry, config).unwrap();
        let id = engine
            .scheduler()
            .add_job(
                JobRequest::new("long", json!({}), "default")
                    .max_attempts(3)
                    .timeout(Duration::from_secs(60)),
            )
            .await
            .unwrap()
            .id;
        assert_eq!(started.recv().await, Some(1));

        // Heartbeats have no signal of their own: watch the lease in the store until the
        // job has outlived its first lease by two more leases, its expiry moving forward
        // all along. The wait ends on what is observed, under a deadline.
        let first = store.job_get(id, Scope::All).await.unwrap();
        let first_expiry = first.lease_expires_at.expect("a running job has a lease");
        let outlived = first_expiry
            .checked_add(SignedDuration::try_from(lease * 2).unwrap())
            .unwrap();
        // The last expiry seen, and how many times it moved forward.
        let seen = Cell::new((first_expiry, 0));
        eventually(
            "the lease to move twice and outlive two more leases",
            || async {
                let job = store.job_get(id, Scope::All).await.unwrap();
                assert_eq!(
                    (job.state, job.attempt, job.lease_owner.as_deref()),
                    (JobState::Running, 1, Some("long-runner")),
                    "the job was taken from its worker while it ran"
                );
                let (expiry, moves) = seen.get();
                let now_expiry = job.lease_expires_at.expect("a running job has a lease");
                assert!(now_expiry >= expiry, "the lease moved back");
                let moves = moves + usize::from(now_expiry > expiry);
                seen.set((now_expiry, moves));
                moves >= 2 && Timestamp::now() >= outlived
            },
        )
        .await;
        assert!(
            started.try_recv().is_err(),
            "started again while the first run was still going"
        );
        release.add_permits(1);
        engine.stats().wait_completed(1).await;
        let stats = engine.stats().snapshot();
        engine.shutdown().await;

        assert_eq!(calls.load(Ordering::SeqCst), 1, "ran exactly once");
        assert_eq!((stats.rescued, stats.stale), (0, 0));
        let job = store.job_get(id, Scope::All).await.unwrap();
        assert_eq!((job.state, job.attempt), (JobState::Succeeded, 1));
        // One run, never `lost`.
        assert_runs(&*store, id, &[(1, "succeeded")]).await;
        let runs = store.run_list_by_job(id, Scope::All).await.unwrap();
        // The run really outlasted its lease, several times over.
        assert!(
            runs[0].duration_ms >= 2 * lease.as_millis() as i64,
            "ran {} ms",
            runs[0].duration_ms
        );
    }
);
