//! Handlers by job type. The set of registered types is the allowlist: scheduling a type
//! with no handler is refused at schedule time, not discovered at run time.
//!
//! A type registered with [`Registry::register_internal`] is warden's own (say
//! `warden.http`, the jobs file's calls, which run with the file's secrets): only the
//! embedding program and the jobs-file sync create its jobs and schedules, never an API
//! caller, whatever its role (see [`crate::Actor`]).

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Display,
    future::Future,
    pin::Pin,
    sync::Arc,
};

use serde::de::DeserializeOwned;
use warden_core::{JobId, JobKind, Outcome, ParseError, PrincipalId, Priority, QueueName};

/// What a handler learns about the job it runs.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub id: JobId,
    pub kind: JobKind,
    pub queue: QueueName,
    pub priority: Priority,
    /// This attempt's number (1 for the first run).
    pub attempt: i32,
    pub max_attempts: i32,
    /// The principal that owns the job.
    pub owner: PrincipalId,
    /// When this attempt was due; a retry's is later (its backoff), and a cron job's first
    /// attempt is due when the enqueuer made it, which may be after its occurrence.
    pub run_at: jiff::Timestamp,
    /// The instant the job stands for, the same for every attempt: for a job made by a
    /// schedule occurrence, the occurrence's instant (the ledger's `scheduled_at`, each of
    /// a catch-up's jobs its own); for any other job (an API job, a schedule's manual
    /// trigger), when it was created.
    pub scheduled_at: jiff::Timestamp,
}

/// Most bytes of a handler's report kept in the run history; a larger report is replaced by
/// a note saying so, so that one chatty handler cannot bloat the history.
pub const MAX_OUTPUT_BYTES: usize = 16 * 1024;

/// An [`Outcome`] together with a report of what the attempt did (say, the status and an
/// excerpt of an HTTP response), kept as the run's `output` in the run history.
///
/// The report is stored as it is: a handler must not put secrets in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reported {
    pub outcome: Outcome,
    pub output: serde_json::Value,
}

/// What the engine takes from one attempt: its outcome and, when the handler gave one, the
/// serialized report.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Attempt {
    pub(crate) outcome: Outcome,
    pub(crate) output: Option<Vec<u8>>,
}

impl Attempt {
    pub(crate) fn bare(outcome: Outcome) -> Self {
        Self {
            outcome,
            output: None,
        }
    }
}

/// Turns what a handler returns into an [`Outcome`] (and, for [`Reported`], a report).
///
/// `()` and `Ok(())` are `Done`; `Err(e)` is a retry (with backoff) carrying `e`'s
/// message; an [`Outcome`] is taken as it is.
pub trait IntoOutcome {
    fn into_outcome(self) -> Outcome;

    /// The outcome and the report to keep; only [`Reported`] has a report.
    fn into_reported(self) -> (Outcome, Option<serde_json::Value>)
    where
        Self: Sized,
    {
        (self.into_outcome(), None)
    }
}

impl IntoOutcome for Reported {
    fn into_outcome(self) -> Outcome {
        self.outcome
    }

    fn into_reported(self) -> (Outcome, Option<serde_json::Value>) {
        (self.outcome, Some(self.output))
    }
}

impl IntoOutcome for () {
    fn into_outcome(self) -> Outcome {
        Outcome::Done
    }
}

impl IntoOutcome for Outcome {
    fn into_outcome(self) -> Outcome {
        self
    }
}

impl<T: IntoOutcome, E: Display> IntoOutcome for Result<T, E> {
    fn into_outcome(self) -> Outcome {
        self.into_reported().0
    }

    fn into_reported(self) -> (Outcome, Option<serde_json::Value>) {
        match self {
            Ok(v) => v.into_reported(),
            Err(e) => (
                Outcome::Retry {
                    after: None,
                    error: e.to_string(),
                },
                None,
            ),
        }
    }
}

/// Serializes a report, or a note in its place when it is larger than [`MAX_OUTPUT_BYTES`].
fn encode_output(output: &serde_json::Value) -> Vec<u8> {
    let bytes = serde_json::to_vec(output).unwrap_or_default();
    if bytes.len() <= MAX_OUTPUT_BYTES {
        return bytes;
    }
    let note = serde_json::json!({
        "omitted": format!("the handler's report was {} bytes; at most {MAX_OUTPUT_BYTES} are kept", bytes.len()),
    });
    serde_json::to_vec(&note).unwrap_or_default()
}

fn attempt_of(result: impl IntoOutcome) -> Attempt {
    let (outcome, output) = result.into_reported();
    Attempt {
        outcome,
        output: output.as_ref().map(encode_output),
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Attempt> + Send>>;
type ErasedHandler = Arc<dyn Fn(JobContext, &[u8]) -> BoxFuture + Send + Sync>;

/// Job types and their handlers.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: BTreeMap<JobKind, ErasedHandler>,
    /// Types registered with [`Registry::register_internal`].
    internal: BTreeSet<JobKind>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.handlers.keys()).finish()
    }
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` for `job_type`; its payload is deserialized into `T`.
    ///
    /// A payload that does not deserialize into `T` fails the job at once (`dead`): a
    /// retry could not fix it. Registering a type twice replaces the handler.
    pub fn register<T, F, Fut, R>(
        &mut self,
        job_type: &str,
        handler: F,
    ) -> Result<&mut Self, ParseError>
    where
        T: DeserializeOwned + Send + 'static,
        F: Fn(JobContext, T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoOutcome,
    {
        let kind = JobKind::parse(job_type)?;
        let handler = Arc::new(handler);
        let erased: ErasedHandler = Arc::new(move |ctx: JobContext, payload: &[u8]| -> BoxFuture {
            match serde_json::from_slice::<T>(payload) {
                Ok(data) => {
                    let fut = handler(ctx, data);
                    Box::pin(async move { attempt_of(fut.await) })
                }
                Err(e) => {
                    let error = format!(
                        "payload does not match the handler for {:?}: {e}",
                        ctx.kind.as_str()
                    );
                    Box::pin(async move { Attempt::bare(Outcome::Fail { error }) })
                }
            }
        });
        self.internal.remove(&kind);
        self.handlers.insert(kind, erased);
        Ok(self)
    }

    /// Registers `handler` for an internal `job_type`: it runs like any other, but only
    /// an actor trusted with internal types ([`crate::Actor::system`], or one made
    /// [`trusted`](crate::Actor::trusted)) creates its jobs or schedules; API callers are
    /// refused, and an admin runs one only by triggering an existing schedule of it.
    pub fn register_internal<T, F, Fut, R>(
        &mut self,
        job_type: &str,
        handler: F,
    ) -> Result<&mut Self, ParseError>
    where
        T: DeserializeOwned + Send + 'static,
        F: Fn(JobContext, T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoOutcome,
    {
        self.register(job_type, handler)?;
        self.internal.insert(JobKind::parse(job_type)?);
        Ok(self)
    }

    /// Whether `kind` is an internal type (see [`Registry::register_internal`]).
    pub fn is_internal(&self, kind: &JobKind) -> bool {
        self.internal.contains(kind)
    }

    pub fn contains(&self, kind: &JobKind) -> bool {
        self.handlers.contains_key(kind)
    }

    /// The job types callers may schedule, comma-separated (for error messages; internal
    /// types are left out, as no caller may use them).
    pub fn kinds(&self) -> String {
        let public: Vec<&str> = self
            .handlers
            .keys()
            .filter(|k| !self.internal.contains(*k))
            .map(JobKind::as_str)
            .collect();
        if public.is_empty() {
            return "(none registered)".into();
        }
        public.join(", ")
    }

    /// Starts the handler for `ctx.kind`, or fails the job when none is registered (a job
    /// inserted by another process whose allowlist differs).
    pub(crate) fn call(&self, ctx: JobContext, payload: &[u8]) -> BoxFuture {
        match self.handlers.get(&ctx.kind) {
            Some(h) => h(ctx, payload),
            None => {
                let error = format!(
                    "no handler is registered for job type {:?} in this process",
                    ctx.kind.as_str()
                );
                Box::pin(async move { Attempt::bare(Outcome::Fail { error }) })
            }
        }
    }
}
