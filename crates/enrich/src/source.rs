//! Classifying CloudTrail's `sourceIPAddress`: public address, reserved range, AWS
//! service, or not an address at all.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use detect::NetClass;

/// Classify a raw `sourceIPAddress` value.
///
/// * `AWS Internal` and service names (`secretsmanager.amazonaws.com`) are
///   [`NetClass::AwsService`];
/// * addresses in private, loopback, link-local, CGNAT, documentation, benchmarking,
///   multicast or otherwise reserved ranges (IPv4 and IPv6) are [`NetClass::Private`];
/// * other addresses are [`NetClass::Public`];
/// * anything else, including dotted quads with leading zeros (`035.249.253.232`,
///   `253.252.51.07`, which CloudTrail anonymisers produce and which some parsers would
///   read as octal), is [`NetClass::Invalid`].
///
/// The address is returned for `Public` and `Private`; IPv4-mapped IPv6 addresses
/// (`::ffff:192.0.2.1`) are returned as IPv4.
#[must_use]
pub fn classify_source(s: &str) -> (NetClass, Option<IpAddr>) {
    let s = s.trim();
    if s.is_empty() {
        return (NetClass::Invalid, None);
    }
    if is_aws_service(s) {
        return (NetClass::AwsService, None);
    }
    let Some(ip) = parse_strict(s) else {
        return (NetClass::Invalid, None);
    };
    let ip = ip.to_canonical();
    let class = if is_reserved(ip) {
        NetClass::Private
    } else {
        NetClass::Public
    };
    (class, Some(ip))
}

/// `AWS Internal` or a DNS name under `amazonaws.com`.
fn is_aws_service(s: &str) -> bool {
    if s.eq_ignore_ascii_case("AWS Internal") {
        return true;
    }
    const SUFFIX: &str = ".amazonaws.com";
    s.len() > SUFFIX.len()
        && s.get(s.len() - SUFFIX.len()..)
            .is_some_and(|tail| tail.eq_ignore_ascii_case(SUFFIX))
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// Parse an address, refusing forms a lenient parser would accept with a different
/// meaning: leading zeros in an IPv4 octet and IPv6 zone ids.
fn parse_strict(s: &str) -> Option<IpAddr> {
    if s.contains(':') {
        return s.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    // std already rejects leading zeros; checking here keeps the rule explicit and
    // independent of the standard library's parser.
    let leading_zero = s
        .split('.')
        .any(|octet| octet.len() > 1 && octet.starts_with('0'));
    if leading_zero {
        return None;
    }
    s.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

/// Whether the address is in a range that is not globally routable unicast.
#[must_use]
pub fn is_reserved(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_reserved_v4(v4),
        IpAddr::V6(v6) => is_reserved_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

/// IANA IPv4 special-purpose ranges that are not global unicast.
const RESERVED_V4: &[([u8; 4], u32)] = &[
    ([0, 0, 0, 0], 8),       // "this network"
    ([10, 0, 0, 0], 8),      // private
    ([100, 64, 0, 0], 10),   // CGNAT shared address space
    ([127, 0, 0, 0], 8),     // loopback
    ([169, 254, 0, 0], 16),  // link-local
    ([172, 16, 0, 0], 12),   // private
    ([192, 0, 0, 0], 24),    // IETF protocol assignments
    ([192, 0, 2, 0], 24),    // TEST-NET-1
    ([192, 88, 99, 0], 24),  // deprecated 6to4 relay anycast
    ([192, 168, 0, 0], 16),  // private
    ([198, 18, 0, 0], 15),   // benchmarking
    ([198, 51, 100, 0], 24), // TEST-NET-2
    ([203, 0, 113, 0], 24),  // TEST-NET-3
    ([224, 0, 0, 0], 4),     // multicast
    ([240, 0, 0, 0], 4),     // reserved, and 255.255.255.255 broadcast
];

fn is_reserved_v4(ip: Ipv4Addr) -> bool {
    RESERVED_V4
        .iter()
        .any(|&(net, prefix)| in_v4(ip, net, prefix))
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], prefix: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(net)) & mask
}

/// IANA IPv6 special-purpose ranges that are not global unicast.
const RESERVED_V6: &[([u16; 8], u32)] = &[
    ([0, 0, 0, 0, 0, 0, 0, 0], 128),         // unspecified
    ([0, 0, 0, 0, 0, 0, 0, 1], 128),         // loopback
    ([0, 0, 0, 0, 0, 0xffff, 0, 0], 96),     // IPv4-mapped (canonicalised before)
    ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48),  // local-use NAT64
    ([0x100, 0, 0, 0, 0, 0, 0, 0], 64),      // discard-only
    ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),     // IETF protocol assignments (incl. Teredo)
    ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation
    ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16),     // 6to4
    ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),     // documentation (RFC 9637)
    ([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16),     // segment routing SIDs
    ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7),      // unique local
    ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10),     // link-local
    ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10),     // deprecated site-local
    ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8),      // multicast
];

fn is_reserved_v6(ip: Ipv6Addr) -> bool {
    RESERVED_V6
        .iter()
        .any(|&(net, prefix)| in_v6(ip, net, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> NetClass {
        classify_source(s).0
    }

    #[test]
    fn aws_services_and_internal() {
        for s in [
            "AWS Internal",
            "aws internal",
            "secretsmanager.amazonaws.com",
            "bedrock.amazonaws.com",
            "console.ec2.amazonaws.com",
            " cloudtrail.amazonaws.com ",
        ] {
            assert_eq!(classify_source(s), (NetClass::AwsService, None), "{s}");
        }
        // Not a service name: the suffix alone, another domain, or junk before it.
        for s in [
            ".amazonaws.com",
            "amazonaws.com.evil.example",
            "a b.amazonaws.com",
        ] {
            assert_eq!(class(s), NetClass::Invalid, "{s}");
        }
    }

    #[test]
    fn malformed_addresses_are_invalid() {
        for s in [
            "",
            "   ",
            "035.249.253.232",
            "253.252.51.07",
            "1.2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "1.2.3.-4",
            "fe80::1%eth0",
            "2001:db8:::1",
            "example.com",
            "\u{0}",
            "１.２.３.４",
        ] {
            assert_eq!(classify_source(s), (NetClass::Invalid, None), "{s:?}");
        }
    }

    #[test]
    fn reserved_ranges_are_private() {
        for s in [
            "0.1.2.3",
            "10.0.0.1",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.10",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.200",
            "224.0.0.251",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "2001:db8::1",
            "3fff::1",
            "100::1",
            "::ffff:10.1.2.3",
        ] {
            let (c, ip) = classify_source(s);
            assert_eq!(c, NetClass::Private, "{s}");
            assert!(ip.is_some(), "{s}");
        }
    }

    #[test]
    fn public_addresses() {
        for s in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "198.20.0.0",
            "64.124.1.2",
            "2600:1f18::1",
            "2001:db9::1",
            "2a00:1450:4001::200e",
        ] {
            assert_eq!(class(s), NetClass::Public, "{s}");
        }
    }

    #[test]
    fn mapped_v6_is_returned_as_v4() {
        let (c, ip) = classify_source("::ffff:64.124.0.1");
        assert_eq!(c, NetClass::Public);
        assert_eq!(ip, Some(IpAddr::V4(Ipv4Addr::new(64, 124, 0, 1))));
    }
}
