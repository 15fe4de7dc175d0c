//! The resolver seam: reqwest connects only to the addresses the policy let through.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use warden_exec::egress::{Lookup, LookupFuture};
use warden_exec::http::{HttpClient, HttpErrorKind, HttpOptions, HttpOutcome};

use crate::support::{TestServer, get, loopback_allowed, run};

/// A fixed DNS table.
#[derive(Debug)]
struct FakeDns(HashMap<&'static str, Vec<SocketAddr>>);

impl Lookup for FakeDns {
    fn lookup(&self, host: &str) -> LookupFuture {
        let found = self.0.get(host).cloned().unwrap_or_default();
        Box::pin(async move { Ok(found) })
    }
}

fn client_with(dns: FakeDns) -> HttpClient {
    HttpClient::with_lookup(loopback_allowed(), HttpOptions::default(), Arc::new(dns)).unwrap()
}

#[tokio::test]
async fn a_blocked_address_listed_first_is_never_connected_to() {
    let server = TestServer::start("127.0.0.1:0").await;
    // A trap on a blocked address, same port, listed first in the DNS answer.
    let trap = TestServer::start(&format!("127.0.0.2:{}", server.port())).await;
    let dns = FakeDns(HashMap::from([(
        "rebind.test",
        vec![
            "127.0.0.2:0".parse().unwrap(),
            "127.0.0.1:0".parse().unwrap(),
        ],
    )]));

    let url = format!("http://rebind.test:{}/echo", server.port());
    let outcome = run(&client_with(dns), get(&url)).await;

    assert!(matches!(outcome, HttpOutcome::Success(_)), "{outcome:?}");
    assert_eq!(trap.connections(), 0, "connected to a blocked address");
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn a_name_with_only_blocked_addresses_fails_naming_each() {
    let dns = FakeDns(HashMap::from([(
        "metadata.test",
        vec![
            "169.254.169.254:0".parse().unwrap(),
            "[fd00:ec2::254]:0".parse().unwrap(),
        ],
    )]));
    let outcome = run(&client_with(dns), get("http://metadata.test/")).await;
    let error = outcome.error().expect("an error").clone();
    assert!(matches!(outcome, HttpOutcome::Fail(_)), "{outcome:?}");
    assert_eq!(error.kind, HttpErrorKind::Egress);
    assert_eq!(
        error.message,
        "egress refused: host `metadata.test` resolves only to blocked addresses \
         (169.254.169.254: link-local (cloud metadata) 169.254.0.0/16; fd00:ec2::254: \
         unique-local fc00::/7); to permit it, start warden with `--egress-allow metadata.test` \
         or a CIDR (or add it to `WARDEN_EGRESS_ALLOW`)"
    );
}

#[tokio::test]
async fn a_name_without_addresses_is_a_retryable_connect_error() {
    let outcome = run(
        &client_with(FakeDns(HashMap::new())),
        get("http://nowhere.test/"),
    )
    .await;
    let error = outcome.error().expect("an error").clone();
    assert!(matches!(outcome, HttpOutcome::Retry { .. }), "{outcome:?}");
    assert_eq!(error.kind, HttpErrorKind::Connect, "{error}");
    assert!(
        error
            .message
            .contains("`nowhere.test` resolved to no addresses"),
        "{error}"
    );
}
