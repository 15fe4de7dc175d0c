//! Run-time resolution: built-ins, variables, secrets, encoding, rotation, redaction.

use jiff::Timestamp;
use secrecy::ExposeSecret;
use warden_exec::{
    Builtins, ChainSecrets, DirSecrets, Env, EnvSecrets, Redactor, SecretError, Template, resolve,
    template::{ResolveError, resolve_request},
};

use crate::load_ok;

fn builtins() -> Builtins {
    Builtins {
        scheduled_at: "2026-03-29T01:30:00Z".parse::<Timestamp>().unwrap(),
        job_name: "data-sync".into(),
        run_id: "run-42".into(),
    }
}

fn no_secrets() -> ChainSecrets {
    ChainSecrets::new()
}

#[test]
fn builtins_are_substituted_and_are_not_secrets() {
    let t = Template::parse("${NOW} ${JOB_NAME} ${RUN_ID} $${NOW}").unwrap();
    let r = resolve(
        &t,
        &Env::fixed::<&str, &str>([]),
        &builtins(),
        &no_secrets(),
    )
    .unwrap();
    assert_eq!(r.value(), "2026-03-29T01:30:00Z data-sync run-42 ${NOW}");
    assert!(r.secrets().is_empty());
}

#[test]
fn variables_are_substituted_and_reported_as_secrets() {
    let t = Template::parse("Bearer ${TOKEN}").unwrap();
    let env = Env::fixed([("TOKEN", "tok-123")]);
    let r = resolve(&t, &env, &builtins(), &no_secrets()).unwrap();
    assert_eq!(r.value(), "Bearer tok-123");
    assert_eq!(r.secrets()[0].expose_secret(), "tok-123");
    assert!(!format!("{r:?}").contains("tok-123"));
    let unset = resolve(
        &t,
        &Env::fixed::<&str, &str>([]),
        &builtins(),
        &no_secrets(),
    );
    assert!(matches!(unset, Err(ResolveError::UnsetVariable { ref name }) if name == "TOKEN"));
}

#[test]
fn a_rotated_env_file_value_is_used_by_the_next_resolution() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.env");
    std::fs::write(&path, "TOKEN=first\n").unwrap();
    let env = Env::fixed::<&str, &str>([]).with_env_file(&path);
    let t = Template::parse("${TOKEN}").unwrap();
    assert_eq!(
        resolve(&t, &env, &builtins(), &no_secrets())
            .unwrap()
            .value(),
        "first"
    );
    std::fs::write(&path, "TOKEN=second\n").unwrap();
    assert_eq!(
        resolve(&t, &env, &builtins(), &no_secrets())
            .unwrap()
            .value(),
        "second"
    );
}

#[test]
fn secret_references_resolve_from_the_chain_and_rotate() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("jwt_token"), "v1-secret\n").unwrap();
    let chain = ChainSecrets::new()
        .with(EnvSecrets::new(Env::fixed([("OTHER", "x")])))
        .with(DirSecrets::new(dir.path()));
    let t = Template::parse("secret://jwt_token").unwrap();
    let env = Env::fixed::<&str, &str>([]);
    let r = resolve(&t, &env, &builtins(), &chain).unwrap();
    assert_eq!(r.value(), "v1-secret");
    assert_eq!(r.secrets()[0].expose_secret(), "v1-secret");
    std::fs::write(dir.path().join("jwt_token"), "v2-secret").unwrap();
    assert_eq!(
        resolve(&t, &env, &builtins(), &chain).unwrap().value(),
        "v2-secret"
    );
    let missing = Template::parse("secret://nope").unwrap();
    assert!(matches!(
        resolve(&missing, &env, &builtins(), &chain),
        Err(ResolveError::Secret(SecretError::NotFound { .. }))
    ));
}

#[test]
fn a_whole_request_resolves_with_encoded_url_values_and_a_redactor() {
    let file = load_ok(
        "jobs:
  - name: data-sync
    schedule: \"0 */30 * * * *\"
    url: \"https://api.example.com/v1/${PATH_PART}/items?q=${Q}\"
    method: POST
    headers:
      Authorization: \"Bearer ${JWT_TOKEN}\"
      X-Run: \"${RUN_ID}\"
    data:
      timestamp: \"${NOW}\"
      nested: {token: \"${JWT_TOKEN}\", n: 3}
",
    );
    let env = Env::fixed([
        ("JWT_TOKEN", "jwt-abc-123"),
        ("PATH_PART", "a/b?c"),
        ("Q", "x&admin=1#f"),
    ]);
    let req = resolve_request(&file.jobs()[0], &env, &builtins(), &no_secrets()).unwrap();
    assert_eq!(
        req.url(),
        "https://api.example.com/v1/a%2Fb%3Fc/items?q=x%26admin%3D1%23f"
    );
    assert_eq!(
        req.headers()[0],
        ("Authorization".into(), "Bearer jwt-abc-123".into())
    );
    assert_eq!(req.headers()[1], ("X-Run".into(), "run-42".into()));
    let body = req.body().unwrap();
    assert_eq!(body["timestamp"], "2026-03-29T01:30:00Z");
    assert_eq!(body["nested"]["token"], "jwt-abc-123");
    let debug = format!("{req:?}");
    assert!(!debug.contains("jwt-abc-123"), "{debug}");
    let red = req.redactor();
    assert_eq!(red.redact("echo: jwt-abc-123"), "echo: [REDACTED]");
}

#[test]
fn get_data_becomes_query_parameters() {
    let file = load_ok(
        "jobs:\n  - name: q\n    schedule: \"* * * * *\"\n    url: \"https://e.com/\"\n    data:\n      ids: [1, 2]\n      who: \"${JOB_NAME}\"\n",
    );
    let req = resolve_request(
        &file.jobs()[0],
        &Env::fixed::<&str, &str>([]),
        &builtins(),
        &no_secrets(),
    )
    .unwrap();
    assert_eq!(
        req.query(),
        [
            ("ids".into(), "1".into()),
            ("ids".into(), "2".into()),
            ("who".into(), "data-sync".into())
        ]
    );
    assert!(req.body().is_none());
}

#[test]
fn a_resolved_header_with_a_line_break_is_refused() {
    let file = load_ok(
        "jobs:\n  - name: h\n    schedule: \"* * * * *\"\n    url: \"https://e.com/\"\n    headers:\n      X-V: \"${V}\"\n",
    );
    let env = Env::fixed([("V", "ok\r\nX-Injected: 1")]);
    let err = resolve_request(&file.jobs()[0], &env, &builtins(), &no_secrets()).unwrap_err();
    assert!(matches!(err, ResolveError::InvalidHeaderValue { ref header } if header == "X-V"));
    assert!(!err.to_string().contains("Injected"));
}

#[test]
fn check_secrets_reports_unknown_secret_references() {
    let file = load_ok(
        "jobs:\n  - name: s\n    schedule: \"* * * * *\"\n    url: \"https://e.com/\"\n    headers:\n      X-Key: secret://api_key\n",
    );
    let dir = tempfile::tempdir().unwrap();
    let provider = DirSecrets::new(dir.path());
    let errors = warden_exec::template::check_secrets(&file, &provider);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].field, "jobs[0].headers.X-Key");
    assert_eq!((errors[0].line, errors[0].column), (6, 14));
    assert!(errors[0].message.contains("`api_key`") && errors[0].message.contains("job `s`"));
    std::fs::write(dir.path().join("api_key"), "k-123456").unwrap();
    assert!(warden_exec::template::check_secrets(&file, &provider).is_empty());
    let _ = Redactor::default();
}
