//! Redirects: every hop checked against the egress policy, and the hop count limited.

use warden_exec::http::{HttpErrorKind, HttpOutcome};

use crate::support::{TestServer, client, get, loopback_allowed, run};

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
