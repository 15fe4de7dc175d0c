//! A job made by a schedule occurrence carries the occurrence's instant to every attempt
//! (`JobContext::scheduled_at`), whatever its retries; each job of a catch-up has its own.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use jiff::Timestamp;
use tokio::sync::mpsc;
use warden_core::{JobState, MissedPolicy, Outcome, OverlapPolicy, Scope};
use warden_engine::{CronRequest, JobContext, Registry};
use warden_store::{JobFilter, Store};
use warden_testkit::{TestDb, backend_tests, eventually};

use crate::support::{clock_at_2030, start_on_clock, ticked_by_hand};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

/// One attempt as the handler saw it.
#[derive(Debug, Clone, Copy)]
struct Seen {
    scheduled_at: Timestamp,
    run_at: Timestamp,
    attempt: i32,
}

/// A `stamp` handler that reports each attempt and asks for a retry of every first attempt.
fn stamping_registry() -> (Registry, mpsc::UnboundedReceiver<Seen>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let tx = Arc::new(tx);
    let mut registry = Registry::new();
    registry
        .register("stamp", move |ctx: JobContext, _: serde_json::Value| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(Seen {
                    scheduled_at: ctx.scheduled_at,
                    run_at: ctx.run_at,
                    attempt: ctx.attempt,
                });
                if ctx.attempt == 1 {
                    // Later than a producer claims ahead of a job's `run_at`: the
                    // retry waits, unclaimed, until the test moves the clock.
                    Outcome::Retry {
                        after: Some(Duration::from_secs(5)),
                        error: "try again".into(),
                    }
                } else {
                    Outcome::Done
                }
            }
        })
        .unwrap();
    (registry, rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an attempt within 10 s")
        .expect("the handler is alive")
}

backend_tests!(
    every_attempt_sees_its_occurrence_instant_and_a_catch_up_gives_each_its_own,
    |db: TestDb| async move {
        let (registry, mut rx) = stamping_registry();
        let store = Arc::new(db.store().clone());
        let clock = clock_at_2030();
        let (scheduler, config) = ticked_by_hand(&store, &registry, &clock);
        let mut req = CronRequest::new("every-minute", "* * * * *", "stamp");
        req.missed = MissedPolicy::All;
        req.overlap = OverlapPolicy::Allow;
        req.catch_up = Duration::from_secs(600);
        scheduler.add_cron(req).await.unwrap();
        let engine = start_on_clock(&store, registry, config, &clock);

        // 00:01, 00:02 and 00:03 are due at once, seconds late: one job each.
        let tick = ts("2030-01-01T00:03:05.250Z");
        clock.set(tick);
        let recorded = engine
            .cron_enqueuer(ts("2030-01-01T00:00:30Z"))
            .run_once()
            .await
            .unwrap();
        assert_eq!(recorded.len(), 3);
        let expected: BTreeSet<Timestamp> = [
            "2030-01-01T00:01:00Z",
            "2030-01-01T00:02:00Z",
            "2030-01-01T00:03:00Z",
        ]
        .into_iter()
        .map(ts)
        .collect();

        let mut first = BTreeSet::new();
        for _ in 0..3 {
            let seen = next(&mut rx).await;
            assert_eq!(seen.attempt, 1);
            // The attempt was due at the tick; the occurrence is the schedule's instant.
            assert_eq!(seen.run_at, tick);
            first.insert(seen.scheduled_at);
        }
        assert_eq!(first, expected);

        // The retries come due later, and still stand for the same three instants. The
        // clock moves on only once all three wait for their retry (a completion written
        // after the move would be due after it, and the manual clock would never get there).
        eventually(
            "the first attempts all completed, waiting for a retry",
            || async {
                let jobs = store.job_list(JobFilter::new(Scope::All)).await.unwrap();
                jobs.len() == 3 && jobs.iter().all(|j| j.state == JobState::Retryable)
            },
        )
        .await;
        clock.set(ts("2030-01-01T00:03:30Z"));
        let mut second = BTreeSet::new();
        for _ in 0..3 {
            let seen = next(&mut rx).await;
            assert_eq!(seen.attempt, 2);
            assert!(seen.run_at > tick, "{seen:?}");
            second.insert(seen.scheduled_at);
        }
        assert_eq!(second, expected);
        engine.shutdown().await;
    }
);
