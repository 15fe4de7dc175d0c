//! Extractors whose rejections use our error envelope: the authenticated [`Caller`],
//! JSON bodies, paths and queries (after axum's `examples/error-handling`).

use std::sync::Arc;

use axum::{
    extract::{FromRequest, FromRequestParts, Request, rejection::JsonRejection},
    http::request::Parts,
};
use serde::de::DeserializeOwned;

use crate::error::ErrorCode;
use crate::{auth::Caller, error::ApiError};

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Arc<Caller>>()
            .map(|c| (**c).clone())
            // Only reachable if a route was mounted outside the authentication layer.
            .ok_or_else(|| ApiError::unauthenticated("authentication required"))
    }
}

/// A JSON body; a malformed one is a 400 (413 when too large) in our envelope.
pub struct AppJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AppJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(JsonRejection::BytesRejection(e)) => Err(body_error(e)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the body as JSON with `Content-Type: application/json`",
            )),
            Err(e) => Err(ApiError::bad_request(format!(
                "the JSON body could not be read: {}",
                e.body_text()
            ))),
        }
    }
}

/// Whether a raw (percent-encoded) path or query holds a NUL character. Text reaches
/// the store as given, and PostgreSQL refuses NUL in text (a 500), so it is refused here
/// for every route. A NUL can only arrive as `%00`: raw control bytes are not a URI.
fn has_nul(raw: &str) -> bool {
    raw.as_bytes()
        .windows(3)
        .any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0')
}

/// A body that could not be read: 413 when over the limit, else 400, in our envelope.
pub(crate) fn body_error(e: axum::extract::rejection::BytesRejection) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorCode::BodyTooLarge,
            "the request body is larger than the server's limit (`--max-body-bytes`, 1 MiB by default)",
        )
    } else {
        ApiError::bad_request("the request body could not be read")
    }
}

/// A path parameter parsed with `FromStr`; a bad one (or a NUL) is a 400 naming it.
pub struct AppPath<T>(pub T);

impl<T, S> FromRequestParts<S> for AppPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if has_nul(parts.uri.path()) {
            return Err(ApiError::bad_request(
                "invalid path: NUL characters (`%00`) are not accepted",
            ));
        }
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Self(p.0))
            .map_err(|e| ApiError::bad_request(format!("invalid path: {}", e.body_text())))
    }
}

/// Query parameters; unknown or malformed ones, or a NUL in any, are a 400.
pub struct AppQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for AppQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if parts.uri.query().is_some_and(has_nul) {
            return Err(ApiError::bad_request(
                "invalid query: NUL characters (`%00`) are not accepted",
            ));
        }
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|e| ApiError::bad_request(format!("invalid query: {}", e.body_text())))
    }
}

#[cfg(test)]
mod tests {
    use super::has_nul;

    #[test]
    fn a_percent_encoded_nul_is_found_anywhere() {
        assert!(has_nul("after=%00"));
        assert!(has_nul("/api/v1/principals/a%00b"));
        assert!(!has_nul("after=%0A%10%200"));
        assert!(!has_nul("/api/v1/principals/team-a"));
    }
}
