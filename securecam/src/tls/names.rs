//! The names a phone on the home network may reach this server by: what the local
//! certificate covers, what links may follow, and what the startup log prints.

use std::collections::BTreeSet;
use std::net::IpAddr;

/// This machine's host name (lowercase), if it has a usable one.
pub fn host_name() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|name| name.trim().trim_end_matches('.').to_ascii_lowercase())
        .filter(|name| is_dns_name(name))
}

/// Every non-loopback address of this machine's interfaces, IPv4 first. IPv6 link-local
/// addresses are left out: a URL needs their zone, which no phone knows.
pub fn interface_addresses() -> Vec<IpAddr> {
    let mut addresses: Vec<IpAddr> = if_addrs::get_if_addrs()
        .map(|interfaces| {
            interfaces
                .into_iter()
                .map(|interface| interface.ip())
                .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
                .filter(|ip| !matches!(ip, IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80))
                .collect()
        })
        .unwrap_or_else(|err| {
            tracing::warn!(error = %err, "could not list the network interfaces");
            Vec::new()
        });
    addresses.sort_by_key(|ip| (ip.is_ipv6(), *ip));
    addresses.dedup();
    addresses
}

/// The names of this server, most useful to a phone first: interface addresses (what a QR
/// code should carry), `<host>.local` (mDNS), the host name, then `localhost` and loopback,
/// then `extra` (each once, lowercase).
pub fn local_names(extra: &[String]) -> Vec<String> {
    let mut names: Vec<String> = interface_addresses()
        .into_iter()
        .map(|ip| ip.to_string())
        .collect();
    if let Some(host) = host_name() {
        if host != "localhost" {
            if !host.ends_with(".local") {
                names.push(format!("{host}.local"));
            }
            names.push(host);
        }
    }
    names.extend(["localhost", "127.0.0.1", "::1"].map(String::from));
    names.extend(extra.iter().map(|name| name.trim().to_ascii_lowercase()));
    let mut seen = BTreeSet::new();
    names.retain(|name| !name.is_empty() && seen.insert(name.clone()));
    names
}

/// Letters, digits and hyphens in dot-separated labels of 1 to 63 characters (a leading `*.`
/// allowed): what may go into a certificate as a DNS name.
pub fn is_dns_name(name: &str) -> bool {
    let name = name.strip_prefix("*.").unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_loopback_and_extras_once() {
        let names = local_names(&["Camera.Home.Arpa".into(), "localhost".into()]);
        for expected in ["localhost", "127.0.0.1", "::1", "camera.home.arpa"] {
            assert_eq!(
                names.iter().filter(|n| *n == expected).count(),
                1,
                "{names:?}"
            );
        }
        if let Some(host) = host_name() {
            assert!(names.contains(&host), "{names:?}");
        }
        // Interface addresses come first: they are what a phone can always reach.
        let first_loopback = names.iter().position(|n| n == "localhost").unwrap();
        assert!(names[..first_loopback]
            .iter()
            .all(|n| n.parse::<IpAddr>().map_or(true, |ip| !ip.is_loopback())));
    }

    #[test]
    fn dns_names() {
        assert!(is_dns_name("camera.home.arpa"));
        assert!(is_dns_name("*.example.org"));
        assert!(is_dns_name("laptop-2"));
        assert!(!is_dns_name("bad_name"));
        assert!(!is_dns_name("-x.example"));
        assert!(!is_dns_name(""));
        assert!(!is_dns_name("a..b"));
    }
}
