//! A principal's controls hold wherever work is created or re-armed, not only when a job
//! is created: a schedule's fires follow its owner's current state and limits, and
//! resume, trigger and retry are refused as a create would be.

use std::sync::Arc;

use jiff::Timestamp;
use warden_core::{AuditAction, AuditOutcome};
use warden_core::{OccurrenceOutcome, OverlapPolicy, Scope};
use warden_engine::{Actor, CronRequest, EngineError, JobRequest};
use warden_store::{
    AccessStore, AuditContext, AuditFilter, Limits, OccurrencePage, PrincipalRecord, Store,
};
use warden_testkit::{TestDb, backend_tests};

use crate::support::{
    clock_at_2030, no_cron_loop_short_grace, pid, recording_registry, recording_scheduler,
    start_on_clock,
};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

async fn set_alice<S: AccessStore>(store: &S, disabled: bool, limits: Limits) {
    let now = Timestamp::now();
    store
        .principal_upsert(
            PrincipalRecord {
                id: pid("alice"),
                disabled,
                limits,
                created_at: now,
                updated_at: now,
            },
            vec![],
        )
        .await
        .unwrap();
}

fn types(t: &[&str]) -> Limits {
    Limits {
        allowed_job_types: Some(t.iter().map(|s| s.to_string()).collect()),
        ..Limits::default()
    }
}

fn alice(limits: Limits) -> Actor {
    Actor::principal(
        &pid("alice"),
        Scope::Owner(pid("alice")),
        limits,
        AuditContext {
            principal_id: Some(pid("alice")),
            ..AuditContext::default()
        },
    )
}

fn admin() -> Actor {
    Actor::principal(
        &pid("admin"),
        Scope::All,
        Limits::default(),
        AuditContext {
            principal_id: Some(pid("admin")),
            ..AuditContext::default()
        },
    )
}

backend_tests!(
    a_schedule_fires_only_what_its_owner_may_run_now,
    |db: TestDb| async move {
        let (registry, _rx) = recording_registry();
        let store = Arc::new(db.store().clone());
        let clock = clock_at_2030();
        let engine = start_on_clock(&store, registry, no_cron_loop_short_grace(), &clock);
        set_alice(&*store, false, types(&["record"])).await;
        let mut request = CronRequest::new("every-minute", "* * * * *", "record");
        request.overlap = OverlapPolicy::Allow;
        let id = engine
            .scheduler()
            .add_cron_as(&alice(types(&["record"])), request)
            .await
            .unwrap();
        let cron = engine.cron_enqueuer(ts("2030-01-01T00:00:00Z"));
        let mut minute = 0;
        let mut tick = || {
            minute += 1;
            clock.set(ts(&format!("2030-01-01T00:{minute:02}:02Z")));
            let cron = &cron;
            async move {
                let recorded = cron.run_once().await.unwrap();
                assert_eq!(recorded.len(), 1, "{recorded:?}");
                recorded[0].clone()
            }
        };
        let blocked_audits = || async {
            store
                .audit_list(AuditFilter {
                    action: Some(AuditAction::ScheduleBlocked),
                    target: Some(id.to_string()),
                    ..AuditFilter::default()
                })
                .await
                .unwrap()
        };
        let blocked = || async { store.schedule_get(id, Scope::All).await.unwrap().blocked };

        assert_eq!(tick().await.outcome, OccurrenceOutcome::Ran);
        assert_eq!(blocked().await, None);

        // Disabled: its fires are recorded, not run, and audited once.
        set_alice(&*store, true, types(&["record"])).await;
        for _ in 0..2 {
            let o = tick().await;
            assert_eq!(
                (o.outcome, o.job_id),
                (OccurrenceOutcome::SkippedForbidden, None)
            );
        }
        let why = blocked()
            .await
            .expect("the schedule says why it is blocked");
        assert!(why.contains("disabled"), "{why}");
        let audits = blocked_audits().await;
        assert_eq!(audits.len(), 1, "{audits:?}");
        assert_eq!(audits[0].record.outcome, AuditOutcome::Denied);
        assert_eq!(audits[0].record.detail.as_deref(), Some(why.as_str()));

        // Enabled again, but the job type is no longer allowed.
        set_alice(&*store, false, types(&["other"])).await;
        assert_eq!(tick().await.outcome, OccurrenceOutcome::SkippedForbidden);
        let why = blocked().await.unwrap();
        assert!(why.contains("allowedJobTypes"), "{why}");
        // A priority no longer allowed.
        set_alice(
            &*store,
            false,
            Limits {
                allowed_priorities: Some(vec![warden_core::Priority::High]),
                ..Limits::default()
            },
        )
        .await;
        assert_eq!(tick().await.outcome, OccurrenceOutcome::SkippedForbidden);
        assert!(blocked().await.unwrap().contains("allowedPriorities"));
        // At its `maxActive` (the schedule itself is one active object, whether or not the
        // first fire's job has run yet).
        set_alice(
            &*store,
            false,
            Limits {
                max_active: Some(1),
                ..Limits::default()
            },
        )
        .await;
        assert_eq!(tick().await.outcome, OccurrenceOutcome::SkippedForbidden);
        assert!(blocked().await.unwrap().contains("maxActive"));
        assert_eq!(blocked_audits().await.len(), 4, "one record per new reason");

        // Within its limits again: it runs, and the reason is cleared.
        set_alice(&*store, false, Limits::default()).await;
        let o = tick().await;
        assert_eq!(o.outcome, OccurrenceOutcome::Ran);
        assert!(o.job_id.is_some());
        assert_eq!(blocked().await, None);
        let ledger = store
            .occurrence_list(id, Scope::All, OccurrencePage::default())
            .await
            .unwrap();
        assert_eq!(ledger.len(), 7);
        assert_eq!(ledger.iter().filter(|o| o.job_id.is_some()).count(), 2);
        engine.shutdown().await;
    }
);

backend_tests!(
    resume_trigger_and_retry_are_refused_as_a_create_would_be,
    |db: TestDb| async move {
        let (store, scheduler) = recording_scheduler(&db);
        set_alice(&*store, false, types(&["record"])).await;
        let now_allowed = alice(types(&["record"]));
        let mut request = CronRequest::new("nightly", "0 3 * * *", "record");
        request.paused = true;
        let schedule = scheduler.add_cron_as(&now_allowed, request).await.unwrap();
        let job = scheduler
            .add_many_as(
                &now_allowed,
                vec![JobRequest::new("record", serde_json::json!({}), "default")],
            )
            .await
            .unwrap()[0]
            .id;
        scheduler
            .cancel_jobs_as(&now_allowed, vec![job])
            .await
            .unwrap();

        // `record` is no longer allowed to alice.
        set_alice(&*store, false, types(&["other"])).await;
        let limited = alice(types(&["other"]));
        for actor in [&limited, &admin()] {
            let refusals = [
                scheduler
                    .set_schedule_paused_as(actor, schedule, false)
                    .await
                    .unwrap_err(),
                scheduler
                    .trigger_schedule_as(actor, schedule)
                    .await
                    .unwrap_err(),
                scheduler.retry_jobs_as(actor, vec![job]).await.unwrap_err(),
            ];
            for e in refusals {
                assert!(
                    matches!(
                        &e,
                        EngineError::NotAllowed {
                            limit: "allowedJobTypes",
                            ..
                        }
                    ),
                    "{e:?}"
                );
            }
        }
        // Nothing changed: still paused, the job still cancelled, no new job.
        assert!(
            store
                .schedule_get(schedule, Scope::All)
                .await
                .unwrap()
                .paused
        );
        let j = store.job_get(job, Scope::All).await.unwrap();
        assert_eq!(j.state, warden_core::JobState::Cancelled);
        // Pausing is always allowed (it re-arms nothing).
        scheduler
            .set_schedule_paused_as(&limited, schedule, true)
            .await
            .unwrap();

        // A disabled owner: refused even for an admin.
        set_alice(&*store, true, Limits::default()).await;
        let e = scheduler
            .trigger_schedule_as(&admin(), schedule)
            .await
            .unwrap_err();
        assert!(
            matches!(
                &e,
                EngineError::NotAllowed {
                    limit: "disabled",
                    ..
                }
            ),
            "{e:?}"
        );
        set_alice(&*store, false, Limits::default()).await;
        scheduler
            .set_schedule_paused_as(&admin(), schedule, false)
            .await
            .unwrap();
        scheduler
            .trigger_schedule_as(&admin(), schedule)
            .await
            .unwrap();
        assert_eq!(
            scheduler.retry_jobs_as(&admin(), vec![job]).await.unwrap(),
            [job]
        );
    }
);
