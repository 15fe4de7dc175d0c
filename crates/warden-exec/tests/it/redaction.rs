//! The redaction hook: secrets sent to a server that echoes them never reach the record.

use warden_exec::egress::EgressPolicy;
use warden_exec::http::HttpOutcome;

use crate::support::{TestServer, client, get, loopback_allowed};

const SECRET: &str = "tok-5up3r-s3cr3t";

fn redact(text: &str) -> String {
    text.replace(SECRET, "[REDACTED]")
}

#[tokio::test]
async fn echoed_secrets_are_redacted_in_the_excerpt_and_headers() {
    let server = TestServer::start("127.0.0.1:0").await;
    let mut req = get(&server.url("/echo"));
    req.headers = vec![
        ("Authorization".into(), format!("Bearer {SECRET}")),
        ("X-API-Key".into(), SECRET.into()),
        // The echo server copies this one into a response header of interest.
        ("X-Request-Id".into(), format!("id-{SECRET}")),
    ];
    req.query = vec![("token".into(), SECRET.into())];

    let outcome = client(loopback_allowed()).execute(req, &redact).await;

    let HttpOutcome::Success(record) = &outcome else {
        panic!("expected success, got {outcome:?}")
    };
    let stored = serde_json::to_string(record).unwrap();
    assert!(!stored.contains(SECRET), "secret in record: {stored}");
    assert!(
        record.body_excerpt.contains("Bearer [REDACTED]"),
        "{}",
        record.body_excerpt
    );
    assert!(
        record
            .headers_of_interest
            .contains(&("x-request-id".into(), "id-[REDACTED]".into()))
    );
}

#[tokio::test]
async fn error_messages_pass_through_the_redactor() {
    let server = TestServer::start("127.0.0.1:0").await;
    let redact_host = |text: &str| text.replace("localhost", "[REDACTED]");
    let url = format!("http://localhost:{}/echo?token={SECRET}", server.port());
    let outcome = client(EgressPolicy::new())
        .execute(get(&url), &redact_host)
        .await;
    let error = outcome.error().expect("an error");
    assert!(error.message.contains("host `[REDACTED]`"), "{error}");
    assert!(!error.message.contains(SECRET), "{error}");
}
