//! Rows as clients see them, with what the API adds to them.

use chrono::{DateTime, Utc};
use securecam_storage::{EventViewer, Recording, RecordingStatus, StreamSession};
use serde::Serialize;
use utoipa::ToSchema;

use crate::media::IceServer;
use crate::playback::PlaybackKey;

/// A recording as the API shows it: the row, and where to play it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordingView {
    #[serde(flatten)]
    pub recording: Recording,
    /// Opens this clip (and nothing else) for 15 minutes without a bearer token; only for
    /// `available` clips.
    pub playback_url: Option<String>,
}

impl RecordingView {
    /// The recording with a playback URL signed for `viewer` (the owner when `None`), under
    /// this server's `public_url`.
    pub fn signed(
        recording: Recording,
        key: &PlaybackKey,
        public_url: &str,
        viewer: Option<EventViewer>,
        now: DateTime<Utc>,
    ) -> Self {
        let playback_url = (recording.status == RecordingStatus::Available).then(|| {
            let viewer = viewer.unwrap_or(EventViewer {
                user_id: recording.owner_user_id,
                device_id: None,
            });
            let token = key.sign(recording.id, viewer, now);
            format!(
                "{}/api/v1/recordings/{}/media?token={token}",
                public_url.trim_end_matches('/'),
                recording.id
            )
        });
        RecordingView {
            recording,
            playback_url,
        }
    }

    /// For a message to the camera's audience, owner's and linked devices alike: no URL, as
    /// each is signed for one viewer (a device gets its own with `GET /recordings/{id}`).
    pub fn unsigned(recording: Recording) -> Self {
        RecordingView {
            recording,
            playback_url: None,
        }
    }
}

/// A new stream session with what the requester needs to watch.
#[derive(Serialize, ToSchema)]
pub struct OpenedStream {
    #[serde(flatten)]
    pub session: StreamSession,
    /// Bearer token for the WHEP POST to `subscribe_endpoint`; short-lived.
    pub subscribe_token: String,
    pub ice_servers: Vec<IceServer>,
}

securecam_storage::redacted_debug!(OpenedStream { session, ice_servers; secret: subscribe_token });
