//! Cron: every occurrence is accounted for across a restart according to the schedule's
//! missed-run policy; a live engine fires schedules on time; a schedule whose row does
//! not decode is set aside with a backoff while the others fire.

use std::{sync::Arc, time::Duration};
use warden_core::Scope;

use jiff::Timestamp;
use warden_core::{Clock, JobState, MissedPolicy, OccurrenceOutcome, OverlapPolicy};
use warden_engine::{CronRequest, Engine, EngineConfig};
use warden_store::{JobFilter, OccurrencePage, OpsStore, Store};
use warden_testkit::{TestDb, backend_tests};

use crate::support::{
    clock_at_2030, fast_config, no_cron_loop, no_cron_loop_short_grace, recording_registry,
    scheduler_on_clock, start_on_clock, ticked_by_hand,
};

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
        let clock = clock_at_2030();
        let config = no_cron_loop_short_grace();
        let scheduler = scheduler_on_clock(&store, &registry, &config, &clock);
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
        let engine = start_on_clock(&store, registry.clone(), config.clone(), &clock);
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
        let engine = start_on_clock(&store, registry, config, &clock);
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
                    .occurrence_list(id, Scope::All, OccurrencePage::default())
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
            .occurrence_list(id, Scope::All, OccurrencePage::default())
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
        let clock = clock_at_2030();
        let (scheduler, config) = ticked_by_hand(&store, &registry, &clock);
        let mut req = request("raced", MissedPolicy::All);
        req.job.data = serde_json::json!({"n": 1});
        let id = scheduler.add_cron(req).await.unwrap();
        // Two engines (as two warden processes) tick the same due occurrence at the same time.
        let a = start_on_clock(&store, registry.clone(), config.clone(), &clock);
        let b = start_on_clock(&store, registry, config, &clock);
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
                .occurrence_list(id, Scope::All, OccurrencePage::default())
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

// A schedule row that no longer decodes (a time zone written by hand) must not stop
// the other schedules, nor make the enqueuer retry it (and log) on every tick.
backend_tests!(
    a_schedule_that_does_not_decode_is_set_aside_and_the_others_still_fire,
    |db: TestDb| async move {
        let (registry, _rx) = recording_registry();
        let store = Arc::new(db.store().clone());
        let clock = clock_at_2030();
        let engine = start_on_clock(&store, registry, no_cron_loop(), &clock);
        let good = engine
            .scheduler()
            .add_cron(request("good", MissedPolicy::All))
            .await
            .unwrap();
        let bad = engine
            .scheduler()
            .add_cron(request("bad", MissedPolicy::All))
            .await
            .unwrap();
        db.execute(&format!(
            "UPDATE schedules SET timezone = 'Mars/Olympus' WHERE id = '{bad}'"
        ))
        .await;
        let enqueuer = engine.cron_enqueuer(ts("2030-01-01T00:00:30Z"));
        let ms = |n| jiff::SignedDuration::from_millis(n);

        // 00:01 is due for both: the good one fires, the bad one is set aside for ~1 s.
        clock.set(ts("2030-01-01T00:01:02Z"));
        let recorded = enqueuer.run_once().await.unwrap();
        assert_eq!(
            recorded.iter().map(|o| o.schedule_id).collect::<Vec<_>>(),
            [good]
        );
        let failing = enqueuer.failing();
        assert_eq!(
            failing
                .iter()
                .map(|f| (f.id, f.failures))
                .collect::<Vec<_>>(),
            [(bad, 1)]
        );
        assert!(failing[0].error.contains("Mars/Olympus"), "{failing:?}");
        let retry_at = failing[0].retry_at;
        let backoff = retry_at.duration_since(clock.now());
        assert!(backoff >= ms(900) && backoff <= ms(1100), "{backoff:?}");
        // The loop sleeps until that retry, not zero (the bad cursor stays overdue).
        let wait = enqueuer.until_next_tick().await.unwrap();
        assert!(
            wait >= Duration::from_millis(900) && wait <= Duration::from_millis(1100),
            "{wait:?}"
        );

        // Before the retry time, ticks neither try it again nor report it again.
        clock.advance(ms(500));
        assert!(enqueuer.run_once().await.unwrap().is_empty());
        assert_eq!(enqueuer.failing()[0].failures, 1);

        // After it, it is tried and reported once more, and the backoff doubles.
        clock.set(retry_at.checked_add(ms(1)).unwrap());
        assert!(enqueuer.run_once().await.unwrap().is_empty());
        let failing = enqueuer.failing();
        assert_eq!(failing[0].failures, 2);
        let backoff = failing[0].retry_at.duration_since(clock.now());
        assert!(backoff >= ms(1800) && backoff <= ms(2200), "{backoff:?}");

        // The good schedule keeps firing meanwhile.
        clock.set(ts("2030-01-01T00:02:00.500Z"));
        let recorded = enqueuer.run_once().await.unwrap();
        assert_eq!(
            recorded
                .iter()
                .map(|o| (o.schedule_id, o.outcome))
                .collect::<Vec<_>>(),
            [(good, OccurrenceOutcome::Ran)]
        );
        assert_eq!(enqueuer.failing()[0].failures, 3);

        // Repaired, the schedule recovers at its next retry and accounts for what it
        // missed by its policy: nothing was dropped.
        db.execute(&format!(
            "UPDATE schedules SET timezone = 'UTC' WHERE id = '{bad}'"
        ))
        .await;
        clock.set(ts("2030-01-01T00:02:30Z"));
        let recorded = enqueuer.run_once().await.unwrap();
        assert_eq!(
            recorded
                .iter()
                .map(|o| (o.schedule_id, o.scheduled_at, o.outcome))
                .collect::<Vec<_>>(),
            [
                (bad, ts("2030-01-01T00:01:00Z"), OccurrenceOutcome::Ran),
                (bad, ts("2030-01-01T00:02:00Z"), OccurrenceOutcome::Ran)
            ]
        );
        assert!(enqueuer.failing().is_empty());

        // Broken again, then deleted: once its retry time passes it is forgotten, and
        // the loop sleeps until the good schedule's next minute (less the lookahead, as
        // its overlap is `allow`: its occurrence is recorded ahead of time).
        db.execute(&format!(
            "UPDATE schedules SET timezone = 'Mars/Olympus', next_fire_at = 0 WHERE id = '{bad}'"
        ))
        .await;
        assert!(enqueuer.run_once().await.unwrap().is_empty());
        assert_eq!(enqueuer.failing().len(), 1);
        db.execute(&format!("DELETE FROM schedules WHERE id = '{bad}'"))
            .await;
        clock.set(ts("2030-01-01T00:02:40Z"));
        enqueuer.run_once().await.unwrap();
        assert!(enqueuer.failing().is_empty());
        assert_eq!(
            enqueuer.until_next_tick().await.unwrap(),
            Duration::from_secs(20) - no_cron_loop().cron_lookahead
        );
        engine.shutdown().await;
    }
);

// The live loop with a broken schedule beside a good one: the good one fires every
// second, and the loop ticks a handful of times, not hundreds per second.
backend_tests!(
    a_broken_schedule_neither_blocks_nor_spins_the_live_enqueuer,
    |db: TestDb| async move {
        let (registry, mut rx) = recording_registry();
        let store = Arc::new(db.store().clone());
        let engine = Engine::start(store.clone(), registry, fast_config()).unwrap();
        let mut bad = CronRequest::new("bad", "* * * * * *", "record");
        bad.job.data = serde_json::json!({"n": 1});
        let bad = engine.scheduler().add_cron(bad).await.unwrap();
        db.execute(&format!(
            "UPDATE schedules SET timezone = 'Mars/Olympus' WHERE id = '{bad}'"
        ))
        .await;
        let mut good = CronRequest::new("good", "* * * * * *", "record");
        good.job.data = serde_json::json!({"n": 42});
        engine.scheduler().add_cron(good).await.unwrap();
        let ticks_before = engine.stats().snapshot().cron_ticks;
        for _ in 0..2 {
            tokio::time::timeout(Duration::from_secs(5), async {
                while rx.recv().await != Some(42) {}
            })
            .await
            .expect("the good schedule fired within 5 s");
        }
        let ticks = engine.stats().snapshot().cron_ticks - ticks_before;
        engine.shutdown().await;
        // About one tick per good occurrence plus the bad one's retries (1 s, 2 s, …).
        assert!(
            ticks <= 20,
            "the enqueuer ticked {ticks} times in about 2 s"
        );
    }
);

// A schedule whose overlap is `allow` has its occurrence recorded up to the lookahead
// before the instant, its job due at the instant (not before); one whose overlap is
// `forbid` depends on what runs at the instant, so it is recorded at the instant. The
// loop wakes for each at the right time, never in a spin.
backend_tests!(
    occurrences_that_allow_overlap_are_recorded_ahead_of_their_instant,
    |db: TestDb| async move {
        let (registry, _rx) = recording_registry();
        let store = Arc::new(db.store().clone());
        let clock = clock_at_2030();
        let config = EngineConfig {
            cron_lookahead: Duration::from_secs(1),
            ..no_cron_loop()
        };
        let engine = start_on_clock(&store, registry, config, &clock);
        let allow = engine
            .scheduler()
            .add_cron(request("allow", MissedPolicy::Skip))
            .await
            .unwrap();
        let forbid = engine
            .scheduler()
            .add_cron(CronRequest {
                overlap: OverlapPolicy::Forbid,
                ..request("forbid", MissedPolicy::Skip)
            })
            .await
            .unwrap();
        let enqueuer = engine.cron_enqueuer(clock.now());
        let instant = ts("2030-01-01T00:01:00Z");
        assert_eq!(
            enqueuer.until_next_tick().await.unwrap(),
            Duration::from_secs(29),
            "woken a lookahead before 00:01"
        );

        clock.set(ts("2030-01-01T00:00:59.400Z"));
        let recorded = enqueuer.run_once().await.unwrap();
        assert_eq!(
            recorded
                .iter()
                .map(|o| (o.schedule_id, o.scheduled_at, o.outcome))
                .collect::<Vec<_>>(),
            [(allow, instant, OccurrenceOutcome::Ran)]
        );
        let job = store
            .job_get(recorded[0].job_id.unwrap(), Scope::All)
            .await
            .unwrap();
        // Due at the instant; this engine's producer may already have claimed it (jobs due
        // within a second are claimed and held until their instant).
        assert_eq!(job.run_at, instant);
        assert!(
            matches!(job.state, JobState::Scheduled | JobState::Running),
            "{job:?}"
        );
        assert!(
            store
                .job_oldest_waiting(clock.now())
                .await
                .unwrap()
                .is_none(),
            "not due before its instant"
        );
        assert_eq!(
            enqueuer.until_next_tick().await.unwrap(),
            Duration::from_millis(600),
            "woken at the `forbid` schedule's instant"
        );

        clock.set(instant);
        let recorded = enqueuer.run_once().await.unwrap();
        assert_eq!(
            recorded
                .iter()
                .map(|o| (o.schedule_id, o.scheduled_at))
                .collect::<Vec<_>>(),
            [(forbid, instant)]
        );
        assert!(recorded[0].job_id.is_some());
        assert_eq!(
            enqueuer.until_next_tick().await.unwrap(),
            Duration::from_secs(59),
            "woken a lookahead before 00:02"
        );
        engine.shutdown().await;
    }
);
