//! Conformance: a scope confines every read and change to one owner's objects, and a
//! change's audit records commit (or roll back) with it.

use warden_core::{AuditAction, AuditOutcome, JobState, Scope};
use warden_store::{
    AccessStore, AuditContext, AuditFilter, AuditRecord, JobCancelParams, JobFilter,
    JobInsertParams, JobRetryParams, NewJob, OccurrencePage, Page, ScheduleInsertParams,
    ScheduleRunFilter, ScheduleSetPausedParams, Store, StoreError,
};
use warden_testkit::backend_tests;

use crate::support::{
    assert_empty, at, claim, inserted, job, jobs_of, pid, schedule, succeeded, t0,
};

fn alice() -> Scope {
    Scope::Owner(pid("alice"))
}

fn record(action: AuditAction, target: String) -> AuditRecord {
    AuditContext {
        principal_id: Some(pid("alice")),
        ..Default::default()
    }
    .record(t0(), action, Some(target), AuditOutcome::Ok)
}

backend_tests!(
    scoped_reads_and_changes_reach_only_the_owners_objects,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let mut mine = job("q");
        mine.owner = pid("alice");
        let theirs = job("q"); // owned by user-1
        store
            .job_insert_many(JobInsertParams::new(vec![mine.clone(), theirs.clone()]))
            .await
            .unwrap();
        assert!(store.job_get(mine.id, alice()).await.is_ok());
        assert!(matches!(
            store.job_get(theirs.id, alice()).await,
            Err(StoreError::NotFound)
        ));
        let listed = store.job_list(JobFilter::new(alice())).await.unwrap();
        assert_eq!(listed.iter().map(|j| j.id).collect::<Vec<_>>(), [mine.id]);
        assert_eq!(
            store
                .job_list(JobFilter::new(Scope::All))
                .await
                .unwrap()
                .len(),
            2
        );
        // Cursor paging: after the first job, only the second.
        let mut after = JobFilter::new(Scope::All);
        after.after = Some(mine.id.min(theirs.id));
        assert_eq!(store.job_list(after).await.unwrap().len(), 1);

        // Changes out of scope do nothing, and their audit records are not written.
        let cancelled = store
            .job_cancel_many(JobCancelParams {
                ids: vec![theirs.id],
                scope: alice(),
                now: at(1),
                audit: vec![record(AuditAction::JobCancel, theirs.id.to_string())],
            })
            .await
            .unwrap();
        assert!(cancelled.is_empty());
        assert_empty(store.run_list_by_job(theirs.id, alice())).await;
        let cancelled = store
            .job_cancel_many(JobCancelParams {
                ids: vec![mine.id, theirs.id],
                scope: alice(),
                now: at(1),
                audit: vec![
                    record(AuditAction::JobCancel, mine.id.to_string()),
                    record(AuditAction::JobCancel, theirs.id.to_string()),
                ],
            })
            .await
            .unwrap();
        assert_eq!(cancelled, [mine.id]);
        let trail = store.audit_list(AuditFilter::default()).await.unwrap();
        assert_eq!(trail.len(), 1);
        assert_eq!(trail[0].record.target, Some(mine.id.to_string()));
        assert_eq!(
            store.job_get(theirs.id, Scope::All).await.unwrap().state,
            JobState::Available
        );

        let mut s = schedule("mine", "0 3 * * *");
        s.owner = pid("alice");
        let other = schedule("theirs", "0 4 * * *");
        store
            .schedule_insert(ScheduleInsertParams::new(s.clone()))
            .await
            .unwrap();
        store
            .schedule_insert(ScheduleInsertParams::new(other.clone()))
            .await
            .unwrap();
        assert!(matches!(
            store.schedule_get(other.id, alice()).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            store
                .schedule_list(Page::default(), alice())
                .await
                .unwrap()
                .len(),
            1
        );
        for result in [
            store
                .schedule_set_paused(ScheduleSetPausedParams {
                    id: other.id,
                    scope: alice(),
                    paused: true,
                    now: at(1),
                    audit: vec![],
                })
                .await,
            store.schedule_delete(other.id, alice(), vec![]).await,
            store.schedule_update(other.clone(), alice(), vec![]).await,
        ] {
            assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
        }
        assert_empty(store.occurrence_list(other.id, alice(), OccurrencePage::default())).await;
        let untouched = store.schedule_get(other.id, Scope::All).await.unwrap();
        assert!(!untouched.paused);
        assert_eq!(store.principal_active_count("alice").await.unwrap(), 1);
        assert_eq!(store.principal_active_count("user-1").await.unwrap(), 2);
    }
);

backend_tests!(
    a_failed_change_writes_no_audit_record,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let s = inserted(store, schedule("nightly", "0 3 * * *")).await;
        // Same owner and name: refused, and the audit record goes with it.
        let mut dup = schedule("nightly", "0 5 * * *");
        dup.owner = s.owner.clone();
        assert!(matches!(
            store
                .schedule_insert(ScheduleInsertParams {
                    schedule: dup,
                    audit: vec![record(AuditAction::ScheduleCreate, "dup".into())],
                    quota: None
                })
                .await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store
                .schedule_delete(
                    warden_core::ScheduleId::new(),
                    Scope::All,
                    vec![record(AuditAction::ScheduleDelete, "x".into())]
                )
                .await,
            Err(StoreError::NotFound)
        ));
        assert_empty(store.audit_list(AuditFilter::default())).await;
    }
);

backend_tests!(
    updates_replace_a_schedule_and_retries_revive_dead_jobs,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let s = inserted(store, schedule("nightly", "0 3 * * *")).await;
        let mut changed = schedule("renamed", "30 4 * * *");
        changed.id = s.id;
        changed.owner = pid("someone-else"); // ignored: the owner is kept
        changed.updated_at = at(9);
        store
            .schedule_update(changed.clone(), Scope::All, vec![])
            .await
            .unwrap();
        let got = store.schedule_get(s.id, Scope::All).await.unwrap();
        assert_eq!(
            (got.name.as_str(), got.cron.expr(), got.owner.as_str()),
            ("renamed", "30 4 * * *", s.owner.as_str())
        );
        assert_eq!((got.created_at, got.updated_at), (s.created_at, at(9)));

        let mut j = job("q");
        j.max_attempts = warden_core::MaxAttempts::new(1).unwrap();
        store
            .job_insert_many(JobInsertParams::new(vec![j.clone()]))
            .await
            .unwrap();
        // Not dead yet: a retry does nothing.
        assert!(
            store
                .job_retry_many(JobRetryParams {
                    ids: vec![j.id],
                    scope: Scope::All,
                    now: at(1),
                    audit: vec![],
                    quota: None
                })
                .await
                .unwrap()
                .is_empty()
        );
        store.job_claim_many(claim("q", 1, t0())).await.unwrap();
        store
            .job_rescue_many(warden_store::RescueParams {
                now: at(60),
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(
            store.job_get(j.id, Scope::All).await.unwrap().state,
            JobState::Dead
        );
        let retried = store
            .job_retry_many(JobRetryParams {
                ids: vec![j.id],
                scope: Scope::All,
                now: at(61),
                audit: vec![],
                quota: None,
            })
            .await
            .unwrap();
        assert_eq!(retried, [j.id]);
        let revived = store.job_get(j.id, Scope::All).await.unwrap();
        assert_eq!(revived.state, JobState::Available);
        assert_eq!((revived.attempt, revived.max_attempts), (1, 2));
        assert_eq!(revived.finished_at, None);
        let again = store.job_claim_many(claim("q", 1, at(62))).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].attempt, 2);
    }
);

backend_tests!(
    runs_are_found_by_id_and_by_schedule_within_scope,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let mut s = schedule("nightly", "0 3 * * *");
        s.owner = pid("alice");
        store
            .schedule_insert(ScheduleInsertParams::new(s.clone()))
            .await
            .unwrap();
        let mut ids = Vec::new();
        for i in 0..3 {
            let mut j = job("q");
            j.owner = pid("alice");
            j.schedule_id = Some(s.id);
            store
                .job_insert_many(JobInsertParams::new(vec![j]))
                .await
                .unwrap();
            let claimed = store.job_claim_many(claim("q", 1, at(i))).await.unwrap();
            let c = &claimed[0];
            store
                .job_complete_many(vec![succeeded(c, at(i), at(i + 1))])
                .await
                .unwrap();
            ids.push(c.id);
        }
        // A job of no schedule does not show up.
        store
            .job_insert_many(JobInsertParams::new(vec![job("q")]))
            .await
            .unwrap();
        // Pages of two, newest first.
        let runs_of = |s: &warden_store::Schedule, scope, before| ScheduleRunFilter {
            schedule_id: s.id,
            scope,
            before,
            limit: 2,
        };
        let newest = store
            .run_list_by_schedule(runs_of(&s, alice(), None))
            .await
            .unwrap();
        assert_eq!(
            newest.iter().map(|r| r.job_id).collect::<Vec<_>>(),
            [ids[2], ids[1]]
        );
        let older = store
            .run_list_by_schedule(runs_of(&s, alice(), Some(newest[1].id)))
            .await
            .unwrap();
        assert_eq!(older.len(), 1);
        assert_eq!(older[0].job_id, ids[0]);
        let run = store.run_get(newest[0].id, alice()).await.unwrap();
        assert_eq!((run.job_id, run.outcome.as_str()), (ids[2], "succeeded"));
        let bob = Scope::Owner(pid("bob"));
        assert!(matches!(
            store.run_get(newest[0].id, bob.clone()).await,
            Err(StoreError::NotFound)
        ));
        assert_empty(store.run_list_by_schedule(runs_of(&s, bob, None))).await;
    }
);

backend_tests!(
    claims_respect_owner_concurrency_limits_and_others_are_not_held_up,
    |db: warden_testkit::TestDb| async move {
        use warden_store::{Limits, PrincipalRecord};
        let store = db.store();
        assert!(!store.principal_limited_any().await.unwrap());
        store
            .principal_upsert(
                PrincipalRecord {
                    id: pid("alice"),
                    disabled: false,
                    limits: Limits {
                        max_concurrent: Some(2),
                        ..Limits::default()
                    },
                    created_at: t0(),
                    updated_at: t0(),
                },
                vec![],
            )
            .await
            .unwrap();
        assert!(store.principal_limited_any().await.unwrap());
        // Alice's five jobs come first in claim order; bob's two after.
        let owners = ["alice", "alice", "alice", "alice", "alice", "bob", "bob"];
        store
            .job_insert_many(JobInsertParams::new(jobs_of("q", &owners)))
            .await
            .unwrap();
        let limited = |limit, now| {
            let mut c = claim("q", limit, now);
            c.owner_limits = true;
            c
        };
        let owners = |claimed: &[warden_store::ClaimedJob]| {
            let mut o: Vec<String> = claimed.iter().map(|c| c.owner.to_string()).collect();
            o.sort();
            o
        };
        let first = store.job_claim_many(limited(10, at(1))).await.unwrap();
        assert_eq!(owners(&first), ["alice", "alice", "bob", "bob"]);
        // Alice is at her limit: nothing more of hers is claimed.
        assert_empty(store.job_claim_many(limited(10, at(2)))).await;
        let a = first.iter().find(|c| c.owner == "alice").unwrap();
        store
            .job_complete_many(vec![succeeded(a, at(1), at(3))])
            .await
            .unwrap();
        let next = store.job_claim_many(limited(10, at(4))).await.unwrap();
        assert_eq!(owners(&next), ["alice"]);
        // Without the flag (no limits known), the plain claim takes whatever is due.
        let plain = store.job_claim_many(claim("q", 10, at(5))).await.unwrap();
        assert_eq!(plain.len(), 2);

        // Not held up: with alice saturated and first in line, a claim of one gets bob's.
        store
            .job_insert_many(JobInsertParams::new(jobs_of(
                "r",
                &["alice", "alice", "bob"],
            )))
            .await
            .unwrap();
        store
            .principal_upsert(
                PrincipalRecord {
                    id: pid("alice"),
                    disabled: false,
                    limits: Limits {
                        max_concurrent: Some(1),
                        ..Limits::default()
                    },
                    created_at: t0(),
                    updated_at: at(6),
                },
                vec![],
            )
            .await
            .unwrap();
        let mut c = claim("r", 1, at(7));
        c.owner_limits = true;
        let got = store.job_claim_many(c).await.unwrap();
        assert_eq!(owners(&got), ["bob"]);
    }
);

backend_tests!(
    idempotency_keys_are_per_owner_and_only_created_jobs_are_audited,
    |db: warden_testkit::TestDb| async move {
        use warden_store::AuditFilter;
        let store = db.store();
        let keyed = |owner: &str| {
            let mut j = job("q");
            j.owner = pid(owner);
            j.idempotency_key = Some("order-42".into());
            j
        };
        // Inserts one job, with the audit record of its creation.
        let create = |j: NewJob| {
            let audit = vec![record(AuditAction::JobCreate, j.id.to_string())];
            store.job_insert_many(JobInsertParams {
                jobs: vec![j],
                audit,
                quota: None,
            })
        };
        let (a, b) = (keyed("alice"), keyed("bob"));
        let first = create(a.clone()).await.unwrap();
        let other = create(b.clone()).await.unwrap();
        assert!(
            !first[0].existing && !other[0].existing,
            "bob's key is his own"
        );
        assert_ne!(first[0].id, other[0].id);
        let dup = create(keyed("alice")).await.unwrap();
        assert_eq!((dup[0].id, dup[0].existing), (a.id, true));
        // The job that was not created has no `job.create` record.
        let trail = store.audit_list(AuditFilter::default()).await.unwrap();
        let targets: Vec<String> = trail
            .iter()
            .filter_map(|e| e.record.target.clone())
            .collect();
        assert_eq!(targets, [b.id.to_string(), a.id.to_string()]);
    }
);

backend_tests!(
    concurrent_inserts_cannot_pass_an_owners_quota_together,
    |db: warden_testkit::TestDb| async move {
        use std::sync::Arc;
        use warden_store::ActiveQuota;
        let store = Arc::new(db.store().clone());
        let quota = ActiveQuota {
            owner: pid("alice"),
            max: 5,
        };
        let mut tasks = Vec::new();
        for _ in 0..30 {
            let (store, quota) = (store.clone(), quota.clone());
            tasks.push(tokio::spawn(async move {
                let mut j = job("q");
                j.owner = pid("alice");
                store
                    .job_insert_many(JobInsertParams {
                        jobs: vec![j],
                        audit: vec![],
                        quota: Some(quota),
                    })
                    .await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(StoreError::QuotaExceeded { max: 5, .. }) => {}
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
        assert_eq!(ok, 5);
        assert_eq!(store.principal_active_count("alice").await.unwrap(), 5);
        // A schedule counts too, and other owners are unaffected.
        let mut s = schedule("s", "0 3 * * *");
        s.owner = pid("alice");
        assert!(matches!(
            store
                .schedule_insert(ScheduleInsertParams {
                    schedule: s,
                    audit: vec![],
                    quota: Some(quota.clone())
                })
                .await,
            Err(StoreError::QuotaExceeded { active: 5, max: 5 })
        ));
        let mut j = job("q");
        j.owner = pid("bob");
        let bob = ActiveQuota {
            owner: pid("bob"),
            max: 5,
        };
        assert!(
            store
                .job_insert_many(JobInsertParams {
                    jobs: vec![j],
                    audit: vec![],
                    quota: Some(bob)
                })
                .await
                .is_ok()
        );
    }
);

backend_tests!(
    replays_pass_at_the_quota_and_retries_are_held_to_it,
    |db: warden_testkit::TestDb| async move {
        use warden_store::ActiveQuota;
        let store = db.store();
        let quota = || {
            Some(ActiveQuota {
                owner: pid("alice"),
                max: 2,
            })
        };
        let keyed = |key: &str| {
            let mut j = job("q");
            j.owner = pid("alice");
            j.idempotency_key = Some(key.into());
            j
        };
        // Alice's job with idempotency key `key`, inserted under her quota.
        let insert_keyed = |key: &str| {
            store.job_insert_many(JobInsertParams {
                jobs: vec![keyed(key)],
                audit: vec![],
                quota: quota(),
            })
        };
        let a = insert_keyed("a").await.unwrap()[0];
        let b = insert_keyed("b").await.unwrap()[0];
        // At the limit, a replay creates nothing and is answered with the existing job.
        let replay = insert_keyed("a").await.unwrap();
        assert_eq!((replay[0].id, replay[0].existing), (a.id, true));
        assert!(matches!(
            insert_keyed("c").await,
            Err(StoreError::QuotaExceeded { active: 2, max: 2 })
        ));
        // Cancelled jobs free room; retrying them takes it back, atomically.
        store
            .job_cancel_many(JobCancelParams {
                ids: vec![a.id, b.id],
                scope: Scope::All,
                now: at(1),
                audit: vec![],
            })
            .await
            .unwrap();
        insert_keyed("c").await.unwrap();
        let one = quota();
        assert!(matches!(
            store
                .job_retry_many(JobRetryParams {
                    ids: vec![a.id, b.id],
                    scope: Scope::All,
                    now: at(2),
                    audit: vec![],
                    quota: one.clone()
                })
                .await,
            Err(StoreError::QuotaExceeded { .. })
        ));
        assert_eq!(
            store.job_get(a.id, Scope::All).await.unwrap().state,
            JobState::Cancelled,
            "nothing half-done"
        );
        assert_eq!(
            store
                .job_retry_many(JobRetryParams {
                    ids: vec![a.id],
                    scope: Scope::All,
                    now: at(3),
                    audit: vec![],
                    quota: one
                })
                .await
                .unwrap(),
            [a.id]
        );
    }
);
