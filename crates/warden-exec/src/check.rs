//! Checking a jobs file as a whole before it is used: syntax and fields (the loader),
//! every `${VAR}` set, every `secret://` readable, and every URL within the egress policy.
//! All problems are collected, not just the first. Used by `warden check` and by `serve`
//! before it swaps in a new file.

use std::{net::ToSocketAddrs, path::Path};

use url::{Host, Url};

use crate::{
    JobsFile,
    egress::EgressPolicy,
    secrets::SecretProvider,
    template::{Env, check_env, check_secrets},
};

/// What checking a file found.
#[derive(Debug)]
pub struct CheckReport {
    /// The file, when it loaded (it may still have errors below).
    pub file: Option<JobsFile>,
    /// Problems that make the file unusable, each `file:line:col: field: message`.
    pub errors: Vec<String>,
    /// Things that could not be checked here (e.g. a host name that does not resolve
    /// from this machine); the file is usable.
    pub warnings: Vec<String>,
}

impl CheckReport {
    pub fn is_ok(&self) -> bool {
        self.file.is_some() && self.errors.is_empty()
    }
}

/// Checks the file at `path`. Host names are resolved (blocking DNS, so call it off the
/// async runtime's threads, e.g. in `spawn_blocking`).
pub fn check_file(
    path: &Path,
    env: &Env,
    secrets: &dyn SecretProvider,
    policy: &EgressPolicy,
) -> CheckReport {
    let file = match crate::load(path) {
        Ok(f) => f,
        Err(errors) => {
            return CheckReport {
                file: None,
                errors: errors.iter().map(ToString::to_string).collect(),
                warnings: Vec::new(),
            };
        }
    };
    let mut errors: Vec<String> = check_env(&file, env)
        .into_iter()
        .chain(check_secrets(&file, secrets))
        .map(|e| e.to_string())
        .collect();
    let mut warnings = Vec::new();
    for job in file.jobs() {
        let at = format!(
            "{}:{}:{}: jobs[{}].url",
            file.file_name(),
            job.url_loc().line,
            job.url_loc().column,
            job.index()
        );
        // Scheme and host are literal in a job's URL (only the path and query may hold
        // references), so the source text parses to the host that will be called.
        let Ok(url) = Url::parse(&job.url().to_string()) else {
            continue; // The loader has reported it.
        };
        if let Err(e) = policy.check_url(&url) {
            errors.push(format!("{at}: {e} (job `{}`)", job.name()));
            continue;
        }
        let Some(Host::Domain(host)) = url.host() else {
            continue;
        };
        if policy.allows_host(host) {
            continue;
        }
        let port = url.port_or_known_default().unwrap_or(443);
        match (host, port).to_socket_addrs() {
            Ok(addrs) => {
                if let Err(e) = policy.filter_resolved(host, addrs) {
                    errors.push(format!("{at}: {e} (job `{}`)", job.name()));
                }
            }
            Err(e) => warnings.push(format!(
                "{at}: {host} does not resolve from here ({e}); it is checked again at every call (job `{}`)",
                job.name()
            )),
        }
    }
    CheckReport {
        file: Some(file),
        errors,
        warnings,
    }
}
