//! Where the links the server makes point (pairing and invite pages, WHIP/WHEP endpoints,
//! playback and upload URLs, password-reset mail).
//!
//! With `public_url` set, always there. Without it, a household's server has no one name: the
//! laptop is `localhost` to itself, `192.168.1.20` or `laptop.local` to a phone on the Wi-Fi.
//! Links then follow the scheme, host and port the request came in on, so a phone that reached
//! the server by its LAN address over HTTPS gets LAN HTTPS links. Only for hosts that are this
//! server's own names: a `Host` header is the client's to choose, and a link made from a
//! forged one (a reset mail pointing at another site, a camera told to publish elsewhere)
//! must fall back to `public_url` instead.

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

/// Which listener a request came in on; the server puts it in each request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }
}

/// The names (DNS names and IP addresses, lowercase, no port) links may be made for. Shared
/// and replaceable: the HTTPS side updates it when the machine's addresses change.
#[derive(Debug, Clone, Default)]
pub struct KnownHosts(Arc<RwLock<BTreeSet<String>>>);

impl KnownHosts {
    pub fn new(hosts: impl IntoIterator<Item = String>) -> Self {
        let known = KnownHosts::default();
        known.replace(hosts);
        known
    }

    pub fn replace(&self, hosts: impl IntoIterator<Item = String>) {
        let hosts = hosts.into_iter().map(|h| normalize_host(&h)).collect();
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = hosts;
    }

    pub fn contains(&self, host: &str) -> bool {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&normalize_host(host))
    }
}

/// `[::1]` and `::1` are one host; names are case-insensitive; a trailing dot is the same name.
fn normalize_host(host: &str) -> String {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// The base URL (no trailing slash) of links for a request that came in on `scheme` naming
/// `authority` (`Host` header or HTTP/2 `:authority`).
pub fn link_base(
    public_url: &str,
    from_request: Option<&KnownHosts>,
    scheme: Scheme,
    authority: Option<&str>,
) -> String {
    let fallback = || public_url.trim_end_matches('/').to_string();
    let (Some(known), Some(authority)) = (from_request, authority) else {
        return fallback();
    };
    // A syntactically valid authority with no user info, whose host is one of ours.
    let Ok(parsed) = authority.parse::<http::uri::Authority>() else {
        return fallback();
    };
    if parsed.as_str().contains('@') || !known.contains(parsed.host()) {
        return fallback();
    }
    format!(
        "{}://{}",
        scheme.as_str(),
        parsed.as_str().to_ascii_lowercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> KnownHosts {
        KnownHosts::new(
            [
                "localhost",
                "127.0.0.1",
                "::1",
                "laptop.local",
                "192.168.1.20",
            ]
            .map(String::from),
        )
    }

    #[test]
    fn links_follow_a_known_host_and_the_listener() {
        let known = known();
        let base =
            |scheme, authority| link_base("http://localhost:8080", Some(&known), scheme, authority);
        assert_eq!(
            base(Scheme::Https, Some("192.168.1.20:8443")),
            "https://192.168.1.20:8443"
        );
        assert_eq!(
            base(Scheme::Https, Some("Laptop.Local:8443")),
            "https://laptop.local:8443"
        );
        assert_eq!(base(Scheme::Http, Some("[::1]:8080")), "http://[::1]:8080");
        assert_eq!(
            base(Scheme::Https, Some("laptop.local")),
            "https://laptop.local"
        );
    }

    #[test]
    fn anything_else_falls_back_to_the_public_url() {
        let known = known();
        let base = |authority| {
            link_base(
                "http://localhost:8080/",
                Some(&known),
                Scheme::Https,
                authority,
            )
        };
        assert_eq!(base(Some("evil.example")), "http://localhost:8080");
        assert_eq!(
            base(Some("evil.example@localhost")),
            "http://localhost:8080"
        );
        assert_eq!(base(Some("local host")), "http://localhost:8080");
        assert_eq!(base(None), "http://localhost:8080");
        // With public_url set, requests decide nothing.
        assert_eq!(
            link_base(
                "https://cam.example",
                None,
                Scheme::Http,
                Some("localhost:8080")
            ),
            "https://cam.example"
        );
    }
}
