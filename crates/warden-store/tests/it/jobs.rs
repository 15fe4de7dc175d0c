//! Conformance: jobs — insert, idempotency, claim order, leases, fenced completion,
//! retries, rescue, cancel, counts and history.

use uuid::Uuid;
use warden_core::Scope;
use warden_core::{JobState, Priority, QueueName, RunOutcome};
use warden_store::{Completion, CompletionResult, HeartbeatParams, JobFilter, Store, StoreError};
use warden_store::{JobCancelParams, JobInsertParams, QueueSetPausedParams};
use warden_testkit::backend_tests;

use crate::support::{
    assert_empty, at, claim, insert_and_claim, job, rescue_at, single_attempt, t0,
};

fn done(c: &warden_store::ClaimedJob, result: CompletionResult) -> Completion {
    Completion {
        id: c.id,
        lease_token: c.lease_token,
        attempt: c.attempt,
        worker: "worker-a".into(),
        started_at: at(1),
        finished_at: at(2),
        result,
        output: None,
    }
}

backend_tests!(
    migrations_are_idempotent_and_ready_reports_them,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        store.ready().await.unwrap();
        store.migrate().await.unwrap();
        store.ready().await.unwrap();
    }
);

backend_tests!(
    inserted_jobs_round_trip,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let mut later = job("q");
        later.run_at = at(60);
        let now = job("q");
        let ids = store
            .job_insert_many(JobInsertParams::new(vec![now.clone(), later.clone()]))
            .await
            .unwrap();
        assert_eq!(
            ids.iter().map(|i| (i.id, i.existing)).collect::<Vec<_>>(),
            [(now.id, false), (later.id, false)]
        );
        let got = store.job_get(now.id, Scope::All).await.unwrap();
        assert_eq!(got.state, JobState::Available);
        assert_eq!(got.payload, now.payload);
        assert_eq!(
            (got.kind, got.queue.as_str(), got.priority),
            (now.kind, "q", Priority::Medium)
        );
        assert_eq!(
            (got.attempt, got.max_attempts, got.timeout),
            (0, 3, now.timeout)
        );
        assert_eq!(
            (got.owner.as_str(), got.run_at, got.created_at),
            ("user-1", t0(), t0())
        );
        assert_eq!(
            store.job_get(later.id, Scope::All).await.unwrap().state,
            JobState::Scheduled
        );
        assert!(matches!(
            store.job_get(warden_core::JobId::new(), Scope::All).await,
            Err(StoreError::NotFound)
        ));
        assert_empty(store.job_insert_many(JobInsertParams::new(vec![]))).await;
    }
);

backend_tests!(
    an_idempotency_key_returns_the_existing_job_in_its_queue,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let mut first = job("q");
        first.idempotency_key = Some("order-42".into());
        let mut same_batch = job("q");
        same_batch.idempotency_key = Some("order-42".into());
        let out = store
            .job_insert_many(JobInsertParams::new(vec![first.clone(), same_batch]))
            .await
            .unwrap();
        assert_eq!((out[0].id, out[0].existing), (first.id, false));
        assert_eq!((out[1].id, out[1].existing), (first.id, true));
        let mut again = job("q");
        again.idempotency_key = Some("order-42".into());
        let out = store
            .job_insert_many(JobInsertParams::new(vec![again]))
            .await
            .unwrap();
        assert_eq!((out[0].id, out[0].existing), (first.id, true));
        let mut other_queue = job("other");
        other_queue.idempotency_key = Some("order-42".into());
        let out = store
            .job_insert_many(JobInsertParams::new(vec![other_queue.clone()]))
            .await
            .unwrap();
        assert_eq!((out[0].id, out[0].existing), (other_queue.id, false));
        assert_eq!(
            store
                .job_list(JobFilter::new(Scope::All))
                .await
                .unwrap()
                .len(),
            2
        );
    }
);

backend_tests!(
    claims_take_priority_then_oldest_due_first_up_to_the_limit,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let mut low = job("q");
        low.priority = Priority::Low;
        let mut crit = job("q");
        crit.priority = Priority::Critical;
        let mut old_medium = job("q");
        old_medium.run_at = at(-10);
        let medium = job("q");
        let mut future = job("q");
        future.priority = Priority::Critical;
        future.run_at = at(100);
        future.created_at = t0();
        let other = job("elsewhere");
        store
            .job_insert_many(JobInsertParams::new(vec![
                low.clone(),
                crit.clone(),
                medium.clone(),
                old_medium.clone(),
                future.clone(),
                other,
            ]))
            .await
            .unwrap();
        let first = store.job_claim_many(claim("q", 2, t0())).await.unwrap();
        assert_eq!(
            first
                .iter()
                .map(|c| c.id)
                .collect::<std::collections::HashSet<_>>(),
            [crit.id, old_medium.id].into()
        );
        let rest = store.job_claim_many(claim("q", 10, t0())).await.unwrap();
        assert_eq!(
            rest.iter()
                .map(|c| c.id)
                .collect::<std::collections::HashSet<_>>(),
            [medium.id, low.id].into()
        );
        assert!(rest.iter().all(|c| c.attempt == 1));
        let running = store.job_get(low.id, Scope::All).await.unwrap();
        assert_eq!(
            (running.state, running.lease_owner.as_deref()),
            (JobState::Running, Some("worker-a"))
        );
        // The scheduled job becomes claimable when its time comes.
        assert_empty(store.job_claim_many(claim("q", 10, at(99)))).await;
        assert_eq!(
            store
                .job_next_run_at(&QueueName::parse("q").unwrap())
                .await
                .unwrap(),
            Some(at(100))
        );
        let due = store.job_claim_many(claim("q", 10, at(100))).await.unwrap();
        assert_eq!(due.iter().map(|c| c.id).collect::<Vec<_>>(), [future.id]);
        assert_eq!(
            store
                .job_next_run_at(&QueueName::parse("q").unwrap())
                .await
                .unwrap(),
            None
        );
    }
);

backend_tests!(
    completion_counts_only_with_the_current_lease_token,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let j = job("q");
        let stale = insert_and_claim(store, &[&j]).await.remove(0);
        // The lease expires, the rescuer returns the job, another worker claims it.
        let rescued = rescue_at(store, 31).await;
        assert_eq!(
            rescued.iter().map(|r| (r.id, r.state)).collect::<Vec<_>>(),
            [(j.id, JobState::Retryable)]
        );
        let fresh = store
            .job_claim_many(claim("q", 1, at(31)))
            .await
            .unwrap()
            .remove(0);
        assert_eq!(fresh.attempt, 2);
        // The stale worker's completion is ignored; the current one counts.
        assert_empty(store.job_complete_many(vec![done(&stale, CompletionResult::Succeeded)]))
            .await;
        assert_eq!(
            store.job_get(j.id, Scope::All).await.unwrap().state,
            JobState::Running
        );
        // The handler's report travels with the completion into the run row.
        let mut reported = done(&fresh, CompletionResult::Succeeded);
        reported.output = Some(br#"{"status":200}"#.to_vec());
        let ok = store.job_complete_many(vec![reported]).await.unwrap();
        assert_eq!(ok, [j.id]);
        let finished = store.job_get(j.id, Scope::All).await.unwrap();
        assert_eq!(finished.state, JobState::Succeeded);
        assert_eq!(finished.finished_at, Some(at(2)));
        assert!(finished.lease_owner.is_none());
        // A second completion of the same attempt does not count twice.
        assert_empty(store.job_complete_many(vec![done(&fresh, CompletionResult::Succeeded)]))
            .await;
        let runs = store.run_list_by_job(j.id, Scope::All).await.unwrap();
        assert_eq!(
            runs.iter()
                .map(|r| (r.attempt, r.outcome.as_str()))
                .collect::<Vec<_>>(),
            [(1, "lost"), (2, "succeeded")]
        );
        assert_eq!(
            (runs[1].duration_ms, runs[1].worker.as_str()),
            (1000, "worker-a")
        );
        assert!(runs[0].error.as_deref().unwrap().contains("lease expired"));
        // The list leaves outputs out (its type has none); one run has its own.
        let first = store.run_get(runs[0].id, Scope::All).await.unwrap();
        assert_eq!(first.output, None);
        let one = store.run_get(runs[1].id, Scope::All).await.unwrap();
        assert_eq!(one.output.as_deref(), Some(&br#"{"status":200}"#[..]));
        assert_eq!(one.attempt, runs[1].attempt);
    }
);

backend_tests!(
    retries_wait_for_their_time_and_failures_bury_the_job,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let (a, b, c) = (job("q"), job("q"), job("q"));
        let claimed = insert_and_claim(store, &[&a, &b, &c]).await;
        let by_id = |id| claimed.iter().find(|c| c.id == id).unwrap();
        let applied = store
            .job_complete_many(vec![
                done(
                    by_id(a.id),
                    CompletionResult::Retry {
                        run_at: at(50),
                        error: "smtp 451".into(),
                    },
                ),
                done(
                    by_id(b.id),
                    CompletionResult::Dead {
                        error: "bad address".into(),
                    },
                ),
                done(
                    by_id(c.id),
                    CompletionResult::Cancelled {
                        reason: "not needed".into(),
                    },
                ),
            ])
            .await
            .unwrap();
        assert_eq!(applied.len(), 3);
        let ra = store.job_get(a.id, Scope::All).await.unwrap();
        assert_eq!(
            (ra.state, ra.run_at, ra.last_error.as_deref()),
            (JobState::Retryable, at(50), Some("smtp 451"))
        );
        assert_eq!(
            store.job_get(b.id, Scope::All).await.unwrap().state,
            JobState::Dead
        );
        assert_eq!(
            store.job_get(c.id, Scope::All).await.unwrap().state,
            JobState::Cancelled
        );
        assert_empty(store.job_claim_many(claim("q", 3, at(49)))).await;
        let again = store.job_claim_many(claim("q", 3, at(50))).await.unwrap();
        assert_eq!((again[0].id, again[0].attempt), (a.id, 2));
        let outcomes: Vec<RunOutcome> = store
            .run_list_by_job(b.id, Scope::All)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.outcome)
            .collect();
        assert_eq!(outcomes, [RunOutcome::Dead]);
    }
);

backend_tests!(
    heartbeats_extend_only_leases_still_held,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let (a, b) = (job("q"), job("q"));
        let claimed = insert_and_claim(store, &[&a, &b]).await;
        let token = claimed[0].lease_token;
        let held = store
            .job_heartbeat_many(HeartbeatParams {
                jobs: vec![(a.id, token), (b.id, Uuid::new_v4())],
                lease_until: at(300),
            })
            .await
            .unwrap();
        assert_eq!(held, [a.id]);
        assert_eq!(
            store
                .job_get(a.id, Scope::All)
                .await
                .unwrap()
                .lease_expires_at,
            Some(at(300))
        );
        // At t+100 only b's lease (30 s) has expired.
        let rescued = rescue_at(store, 100).await;
        assert_eq!(rescued.iter().map(|r| r.id).collect::<Vec<_>>(), [b.id]);
        assert_empty(store.job_heartbeat_many(HeartbeatParams {
            jobs: vec![],
            lease_until: at(1),
        }))
        .await;
    }
);

backend_tests!(
    rescue_buries_jobs_out_of_attempts,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let j = single_attempt(job("q"));
        insert_and_claim(store, &[&j]).await;
        assert!(rescue_at(store, 30).await.is_empty());
        let rescued = rescue_at(store, 31).await;
        assert_eq!(rescued[0].state, JobState::Dead);
        assert_eq!(
            store.job_get(j.id, Scope::All).await.unwrap().finished_at,
            Some(at(31))
        );
    }
);

backend_tests!(
    cancel_stops_unfinished_jobs_and_fences_their_workers,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let (running, waiting) = (job("q"), job("q"));
        store
            .job_insert_many(JobInsertParams::new(vec![running.clone()]))
            .await
            .unwrap();
        let claimed = store
            .job_claim_many(claim("q", 1, t0()))
            .await
            .unwrap()
            .remove(0);
        store
            .job_insert_many(JobInsertParams::new(vec![waiting.clone()]))
            .await
            .unwrap();
        let cancelled = store
            .job_cancel_many(JobCancelParams {
                ids: vec![running.id, waiting.id],
                scope: Scope::All,
                now: at(5),
                audit: vec![],
            })
            .await
            .unwrap();
        assert_eq!(cancelled.len(), 2);
        assert_empty(store.job_complete_many(vec![done(&claimed, CompletionResult::Succeeded)]))
            .await;
        assert_eq!(
            store.job_get(running.id, Scope::All).await.unwrap().state,
            JobState::Cancelled
        );
        assert!(
            store
                .job_cancel_many(JobCancelParams {
                    ids: vec![running.id],
                    scope: Scope::All,
                    now: at(6),
                    audit: vec![]
                })
                .await
                .unwrap()
                .is_empty(),
            "already final"
        );
        let held = store
            .job_heartbeat_many(HeartbeatParams {
                jobs: vec![(running.id, claimed.lease_token)],
                lease_until: at(60),
            })
            .await
            .unwrap();
        assert!(held.is_empty(), "a cancelled job's lease is gone");
    }
);

backend_tests!(
    counts_and_lists_filter_by_queue_and_state,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        store
            .job_insert_many(JobInsertParams::new(vec![job("a"), job("a"), job("b")]))
            .await
            .unwrap();
        store.job_claim_many(claim("a", 1, t0())).await.unwrap();
        let counts: Vec<(String, JobState, i64)> = store
            .queue_count_many()
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.queue.to_string(), c.state, c.count))
            .collect();
        assert_eq!(counts.len(), 3);
        for expected in [
            ("a".to_string(), JobState::Available, 1),
            ("a".into(), JobState::Running, 1),
            ("b".into(), JobState::Available, 1),
        ] {
            assert!(counts.contains(&expected), "{counts:?}");
        }
        let running = store
            .job_list(JobFilter {
                scope: Scope::All,
                queue: Some(QueueName::parse("a").unwrap()),
                state: Some(JobState::Running),
                ..JobFilter::new(Scope::All)
            })
            .await
            .unwrap();
        assert_eq!(running.len(), 1);
        assert_eq!(
            store
                .job_list(JobFilter {
                    scope: Scope::All,
                    limit: 2,
                    ..JobFilter::new(Scope::All)
                })
                .await
                .unwrap()
                .len(),
            2
        );
    }
);

/// PostgreSQL: an insert through one store (process) is announced to another's subscription,
/// and a store does not hear its own announcements.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inserts_are_announced_to_other_processes() {
    let Some(db) = warden_testkit::TestDb::postgres().await else {
        return;
    };
    let mine = db.store();
    let mut heard = mine
        .job_insert_subscribe()
        .await
        .unwrap()
        .expect("PostgreSQL subscribes");
    let other = db.location().open().await.unwrap();
    mine.job_insert_many(JobInsertParams::new(vec![job("own-queue")]))
        .await
        .unwrap();
    other
        .job_insert_many(JobInsertParams::new(vec![job("their-queue")]))
        .await
        .unwrap();
    let got = tokio::time::timeout(std::time::Duration::from_secs(5), heard.recv())
        .await
        .expect("announced");
    assert_eq!(got.as_deref(), Some("their-queue"));
    assert!(
        db.location()
            .open()
            .await
            .unwrap()
            .job_insert_subscribe()
            .await
            .is_ok()
    );
    let sqlite = warden_testkit::TestDb::sqlite().await;
    assert!(
        sqlite
            .store()
            .job_insert_subscribe()
            .await
            .unwrap()
            .is_none()
    );
}

backend_tests!(
    a_release_does_not_count_as_an_attempt,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let one = single_attempt(job("q"));
        let first = insert_and_claim(store, &[&one]).await;
        assert_eq!(first[0].attempt, 1);
        let released = CompletionResult::Released {
            error: "interrupted: shut down".into(),
        };
        assert_eq!(
            store
                .job_complete_many(vec![done(&first[0], released)])
                .await
                .unwrap(),
            [one.id]
        );
        let j = store.job_get(one.id, Scope::All).await.unwrap();
        assert_eq!((j.state, j.attempt), (JobState::Retryable, 0));
        // Claimable at once, and its last (only) attempt is still to come.
        let again = store.job_claim_many(claim("q", 1, t0())).await.unwrap();
        assert_eq!((again[0].attempt, again[0].max_attempts), (1, 1));
        store
            .job_complete_many(vec![done(&again[0], CompletionResult::Succeeded)])
            .await
            .unwrap();
        let runs = store.run_list_by_job(one.id, Scope::All).await.unwrap();
        let mut runs: Vec<_> = runs
            .iter()
            .map(|r| (r.attempt, r.outcome.as_str()))
            .collect();
        runs.sort();
        assert_eq!(
            runs,
            [
                (1, RunOutcome::Released.as_str()),
                (1, RunOutcome::Succeeded.as_str())
            ]
        );
    }
);

backend_tests!(
    two_completions_of_one_attempt_in_a_batch_keep_the_real_outcome,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let (a, b) = (job("q"), job("q"));
        let claimed = insert_and_claim(store, &[&a, &b]).await;
        let by_id = |id| claimed.iter().find(|c| c.id == id).unwrap();
        let release = || CompletionResult::Released {
            error: "interrupted: shut down".into(),
        };
        // A shutdown release raced the worker's outcome: either order, one batch.
        let applied = store
            .job_complete_many(vec![
                done(by_id(a.id), release()),
                done(by_id(a.id), CompletionResult::Succeeded),
                done(by_id(b.id), CompletionResult::Succeeded),
                done(by_id(b.id), release()),
            ])
            .await
            .unwrap();
        assert_eq!(applied.len(), 2, "{applied:?}");
        for id in [a.id, b.id] {
            let j = store.job_get(id, Scope::All).await.unwrap();
            assert_eq!((j.state, j.attempt), (JobState::Succeeded, 1));
            let runs = store.run_list_by_job(id, Scope::All).await.unwrap();
            assert_eq!(
                runs.iter()
                    .map(|r| (r.attempt, r.outcome.as_str()))
                    .collect::<Vec<_>>(),
                [(1, "succeeded")]
            );
        }
    }
);

backend_tests!(
    queues_are_paused_and_resumed_with_an_audit_record,
    |db: warden_testkit::TestDb| async move {
        use warden_core::{AuditAction, AuditOutcome};
        use warden_store::{AccessStore, AuditContext, AuditFilter};
        let store = db.store();
        let q = warden_core::QueueName::parse("mail").unwrap();
        assert!(store.queue_paused_many().await.unwrap().is_empty());
        let record = AuditContext::default().record(
            at(1),
            AuditAction::QueuePause,
            Some("mail".into()),
            AuditOutcome::Ok,
        );
        store
            .queue_set_paused(QueueSetPausedParams {
                queue: q.clone(),
                paused: true,
                now: at(1),
                audit: vec![record],
            })
            .await
            .unwrap();
        store
            .queue_set_paused(QueueSetPausedParams {
                queue: warden_core::QueueName::parse("other").unwrap(),
                paused: false,
                now: at(1),
                audit: vec![],
            })
            .await
            .unwrap();
        assert_eq!(store.queue_paused_many().await.unwrap(), ["mail"]);
        store
            .queue_set_paused(QueueSetPausedParams {
                queue: q,
                paused: false,
                now: at(2),
                audit: vec![],
            })
            .await
            .unwrap();
        assert!(store.queue_paused_many().await.unwrap().is_empty());
        let trail = store.audit_list(AuditFilter::default()).await.unwrap();
        assert_eq!(trail.len(), 1);
    }
);
