//! `warden bench`: enqueue and process no-op jobs, or fire schedules, on a fresh,
//! throw-away database and print throughput, pick-up latency and cron lag.
//!
//! Every run first prints the disk's `fdatasync` rate ([`disk`]): durable throughput
//! follows it. Then one of three shapes runs:
//!
//! - **warden** (default): (1) enqueue one job per call from as many concurrent clients as
//!   the largest `-c`; (2) for each `-c`, enqueue `-n` jobs in batches, start an engine
//!   with that concurrency and time the `-n` jobs from the start to the last written
//!   completion, and print how the smallest concurrency compares with the largest;
//!   (3) enqueue jobs one at a time at a steady `--rate` (default 1,000/s) and measure,
//!   for each, the time from the enqueue call to the start of its handler.
//! - **peers** (`--shape peers`, what pg-boss, graphile-worker and River's benchmarks do):
//!   (1) one producer enqueues `-n` jobs one call at a time, sequentially; (2) the queued
//!   backlog is processed at each `-c`; (3) latency at a steady `--rate` (default 50/s).
//! - **cron** (`--cron K`, [`cron`]): K schedules firing every second, and the lag from
//!   each occurrence's instant to the start of its job.

mod cron;
mod disk;

use std::{
    path::PathBuf,
    str::FromStr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use serde_json::json;
use sqlx::{Connection, PgConnection, postgres::PgConnectOptions};
use warden_core::{JobState, QueueName, SystemClock};
use warden_engine::{Engine, EngineConfig, JobRequest, QueueConfig, Registry, Scheduler};
use warden_store::{AnyStore, PgStore, SqliteStore, Store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Storage backend to measure. SQLite runs in a temporary directory; PostgreSQL in a
    /// temporary schema of `--database-url`, dropped afterwards.
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    backend: Backend,
    /// PostgreSQL server for `--backend postgres`.
    #[arg(
        long,
        env = "WARDEN_DATABASE_URL",
        hide_env_values = true,
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    database_url: String,
    /// Jobs to enqueue in batches and process.
    #[arg(short = 'n', long, default_value_t = 100_000)]
    jobs: usize,
    /// Processing concurrencies, each measured in turn (comma-separated). The largest is
    /// also the number of clients enqueuing one at a time, the smallest the latency
    /// phase's.
    #[arg(short = 'c', long, value_delimiter = ',', default_values_t = [10, 32, 64])]
    concurrency: Vec<usize>,
    /// The workload's shape: `warden` (batches, concurrent clients) or `peers` (one
    /// producer enqueuing one job per call, as other job queues' benchmarks do).
    #[arg(long, value_enum, default_value_t = Shape::Warden)]
    shape: Shape,
    /// Jobs per batch insert.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Jobs to enqueue one at a time (default: 10% of -n, at least 1000).
    #[arg(long)]
    single: Option<usize>,
    /// Steady enqueue rate for the latency phase, jobs per second (default: 1000, or 50
    /// with `--shape peers`).
    #[arg(long)]
    rate: Option<u32>,
    /// Duration of the latency phase, seconds.
    #[arg(long, default_value_t = 5)]
    latency_secs: u64,
    /// Instead of jobs: create this many schedules firing every second (overlap
    /// allowed), run them, and report the lag from each occurrence's instant to the start
    /// of its job (p50, p99, max), the occurrences by outcome, and any missing from the
    /// ledger.
    #[arg(long, value_name = "K")]
    cron: Option<usize>,
    /// Jobs a producer may claim ahead of its free slots, per slot (the engine's
    /// `prefetch_per_slot`; 0 claims only for free slots).
    #[arg(long, default_value_t = EngineConfig::default().prefetch_per_slot)]
    prefetch_per_slot: usize,
    /// With `--cron`: how long before their instant occurrences are recorded, in ms (the
    /// engine's `cron_lookahead`).
    #[arg(long, default_value_t = EngineConfig::default().cron_lookahead.as_millis() as u64)]
    cron_lookahead_ms: u64,
    /// SQLite: use this data directory (new or empty) instead of a temporary one, and keep
    /// it, e.g. to time `warden serve --data-dir` on what the bench created.
    #[arg(long, value_name = "DIR")]
    keep_data_dir: Option<PathBuf>,
    /// PostgreSQL: keep the bench's schema instead of dropping it, and print the
    /// `--database-url` that reaches it, e.g. to time `warden serve` on what the bench
    /// created. Drop it yourself afterwards (`DROP SCHEMA … CASCADE`).
    #[arg(long)]
    keep_schema: bool,
    /// With `--cron`: also create this many schedules firing once a day (spread over the
    /// day's seconds), to measure the K every-second ones, and the process's memory,
    /// beside a large set of schedules.
    #[arg(long, default_value_t = 0, value_name = "N")]
    cron_daily: usize,
    /// With `--cron`: seconds of occurrences measured (after two seconds of warm-up).
    #[arg(long, default_value_t = 20)]
    cron_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Shape {
    Warden,
    Peers,
}

impl BenchArgs {
    fn rate(&self) -> u32 {
        self.rate.unwrap_or(match self.shape {
            Shape::Warden => 1000,
            Shape::Peers => 50,
        })
    }

    fn smallest_c(&self) -> usize {
        self.concurrency.iter().copied().min().unwrap_or(1)
    }

    fn largest_c(&self) -> usize {
        self.concurrency.iter().copied().max().unwrap_or(1)
    }
}

const MAIN: &str = "bench";
const SINGLE: &str = "bench-single";

pub(crate) async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.jobs == 0
        || args.concurrency.is_empty()
        || args.concurrency.contains(&0)
        || args.batch == 0
        || args.rate() == 0
        || args.cron == Some(0)
        || args.cron_secs == 0
    {
        bail!("`-n`, `-c`, `--batch`, `--rate`, `--cron` and `--cron-secs` must be positive");
    }
    let (store, cleanup, durability) = open(&args).await?;
    let dir = match &cleanup {
        Cleanup::Dir(d) => d.path().to_owned(),
        Cleanup::Kept(d) => d.clone(),
        Cleanup::Schema { .. } | Cleanup::KeptSchema => std::env::temp_dir(),
    };
    let fsyncs = disk::fdatasync_rate(&dir)
        .with_context(|| format!("could not measure the disk in {}", dir.display()))?;
    println!(
        "disk: {fsyncs:.0} fdatasync/s (4 KiB rewrites for 1 s in {})",
        dir.display()
    );
    let result = match args.cron {
        Some(k) => cron::measure(&args, k, store, &durability).await,
        None => measure(&args, store, &durability).await,
    };
    cleanup.run().await;
    result
}

/// Removes the throw-away database.
enum Cleanup {
    Dir(tempfile::TempDir),
    /// `--keep-data-dir`: left in place.
    Kept(PathBuf),
    Schema {
        url: String,
        schema: String,
    },
    /// `--keep-schema`: left in place.
    KeptSchema,
}

impl Cleanup {
    async fn run(self) {
        if let Cleanup::Schema { url, schema } = self
            && let Ok(mut conn) = PgConnection::connect(&url).await
        {
            let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await;
        }
    }
}

async fn open(args: &BenchArgs) -> anyhow::Result<(AnyStore, Cleanup, String)> {
    match args.backend {
        Backend::Sqlite => {
            let (path, cleanup) = match &args.keep_data_dir {
                Some(dir) => {
                    if dir.join("warden.db").exists() {
                        bail!(
                            "`--keep-data-dir` {} already holds a warden.db; give an empty or new directory",
                            dir.display()
                        );
                    }
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("could not create {}", dir.display()))?;
                    (dir.clone(), Cleanup::Kept(dir.clone()))
                }
                None => {
                    let dir =
                        tempfile::tempdir().context("could not create a temporary directory")?;
                    (dir.path().to_owned(), Cleanup::Dir(dir))
                }
            };
            let store = SqliteStore::open_in_dir(&path).await?;
            store.migrate().await?;
            Ok((
                AnyStore::Sqlite(store),
                cleanup,
                "WAL, synchronous=FULL".into(),
            ))
        }
        Backend::Postgres => {
            let mut admin = PgConnection::connect(&args.database_url)
                .await
                .context("could not connect to `--database-url` (is PostgreSQL running?)")?;
            let settings: (String, String) = sqlx::query_as(
                "SELECT current_setting('fsync'), current_setting('synchronous_commit')",
            )
            .fetch_one(&mut admin)
            .await?;
            let schema = format!("warden_bench_{}", uuid::Uuid::new_v4().simple());
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
                .execute(&mut admin)
                .await?;
            let url = warden_store::postgres::url_with_search_path(&args.database_url, &schema);
            let cleanup = if args.keep_schema {
                println!("keeping schema {schema}: warden serve --database-url '{url}'");
                Cleanup::KeptSchema
            } else {
                Cleanup::Schema {
                    url: args.database_url.clone(),
                    schema,
                }
            };
            let pool = (args.largest_c() as u32).clamp(8, 32);
            let store = PgStore::connect(PgConnectOptions::from_str(&url)?, pool).await?;
            store.migrate().await?;
            Ok((
                AnyStore::Postgres(store),
                cleanup,
                format!("fsync={}, synchronous_commit={}", settings.0, settings.1),
            ))
        }
    }
}

fn config(args: &BenchArgs, concurrency: usize, queues: &[&str]) -> anyhow::Result<EngineConfig> {
    Ok(EngineConfig {
        prefetch_per_slot: args.prefetch_per_slot,
        queues: queues
            .iter()
            .map(|q| Ok(QueueConfig::new(QueueName::parse(q)?, concurrency)))
            .collect::<anyhow::Result<_>>()?,
        claim_batch: 1000,
        completer_batch: 5000,
        shutdown_grace: Duration::from_secs(5),
        run_cron: false,
        ..EngineConfig::default()
    })
}

async fn measure(args: &BenchArgs, store: AnyStore, durability: &str) -> anyhow::Result<()> {
    let store = Arc::new(store);
    let base = Instant::now();
    // Latency-phase jobs, by their number: when their handler started, in µs since `base`.
    let latencies = Arc::new(Mutex::new(Vec::<(u64, u64)>::new()));
    let mut registry = Registry::new();
    let lat = latencies.clone();
    registry.register("bench.noop", move |_, data: serde_json::Value| {
        // Latency-phase jobs carry their number.
        if let Some(i) = data.get("i").and_then(serde_json::Value::as_u64) {
            let now = base.elapsed().as_micros() as u64;
            lat.lock().unwrap_or_else(|p| p.into_inner()).push((i, now));
        }
        async {}
    })?;
    let scheduler = Engine::scheduler(
        store.clone(),
        registry.clone(),
        config(args, args.largest_c(), &[MAIN, SINGLE])?,
        Arc::new(SystemClock),
    )?;
    println!(
        "warden bench: backend={} ({durability}), shape={:?}, n={}, c={:?}, batch={}",
        store.backend_name(),
        args.shape,
        args.jobs,
        args.concurrency,
        args.batch
    );

    match args.shape {
        Shape::Warden => {
            let single = args.single.unwrap_or((args.jobs / 10).max(1000));
            let clients = args.largest_c();
            let rate = enqueue_single(&scheduler, single, clients, SINGLE).await?;
            println!(
                "enqueue, one job per call ({single} jobs, {clients} clients): {rate:>10.0} jobs/s"
            );
        }
        Shape::Peers => {
            let rate = enqueue_single(&scheduler, args.jobs, 1, MAIN).await?;
            println!(
                "enqueue, one job per call ({} jobs, one producer, sequential): {rate:>8.0} jobs/s",
                args.jobs
            );
        }
    }

    let mut rates = Vec::new();
    for (i, &c) in args.concurrency.iter().enumerate() {
        // The peers' backlog is the one enqueued above; after it, and in the warden
        // shape, the backlog is enqueued in batches.
        if args.shape == Shape::Warden || i > 0 {
            enqueue_batches(&scheduler, args.jobs, args.batch).await?;
        }
        let started = Instant::now();
        let engine = Engine::start(store.clone(), registry.clone(), config(args, c, &[MAIN])?)?;
        engine.stats().wait_completed(args.jobs as u64).await;
        let elapsed = started.elapsed();
        engine.shutdown().await;
        let succeeded = count(&store, MAIN, JobState::Succeeded).await?;
        let rate = args.jobs as f64 / elapsed.as_secs_f64();
        println!(
            "process ({} jobs, concurrency {c}):{:>22.0} jobs/s  ({:.2} s)",
            args.jobs,
            rate,
            elapsed.as_secs_f64()
        );
        let expected = args.jobs as i64 * (i as i64 + 1);
        if succeeded != expected {
            bail!("expected {expected} succeeded jobs, found {succeeded}");
        }
        rates.push((c, rate));
    }
    let smallest = rates.iter().min_by_key(|(c, _)| *c).copied();
    let largest = rates.iter().max_by_key(|(c, _)| *c).copied();
    if let (Some((cs, rs)), Some((cl, rl))) = (smallest, largest)
        && cs != cl
    {
        println!(
            "concurrency {cs} reaches {:.0} % of concurrency {cl}",
            100.0 * rs / rl
        );
    }

    let rate = args.rate();
    let engine = Engine::start(
        store.clone(),
        registry,
        config(args, args.smallest_c(), &[MAIN])?,
    )?;
    let total = u64::from(rate) * args.latency_secs;
    let before = engine.stats().snapshot().completed;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    let mut inflight = tokio::task::JoinSet::new();
    for i in 0..total {
        tick.tick().await;
        let s = engine.scheduler().clone();
        let t = base.elapsed().as_micros() as u64;
        inflight.spawn(async move {
            s.add("bench.noop", json!({ "i": i }), MAIN).await?;
            anyhow::Ok((i, t, base.elapsed().as_micros() as u64))
        });
    }
    // Per job number, when its enqueue call began and when it returned (committed).
    let mut calls = std::collections::HashMap::new();
    while let Some(r) = inflight.join_next().await {
        let (i, t, at) = r??;
        calls.insert(i, (t, at));
    }
    engine.stats().wait_completed(before + total).await;
    engine.shutdown().await;
    let starts = std::mem::take(&mut *latencies.lock().unwrap_or_else(|p| p.into_inner()));
    // Per job: (its enqueue call's start, the call's return, its handler's start).
    let times: Vec<(u64, u64, u64)> = starts
        .iter()
        .filter_map(|(i, s)| calls.get(i).map(|(t, at)| (*t, *at, *s)))
        .collect();
    let series = |f: fn(&(u64, u64, u64)) -> u64| {
        let mut v: Vec<u64> = times.iter().map(f).collect();
        v.sort_unstable();
        v
    };
    let ms = |v: &[u64], p: f64| percentile(v, p) / 1000.0;
    let l = series(|(t, _, s)| s.saturating_sub(*t));
    println!(
        "pick-up latency at {rate} jobs/s for {} s ({} jobs, concurrency {}): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        args.latency_secs,
        l.len(),
        args.smallest_c(),
        ms(&l, 0.50),
        ms(&l, 0.99),
        ms(&l, 1.0),
    );
    // The two parts: the enqueue call (its durable commit: the database's share), and
    // from its return to the job's start (warden's: wake-up, claim, start).
    let call = series(|(t, at, _)| at.saturating_sub(*t));
    let after = series(|(_, at, s)| s.saturating_sub(*at));
    for (part, v) in [
        ("the enqueue call (insert and commit)", &call),
        ("from its return to the job's start", &after),
    ] {
        println!(
            "  of which {part}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ms(v, 0.50),
            ms(v, 0.99),
            ms(v, 1.0),
        );
    }
    Ok(())
}

/// The `p` quantile (0 to 1) of sorted values; 0 when there are none.
fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1] as f64
}

/// Enqueues `total` no-op jobs in batches of `batch`; prints the rate.
async fn enqueue_batches(
    scheduler: &Scheduler<AnyStore>,
    total: usize,
    batch: usize,
) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut left = total;
    while left > 0 {
        let n = left.min(batch);
        let jobs = (0..n)
            .map(|_| JobRequest::new("bench.noop", json!({}), MAIN))
            .collect();
        scheduler.add_many(jobs).await?;
        left -= n;
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    println!("enqueue, batches of {batch} ({total} jobs):{rate:>21.0} jobs/s");
    Ok(())
}

/// Enqueues `total` no-op jobs into `queue` one per call, from `clients` concurrent
/// clients each calling in sequence; the rate.
async fn enqueue_single(
    scheduler: &Scheduler<AnyStore>,
    total: usize,
    clients: usize,
    queue: &'static str,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..clients {
        let s = scheduler.clone();
        let mine = total / clients + usize::from(c < total % clients);
        tasks.spawn(async move {
            for _ in 0..mine {
                s.add("bench.noop", json!({}), queue).await?;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = tasks.join_next().await {
        r??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

async fn count(store: &AnyStore, queue: &str, state: JobState) -> anyhow::Result<i64> {
    Ok(store
        .queue_count_many()
        .await?
        .into_iter()
        .filter(|c| c.queue.as_str() == queue && c.state == state)
        .map(|c| c.count)
        .sum())
}
