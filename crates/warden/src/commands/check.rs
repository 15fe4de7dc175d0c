//! `warden check jobs.yaml`: validates a jobs file as `serve --jobs` would load it and
//! prints each job with its next three fire times; every error is listed, and the exit
//! status is non-zero when there is any.

use anyhow::bail;
use jiff::Timestamp;

use crate::{cli::CheckArgs, jobs_file::JobsSource};

pub(crate) async fn run(args: CheckArgs) -> anyhow::Result<()> {
    let source = JobsSource::new(args.file.clone(), &args.run)?;
    let report = source.check().await?;
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
