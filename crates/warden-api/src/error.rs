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
    /// `limit_not_allowed`, `internal_job_type`, `not_found`, `no_route`,
    /// `method_not_allowed`, `request_timeout`, `conflict`, `wrong_state`,
    /// `body_too_large`, `unsupported_media_type`, `quota_exceeded`, `rate_limited`,
    /// `unavailable`, `internal_error`.
    pub code: &'static str,
    /// What was wrong and how to fix it (5xx: only "internal error").
    pub message: String,
    /// The request's `X-Request-Id`; quote it when reporting a problem.
    pub request_id: String,
}

warden_core::vocabulary! {
    /// Why a request failed: the `code` of an error answer. Each code has one HTTP status
    /// ([`ErrorCode::status`]); the list in [`ErrorBody::code`]'s documentation (and so in
    /// the OpenAPI document) is checked against this one by a test.
    pub enum ErrorCode: "code", "an error code" {
        InvalidRequest = "invalid_request",
        Unauthenticated = "unauthenticated",
        Forbidden = "forbidden",
        /// A job type or priority outside the caller's limits.
        LimitNotAllowed = "limit_not_allowed",
        /// One of warden's own job types, which no API caller may create.
        InternalJobType = "internal_job_type",
        NotFound = "not_found",
        NoRoute = "no_route",
        MethodNotAllowed = "method_not_allowed",
        RequestTimeout = "request_timeout",
        Conflict = "conflict",
        /// The object is not in a state that allows the change.
        WrongState = "wrong_state",
        BodyTooLarge = "body_too_large",
        UnsupportedMediaType = "unsupported_media_type",
        /// The owner's `maxActive` is reached.
        QuotaExceeded = "quota_exceeded",
        RateLimited = "rate_limited",
        Unavailable = "unavailable",
        InternalError = "internal_error",
    }
}

impl ErrorCode {
    /// The HTTP status every answer with this code has.
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidRequest => StatusCode::BAD_REQUEST,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::LimitNotAllowed | Self::InternalJobType => {
                StatusCode::FORBIDDEN
            }
            Self::NotFound | Self::NoRoute => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Conflict | Self::WrongState => StatusCode::CONFLICT,
            Self::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::QuotaExceeded | Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    /// Shown to the client (never a secret).
    pub message: String,
    /// Logged only (5xx).
    pub internal: Option<String>,
    /// Seconds, for 429.
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status: code.status(),
            code,
            message: message.into(),
            internal: None,
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            ErrorCode::NotFound,
            format!("{what} not found (or not yours to see)"),
        )
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Self {
            internal: Some(detail.into()),
            ..Self::new(
                ErrorCode::InternalError,
                "internal error; quote the request id when reporting it",
            )
        }
    }

    pub fn too_many(message: impl Into<String>, retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(ErrorCode::RateLimited, message)
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Invalid(p) => Self::bad_request(p.to_string()),
            EngineError::UnknownJobType { .. } | EngineError::UnknownQueue { .. } => {
                Self::new(ErrorCode::InvalidRequest, e.to_string())
            }
            EngineError::NotAllowed { .. } => Self::new(ErrorCode::LimitNotAllowed, e.to_string()),
            EngineError::InternalJobType { .. } => {
                Self::new(ErrorCode::InternalJobType, e.to_string())
            }
            EngineError::QuotaExceeded { .. } => Self {
                retry_after: Some(60),
                ..Self::new(ErrorCode::QuotaExceeded, e.to_string())
            },
            EngineError::NotFound(what) => Self::not_found(what),
            EngineError::Conflict(m) => Self::new(ErrorCode::Conflict, m),
            EngineError::WrongState(m) => Self::new(ErrorCode::WrongState, m),
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
                    ErrorCode::Unavailable,
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
        Err(_) => ApiError::new(ErrorCode::RequestTimeout,
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
                code: self.code.as_str(),
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
