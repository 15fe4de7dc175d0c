//! Metrics: running jobs and ticking cron record warden's Prometheus metrics.
//!
//! Each test records into a Prometheus recorder of its own, set as its thread's default on
//! a current-thread runtime (where every engine task runs), so tests sharing a process
//! (`cargo test`) cannot disturb each other's counts, and exact values can be asserted.

use std::{sync::Arc, time::Duration};

use jiff::Timestamp;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde_json::json;
use warden_core::OccurrenceOutcome;
use warden_engine::CronRequest;
use warden_testkit::TestDb;

use crate::support::{clock_at_2030, no_cron_loop_short_grace, recording_registry, start_on_clock};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// The value of the sample `series` (name and labels, as rendered), or 0 when absent.
fn sample(handle: &PrometheusHandle, series: &str) -> f64 {
    handle
        .render()
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

async fn jobs_and_ticks_are_measured(db: TestDb) {
    let recorder = PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let _local = ::metrics::set_default_local_recorder(&recorder);

    let (registry, mut rx) = recording_registry();
    let store = Arc::new(db.store().clone());
    let clock = clock_at_2030();
    let engine = start_on_clock(&store, registry, no_cron_loop_short_grace(), &clock);

    // Three jobs run: three outcomes counted, three pick-ups and three durations timed.
    for n in 0..3 {
        engine
            .scheduler()
            .add("record", json!({ "n": n }), "default")
            .await
            .unwrap();
    }
    for _ in 0..3 {
        rx.recv().await.unwrap();
    }
    engine.stats().wait_completed(3).await;
    assert_eq!(
        sample(&handle, r#"warden_runs_total{outcome="succeeded"}"#),
        3.0
    );
    assert_eq!(sample(&handle, r#"warden_runs_total{outcome="dead"}"#), 0.0);
    assert_eq!(sample(&handle, "warden_run_duration_seconds_count"), 3.0);
    assert_eq!(sample(&handle, "warden_pickup_latency_seconds_count"), 3.0);
    assert_eq!(sample(&handle, "warden_last_tick_timestamp_seconds"), 0.0);

    // A cron tick: one occurrence runs, a paused schedule's is skipped; the tick's time is
    // the engine clock's.
    let mut every_minute = CronRequest::new("metrics-every-minute", "* * * * *", "record");
    every_minute.catch_up = Duration::from_secs(180);
    engine.scheduler().add_cron(every_minute).await.unwrap();
    let mut paused = CronRequest::new("metrics-paused", "* * * * *", "record");
    paused.paused = true;
    engine.scheduler().add_cron(paused).await.unwrap();
    clock.set(ts("2030-01-01T00:01:02Z"));
    let recorded = engine
        .cron_enqueuer(ts("2030-01-01T00:00:30Z"))
        .run_once()
        .await
        .unwrap();
    let outcomes: Vec<_> = recorded.iter().map(|o| o.outcome).collect();
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == OccurrenceOutcome::Ran)
            .count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == OccurrenceOutcome::SkippedPaused)
            .count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        sample(&handle, r#"warden_occurrences_total{outcome="ran"}"#),
        1.0
    );
    assert_eq!(
        sample(&handle, r#"warden_occurrences_total{outcome="skipped"}"#),
        1.0
    );
    assert_eq!(
        sample(&handle, r#"warden_occurrences_total{outcome="missed"}"#),
        0.0
    );
    assert_eq!(
        sample(&handle, "warden_last_tick_timestamp_seconds"),
        ts("2030-01-01T00:01:02Z").as_second() as f64
    );

    // The occurrence's job runs too, and is counted with the others.
    rx.recv().await.unwrap();
    engine.stats().wait_completed(4).await;
    assert_eq!(
        sample(&handle, r#"warden_runs_total{outcome="succeeded"}"#),
        4.0
    );
    engine.shutdown().await;
}

mod jobs_and_ticks_are_measured {
    use warden_testkit::TestDb;

    // Current-thread: the recorder is the thread's, and every engine task runs on it.
    #[tokio::test(flavor = "current_thread")]
    async fn sqlite() {
        super::jobs_and_ticks_are_measured(TestDb::sqlite().await).await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn postgres() {
        let Some(db) = TestDb::postgres().await else {
            return;
        };
        super::jobs_and_ticks_are_measured(db).await;
    }
}
