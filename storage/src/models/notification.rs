use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

crate::text_enum! {
    /// Where a user's notification of an event stands.
    NotificationStatus {
        /// Pushes are queued for the user's devices.
        Pending => "pending",
        /// At least one device got its push.
        Sent => "sent",
        /// Every push to the user's devices gave up.
        Failed => "failed",
        /// No push was sent, on purpose: see `suppressed_reason`.
        Suppressed => "suppressed",
        /// The user has no device to push to; the notification is in the list (and went to
        /// the user's connected devices over the WebSocket).
        InApp => "in_app",
    }
}

crate::text_enum! {
    /// Why a push was not sent although the user was notified.
    SuppressedReason {
        QuietHours => "quiet_hours",
        MutedCamera => "muted_camera",
        /// Another alert about the same camera went out less than `cooldown_seconds` ago.
        Cooldown => "cooldown",
    }
}

/// A user's notification of an event (table `notifications`), with what the event was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, ToSchema)]
pub struct Notification {
    pub id: Uuid,
    pub event_id: Uuid,
    pub user_id: Uuid,
    /// `push`.
    pub channel: String,
    #[sqlx(try_from = "String")]
    pub status: NotificationStatus,
    #[sqlx(try_from = "crate::OptionalText")]
    pub suppressed_reason: Option<SuppressedReason>,
    pub is_read: bool,
    /// When the first push of it reached a device.
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The event's camera, title and trigger, so a list renders without fetching each event.
    pub camera_device_id: Option<Uuid>,
    pub title: String,
    #[sqlx(try_from = "String")]
    pub triggered_by: crate::Trigger,
}

impl TryFrom<crate::OptionalText> for Option<SuppressedReason> {
    type Error = String;
    fn try_from(value: crate::OptionalText) -> Result<Self, String> {
        value.0.map(|s| s.parse()).transpose()
    }
}
