//! Prometheus metrics: the process-wide recorder, every metric's help text, the API's own
//! counters, and `GET /metrics`.
//!
//! # Model
//! Code records through the `metrics` facade; [`install_recorder`] installs the
//! Prometheus recorder once per process and returns the [`Metrics`] handle that renders
//! the text format (0.0.4). There is no exporter HTTP listener: [`router`] serves the text
//! from our own route, either on the main listener behind a token or on a listener of its
//! own without one.
//!
//! | metric | type | labels | recorded |
//! |---|---|---|---|
//! | the engine's (`warden_runs_total`, …) | | | see [`warden_engine::instruments`] |
//! | [`AUTH_FAILURES_TOTAL`] | counter | `reason`: [`AUTH_FAILURE_REASONS`] | the auth layer, and `/metrics`, when they refuse a request |
//! | [`RATE_LIMITED_TOTAL`] | counter | `scope`: `ip`, `principal` | the rate limiter, when it answers 429 |
//! | [`JOBS`] | gauge | `queue`, `state` | on each scrape, from the scheduler's cached counts: every declared queue and every state, 0 when empty |
//! | [`CRON_RUNS_TOTAL`] | counter | `outcome` | the `/cron/run` route |
//!
//! Label values come from fixed sets; `queue` is a configured queue's name (jobs can only
//! be added to configured queues), never a job id or other caller input.

use std::{
    collections::{HashMap, HashSet},
    fmt,
    sync::{Arc, OnceLock},
    time::Duration,
};

use axum::{
    Router,
    extract::State,
    http::{HeaderMap, HeaderValue, header},
    middleware,
    response::{IntoResponse, Response},
    routing::get,
};
use metrics::{Counter, Unit, counter, describe_counter, describe_gauge, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::sync::Mutex;
use warden_core::JobState;
use warden_engine::Scheduler;
use warden_security::envkey::StaticKey;
use warden_store::Store;

use crate::{error::ApiError, request_id};

/// Counter: requests refused for their credentials, by `reason`.
pub const AUTH_FAILURES_TOTAL: &str = "warden_auth_failures_total";
/// Counter: requests answered 429 by the rate limiter, by `scope`.
pub const RATE_LIMITED_TOTAL: &str = "warden_rate_limited_total";
/// Gauge: jobs by `queue` and `state`, as of the last scrape.
pub const JOBS: &str = "warden_jobs";
/// Counter: calls of `/cron/run`, by `outcome`; incremented by that route.
pub const CRON_RUNS_TOTAL: &str = "warden_cron_runs_total";

/// The values of `reason` on [`AUTH_FAILURES_TOTAL`].
pub const AUTH_FAILURE_REASONS: [&str; 9] = [
    "missing",
    "invalid",
    "revoked",
    "expired",
    "disabled",
    "browser",
    "no_role",
    "unavailable",
    "forbidden",
];

/// The Content-Type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// Histogram buckets of every `*_seconds` histogram: 5 ms to an hour.
const SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0,
    1800.0, 3600.0,
];

/// How often histogram samples are folded into their buckets when nobody scrapes (so
/// they cannot pile up), as `PrometheusBuilder`'s own upkeep does.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Renders what the process-wide recorder holds. Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    handle: PrometheusHandle,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// The Prometheus text format (0.0.4) of every metric recorded so far.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

/// Installs the process-wide Prometheus recorder, describes every metric (help texts)
/// and returns the handle that renders them. Idempotent: later calls return the same
/// handle. Every `*_seconds` histogram gets the buckets 5 ms, 10 ms, … 30 min, 1 h.
///
/// Every series with a fixed label set is registered at zero, so a scrape lists each
/// metric with its help from the start; [`JOBS`] appears with the first scrape and
/// [`CRON_RUNS_TOTAL`] with the first `/cron/run`. A thread folds histogram samples into
/// their buckets every 5 s, so memory stays bounded without scrapes.
///
/// If another recorder was installed first (not by this function), it stays and a
/// warning is logged; the handle then renders nothing.
pub fn install_recorder() -> Metrics {
    static INSTALLED: OnceLock<Metrics> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .expect("the bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!(
                    "another metrics recorder was installed first; /metrics will not show what it records"
                );
            }
            describe();
            let upkeep = handle.clone();
            let spawned = std::thread::Builder::new()
                .name("warden-metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    }
                });
            if let Err(e) = spawned {
                tracing::warn!(error = %e, "could not start the metrics upkeep thread; histograms are folded at each scrape only");
            }
            Metrics { handle }
        })
        .clone()
}

/// Help texts of every metric, and a zero for every series with a fixed label set.
fn describe() {
    warden_engine::instruments::register();
    describe_counter!(
        AUTH_FAILURES_TOTAL,
        Unit::Count,
        "Requests refused for their credentials, by reason (missing, invalid, revoked, expired, disabled, browser, no_role, unavailable: credentials could not be checked; forbidden: authenticated but not allowed)."
    );
    describe_counter!(
        RATE_LIMITED_TOTAL,
        Unit::Count,
        "Requests answered 429 by the rate limiter, by scope (ip: per client address; principal: per authenticated principal; cron: /cron/run's own limits)."
    );
    describe_gauge!(
        JOBS,
        Unit::Count,
        "Jobs by queue and state (every declared queue and every state, 0 when none), as counted in the store at most a few seconds (5 by default) before the scrape; the counts are shared with the scheduler's health."
    );
    describe_counter!(
        CRON_RUNS_TOTAL,
        Unit::Count,
        "Calls of /cron/run, by outcome (ok, failed, busy, unauthorized, forbidden, limited)."
    );
    for outcome in warden_core::CronRunOutcome::ALL {
        counter!(CRON_RUNS_TOTAL, "outcome" => outcome.as_str()).increment(0);
    }
    for reason in AuthFailure::ALL {
        reason.counter().increment(0);
    }
    for scope in [
        RateLimitScope::Ip,
        RateLimitScope::Principal,
        RateLimitScope::Cron,
    ] {
        scope.counter().increment(0);
    }
}

/// Why a request was refused for its credentials: the `reason` of [`AUTH_FAILURES_TOTAL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthFailure {
    Missing,
    Invalid,
    Revoked,
    Expired,
    Disabled,
    Browser,
    NoRole,
    Unavailable,
    Forbidden,
}

impl AuthFailure {
    const ALL: [AuthFailure; 9] = [
        Self::Missing,
        Self::Invalid,
        Self::Revoked,
        Self::Expired,
        Self::Disabled,
        Self::Browser,
        Self::NoRole,
        Self::Unavailable,
        Self::Forbidden,
    ];

    /// Static keys: the macros allocate only for label values that are not literals.
    fn counter(self) -> Counter {
        match self {
            Self::Missing => counter!(AUTH_FAILURES_TOTAL, "reason" => "missing"),
            Self::Invalid => counter!(AUTH_FAILURES_TOTAL, "reason" => "invalid"),
            Self::Revoked => counter!(AUTH_FAILURES_TOTAL, "reason" => "revoked"),
            Self::Expired => counter!(AUTH_FAILURES_TOTAL, "reason" => "expired"),
            Self::Disabled => counter!(AUTH_FAILURES_TOTAL, "reason" => "disabled"),
            Self::Browser => counter!(AUTH_FAILURES_TOTAL, "reason" => "browser"),
            Self::NoRole => counter!(AUTH_FAILURES_TOTAL, "reason" => "no_role"),
            Self::Unavailable => counter!(AUTH_FAILURES_TOTAL, "reason" => "unavailable"),
            Self::Forbidden => counter!(AUTH_FAILURES_TOTAL, "reason" => "forbidden"),
        }
    }

    /// Counts one refusal.
    pub(crate) fn count(self) {
        self.counter().increment(1);
    }
}

/// Which limiter answered 429: the `scope` of [`RATE_LIMITED_TOTAL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RateLimitScope {
    Ip,
    Principal,
    /// `/cron/run`'s own limits (calls, and failed guesses per address).
    Cron,
}

impl RateLimitScope {
    fn counter(self) -> Counter {
        match self {
            Self::Ip => counter!(RATE_LIMITED_TOTAL, "scope" => "ip"),
            Self::Principal => counter!(RATE_LIMITED_TOTAL, "scope" => "principal"),
            Self::Cron => counter!(RATE_LIMITED_TOTAL, "scope" => "cron"),
        }
    }

    /// Counts one 429.
    pub(crate) fn count(self) {
        self.counter().increment(1);
    }
}

/// What `GET /metrics` needs.
struct Scrape<S> {
    scheduler: Scheduler<S>,
    metrics: Metrics,
    token: Option<StaticKey>,
    /// The (queue, state) pairs of undeclared queues (another process's) reported so far:
    /// one missing from the store's counts has dropped to zero and is set back to 0. The
    /// lock also keeps concurrent scrapes from writing the gauges out of order.
    seen: Mutex<HashSet<(String, JobState)>>,
}

/// `GET /metrics`, the Prometheus text format (`Content-Type: text/plain; version=0.0.4`).
///
/// With a `token`, a scrape must send `Authorization: Bearer <token>`; otherwise it is
/// answered 401 in the error envelope. Without one the route is open: serve it that way
/// only on a listen address of its own that scrapers alone can reach. Before rendering, the gauge
/// [`JOBS`] is set for every declared queue and every [`JobState`] (0 when empty) from
/// [`Scheduler::job_counts`] (counted in the store at most
/// `EngineConfig::job_counts_max_age` before, 5 s by default, and shared with the
/// scheduler's health, so scrapes do not count the jobs table each time); a pair of an
/// undeclared queue this router reported before but the store no longer counts is set
/// back to 0.
///
/// The token is a [`StaticKey`], like the environment's API keys: at least 32 characters
/// (checked when it is made) and compared in constant time. A refused scrape is counted in [`AUTH_FAILURES_TOTAL`]
/// (`missing` or `invalid`) but, unlike the API's refusals, not written to the audit
/// trail. The router carries its own request-id layer; it has no fallback, so it can be
/// merged into another router. If the store cannot be counted, the failure is logged and
/// [`JOBS`] keeps its previous values (the rest is still served).
pub fn router<S: Store>(
    scheduler: Scheduler<S>,
    metrics: Metrics,
    token: Option<StaticKey>,
) -> Router {
    let state = Arc::new(Scrape {
        scheduler,
        metrics,
        token,
        seen: Mutex::default(),
    });
    Router::new()
        .route("/metrics", get(get_metrics::<S>))
        .with_state(state)
        .layer(middleware::from_fn(request_id::request_id_layer))
}

async fn get_metrics<S: Store>(
    State(scrape): State<Arc<Scrape<S>>>,
    headers: HeaderMap,
) -> Response {
    if let Some(token) = &scrape.token {
        let refused = match crate::auth::bearer(&headers) {
            None => Some(AuthFailure::Missing),
            Some(Ok(presented)) if token.matches(presented) => None,
            Some(_) => Some(AuthFailure::Invalid),
        };
        if let Some(reason) = refused {
            reason.count();
            let message = match reason {
                AuthFailure::Missing => {
                    "authentication required: send `Authorization: Bearer TOKEN` with the metrics token"
                }
                _ => "invalid credentials",
            };
            return ApiError::unauthenticated(message).into_response();
        }
    }
    scrape.refresh_job_counts().await;
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
        scrape.metrics.render(),
    )
        .into_response()
}

impl<S: Store> Scrape<S> {
    /// Sets [`JOBS`] from the scheduler's counts: every declared queue and state, and the
    /// pairs of other queues counted now or before (0 once gone).
    async fn refresh_job_counts(&self) {
        let mut seen = self.seen.lock().await;
        let counts = match self.scheduler.job_counts().await {
            Ok(counts) => counts,
            Err(e) => {
                tracing::warn!(error = ?e, "counting jobs for /metrics failed; warden_jobs keeps its previous values");
                return;
            }
        };
        let declared = self.scheduler.config().queues.iter();
        let mut values: HashMap<(String, JobState), i64> = declared
            .flat_map(|q| JobState::ALL.map(|state| ((q.name.as_str().to_owned(), state), 0)))
            .chain(seen.iter().map(|pair| (pair.clone(), 0)))
            .collect();
        for c in counts.iter() {
            seen.insert((c.queue.to_string(), c.state));
            values.insert((c.queue.to_string(), c.state), c.count);
        }
        for ((queue, state), count) in values {
            gauge!(JOBS, "queue" => queue, "state" => state.as_str()).set(count as f64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_and_429_is_counted_under_its_published_label() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            for reason in AuthFailure::ALL {
                reason.count();
            }
            RateLimitScope::Ip.count();
            RateLimitScope::Principal.count();
        });
        let text = handle.render();
        for name in AUTH_FAILURE_REASONS {
            let line = format!("{AUTH_FAILURES_TOTAL}{{reason=\"{name}\"}} 1");
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        for scope in ["ip", "principal"] {
            let line = format!("{RATE_LIMITED_TOTAL}{{scope=\"{scope}\"}} 1");
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
    }
}
