//! Media tokens: what signal hands a camera (publish) or a viewer (subscribe) and the relay
//! checks without a database round trip. A token is a compact JWS (a JWT) signed with the
//! deployment's Ed25519 key, scoped to one stream and one direction, and short-lived.
//!
//! Written over `ed25519-dalek` (already a dependency for the key) rather than a JWT crate:
//! with one fixed algorithm it is a few lines, and accepting exactly `EdDSA` leaves no
//! algorithm to confuse.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `{"alg":"EdDSA","typ":"JWT"}`, the only header this module writes or accepts.
const HEADER: &str = r#"{"alg":"EdDSA","typ":"JWT"}"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Publish,
    Subscribe,
}

/// What a media token grants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaClaims {
    /// The device the token was issued to.
    pub sub: Uuid,
    /// The relay stream (the path segment of `/media/whip/{stream}` and `/media/whep/{stream}`).
    pub stream: String,
    pub dir: Direction,
    /// The stream session it was issued for.
    pub sid: Uuid,
    /// Issued and expiry times, Unix seconds.
    pub iat: i64,
    pub exp: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("bad signature")]
    BadSignature,
    #[error("token expired")]
    Expired,
    #[error("token is for another stream or direction")]
    WrongScope,
}

pub fn sign(key: &SigningKey, claims: &MediaClaims) -> String {
    let header = URL_SAFE_NO_PAD.encode(HEADER);
    let payload =
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims always serialise"));
    let signing_input = format!("{header}.{payload}");
    let signature = key.sign(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    )
}

/// Checks signature, expiry (`now` in Unix seconds) and scope.
pub fn verify(
    key: &VerifyingKey,
    token: &str,
    stream: &str,
    dir: Direction,
    now: i64,
) -> Result<MediaClaims, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header_json = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| TokenError::Malformed)?;
    if header_json != HEADER.as_bytes() {
        return Err(TokenError::Malformed);
    }
    let signature: [u8; 64] = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| TokenError::Malformed)?
        .try_into()
        .map_err(|_| TokenError::Malformed)?;
    let signing_input = &token[..header.len() + 1 + payload.len()];
    key.verify(signing_input.as_bytes(), &Signature::from_bytes(&signature))
        .map_err(|_| TokenError::BadSignature)?;
    let claims: MediaClaims = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|json| serde_json::from_slice(&json).ok())
        .ok_or(TokenError::Malformed)?;
    if claims.exp <= now {
        return Err(TokenError::Expired);
    }
    if claims.stream != stream || claims.dir != dir {
        return Err(TokenError::WrongScope);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(dir: Direction) -> MediaClaims {
        MediaClaims {
            sub: Uuid::now_v7(),
            stream: "cam-1".into(),
            dir,
            sid: Uuid::now_v7(),
            iat: 1_000,
            exp: 1_120,
        }
    }

    #[test]
    fn signed_tokens_verify_only_in_scope_and_time() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let public = key.verifying_key();
        let token = sign(&key, &claims(Direction::Publish));
        let ok = verify(&public, &token, "cam-1", Direction::Publish, 1_100).unwrap();
        assert_eq!(ok.dir, Direction::Publish);
        assert_eq!(
            verify(&public, &token, "cam-1", Direction::Publish, 1_120),
            Err(TokenError::Expired)
        );
        assert_eq!(
            verify(&public, &token, "cam-2", Direction::Publish, 1_100),
            Err(TokenError::WrongScope)
        );
        assert_eq!(
            verify(&public, &token, "cam-1", Direction::Subscribe, 1_100),
            Err(TokenError::WrongScope)
        );
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
        assert_eq!(
            verify(&other, &token, "cam-1", Direction::Publish, 1_100),
            Err(TokenError::BadSignature)
        );
        // Changing the claims breaks the signature.
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&MediaClaims {
                exp: 9_999_999,
                ..claims(Direction::Publish)
            })
            .unwrap(),
        );
        parts[1] = &forged;
        assert_eq!(
            verify(
                &public,
                &parts.join("."),
                "cam-1",
                Direction::Publish,
                1_100
            ),
            Err(TokenError::BadSignature)
        );
        // Another algorithm in the header is not even considered.
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            parts[1]
        );
        assert_eq!(
            verify(&public, &none, "cam-1", Direction::Publish, 1_100),
            Err(TokenError::Malformed)
        );
    }
}
