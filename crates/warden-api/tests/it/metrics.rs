//! `GET /metrics`: the token guards it, the job gauge follows the store (a pair that
//! empties goes back to 0), every metric is described, and the API's refusals and 429s
//! are counted.
//!
//! The recorder is the process's (tests of one binary share it under `cargo test`), so
//! each test counts jobs in a queue of its own and asserts counters by their increase.

use std::{net::SocketAddr, sync::Arc};

use jiff::{SignedDuration, Timestamp};
use reqwest::{StatusCode, header};
use secrecy::SecretString;
use serde_json::{Value, json};
use warden_api::metrics::{self, CONTENT_TYPE, Metrics, install_recorder};
use warden_core::{QueueName, Scope, SystemClock};
use warden_engine::{Engine, EngineConfig, QueueConfig, Registry};
use warden_security::envkey::StaticKey;
use warden_store::Store;
use warden_testkit::{TestDb, backend_tests};

use crate::support::{ADMIN_ENV_KEY, TestApp, rate_limited};
use warden_store::JobCancelParams;

const TOKEN: &str = "metrics-token-0123456789abcdef0123456789abcdef";

/// Every metric warden describes.
const DESCRIBED: [&str; 9] = [
    "warden_runs_total",
    "warden_run_duration_seconds",
    "warden_pickup_latency_seconds",
    "warden_occurrences_total",
    "warden_last_tick_timestamp_seconds",
    "warden_auth_failures_total",
    "warden_rate_limited_total",
    "warden_jobs",
    // Described, but listed only once `/cron/run` has counted a call.
    "warden_cron_runs_total",
];

/// Serves `router` on 127.0.0.1; returns its `/metrics` URL.
async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}/metrics")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// The value of the sample `series` (name and labels, as rendered), or 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

fn jobs(text: &str, queue: &str, state: &str) -> f64 {
    sample(
        text,
        &format!(r#"warden_jobs{{queue="{queue}",state="{state}"}}"#),
    )
}

async fn scrape_ok(url: &str, token: Option<&str>) -> String {
    let mut req = client().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], CONTENT_TYPE);
    res.text().await.unwrap()
}

/// Asserts a refused scrape: 401 in the error envelope, with `WWW-Authenticate`.
async fn scrape_refused(req: reqwest::RequestBuilder) {
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().contains_key(header::WWW_AUTHENTICATE));
    let body: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    assert_eq!(body["ok"], false);
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert!(
        body["error"]["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
}

backend_tests!(
    a_scrape_needs_the_token_and_counts_jobs_by_queue_and_state,
    |db: TestDb| async move {
        let metrics: Metrics = install_recorder();
        let store = Arc::new(db.store().clone());
        // A queue of this test alone: the other backend's test shares the recorder.
        let queue = format!("metrics-{}", uuid::Uuid::new_v4().simple());
        let mut registry = Registry::new();
        registry.register("noop", |_, _: Value| async {}).unwrap();
        let config = EngineConfig {
            queues: vec![QueueConfig::new(QueueName::parse(&queue).unwrap(), 1)],
            // Every scrape counts anew: this test changes the jobs between scrapes.
            job_counts_max_age: std::time::Duration::ZERO,
            ..EngineConfig::default()
        };
        // A scheduler without workers: the jobs stay where they are put.
        let scheduler =
            Engine::scheduler(store.clone(), registry, config, Arc::new(SystemClock)).unwrap();
        let mut available = Vec::new();
        for _ in 0..2 {
            available.push(scheduler.add("noop", json!({}), &queue).await.unwrap());
        }
        let later = Timestamp::now() + SignedDuration::from_hours(1);
        scheduler
            .add_at("noop", json!({}), &queue, later)
            .await
            .unwrap();

        let url = serve(metrics::router(
            scheduler.clone(),
            metrics.clone(),
            Some(StaticKey::new("METRICS_TOKEN", SecretString::from(TOKEN)).unwrap()),
        ))
        .await;
        let before = metrics.render();

        scrape_refused(client().get(&url)).await;
        scrape_refused(client().get(&url).bearer_auth("metrics-token-wrong")).await;
        scrape_refused(
            client()
                .get(&url)
                .header("authorization", format!("Basic {TOKEN}")),
        )
        .await;
        let text = scrape_ok(&url, Some(TOKEN)).await;
        assert_eq!(jobs(&text, &queue, "available"), 2.0, "{text}");
        assert_eq!(jobs(&text, &queue, "scheduled"), 1.0, "{text}");
        for name in DESCRIBED {
            if name == "warden_cron_runs_total" && !text.contains(name) {
                continue;
            }
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "no help for {name} in\n{text}"
            );
        }
        for (reason, refused) in [("missing", 1.0), ("invalid", 2.0)] {
            let series = format!(r#"warden_auth_failures_total{{reason="{reason}"}}"#);
            assert!(
                sample(&text, &series) >= sample(&before, &series) + refused,
                "{series} did not count the refused scrapes"
            );
        }

        // Cancelled, the available jobs leave that state: its gauge goes back to 0.
        let cancelled = store
            .job_cancel_many(JobCancelParams {
                ids: available,
                scope: Scope::All,
                now: Timestamp::now(),
                audit: Vec::new(),
            })
            .await
            .unwrap();
        assert_eq!(cancelled.len(), 2);
        let text = scrape_ok(&url, Some(TOKEN)).await;
        assert!(
            text.contains(&format!(
                r#"warden_jobs{{queue="{queue}",state="available"}} 0"#
            )),
            "{text}"
        );
        assert_eq!(jobs(&text, &queue, "cancelled"), 2.0, "{text}");
        assert_eq!(jobs(&text, &queue, "scheduled"), 1.0, "{text}");

        // Without a token (its own listen address), the route is open.
        let open = serve(metrics::router(scheduler, metrics, None)).await;
        let text = scrape_ok(&open, None).await;
        assert_eq!(jobs(&text, &queue, "cancelled"), 2.0, "{text}");
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_and_429s_are_counted() {
    let metrics = install_recorder();
    // Bursts: three requests per address, one per principal.
    let app = TestApp::spawn_with(TestDb::sqlite().await, rate_limited(12, 4, &[])).await;
    let before = metrics.render();
    let anonymous = app.client.get(app.url("/api/v1/jobs"));
    let admin = || {
        app.client
            .get(app.url("/api/v1/jobs"))
            .bearer_auth(ADMIN_ENV_KEY)
    };
    let mut statuses = Vec::new();
    for req in [anonymous, admin(), admin(), admin()] {
        statuses.push(app.send(req, None).await.status.as_u16());
    }
    // No credentials; the principal's first; its second; the address's fourth.
    assert_eq!(statuses, [401, 200, 429, 429]);
    let after = metrics.render();
    for (series, at_least) in [
        (r#"warden_auth_failures_total{reason="missing"}"#, 1.0),
        (r#"warden_rate_limited_total{scope="principal"}"#, 1.0),
        (r#"warden_rate_limited_total{scope="ip"}"#, 1.0),
    ] {
        assert!(
            sample(&after, series) >= sample(&before, series) + at_least,
            "{series}: {} then {}",
            sample(&before, series),
            sample(&after, series)
        );
    }
}

backend_tests!(
    every_declared_queue_and_state_is_exposed_from_the_first_scrape,
    |db: TestDb| async move {
        let metrics = install_recorder();
        let store = Arc::new(db.store().clone());
        let queues: Vec<String> = (0..2)
            .map(|i| format!("declared-{i}-{}", uuid::Uuid::new_v4().simple()))
            .collect();
        let config = EngineConfig {
            queues: queues
                .iter()
                .map(|q| QueueConfig::new(QueueName::parse(q).unwrap(), 1))
                .collect(),
            ..EngineConfig::default()
        };
        let scheduler = Engine::scheduler(
            store.clone(),
            Registry::new(),
            config,
            Arc::new(SystemClock),
        )
        .unwrap();
        let url = serve(metrics::router(scheduler, metrics, None)).await;
        // No job was ever added: every pair is there, at 0, with its help and type.
        let text = scrape_ok(&url, None).await;
        assert!(text.contains("# HELP warden_jobs "), "{text}");
        assert!(text.contains("# TYPE warden_jobs gauge"), "{text}");
        for queue in &queues {
            for state in warden_core::JobState::ALL {
                let line = format!(
                    r#"warden_jobs{{queue="{queue}",state="{}"}} 0"#,
                    state.as_str()
                );
                assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
            }
        }
    }
);

backend_tests!(
    a_scrape_and_a_health_call_within_the_interval_count_the_jobs_once,
    |db: TestDb| async move {
        let queue = format!("counted-{}", uuid::Uuid::new_v4().simple());
        let app = TestApp::spawn_opts(
            db,
            crate::support::Options {
                queues: vec![queue.clone()],
                metrics_token: Some(TOKEN.into()),
                job_counts_max_age: std::time::Duration::from_secs(3600),
                ..crate::support::Options::default()
            },
        )
        .await;
        let later = json!({"jobType": "report", "queueName": queue, "delayMs": 3_600_000});
        let add = || app.post("/api/v1/jobs", ADMIN_ENV_KEY, later.clone());
        assert_eq!(add().await.status, StatusCode::CREATED);
        let queries = app.scheduler().job_counts_queries();
        let health = app.get("/api/v1/health/scheduler", ADMIN_ENV_KEY).await;
        assert_eq!(
            health.body["data"]["backlog"],
            json!([{"queue": queue, "state": "scheduled", "count": 1}])
        );
        // A second job, then scrapes and health calls (some at once) within the
        // interval: all get the first call's counts, from one GROUP BY.
        assert_eq!(add().await.status, StatusCode::CREATED);
        let url = app.url("/metrics");
        let (a, b, c) = tokio::join!(
            scrape_ok(&url, Some(TOKEN)),
            scrape_ok(&url, Some(TOKEN)),
            app.get("/api/v1/health/scheduler", ADMIN_ENV_KEY),
        );
        for text in [a, b] {
            assert_eq!(jobs(&text, &queue, "scheduled"), 1.0, "{text}");
        }
        assert_eq!(c.body["data"]["backlog"], health.body["data"]["backlog"]);
        assert_eq!(app.scheduler().job_counts_queries(), queries + 1);
    }
);

#[tokio::test]
async fn job_counts_are_read_again_once_the_interval_has_passed() {
    let db = TestDb::sqlite().await;
    let store = Arc::new(db.store().clone());
    let config = EngineConfig {
        job_counts_max_age: std::time::Duration::from_millis(100),
        ..EngineConfig::default()
    };
    let mut registry = Registry::new();
    registry.register("noop", |_, _: Value| async {}).unwrap();
    let scheduler = Engine::scheduler(store, registry, config, Arc::new(SystemClock)).unwrap();
    let later = Timestamp::now() + SignedDuration::from_hours(1);
    let scheduled =
        |counts: &[warden_store::QueueCount]| counts.iter().map(|c| c.count).sum::<i64>();
    assert_eq!(scheduled(&scheduler.job_counts().await.unwrap()), 0);
    scheduler
        .add_at("noop", json!({}), "default", later)
        .await
        .unwrap();
    warden_testkit::eventually("the counts are read again", || async {
        scheduled(&scheduler.job_counts().await.unwrap()) == 1
    })
    .await;
    assert!(scheduler.job_counts_queries() >= 2);
}
