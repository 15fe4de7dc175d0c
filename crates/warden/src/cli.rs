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
    /// (the authenticated REST API under /api/v1, `POST /api/jobs/schedule`, the public
    /// probes `GET /healthz`, `GET /readyz`, `/cron/run` when `CRON_TOKEN` is set and
    /// `/metrics` when `METRICS_TOKEN` or `--metrics-listen` is set). Applies migrations first. Stops gracefully
    /// on SIGTERM or Ctrl-C: running jobs get a grace period, the rest are released.
    #[command(after_help = SERVE_ENV_HELP)]
    Serve(Box<ServeArgs>),
    /// Manage API keys directly on the database (works without a running server, so an
    /// operator can make the first admin key). A key is shown once, when made.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Check a `jobs.yaml` file: syntax and fields (with file, line and column), cron
    /// expressions and time zones, every `${VAR}` set (environment, `--env-file`, `.env`),
    /// every `secret://` readable, every URL within the egress policy. Lists every error
    /// and exits non-zero if there is any; otherwise prints each job with its next three
    /// fire times.
    Check(CheckArgs),
    /// Jobs on a running server, through its API (`--url`, `--api-key`).
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Schedules on a running server, through its API (`--url`, `--api-key`).
    #[command(subcommand)]
    Schedules(SchedulesCommand),
    /// Apply pending database migrations and exit (also done by `serve` at start).
    Migrate(StoreArgs),
    /// Cron tools: `warden cron next "<expr>"` prints when an expression fires, in its time
    /// zone and in UTC, under a DST policy.
    #[command(subcommand)]
    Cron(CronCommand),
    /// The scheduler's health from a running server (`GET /api/v1/health/scheduler`): last
    /// tick, overdue occurrences, backlog by queue and state, oldest waiting job. Exits 2
    /// when the scheduler is late, so it can serve as a monitoring probe (1 on errors).
    Status(ClientArgs),
    /// Measure enqueue and processing throughput and pick-up latency on a fresh,
    /// throw-away database.
    Bench(crate::commands::bench::BenchArgs),
}

impl Command {
    /// Quieter logs for one-shot tools, info for the server.
    pub(crate) fn default_log_level(&self) -> &'static str {
        match self {
            Command::Serve(_) | Command::Migrate(_) => "info",
            Command::Cron(_)
            | Command::Bench(_)
            | Command::Keys(_)
            | Command::Jobs(_)
            | Command::Check(_)
            | Command::Status(_)
            | Command::Schedules(_) => "warn",
        }
    }
}

/// Where the data lives.
#[derive(Debug, Clone, Args)]
pub(crate) struct StoreArgs {
    /// Directory for the embedded SQLite database (`warden.db`, when no `--database-url`
    /// is given) and, when WARDEN_SECRET is unset, the server secret (`server.secret`).
    /// Created if missing. [default: ./warden-data]
    #[arg(long, env = "WARDEN_DATA_DIR")]
    pub(crate) data_dir: Option<PathBuf>,

    /// PostgreSQL URL (`postgres://USER@HOST:PORT/DB`): use PostgreSQL instead of SQLite,
    /// e.g. so several warden processes share the work.
    #[arg(long, env = "WARDEN_DATABASE_URL", hide_env_values = true)]
    pub(crate) database_url: Option<String>,
}

impl StoreArgs {
    /// `--data-dir`, or `./warden-data` when it was not given.
    pub(crate) fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("./warden-data"))
    }
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

    /// Seconds running jobs get to finish at shutdown before they are released (at most
    /// 3600).
    #[arg(long, default_value_t = 30, value_name = "SECONDS", env = "WARDEN_SHUTDOWN_GRACE",
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub(crate) shutdown_grace: u64,

    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, default_value_t = 1024 * 1024, env = "WARDEN_MAX_BODY_BYTES")]
    pub(crate) max_body_bytes: usize,

    /// Seconds a request may take before it is answered 408.
    #[arg(
        long,
        default_value_t = 30,
        value_name = "SECONDS",
        env = "WARDEN_REQUEST_TIMEOUT"
    )]
    pub(crate) request_timeout: u64,

    /// Requests per minute one client IP may make (0: no limit). Over it: 429 with
    /// Retry-After.
    #[arg(long, default_value_t = 600, env = "WARDEN_RATE_LIMIT_PER_IP")]
    pub(crate) rate_limit_per_ip: u32,

    /// Requests per minute one principal may make (0: no limit).
    #[arg(long, default_value_t = 1200, env = "WARDEN_RATE_LIMIT_PER_PRINCIPAL")]
    pub(crate) rate_limit_per_principal: u32,

    /// A reverse proxy (CIDR, repeatable) whose `X-Forwarded-For` names the client.
    /// Without one, the connection's peer address is the client.
    #[arg(
        long = "trusted-proxy",
        value_name = "CIDR",
        env = "WARDEN_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub(crate) trusted_proxies: Vec<ipnet::IpNet>,

    #[command(flatten)]
    pub(crate) oidc: OidcArgs,

    #[command(flatten)]
    pub(crate) jobs: JobsFileArgs,

    #[command(flatten)]
    pub(crate) cron: CronArgs,

    #[command(flatten)]
    pub(crate) metrics: MetricsArgs,
}

/// `/cron/run` for external cron services (enabled by the `CRON_TOKEN` environment
/// variable), and when the scheduler counts as late.
#[derive(Debug, Clone, Args)]
pub(crate) struct CronArgs {
    /// Also accept the token as `/cron/run?token=…` (for cron services that cannot send a
    /// header). Off by default: URLs are kept in proxy and provider logs.
    #[arg(long, env = "WARDEN_CRON_ALLOW_QUERY_TOKEN")]
    pub(crate) cron_allow_query_token: bool,

    /// Only these networks may call `/cron/run` (CIDR, repeatable). Default: any.
    #[arg(
        long = "cron-allow-ip",
        value_name = "CIDR",
        env = "WARDEN_CRON_ALLOW_IPS",
        value_delimiter = ','
    )]
    pub(crate) cron_allow_ips: Vec<ipnet::IpNet>,

    /// Calls of `/cron/run` allowed per `--cron-rate-window` (a burst of this many, then
    /// refilling evenly; 0: no limit). Over it: 429 with Retry-After.
    #[arg(long, default_value_t = 10, env = "WARDEN_CRON_RATE_LIMIT")]
    pub(crate) cron_rate_limit: u32,

    /// The rate limit's window, in seconds.
    #[arg(long, default_value_t = 600, value_name = "SECONDS", env = "WARDEN_CRON_RATE_WINDOW",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) cron_rate_window: u64,

    /// Seconds `/cron/run` may spend handing due jobs to workers before it answers (less
    /// than `--request-timeout`).
    #[arg(long, default_value_t = 10, value_name = "SECONDS", env = "WARDEN_CRON_BUDGET",
          value_parser = clap::value_parser!(u64).range(1..=300))]
    pub(crate) cron_budget: u64,

    /// Seconds the single-flight lock of `/cron/run` lives if its holder dies.
    #[arg(long, default_value_t = 600, value_name = "SECONDS", env = "WARDEN_CRON_LOCK_TTL",
          value_parser = clap::value_parser!(u64).range(10..=86_400))]
    pub(crate) cron_lock_ttl: u64,

    /// The scheduler is reported late (`/api/v1/health/scheduler`, `warden status`) after
    /// this many seconds without a tick, or with an occurrence overdue by as much.
    #[arg(long, default_value_t = 300, value_name = "SECONDS", env = "WARDEN_LATE_AFTER",
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) late_after: u64,
}

/// Prometheus metrics at `GET /metrics` (on the main address when the `METRICS_TOKEN`
/// environment variable is set).
#[derive(Debug, Clone, Args)]
pub(crate) struct MetricsArgs {
    /// Serve `/metrics` without a token on this separate address (e.g. 127.0.0.1:9464, or
    /// an address only the monitoring network reaches), under the main address's
    /// connection, timeout and rate limits.
    #[arg(long, env = "WARDEN_METRICS_LISTEN", value_name = "ADDR")]
    pub(crate) metrics_listen: Option<SocketAddr>,
}

/// Scheduled HTTP calls from a `jobs.yaml` file.
#[derive(Debug, Clone, Args)]
pub(crate) struct JobsFileArgs {
    /// A `jobs.yaml` file: its jobs become schedules owned by `config` (checked first,
    /// like `warden check`; an invalid file stops the start). Reloaded on SIGHUP and when
    /// the file changes; an invalid new file keeps the previous one running.
    #[arg(long = "jobs", value_name = "FILE", env = "WARDEN_JOBS_FILE")]
    pub(crate) jobs_file: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) run: JobsRunArgs,
}

/// What a jobs file's calls run with: their environment, their secrets, where they may
/// connect.
#[derive(Debug, Clone, Args)]
pub(crate) struct JobsRunArgs {
    /// An env file whose variables complete the environment of `${VAR}` references
    /// (default: `.env` in the working directory, when present). The process
    /// environment wins.
    #[arg(long, env = "WARDEN_ENV_FILE")]
    pub(crate) env_file: Option<PathBuf>,
    /// Where `secret://NAME` files live (one file per secret), after the environment.
    #[arg(long, default_value = "/run/secrets", env = "WARDEN_SECRETS_DIR")]
    pub(crate) secrets_dir: PathBuf,
    #[command(flatten)]
    pub(crate) egress: EgressArgs,
}

/// Secrets are read from the environment only, never from flags (which `ps` shows).
pub(crate) const SERVE_ENV_HELP: &str = "\
Secrets (environment only):
  JOB_SCHEDULER_API_KEY  an admin key (header x-job-api-key or Authorization: Bearer), >= 32 characters
  INTERNAL_API_KEY       the service role's key (header x-internal-api-key), >= 32 characters
  WARDEN_SECRET          the secret API keys are hashed with; default: DATA_DIR/server.secret
                         (created on first start). Nodes sharing PostgreSQL need the same one.
  CRON_TOKEN             enables /cron/run for external cron services; comma-separated to
                         rotate (several accepted at once), each >= 32 characters
  METRICS_TOKEN          serves GET /metrics on the main address to `Authorization: Bearer`
                         callers, >= 32 characters (or use --metrics-listen)
Generate keys with `openssl rand -hex 32`, or make stored keys with `warden keys create`.";

/// Bearer JWTs from an OpenID Connect provider (enabled by `--oidc-issuer`).
#[derive(Debug, Clone, Args)]
pub(crate) struct OidcArgs {
    /// The provider's issuer (`iss`), compared exactly. Enables OIDC bearer tokens.
    #[arg(long, env = "WARDEN_OIDC_ISSUER", requires = "oidc_audience")]
    pub(crate) oidc_issuer: Option<String>,
    /// The audience (`aud`) tokens for warden carry (usually the client id).
    #[arg(long, env = "WARDEN_OIDC_AUDIENCE")]
    pub(crate) oidc_audience: Option<String>,
    /// The provider's JWKS URL (https, or http on loopback), fetched and cached.
    #[arg(
        long,
        env = "WARDEN_OIDC_JWKS_URL",
        conflicts_with = "oidc_public_key_file"
    )]
    pub(crate) oidc_jwks_url: Option<String>,
    /// A PEM public key to verify tokens with, instead of a JWKS URL.
    #[arg(long, env = "WARDEN_OIDC_PUBLIC_KEY_FILE")]
    pub(crate) oidc_public_key_file: Option<PathBuf>,
    /// The claim holding warden roles (admin, scheduler, executor, viewer, service); a
    /// dotted path such as `realm_access.roles` reads a nested claim.
    #[arg(long, env = "WARDEN_OIDC_ROLES_CLAIM", default_value = "roles")]
    pub(crate) oidc_roles_claim: String,
    /// Accepted signature algorithms (public-key ones only).
    #[arg(
        long,
        env = "WARDEN_OIDC_ALGORITHMS",
        value_delimiter = ',',
        default_value = "RS256,ES256"
    )]
    pub(crate) oidc_algorithms: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Make a key and print it (once). The principal (`--user`, default: the key's name)
    /// is created if it does not exist.
    Create(KeysCreateArgs),
    /// List keys (never the keys themselves: their prefix, role, expiry and last use).
    List(KeysListArgs),
    /// Revoke a key at once.
    Revoke(KeyIdArgs),
    /// Make a new key for the same principal and role; the old one keeps working until
    /// the overlap ends, so clients can switch without downtime.
    Rotate(KeysRotateArgs),
}

#[derive(Debug, Args)]
pub(crate) struct KeysCreateArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// A name to recognise the key by.
    #[arg(long)]
    pub(crate) name: String,
    /// admin, scheduler, executor, viewer or service.
    #[arg(long)]
    pub(crate) role: String,
    /// The principal the key acts as (owner of what it creates). Default: the name.
    #[arg(long)]
    pub(crate) user: Option<String>,
    /// Expire after this long, e.g. `90d`, `24h`. Default: never.
    #[arg(long)]
    pub(crate) expires: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct KeysListArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// Only this principal's keys.
    #[arg(long)]
    pub(crate) user: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct KeyIdArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The key's id (from `warden keys list`).
    pub(crate) id: String,
}

#[derive(Debug, Args)]
pub(crate) struct KeysRotateArgs {
    #[command(flatten)]
    pub(crate) store: StoreArgs,
    /// The key's id (from `warden keys list`).
    pub(crate) id: String,
    /// How long the old key keeps working, e.g. `24h`.
    #[arg(long, default_value = "24h")]
    pub(crate) overlap: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub(crate) json: bool,
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
    /// How many fire times to print (1 to 1000).
    #[arg(short = 'n', long = "count", default_value_t = 5,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub(crate) count: u16,
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

/// Where the server is and how to authenticate to it.
#[derive(Debug, Clone, Args)]
pub(crate) struct ClientArgs {
    /// The server's base URL.
    #[arg(long, env = "WARDEN_URL", default_value = "http://127.0.0.1:8080")]
    pub(crate) url: String,
    /// An API key (prefer the environment variable: flags are visible to other users in
    /// the process list).
    #[arg(long, env = "WARDEN_API_KEY", hide_env_values = true)]
    pub(crate) api_key: Option<String>,
    /// Print the server's JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum JobsCommand {
    /// List jobs (yours, or everyone's for admin and service keys), oldest first.
    List(JobsListArgs),
    /// Show one job.
    Get(ClientIdArgs),
    /// Cancel a job that has not finished (a running one stops counting; its outcome is ignored).
    Cancel(ClientIdArgs),
}

#[derive(Debug, Args)]
pub(crate) struct JobsListArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// Only jobs in this state: scheduled, available, running, retryable, succeeded, dead, cancelled.
    #[arg(long)]
    pub(crate) state: Option<String>,
    /// Only jobs of this queue.
    #[arg(long)]
    pub(crate) queue: Option<String>,
    /// Only jobs made by this schedule (its id).
    #[arg(long)]
    pub(crate) schedule: Option<String>,
    /// At most this many (the server caps pages at 500).
    #[arg(long, default_value_t = 100)]
    pub(crate) limit: u32,
}

#[derive(Debug, Args)]
pub(crate) struct ClientIdArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// The object's id.
    pub(crate) id: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum SchedulesCommand {
    /// List schedules with their next fire time.
    List(ClientListArgs),
    /// Pause a schedule: its occurrences are recorded `skipped:paused` until resumed.
    Pause(ClientIdArgs),
    /// Resume a paused schedule.
    Resume(ClientIdArgs),
    /// Run a schedule's job now, outside its cron times.
    Trigger(ClientIdArgs),
}

#[derive(Debug, Args)]
pub(crate) struct ClientListArgs {
    #[command(flatten)]
    pub(crate) client: ClientArgs,
    /// At most this many (the server caps pages at 500).
    #[arg(long, default_value_t = 100)]
    pub(crate) limit: u32,
}

/// Where HTTP jobs may connect (the SSRF guard). By default no private, loopback,
/// link-local (cloud metadata), CGNAT, multicast or documentation address is reachable.
#[derive(Debug, Clone, Args)]
pub(crate) struct EgressArgs {
    /// Open an exception: a CIDR (`10.1.2.0/24`, `127.0.0.1/32`) or a host name
    /// (repeatable, or comma-separated in the variable).
    #[arg(
        long = "egress-allow",
        value_name = "CIDR|HOST",
        env = "WARDEN_EGRESS_ALLOW",
        value_delimiter = ','
    )]
    pub(crate) egress_allow: Vec<String>,
    /// Refuse plain `http://` URLs.
    #[arg(long, env = "WARDEN_EGRESS_HTTPS_ONLY")]
    pub(crate) egress_https_only: bool,
}

#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The jobs file.
    pub(crate) file: PathBuf,
    #[command(flatten)]
    pub(crate) run: JobsRunArgs,
}
