//! `Engine::start` wires the services (producers, completer, rescuer, cron enqueuer) and
//! `EngineHandle::shutdown` stops them in order.
//!
//! Shutdown fans one token out to every service: producers stop claiming and drain
//! (see `producer`), then the completer writes what is left, then the handle returns.

use std::sync::{Arc, atomic::AtomicBool};

use tokio::{sync::mpsc, task::JoinHandle};
use tokio_util::sync::CancellationToken;
use warden_core::{Clock, SystemClock};
use warden_store::Store;

use crate::{
    EngineConfig, EngineError, Registry, Scheduler,
    completer::Completer,
    counts::CountsCache,
    cron::CronEnqueuer,
    producer::Producer,
    rescuer::Rescuer,
    scheduler::{Shared, Wakers},
    stats::EngineStats,
    tick::Ticker,
};

/// Builds and starts the engine.
pub struct Engine;

impl Engine {
    /// A scheduler that only writes work (no services run in this process).
    pub fn scheduler<S: Store>(
        store: Arc<S>,
        registry: Registry,
        config: EngineConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Scheduler<S>, EngineError> {
        config.validate()?;
        Ok(Scheduler::new(Arc::new(shared(
            store, registry, config, clock,
        ))))
    }

    /// Starts every service on the current tokio runtime, with the system clock.
    pub fn start<S: Store>(
        store: Arc<S>,
        registry: Registry,
        config: EngineConfig,
    ) -> Result<EngineHandle<S>, EngineError> {
        Self::start_with_clock(store, registry, config, Arc::new(SystemClock))
    }

    pub fn start_with_clock<S: Store>(
        store: Arc<S>,
        registry: Registry,
        config: EngineConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<EngineHandle<S>, EngineError> {
        config.validate()?;
        let shared = Arc::new(shared(store, registry, config, clock));
        let stats = Arc::new(EngineStats::default());
        let shutdown = CancellationToken::new();
        let (tx, rx) = mpsc::unbounded_channel();
        let completer = tokio::spawn(
            Completer {
                store: shared.store.clone(),
                rx,
                batch: shared.config.completer_batch,
                stats: stats.clone(),
            }
            .run(),
        );
        let mut producers = Vec::new();
        for queue in &shared.config.queues {
            let producer = Producer {
                shared: shared.clone(),
                queue: queue.clone(),
                wake: shared.wakers.queues[&queue.name].clone(),
                paused: shared.wakers.paused[&queue.name].clone(),
                completions: tx.clone(),
                stats: stats.clone(),
            };
            producers.push(tokio::spawn(producer.run(shutdown.child_token())));
        }
        drop(tx);
        let mut services = vec![tokio::spawn(crate::wakeups::forward(
            shared.clone(),
            stats.clone(),
            shutdown.child_token(),
        ))];
        services.push(tokio::spawn(crate::queues::watch(
            shared.clone(),
            shutdown.child_token(),
        )));
        services.push(tokio::spawn(
            Rescuer {
                shared: shared.clone(),
                stats: stats.clone(),
            }
            .run(shutdown.child_token()),
        ));
        if shared.config.run_cron {
            let enqueuer = CronEnqueuer::new(shared.clone(), stats.clone(), shared.clock.now());
            services.push(tokio::spawn(enqueuer.run(shutdown.child_token())));
        }
        tracing::info!(
            worker.id = %shared.config.worker_id,
            queues = %shared.config.queue_names(),
            job_types = %shared.registry.kinds(),
            "engine started"
        );
        // Its own enqueuer: its set-aside schedules are apart from the loop's.
        let ticker = Ticker::new(
            shared.clone(),
            stats.clone(),
            CronEnqueuer::new(shared.clone(), stats.clone(), shared.clock.now()),
        );
        Ok(EngineHandle {
            scheduler: Scheduler::new(shared),
            ticker,
            stats,
            shutdown,
            producers,
            services,
            completer,
        })
    }
}

pub(crate) fn shared<S>(
    store: Arc<S>,
    registry: Registry,
    config: EngineConfig,
    clock: Arc<dyn Clock>,
) -> Shared<S> {
    let wakers = Wakers {
        queues: config
            .queues
            .iter()
            .map(|q| (q.name.clone(), Default::default()))
            .collect(),
        paused: config
            .queues
            .iter()
            .map(|q| (q.name.clone(), Default::default()))
            .collect(),
        cron: Default::default(),
    };
    Shared {
        store,
        registry,
        counts: CountsCache::new(config.job_counts_max_age),
        config,
        clock,
        wakers,
        owner_limits: AtomicBool::new(false),
    }
}

/// A running engine.
pub struct EngineHandle<S> {
    scheduler: Scheduler<S>,
    ticker: Ticker<S>,
    stats: Arc<EngineStats>,
    shutdown: CancellationToken,
    producers: Vec<JoinHandle<()>>,
    services: Vec<JoinHandle<()>>,
    completer: JoinHandle<()>,
}

impl<S: Store> EngineHandle<S> {
    pub fn scheduler(&self) -> &Scheduler<S> {
        &self.scheduler
    }

    pub fn stats(&self) -> &Arc<EngineStats> {
        &self.stats
    }

    /// A cron enqueuer sharing this engine's store, clock and stats, for driving ticks
    /// directly. It has its own set of failing schedules, apart from the engine's loop.
    pub fn cron_enqueuer(&self, up_since: jiff::Timestamp) -> CronEnqueuer<S> {
        CronEnqueuer::new(self.scheduler.shared.clone(), self.stats.clone(), up_since)
    }

    /// Runs scheduler ticks on demand (`/cron/run`), with this engine's workers.
    pub fn ticker(&self) -> Ticker<S> {
        self.ticker.clone()
    }

    /// The token that stops the engine (e.g. to tie it to a signal).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops claiming, lets running jobs finish within the grace period, releases the
    /// rest, writes every outcome, and returns when all services have stopped.
    /// Calling it after the token was cancelled elsewhere is fine.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        for p in self.producers {
            let _ = p.await;
        }
        // Every completion sender was owned by a producer: the completer now drains and ends.
        let _ = self.completer.await;
        for s in self.services {
            let _ = s.await;
        }
        tracing::info!("engine stopped");
    }
}
