use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

crate::text_enum! {
    /// `requested → starting (camera acknowledged) → live (relay has the publisher) → ended`,
    /// or `failed` when the camera does not publish in time.
    StreamStatus {
        Requested => "requested",
        Starting => "starting",
        Live => "live",
        Ended => "ended",
        Failed => "failed",
    }
}

crate::text_enum! {
    StreamReason { LiveView => "live_view", Recording => "recording" }
}

/// One viewer's (or the recorder's) use of a camera's live stream (table `stream_sessions`).
/// Every open session of a camera shares the camera's one publish on the relay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, ToSchema)]
pub struct StreamSession {
    pub id: Uuid,
    /// The camera's owner.
    pub owner_user_id: Uuid,
    pub camera_device_id: Option<Uuid>,
    pub requester_device_id: Option<Uuid>,
    #[sqlx(try_from = "String")]
    pub status: StreamStatus,
    #[sqlx(try_from = "String")]
    pub reason: StreamReason,
    /// Which media service carries it (`securecam-relay`).
    pub media_provider: Option<String>,
    /// The relay stream: the path segment of the WHIP and WHEP endpoints.
    pub media_session_id: Option<String>,
    /// Where viewers POST their WHEP offer.
    pub subscribe_endpoint: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Why it ended or failed: `ended_by_viewer`, `publish_timeout`, `camera_refused`, ...
    pub end_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewStreamSession {
    /// The requesting user (or the requesting device's owner).
    pub user_id: Uuid,
    pub camera_device_id: Uuid,
    /// The device that asked; `None` for the recorder's own sessions (event clips), which
    /// need only the camera to belong to `user_id`.
    pub requester_device_id: Option<Uuid>,
    pub reason: StreamReason,
    pub media_provider: String,
    /// The camera's relay stream and its endpoints.
    pub media_session_id: String,
    pub publish_endpoint: String,
    pub subscribe_endpoint: String,
    /// The relay chosen for the camera's stream; `None` when no registered relay carries it.
    /// A camera that already publishes keeps its relay: the new session joins it there.
    pub relay_node_id: Option<Uuid>,
}

/// What asking for a stream found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamOutcome {
    /// `start_camera` when the camera has no open session yet and must be told to publish.
    Created {
        session: Box<StreamSession>,
        start_camera: bool,
    },
    /// The camera or the requester is unknown, or the requester may not watch the camera.
    NotFound,
    NotACamera,
}

/// An ended session whose camera may be idle now.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IdleCamera {
    pub camera_device_id: Uuid,
    pub owner_user_id: Uuid,
    /// The most recent of the camera's ended sessions, for `stop_stream`.
    pub stream_session_id: Uuid,
}
