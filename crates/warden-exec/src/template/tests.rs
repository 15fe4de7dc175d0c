//! Parser tests for [`Template`]: syntax, escapes, built-ins, secret references.

use proptest::prelude::*;

use super::*;

fn lit(s: &str) -> Part {
    Part::Literal(s.to_owned())
}

#[test]
fn variables_builtins_and_literals_are_split() {
    let t = Template::parse("Bearer ${TOKEN} at ${NOW} for ${JOB_NAME}/${RUN_ID}").unwrap();
    assert_eq!(
        t.parts(),
        &[
            lit("Bearer "),
            Part::Var("TOKEN".into()),
            lit(" at "),
            Part::Builtin(Builtin::Now),
            lit(" for "),
            Part::Builtin(Builtin::JobName),
            lit("/"),
            Part::Builtin(Builtin::RunId),
        ]
    );
    assert_eq!(t.variables().collect::<Vec<_>>(), ["TOKEN"]);
}

#[test]
fn double_dollar_brace_is_a_literal_dollar_brace() {
    let t = Template::parse("cost: $${PRICE} and $5 and $$ and ${A}").unwrap();
    assert_eq!(
        t.parts(),
        &[
            lit("cost: ${PRICE} and $5 and $$ and "),
            Part::Var("A".into())
        ]
    );
    assert_eq!(t.to_string(), "cost: $${PRICE} and $5 and $$ and ${A}");
    assert_eq!(Template::parse("$${").unwrap().as_literal(), Some("${"));
    assert_eq!(
        Template::parse("$$${A}").unwrap().as_literal(),
        Some("$${A}")
    );
}

#[test]
fn malformed_references_are_errors_with_a_position() {
    assert_eq!(
        Template::parse("ab ${A"),
        Err(TemplateError::Unterminated { at: 3 })
    );
    assert_eq!(
        Template::parse("${}"),
        Err(TemplateError::EmptyName { at: 0 })
    );
    for bad in ["${1A}", "${A-B}", "${A:-x}", "${ A }", "${a.b}", "${é}"] {
        assert!(
            matches!(Template::parse(bad), Err(TemplateError::InvalidName { .. })),
            "{bad}"
        );
    }
    let msg = Template::parse("x${A:-x}").unwrap_err().to_string();
    assert!(
        msg.contains("not supported") && msg.contains("$${"),
        "{msg}"
    );
}

#[test]
fn a_whole_secret_reference_is_recognised_and_its_name_checked() {
    let t = Template::parse("secret://jwt_token").unwrap();
    assert_eq!(t.secret_ref(), Some("jwt_token"));
    assert!(t.parts().is_empty());
    assert_eq!(t.to_string(), "secret://jwt_token");
    for bad in [
        "secret://",
        "secret://../x",
        "secret://a/b",
        "secret://.hidden",
    ] {
        assert!(
            matches!(Template::parse(bad), Err(TemplateError::SecretName(_))),
            "{bad}"
        );
    }
    // Only the whole value is a reference.
    assert!(
        Template::parse("Bearer secret://x")
            .unwrap()
            .as_literal()
            .is_some()
    );
}

#[test]
fn literal_templates_need_no_resolution() {
    assert_eq!(Template::parse("").unwrap().as_literal(), Some(""));
    assert!(!Template::parse("plain").unwrap().has_references());
    assert!(Template::parse("${A}").unwrap().has_references());
}

proptest! {
    #[test]
    fn the_parser_never_panics(s in any::<String>()) {
        let _ = Template::parse(&s);
    }

    #[test]
    fn the_parser_never_panics_on_dollar_heavy_input(s in "[$\\{\\}A-Z_a-z0-9: -]{0,40}") {
        let _ = Template::parse(&s);
    }

    #[test]
    fn literals_round_trip_through_the_source_syntax(s in any::<String>()) {
        prop_assume!(!s.starts_with(SECRET_SCHEME));
        let t = Template::literal(&s);
        let back = Template::parse(&t.to_string()).unwrap();
        prop_assert_eq!(back.as_literal(), Some(s.as_str()));
    }

    #[test]
    fn dollar_heavy_literals_round_trip(s in "[$\\{\\}a]{0,24}") {
        let t = Template::literal(&s);
        prop_assert_eq!(Template::parse(&t.to_string()).unwrap(), t);
    }

    #[test]
    fn parsed_templates_print_back_to_an_equal_template(s in "[$\\{\\}A-Z_a-z ]{0,40}") {
        if let Ok(t) = Template::parse(&s) {
            prop_assert_eq!(Template::parse(&t.to_string()), Ok(t));
        }
    }
}
