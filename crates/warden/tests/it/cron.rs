//! `/cron/run` and `warden status` from the binary: a weak token stops the start, tokens
//! (in the header or the query) reach no log line even at trace level, and `warden status`
//! exits 2 while the scheduler is late and 0 once a tick has run.

use std::time::Duration;

use warden_testkit::eventually_blocking;

use crate::support::{Server, assert_no_database_file_holds, warden};

const ADMIN_KEY: &str = "status-admin-key-0123456789abcdef0123456789";

fn token(tag: &str) -> String {
    format!("{tag}-{:032x}", rand::random::<u128>())
}

#[test]
fn a_short_cron_token_stops_the_start_and_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = warden()
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("CRON_TOKEN", "hunter2-short")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("CRON_TOKEN"), "{stderr}");
    assert!(stderr.contains("openssl rand -hex 32"), "{stderr}");
    assert!(
        !stderr.contains("hunter2"),
        "the token was echoed: {stderr}"
    );
}

/// `warden status` against `server`: (exit code, stdout).
fn status(server: &Server) -> (Option<i32>, String) {
    let out = warden()
        .args(["status", "--url", &format!("http://{}", server.addr)])
        .env("WARDEN_API_KEY", ADMIN_KEY)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn cron_tokens_reach_no_log_line_and_status_follows_the_ticks() {
    let dir = tempfile::tempdir().unwrap();
    let (current, next, wrong) = (token("current"), token("next"), token("wrong"));
    let metrics_token = token("metrics");
    let tokens = format!("{current},{next}");
    let mut server = Server::start_with_env(
        &[
            "--data-dir",
            dir.path().to_str().unwrap(),
            "--cron-allow-query-token",
            "--late-after",
            "1",
            "--metrics-listen",
            "127.0.0.1:0",
        ],
        &[
            ("CRON_TOKEN", &tokens),
            ("METRICS_TOKEN", &metrics_token),
            ("JOB_SCHEDULER_API_KEY", ADMIN_KEY),
            ("RUST_LOG", "trace"),
        ],
    );
    // The loop ticked at start; with no schedule it sleeps a minute, so within seconds the
    // scheduler is late by a 1 s threshold: `warden status` exits 2.
    let out = eventually_blocking("`warden status` to report the scheduler late", || {
        let (code, out) = status(&server);
        (code == Some(2)).then_some(out)
    });
    assert!(out.contains("scheduler: LATE"), "{out}");
    assert!(out.contains("no scheduler tick for"), "{out}");

    let (code, body) = server.request(
        "POST",
        "/cron/run",
        &[("Authorization", &format!("Bearer {current}"))],
        None,
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["message"], "Schedule executed.");
    let (code, _) = server.request("GET", &format!("/cron/run?token={next}"), &[], None);
    assert_eq!(code, 200);
    let (code, body) = server.request("GET", &format!("/cron/run?token={wrong}"), &[], None);
    assert_eq!(code, 401);
    assert_eq!(
        body,
        serde_json::json!({"ok": false, "message": "Unauthorized."})
    );
    let (code, _) = server.request(
        "POST",
        "/cron/run",
        &[("Authorization", &format!("Bearer {wrong}"))],
        None,
    );
    assert_eq!(code, 401);

    let (code, out) = status(&server);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("scheduler: ok"), "{out}");

    // Metrics: behind the token on the main address, open on the metrics address.
    let metrics_addr = metrics_address(&mut server);
    let (code, _) = get_text(server.addr, "/metrics", None);
    assert_eq!(code, 401);
    let (code, text) = get_text(server.addr, "/metrics", Some(&metrics_token));
    assert_eq!(code, 200, "{text}");
    assert!(
        text.contains(r#"warden_cron_runs_total{outcome="ok"} 2"#),
        "{text}"
    );
    assert!(
        text.contains(r#"warden_cron_runs_total{outcome="unauthorized"} 2"#),
        "{text}"
    );
    assert!(
        text.contains("# HELP warden_pickup_latency_seconds"),
        "{text}"
    );
    let (code, open) = get_text(metrics_addr, "/metrics", None);
    assert_eq!(code, 200);
    assert!(
        open.contains("warden_last_tick_timestamp_seconds"),
        "{open}"
    );

    let logs = server.terminate();
    // Each request logs its answer at debug level: the calls were logged, so the search
    // below looks at them.
    let answered = logs
        .iter()
        .filter(|l| l.contains(r#""message":"answered""#))
        .count();
    assert!(
        answered >= 4,
        "the calls were not logged ({answered} answers), so this test proves nothing"
    );
    for line in &logs {
        for secret in [&current, &next, &wrong] {
            assert!(
                !line.contains(secret.as_str()),
                "a token reached the log: {line}"
            );
        }
    }
    // The records hold no token either.
    assert_no_database_file_holds(dir.path(), &[&current, &next, &wrong]);
}

/// The address of the tokenless metrics listener, from the server's log.
fn metrics_address(server: &mut Server) -> std::net::SocketAddr {
    const SERVING: &str = "serving /metrics without a token on its own address";
    let line = server.wait_for_log("the metrics address", |l| {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_default();
        v["message"] == SERVING
    });
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    v["addr"].as_str().unwrap().parse().unwrap()
}

/// GET `path` on `addr` (with a bearer token): (status, body text).
fn get_text(addr: std::net::SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn the_metrics_listener_caps_connections_per_address_like_the_main_one() {
    use std::io::{ErrorKind, Read};
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(&[
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--metrics-listen",
        "127.0.0.1:0",
    ]);
    let metrics_addr = metrics_address(&mut server);
    // 64 silent connections from one address: its cap...
    let _held: Vec<std::net::TcpStream> = (0..64)
        .map(|_| std::net::TcpStream::connect(metrics_addr).unwrap())
        .collect();
    // ...so the next one is closed at once rather than held.
    let mut extra = std::net::TcpStream::connect(metrics_addr).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let closed = match extra.read(&mut [0u8; 16]) {
        Ok(n) => n == 0,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    };
    assert!(closed, "a 65th connection from one address was held open");
}
