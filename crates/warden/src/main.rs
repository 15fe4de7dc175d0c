//! `warden`: the one binary — a secure job scheduler.
//!
//! # Layout
//! - `cli`: the command line (clap), with `--help` for every subcommand.
//! - `commands/*`: one file per subcommand (`serve`, `migrate`, `keys`, `check`, `cron next`, `bench`,
//!   and `client`: `jobs` and `schedules` through a running server's API).
//! - `config_jobs`: jobs from `jobs.yaml` synced into schedules owned by `config`.
//! - `jobs_file`: the jobs file's environment, secrets and egress policy; running its
//!   calls (`warden.http`) and following the file as it changes.
//! - `secret`: the server secret API keys are hashed with.
//! - `app`: `Application::build` (store, engine, HTTP listener) and `run_until_stopped`.
//! - `telemetry`: structured logs (readable or JSON).

mod app;
mod cli;
mod commands;
mod config_jobs;
mod jobs_file;
mod secret;
mod telemetry;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format, cli.command.default_log_level());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => commands::serve::run(*args).await,
            Command::Migrate(args) => commands::migrate::run(args).await,
            Command::Cron(cli::CronCommand::Next(args)) => commands::cron_next::run(args),
            Command::Bench(args) => commands::bench::run(args).await,
            Command::Keys(command) => commands::keys::run(command).await,
            Command::Check(args) => commands::check::run(args).await,
            Command::Jobs(command) => commands::client::run_jobs(command).await,
            Command::Schedules(command) => commands::client::run_schedules(command).await,
            Command::Status(args) => commands::status::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Already reported on stdout; the distinct status tells a probe "late", not "broken".
        Err(e) if e.is::<commands::status::Late>() => ExitCode::from(2),
        Err(e) => {
            // `{:#}` prints the whole context chain on one line: what failed and why.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
