//! What an HTTP call produced, and how statuses and transport errors map onto retry decisions.
//!
//! | Result                                   | Outcome                                   |
//! |------------------------------------------|-------------------------------------------|
//! | 2xx, or a 3xx that is not followed       | `Success`                                 |
//! | 429, 5xx                                 | `Retry` (after = `Retry-After`, if any)   |
//! | other 4xx                                | `Fail`                                    |
//! | connect error, DNS failure, timeout      | `Retry`                                   |
//! | connection dropped mid-request           | `Retry`                                   |
//! | 2xx/3xx whose body read times out or     | `Retry` (`Incomplete`: kind `timeout` or  |
//! | breaks off                               | `transport`, with the response's record)  |
//! | egress refusal (any hop)                 | `Fail`, never retried                     |
//! | too many redirects, invalid request      | `Fail`                                    |
//! | 307/308 carrying a secret body across    | `Fail` (`Redirect`), the hop never sent   |
//! | origins                                  |                                           |
//! | redirect without a usable `Location`     | `Fail` (invalid request)                  |
//!
//! Followed are 301, 302, 303, 307 and 308; any other 3xx (304, 300, …) is final.
//!
//! A success needs the whole body: a 2xx or 3xx whose body read times out or breaks off did not
//! complete, and is retried as that timeout or transport error (a receiver may not have
//! finished its side either). A failing status decides on its own: a body read that fails
//! after a 4xx, 429 or 5xx is noted in [`HttpRecord::body_error`] and does not change the
//! outcome. A body cut at the size cap is not an error.

use std::error::Error as StdError;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::egress::EgressError;
use crate::redact::Redact;

/// The result of one HTTP call, already redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpOutcome {
    /// A 2xx response, or a 3xx that is not followed (304, 300, …).
    Success(HttpRecord),
    /// A transient failure: try again, after `after` when the server said so (`Retry-After`,
    /// capped), else after the caller's own backoff.
    Retry {
        /// The server's requested delay, if it gave one.
        after: Option<Duration>,
        /// The response (429, 5xx) or the transport error.
        failure: Failure,
    },
    /// A permanent failure: do not retry.
    Fail(Failure),
}

/// Why a call did not succeed: a response with a failing status, or no usable response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// The server answered with a failing status.
    Response(HttpRecord),
    /// There was no usable response.
    Error(HttpError),
    /// The server answered with a success status, but its body could not be read to the end
    /// (the call's timeout elapsed, or the connection broke off): the call did not complete.
    Incomplete {
        /// What was received: status, headers and the start of the body.
        record: HttpRecord,
        /// Why the read stopped (kind `Timeout` or `Transport`).
        error: HttpError,
    },
}

/// What is kept of a response in the run record. Every string in it has been redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpRecord {
    /// The final status code (after redirects).
    pub status: u16,
    /// The headers of interest ([`HEADERS_OF_INTEREST`]), names lower-case, in response order.
    pub headers_of_interest: Vec<(String, String)>,
    /// From sending the request to the end of the body read.
    pub duration_ms: u64,
    /// The start of the body, UTF-8 (invalid bytes replaced), at most 4 KiB by default.
    pub body_excerpt: String,
    /// Body bytes received (the read stops soon after the cap).
    pub body_bytes: u64,
    /// `true` when the read stopped at the cap before the end of the body.
    pub body_truncated: bool,
    /// Set when the body read failed part-way (a success status then becomes
    /// [`Failure::Incomplete`]).
    pub body_error: Option<String>,
}

/// A call that produced no usable response. The message is redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct HttpError {
    /// The class of failure.
    pub kind: HttpErrorKind,
    /// What happened, for the run record.
    pub message: String,
    /// From the start of the call to the failure.
    pub duration_ms: u64,
}

/// The class of an [`HttpError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HttpErrorKind {
    /// Refused by the egress policy (scheme, address or host, on any hop). Never retried.
    Egress,
    /// More redirects than allowed.
    TooManyRedirects,
    /// A redirect that may not be followed: a 307/308 to another origin would resend a body
    /// holding a secret. Never retried.
    Redirect,
    /// The per-request timeout elapsed.
    Timeout,
    /// No connection: refused, unreachable, DNS failure, TLS handshake failure.
    Connect,
    /// The connection failed after the request started.
    Transport,
    /// The request could not be built (bad header name or value, bad URL), or a redirect had no
    /// usable `Location` to go on with.
    InvalidRequest,
}

impl std::fmt::Display for HttpErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Egress => "egress refused",
            Self::TooManyRedirects => "too many redirects",
            Self::Redirect => "redirect refused",
            Self::Timeout => "timeout",
            Self::Connect => "connection failed",
            Self::Transport => "transport error",
            Self::InvalidRequest => "invalid request",
        })
    }
}

/// Response headers copied into [`HttpRecord::headers_of_interest`].
pub const HEADERS_OF_INTEREST: &[&str] = &[
    "content-type",
    "content-length",
    "content-encoding",
    "location",
    "retry-after",
    "x-request-id",
    "x-correlation-id",
    "ratelimit",
    "ratelimit-policy",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
];

impl HttpOutcome {
    /// The response record, if there was a response.
    pub fn record(&self) -> Option<&HttpRecord> {
        match self {
            Self::Success(record) => Some(record),
            Self::Retry { failure, .. } | Self::Fail(failure) => match failure {
                Failure::Response(record) | Failure::Incomplete { record, .. } => Some(record),
                Failure::Error(_) => None,
            },
        }
    }

    /// The error, if the call produced no usable response.
    pub fn error(&self) -> Option<&HttpError> {
        match self {
            Self::Success(_) => None,
            Self::Retry { failure, .. } | Self::Fail(failure) => match failure {
                Failure::Response(_) => None,
                Failure::Error(error) | Failure::Incomplete { error, .. } => Some(error),
            },
        }
    }

    /// Maps a response to an outcome by its status.
    pub(crate) fn from_response(record: HttpRecord, retry_after: Option<Duration>) -> Self {
        match record.status {
            200..=399 => Self::Success(record),
            429 | 500..=599 => Self::Retry {
                after: retry_after,
                failure: Failure::Response(record),
            },
            _ => Self::Fail(Failure::Response(record)),
        }
    }

    /// A success status whose body could not be read to the end: retried, as a timeout when
    /// the read timed out, else as a transport error.
    pub(crate) fn incomplete(record: HttpRecord, timed_out: bool, message: String) -> Self {
        let kind = if timed_out {
            HttpErrorKind::Timeout
        } else {
            HttpErrorKind::Transport
        };
        let error = HttpError {
            kind,
            message: format!(
                "the body of the HTTP {} response could not be read to its end: {message}",
                record.status
            ),
            duration_ms: record.duration_ms,
        };
        Self::Retry {
            after: None,
            failure: Failure::Incomplete { record, error },
        }
    }

    /// A failure before or without a response.
    pub(crate) fn from_error(kind: HttpErrorKind, message: String, duration_ms: u64) -> Self {
        let failure = Failure::Error(HttpError {
            kind,
            message,
            duration_ms,
        });
        match kind {
            HttpErrorKind::Timeout | HttpErrorKind::Connect | HttpErrorKind::Transport => {
                Self::Retry {
                    after: None,
                    failure,
                }
            }
            HttpErrorKind::Egress
            | HttpErrorKind::TooManyRedirects
            | HttpErrorKind::Redirect
            | HttpErrorKind::InvalidRequest => Self::Fail(failure),
        }
    }
}

/// Classifies a reqwest error and renders its message (without the URL, which may carry secrets
/// in its query; then redacted).
pub(crate) fn classify_error(err: reqwest::Error, redact: &dyn Redact) -> (HttpErrorKind, String) {
    let err = err.without_url();
    // The resolver's refusals travel inside reqwest's error. (Redirect hops are checked by the
    // executor itself, which reports their refusals and the hop limit without reqwest.)
    let mut source: Option<&(dyn StdError + 'static)> = err.source();
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<EgressError>() {
            return (HttpErrorKind::Egress, redact.redact(&refused.to_string()));
        }
        source = cause.source();
    }
    let kind = if err.is_timeout() {
        HttpErrorKind::Timeout
    } else if err.is_connect() {
        HttpErrorKind::Connect
    } else if err.is_builder() {
        HttpErrorKind::InvalidRequest
    } else {
        HttpErrorKind::Transport
    };
    (kind, redact.redact(&error_chain(&err)))
}

/// `outer: cause: root cause`.
pub(crate) fn error_chain(err: &dyn StdError) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        // Some layers repeat their cause in their own message; do not print it twice.
        if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}
