//! A `${VAR}` in a URL's path stays inside its one segment, whatever its value: it cannot add
//! segments, climb with `..`, start a query or a fragment, or smuggle a percent escape.

use jiff::Timestamp;
use proptest::prelude::*;
use warden_exec::{
    Builtins, ChainSecrets, Env,
    template::{ResolveError, resolve_request},
};

use crate::load_ok;

const FILE: &str = "jobs:
  - name: item
    schedule: \"* * * * *\"
    url: \"https://api.example.com/v1/items/${ID}/detail?x=1\"
";

fn resolve_url(id: &str) -> Result<String, ResolveError> {
    let file = load_ok(FILE);
    let builtins = Builtins {
        scheduled_at: Timestamp::UNIX_EPOCH,
        job_name: "item".into(),
        run_id: "r".into(),
    };
    let env = Env::fixed([("ID", id)]);
    resolve_request(&file.jobs()[0], &env, &builtins, &ChainSecrets::new())
        .map(|r| r.url().to_owned())
}

/// Percent-decoding of one segment (the test's own, to stay independent of the encoder).
fn decode(segment: &str) -> Vec<u8> {
    let bytes = segment.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// What the HTTP client will call for `id`: parsed as the client parses it.
fn assert_stays_in_its_segment(id: &str) -> Result<(), TestCaseError> {
    match resolve_url(id) {
        Err(ResolveError::DotSegmentInPath { name }) => {
            prop_assert_eq!(name, "ID");
            prop_assert!(id == "." || id == "..", "refused {:?}", id);
        }
        Err(other) => prop_assert!(false, "unexpected error {other}"),
        Ok(url) => {
            let parsed = reqwest::Url::parse(&url).unwrap();
            prop_assert_eq!(parsed.host_str(), Some("api.example.com"));
            prop_assert_eq!(parsed.query(), Some("x=1"));
            prop_assert_eq!(parsed.fragment(), None);
            let segments: Vec<&str> = parsed.path_segments().unwrap().collect();
            prop_assert_eq!(segments.len(), 4, "{}", url);
            prop_assert_eq!(
                (segments[0], segments[1], segments[3]),
                ("v1", "items", "detail")
            );
            prop_assert_eq!(decode(segments[2]), id.as_bytes().to_vec(), "{}", url);
        }
    }
    Ok(())
}

#[test]
fn separators_and_dots_in_a_path_value_are_encoded_or_refused() {
    let cases = [
        ("../../admin", "..%2F..%2Fadmin"),
        ("a/b", "a%2Fb"),
        ("a?b#c", "a%3Fb%23c"),
        ("100%", "100%25"),
        ("%2e%2e", "%252e%252e"),
        ("a\\b", "a%5Cb"),
        ("x..y", "x..y"),
    ];
    for (id, segment) in cases {
        assert_eq!(
            resolve_url(id).unwrap(),
            format!("https://api.example.com/v1/items/{segment}/detail?x=1"),
            "{id}"
        );
    }
    for id in [".", ".."] {
        let err = resolve_url(id).unwrap_err();
        assert!(
            matches!(err, ResolveError::DotSegmentInPath { ref name } if name == "ID"),
            "{id}: {err}"
        );
        assert!(err.to_string().contains("`ID`"), "{err}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_value_stays_in_its_path_segment(id in any::<String>()) {
        assert_stays_in_its_segment(&id)?;
    }

    #[test]
    fn separator_heavy_values_stay_in_their_path_segment(id in "[./?#%\\\\a2eE]{0,12}") {
        assert_stays_in_its_segment(&id)?;
    }
}
