//! `GET|POST /cron/run`: one scheduler tick for an external cron or uptime service.
//!
//! # Model
//! The route is public (outside the principal auth layer) because it has a credential of
//! its own, the `CRON_TOKEN`s. A call passes, in order:
//!
//! 1. the optional IP allowlist → 403 `Forbidden.`;
//! 2. the token: `Authorization: Bearer …`, or `?token=` only when
//!    [`CronConfig::allow_query_token`] is set; matched in constant time against every
//!    configured token (several, so one can be rotated without downtime) → 401
//!    `Unauthorized.`. Failed guesses spend a per-address bucket of the same quota as 3., so
//!    guessing is slow and a guesser cannot use up the real caller's quota;
//! 3. the endpoint's own rate limit (default 10 calls per 10 minutes: a burst of 10, then one
//!    more each minute), shared by every authenticated caller → 429 with `Retry-After`;
//! 4. the single-flight lock `cron:run` held in the store with a TTL (default 600 s), so it
//!    holds across processes sharing PostgreSQL; a crashed holder's lock expires → 409
//!    `Cron is already running.`;
//! 5. the tick ([`Ticker::tick`]) within the budget; then the lock is released.
//!
//! Every call, refused ones included, is recorded: one `cron_runs` row (outcome, duration,
//! counts, client IP, user agent, request id) and `warden_cron_runs_total{outcome}`;
//! except that refusals (`unauthorized`, `forbidden`, `limited`) beyond the first few of an
//! address in a minute are counted into one summary row (see [`crate::refusals`]).
//!
//! `HEAD /cron/run` is answered 405 with `Allow: GET,POST` and does nothing else (no
//! check, no tick, no record): HEAD must not change state, and an answer without a body
//! could not say what a tick did.
//!
//! # Invariants
//! - A token never reaches a log or a record: the request span carries the path only, and
//!   nothing here logs the query string or a header.
//! - Occurrences are keyed by (schedule, instant), so even two ticks at once (a lock that
//!   expired under a slow tick) fire each occurrence once.

use std::{
    net::IpAddr,
    num::NonZeroU32,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use axum::{
    Json,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use governor::{
    DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};
use ipnet::IpNet;
use jiff::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;
use warden_engine::{TickReport, Ticker};
use warden_security::envkey::StaticKey;
use warden_store::{CronRunRecord, Store};

use tracing::Instrument;

use crate::{
    AppState,
    auth::origin,
    metrics::{AuthFailure, RateLimitScope},
    ratelimit::bucket,
    refusals::{self, RefusalLog},
    request_id::current_request_id,
};
use warden_store::LockAcquireParams;

/// The lock's name in the store.
pub const LOCK_NAME: &str = "cron:run";

/// How `/cron/run` is guarded and how long it may work.
pub struct CronConfig {
    /// Accepted tokens (at least 32 characters each, see [`StaticKey`]).
    pub tokens: Vec<StaticKey>,
    /// Accept `?token=` as well as the `Authorization` header (off by default: URLs end up
    /// in proxy and provider logs).
    pub allow_query_token: bool,
    /// When not empty, only these networks may call.
    pub allow_ips: Vec<IpNet>,
    /// Calls allowed per [`Self::rate_window`] (0: no limit).
    pub rate_limit: u32,
    pub rate_window: Duration,
    /// Time allowed to dispatch due jobs before answering.
    pub budget: Duration,
    /// How long the single-flight lock lives if its holder dies.
    pub lock_ttl: Duration,
}

impl CronConfig {
    /// The defaults of issue 5: 10 calls per 10 minutes, a 10 s budget, a 600 s lock.
    pub fn new(tokens: Vec<StaticKey>) -> Self {
        Self {
            tokens,
            allow_query_token: false,
            allow_ips: Vec::new(),
            rate_limit: 10,
            rate_window: Duration::from_secs(600),
            budget: Duration::from_secs(10),
            lock_ttl: Duration::from_secs(600),
        }
    }
}

/// The endpoint's configuration, limiters and the engine's ticker.
pub struct CronTrigger<S> {
    config: CronConfig,
    ticker: Ticker<S>,
    calls: Option<DefaultDirectRateLimiter>,
    guesses: Option<DefaultKeyedRateLimiter<IpAddr>>,
    guess_calls: AtomicU64,
}

impl<S> CronTrigger<S> {
    pub fn new(config: CronConfig, ticker: Ticker<S>) -> Self {
        let quota = NonZeroU32::new(config.rate_limit).map(|n| {
            let period = (config.rate_window / n.get()).max(Duration::from_millis(1));
            Quota::with_period(period)
                .expect("a period of at least 1 ms")
                .allow_burst(n)
        });
        Self {
            calls: quota.map(RateLimiter::direct),
            guesses: quota.map(RateLimiter::keyed),
            guess_calls: AtomicU64::new(0),
            config,
            ticker,
        }
    }

    /// Spends one failed guess of `ip`'s bucket (IPv6 per /64, as the API's limiter).
    fn check_guess(
        &self,
        ip: IpAddr,
    ) -> Result<(), governor::NotUntil<governor::clock::QuantaInstant>> {
        let Some(guesses) = &self.guesses else {
            return Ok(());
        };
        // The per-address state grows with guessers: forget the idle ones now and then.
        if self.guess_calls.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            guesses.retain_recent();
        }
        guesses.check_key(&bucket(ip))
    }

    /// Whether `presented` is one of the tokens. Every token is compared (no early exit),
    /// each in constant time.
    fn accepts(&self, presented: &str) -> bool {
        self.config
            .tokens
            .iter()
            .fold(false, |found, token| token.matches(presented) | found)
    }
}

/// The answer's `data` on success (and on failure, with the record's id).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CronRunData {
    /// The `cron_runs` record of this call.
    cron_run_id: i64,
    duration_ms: i64,
    /// Occurrences that enqueued a job.
    fired: u64,
    /// Occurrences skipped (schedule paused, or its previous job still active).
    skipped: u64,
    /// Occurrences missed (past their deadline, or due while warden was down).
    missed: u64,
    /// Due jobs claimed by this process's workers during the call.
    dispatched: u64,
    /// Whether the time budget ran out before every due job was claimed.
    budget_spent: bool,
}

/// The seed's answer: `{"ok": true, "message": "Schedule executed.", "data": {…}}`, or
/// `{"ok": false, "message": "Unauthorized."}` and the like.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CronRunAnswer {
    ok: bool,
    message: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<CronRunData>,
}

/// Where a call came from, for its record, and where its refusals are counted.
struct Caller {
    ip: Option<IpAddr>,
    user_agent: Option<String>,
    request_id: String,
    refusals: Option<Arc<RefusalLog>>,
}

/// `GET /cron/run`: the same as [`post_cron_run`], for cron services that only send GET.
/// (Two handlers because an OpenAPI operation id names one method; the answers are the
/// same.)
#[utoipa::path(
    get,
    path = "/cron/run",
    tag = "cron",
    responses(
        (status = 200, description = "The tick ran.", body = CronRunAnswer),
        (status = 401, description = "No valid cron token.", body = CronRunAnswer),
        (status = 403, description = "The caller's address is not on the allowlist.", body = CronRunAnswer),
        (status = 404, description = "`/cron/run` is not enabled (no `CRON_TOKEN`)."),
        (status = 409, description = "Another call (of any process) is running.", body = CronRunAnswer),
        (status = 429, description = "Too many calls; see `Retry-After`.", body = CronRunAnswer),
        (status = 500, description = "The tick failed.", body = CronRunAnswer),
    )
)]
pub(crate) async fn get_cron_run<S: Store>(
    state: State<AppState<S>>,
    request: Request,
) -> Response {
    // axum routes HEAD to the GET handler: HEAD must not change state, so it runs nothing.
    if request.method() == Method::HEAD {
        let mut response = crate::error::ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "HEAD does not run a tick; call /cron/run with GET or POST",
        )
        .into_response();
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET,POST"));
        return response;
    }
    cron_run(state, request).await
}

/// `POST /cron/run`: runs one scheduler tick — every due occurrence is fired, skipped or
/// marked missed by its schedule's policies, and due jobs are handed to this process's
/// workers within the time budget — then answers with the counts. Authenticate with
/// `Authorization: Bearer <CRON_TOKEN>` (`?token=` only when the server allows it).
#[utoipa::path(
    post,
    path = "/cron/run",
    tag = "cron",
    responses(
        (status = 200, description = "The tick ran.", body = CronRunAnswer),
        (status = 401, description = "No valid cron token.", body = CronRunAnswer),
        (status = 403, description = "The caller's address is not on the allowlist.", body = CronRunAnswer),
        (status = 404, description = "`/cron/run` is not enabled (no `CRON_TOKEN`)."),
        (status = 409, description = "Another call (of any process) is running.", body = CronRunAnswer),
        (status = 429, description = "Too many calls; see `Retry-After`.", body = CronRunAnswer),
        (status = 500, description = "The tick failed.", body = CronRunAnswer),
    )
)]
pub(crate) async fn post_cron_run<S: Store>(
    state: State<AppState<S>>,
    request: Request,
) -> Response {
    cron_run(state, request).await
}

async fn cron_run<S: Store>(State(state): State<AppState<S>>, request: Request) -> Response {
    let Some(trigger) = state.cron.clone() else {
        return crate::error::ApiError::not_found("/cron/run is not enabled: set CRON_TOKEN")
            .into_response();
    };
    let started = std::time::Instant::now();
    let (ip, user_agent) = origin(&request);
    let caller = Caller {
        ip: ip.and_then(|ip| ip.parse().ok()),
        user_agent,
        request_id: current_request_id(),
        refusals: request.extensions().get::<Arc<RefusalLog>>().cloned(),
    };
    let refused = |outcome, status, message, detail: &str, retry: Option<u64>| {
        let record = record_of(&caller, outcome, started, TickReport::default(), detail);
        refuse(&state, &caller, record, status, message, retry)
    };

    if !trigger.config.allow_ips.is_empty()
        && !caller
            .ip
            .is_some_and(|ip| trigger.config.allow_ips.iter().any(|n| n.contains(&ip)))
    {
        return refused(
            "forbidden",
            StatusCode::FORBIDDEN,
            "Forbidden.",
            "the caller's address is not on the allowlist",
            None,
        )
        .await;
    }

    let presented = presented_token(
        request.headers(),
        request.uri().query(),
        trigger.config.allow_query_token,
    );
    let authenticated = presented.is_ok_and(|t| trigger.accepts(t));
    if !authenticated {
        let detail = match presented {
            Err(why) => why,
            Ok(_) => "the token matches no configured CRON_TOKEN",
        };
        if let Some(ip) = caller.ip
            && let Err(n) = trigger.check_guess(ip)
        {
            RateLimitScope::Cron.count();
            let wait = retry_after(n.wait_time_from(DefaultClock::default().now()));
            return refused(
                "limited",
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests.",
                detail,
                Some(wait),
            )
            .await;
        }
        match presented {
            Err(_) => AuthFailure::Missing.count(),
            Ok(_) => AuthFailure::Invalid.count(),
        }
        return refused(
            "unauthorized",
            StatusCode::UNAUTHORIZED,
            "Unauthorized.",
            detail,
            None,
        )
        .await;
    }

    if let Some(calls) = &trigger.calls
        && let Err(n) = calls.check()
    {
        RateLimitScope::Cron.count();
        let wait = retry_after(n.wait_time_from(DefaultClock::default().now()));
        return refused(
            "limited",
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests.",
            "the endpoint's rate limit is spent",
            Some(wait),
        )
        .await;
    }

    // The locked part runs in a task of its own: a caller that hangs up, or the request
    // timeout, drops this handler's future, and must not stop the work between taking and
    // releasing the lock (the lock would stay held for its whole TTL, the call unrecorded).
    let locked = run_locked(state, trigger, caller, started).instrument(tracing::Span::current());
    match tokio::spawn(locked).await {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(error = %e, "the /cron/run task failed");
            crate::error::ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "the cron run failed; see the server log",
            )
            .into_response()
        }
    }
}

/// Takes the single-flight lock, ticks, releases the lock and records the call.
async fn run_locked<S: Store>(
    state: AppState<S>,
    trigger: Arc<CronTrigger<S>>,
    caller: Caller,
    started: std::time::Instant,
) -> Response {
    let refused = |outcome, status, message, detail: &str| {
        let record = record_of(&caller, outcome, started, TickReport::default(), detail);
        refuse(&state, &caller, record, status, message, None)
    };
    let holder = uuid::Uuid::now_v7().to_string();
    let now = Timestamp::now();
    let ttl = jiff::SignedDuration::try_from(trigger.config.lock_ttl).unwrap_or_default();
    let until = now.saturating_add(ttl).unwrap_or(now);
    match state
        .store
        .lock_acquire(LockAcquireParams {
            name: LOCK_NAME.to_owned(),
            holder: holder.clone(),
            now,
            until,
        })
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return refused(
                "busy",
                StatusCode::CONFLICT,
                "Cron is already running.",
                "another call holds the lock",
            )
            .await;
        }
        Err(e) => {
            tracing::error!(error = ?e, "could not take the cron lock");
            return refused(
                "failed",
                StatusCode::INTERNAL_SERVER_ERROR,
                "Schedule failed.",
                "the store could not be reached to take the lock",
            )
            .await;
        }
    }

    // In a task of its own too, so that a panic in the tick still releases the lock.
    let (ticker, budget) = (trigger.ticker.clone(), trigger.config.budget);
    let result = match tokio::spawn(async move { ticker.tick(budget).await }).await {
        Ok(Ok(report)) => Ok(report),
        Ok(Err(e)) => Err(format!("{e:?}")),
        Err(e) => Err(format!("the tick panicked: {e}")),
    };
    if let Err(e) = state.store.lock_release(LOCK_NAME, &holder).await {
        // It expires with its TTL; until then calls answer 409.
        tracing::warn!(error = ?e, "could not release the cron lock");
    }
    match result {
        Ok(report) => {
            let record = record_of(&caller, "ok", started, report, "");
            let duration_ms = record.duration_ms;
            let id = write_record(&state, &caller, record).await;
            let data = CronRunData {
                cron_run_id: id,
                duration_ms,
                fired: report.fired,
                skipped: report.skipped,
                missed: report.missed,
                dispatched: report.dispatched,
                budget_spent: report.budget_spent,
            };
            answer(
                StatusCode::OK,
                CronRunAnswer {
                    ok: true,
                    message: "Schedule executed.",
                    data: Some(data),
                },
                None,
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "the cron tick failed");
            refused(
                "failed",
                StatusCode::INTERNAL_SERVER_ERROR,
                "Schedule failed.",
                "the tick failed; see the server log",
            )
            .await
        }
    }
}

/// The presented token, or why there is none usable. Never logs or echoes it.
fn presented_token<'a>(
    headers: &'a HeaderMap,
    query: Option<&'a str>,
    allow_query: bool,
) -> Result<&'a str, &'static str> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| "the Authorization header is not text")?;
        let (scheme, token) = value
            .split_once(' ')
            .ok_or("the Authorization header is not `Bearer <token>`")?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err("the Authorization header is not `Bearer <token>`");
        }
        return Ok(token.trim());
    }
    let from_query = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("token="));
    match from_query {
        Some(_) if !allow_query => {
            Err("a ?token= was sent but query tokens are not allowed (cron.allow_query_token)")
        }
        // Tokens are URL-safe (`openssl rand -hex 32`); an encoded one is matched as sent.
        Some(token) => Ok(token),
        None => Err("no token was sent"),
    }
}

fn retry_after(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

fn record_of(
    caller: &Caller,
    outcome: &str,
    started: std::time::Instant,
    report: TickReport,
    detail: &str,
) -> CronRunRecord {
    let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    CronRunRecord {
        at: Timestamp::now(),
        outcome: outcome.into(),
        duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        fired: count(report.fired),
        skipped: count(report.skipped),
        missed: count(report.missed),
        dispatched: count(report.dispatched),
        client_ip: caller.ip.map(|ip| ip.to_string()),
        user_agent: caller.user_agent.clone(),
        request_id: (!caller.request_id.is_empty()).then(|| caller.request_id.clone()),
        detail: (!detail.is_empty()).then(|| detail.to_owned()),
    }
}

/// Counts the call and records it: a refusal through [`refusals`] (in full, or counted
/// into a summary), anything else in full. Returns the record's id (0 when it was only
/// counted or could not be written: the answer still goes out).
async fn write_record<S: Store>(
    state: &AppState<S>,
    caller: &Caller,
    record: CronRunRecord,
) -> i64 {
    let outcome = outcome_label(&record.outcome);
    metrics::counter!(crate::metrics::CRON_RUNS_TOTAL, "outcome" => outcome).increment(1);
    match outcome {
        "unauthorized" | "forbidden" | "limited" => {
            refusals::record_cron(state, caller.refusals.as_ref(), outcome, record).await
        }
        _ => insert_record(state, record).await,
    }
}

/// Writes the record; its id, or 0 when it could not be written (logged).
pub(crate) async fn insert_record<S: Store>(state: &AppState<S>, record: CronRunRecord) -> i64 {
    match state.store.cron_run_insert(record).await {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(error = ?e, "could not write the cron_runs record");
            0
        }
    }
}

/// Every outcome of a call, as recorded and counted.
pub const OUTCOMES: [&str; 6] = [
    "ok",
    "failed",
    "busy",
    "unauthorized",
    "forbidden",
    "limited",
];

/// The metric label for an outcome (one of [`OUTCOMES`]).
fn outcome_label(outcome: &str) -> &'static str {
    OUTCOMES
        .into_iter()
        .find(|o| *o == outcome)
        .unwrap_or("failed")
}

/// Records a call that did not tick (or whose tick failed) and answers it; a failure's
/// answer carries its record's id.
async fn refuse<S: Store>(
    state: &AppState<S>,
    caller: &Caller,
    record: CronRunRecord,
    status: StatusCode,
    message: &'static str,
    retry: Option<u64>,
) -> Response {
    let duration_ms = record.duration_ms;
    let id = write_record(state, caller, record).await;
    let data = (status == StatusCode::INTERNAL_SERVER_ERROR).then_some(CronRunData {
        cron_run_id: id,
        duration_ms,
        fired: 0,
        skipped: 0,
        missed: 0,
        dispatched: 0,
        budget_spent: false,
    });
    answer(
        status,
        CronRunAnswer {
            ok: false,
            message,
            data,
        },
        retry,
    )
}

fn answer(status: StatusCode, body: CronRunAnswer, retry_after: Option<u64>) -> Response {
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer realm="warden-cron""#),
        );
    }
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}
