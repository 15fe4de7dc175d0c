//! Every kind of error, with file, line, column and field; and all of them at once.

use warden_exec::LoadErrorKind::*;

use crate::{OK_JOB, assert_error, errors_of, load_ok};

#[test]
fn all_errors_in_a_file_are_reported_together_in_file_order() {
    let text = "\
global:
  defaultTimeout: -5
  defaultHedaers: {}
jobs:
  - name: a
    schedule: \"61 * * * *\"
    url: \"https://example.com/\"
    timout: 100
  - name: b
    schedule: \"*/5 * * * *\"
    timezone: Mars/Olympus
    url: \"ftp://example.com/\"
    method: FETCH
    timeout: 0
    retries: \"3\"
    enabled: yes
  - name: a
    schedule: \"*/5 * * * *\"
    url: \"https://example.com/\"
";
    let errors = errors_of(text);
    let e = assert_error(&errors, "global.defaultTimeout", InvalidValue, 2, 19);
    assert!(e.message.contains("must be positive"), "{e}");
    let e = assert_error(&errors, "global.defaultHedaers", UnknownKey, 3, 3);
    assert!(e.message.contains("accepted keys: defaultTimeout"), "{e}");
    assert_error(&errors, "jobs[0].schedule", InvalidValue, 6, 15);
    let e = assert_error(&errors, "jobs[0].timout", UnknownKey, 8, 5);
    assert!(e.message.contains("did you mean"), "{e}");
    let e = assert_error(&errors, "jobs[1].timezone", InvalidValue, 11, 15);
    assert!(
        e.message
            .contains("\"Mars/Olympus\" is not a known IANA time zone"),
        "{e}"
    );
    let e = assert_error(&errors, "jobs[1].url", InvalidValue, 12, 10);
    assert!(e.message.contains("scheme `ftp`"), "{e}");
    assert_error(&errors, "jobs[1].method", InvalidValue, 13, 13);
    assert_error(&errors, "jobs[1].timeout", InvalidValue, 14, 14);
    let e = assert_error(&errors, "jobs[1].retries", WrongType, 15, 14);
    // Each of a job's errors names the job.
    assert_eq!(
        e.message,
        "expected a whole number, found a string (job `b`)"
    );
    let e = assert_error(&errors, "jobs[1].enabled", WrongType, 16, 14);
    assert_eq!(
        e.message,
        "expected true or false (`yes`, `no`, `on` and `off` are strings in YAML 1.2), found a string (job `b`)"
    );
    let e = assert_error(&errors, "jobs[2].name", DuplicateName, 17, 11);
    assert!(e.message.contains("first used at line 5"), "{e}");
    assert_eq!(errors.len(), 11, "{errors:#?}");
    let lines: Vec<u32> = errors.iter().map(|e| e.line).collect();
    assert!(lines.is_sorted(), "{lines:?}");
    assert_eq!(
        errors[0].to_string(),
        "jobs.yaml:2:19: global.defaultTimeout: -5 ms must be positive; expected 1 to 86400000 milliseconds, e.g. 30000 for 30 s"
    );
}

#[test]
fn duplicate_keys_are_reported_at_the_second_key() {
    let text = format!(
        "jobs:\n{OK_JOB}    url: \"https://other.example/\"\n    headers:\n      Accept: a\n      accept: b\n"
    );
    let errors = errors_of(&text);
    let e = assert_error(&errors, "jobs[0].url", DuplicateKey, 5, 5);
    assert!(e.message.contains("first at line 4"), "{e}");
    let e = assert_error(&errors, "jobs[0].headers.accept", DuplicateKey, 8, 7);
    assert!(e.message.contains("ignore case"), "{e}");
    let top = errors_of(&format!("jobs: []\njobs:\n{OK_JOB}"));
    assert_error(&top, "jobs", DuplicateKey, 2, 1);
    let data = errors_of(&format!(
        "jobs:\n{OK_JOB}    method: POST\n    data:\n      a: 1\n      a: 2\n"
    ));
    assert_error(&data, "jobs[0].data.a", DuplicateKey, 8, 7);
}

#[test]
fn duplicate_job_names_point_at_the_second_name() {
    let text = format!("jobs:\n{OK_JOB}{OK_JOB}");
    let errors = errors_of(&text);
    let e = assert_error(&errors, "jobs[1].name", DuplicateName, 5, 11);
    assert!(
        e.message.contains("`ok`") && e.message.contains("line 2"),
        "{e}"
    );
}

#[test]
fn missing_keys_are_reported_at_the_job() {
    let errors = errors_of("jobs:\n  - name: x\n    method: GET\n");
    assert_error(&errors, "jobs[0].schedule", MissingField, 2, 5);
    assert_error(&errors, "jobs[0].url", MissingField, 2, 5);
    assert_error(&errors_of("global: {}\n"), "jobs", MissingField, 1, 1);
    let empty = errors_of("");
    assert_eq!(empty[0].kind, MissingField, "{empty:?}");
    assert_eq!(errors_of("# only a comment\n")[0].kind, MissingField);
}

#[test]
fn wrong_types_name_what_was_expected_and_found() {
    let errors = errors_of(
        "jobs:\n  - name: [a]\n    schedule: 5\n    url: \"https://e.com/\"\n    headers: [a]\n    timeout: 1.5\n",
    );
    assert_error(&errors, "jobs[0].name", WrongType, 2, 11);
    assert_error(&errors, "jobs[0].schedule", WrongType, 3, 15);
    let e = assert_error(&errors, "jobs[0].headers", WrongType, 5, 14);
    assert_eq!(e.message, "expected a mapping, found a list");
    let e = assert_error(&errors, "jobs[0].timeout", WrongType, 6, 14);
    assert!(e.message.contains("whole number of milliseconds"), "{e}");
    assert_error(&errors_of("jobs: {}\n"), "jobs", WrongType, 1, 7);
    assert_error(&errors_of("- a\n"), "", WrongType, 1, 1);
}

#[test]
fn cron_and_time_zone_errors_are_both_reported() {
    let errors = errors_of(
        "jobs:\n  - name: x\n    schedule: \"* * *\"\n    timezone: Nowhere/City\n    url: \"https://e.com/\"\n",
    );
    let e = assert_error(&errors, "jobs[0].schedule", InvalidValue, 3, 15);
    assert!(e.message.contains("has 3 fields"), "{e}");
    assert_error(&errors, "jobs[0].timezone", InvalidValue, 4, 15);
    let never = errors_of(
        "jobs:\n  - name: x\n    schedule: \"0 0 31 2 *\"\n    url: \"https://e.com/\"\n",
    );
    let e = assert_error(&never, "jobs[0].schedule", InvalidValue, 3, 15);
    assert!(e.message.contains("never fire"), "{e}");
}

#[test]
fn timeouts_must_be_positive_and_sane() {
    for (value, needle) in [
        ("0", "must be positive"),
        ("-1", "must be positive"),
        ("86400001", "longer than 24 hours"),
        ("99999999999999999999", "whole number"),
    ] {
        let errors = errors_of(&format!("jobs:\n{OK_JOB}    timeout: {value}\n"));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].field, "jobs[0].timeout");
        assert!(errors[0].message.contains(needle), "{value}: {}", errors[0]);
    }
    let errors = errors_of(&format!("jobs:\n{OK_JOB}    retries: 21\n"));
    assert_error(&errors, "jobs[0].retries", InvalidValue, 5, 14);
}

#[test]
fn bad_urls_are_refused_with_the_reason() {
    for (url, needle) in [
        ("not a url", "spaces"),
        ("https://", "not a valid URL"),
        ("file:///etc/passwd", "scheme `file`"),
        ("https://user:pw@example.com/", "credentials"),
        (
            "https://${HOST}/x",
            "scheme and host must be written literally",
        ),
        (
            "https://api.example.com${PATH}",
            "scheme and host must be written literally",
        ),
        ("secret://URL", "cannot be a `secret://` reference"),
    ] {
        let text = format!("jobs:\n  - name: x\n    schedule: \"* * * * *\"\n    url: \"{url}\"\n");
        let errors = errors_of(&text);
        assert_eq!(errors.len(), 1, "{url}: {errors:?}");
        assert_eq!(errors[0].field, "jobs[0].url");
        assert_eq!((errors[0].line, errors[0].column), (4, 10));
        assert!(errors[0].message.contains(needle), "{url}: {}", errors[0]);
    }
    let ok = load_ok(
        "jobs:\n  - name: x\n    schedule: \"* * * * *\"\n    url: \"https://api.example.com/items/${ITEM}?q=${Q}\"\n",
    );
    assert_eq!(
        ok.jobs()[0].url().variables().collect::<Vec<_>>(),
        ["ITEM", "Q"]
    );
}

#[test]
fn template_syntax_errors_name_the_field_but_not_the_value() {
    let text = format!(
        "jobs:\n{OK_JOB}    headers:\n      Authorization: \"Bearer s3cr3t ${{TOKEN\"\n    method: POST\n    data:\n      items: [\"${{1X}}\"]\n"
    );
    let errors = errors_of(&text);
    let e = assert_error(&errors, "jobs[0].headers.Authorization", Template, 6, 22);
    assert!(
        e.message.contains("not closed") && !e.message.contains("s3cr3t"),
        "{e}"
    );
    let e = assert_error(&errors, "jobs[0].data.items[0]", Template, 9, 15);
    assert!(e.message.contains("`${1X}`"), "{e}");
}

#[test]
fn headers_are_checked_for_names_injection_and_reserved_names() {
    let text = format!(
        "jobs:\n{OK_JOB}    headers:\n      \"Bad Name\": x\n      Host: evil.example\n      X-Ok: \"a\\r\\nInjected: yes\"\n      X-Num: 5\n"
    );
    let errors = errors_of(&text);
    assert_error(&errors, "jobs[0].headers[\"Bad Name\"]", InvalidValue, 6, 7);
    assert_error(&errors, "jobs[0].headers.Host", InvalidValue, 7, 7);
    let e = assert_error(&errors, "jobs[0].headers.X-Ok", InvalidValue, 8, 13);
    assert!(!e.message.contains("Injected"), "{e}");
    assert_error(&errors, "jobs[0].headers.X-Num", WrongType, 9, 14);
}

#[test]
fn get_data_must_be_flat_query_parameters() {
    let errors = errors_of(&format!(
        "jobs:\n{OK_JOB}    data:\n      filter: {{a: 1}}\n"
    ));
    let e = assert_error(&errors, "jobs[0].data", InvalidValue, 6, 7);
    assert!(e.message.contains("query parameters"), "{e}");
    load_ok(&format!(
        "jobs:\n{OK_JOB}    data:\n      ids: [1, 2]\n      q: \"${{Q}}\"\n"
    ));
}

#[test]
fn warden_policies_are_parsed_and_bad_ones_reported() {
    let file = load_ok(&format!(
        "jobs:\n{OK_JOB}    queue: reports\n    priority: high\n    overlap: allow\n    missed: all\n    dst: {{gap: skip, fold: both}}\n    timezone: Europe/Paris\n"
    ));
    let job = &file.jobs()[0];
    assert_eq!(job.queue().as_str(), "reports");
    assert_eq!(job.schedule().tz_name(), "Europe/Paris");
    assert_eq!(job.schedule().dst().gap, warden_core::GapPolicy::Skip);
    let errors = errors_of(&format!(
        "jobs:\n{OK_JOB}    queue: \"a b\"\n    priority: urgent\n    overlap: maybe\n    dst: {{gap: jump, when: now}}\n"
    ));
    assert_error(&errors, "jobs[0].queue", InvalidValue, 5, 12);
    assert_error(&errors, "jobs[0].priority", InvalidValue, 6, 15);
    assert_error(&errors, "jobs[0].overlap", InvalidValue, 7, 14);
    assert_error(&errors, "jobs[0].dst.gap", InvalidValue, 8, 16);
    assert_error(&errors, "jobs[0].dst.when", UnknownKey, 8, 22);
}

#[test]
fn global_headers_merge_and_job_headers_win_case_insensitively() {
    let file = load_ok(&format!(
        "global:\n  defaultHeaders:\n    content-type: text/plain\n    X-Trace: \"${{TRACE}}\"\njobs:\n{OK_JOB}    headers:\n      Content-Type: application/json\n"
    ));
    let h: Vec<(String, String)> = file.jobs()[0]
        .headers()
        .iter()
        .map(|h| (h.name().into(), h.value().to_string()))
        .collect();
    assert_eq!(
        h,
        [
            ("Content-Type".into(), "application/json".into()),
            ("X-Trace".into(), "${TRACE}".into())
        ]
    );
    let r = &file.jobs()[0].references()[0];
    assert_eq!(
        (r.field.as_str(), r.loc.line),
        ("global.defaultHeaders.X-Trace", 4)
    );
}

#[test]
fn syntax_errors_carry_the_parser_location() {
    let errors = errors_of("jobs:\n  - name: \"unterminated\n");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].kind, Syntax);
    assert!(errors[0].line >= 2, "{}", errors[0]);
    let tags = errors_of(&format!("jobs:\n{OK_JOB}    description: !custom x\n"));
    assert_eq!((tags[0].kind, tags[0].line), (Syntax, 5));
    let docs = errors_of("jobs: []\n---\njobs: []\n");
    assert_eq!((docs[0].kind, docs[0].line), (Limit, 2));
}
