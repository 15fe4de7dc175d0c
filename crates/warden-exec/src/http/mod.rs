//! The HTTP executor: one call of an HTTP job, under the egress policy, turned into an outcome.
//!
//! [`HttpClient`] wraps one reqwest client (rustls with aws-lc-rs, no proxy, the
//! [`EgressResolver`], no redirect following of its own) and is meant to be built once per
//! server and shared. [`HttpClient::execute`] follows redirects itself, hop by hop: each hop is
//! checked with [`check_redirect_hop`] (hop limit, egress policy), and a hop to another origin
//! drops every secret header first (the rules are in `redirect.rs`: reqwest itself would forward
//! `X-API-Key`-like headers to any host). It never returns an error: every result, refusals
//! included, is an [`HttpOutcome`] whose strings have passed through the caller's [`Redact`].

mod body;
mod outcome;
mod redirect;
mod retry_after;

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Method, Url};

pub use self::outcome::{
    Failure, HEADERS_OF_INTEREST, HttpError, HttpErrorKind, HttpOutcome, HttpRecord,
};
pub use self::retry_after::parse_retry_after;

use crate::egress::{
    EgressPolicy, EgressResolver, HopRefused, Lookup, SystemLookup, check_redirect_hop,
};
use crate::redact::{Redact, truncate_at_char_boundary};

/// The `User-Agent` sent unless a job sets its own.
pub const USER_AGENT: &str = concat!("warden/", env!("CARGO_PKG_VERSION"));

/// Limits of the executor. [`Default`] gives the values documented on each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// Time allowed to establish a connection (TCP and TLS). Default 10 s.
    pub connect_timeout: Duration,
    /// Redirect hops followed before failing (`TooManyRedirects`). Default 5.
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
    /// the egress resolver, no automatic redirects ([`HttpClient::execute`] follows them itself),
    /// no `Referer`, and [`USER_AGENT`].
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
            // reqwest would forward custom secret headers across hosts: `execute` follows.
            .redirect(reqwest::redirect::Policy::none())
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

    /// Sends `req`, following redirects, and classifies the result (see [`HttpOutcome`]). Every
    /// string in the outcome (body excerpt, header values, error messages) has passed through
    /// `redact`.
    ///
    /// A literal-IP URL is checked before anything is sent; host names are checked by the resolver
    /// on connect; every redirect hop is checked again before it is followed. A refusal is `Fail`
    /// with [`HttpErrorKind::Egress`] and no connection is made to the refused address.
    ///
    /// Redirects (301, 302, 303, 307, 308) are followed up to [`HttpOptions::max_redirects`]
    /// hops, all within [`HttpRequest::timeout`]. A hop to another origin (scheme, host or port)
    /// is sent without `Authorization`, `Cookie`, `Proxy-Authorization`, any header
    /// [`is_sensitive_name`](crate::redact::is_sensitive_name) flags, or any header whose value
    /// `redact` would change. 303 (and 301/302 after `POST`) continue as `GET` without body; 307
    /// and 308 keep the method and body, but a 307 or 308 to another origin whose body holds a
    /// value `redact` would change is refused: `Fail` with [`HttpErrorKind::Redirect`], the
    /// next hop never sent. A redirect without a usable `Location` is `Fail` with
    /// [`HttpErrorKind::InvalidRequest`].
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
        let hop = Hop {
            method: req.method,
            url,
            headers,
            body: req.body,
        };
        let deadline = Deadline {
            at: started.checked_add(req.timeout),
            timeout: req.timeout,
        };

        let response = match self.send_following(hop, deadline, redact).await {
            Ok(response) => response,
            Err((kind, message)) => {
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

        let body_timed_out = read.error.as_ref().is_some_and(reqwest::Error::is_timeout);
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
        // A success needs its whole body; a failing status decides on its own.
        if (200..=399).contains(&status)
            && let Some(message) = record.body_error.clone()
        {
            return HttpOutcome::incomplete(record, body_timed_out, message);
        }
        HttpOutcome::from_response(record, retry_after)
    }
}

/// One request of a call: the first, or the next after a redirect.
struct Hop {
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Option<Vec<u8>>,
}

/// When the whole call (every hop and the final body read) must be over.
#[derive(Clone, Copy)]
struct Deadline {
    /// `None` when the timeout is too large to add to an `Instant`.
    at: Option<Instant>,
    /// The call's whole timeout.
    timeout: Duration,
}

impl Deadline {
    /// Time left, or `None` once the deadline has passed.
    fn left(self) -> Option<Duration> {
        match self.at {
            Some(at) => {
                let left = at.saturating_duration_since(Instant::now());
                (!left.is_zero()).then_some(left)
            }
            None => Some(self.timeout),
        }
    }
}

impl HttpClient {
    /// Sends `hop` and every redirect hop after it; returns the first response that is not a
    /// followed redirect. Each request gets the time left before `deadline` as its reqwest timeout,
    /// which also bounds the reading of the final response's body. Errors are redacted.
    async fn send_following(
        &self,
        mut hop: Hop,
        deadline: Deadline,
        redact: &dyn Redact,
    ) -> Result<reqwest::Response, (HttpErrorKind, String)> {
        let mut followed = 0;
        loop {
            let timed_out = || {
                let message = format!(
                    "operation timed out: the call's timeout of {} ms elapsed after {followed} \
                     redirect(s)",
                    deadline.timeout.as_millis()
                );
                (HttpErrorKind::Timeout, message)
            };
            let left = deadline.left().ok_or_else(timed_out)?;
            let mut builder = self
                .client
                .request(hop.method.clone(), hop.url.clone())
                .headers(hop.headers.clone())
                .timeout(left);
            if let Some(body) = &hop.body {
                builder = builder.body(body.clone());
            }
            let response = builder
                .send()
                .await
                .map_err(|err| outcome::classify_error(err, redact))?;

            let status = response.status();
            if !redirect::is_followed(status) {
                return Ok(response);
            }
            let next = redirect::target(status, response.headers(), &hop.url)
                .map_err(|message| (HttpErrorKind::InvalidRequest, redact.redact(&message)))?;
            // The redirect's own body is not read: dropping it closes its connection.
            drop(response);
            check_redirect_hop(&self.policy, &next, followed, self.options.max_redirects).map_err(
                |refused| {
                    let kind = match refused {
                        HopRefused::TooMany(_) => HttpErrorKind::TooManyRedirects,
                        HopRefused::Egress(_) => HttpErrorKind::Egress,
                    };
                    (kind, redact.redact(&refused.to_string()))
                },
            )?;
            if redirect::body_secret_crosses(status, hop.body.as_deref(), &hop.url, &next, redact) {
                let message = format!(
                    "the {} redirect from {} to another origin, {}, was not followed: it would \
                     resend the request body, which holds a secret value of the job; point the \
                     job's `url` at the final address",
                    status.as_u16(),
                    hop.url.origin().ascii_serialization(),
                    next.origin().ascii_serialization(),
                );
                return Err((HttpErrorKind::Redirect, redact.redact(&message)));
            }
            redirect::rewrite_method(status, &mut hop.method, &mut hop.body, &mut hop.headers);
            redirect::strip_for_new_origin(&mut hop.headers, &hop.url, &next, redact);
            hop.url = next;
            followed += 1;
        }
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
