//! HTTPS out of the box. Browsers open the camera, the wake lock, Web Push and installation
//! only on secure origins, so a phone on the home Wi-Fi needs HTTPS to be a camera at all.
//!
//! Where the certificate comes from (`tls.mode`):
//! - `self-signed` (default): a certificate authority of this server's own ([`local_ca`])
//!   issues a certificate for every name the server has on the network ([`names`]); a phone
//!   trusts the CA once (`/ca.crt`, the web app's "Trust this server" page) and then sees no
//!   warning, also after the certificate is re-issued for new addresses.
//! - `files`: a PEM chain and key (certbot's, say), re-read when they change ([`files`]).
//! - `acme`: certificates from an ACME CA such as Let's Encrypt ([`acme`]).
//! - `off`: HTTP only.
//!
//! Each mode gives the listener a [`rustls::server::ResolvesServerCert`] that can change its
//! certificate while the server runs, and a refresh task the server runs until shutdown.

pub mod acme;
pub mod files;
pub mod local_ca;
pub mod names;
pub mod routes;

use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::future::BoxFuture;
use securecam_signal::types::links::KnownHosts;
use serde::{Deserialize, Serialize};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{self, ServerConfig};
use tokio_util::sync::CancellationToken;

/// Where HTTPS listens when `https_addr` is not set.
pub const DEFAULT_HTTPS_PORT: u16 = 8443;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    #[default]
    SelfSigned,
    Files,
    Acme,
    Off,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AcmeChallenge {
    /// On the HTTPS port itself: nothing else needs to be reachable.
    #[default]
    TlsAlpn01,
    /// On the HTTP port (it must be reachable on port 80 from the CA).
    Http01,
}

/// `SECURECAM_TLS__*`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct TlsSettings {
    pub mode: TlsMode,
    /// `self-signed`: names (DNS names or IP addresses, comma-separated) the certificate covers
    /// besides `localhost`, the loopback and interface addresses, the host name and
    /// `<host name>.local`.
    pub extra_names: Option<String>,
    /// `files`: the certificate chain (PEM, leaf first).
    pub cert_file: Option<PathBuf>,
    /// `files`: its private key (PEM).
    pub key_file: Option<PathBuf>,
    /// `acme`: the names to get a certificate for, comma-separated.
    pub acme_domains: Option<String>,
    /// `acme`: a contact for the account, `mailto:you@example.org` (or just the address).
    pub acme_contact: Option<String>,
    /// `acme`: the CA's directory; default Let's Encrypt's production directory.
    pub acme_directory_url: String,
    /// `acme`: `tls-alpn-01` (default, on the HTTPS port) or `http-01` (on the HTTP port).
    pub acme_challenge: AcmeChallenge,
    /// `acme`: a PEM root certificate to trust for the directory itself, beside the usual web
    /// roots (a private ACME CA, or Pebble in tests).
    pub acme_directory_ca_file: Option<PathBuf>,
    /// Seconds between checks for a changed certificate file (`files`) or changed network
    /// names (`self-signed`).
    pub check_interval_secs: u64,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            mode: TlsMode::SelfSigned,
            extra_names: None,
            cert_file: None,
            key_file: None,
            acme_domains: None,
            acme_contact: None,
            acme_directory_url: "https://acme-v02.api.letsencrypt.org/directory".to_string(),
            acme_challenge: AcmeChallenge::TlsAlpn01,
            acme_directory_ca_file: None,
            check_interval_secs: 60,
        }
    }
}

impl TlsSettings {
    pub fn check_interval(&self) -> Duration {
        Duration::from_secs(self.check_interval_secs.max(1))
    }
}

/// A comma-separated setting as its trimmed, non-empty items.
pub fn split_list(list: Option<&str>) -> Vec<String> {
    list.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_string)
        .collect()
}

/// The certificate the listener presents now; replaced when a refresh issues or reads a new one.
pub struct CurrentCert(RwLock<Arc<CertifiedKey>>);

impl CurrentCert {
    pub fn new(cert: CertifiedKey) -> Arc<Self> {
        Arc::new(CurrentCert(RwLock::new(Arc::new(cert))))
    }

    pub fn replace(&self, cert: CertifiedKey) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(cert);
    }

    pub fn get(&self) -> Arc<CertifiedKey> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl fmt::Debug for CurrentCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CurrentCert")
    }
}

impl ResolvesServerCert for CurrentCert {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

/// The local CA's certificate, as served to phones that want to trust it.
#[derive(Debug, Clone)]
pub struct CaCertificate {
    pub pem: String,
    pub der: Vec<u8>,
    /// SHA-256 of the DER, as browsers and phones show it: `AB:CD:…`.
    pub sha256: String,
}

impl CaCertificate {
    pub fn from_der(der: Vec<u8>, pem: String) -> Self {
        use sha2::{Digest, Sha256};
        let sha256 = Sha256::digest(&der)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        CaCertificate { pem, der, sha256 }
    }
}

/// HTTPS as the server runs it: the rustls configuration of the listener, what `/ca.pem` and
/// `/api/v1/tls` show, and the task that keeps the certificate current.
pub struct Tls {
    pub mode: TlsMode,
    pub server_config: Arc<ServerConfig>,
    pub ca: Option<CaCertificate>,
    /// The names the certificate covers now (kept current by the refresh task); also the
    /// hosts links may follow (see `securecam_signal::types::links`).
    pub names: KnownHosts,
    names_list: Arc<RwLock<Vec<String>>>,
    /// ACME's HTTP-01 answers, for the HTTP listener.
    pub http01: Option<acme::Http01Answers>,
    refresh: Option<Refresh>,
}

/// Keeps the certificate current until the token is cancelled.
pub type Refresh = Box<dyn FnOnce(CancellationToken) -> BoxFuture<'static, ()> + Send>;

/// A refresh that runs `check` every `interval` (the first time one interval from now) until
/// the server stops: how `self-signed` and `files` keep their certificate current.
pub fn periodic(interval: Duration, mut check: impl FnMut() + Send + 'static) -> Refresh {
    Box::new(move |stop: CancellationToken| -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let start = tokio::time::Instant::now() + interval;
            let mut ticks = tokio::time::interval_at(start, interval);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = ticks.tick() => check(),
                }
            }
        })
    })
}

/// What each mode hands back to [`Tls::start`].
pub struct Started {
    pub resolver: Arc<dyn ResolvesServerCert>,
    pub ca: Option<CaCertificate>,
    pub names: Vec<String>,
    pub refresh: Option<Refresh>,
    /// Extra ALPN protocols (ACME's `acme-tls/1`).
    pub alpn: Vec<Vec<u8>>,
    pub http01: Option<acme::Http01Answers>,
}

impl Tls {
    /// Sets up the mode's certificate (creating the local CA on first start); `None` when off.
    pub async fn start(
        tls: &TlsSettings,
        data_dir: &std::path::Path,
    ) -> anyhow::Result<Option<Tls>> {
        let names = KnownHosts::default();
        let names_list = Arc::new(RwLock::new(Vec::new()));
        let shared = SharedNames {
            hosts: names.clone(),
            list: names_list.clone(),
        };
        let started = match tls.mode {
            TlsMode::Off => return Ok(None),
            TlsMode::SelfSigned => local_ca::start(tls, data_dir, shared.clone())?,
            TlsMode::Files => files::start(tls)?,
            TlsMode::Acme => acme::start(tls, data_dir).await?,
        };
        shared.set(started.names.clone());
        let mut server_config = ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(started.resolver);
        server_config.alpn_protocols = started.alpn;
        server_config
            .alpn_protocols
            .extend([b"h2".to_vec(), b"http/1.1".to_vec()]);
        Ok(Some(Tls {
            mode: tls.mode,
            server_config: Arc::new(server_config),
            ca: started.ca,
            names,
            names_list,
            http01: started.http01,
            refresh: started.refresh,
        }))
    }

    /// The names the certificate covers now, LAN addresses first.
    pub fn names(&self) -> Vec<String> {
        self.names_list
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The names, as the refresh task keeps them.
    pub fn names_handle(&self) -> Arc<RwLock<Vec<String>>> {
        self.names_list.clone()
    }

    /// The task that keeps the certificate current (taken once).
    pub fn take_refresh(&mut self) -> Option<Refresh> {
        self.refresh.take()
    }
}

/// The names of the current certificate, shared by the refresh task and whoever shows them.
#[derive(Clone)]
pub struct SharedNames {
    hosts: KnownHosts,
    list: Arc<RwLock<Vec<String>>>,
}

impl SharedNames {
    pub fn set(&self, names: Vec<String>) {
        self.hosts.replace(names.iter().cloned());
        *self.list.write().unwrap_or_else(|e| e.into_inner()) = names;
    }
}

/// The HTTPS URLs of `names` on `port` (`https://name:port`, IPv6 in brackets, no port for
/// 443), for the startup log and `/api/v1/tls`.
pub fn https_urls(names: &[String], port: u16) -> Vec<String> {
    names
        .iter()
        .filter(|name| !name.starts_with('*'))
        .map(|name| {
            let host = match name.parse::<std::net::Ipv6Addr>() {
                Ok(_) => format!("[{name}]"),
                Err(_) => name.clone(),
            };
            match port {
                443 => format!("https://{host}"),
                port => format!("https://{host}:{port}"),
            }
        })
        .collect()
}
