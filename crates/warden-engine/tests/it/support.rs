//! Helpers: an engine with short intervals on a test database, handlers that report what
//! they run over a channel (tests wait on that, not on a sleep), and the set-ups several
//! tests share (a manual clock, a principal's limit, a job's runs).

use std::{sync::Arc, time::Duration};

use tokio::sync::mpsc;
use warden_core::{Clock, JobId, ManualClock, PrincipalId, QueueName, Scope, SystemClock};
use warden_engine::{Engine, EngineConfig, EngineHandle, QueueConfig, Registry, Scheduler};
use warden_store::{AccessStore, Limits, PrincipalRecord, Store};

pub(crate) fn fast_config() -> EngineConfig {
    EngineConfig {
        queues: vec![
            QueueConfig::new(QueueName::parse("default").unwrap(), 4),
            QueueConfig::new(QueueName::parse("COMMUNICATIONS").unwrap(), 4),
        ],
        lease: Duration::from_secs(2),
        heartbeat_interval: Duration::from_millis(500),
        rescue_interval: Duration::from_millis(200),
        poll_interval: Duration::from_millis(200),
        shutdown_grace: Duration::from_millis(500),
        retry: warden_core::RetryPolicy {
            base: Duration::from_millis(10),
            max: Duration::from_millis(50),
        },
        ..EngineConfig::default()
    }
}

/// A registry whose `record` handler sends each payload's `n` to the returned channel.
pub(crate) fn recording_registry() -> (Registry, mpsc::UnboundedReceiver<i64>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let tx = Arc::new(tx);
    let mut registry = Registry::new();
    registry
        .register("record", move |_ctx, data: serde_json::Value| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(data["n"].as_i64().unwrap_or(-1));
            }
        })
        .unwrap();
    (registry, rx)
}

/// For tests that tick the cron enqueuer themselves (`run_once`) on a manual `clock`: the
/// config without the cron loop, and a scheduler on `store` to add schedules with.
pub(crate) fn ticked_by_hand<S: Store>(
    store: &Arc<S>,
    registry: &Registry,
    clock: &ManualClock,
) -> (Scheduler<S>, EngineConfig) {
    let config = no_cron_loop();
    (scheduler_on_clock(store, registry, &config, clock), config)
}

/// A scheduler on `db`'s store with the `record` handler (its receiver is dropped: the
/// engine is not started) and the system clock.
pub(crate) fn recording_scheduler(
    db: &warden_testkit::TestDb,
) -> (
    Arc<warden_store::AnyStore>,
    warden_engine::Scheduler<warden_store::AnyStore>,
) {
    let store = Arc::new(db.store().clone());
    let scheduler = scheduler_on(&store, &recording_registry().0, &fast_config());
    (store, scheduler)
}

/// Half a minute into 2030, where the cron tests' manual clocks start: half a minute
/// before an every-minute schedule's first occurrence.
pub(crate) fn clock_at_2030() -> ManualClock {
    ManualClock::new("2030-01-01T00:00:30Z".parse().unwrap())
}

/// The config for tests that tick the cron enqueuer themselves: no cron loop.
pub(crate) fn no_cron_loop() -> EngineConfig {
    EngineConfig {
        run_cron: false,
        ..fast_config()
    }
}

/// As [`no_cron_loop`], counting an occurrence found more than 10 s late as missed.
pub(crate) fn no_cron_loop_short_grace() -> EngineConfig {
    EngineConfig {
        cron_grace: Duration::from_secs(10),
        ..no_cron_loop()
    }
}

/// A scheduler on `store` whose clock is `clock`: it writes work; no service runs.
pub(crate) fn scheduler_on_clock<S: Store>(
    store: &Arc<S>,
    registry: &Registry,
    config: &EngineConfig,
    clock: &ManualClock,
) -> Scheduler<S> {
    scheduler_with(store, registry, config, Arc::new(clock.clone()))
}

/// Starts an engine on `store` whose clock is `clock`.
pub(crate) fn start_on_clock<S: Store>(
    store: &Arc<S>,
    registry: Registry,
    config: EngineConfig,
    clock: &ManualClock,
) -> EngineHandle<S> {
    Engine::start_with_clock(Arc::clone(store), registry, config, Arc::new(clock.clone())).unwrap()
}

/// A principal id the test names (valid by construction).
pub(crate) fn pid(id: &str) -> PrincipalId {
    PrincipalId::parse(id).unwrap()
}

/// Limits the principal `alice` to one running job at a time.
pub(crate) async fn limit_alice_to_one_at_a_time<S: AccessStore>(store: &S) {
    let now = jiff::Timestamp::now();
    store
        .principal_upsert(
            PrincipalRecord {
                id: pid("alice"),
                disabled: false,
                limits: Limits {
                    max_concurrent: Some(1),
                    ..Limits::default()
                },
                created_at: now,
                updated_at: now,
            },
            vec![],
        )
        .await
        .unwrap();
}

/// Asserts the runs of job `id`, oldest first, as (attempt, outcome).
pub(crate) async fn assert_runs<S: Store>(store: &S, id: JobId, expected: &[(i32, &str)]) {
    let runs = store.run_list_by_job(id, Scope::All).await.unwrap();
    let seen: Vec<(i32, &str)> = runs
        .iter()
        .map(|r| (r.attempt, r.outcome.as_str()))
        .collect();
    assert_eq!(seen, expected, "the runs of job {id}");
}

/// A scheduler on `store` with the system clock: it writes work; no service runs.
pub(crate) fn scheduler_on<S: Store>(
    store: &Arc<S>,
    registry: &Registry,
    config: &EngineConfig,
) -> Scheduler<S> {
    scheduler_with(store, registry, config, Arc::new(SystemClock))
}

fn scheduler_with<S: Store>(
    store: &Arc<S>,
    registry: &Registry,
    config: &EngineConfig,
    clock: Arc<dyn Clock>,
) -> Scheduler<S> {
    Engine::scheduler(Arc::clone(store), registry.clone(), config.clone(), clock).unwrap()
}
