//! `warden status`: the scheduler's health from a running server, for people (and, by its
//! exit status, for monitoring probes).

use reqwest::Method;
use serde_json::Value;

use super::client::{call, table, text};
use crate::cli::ClientArgs;

/// The scheduler is late: exit status 2 (the report is already printed).
#[derive(Debug)]
pub(crate) struct Late;

impl std::fmt::Display for Late {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the scheduler is late")
    }
}

impl std::error::Error for Late {}

pub(crate) async fn run(client: ClientArgs) -> anyhow::Result<()> {
    let body = call(&client, Method::GET, "/api/v1/health/scheduler").await?;
    let health = &body["data"];
    if client.json {
        println!("{body}");
    } else {
        print_health(health);
    }
    if health["late"].as_bool() == Some(false) {
        Ok(())
    } else {
        Err(Late.into())
    }
}

fn print_health(h: &Value) {
    let late = h["late"].as_bool() != Some(false);
    println!("scheduler: {}", if late { "LATE" } else { "ok" });
    let since = match h["secondsSinceTick"].as_i64() {
        Some(s) => format!(" ({s} s ago)"),
        None => String::new(),
    };
    println!(
        "last tick: {}{since}; late after {} s",
        text(&h["lastTickAt"]),
        text(&h["lateAfterSecs"])
    );
    if let Some(reasons) = h["reasons"].as_array() {
        for reason in reasons {
            println!("  late: {}", text(reason));
        }
    }
    match h["oldestWaitingJobAgeSecs"].as_f64() {
        Some(age) => println!(
            "oldest waiting job: due {} ({age:.1} s ago)",
            text(&h["oldestWaitingJobAt"])
        ),
        None => println!("oldest waiting job: none"),
    }
    let backlog = h["backlog"].as_array().cloned().unwrap_or_default();
    if backlog.is_empty() {
        println!("backlog: no jobs");
    } else {
        println!("backlog:");
        table(
            &backlog,
            &[("QUEUE", "queue"), ("STATE", "state"), ("COUNT", "count")],
        );
    }
}
