//! Request ids: warden makes its own for every request (a UUIDv7), and keeps a client's
//! well-formed `X-Request-Id` apart from it. Both are available to handlers, error bodies
//! and the audit trail through a task-local.
//!
//! Warden's id is the one logs, error bodies, the audit trail's `request_id` and the
//! answer's `X-Request-Id` carry: a client cannot choose it, so it cannot forge
//! correlation with other requests' records. The client's id is echoed back as
//! `X-Client-Request-Id` and recorded as the audit trail's `client_request_id`.

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The answer's echo of the client's `X-Request-Id`.
pub static X_CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("x-client-request-id");

/// The ids of the request being served.
#[derive(Debug, Clone)]
struct RequestIds {
    own: String,
    client: Option<String>,
}

tokio::task_local! {
    static REQUEST_IDS: RequestIds;
}

/// Warden's id of the request being served ("" outside a request).
pub fn current_request_id() -> String {
    REQUEST_IDS
        .try_with(|ids| ids.own.clone())
        .unwrap_or_default()
}

/// The client's `X-Request-Id` of the request being served, if it sent a plain one.
pub fn current_client_request_id() -> Option<String> {
    REQUEST_IDS
        .try_with(|ids| ids.client.clone())
        .ok()
        .flatten()
}

/// A client's id is kept only if short and plain, so it cannot inject into logs.
fn acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

pub async fn request_id_layer(mut request: Request, next: Next) -> Response {
    let client = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned);
    let own = uuid::Uuid::now_v7().to_string();
    let value = HeaderValue::from_str(&own).expect("a UUID is a valid header");
    let client_value = client
        .as_deref()
        .map(|c| HeaderValue::from_str(c).expect("a checked id is a valid header"));
    // Handlers that read the header see warden's id, never the client's.
    request
        .headers_mut()
        .insert(X_REQUEST_ID.clone(), value.clone());
    let span = tracing::info_span!(
        "request",
        request.id = %own,
        client.request_id = client.as_deref(),
        method = %request.method(),
        path = %request.uri().path(),
    );
    let ids = RequestIds { own, client };
    let mut response = REQUEST_IDS
        .scope(ids, async move {
            let _enter = span.clone();
            let response = tracing::Instrument::instrument(next.run(request), span).await;
            tracing::debug!(status = response.status().as_u16(), "answered");
            response
        })
        .await;
    let headers = response.headers_mut();
    headers.insert(X_REQUEST_ID.clone(), value);
    if let Some(c) = client_value {
        headers.insert(X_CLIENT_REQUEST_ID.clone(), c);
    }
    response
}
