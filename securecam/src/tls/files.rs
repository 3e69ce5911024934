//! `files`: a certificate chain and key in PEM files that something else renews (certbot,
//! acme.sh, a NAS). They are read again when they change on disk, with no restart.
//!
//! Changes are found by looking (modification time, size and inode of both files, every
//! `tls.check_interval_secs`) rather than by inotify: certbot replaces symbolic links in
//! `live/` that point into `archive/`, which watches on the link or its directory miss, and a
//! look every minute costs nothing. A pair that does not load (the key written before the
//! chain) keeps the old certificate until the next look.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use tokio_rustls::rustls;

use super::local_ca::load_pem_files;
use super::{periodic, CurrentCert, Started, TlsSettings};

/// What identifies a file's content without reading it.
#[derive(Debug, PartialEq, Eq, Clone)]
struct Stamp(Option<(std::time::SystemTime, u64, u64)>);

fn stamp(path: &Path) -> Stamp {
    // `metadata` follows symbolic links: a new target is a new stamp.
    Stamp(std::fs::metadata(path).ok().map(|meta| {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
        #[cfg(not(unix))]
        let inode = 0;
        (
            meta.modified().unwrap_or(std::time::UNIX_EPOCH),
            meta.len(),
            inode,
        )
    }))
}

pub fn start(settings: &TlsSettings) -> anyhow::Result<Started> {
    let cert: PathBuf = settings
        .cert_file
        .clone()
        .context("tls.mode = files needs tls.cert_file (SECURECAM_TLS__CERT_FILE)")?;
    let key: PathBuf = settings
        .key_file
        .clone()
        .context("tls.mode = files needs tls.key_file (SECURECAM_TLS__KEY_FILE)")?;
    let mut stamps = (stamp(&cert), stamp(&key));
    let resolver = CurrentCert::new(load_pem_files(&cert, &key)?);
    let refresh = {
        let resolver = resolver.clone();
        periodic(settings.check_interval(), move || {
            let now = (stamp(&cert), stamp(&key));
            if now == stamps {
                return;
            }
            match load_pem_files(&cert, &key) {
                Ok(loaded) => {
                    resolver.replace(loaded);
                    stamps = now;
                    tracing::info!(cert = %cert.display(), "loaded the renewed HTTPS certificate");
                }
                Err(err) => tracing::warn!(
                    error = ?err,
                    "the HTTPS certificate files changed but do not load; keeping the old one"
                ),
            }
        })
    };
    Ok(Started {
        resolver: resolver as Arc<dyn rustls::server::ResolvesServerCert>,
        ca: None,
        names: Vec::new(),
        refresh: Some(refresh),
        alpn: Vec::new(),
        http01: None,
    })
}
