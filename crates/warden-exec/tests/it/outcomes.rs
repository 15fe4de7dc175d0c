//! Status codes, `Retry-After`, timeouts and connection failures mapped to outcomes.

use std::time::Duration;

use warden_exec::http::{Failure, HttpErrorKind, HttpOutcome, USER_AGENT};

use crate::support::{TestServer, client, get, loopback_allowed, run};

#[tokio::test]
async fn success_records_status_headers_body_and_sends_query_headers_and_json() {
    let server = TestServer::start("127.0.0.1:0").await;
    let mut req = get(&server.url("/echo"));
    req.method = reqwest::Method::POST;
    req.headers = vec![("X-Test".into(), "hello".into())];
    req.query = vec![("a".into(), "1".into()), ("b".into(), "x y&z".into())];
    req.body = Some(br#"{"k":"v"}"#.to_vec());

    let outcome = run(&client(loopback_allowed()), req).await;

    let HttpOutcome::Success(record) = outcome else {
        panic!("expected success, got {outcome:?}")
    };
    assert_eq!(record.status, 200);
    let header = |name: &str| {
        record
            .headers_of_interest
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("content-type"), Some("application/json"));
    assert_eq!(header("x-request-id"), Some("req-123"));
    assert!(header("content-length").is_some());
    assert!(!record.body_truncated);
    assert_eq!(record.body_bytes, record.body_excerpt.len() as u64);

    let echoed: serde_json::Value = serde_json::from_str(&record.body_excerpt).unwrap();
    assert_eq!(echoed["method"], "POST");
    assert_eq!(echoed["query"], "a=1&b=x+y%26z");
    assert_eq!(echoed["headers"]["x-test"], "hello");
    assert_eq!(echoed["headers"]["content-type"], "application/json");
    assert_eq!(echoed["headers"]["user-agent"], USER_AGENT);
    assert_eq!(echoed["body"], r#"{"k":"v"}"#);
}

#[tokio::test]
async fn server_errors_are_retried_without_a_delay_of_their_own() {
    let server = TestServer::start("127.0.0.1:0").await;
    let outcome = run(&client(loopback_allowed()), get(&server.url("/status/503"))).await;
    let HttpOutcome::Retry {
        after,
        failure: Failure::Response(record),
    } = outcome
    else {
        panic!("expected retry with a response, got {outcome:?}")
    };
    assert_eq!(after, None);
    assert_eq!(record.status, 503);
    assert_eq!(record.body_excerpt, "status 503");
}

#[tokio::test]
async fn too_many_requests_honours_retry_after_seconds() {
    let server = TestServer::start("127.0.0.1:0").await;
    let mut req = get(&server.url("/status/429"));
    req.query = vec![("retry_after".into(), "7".into())];
    let outcome = run(&client(loopback_allowed()), req).await;
    let HttpOutcome::Retry {
        after,
        failure: Failure::Response(record),
    } = outcome
    else {
        panic!("expected retry, got {outcome:?}")
    };
    assert_eq!(after, Some(Duration::from_secs(7)));
    assert_eq!(record.status, 429);
    assert!(
        record
            .headers_of_interest
            .contains(&("retry-after".into(), "7".into()))
    );
}

#[tokio::test]
async fn too_many_requests_honours_retry_after_http_date() {
    let server = TestServer::start("127.0.0.1:0").await;
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(120);
    let date = jiff::fmt::rfc2822::DateTimePrinter::new()
        .timestamp_to_rfc9110_string(&at)
        .unwrap();
    let mut req = get(&server.url("/status/429"));
    req.query = vec![("retry_after".into(), date)];
    let outcome = run(&client(loopback_allowed()), req).await;
    let HttpOutcome::Retry {
        after: Some(after), ..
    } = outcome
    else {
        panic!("expected retry with a delay, got {outcome:?}")
    };
    // HTTP-dates have whole seconds, and the call itself takes a moment.
    assert!(
        (Duration::from_secs(117)..=Duration::from_secs(120)).contains(&after),
        "{after:?}"
    );
}

#[tokio::test]
async fn retry_after_is_capped_at_one_hour() {
    let server = TestServer::start("127.0.0.1:0").await;
    let mut req = get(&server.url("/status/503"));
    req.query = vec![("retry_after".into(), "86400".into())];
    let outcome = run(&client(loopback_allowed()), req).await;
    let HttpOutcome::Retry { after, .. } = outcome else {
        panic!("expected retry, got {outcome:?}")
    };
    assert_eq!(after, Some(Duration::from_secs(3600)));
}

#[tokio::test]
async fn not_found_fails_without_retry() {
    let server = TestServer::start("127.0.0.1:0").await;
    let outcome = run(&client(loopback_allowed()), get(&server.url("/status/404"))).await;
    let HttpOutcome::Fail(Failure::Response(record)) = outcome else {
        panic!("expected failure, got {outcome:?}")
    };
    assert_eq!(record.status, 404);
}

#[tokio::test]
async fn final_redirect_status_without_location_is_success() {
    let server = TestServer::start("127.0.0.1:0").await;
    let outcome = run(&client(loopback_allowed()), get(&server.url("/status/304"))).await;
    assert!(
        matches!(outcome, HttpOutcome::Success(ref r) if r.status == 304),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_timeout_is_retried() {
    let server = TestServer::start("127.0.0.1:0").await;
    let mut req = get(&server.url("/sleep/5000"));
    req.timeout = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let outcome = run(&client(loopback_allowed()), req).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    let error = outcome.error().expect("an error").clone();
    assert!(
        matches!(outcome, HttpOutcome::Retry { after: None, .. }),
        "{outcome:?}"
    );
    assert_eq!(error.kind, HttpErrorKind::Timeout, "{error}");
}

#[tokio::test]
async fn connection_refused_is_retried() {
    // Bind to learn a free port, then close it so nothing listens there.
    let port = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let outcome = run(
        &client(loopback_allowed()),
        get(&format!("http://127.0.0.1:{port}/")),
    )
    .await;
    let error = outcome.error().expect("an error").clone();
    assert!(
        matches!(outcome, HttpOutcome::Retry { after: None, .. }),
        "{outcome:?}"
    );
    assert_eq!(error.kind, HttpErrorKind::Connect, "{error}");
    assert!(
        !error.message.contains("127.0.0.1:"),
        "URL left in: {error}"
    );
}

#[tokio::test]
async fn an_invalid_header_fails_without_echoing_its_value() {
    let server = TestServer::start("127.0.0.1:0").await;
    let mut req = get(&server.url("/echo"));
    req.headers = vec![("X-Key".into(), "se\ncret".into())];
    let outcome = run(&client(loopback_allowed()), req).await;
    let error = outcome.error().expect("an error").clone();
    assert!(matches!(outcome, HttpOutcome::Fail(_)));
    assert_eq!(error.kind, HttpErrorKind::InvalidRequest);
    assert!(error.message.contains("`X-Key`") && !error.message.contains("se\ncret"));
    assert_eq!(server.connections(), 0);
}
