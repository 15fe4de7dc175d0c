//! `warden check jobs.yaml`: validates a jobs file as `serve --jobs` would load it and
//! prints each job with its next three fire times; every error is listed, and the exit
//! status is non-zero when there is any.

use anyhow::{Context, bail};
use jiff::Timestamp;
use warden_exec::{
    ChainSecrets, DirSecrets, EnvSecrets,
    check::check_file,
    egress::{AllowRule, EgressPolicy},
    template::Env,
};

use crate::cli::{CheckArgs, EgressArgs};

/// The egress policy the flags describe.
pub(crate) fn egress_policy(args: &EgressArgs) -> anyhow::Result<EgressPolicy> {
    let allow = args
        .egress_allow
        .iter()
        .map(|r| {
            r.trim().parse::<AllowRule>().map_err(|e| {
                anyhow::anyhow!("invalid `--egress-allow` {r:?}: {e}; expected a CIDR such as 10.0.0.0/8 or a host name")
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok(EgressPolicy {
        allow,
        https_only: args.egress_https_only,
    })
}

pub(crate) async fn run(args: CheckArgs) -> anyhow::Result<()> {
    let policy = egress_policy(&args.egress)?;
    let cwd = std::env::current_dir().context("no working directory")?;
    let env = Env::discover(args.env_file.as_deref(), &cwd);
    let secrets = ChainSecrets::new()
        .with(EnvSecrets::new(env.clone()))
        .with(DirSecrets::new(args.secrets_dir.clone()));
    let path = args.file.clone();
    let report = tokio::task::spawn_blocking(move || check_file(&path, &env, &secrets, &policy))
        .await
        .context("the check stopped unexpectedly")?;
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if !report.errors.is_empty() || report.file.is_none() {
        for e in &report.errors {
            eprintln!("{e}");
        }
        let n = report.errors.len();
        bail!(
            "{} has {n} error{}",
            args.file.display(),
            if n == 1 { "" } else { "s" }
        );
    }
    let file = report.file.expect("checked above");
    let now = Timestamp::now();
    println!(
        "{}: {} jobs, all valid",
        args.file.display(),
        file.jobs().len()
    );
    for job in file.jobs() {
        let cron = job.schedule();
        let state = if job.enabled() { "" } else { "  (disabled)" };
        println!(
            "\n{}  {} {}  \"{}\" {}{state}",
            job.name(),
            job.method().as_str(),
            job.url(),
            cron.expr(),
            cron.tz_name()
        );
        for t in cron.upcoming(now, 3) {
            let local = t.to_zoned(cron.time_zone().clone());
            println!(
                "  next: {}  ({} UTC)",
                local.strftime("%Y-%m-%d %H:%M:%S %Z"),
                t.strftime("%Y-%m-%d %H:%M:%S")
            );
        }
    }
    Ok(())
}
