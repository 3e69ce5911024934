//! `self-signed`: a certificate authority of this server's own, made on first start, issues
//! the HTTPS certificate. A phone trusts the CA once; the server certificate is then re-issued
//! by the same CA whenever the machine's names change (a new DHCP address, a renamed host) or
//! it nears expiry, and the phone keeps trusting it.
//!
//! Files under the data directory:
//! - `keys/tls-ca-key.pem`: the CA's private key (0600, never served);
//! - `keys/tls-server-key.pem`: the server certificate's key (0600);
//! - `tls/ca.pem`: the CA certificate (what `/ca.pem` serves);
//! - `tls/server.pem` and `tls/server.json`: the server certificate and what it was issued
//!   for (names, expiry, issuing CA), to decide when to re-issue without parsing X.509.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::sign::CertifiedKey;

use super::{
    names, periodic, split_list, CaCertificate, CurrentCert, SharedNames, Started, TlsSettings,
};
use crate::keys::{write_private_once, write_replacing};

/// How long a server certificate is valid: within the 398 days every browser accepts.
const SERVER_VALIDITY: time::Duration = time::Duration::days(397);
/// Re-issued this long before it expires.
const RENEW_BEFORE: time::Duration = time::Duration::days(30);
/// The CA outlives many re-issues: a phone trusts it once.
const CA_VALIDITY: time::Duration = time::Duration::days(20 * 365);

struct Paths {
    ca_key: PathBuf,
    ca_cert: PathBuf,
    server_key: PathBuf,
    server_cert: PathBuf,
    issued: PathBuf,
}

impl Paths {
    fn new(data_dir: &Path) -> Self {
        let keys = data_dir.join("keys");
        let tls = data_dir.join("tls");
        Paths {
            ca_key: keys.join("tls-ca-key.pem"),
            ca_cert: tls.join("ca.pem"),
            server_key: keys.join("tls-server-key.pem"),
            server_cert: tls.join("server.pem"),
            issued: tls.join("server.json"),
        }
    }
}

/// What the server certificate on disk was issued for.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Issued {
    names: Vec<String>,
    not_after: i64,
    ca_sha256: String,
}

/// The CA: its key and certificate.
pub struct LocalCa {
    key: KeyPair,
    pub certificate: CaCertificate,
}

impl LocalCa {
    /// Loads the CA under `data_dir`, creating it on first start.
    pub fn load_or_create(data_dir: &Path) -> anyhow::Result<LocalCa> {
        let paths = Paths::new(data_dir);
        if !paths.ca_key.exists() {
            let key = KeyPair::generate().context("generating the CA key")?;
            if write_private_once(&paths.ca_key, key.serialize_pem().as_bytes())? {
                tracing::debug!(path = %paths.ca_key.display(), "created this server's certificate authority");
            }
        }
        // Whoever won a start-up race wrote the key: use what is on disk.
        let pem = std::fs::read_to_string(&paths.ca_key)
            .with_context(|| format!("reading {}", paths.ca_key.display()))?;
        let key = KeyPair::from_pem(&pem)
            .with_context(|| format!("parsing {}", paths.ca_key.display()))?;
        let certificate = match std::fs::read(&paths.ca_cert) {
            Ok(pem) if matches_key(&pem, &key) => {
                let der = CertificateDer::from_pem_slice(&pem)
                    .with_context(|| format!("parsing {}", paths.ca_cert.display()))?;
                CaCertificate::from_der(der.to_vec(), String::from_utf8_lossy(&pem).into())
            }
            _ => {
                let now = OffsetDateTime::now_utc();
                let mut params = ca_params(&key);
                params.not_before = now - time::Duration::days(1);
                params.not_after = now + CA_VALIDITY;
                let cert = params
                    .self_signed(&key)
                    .context("signing the CA certificate")?;
                write_replacing(&paths.ca_cert, cert.pem().as_bytes(), 0o644)?;
                CaCertificate::from_der(cert.der().to_vec(), cert.pem())
            }
        };
        Ok(LocalCa { key, certificate })
    }

    /// A server certificate for `names` with a new key: (chain PEM, key PEM, expiry).
    fn issue(&self, names: &[String]) -> anyhow::Result<(String, String, OffsetDateTime)> {
        let key = KeyPair::generate().context("generating the server key")?;
        let mut params =
            CertificateParams::new(names.to_vec()).context("the certificate's names")?;
        params
            .distinguished_name
            .push(DnType::CommonName, names.first().map_or("SecureCam", |n| n));
        params
            .distinguished_name
            .push(DnType::OrganizationName, "SecureCam");
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.serial_number = Some(SerialNumber::from_slice(&rand::random::<[u8; 16]>()));
        let now = OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::hours(1);
        params.not_after = now + SERVER_VALIDITY;
        let issuer = Issuer::new(ca_params(&self.key), &self.key);
        let cert = params
            .signed_by(&key, &issuer)
            .context("signing the server certificate")?;
        Ok((cert.pem(), key.serialize_pem(), params.not_after))
    }
}

/// The CA's parameters. Its name is derived from its key, so the issuer of every certificate
/// it signs later matches the CA certificate without reading that certificate back.
fn ca_params(key: &KeyPair) -> CertificateParams {
    use sha2::{Digest, Sha256};
    let id = hex::encode(&Sha256::digest(key.public_key_raw())[..4]);
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, format!("SecureCam local CA {id}"));
    params
        .distinguished_name
        .push(DnType::OrganizationName, "SecureCam");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

/// Whether the CA certificate in `pem` is `key`'s: its public key appears verbatim in the DER
/// (the subject public key), so no X.509 parser is needed to tell.
fn matches_key(pem: &[u8], key: &KeyPair) -> bool {
    let Ok(der) = CertificateDer::from_pem_slice(pem) else {
        return false;
    };
    let public = key.public_key_raw();
    der.windows(public.len()).any(|w| w == public)
}

/// The certificate under `data_dir` for `names`: the one on disk when it still fits, else a
/// new one from the CA. Returns it and whether it was (re-)issued.
fn current(ca: &LocalCa, paths: &Paths, names: &[String]) -> anyhow::Result<(CertifiedKey, bool)> {
    let wanted_after = OffsetDateTime::now_utc() + RENEW_BEFORE;
    let issued: Option<Issued> = std::fs::read(&paths.issued)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let fits = issued.as_ref().is_some_and(|issued| {
        issued.names == names
            && issued.ca_sha256 == ca.certificate.sha256
            && issued.not_after > wanted_after.unix_timestamp()
    });
    if fits {
        if let Ok(cert) = load(paths) {
            return Ok((cert, false));
        }
    }
    let (chain, key, not_after) = ca.issue(names)?;
    write_replacing(&paths.server_key, key.as_bytes(), 0o600)?;
    write_replacing(&paths.server_cert, chain.as_bytes(), 0o644)?;
    let issued = Issued {
        names: names.to_vec(),
        not_after: not_after.unix_timestamp(),
        ca_sha256: ca.certificate.sha256.clone(),
    };
    write_replacing(&paths.issued, &serde_json::to_vec_pretty(&issued)?, 0o644)?;
    Ok((load(paths)?, true))
}

fn load(paths: &Paths) -> anyhow::Result<CertifiedKey> {
    load_pem_files(&paths.server_cert, &paths.server_key)
}

/// A certificate chain and key from PEM files, checked to belong together.
pub fn load_pem_files(cert: &Path, key: &Path) -> anyhow::Result<CertifiedKey> {
    let chain = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("reading {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("parsing {}", cert.display()))?;
    anyhow::ensure!(!chain.is_empty(), "{} holds no certificate", cert.display());
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("reading a private key from {}", key.display()))?;
    CertifiedKey::from_der(chain, key, &rustls::crypto::aws_lc_rs::default_provider())
        .context("the certificate and its key")
}

/// The names to issue for: this machine's, and `tls.extra_names`.
fn wanted_names(tls: &TlsSettings) -> Vec<String> {
    let extra = split_list(tls.extra_names.as_deref());
    names::local_names(&extra)
        .into_iter()
        .filter(|name| name.parse::<std::net::IpAddr>().is_ok() || names::is_dns_name(name))
        .collect()
}

/// The CA and certificates live under `data_dir`.
pub fn start(tls: &TlsSettings, data_dir: &Path, shared: SharedNames) -> anyhow::Result<Started> {
    let ca = LocalCa::load_or_create(data_dir)?;
    let paths = Paths::new(data_dir);
    let names = wanted_names(tls);
    let (cert, issued) = current(&ca, &paths, &names)?;
    if issued {
        tracing::debug!(names = %names.join(", "), "issued this server's HTTPS certificate");
    }
    let resolver = CurrentCert::new(cert);
    let certificate = ca.certificate.clone();
    let refresh = {
        let resolver = resolver.clone();
        let settings = tls.clone();
        periodic(settings.check_interval(), move || {
            let names = wanted_names(&settings);
            match current(&ca, &paths, &names) {
                Ok((cert, true)) => {
                    resolver.replace(cert);
                    shared.set(names.clone());
                    tracing::info!(names = %names.join(", "), "re-issued this server's HTTPS certificate");
                }
                Ok((_, false)) => {}
                Err(err) => {
                    tracing::warn!(error = ?err, "could not re-issue the HTTPS certificate")
                }
            }
        })
    };
    Ok(Started {
        resolver: resolver as Arc<dyn rustls::server::ResolvesServerCert>,
        ca: Some(certificate),
        names,
        refresh: Some(refresh),
        alpn: Vec::new(),
        http01: None,
    })
}
