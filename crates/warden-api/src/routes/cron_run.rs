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
//! 4. the engine's locked tick ([`Ticker::tick_locked`](warden_engine::Ticker::tick_locked)): the single-flight lock
//!    `cron:run` held in the store with a TTL (default 600 s), so it holds across
//!    processes sharing PostgreSQL (a crashed holder's lock expires) → 409
//!    `Cron is already running.`; the tick within the budget; the lock released; the
//!    call's `cron_runs` row written.
//!
//! Every call, refused ones included, is recorded: one `cron_runs` row (outcome, duration,
//! counts, client IP, user agent, request id) and `warden_cron_runs_total{outcome}`. This
//! module records the refusals of 1.–3. (`forbidden`, `unauthorized`, `limited`), except
//! that those beyond the first few of an address in a minute are counted into one summary
//! row (see [`crate::refusals`]); the engine records the rest.
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
//! - The locked tick runs in a task of its own: a caller that hangs up, or the request
//!   timeout, drops the handler's future, and must not stop the work between taking and
//!   releasing the lock.

use std::{net::IpAddr, sync::Arc, time::Duration};

use axum::{
    Json,
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use governor::clock::{Clock, DefaultClock};
use serde::Serialize;
use tracing::Instrument;
use utoipa::ToSchema;
use warden_core::CronRunOutcome;
use warden_engine::{CronCall, LockedRun, NotRun, TickReport};
use warden_store::{CronRunRecord, Store};

use crate::error::ErrorCode;
use crate::{
    AppState,
    auth::origin,
    cron_run::{CronConfig, Spent},
    error::ApiError,
    metrics::{AuthFailure, CRON_RUNS_TOTAL, RateLimitScope},
    refusals::{self, RefusalLog},
    request_id::current_request_id,
};

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

impl CronRunData {
    fn new(cron_run_id: i64, duration_ms: i64, report: TickReport) -> Self {
        Self {
            cron_run_id,
            duration_ms,
            fired: report.fired,
            skipped: report.skipped,
            missed: report.missed,
            dispatched: report.dispatched,
            budget_spent: report.budget_spent,
        }
    }
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

/// A call: when and from where, for its record, and where its refusals are counted.
struct Caller {
    call: CronCall,
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
        let mut response = ApiError::new(
            ErrorCode::MethodNotAllowed,
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
        return ApiError::not_found("/cron/run is not enabled: set CRON_TOKEN").into_response();
    };
    let started = std::time::Instant::now();
    let (ip, user_agent) = origin(&request);
    let request_id = current_request_id();
    let caller = Caller {
        call: CronCall {
            started,
            client_ip: ip.and_then(|ip| ip.parse::<IpAddr>().ok()),
            user_agent,
            request_id: (!request_id.is_empty()).then_some(request_id),
        },
        refusals: request.extensions().get::<Arc<RefusalLog>>().cloned(),
    };
    let refused = |outcome, status, message, detail: &str, retry: Option<u64>| {
        let record = caller.call.record(outcome, TickReport::default(), detail);
        refuse(&state, &caller, outcome, record, status, message, retry)
    };

    if !trigger.allows(caller.call.client_ip) {
        return refused(
            CronRunOutcome::Forbidden,
            StatusCode::FORBIDDEN,
            "Forbidden.",
            "the caller's address is not on the allowlist",
            None,
        )
        .await;
    }

    let presented = trigger.presented(request.headers(), request.uri().query());
    let authenticated = presented.is_ok_and(|t| trigger.accepts(t));
    if !authenticated {
        let detail = match presented {
            Err(why) => why,
            Ok(_) => "the token matches no configured CRON_TOKEN",
        };
        if let Some(ip) = caller.call.client_ip
            && let Err(n) = trigger.check_guess(ip)
        {
            RateLimitScope::Cron.count();
            return refused(
                CronRunOutcome::Limited,
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests.",
                detail,
                Some(retry_after(&n)),
            )
            .await;
        }
        match presented {
            Err(_) => AuthFailure::Missing.count(),
            Ok(_) => AuthFailure::Invalid.count(),
        }
        return refused(
            CronRunOutcome::Unauthorized,
            StatusCode::UNAUTHORIZED,
            "Unauthorized.",
            detail,
            None,
        )
        .await;
    }

    if let Err(n) = trigger.check_call() {
        RateLimitScope::Cron.count();
        return refused(
            CronRunOutcome::Limited,
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests.",
            "the endpoint's rate limit is spent",
            Some(retry_after(&n)),
        )
        .await;
    }

    // In a task of its own (see the invariants above): the lock would otherwise stay held
    // for its whole TTL, and the call go unrecorded.
    let CronConfig {
        budget, lock_ttl, ..
    } = trigger.config;
    let ticker = trigger.ticker.clone();
    let call = caller.call;
    let locked = async move { ticker.tick_locked(&call, budget, lock_ttl).await }
        .instrument(tracing::Span::current());
    match tokio::spawn(locked).await {
        Ok(run) => answer_locked(run),
        Err(e) => {
            tracing::error!(error = %e, "the /cron/run task failed");
            ApiError::new(
                ErrorCode::InternalError,
                "the cron run failed; see the server log",
            )
            .into_response()
        }
    }
}

/// Counts the engine's locked tick (its record is written) and answers it.
fn answer_locked(run: LockedRun) -> Response {
    let LockedRun {
        result,
        record_id,
        duration_ms,
    } = run;
    let (outcome, status, body) = match result {
        Ok(report) => (
            CronRunOutcome::Ok,
            StatusCode::OK,
            CronRunAnswer {
                ok: true,
                message: "Schedule executed.",
                data: Some(CronRunData::new(record_id, duration_ms, report)),
            },
        ),
        Err(NotRun::Busy) => (
            CronRunOutcome::Busy,
            StatusCode::CONFLICT,
            CronRunAnswer {
                ok: false,
                message: "Cron is already running.",
                data: None,
            },
        ),
        Err(NotRun::Failed) => (
            CronRunOutcome::Failed,
            StatusCode::INTERNAL_SERVER_ERROR,
            CronRunAnswer {
                ok: false,
                message: "Schedule failed.",
                data: Some(CronRunData::new(
                    record_id,
                    duration_ms,
                    TickReport::default(),
                )),
            },
        ),
    };
    count(outcome);
    answer(status, body, None)
}

/// Whole seconds until `spent` has room again (at least 1), for `Retry-After`.
fn retry_after(spent: &Spent) -> u64 {
    let wait: Duration = spent.wait_time_from(DefaultClock::default().now());
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

/// Counts a call in `warden_cron_runs_total` under its outcome.
fn count(outcome: CronRunOutcome) {
    metrics::counter!(CRON_RUNS_TOTAL, "outcome" => outcome.as_str()).increment(1);
}

/// Counts and records a call refused before the tick (`outcome`: `forbidden`,
/// `unauthorized` or `limited`) through [`refusals`] (in full, or counted into a
/// summary), and answers it.
async fn refuse<S: Store>(
    state: &AppState<S>,
    caller: &Caller,
    outcome: CronRunOutcome,
    record: CronRunRecord,
    status: StatusCode,
    message: &'static str,
    retry: Option<u64>,
) -> Response {
    count(outcome);
    refusals::record_cron(state, caller.refusals.as_ref(), record).await;
    let body = CronRunAnswer {
        ok: false,
        message,
        data: None,
    };
    answer(status, body, retry)
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
