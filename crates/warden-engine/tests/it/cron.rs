//! Cron: every occurrence is accounted for across a restart according to the schedule's
//! missed-run policy; a live engine fires schedules on time.

use std::{sync::Arc, time::Duration};
use warden_core::Scope;

use jiff::Timestamp;
use warden_core::{ManualClock, MissedPolicy, OccurrenceOutcome, OverlapPolicy};
use warden_engine::{CronRequest, Engine, EngineConfig};
use warden_store::{JobFilter, Page, Store};
use warden_testkit::{TestDb, backend_tests};

use crate::support::{fast_config, recording_registry};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn request(name: &str, missed: MissedPolicy) -> CronRequest {
    let mut r = CronRequest::new(name, "* * * * *", "record");
    r.missed = missed;
    r.overlap = OverlapPolicy::Allow;
    r.catch_up = Duration::from_secs(180);
    r
}

backend_tests!(
    occurrences_slept_through_are_recorded_by_policy,
    |db: TestDb| async move {
        let (registry, _rx) = recording_registry();
        let store = Arc::new(db.store().clone());
        let clock = ManualClock::new(ts("2030-01-01T00:00:30Z"));
        let config = EngineConfig {
            cron_grace: Duration::from_secs(10),
            run_cron: false,
            ..fast_config()
        };
        let scheduler = Engine::scheduler(
            store.clone(),
            registry.clone(),
            config.clone(),
            Arc::new(clock.clone()),
        )
        .unwrap();
        let skip = scheduler
            .add_cron(request("skip", MissedPolicy::Skip))
            .await
            .unwrap();
        let latest = scheduler
            .add_cron(request("latest", MissedPolicy::Latest))
            .await
            .unwrap();
        let all = scheduler
            .add_cron(request("all", MissedPolicy::All))
            .await
            .unwrap();
        let paused = scheduler
            .add_cron(CronRequest {
                paused: true,
                ..request("paused", MissedPolicy::All)
            })
            .await
            .unwrap();

        // Up at 00:00:30; the 00:01 occurrence is enqueued on time.
        let engine = Engine::start_with_clock(
            store.clone(),
            registry.clone(),
            config.clone(),
            Arc::new(clock.clone()),
        )
        .unwrap();
        clock.set(ts("2030-01-01T00:01:02Z"));
        let first = engine
            .cron_enqueuer(ts("2030-01-01T00:00:30Z"))
            .run_once()
            .await
            .unwrap();
        assert_eq!(first.len(), 4);
        engine.shutdown().await;

        // Down from 00:01:02 to 00:06:30: 00:02 … 00:06 were slept through.
        clock.set(ts("2030-01-01T00:06:30Z"));
        let engine =
            Engine::start_with_clock(store.clone(), registry, config, Arc::new(clock.clone()))
                .unwrap();
        engine
            .cron_enqueuer(ts("2030-01-01T00:06:30Z"))
            .run_once()
            .await
            .unwrap();
        engine.shutdown().await;

        use OccurrenceOutcome::*;
        let ledger = |id| {
            let store = store.clone();
            async move {
                store
                    .occurrence_list(id, Scope::All, Page::default())
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|o| o.outcome)
                    .collect::<Vec<_>>()
            }
        };
        assert_eq!(
            ledger(skip).await,
            [
                Ran,
                MissedDowntime,
                MissedDowntime,
                MissedDowntime,
                MissedDowntime,
                MissedDowntime
            ]
        );
        assert_eq!(
            ledger(latest).await,
            [
                Ran,
                MissedDowntime,
                MissedDowntime,
                MissedDowntime,
                MissedDowntime,
                Ran
            ]
        );
        // `all` catches up within its 3-minute window: 00:04, 00:05 and 00:06.
        assert_eq!(
            ledger(all).await,
            [Ran, MissedDowntime, MissedDowntime, Ran, Ran, Ran]
        );
        assert_eq!(ledger(paused).await, [SkippedPaused; 6]);
        for (id, jobs) in [(skip, 1), (latest, 2), (all, 4), (paused, 0)] {
            let made = store
                .job_list(JobFilter {
                    scope: Scope::All,
                    schedule_id: Some(id),
                    ..JobFilter::new(Scope::All)
                })
                .await
                .unwrap();
            assert_eq!(made.len(), jobs);
            let s = store.schedule_get(id, Scope::All).await.unwrap();
            assert_eq!(
                s.next_fire_at,
                Some(ts("2030-01-01T00:07:00Z")),
                "cursor after the last recorded occurrence"
            );
        }
    }
);

backend_tests!(
    a_running_engine_fires_a_new_schedule_on_time,
    |db: TestDb| async move {
        let (registry, mut rx) = recording_registry();
        let store = Arc::new(db.store().clone());
        let engine = Engine::start(store.clone(), registry, fast_config()).unwrap();
        let mut every_second = CronRequest::new("tick", "* * * * * *", "record");
        every_second.job.data = serde_json::json!({"n": 42});
        let id = engine.scheduler().add_cron(every_second).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("fired within 5 s");
        assert_eq!(got, Some(42));
        engine.scheduler().pause_schedule(id).await.unwrap();
        engine.shutdown().await;
        let ledger = store
            .occurrence_list(id, Scope::All, Page::default())
            .await
            .unwrap();
        assert!(ledger.iter().any(|o| o.outcome == OccurrenceOutcome::Ran));
        // Consecutive occurrences are one second apart: none was skipped or doubled.
        for pair in ledger.windows(2) {
            assert_eq!(
                pair[1].scheduled_at.duration_since(pair[0].scheduled_at),
                jiff::SignedDuration::from_secs(1)
            );
        }
    }
);

backend_tests!(
    two_enqueuers_racing_record_and_run_each_occurrence_once,
    |db: TestDb| async move {
        let (registry, mut rx) = recording_registry();
        let store = Arc::new(db.store().clone());
        let clock = ManualClock::new(ts("2030-01-01T00:00:30Z"));
        let config = EngineConfig {
            run_cron: false,
            ..fast_config()
        };
        let scheduler = Engine::scheduler(
            store.clone(),
            registry.clone(),
            config.clone(),
            Arc::new(clock.clone()),
        )
        .unwrap();
        let mut req = request("raced", MissedPolicy::All);
        req.job.data = serde_json::json!({"n": 1});
        let id = scheduler.add_cron(req).await.unwrap();
        // Two engines (as two warden processes) tick the same due occurrence at the same time.
        let a = Engine::start_with_clock(
            store.clone(),
            registry.clone(),
            config.clone(),
            Arc::new(clock.clone()),
        )
        .unwrap();
        let b = Engine::start_with_clock(store.clone(), registry, config, Arc::new(clock.clone()))
            .unwrap();
        clock.set(ts("2030-01-01T00:01:00Z"));
        let (ea, eb) = (
            a.cron_enqueuer(ts("2030-01-01T00:00:30Z")),
            b.cron_enqueuer(ts("2030-01-01T00:00:30Z")),
        );
        let (ra, rb) = tokio::join!(ea.run_once(), eb.run_once());
        assert_eq!(
            ra.unwrap().len() + rb.unwrap().len(),
            1,
            "exactly one enqueuer recorded the occurrence"
        );
        assert_eq!(rx.recv().await, Some(1));
        a.shutdown().await;
        b.shutdown().await;
        assert!(rx.try_recv().is_err(), "the occurrence ran twice");
        assert_eq!(
            store
                .occurrence_list(id, Scope::All, Page::default())
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            store
                .job_list(JobFilter {
                    scope: Scope::All,
                    schedule_id: Some(id),
                    ..JobFilter::new(Scope::All)
                })
                .await
                .unwrap()
                .len(),
            1
        );
    }
);
