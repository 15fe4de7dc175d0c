//! Resolution of templates at run time, and the load-time checks that make it safe.
//!
//! # Invariants
//! - An unset variable is an error, never an empty string.
//! - Every value that came from the environment or a secret provider is returned in
//!   [`Resolved::secrets`] so callers can redact it; built-ins are not secrets.
//! - The environment, env file and providers are read on every call: nothing is cached.

use std::{collections::HashSet, fmt};

use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretString};

use super::{Env, EnvError, EnvSnapshot, Part, Template};
use crate::{
    jobsfile::{JobsFile, LoadError, LoadErrorKind, Loc, Needed},
    secrets::{SecretError, SecretProvider},
};

/// The values of `${NOW}`, `${JOB_NAME}` and `${RUN_ID}` for one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Builtins {
    /// The occurrence's scheduled instant (not the time the request is sent), so
    /// retries of one run send the same `${NOW}`.
    pub scheduled_at: Timestamp,
    pub job_name: String,
    pub run_id: String,
}

impl Builtins {
    fn value(&self, b: super::Builtin) -> String {
        match b {
            // jiff writes RFC 3339 in UTC with a `Z`, e.g. `2026-03-29T01:30:00Z`.
            super::Builtin::Now => self.scheduled_at.to_string(),
            super::Builtin::JobName => self.job_name.clone(),
            super::Builtin::RunId => self.run_id.clone(),
        }
    }
}

/// A template could not be resolved. Never contains a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// Set at load, unset now (the environment or env file changed since).
    #[error("variable `{name}` is not set; set it in the environment or the env file")]
    UnsetVariable { name: String },
    #[error(transparent)]
    Env(#[from] EnvError),
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// A resolved header value holds a line break or control character.
    #[error("header `{header}` would contain a line break or control character after substitution")]
    InvalidHeaderValue { header: String },
    /// A value substituted into the URL's path makes a whole `.` or `..` segment, which URL
    /// parsing would resolve (`/v1/${ID}/x` with `ID=..` would call `/x`): nothing is sent.
    #[error(
        "the value of `{name}` would make a `.` or `..` segment of the URL's path, which would \
         change the path the file wrote; it is refused and nothing is sent"
    )]
    DotSegmentInPath { name: String },
}

/// A resolved value and the secret values used to build it.
pub struct Resolved {
    value: String,
    secrets: Vec<SecretString>,
}

impl Resolved {
    /// The resolved text. It may contain secrets: never log it unredacted.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// Every value substituted from the environment or a secret provider.
    pub fn secrets(&self) -> &[SecretString] {
        &self.secrets
    }

    pub fn into_parts(self) -> (String, Vec<SecretString>) {
        (self.value, self.secrets)
    }
}

impl fmt::Debug for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolved")
            .field("value", &"[REDACTED]")
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

/// How substituted values are written into the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// As is (headers, body strings).
    Raw,
    /// Percent-encoded for their place in a URL, so a value cannot change the URL's
    /// structure (add a segment, a query or a fragment, climb with `..`, or escape the
    /// host): in the path a value stays within one segment (`/` is encoded).
    Url,
}

/// Resolves `t` now: reads the env file again and asks `secrets` for `secret://` values.
pub fn resolve(
    t: &Template,
    env: &Env,
    builtins: &Builtins,
    secrets: &dyn SecretProvider,
) -> Result<Resolved, ResolveError> {
    let snapshot = env.snapshot()?;
    resolve_with(t, &snapshot, builtins, secrets, Encoding::Raw)
}

/// [`resolve`] against an existing snapshot (one env-file read for a whole request).
pub(crate) fn resolve_with(
    t: &Template,
    env: &EnvSnapshot<'_>,
    builtins: &Builtins,
    secrets: &dyn SecretProvider,
    encoding: Encoding,
) -> Result<Resolved, ResolveError> {
    if let Some(name) = t.secret_ref() {
        let secret = secrets.get(name)?;
        return Ok(Resolved {
            value: secret.expose_secret().to_owned(),
            secrets: vec![secret],
        });
    }
    let mut value = String::new();
    let mut used = Vec::new();
    let mut in_query = false;
    // Where each value substituted into the path landed, and its name.
    let mut in_path: Vec<(usize, &str)> = Vec::new();
    for part in t.parts() {
        let substituted = match part {
            Part::Literal(text) => {
                in_query |= text.contains(['?', '#']);
                value.push_str(text);
                continue;
            }
            Part::Builtin(b) => builtins.value(*b),
            Part::Var(name) => {
                let v = env
                    .get(name)?
                    .ok_or_else(|| ResolveError::UnsetVariable { name: name.clone() })?;
                let text = v.expose_secret().to_owned();
                used.push(v);
                text
            }
        };
        match encoding {
            Encoding::Raw => value.push_str(&substituted),
            Encoding::Url => {
                if !in_query {
                    let name = match part {
                        Part::Var(name) => name.as_str(),
                        Part::Builtin(b) => b.name(),
                        Part::Literal(_) => "",
                    };
                    in_path.push((value.len(), name));
                }
                value.push_str(&encode_url_value(&substituted, in_query));
            }
        }
    }
    if let Some((_, name)) = in_path
        .iter()
        .find(|(at, _)| is_dot_segment(segment_at(&value, *at)))
    {
        return Err(ResolveError::DotSegmentInPath {
            name: (*name).to_owned(),
        });
    }
    Ok(Resolved {
        value,
        secrets: used,
    })
}

/// The path segment of `url` that holds byte `at` (between the `/`s around it; the path ends
/// at `?` or `#`).
fn segment_at(url: &str, at: usize) -> &str {
    let start = url[..at].rfind('/').map_or(0, |i| i + 1);
    let end = url[at..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| at + i);
    &url[start..end]
}

/// Whether URL parsing treats `segment` as `.` or `..` (WHATWG: `%2e` counts as a dot, so
/// encoding the dots would not help).
fn is_dot_segment(segment: &str) -> bool {
    let lower = segment.to_ascii_lowercase();
    let dots = lower.replace("%2e", ".");
    dots == "." || dots == ".."
}

/// Percent-encodes everything but unreserved characters and the sub-delimiters that
/// are harmless at this place. In the path a value stays one segment: `/`, `?`, `#`, `%`
/// and `\` (a separator too in `http` URLs) are encoded, `:` `@` `&` `=` `+` stay. In the
/// query `&`, `=`, `+` and `#` are encoded so a value stays one parameter value.
pub(crate) fn encode_url_value(value: &str, in_query: bool) -> String {
    let keep = |b: u8| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b','
                    | b';'
                    | b':'
                    | b'@'
            )
            || (!in_query && matches!(b, b'&' | b'=' | b'+'))
            || (in_query && matches!(b, b'?' | b'/'))
    };
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Every `${VAR}` of every job must be set, in the process environment or the env file.
///
/// One error per (job, variable, field), naming the variable and the job, located where
/// the reference is written. An unreadable env file is one error.
pub fn check_env(file: &JobsFile, env: &Env) -> Vec<LoadError> {
    let name = file.file_name();
    let snapshot = match env.snapshot() {
        Ok(s) => s,
        Err(e) => {
            return vec![LoadError::new(
                name,
                Loc::default(),
                "",
                LoadErrorKind::EnvFile,
                e.to_string(),
            )];
        }
    };
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for job in file.jobs() {
        for r in job.references() {
            let Needed::Var(var) = &r.needed else {
                continue;
            };
            if !seen.insert((job.index(), var, &r.field)) {
                continue;
            }
            let (kind, message) = match snapshot.get(var) {
                Ok(Some(_)) => continue,
                Ok(None) => (
                    LoadErrorKind::UnsetVariable,
                    format!(
                        "variable `{var}` used by job `{}` is not set; set it in the environment or in the env file (.env or --env-file)",
                        job.name()
                    ),
                ),
                Err(e) => (LoadErrorKind::EnvFile, e.to_string()),
            };
            errors.push(LoadError::new(name, r.loc, &r.field, kind, message));
        }
    }
    errors
}

/// Every `secret://NAME` of every job must be known to `secrets` now. Optional at load
/// (`warden check` uses it); secrets are read again at each run anyway.
pub fn check_secrets(file: &JobsFile, secrets: &dyn SecretProvider) -> Vec<LoadError> {
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for job in file.jobs() {
        for r in job.references() {
            let Needed::Secret(secret) = &r.needed else {
                continue;
            };
            if !seen.insert((job.index(), secret)) {
                continue;
            }
            if let Err(e) = secrets.get(secret) {
                let message = format!("{e} (used by job `{}`)", job.name());
                errors.push(LoadError::new(
                    file.file_name(),
                    r.loc,
                    &r.field,
                    LoadErrorKind::UnknownSecret,
                    message,
                ));
            }
        }
    }
    errors
}
