//! The HTTP executor: one call of an HTTP job, under the egress policy, turned into an outcome.
//!
//! [`HttpClient`] wraps one reqwest client (rustls with aws-lc-rs, no proxy, the
//! [`EgressResolver`], the egress [`redirect_policy`]) and is meant to be built once per server
//! and shared. [`HttpClient::execute`] never returns an error: every result, refusals included,
//! is an [`HttpOutcome`] whose strings have passed through the caller's [`Redact`].

mod body;
mod outcome;
mod retry_after;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Method, Url};

pub use self::outcome::{
    Failure, HEADERS_OF_INTEREST, HttpError, HttpErrorKind, HttpOutcome, HttpRecord,
};
pub use self::retry_after::parse_retry_after;

use crate::egress::{EgressPolicy, EgressResolver, Lookup, SystemLookup, redirect_policy};
use crate::redact::{Redact, truncate_at_char_boundary};

/// The `User-Agent` sent unless a job sets its own.
pub const USER_AGENT: &str = concat!("warden/", env!("CARGO_PKG_VERSION"));

/// Limits of the executor. [`Default`] gives the values documented on each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// Time allowed to establish a connection (TCP and TLS). Default 10 s.
    pub connect_timeout: Duration,
    /// Redirect hops followed before failing. Default 5.
    pub max_redirects: usize,
    /// Body bytes read before the read stops. Default 1 MiB.
    pub max_body_bytes: usize,
    /// Size of the recorded body excerpt, in bytes. Default 4 KiB.
    pub excerpt_bytes: usize,
    /// Longest `Retry-After` honoured; longer requests are cut to this. Default 1 h.
    pub max_retry_after: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            max_redirects: crate::egress::DEFAULT_MAX_REDIRECTS,
            max_body_bytes: 1024 * 1024,
            excerpt_bytes: 4 * 1024,
            max_retry_after: Duration::from_secs(3600),
        }
    }
}

/// One HTTP call of a job, with every `${VAR}` and `secret://` already resolved.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The URL; `query` is appended to it.
    pub url: Url,
    /// Request headers, in order; a repeated name sends the header more than once. A
    /// `User-Agent` here replaces [`USER_AGENT`].
    pub headers: Vec<(String, String)>,
    /// A JSON body; `Content-Type: application/json` is added unless `headers` sets one.
    pub body: Option<Vec<u8>>,
    /// Query parameters appended to the URL (percent-encoded).
    pub query: Vec<(String, String)>,
    /// Time allowed for the whole call: connect, redirects, response and body read.
    pub timeout: Duration,
}

/// The client could not be built (TLS provider or root store initialisation).
#[derive(Debug, thiserror::Error)]
#[error("could not build the HTTP client")]
pub struct ClientBuildError(#[source] reqwest::Error);

/// Executes HTTP calls under one egress policy. Cheap to clone; clones share connections.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    policy: Arc<EgressPolicy>,
    options: HttpOptions,
}

impl HttpClient {
    /// Builds the client: rustls, no proxy (environment proxies would bypass the egress checks),
    /// the egress resolver and redirect policy, no `Referer` on redirects, and [`USER_AGENT`].
    ///
    /// # Errors
    ///
    /// [`ClientBuildError`] when reqwest cannot initialise TLS.
    pub fn new(policy: EgressPolicy, options: HttpOptions) -> Result<Self, ClientBuildError> {
        Self::with_lookup(policy, options, Arc::new(SystemLookup))
    }

    /// Like [`HttpClient::new`], resolving host names with `lookup` instead of the system
    /// resolver (the policy still filters every answer).
    ///
    /// # Errors
    ///
    /// [`ClientBuildError`] when reqwest cannot initialise TLS.
    pub fn with_lookup(
        policy: EgressPolicy,
        options: HttpOptions,
        lookup: Arc<dyn Lookup>,
    ) -> Result<Self, ClientBuildError> {
        let policy = Arc::new(policy);
        let resolver = EgressResolver::with_lookup(Arc::clone(&policy), lookup);
        let client = reqwest::Client::builder()
            .no_proxy()
            .dns_resolver(Arc::new(resolver))
            .redirect(redirect_policy(Arc::clone(&policy), options.max_redirects))
            .referer(false)
            .https_only(policy.https_only)
            .connect_timeout(options.connect_timeout)
            .user_agent(USER_AGENT)
            .build()
            .map_err(ClientBuildError)?;
        Ok(Self {
            client,
            policy,
            options,
        })
    }

    /// The egress policy this client enforces.
    pub fn policy(&self) -> &EgressPolicy {
        &self.policy
    }

    /// Sends `req` and classifies the result (see [`HttpOutcome`]). Every string in the outcome
    /// (body excerpt, header values, error messages) has passed through `redact`.
    ///
    /// A literal-IP URL is checked before anything is sent; host names are checked by the resolver
    /// on connect; every redirect hop is checked again. A refusal is `Fail` with
    /// [`HttpErrorKind::Egress`] and no connection is made to the refused address.
    pub async fn execute(&self, req: HttpRequest, redact: &dyn Redact) -> HttpOutcome {
        let started = Instant::now();
        let elapsed_ms = || u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);

        let mut url = req.url;
        if let Err(refused) = self.policy.check_url(&url) {
            let message = redact.redact(&refused.to_string());
            tracing::debug!(error = %message, "HTTP call refused by the egress policy");
            return HttpOutcome::from_error(HttpErrorKind::Egress, message, elapsed_ms());
        }
        if !req.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&req.query);
        }
        let headers = match header_map(&req.headers, req.body.is_some()) {
            Ok(headers) => headers,
            Err(message) => {
                let message = redact.redact(&message);
                return HttpOutcome::from_error(
                    HttpErrorKind::InvalidRequest,
                    message,
                    elapsed_ms(),
                );
            }
        };
        let mut builder = self
            .client
            .request(req.method, url)
            .headers(headers)
            .timeout(req.timeout);
        if let Some(body) = req.body {
            builder = builder.body(body);
        }

        let response = match builder.send().await {
            Ok(response) => response,
            Err(err) => {
                let (kind, message) = outcome::classify_error(err, redact);
                tracing::debug!(error.kind = %kind, error = %message, "HTTP call failed");
                return HttpOutcome::from_error(kind, message, elapsed_ms());
            }
        };

        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                parse_retry_after(v, jiff::Timestamp::now(), self.options.max_retry_after)
            });
        let headers_of_interest = interesting_headers(response.headers(), redact);
        let window = self.options.excerpt_bytes.saturating_mul(2);
        let read = body::read_capped(response, self.options.max_body_bytes, window).await;

        let record = HttpRecord {
            status,
            headers_of_interest,
            duration_ms: elapsed_ms(),
            body_excerpt: body::excerpt(&read.head, self.options.excerpt_bytes, redact),
            body_bytes: read.bytes,
            body_truncated: read.truncated,
            body_error: read
                .error
                .map(|e| redact.redact(&outcome::error_chain(&e.without_url()))),
        };
        tracing::debug!(
            http.status = status,
            duration_ms = record.duration_ms,
            "HTTP call done"
        );
        HttpOutcome::from_response(record, retry_after)
    }
}

/// Builds the request headers. Errors name the header but never echo its value.
fn header_map(headers: &[(String, String)], has_body: bool) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::with_capacity(headers.len() + 1);
    for (name, value) in headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("`{name}` is not a valid header name"))?;
        let value = HeaderValue::from_str(value).map_err(|_| {
            format!(
                "the value of header `{name}` is not a valid header value (control characters?)"
            )
        })?;
        map.append(header, value);
    }
    if has_body && !map.contains_key(CONTENT_TYPE) {
        map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    Ok(map)
}

/// Copies the headers of interest, values decoded lossily, redacted and cut to 512 bytes.
fn interesting_headers(headers: &HeaderMap, redact: &dyn Redact) -> Vec<(String, String)> {
    const MAX_VALUE: usize = 512;
    headers
        .iter()
        .filter(|(name, _)| HEADERS_OF_INTEREST.contains(&name.as_str()))
        .map(|(name, value)| {
            let text = String::from_utf8_lossy(value.as_bytes());
            let value = truncate_at_char_boundary(redact.redact(&text), MAX_VALUE);
            (name.as_str().to_owned(), value)
        })
        .collect()
}
