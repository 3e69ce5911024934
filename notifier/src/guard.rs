//! Webhooks and Web Push go to URLs that users give us; without care they would let anyone
//! make this server call its own loopback, the LAN or a cloud metadata service. Targets must
//! be public: a literal address is checked before the request, a name is checked as it is
//! resolved (so a name that resolves to 127.0.0.1 is refused too, and no redirect is ever
//! followed). `allow_private_targets` lifts the rule for tests and LAN set-ups.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
                || v6.segments()[..2] == [0x2001, 0x0db8] // documentation
                || v6.segments()[..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible
        }
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || a >= 240) // reserved
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
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "2a00:1450:4001::1",
            "::ffff:8.8.8.8",
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
