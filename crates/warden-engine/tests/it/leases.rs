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

// The heartbeat runs beside the producer's loop, not in it. Here its statement waits on a
// row lock another session holds (as it waited, for a few hundred milliseconds, on ten
// thousand held cron jobs): a job that comes in meanwhile still runs at once. With the
// heartbeat awaited in the loop, nothing was claimed or started until the lock went.
// PostgreSQL only: SQLite's one writer cannot be made to wait on one row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_heartbeat_that_waits_on_the_database_does_not_hold_back_new_jobs() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let store = Arc::new(db.store().clone());
    let config = EngineConfig {
        queues: vec![QueueConfig::new(QueueName::parse("default").unwrap(), 2)],
        // Long enough that nothing is rescued while the heartbeat waits.
        lease: Duration::from_secs(60),
        heartbeat_interval: Duration::from_millis(100),
        // The poll would not bring the job in time either.
        poll_interval: Duration::from_secs(60),
        run_cron: false,
        ..fast_config()
    };
    let (started_tx, mut started) = mpsc::unbounded_channel();
    let mut registry = Registry::new();
    registry
        .register("hang", |_, _: serde_json::Value| {
            std::future::pending::<()>()
        })
        .unwrap();
    registry
        .register("report", move |_, _: serde_json::Value| {
            let _ = started_tx.send(());
            async {}
        })
        .unwrap();
    let engine = Engine::start(store.clone(), registry, config).unwrap();
    let s = engine.scheduler();
    let hanging = s
        .add_job(JobRequest::new("hang", json!({}), "default"))
        .await
        .unwrap()
        .id;
    eventually("the hanging job runs", || async {
        store.job_get(hanging, Scope::All).await.unwrap().state == JobState::Running
    })
    .await;
    let lock = db
        .open_transaction(&format!(
            "SELECT id FROM jobs WHERE id = '{hanging}' FOR UPDATE"
        ))
        .await;
    eventually("the heartbeat waits on the locked row", || async {
        db.statements_waiting_on_locks("UPDATE jobs j\nSET lease_expires_at")
            .await
            > 0
    })
    .await;
    s.add_job(JobRequest::new("report", json!({}), "default"))
        .await
        .unwrap();
    let ran = tokio::time::timeout(Duration::from_secs(10), started.recv()).await;
    lock.release().await;
    assert!(
        matches!(ran, Ok(Some(()))),
        "the new job waited for the heartbeat"
    );
    engine.shutdown().await;
}
