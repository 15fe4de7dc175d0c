//! Request ids: taken from a well-formed `X-Request-Id`, generated otherwise, echoed on
//! every response, and available to handlers and error bodies through a task-local.

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served ("" outside a request).
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// A client's id is kept only if short and plain, so it cannot inject into logs.
fn acceptable(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

pub async fn request_id_layer(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let value = HeaderValue::from_str(&id).expect("checked or generated id is a valid header");
    request
        .headers_mut()
        .insert(X_REQUEST_ID.clone(), value.clone());
    let span = tracing::info_span!("request", request.id = %id, method = %request.method(), path = %request.uri().path());
    let mut response = REQUEST_ID
        .scope(id, async move {
            let _enter = span.clone();
            let response = tracing::Instrument::instrument(next.run(request), span).await;
            tracing::debug!(status = response.status().as_u16(), "answered");
            response
        })
        .await;
    response.headers_mut().insert(X_REQUEST_ID.clone(), value);
    response
}
