//! HTTP job execution for warden: the `jobs.yaml` loader, `${VAR}` templates and secret
//! providers, the egress (SSRF) guard, redaction and the HTTP executor.
//!
//! # Layout
//!
//! - [`check`]: a whole jobs file checked at once (fields, variables, secrets, egress).
//! - [`egress`]: the egress policy (blocked ranges, allow rules, `https_only`), the DNS resolver
//!   that connects only to checked addresses, and the check of every redirect hop.
//!   - [`egress::ranges`]: the table of blocked ranges and IPv4-embedding IPv6 forms.
//! - [`http`]: [`http::HttpClient`], which runs one call (following redirects itself, so that
//!   secret headers never reach another origin) and classifies it as success, retry (with
//!   `Retry-After`) or failure, keeping a capped, redacted record of the response.
//! - [`redact`]: the [`redact::Redact`] hook applied to everything the executor records,
//!   and the [`Redactor`] that replaces secret values and sensitive header values.
//! - [`jobsfile`]: parses and validates `jobs.yaml`, reporting every error with file,
//!   line, column and field (`jobs[2].schedule`); tight size, depth and alias limits.
//! - [`template`]: `${VAR}` / `${NOW}` / `secret://NAME` templates, the environment
//!   (process + env file) they read, load-time checks and run-time resolution.
//! - [`runner`]: [`runner::HttpRunner`] runs a job of the current jobs file: outcome and record.
//! - [`secrets`]: the [`secrets::SecretProvider`] interface with environment, directory
//!   (`/run/secrets`) and chained providers.

pub mod check;
pub mod egress;
pub mod http;
pub mod jobsfile;
pub mod redact;
pub mod runner;
pub mod secrets;
pub mod template;

pub use jobsfile::{HttpJob, JobsFile, LoadError, LoadErrorKind, LoadErrors, load, parse};
pub use redact::{REDACTED, Redactor, is_sensitive_name};
pub use secrets::{ChainSecrets, DirSecrets, EnvSecrets, SecretError, SecretProvider};
pub use template::{Builtins, Env, Resolved, Template, check_env, resolve};
