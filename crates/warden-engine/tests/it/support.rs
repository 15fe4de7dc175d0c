//! Helpers: an engine with short intervals on a test database, and handlers that report
//! what they run over a channel (tests wait on that, not on a sleep).

use std::{sync::Arc, time::Duration};

use tokio::sync::mpsc;
use warden_core::{ManualClock, QueueName};
use warden_engine::{Engine, EngineConfig, QueueConfig, Registry, Scheduler};
use warden_store::Store;

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
    let config = EngineConfig {
        run_cron: false,
        ..fast_config()
    };
    let scheduler = Engine::scheduler(
        Arc::clone(store),
        registry.clone(),
        config.clone(),
        Arc::new(clock.clone()),
    )
    .unwrap();
    (scheduler, config)
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
    let scheduler = warden_engine::Engine::scheduler(
        store.clone(),
        recording_registry().0,
        fast_config(),
        Arc::new(warden_core::SystemClock),
    )
    .unwrap();
    (store, scheduler)
}
