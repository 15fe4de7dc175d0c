//! Table tests for the blocked ranges: first and last address of each range and the neighbours
//! just outside it.

use std::net::IpAddr;

use super::*;

/// `(address, expected classification)`; `None` means allowed.
const CASES: &[(&str, Option<&str>)] = &[
    // IPv4, in address order.
    ("0.0.0.0", Some("unspecified 0.0.0.0/32")),
    ("0.0.0.1", Some("\"this network\" 0.0.0.0/8")),
    ("0.255.255.255", Some("\"this network\" 0.0.0.0/8")),
    ("1.0.0.0", None),
    ("8.8.8.8", None),
    ("9.255.255.255", None),
    ("10.0.0.0", Some("private (RFC 1918) 10.0.0.0/8")),
    ("10.255.255.255", Some("private (RFC 1918) 10.0.0.0/8")),
    ("11.0.0.0", None),
    ("100.63.255.255", None),
    ("100.64.0.0", Some("carrier-grade NAT 100.64.0.0/10")),
    ("100.64.0.1", Some("carrier-grade NAT 100.64.0.0/10")),
    ("100.127.255.255", Some("carrier-grade NAT 100.64.0.0/10")),
    ("100.128.0.0", None),
    ("126.255.255.255", None),
    ("127.0.0.0", Some("loopback 127.0.0.0/8")),
    ("127.0.0.1", Some("loopback 127.0.0.0/8")),
    ("127.255.255.255", Some("loopback 127.0.0.0/8")),
    ("128.0.0.0", None),
    ("169.253.255.255", None),
    (
        "169.254.0.0",
        Some("link-local (cloud metadata) 169.254.0.0/16"),
    ),
    (
        "169.254.169.254",
        Some("link-local (cloud metadata) 169.254.0.0/16"),
    ),
    (
        "169.254.255.255",
        Some("link-local (cloud metadata) 169.254.0.0/16"),
    ),
    ("169.255.0.0", None),
    ("172.15.255.255", None),
    ("172.16.0.0", Some("private (RFC 1918) 172.16.0.0/12")),
    ("172.31.255.255", Some("private (RFC 1918) 172.16.0.0/12")),
    ("172.32.0.0", None),
    ("191.255.255.255", None),
    ("192.0.0.0", Some("IETF protocol assignments 192.0.0.0/24")),
    (
        "192.0.0.255",
        Some("IETF protocol assignments 192.0.0.0/24"),
    ),
    ("192.0.1.0", None),
    ("192.0.1.255", None),
    ("192.0.2.0", Some("documentation (TEST-NET-1) 192.0.2.0/24")),
    (
        "192.0.2.255",
        Some("documentation (TEST-NET-1) 192.0.2.0/24"),
    ),
    ("192.0.3.0", None),
    ("192.88.98.255", None),
    ("192.88.99.0", Some("6to4 relay anycast 192.88.99.0/24")),
    ("192.88.99.255", Some("6to4 relay anycast 192.88.99.0/24")),
    ("192.88.100.0", None),
    ("192.167.255.255", None),
    ("192.168.0.0", Some("private (RFC 1918) 192.168.0.0/16")),
    ("192.168.255.255", Some("private (RFC 1918) 192.168.0.0/16")),
    ("192.169.0.0", None),
    ("198.17.255.255", None),
    ("198.18.0.0", Some("benchmarking 198.18.0.0/15")),
    ("198.19.255.255", Some("benchmarking 198.18.0.0/15")),
    ("198.20.0.0", None),
    ("198.51.99.255", None),
    (
        "198.51.100.0",
        Some("documentation (TEST-NET-2) 198.51.100.0/24"),
    ),
    (
        "198.51.100.255",
        Some("documentation (TEST-NET-2) 198.51.100.0/24"),
    ),
    ("198.51.101.0", None),
    ("203.0.112.255", None),
    (
        "203.0.113.0",
        Some("documentation (TEST-NET-3) 203.0.113.0/24"),
    ),
    (
        "203.0.113.255",
        Some("documentation (TEST-NET-3) 203.0.113.0/24"),
    ),
    ("203.0.114.0", None),
    ("223.255.255.255", None),
    ("224.0.0.0", Some("multicast 224.0.0.0/4")),
    ("239.255.255.255", Some("multicast 224.0.0.0/4")),
    ("240.0.0.0", Some("reserved 240.0.0.0/4")),
    ("255.255.255.254", Some("reserved 240.0.0.0/4")),
    ("255.255.255.255", Some("broadcast 255.255.255.255/32")),
    // IPv6 with an embedded IPv4 address: the IPv4 address decides.
    ("::", Some("unspecified ::/128")),
    ("::1", Some("loopback ::1/128")),
    (
        "::2",
        Some("IPv4-compatible ::/96 form of 0.0.0.2, which is \"this network\" 0.0.0.0/8"),
    ),
    ("::8.8.8.8", None),
    (
        "::ffff:0.0.0.0",
        Some("IPv4-mapped ::ffff:0:0/96 form of 0.0.0.0, which is unspecified 0.0.0.0/32"),
    ),
    (
        "::ffff:127.0.0.1",
        Some("IPv4-mapped ::ffff:0:0/96 form of 127.0.0.1, which is loopback 127.0.0.0/8"),
    ),
    (
        "::ffff:7f00:1",
        Some("IPv4-mapped ::ffff:0:0/96 form of 127.0.0.1, which is loopback 127.0.0.0/8"),
    ),
    (
        "::ffff:a9fe:a9fe",
        Some(
            "IPv4-mapped ::ffff:0:0/96 form of 169.254.169.254, which is link-local (cloud metadata) 169.254.0.0/16",
        ),
    ),
    ("::ffff:8.8.8.8", None),
    (
        "::ffff:255.255.255.255",
        Some(
            "IPv4-mapped ::ffff:0:0/96 form of 255.255.255.255, which is broadcast 255.255.255.255/32",
        ),
    ),
    (
        "::fffe:7f00:1",
        Some("reserved (outside global unicast 2000::/3) ::/3"),
    ),
    (
        "::1:0:0:0",
        Some("reserved (outside global unicast 2000::/3) ::/3"),
    ),
    (
        "::ffff:0:7f00:1",
        Some("IPv4-translated ::ffff:0:0:0/96 form of 127.0.0.1, which is loopback 127.0.0.0/8"),
    ),
    ("::ffff:0:808:808", None),
    (
        "64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff",
        Some("reserved (outside global unicast 2000::/3) ::/3"),
    ),
    (
        "64:ff9b::",
        Some("NAT64 64:ff9b::/96 form of 0.0.0.0, which is unspecified 0.0.0.0/32"),
    ),
    (
        "64:ff9b::7f00:1",
        Some("NAT64 64:ff9b::/96 form of 127.0.0.1, which is loopback 127.0.0.0/8"),
    ),
    (
        "64:ff9b::a00:1",
        Some("NAT64 64:ff9b::/96 form of 10.0.0.1, which is private (RFC 1918) 10.0.0.0/8"),
    ),
    ("64:ff9b::808:808", None),
    (
        "64:ff9b::1:0:0",
        Some("reserved (outside global unicast 2000::/3) ::/3"),
    ),
    ("64:ff9b:1::", Some("local-use NAT64 64:ff9b:1::/48")),
    ("64:ff9b:1::7f00:1", Some("local-use NAT64 64:ff9b:1::/48")),
    (
        "64:ff9b:1:ffff:ffff:ffff:ffff:ffff",
        Some("local-use NAT64 64:ff9b:1::/48"),
    ),
    (
        "64:ff9b:2::",
        Some("reserved (outside global unicast 2000::/3) ::/3"),
    ),
    ("100::", Some("discard-only 100::/64")),
    ("100::ffff:ffff:ffff:ffff", Some("discard-only 100::/64")),
    (
        "100:0:0:1::",
        Some("reserved (outside global unicast 2000::/3) ::/3"),
    ),
    (
        "1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        Some("reserved (outside global unicast 2000::/3) ::/3"),
    ),
    // IPv6 global unicast and its special blocks.
    ("2000::", None),
    ("2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None),
    ("2001::", Some("Teredo 2001::/32")),
    (
        "2001:0:ffff:ffff:ffff:ffff:ffff:ffff",
        Some("Teredo 2001::/32"),
    ),
    ("2001:1::", Some("IETF protocol assignments 2001::/23")),
    (
        "2001:1:ffff:ffff:ffff:ffff:ffff:ffff",
        Some("IETF protocol assignments 2001::/23"),
    ),
    ("2001:2::", Some("benchmarking 2001:2::/48")),
    (
        "2001:2:0:ffff:ffff:ffff:ffff:ffff",
        Some("benchmarking 2001:2::/48"),
    ),
    ("2001:2:1::", Some("IETF protocol assignments 2001::/23")),
    (
        "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
        Some("IETF protocol assignments 2001::/23"),
    ),
    ("2001:200::", None),
    ("2001:4860:4860::8888", None),
    ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", None),
    ("2001:db8::", Some("documentation 2001:db8::/32")),
    (
        "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
        Some("documentation 2001:db8::/32"),
    ),
    ("2001:db9::", None),
    (
        "2002::",
        Some("6to4 2002::/16 form of 0.0.0.0, which is unspecified 0.0.0.0/32"),
    ),
    (
        "2002:7f00:1::",
        Some("6to4 2002::/16 form of 127.0.0.1, which is loopback 127.0.0.0/8"),
    ),
    (
        "2002:c0a8:101::1",
        Some("6to4 2002::/16 form of 192.168.1.1, which is private (RFC 1918) 192.168.0.0/16"),
    ),
    ("2002:808:808::", None),
    ("2606:4700:4700::1111", None),
    ("3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None),
    ("3fff::", Some("documentation 3fff::/20")),
    (
        "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff",
        Some("documentation 3fff::/20"),
    ),
    ("3fff:1000::", None),
    ("3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", None),
    (
        "4000::",
        Some("reserved (outside global unicast 2000::/3) 4000::/2"),
    ),
    (
        "5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        Some("reserved (outside global unicast 2000::/3) 4000::/2"),
    ),
    ("5f00::", Some("segment routing (SRv6) 5f00::/16")),
    (
        "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        Some("segment routing (SRv6) 5f00::/16"),
    ),
    (
        "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        Some("reserved (outside global unicast 2000::/3) 8000::/1"),
    ),
    ("fc00::", Some("unique-local fc00::/7")),
    ("fd00:ec2::254", Some("unique-local fc00::/7")),
    (
        "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        Some("unique-local fc00::/7"),
    ),
    (
        "fe00::",
        Some("reserved (outside global unicast 2000::/3) 8000::/1"),
    ),
    (
        "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        Some("reserved (outside global unicast 2000::/3) 8000::/1"),
    ),
    ("fe80::", Some("link-local fe80::/10")),
    (
        "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        Some("link-local fe80::/10"),
    ),
    ("fec0::", Some("site-local (deprecated) fec0::/10")),
    (
        "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        Some("site-local (deprecated) fec0::/10"),
    ),
    ("ff00::", Some("multicast ff00::/8")),
    ("ff02::1", Some("multicast ff00::/8")),
    (
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        Some("multicast ff00::/8"),
    ),
];

#[test]
fn every_range_boundary_and_neighbour_is_classified_as_expected() {
    let mut wrong = Vec::new();
    for (addr, expected) in CASES {
        let ip: IpAddr = addr.parse().expect(addr);
        let got = classify(ip).map(|b| b.to_string());
        if got.as_deref() != *expected {
            wrong.push(format!("{addr}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "misclassified:\n{}", wrong.join("\n"));
}

#[test]
fn the_first_and_last_address_of_every_table_entry_is_blocked() {
    for range in V4_RANGES.iter().chain(V6_RANGES) {
        for ip in [range.net.network(), range.net.broadcast()] {
            assert!(classify(ip).is_some(), "{ip} of {range} is not blocked");
        }
    }
}

#[test]
fn every_blocked_ipv4_range_is_blocked_in_each_embedding() {
    for range in V4_RANGES {
        let IpAddr::V4(v4) = range.net.network() else {
            unreachable!("IPv4 table holds IPv4 ranges")
        };
        let [a, b, c, d] = v4.octets();
        let forms = [
            v4.to_ipv6_mapped(),
            Ipv6Addr::new(
                0x64,
                0xff9b,
                0,
                0,
                0,
                0,
                u16::from_be_bytes([a, b]),
                u16::from_be_bytes([c, d]),
            ),
            Ipv6Addr::new(
                0,
                0,
                0,
                0,
                0xffff,
                0,
                u16::from_be_bytes([a, b]),
                u16::from_be_bytes([c, d]),
            ),
            Ipv6Addr::new(
                0x2002,
                u16::from_be_bytes([a, b]),
                u16::from_be_bytes([c, d]),
                0,
                0,
                0,
                0,
                1,
            ),
        ];
        for v6 in forms {
            let blocked = classify(IpAddr::V6(v6)).unwrap_or_else(|| panic!("{v6} allowed"));
            assert_eq!(Some(blocked.range), classify_v4(v4), "{v6}");
            assert_eq!(blocked.via.map(|(_, ip)| ip), Some(v4), "{v6}");
        }
    }
}
