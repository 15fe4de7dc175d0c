//! `jobs.yaml`: HTTP jobs defined in a file that is safe to commit.
//!
//! # Format
//! ```yaml
//! global:                      # optional
//!   defaultTimeout: 10000      # ms, default 30000
//!   defaultRetries: 3          # default 0
//!   defaultHeaders:            # merged into every job; a job's own header wins
//!     Content-Type: application/json
//! jobs:
//!   - name: data-sync          # unique; 1–128 characters, no control characters
//!     schedule: "0 */30 * * * *"   # 5 or 6 fields (seconds first), or @daily …
//!     timezone: Europe/Paris   # IANA zone, default UTC
//!     url: "https://api.example.com/sync"
//!     method: POST             # GET (default), POST, PUT, PATCH, DELETE, HEAD
//!     headers: { Authorization: "Bearer ${JWT_TOKEN}" }
//!     data: { timestamp: "${NOW}" }  # JSON body; query parameters for GET/HEAD
//!     timeout: 15000           # ms, 1 ms to 24 h
//!     retries: 3               # 0 to 20
//!     enabled: true            # default true
//!     description: "…"
//!     queue: default           # warden's own, all optional
//!     priority: medium         # critical, high, medium, low
//!     overlap: forbid          # allow, forbid, replace
//!     missed: latest           # skip, latest, all
//!     dst: { gap: shift, fold: first }
//! ```
//!
//! # Design
//! Loading is two passes so that *every* problem is reported, each at its place:
//!
//! 1. **Structure** (`node.rs`): serde-saphyr parses the text into a tree of
//!    [`serde_saphyr::Spanned`] nodes under a tight budget (size, depth, node count,
//!    alias expansion). Only a YAML syntax error or a breached limit stops here, and
//!    serde-saphyr gives its line and column.
//! 2. **Meaning** (`validate.rs`, `checker.rs`, `fields.rs`, `http.rs`, `data.rs`): the tree is walked key by key. Unknown and
//!    duplicate keys, wrong types, bad cron expressions, zones, methods, URLs, ranges
//!    and template syntax are each recorded with the location of the offending key or
//!    value and its path (`jobs[2].schedule`), and the walk goes on. A missing key is
//!    reported at the job's first line.
//!
//! `${VAR}` references are parsed here but resolved only when a job runs; whether the
//! variables are set is checked by [`crate::template::check_env`].

use std::{path::Path, time::Duration};

use warden_core::{
    CronSpec, JobTimeout, MaxAttempts, MissedPolicy, OverlapPolicy, Priority, QueueName,
};

use crate::template::Template;

mod checker;
mod data;
pub mod error;
mod fields;
mod http;
pub(crate) mod node;
mod validate;

pub use error::{LoadError, LoadErrorKind, LoadErrors};
pub use fields::Method;
pub use node::Loc;

/// The timeout when neither the job nor `global.defaultTimeout` sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The most retries a job may ask for.
pub const MAX_RETRIES: u32 = 20;
/// The most jobs in one file.
pub const MAX_JOBS: usize = 1_000;
/// The most headers in one job (defaults included).
pub const MAX_HEADERS: usize = 64;
/// The largest accepted file, in bytes.
pub const MAX_FILE_BYTES: usize = node::limits::MAX_FILE_BYTES;

/// A loaded, validated jobs file.
#[derive(Debug, Clone)]
pub struct JobsFile {
    file: String,
    jobs: Vec<HttpJob>,
}

impl JobsFile {
    /// The file name used in error messages.
    pub fn file_name(&self) -> &str {
        &self.file
    }

    /// The jobs in file order, with `global` defaults applied.
    pub fn jobs(&self) -> &[HttpJob] {
        &self.jobs
    }

    pub fn job(&self, name: &str) -> Option<&HttpJob> {
        self.jobs.iter().find(|j| j.name == name)
    }
}

/// An HTTP header whose value may hold references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub(crate) name: String,
    pub(crate) value: Template,
}

impl Header {
    /// The name as written (a valid HTTP token).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn value(&self) -> &Template {
        &self.value
    }
}

/// The `data` of a job: JSON whose strings may hold references.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(Template),
    List(Vec<Data>),
    /// Keys in file order; keys are literal (never templated) and unique.
    Map(Vec<(String, Data)>),
}

/// What a reference in a job needs at run time.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Needed {
    /// `${NAME}`: an environment variable.
    Var(String),
    /// `secret://NAME`: a secret from the secret providers.
    Secret(String),
}

/// One reference in a job, where it is, for load-time checks.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    pub needed: Needed,
    /// The field holding it: `jobs[1].headers.Authorization`,
    /// or `global.defaultHeaders.X` for an inherited default header.
    pub field: String,
    pub loc: Loc,
}

/// One job of the file, validated, with defaults applied.
#[derive(Debug, Clone)]
pub struct HttpJob {
    pub(crate) name: String,
    pub(crate) index: usize,
    pub(crate) loc: Loc,
    pub(crate) schedule: CronSpec,
    pub(crate) url: Template,
    pub(crate) url_loc: Loc,
    pub(crate) method: Method,
    pub(crate) headers: Vec<Header>,
    pub(crate) data: Option<Data>,
    pub(crate) timeout: JobTimeout,
    pub(crate) retries: u32,
    pub(crate) enabled: bool,
    pub(crate) description: Option<String>,
    pub(crate) queue: QueueName,
    pub(crate) priority: Priority,
    pub(crate) overlap: OverlapPolicy,
    pub(crate) missed: MissedPolicy,
    pub(crate) references: Vec<Reference>,
}

impl HttpJob {
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Position in the file's `jobs` list (0-based).
    pub fn index(&self) -> usize {
        self.index
    }
    /// Where the job starts in the file.
    pub fn loc(&self) -> Loc {
        self.loc
    }
    /// Cron expression, time zone (default UTC) and DST policy.
    pub fn schedule(&self) -> &CronSpec {
        &self.schedule
    }
    /// The URL. Scheme (`http`/`https`) and host are always literal; references may
    /// only appear in the path and query, and their values are percent-encoded.
    pub fn url(&self) -> &Template {
        &self.url
    }
    /// Where the `url` value is written in the file.
    pub fn url_loc(&self) -> Loc {
        self.url_loc
    }
    pub fn method(&self) -> Method {
        self.method
    }
    /// Headers in order: the job's own, then inherited defaults it did not override
    /// (names compared case-insensitively).
    pub fn headers(&self) -> &[Header] {
        &self.headers
    }
    /// The body (JSON), or for GET and HEAD the query parameters (a flat mapping).
    pub fn data(&self) -> Option<&Data> {
        self.data.as_ref()
    }
    /// Per-attempt timeout: the job's, else `global.defaultTimeout`, else 30 s.
    pub fn timeout(&self) -> JobTimeout {
        self.timeout
    }
    /// Retries after the first attempt: the job's, else `global.defaultRetries`, else 0.
    pub fn retries(&self) -> u32 {
        self.retries
    }
    /// `retries + 1`, as the engine counts attempts.
    pub fn max_attempts(&self) -> MaxAttempts {
        MaxAttempts::new(i64::from(self.retries) + 1)
            .expect("retries are at most MAX_RETRIES, well inside MaxAttempts' range")
    }
    pub fn enabled(&self) -> bool {
        self.enabled
    }
    pub fn description(&self) -> Option<&str> {
        self.description.as_deref()
    }
    /// Default `default`.
    pub fn queue(&self) -> &QueueName {
        &self.queue
    }
    pub fn priority(&self) -> Priority {
        self.priority
    }
    pub fn overlap(&self) -> OverlapPolicy {
        self.overlap
    }
    pub fn missed(&self) -> MissedPolicy {
        self.missed
    }
    /// Every `${VAR}` and `secret://` the job uses, with where it is written.
    pub fn references(&self) -> &[Reference] {
        &self.references
    }
}

/// Reads and parses a jobs file. Refuses files over [`MAX_FILE_BYTES`] without reading
/// them whole. All problems are returned together.
pub fn load(path: impl AsRef<Path>) -> Result<JobsFile, LoadErrors> {
    use std::io::Read;
    let path = path.as_ref();
    let file = path.display().to_string();
    let fail = |kind, message: String| {
        LoadErrors::one(LoadError::new(&file, Loc::default(), "", kind, message))
    };
    let handle = std::fs::File::open(path)
        .map_err(|e| fail(LoadErrorKind::Io, format!("cannot open the file: {e}")))?;
    let mut bytes = Vec::new();
    handle
        .take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(LoadErrorKind::Io, format!("cannot read the file: {e}")))?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(too_large(&file));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| fail(LoadErrorKind::Syntax, "the file is not valid UTF-8".into()))?;
    parse(&text, &file)
}

fn too_large(file: &str) -> LoadErrors {
    LoadErrors::one(LoadError::new(
        file,
        Loc::default(),
        "",
        LoadErrorKind::TooLarge,
        format!("the file is larger than {MAX_FILE_BYTES} bytes"),
    ))
}

/// Parses and validates the text of a jobs file; `file_name` is used in messages.
/// All problems are returned together, sorted by position.
pub fn parse(text: &str, file_name: &str) -> Result<JobsFile, LoadErrors> {
    if text.len() > MAX_FILE_BYTES {
        return Err(too_large(file_name));
    }
    let tree =
        node::parse_tree(text).map_err(|e| LoadErrors::one(error::from_yaml(file_name, &e)))?;
    validate::file(&tree, file_name)
}
