//! The table of address ranges an HTTP job may not reach, and the IPv6 forms that embed IPv4.
//!
//! # Model
//!
//! [`classify`] answers "why is this address blocked?" with a [`Blocked`] value, or `None` when the
//! address is a normal public unicast address. IPv4 addresses are looked up in [`V4_RANGES`]. IPv6
//! addresses are first inspected for an embedded IPv4 address ([`embedded_ipv4`]: IPv4-mapped,
//! IPv4-compatible, SIIT, NAT64 well-known prefix and 6to4). When one is found, the *embedded*
//! IPv4 address decides, so `::ffff:127.0.0.1`, `::ffff:7f00:1`, `64:ff9b::7f00:1` and
//! `2002:7f00:1::` are all loopback. Everything else is looked up in [`V6_RANGES`].
//!
//! The tables are ordered most specific first (broadcast before reserved, Teredo before the IETF
//! protocol block), so the reported range is the most precise one.
//!
//! Invariant: allow rules are not consulted here; `EgressPolicy::check_ip` applies them first.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// One blocked range: the network and a short human label used in error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockedRange {
    /// The network, e.g. `127.0.0.0/8`.
    pub net: IpNet,
    /// What the range is, e.g. `loopback`.
    pub label: &'static str,
}

impl fmt::Display for BlockedRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.label, self.net)
    }
}

/// How an IPv6 address carries an IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Embedding {
    /// `::ffff:a.b.c.d` (`::ffff:0:0/96`).
    Mapped,
    /// `::a.b.c.d` (`::/96`, deprecated).
    Compatible,
    /// `::ffff:0:a.b.c.d` (`::ffff:0:0:0/96`, SIIT).
    Translated,
    /// `64:ff9b::a.b.c.d` (`64:ff9b::/96`, NAT64 well-known prefix).
    Nat64,
    /// `2002:aabb:ccdd::/48` (6to4).
    SixToFour,
}

impl fmt::Display for Embedding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Mapped => "IPv4-mapped ::ffff:0:0/96",
            Self::Compatible => "IPv4-compatible ::/96",
            Self::Translated => "IPv4-translated ::ffff:0:0:0/96",
            Self::Nat64 => "NAT64 64:ff9b::/96",
            Self::SixToFour => "6to4 2002::/16",
        })
    }
}

/// Why an address is blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocked {
    /// The range that matched (an IPv4 range when `via` is set).
    pub range: BlockedRange,
    /// Set when an IPv6 address was blocked because of the IPv4 address it embeds.
    pub via: Option<(Embedding, Ipv4Addr)>,
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.via {
            None => write!(f, "{}", self.range),
            Some((form, v4)) => write!(f, "{form} form of {v4}, which is {}", self.range),
        }
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8, label: &'static str) -> BlockedRange {
    BlockedRange {
        net: IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)),
        label,
    }
}

const fn v6(segments: [u16; 8], len: u8, label: &'static str) -> BlockedRange {
    let [a, b, c, d, e, f, g, h] = segments;
    BlockedRange {
        net: IpNet::V6(Ipv6Net::new_assert(
            Ipv6Addr::new(a, b, c, d, e, f, g, h),
            len,
        )),
        label,
    }
}

/// Blocked IPv4 ranges, most specific first (IANA IPv4 special-purpose registry, RFC 6890).
pub const V4_RANGES: &[BlockedRange] = &[
    v4(255, 255, 255, 255, 32, "broadcast"),
    v4(0, 0, 0, 0, 32, "unspecified"),
    v4(0, 0, 0, 0, 8, "\"this network\""),
    v4(10, 0, 0, 0, 8, "private (RFC 1918)"),
    v4(100, 64, 0, 0, 10, "carrier-grade NAT"),
    v4(127, 0, 0, 0, 8, "loopback"),
    v4(169, 254, 0, 0, 16, "link-local (cloud metadata)"),
    v4(172, 16, 0, 0, 12, "private (RFC 1918)"),
    v4(192, 0, 0, 0, 24, "IETF protocol assignments"),
    v4(192, 0, 2, 0, 24, "documentation (TEST-NET-1)"),
    v4(192, 88, 99, 0, 24, "6to4 relay anycast"),
    v4(192, 168, 0, 0, 16, "private (RFC 1918)"),
    v4(198, 18, 0, 0, 15, "benchmarking"),
    v4(198, 51, 100, 0, 24, "documentation (TEST-NET-2)"),
    v4(203, 0, 113, 0, 24, "documentation (TEST-NET-3)"),
    v4(224, 0, 0, 0, 4, "multicast"),
    v4(240, 0, 0, 0, 4, "reserved"),
];

/// Blocked IPv6 ranges, most specific first (IANA IPv6 special-purpose registry), ending with
/// the complement of global unicast `2000::/3`, so only `2000::/3` can be reached at all.
///
/// The embedding prefixes (`::ffff:0:0/96`, `::/96`, `::ffff:0:0:0/96`, `64:ff9b::/96`,
/// `2002::/16`) are not listed: [`classify`] decides those by the IPv4 address they carry.
pub const V6_RANGES: &[BlockedRange] = &[
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, "unspecified"),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "loopback"),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "local-use NAT64"),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only"),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, "Teredo"),
    v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, "benchmarking"),
    v6(
        [0x2001, 0, 0, 0, 0, 0, 0, 0],
        23,
        "IETF protocol assignments",
    ),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "documentation"),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "documentation"),
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "segment routing (SRv6)"),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique-local"),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local"),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "site-local (deprecated)"),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast"),
    // Everything outside global unicast 2000::/3 that is not named above.
    v6(
        [0, 0, 0, 0, 0, 0, 0, 0],
        3,
        "reserved (outside global unicast 2000::/3)",
    ),
    v6(
        [0x4000, 0, 0, 0, 0, 0, 0, 0],
        2,
        "reserved (outside global unicast 2000::/3)",
    ),
    v6(
        [0x8000, 0, 0, 0, 0, 0, 0, 0],
        1,
        "reserved (outside global unicast 2000::/3)",
    ),
];

/// Returns the IPv4 address an IPv6 address carries, with the form it uses, if any.
///
/// `::` and `::1` are not treated as IPv4-compatible (they are unspecified and loopback in their
/// own right); every other `::/96` address is.
pub fn embedded_ipv4(ip: Ipv6Addr) -> Option<(Embedding, Ipv4Addr)> {
    let o = ip.octets();
    let low = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    match ip.segments() {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some((Embedding::Mapped, low)),
        [0, 0, 0, 0, 0xffff, 0, _, _] => Some((Embedding::Translated, low)),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some((Embedding::Nat64, low)),
        [0, 0, 0, 0, 0, 0, 0, 0] | [0, 0, 0, 0, 0, 0, 0, 1] => None,
        [0, 0, 0, 0, 0, 0, _, _] => Some((Embedding::Compatible, low)),
        [0x2002, ..] => Some((Embedding::SixToFour, Ipv4Addr::new(o[2], o[3], o[4], o[5]))),
        _ => None,
    }
}

/// Why `ip` is blocked, or `None` if it is an ordinary public unicast address.
pub fn classify(ip: IpAddr) -> Option<Blocked> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4).map(|range| Blocked { range, via: None }),
        IpAddr::V6(v6) => match embedded_ipv4(v6) {
            Some((form, v4)) => classify_v4(v4).map(|range| Blocked {
                range,
                via: Some((form, v4)),
            }),
            None => find(V6_RANGES, IpAddr::V6(v6)).map(|range| Blocked { range, via: None }),
        },
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<BlockedRange> {
    find(V4_RANGES, IpAddr::V4(ip))
}

fn find(table: &[BlockedRange], ip: IpAddr) -> Option<BlockedRange> {
    table.iter().copied().find(|r| r.net.contains(&ip))
}

#[cfg(test)]
#[path = "ranges_tests.rs"]
mod tests;
