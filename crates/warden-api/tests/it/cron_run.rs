//! `/cron/run`, the cron-run records and the scheduler's health, on both backends: the
//! token (header, query only when allowed, several for rotation), the IP allowlist, the
//! rate limits, the single-flight lock (50 concurrent calls run once; a dead holder's lock
//! expires), the seed's answers, and occurrences fired once however often it is called.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use reqwest::{Method, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use warden_api::cron_run::CronConfig;
use warden_core::{ManualClock, Role, ScheduleId, Scope};
use warden_engine::{CRON_RUN_LOCK as LOCK_NAME, CronRequest, JobRequest};
use warden_security::envkey::StaticKey;
use warden_store::{OccurrencePage, OpsStore, Store};
use warden_testkit::{TestDb, backend_tests};

use crate::support::{ADMIN_ENV_KEY, Answer, Options, TestApp};
use warden_store::LockAcquireParams;

const TOKEN: &str = "cron-token-0123456789abcdef0123456789abcdef";
const NEXT_TOKEN: &str = "cron-token-rotated-0123456789abcdef01234567";

fn config(tokens: &[&str]) -> CronConfig {
    CronConfig::new(
        tokens
            .iter()
            .map(|t| StaticKey::new("CRON_TOKEN", SecretString::from(*t)).unwrap())
            .collect(),
    )
}

async fn trigger(app: &TestApp, method: Method, path: &str, token: Option<&str>) -> Answer {
    app.call(method, path, token, None).await
}

async fn cron_runs(app: &TestApp) -> Vec<Value> {
    let answer = app.get("/api/v1/cron-runs", ADMIN_ENV_KEY).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body["data"].as_array().unwrap().clone()
}

backend_tests!(
    the_token_is_required_and_every_call_is_recorded,
    |db: TestDb| async move {
        let app = TestApp::spawn_cron(db, config(&[TOKEN, NEXT_TOKEN])).await;
        let unauthorized = json!({"ok": false, "message": "Unauthorized."});
        for (path, token) in [
            ("/cron/run", None),
            (
                "/cron/run",
                Some("cron-token-0123456789abcdef0123456789abcdeX"),
            ),
            // Query tokens are off by default.
            (
                "/cron/run?token=cron-token-0123456789abcdef0123456789abcdef",
                None,
            ),
        ] {
            let a = trigger(&app, Method::POST, path, token).await;
            assert_eq!(a.status, StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(a.body, unauthorized);
        }
        // Both configured tokens work, by GET and POST.
        let mut request_ids = Vec::new();
        for (method, token) in [(Method::POST, TOKEN), (Method::GET, NEXT_TOKEN)] {
            let req = app
                .client
                .request(method, app.url("/cron/run"))
                .bearer_auth(token)
                .header("x-request-id", "cron-call-1")
                .header("user-agent", "cron-job.org");
            let a = app.send(req, None).await;
            assert_eq!(a.status, StatusCode::OK, "{}", a.body);
            assert_eq!(a.body["ok"], true);
            assert_eq!(a.body["message"], "Schedule executed.");
            // Warden's own id; the client's is echoed apart.
            assert_eq!(a.headers["x-client-request-id"], "cron-call-1");
            request_ids.push(a.headers["x-request-id"].to_str().unwrap().to_owned());
            for field in [
                "cron_run_id",
                "duration_ms",
                "fired",
                "skipped",
                "missed",
                "dispatched",
            ] {
                assert!(a.body["data"][field].is_u64(), "{field}: {}", a.body);
            }
        }
        let runs = cron_runs(&app).await;
        let outcomes: Vec<&str> = runs
            .iter()
            .map(|r| r["outcome"].as_str().unwrap())
            .collect();
        assert_eq!(
            outcomes,
            ["ok", "ok", "unauthorized", "unauthorized", "unauthorized"]
        );
        assert_eq!(runs[0]["requestId"], request_ids[1].as_str());
        assert_eq!(runs[0]["userAgent"], "cron-job.org");
        assert_eq!(runs[0]["clientIp"], "127.0.0.1");
        assert!(
            runs[4]["detail"].as_str().unwrap().contains("no token"),
            "{}",
            runs[4]
        );
        assert!(
            runs[2]["detail"]
                .as_str()
                .unwrap()
                .contains("query tokens are not allowed")
        );
        // The answer's id is the record's.
        let a = trigger(&app, Method::POST, "/cron/run", Some(TOKEN)).await;
        assert_eq!(
            a.body["data"]["cron_run_id"],
            cron_runs(&app).await[0]["id"]
        );
        // Admins and viewers read the records; other roles do not.
        viewers_may_read_and_schedulers_may_not(&app, "/api/v1/cron-runs").await;
        // No token ever reaches a record.
        let everything = cron_runs(&app).await;
        let text = Value::from(everything).to_string();
        assert!(!text.contains("cron-token-"), "{text}");
    }
);

backend_tests!(
    a_query_token_works_only_when_allowed,
    |db: TestDb| async move {
        let mut c = config(&[TOKEN]);
        c.allow_query_token = true;
        let app = TestApp::spawn_cron(db, c).await;
        let a = trigger(&app, Method::GET, &format!("/cron/run?token={TOKEN}"), None).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        let a = trigger(&app, Method::GET, "/cron/run?token=wrong", None).await;
        assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    }
);

backend_tests!(fifty_concurrent_calls_run_once, |db: TestDb| async move {
    let app = TestApp::spawn_cron(db, config(&[TOKEN])).await;
    wait_in_a_paused_queue(&app).await;
    let answers = concurrent_calls(&app, 50, TOKEN).await;
    let ok = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    assert_eq!(ok, 1, "exactly one call runs");
    for a in answers.iter().filter(|a| a.status != StatusCode::OK) {
        match a.status {
            StatusCode::CONFLICT => assert_eq!(
                a.body,
                json!({"ok": false, "message": "Cron is already running."})
            ),
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(a.headers.contains_key("retry-after"));
                assert_eq!(a.body["ok"], false);
            }
            other => panic!("unexpected {other}: {}", a.body),
        }
    }
    let busy = answers
        .iter()
        .filter(|a| a.status == StatusCode::CONFLICT)
        .count();
    assert!(busy >= 1, "no call met the lock");
    let runs = cron_runs(&app).await;
    assert_eq!(runs.len(), 50, "every call is recorded");
    assert_eq!(runs.iter().filter(|r| r["outcome"] == "ok").count(), 1);
    assert_eq!(runs.iter().filter(|r| r["outcome"] == "busy").count(), busy);
});

backend_tests!(a_dead_holders_lock_expires, |db: TestDb| async move {
    let app = TestApp::spawn_cron(db, config(&[TOKEN])).await;
    let now = Timestamp::now();
    // A holder that crashed an hour ago, with a lock that has run out…
    assert!(
        app.store
            .lock_acquire(LockAcquireParams {
                name: LOCK_NAME.to_owned(),
                holder: "crashed".to_owned(),
                now: now - SignedDuration::from_hours(1),
                until: now - SignedDuration::from_secs(1)
            })
            .await
            .unwrap()
    );
    let a = trigger(&app, Method::POST, "/cron/run", Some(TOKEN)).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // …and one still running elsewhere.
    assert!(
        app.store
            .lock_acquire(LockAcquireParams {
                name: LOCK_NAME.to_owned(),
                holder: "other-node".to_owned(),
                now,
                until: now + SignedDuration::from_mins(10)
            })
            .await
            .unwrap()
    );
    let a = trigger(&app, Method::POST, "/cron/run", Some(TOKEN)).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
});

backend_tests!(
    a_double_trigger_fires_each_occurrence_once,
    |db: TestDb| async move {
        let clock = ManualClock::new(Timestamp::now());
        let app = TestApp::spawn_cron_on(db, config(&[TOKEN]), clock.clone()).await;
        let schedule = add_every_second(&app).await;
        // Its first occurrence falls due within a second: move the engine's clock past it.
        clock.advance(SignedDuration::from_millis(1500));
        let first = trigger(&app, Method::POST, "/cron/run", Some(TOKEN)).await;
        let second = trigger(&app, Method::POST, "/cron/run", Some(TOKEN)).await;
        let fired = |a: &Answer| a.body["data"]["fired"].as_u64().unwrap();
        assert!(fired(&first) >= 1, "{}", first.body);
        let ledger = app
            .store
            .occurrence_list(
                schedule,
                Scope::All,
                OccurrencePage {
                    limit: 500,
                    after: None,
                },
            )
            .await
            .unwrap();
        let ran: Vec<_> = ledger
            .iter()
            .filter(|o| o.outcome == warden_core::OccurrenceOutcome::Ran)
            .collect();
        // Every firing is one ledger row with its own job, and none fired twice.
        assert_eq!(ran.len() as u64, fired(&first) + fired(&second));
        let mut instants: Vec<_> = ran.iter().map(|o| o.scheduled_at).collect();
        instants.dedup();
        assert_eq!(instants.len(), ran.len());
        let mut jobs: Vec<_> = ran.iter().map(|o| o.job_id.unwrap()).collect();
        jobs.sort();
        jobs.dedup();
        assert_eq!(jobs.len(), ran.len());
    }
);

backend_tests!(
    rate_limits_answer_429_with_retry_after,
    |db: TestDb| async move {
        let mut c = config(&[TOKEN]);
        c.rate_limit = 2;
        c.rate_window = Duration::from_secs(600);
        let app = TestApp::spawn_cron(db, c).await;
        for _ in 0..2 {
            let a = trigger(&app, Method::POST, "/cron/run", Some(TOKEN)).await;
            assert_eq!(a.status, StatusCode::OK);
        }
        let a = trigger(&app, Method::POST, "/cron/run", Some(TOKEN)).await;
        assert_eq!(a.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            a.body,
            json!({"ok": false, "message": "Too many requests."})
        );
        let wait: u64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=300).contains(&wait), "{wait}");
        // Guessing spends a bucket of its own, per address: 2 guesses, then 429.
        let guesses: Vec<StatusCode> = concurrent_calls(&app, 3, "nope")
            .await
            .iter()
            .map(|a| a.status)
            .collect();
        assert_eq!(
            guesses
                .iter()
                .filter(|s| **s == StatusCode::UNAUTHORIZED)
                .count(),
            2
        );
        assert!(guesses.contains(&StatusCode::TOO_MANY_REQUESTS));
    }
);

backend_tests!(only_allowed_networks_may_call, |db: TestDb| async move {
    let mut c = config(&[TOKEN]);
    c.allow_ips = vec!["10.0.0.0/8".parse().unwrap()];
    let app = TestApp::spawn_cron(db, c).await;
    let a = trigger(&app, Method::POST, "/cron/run", Some(TOKEN)).await;
    assert_eq!(a.status, StatusCode::FORBIDDEN);
    assert_eq!(a.body, json!({"ok": false, "message": "Forbidden."}));
    assert_eq!(cron_runs(&app).await[0]["outcome"], "forbidden");
});

backend_tests!(
    health_reports_late_until_a_tick_and_shows_the_backlog,
    |db: TestDb| async move {
        let app = TestApp::spawn_cron(db, config(&[TOKEN])).await;
        // No loop runs here and nothing has called /cron/run: late.
        let h = health(&app).await;
        assert_eq!(h["late"], true, "{h}");
        assert!(
            h["reasons"][0]
                .as_str()
                .unwrap()
                .contains("no scheduler tick")
        );
        assert_eq!(h["lastTickAt"], Value::Null);

        wait_in_a_paused_queue(&app).await;
        let a = trigger(&app, Method::POST, "/cron/run", Some(TOKEN)).await;
        assert_eq!(a.status, StatusCode::OK);
        let h = health(&app).await;
        assert_eq!(h["late"], false, "{h}");
        assert!(h["lastTickAt"].is_string());
        assert_eq!(
            h["backlog"],
            json!([{"queue": "default", "state": "available", "count": 1}])
        );
        assert!(h["oldestWaitingJobAgeSecs"].as_f64().unwrap() >= 0.0);
        viewers_may_read_and_schedulers_may_not(&app, "/api/v1/health/scheduler").await;
    }
);

backend_tests!(
    the_internal_loop_records_its_ticks,
    |db: TestDb| async move {
        // The default app runs the cron loop (and has no /cron/run).
        let app = TestApp::spawn(db).await;
        warden_testkit::eventually("a recorded tick", || async {
            app.store.tick_last().await.unwrap().is_some()
        })
        .await;
        let a = trigger(&app, Method::POST, "/cron/run", Some(TOKEN)).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND);
    }
);

/// `n` calls of `POST /cron/run` with `token`, all in flight at once.
async fn concurrent_calls(app: &TestApp, n: usize, token: &str) -> Vec<Answer> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let request = app
            .client
            .post(app.url("/cron/run"))
            .bearer_auth(token.to_owned());
        set.spawn(async move { Answer::read(request.send().await.unwrap()).await });
    }
    set.join_all().await
}

/// A viewer's key reads `path`; a scheduler's is refused it.
async fn viewers_may_read_and_schedulers_may_not(app: &TestApp, path: &str) {
    let viewer = app.key("watcher", Role::Viewer).await;
    assert_eq!(
        app.get(path, &viewer).await.status,
        StatusCode::OK,
        "{path}"
    );
    let scheduler = app.key("team", Role::Scheduler).await;
    assert_eq!(
        app.get(path, &scheduler).await.status,
        StatusCode::FORBIDDEN,
        "{path}"
    );
}

async fn health(app: &TestApp) -> Value {
    let a = app.get("/api/v1/health/scheduler", ADMIN_ENV_KEY).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    a.body["data"].clone()
}

backend_tests!(
    a_caller_that_hangs_up_leaves_the_lock_free_and_the_call_recorded,
    |db: TestDb| async move {
        let app = TestApp::spawn_cron(db, config(&[TOKEN])).await;
        wait_in_a_paused_queue(&app).await;
        let gave_up = app
            .client
            .post(app.url("/cron/run"))
            .bearer_auth(TOKEN)
            .header("user-agent", "hung-up")
            .timeout(Duration::from_millis(50))
            .send()
            .await;
        assert!(gave_up.is_err(), "the call was meant to be cut short");
        // The run went on without its caller: it is recorded and its lock released.
        warden_testkit::eventually("the abandoned call's record", || async {
            cron_runs(&app)
                .await
                .iter()
                .any(|r| r["userAgent"] == "hung-up" && r["outcome"] == "ok")
        })
        .await;
        let a = trigger(&app, Method::POST, "/cron/run", Some(TOKEN)).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    }
);

backend_tests!(
    a_tick_from_the_future_is_reported_not_trusted,
    |db: TestDb| async move {
        let app = TestApp::spawn_cron(db, config(&[TOKEN])).await;
        app.store
            .tick_record(Timestamp::now() + SignedDuration::from_hours(1))
            .await
            .unwrap();
        let h = health(&app).await;
        assert_eq!(h["late"], true, "{h}");
        assert!(
            h["reasons"][0].as_str().unwrap().contains("in the future"),
            "{h}"
        );
    }
);

backend_tests!(
    an_overdue_occurrence_makes_the_scheduler_late,
    |db: TestDb| async move {
        // The engine's clock runs 10 s behind the health check's, so the schedule added
        // below fell due seconds ago as the check reckons, past its 2 s threshold.
        let clock = ManualClock::new(Timestamp::now() - SignedDuration::from_secs(10));
        let app = TestApp::spawn_opts(
            db,
            Options {
                cron: Some(config(&[TOKEN])),
                late_after: Duration::from_secs(2),
                clock: Some(clock.clone()),
                ..Options::default()
            },
        )
        .await;
        // A tick, then a schedule whose occurrences nobody accounts for (no loop runs
        // here, and /cron/run is not called again).
        assert_eq!(
            trigger(&app, Method::POST, "/cron/run", Some(TOKEN))
                .await
                .status,
            StatusCode::OK
        );
        add_every_second(&app).await;
        let h = health(&app).await;
        assert_eq!(h["late"], true, "{h}");
        let reasons = h["reasons"].to_string();
        assert!(reasons.contains("is still not accounted for"), "{h}");
        assert!(h["oldestOverdueOccurrence"].is_string(), "{h}");
        // Accounting for them (and ticking, by a clock caught up) clears it.
        clock.set(Timestamp::now());
        assert_eq!(
            trigger(&app, Method::POST, "/cron/run", Some(TOKEN))
                .await
                .status,
            StatusCode::OK
        );
        let h = health(&app).await;
        assert_eq!(h["late"], false, "{h}");
    }
);

/// Adds a schedule that runs `warden.noop` every second, first due within a second of
/// the engine's clock.
async fn add_every_second(app: &TestApp) -> ScheduleId {
    app.scheduler()
        .add_cron(CronRequest::new(
            "every-second",
            "* * * * * *",
            "warden.noop",
        ))
        .await
        .unwrap()
}

/// Pauses `default` and leaves one due job waiting in it: a tick then waits (holding its
/// lock) until it sees that nothing is being claimed.
async fn wait_in_a_paused_queue(app: &TestApp) {
    let paused = app
        .post("/api/v1/queues/default/pause", ADMIN_ENV_KEY, json!({}))
        .await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.body);
    app.scheduler()
        .add_job(JobRequest::new("warden.noop", json!({}), "default"))
        .await
        .unwrap();
}

backend_tests!(head_runs_no_tick_and_answers_405, |db: TestDb| async move {
    let app = TestApp::spawn_cron(db, config(&[TOKEN])).await;
    for token in [Some(TOKEN), None] {
        let a = trigger(&app, Method::HEAD, "/cron/run", token).await;
        assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(a.headers["allow"], "GET,POST");
    }
    // Nothing ran, nothing was written: no tick, no record.
    assert_eq!(app.store.tick_last().await.unwrap(), None);
    assert!(
        app.store.cron_run_list(None, 0).await.unwrap().is_empty(),
        "HEAD wrote a cron_runs record"
    );
    // GET still runs the tick.
    let a = trigger(&app, Method::GET, "/cron/run", Some(TOKEN)).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(app.store.tick_last().await.unwrap().is_some());
});
