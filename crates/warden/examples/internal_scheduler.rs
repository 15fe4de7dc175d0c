//! The in-process API ("internal scheduler"): a Rust program that embeds warden,
//! registers typed handlers and schedules work without HTTP.
//!
//! Run it with `cargo run --example internal_scheduler`. It uses SQLite in a temporary
//! directory; set `WARDEN_DATABASE_URL=postgres://…` to use PostgreSQL instead.

use std::{sync::Arc, time::Duration};

use serde::Deserialize;
use serde_json::json;
use warden_core::{Outcome, Priority, QueueName, Scope};
use warden_engine::{CronRequest, Engine, EngineConfig, JobRequest, QueueConfig, Registry};
use warden_store::{OccurrencePage, Store, StoreLocation};

/// The payload of a `send-email` job, as the handler expects it.
#[derive(Debug, Deserialize)]
struct Email {
    to: String,
    subject: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let location = StoreLocation::choose(
        std::env::var("WARDEN_DATABASE_URL").ok().as_deref(),
        dir.path().into(),
    )?;
    let store = Arc::new(location.open().await?);
    store.migrate().await?;

    // 1. Handlers, by job type. Only registered types can be scheduled.
    let mut registry = Registry::new();
    registry.register("send-email", |ctx, email: Email| async move {
        println!(
            "  [{}] attempt {}: sending {:?} to {}",
            ctx.kind, ctx.attempt, email.subject, email.to
        );
        Ok::<_, std::io::Error>(())
    })?;
    registry.register("generate-report", |ctx, _: serde_json::Value| async move {
        println!("  [{}] report generated (job {})", ctx.kind, ctx.id);
        Outcome::Done
    })?;

    // 2. Queues and their concurrency.
    let config = EngineConfig {
        queues: vec![
            QueueConfig::new(QueueName::parse("COMMUNICATIONS")?, 4),
            QueueConfig::new(QueueName::parse("default")?, 2),
        ],
        ..EngineConfig::default()
    };
    let engine = Engine::start(store.clone(), registry, config)?;
    let scheduler = engine.scheduler();

    // 3. Schedule work: now, later, with options, and on a cron schedule.
    println!("scheduling…");
    scheduler
        .add(
            "send-email",
            json!({"to": "ada@example.com", "subject": "Welcome"}),
            "COMMUNICATIONS",
        )
        .await?;
    scheduler
        .add_in(
            "send-email",
            json!({"to": "ada@example.com", "subject": "Day 1 tips"}),
            "COMMUNICATIONS",
            Duration::from_secs(2),
        )
        .await?;
    scheduler
        .add_job(
            JobRequest::new(
                "send-email",
                json!({"to": "ops@example.com", "subject": "Invoice #42"}),
                "COMMUNICATIONS",
            )
            .priority(Priority::High)
            .idempotency_key("invoice-42"),
        )
        .await?;
    let mut report = CronRequest::new("every-2s-report", "*/2 * * * * *", "generate-report");
    report.timezone = "Europe/Paris".into();
    let schedule = scheduler.add_cron(report).await?;

    // An unregistered job type is refused now, not discovered at run time.
    if let Err(e) = scheduler.add("send-sms", json!({}), "COMMUNICATIONS").await {
        println!("refused as expected: {e}");
    }

    tokio::time::sleep(Duration::from_secs(5)).await;
    engine.shutdown().await;

    println!("occurrence ledger of the cron schedule:");
    for o in store
        .occurrence_list(schedule, Scope::All, OccurrencePage::default())
        .await?
    {
        println!("  {} -> {}", o.scheduled_at, o.outcome);
    }
    Ok(())
}
