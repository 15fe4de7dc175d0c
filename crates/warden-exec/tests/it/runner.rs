//! `HttpRunner`: a job of the current jobs file run against a real server on loopback, with
//! templates resolved at run time, outcomes mapped for the engine and a redacted run record.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use tokio::net::TcpListener;
use warden_core::Outcome;
use warden_exec::http::{HttpClient, HttpOptions};
use warden_exec::runner::{HttpRunner, RunInfo, RunResult};
use warden_exec::{DirSecrets, Env, JobsFile, REDACTED, SecretProvider};

use crate::load_ok;
use crate::support::{header_map, loopback_allowed};

const TOKEN: &str = "tok-Z9q8-w7e6-r5t4";
const API_KEY: &str = "key-A1s2-D3f4-G5h6";
const COOKIE: &str = "session=literal-cookie-3x7";
const SCHEDULED: &str = "2026-03-29T01:30:00Z";

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: Option<String>,
    headers: BTreeMap<String, String>,
    body: String,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// A server on 127.0.0.1 that records every request.
///
/// - `/fail500…`: 500, the body quoting `x-api-key` and echoing every request header;
/// - `/status/429`: 429 with `Retry-After: 7`;
/// - `/status/404`: 404;
/// - anything else: 200 with the request echoed as JSON.
struct Server {
    addr: SocketAddr,
    seen: Log,
}

impl Server {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let seen: Log = Arc::default();
        let app = Router::new().fallback(handle).with_state(Arc::clone(&seen));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, seen }
    }

    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn last(&self) -> Seen {
        self.requests().pop().expect("the server got a request")
    }
}

async fn handle(
    State(seen): State<Log>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let headers = header_map(&headers);
    let request = Seen {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers: headers.clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    seen.lock().unwrap().push(request.clone());
    let echo = serde_json::json!({
        "method": request.method,
        "path": request.path,
        "query": request.query,
        "headers": headers,
        "body": request.body,
    });
    match uri.path() {
        p if p.starts_with("/fail500") => {
            let key = headers.get("x-api-key").cloned().unwrap_or_default();
            let auth = headers.get("authorization").cloned().unwrap_or_default();
            let body =
                format!("upstream rejected key {key} and credentials {auth}; request: {echo}");
            (StatusCode::INTERNAL_SERVER_ERROR, body).into_response()
        }
        "/status/429" => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "7")],
            "slow down",
        )
            .into_response(),
        "/status/404" => (StatusCode::NOT_FOUND, "no such thing").into_response(),
        _ => axum::Json(echo).into_response(),
    }
}

fn info(run_id: &str) -> RunInfo {
    RunInfo {
        scheduled_at: SCHEDULED.parse::<Timestamp>().unwrap(),
        run_id: run_id.to_owned(),
    }
}

/// A file with one job `name` calling `url` (a `${…}`-free scheme and host) with the test's
/// usual headers and body.
fn job_file(name: &str, url: &str) -> JobsFile {
    load_ok(&format!(
        r#"jobs:
  - name: {name}
    schedule: "*/5 * * * *"
    url: "{url}"
    method: POST
    headers:
      Authorization: "Bearer ${{API_TOKEN}}"
      X-API-Key: "secret://api_key"
      Cookie: "{COOKIE}"
      X-Run: "${{RUN_ID}}"
      X-When: "${{NOW}}"
      X-Region: "${{REGION}}"
    data:
      job: "${{JOB_NAME}}"
      at: "${{NOW}}"
      run: "${{RUN_ID}}"
"#
    ))
}

/// A secrets directory holding `api_key`.
fn secrets_dir(dir: &Path, api_key: &str) -> Arc<dyn SecretProvider> {
    std::fs::write(dir.join("api_key"), format!("{api_key}\n")).unwrap();
    Arc::new(DirSecrets::new(dir))
}

fn client() -> HttpClient {
    HttpClient::new(loopback_allowed(), HttpOptions::default()).expect("client builds")
}

fn runner(file: JobsFile, env: Env, secrets: Arc<dyn SecretProvider>) -> HttpRunner {
    HttpRunner::new(file, env, secrets, client())
}

fn fixed_env() -> Env {
    Env::fixed([("API_TOKEN", TOKEN), ("REGION", "eu-west-3")])
}

/// The whole result as stored or shown: the outcome's text and the record.
fn everything(result: &RunResult) -> String {
    format!(
        "{:?}\n{}",
        result.outcome,
        serde_json::to_string(&result.record).unwrap()
    )
}

fn failed_with(result: &RunResult) -> &str {
    match &result.outcome {
        Outcome::Fail { error } => error,
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}

#[tokio::test]
async fn templates_and_secrets_reach_the_server_and_the_record_keeps_status_and_excerpt() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/hook/${{JOB_NAME}}?run=${{RUN_ID}}", server.base());
    let runner = runner(
        job_file("nightly-sync", &url),
        fixed_env(),
        secrets_dir(dir.path(), API_KEY),
    );

    let result = runner.run("nightly-sync", info("run-42")).await;

    assert_eq!(result.outcome, Outcome::Done, "{}", everything(&result));
    let seen = server.last();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.path, "/hook/nightly-sync");
    assert_eq!(seen.query.as_deref(), Some("run=run-42"));
    assert_eq!(
        seen.header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(seen.header("x-api-key"), Some(API_KEY));
    assert_eq!(seen.header("cookie"), Some(COOKIE));
    assert_eq!(seen.header("x-run"), Some("run-42"));
    assert_eq!(seen.header("x-when"), Some(SCHEDULED));
    assert_eq!(seen.header("x-region"), Some("eu-west-3"));
    let body: serde_json::Value = serde_json::from_str(&seen.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({ "job": "nightly-sync", "at": SCHEDULED, "run": "run-42" })
    );

    let r = &result.record;
    assert_eq!(r["outcome"], "done");
    assert_eq!(r["job"], "nightly-sync");
    assert_eq!(r["run_id"], "run-42");
    assert_eq!(r["scheduled_at"], SCHEDULED);
    assert_eq!(r["method"], "POST");
    assert_eq!(r["status"], 200);
    assert_eq!(
        r["url"],
        format!("{}/hook/nightly-sync?run=run-42", server.base())
    );
    assert!(r["duration_ms"].is_u64());
    assert!(r["error"].is_null());
    let excerpt = r["body_excerpt"].as_str().unwrap();
    assert!(excerpt.contains("/hook/nightly-sync"), "{excerpt}");
    // The whole value of a sensitive header is redacted, not only its secret part.
    assert!(
        excerpt.contains(r#""authorization":"[REDACTED]""#),
        "{excerpt}"
    );
    assert!(excerpt.len() <= 4096);
    let response_headers = r["response_headers"].as_array().unwrap();
    assert!(
        response_headers.contains(&serde_json::json!(["content-type", "application/json"])),
        "{response_headers:?}"
    );
    let request_headers = r["request_headers"].as_array().unwrap();
    for (name, value) in [
        ("Authorization", REDACTED),
        ("X-API-Key", REDACTED),
        ("Cookie", REDACTED),
        ("X-Run", "run-42"),
        ("X-When", SCHEDULED),
        // A value from the environment is redacted wherever it appears.
        ("X-Region", REDACTED),
    ] {
        assert!(
            request_headers.contains(&serde_json::json!([name, value])),
            "{name}: {request_headers:?}"
        );
    }
    let all = everything(&result);
    for secret in [TOKEN, API_KEY, COOKIE, "eu-west-3"] {
        assert!(!all.contains(secret), "{secret} in {all}");
    }
}

/// Collects every formatted log event (message and fields) emitted while installed.
#[derive(Default, Clone)]
struct LogCapture(Arc<Mutex<Vec<String>>>);

impl tracing::Subscriber for LogCapture {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut line = String::new();
        span.record(&mut Fields(&mut line));
        self.0.lock().unwrap().push(line);
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut line = String::new();
        values.record(&mut Fields(&mut line));
        self.0.lock().unwrap().push(line);
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = format!("{} ", event.metadata().target());
        event.record(&mut Fields(&mut line));
        self.0.lock().unwrap().push(line);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

struct Fields<'a>(&'a mut String);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={value:?} ", field.name());
    }
}

#[tokio::test]
async fn an_echoing_500_leaks_no_secret_into_the_outcome_the_record_or_the_logs() {
    let capture = LogCapture::default();
    let _guard = tracing::dispatcher::set_default(&tracing::Dispatch::new(capture.clone()));
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/fail500/${{API_TOKEN}}", server.base());
    let runner = runner(
        job_file("leaky", &url),
        fixed_env(),
        secrets_dir(dir.path(), API_KEY),
    );

    let result = runner.run("leaky", info("run-1")).await;

    // The server did get the secrets, and said them back.
    let seen = server.last();
    assert_eq!(seen.header("x-api-key"), Some(API_KEY));
    assert_eq!(seen.path, format!("/fail500/{TOKEN}"));

    let Outcome::Retry { after, error } = &result.outcome else {
        panic!("a 500 is retried, got {:?}", result.outcome)
    };
    assert_eq!(*after, None, "no Retry-After: the engine's backoff applies");
    assert!(error.contains("HTTP 500"), "{error}");
    assert!(
        error.contains("upstream rejected key [REDACTED] and credentials [REDACTED]"),
        "{error}"
    );
    assert_eq!(result.record["status"], 500);
    assert_eq!(result.record["outcome"], "retry");
    assert_eq!(result.record["error"]["kind"], "http_status");

    let all = everything(&result);
    let authorization = format!("Bearer {TOKEN}");
    for secret in [TOKEN, API_KEY, COOKIE, authorization.as_str(), "eu-west-3"] {
        assert!(!all.contains(secret), "`{secret}` leaked into {all}");
    }
    assert!(all.contains(REDACTED), "{all}");

    let logs = capture.0.lock().unwrap().join("\n");
    // The capture is a thread-scoped subscriber, and tracing caches each call site's
    // interest process-wide: under `cargo test`, with other tests running concurrently,
    // lines are sometimes not captured. So this only searches what was captured; that no
    // secret reaches any log line is proven, reliably, end to end on the warden binary
    // (crates/warden/tests/it/http_jobs.rs reads every line the process writes).
    for secret in [TOKEN, API_KEY, COOKIE, "eu-west-3"] {
        assert!(
            !logs.contains(secret),
            "`{secret}` leaked into the logs: {logs}"
        );
    }
}

#[tokio::test]
async fn a_rotated_env_file_value_and_secret_file_are_used_by_the_next_run() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("vars.env");
    std::fs::write(&env_file, "API_TOKEN=first-token-1111\nREGION=eu-west-1\n").unwrap();
    let secrets = tempfile::tempdir().unwrap();
    let runner = runner(
        job_file("rotating", &format!("{}/hook", server.base())),
        Env::fixed::<&str, &str>([]).with_env_file(&env_file),
        secrets_dir(secrets.path(), "first-key-1111"),
    );

    let first = runner.run("rotating", info("run-1")).await;
    assert_eq!(first.outcome, Outcome::Done, "{}", everything(&first));
    let seen = server.last();
    assert_eq!(
        seen.header("authorization"),
        Some("Bearer first-token-1111")
    );
    assert_eq!(seen.header("x-api-key"), Some("first-key-1111"));

    std::fs::write(&env_file, "API_TOKEN=second-token-2222\nREGION=eu-west-2\n").unwrap();
    std::fs::write(secrets.path().join("api_key"), "second-key-2222\n").unwrap();

    let second = runner.run("rotating", info("run-2")).await;
    assert_eq!(second.outcome, Outcome::Done, "{}", everything(&second));
    let seen = server.last();
    assert_eq!(
        seen.header("authorization"),
        Some("Bearer second-token-2222")
    );
    assert_eq!(seen.header("x-api-key"), Some("second-key-2222"));
    assert_eq!(seen.header("x-region"), Some("eu-west-2"));
    let all = everything(&second);
    assert!(!all.contains("second-token-2222") && !all.contains("second-key-2222"));
}

#[tokio::test]
async fn a_variable_unset_at_run_time_fails_permanently_naming_it_and_sends_nothing() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("vars.env");
    std::fs::write(&env_file, "API_TOKEN=token-3333\nREGION=eu-west-1\n").unwrap();
    let runner = runner(
        job_file("vanishing", &format!("{}/hook", server.base())),
        Env::fixed::<&str, &str>([]).with_env_file(&env_file),
        secrets_dir(dir.path(), API_KEY),
    );
    assert_eq!(
        runner.run("vanishing", info("run-1")).await.outcome,
        Outcome::Done
    );

    std::fs::write(&env_file, "API_TOKEN=token-3333\n").unwrap();
    let result = runner.run("vanishing", info("run-2")).await;

    let error = failed_with(&result);
    assert!(
        error.contains("`REGION`") && error.contains("not set"),
        "{error}"
    );
    assert_eq!(result.record["error"]["kind"], "resolve");
    assert!(result.record["status"].is_null());
    assert_eq!(
        server.requests().len(),
        1,
        "nothing sent with an empty value"
    );

    std::fs::remove_file(dir.path().join("api_key")).unwrap();
    std::fs::write(&env_file, "API_TOKEN=token-3333\nREGION=eu-west-1\n").unwrap();
    let result = runner.run("vanishing", info("run-3")).await;
    let error = failed_with(&result);
    assert!(error.contains("secret `api_key`"), "{error}");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn replace_applies_to_the_next_run_and_a_removed_job_fails_permanently() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(
        job_file("moving", &format!("{}/old", server.base())),
        fixed_env(),
        secrets_dir(dir.path(), API_KEY),
    );
    let clone = runner.clone();

    assert_eq!(
        runner.run("moving", info("run-1")).await.outcome,
        Outcome::Done
    );
    assert_eq!(server.last().path, "/old");

    runner.replace(job_file("moving", &format!("{}/new", server.base())));
    let result = clone.run("moving", info("run-2")).await;
    assert_eq!(result.outcome, Outcome::Done, "{}", everything(&result));
    assert_eq!(server.last().path, "/new", "clones share the replaced file");

    runner.replace(job_file("renamed", &format!("{}/new", server.base())));
    let result = runner.run("moving", info("run-3")).await;
    let error = failed_with(&result);
    assert!(
        error.contains("job `moving` is no longer in jobs.yaml"),
        "{error}"
    );
    assert_eq!(result.record["error"]["kind"], "not_in_file");
    assert_eq!(server.requests().len(), 2);

    runner.replace(load_ok(&format!(
        "jobs:\n  - name: moving\n    schedule: \"*/5 * * * *\"\n    url: \"{}/off\"\n    enabled: false\n",
        server.base()
    )));
    let result = runner.run("moving", info("run-4")).await;
    assert!(
        matches!(&result.outcome, Outcome::Cancel { reason } if reason.contains("disabled")),
        "{:?}",
        result.outcome
    );
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn retry_after_404_and_egress_refusals_map_to_engine_outcomes() {
    let server = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let file = load_ok(&format!(
        r#"jobs:
  - name: limited
    schedule: "*/5 * * * *"
    url: "{base}/status/429"
  - name: missing
    schedule: "*/5 * * * *"
    url: "{base}/status/404"
  - name: metadata
    schedule: "*/5 * * * *"
    url: "http://169.254.169.254/latest/meta-data/"
"#,
        base = server.base()
    ));
    let runner = runner(file, fixed_env(), secrets_dir(dir.path(), API_KEY));

    let limited = runner.run("limited", info("run-1")).await;
    let Outcome::Retry { after, error } = &limited.outcome else {
        panic!("429 is retried, got {:?}", limited.outcome)
    };
    assert_eq!(*after, Some(Duration::from_secs(7)));
    assert!(error.contains("HTTP 429"), "{error}");
    assert_eq!(limited.record["status"], 429);
    assert_eq!(limited.record["retry_after_ms"], 7000);
    assert!(
        limited.record["response_headers"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(["retry-after", "7"]))
    );

    let missing = runner.run("missing", info("run-2")).await;
    let error = failed_with(&missing);
    assert!(
        error.contains("HTTP 404") && error.contains("no such thing"),
        "{error}"
    );
    assert_eq!(missing.record["status"], 404);
    assert_eq!(missing.record["outcome"], "fail");
    assert_eq!(missing.record["method"], "GET");

    let metadata = runner.run("metadata", info("run-3")).await;
    let error = failed_with(&metadata);
    assert!(
        error.contains("egress refused") && error.contains("169.254.169.254"),
        "{error}"
    );
    assert_eq!(metadata.record["error"]["kind"], "egress");
    assert!(metadata.record["status"].is_null());
    assert_eq!(server.requests().len(), 2);
}
