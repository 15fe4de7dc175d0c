//! Integration tests: the HTTP executor and the egress guard against real servers on loopback.

mod body_cap;
mod dns;
mod errors;
mod limits;
mod outcomes;
mod props;
mod record;
mod redaction;
mod redirects;
mod resolve;
mod runner;
mod secrets;
mod seed;
mod ssrf;
mod support;
mod url_path;

use warden_exec::{LoadError, LoadErrorKind, LoadErrors, jobsfile};

/// Parses `text` as `jobs.yaml`, expecting errors.
pub(crate) fn errors_of(text: &str) -> Vec<LoadError> {
    match jobsfile::parse(text, "jobs.yaml") {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.into_vec(),
    }
}

/// The one error on `field`, checking its kind and position.
#[track_caller]
pub(crate) fn assert_error(
    errors: &[LoadError],
    field: &str,
    kind: LoadErrorKind,
    line: u32,
    column: u32,
) -> LoadError {
    let found: Vec<&LoadError> = errors.iter().filter(|e| e.field == field).collect();
    assert_eq!(
        found.len(),
        1,
        "expected one error on {field}, got {errors:#?}"
    );
    let e = found[0];
    assert_eq!(e.kind, kind, "{e}");
    assert_eq!((e.line, e.column), (line, column), "{e}");
    assert_eq!(e.file, "jobs.yaml");
    e.clone()
}

/// A valid job, indented for a `jobs:` list, to build files around.
pub(crate) const OK_JOB: &str = "  - name: ok
    schedule: \"*/5 * * * *\"
    url: \"https://example.com/\"
";

pub(crate) fn load_ok(text: &str) -> warden_exec::JobsFile {
    jobsfile::parse(text, "jobs.yaml").unwrap_or_else(|e: LoadErrors| panic!("{e}"))
}
