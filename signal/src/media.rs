//! What signal hands out for media: ICE servers (STUN, and TURN with ephemeral credentials
//! in the TURN REST scheme coturn implements) and media tokens for the relay.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use ed25519_dalek::SigningKey;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use securecam_media_relay::driver::RelayHandle;
use securecam_media_relay::http::IceLink;
use securecam_media_relay::token::{self, Direction, MediaClaims};
use securecam_recorder::service::RecorderHandle;
use securecam_recorder::store::ClipStore;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

/// How long a publish or subscribe token may be presented to the relay.
pub const MEDIA_TOKEN_TTL: Duration = Duration::from_secs(120);
/// How long TURN credentials work.
pub const TURN_CREDENTIAL_TTL: Duration = Duration::from_secs(3600);

#[derive(Clone)]
pub struct MediaConfig {
    pub signing_key: Arc<SigningKey>,
    /// `stun:`, `turn:` and `turns:` URLs offered to clients.
    pub ice_urls: Vec<String>,
    /// coturn's `static-auth-secret`; without it TURN URLs are offered with no credentials.
    pub turn_secret: Option<SecretString>,
    /// The relay running in this process, if any: told when sessions end so their viewer
    /// legs are cut at once.
    pub relay: Option<RelayHandle>,
    /// The recorder running in this process, if any: told which cameras publish and which
    /// clips to record.
    pub recorder: Option<RecorderHandle>,
    /// Where clips are stored: for playback, deletion and device uploads.
    pub clips: Option<ClipStore>,
    /// The relay in this process (its id in `relay_nodes`) and a loopback URL of its HTTP
    /// side: the recorder in this process watches through it rather than through the public
    /// URL, which a host behind NAT may not reach from inside.
    pub local_relay: Option<(Uuid, String)>,
}

impl std::fmt::Debug for MediaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaConfig")
            .field("ice_urls", &self.ice_urls)
            .field("signing_key", &"[REDACTED]")
            .field("turn_secret", &"[REDACTED]")
            .finish()
    }
}

/// One entry of RTCConfiguration.iceServers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

impl MediaConfig {
    /// A config with a fresh key and no ICE servers, for tests of other parts.
    pub fn ephemeral() -> Self {
        MediaConfig {
            signing_key: Arc::new(SigningKey::generate(&mut rand::rngs::OsRng)),
            ice_urls: Vec::new(),
            turn_secret: None,
            relay: None,
            recorder: None,
            clips: None,
            local_relay: None,
        }
    }

    /// The ICE servers for `device` as WHIP/WHEP `Link` headers.
    pub fn ice_links(&self, device: Uuid, now: DateTime<Utc>) -> Vec<IceLink> {
        let (servers, _) = self.ice_servers(device, now);
        servers
            .into_iter()
            .flat_map(|server| {
                let (username, credential) = (server.username, server.credential);
                server.urls.into_iter().map(move |url| IceLink {
                    url,
                    username: username.clone(),
                    credential: credential.clone(),
                })
            })
            .collect()
    }

    /// STUN servers as they are; TURN servers with credentials for `user` that expire after
    /// [`TURN_CREDENTIAL_TTL`]: username `<expiry unix>:<user>`, password
    /// base64(HMAC-SHA1(secret, username)).
    pub fn ice_servers(&self, user: Uuid, now: DateTime<Utc>) -> (Vec<IceServer>, DateTime<Utc>) {
        let expires_at = now + chrono::Duration::from_std(TURN_CREDENTIAL_TTL).expect("small");
        let (turn, stun): (Vec<&String>, Vec<&String>) = self
            .ice_urls
            .iter()
            .partition(|url| url.starts_with("turn:") || url.starts_with("turns:"));
        let mut servers = Vec::new();
        if !stun.is_empty() {
            servers.push(IceServer {
                urls: stun.into_iter().cloned().collect(),
                username: None,
                credential: None,
            });
        }
        if !turn.is_empty() {
            let (username, credential) = match &self.turn_secret {
                Some(secret) => {
                    let username = format!("{}:{}", expires_at.timestamp(), user.simple());
                    (
                        Some(username.clone()),
                        Some(turn_password(secret, &username)),
                    )
                }
                None => (None, None),
            };
            servers.push(IceServer {
                urls: turn.into_iter().cloned().collect(),
                username,
                credential,
            });
        }
        (servers, expires_at)
    }

    /// A token for `device` to publish to or watch `stream` for session `session`.
    pub fn token(
        &self,
        device: Uuid,
        stream: &str,
        dir: Direction,
        session: Uuid,
        now: DateTime<Utc>,
    ) -> String {
        let iat = now.timestamp();
        token::sign(
            &self.signing_key,
            &MediaClaims {
                sub: device,
                stream: stream.to_string(),
                dir,
                sid: session,
                iat,
                exp: iat + MEDIA_TOKEN_TTL.as_secs() as i64,
            },
        )
    }
}

/// The TURN REST password for `username` (draft-uberti-behave-turn-rest, as coturn checks it).
pub fn turn_password(secret: &SecretString, username: &str) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC takes keys of any length");
    mac.update(username.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The relay stream of a camera: every session of the camera shares it.
pub fn stream_name(camera: Uuid) -> String {
    format!("cam-{}", camera.simple())
}

/// The camera of a relay stream (`cam-<uuid>`, see [`stream_name`]).
pub fn camera_of(stream: &str) -> Option<Uuid> {
    stream
        .strip_prefix("cam-")
        .and_then(|id| Uuid::parse_str(id).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_credentials_follow_the_turn_rest_scheme() {
        let config = MediaConfig {
            ice_urls: vec![
                "stun:stun.example:3478".into(),
                "turn:turn.example:3478?transport=udp".into(),
                "turns:turn.example:5349".into(),
            ],
            turn_secret: Some(SecretString::from("north")),
            ..MediaConfig::ephemeral()
        };
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let user = Uuid::nil();
        let (servers, expires_at) = config.ice_servers(user, now);
        assert_eq!(expires_at.timestamp(), 1_700_003_600);
        assert_eq!(servers[0].urls, vec!["stun:stun.example:3478"]);
        assert_eq!(servers[0].username, None);
        assert_eq!(servers[1].urls.len(), 2);
        let username = servers[1].username.clone().unwrap();
        assert_eq!(username, format!("1700003600:{}", user.simple()));
        // base64(HMAC-SHA1("north", username)), as computed independently with Python's hmac.
        assert_eq!(
            servers[1].credential.as_deref(),
            Some("pWzzqVst3oM1pJ8ZT2oPbPLX9oc=")
        );
    }
}
