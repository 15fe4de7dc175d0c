//! The example `jobs.yaml` our users already write loads unchanged.

use std::time::Duration;

use warden_core::{MissedPolicy, OverlapPolicy, Priority};
use warden_exec::{
    Env, LoadErrorKind, check_env,
    jobsfile::{self, Data, Method},
    template::Part,
};

const SEED: &str = include_str!("../fixtures/seed_jobs.yaml");

#[test]
fn the_seed_example_loads_with_defaults_applied() {
    let file = jobsfile::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/seed_jobs.yaml"
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(file.jobs().len(), 2);

    let kpi = file.job("kpi-afternoon-report").unwrap();
    assert_eq!(kpi.schedule().expr(), "0 1 13 * * 1-5");
    assert_eq!(kpi.schedule().tz_name(), "UTC");
    assert_eq!(kpi.method(), Method::Get);
    assert_eq!(kpi.timeout().as_duration(), Duration::from_millis(30_000));
    assert_eq!(kpi.retries(), 3);
    assert_eq!(kpi.max_attempts().get(), 4);
    assert!(kpi.enabled());
    assert_eq!(kpi.description(), Some("KPI report generation"));
    assert_eq!(kpi.queue().as_str(), "default");
    assert_eq!(kpi.priority(), Priority::Medium);
    assert_eq!(kpi.overlap(), OverlapPolicy::Forbid);
    assert_eq!(kpi.missed(), MissedPolicy::Latest);
    let names: Vec<&str> = kpi.headers().iter().map(|h| h.name()).collect();
    assert_eq!(
        names,
        ["Authorization", "Content-Type"],
        "job headers first, then defaults"
    );
    assert_eq!(
        kpi.headers()[0].value().parts()[1],
        Part::Var("AIRCALL_API_TOKEN".into())
    );

    let sync = file.job("data-sync").unwrap();
    assert_eq!(sync.method(), Method::Post);
    assert_eq!(sync.timeout().as_duration(), Duration::from_millis(15_000));
    let Some(Data::Map(data)) = sync.data() else {
        panic!("data should be a mapping")
    };
    assert_eq!(data[0].0, "timestamp");
    assert_eq!(sync.loc().line, 19);
}

#[test]
fn the_seed_example_passes_the_env_check_once_its_variables_are_set() {
    let file = jobsfile::parse(SEED, "jobs.yaml").unwrap();
    let env = Env::fixed([
        ("AIRCALL_API_TOKEN", "aircall-token"),
        ("JWT_TOKEN", "jwt-token"),
        ("API_KEY", "api-key"),
    ]);
    assert_eq!(check_env(&file, &env), []);
}

#[test]
fn the_seed_example_fails_naming_each_missing_variable_and_its_job() {
    let file = jobsfile::parse(SEED, "jobs.yaml").unwrap();
    let errors = check_env(&file, &Env::fixed([("JWT_TOKEN", "set")]));
    let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 2, "{shown:#?}");
    assert!(
        errors
            .iter()
            .all(|e| e.kind == LoadErrorKind::UnsetVariable)
    );
    assert_eq!(
        shown[0],
        "jobs.yaml:13:22: jobs[0].headers.Authorization: variable `AIRCALL_API_TOKEN` used by job `kpi-afternoon-report` is not set; set it in the environment or in the env file (.env or --env-file)"
    );
    assert!(
        shown[1].starts_with(
            "jobs.yaml:25:18: jobs[1].headers.X-API-Key: variable `API_KEY` used by job `data-sync`"
        ),
        "{}",
        shown[1]
    );
}

#[test]
fn an_env_file_supplies_missing_variables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env");
    std::fs::write(
        &path,
        "AIRCALL_API_TOKEN=a1b2\nJWT_TOKEN=c3d4\nAPI_KEY=e5f6\n",
    )
    .unwrap();
    let file = jobsfile::parse(SEED, "jobs.yaml").unwrap();
    let env = Env::fixed::<&str, &str>([]).with_env_file(&path);
    assert_eq!(check_env(&file, &env), []);
    let discovered = Env::discover(None, dir.path());
    assert_eq!(discovered.env_file(), Some(path.as_path()));
}
