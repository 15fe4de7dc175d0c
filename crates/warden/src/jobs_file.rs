//! The `jobs.yaml` side of `serve --jobs` and `warden check`: where the file, its
//! environment, its secrets and the egress policy come from; checking a file; and, for
//! `serve`, running its calls and following the file as it changes.

use std::{path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use warden_core::{AuditAction, AuditOutcome};
use warden_engine::{JobContext, Registry, Reported, Scheduler};
use warden_exec::{
    ChainSecrets, DirSecrets, EnvSecrets,
    check::{CheckReport, check_file},
    egress::{AllowRule, EgressPolicy},
    http::{HttpClient, HttpOptions},
    runner::{HttpRunner, RunInfo},
    template::Env,
};
use warden_store::{AuditRecord, Store};

use crate::{
    cli::{EgressArgs, JobsRunArgs},
    config_jobs::{self, HTTP_JOB_TYPE},
};

/// The egress policy the flags describe.
pub(crate) fn egress_policy(args: &EgressArgs) -> anyhow::Result<EgressPolicy> {
    let allow = args
        .egress_allow
        .iter()
        .map(|r| {
            r.trim().parse::<AllowRule>().map_err(|e| {
                anyhow::anyhow!("invalid `--egress-allow` (or `WARDEN_EGRESS_ALLOW`) entry: {e}")
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(EgressPolicy {
        allow,
        https_only: args.egress_https_only,
    })
}

/// A jobs file with the environment, secrets and egress policy its jobs run under.
#[derive(Clone)]
pub(crate) struct JobsSource {
    pub(crate) path: PathBuf,
    pub(crate) env: Env,
    pub(crate) secrets: Arc<ChainSecrets>,
    pub(crate) policy: EgressPolicy,
}

impl JobsSource {
    pub(crate) fn new(path: PathBuf, run: &JobsRunArgs) -> anyhow::Result<Self> {
        let cwd = std::env::current_dir().context("no working directory")?;
        let env = Env::discover(run.env_file.as_deref(), &cwd);
        let secrets = ChainSecrets::new()
            .with(EnvSecrets::new(env.clone()))
            .with(DirSecrets::new(run.secrets_dir.clone()));
        Ok(Self {
            path,
            env,
            secrets: Arc::new(secrets),
            policy: egress_policy(&run.egress)?,
        })
    }

    /// Checks the file as it is now (off the async threads: it reads files and DNS).
    pub(crate) async fn check(&self) -> anyhow::Result<CheckReport> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            check_file(&me.path, &me.env, me.secrets.as_ref(), &me.policy)
        })
        .await
        .context("checking the jobs file stopped unexpectedly")
    }
}

// A run record larger than the engine keeps would be dropped whole: the runner cuts its records
// to its own limit, which must not be over the engine's.
const _: () = assert!(warden_exec::runner::MAX_RECORD_BYTES <= warden_engine::MAX_OUTPUT_BYTES);

/// The payload of a `warden.http` job: which job of the file to run.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpJobPayload {
    job: String,
}

/// Registers `warden.http` (internal: only the jobs-file sync creates its schedules, and an
/// admin runs one now by triggering its schedule), run by `runner` against the current file. Each run's redacted
/// record (status, headers of interest, duration, body excerpt) is kept as the run's output;
/// a call refused by the egress policy is also written to the audit trail.
pub(crate) fn register_http<S: Store>(
    registry: &mut Registry,
    runner: HttpRunner,
    store: Arc<S>,
) -> anyhow::Result<()> {
    registry.register_internal(HTTP_JOB_TYPE, move |ctx: JobContext, p: HttpJobPayload| {
        let runner = runner.clone();
        let store = Arc::clone(&store);
        async move {
            let run = RunInfo {
                // The occurrence's instant, not this attempt's: retries send the same `${NOW}`.
                scheduled_at: ctx.scheduled_at,
                run_id: format!("{}.{}", ctx.id, ctx.attempt),
            };
            let result = runner.run(&p.job, run).await;
            if let Some(message) = egress_refusal(&result.record) {
                audit_egress_refusal(&*store, &ctx, message).await;
            }
            Reported {
                outcome: result.outcome,
                output: result.record,
            }
        }
    })?;
    Ok(())
}

/// The (redacted) message of a run refused by the egress policy, if it was.
fn egress_refusal(record: &serde_json::Value) -> Option<&str> {
    let error = record.get("error")?;
    (error.get("kind")?.as_str()? == "egress").then(|| error.get("message")?.as_str())?
}

/// Records a refused call in the audit trail; a failure to write it is logged, and the run's
/// own record still says why it failed.
async fn audit_egress_refusal<S: Store>(store: &S, ctx: &JobContext, message: &str) {
    let record = AuditRecord {
        at: jiff::Timestamp::now(),
        principal_id: Some(ctx.owner.clone()),
        key_id: None,
        action: AuditAction::EgressRefused,
        target: Some(ctx.id.to_string()),
        outcome: AuditOutcome::Denied,
        client_ip: None,
        user_agent: None,
        request_id: None,
        client_request_id: None,
        // The runner's message names the job, the refused address and the rule.
        detail: Some(message.to_owned()),
    };
    if let Err(e) = store.audit_insert_many(vec![record]).await {
        tracing::warn!(error = %e, job.id = %ctx.id, "could not write the egress refusal to the audit trail");
    }
}

/// A runner for the checked `file` of `source`.
pub(crate) fn runner(
    source: &JobsSource,
    file: warden_exec::JobsFile,
) -> anyhow::Result<HttpRunner> {
    let client = HttpClient::new(source.policy.clone(), HttpOptions::default())
        .context("could not build the HTTP client")?;
    Ok(HttpRunner::new(
        file,
        source.env.clone(),
        source.secrets.clone(),
        client,
    ))
}

/// Logs what a sync changed.
pub(crate) fn log_sync(report: &config_jobs::SyncReport) {
    tracing::info!(
        added = ?report.added,
        changed = ?report.changed,
        disabled = ?report.disabled,
        unchanged = report.unchanged,
        "jobs file synced into schedules"
    );
    if !report.quarantined.is_empty() {
        tracing::warn!(
            schedule.ids = ?report.quarantined,
            "paused warden.http schedules owned by another principal than `config`: only the jobs file may schedule its calls (delete them once reviewed)"
        );
    }
}

/// Follows the file: on SIGHUP, or when its modification time changes (checked every
/// 2 s), checks it again; a valid file replaces the running one and is synced, an
/// invalid one is logged error by error and the previous one keeps running.
pub(crate) async fn follow<S: Store>(
    source: JobsSource,
    runner: HttpRunner,
    scheduler: Scheduler<S>,
    stop: CancellationToken,
) {
    let modified = || {
        std::fs::metadata(&source.path)
            .and_then(|m| m.modified())
            .ok()
    };
    let mut seen = modified();
    #[cfg(unix)]
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
    loop {
        #[cfg(unix)]
        let hangup = async {
            match hup.as_mut() {
                Some(h) => {
                    h.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let hangup = std::future::pending::<()>();
        let reason = tokio::select! {
            _ = stop.cancelled() => return,
            _ = hangup => "SIGHUP",
            _ = tokio::time::sleep(Duration::from_secs(2)) => {
                let now = modified();
                if now == seen { continue; }
                seen = now;
                "the file changed"
            }
        };
        tracing::info!(file = %source.path.display(), reason, "reloading the jobs file");
        let report = match source.check().await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, "reloading the jobs file failed; the previous one keeps running");
                continue;
            }
        };
        for w in &report.warnings {
            tracing::warn!(warning = %w, "jobs file");
        }
        if !report.is_ok() {
            for e in &report.errors {
                tracing::error!(error = %e, "invalid jobs file");
            }
            tracing::error!(
                errors = report.errors.len(),
                "the new jobs file is invalid; the previous one keeps running"
            );
            continue;
        }
        let file = report.file.expect("a valid report has its file");
        runner.replace(file.clone());
        match config_jobs::sync(&scheduler, &file).await {
            Ok(r) => log_sync(&r),
            Err(e) => tracing::error!(error = %e, "syncing the jobs file failed"),
        }
    }
}
