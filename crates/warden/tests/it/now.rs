//! `${NOW}` is the occurrence's scheduled instant: the same for every attempt of a run (so a
//! receiver can drop duplicates), and the instant the ledger records.

use std::{
    collections::BTreeMap,
    sync::mpsc,
    time::{Duration, Instant},
};

use crate::http_jobs::{ADMIN_KEY, answering_server, serve_jobs};

/// A server on 127.0.0.1 that reports each request's JSON body and answers 500, so every run
/// is retried.
fn failing_server() -> (u16, mpsc::Receiver<serde_json::Value>) {
    answering_server(|_head, body| {
        let reply = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\nnope";
        (reply.to_owned(), serde_json::from_slice(body).ok())
    })
}

#[test]
fn now_is_the_occurrence_instant_for_every_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let (port, bodies) = failing_server();
    let jobs = dir.path().join("jobs.yaml");
    std::fs::write(
        &jobs,
        format!(
            "jobs:\n  - name: stamp\n    schedule: \"* * * * * *\"\n    url: \"http://127.0.0.1:{port}/stamp\"\n    method: POST\n    data:\n      at: \"${{NOW}}\"\n      run: \"${{RUN_ID}}\"\n    retries: 2\n"
        ),
    )
    .unwrap();
    let server = serve_jobs(dir.path(), &jobs);

    // `${RUN_ID}` is `<job id>.<attempt>`: gather `${NOW}` per job until one job has been
    // tried twice.
    let mut by_job: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let job = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let body = bodies
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no retried run within 30 s: {by_job:?}"));
        let at = body["at"].as_str().unwrap().to_owned();
        let (job, _attempt) = body["run"].as_str().unwrap().rsplit_once('.').unwrap();
        let seen = by_job.entry(job.to_owned()).or_default();
        seen.push(at);
        if seen.len() >= 2 {
            break job.to_owned();
        }
    };
    let sent = &by_job[&job];
    assert!(
        sent.iter().all(|at| at == &sent[0]),
        "the attempts of one run sent different times: {sent:?}"
    );
    // A whole second: the schedule's instant, not the moment of sending.
    let instant: jiff::Timestamp = sent[0].parse().unwrap();
    assert_eq!(instant.subsec_nanosecond(), 0, "{sent:?}");
    assert!(sent[0].ends_with('Z') && !sent[0].contains('.'), "{sent:?}");

    // The ledger records that instant for that job.
    let (status, body) = server.request(
        "GET",
        "/api/v1/schedules",
        &[("x-job-api-key", ADMIN_KEY)],
        None,
    );
    assert_eq!(status, 200, "{body}");
    let id = body["data"][0]["id"].as_str().unwrap().to_owned();
    let (status, body) = server.request(
        "GET",
        &format!("/api/v1/schedules/{id}/occurrences"),
        &[("x-job-api-key", ADMIN_KEY)],
        None,
    );
    assert_eq!(status, 200, "{body}");
    let occurrence = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["jobId"] == job.as_str())
        .unwrap_or_else(|| panic!("no occurrence for job {job}: {body}"));
    let recorded: jiff::Timestamp = occurrence["scheduledAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(recorded, instant);
    server.terminate();
}
