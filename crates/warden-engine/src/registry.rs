//! Handlers by job type. The set of registered types is the allowlist: scheduling a type
//! with no handler is refused at schedule time, not discovered at run time.

use std::{collections::BTreeMap, fmt::Display, future::Future, pin::Pin, sync::Arc};

use serde::de::DeserializeOwned;
use warden_core::{JobId, JobKind, Outcome, ParseError, Priority, QueueName};

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
    pub owner: String,
    /// When this attempt was due (for a cron job's first attempt, its occurrence instant).
    pub run_at: jiff::Timestamp,
}

/// Turns what a handler returns into an [`Outcome`].
///
/// `()` and `Ok(())` are `Done`; `Err(e)` is a retry (with backoff) carrying `e`'s
/// message; an [`Outcome`] is taken as it is.
pub trait IntoOutcome {
    fn into_outcome(self) -> Outcome;
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
        match self {
            Ok(v) => v.into_outcome(),
            Err(e) => Outcome::Retry {
                after: None,
                error: e.to_string(),
            },
        }
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;
type ErasedHandler = Arc<dyn Fn(JobContext, &[u8]) -> BoxFuture + Send + Sync>;

/// Job types and their handlers.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: BTreeMap<JobKind, ErasedHandler>,
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
                    Box::pin(async move { fut.await.into_outcome() })
                }
                Err(e) => {
                    let error = format!(
                        "payload does not match the handler for {:?}: {e}",
                        ctx.kind.as_str()
                    );
                    Box::pin(async move { Outcome::Fail { error } })
                }
            }
        });
        self.handlers.insert(kind, erased);
        Ok(self)
    }

    pub fn contains(&self, kind: &JobKind) -> bool {
        self.handlers.contains_key(kind)
    }

    /// The registered job types, comma-separated (for error messages).
    pub fn kinds(&self) -> String {
        if self.handlers.is_empty() {
            return "(none registered)".into();
        }
        self.handlers
            .keys()
            .map(JobKind::as_str)
            .collect::<Vec<_>>()
            .join(", ")
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
                Box::pin(async move { Outcome::Fail { error } })
            }
        }
    }
}
