//! `acme`: certificates from an ACME CA (Let's Encrypt by default) for `tls.acme_domains`,
//! with no other software: `rustls-acme` orders, answers the challenge, caches the account and
//! certificate under `<data dir>/acme`, renews a third of the lifetime before expiry and swaps
//! the new certificate in while the server runs.
//!
//! Challenges: TLS-ALPN-01 (default) is answered by the HTTPS listener itself (its ALPN list
//! carries `acme-tls/1`; `crate::serve` closes such a connection after the handshake), so only
//! the HTTPS port must be reachable from the CA as port 443. HTTP-01 is answered by the HTTP
//! listener at `/.well-known/acme-challenge/{token}` (reachable as port 80).

use std::sync::Arc;

use anyhow::Context;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::StreamExt;
use rustls_acme::caches::DirCache;
use rustls_acme::{AcmeConfig, ResolvesServerCertAcme, UseChallenge};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::{self, RootCertStore};

use super::{names, split_list, AcmeChallenge, Started, TlsSettings};

/// The ALPN protocol of TLS-ALPN-01 challenges (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = rustls_acme::acme::ACME_TLS_ALPN_NAME;

/// Whether a finished handshake was an ACME CA checking a TLS-ALPN-01 challenge.
pub fn is_challenge(alpn: Option<&[u8]>) -> bool {
    alpn == Some(ACME_TLS_ALPN)
}

/// HTTP-01 answers, served by the HTTP listener.
#[derive(Clone)]
pub struct Http01Answers(Arc<ResolvesServerCertAcme>);

impl Http01Answers {
    /// `/.well-known/acme-challenge/{token}`: the key authorisation of a pending challenge.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/.well-known/acme-challenge/{token}", get(answer))
            .with_state(self.clone())
    }
}

async fn answer(State(answers): State<Http01Answers>, Path(token): Path<String>) -> Response {
    match answers.0.get_http_01_key_auth(&token) {
        Some(key_auth) => (
            [(header::CONTENT_TYPE, "application/octet-stream")],
            key_auth,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The client side of talking to the CA: the usual web roots, and the directory's own CA
/// when one is configured (a private ACME CA, or Pebble in tests).
fn client_config(tls: &TlsSettings) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &tls.acme_directory_ca_file {
        for cert in CertificateDer::pem_file_iter(path)
            .with_context(|| format!("reading {}", path.display()))?
        {
            roots
                .add(cert.with_context(|| format!("parsing {}", path.display()))?)
                .with_context(|| format!("a root certificate in {}", path.display()))?;
        }
    }
    Ok(Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth(),
    ))
}

/// `data_dir` holds the cache (`acme/`).
pub async fn start(tls: &TlsSettings, data_dir: &std::path::Path) -> anyhow::Result<Started> {
    let domains: Vec<String> = split_list(tls.acme_domains.as_deref())
        .into_iter()
        .map(|d| d.to_ascii_lowercase())
        .collect();
    anyhow::ensure!(
        !domains.is_empty(),
        "tls.mode = acme needs tls.acme_domains (SECURECAM_TLS__ACME_DOMAINS)"
    );
    if let Some(bad) = domains.iter().find(|d| !names::is_dns_name(d)) {
        anyhow::bail!("tls.acme_domains: {bad:?} is not a DNS name");
    }
    let cache = data_dir.join("acme");
    std::fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;
    #[cfg(unix)]
    {
        // The account key and certificate keys live here.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o700))?;
    }
    let mut config = AcmeConfig::new_with_client_config(&domains, client_config(tls)?)
        .directory(&tls.acme_directory_url)
        .challenge_type(match tls.acme_challenge {
            AcmeChallenge::TlsAlpn01 => UseChallenge::TlsAlpn01,
            AcmeChallenge::Http01 => UseChallenge::Http01,
        });
    if let Some(contact) = tls.acme_contact.as_deref().filter(|c| !c.is_empty()) {
        let contact = match contact.starts_with("mailto:") {
            true => contact.to_string(),
            false => format!("mailto:{contact}"),
        };
        config = config.contact_push(contact);
    }
    let mut state = config.cache(DirCache::new(cache)).state();
    let resolver = state.resolver();
    tracing::info!(
        domains = %domains.join(", "),
        directory = %tls.acme_directory_url,
        "HTTPS certificates from ACME; until the first arrives, HTTPS handshakes fail"
    );
    let refresh = move |stop: tokio_util::sync::CancellationToken| -> futures::future::BoxFuture<'static, ()> {
        Box::pin(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    event = state.next() => match event {
                        Some(Ok(event)) => tracing::info!(?event, "ACME"),
                        Some(Err(err)) => tracing::warn!(error = %err, "ACME: will try again"),
                        None => return,
                    },
                }
            }
        })
    };
    Ok(Started {
        http01: Some(Http01Answers(resolver.clone())),
        resolver,
        ca: None,
        names: domains,
        refresh: Some(Box::new(refresh)),
        alpn: vec![ACME_TLS_ALPN.to_vec()],
    })
}
