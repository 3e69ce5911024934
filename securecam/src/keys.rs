//! Signing keys kept under the data directory: created on first start, reused after, readable
//! only by the server's user. The media-token key (Ed25519) signs short-lived publish and
//! subscribe tokens that the relay checks without a database round trip.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;

pub struct Keys {
    pub media_signing: SigningKey,
}

pub fn media_key_path(data_dir: &Path) -> PathBuf {
    data_dir.join("keys").join("media-signing-ed25519.pem")
}

/// Loads the keys under `data_dir`, creating any that are missing.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<Keys> {
    let path = media_key_path(data_dir);
    let media_signing = if path.exists() {
        let pem =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        SigningKey::from_pkcs8_pem(&pem).with_context(|| format!("parsing {}", path.display()))?
    } else {
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .context("encoding signing key")?;
        write_private(&path, pem.as_bytes())?;
        tracing::debug!(path = %path.display(), "created media signing key");
        key
    };
    Ok(Keys { media_signing })
}

/// Writes a secret file readable only by its owner, atomically (temp file + rename).
fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().context("key path has a directory")?;
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = path.with_extension("tmp");
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
    fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
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
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(media_key_path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
