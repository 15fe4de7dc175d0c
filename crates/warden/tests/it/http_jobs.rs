//! `warden serve --jobs`: scheduled HTTP calls from a jobs file, end to end — the call is
//! made with its `${VAR}` and `secret://` values, the secrets appear in no log line and no
//! database file (not even when the server echoes them back in an error), and the file
//! is followed as it changes.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::Path,
    sync::mpsc,
    time::{Duration, Instant},
};

use warden_testkit::eventually_blocking;

use crate::support::{Server, assert_no_database_file_holds};

/// A server on 127.0.0.1 that reports each request's head and answers 500 with the
/// request's headers echoed in the body.
fn echo_server() -> (u16, mpsc::Receiver<String>) {
    answering_server(|head, _body| {
        let reply = format!("upstream failed; you sent:\n{head}");
        let response = format!(
            "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
            reply.len()
        );
        (response, Some(head.to_owned()))
    })
}

/// A server on 127.0.0.1 that reads each request, writes the response `answer` makes of
/// its head and body, and reports what `answer` picked from it (if anything) to the
/// receiver; it stops reporting once the receiver is dropped.
pub(crate) fn answering_server<T: Send + 'static>(
    answer: impl Fn(&str, &[u8]) -> (String, Option<T>) + Send + 'static,
) -> (u16, mpsc::Receiver<T>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let (head, body) = read_request(&conn);
            let (response, report) = answer(&head, &body);
            let _ = conn.write_all(response.as_bytes());
            if let Some(report) = report
                && tx.send(report).is_err()
            {
                return;
            }
        }
    });
    (port, rx)
}

/// Reads one HTTP/1.1 request from `conn`: its head (request line and headers) and its body
/// (by `Content-Length`).
pub(crate) fn read_request(conn: &TcpStream) -> (String, Vec<u8>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut head = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        head.push_str(&line);
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    (head, body)
}

fn jobs_yaml(port: u16, path: &str) -> String {
    format!(
        "jobs:\n  - name: ping\n    schedule: \"* * * * * *\"\n    url: \"http://127.0.0.1:{port}{path}\"\n    method: POST\n    headers:\n      Authorization: \"Bearer ${{PING_TOKEN}}\"\n      X-Api-Key: \"secret://api_key\"\n    data:\n      run: \"${{RUN_ID}}\"\n    retries: 0\n"
    )
}

fn wait_for(rx: &mpsc::Receiver<String>, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let head = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no request: {what}"));
        if pred(&head) {
            return head;
        }
    }
}

pub(crate) const ADMIN_KEY: &str = "test-admin-key-0123456789abcdef0123456789";

/// `warden serve --jobs jobs` with its data in `dir/data`, loopback open to the egress guard
/// and [`ADMIN_KEY`] as the admin key.
pub(crate) fn serve_jobs(dir: &Path, jobs: &Path) -> Server {
    serve_jobs_with(dir, jobs, &[], &[])
}

/// As [`serve_jobs`], with `extra` arguments and `env` variables besides.
fn serve_jobs_with(dir: &Path, jobs: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
    let data = dir.join("data");
    let mut args = vec![
        "--data-dir",
        data.to_str().unwrap(),
        "--jobs",
        jobs.to_str().unwrap(),
        "--egress-allow",
        "127.0.0.1/32",
    ];
    args.extend_from_slice(extra);
    let mut env = env.to_vec();
    env.push(("JOB_SCHEDULER_API_KEY", ADMIN_KEY));
    Server::start_with_env(&args, &env)
}

/// The id of the `config` schedule of jobs-file job `name`.
fn schedule_id(server: &Server, name: &str) -> String {
    let items = wait_api(server, "/api/v1/schedules");
    let found = items.iter().find(|s| s["name"] == name);
    found.unwrap_or_else(|| panic!("no schedule {name}: {items:?}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The newest run of a schedule, whole (lists leave the output out).
fn latest_run(server: &Server, schedule: &str) -> serde_json::Value {
    let runs = wait_api(server, &format!("/api/v1/runs?schedule={schedule}"));
    let path = format!("/api/v1/runs/{}", runs[0]["id"]);
    let (status, body) = server.request("GET", &path, &[("x-job-api-key", ADMIN_KEY)], None);
    assert_eq!(status, 200, "{path}: {body}");
    body["data"].clone()
}

/// GETs `path` as the admin until its `data` list is not empty.
fn wait_api(server: &Server, path: &str) -> Vec<serde_json::Value> {
    eventually_blocking(&format!("{path} to list something"), || {
        let (status, body) = server.request("GET", path, &[("x-job-api-key", ADMIN_KEY)], None);
        assert_eq!(status, 200, "{path}: {body}");
        body["data"]
            .as_array()
            .filter(|items| !items.is_empty())
            .cloned()
    })
}

/// A server on 127.0.0.1 that redirects every request to the cloud metadata address.
fn redirect_to_metadata() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 && !line.ends_with("\r\n\r\n") {}
            let _ = write!(
                conn,
                "HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    port
}

#[test]
fn a_call_the_egress_policy_refuses_fails_its_run_and_is_audited() {
    let dir = tempfile::tempdir().unwrap();
    let port = redirect_to_metadata();
    let jobs = dir.path().join("jobs.yaml");
    // Loopback is allowed for the test; the redirect's target is not.
    std::fs::write(
        &jobs,
        format!("jobs:\n  - name: metadata\n    schedule: \"* * * * * *\"\n    url: \"http://127.0.0.1:{port}/\"\n    retries: 0\n"),
    )
    .unwrap();
    let server = serve_jobs(dir.path(), &jobs);
    let events = wait_api(&server, "/api/v1/audit?action=egress.refused");
    let event = &events[0];
    assert_eq!(event["outcome"], "denied", "{event}");
    assert_eq!(event["principal"], "config", "{event}");
    let detail = event["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("job `metadata`: egress refused") && detail.contains("169.254.169.254"),
        "{detail}"
    );
    let schedule = schedule_id(&server, "metadata");
    let run = latest_run(&server, &schedule);
    assert_eq!(run["outcome"], "dead", "{run}");
    assert_eq!(run["output"]["error"]["kind"], "egress", "{run}");
    assert_eq!(run["output"]["status"], serde_json::Value::Null);
    server.terminate();
}

#[test]
fn jobs_file_calls_are_made_with_their_secrets_which_are_stored_and_logged_nowhere() {
    let dir = tempfile::tempdir().unwrap();
    let (port, requests) = echo_server();
    let token = format!("tok-{:016x}", rand::random::<u64>());
    let api_key = format!("key-{:016x}", rand::random::<u64>());
    let secrets = dir.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    std::fs::write(secrets.join("api_key"), format!("{api_key}\n")).unwrap();
    let jobs = dir.path().join("jobs.yaml");
    std::fs::write(&jobs, jobs_yaml(port, "/ping")).unwrap();
    let data = dir.path().join("data");
    let mut server = serve_jobs_with(
        dir.path(),
        &jobs,
        &["--secrets-dir", secrets.to_str().unwrap()],
        &[("PING_TOKEN", &token), ("RUST_LOG", "debug")],
    );
    let head = wait_for(&requests, "the first call", |h| h.starts_with("POST /ping"));
    assert!(head.contains(&format!("Bearer {token}")), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("x-api-key: {api_key}")),
        "{head}"
    );

    // The run keeps the call's record, redacted: the echoed secrets are not in it.
    let schedule = schedule_id(&server, "ping");
    let run = latest_run(&server, &schedule);
    let output = &run["output"];
    assert_eq!(output["status"], 500, "{output}");
    assert_eq!(output["error"]["kind"], "http_status", "{output}");
    let excerpt = output["body_excerpt"].as_str().unwrap();
    assert!(
        excerpt.starts_with("upstream failed; you sent:"),
        "{excerpt}"
    );
    assert!(excerpt.contains("[REDACTED]"), "{excerpt}");
    let shown = run.to_string();
    assert!(
        !shown.contains(&token) && !shown.contains(&api_key),
        "{shown}"
    );

    // A changed file is followed without a restart.
    std::fs::write(&jobs, jobs_yaml(port, "/pong")).unwrap();
    wait_for(&requests, "a call to the new URL", |h| {
        h.starts_with("POST /pong")
    });
    // An invalid file is refused; the previous one keeps running.
    std::fs::write(&jobs, "jobs:\n  - name: broken\n    schedule: \"nope\"\n").unwrap();
    server.wait_for_log("the bad file reported", |l| l.contains("invalid jobs file"));
    // Calls made before the bad file was read prove nothing: wait for one made after.
    requests.try_iter().for_each(drop);
    wait_for(&requests, "calls continue after a bad file", |h| {
        h.starts_with("POST /pong")
    });

    let logs = server.terminate();
    assert!(
        logs.iter().any(|l| l.contains("jobs file synced")),
        "no sync line"
    );
    assert!(
        logs.iter().any(|l| l.contains("invalid jobs file")),
        "the bad file was not reported"
    );
    for line in &logs {
        assert!(
            !line.contains(&token) && !line.contains(&api_key),
            "a secret reached the log: {line}"
        );
    }
    assert_no_database_file_holds(&data, &[&token, &api_key]);
}

/// A jobs file with one call, `nightly`, that fires at 03:00 only.
fn nightly_yaml(port: u16) -> String {
    format!(
        "jobs:\n  - name: nightly\n    schedule: \"0 3 * * *\"\n    url: \"http://127.0.0.1:{port}/nightly\"\n    method: POST\n    headers:\n      Authorization: \"Bearer ${{PING_TOKEN}}\"\n    retries: 0\n"
    )
}

/// Creates a stored key with `role` in `data` (before the server starts).
fn stored_key(data: &std::path::Path, role: &str) -> String {
    let out = crate::support::run(&[
        "keys",
        "create",
        "--name",
        role,
        "--role",
        role,
        "--data-dir",
        data.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    made["key"].as_str().unwrap().to_owned()
}

#[test]
fn no_api_path_creates_a_jobs_file_call_and_an_admin_runs_one_through_its_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let (port, requests) = echo_server();
    let jobs = dir.path().join("jobs.yaml");
    std::fs::write(&jobs, nightly_yaml(port)).unwrap();
    let data = dir.path().join("data");
    let scheduler_key = stored_key(&data, "scheduler");
    let server = serve_jobs_with(
        dir.path(),
        &jobs,
        &[],
        &[("PING_TOKEN", "tok-0123456789abcdef")],
    );
    let schedule = schedule_id(&server, "nightly");
    let scheduler = format!("Bearer {scheduler_key}");
    let as_scheduler = [("Authorization", scheduler.as_str())];
    let as_admin = [("x-job-api-key", ADMIN_KEY)];
    let call = |job: &str| serde_json::json!({"job": job});
    let attempts = [
        (
            "/api/v1/jobs",
            serde_json::json!({"jobType": "warden.http", "data": call("nightly"), "queueName": "default"}),
        ),
        (
            "/api/v1/jobs",
            serde_json::json!({"jobType": "warden.http", "data": call("no-such-job"), "queueName": "default"}),
        ),
        (
            "/api/v1/jobs/batch",
            serde_json::json!({"jobs": [{"jobType": "warden.http", "data": call("nightly")}]}),
        ),
        (
            "/api/jobs/schedule",
            serde_json::json!({"type": "immediate", "jobType": "warden.http", "data": call("nightly"), "queueName": "default"}),
        ),
        (
            "/api/jobs/schedule",
            serde_json::json!({"type": "cron", "cron": "* * * * * *", "jobType": "warden.http", "data": call("nightly")}),
        ),
        (
            "/api/v1/schedules",
            serde_json::json!({"name": "mine", "cron": "* * * * * *", "jobType": "warden.http", "data": call("nightly")}),
        ),
    ];
    for who in [&as_scheduler, &as_admin] {
        for (path, body) in &attempts {
            let (status, answer) = server.request("POST", path, who, Some(body));
            assert_eq!(status, 403, "{path} {body}: {answer}");
            let message = answer["error"]["message"].as_str().unwrap_or_default();
            assert!(
                message.contains("internal") && !message.contains("nightly"),
                "{path}: {answer}"
            );
        }
        // Replacing a jobs-file schedule with a call of the caller's choosing is refused too.
        let (status, answer) = server.request(
            "PUT",
            &format!("/api/v1/schedules/{schedule}"),
            who,
            Some(&serde_json::json!({"name": "nightly", "cron": "* * * * * *", "jobType": "warden.http", "data": call("nightly")})),
        );
        assert!(status == 403 || status == 404, "{status}: {answer}");
    }
    // Nothing went out.
    assert!(
        requests.recv_timeout(Duration::from_millis(500)).is_err(),
        "a refused request made the call"
    );

    // The scheduler does not reach the jobs file's schedule; the admin triggers it, audited.
    let trigger = format!("/api/v1/schedules/{schedule}/trigger");
    let (status, _) = server.request("POST", &trigger, &as_scheduler, None);
    assert_eq!(status, 404);
    let (status, answer) = server.request("POST", &trigger, &as_admin, None);
    assert_eq!(status, 201, "{answer}");
    let job = answer["data"]["jobId"].as_str().unwrap().to_owned();
    wait_for(&requests, "the triggered call", |h| {
        h.starts_with("POST /nightly")
    });
    let events = wait_api(&server, "/api/v1/audit?action=schedule.trigger");
    assert_eq!(events[0]["principal"], "admin", "{}", events[0]);
    assert_eq!(events[0]["target"], job.as_str(), "{}", events[0]);
    assert_eq!(
        events[0]["detail"],
        format!("schedule {schedule}").as_str(),
        "{}",
        events[0]
    );

    // Its job cannot be run again by a retry: that too would create the call.
    let runs = wait_api(&server, &format!("/api/v1/runs?schedule={schedule}"));
    assert_eq!(runs[0]["outcome"], "dead", "{}", runs[0]);
    let (status, answer) = server.request(
        "POST",
        &format!("/api/v1/jobs/{job}/retry"),
        &as_admin,
        None,
    );
    assert_eq!(status, 403, "{answer}");
    server.terminate();
}
