//! The binary end to end: `warden keys` bootstraps a key the server accepts, env keys
//! are checked at start, and no key ever reaches a log line or the database file.

use serde_json::json;

use crate::support::{Server, assert_no_database_file_holds, run, warden};

fn random_hex() -> String {
    (0..4)
        .map(|_| format!("{:016x}", rand::random::<u64>()))
        .collect()
}

fn keys(args: &[&str], dir: &str) -> serde_json::Value {
    let mut all = vec!["keys"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--data-dir", dir, "--json"]);
    let out = run(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn keys_made_by_the_cli_are_accepted_rotated_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let made = keys(
        &[
            "create",
            "--name",
            "ops",
            "--role",
            "admin",
            "--expires",
            "30d",
        ],
        d,
    );
    let key = made["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("wdn_"));
    let server = Server::start(&["--data-dir", d]);
    let bearer = format!("Bearer {key}");
    let (status, body) = server.request("GET", "/api/v1/keys", &[("Authorization", &bearer)], None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["name"], "ops");

    let rotated = keys(
        &["rotate", made["id"].as_str().unwrap(), "--overlap", "1h"],
        d,
    );
    let new_bearer = format!("Bearer {}", rotated["key"].as_str().unwrap());
    for b in [&bearer, &new_bearer] {
        assert_eq!(
            server
                .request("GET", "/api/v1/jobs", &[("Authorization", b)], None)
                .0,
            200
        );
    }
    let out = run(&[
        "keys",
        "revoke",
        made["id"].as_str().unwrap(),
        "--data-dir",
        d,
    ]);
    assert!(out.status.success());
    assert_eq!(
        server
            .request("GET", "/api/v1/jobs", &[("Authorization", &bearer)], None)
            .0,
        401
    );
    assert_eq!(
        server
            .request(
                "GET",
                "/api/v1/jobs",
                &[("Authorization", &new_bearer)],
                None
            )
            .0,
        200
    );

    let listed = run(&["keys", "list", "--data-dir", d]);
    let table = String::from_utf8(listed.stdout).unwrap();
    assert!(
        table.contains("revoked") && table.contains("active"),
        "{table}"
    );
    assert!(!table.contains(&key[12..]), "the list showed a key");

    let bad = run(&[
        "keys",
        "create",
        "--name",
        "x",
        "--role",
        "root",
        "--data-dir",
        d,
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("`role`"));
    server.terminate();
}

#[test]
fn a_weak_env_key_stops_the_server_without_echoing_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = warden()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            dir.path().to_str().unwrap(),
        ])
        .env("JOB_SCHEDULER_API_KEY", "hunter2-short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("JOB_SCHEDULER_API_KEY") && err.contains("openssl rand -hex 32"),
        "{err}"
    );
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn no_key_reaches_a_log_line_or_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let admin_canary = random_hex();
    let internal_canary = random_hex();
    let stored = keys(&["create", "--name", "canary", "--role", "scheduler"], d);
    let stored_canary = stored["key"].as_str().unwrap().to_owned();
    let server = Server::start_with_env(
        &["--data-dir", d],
        &[
            ("JOB_SCHEDULER_API_KEY", &admin_canary),
            ("INTERNAL_API_KEY", &internal_canary),
            ("RUST_LOG", "trace"),
        ],
    );
    let job =
        json!({"type": "immediate", "jobType": "warden.noop", "data": {}, "queueName": "default"});
    let calls: Vec<(&str, String)> = vec![
        ("x-job-api-key", admin_canary.clone()),
        ("Authorization", format!("Bearer {admin_canary}")),
        ("x-internal-api-key", internal_canary.clone()),
        ("Authorization", format!("Bearer {stored_canary}")),
        // Near misses are refused and logged as failures: still without the value.
        ("Authorization", format!("Bearer {admin_canary}x")),
        (
            "x-job-api-key",
            // The stored key with its last hex digit changed to one it is not.
            format!(
                "{}{}",
                &stored_canary[..stored_canary.len() - 1],
                if stored_canary.ends_with('0') {
                    "1"
                } else {
                    "0"
                }
            ),
        ),
        ("Authorization", format!("Basic {admin_canary}")),
    ];
    let mut statuses = Vec::new();
    for (header, value) in &calls {
        statuses.push(
            server
                .request("POST", "/api/jobs/schedule", &[(header, value)], Some(&job))
                .0,
        );
        server.request("GET", "/api/v1/audit", &[(header, value)], None);
    }
    assert_eq!(statuses, [201, 201, 201, 201, 401, 401, 401]);
    let logs = server.terminate();
    assert!(logs.len() > 20, "expected trace logs, got {}", logs.len());
    let canaries = [&admin_canary, &internal_canary, &stored_canary];
    for line in &logs {
        for c in canaries {
            assert!(!line.contains(c.as_str()), "a key reached the log: {line}");
        }
    }
    assert_no_database_file_holds(dir.path(), &canaries.map(String::as_str));
}

#[test]
fn the_cli_client_lists_cancels_pauses_and_triggers() {
    let dir = tempfile::tempdir().unwrap();
    let admin = random_hex();
    let server = Server::start_with_env(
        &["--data-dir", dir.path().to_str().unwrap()],
        &[("JOB_SCHEDULER_API_KEY", &admin)],
    );
    let auth = [("x-job-api-key", admin.as_str())];
    let (status, job) = server.request(
        "POST",
        "/api/jobs/schedule",
        &auth,
        Some(&json!({"type": "delayed", "jobType": "warden.noop", "data": {}, "queueName": "default", "delayMs": 3_600_000})),
    );
    assert_eq!(status, 201, "{job}");
    let job_id = job["data"]["jobId"].as_str().unwrap().to_owned();
    let (_, schedule) = server.request(
        "POST",
        "/api/jobs/schedule",
        &auth,
        Some(&json!({"type": "cron", "jobType": "warden.noop", "data": {}, "queueName": "default", "cron": "0 3 * * *", "name": "nightly"})),
    );
    let schedule_id = schedule["data"]["scheduleId"].as_str().unwrap().to_owned();
    let url = format!("http://{}", server.addr);
    let cli = |args: &[&str], key: &str| {
        let out = warden()
            .args(args)
            .args(["--url", &url])
            .env("WARDEN_API_KEY", key)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (ok, table, _) = cli(&["jobs", "list"], &admin);
    assert!(
        ok && table.starts_with("ID") && table.contains(&job_id) && table.contains("scheduled"),
        "{table}"
    );
    let (ok, json_out, _) = cli(&["jobs", "list", "--state", "scheduled", "--json"], &admin);
    let v: serde_json::Value = serde_json::from_str(&json_out).unwrap();
    assert!(ok && v["data"][0]["id"] == job_id.as_str(), "{json_out}");
    let (ok, shown, _) = cli(&["jobs", "get", &job_id], &admin);
    assert!(ok && shown.contains("warden.noop"), "{shown}");
    let (ok, out, _) = cli(&["jobs", "cancel", &job_id], &admin);
    assert!(ok && out.contains("cancelled"), "{out}");
    let (ok, _, err) = cli(&["jobs", "cancel", &job_id], &admin);
    assert!(
        !ok && err.contains("409") && err.contains("request id"),
        "{err}"
    );

    let (ok, list, _) = cli(&["schedules", "list"], &admin);
    assert!(
        ok && list.contains("nightly") && list.contains("0 3 * * *"),
        "{list}"
    );
    for (verb, word) in [
        ("pause", "paused"),
        ("resume", "resumed"),
        ("trigger", "triggered"),
    ] {
        let (ok, out, err) = cli(&["schedules", verb, &schedule_id], &admin);
        assert!(ok && out.contains(word), "{verb}: {out} {err}");
    }
    let wrong = random_hex();
    let (ok, _, err) = cli(&["jobs", "list"], &wrong);
    assert!(
        !ok && err.contains("401") && err.contains("WARDEN_API_KEY"),
        "{err}"
    );
    assert!(!err.contains(&wrong), "{err}");
    server.terminate();
}

#[test]
fn keys_list_columns_line_up_whatever_the_lengths() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    for (name, role, user) in [
        ("ops", "admin", "ops"),
        ("v", "viewer", "v"),
        (
            "a-much-longer-key-name",
            "scheduler",
            "a-very-long-principal-name",
        ),
    ] {
        keys(
            &["create", "--name", name, "--role", role, "--user", user],
            d,
        );
    }
    let listed = run(&["keys", "list", "--data-dir", d]);
    assert!(listed.status.success());
    let table = String::from_utf8(listed.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    // Every column starts at the same offset on every line as in the header.
    let header = lines[0];
    let starts: Vec<usize> = ["PREFIX", "NAME", "PRINCIPAL", "ROLE", "STATUS", "LAST USED"]
        .iter()
        .map(|h| header.find(h).unwrap())
        .collect();
    for line in &lines[1..] {
        for (&at, next) in starts
            .iter()
            .zip(starts.iter().skip(1).chain([&usize::MAX]))
        {
            let cell = &line[at..(*next).min(line.len())];
            assert!(
                !cell.starts_with(' ') && line.as_bytes()[at - 1] == b' ',
                "misaligned at column {at}:\n{table}"
            );
            if *next != usize::MAX {
                assert!(cell.ends_with("  "), "cells touch at {at}:\n{table}");
            }
        }
    }
}
