//! The run record through `HttpRunner`: it always fits the engine's limit, an incomplete body
//! is a failed attempt, and a refused redirect says so.

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::any;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use warden_core::Outcome;
use warden_exec::http::{HttpClient, HttpOptions};
use warden_exec::runner::{HttpRunner, MAX_RECORD_BYTES, RunInfo, RunResult};
use warden_exec::{ChainSecrets, Env};

use crate::load_ok;
use crate::support::{TestServer, loopback_allowed};

/// A server whose every answer is a 500 with `x-request-id` and a body of 8 KiB of NUL bytes.
async fn nul_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(any(|| async {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            [("x-request-id", "req-nul-1")],
            vec![0u8; 8 * 1024],
        )
            .into_response()
    }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn runner_for(yaml: &str, env: Env) -> HttpRunner {
    let client = HttpClient::new(loopback_allowed(), HttpOptions::default()).unwrap();
    HttpRunner::new(load_ok(yaml), env, Arc::new(ChainSecrets::new()), client)
}

fn info() -> RunInfo {
    RunInfo {
        scheduled_at: "2026-03-29T01:30:00Z".parse().unwrap(),
        run_id: "run-1".into(),
    }
}

fn one_job(url: &str) -> String {
    format!("jobs:\n  - name: j\n    schedule: \"* * * * *\"\n    url: \"{url}\"\n")
}

fn size(result: &RunResult) -> usize {
    serde_json::to_vec(&result.record).unwrap().len()
}

#[tokio::test]
async fn a_record_over_the_limit_keeps_status_and_headers_and_cuts_the_excerpt() {
    let base = nul_server().await;
    let runner = runner_for(
        &one_job(&format!("{base}/nul")),
        Env::fixed::<&str, &str>([]),
    );

    let result = runner.run("j", info()).await;

    assert!(
        size(&result) <= MAX_RECORD_BYTES,
        "the record is {} bytes, over the {MAX_RECORD_BYTES} the engine keeps",
        size(&result)
    );
    let record = &result.record;
    assert_eq!(record["status"], 500);
    assert!(
        record["response_headers"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!(["x-request-id", "req-nul-1"])),
        "{}",
        record["response_headers"]
    );
    assert_eq!(record["record_cut"], true);
    let excerpt = record["body_excerpt"].as_str().unwrap();
    assert!(
        !excerpt.is_empty() && excerpt.len() < 4096,
        "{}",
        excerpt.len()
    );
    assert!(excerpt.bytes().all(|b| b == 0));
    assert_eq!(record["body_bytes"], 8 * 1024);
    assert_eq!(record["error"]["kind"], "http_status");
    assert!(matches!(result.outcome, Outcome::Retry { .. }));
}

#[tokio::test]
async fn a_small_record_is_not_cut() {
    let server = TestServer::start("127.0.0.1:0").await;
    let runner = runner_for(&one_job(&server.url("/echo")), Env::fixed::<&str, &str>([]));
    let result = runner.run("j", info()).await;
    assert_eq!(result.outcome, Outcome::Done);
    assert_eq!(result.record["record_cut"], false);
}

#[tokio::test]
async fn a_body_that_times_out_is_a_failed_attempt_retried_as_a_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (release, held) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = socket.read(&mut buf).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 100\r\nx-request-id: r-7\r\n\r\npartial";
        socket.write_all(head.as_bytes()).await.unwrap();
        // Hold the connection open, the body unfinished, until the test is over.
        let _ = held.await;
    });
    let yaml = format!(
        "jobs:\n  - name: j\n    schedule: \"* * * * *\"\n    url: \"http://{addr}/slow\"\n    timeout: 300\n"
    );
    let runner = runner_for(&yaml, Env::fixed::<&str, &str>([]));

    let result = runner.run("j", info()).await;
    drop(release);

    let Outcome::Retry { after: None, error } = &result.outcome else {
        panic!("expected a retry, got {:?}", result.outcome)
    };
    assert!(
        error.contains("timeout") && error.contains("HTTP 200"),
        "{error}"
    );
    assert_eq!(result.record["outcome"], "retry");
    assert_eq!(result.record["error"]["kind"], "timeout");
    assert_eq!(result.record["status"], 200);
    assert_eq!(result.record["body_excerpt"], "partial");
}

#[tokio::test]
async fn a_secret_body_redirected_to_another_origin_fails_the_run_with_a_redirect_error() {
    let first = TestServer::start("127.0.0.1:0").await;
    let second = TestServer::start("127.0.0.1:0").await;
    let mut url: reqwest::Url = first.url("/redirect/307").parse().unwrap();
    url.query_pairs_mut()
        .append_pair("to", &second.url("/echo"));
    let yaml = format!(
        "jobs:\n  - name: j\n    schedule: \"* * * * *\"\n    url: \"{url}\"\n    method: POST\n    data:\n      token: \"${{TOKEN}}\"\n"
    );
    let runner = runner_for(&yaml, Env::fixed([("TOKEN", "tok-bd-5a4b3c2d")]));

    let result = runner.run("j", info()).await;

    let Outcome::Fail { error } = &result.outcome else {
        panic!("expected a permanent failure, got {:?}", result.outcome)
    };
    assert!(error.contains("redirect"), "{error}");
    assert_eq!(result.record["error"]["kind"], "redirect");
    assert!(second.requests().is_empty());
    assert_eq!(first.requests().len(), 1);
}
