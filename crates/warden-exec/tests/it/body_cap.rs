//! A hostile server streaming a huge body: the read stops at the cap.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use warden_exec::http::{Failure, HttpErrorKind, HttpOutcome};

use crate::support::{client, get, loopback_allowed, run};

const ADVERTISED: u64 = 64 * 1024 * 1024;

/// Serves one connection: reads the request head, then writes up to 64 MiB of body. Returns the
/// number of body bytes the kernel accepted before the client went away.
async fn hostile_server(listener: TcpListener) -> u64 {
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = socket.read(&mut buf).await.unwrap();
        assert!(n > 0, "client closed before sending a request");
        head.extend_from_slice(&buf[..n]);
    }
    let response = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {ADVERTISED}\r\n\r\n"
    );
    socket.write_all(response.as_bytes()).await.unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    let mut written = 0u64;
    while written < ADVERTISED {
        match socket.write(&chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n as u64,
        }
    }
    written
}

#[tokio::test]
async fn a_body_larger_than_the_cap_is_truncated_and_reading_stops() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(hostile_server(listener));

    let outcome = run(
        &client(loopback_allowed()),
        get(&format!("http://{addr}/big")),
    )
    .await;

    let HttpOutcome::Success(record) = outcome else {
        panic!("expected success, got {outcome:?}")
    };
    assert!(record.body_truncated);
    assert!(record.body_bytes > 1024 * 1024, "{}", record.body_bytes);
    assert!(
        record.body_bytes < 2 * 1024 * 1024,
        "read on: {}",
        record.body_bytes
    );
    assert_eq!(record.body_excerpt, "a".repeat(4096));
    // The client hung up: the server's writes failed long before the advertised length.
    let written = tokio::time::timeout(Duration::from_secs(20), server)
        .await
        .expect("server still writing: the client kept reading")
        .unwrap();
    assert!(written < ADVERTISED / 2, "server wrote {written} bytes");
}

#[tokio::test]
async fn a_stalled_body_is_cut_off_by_the_request_timeout_and_retried_as_a_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = socket.read(&mut buf).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nfirst part";
        socket.write_all(head.as_bytes()).await.unwrap();
        // Never send the rest; hold the connection open.
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let mut req = get(&format!("http://{addr}/stall"));
    req.timeout = Duration::from_millis(500);
    let started = std::time::Instant::now();

    let outcome = run(&client(loopback_allowed()), req).await;

    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // Only part of the body arrived: the call did not complete, and is retried as a timeout.
    let HttpOutcome::Retry {
        after: None,
        failure: Failure::Incomplete { record, error },
    } = outcome
    else {
        panic!("expected a retry of an incomplete response, got {outcome:?}")
    };
    assert_eq!(error.kind, HttpErrorKind::Timeout);
    assert!(
        error.message.contains("HTTP 200") && error.message.contains("timed out"),
        "{}",
        error.message
    );
    assert_eq!(
        (record.status, record.body_excerpt.as_str()),
        (200, "first part")
    );
    let body_error = record.body_error.expect("the body read failed");
    assert!(
        body_error.contains("timed out") || body_error.contains("timeout"),
        "{body_error}"
    );
}
