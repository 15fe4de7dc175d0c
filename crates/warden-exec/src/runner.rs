//! One run of an HTTP job from the current jobs file, turned into an engine [`Outcome`] and a
//! redacted run record.
//!
//! # Model
//! An [`HttpRunner`] holds the jobs file currently in force behind a swappable handle
//! ([`HttpRunner::replace`] installs a reloaded file; the next run uses it, runs already started
//! keep the file they began with), the [`Env`] that `${VAR}`s read, the [`SecretProvider`] for
//! `secret://` values and the shared [`HttpClient`]. Every [`HttpRunner::run`]:
//!
//! 1. finds the job by name in the current file (gone → permanent failure);
//! 2. resolves its request *now* ([`resolve_request`]), so a rotated secret or env-file value is
//!    used without a restart; an unset variable or unknown secret is a permanent failure naming
//!    it, never an empty value sent;
//! 3. builds a [`Redactor`] from the resolved values (plus the whole values of sensitive request
//!    headers, and the URL encodings of every value) and executes the call under it;
//! 4. maps the [`HttpOutcome`] onto [`Outcome`] and builds the run record.
//!
//! | [`HttpOutcome`]      | [`Outcome`]                                           |
//! |----------------------|-------------------------------------------------------|
//! | `Success`            | `Done`                                                |
//! | `Retry { after }`    | `Retry { after }` (`None`: the engine's backoff)      |
//! | `Fail`               | `Fail`                                                |
//! | job disabled in file | `Cancel`                                              |
//!
//! # Invariants
//! - Every string of the [`RunResult`] (the outcome's error and every string in the record) has
//!   passed through the run's redactor; the record is walked once more as a whole at the end.
//! - Sensitive request headers (`Authorization`, `Cookie`, `X-API-Key`-like) are recorded as
//!   `[REDACTED]` whatever they contain.
//! - Log lines carry only the job name, the status, the duration and the outcome's kind.
//! - Nothing resolved is kept after the run: the runner stores templates, never values.

use std::{
    fmt,
    sync::{Arc, PoisonError, RwLock},
    time::{Duration, Instant},
};

use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value, json};
use warden_core::Outcome;

use crate::{
    http::{Failure, HttpClient, HttpError, HttpOutcome, HttpRecord, HttpRequest},
    jobsfile::{JobsFile, Method},
    redact::{Redactor, is_sensitive_name, truncate_at_char_boundary},
    secrets::{SecretError, SecretProvider},
    template::{Builtins, Env, ResolveError, ResolvedRequest, resolve_request},
};

/// How much of a failing response's body excerpt is quoted in the outcome's error.
pub const ERROR_EXCERPT_BYTES: usize = 256;

/// Most bytes of a serialized run record. The engine keeps a handler's report only up to its
/// own limit (`warden_engine::MAX_OUTPUT_BYTES`, the same 16 KiB) and drops a larger one whole,
/// so the record is made to fit: the body excerpt is shortened first (JSON escaping can make
/// it six times its size: a NUL is `\u0000`), then any other long string.
pub const MAX_RECORD_BYTES: usize = 16 * 1024;

/// Longest string kept when shortening the excerpt alone does not make a record fit.
const LAST_RESORT_STRING_BYTES: usize = 256;

/// What the scheduler knows about the run: the values of `${NOW}` and `${RUN_ID}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunInfo {
    /// The occurrence's scheduled instant (`${NOW}`), the same for every attempt of a run.
    pub scheduled_at: Timestamp,
    /// The run's identifier (`${RUN_ID}`).
    pub run_id: String,
}

/// The result of one run: what the engine should do next, and what to store about it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// `Done`, `Retry`, `Fail` or `Cancel`; its error or reason is redacted.
    pub outcome: Outcome,
    /// The redacted run record: `job`, `run_id`, `scheduled_at`, `outcome`, `method`, `url`,
    /// `request_headers`, `status`, `response_headers`, `duration_ms`, `body_excerpt` (at most
    /// the client's excerpt size, 4 KiB by default), `body_bytes`, `body_truncated`,
    /// `body_error`, `retry_after_ms`, `record_cut` and, for failures, `error` (`kind` and
    /// `message`). Fields that do not apply are `null`. Serialized, it is at most
    /// [`MAX_RECORD_BYTES`]: when it would be larger the excerpt is shortened (and, if that is
    /// not enough, every long string) and `record_cut` is `true`.
    pub record: Value,
}

/// Runs HTTP jobs of the current jobs file. Cheap to clone; clones share the file handle, so
/// [`HttpRunner::replace`] on one is seen by all.
#[derive(Clone)]
pub struct HttpRunner {
    file: Arc<RwLock<Arc<JobsFile>>>,
    env: Env,
    secrets: Arc<dyn SecretProvider>,
    client: HttpClient,
}

impl fmt::Debug for HttpRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.current();
        f.debug_struct("HttpRunner")
            .field("file", &file.file_name())
            .field("jobs", &file.jobs().len())
            .field("env", &self.env)
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl HttpRunner {
    /// A runner for `file`, resolving `${VAR}` from `env` and `secret://` from `secrets` at
    /// each run, calling through `client` (and so under its egress policy).
    pub fn new(
        file: JobsFile,
        env: Env,
        secrets: Arc<dyn SecretProvider>,
        client: HttpClient,
    ) -> Self {
        Self {
            file: Arc::new(RwLock::new(Arc::new(file))),
            env,
            secrets,
            client,
        }
    }

    /// Installs a reloaded jobs file. Runs started afterwards use it; runs in progress finish
    /// with the file they started with.
    pub fn replace(&self, file: JobsFile) {
        // The lock only guards an `Arc` swap, so a poisoned lock still holds a valid file.
        *self.file.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(file);
    }

    /// The jobs file in force now.
    pub fn current(&self) -> Arc<JobsFile> {
        Arc::clone(&self.file.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Where `${VAR}` values come from.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// The HTTP client (and its egress policy).
    pub fn client(&self) -> &HttpClient {
        &self.client
    }

    /// Runs job `job_name` of the current file once; see the module documentation.
    ///
    /// Never panics on a job's content and never returns an unredacted string. Templates are
    /// resolved synchronously (env file and secret files are small local reads).
    pub async fn run(&self, job_name: &str, run: RunInfo) -> RunResult {
        let started = Instant::now();
        let file = self.current();
        let mut record = base_record(job_name, &run);

        let Some(job) = file.job(job_name) else {
            let message = format!(
                "job `{job_name}` is no longer in {}; it was removed or renamed",
                file.file_name()
            );
            return finish(
                job_name,
                &Redactor::default(),
                record,
                Outcome::Fail { error: message },
                Some("not_in_file"),
                None,
                started,
            );
        };
        record.insert("method".into(), json!(job.method().as_str()));
        if !job.enabled() {
            let reason = format!(
                "job `{job_name}` is disabled (`enabled: false`) in {}",
                file.file_name()
            );
            return finish(
                job_name,
                &Redactor::default(),
                record,
                Outcome::Cancel { reason },
                Some("disabled"),
                None,
                started,
            );
        }

        let builtins = Builtins {
            scheduled_at: run.scheduled_at,
            job_name: job.name().to_owned(),
            run_id: run.run_id.clone(),
        };
        let request = match resolve_request(job, &self.env, &builtins, &*self.secrets) {
            Ok(request) => request,
            Err(e) => {
                // Resolution errors name variables and secrets, never values.
                let message = format!("job `{job_name}`: {e}");
                let outcome = if is_transient(&e) {
                    Outcome::Retry {
                        after: None,
                        error: message,
                    }
                } else {
                    Outcome::Fail { error: message }
                };
                return finish(
                    job_name,
                    &Redactor::default(),
                    record,
                    outcome,
                    Some("resolve"),
                    None,
                    started,
                );
            }
        };

        let redactor = redactor_for(&request);
        record.insert("url".into(), json!(redactor.redact(request.url())));
        record.insert(
            "query".into(),
            Value::Array(
                request
                    .query()
                    .iter()
                    .map(|(k, v)| json!([k, redactor.redact(v)]))
                    .collect(),
            ),
        );
        record.insert(
            "request_headers".into(),
            Value::Array(
                request
                    .headers()
                    .iter()
                    .map(|(n, v)| json!([n, redactor.redact_header(n, v)]))
                    .collect(),
            ),
        );

        let http_request = match build_request(&request, job.timeout().as_duration()) {
            Ok(r) => r,
            Err(message) => {
                let error = format!("job `{job_name}`: invalid request: {message}");
                return finish(
                    job_name,
                    &redactor,
                    record,
                    Outcome::Fail { error },
                    Some("invalid_request"),
                    None,
                    started,
                );
            }
        };
        drop(request);

        let outcome = self.client.execute(http_request, &redactor).await;
        if let Some(r) = outcome.record() {
            add_response(&mut record, r, &redactor);
        }
        let (engine_outcome, error) = map_outcome(job_name, &outcome);
        let http_duration = outcome
            .record()
            .map(|r| r.duration_ms)
            .or_else(|| outcome.error().map(|e| e.duration_ms));
        if let HttpOutcome::Retry {
            after: Some(after), ..
        } = &outcome
        {
            record.insert("retry_after_ms".into(), json!(millis(*after)));
        }
        finish(
            job_name,
            &redactor,
            record,
            engine_outcome,
            error,
            http_duration,
            started,
        )
    }
}

/// The fields every record has, `null` until known.
fn base_record(job_name: &str, run: &RunInfo) -> Map<String, Value> {
    let mut record = Map::new();
    record.insert("job".into(), json!(job_name));
    record.insert("run_id".into(), json!(run.run_id));
    record.insert("scheduled_at".into(), json!(run.scheduled_at.to_string()));
    for key in [
        "outcome",
        "method",
        "url",
        "query",
        "request_headers",
        "status",
        "response_headers",
        "duration_ms",
        "body_excerpt",
        "body_bytes",
        "body_truncated",
        "body_error",
        "retry_after_ms",
        "error",
    ] {
        record.insert(key.into(), Value::Null);
    }
    record
}

/// A secret provider that cannot answer now may answer later; everything else needs a change
/// to the file, the environment or the secrets, so retrying would only repeat the failure.
fn is_transient(e: &ResolveError) -> bool {
    matches!(e, ResolveError::Secret(SecretError::Unavailable { .. }))
}

/// The run's redactor: every resolved value in its raw, JSON, path- and form-encoded forms, and
/// the whole value of every sensitive request header (even one written literally in the file).
fn redactor_for(request: &ResolvedRequest) -> Redactor {
    let mut redactor = request.redactor();
    let mut extra: Vec<SecretString> = Vec::new();
    for secret in request.secrets() {
        let value = secret.expose_secret();
        extra.push(SecretString::from(
            crate::template::resolve::encode_url_value(value, false),
        ));
        extra.push(SecretString::from(
            url::form_urlencoded::byte_serialize(value.as_bytes()).collect::<String>(),
        ));
    }
    for (name, value) in request.headers() {
        if is_sensitive_name(name) {
            extra.push(SecretString::from(value.clone()));
        }
    }
    redactor.extend(&extra);
    redactor
}

/// The executor's request. Errors never contain a value.
fn build_request(request: &ResolvedRequest, timeout: Duration) -> Result<HttpRequest, String> {
    let method = match request.method() {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
        Method::Head => reqwest::Method::HEAD,
    };
    let url = reqwest::Url::parse(request.url())
        .map_err(|e| format!("the URL is not valid after substitution ({e})"))?;
    let body = request
        .body()
        .map(serde_json::to_vec)
        .transpose()
        .map_err(|_| "the body could not be encoded as JSON".to_owned())?;
    Ok(HttpRequest {
        method,
        url,
        headers: request.headers().to_vec(),
        body,
        query: request.query().to_vec(),
        timeout,
    })
}

/// Copies a response's record fields; sensitive response headers become `[REDACTED]`.
fn add_response(record: &mut Map<String, Value>, r: &HttpRecord, redactor: &Redactor) {
    record.insert("status".into(), json!(r.status));
    record.insert(
        "response_headers".into(),
        Value::Array(
            r.headers_of_interest
                .iter()
                .map(|(n, v)| json!([n, redactor.redact_header(n, v)]))
                .collect(),
        ),
    );
    record.insert("body_excerpt".into(), json!(r.body_excerpt));
    record.insert("body_bytes".into(), json!(r.body_bytes));
    record.insert("body_truncated".into(), json!(r.body_truncated));
    record.insert("body_error".into(), json!(r.body_error));
}

/// The engine outcome and, for failures, the error's kind for the record.
fn map_outcome(job_name: &str, outcome: &HttpOutcome) -> (Outcome, Option<&'static str>) {
    match outcome {
        HttpOutcome::Success(_) => (Outcome::Done, None),
        HttpOutcome::Retry { after, failure } => {
            let (kind, message) = describe(job_name, failure);
            (
                Outcome::Retry {
                    after: *after,
                    error: message,
                },
                Some(kind),
            )
        }
        HttpOutcome::Fail(failure) => {
            let (kind, message) = describe(job_name, failure);
            (Outcome::Fail { error: message }, Some(kind))
        }
    }
}

/// A one-line description of a failure; its parts are already redacted by the client.
fn describe(job_name: &str, failure: &Failure) -> (&'static str, String) {
    match failure {
        Failure::Response(r) => {
            let reason = reqwest::StatusCode::from_u16(r.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .map(|s| format!(" {s}"))
                .unwrap_or_default();
            let mut message = format!("job `{job_name}`: HTTP {}{reason}", r.status);
            let excerpt = r.body_excerpt.trim();
            if !excerpt.is_empty() {
                let short = truncate_at_char_boundary(excerpt.to_owned(), ERROR_EXCERPT_BYTES);
                let ellipsis = if short.len() < excerpt.len() {
                    "…"
                } else {
                    ""
                };
                message.push_str(&format!(": {short}{ellipsis}"));
            }
            ("http_status", message)
        }
        Failure::Error(HttpError { kind, message, .. })
        | Failure::Incomplete {
            error: HttpError { kind, message, .. },
            ..
        } => {
            let code = match kind {
                crate::http::HttpErrorKind::Egress => "egress",
                crate::http::HttpErrorKind::TooManyRedirects => "too_many_redirects",
                crate::http::HttpErrorKind::Redirect => "redirect",
                crate::http::HttpErrorKind::Timeout => "timeout",
                crate::http::HttpErrorKind::Connect => "connect",
                crate::http::HttpErrorKind::Transport => "transport",
                crate::http::HttpErrorKind::InvalidRequest => "invalid_request",
            };
            (code, format!("job `{job_name}`: {kind}: {message}"))
        }
    }
}

/// Redacts the outcome and the whole record, logs the run and returns it.
fn finish(
    job_name: &str,
    redactor: &Redactor,
    mut record: Map<String, Value>,
    outcome: Outcome,
    error_kind: Option<&'static str>,
    http_duration_ms: Option<u64>,
    started: Instant,
) -> RunResult {
    let outcome = match outcome {
        Outcome::Done => Outcome::Done,
        Outcome::Retry { after, error } => Outcome::Retry {
            after,
            error: redactor.redact(&error).into_owned(),
        },
        Outcome::Fail { error } => Outcome::Fail {
            error: redactor.redact(&error).into_owned(),
        },
        Outcome::Cancel { reason } => Outcome::Cancel {
            reason: redactor.redact(&reason).into_owned(),
        },
    };
    record.insert("outcome".into(), json!(outcome.kind()));
    if let Some(message) = outcome.message() {
        record.insert(
            "error".into(),
            json!({ "kind": error_kind.unwrap_or("error"), "message": message }),
        );
    }
    let duration_ms = http_duration_ms.unwrap_or_else(|| millis(started.elapsed()));
    record.insert("duration_ms".into(), json!(duration_ms));

    record.insert("record_cut".into(), json!(false));
    let mut record = Value::Object(record);
    redact_strings(&mut record, redactor);
    fit_record(&mut record, MAX_RECORD_BYTES);

    let status = record.get("status").and_then(Value::as_u64);
    let kind = outcome.kind();
    match outcome {
        Outcome::Done => tracing::info!(
            job = job_name,
            status,
            duration_ms,
            outcome = kind,
            "HTTP job run"
        ),
        _ => tracing::warn!(
            job = job_name,
            status,
            duration_ms,
            outcome = kind,
            "HTTP job run"
        ),
    }
    RunResult { outcome, record }
}

/// The size of `value` serialized as JSON.
fn json_len(value: &Value) -> usize {
    serde_json::to_vec(value).map_or(usize::MAX, |v| v.len())
}

/// Makes `record` serialize to at most `budget` bytes: the body excerpt is cut (at a character
/// boundary, counting each character's escaped size) and, if the rest is still too large, every
/// string is cut to [`LAST_RESORT_STRING_BYTES`]. Sets `record_cut` when anything was cut.
fn fit_record(record: &mut Value, budget: usize) {
    let size = json_len(record);
    if size <= budget {
        return;
    }
    record["record_cut"] = json!(true);
    if let Some(excerpt) = record["body_excerpt"].as_str() {
        let escaped = json_len(&json!(excerpt));
        // What the excerpt may take, quotes included, for the whole record to fit.
        let room = budget.saturating_sub(size - escaped);
        record["body_excerpt"] = json!(prefix_within(excerpt, room.saturating_sub(2)));
    }
    if json_len(record) > budget {
        cut_strings(record, LAST_RESORT_STRING_BYTES);
    }
}

/// The longest prefix of `text` whose JSON-escaped form (without quotes) is at most `max` bytes.
fn prefix_within(text: &str, max: usize) -> String {
    let mut used = 0;
    let mut end = 0;
    let mut buf = [0u8; 4];
    for (i, c) in text.char_indices() {
        // `"` and `\` escape to 2 bytes, other control characters to 6 (`\u0000`) or 2 (`\n`).
        let width = match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if u32::from(c) < 0x20 => 6,
            c => c.encode_utf8(&mut buf).len(),
        };
        if used + width > max {
            break;
        }
        used += width;
        end = i + c.len_utf8();
    }
    text[..end].to_owned()
}

/// Cuts every string in `value` to at most `max` bytes once JSON-escaped.
fn cut_strings(value: &mut Value, max: usize) {
    match value {
        Value::String(s) => {
            if s.len() > max / 6 {
                *s = prefix_within(s, max);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| cut_strings(v, max)),
        Value::Object(map) => map.values_mut().for_each(|v| cut_strings(v, max)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Every string in `value` (keys included) through `redactor`.
fn redact_strings(value: &mut Value, redactor: &Redactor) {
    match value {
        Value::String(s) => {
            if let std::borrow::Cow::Owned(r) = redactor.redact(s) {
                *s = r;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_strings(v, redactor)),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (k, mut v) in entries {
                redact_strings(&mut v, redactor);
                map.insert(redactor.redact(&k).into_owned(), v);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
