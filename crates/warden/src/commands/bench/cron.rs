//! `warden bench --cron K`: K schedules firing every second, and how late their jobs start.
//!
//! The schedules (`* * * * * *`, overlap allowed, so every occurrence runs) are created
//! before the engine starts. After two seconds of warm-up, `--cron-secs` seconds of
//! occurrences are measured: for each, the lag from its instant to the start of its
//! job's handler (p50, p99 and max, over the whole window and over each half, so a
//! growing backlog shows), and from the ledger, the occurrences by outcome and any
//! (schedule, second) missing from it.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::bail;
use jiff::{SignedDuration, Timestamp};
use serde_json::json;
use warden_core::{OverlapPolicy, ScheduleId, SystemClock};
use warden_engine::{CronRequest, Engine, JobRequest, Registry};
use warden_store::{AnyStore, OccurrencePage, Store};

use super::{BenchArgs, config, percentile};

const QUEUE: &str = "bench-cron";
/// The daily schedules' job type: runs, but is not measured.
const DAILY: &str = "bench.daily";
/// Occurrences before this long after the engine starts are not measured.
const WARM_UP: SignedDuration = SignedDuration::from_secs(2);
/// Schedules created at once.
const CREATE_CLIENTS: usize = 32;
/// How long the bench waits, after the window, for its jobs to start.
const DRAIN: Duration = Duration::from_secs(10);

/// Per occurrence instant (whole seconds), the lags in µs of the jobs that started.
type Lags = Arc<Mutex<BTreeMap<i64, Vec<u64>>>>;

pub(super) async fn measure(
    args: &BenchArgs,
    k: usize,
    store: AnyStore,
    durability: &str,
) -> anyhow::Result<()> {
    let store = Arc::new(store);
    let lags: Lags = Arc::default();
    let mut registry = Registry::new();
    let seen = lags.clone();
    registry.register("bench.noop", move |ctx, _: serde_json::Value| {
        let lag = Timestamp::now().duration_since(ctx.scheduled_at);
        seen.lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(ctx.scheduled_at.as_second())
            .or_default()
            .push(lag.as_micros().max(0) as u64);
        async {}
    })?;
    registry.register(DAILY, |_, _: serde_json::Value| async {})?;
    let concurrency = args.largest_c();
    let engine_config = warden_engine::EngineConfig {
        run_cron: true,
        cron_lookahead: Duration::from_millis(args.cron_lookahead_ms),
        ..config(args, concurrency, &[QUEUE])?
    };
    println!(
        "warden bench --cron: backend={} ({durability}), {k} schedules every second, concurrency {concurrency}, lookahead {:?}",
        store.backend_name(),
        engine_config.cron_lookahead,
    );
    let scheduler = Engine::scheduler(
        store.clone(),
        registry.clone(),
        engine_config.clone(),
        Arc::new(SystemClock),
    )?;
    if args.cron_daily > 0 {
        let created = std::time::Instant::now();
        create_schedules(&scheduler, args.cron_daily, Every::Day).await?;
        println!(
            "created {} schedules firing daily in {:.2} s; resident memory: {}",
            args.cron_daily,
            created.elapsed().as_secs_f64(),
            resident_memory()
        );
    }
    let created = std::time::Instant::now();
    let ids = create_schedules(&scheduler, k, Every::Second).await?;
    println!(
        "created {k} schedules in {:.2} s",
        created.elapsed().as_secs_f64()
    );

    let engine = Engine::start(store.clone(), registry, engine_config)?;
    let started = Timestamp::now();
    let from = started.checked_add(WARM_UP)?.as_second() + 1;
    let until = from + args.cron_secs as i64; // exclusive
    let end = Timestamp::from_second(until)?;
    tokio::time::sleep(Duration::try_from(end.duration_since(Timestamp::now()))?).await;
    // Let the window's last jobs start.
    let expected = k * args.cron_secs as usize;
    let deadline = std::time::Instant::now() + DRAIN;
    while started_in(&lags, from, until) < expected && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    engine.shutdown().await;

    let (outcomes, missing) = ledger(&store, &ids, from, until).await?;
    let lags = std::mem::take(&mut *lags.lock().unwrap_or_else(|p| p.into_inner()));
    let window = |a: i64, b: i64| {
        let mut l: Vec<u64> = lags
            .range(a..b)
            .flat_map(|(_, v)| v.iter().copied())
            .collect();
        l.sort_unstable();
        l
    };
    let all = window(from, until);
    let half = from + args.cron_secs as i64 / 2;
    let report = |name: &str, l: &[u64]| {
        println!(
            "lag, instant to job start, {name} ({} jobs): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            l.len(),
            percentile(l, 0.50) / 1000.0,
            percentile(l, 0.99) / 1000.0,
            percentile(l, 1.0) / 1000.0,
        );
    };
    report(&format!("{} s", args.cron_secs), &all);
    report("first half", &window(from, half));
    report("second half", &window(half, until));
    println!(
        "occurrences in the window: {}; missing from the ledger: {missing}; ran but not started within {} s: {}",
        outcomes
            .iter()
            .map(|(o, n)| format!("{o} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        DRAIN.as_secs(),
        outcomes
            .get("ran")
            .copied()
            .unwrap_or(0)
            .saturating_sub(all.len()),
    );
    println!("resident memory: {}", resident_memory());
    if missing > 0 {
        bail!("{missing} occurrences are missing from the ledger");
    }
    Ok(())
}

/// How often the schedules a bench creates fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Every {
    /// `* * * * * *`, overlap allowed (the measured ones; their ids are returned).
    Second,
    /// Once a day, the `i`th at the `i`th second of the day (modulo a day); not returned.
    Day,
}

/// Creates `k` schedules, `CREATE_CLIENTS` at a time.
async fn create_schedules(
    scheduler: &warden_engine::Scheduler<AnyStore>,
    k: usize,
    every: Every,
) -> anyhow::Result<Vec<ScheduleId>> {
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..CREATE_CLIENTS.min(k) {
        let s = scheduler.clone();
        tasks.spawn(async move {
            let mut ids = Vec::new();
            for i in (c..k).step_by(CREATE_CLIENTS) {
                let mut r = match every {
                    Every::Second => {
                        let mut r =
                            CronRequest::new(&format!("bench-{i}"), "* * * * * *", "bench.noop");
                        r.overlap = OverlapPolicy::Allow;
                        r
                    }
                    Every::Day => {
                        let cron =
                            format!("{} {} {} * * *", i % 60, (i / 60) % 60, (i / 3600) % 24);
                        CronRequest::new(&format!("daily-{i}"), &cron, DAILY)
                    }
                };
                let kind = if every == Every::Day {
                    DAILY
                } else {
                    "bench.noop"
                };
                r.job = JobRequest::new(kind, json!({}), QUEUE);
                let id = s.add_cron(r).await?;
                if every == Every::Second {
                    ids.push(id);
                }
            }
            anyhow::Ok(ids)
        });
    }
    let mut ids = Vec::with_capacity(k);
    while let Some(r) = tasks.join_next().await {
        ids.extend(r??);
    }
    Ok(ids)
}

fn started_in(lags: &Lags, from: i64, until: i64) -> usize {
    lags.lock()
        .unwrap_or_else(|p| p.into_inner())
        .range(from..until)
        .map(|(_, v)| v.len())
        .sum()
}

/// The window's ledger rows by outcome, and the (schedule, second) pairs missing.
async fn ledger(
    store: &AnyStore,
    ids: &[ScheduleId],
    from: i64,
    until: i64,
) -> anyhow::Result<(BTreeMap<String, usize>, usize)> {
    let mut outcomes = BTreeMap::new();
    let mut missing = 0;
    let after = Timestamp::from_second(from - 1)?;
    for id in ids {
        let rows = store
            .occurrence_list(
                *id,
                warden_core::Scope::All,
                OccurrencePage {
                    limit: 10_000,
                    after: Some(after),
                },
            )
            .await?;
        let mut seconds = 0;
        for o in rows.iter().filter(|o| o.scheduled_at.as_second() < until) {
            seconds += 1;
            *outcomes.entry(o.outcome.to_string()).or_default() += 1;
        }
        missing += (until - from) as usize - seconds.min((until - from) as usize);
    }
    Ok((outcomes, missing))
}

/// This process's resident memory, from `/proc/self/status`.
fn resident_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(|l| l.trim_start_matches("VmRSS:").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".into())
}
