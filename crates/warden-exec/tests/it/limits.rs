//! Resource limits: hostile files are refused quickly, with a location.

use std::time::{Duration, Instant};

use warden_exec::{LoadErrorKind, jobsfile};

use crate::errors_of;

fn billion_laughs() -> String {
    let mut text = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for pair in names.windows(2) {
        let refs = vec![format!("*{}", pair[0]); 9].join(",");
        text.push_str(&format!("{}: &{} [{refs}]\n", pair[1], pair[1]));
    }
    text.push_str("jobs: []\n");
    text
}

#[test]
fn a_billion_laughs_file_is_refused_quickly() {
    let text = billion_laughs();
    let start = Instant::now();
    let errors = errors_of(&text);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(2), "took {took:?}");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].kind, LoadErrorKind::Limit, "{}", errors[0]);
    assert!(errors[0].line > 0, "{}", errors[0]);
}

#[test]
fn deep_nesting_is_refused() {
    let text = format!("jobs: []\nx: {}{}\n", "[".repeat(200), "]".repeat(200));
    let errors = errors_of(&text);
    assert_eq!(errors[0].kind, LoadErrorKind::Limit, "{}", errors[0]);
    assert_eq!(errors[0].line, 2);
}

#[test]
fn files_over_one_mebibyte_are_refused_before_parsing() {
    let text = format!("jobs: []\n#{}\n", "x".repeat(jobsfile::MAX_FILE_BYTES));
    let errors = errors_of(&text);
    assert_eq!(errors[0].kind, LoadErrorKind::TooLarge);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.yaml");
    std::fs::write(&path, &text).unwrap();
    let err = jobsfile::load(&path).unwrap_err();
    assert_eq!(err.errors()[0].kind, LoadErrorKind::TooLarge);
    assert!(err.errors()[0].file.ends_with("big.yaml"));
}

#[test]
fn an_unreadable_file_is_one_io_error() {
    let err = jobsfile::load("/nonexistent/jobs.yaml").unwrap_err();
    assert_eq!(err.len(), 1);
    assert_eq!(err.errors()[0].kind, LoadErrorKind::Io);
    assert!(
        err.to_string()
            .starts_with("/nonexistent/jobs.yaml: cannot open the file"),
        "{err}"
    );
}

#[test]
fn small_anchors_and_merge_keys_still_work() {
    let text = "\
defaults: &d
  schedule: \"*/5 * * * *\"
  url: \"https://example.com/\"
jobs:
  - <<: *d
    name: one
  - <<: *d
    name: two
";
    // `defaults` is not a key of the format: anchors must live inside known keys.
    let errors = errors_of(text);
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].kind, LoadErrorKind::UnknownKey);
    let ok = "\
jobs:
  - &base
    name: one
    schedule: \"*/5 * * * *\"
    url: \"https://example.com/\"
  - <<: *base
    name: two
";
    let file = crate::load_ok(ok);
    assert_eq!(file.jobs()[1].name(), "two");
    assert_eq!(
        file.jobs()[1].url().as_literal(),
        Some("https://example.com/")
    );
}
