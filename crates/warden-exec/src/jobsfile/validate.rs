//! Pass 2: walks the located tree, builds [`JobsFile`] and records every problem.
//!
//! Each check records its error and returns `None`; the walk goes on with the next key,
//! and a job is only built when none of its checks failed.

use std::collections::HashMap;

use warden_core::{DstPolicy, JobTimeout, QueueName};

use super::{
    DEFAULT_TIMEOUT, HttpJob, JobsFile, LoadErrorKind, LoadErrors, MAX_JOBS,
    checker::{Checker, join},
    fields, http,
    http::LocatedHeader,
    node::{Loc, Node, SNode},
};

/// What `global` gives every job.
#[derive(Debug, Default)]
pub(super) struct Defaults {
    pub(super) timeout: Option<JobTimeout>,
    pub(super) retries: Option<u32>,
    pub(super) headers: Vec<LocatedHeader>,
}

const TOP_KEYS: &[&str] = &["global", "jobs"];
const GLOBAL_KEYS: &[&str] = &["defaultTimeout", "defaultRetries", "defaultHeaders"];
const JOB_KEYS: &[&str] = &[
    "name",
    "schedule",
    "timezone",
    "url",
    "method",
    "headers",
    "data",
    "timeout",
    "retries",
    "enabled",
    "description",
    "queue",
    "priority",
    "overlap",
    "missed",
    "dst",
];
const DST_KEYS: &[&str] = &["gap", "fold"];

/// Validates the whole tree.
pub(super) fn file(tree: &SNode, file: &str) -> Result<JobsFile, LoadErrors> {
    let mut c = Checker::new(file);
    let jobs = top(&mut c, tree);
    match LoadErrors::new(c.into_errors()) {
        Some(errors) => Err(errors),
        None => Ok(JobsFile {
            file: file.to_owned(),
            jobs: jobs.unwrap_or_default(),
        }),
    }
}

fn top(c: &mut Checker<'_>, tree: &SNode) -> Option<Vec<HttpJob>> {
    if tree.value == Node::Null {
        c.err(
            Loc::of(tree),
            "",
            LoadErrorKind::MissingField,
            "the file is empty; expected a mapping with a `jobs` list",
        );
        return None;
    }
    let entries = c.map(tree, "")?;
    let keys = c.keys(entries, "", TOP_KEYS);
    let defaults = match keys.get("global") {
        Some(node) if node.value != Node::Null => global(c, node),
        _ => Some(Defaults::default()),
    };
    let Some(jobs_node) = keys.get("jobs") else {
        c.err(
            Loc::of(tree),
            "jobs",
            LoadErrorKind::MissingField,
            "missing key `jobs`; expected a list of jobs",
        );
        return None;
    };
    let Node::Seq(items) = &jobs_node.value else {
        c.wrong_type(jobs_node, "jobs", "a list of jobs");
        return None;
    };
    if items.len() > MAX_JOBS {
        c.invalid(
            jobs_node,
            "jobs",
            format!("{} jobs; at most {MAX_JOBS} are accepted", items.len()),
        );
        return None;
    }
    // Build every job even when the defaults are broken, so their own errors show too.
    let fallback = Defaults::default();
    let defaults_ref = defaults.as_ref().unwrap_or(&fallback);
    duplicate_names(c, items);
    let jobs: Vec<HttpJob> = items
        .iter()
        .enumerate()
        .filter_map(|(index, item)| job(c, item, index, defaults_ref))
        .collect();
    defaults.map(|_| jobs)
}

fn global(c: &mut Checker<'_>, node: &SNode) -> Option<Defaults> {
    let entries = c.map(node, "global")?;
    let keys = c.keys(entries, "global", GLOBAL_KEYS);
    let mut ok = true;
    let mut d = Defaults::default();
    if let Some(n) = keys.get("defaultTimeout") {
        d.timeout = fields::timeout(c, n, "global.defaultTimeout");
        ok &= d.timeout.is_some();
    }
    if let Some(n) = keys.get("defaultRetries") {
        d.retries = fields::retries(c, n, "global.defaultRetries");
        ok &= d.retries.is_some();
    }
    if let Some(n) = keys.get("defaultHeaders") {
        match http::headers(c, n, "global.defaultHeaders") {
            Some(h) => d.headers = h,
            None => ok = false,
        }
    }
    ok.then_some(d)
}

/// Reports every job whose `name` repeats an earlier one, at the repeated name, whether
/// or not the jobs are otherwise valid.
fn duplicate_names(c: &mut Checker<'_>, items: &[SNode]) {
    let mut first_at: HashMap<&str, Loc> = HashMap::new();
    for (index, item) in items.iter().enumerate() {
        let Node::Map(entries) = &item.value else {
            continue;
        };
        let Some((_, name)) = entries.iter().find(|(k, _)| k.value == "name") else {
            continue;
        };
        let Node::Str(text) = &name.value else {
            continue;
        };
        match first_at.get(text.as_str()) {
            Some(first) => {
                let message = format!(
                    "duplicate job name `{}` (first used at line {}); job names must be unique",
                    super::fields::short_plain(text),
                    first.line
                );
                c.err(
                    Loc::of(name),
                    &format!("jobs[{index}].name"),
                    LoadErrorKind::DuplicateName,
                    message,
                );
            }
            None => {
                first_at.insert(text, Loc::of(name));
            }
        }
    }
}

fn job(c: &mut Checker<'_>, node: &SNode, index: usize, defaults: &Defaults) -> Option<HttpJob> {
    let path = format!("jobs[{index}]");
    let entries = c.map(node, &path)?;
    let keys = c.keys(entries, &path, JOB_KEYS);
    let before = c.error_count();
    let f = |key: &str| join(&path, key);
    let loc = Loc::of(node);
    let require = |c: &mut Checker<'_>, key: &str, what: &str| {
        let found = keys.get(key).copied();
        if found.is_none() {
            c.err(
                loc,
                &f(key),
                LoadErrorKind::MissingField,
                format!("missing key `{key}`; expected {what}"),
            );
        }
        found
    };
    let name_node = require(c, "name", "the job's unique name");
    let schedule_node = require(c, "schedule", "a cron expression such as \"*/5 * * * *\"");
    let url_node = require(c, "url", "an http:// or https:// URL");

    let name = name_node.and_then(|n| fields::name(c, n, &f("name")));
    let mut references = Vec::new();
    let method = match keys.get("method") {
        Some(n) => fields::method(c, n, &f("method")),
        None => Some(super::Method::Get),
    };
    let url = url_node.and_then(|n| http::url(c, n, &f("url"), &mut references));
    let dst = match keys.get("dst") {
        Some(n) => dst(c, n, &f("dst")),
        None => Some(DstPolicy::default()),
    };
    let schedule = schedule_node
        .and_then(|n| fields::schedule(c, n, keys.get("timezone").copied(), dst?, &path));
    let own_headers = match keys.get("headers") {
        Some(n) => http::headers(c, n, &f("headers")),
        None => Some(Vec::new()),
    };
    let headers = own_headers
        .and_then(|own| http::merge_headers(c, own, defaults, node, &path, &mut references));
    let data = match (keys.get("data"), method) {
        (Some(n), Some(m)) => super::data::data(c, n, &f("data"), m, &mut references),
        _ => None,
    };
    let mut timeout = defaults.timeout;
    let mut retries = defaults.retries;
    let mut enabled = true;
    let mut description = None;
    let mut queue = QueueName::default_queue();
    let mut priority = Default::default();
    let mut overlap = Default::default();
    let mut missed = Default::default();
    if let Some(n) = keys.get("timeout") {
        timeout = fields::timeout(c, n, &f("timeout"));
    }
    if let Some(n) = keys.get("retries") {
        retries = fields::retries(c, n, &f("retries"));
    }
    if let Some(n) = keys.get("enabled") {
        enabled = c.bool(n, &f("enabled")).unwrap_or(true);
    }
    if let Some(n) = keys.get("description") {
        description = fields::description(c, n, &f("description"));
    }
    if let Some(n) = keys.get("queue") {
        queue = c.parsed(n, &f("queue"), QueueName::parse).unwrap_or(queue);
    }
    if let Some(n) = keys.get("priority") {
        priority = c.parsed(n, &f("priority"), str::parse).unwrap_or(priority);
    }
    if let Some(n) = keys.get("overlap") {
        overlap = c.parsed(n, &f("overlap"), str::parse).unwrap_or(overlap);
    }
    if let Some(n) = keys.get("missed") {
        missed = c.parsed(n, &f("missed"), str::parse).unwrap_or(missed);
    }
    if c.error_count() != before {
        // The name as written, even when it is itself refused.
        if let Some(Node::Str(written)) = name_node.map(|n| &n.value) {
            c.name_job_since(before, &fields::short_plain(written));
        }
        return None;
    }
    let timeout = timeout.unwrap_or(JobTimeout::new(DEFAULT_TIMEOUT).ok()?);
    Some(HttpJob {
        name: name?,
        index,
        loc,
        schedule: schedule?,
        url: url?,
        url_loc: url_node.map(Loc::of)?,
        method: method?,
        headers: headers?,
        data,
        timeout,
        retries: retries.unwrap_or(0),
        enabled,
        description,
        queue,
        priority,
        overlap,
        missed,
        references,
    })
}

fn dst(c: &mut Checker<'_>, node: &SNode, path: &str) -> Option<DstPolicy> {
    let entries = c.map(node, path)?;
    let keys = c.keys(entries, path, DST_KEYS);
    let mut policy = DstPolicy::default();
    let mut ok = true;
    if let Some(n) = keys.get("gap") {
        match c.parsed(n, &join(path, "gap"), str::parse) {
            Some(g) => policy.gap = g,
            None => ok = false,
        }
    }
    if let Some(n) = keys.get("fold") {
        match c.parsed(n, &join(path, "fold"), str::parse) {
            Some(fo) => policy.fold = fo,
            None => ok = false,
        }
    }
    ok.then_some(policy)
}
