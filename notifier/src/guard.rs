//! Webhooks and Web Push go to URLs that users give us; without care they would let anyone
//! make this server call its own loopback, the LAN or a cloud metadata service. Targets must
//! be public: a literal address is checked before the request, a name is checked as it is
//! resolved (so a name that resolves to 127.0.0.1 is refused too, and no redirect is ever
//! followed). `allow_private_targets` lifts the rule for tests and LAN set-ups.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Blocks of the IANA IPv4 Special-Purpose Address Registry (RFC 6890, as updated to 2024)
/// whose addresses are not globally reachable, plus multicast (224.0.0.0/4, not unicast):
/// (first address, prefix length). Data, so a new registry entry is one line.
const V4_NOT_GLOBAL: &[([u8; 4], u8)] = &[
    ([0, 0, 0, 0], 8),       // "this network"
    ([10, 0, 0, 0], 8),      // private use
    ([100, 64, 0, 0], 10),   // shared address space (carrier-grade NAT)
    ([127, 0, 0, 0], 8),     // loopback
    ([169, 254, 0, 0], 16),  // link local (cloud metadata services live here)
    ([172, 16, 0, 0], 12),   // private use
    ([192, 0, 0, 0], 24),    // IETF protocol assignments
    ([192, 0, 2, 0], 24),    // documentation (TEST-NET-1)
    ([192, 88, 99, 0], 24),  // deprecated 6to4 relay anycast
    ([192, 168, 0, 0], 16),  // private use
    ([198, 18, 0, 0], 15),   // benchmarking
    ([198, 51, 100, 0], 24), // documentation (TEST-NET-2)
    ([203, 0, 113, 0], 24),  // documentation (TEST-NET-3)
    ([224, 0, 0, 0], 4),     // multicast
    ([240, 0, 0, 0], 4),     // reserved, and the limited broadcast address
];

/// The same from the IANA IPv6 Special-Purpose Address Registry, plus the deprecated and
/// multicast blocks. Prefixes that embed an IPv4 address are judged by that address instead
/// (see [`embedded_v4`]).
const V6_NOT_GLOBAL: &[(u128, u8)] = &[
    (0, 128),                                        // unspecified
    (1, 128),                                        // loopback
    (0, 96),                                         // IPv4-compatible (deprecated)
    (0x0064_ff9b_0001_0000_0000_0000_0000_0000, 48), // local-use IPv4/IPv6 translation
    (0x0100_0000_0000_0000_0000_0000_0000_0000, 64), // discard-only
    (0x0100_0000_0000_0001_0000_0000_0000_0000, 64), // dummy IPv6 prefix
    (0x2001_0000_0000_0000_0000_0000_0000_0000, 23), // IETF protocol assignments (Teredo, ORCHID, benchmarking…)
    (0x2001_0db8_0000_0000_0000_0000_0000_0000, 32), // documentation
    (0x2002_0000_0000_0000_0000_0000_0000_0000, 16), // 6to4 (relays reach any IPv4 address)
    (0x3fff_0000_0000_0000_0000_0000_0000_0000, 20), // documentation
    (0x5f00_0000_0000_0000_0000_0000_0000_0000, 16), // segment routing SIDs
    (0xfc00_0000_0000_0000_0000_0000_0000_0000, 7),  // unique local
    (0xfe80_0000_0000_0000_0000_0000_0000_0000, 10), // link local
    (0xfec0_0000_0000_0000_0000_0000_0000_0000, 10), // site local (deprecated)
    (0xff00_0000_0000_0000_0000_0000_0000_0000, 8),  // multicast
];

/// IPv6 prefixes whose last 32 bits are an IPv4 address the packet ends up at: IPv4-mapped
/// (`::ffff:0:0/96`), IPv4-translated (`::ffff:0:0:0/96`, RFC 2765) and the well-known NAT64
/// prefix (`64:ff9b::/96`, RFC 6052).
fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(v6);
    let v4 = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    [
        (0x0000_0000_0000_0000_0000_ffff_0000_0000u128, 96u8),
        (0x0000_0000_0000_0000_ffff_0000_0000_0000, 96),
        (0x0064_ff9b_0000_0000_0000_0000_0000_0000, 96),
    ]
    .iter()
    .any(|&(prefix, len)| in_block(bits, prefix, len))
    .then_some(v4)
}

fn in_block(bits: u128, prefix: u128, len: u8) -> bool {
    let mask = match len {
        0 => 0,
        len => u128::MAX << (128 - u32::from(len)),
    };
    bits & mask == prefix & mask
}

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => is_public_v4(v4),
            None => {
                let bits = u128::from(v6);
                !V6_NOT_GLOBAL
                    .iter()
                    .any(|&(prefix, len)| in_block(bits, prefix, len))
            }
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let bits = u32::from(ip);
    !V4_NOT_GLOBAL.iter().any(|&(first, len)| {
        let mask = match len {
            0 => 0,
            len => u32::MAX << (32 - u32::from(len)),
        };
        bits & mask == u32::from(Ipv4Addr::from(first)) & mask
    })
}

/// Why a target URL is refused before any request, if it is: only `http`/`https`, and no
/// literal private address unless allowed.
pub fn check_url(url: &reqwest::Url, allow_private: bool) -> Result<(), String> {
    if !matches!(url.scheme(), "https" | "http") {
        return Err(format!("{} URLs are not allowed", url.scheme()));
    }
    let literal = match url.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => name.parse::<IpAddr>().ok(),
        None => return Err("the URL has no host".into()),
    };
    match literal {
        Some(ip) if !allow_private && !is_public(ip) => Err(format!(
            "{ip} is not a public address (set SECURECAM_ALLOW_PRIVATE_TARGETS for LAN targets)"
        )),
        _ => Ok(()),
    }
}

/// Resolves names with the system resolver and keeps only public addresses.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> =
                all.iter().copied().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// A client for user-given targets: public addresses only (unless allowed), no redirects.
pub fn client(allow_private: bool, user_agent: &str) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(user_agent)
        .pool_max_idle_per_host(64);
    if !allow_private {
        builder = builder.dns_resolver(Arc::new(PublicOnly));
    }
    builder.build().expect("a client with these options builds")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "2001:db8::1",
            // What the first guard let through: NAT64, 6to4, IPv4-translated, the 6to4
            // relay anycast block, Teredo, the newer documentation prefix.
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "2002:0808:0808::1",
            "::ffff:0:7f00:1",
            "::ffff:0:a00:1",
            "192.88.99.1",
            "2001::1",
            "3fff::1",
            "198.51.100.7",
            "203.0.113.1",
            "192.0.0.8",
            "ff02::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "2a00:1450:4001::1",
            "::ffff:8.8.8.8",
            // A public IPv4 address through the well-known NAT64 prefix stays public.
            "64:ff9b::808:808",
            "192.88.100.1",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_are_checked_before_any_request() {
        let check = |url: &str, allow| check_url(&url.parse().unwrap(), allow);
        assert!(check("https://hooks.example/x", false).is_ok());
        assert!(check("http://127.0.0.1:8080/x", false).is_err());
        assert!(check("http://[::1]/x", false).is_err());
        assert!(check("http://169.254.169.254/latest/meta-data", false).is_err());
        assert!(check("http://127.0.0.1:8080/x", true).is_ok());
        assert!(check("ftp://hooks.example/x", true).is_err());
        assert!(check("file:///etc/passwd", true).is_err());
    }

    #[tokio::test]
    async fn names_of_private_addresses_do_not_resolve() {
        let resolved = PublicOnly.resolve("localhost".parse().unwrap()).await;
        assert!(resolved.is_err(), "localhost is loopback");
    }
}
