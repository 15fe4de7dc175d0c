//! Redirects: every hop checked against the egress policy, the hop count limited, secret
//! headers dropped on a hop to another origin, and the method and body of each hop.

use std::time::Duration;

use reqwest::Method;
use secrecy::SecretString;
use warden_exec::Redactor;
use warden_exec::http::{Failure, HttpErrorKind, HttpOptions, HttpOutcome, HttpRequest};

use crate::support::{Seen, TestServer, client, get, loopback_allowed, run};

fn redirect_to(server: &TestServer, target: &str) -> reqwest::Url {
    let mut url: reqwest::Url = server.url("/redirect").parse().unwrap();
    url.query_pairs_mut().append_pair("to", target);
    url
}

#[tokio::test]
async fn a_redirect_to_another_loopback_address_is_refused_without_connecting() {
    let server = TestServer::start("127.0.0.1:0").await;
    let other = TestServer::start("127.0.0.2:0").await;
    let mut req = get("http://unused.invalid/");
    req.url = redirect_to(&server, &other.url("/echo"));

    let outcome = run(&client(loopback_allowed()), req).await;

    let error = outcome.error().expect("an error").clone();
    assert!(matches!(outcome, HttpOutcome::Fail(_)), "{outcome:?}");
    assert_eq!(error.kind, HttpErrorKind::Egress);
    assert!(
        error
            .message
            .contains("address 127.0.0.2 is blocked (loopback 127.0.0.0/8)"),
        "{error}"
    );
    assert_eq!(server.connections(), 1);
    assert_eq!(other.connections(), 0);
}

#[tokio::test]
async fn a_redirect_to_the_metadata_address_is_refused() {
    let server = TestServer::start("127.0.0.1:0").await;
    let mut req = get("http://unused.invalid/");
    req.url = redirect_to(&server, "http://169.254.169.254/latest/meta-data/");
    let outcome = run(&client(loopback_allowed()), req).await;
    let error = outcome.error().expect("an error").clone();
    assert!(matches!(outcome, HttpOutcome::Fail(_)), "{outcome:?}");
    assert_eq!(error.kind, HttpErrorKind::Egress);
    assert!(error.message.contains("169.254.169.254"), "{error}");
    assert!(error.message.contains("link-local"), "{error}");
}

#[tokio::test]
async fn a_redirect_to_an_odd_spelling_is_refused_as_the_real_address() {
    let server = TestServer::start("127.0.0.1:0").await;
    let mut req = get("http://unused.invalid/");
    req.url = redirect_to(&server, "http://0xa9.0376.43518/");
    let outcome = run(&client(loopback_allowed()), req).await;
    let error = outcome.error().expect("an error");
    assert_eq!(error.kind, HttpErrorKind::Egress);
    assert!(error.message.contains("169.254.169.254"), "{error}");
}

#[tokio::test]
async fn a_redirect_to_a_host_resolving_only_to_blocked_addresses_is_refused() {
    // 127.0.0.1 is open but `localhost` may also be ::1; with only 127.0.0.2 open, every
    // address of `localhost` is blocked.
    let server = TestServer::start("127.0.0.2:0").await;
    let policy = warden_exec::egress::EgressPolicy {
        allow: vec!["127.0.0.2/32".parse().unwrap()],
        https_only: false,
    };
    let mut req = get("http://unused.invalid/");
    req.url = redirect_to(&server, &format!("http://localhost:{}/echo", server.port()));
    let outcome = run(&client(policy), req).await;
    let error = outcome.error().expect("an error").clone();
    assert!(matches!(outcome, HttpOutcome::Fail(_)), "{outcome:?}");
    assert_eq!(error.kind, HttpErrorKind::Egress);
    assert!(error.message.contains("host `localhost`"), "{error}");
}

#[tokio::test]
async fn five_redirects_are_followed() {
    let server = TestServer::start("127.0.0.1:0").await;
    let outcome = run(&client(loopback_allowed()), get(&server.url("/hops/5"))).await;
    let HttpOutcome::Success(record) = outcome else {
        panic!("expected success, got {outcome:?}")
    };
    assert_eq!(record.body_excerpt, "arrived");
}

#[tokio::test]
async fn a_sixth_redirect_fails() {
    let server = TestServer::start("127.0.0.1:0").await;
    let outcome = run(&client(loopback_allowed()), get(&server.url("/hops/6"))).await;
    let error = outcome.error().expect("an error").clone();
    assert!(matches!(outcome, HttpOutcome::Fail(_)), "{outcome:?}");
    assert_eq!(error.kind, HttpErrorKind::TooManyRedirects);
    assert_eq!(error.message, "too many redirects: more than 5 hops");
}

#[tokio::test]
async fn a_redirect_loop_fails() {
    let server = TestServer::start("127.0.0.1:0").await;
    let outcome = run(&client(loopback_allowed()), get(&server.url("/loop/0"))).await;
    assert!(matches!(outcome, HttpOutcome::Fail(_)), "{outcome:?}");
    assert_eq!(
        outcome.error().unwrap().kind,
        HttpErrorKind::TooManyRedirects
    );
}

/// `server`'s `/redirect/{code}` answering with `Location: target`.
fn redirect_with(server: &TestServer, code: u16, target: &str) -> reqwest::Url {
    let mut url: reqwest::Url = server.url(&format!("/redirect/{code}")).parse().unwrap();
    url.query_pairs_mut().append_pair("to", target);
    url
}

const API_KEY: &str = "k-9f8e7d6c5b4a";
const BEARER: &str = "Bearer t-0a1b2c3d4e5f";

/// A job's headers: secrets under sensitive names, and two harmless ones.
fn secret_headers() -> Vec<(String, String)> {
    [
        ("X-API-Key", API_KEY),
        ("Authorization", BEARER),
        ("X-Auth-Token", "tok-11223344"),
        ("Cookie", "session=c-55667788"),
        ("Proxy-Authorization", "Basic cHJveHk6cHc="),
        ("X-Client-Secret", "cs-99aabbcc"),
        ("Accept", "application/json"),
        ("X-Trace", "trace-1"),
    ]
    .into_iter()
    .map(|(n, v)| (n.to_owned(), v.to_owned()))
    .collect()
}

const SECRET_NAMES: &[&str] = &[
    "x-api-key",
    "authorization",
    "x-auth-token",
    "cookie",
    "proxy-authorization",
    "x-client-secret",
];

/// Asserts that `seen` carried every header of [`secret_headers`] with its value.
#[track_caller]
fn assert_has_secrets(seen: &Seen) {
    for (name, value) in secret_headers() {
        assert_eq!(
            seen.headers.get(name.as_str()).map(|v| v.to_str().unwrap()),
            Some(value.as_str()),
            "{name} missing at {}: {:?}",
            seen.uri,
            seen.headers
        );
    }
}

/// Asserts that `seen` carried no sensitive header and none of their values, but the harmless
/// ones.
#[track_caller]
fn assert_no_secrets(seen: &Seen) {
    for name in SECRET_NAMES {
        assert!(
            !seen.headers.contains_key(*name),
            "{name} reached {}: {:?}",
            seen.uri,
            seen.headers
        );
    }
    let secret_values: Vec<String> = secret_headers()
        .into_iter()
        .filter(|(n, _)| SECRET_NAMES.contains(&n.to_ascii_lowercase().as_str()))
        .map(|(_, v)| v)
        .collect();
    for value in seen.headers.values() {
        let value = value.to_str().unwrap();
        assert!(
            !secret_values.iter().any(|s| value.contains(s.as_str())),
            "a secret value reached {}: {value}",
            seen.uri
        );
    }
    assert_eq!(seen.headers["accept"], "application/json");
    assert_eq!(seen.headers["x-trace"], "trace-1");
    assert!(!seen.headers.contains_key("referer"), "{:?}", seen.headers);
}

#[tokio::test]
async fn a_redirect_to_another_origin_carries_no_secret_header() {
    let first = TestServer::start("127.0.0.1:0").await;
    // Same address, another port: another origin.
    let second = TestServer::start("127.0.0.1:0").await;
    let mut req = get("http://unused.invalid/");
    req.url = redirect_with(&first, 302, &second.url("/echo"));
    req.headers = secret_headers();

    let outcome = run(&client(loopback_allowed()), req).await;

    assert!(
        matches!(outcome, HttpOutcome::Success(ref r) if r.status == 200),
        "{outcome:?}"
    );
    let [at_first] = first
        .requests()
        .try_into()
        .expect("one request at the first");
    assert_has_secrets(&at_first);
    let [at_second] = second
        .requests()
        .try_into()
        .expect("one request at the second");
    assert_eq!(at_second.uri, "/echo");
    assert_no_secrets(&at_second);
}

#[tokio::test]
async fn every_followed_status_drops_secret_headers_across_origins() {
    let first = TestServer::start("127.0.0.1:0").await;
    let second = TestServer::start("127.0.0.1:0").await;
    let client = client(loopback_allowed());
    for code in [301, 302, 303, 307, 308] {
        let mut req = get("http://unused.invalid/");
        req.url = redirect_with(&first, code, &second.url(&format!("/echo?code={code}")));
        req.headers = secret_headers();
        let outcome = run(&client, req).await;
        assert!(
            matches!(outcome, HttpOutcome::Success(_)),
            "{code}: {outcome:?}"
        );
    }
    let seen = second.requests();
    assert_eq!(seen.len(), 5);
    seen.iter().for_each(assert_no_secrets);
    first.requests().iter().for_each(assert_has_secrets);
}

#[tokio::test]
async fn a_same_origin_redirect_keeps_the_headers() {
    let server = TestServer::start("127.0.0.1:0").await;
    let mut req = get("http://unused.invalid/");
    // A relative Location, resolved against the current URL.
    req.url = redirect_with(&server, 302, "/echo?next=1");
    req.headers = secret_headers();

    let outcome = run(&client(loopback_allowed()), req).await;

    assert!(matches!(outcome, HttpOutcome::Success(_)), "{outcome:?}");
    let seen = server.requests();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[1].uri, "/echo?next=1");
    seen.iter().for_each(assert_has_secrets);
    assert!(!seen[1].headers.contains_key("referer"));
}

#[tokio::test]
async fn headers_dropped_on_the_way_out_do_not_come_back_with_the_origin() {
    let first = TestServer::start("127.0.0.1:0").await;
    let second = TestServer::start("127.0.0.1:0").await;
    let back = first.url("/echo?back=1");
    let mut req = get("http://unused.invalid/");
    req.url = redirect_with(&first, 302, redirect_with(&second, 302, &back).as_str());
    req.headers = secret_headers();

    let outcome = run(&client(loopback_allowed()), req).await;

    assert!(matches!(outcome, HttpOutcome::Success(_)), "{outcome:?}");
    let seen = first.requests();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_has_secrets(&seen[0]);
    assert_eq!(seen[1].uri, "/echo?back=1");
    assert_no_secrets(&seen[1]);
    second.requests().iter().for_each(assert_no_secrets);
}

#[tokio::test]
async fn a_header_holding_a_secret_value_is_dropped_across_origins_whatever_its_name() {
    let first = TestServer::start("127.0.0.1:0").await;
    let second = TestServer::start("127.0.0.1:0").await;
    let signing_key = "sig-4d3c2b1a0f9e";
    let mut req = get("http://unused.invalid/");
    req.url = redirect_with(&first, 307, &second.url("/echo"));
    req.headers = vec![
        ("X-Signature".into(), format!("v1={signing_key}")),
        ("X-Trace".into(), "trace-1".into()),
    ];
    let redactor = Redactor::new([&SecretString::from(signing_key)]);

    let client = client(loopback_allowed());
    let outcome = client.execute(req, &redactor).await;

    assert!(matches!(outcome, HttpOutcome::Success(_)), "{outcome:?}");
    let [at_first] = first.requests().try_into().unwrap();
    assert_eq!(at_first.headers["x-signature"], "v1=sig-4d3c2b1a0f9e");
    let [at_second] = second.requests().try_into().unwrap();
    assert!(
        !at_second.headers.contains_key("x-signature"),
        "{:?}",
        at_second.headers
    );
    assert_eq!(at_second.headers["x-trace"], "trace-1");
}

fn post(url: reqwest::Url, body: &str) -> HttpRequest {
    HttpRequest {
        method: Method::POST,
        url,
        headers: vec![("X-API-Key".into(), API_KEY.into())],
        body: Some(body.as_bytes().to_vec()),
        query: Vec::new(),
        timeout: Duration::from_secs(10),
    }
}

#[tokio::test]
async fn see_other_after_post_continues_as_get_without_body() {
    let server = TestServer::start("127.0.0.1:0").await;
    let req = post(redirect_with(&server, 303, "/echo"), r#"{"a":1}"#);

    let outcome = run(&client(loopback_allowed()), req).await;

    assert!(matches!(outcome, HttpOutcome::Success(_)), "{outcome:?}");
    let [first, second] = server.requests().try_into().unwrap();
    assert_eq!(first.method, Method::POST);
    assert_eq!(first.body, r#"{"a":1}"#);
    assert_eq!(first.headers["content-type"], "application/json");
    assert_eq!(second.method, Method::GET);
    assert!(second.body.is_empty(), "{:?}", second.body);
    assert!(
        !second.headers.contains_key("content-type"),
        "{:?}",
        second.headers
    );
    assert!(
        second
            .headers
            .get("content-length")
            .is_none_or(|v| v == "0"),
        "{:?}",
        second.headers
    );
    // Same origin: the key stays.
    assert_eq!(second.headers["x-api-key"], API_KEY);
}

#[tokio::test]
async fn moved_and_found_after_post_continue_as_get_without_body() {
    let server = TestServer::start("127.0.0.1:0").await;
    let client = client(loopback_allowed());
    for code in [301, 302] {
        let req = post(redirect_with(&server, code, "/echo"), r#"{"a":1}"#);
        let outcome = run(&client, req).await;
        assert!(
            matches!(outcome, HttpOutcome::Success(_)),
            "{code}: {outcome:?}"
        );
    }
    let seen = server.requests();
    assert_eq!(seen.len(), 4, "{seen:?}");
    for followed in [&seen[1], &seen[3]] {
        assert_eq!(followed.method, Method::GET);
        assert!(followed.body.is_empty());
        assert!(!followed.headers.contains_key("content-type"));
    }
}

#[tokio::test]
async fn temporary_and_permanent_redirects_keep_post_and_body() {
    let server = TestServer::start("127.0.0.1:0").await;
    let other = TestServer::start("127.0.0.1:0").await;
    let client = client(loopback_allowed());
    for code in [307, 308] {
        let req = post(redirect_with(&server, code, "/echo"), r#"{"a":1}"#);
        let outcome = run(&client, req).await;
        assert!(
            matches!(outcome, HttpOutcome::Success(_)),
            "{code}: {outcome:?}"
        );
        // Across origins too: the body stays, the key does not.
        let req = post(
            redirect_with(&server, code, &other.url("/echo")),
            r#"{"b":2}"#,
        );
        let outcome = run(&client, req).await;
        assert!(
            matches!(outcome, HttpOutcome::Success(_)),
            "{code}: {outcome:?}"
        );
    }
    let seen = server.requests();
    assert_eq!(seen.len(), 6, "{seen:?}");
    for followed in [&seen[1], &seen[4]] {
        assert_eq!(followed.uri, "/echo");
        assert_eq!(followed.method, Method::POST);
        assert_eq!(followed.body, r#"{"a":1}"#);
        assert_eq!(followed.headers["content-type"], "application/json");
        assert_eq!(followed.headers["x-api-key"], API_KEY);
    }
    let seen = other.requests();
    assert_eq!(seen.len(), 2, "{seen:?}");
    for followed in &seen {
        assert_eq!(followed.method, Method::POST);
        assert_eq!(followed.body, r#"{"b":2}"#);
        assert_eq!(followed.headers["content-type"], "application/json");
        assert!(!followed.headers.contains_key("x-api-key"));
    }
}

#[tokio::test]
async fn a_redirect_without_location_fails() {
    let server = TestServer::start("127.0.0.1:0").await;
    let outcome = run(&client(loopback_allowed()), get(&server.url("/status/302"))).await;
    let error = outcome.error().expect("an error").clone();
    assert!(matches!(outcome, HttpOutcome::Fail(_)), "{outcome:?}");
    assert_eq!(error.kind, HttpErrorKind::InvalidRequest);
    assert_eq!(error.message, "redirect 302 without a Location header");
}

#[tokio::test]
async fn a_redirect_to_an_invalid_location_fails() {
    let server = TestServer::start("127.0.0.1:0").await;
    let mut req = get("http://unused.invalid/");
    req.url = redirect_with(&server, 302, "http://[::1/");
    let outcome = run(&client(loopback_allowed()), req).await;
    let error = outcome.error().expect("an error").clone();
    assert!(matches!(outcome, HttpOutcome::Fail(_)), "{outcome:?}");
    assert_eq!(error.kind, HttpErrorKind::InvalidRequest);
    assert!(error.message.contains("not a valid URL"), "{error}");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn a_redirect_to_another_scheme_is_refused() {
    let server = TestServer::start("127.0.0.1:0").await;
    let mut req = get("http://unused.invalid/");
    req.url = redirect_with(&server, 302, "file:///etc/passwd");
    let outcome = run(&client(loopback_allowed()), req).await;
    let error = outcome.error().expect("an error");
    assert_eq!(error.kind, HttpErrorKind::Egress, "{error}");
}

#[tokio::test]
async fn the_hop_limit_is_the_configured_one() {
    let server = TestServer::start("127.0.0.1:0").await;
    let options = HttpOptions {
        max_redirects: 1,
        ..HttpOptions::default()
    };
    let client = warden_exec::http::HttpClient::new(loopback_allowed(), options).unwrap();
    let outcome = run(&client, get(&server.url("/hops/1"))).await;
    assert!(matches!(outcome, HttpOutcome::Success(_)), "{outcome:?}");
    let outcome = run(&client, get(&server.url("/hops/2"))).await;
    let error = outcome.error().expect("an error");
    assert_eq!(error.kind, HttpErrorKind::TooManyRedirects);
    assert_eq!(error.message, "too many redirects: more than 1 hops");
    // The refused third hop was never requested: /hops/2 and /hops/1 only.
    assert_eq!(server.requests().len(), 2 + 2);
}

#[tokio::test]
async fn the_timeout_covers_every_hop_together() {
    let server = TestServer::start("127.0.0.1:0").await;
    // Each hop takes 200 ms, well under the timeout; five of them do not fit in it.
    let mut req = get(&server.url("/slow-hops/4"));
    req.timeout = Duration::from_millis(500);
    let started = std::time::Instant::now();
    let outcome = run(&client(loopback_allowed()), req).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let error = outcome.error().expect("an error").clone();
    assert!(
        matches!(outcome, HttpOutcome::Retry { after: None, .. }),
        "{outcome:?}"
    );
    assert_eq!(error.kind, HttpErrorKind::Timeout, "{error}");
    assert!(
        server.requests().len() <= 3,
        "{:?}",
        server.requests().len()
    );
}

#[tokio::test]
async fn a_307_or_308_carrying_a_secret_body_to_another_origin_is_refused() {
    let server = TestServer::start("127.0.0.1:0").await;
    let other = TestServer::start("127.0.0.1:0").await;
    let client = client(loopback_allowed());
    let secret = "body-s3cret-7f6e5d";
    let redact = move |t: &str| t.replace(secret, "[REDACTED]");
    for code in [307, 308] {
        let req = post(
            redirect_with(&server, code, &other.url("/echo")),
            &format!(r#"{{"token":"{secret}"}}"#),
        );
        let outcome = client.execute(req, &redact).await;
        let HttpOutcome::Fail(Failure::Error(error)) = &outcome else {
            panic!("{code}: expected a refused redirect, got {outcome:?}")
        };
        assert_eq!(error.kind, HttpErrorKind::Redirect, "{code}");
        assert!(
            error.message.contains(&format!("the {code} redirect"))
                && error.message.contains("another origin")
                && error.message.contains("secret"),
            "{}",
            error.message
        );
        assert!(!error.message.contains(secret), "{}", error.message);
        // Same origin: followed, body and all.
        let req = post(
            redirect_with(&server, code, "/echo"),
            &format!(r#"{{"token":"{secret}"}}"#),
        );
        let outcome = client.execute(req, &redact).await;
        assert!(matches!(outcome, HttpOutcome::Success(_)), "{outcome:?}");
    }
    assert!(other.requests().is_empty(), "{:?}", other.requests());
}
