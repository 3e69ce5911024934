//! The server's VAPID key pair (RFC 8292): browsers subscribe with its public key, and every
//! Web Push request is signed with it. Made once and kept (see `securecam::keys`): a new key
//! would orphan every subscription.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use web_push_native::jwt_simple::prelude::*;

pub struct VapidKey(ES256KeyPair);

impl VapidKey {
    pub fn generate() -> Self {
        VapidKey(ES256KeyPair::generate())
    }

    pub fn from_pem(pem: &str) -> Result<Self, String> {
        ES256KeyPair::from_pem(pem)
            .map(VapidKey)
            .map_err(|e| format!("not a P-256 private key: {e}"))
    }

    pub fn to_pem(&self) -> String {
        self.0.to_pem().expect("a generated P-256 key encodes")
    }

    /// The uncompressed public point, base64url without padding: what
    /// `pushManager.subscribe({applicationServerKey})` takes.
    pub fn public_key(&self) -> String {
        let point = self.0.public_key().public_key().to_bytes_uncompressed();
        URL_SAFE_NO_PAD.encode(point)
    }

    pub(crate) fn key_pair(&self) -> &ES256KeyPair {
        &self.0
    }
}

impl Clone for VapidKey {
    fn clone(&self) -> Self {
        VapidKey(ES256KeyPair::from_bytes(&self.0.to_bytes()).expect("own bytes decode"))
    }
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("VapidKey").field(&self.public_key()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_pem_and_shows_a_65_byte_public_point() {
        let key = VapidKey::generate();
        let again = VapidKey::from_pem(&key.to_pem()).unwrap();
        assert_eq!(key.public_key(), again.public_key());
        let point = URL_SAFE_NO_PAD.decode(key.public_key()).unwrap();
        assert_eq!(point.len(), 65);
        assert_eq!(point[0], 4, "uncompressed");
        assert!(VapidKey::from_pem("nonsense").is_err());
    }
}
