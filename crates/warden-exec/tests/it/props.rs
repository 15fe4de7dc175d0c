//! Property tests: the loader never panics, whatever the input.

use proptest::prelude::*;
use warden_exec::{Redactor, jobsfile};

/// Text built from YAML's structural characters, keys of the format and references.
fn yamlish() -> impl Strategy<Value = String> {
    let atoms = prop_oneof![
        Just("\n".to_owned()),
        Just("  ".to_owned()),
        Just("- ".to_owned()),
        Just(": ".to_owned()),
        Just("jobs".to_owned()),
        Just("global".to_owned()),
        Just("name".to_owned()),
        Just("schedule".to_owned()),
        Just("url".to_owned()),
        Just("headers".to_owned()),
        Just("data".to_owned()),
        Just("timeout".to_owned()),
        Just("\"*/5 * * * *\"".to_owned()),
        Just("\"https://e.com/${A}\"".to_owned()),
        Just("&a ".to_owned()),
        Just("*a".to_owned()),
        Just("<<: ".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just(", ".to_owned()),
        Just("'".to_owned()),
        Just("\"".to_owned()),
        Just("#".to_owned()),
        Just("!!str ".to_owned()),
        Just("---\n".to_owned()),
        "[a-z0-9$]{1,6}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(atoms, 0..80).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_arbitrary_text(s in any::<String>()) {
        let _ = jobsfile::parse(&s, "fuzz.yaml");
    }

    #[test]
    fn parse_never_panics_on_yaml_like_text(s in yamlish()) {
        if let Err(errors) = jobsfile::parse(&s, "fuzz.yaml") {
            prop_assert!(!errors.is_empty());
            for e in errors.iter() {
                prop_assert_eq!(&e.file, "fuzz.yaml");
            }
        }
    }

    #[test]
    fn redacted_text_never_contains_the_secret(
        secret in "[a-z0-9]{4,12}",
        before in "[ -~]{0,20}",
        after in "[ -~]{0,20}",
    ) {
        let s = secrecy::SecretString::from(secret.clone());
        let red = Redactor::new([&s]);
        let out = red.redact(&format!("{before}{secret}{after}")).into_owned();
        prop_assert!(!out.contains(&secret), "{}", out);
    }
}
