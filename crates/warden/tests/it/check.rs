//! `warden check jobs.yaml`: every error listed with its place, the seed's example file
//! accepted once its variables are set, URLs held to the egress policy.

use std::path::Path;

use crate::support::warden;

const SEED: &str = include_str!("../../../warden-exec/tests/fixtures/seed_jobs.yaml");

fn check(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let out = warden()
        .current_dir(dir)
        .arg("check")
        .args(args)
        .env_remove("AIRCALL_API_TOKEN")
        .env_remove("JWT_TOKEN")
        .env_remove("API_KEY")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn the_seed_file_passes_once_its_variables_are_set_and_names_each_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("jobs.yaml"), SEED).unwrap();
    let (ok, _, err) = check(dir.path(), &["jobs.yaml"], &[]);
    assert!(!ok);
    for var in ["AIRCALL_API_TOKEN", "JWT_TOKEN", "API_KEY"] {
        assert!(err.contains(&format!("`{var}`")), "{var} not named: {err}");
    }
    assert!(
        err.contains("jobs.yaml:13:22: jobs[0].headers.Authorization"),
        "{err}"
    );
    let vars = [
        ("AIRCALL_API_TOKEN", "a-secret"),
        ("JWT_TOKEN", "j-secret"),
        ("API_KEY", "k-secret"),
    ];
    let (ok, out, err) = check(dir.path(), &["jobs.yaml"], &vars);
    assert!(ok, "{err}");
    assert!(
        out.contains("kpi-afternoon-report") && out.contains("data-sync"),
        "{out}"
    );
    assert_eq!(out.matches("next: ").count(), 6, "{out}");
    // A `.env` in the working directory supplies them too; no value is ever printed.
    std::fs::write(
        dir.path().join(".env"),
        "AIRCALL_API_TOKEN=a-secret\nJWT_TOKEN=j-secret\nAPI_KEY=k-secret\n",
    )
    .unwrap();
    let (ok, out, err) = check(dir.path(), &["jobs.yaml"], &[]);
    assert!(ok, "{err}");
    assert!(
        !out.contains("secret") && !err.contains("a-secret"),
        "{out}{err}"
    );
}

#[test]
fn every_error_is_listed_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let bad = "jobs:\n  - name: a\n    schedule: \"61 * * * *\"\n    url: \"https://example.com\"\n    bogus: 1\n  - name: a\n    schedule: \"* * * * *\"\n    timezone: Mars/Olympus\n    url: \"https://example.com\"\n";
    std::fs::write(dir.path().join("jobs.yaml"), bad).unwrap();
    let (ok, _, err) = check(dir.path(), &["jobs.yaml"], &[]);
    assert!(!ok);
    for needle in [
        "jobs.yaml:3:15: jobs[0].schedule",
        "jobs.yaml:5:5: jobs[0].bogus",
        "jobs[1].name: duplicate job name",
        "jobs[1].timezone",
        "4 errors",
    ] {
        assert!(err.contains(needle), "{needle} missing from:\n{err}");
    }
}

#[test]
fn urls_are_held_to_the_egress_policy() {
    let dir = tempfile::tempdir().unwrap();
    let file = "jobs:\n  - name: metadata\n    schedule: \"* * * * *\"\n    url: \"http://169.254.169.254/latest/meta-data\"\n  - name: local\n    schedule: \"* * * * *\"\n    url: \"http://127.0.0.1:9/ping\"\n";
    std::fs::write(dir.path().join("jobs.yaml"), file).unwrap();
    let (ok, _, err) = check(dir.path(), &["jobs.yaml"], &[]);
    assert!(!ok);
    assert!(
        err.contains("169.254.169.254") && err.contains("job `metadata`"),
        "{err}"
    );
    assert!(
        err.contains("127.0.0.1") && err.contains("job `local`"),
        "{err}"
    );
    // An allow rule opens loopback, not the metadata service.
    let (ok, _, err) = check(
        dir.path(),
        &["jobs.yaml", "--egress-allow", "127.0.0.1/32"],
        &[],
    );
    assert!(
        !ok && !err.contains("job `local`") && err.contains("job `metadata`"),
        "{err}"
    );
    let (ok, _, err) = check(
        dir.path(),
        &[
            "jobs.yaml",
            "--egress-allow",
            "127.0.0.1/32,169.254.169.254/32",
            "--egress-https-only",
        ],
        &[],
    );
    assert!(!ok && err.contains("job `local`"), "https only: {err}");
}

#[test]
fn every_error_names_its_job_and_egress_errors_point_at_the_url_with_the_real_fix() {
    let dir = tempfile::tempdir().unwrap();
    let file = "jobs:
  - name: bad-cron
    schedule: \"61 * * * *\"
    url: \"https://example.com\"
  - name: bad-zone
    schedule: \"* * * * *\"
    timezone: Mars/Olympus
    url: \"https://example.com\"
  - name: gap-only
    schedule: \"30 2 * 3 0L\"
    timezone: Europe/Paris
    dst: {gap: skip}
    url: \"https://example.com\"
";
    std::fs::write(dir.path().join("jobs.yaml"), file).unwrap();
    let (ok, _, err) = check(dir.path(), &["jobs.yaml"], &[]);
    assert!(!ok);
    let line = |needle: &str| -> String {
        err.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle} missing from:\n{err}"))
            .to_owned()
    };
    assert!(
        line("jobs[0].schedule").contains("(job `bad-cron`)"),
        "{err}"
    );
    assert!(
        line("jobs[1].timezone").contains("(job `bad-zone`)"),
        "{err}"
    );
    let gap = line("jobs[2].schedule");
    assert!(
        gap.contains("never fire") && gap.contains("gap") && gap.contains("(job `gap-only`)"),
        "{err}"
    );
    // A file that loads is checked against the egress policy; the `url` value starts at line
    // 4, column 12.
    let file = "jobs:\n  - name: metadata\n    schedule: \"* * * * *\"\n    url:   \"http://169.254.169.254/latest/meta-data\"\n";
    std::fs::write(dir.path().join("egress.yaml"), file).unwrap();
    let (ok, _, err) = check(dir.path(), &["egress.yaml"], &[]);
    assert!(!ok);
    let egress = err
        .lines()
        .find(|l| l.contains("jobs[0].url"))
        .unwrap_or_else(|| panic!("no url error in:\n{err}"));
    assert!(
        egress.starts_with("egress.yaml:4:12: jobs[0].url: "),
        "{egress}"
    );
    assert!(egress.contains("job `metadata`"), "{egress}");
    assert!(
        egress.contains("--egress-allow 169.254.169.254") && egress.contains("WARDEN_EGRESS_ALLOW"),
        "{egress}"
    );
    assert!(!err.contains("egress.allow"), "{err}");

    // https only: the refusal names the flag that is set.
    let file =
        "jobs:\n  - name: plain\n    schedule: \"* * * * *\"\n    url: \"http://example.com/\"\n";
    std::fs::write(dir.path().join("plain.yaml"), file).unwrap();
    let (ok, _, err) = check(dir.path(), &["plain.yaml", "--egress-https-only"], &[]);
    assert!(!ok);
    assert!(
        err.contains("plain.yaml:4:10: jobs[0].url")
            && err.contains("`--egress-https-only`")
            && err.contains("job `plain`")
            && !err.contains("egress.https_only"),
        "{err}"
    );
}
