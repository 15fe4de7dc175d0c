//! Test servers on loopback that count the connections they accept, and request helpers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, RawQuery, Request};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{self, any};
use axum::serve::ListenerExt;
use serde::Deserialize;
use tokio::net::TcpListener;
use warden_exec::egress::EgressPolicy;
use warden_exec::http::{HttpClient, HttpOptions, HttpOutcome, HttpRequest};
use warden_exec::redact::NoRedaction;

/// A running server, the number of TCP connections it has accepted and the requests it received.
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

/// A request as a [`TestServer`] received it.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: Method,
    /// Path and query.
    pub(crate) uri: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
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
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = app().layer(middleware::from_fn({
            let seen = Arc::clone(&seen);
            move |req: Request, next: Next| record(Arc::clone(&seen), req, next)
        }));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Some(Self {
            addr,
            connections,
            seen,
        })
    }

    /// Every request received so far, in order.
    pub(crate) fn requests(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
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
        .route("/redirect/{code}", any(redirect_with))
        .route("/slow-hops/{n}", routing::get(slow_hops))
        .route("/loop/{n}", routing::get(redirect_loop))
        .route("/hops/{n}", routing::get(hops))
}

/// Notes the request (with its whole body) in `seen`, then passes it on.
async fn record(seen: Arc<Mutex<Vec<Seen>>>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1024 * 1024)
        .await
        .expect("a body under 1 MiB");
    let uri = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.to_string(), ToString::to_string);
    seen.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Seen {
            method: parts.method.clone(),
            uri,
            headers: parts.headers.clone(),
            body: body.clone(),
        });
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// Echoes the request as JSON: method, raw query, headers and body.
async fn echo(
    method: Method,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let headers = header_map(&headers);
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

/// Answers `code` with `Location: to`, whatever the method.
async fn redirect_with(Path(code): Path<u16>, Query(params): Query<RedirectParams>) -> Response {
    let status = StatusCode::from_u16(code).expect("valid status");
    (status, [(header::LOCATION, params.to)]).into_response()
}

/// Waits 200 ms, then redirects `n` more times, then answers 200.
async fn slow_hops(Path(n): Path<u32>) -> Response {
    tokio::time::sleep(Duration::from_millis(200)).await;
    if n == 0 {
        return "arrived".into_response();
    }
    let next = format!("/slow-hops/{}", n - 1);
    (StatusCode::FOUND, [(header::LOCATION, next)]).into_response()
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
/// `headers` by name, each value read as text (lossily).
pub(crate) fn header_map(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

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
