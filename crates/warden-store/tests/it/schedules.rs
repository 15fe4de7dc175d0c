//! Conformance: schedules and the occurrence ledger.

use std::sync::Arc;
use warden_core::Scope;

use warden_core::{JobId, OccurrenceOutcome, OverlapPolicy, Plan};
use warden_store::{
    JobFilter, NewJob, Occurrence, OccurrenceBatch, OccurrenceItem, OccurrencePage, Page, Schedule,
    Store, StoreError,
};
use warden_testkit::backend_tests;

use crate::support::{assert_empty, at, insert_every_minute, inserted, job, schedule};
use warden_store::{ScheduleInsertParams, ScheduleSetPausedParams};

fn run_item(s: &Schedule, secs: i64) -> OccurrenceItem {
    let mut j: NewJob = job("default");
    j.schedule_id = Some(s.id);
    OccurrenceItem {
        scheduled_at: at(secs),
        plan: Plan::Run,
        job: Some(j),
    }
}

/// Records the occurrence of `s` at `t0 + secs`, which runs a job under `overlap`, and moves
/// the schedule on a minute.
async fn fire<S: Store>(
    store: &S,
    s: &Schedule,
    secs: i64,
    overlap: OverlapPolicy,
) -> Vec<Occurrence> {
    store
        .occurrence_record_many(batch(
            s,
            secs,
            Some(secs + 60),
            overlap,
            vec![run_item(s, secs)],
        ))
        .await
        .unwrap()
}

fn batch(
    s: &Schedule,
    from: i64,
    to: Option<i64>,
    overlap: OverlapPolicy,
    items: Vec<OccurrenceItem>,
) -> OccurrenceBatch {
    OccurrenceBatch {
        schedule_id: s.id,
        expected_next_fire_at: at(from),
        new_next_fire_at: to.map(at),
        overlap,
        now: at(from),
        items,
        forbidden: None,
        quota: None,
        blocked_audit: warden_store::AuditContext::default().record(
            at(from),
            warden_core::AuditAction::ScheduleBlocked,
            Some(s.id.to_string()),
            warden_core::AuditOutcome::Denied,
        ),
    }
}

fn outcomes(recorded: &[warden_store::Occurrence]) -> Vec<OccurrenceOutcome> {
    recorded.iter().map(|o| o.outcome).collect()
}

backend_tests!(
    schedules_are_stored_listed_paused_and_deleted,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let s = inserted(store, schedule("nightly", "0 3 * * *")).await;
        let got = store.schedule_get(s.id, Scope::All).await.unwrap();
        assert_eq!(
            (got.name.as_str(), &got.cron, got.next_fire_at),
            ("nightly", &s.cron, s.next_fire_at)
        );
        assert_eq!(
            (got.template.kind.as_str(), got.template.payload.to_json()),
            ("report", serde_json::json!({"k": 1}))
        );
        assert_eq!(
            (got.overlap, got.missed, got.catch_up, got.paused),
            (s.overlap, s.missed, s.catch_up, false)
        );
        let dup = schedule("nightly", "0 4 * * *");
        assert!(matches!(
            store.schedule_insert(ScheduleInsertParams::new(dup)).await,
            Err(StoreError::Conflict(_))
        ));
        store
            .schedule_set_paused(ScheduleSetPausedParams {
                id: s.id,
                scope: Scope::All,
                paused: true,
                now: at(1),
                audit: vec![],
            })
            .await
            .unwrap();
        assert!(store.schedule_get(s.id, Scope::All).await.unwrap().paused);
        assert_eq!(
            store
                .schedule_list(Page::default(), Scope::All)
                .await
                .unwrap()
                .len(),
            1
        );
        store
            .schedule_delete(s.id, Scope::All, vec![])
            .await
            .unwrap();
        assert!(matches!(
            store.schedule_get(s.id, Scope::All).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.schedule_delete(s.id, Scope::All, vec![]).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store
                .schedule_set_paused(ScheduleSetPausedParams {
                    id: s.id,
                    scope: Scope::All,
                    paused: false,
                    now: at(2),
                    audit: vec![]
                })
                .await,
            Err(StoreError::NotFound)
        ));
    }
);

backend_tests!(
    due_schedules_and_the_next_fire_time_are_found,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        assert_eq!(store.schedule_next_fire_at().await.unwrap(), None);
        let s = insert_every_minute(store, "every-minute").await;
        assert_eq!(store.schedule_next_fire_at().await.unwrap(), Some(at(60)));
        assert_empty(store.schedule_due_many(at(59), at(59), 10)).await;
        let due = store.schedule_due_many(at(60), at(60), 10).await.unwrap();
        assert_eq!(due[0].as_ref().unwrap().id, s.id);
    }
);

backend_tests!(
    a_schedule_row_that_does_not_decode_is_returned_apart_from_the_others,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let mut good = schedule("good", "* * * * *");
        good.next_fire_at = Some(at(60));
        let mut bad = schedule("bad", "* * * * *");
        bad.next_fire_at = Some(at(30));
        for s in [&good, &bad] {
            store
                .schedule_insert(ScheduleInsertParams::new(s.clone()))
                .await
                .unwrap();
        }
        // Written by hand, past the parser: a zone this build does not know.
        db.execute(&format!(
            "UPDATE schedules SET timezone = 'Mars/Olympus' WHERE name = 'bad' AND id = '{}'",
            bad.id
        ))
        .await;
        let due = store.schedule_due_many(at(60), at(60), 10).await.unwrap();
        assert_eq!(due.len(), 2, "{due:?}");
        let broken = due[0].as_ref().unwrap_err();
        assert_eq!((broken.id, broken.next_fire_at), (bad.id, Some(at(30))));
        assert!(
            matches!(&broken.error, StoreError::Corrupt(m) if m.contains("Mars/Olympus")),
            "{:?}",
            broken.error
        );
        assert_eq!(due[1].as_ref().unwrap().id, good.id);
    }
);

backend_tests!(
    occurrences_are_recorded_once_and_run_once,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let s = insert_every_minute(store, "s").await;
        let items = vec![
            OccurrenceItem {
                scheduled_at: at(60),
                plan: Plan::Record(OccurrenceOutcome::MissedDowntime),
                job: None,
            },
            run_item(&s, 120),
        ];
        let recorded = store
            .occurrence_record_many(batch(
                &s,
                60,
                Some(180),
                OverlapPolicy::Allow,
                items.clone(),
            ))
            .await
            .unwrap();
        assert_eq!(
            outcomes(&recorded),
            [OccurrenceOutcome::MissedDowntime, OccurrenceOutcome::Ran]
        );
        let job_id = recorded[1].job_id.unwrap();
        assert_eq!(
            store.job_get(job_id, Scope::All).await.unwrap().schedule_id,
            Some(s.id)
        );
        assert_eq!(
            store
                .schedule_get(s.id, Scope::All)
                .await
                .unwrap()
                .next_fire_at,
            Some(at(180))
        );
        // The same batch again: the cursor moved, nothing is written.
        let again = store
            .occurrence_record_many(batch(&s, 60, Some(180), OverlapPolicy::Allow, items))
            .await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
        // An occurrence already in the ledger is not recorded or run again, even from a fresh cursor.
        let repeat = store
            .occurrence_record_many(batch(
                &s,
                180,
                Some(240),
                OverlapPolicy::Allow,
                vec![run_item(&s, 120)],
            ))
            .await;
        assert!(repeat.unwrap().is_empty());
        let ledger = store
            .occurrence_list(s.id, Scope::All, OccurrencePage::default())
            .await
            .unwrap();
        assert_eq!(
            ledger
                .iter()
                .map(|o| (o.scheduled_at, o.outcome))
                .collect::<Vec<_>>(),
            [
                (at(60), OccurrenceOutcome::MissedDowntime),
                (at(120), OccurrenceOutcome::Ran)
            ]
        );
        // Paging: one at a time, after the last one seen.
        let page = |after| OccurrencePage { limit: 1, after };
        let first = store
            .occurrence_list(s.id, Scope::All, page(None))
            .await
            .unwrap();
        assert_eq!(first.len(), 1);
        let second = store
            .occurrence_list(s.id, Scope::All, page(Some(first[0].scheduled_at)))
            .await
            .unwrap();
        assert_eq!(second[0].scheduled_at, at(120));
        let none = store
            .occurrence_list(s.id, Scope::All, page(Some(at(120))))
            .await
            .unwrap();
        assert!(none.is_empty());
        let jobs = store
            .job_list(JobFilter {
                scope: Scope::All,
                schedule_id: Some(s.id),
                ..JobFilter::new(Scope::All)
            })
            .await
            .unwrap();
        assert_eq!(jobs.iter().map(|j| j.id).collect::<Vec<JobId>>(), [job_id]);
    }
);

backend_tests!(
    overlap_forbid_skips_and_replace_cancels_the_active_job,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let s = insert_every_minute(store, "s").await;
        let first = fire(store, &s, 60, OverlapPolicy::Forbid).await;
        let first_job = first[0].job_id.unwrap();
        let skipped = fire(store, &s, 120, OverlapPolicy::Forbid).await;
        assert_eq!(
            (skipped[0].outcome, skipped[0].job_id),
            (OccurrenceOutcome::SkippedOverlap, None)
        );
        let replaced = fire(store, &s, 180, OverlapPolicy::Replace).await;
        assert_eq!(replaced[0].outcome, OccurrenceOutcome::Ran);
        assert_eq!(
            store.job_get(first_job, Scope::All).await.unwrap().state,
            warden_core::JobState::Cancelled
        );
        // Within one batch, forbid lets only the first of several catch-up runs start.
        let both = store
            .occurrence_record_many(batch(
                &s,
                240,
                None,
                OverlapPolicy::Forbid,
                vec![run_item(&s, 240), run_item(&s, 300)],
            ))
            .await
            .unwrap();
        assert_eq!(
            outcomes(&both),
            [
                OccurrenceOutcome::SkippedOverlap,
                OccurrenceOutcome::SkippedOverlap
            ]
        );
        assert_eq!(
            store
                .schedule_get(s.id, Scope::All)
                .await
                .unwrap()
                .next_fire_at,
            None
        );
    }
);

backend_tests!(
    racing_enqueuers_store_and_run_an_occurrence_once,
    |db: warden_testkit::TestDb| async move {
        let store = Arc::new(db.store().clone());
        let s = insert_every_minute(&*store, "race").await;
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (store, s) = (store.clone(), s.clone());
            tasks.push(tokio::spawn(async move {
                store
                    .occurrence_record_many(batch(
                        &s,
                        60,
                        Some(120),
                        OverlapPolicy::Allow,
                        vec![run_item(&s, 60)],
                    ))
                    .await
            }));
        }
        let mut winners = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(recorded) if recorded.len() == 1 => winners += 1,
                Ok(recorded) => assert!(recorded.is_empty()),
                Err(StoreError::Conflict(_)) => {}
                Err(e) => panic!("unexpected error: {e:?}"),
            }
        }
        assert_eq!(winners, 1);
        assert_eq!(
            store
                .occurrence_list(s.id, Scope::All, OccurrencePage::default())
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            store
                .job_list(JobFilter {
                    scope: Scope::All,
                    schedule_id: Some(s.id),
                    ..JobFilter::new(Scope::All)
                })
                .await
                .unwrap()
                .len(),
            1
        );
    }
);

// Plain batches of many schedules in one call: each is recorded as `occurrence_record_many`
// would record it; a batch whose cursor moved is reported and writes nothing; an
// occurrence already in the ledger gets no second job; a batch that is not plain is
// refused whole.
backend_tests!(
    plain_batches_of_many_schedules_are_recorded_together_and_once,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let a = insert_every_minute(store, "a").await;
        let b = insert_every_minute(store, "b").await;
        let moved = insert_every_minute(store, "moved").await;
        let plain = |s: &Schedule, from, items| {
            batch(s, from, Some(from + 60), OverlapPolicy::Allow, items)
        };
        let missed = OccurrenceItem {
            scheduled_at: at(60),
            plan: Plan::Record(OccurrenceOutcome::MissedDowntime),
            job: None,
        };
        let recorded = store
            .occurrence_record_plain(vec![
                plain(&a, 60, vec![run_item(&a, 60)]),
                plain(&b, 60, vec![missed]),
                // Expects a cursor the schedule does not have: another enqueuer moved it.
                plain(&moved, 0, vec![run_item(&moved, 0)]),
            ])
            .await
            .unwrap();
        assert_eq!(recorded.len(), 3);
        let ran = recorded[0].as_ref().unwrap();
        assert_eq!(outcomes(ran), [OccurrenceOutcome::Ran]);
        let job = store
            .job_get(ran[0].job_id.unwrap(), Scope::All)
            .await
            .unwrap();
        assert_eq!(job.schedule_id, Some(a.id));
        assert_eq!(
            outcomes(recorded[1].as_ref().unwrap()),
            [OccurrenceOutcome::MissedDowntime]
        );
        assert!(recorded[1].as_ref().unwrap()[0].job_id.is_none());
        assert!(recorded[2].is_none(), "{:?}", recorded[2]);
        for (s, next) in [(&a, at(120)), (&b, at(120)), (&moved, at(60))] {
            let read = store.schedule_get(s.id, Scope::All).await.unwrap();
            assert_eq!(read.next_fire_at, Some(next), "{}", s.name);
        }
        assert_empty(store.occurrence_list(moved.id, Scope::All, OccurrencePage::default())).await;

        // `a` at 60 again, from a fresh cursor (a schedule update moved it back): the
        // ledger keeps the first record and no second job is inserted.
        let again = store
            .occurrence_record_plain(vec![plain(
                &a,
                120,
                vec![run_item(&a, 60), run_item(&a, 120)],
            )])
            .await
            .unwrap();
        let again = again[0].as_ref().unwrap();
        assert_eq!(
            again.iter().map(|o| o.scheduled_at).collect::<Vec<_>>(),
            [at(120)]
        );
        let jobs = store
            .job_list(JobFilter {
                schedule_id: Some(a.id),
                ..JobFilter::new(Scope::All)
            })
            .await
            .unwrap();
        assert_eq!(jobs.len(), 2, "one job per occurrence: {jobs:?}");

        // Not plain (overlap `forbid` needs the active jobs read in the transaction):
        // refused, nothing written.
        let refused = store
            .occurrence_record_plain(vec![
                plain(&b, 120, vec![run_item(&b, 120)]),
                batch(
                    &moved,
                    60,
                    Some(120),
                    OverlapPolicy::Forbid,
                    vec![run_item(&moved, 60)],
                ),
            ])
            .await;
        assert!(
            matches!(refused, Err(StoreError::Conflict(_))),
            "{refused:?}"
        );
        let read = store.schedule_get(b.id, Scope::All).await.unwrap();
        assert_eq!(read.next_fire_at, Some(at(120)));
    }
);
