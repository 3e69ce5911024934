//! Playback and upload URLs. `playback_url` opens one clip for a few minutes without the viewer's bearer
//! token (a `<video src>` cannot send headers). The token in it names the clip and the viewer
//! it was issued to, is signed with a key derived from the deployment's media key (HMAC-SHA256,
//! so every signal node checks it without a database), and expires. The clip is still looked
//! up for that viewer at serve time, so a revoked link or a deleted clip closes the URL at once.
//! A device's upload URL (clips on local disk) is the same kind of token, made for uploading.
//! A device's upload URL (clips on local disk) is the same kind of token, made for uploading.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use hmac::{Hmac, Mac};
use securecam_storage::EventViewer;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// How long a playback URL works (the contract allows at most 15 minutes).
pub const PLAYBACK_TTL_SECS: i64 = 15 * 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlaybackClaims {
    /// The recording.
    pub rid: Uuid,
    /// The viewer: user, and device when issued to a device token.
    pub uid: Uuid,
    pub did: Option<Uuid>,
    /// Expiry, Unix seconds.
    pub exp: i64,
}

impl PlaybackClaims {
    pub fn viewer(&self) -> EventViewer {
        EventViewer {
            user_id: self.uid,
            device_id: self.did,
        }
    }
}

/// Signs and checks playback tokens.
#[derive(Clone)]
pub struct PlaybackKey {
    key: [u8; 32],
}

impl PlaybackKey {
    /// A key of its own, derived from the media signing key (a playback token can never pass
    /// as a media token or the other way round).
    pub fn derive(media: &SigningKey) -> Self {
        let mut hash = Sha256::new();
        hash.update(b"securecam playback url v1\0");
        hash.update(media.to_bytes());
        PlaybackKey {
            key: hash.finalize().into(),
        }
    }

    /// The MAC of `payload` for `purpose`: a token made for one purpose never passes for the
    /// other.
    fn mac(&self, purpose: Purpose, payload: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(purpose.label());
        mac.update(payload.as_bytes());
        mac
    }

    fn sign_for(&self, purpose: Purpose, claims: &PlaybackClaims) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).expect("claims serialise"));
        let tag = URL_SAFE_NO_PAD.encode(self.mac(purpose, &payload).finalize().into_bytes());
        format!("{payload}.{tag}")
    }

    fn verify_for(
        &self,
        purpose: Purpose,
        token: &str,
        recording: Uuid,
        now: DateTime<Utc>,
    ) -> Option<PlaybackClaims> {
        let (payload, tag) = token.split_once('.')?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.mac(purpose, payload).verify_slice(&tag).ok()?;
        let claims: PlaybackClaims =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        (claims.rid == recording && claims.exp > now.timestamp()).then_some(claims)
    }

    /// A playback token: `viewer` may fetch `recording` for 15 minutes.
    pub fn sign(&self, recording: Uuid, viewer: EventViewer, now: DateTime<Utc>) -> String {
        let claims = PlaybackClaims {
            rid: recording,
            uid: viewer.user_id,
            did: viewer.device_id,
            exp: now.timestamp() + PLAYBACK_TTL_SECS,
        };
        self.sign_for(Purpose::Playback, &claims)
    }

    /// The claims of a valid, unexpired playback token for `recording`.
    pub fn verify(
        &self,
        token: &str,
        recording: Uuid,
        now: DateTime<Utc>,
    ) -> Option<PlaybackClaims> {
        self.verify_for(Purpose::Playback, token, recording, now)
    }

    /// An upload token: `device` (of `owner`) may upload the object of `recording` until
    /// `expires`.
    pub fn sign_upload(
        &self,
        recording: Uuid,
        owner: Uuid,
        device: Uuid,
        expires: DateTime<Utc>,
    ) -> String {
        let claims = PlaybackClaims {
            rid: recording,
            uid: owner,
            did: Some(device),
            exp: expires.timestamp(),
        };
        self.sign_for(Purpose::Upload, &claims)
    }

    /// The claims of a valid, unexpired upload token for `recording`.
    pub fn verify_upload(
        &self,
        token: &str,
        recording: Uuid,
        now: DateTime<Utc>,
    ) -> Option<PlaybackClaims> {
        self.verify_for(Purpose::Upload, token, recording, now)
    }
}

#[derive(Debug, Clone, Copy)]
enum Purpose {
    Playback,
    Upload,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Playback => b"play\0",
            Purpose::Upload => b"upload\0",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_one_clip_for_fifteen_minutes() {
        let key = PlaybackKey::derive(&SigningKey::from_bytes(&[7; 32]));
        let clip = Uuid::now_v7();
        let viewer = EventViewer {
            user_id: Uuid::now_v7(),
            device_id: None,
        };
        let t0 = Utc::now();
        let token = key.sign(clip, viewer, t0);
        let claims = key.verify(&token, clip, t0).expect("valid");
        assert_eq!(claims.uid, viewer.user_id);
        assert!(
            key.verify(&token, Uuid::now_v7(), t0).is_none(),
            "another clip"
        );
        let late = t0 + chrono::Duration::seconds(PLAYBACK_TTL_SECS);
        assert!(key.verify(&token, clip, late).is_none(), "expired");
        let mut forged = token.clone();
        forged.insert(3, 'x');
        assert!(key.verify(&forged, clip, t0).is_none(), "tampered");
        let other = PlaybackKey::derive(&SigningKey::from_bytes(&[8; 32]));
        assert!(
            other.verify(&token, clip, t0).is_none(),
            "another deployment"
        );
        assert!(
            key.verify_upload(&token, clip, t0).is_none(),
            "not an upload token"
        );
        let upload = key.sign_upload(clip, viewer.user_id, Uuid::now_v7(), late);
        assert!(key.verify_upload(&upload, clip, t0).is_some());
        assert!(
            key.verify(&upload, clip, t0).is_none(),
            "not a playback token"
        );
    }
}
