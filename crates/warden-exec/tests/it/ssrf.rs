//! The SSRF spellings of issue 4: all refused, and no connection reaches the server.

use warden_exec::egress::EgressPolicy;
use warden_exec::http::{HttpErrorKind, HttpOutcome};

use crate::support::{TestServer, client, get, loopback_allowed, run};

/// Hosts that must be refused; `{port}` is the test server's port.
const SPELLINGS: &[&str] = &[
    "2130706433",
    "0x7f.1",
    "0x7f000001",
    "0177.0.0.1",
    "127.1",
    "127.0.0.1",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[64:ff9b::7f00:1]",
    "[::127.0.0.1]",
    "[2002:7f00:1::]",
    "[::1]",
    "0.0.0.0",
    "0",
    "169.254.169.254",
    "[::ffff:169.254.169.254]",
    "[fd00:ec2::254]",
    "100.64.0.1",
    "10.0.0.1",
    "192.168.1.1",
    "localhost",
];

#[tokio::test]
async fn every_ssrf_spelling_is_refused_without_any_connection() {
    let server = TestServer::start("127.0.0.1:0").await;
    // Also listen on [::1] with the same port when possible, to catch IPv6 loopback.
    let server6 = TestServer::try_start(&format!("[::1]:{}", server.port())).await;
    let client = client(EgressPolicy::new());

    for host in SPELLINGS {
        let url = format!("http://{host}:{}/echo", server.port());
        let outcome = run(&client, get(&url)).await;
        let Some(error) = outcome.error() else {
            panic!("{url}: expected a refusal, got {outcome:?}")
        };
        assert!(
            matches!(outcome, HttpOutcome::Fail(_)),
            "{url}: {outcome:?}"
        );
        assert_eq!(error.kind, HttpErrorKind::Egress, "{url}: {error}");
        assert!(
            error.message.starts_with("egress refused: "),
            "{url}: {error}"
        );
    }

    assert_eq!(server.connections(), 0, "a refused call reached the server");
    if let Some(server6) = server6 {
        assert_eq!(server6.connections(), 0, "a refused call reached [::1]");
    }
}

#[tokio::test]
async fn refusals_name_the_real_address_and_range() {
    let client = client(EgressPolicy::new());
    let cases = [
        (
            "http://0x7f.1/",
            "address 127.0.0.1 is blocked (loopback 127.0.0.0/8)",
        ),
        (
            "http://2130706433/",
            "address 127.0.0.1 is blocked (loopback 127.0.0.0/8)",
        ),
        (
            "http://[64:ff9b::7f00:1]/",
            "address 64:ff9b::7f00:1 is blocked (NAT64 64:ff9b::/96 form of 127.0.0.1, which is \
             loopback 127.0.0.0/8)",
        ),
        (
            "http://[fd00:ec2::254]/",
            "address fd00:ec2::254 is blocked (unique-local fc00::/7)",
        ),
        (
            "http://100.64.0.1/",
            "address 100.64.0.1 is blocked (carrier-grade NAT 100.64.0.0/10)",
        ),
    ];
    for (url, expected) in cases {
        let outcome = run(&client, get(url)).await;
        let error = outcome.error().expect("an error");
        assert!(error.message.contains(expected), "{url}: {error}");
    }
}

#[tokio::test]
async fn a_host_name_resolving_only_to_blocked_addresses_is_refused() {
    let server = TestServer::start("127.0.0.1:0").await;
    let outcome = run(
        &client(EgressPolicy::new()),
        get(&server.url("/echo").replace("127.0.0.1", "localhost")),
    )
    .await;
    let error = outcome.error().expect("an error").clone();
    assert!(matches!(outcome, HttpOutcome::Fail(_)), "{outcome:?}");
    assert_eq!(error.kind, HttpErrorKind::Egress, "{error}");
    assert!(
        error
            .message
            .contains("host `localhost` resolves only to blocked addresses"),
        "{error}"
    );
    assert!(
        error.message.contains("127.0.0.1: loopback 127.0.0.0/8"),
        "{error}"
    );
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn an_odd_spelling_of_an_allowed_address_reaches_it() {
    // Spellings are not refused for looking odd: they are checked as the address they denote.
    let server = TestServer::start("127.0.0.1:0").await;
    let client = client(loopback_allowed());
    for host in [
        "0x7f.1",
        "2130706433",
        "0177.0.0.1",
        "127.1",
        "[::ffff:127.0.0.1]",
    ] {
        let url = format!("http://{host}:{}/echo", server.port());
        let outcome = run(&client, get(&url)).await;
        assert!(
            matches!(outcome, HttpOutcome::Success(_)),
            "{url}: {outcome:?}"
        );
    }
    assert!(server.connections() >= 1);
}

#[tokio::test]
async fn an_allowed_host_name_connects_only_to_its_allowed_address() {
    // `localhost` resolves to 127.0.0.1 and usually ::1. Only 127.0.0.1 is open; a trap server on
    // [::1] (same port) must see nothing, so success means the resolver handed out 127.0.0.1 alone.
    let server = TestServer::start("127.0.0.1:0").await;
    let trap = TestServer::try_start(&format!("[::1]:{}", server.port())).await;
    let url = format!("http://localhost:{}/echo", server.port());
    let client = client(loopback_allowed());
    for _ in 0..3 {
        let outcome = run(&client, get(&url)).await;
        assert!(matches!(outcome, HttpOutcome::Success(_)), "{outcome:?}");
    }
    assert_eq!(server.connections(), 1, "pooled connection reused");
    if let Some(trap) = trap {
        assert_eq!(
            trap.connections(),
            0,
            "connected to ::1, which is not allowed"
        );
    }
}

#[tokio::test]
async fn https_only_refuses_plain_http_without_connecting() {
    let server = TestServer::start("127.0.0.1:0").await;
    let policy = EgressPolicy {
        https_only: true,
        ..loopback_allowed()
    };
    let outcome = run(&client(policy), get(&server.url("/echo"))).await;
    let error = outcome.error().expect("an error").clone();
    assert!(matches!(outcome, HttpOutcome::Fail(_)), "{outcome:?}");
    assert_eq!(error.kind, HttpErrorKind::Egress);
    assert!(
        error.message.contains("`--egress-https-only`") && error.message.contains("https://"),
        "{error}"
    );
    assert_eq!(server.connections(), 0);
}
