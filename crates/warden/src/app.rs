//! `Application::build` opens and migrates the store, starts the engine and binds the
//! HTTP listener; `run_until_stopped` serves until the shutdown future resolves, then
//! stops the HTTP server and the engine in order.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use tokio::net::TcpListener;
use warden_api::{AppState, router};
use warden_core::QueueName;
use warden_engine::{Engine, EngineConfig, EngineHandle, QueueConfig, Registry};
use warden_store::AnyStore;

use crate::{cli::ServeArgs, commands::migrate::open_migrated};

/// Job types every `warden serve` can run.
pub(crate) fn builtin_registry() -> Registry {
    let mut registry = Registry::new();
    // `warden.noop`: does nothing and succeeds; for smoke tests and keep-alive schedules.
    registry
        .register("warden.noop", |_, _: serde_json::Value| async {})
        .expect("valid job type");
    registry
}

/// Parses `--queue NAME=N` values; none means `default=10`.
pub(crate) fn parse_queues(values: &[String]) -> anyhow::Result<Vec<QueueConfig>> {
    if values.is_empty() {
        return Ok(EngineConfig::default().queues);
    }
    values
        .iter()
        .map(|v| {
            let (name, n) = v.split_once('=').with_context(|| format!("invalid `--queue` {v:?}: expected NAME=CONCURRENCY, e.g. default=10"))?;
            let name = QueueName::parse(name.trim())?;
            let n: usize = n.trim().parse().ok().filter(|n| (1..=10_000).contains(n)).with_context(|| {
                format!("invalid `--queue` {v:?}: the concurrency must be a whole number from 1 to 10000")
            })?;
            Ok(QueueConfig::new(name, n))
        })
        .collect()
}

pub(crate) struct Application {
    listener: TcpListener,
    engine: EngineHandle<AnyStore>,
    store: Arc<AnyStore>,
}

impl Application {
    pub(crate) async fn build(args: ServeArgs) -> anyhow::Result<Self> {
        let queues = parse_queues(&args.queues)?;
        let store = Arc::new(open_migrated(&args.store).await?);
        let config = EngineConfig {
            queues,
            shutdown_grace: Duration::from_secs(args.shutdown_grace),
            ..EngineConfig::default()
        };
        let engine = Engine::start(store.clone(), builtin_registry(), config)?;
        let listener = TcpListener::bind(args.listen).await.with_context(|| {
            format!(
                "could not listen on {} (in use? try --listen 127.0.0.1:0)",
                args.listen
            )
        })?;
        Ok(Self {
            listener,
            engine,
            store,
        })
    }

    pub(crate) fn local_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    pub(crate) async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.local_addr()?;
        tracing::info!(addr = %addr, backend = self.store.backend_name(), "warden is serving");
        let app = router(AppState {
            store: self.store.clone(),
        });
        let token = self.engine.shutdown_token();
        let served = axum::serve(self.listener, app).with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!(
                "shutting down: no new work is claimed; running jobs get their grace period"
            );
            token.cancel();
        });
        let result = served.await.context("the HTTP server failed");
        self.engine.shutdown().await;
        result
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_flags_parse_and_bad_ones_say_why() {
        let q = parse_queues(&["default=4".into(), "COMMUNICATIONS = 2".into()]).unwrap();
        assert_eq!(
            q.iter()
                .map(|q| (q.name.as_str(), q.concurrency))
                .collect::<Vec<_>>(),
            [("default", 4), ("COMMUNICATIONS", 2)]
        );
        assert!(
            parse_queues(&["default".into()])
                .unwrap_err()
                .to_string()
                .contains("NAME=CONCURRENCY")
        );
        assert!(
            parse_queues(&["default=0".into()])
                .unwrap_err()
                .to_string()
                .contains("1 to 10000")
        );
        assert!(
            parse_queues(&["bad queue=1".into()])
                .unwrap_err()
                .to_string()
                .contains("queueName")
        );
        assert_eq!(parse_queues(&[]).unwrap()[0].name.as_str(), "default");
    }
}
