//! The command line. Every flag that configures a running server also reads a
//! `WARDEN_*` environment variable.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Warden: a secure job scheduler — cron, delayed and immediate jobs on named queues,
/// run durably on an embedded SQLite file or on PostgreSQL.
#[derive(Debug, Parser)]
#[command(name = "warden", version, propagate_version = true)]
pub(crate) struct Cli {
    /// Log format: `text` (readable, for a terminal) or `json` (one object per line).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "WARDEN_LOG_FORMAT")]
    pub(crate) log_format: LogFormat,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run the scheduler: the engine (cron, queues, retries, rescue) and the HTTP server
    /// (`GET /healthz`, `GET /readyz`). Applies migrations first. Stops gracefully on
    /// SIGTERM or Ctrl-C: running jobs get a grace period, the rest are released.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit (also done by `serve` at start).
    Migrate(StoreArgs),
    /// Cron tools.
    #[command(subcommand)]
    Cron(CronCommand),
    /// Measure enqueue and processing throughput and pick-up latency on a fresh,
    /// throw-away database.
    Bench(crate::commands::bench::BenchArgs),
}

impl Command {
    /// Quieter logs for one-shot tools, info for the server.
    pub(crate) fn default_log_level(&self) -> &'static str {
        match self {
            Command::Serve(_) | Command::Migrate(_) => "info",
            Command::Cron(_) | Command::Bench(_) => "warn",
        }
    }
}

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub(crate) struct StoreArgs {
    /// Directory for the embedded SQLite database (`warden.db`), used when no
    /// `--database-url` is given. Created if missing.
    #[arg(long, default_value = "./warden-data", env = "WARDEN_DATA_DIR")]
    pub(crate) data_dir: PathBuf,

    /// PostgreSQL URL (`postgres://USER@HOST:PORT/DB`): use PostgreSQL instead of SQLite,
    /// e.g. so several warden processes share the work.
    #[arg(long, env = "WARDEN_DATABASE_URL", hide_env_values = true)]
    pub(crate) database_url: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,

    /// Address of the HTTP server.
    #[arg(long, default_value = "127.0.0.1:8080", env = "WARDEN_LISTEN")]
    pub(crate) listen: SocketAddr,

    /// A queue and its concurrency, `NAME=N` (repeatable). Default: `default=10`.
    #[arg(
        long = "queue",
        value_name = "NAME=N",
        env = "WARDEN_QUEUES",
        value_delimiter = ','
    )]
    pub(crate) queues: Vec<String>,

    /// Seconds running jobs get to finish at shutdown before they are released.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub(crate) shutdown_grace: u64,
}

#[derive(Debug, Subcommand)]
pub(crate) enum CronCommand {
    /// Print the next fire times of a cron expression, in its time zone and in UTC.
    ///
    /// 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first;
    /// ranges, steps, lists, names, L, W, #, and @hourly/@daily/@weekly/@monthly/@yearly.
    /// When day-of-month and day-of-week are both restricted, either may match (Vixie cron).
    Next(CronNextArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CronNextArgs {
    /// The cron expression, quoted, e.g. "0 9 * * MON-FRI".
    pub(crate) expr: String,
    /// IANA time zone of the schedule.
    #[arg(long, default_value = "UTC")]
    pub(crate) tz: String,
    /// How many fire times to print.
    #[arg(short = 'n', long = "count", default_value_t = 5)]
    pub(crate) count: usize,
    /// A local time skipped by a spring-forward: `shift` fires at the first valid instant
    /// after the gap (default); `skip` does not fire.
    #[arg(long, default_value = "shift")]
    pub(crate) dst_gap: String,
    /// A local time repeated by a fall-back fires at its `first` occurrence (default),
    /// its `last`, or `both`.
    #[arg(long, default_value = "first")]
    pub(crate) dst_fold: String,
    /// Start after this instant (RFC 3339) instead of now.
    #[arg(long)]
    pub(crate) after: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
