//! Tests for allow rules, `check_ip` exceptions and `check_url`, including how the URL parser
//! normalises odd IPv4 spellings.

use std::net::{IpAddr, Ipv4Addr};

use reqwest::Url;
use url::Host;

use super::*;

fn allow(rules: &[&str]) -> EgressPolicy {
    EgressPolicy {
        allow: rules.iter().map(|r| r.parse().unwrap()).collect(),
        https_only: false,
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn allow_rules_parse_cidrs_addresses_and_host_names() {
    let cases = [
        (
            "127.0.0.1/32",
            AllowRule::Net("127.0.0.1/32".parse().unwrap()),
        ),
        (
            "10.1.2.3/16",
            AllowRule::Net("10.1.0.0/16".parse().unwrap()),
        ),
        ("::1", AllowRule::Net("::1/128".parse().unwrap())),
        ("127.1", AllowRule::Net("127.0.0.1/32".parse().unwrap())),
        ("0x7f.1", AllowRule::Net("127.0.0.1/32".parse().unwrap())),
        (
            "API.Example.COM.",
            AllowRule::Host("api.example.com".into()),
        ),
        (
            "bücher.example",
            AllowRule::Host("xn--bcher-kva.example".into()),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(input.parse::<AllowRule>().unwrap(), expected, "{input}");
    }
}

#[test]
fn malformed_allow_rules_are_rejected_with_the_entry_named() {
    for bad in [
        "",
        "http://example.com",
        "a b",
        "user@host",
        "host:80",
        "10.0.0.0/33",
        "[::1]",
    ] {
        let err = bad.parse::<AllowRule>().unwrap_err();
        assert!(err.to_string().contains(&format!("`{bad}`")), "{err}");
    }
}

#[test]
fn policy_deserialises_from_configuration_and_rejects_unknown_keys() {
    let policy: EgressPolicy =
        serde_json::from_str(r#"{"allow": ["127.0.0.1/32", "api.internal"], "https_only": true}"#)
            .unwrap();
    assert_eq!(policy.allow.len(), 2);
    assert!(policy.https_only);
    assert!(serde_json::from_str::<EgressPolicy>(r#"{"allow": ["x y"]}"#).is_err());
    assert!(serde_json::from_str::<EgressPolicy>(r#"{"alow": []}"#).is_err());
    assert_eq!(
        serde_json::from_str::<EgressPolicy>("{}").unwrap(),
        EgressPolicy::new()
    );
}

#[test]
fn an_allow_cidr_opens_the_address_and_its_mapped_form_only() {
    let policy = allow(&["127.0.0.1/32"]);
    assert_eq!(policy.check_ip(ip("127.0.0.1")), Ok(()));
    assert_eq!(policy.check_ip(ip("::ffff:127.0.0.1")), Ok(()));
    for still_blocked in [
        "127.0.0.2",
        "::1",
        "64:ff9b::7f00:1",
        "2002:7f00:1::",
        "::127.0.0.1",
    ] {
        assert!(
            policy.check_ip(ip(still_blocked)).is_err(),
            "{still_blocked}"
        );
    }
}

#[test]
fn a_refusal_names_the_address_and_the_range() {
    let err = EgressPolicy::new()
        .check_ip(ip("169.254.169.254"))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "egress refused: address 169.254.169.254 is blocked (link-local (cloud metadata) \
         169.254.0.0/16); to permit it, start warden with `--egress-allow 169.254.169.254` \
         (or add it to `WARDEN_EGRESS_ALLOW`)"
    );
    let err = EgressPolicy::new()
        .check_ip(ip("64:ff9b::7f00:1"))
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("NAT64 64:ff9b::/96 form of 127.0.0.1"),
        "{err}"
    );
}

#[test]
fn host_allow_rules_match_case_insensitively_ignoring_a_trailing_dot() {
    let policy = allow(&["api.internal.example"]);
    assert!(policy.allows_host("API.internal.example."));
    assert!(!policy.allows_host("evil.api.internal.example"));
    assert!(!policy.allows_host("api.internal.example.evil"));
}

/// What the WHATWG URL parser (the `url` crate, used by reqwest) makes of odd IPv4 spellings:
/// all of them become the real IPv4 address before any check runs.
#[test]
fn the_url_parser_normalises_odd_ipv4_spellings_to_the_real_address() {
    let loopback = Host::Ipv4(Ipv4Addr::LOCALHOST);
    for spelling in [
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://0177.0.0.01/",
        "http://127.1/",
        "http://127.0.1/",
        "http://0x7F.0.0.1/",
        "http://127.0.0.1./",
        "http://\u{ff11}\u{ff12}\u{ff17}.\u{ff10}.\u{ff10}.\u{ff11}/",
        "http://%31%32%37.0.0.1/",
    ] {
        let url = Url::parse(spelling).unwrap();
        assert_eq!(url.host(), Some(loopback.clone()), "{spelling}");
        assert_eq!(url.host_str(), Some("127.0.0.1"), "{spelling}");
    }
    let url = Url::parse("http://0/").unwrap();
    assert_eq!(url.host(), Some(Host::Ipv4(Ipv4Addr::UNSPECIFIED)));
    let url = Url::parse("http://[::ffff:127.0.0.1]/").unwrap();
    assert_eq!(url.host_str(), Some("[::ffff:7f00:1]"));
    // Out-of-range numbers are a parse error, not a host name handed to DNS.
    for invalid in [
        "http://4294967296/",
        "http://127.0.0.256/",
        "http://0x1.0x1.0x1.0x1.0x1/",
    ] {
        assert!(Url::parse(invalid).is_err(), "{invalid}");
    }
}

#[test]
fn check_url_refuses_every_blocked_spelling_before_sending() {
    let policy = EgressPolicy::new();
    for spelling in [
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0177.0.0.1/",
        "http://127.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://[::ffff:7f00:1]/",
        "http://[64:ff9b::7f00:1]/",
        "http://[::1]/",
        "http://0.0.0.0/",
        "http://0/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://100.64.0.1/",
        "https://10.0.0.1/",
    ] {
        let url = Url::parse(spelling).unwrap();
        assert!(
            matches!(
                policy.check_url(&url),
                Err(EgressError::BlockedAddress { .. })
            ),
            "{spelling} was not refused"
        );
    }
}

#[test]
fn check_url_passes_public_literals_and_leaves_host_names_to_the_resolver() {
    let policy = EgressPolicy::new();
    for ok in [
        "https://93.184.215.14/",
        "http://[2606:4700::1111]/",
        "http://localhost/",
    ] {
        assert_eq!(policy.check_url(&Url::parse(ok).unwrap()), Ok(()), "{ok}");
    }
}

#[test]
fn https_only_refuses_plain_http_and_other_schemes_are_always_refused() {
    let policy = EgressPolicy {
        allow: Vec::new(),
        https_only: true,
    };
    let err = policy
        .check_url(&Url::parse("http://example.com/").unwrap())
        .unwrap_err();
    assert_eq!(
        err,
        EgressError::InsecureScheme {
            host: "example.com".into()
        }
    );
    assert_eq!(
        policy.check_url(&Url::parse("https://example.com/").unwrap()),
        Ok(())
    );
    for other in [
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://example.com/",
    ] {
        assert!(
            policy.check_url(&Url::parse(other).unwrap()).is_err(),
            "{other}"
        );
    }
}
