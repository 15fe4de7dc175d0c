//! The egress guard: which addresses an HTTP job may reach (SSRF protection).
//!
//! # Design
//!
//! An [`EgressPolicy`] refuses every special-purpose address range by default (loopback, RFC 1918,
//! unique-local, link-local and cloud metadata, carrier-grade NAT, multicast, documentation, …;
//! the full table is in [`ranges`]), plus the IPv6 forms that embed such an IPv4 address. The
//! `allow` list opens exceptions by CIDR or by host name; `https_only` refuses plain http.
//!
//! The check is made at three points, so that the address connected to is always an address
//! that was checked:
//!
//! 1. **Before sending** ([`EgressPolicy::check_url`]): scheme, `https_only`, and literal IP
//!    hosts. Literal IPs never reach a resolver, so this is the only check they get. Odd IPv4
//!    spellings (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`, full-width digits) are already
//!    normalised to the real address by the WHATWG URL parser inside [`reqwest::Url`], so the
//!    check sees `127.0.0.1`.
//! 2. **At connect time** ([`EgressResolver`]): host names are resolved by our resolver, which
//!    drops every blocked address and hands reqwest only the allowed ones. reqwest connects to
//!    exactly those addresses, so there is no window for DNS rebinding between check and use.
//! 3. **On every redirect hop** ([`check_redirect_hop`], called by the HTTP executor, which
//!    follows redirects itself): the hop count is limited, the hop's URL gets check 1, and a hop
//!    to a host name goes through check 2 when it connects.
//!
//! Refusals are [`EgressError`]s. They are never retried, and their message names the address or
//! host and the range that refused it.
//!
//! Allow rules match an address as written and its canonical IPv4 form (`::ffff:127.0.0.1` is
//! opened by `127.0.0.1/32`); they do not open NAT64, 6to4 or IPv4-compatible forms, which reach a
//! different machine (a translator or relay) than the IPv4 address itself.

pub mod ranges;
mod redirect;
mod resolver;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use reqwest::Url;
use serde::{Deserialize, Serialize};
use url::Host;

pub use self::ranges::{Blocked, BlockedRange, Embedding};
pub use self::redirect::{DEFAULT_MAX_REDIRECTS, HopRefused, TooManyRedirects, check_redirect_hop};
pub use self::resolver::{EgressResolver, Lookup, LookupFuture, SystemLookup};

/// The egress policy of a server: `--egress-allow` (`WARDEN_EGRESS_ALLOW`) and
/// `--egress-https-only` (`WARDEN_EGRESS_HTTPS_ONLY`).
///
/// The default refuses every blocked range and allows plain http.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EgressPolicy {
    /// Exceptions to the blocked ranges: CIDRs (`127.0.0.1/32`), single addresses, host names.
    pub allow: Vec<AllowRule>,
    /// When `true`, plain `http://` URLs (and redirects to them) are refused.
    pub https_only: bool,
}

/// One `--egress-allow` entry.
///
/// Parsed from a CIDR (`10.1.0.0/16`), a single address (`127.0.0.1`, `::1`, also odd spellings
/// such as `127.1`) or a host name (`api.internal.example`; matched exactly, case-insensitively,
/// ignoring a trailing dot).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum AllowRule {
    /// Every address in the network is allowed.
    Net(IpNet),
    /// The host name is allowed whatever it resolves to. Stored lower-case, without trailing dot.
    Host(String),
}

/// An `--egress-allow` entry that is neither a CIDR, an address nor a host name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a CIDR (`10.0.0.0/8`), an IP address (`10.1.2.3`) or a host name \
     (`api.example.com`)"
)]
pub struct InvalidAllowRule(String);

impl FromStr for AllowRule {
    type Err = InvalidAllowRule;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidAllowRule(s.to_owned());
        let trimmed = s.trim();
        if let Ok(net) = trimmed.parse::<IpNet>() {
            return Ok(Self::Net(net.trunc()));
        }
        if let Ok(ip) = trimmed.parse::<IpAddr>() {
            return Ok(Self::Net(IpNet::from(ip)));
        }
        let forbidden = |c: char| c.is_whitespace() || "/@:?#[]\\%".contains(c);
        if trimmed.is_empty() || trimmed.contains(forbidden) {
            return Err(invalid());
        }
        // Normalise exactly as a URL host would be (IDNA, lower case, odd IPv4 spellings), so the
        // rule compares equal to what `check_url` and the resolver see.
        let url = Url::parse(&format!("http://{trimmed}/")).map_err(|_| invalid())?;
        match url.host() {
            Some(Host::Ipv4(ip)) => Ok(Self::Net(IpNet::from(IpAddr::V4(ip)))),
            Some(Host::Ipv6(ip)) => Ok(Self::Net(IpNet::from(IpAddr::V6(ip)))),
            Some(Host::Domain(d)) => Ok(Self::Host(normalise_host(d))),
            None => Err(invalid()),
        }
    }
}

impl TryFrom<String> for AllowRule {
    type Error = InvalidAllowRule;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<AllowRule> for String {
    fn from(rule: AllowRule) -> Self {
        rule.to_string()
    }
}

impl fmt::Display for AllowRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Net(net) => write!(f, "{net}"),
            Self::Host(host) => f.write_str(host),
        }
    }
}

/// A call refused by the egress policy. Never retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EgressError {
    /// The address is in a blocked range and no allow rule covers it.
    #[error(
        "egress refused: address {addr} is blocked ({reason}); to permit it, start warden with \
         `--egress-allow {addr}` (or add it to `WARDEN_EGRESS_ALLOW`)"
    )]
    BlockedAddress {
        /// The refused address.
        addr: IpAddr,
        /// The range that refused it.
        reason: Blocked,
    },
    /// Every address the host name resolved to is blocked.
    #[error(
        "egress refused: host `{host}` resolves only to blocked addresses ({}); to permit it, \
         start warden with `--egress-allow {host}` or a CIDR (or add it to `WARDEN_EGRESS_ALLOW`)",
        list_refused(.refused)
    )]
    BlockedHost {
        /// The host name as it appears in the URL.
        host: String,
        /// Each resolved address with the range that refused it.
        refused: Vec<(IpAddr, Blocked)>,
    },
    /// Plain http while `https_only` is set.
    #[error(
        "egress refused: plain http to `{host}` while `--egress-https-only` \
         (`WARDEN_EGRESS_HTTPS_ONLY`) is set; use an https:// URL"
    )]
    InsecureScheme {
        /// The URL's host.
        host: String,
    },
    /// A scheme other than http and https.
    #[error("egress refused: scheme `{scheme}` is not allowed; use http or https")]
    UnsupportedScheme {
        /// The URL's scheme.
        scheme: String,
    },
    /// The URL has no host.
    #[error("egress refused: the URL has no host")]
    MissingHost,
}

fn list_refused(refused: &[(IpAddr, Blocked)]) -> String {
    let items: Vec<String> = refused
        .iter()
        .map(|(ip, why)| format!("{ip}: {why}"))
        .collect();
    items.join("; ")
}

/// Lower-cases a host name and drops one trailing dot.
fn normalise_host(host: &str) -> String {
    let host = host.strip_suffix('.').unwrap_or(host);
    host.to_ascii_lowercase()
}

impl EgressPolicy {
    /// A policy that blocks every special-purpose range, allows http, and has no exceptions.
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks one address: allowed if an allow CIDR covers it (as written or in its canonical
    /// IPv4 form), otherwise refused if it is in a blocked range.
    ///
    /// # Errors
    ///
    /// [`EgressError::BlockedAddress`] naming the address and the range.
    pub fn check_ip(&self, addr: IpAddr) -> Result<(), EgressError> {
        if self.allows_ip(addr) {
            return Ok(());
        }
        match ranges::classify(addr) {
            Some(reason) => Err(EgressError::BlockedAddress { addr, reason }),
            None => Ok(()),
        }
    }

    /// Whether an allow rule names this host (exactly, case-insensitively, ignoring a trailing
    /// dot). An allowed host may resolve to any address.
    pub fn allows_host(&self, host: &str) -> bool {
        let host = normalise_host(host);
        self.allow
            .iter()
            .any(|rule| matches!(rule, AllowRule::Host(h) if *h == host))
    }

    fn allows_ip(&self, addr: IpAddr) -> bool {
        let canonical = addr.to_canonical();
        self.allow.iter().any(|rule| match rule {
            AllowRule::Net(net) => net.contains(&addr) || net.contains(&canonical),
            AllowRule::Host(_) => false,
        })
    }

    /// Checks what can be checked before a request is sent: the scheme (`http`/`https`, and only
    /// `https` under `https_only`) and a literal IP host. Host names pass here and are checked by
    /// [`EgressResolver`] when the connection is made.
    ///
    /// # Errors
    ///
    /// Any [`EgressError`] but `BlockedHost`.
    pub fn check_url(&self, url: &Url) -> Result<(), EgressError> {
        let host = url.host().ok_or(EgressError::MissingHost)?;
        match url.scheme() {
            "https" => {}
            "http" if !self.https_only => {}
            "http" => {
                return Err(EgressError::InsecureScheme {
                    host: host.to_string(),
                });
            }
            other => {
                return Err(EgressError::UnsupportedScheme {
                    scheme: other.to_owned(),
                });
            }
        }
        match host {
            Host::Ipv4(ip) => self.check_ip(IpAddr::V4(ip)),
            Host::Ipv6(ip) => self.check_ip(IpAddr::V6(ip)),
            Host::Domain(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
