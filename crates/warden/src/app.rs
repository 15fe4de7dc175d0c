//! `Application::build` opens and migrates the store, starts the engine and binds the
//! HTTP listener; `run_until_stopped` serves until the shutdown future resolves, then
//! stops the HTTP server and the engine in order.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use secrecy::SecretString;
use tokio::net::TcpListener;
use warden_api::{
    AppState, AuthConfig, HttpLimits,
    conn_limit::ConnLimits,
    cron_run::{CronConfig, CronTrigger},
    metrics::Metrics,
    ratelimit::RateLimitConfig,
    router_with,
    serve::serve,
    with_limits,
};
use warden_core::QueueName;
use warden_engine::{Engine, EngineConfig, EngineHandle, QueueConfig, Registry};
use warden_security::{
    envkey::StaticKey,
    oidc::{Algorithm, KeySource, OidcConfig, OidcVerifier},
};
use warden_store::AnyStore;

use warden_exec::runner::HttpRunner;

use crate::{
    cli::{CronArgs, MetricsArgs, OidcArgs, ServeArgs},
    commands::{keys::env_secret, migrate::open_migrated},
    config_jobs,
    jobs_file::{self, JobsSource},
    secret,
};

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
    auth: Arc<AuthConfig>,
    limits: HttpLimits,
    /// The jobs file being followed (`--jobs`), and the runner of its calls.
    jobs: Option<(JobsSource, HttpRunner)>,
    /// `/cron/run`, when `CRON_TOKEN` is set.
    cron: Option<CronConfig>,
    late_after: Duration,
    metrics: Option<MetricsSetup>,
}

/// `/metrics`: on the main address behind `METRICS_TOKEN`, and/or openly on its own
/// listener (`--metrics-listen`).
struct MetricsSetup {
    handle: Metrics,
    token: Option<StaticKey>,
    listener: Option<TcpListener>,
}

/// The metrics the environment and flags ask for, with the recorder installed; `None`
/// when neither `METRICS_TOKEN` nor `--metrics-listen` is set (nothing is recorded then).
async fn metrics_setup(args: &MetricsArgs) -> anyhow::Result<Option<MetricsSetup>> {
    let token = match std::env::var("METRICS_TOKEN") {
        Ok(v) if !v.trim().is_empty() => Some(StaticKey::new(
            "METRICS_TOKEN",
            SecretString::from(v.trim().to_owned()),
        )?),
        _ => None,
    };
    let listener =
        match args.metrics_listen {
            Some(addr) => Some(TcpListener::bind(addr).await.with_context(|| {
                format!("could not listen on `--metrics-listen` {addr} (in use?)")
            })?),
            None => None,
        };
    if token.is_none() && listener.is_none() {
        return Ok(None);
    }
    Ok(Some(MetricsSetup {
        handle: warden_api::metrics::install_recorder(),
        token,
        listener,
    }))
}

/// The `/cron/run` configuration: the tokens of `CRON_TOKEN` (comma-separated) and the
/// flags; `None` without a token. A weak token stops the start with a message saying how
/// to make a good one (and never the token).
fn cron_config(args: &CronArgs, request_timeout: u64) -> anyhow::Result<Option<CronConfig>> {
    let value = std::env::var("CRON_TOKEN").unwrap_or_default();
    let tokens = value
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| StaticKey::new("CRON_TOKEN", SecretString::from(t.to_owned())))
        .collect::<Result<Vec<_>, _>>()?;
    if tokens.is_empty() {
        if !value.is_empty() {
            anyhow::bail!(
                "`CRON_TOKEN` is set but holds no token; put one or more comma-separated tokens in it (make one with `openssl rand -hex 32`), or unset it to turn /cron/run off"
            );
        }
        return Ok(None);
    }
    if args.cron_lock_ttl <= args.cron_budget + request_timeout {
        anyhow::bail!(
            "`--cron-lock-ttl` ({} s) must be more than `--cron-budget` plus `--request-timeout` ({} s), or a slow run could lose its lock to the next call",
            args.cron_lock_ttl,
            args.cron_budget + request_timeout
        );
    }
    if args.cron_budget >= request_timeout {
        anyhow::bail!(
            "`--cron-budget` ({} s) must be less than `--request-timeout` ({request_timeout} s), or /cron/run would be cut off",
            args.cron_budget
        );
    }
    let mut config = CronConfig::new(tokens);
    config.allow_query_token = args.cron_allow_query_token;
    config.allow_ips = args.cron_allow_ips.clone();
    config.rate_limit = args.cron_rate_limit;
    config.rate_window = Duration::from_secs(args.cron_rate_window);
    config.budget = Duration::from_secs(args.cron_budget);
    config.lock_ttl = Duration::from_secs(args.cron_lock_ttl);
    Ok(Some(config))
}

/// A static key from the environment variable `name`, if set; a weak one stops the start.
fn static_key(name: &'static str) -> anyhow::Result<Option<StaticKey>> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Ok(Some(StaticKey::new(name, SecretString::from(v))?)),
        _ => Ok(None),
    }
}

/// The OIDC verifier the flags describe, if `--oidc-issuer` is given.
fn oidc(args: &OidcArgs) -> anyhow::Result<Option<OidcVerifier>> {
    let Some(issuer) = &args.oidc_issuer else {
        return Ok(None);
    };
    let audience = args
        .oidc_audience
        .clone()
        .context("`--oidc-issuer` needs `--oidc-audience`")?;
    let source = match (&args.oidc_jwks_url, &args.oidc_public_key_file) {
        (Some(url), None) => KeySource::Jwks { url: url.clone() },
        (None, Some(file)) => KeySource::StaticPem {
            pem: std::fs::read_to_string(file).with_context(|| {
                format!("could not read `--oidc-public-key-file` {}", file.display())
            })?,
        },
        _ => anyhow::bail!(
            "`--oidc-issuer` needs exactly one of `--oidc-jwks-url` or `--oidc-public-key-file`"
        ),
    };
    let mut config = OidcConfig::new(issuer.clone(), audience, source);
    config.roles_claim = args.oidc_roles_claim.clone();
    config.algorithms = args
        .oidc_algorithms
        .iter()
        .map(|a| {
            a.trim().parse::<Algorithm>().map_err(|_| {
                anyhow::anyhow!("invalid `--oidc-algorithms` value {a:?}; expected e.g. RS256, ES256, PS256, EdDSA")
            })
        })
        .collect::<anyhow::Result<_>>()?;
    config.validate()?;
    Ok(Some(OidcVerifier::new(config)?))
}

/// The jobs file at `path`, checked as `warden check` does; an invalid file is an error listing
/// every problem.
async fn checked_jobs_file(
    path: &std::path::Path,
    run: &crate::cli::JobsRunArgs,
) -> anyhow::Result<(JobsSource, warden_exec::JobsFile)> {
    let source = JobsSource::new(path.to_path_buf(), run)?;
    let report = source.check().await?;
    for w in &report.warnings {
        tracing::warn!(warning = %w, "jobs file");
    }
    if !report.is_ok() {
        let n = report.errors.len();
        anyhow::bail!(
            "{} is invalid ({n} error{}):\n{}",
            path.display(),
            if n == 1 { "" } else { "s" },
            report.errors.join("\n")
        );
    }
    let file = report.file.expect("a valid report has its file");
    Ok((source, file))
}

impl Application {
    pub(crate) async fn build(args: ServeArgs) -> anyhow::Result<Self> {
        let queues = parse_queues(&args.queues)?;
        // The jobs file first: a missing or invalid file stops the start before anything is
        // created (data directory, server secret, database).
        let checked_jobs = match &args.jobs.jobs_file {
            None => None,
            Some(path) => Some(checked_jobs_file(path, &args.jobs.run).await?),
        };
        let cron = cron_config(&args.cron, args.request_timeout.max(1))?;
        // Before the engine starts, so its first claims and ticks are counted.
        let metrics = metrics_setup(&args.metrics).await?;
        if let Some(c) = &cron {
            tracing::info!(
                tokens = c.tokens.len(),
                query_token = c.allow_query_token,
                "/cron/run is enabled"
            );
        }
        let admin_key = static_key("JOB_SCHEDULER_API_KEY")?;
        let internal_key = static_key("INTERNAL_API_KEY")?;
        let oidc = oidc(&args.oidc)?;
        let (hasher, secret_source) = secret::load(&args.store.data_dir(), env_secret())?;
        if let secret::Source::File(path) = &secret_source {
            tracing::info!(path = %path.display(), "API keys are hashed with the server secret in this file");
            if args.store.database_url.is_some() {
                tracing::warn!(
                    "WARDEN_SECRET is not set: other nodes sharing this database will not accept keys made here unless they share the secret file"
                );
            }
        }
        let auth = Arc::new(AuthConfig {
            hasher,
            admin_key,
            internal_key,
            oidc,
        });
        let limits = HttpLimits {
            max_body_bytes: args.max_body_bytes,
            request_timeout: Duration::from_secs(args.request_timeout.max(1)),
            rate: RateLimitConfig {
                per_ip_per_minute: args.rate_limit_per_ip,
                per_principal_per_minute: args.rate_limit_per_principal,
                trusted_proxies: args.trusted_proxies.clone(),
            },
            ..HttpLimits::default()
        };
        let store = Arc::new(open_migrated(&args.store).await?);
        secret::verify(store.as_ref(), &auth.hasher, &secret_source).await?;
        let config = EngineConfig {
            queues,
            shutdown_grace: Duration::from_secs(args.shutdown_grace),
            ..EngineConfig::default()
        };
        let mut registry = builtin_registry();
        let jobs = match checked_jobs {
            None => None,
            Some((source, file)) => {
                let runner = jobs_file::runner(&source, file)?;
                jobs_file::register_http(&mut registry, runner.clone(), Arc::clone(&store))?;
                Some((source, runner))
            }
        };
        let engine = Engine::start(store.clone(), registry, config)?;
        if let Some((source, runner)) = &jobs {
            let report = config_jobs::sync(engine.scheduler(), &runner.current()).await?;
            jobs_file::log_sync(&report);
            tracing::info!(file = %source.path.display(), jobs = runner.current().jobs().len(), "jobs file loaded");
        }
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
            auth,
            limits,
            jobs,
            cron,
            late_after: Duration::from_secs(args.cron.late_after),
            metrics,
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
        let mut extra = axum::Router::new();
        let mut metrics_server = None;
        // For the API's address and the metrics address alike.
        let conn_limits = ConnLimits {
            exempt: self.limits.rate.trusted_proxies.clone(),
            ..ConnLimits::default()
        };
        if let Some(m) = self.metrics {
            if let Some(token) = m.token {
                let routes = warden_api::metrics::router(
                    self.engine.scheduler().clone(),
                    m.handle.clone(),
                    Some(token),
                );
                extra = extra.merge(routes);
            }
            if let Some(listener) = m.listener {
                let routes =
                    warden_api::metrics::router(self.engine.scheduler().clone(), m.handle, None);
                // The same request and connection limits as the API's address.
                let routes = with_limits(routes, &self.limits);
                tracing::info!(addr = %listener.local_addr()?, "serving /metrics without a token on its own address");
                let stop = self.engine.shutdown_token();
                let conn = conn_limits.clone();
                metrics_server = Some(tokio::spawn(async move {
                    let served = serve(listener, conn, routes, async move {
                        stop.cancelled().await;
                    });
                    if let Err(e) = served.await {
                        tracing::error!(error = %e, "the metrics server failed");
                    }
                }));
            }
        }
        let app = router_with(
            AppState {
                store: self.store.clone(),
                scheduler: self.engine.scheduler().clone(),
                auth: self.auth.clone(),
                cron: self
                    .cron
                    .map(|c| Arc::new(CronTrigger::new(c, self.engine.ticker()))),
                late_after: self.late_after,
            },
            self.limits.clone(),
            extra,
        );
        let token = self.engine.shutdown_token();
        let follower = self.jobs.map(|(source, runner)| {
            tokio::spawn(jobs_file::follow(
                source,
                runner,
                self.engine.scheduler().clone(),
                token.clone(),
            ))
        });
        let served = serve(self.listener, conn_limits, app, async move {
            shutdown.await;
            tracing::info!(
                "shutting down: no new work is claimed; running jobs get their grace period"
            );
            token.cancel();
        });
        let result = served.await.context("the HTTP server failed");
        if let Some(f) = follower {
            f.abort();
        }
        self.engine.shutdown().await;
        if let Some(m) = metrics_server {
            let _ = m.await;
        }
        result
    }
}

/// Resolves on SIGTERM or Ctrl-C. The SIGTERM handler is installed when this is called,
/// not when the future is first polled: the serve loop may answer requests before it
/// polls its shutdown future, and a SIGTERM in that window must still stop warden
/// gracefully rather than kill it (the default action).
pub(crate) fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async {
            match term {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {},
            _ = term => {},
        }
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
