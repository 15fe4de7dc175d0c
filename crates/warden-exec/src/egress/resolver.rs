//! A reqwest DNS resolver that hands out only the addresses the egress policy allows.
//!
//! reqwest connects to exactly the addresses a resolver returns, so filtering here means the
//! address connected to is the address that was checked: a DNS answer that changes between a
//! check and the connect (DNS rebinding) cannot slip a blocked address through.
//!
//! Literal-IP URLs never reach a resolver (hyper connects to them directly); they are checked by
//! [`EgressPolicy::check_url`] before sending and on every redirect hop.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::{EgressError, EgressPolicy};

/// The future a [`Lookup`] returns.
pub type LookupFuture = Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send>>;

/// Where [`EgressResolver`] gets a name's addresses (ports are ignored). [`SystemLookup`] by
/// default; another DNS backend, or a fixed table in tests, can be plugged in. Whatever it
/// returns is still filtered by the policy.
pub trait Lookup: Send + Sync + fmt::Debug {
    /// All addresses of `host`.
    fn lookup(&self, host: &str) -> LookupFuture;
}

/// The operating system's resolver, through `tokio::net::lookup_host` (getaddrinfo).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: &str) -> LookupFuture {
        let host = host.to_owned();
        // Port 0: reqwest puts the URL's port (or the scheme's default) in afterwards.
        Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), 0)).await?.collect()) })
    }
}

/// Resolves host names and drops blocked addresses, so reqwest connects only to allowed ones.
///
/// Fails with [`EgressError::BlockedHost`] when every address is blocked, and with a plain
/// "no addresses" error (a transient DNS failure, retried) when the name resolves to nothing.
#[derive(Debug, Clone)]
pub struct EgressResolver {
    policy: Arc<EgressPolicy>,
    lookup: Arc<dyn Lookup>,
}

impl EgressResolver {
    /// A resolver enforcing `policy` over the system resolver.
    pub fn new(policy: Arc<EgressPolicy>) -> Self {
        Self::with_lookup(policy, Arc::new(SystemLookup))
    }

    /// A resolver enforcing `policy` over `lookup`.
    pub fn with_lookup(policy: Arc<EgressPolicy>, lookup: Arc<dyn Lookup>) -> Self {
        Self { policy, lookup }
    }
}

/// The name resolved to no address at all.
#[derive(Debug, thiserror::Error)]
#[error("host `{host}` resolved to no addresses")]
struct NoAddresses {
    host: String,
}

impl Resolve for EgressResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        let host = name.as_str().to_owned();
        let lookup = self.lookup.lookup(&host);
        Box::pin(async move {
            let found = lookup.await?;
            if found.is_empty() {
                return Err(NoAddresses { host }.into());
            }
            let allowed = policy.filter_resolved(&host, found)?;
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

impl EgressPolicy {
    /// Keeps the resolved addresses of `host` that the policy allows, in their original order.
    ///
    /// A host named in an allow rule keeps all its addresses. Dropped addresses are logged.
    ///
    /// # Errors
    ///
    /// [`EgressError::BlockedHost`] when addresses were given and none is allowed.
    pub fn filter_resolved(
        &self,
        host: &str,
        addrs: impl IntoIterator<Item = SocketAddr>,
    ) -> Result<Vec<SocketAddr>, EgressError> {
        if self.allows_host(host) {
            return Ok(addrs.into_iter().collect());
        }
        let mut allowed = Vec::new();
        let mut refused = Vec::new();
        for addr in addrs {
            match self.check_ip(addr.ip()) {
                Ok(()) => allowed.push(addr),
                Err(EgressError::BlockedAddress { addr, reason }) => {
                    // The host name is left out: it may carry a secret; addresses do not.
                    tracing::debug!(
                        egress.addr = %addr,
                        egress.reason = %reason,
                        "dropped a blocked address from a DNS answer"
                    );
                    refused.push((addr, reason));
                }
                Err(other) => return Err(other),
            }
        }
        if allowed.is_empty() && !refused.is_empty() {
            return Err(EgressError::BlockedHost {
                host: host.to_owned(),
                refused,
            });
        }
        Ok(allowed)
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};

    use super::*;
    use crate::egress::AllowRule;

    fn sa(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 0)
    }

    #[test]
    fn blocked_addresses_are_dropped_and_allowed_ones_kept_in_order() {
        let policy = EgressPolicy::new();
        let got = policy
            .filter_resolved(
                "mixed.example",
                [
                    sa("10.0.0.1"),
                    sa("93.184.215.14"),
                    sa("::1"),
                    sa("2606:4700::1"),
                ],
            )
            .unwrap();
        assert_eq!(got, vec![sa("93.184.215.14"), sa("2606:4700::1")]);
    }

    #[test]
    fn a_host_with_only_blocked_addresses_is_refused_with_each_reason() {
        let policy = EgressPolicy::new();
        let err = policy
            .filter_resolved("rebind.example", [sa("127.0.0.1"), sa("169.254.169.254")])
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`rebind.example`"), "{msg}");
        assert!(msg.contains("127.0.0.1: loopback 127.0.0.0/8"), "{msg}");
        assert!(msg.contains("169.254.169.254: link-local"), "{msg}");
    }

    #[test]
    fn an_allowed_cidr_keeps_only_the_addresses_it_covers() {
        let policy = EgressPolicy {
            allow: vec!["127.0.0.1/32".parse().unwrap()],
            https_only: false,
        };
        let got = policy
            .filter_resolved("localhost", [sa("::1"), sa("127.0.0.1")])
            .unwrap();
        assert_eq!(
            got,
            vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0)]
        );
    }

    #[test]
    fn an_allowed_host_name_keeps_every_address() {
        let policy = EgressPolicy {
            allow: vec![AllowRule::Host("internal.example".into())],
            https_only: false,
        };
        let got = policy
            .filter_resolved("Internal.Example.", [sa("10.1.2.3")])
            .unwrap();
        assert_eq!(got, vec![sa("10.1.2.3")]);
    }
}
