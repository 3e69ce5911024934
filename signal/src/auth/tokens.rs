//! Opaque bearer tokens: 256 random bits, base64url, with a prefix that says what kind of
//! credential it is (so a leaked token is recognisable and the lookup goes to the right table).
//! Only the SHA-256 of a token is ever stored.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A user session token (from sign-in / sign-up).
pub const USER_TOKEN_PREFIX: &str = "scu_";
/// A device token (issued once when a device is created or paired).
pub const DEVICE_TOKEN_PREFIX: &str = "scd_";
/// A one-time password-reset secret.
pub const RESET_TOKEN_PREFIX: &str = "scr_";
/// A single-use WebSocket ticket.
pub const WS_TICKET_PREFIX: &str = "sct_";
/// A camera's secret for polling its pairing code.
pub const POLL_TOKEN_PREFIX: &str = "scp_";
/// An invitation to watch another person's camera.
pub const INVITE_PREFIX: &str = "sci_";

/// A fresh token: the prefix and 32 random bytes from the OS generator.
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// What the database keeps: SHA-256 of the whole token, hex.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_prefixed() {
        let a = generate(USER_TOKEN_PREFIX);
        let b = generate(USER_TOKEN_PREFIX);
        assert!(a.starts_with("scu_"));
        assert_ne!(a, b);
        // 32 bytes in unpadded base64url is 43 characters: 256 bits.
        assert_eq!(a.len(), 4 + 43);
        assert_eq!(hash(&a).len(), 64);
        assert_eq!(hash(&a), hash(&a.clone()));
        assert_ne!(hash(&a), hash(&b));
    }
}
