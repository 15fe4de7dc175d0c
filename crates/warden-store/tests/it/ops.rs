//! Conformance: the `/cron/run` history, named locks and scheduler health.

use jiff::{SignedDuration, Timestamp};
use warden_core::CronRunOutcome;
use warden_core::{JobState, Scope};
use warden_store::{
    CompletionResult, CronRun, CronRunRecord, JobCancelParams, JobInsertParams, LockAcquireParams,
    OpsStore, Store,
};
use warden_testkit::backend_tests;

use crate::support::{at, claim, job, succeeded, t0};

/// Take lock `name` for `holder` from `now` until `until`.
fn lock_params(name: &str, holder: &str, now: Timestamp, until: Timestamp) -> LockAcquireParams {
    LockAcquireParams {
        name: name.to_owned(),
        holder: holder.to_owned(),
        now,
        until,
    }
}

/// `secs` after t0 plus some microseconds, so a round trip proves microsecond precision.
fn at_us(secs: i64, micros: i64) -> Timestamp {
    at(secs)
        .checked_add(SignedDuration::from_micros(micros))
        .unwrap()
}

fn full(outcome: CronRunOutcome, secs: i64) -> CronRunRecord {
    CronRunRecord {
        at: at_us(secs, 123_457),
        outcome,
        duration_ms: 1234,
        fired: 3,
        skipped: 1,
        missed: 2,
        dispatched: 5,
        client_ip: Some("203.0.113.7".into()),
        user_agent: Some("curl/8.5".into()),
        request_id: Some(format!("req-{secs}")),
        detail: Some("a detail".into()),
    }
}

fn bare(outcome: CronRunOutcome, secs: i64) -> CronRunRecord {
    CronRunRecord {
        at: at(secs),
        outcome,
        duration_ms: 0,
        fired: 0,
        skipped: 0,
        missed: 0,
        dispatched: 0,
        client_ip: None,
        user_agent: None,
        request_id: None,
        detail: None,
    }
}

fn ids(runs: &[CronRun]) -> Vec<i64> {
    runs.iter().map(|r| r.id).collect()
}

backend_tests!(
    cron_runs_round_trip_newest_first_with_a_cursor,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        assert!(store.cron_run_list(None, 0).await.unwrap().is_empty());
        let (r1, r2, r3) = (
            full(CronRunOutcome::Ok, 1),
            bare(CronRunOutcome::Unauthorized, 2),
            full(CronRunOutcome::Failed, 3),
        );
        let id1 = store.cron_run_insert(r1.clone()).await.unwrap();
        let id2 = store.cron_run_insert(r2.clone()).await.unwrap();
        let id3 = store.cron_run_insert(r3.clone()).await.unwrap();
        assert!(id1 < id2 && id2 < id3, "ids increase: {id1} {id2} {id3}");

        // Every field comes back, the absent ones as None; newest first.
        let all = store.cron_run_list(None, 0).await.unwrap();
        let expected = vec![
            CronRun {
                id: id3,
                record: r3,
            },
            CronRun {
                id: id2,
                record: r2,
            },
            CronRun {
                id: id1,
                record: r1,
            },
        ];
        assert_eq!(all, expected);

        // `before` pages: ids strictly lower than the cursor.
        let page = store.cron_run_list(Some(id3), 0).await.unwrap();
        assert_eq!(page, expected[1..]);
        assert_eq!(
            ids(&store.cron_run_list(Some(id2), 0).await.unwrap()),
            [id1]
        );
        assert!(store.cron_run_list(Some(id1), 0).await.unwrap().is_empty());
        // The limit is respected, and a page continues where the last one stopped.
        let first = store.cron_run_list(None, 2).await.unwrap();
        assert_eq!(ids(&first), [id3, id2]);
        let next = store
            .cron_run_list(Some(first.last().unwrap().id), 2)
            .await
            .unwrap();
        assert_eq!(ids(&next), [id1]);
        assert_eq!(ids(&store.cron_run_list(None, 1).await.unwrap()), [id3]);
    }
);

backend_tests!(
    cron_run_listing_defaults_to_100_and_caps_at_500,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let mut last = 0;
        for i in 0..505 {
            let id = store
                .cron_run_insert(bare(CronRunOutcome::Ok, i))
                .await
                .unwrap();
            assert!(id > last);
            last = id;
        }
        let default = store.cron_run_list(None, 0).await.unwrap();
        assert_eq!(default.len(), 100);
        assert_eq!(default[0].id, last);
        assert_eq!(default[0].record.at, at(504));
        assert_eq!(store.cron_run_list(None, 501).await.unwrap().len(), 500);
        assert_eq!(
            store.cron_run_list(None, u32::MAX).await.unwrap().len(),
            500
        );
        assert_eq!(store.cron_run_list(None, 500).await.unwrap().len(), 500);
        assert_eq!(store.cron_run_list(None, 7).await.unwrap().len(), 7);
    }
);

backend_tests!(
    a_lock_is_held_until_released_or_expired,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let (now, until) = (t0(), at(60));
        assert!(
            store
                .lock_acquire(lock_params("cron", "a", now, until))
                .await
                .unwrap()
        );
        // Held and unexpired: refused to anyone else, and to `a` again (not re-entrant).
        assert!(
            !store
                .lock_acquire(lock_params("cron", "b", now, until))
                .await
                .unwrap()
        );
        assert!(
            !store
                .lock_acquire(lock_params("cron", "b", at(59), at(120)))
                .await
                .unwrap()
        );
        assert!(
            !store
                .lock_acquire(lock_params("cron", "a", at(1), at(90)))
                .await
                .unwrap()
        );
        // Another name is another lock.
        assert!(
            store
                .lock_acquire(lock_params("other", "b", now, until))
                .await
                .unwrap()
        );
        // A non-holder cannot release it.
        assert!(!store.lock_release("cron", "b").await.unwrap());
        assert!(
            !store
                .lock_acquire(lock_params("cron", "c", at(1), at(90)))
                .await
                .unwrap()
        );
        // Its holder can; then it is free.
        assert!(store.lock_release("cron", "a").await.unwrap());
        assert!(!store.lock_release("cron", "a").await.unwrap());
        assert!(
            store
                .lock_acquire(lock_params("cron", "b", at(2), at(30)))
                .await
                .unwrap()
        );
        assert!(
            !store
                .lock_acquire(lock_params("cron", "c", at(29), at(90)))
                .await
                .unwrap()
        );
        // B's time passes (expires_at <= now): C takes it over without B releasing.
        assert!(
            store
                .lock_acquire(lock_params("cron", "c", at(30), at(90)))
                .await
                .unwrap()
        );
        // B no longer holds it: its release does nothing, and C keeps the lock.
        assert!(!store.lock_release("cron", "b").await.unwrap());
        assert!(
            !store
                .lock_acquire(lock_params("cron", "d", at(31), at(95)))
                .await
                .unwrap()
        );
        // C's new expiry applies (not B's).
        assert!(
            !store
                .lock_acquire(lock_params("cron", "d", at(89), at(95)))
                .await
                .unwrap()
        );
        assert!(store.lock_release("cron", "c").await.unwrap());
        assert!(
            store
                .lock_acquire(lock_params("cron", "d", at(31), at(95)))
                .await
                .unwrap()
        );
        // The other lock was untouched throughout.
        assert!(
            !store
                .lock_acquire(lock_params("other", "x", at(59), at(99)))
                .await
                .unwrap()
        );
        assert!(store.lock_release("other", "b").await.unwrap());
    }
);

/// Runs 20 acquisitions of `name` by distinct holders at once; returns the winners.
async fn race(store: &warden_store::AnyStore, name: &str, now: Timestamp) -> Vec<String> {
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (store, name, holder) = (store.clone(), name.to_owned(), format!("holder-{i}"));
            tokio::spawn(async move {
                let won = store
                    .lock_acquire(lock_params(
                        &name,
                        &holder,
                        now,
                        now + SignedDuration::from_secs(60),
                    ))
                    .await
                    .unwrap();
                won.then_some(holder)
            })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        winners.extend(t.await.unwrap());
    }
    winners
}

backend_tests!(
    concurrent_acquisitions_have_exactly_one_winner,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        for round in 0..5 {
            // A free lock (the insert races) ...
            let name = format!("fresh-{round}");
            let winners = race(store, &name, t0()).await;
            assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
            // ... and an expired one (the takeover races).
            let later = at(60);
            let winners_later = race(store, &name, later).await;
            assert_eq!(winners_later.len(), 1, "round {round}: {winners_later:?}");
            // The winner holds it: it alone can release it.
            assert!(store.lock_release(&name, &winners_later[0]).await.unwrap());
        }
    }
);

backend_tests!(
    the_last_tick_never_moves_backwards,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        assert_eq!(store.tick_last().await.unwrap(), None);
        let (t1, t2, t3) = (at_us(1, 1), at_us(2, 999_999), at_us(3, 7));
        store.tick_record(t2).await.unwrap();
        assert_eq!(store.tick_last().await.unwrap(), Some(t2));
        store.tick_record(t1).await.unwrap();
        assert_eq!(store.tick_last().await.unwrap(), Some(t2));
        store.tick_record(t2).await.unwrap();
        assert_eq!(store.tick_last().await.unwrap(), Some(t2));
        store.tick_record(t3).await.unwrap();
        assert_eq!(store.tick_last().await.unwrap(), Some(t3));
    }
);

backend_tests!(
    the_oldest_waiting_job_counts_only_due_waiting_jobs,
    |db: warden_testkit::TestDb| async move {
        let store = db.store();
        let now = t0();
        assert_eq!(store.job_oldest_waiting(now).await.unwrap(), None);

        // Older than every waiting job, but running, succeeded, dead or cancelled.
        let mut running = job("running");
        running.run_at = at(-400);
        let mut done = job("done");
        done.run_at = at(-500);
        let mut dead = job("dead");
        dead.run_at = at(-600);
        let mut cancelled = job("cancelled");
        cancelled.run_at = at(-700);
        // Waiting, but not due yet.
        let mut future = job("future");
        future.run_at = at(100);
        store
            .job_insert_many(JobInsertParams::new(vec![
                running.clone(),
                done.clone(),
                dead.clone(),
                cancelled.clone(),
                future.clone(),
            ]))
            .await
            .unwrap();
        store
            .job_claim_many(claim("running", 1, now))
            .await
            .unwrap();
        let c = store
            .job_claim_many(claim("done", 1, now))
            .await
            .unwrap()
            .remove(0);
        let mut dead_c = succeeded(
            &store
                .job_claim_many(claim("dead", 1, now))
                .await
                .unwrap()
                .remove(0),
            now,
            at(1),
        );
        dead_c.result = CompletionResult::Dead {
            error: "boom".into(),
        };
        store
            .job_complete_many(vec![succeeded(&c, now, at(1)), dead_c])
            .await
            .unwrap();
        store
            .job_cancel_many(JobCancelParams {
                ids: vec![cancelled.id],
                scope: Scope::All,
                now,
                audit: vec![],
            })
            .await
            .unwrap();
        for (j, state) in [
            (&running, JobState::Running),
            (&done, JobState::Succeeded),
            (&dead, JobState::Dead),
            (&cancelled, JobState::Cancelled),
            (&future, JobState::Scheduled),
        ] {
            assert_eq!(store.job_get(j.id, Scope::All).await.unwrap().state, state);
        }
        assert_eq!(store.job_oldest_waiting(now).await.unwrap(), None);
        // The future job counts once its time has come.
        assert_eq!(
            store.job_oldest_waiting(at(100)).await.unwrap(),
            Some(at(100))
        );

        // An available job, a scheduled one now due, and a retryable one now due.
        let mut available = job("available");
        available.run_at = at_us(-20, 5);
        available.created_at = at(-20);
        let mut scheduled = job("scheduled");
        scheduled.run_at = at(-50);
        scheduled.created_at = at(-60);
        let retried = job("retried");
        store
            .job_insert_many(JobInsertParams::new(vec![
                available.clone(),
                scheduled.clone(),
                retried.clone(),
            ]))
            .await
            .unwrap();
        assert_eq!(
            store.job_get(scheduled.id, Scope::All).await.unwrap().state,
            JobState::Scheduled
        );
        assert_eq!(
            store.job_oldest_waiting(now).await.unwrap(),
            Some(at(-50)),
            "a due scheduled job waits"
        );
        let r = store
            .job_claim_many(claim("retried", 1, now))
            .await
            .unwrap()
            .remove(0);
        let mut retry = succeeded(&r, now, at(1));
        retry.result = CompletionResult::Retry {
            run_at: at(-200),
            error: "again".into(),
        };
        store.job_complete_many(vec![retry]).await.unwrap();
        assert_eq!(
            store.job_get(retried.id, Scope::All).await.unwrap().state,
            JobState::Retryable
        );
        assert_eq!(
            store.job_oldest_waiting(now).await.unwrap(),
            Some(at(-200)),
            "a due retryable job waits"
        );
        // Only jobs due at `now` count.
        assert_eq!(
            store.job_oldest_waiting(at(-100)).await.unwrap(),
            Some(at(-200))
        );
        assert_eq!(store.job_oldest_waiting(at(-201)).await.unwrap(), None);

        // Claimed, the retryable job stops waiting; the others remain, oldest first.
        store
            .job_claim_many(claim("retried", 1, now))
            .await
            .unwrap();
        assert_eq!(store.job_oldest_waiting(now).await.unwrap(), Some(at(-50)));
        store
            .job_claim_many(claim("scheduled", 1, now))
            .await
            .unwrap();
        assert_eq!(
            store.job_oldest_waiting(now).await.unwrap(),
            Some(at_us(-20, 5)),
            "an available job waits"
        );
        store
            .job_claim_many(claim("available", 1, now))
            .await
            .unwrap();
        assert_eq!(store.job_oldest_waiting(now).await.unwrap(), None);
        assert_eq!(
            store.job_oldest_waiting(at(100)).await.unwrap(),
            Some(at(100))
        );
    }
);
