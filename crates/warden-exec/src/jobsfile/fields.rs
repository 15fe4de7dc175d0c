//! Field checks for one job: each turns a located node into a value or records errors.
//! URL and header checks are in [`super::http`], `data` in [`super::data`].

use std::fmt;

use warden_core::{CronSpec, DstPolicy, JobTimeout};

use super::{
    LoadErrorKind, MAX_RETRIES, Needed, Reference,
    checker::{Checker, join},
    node::{Loc, Node, SNode},
};
use crate::template::Template;

/// The HTTP methods a job may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
}

impl Method {
    pub const ALL: [Method; 6] = [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Head,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
        }
    }

    /// GET and HEAD send `data` as query parameters; the others as a JSON body.
    pub fn data_is_query(self) -> bool {
        matches!(self, Method::Get | Method::Head)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const MAX_NAME_CHARS: usize = 128;
const MAX_DESCRIPTION_CHARS: usize = 4096;
const MAX_TIMEOUT_MS: i128 = 86_400_000;

pub(super) fn name(c: &mut Checker<'_>, node: &SNode, field: &str) -> Option<String> {
    let s = c.string(node, field)?;
    let problem = if s.trim().is_empty() {
        Some("is empty".to_owned())
    } else if s.chars().count() > MAX_NAME_CHARS {
        Some(format!("is longer than {MAX_NAME_CHARS} characters"))
    } else if s.chars().any(char::is_control) {
        Some("contains a control character".to_owned())
    } else if s.trim() != s {
        Some("starts or ends with white space".to_owned())
    } else {
        None
    };
    match problem {
        Some(p) => {
            c.invalid(
                node,
                field,
                format!(
                    "the job name {p}; expected 1 to {MAX_NAME_CHARS} characters, e.g. `data-sync`"
                ),
            );
            None
        }
        None => Some(s.to_owned()),
    }
}

pub(super) fn method(c: &mut Checker<'_>, node: &SNode, field: &str) -> Option<Method> {
    let s = c.string(node, field)?;
    let found = Method::ALL.into_iter().find(|m| m.as_str() == s);
    if found.is_none() {
        let hint = Method::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
            .map(|m| format!(" (write `{m}` in capitals)"))
            .unwrap_or_default();
        c.invalid(
            node,
            field,
            format!("{} is not an accepted method{hint}; expected GET, POST, PUT, PATCH, DELETE or HEAD", short(s)),
        );
    }
    found
}

pub(super) fn schedule(
    c: &mut Checker<'_>,
    node: &SNode,
    tz_node: Option<&SNode>,
    dst: DstPolicy,
    path: &str,
) -> Option<CronSpec> {
    let (sched_field, tz_field) = (join(path, "schedule"), join(path, "timezone"));
    let expr = c.string(node, &sched_field);
    let tz = match tz_node {
        None => Some("UTC"),
        Some(n) => c.string(n, &tz_field).and_then(|tz| {
            if jiff::tz::TimeZone::get(tz).is_ok() {
                Some(tz)
            } else {
                c.invalid(n, &tz_field, format!("{} is not a known IANA time zone; expected a name such as UTC, Europe/Paris or America/New_York", short(tz)));
                None
            }
        }),
    };
    let expr = expr?;
    if let Err(e) = CronSpec::parse(expr, "UTC", dst) {
        c.invalid(
            node,
            &sched_field,
            format!("{}; expected {}", e.problem, e.expected),
        );
        return None;
    }
    CronSpec::parse(expr, tz?, dst)
        .map_err(|e| {
            c.invalid(
                node,
                &sched_field,
                format!("{}; expected {}", e.problem, e.expected),
            )
        })
        .ok()
}

pub(super) fn timeout(c: &mut Checker<'_>, node: &SNode, field: &str) -> Option<JobTimeout> {
    let Node::Int(ms) = node.value else {
        c.wrong_type(node, field, "a whole number of milliseconds");
        return None;
    };
    let problem = if ms <= 0 {
        "must be positive"
    } else if ms > MAX_TIMEOUT_MS {
        "is longer than 24 hours"
    } else {
        return i64::try_from(ms)
            .ok()
            .and_then(|ms| JobTimeout::from_millis(ms).ok());
    };
    c.invalid(
        node,
        field,
        format!(
            "{ms} ms {problem}; expected 1 to {MAX_TIMEOUT_MS} milliseconds, e.g. 30000 for 30 s"
        ),
    );
    None
}

pub(super) fn retries(c: &mut Checker<'_>, node: &SNode, field: &str) -> Option<u32> {
    let n = c.int(node, field)?;
    match u32::try_from(n) {
        Ok(n) if n <= MAX_RETRIES => Some(n),
        _ => {
            c.invalid(
                node,
                field,
                format!("{n} retries is out of range; expected 0 to {MAX_RETRIES}"),
            );
            None
        }
    }
}

pub(super) fn description(c: &mut Checker<'_>, node: &SNode, field: &str) -> Option<String> {
    let s = c.string(node, field)?;
    if s.chars().count() > MAX_DESCRIPTION_CHARS {
        c.invalid(
            node,
            field,
            format!("is longer than {MAX_DESCRIPTION_CHARS} characters"),
        );
        return None;
    }
    Some(s.to_owned())
}

/// A user value inside backquotes: at most 64 characters, control characters escaped.
pub(super) fn short_plain(s: &str) -> String {
    let head: String = s.chars().take(64).flat_map(char::escape_default).collect();
    if s.chars().count() > 64 {
        format!("{head}…")
    } else {
        head
    }
}

/// A user value for an error message: quoted, escaped, at most 64 characters.
pub(super) fn short(s: &str) -> String {
    let head: String = s.chars().take(64).collect();
    if head.len() < s.len() {
        format!("{head:?}…")
    } else {
        format!("{head:?}")
    }
}

/// Parses a string node as a template. The message names the field, not the value.
pub(super) fn template(c: &mut Checker<'_>, node: &SNode, field: &str) -> Option<Template> {
    let s = c.string(node, field)?;
    Template::parse(s)
        .map_err(|e| c.err(Loc::of(node), field, LoadErrorKind::Template, e.to_string()))
        .ok()
}

/// Records what `t` needs at run time.
pub(super) fn note_references(t: &Template, field: &str, loc: Loc, out: &mut Vec<Reference>) {
    let mut add = |needed| {
        out.push(Reference {
            needed,
            field: field.to_owned(),
            loc,
        })
    };
    if let Some(name) = t.secret_ref() {
        add(Needed::Secret(name.to_owned()));
    }
    for v in t.variables() {
        add(Needed::Var(v.to_owned()));
    }
}
