//! `warden jobs …` and `warden schedules …`: a client of a running server's API, printing
//! tables for people and the server's JSON (`--json`) for scripts.

use anyhow::{Context, bail};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::cli::{
    ClientArgs, ClientIdArgs, ClientListArgs, JobsCommand, JobsListArgs, SchedulesCommand,
};

/// Calls the API and returns `data`, or fails with the server's message and request id.
pub(crate) async fn call(client: &ClientArgs, method: Method, path: &str) -> anyhow::Result<Value> {
    let key = client.api_key.as_deref().context(
        "no API key: set WARDEN_API_KEY (or pass --api-key); make one with `warden keys create`",
    )?;
    let base = client.url.trim_end_matches('/');
    let url = format!("{base}{path}");
    let mut request = reqwest::Client::new()
        .request(method.clone(), &url)
        .bearer_auth(key);
    if method == Method::POST {
        request = request
            .header("content-type", "application/json")
            .body("{}");
    }
    let response = request.send().await.with_context(|| {
        format!(
            "could not reach the warden server at {base} (is it running? see --url / WARDEN_URL)"
        )
    })?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .context("reading the server's answer failed")?;
    let body: Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("the server at {base} did not answer JSON ({status})"))?;
    if !status.is_success() {
        let message = body["error"]["message"].as_str().unwrap_or("no message");
        let request_id = body["error"]["request_id"].as_str().unwrap_or("-");
        let hint = match status {
            StatusCode::UNAUTHORIZED => " (check WARDEN_API_KEY)",
            _ => "",
        };
        bail!("{status}: {message}{hint} [request id {request_id}]");
    }
    Ok(body)
}

pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Prints `rows` (objects) as a table of `columns` (header, field).
pub(crate) fn table(rows: &[Value], columns: &[(&str, &str)]) {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| columns.iter().map(|(_, f)| text(&r[*f])).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, (h, _))| {
            cells
                .iter()
                .map(|c| c[i].len())
                .chain([h.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |values: Vec<&str>| {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(columns.iter().map(|(h, _)| *h).collect());
    for row in &cells {
        line(row.iter().map(String::as_str).collect());
    }
}

fn print(client: &ClientArgs, body: &Value, show: impl FnOnce(&Value)) {
    if client.json {
        println!("{body}");
    } else {
        show(&body["data"]);
    }
}

const JOB_COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("TYPE", "jobType"),
    ("QUEUE", "queueName"),
    ("PRIORITY", "priority"),
    ("STATE", "state"),
    ("ATTEMPT", "attempt"),
    ("RUN AT", "runAt"),
    ("OWNER", "owner"),
];

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The id as one path segment: anything but an id's characters is refused.
fn id(s: &str) -> anyhow::Result<&str> {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        Ok(s)
    } else {
        bail!("invalid id {s:?}: expected a UUID as shown by `list`")
    }
}

async fn jobs_list(a: JobsListArgs) -> anyhow::Result<()> {
    let q = query(&[
        ("state", a.state),
        ("queue", a.queue),
        ("schedule", a.schedule),
        ("limit", Some(a.limit.to_string())),
    ]);
    let body = call(&a.client, Method::GET, &format!("/api/v1/jobs{q}")).await?;
    print(&a.client, &body, |d| {
        table(d.as_array().map_or(&[], |v| v), JOB_COLUMNS)
    });
    Ok(())
}

async fn job_get(a: ClientIdArgs) -> anyhow::Result<()> {
    let body = call(
        &a.client,
        Method::GET,
        &format!("/api/v1/jobs/{}", id(&a.id)?),
    )
    .await?;
    print(&a.client, &body, |d| {
        for key in [
            "id",
            "jobType",
            "queueName",
            "priority",
            "state",
            "attempt",
            "maxAttempts",
            "runAt",
            "owner",
            "scheduleId",
            "createdAt",
            "finishedAt",
            "lastError",
        ] {
            println!("{key:<12} {}", text(&d[key]));
        }
        println!("{:<12} {}", "data", d["data"]);
    });
    Ok(())
}

async fn post(a: ClientIdArgs, path: &str, done: &str) -> anyhow::Result<()> {
    let body = call(&a.client, Method::POST, &path.replace("{id}", id(&a.id)?)).await?;
    print(&a.client, &body, |d| {
        let what = d
            .get("jobId")
            .filter(|_| done == "triggered")
            .map(|j| format!(" (job {})", text(j)));
        println!("{} {done}{}", a.id, what.unwrap_or_default());
    });
    Ok(())
}

async fn schedules_list(a: ClientListArgs) -> anyhow::Result<()> {
    let body = call(
        &a.client,
        Method::GET,
        &format!("/api/v1/schedules?limit={}", a.limit),
    )
    .await?;
    print(&a.client, &body, |d| {
        table(
            d.as_array().map_or(&[], |v| v),
            &[
                ("ID", "id"),
                ("NAME", "name"),
                ("CRON", "cron"),
                ("TIMEZONE", "timezone"),
                ("TYPE", "jobType"),
                ("PAUSED", "paused"),
                ("NEXT FIRE", "nextFireAt"),
                ("OWNER", "owner"),
            ],
        )
    });
    Ok(())
}

pub(crate) async fn run_jobs(command: JobsCommand) -> anyhow::Result<()> {
    match command {
        JobsCommand::List(a) => jobs_list(a).await,
        JobsCommand::Get(a) => job_get(a).await,
        JobsCommand::Cancel(a) => post(a, "/api/v1/jobs/{id}/cancel", "cancelled").await,
    }
}

pub(crate) async fn run_schedules(command: SchedulesCommand) -> anyhow::Result<()> {
    match command {
        SchedulesCommand::List(a) => schedules_list(a).await,
        SchedulesCommand::Pause(a) => post(a, "/api/v1/schedules/{id}/pause", "paused").await,
        SchedulesCommand::Resume(a) => post(a, "/api/v1/schedules/{id}/resume", "resumed").await,
        SchedulesCommand::Trigger(a) => {
            post(a, "/api/v1/schedules/{id}/trigger", "triggered").await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_encoded_and_ids_checked() {
        assert_eq!(
            query(&[("state", Some("dead".into())), ("queue", None)]),
            "?state=dead"
        );
        assert_eq!(encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert!(id("0190f5e4-0000-7000-8000-000000000000").is_ok());
        assert!(id("../keys").is_err() && id("").is_err());
    }
}
