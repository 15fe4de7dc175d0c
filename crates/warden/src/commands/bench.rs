//! `warden bench`: enqueue and process no-op jobs on a fresh, throw-away database and
//! print throughput and pick-up latency.
//!
//! Phases: (1) enqueue one job per call from `-c` concurrent clients; (2) enqueue `-n`
//! jobs in batches; (3) start the engine with concurrency `-c` and time the `-n` jobs
//! from the first claim to the last written completion; (4) enqueue jobs one at a time
//! at a steady `--rate` and measure, for each, the time from the enqueue call to the
//! start of its handler.

use std::{
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
    /// Processing concurrency (and number of clients enqueuing one at a time).
    #[arg(short = 'c', long, default_value_t = 32)]
    concurrency: usize,
    /// Jobs per batch insert.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Jobs to enqueue one at a time (default: 10% of -n, at least 1000).
    #[arg(long)]
    single: Option<usize>,
    /// Steady enqueue rate for the latency phase, jobs per second.
    #[arg(long, default_value_t = 1000)]
    rate: u32,
    /// Duration of the latency phase, seconds.
    #[arg(long, default_value_t = 5)]
    latency_secs: u64,
}

const MAIN: &str = "bench";
const SINGLE: &str = "bench-single";

pub(crate) async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if args.jobs == 0 || args.concurrency == 0 || args.batch == 0 || args.rate == 0 {
        bail!("`-n`, `-c`, `--batch` and `--rate` must be positive");
    }
    let (store, cleanup, durability) = open(&args).await?;
    let result = measure(&args, store, &durability).await;
    cleanup.run().await;
    result
}

/// Removes the throw-away database.
enum Cleanup {
    Dir(#[expect(dead_code, reason = "held for its Drop")] tempfile::TempDir),
    Schema { url: String, schema: String },
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
            let dir = tempfile::tempdir().context("could not create a temporary directory")?;
            let store = SqliteStore::open_in_dir(dir.path()).await?;
            store.migrate().await?;
            Ok((
                AnyStore::Sqlite(store),
                Cleanup::Dir(dir),
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
            let cleanup = Cleanup::Schema {
                url: args.database_url.clone(),
                schema,
            };
            let pool = (args.concurrency as u32).clamp(8, 32);
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

fn config(args: &BenchArgs, queues: &[&str]) -> anyhow::Result<EngineConfig> {
    Ok(EngineConfig {
        queues: queues
            .iter()
            .map(|q| Ok(QueueConfig::new(QueueName::parse(q)?, args.concurrency)))
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
    let latencies = Arc::new(Mutex::new(Vec::<u64>::new()));
    let mut registry = Registry::new();
    let lat = latencies.clone();
    registry.register("bench.noop", move |_, data: serde_json::Value| {
        // Latency-phase jobs carry their enqueue time (µs since `base`).
        if let Some(t) = data.get("t").and_then(serde_json::Value::as_u64) {
            let now = base.elapsed().as_micros() as u64;
            lat.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(now.saturating_sub(t));
        }
        async {}
    })?;
    let scheduler = Engine::scheduler(
        store.clone(),
        registry.clone(),
        config(args, &[MAIN, SINGLE])?,
        Arc::new(SystemClock),
    )?;
    println!(
        "warden bench: backend={} ({durability}), n={}, c={}, batch={}",
        store.backend_name(),
        args.jobs,
        args.concurrency,
        args.batch
    );

    let single = args.single.unwrap_or((args.jobs / 10).max(1000));
    let rate = enqueue_single(&scheduler, single, args.concurrency).await?;
    println!(
        "enqueue, one job per call ({single} jobs, {} clients): {rate:>10.0} jobs/s",
        args.concurrency
    );

    let started = Instant::now();
    let mut left = args.jobs;
    while left > 0 {
        let n = left.min(args.batch);
        let batch = (0..n)
            .map(|_| JobRequest::new("bench.noop", json!({}), MAIN))
            .collect();
        scheduler.add_many(batch).await?;
        left -= n;
    }
    let rate = args.jobs as f64 / started.elapsed().as_secs_f64();
    println!(
        "enqueue, batches of {} ({} jobs):{:>21.0} jobs/s",
        args.batch, args.jobs, rate
    );

    let started = Instant::now();
    let engine = Engine::start(store.clone(), registry, config(args, &[MAIN])?)?;
    engine.stats().wait_completed(args.jobs as u64).await;
    let elapsed = started.elapsed();
    let succeeded = count(&store, MAIN, JobState::Succeeded).await?;
    println!(
        "process ({} jobs, concurrency {}):{:>22.0} jobs/s  ({succeeded} succeeded, {:.2} s)",
        args.jobs,
        args.concurrency,
        args.jobs as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    if succeeded != args.jobs as i64 {
        bail!("expected {} succeeded jobs, found {succeeded}", args.jobs);
    }

    let total = u64::from(args.rate) * args.latency_secs;
    let before = engine.stats().snapshot().completed;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(args.rate)));
    let mut inflight = tokio::task::JoinSet::new();
    for _ in 0..total {
        tick.tick().await;
        let s = engine.scheduler().clone();
        let t = base.elapsed().as_micros() as u64;
        inflight.spawn(async move { s.add("bench.noop", json!({"t": t}), MAIN).await });
    }
    while let Some(r) = inflight.join_next().await {
        r??;
    }
    engine.stats().wait_completed(before + total).await;
    engine.shutdown().await;
    let mut l = std::mem::take(&mut *latencies.lock().unwrap_or_else(|p| p.into_inner()));
    l.sort_unstable();
    let pct =
        |p: f64| l[((l.len() as f64 * p).ceil() as usize).clamp(1, l.len()) - 1] as f64 / 1000.0;
    println!(
        "pick-up latency at {} jobs/s for {} s ({} jobs): p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        args.rate,
        args.latency_secs,
        l.len(),
        pct(0.50),
        pct(0.99),
        pct(1.0)
    );
    Ok(())
}

async fn enqueue_single(
    scheduler: &Scheduler<AnyStore>,
    total: usize,
    clients: usize,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..clients {
        let s = scheduler.clone();
        let mine = total / clients + usize::from(c < total % clients);
        tasks.spawn(async move {
            for _ in 0..mine {
                s.add("bench.noop", json!({}), SINGLE).await?;
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
