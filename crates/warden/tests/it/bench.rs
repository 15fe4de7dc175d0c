//! `warden bench` end to end on SQLite, small: each workload runs, checks what it measured
//! (every job succeeded, no occurrence missing) and prints its figures.

use crate::support::run;

fn bench(args: &[&str]) -> String {
    let mut all = vec!["bench", "--backend", "sqlite"];
    all.extend_from_slice(args);
    let out = run(&all);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(" fdatasync/s "),
        "the disk is measured first: {stdout}"
    );
    stdout
}

/// Asserts that `out` has every one of `lines`.
fn assert_has(out: &str, lines: &[&str]) {
    for line in lines {
        assert!(out.contains(line), "{line:?} missing: {out}");
    }
}

#[test]
fn the_default_workload_compares_concurrencies() {
    let out = bench(&[
        "-n",
        "300",
        "-c",
        "2,4",
        "--single",
        "50",
        "--latency-secs",
        "1",
        "--rate",
        "50",
    ]);
    assert_has(
        &out,
        &[
            "process (300 jobs, concurrency 2)",
            "process (300 jobs, concurrency 4)",
            "concurrency 2 reaches",
            "pick-up latency at 50 jobs/s",
            "  of which the enqueue call (insert and commit): p50 ",
            "  of which from its return to the job's start: p50 ",
        ],
    );
}

#[test]
fn the_peers_workload_enqueues_one_by_one_from_one_producer() {
    let out = bench(&[
        "--shape",
        "peers",
        "-n",
        "200",
        "-c",
        "3",
        "--latency-secs",
        "1",
    ]);
    assert_has(
        &out,
        &[
            "enqueue, one job per call (200 jobs, one producer, sequential)",
            "process (200 jobs, concurrency 3)",
            "pick-up latency at 50 jobs/s",
        ],
    );
}

#[test]
fn the_cron_workload_accounts_for_every_occurrence() {
    let out = bench(&[
        "--cron",
        "20",
        "--cron-secs",
        "2",
        "--cron-daily",
        "50",
        "-c",
        "8",
    ]);
    assert_has(
        &out,
        &[
            "created 50 schedules firing daily",
            "lag, instant to job start, 2 s (40 jobs)",
            "occurrences in the window: ran 40; missing from the ledger: 0",
        ],
    );
}

#[test]
fn bad_arguments_are_refused_naming_them() {
    let out = run(&["bench", "-c", "0"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`-c`"), "{err}");
}

// On PostgreSQL, `--keep-schema` leaves what the bench created, and names the URL that
// reaches it (to time `warden serve` on it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_postgres_schema_holds_what_the_bench_created() {
    use sqlx::Connection;
    let Some(admin) = warden_testkit::pg_url() else {
        return;
    };
    let url = admin.clone();
    let out = tokio::task::spawn_blocking(move || {
        let args = ["--database-url", &url, "--cron", "3", "--cron-secs", "1"];
        let mut all = vec!["bench", "--backend", "postgres", "-c", "4", "--keep-schema"];
        all.extend_from_slice(&args);
        run(&all)
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("keeping schema "))
        .unwrap_or_else(|| panic!("no schema named: {stdout}"));
    let (schema, serve) = line["keeping schema ".len()..].split_once(": ").unwrap();
    let kept = serve
        .strip_prefix("warden serve --database-url '")
        .and_then(|u| u.strip_suffix('\''))
        .unwrap_or_else(|| panic!("no URL: {line}"));
    let mut conn = sqlx::PgConnection::connect(kept).await.unwrap();
    let schedules: i64 = sqlx::query_scalar("SELECT count(*) FROM schedules")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.ok();
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    let drop = format!("DROP SCHEMA \"{schema}\" CASCADE");
    sqlx::raw_sql(sqlx::AssertSqlSafe(drop))
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(schedules, 3);
}
