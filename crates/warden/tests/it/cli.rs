//! The command line: help, `cron next`, `migrate`, and errors that say what to fix.

use crate::support::run;

fn text(out: &[u8]) -> String {
    String::from_utf8_lossy(out).into_owned()
}

#[test]
fn help_lists_every_subcommand() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for cmd in ["serve", "migrate", "cron", "bench"] {
        assert!(help.contains(cmd), "{help}");
    }
    let serve = text(&run(&["serve", "--help"]).stdout);
    for flag in [
        "--data-dir",
        "--listen",
        "--database-url",
        "--queue",
        "--log-format",
        "WARDEN_DATABASE_URL",
    ] {
        assert!(serve.contains(flag), "{serve}");
    }
}

#[test]
fn cron_next_prints_local_and_utc_times() {
    let out = run(&[
        "cron",
        "next",
        "0 9 * * MON-FRI",
        "--tz",
        "Europe/Paris",
        "-n",
        "3",
        "--after",
        "2026-07-03T12:00:00Z",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    // 2026-07-03 is a Friday: next are Mon 6, Tue 7, Wed 8 July, 09:00 CEST = 07:00Z.
    assert!(
        lines[1].starts_with("2026-07-06 09:00:00 +02:00 Mon")
            && lines[1].ends_with("2026-07-06 07:00:00Z"),
        "{stdout}"
    );
}

#[test]
fn cron_next_refuses_an_expression_that_never_fires() {
    let out = run(&["cron", "next", "0 0 0 31 2 *"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("`cron`") && err.contains("never fire"),
        "{err}"
    );
}

#[test]
fn migrate_creates_the_sqlite_database_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    for _ in 0..2 {
        let out = run(&["migrate", "--data-dir", data.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    assert!(data.join("warden.db").exists());
}

#[test]
fn a_bad_database_url_is_refused_without_echoing_its_password() {
    let out = run(&["migrate", "--database-url", "mysql://admin:s3cret-pw@db/x"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("postgres://") && !err.contains("s3cret-pw"),
        "{err}"
    );
    let out = run(&[
        "migrate",
        "--database-url",
        "postgres://admin:s3cret-pw@127.0.0.1:1/x",
    ]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("could not open the database") && !err.contains("s3cret-pw"),
        "{err}"
    );
}
