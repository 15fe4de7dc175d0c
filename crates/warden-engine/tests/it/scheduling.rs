//! The in-process API refuses bad input at schedule time and writes nothing.

use std::time::Duration;
use warden_core::Scope;

use serde_json::json;
use warden_core::Priority;
use warden_engine::{CronRequest, EngineError, JobRequest};
use warden_store::{JobFilter, Page, Store};
use warden_testkit::{TestDb, backend_tests};

use crate::support::recording_scheduler;

backend_tests!(
    bad_requests_are_refused_naming_the_field_and_nothing_is_written,
    |db: TestDb| async move {
        let (store, scheduler) = recording_scheduler(&db);
        let err = scheduler
            .add("send-email", json!({}), "default")
            .await
            .unwrap_err();
        assert!(matches!(err, EngineError::UnknownJobType { .. }));
        assert!(
            err.to_string().contains("`jobType`") && err.to_string().contains("record"),
            "{err}"
        );
        let err = scheduler
            .add("record", json!({}), "nope")
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("`queueName`") && err.to_string().contains("COMMUNICATIONS"),
            "{err}"
        );
        let big = json!({"blob": "x".repeat(1024 * 1024)});
        let err = scheduler.add("record", big, "default").await.unwrap_err();
        assert!(err.to_string().contains("`data`"), "{err}");
        let err = scheduler
            .add_job(JobRequest::new("record", json!({}), "default").max_attempts(0))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("`maxAttempts`"), "{err}");
        let mut neg = JobRequest::new("record", json!({}), "default");
        neg.timeout_ms = Some(-5);
        assert!(
            scheduler
                .add_job(neg)
                .await
                .unwrap_err()
                .to_string()
                .contains("`timeout`")
        );
        // A batch with one bad job inserts none.
        let batch = vec![
            JobRequest::new("record", json!({"n": 1}), "default"),
            JobRequest::new("unknown", json!({}), "default"),
        ];
        assert!(scheduler.add_many(batch).await.is_err());
        let err = scheduler
            .add_cron(CronRequest::new("never", "0 0 0 31 2 *", "record"))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("`cron`") && err.to_string().contains("never fire"),
            "{err}"
        );
        let mut bad_tz = CronRequest::new("tz", "* * * * *", "record");
        bad_tz.timezone = "Europe/Atlantis".into();
        assert!(
            scheduler
                .add_cron(bad_tz)
                .await
                .unwrap_err()
                .to_string()
                .contains("`timezone`")
        );
        let unknown = CronRequest::new("unknown-type", "* * * * *", "nope");
        assert!(matches!(
            scheduler.add_cron(unknown).await.unwrap_err(),
            EngineError::UnknownJobType { .. }
        ));
        assert!(
            store
                .job_list(JobFilter::new(Scope::All))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .schedule_list(Page::default(), Scope::All)
                .await
                .unwrap()
                .is_empty()
        );
    }
);

backend_tests!(
    jobs_are_stored_with_their_options,
    |db: TestDb| async move {
        let (store, scheduler) = recording_scheduler(&db);
        let id = scheduler
            .add("record", json!({"n": 1}), "COMMUNICATIONS")
            .await
            .unwrap();
        let job = store.job_get(id, Scope::All).await.unwrap();
        assert_eq!(
            (job.queue.as_str(), job.owner.as_str(), job.priority),
            ("COMMUNICATIONS", "system", Priority::Medium)
        );
        let later = scheduler
            .add_in(
                "record",
                json!({"n": 2}),
                "default",
                Duration::from_secs(3600),
            )
            .await
            .unwrap();
        let later = store.job_get(later, Scope::All).await.unwrap();
        assert_eq!(later.state, warden_core::JobState::Scheduled);
        let req = JobRequest::new("record", json!({"n": 3}), "default")
            .priority(Priority::Critical)
            .idempotency_key("k1")
            .max_attempts(7)
            .timeout(Duration::from_secs(9));
        let first = scheduler.add_job(req.clone()).await.unwrap();
        let second = scheduler.add_job(req).await.unwrap();
        assert_eq!((second.id, second.existing), (first.id, true));
        let stored = store.job_get(first.id, Scope::All).await.unwrap();
        assert_eq!(
            (
                stored.priority,
                stored.max_attempts,
                stored.timeout.as_millis()
            ),
            (Priority::Critical, 7, 9000)
        );
    }
);

backend_tests!(
    a_run_at_in_the_past_means_now_and_does_not_jump_the_queue,
    |db: TestDb| async move {
        let (store, scheduler) = recording_scheduler(&db);
        let older: Vec<_> = scheduler
            .add_many(
                (0..3)
                    .map(|n| JobRequest::new("record", json!({ "n": n }), "default"))
                    .collect(),
            )
            .await
            .unwrap()
            .into_iter()
            .map(|j| j.id)
            .collect();
        let year_one: jiff::Timestamp = "0001-01-01T00:00:00Z".parse().unwrap();
        let past = scheduler
            .add_job(JobRequest::new("record", json!({"n": 9}), "default").run_at(year_one))
            .await
            .unwrap()
            .id;
        // Stored as "now": its run time is its creation time, not year 1.
        let job = store.job_get(past, Scope::All).await.unwrap();
        assert_eq!(
            job.run_at, job.created_at,
            "the past runAt was stored as is"
        );
        // The three older jobs of the same priority are claimed before it.
        let now = jiff::Timestamp::now();
        let claimed = store
            .job_claim_many(warden_store::ClaimParams {
                queue: warden_core::QueueName::parse("default").unwrap(),
                worker: "test".into(),
                limit: 3,
                now,
                due_by: now,
                lease_until: now + jiff::SignedDuration::from_secs(30),
                lease_token: uuid::Uuid::new_v4(),
                owner_limits: false,
            })
            .await
            .unwrap();
        let mut got: Vec<_> = claimed.iter().map(|j| j.id).collect();
        got.sort();
        let mut want = older.clone();
        want.sort();
        assert_eq!(got, want, "the job with a past runAt jumped the queue");
    }
);
