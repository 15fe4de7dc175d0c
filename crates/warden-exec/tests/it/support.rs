//! Test servers on loopback that count the connections they accept, and request helpers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{self, any};
use axum::serve::ListenerExt;
use serde::Deserialize;
use tokio::net::TcpListener;
use warden_exec::egress::EgressPolicy;
use warden_exec::http::{HttpClient, HttpOptions, HttpOutcome, HttpRequest};
use warden_exec::redact::NoRedaction;

/// A running server and the number of TCP connections it has accepted.
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

impl TestServer {
    /// Serves [`app`] on `bind` (port 0 picks a free port).
    pub(crate) async fn start(bind: &str) -> Self {
        Self::try_start(bind).await.expect("bind test server")
    }

    /// Like [`TestServer::start`], but `None` when `bind` cannot be bound (e.g. no IPv6).
    pub(crate) async fn try_start(bind: &str) -> Option<Self> {
        let listener = TcpListener::bind(bind).await.ok()?;
        let addr = listener.local_addr().ok()?;
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&connections);
        let listener = listener.tap_io(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        tokio::spawn(async move { axum::serve(listener, app()).await });
        Some(Self { addr, connections })
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub(crate) fn port(&self) -> u16 {
        self.addr.port()
    }

    pub(crate) fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn app() -> Router {
    Router::new()
        .route("/echo", any(echo))
        .route("/status/{code}", routing::get(status))
        .route("/sleep/{ms}", routing::get(sleep))
        .route("/redirect", routing::get(redirect))
        .route("/loop/{n}", routing::get(redirect_loop))
        .route("/hops/{n}", routing::get(hops))
}

/// Echoes the request as JSON: method, raw query, headers and body.
async fn echo(
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let headers: BTreeMap<String, String> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let request_id = headers
        .get("x-request-id")
        .cloned()
        .unwrap_or_else(|| "req-123".into());
    let json = serde_json::json!({
        "method": method.as_str(),
        "query": query,
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    });
    ([("x-request-id", request_id)], axum::Json(json)).into_response()
}

#[derive(Deserialize)]
struct StatusParams {
    retry_after: Option<String>,
}

async fn status(Path(code): Path<u16>, Query(params): Query<StatusParams>) -> Response {
    let status = StatusCode::from_u16(code).expect("valid status");
    match params.retry_after {
        Some(value) => (status, [(header::RETRY_AFTER, value)], "try later").into_response(),
        None => (status, format!("status {code}")).into_response(),
    }
}

async fn sleep(Path(ms): Path<u64>) -> &'static str {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    "slept"
}

#[derive(Deserialize)]
struct RedirectParams {
    to: String,
}

async fn redirect(Query(params): Query<RedirectParams>) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, params.to)]).into_response()
}

async fn redirect_loop(Path(n): Path<u32>) -> Response {
    let next = format!("/loop/{}", n + 1);
    (StatusCode::FOUND, [(header::LOCATION, next)]).into_response()
}

/// Redirects `n` more times, then answers 200.
async fn hops(Path(n): Path<u32>) -> Response {
    if n == 0 {
        return "arrived".into_response();
    }
    let next = format!("/hops/{}", n - 1);
    (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, next)]).into_response()
}

/// A policy that opens only `127.0.0.1/32`.
pub(crate) fn loopback_allowed() -> EgressPolicy {
    EgressPolicy {
        allow: vec!["127.0.0.1/32".parse().expect("valid rule")],
        https_only: false,
    }
}

pub(crate) fn client(policy: EgressPolicy) -> HttpClient {
    HttpClient::new(policy, HttpOptions::default()).expect("client builds")
}

pub(crate) fn get(url: &str) -> HttpRequest {
    HttpRequest {
        method: reqwest::Method::GET,
        url: url.parse().expect("valid URL"),
        headers: Vec::new(),
        body: None,
        query: Vec::new(),
        timeout: Duration::from_secs(10),
    }
}

/// Runs `req` without redaction.
pub(crate) async fn run(client: &HttpClient, req: HttpRequest) -> HttpOutcome {
    client.execute(req, &NoRedaction).await
}
