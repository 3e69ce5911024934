//! Signing keys kept under the data directory: created on first start, reused after, readable
//! only by the server's user. The media-token key (Ed25519) signs short-lived publish and
//! subscribe tokens that the relay checks without a database round trip; the VAPID key
//! (P-256) signs Web Push requests, and browsers subscribe with its public half, so it must
//! never change.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;

pub struct Keys {
    pub media_signing: SigningKey,
    pub vapid: securecam_notifier::VapidKey,
}

pub fn media_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("media-signing-ed25519.pem")
}

pub fn vapid_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("vapid-p256.pem")
}

/// Loads the keys under `data_dir`, creating any that are missing.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Keys> {
    let path = media_key_path(data_dir);
    if !path.exists() {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .context("encoding signing key")?;
        if write_private_once(&path, pem.as_bytes())? {
            tracing::debug!(path = %path.display(), "created media signing key");
        }
    }
    // Always read back what is on disk: when several components start at once on a shared
    // key directory, only the first one's key was kept, and all must use that one.
    let pem = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let media_signing =
        SigningKey::from_pkcs8_pem(&pem).with_context(|| format!("parsing {}", path.display()))?;

    let path = vapid_key_path(data_dir);
    if !path.exists()
        && write_private_once(
            &path,
            securecam_notifier::VapidKey::generate().to_pem().as_bytes(),
        )?
    {
        tracing::debug!(path = %path.display(), "created VAPID key");
    }
    let pem = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let vapid = securecam_notifier::VapidKey::from_pem(&pem)
        .map_err(|e| anyhow::anyhow!("parsing {}: {e}", path.display()))?;
    Ok(Keys {
        media_signing,
        vapid,
    })
}

/// Writes a secret file readable only by its owner, complete or not at all, and only if it
/// does not exist yet (temp file + hard link, which fails when another process won the race).
/// Returns whether this call created it.
pub(crate) fn write_private_once(path: &Path, contents: &[u8]) -> anyhow::Result<bool> {
    let dir = path.parent().context("key path has a directory")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = path.with_extension(format!("tmp.{:016x}", rand::random::<u64>()));
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e).with_context(|| format!("writing {}", path.display())),
    }
}

/// Writes `path` whole or not at all (temp file + rename), replacing what was there, with
/// `mode` (0600 for keys): a reader never sees half a certificate.
pub(crate) fn write_replacing(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    let dir = path.parent().context("file path has a directory")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = path.with_extension(format!("tmp.{:016x}", rand::random::<u64>()));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options
        .open(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap();
        let again = load_or_create(dir.path()).unwrap();
        assert_eq!(
            first.media_signing.to_bytes(),
            again.media_signing.to_bytes()
        );
        assert_eq!(first.vapid.public_key(), again.vapid.public_key());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for path in [media_key_path(dir.path()), vapid_key_path(dir.path())] {
                let mode = fs::metadata(path).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600);
            }
        }
    }
}
