//! `warden serve` as a process: health, readiness, and a clean stop on SIGTERM, on both
//! backends.

use crate::support::Server;

fn check_serve(extra: &[&str]) {
    let server = Server::start(extra);
    assert_eq!(server.get("/healthz").0, 200);
    let (status, body) = server.get("/readyz");
    assert_eq!(
        (status, &body["status"]),
        (200, &serde_json::json!("ready")),
        "{body}"
    );
    assert_eq!(server.get("/nope").0, 404);
    let logs = server.terminate();
    assert!(
        logs.iter().any(|l| l.contains("engine stopped")),
        "{logs:?}"
    );
}

#[test]
fn serve_on_sqlite_is_healthy_ready_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    check_serve(&["--data-dir", dir.path().to_str().unwrap()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_on_postgres_is_healthy_ready_and_stops_on_sigterm() {
    let Some(db) = warden_testkit::TestDb::postgres().await else {
        return;
    };
    let url = db.database_url().unwrap().to_owned();
    // The data directory still holds the server secret: keep it out of the source tree.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_owned();
    tokio::task::spawn_blocking(move || {
        check_serve(&["--database-url", &url, "--data-dir", &data])
    })
    .await
    .unwrap();
}

#[test]
fn readyz_reports_an_unmigrated_database() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&["--data-dir", dir.path().to_str().unwrap()]);
    // Sabotage: forget the applied migrations behind the server's back.
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["migrate", "--data-dir", dir.path().to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let db = dir.path().join("warden.db");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        sqlx::query("DELETE FROM _sqlx_migrations")
            .execute(&mut conn)
            .await
            .unwrap();
    });
    let (status, body) = server.get("/readyz");
    assert_eq!(status, 503, "{body}");
    assert!(
        body["reason"].as_str().unwrap().contains("warden migrate"),
        "{body}"
    );
    assert_eq!(server.get("/healthz").0, 200, "the process is still up");
}

#[test]
fn serve_with_a_missing_jobs_file_stops_before_creating_anything() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("warden-data");
    let jobs = dir.path().join("missing.yaml");
    let output = crate::support::run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data-dir",
        data.to_str().unwrap(),
        "--jobs",
        jobs.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("missing.yaml"), "{stderr}");
    assert!(
        !data.exists(),
        "the data dir was created: {:?}",
        std::fs::read_dir(&data).map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
    );
}
