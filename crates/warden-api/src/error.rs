//! `ApiError`: the one error envelope of the HTTP API.
//!
//! `{"ok": false, "error": {"code", "message", "request_id"}}` with a stable snake_case
//! code. 4xx messages say what was wrong and how to fix it; 5xx messages say only
//! "internal error" (the detail goes to the log, once, here).

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::ToSchema;
use warden_engine::EngineError;
use warden_store::StoreError;

use crate::{envelope::False, request_id::current_request_id};

/// The body of every error answer: `{"ok": false, "error": {…}}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorEnvelope {
    pub ok: False,
    pub error: ErrorBody,
}

/// What went wrong.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, snake_case: `invalid_request`, `unauthenticated`, `forbidden`,
    /// `not_found`, `conflict`, `wrong_state`, `limit_not_allowed`, `quota_exceeded`,
    /// `rate_limited`, `body_too_large`, `unsupported_media_type`, `no_route`,
    /// `unavailable`, `internal_error`.
    pub code: &'static str,
    /// What was wrong and how to fix it (5xx: only "internal error").
    pub message: String,
    /// The request's `X-Request-Id`; quote it when reporting a problem.
    pub request_id: String,
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    /// Shown to the client (never a secret).
    pub message: String,
    /// Logged only (5xx).
    pub internal: Option<String>,
    /// Seconds, for 429.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            internal: None,
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found (or not yours to see)"),
        )
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Self {
            internal: Some(detail.into()),
            ..Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "internal error; quote the request id when reporting it",
            )
        }
    }

    pub fn too_many(message: impl Into<String>, retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message)
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Invalid(p) => Self::bad_request(p.to_string()),
            EngineError::UnknownJobType { .. } | EngineError::UnknownQueue { .. } => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_request", e.to_string())
            }
            EngineError::NotAllowed { .. } => {
                Self::new(StatusCode::FORBIDDEN, "limit_not_allowed", e.to_string())
            }
            EngineError::InternalJobType { .. } => {
                Self::new(StatusCode::FORBIDDEN, "internal_job_type", e.to_string())
            }
            EngineError::QuotaExceeded { .. } => Self {
                retry_after: Some(60),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "quota_exceeded",
                    e.to_string(),
                )
            },
            EngineError::NotFound(what) => Self::not_found(what),
            EngineError::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
            EngineError::WrongState(m) => Self::new(StatusCode::CONFLICT, "wrong_state", m),
            EngineError::Store(s) => s.into(),
            other => Self::internal(format!("{other:?}")),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::not_found("object"),
            StoreError::Unavailable(_) => Self {
                internal: Some(format!("{e:?}")),
                ..Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "the database is unavailable; retry shortly",
                )
            },
            e => Self::internal(format!("{e:?}")),
        }
    }
}

/// A handler that panicked: 500 in the envelope; the panic message goes to the log.
pub(crate) fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    ApiError::internal(format!("handler panicked: {message}")).into_response()
}

/// Answers 408 in the error envelope when a request runs past `limit` (dropping its
/// handler: a handler that writes does so in one transaction, so nothing is half-done).
pub(crate) async fn time_limit(
    axum::extract::State(limit): axum::extract::State<std::time::Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "the request took longer than {} s (`--request-timeout`); retry, or page through less at once",
                limit.as_secs()
            ),
        )
        .into_response(),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let request_id = current_request_id();
        if self.status.is_server_error() {
            tracing::error!(
                request.id = %request_id,
                status = self.status.as_u16(),
                error = self.internal.as_deref().unwrap_or(""),
                "request failed"
            );
        }
        let body = ErrorEnvelope {
            ok: False,
            error: ErrorBody {
                code: self.code,
                message: self.message,
                request_id,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Bearer realm="warden""#),
            );
        }
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
